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

// startServer starts the server binary against dbURL, logging to server-<name>.log and
// keeping its files in data-<name>, both in tmp; extraEnv adds settings (KEY=value).
func startServer(bin, dbURL, tmp, name string, extraEnv ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &server{base: "http://" + addr, logPath: filepath.Join(tmp, "server-"+name+".log"), exited: make(chan struct{})}
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
		"ADMIN_EMAIL="+adminEmail, "ADMIN_PASSWORD="+adminPasswd, "DATA_DIR="+filepath.Join(tmp, "data-"+name))
	env = append(env, extraEnv...)
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
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

// The set-up, through the API as an admin would.

func (s *server) login(ctx context.Context) (string, error) {
	var login struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPasswd}, &login, 200); err != nil {
		return "", err
	}
	return login.Token, nil
}

func (s *server) createBusinessUnit(ctx context.Context, tok, code, name string) error {
	return s.call(ctx, "POST", "/api/v1/admin/business-units", tok, map[string]string{"code": code, "name": name}, nil, 201)
}

// centreBody is the body of POST /api/v1/admin/centres (models.CentreInput).
func centreBody(code, name, address, bu string, counters int, hours []map[string]any, closed []string) map[string]any {
	return map[string]any{"code": code, "name": name, "address": address, "business_unit_code": bu,
		"time_zone": "America/Caracas", "slot_minutes": 30, "counters": counters, "opening_hours": hours,
		"closed_days": closed, "min_backup_stock": []map[string]any{{"model": "SM-A155M", "quantity": 5}}}
}

func (s *server) createCentre(ctx context.Context, tok string, body map[string]any) error {
	return s.call(ctx, "POST", "/api/v1/admin/centres", tok, body, nil, 201)
}

// createCSMClient creates the CSM API client and returns its token.
func (s *server) createCSMClient(ctx context.Context, tok string) (string, error) {
	var client struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/v1/admin/api-clients", tok, map[string]string{"name": "CSM (benchmark)", "role": "csm"}, &client, 201); err != nil {
		return "", err
	}
	if client.Token == "" {
		return "", errors.New("POST /api/v1/admin/api-clients returned no token")
	}
	return client.Token, nil
}

// openingHours opens from opens to closes on the given ISO weekdays.
func openingHours(opens, closes string, weekdays ...int) []map[string]any {
	var out []map[string]any
	for _, d := range weekdays {
		out = append(out, map[string]any{"weekday": d, "opens": opens, "closes": closes})
	}
	return out
}

// session is the server running against a fresh database of the cluster for one
// scenario, with what is needed to account for it afterwards.
type session struct {
	dbName   string
	srv      *server
	db       *sql.DB // the scenario's database
	admin    *sql.DB // the cluster, as superuser
	commits0 int64
}

// startSession creates the database centros_<scenario>, writes back the WAL of what
// ran before (pgbench, an earlier scenario), starts the server on it and waits until
// it is ready.
func startSession(ctx context.Context, e *benchEnv, scenario string) (*session, error) {
	ss := &session{dbName: "centros_" + scenario, admin: e.admin}
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE "+ss.dbName); err != nil {
		return nil, fmt.Errorf("create database %s: %w", ss.dbName, err)
	}
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var err error
	if ss.commits0, err = dbCommits(ctx, e.admin, ss.dbName); err != nil {
		return nil, err
	}
	e.logf("%s: starting the server", scenario)
	url := e.pg.cluster.URL(ss.dbName)
	if ss.srv, err = startServer(e.serverBin, url, e.tmp, scenario); err != nil {
		return nil, err
	}
	if err := ss.srv.waitReady(ctx); err != nil {
		ss.srv.stop()
		return nil, err
	}
	if ss.db, err = sql.Open("pgx", url); err != nil {
		ss.srv.stop()
		return nil, err
	}
	return ss, nil
}

// close stops the server if it still runs; safe to call after finish.
func (ss *session) close() {
	ss.srv.stop()
	ss.db.Close()
}

// memKB reads the server's VmHWM or VmRSS.
func (ss *session) memKB(key string) int64 {
	return procKB("/proc/"+strconv.Itoa(ss.srv.pid())+"/status", key)
}

// finish stops the server and returns how it stopped and the transactions committed in
// the scenario's database since before it started.
func (ss *session) finish(ctx context.Context) (string, int64, error) {
	stopped := ss.srv.stop()
	// Backends report their counters when they exit; give the server's a moment.
	time.Sleep(time.Second)
	commits1, err := dbCommits(ctx, ss.admin, ss.dbName)
	if err != nil {
		return stopped, 0, err
	}
	return stopped, commits1 - ss.commits0, nil
}

// dbCommits returns the transactions committed in a database. Backends report them at
// most once a second and when they exit, so it is read before the server starts and
// after it stopped; the server's start-up and set-up are in the count, a few dozen.
func dbCommits(ctx context.Context, db *sql.DB, name string) (int64, error) {
	if _, err := db.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&n); err != nil {
		return 0, fmt.Errorf("pg_stat_database: %w", err)
	}
	return n, nil
}

// memory is the server's resident memory around a load.
type memory struct {
	startHWMKB int64 // VmHWM when the load begins: start-up and set-up
	hwmKB      int64 // VmHWM at the end
	endRSSKB   int64
	maxRSSKB   int64 // largest VmRSS sampled under load
}

func (m memory) peakMB() float64 { return float64(m.hwmKB) * 1024 / mb }

func (m memory) print(w io.Writer) {
	fmt.Fprintf(w, "  server memory   peak RSS (VmHWM) %.1f MB (%.1f MB already before the load); largest RSS sample under load %.1f MB; at the end %.1f MB\n",
		m.peakMB(), float64(m.startHWMKB)*1024/mb, float64(m.maxRSSKB)*1024/mb, float64(m.endRSSKB)*1024/mb)
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

// latencySummary is "p50 …, p90 …, p99 …, max …" of sorted latencies.
func latencySummary(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", ms(percentile(sorted, .5)), ms(percentile(sorted, .9)),
		ms(percentile(sorted, .99)), ms(percentile(sorted, 1)))
}

// runID tells this run's ticket numbers apart.
func runID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
