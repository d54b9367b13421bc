package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// baseline is the pgbench TPC-B run.
type baseline struct {
	clients, jobs, scale int
	seconds              int
	tps                  float64
	latencyAvgMS         float64
	transactions         int64
	failed               int64
	walBytes             int64
	cpu                  cpuUsage
	pgbenchCPU           float64
}

var (
	tpsLine      = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((.*)\)`)
	latencyLine  = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	processedRE  = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	failedLineRE = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

func runPgbench(ctx context.Context, pg *pgInfo, admin *sql.DB, o options, logf func(string, ...any)) (*baseline, error) {
	c := pg.cluster
	conn := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(c.Port()), "-U", "postgres"}
	env := append(os.Environ(), "PGPASSWORD="+c.Password(), "PGSSLMODE=disable", "PGOPTIONS=")
	bin := filepath.Join(c.BinDir(), "pgbench")

	initArgs := append([]string{"-i", "-q", "-s", strconv.Itoa(o.scale)}, conn...)
	if _, err := runTool(ctx, bin, env, append(initArgs, "pgbench")...); err != nil {
		return nil, fmt.Errorf("pgbench -i: %w", err)
	}
	// Start from a clean slate: the WAL of the load is not written back during the run.
	if _, err := admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}

	b := &baseline{clients: o.clients, jobs: o.jobs, scale: o.scale, seconds: int(o.duration / time.Second)}
	logf("pgbench: TPC-B, %d clients, %d threads, %ds, prepared", b.clients, b.jobs, b.seconds)
	walBefore, err := walLSN(ctx, admin)
	if err != nil {
		return nil, err
	}
	watch := startCPUWatch(pg.postmasterPIDFile, 0)
	runArgs := append([]string{"-c", strconv.Itoa(b.clients), "-j", strconv.Itoa(b.jobs),
		"-T", strconv.Itoa(b.seconds), "-M", "prepared"}, conn...)
	res, err := runTool(ctx, bin, env, append(runArgs, "pgbench")...)
	b.cpu = watch.finish()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w", err)
	}
	if b.walBytes, err = walSince(ctx, admin, walBefore); err != nil {
		return nil, err
	}
	b.pgbenchCPU = res.cpu.Seconds()

	out := res.stdout
	// Older pgbench prints "including connections establishing" and "excluding …";
	// newer prints one line "without initial connection time". Prefer the one that
	// leaves connecting out.
	for _, m := range tpsLine.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		if b.tps == 0 || strings.Contains(m[2], "excluding") || strings.Contains(m[2], "without") {
			b.tps = v
		}
	}
	if b.tps == 0 {
		return nil, fmt.Errorf("pgbench printed no tps line:\n%s", out)
	}
	if m := latencyLine.FindStringSubmatch(out); m != nil {
		b.latencyAvgMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := processedRE.FindStringSubmatch(out); m != nil {
		b.transactions, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := failedLineRE.FindStringSubmatch(out); m != nil {
		b.failed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return b, nil
}

func (b *baseline) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Baseline: pgbench TPC-B (scale %d, %d clients, %d threads, -M prepared, %ds)\n", b.scale, b.clients, b.jobs, b.seconds)
	fmt.Fprintf(w, "  transactions    %d (%d failed)\n", b.transactions, b.failed)
	fmt.Fprintf(w, "  tps             %.1f (without connection time)\n", b.tps)
	fmt.Fprintf(w, "  latency avg     %.2f ms\n", b.latencyAvgMS)
	printCPU(w, b.cpu, float64(b.transactions), "transaction", [][2]any{{"pgbench", b.pgbenchCPU}, {"PostgreSQL", b.cpu.postgres}})
	if b.transactions > 0 {
		fmt.Fprintf(w, "  WAL             %.0f bytes per transaction\n", float64(b.walBytes)/float64(b.transactions))
	}
}

// printCPU prints where the CPU time of a phase went, per unit of work, and how busy the
// machine was (other work on it shows as "other").
func printCPU(w io.Writer, u cpuUsage, units float64, unit string, parts [][2]any) {
	if units <= 0 || u.machineCap <= 0 {
		return
	}
	var line strings.Builder
	ours := 0.0
	for _, p := range parts {
		s := p[1].(float64)
		ours += s
		fmt.Fprintf(&line, "%s %.2f ms, ", p[0], s*1000/units)
	}
	fmt.Fprintf(w, "  CPU per %-7s %s\n", unit, strings.TrimSuffix(line.String(), ", "))
	other := otherShare(u, ours) * u.machineCap
	fmt.Fprintf(w, "  machine CPU     %.0f%% busy over %.1fs; other processes %.1f CPU-s (%.0f%% of capacity)\n",
		100*u.machineBusy/u.machineCap, u.wall.Seconds(), other, 100*other/u.machineCap)
}

// otherShare is the part of the machine's CPU capacity that processes other than ours
// used during a phase.
func otherShare(u cpuUsage, ours float64) float64 {
	if u.machineCap <= 0 {
		return 0
	}
	return max(u.machineBusy-ours, 0) / u.machineCap
}

type toolResult struct {
	stdout string
	cpu    time.Duration
}

// runTool runs a PostgreSQL client program in its own process group (so that Ctrl-C
// reaches only us, and we stop it), returning its output and CPU time.
func runTool(ctx context.Context, bin string, env []string, args ...string) (*toolResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w\n%s%s", err, tail(out.String(), 20), tail(errb.String(), 20))
	}
	r := &toolResult{stdout: out.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	if len(l) == 1 && l[0] == "" {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}

func walLSN(ctx context.Context, db *sql.DB) (string, error) {
	var lsn string
	if err := db.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("WAL position: %w", err)
	}
	return lsn, nil
}

func walSince(ctx context.Context, db *sql.DB, lsn string) (int64, error) {
	var n float64
	if err := db.QueryRowContext(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", lsn).Scan(&n); err != nil {
		return 0, fmt.Errorf("WAL written: %w", err)
	}
	return int64(n), nil
}
