// Command bench measures CSM ticket referrals over HTTP against pgbench's TPC-B on the
// same embedded PostgreSQL cluster in the same run (docs/BENCHMARKS.md).
//
//	go run ./cmd/bench -duration 20s -clients 16
//
// It starts one durable embedded cluster in a temporary directory, runs pgbench there
// first, then the service (built from ./cmd/server) as a subprocess against a database
// of the same cluster, and prints the figures with their targets. Everything it started
// is stopped and the directory removed on exit, Ctrl-C included.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"centros/services/database"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the cluster's admin queries
)

// Targets from the issue.
const (
	targetRatio  = 0.5   // service referrals/s ÷ pgbench TPC-B tps, at least
	targetRSSMB  = 150.0 // server peak RSS, below (MB = 10^6 bytes)
	mb           = 1e6
	adminEmail   = "bench-admin@example.com"
	adminPasswd  = "bench-admin-password-1"
	serverStopIn = 20 * time.Second
)

type options struct {
	duration time.Duration
	warmup   time.Duration
	clients  int
	scale    int
	jobs     int
	server   string
	keep     bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each phase (pgbench run, service load)")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "service load before measuring starts (not counted)")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients in both phases")
	flag.IntVar(&o.scale, "scale", 16, "pgbench scale factor (pgbench -i -s)")
	flag.IntVar(&o.jobs, "pgbench-jobs", 2, "pgbench worker threads (pgbench -j)")
	flag.StringVar(&o.server, "server", "", "a server binary already built from ./cmd/server (default: build one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (cluster, server log) for inspection")
	flag.Parse()
	if o.duration <= 0 || o.warmup < 0 || o.clients < 1 || o.scale < 1 || o.jobs < 1 || o.jobs > o.clients {
		fmt.Fprintln(os.Stderr, "bench: -duration > 0, -warmup >= 0, -clients >= 1, -scale >= 1 and 1 <= -pgbench-jobs <= -clients")
		os.Exit(2)
	}
	// pgbench -T takes whole seconds; both phases run equally long.
	o.duration = o.duration.Round(time.Second)
	if o.duration < time.Second {
		o.duration = time.Second
	}

	// Every later signal is caught too, so that a second Ctrl-C cannot cut the cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	code := run(ctx, o)
	if ctx.Err() != nil {
		code = 130
	}
	stop()
	os.Exit(code)
}

// run does the whole benchmark and returns the exit status: 0 when the run completed
// cleanly (whatever the figures), 1 when it broke or a request failed.
func run(ctx context.Context, o options) (code int) {
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	}
	fail := func(err error) int {
		if ctx.Err() != nil {
			logf("interrupted")
		} else {
			logf("error: %v", err)
		}
		return 1
	}

	tmp, err := os.MkdirTemp("", "centros-bench-")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if o.keep {
			logf("kept %s", tmp)
			return
		}
		if err := os.RemoveAll(tmp); err != nil {
			logf("remove %s: %v", tmp, err)
		}
	}()
	// When root runs the bench, PostgreSQL runs as the postgres user, who must be able
	// to reach the cluster directory inside this one.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}

	serverBin := o.server
	if serverBin == "" {
		logf("building the server (go build ./cmd/server)")
		serverBin = filepath.Join(tmp, "server")
		if err := buildServer(ctx, serverBin); err != nil {
			return fail(err)
		}
	} else if serverBin, err = filepath.Abs(serverBin); err != nil {
		return fail(err)
	}

	logf("starting the embedded PostgreSQL cluster (durable defaults)")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clusterDir := filepath.Join(tmp, "pg")
	// Not cancelled by Ctrl-C: a postmaster that pg_ctl had already launched would be
	// left running with no one to stop it. Starting takes seconds; the signal is acted
	// on right after.
	cluster, err := database.StartCluster(context.WithoutCancel(ctx), clusterDir, database.ClusterOptions{}, quiet)
	if err != nil {
		return fail(err)
	}
	// When the postgres user cannot reach the directory (TMPDIR under a private folder),
	// the launcher keeps the cluster elsewhere and says where; it goes too at the end.
	where := clusterDir
	if b, err := os.ReadFile(filepath.Join(clusterDir, "CLUSTER-LOCATION")); err == nil {
		where = strings.TrimSpace(string(b))
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			logf("stop the cluster: %v", err)
			return
		}
		if where != clusterDir && !o.keep {
			if err := os.RemoveAll(where); err != nil {
				logf("remove %s: %v", where, err)
			}
		}
	}()
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	pg := &pgInfo{cluster: cluster, postmasterPIDFile: filepath.Join(where, "pgdata", "postmaster.pid")}
	admin, err := sql.Open("pgx", cluster.URL("postgres"))
	if err != nil {
		return fail(err)
	}
	defer admin.Close()
	for _, name := range []string{"pgbench", "centros"} {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return fail(fmt.Errorf("create database %s: %w", name, err))
		}
	}
	m, err := describeMachine(ctx, admin, where)
	if err != nil {
		return fail(err)
	}
	m.print(os.Stdout, o)

	logf("pgbench: initialising scale %d", o.scale)
	base, err := runPgbench(ctx, pg, admin, o, logf)
	if err != nil {
		return fail(err)
	}
	base.print(os.Stdout)

	svc, err := runService(ctx, pg, admin, o, serverBin, tmp, logf)
	if svc != nil {
		svc.print(os.Stdout)
	}
	if err != nil {
		return fail(err)
	}
	failed := printSummary(os.Stdout, base, svc)
	if failed {
		return 1
	}
	return 0
}

// pgInfo is what the phases need of the cluster.
type pgInfo struct {
	cluster           *database.Cluster
	postmasterPIDFile string
}

func buildServer(ctx context.Context, out string) error {
	gomod, err := commandOutput(ctx, "go", "env", "GOMOD")
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	if gomod == "" || gomod == os.DevNull {
		return errors.New("run the bench from the repository (go run ./cmd/bench), or pass -server")
	}
	if _, err := commandOutputIn(ctx, filepath.Dir(gomod), "go", "build", "-o", out, "./cmd/server"); err != nil {
		return fmt.Errorf("go build ./cmd/server: %w", err)
	}
	return nil
}
