// Command bench measures the service against pgbench's TPC-B on the same embedded
// PostgreSQL cluster in the same run (docs/BENCHMARKS.md). It takes a scenario:
//
//	go run ./cmd/bench [referrals]    # CSM referrals, 16 clients, ratio to pgbench -c 16
//	go run ./cmd/bench booking        # bookings under contention, 64 clients over 100 slots
//	go run ./cmd/bench availability   # 14 days of availability at a centre with 10,000 appointments
//	go run ./cmd/bench callbacks      # CSM callbacks: drain 100,000 queued events; commit-to-delivery latency
//	go run ./cmd/bench certify        # certifying repairs, 16 technicians at one centre, then at 8; ratio to pgbench -c 16
//	go run ./cmd/bench stock          # the stock view of a centre with 10,000 units and 100,000 movements
//	go run ./cmd/bench swap           # swaps, 16 technicians at one centre, then at 8; ratio to pgbench -c 16
//	go run ./cmd/bench all            # the seven, one after another, on one cluster
//
// Flags go before or after the scenario. It starts one durable embedded cluster in a
// temporary directory, runs pgbench there first where the scenario has a baseline, then
// the service (built from ./cmd/server) as a subprocess against a database of the same
// cluster, and prints the figures with their targets. Everything it started is stopped
// and the directory removed on exit, Ctrl-C included.
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
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // the centres' time zones, whatever the machine has installed

	"centros/services/database"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the cluster's admin queries
)

const (
	mb           = 1e6
	adminEmail   = "bench-admin@example.com"
	adminPasswd  = "bench-admin-password-1"
	serverStopIn = 20 * time.Second
)

type options struct {
	duration     time.Duration
	warmup       time.Duration
	clients      int // 0: the scenario's own default
	scale        int
	jobs         int
	server       string
	keep         bool
	counters     int // booking: 0 sizes them from the warm-up
	requests     int // availability: measured requests per phase
	appointments int // availability: appointments at the centre
	events       int // callbacks: events queued for the drain
	perTicket    int // callbacks: events per ticket in the drain
	samples      int // callbacks: latency samples of each method
	units        int // stock: units of the measured centre (and of each other centre)
	movements    int // stock: movements of those units
}

// scenario is one benchmark of the tool.
type scenario struct {
	name    string
	clients int  // default for -clients
	pgbench bool // runs a pgbench baseline, with -clients clients
	run     func(ctx context.Context, e *benchEnv) (failed bool, err error)
}

