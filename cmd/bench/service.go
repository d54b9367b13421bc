package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serviceResult is the referral load against the server.
type serviceResult struct {
	clients         int
	duration        time.Duration
	warmup          time.Duration
	elapsed         time.Duration // first measured request sent → last measured answer
	latencies       []time.Duration
	warmupCount     int
	errors          int
	errorSamples    []string
	rps             float64
	hwmKB, endRSSKB int64
	cpu             cpuUsage
	tickets         int64
	walBytes        int64
	commits         int64
	startHWMKB      int64 // VmHWM when the load begins: start-up and set-up
	stopped         string
}

// serverEnv are the settings the service reads (API.md); the bench sets its own.
var serverEnv = []string{"HTTP_ADDR", "DATABASE_URL", "DATA_DIR", "ADMIN_EMAIL", "ADMIN_PASSWORD", "DEMO_DATA",
	"PUBLIC_BASE_URL", "CSM_CALLBACK_URL", "CSM_WEBHOOK_SECRET", "CSM_RETRY_SCHEDULE"}

// server is the service running as a subprocess.
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
	waitErr error
	once    sync.Once
	result  string
}

func startServer(bin, dbURL, tmp string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &server{base: "http://" + addr, logPath: filepath.Join(tmp, "server.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(serverEnv, k)
	})
	env = append(env, "DATABASE_URL="+dbURL, "HTTP_ADDR="+addr, "DEMO_DATA=false",
		"ADMIN_EMAIL="+adminEmail, "ADMIN_PASSWORD="+adminPasswd, "DATA_DIR="+filepath.Join(tmp, "data"))
	s.cmd = exec.Command(bin)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Its own process group, so that Ctrl-C reaches only the bench, which then stops
	// the server with SIGTERM as an orchestrator would; and SIGTERM if the bench dies.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	return tail(string(b), 15)
}

// stop sends SIGTERM and waits for the exit (API.md: within 15 s), killing the server
// if it takes longer than serverStopIn. It says what happened.
func (s *server) stop() string {
	s.once.Do(func() {
		start := time.Now()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			status := "exit 0"
			if s.waitErr != nil {
				status = s.waitErr.Error()
			}
			s.result = fmt.Sprintf("SIGTERM → %s in %.2fs", status, time.Since(start).Seconds())
		case <-time.After(serverStopIn):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.result = fmt.Sprintf("did not exit within %s of SIGTERM; killed", serverStopIn)
		}
	})
	return s.result
}

func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited before it was ready (%v):\n%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(s.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the server was not ready within 2 minutes:\n%s", s.logTail())
}

// call sends one JSON request and decodes the answer into out, wanting status want.
func (s *server) call(ctx context.Context, method, path, token string, body, out any, want int) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

var centres = []struct{ code, name, address string }{
	{"CCS-01", "Centro Caracas Chacao", "Av. Francisco de Miranda, Chacao, Caracas"},
	{"VAL-01", "Centro Valencia Norte", "Av. Bolívar Norte, Valencia, Carabobo"},
	{"MCB-01", "Centro Maracaibo", "Av. 5 de Julio, Maracaibo, Zulia"},
}

