package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux we run on.
const clockTicks = 100

// cpuWatch samples, during one phase, the CPU time of the cluster's processes, of the
// server (if any) and of the whole machine, and the server's resident memory. Backends
// that exit between samples lose at most one interval, so the figures are approximate.
type cpuWatch struct {
	pmPID, serverPID int

	mu         sync.Mutex
	pgBase     map[int]uint64
	pgLast     map[int]uint64
	serverBase uint64
	serverLast uint64
	statBase   [2]uint64 // busy, total jiffies
	statLast   [2]uint64
	selfBase   time.Duration
	rssMaxKB   int64
	started    time.Time

	stop chan struct{}
	done chan struct{}
}

// cpuUsage is CPU time spent during a phase, in seconds.
type cpuUsage struct {
	wall        time.Duration
	postgres    float64
	server      float64
	self        float64 // the bench process: the HTTP load generator
	machineBusy float64 // all CPUs, everything on the machine
	machineCap  float64 // CPUs × wall time
	rssMaxKB    int64   // largest VmRSS sample of the server
}

func startCPUWatch(postmasterPIDFile string, serverPID int) *cpuWatch {
	w := &cpuWatch{serverPID: serverPID, pgBase: map[int]uint64{}, pgLast: map[int]uint64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if b, err := os.ReadFile(postmasterPIDFile); err == nil {
		w.pmPID, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	}
	w.started = time.Now()
	w.selfBase = selfCPU()
	w.statBase = machineJiffies()
	for pid, t := range w.clusterTicks() {
		w.pgBase[pid], w.pgLast[pid] = t, t
	}
	if serverPID > 0 {
		w.serverBase, _ = procTicks(serverPID)
		w.serverLast = w.serverBase
	}
	go w.loop()
	return w
}

func (w *cpuWatch) loop() {
	defer close(w.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		w.sample()
		select {
		case <-w.stop:
			w.sample()
			return
		case <-t.C:
		}
	}
}

func (w *cpuWatch) sample() {
	ticks := w.clusterTicks()
	var st uint64
	var stOK bool
	var rss int64
	if w.serverPID > 0 {
		st, stOK = procTicks(w.serverPID)
		rss = procKB("/proc/"+strconv.Itoa(w.serverPID)+"/status", "VmRSS")
	}
	stat := machineJiffies()
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, t := range ticks {
		w.pgLast[pid] = t
	}
	if stOK {
		w.serverLast = st
	}
	w.statLast = stat
	w.rssMaxKB = max(w.rssMaxKB, rss)
}

// finish stops sampling and returns the CPU spent since the start.
func (w *cpuWatch) finish() cpuUsage {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	u := cpuUsage{wall: time.Since(w.started), rssMaxKB: w.rssMaxKB}
	var pg uint64
	for pid, last := range w.pgLast {
		pg += last - w.pgBase[pid]
	}
	u.postgres = float64(pg) / clockTicks
	u.server = float64(w.serverLast-w.serverBase) / clockTicks
	u.self = (selfCPU() - w.selfBase).Seconds()
	u.machineBusy = float64(w.statLast[0]-w.statBase[0]) / clockTicks
	u.machineCap = float64(w.statLast[1]-w.statBase[1]) / clockTicks
	return u
}

// clusterTicks returns the CPU ticks of the postmaster and each of its children.
func (w *cpuWatch) clusterTicks() map[int]uint64 {
	out := map[int]uint64{}
	if w.pmPID <= 0 {
		return out
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, ok := procStatFields(pid)
		if !ok {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if pid != w.pmPID && ppid != w.pmPID {
			continue
		}
		out[pid] = fieldTicks(f)
	}
	return out
}

// procStatFields returns the fields of /proc/<pid>/stat after the command name: [0] is
// the state, [1] the parent, [11] and [12] user and system time.
func procStatFields(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return nil, false
	}
	return f, true
}

func fieldTicks(f []string) uint64 {
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s
}

func procTicks(pid int) (uint64, bool) {
	f, ok := procStatFields(pid)
	if !ok {
		return 0, false
	}
	return fieldTicks(f), true
}

// machineJiffies returns busy and total CPU time of all CPUs from /proc/stat.
func machineJiffies() [2]uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [2]uint64{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return [2]uint64{}
	}
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
	}
	var total uint64
	for _, x := range v {
		total += x
	}
	idle := v[3] + v[4] // idle, iowait
	return [2]uint64{total - idle, total}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
