package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine is what the figures were measured on.
type machine struct {
	cpus       int
	cpuModel   string
	memGB      float64
	kernel     string
	loadAvg    string
	goVersion  string
	pgVersion  string
	pgSettings []string
	user       string
	dir, fs    string
}

func describeMachine(ctx context.Context, db *sql.DB, dir string) (*machine, error) {
	m := &machine{cpus: runtime.NumCPU(), cpuModel: "unknown", goVersion: runtime.Version(), user: "normal user",
		dir: dir, fs: filesystem(dir)}
	if os.Geteuid() == 0 {
		m.user = "root (PostgreSQL runs as postgres)"
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb := procKB("/proc/meminfo", "MemTotal"); kb > 0 {
		m.memGB = float64(kb) * 1024 / 1e9
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.loadAvg = strings.Join(f[:3], " ")
		}
	}
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&m.pgVersion); err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_wal_size"} {
		var v string
		if err := db.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
			return nil, fmt.Errorf("SHOW %s: %w", name, err)
		}
		m.pgSettings = append(m.pgSettings, name+"="+v)
	}
	return m, nil
}

func (m *machine) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Machine\n")
	fmt.Fprintf(w, "  CPUs (nproc)    %d × %s\n", m.cpus, m.cpuModel)
	fmt.Fprintf(w, "  memory          %.1f GB, kernel %s, %s/%s\n", m.memGB, m.kernel, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "  load average    %s (at start)\n", m.loadAvg)
	fmt.Fprintf(w, "  Go              %s\n", m.goVersion)
	fmt.Fprintf(w, "  PostgreSQL      %s, embedded cluster, %s\n", m.pgVersion, strings.Join(m.pgSettings, " "))
	fmt.Fprintf(w, "  cluster in      %s (%s)\n", m.dir, m.fs)
	fmt.Fprintf(w, "  running as      %s\n", m.user)
}

// filesystem names the type and device of the mount that holds dir.
func filesystem(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "filesystem unknown"
	}
	best, out := -1, "filesystem unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mnt := f[1]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) > best {
			best, out = len(mnt), f[2]+" on "+f[0]
		}
	}
	return out
}

// procKB reads a "Key:   123 kB" line of a /proc file; 0 when absent.
func procKB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func commandOutput(ctx context.Context, name string, args ...string) (string, error) {
	return commandOutputIn(ctx, "", name, args...)
}

func commandOutputIn(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