// setUp creates, through the API as an admin would, a business unit, its centres and
// a CSM API client, and returns the client's token and the centre codes.
func (s *server) setUp(ctx context.Context) (string, []string, error) {
	var login struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPasswd}, &login, 200); err != nil {
		return "", nil, err
	}
	tok := login.Token
	if err := s.call(ctx, "POST", "/api/v1/admin/business-units", tok, map[string]string{"code": "BU-CAP", "name": "Región Capital"}, nil, 201); err != nil {
		return "", nil, err
	}
	var hours []map[string]any
	for d := 1; d <= 6; d++ {
		closes := "17:00"
		if d == 6 {
			closes = "13:00"
		}
		hours = append(hours, map[string]any{"weekday": d, "opens": "08:00", "closes": closes})
	}
	var codes []string
	for _, c := range centres {
		body := map[string]any{"code": c.code, "name": c.name, "address": c.address, "business_unit_code": "BU-CAP",
			"time_zone": "America/Caracas", "slot_minutes": 30, "counters": 4, "opening_hours": hours,
			"closed_days": []string{"2026-12-24", "2026-12-25"}, "min_backup_stock": []map[string]any{{"model": "SM-A155M", "quantity": 5}}}
		if err := s.call(ctx, "POST", "/api/v1/admin/centres", tok, body, nil, 201); err != nil {
			return "", nil, err
		}
		codes = append(codes, c.code)
	}
	var client struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/v1/admin/api-clients", tok, map[string]string{"name": "CSM (benchmark)", "role": "csm"}, &client, 201); err != nil {
		return "", nil, err
	}
	if client.Token == "" {
		return "", nil, errors.New("POST /api/v1/admin/api-clients returned no token")
	}
	return client.Token, codes, nil
}

func runService(ctx context.Context, pg *pgInfo, admin *sql.DB, o options, bin, tmp string, logf func(string, ...any)) (*serviceResult, error) {
	// The WAL pgbench left is written back before the service starts.
	if _, err := admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	commits0, err := dbCommits(ctx, admin)
	if err != nil {
		return nil, err
	}
	logf("service: starting the server")
	srv, err := startServer(bin, pg.cluster.URL("centros"), tmp)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.waitReady(ctx); err != nil {
		return nil, err
	}
	token, codes, err := srv.setUp(ctx)
	if err != nil {
		return nil, fmt.Errorf("set up through the API: %w", err)
	}
	db, err := sql.Open("pgx", pg.cluster.URL("centros"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	wal0, err := walLSN(ctx, admin)
	if err != nil {
		return nil, err
	}

	logf("service: %d clients, %s warm-up, then %s measured", o.clients, o.warmup, o.duration)
	res := &serviceResult{clients: o.clients, duration: o.duration, warmup: o.warmup}
	res.startHWMKB = procKB("/proc/"+strconv.Itoa(srv.pid())+"/status", "VmHWM")
	loadErr := srv.load(ctx, o, token, codes, res, pg.postmasterPIDFile)
	res.hwmKB = procKB("/proc/"+strconv.Itoa(srv.pid())+"/status", "VmHWM")
	res.endRSSKB = procKB("/proc/"+strconv.Itoa(srv.pid())+"/status", "VmRSS")
	if loadErr != nil {
		return nil, loadErr
	}
	if res.walBytes, err = walSince(ctx, admin, wal0); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM tickets").Scan(&res.tickets); err != nil {
		return nil, fmt.Errorf("count tickets: %w", err)
	}
	res.stopped = srv.stop()
	// Backends report their counters when they exit; give the server's a moment.
	time.Sleep(time.Second)
	commits1, err := dbCommits(ctx, admin)
	if err != nil {
		return nil, err
	}
	res.commits = commits1 - commits0
	return res, nil
}

// dbCommits returns the transactions committed in the centros database. Backends report
// them at most once a second and when they exit, so it is read before the server starts
// and after it stopped; the server's start-up and set-up are in the count, a few dozen.
func dbCommits(ctx context.Context, db *sql.DB) (int64, error) {
	if _, err := db.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'centros'").Scan(&n); err != nil {
		return 0, fmt.Errorf("pg_stat_database: %w", err)
	}
	return n, nil
}

// clientResult is what one client saw.
type clientResult struct {
	latencies []time.Duration
	warmup    int
	errors    int
	samples   []string
	lastEnd   time.Time
	err       error
}