var scenarios = []scenario{
	{"referrals", 16, true, runReferrals},
	{"booking", 64, true, runBooking},
	{"availability", 4, false, runAvailability},
	{"callbacks", 4, false, runCallbacks},
	{"certify", 16, true, runCertify},
	{"stock", 4, false, runStock},
	{"swap", 16, true, runSwap},
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each timed phase (pgbench run, service load)")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "service load before measuring starts (not counted)")
	flag.IntVar(&o.clients, "clients", 0, "concurrent clients (default: referrals 16, booking 64, availability 4, callbacks 4 for its set-up referrals, certify 16 technicians, stock 4, swap 16 technicians)")
	flag.IntVar(&o.scale, "scale", 16, "pgbench scale factor (pgbench -i -s)")
	flag.IntVar(&o.jobs, "pgbench-jobs", 2, "pgbench worker threads (pgbench -j)")
	flag.StringVar(&o.server, "server", "", "a server binary already built from ./cmd/server (default: build one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (cluster, server logs) for inspection")
	flag.IntVar(&o.counters, "counters", 0, "booking: counters of the measured centre, 1-100 (default: sized from the warm-up so that about half the requests find their slot full)")
	flag.IntVar(&o.requests, "requests", 2000, "availability, stock: measured requests in each phase (sequential, concurrent)")
	flag.IntVar(&o.appointments, "appointments", 10000, "availability: past and future appointments at the centre")
	flag.IntVar(&o.events, "events", 100000, "callbacks: events queued in the database before the deliverer starts")
	flag.IntVar(&o.perTicket, "events-per-ticket", 10, "callbacks: events of each ticket in the queue (tickets = events ÷ this)")
	flag.IntVar(&o.samples, "samples", 500, "callbacks: latency samples with an idle queue, for each of the two methods (SQL commit, API booking)")
	flag.IntVar(&o.units, "units", 10000, "stock: units of the measured centre, and of each of the five others")
	flag.IntVar(&o.movements, "movements", 100000, "stock: movements of the measured centre's units (about; each other centre's too)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./cmd/bench [flags] [referrals|booking|availability|callbacks|certify|stock|swap|all] [flags]\n")
		flag.PrintDefaults()
	}
	// The scenario may come before or after the flags.
	flag.Parse()
	name := "referrals"
	if args := flag.Args(); len(args) > 0 {
		name = args[0]
		if err := flag.CommandLine.Parse(args[1:]); err != nil {
			os.Exit(2)
		}
		if flag.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "bench: one scenario at a time; unexpected %q\n", flag.Arg(0))
			os.Exit(2)
		}
	}
	var run []scenario
	for _, s := range scenarios {
		if name == s.name || name == "all" {
			run = append(run, s)
		}
	}
	if len(run) == 0 {
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (referrals, booking, availability, callbacks, certify, stock, swap or all)\n", name)
		os.Exit(2)
	}
	if o.duration <= 0 || o.warmup < 0 || o.clients < 0 || o.scale < 1 || o.jobs < 1 || o.counters < 0 || o.counters > 100 ||
		o.requests < 1 || o.appointments < 0 || o.events < 1 || o.perTicket < 1 || o.samples < 1 || o.units < 100 || o.movements < 0 {
		fmt.Fprintln(os.Stderr, "bench: -duration > 0, -warmup >= 0, -clients >= 0 (0: the scenario default), -scale >= 1, -pgbench-jobs >= 1, -counters 1-100, -requests >= 1, -appointments >= 0, -events >= 1, -events-per-ticket >= 1, -samples >= 1, -units >= 100, -movements >= 0")
		os.Exit(2)
	}
	for _, s := range run {
		if c := o.clientsFor(s); o.jobs > c && s.pgbench {
			fmt.Fprintf(os.Stderr, "bench: -pgbench-jobs %d is more than the %d clients of %s\n", o.jobs, c, s.name)
			os.Exit(2)
		}
	}
	// pgbench -T takes whole seconds; both phases run equally long.
	o.duration = o.duration.Round(time.Second)
	if o.duration < time.Second {
		o.duration = time.Second
	}

	// Every later signal is caught too, so that a second Ctrl-C cannot cut the cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	code := runAll(ctx, o, run)
	if ctx.Err() != nil {
		code = 130
	}
	stop()
	os.Exit(code)
}

func (o options) clientsFor(s scenario) int {
	if o.clients > 0 {
		return o.clients
	}
	return s.clients
}

// benchEnv is what every scenario shares: the options, the temporary directory, the
// server binary and the cluster.
type benchEnv struct {
	o         options // clients set for the scenario running
	tmp       string
	serverBin string
	pg        *pgInfo
	admin     *sql.DB // the cluster's postgres database, as superuser
	logf      func(format string, a ...any)
}

// pgInfo is what the phases need of the cluster.
type pgInfo struct {
	cluster           *database.Cluster
	postmasterPIDFile string
}

// runAll sets the cluster up, runs the scenarios and returns the exit status: 0 when
// every run completed cleanly (whatever the figures), 1 when one broke or a request
// failed.
func runAll(ctx context.Context, o options, run []scenario) (code int) {
	e := &benchEnv{o: o, logf: func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	}}
	logf := e.logf
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
	e.tmp = tmp
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

	e.serverBin = o.server
	if e.serverBin == "" {
		logf("building the server (go build ./cmd/server)")
		e.serverBin = filepath.Join(tmp, "server")
		if err := buildServer(ctx, e.serverBin); err != nil {
			return fail(err)
		}
	} else if e.serverBin, err = filepath.Abs(e.serverBin); err != nil {
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
	e.pg = &pgInfo{cluster: cluster, postmasterPIDFile: filepath.Join(where, "pgdata", "postmaster.pid")}
	if e.admin, err = sql.Open("pgx", cluster.URL("postgres")); err != nil {
		return fail(err)
	}
	defer e.admin.Close()
	if slices.ContainsFunc(run, func(s scenario) bool { return s.pgbench }) {
		if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE pgbench"); err != nil {
			return fail(fmt.Errorf("create database pgbench: %w", err))
		}
	}
	m, err := describeMachine(ctx, e.admin, where)
	if err != nil {
		return fail(err)
	}
	m.print(os.Stdout)

	for _, s := range run {
		e.o.clients = o.clientsFor(s)
		fmt.Fprintf(os.Stdout, "\n######## Scenario %s\n", s.name)
		failed, err := s.run(ctx, e)
		if err != nil {
			code = fail(fmt.Errorf("%s: %w", s.name, err))
			if ctx.Err() != nil {
				return code
			}
			continue
		}
		if failed {
			code = 1
		}
	}
	return code
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