// load runs the clients: each sends referrals one after another over its own
// keep-alive connection until the end; requests sent in the warm-up are not measured.
func (s *server) load(ctx context.Context, o options, token string, codes []string, res *serviceResult, pmPIDFile string) error {
	runID := make([]byte, 3)
	_, _ = rand.Read(runID)
	run := strings.ToUpper(hex.EncodeToString(runID))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)

	results := make([]clientResult, o.clients)
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Go(func() {
			results[i] = s.client(ctx, token, newReferralGen(run, i+1, codes), measureFrom, end)
		})
	}
	go func() {
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-ctx.Done():
	}
	watch := startCPUWatch(pmPIDFile, s.pid())
	wg.Wait()
	res.cpu = watch.finish()

	select {
	case <-s.exited:
		return fmt.Errorf("the server exited during the run (%v):\n%s", s.waitErr, s.logTail())
	default:
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted
	}
	var last time.Time
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		res.latencies = append(res.latencies, r.latencies...)
		res.warmupCount += r.warmup
		res.errors += r.errors
		for _, smp := range r.samples {
			if len(res.errorSamples) < 5 {
				res.errorSamples = append(res.errorSamples, smp)
			}
		}
		if r.lastEnd.After(last) {
			last = r.lastEnd
		}
	}
	slices.Sort(res.latencies)
	res.elapsed = last.Sub(measureFrom)
	if res.elapsed > 0 {
		res.rps = float64(len(res.latencies)) / res.elapsed.Seconds()
	}
	return nil
}

func (s *server) client(ctx context.Context, token string, gen *referralGen, measureFrom, end time.Time) clientResult {
	var r clientResult
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	url := s.base + "/api/v1/csm/tickets"
	auth := "Bearer " + token
	for {
		body := gen.next()
		t0 := time.Now()
		if !t0.Before(end) || ctx.Err() != nil {
			return r
		}
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		if err != nil {
			r.err = err
			return r
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		status, snippet, err := send(hc, req)
		t1 := time.Now()
		if ctx.Err() != nil {
			return r
		}
		switch {
		case err != nil || status != http.StatusCreated:
			r.errors++
			if len(r.samples) < 5 {
				if err != nil {
					r.samples = append(r.samples, err.Error())
				} else {
					r.samples = append(r.samples, fmt.Sprintf("%d %s", status, snippet))
				}
			}
			if err != nil {
				time.Sleep(10 * time.Millisecond) // do not spin on a refused connection
			}
		case t0.Before(measureFrom):
			r.warmup++
		default:
			r.latencies = append(r.latencies, t1.Sub(t0))
			r.lastEnd = t1
		}
	}
}

// send does one request and reads the whole answer, so that the connection is reused.
func send(hc *http.Client, req *http.Request) (int, string, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r *serviceResult) print(w io.Writer) {
	n := len(r.latencies)
	fmt.Fprintf(w, "\n== Service: POST /api/v1/csm/tickets (%d keep-alive clients, %s measured after %s warm-up)\n", r.clients, r.duration, r.warmup)
	fmt.Fprintf(w, "  referrals       %d created (201) in %.2fs measured, %d in warm-up\n", n, r.elapsed.Seconds(), r.warmupCount)
	fmt.Fprintf(w, "  errors          %d (any answer but 201)\n", r.errors)
	for _, s := range r.errorSamples {
		fmt.Fprintf(w, "    e.g. %s\n", s)
	}
	fmt.Fprintf(w, "  throughput      %.1f referrals/s\n", r.rps)
	fmt.Fprintf(w, "  latency         p50 %s, p90 %s, p99 %s, max %s\n", ms(percentile(r.latencies, .5)), ms(percentile(r.latencies, .9)),
		ms(percentile(r.latencies, .99)), ms(percentile(r.latencies, 1)))
	fmt.Fprintf(w, "  server memory   peak RSS (VmHWM) %.1f MB (%.1f MB already before the load); largest RSS sample under load %.1f MB; at the end %.1f MB\n",
		float64(r.hwmKB)*1024/mb, float64(r.startHWMKB)*1024/mb, float64(r.cpu.rssMaxKB)*1024/mb, float64(r.endRSSKB)*1024/mb)
	printCPU(w, r.cpu, float64(n), "referral", [][2]any{{"server", r.cpu.server}, {"PostgreSQL", r.cpu.postgres}, {"load generator", r.cpu.self}})
	if total := float64(n + r.warmupCount); total > 0 {
		fmt.Fprintf(w, "  PostgreSQL      per referral: %.2f commits, %.0f bytes WAL\n", float64(r.commits)/total, float64(r.walBytes)/total)
	}
	check := "matches the 201 answers"
	if r.tickets != int64(n+r.warmupCount) {
		check = fmt.Sprintf("MISMATCH: %d answers were 201", n+r.warmupCount)
	}
	fmt.Fprintf(w, "  tickets stored  %d (%s)\n", r.tickets, check)
	if r.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", r.stopped)
	}
}

// printSummary prints the figures against their targets and reports whether the run
// failed (requests that were not 201, or stored tickets that do not match).
func printSummary(w io.Writer, b *baseline, s *serviceResult) bool {
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	ratio := s.rps / b.tps
	rss := float64(s.hwmKB) * 1024 / mb
	fmt.Fprintf(w, "\n== Summary\n")
	fmt.Fprintf(w, "  %-42s %-12s %-10s %s\n", "figure", "value", "target", "")
	row := func(name, value, target, v string) {
		fmt.Fprintf(w, "  %-42s %-12s %-10s %s\n", name, value, target, v)
	}
	row("pgbench TPC-B tps", fmt.Sprintf("%.1f", b.tps), "", "")
	row("service referrals/s", fmt.Sprintf("%.1f", s.rps), "", "")
	row("ratio referrals/s ÷ pgbench tps", fmt.Sprintf("%.3f", ratio), fmt.Sprintf("≥ %.1f", targetRatio), verdict(ratio >= targetRatio))
	txCPU := (b.pgbenchCPU + b.cpu.postgres) / float64(max(b.transactions, 1))
	refCPU := (s.cpu.server + s.cpu.postgres + s.cpu.self) / float64(max(len(s.latencies), 1))
	if txCPU > 0 && refCPU > 0 {
		row("  CPU-cost ratio (tx CPU ÷ referral CPU)", fmt.Sprintf("%.3f", txCPU/refCPU), "", "estimate, less disturbed by other load")
	}
	row("referral latency p50", ms(percentile(s.latencies, .5)), "", "")
	row("referral latency p90", ms(percentile(s.latencies, .9)), "", "")
	row("referral latency p99", ms(percentile(s.latencies, .99)), "", "")
	row("referral latency max", ms(percentile(s.latencies, 1)), "", "")
	row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", rss), fmt.Sprintf("< %.0f MB", targetRSSMB), verdict(rss > 0 && rss < targetRSSMB))
	row("failed requests (not 201)", strconv.Itoa(s.errors), "0", map[bool]string{true: "ok", false: "FAILED"}[s.errors == 0])
	otherB := otherShare(b.cpu, b.pgbenchCPU+b.cpu.postgres)
	otherS := otherShare(s.cpu, s.cpu.server+s.cpu.postgres+s.cpu.self)
	if otherB > 0.1 || otherS > 0.1 {
		fmt.Fprintf(w, "\nWARNING: other processes used %.0f%% of the CPU during pgbench and %.0f%% during the service load;\n"+
			"         throughput and the ratio are disturbed (the CPU-cost ratio much less so).\n", 100*otherB, 100*otherS)
	}
	failed := s.errors > 0 || s.tickets != int64(len(s.latencies)+s.warmupCount) || len(s.latencies) == 0
	if failed {
		fmt.Fprintf(w, "\nRESULT: the run FAILED (requests not answered 201, or tickets stored do not match); the figures are not valid\n")
	} else {
		fmt.Fprintf(w, "\nRESULT: run complete\n")
	}
	return failed
}
