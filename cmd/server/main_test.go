package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"centros/services"
	"centros/services/database/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// syncBuffer is a buffer the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// start runs the server as main does and returns its base URL and a stop function that
// sends the equivalent of SIGTERM and returns run's error and how long it took to exit.
func start(t *testing.T, env map[string]string) (string, *syncBuffer, func() (error, time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out, logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			stop := func() (error, time.Duration) {
				began := time.Now()
				cancel()
				select {
				case err := <-done:
					return err, time.Since(began)
				case <-time.After(30 * time.Second):
					t.Fatal("the server did not stop within 30 s")
					return nil, 0
				}
			}
			return m[1], out, stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("the server stopped at start: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the server did not start within 60 s\n%s", logs.String())
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestEmbeddedDefault runs the README's first command as a new user would: no
// DATABASE_URL, so the server starts its own PostgreSQL under DATA_DIR, seeds the demo,
// and on a second start reuses the same data.
func TestEmbeddedDefault(t *testing.T) {
	// os.MkdirTemp, not t.TempDir: the postgres user must be able to reach the folder.
	tmp, err := os.MkdirTemp("", "centros-server-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(tmp, "var")
	env := map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0"}

	base, out, stop := start(t, env)
	if get(t, base+"/readyz") != http.StatusOK {
		t.Fatal("not ready after start")
	}
	banner := out.String()
	for _, want := range []string{"admin@example.com / " + services.DemoPassword, "taquilla@example.com", "demo CSM API token", "whsec_"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the start banner lacks %q:\n%s", want, banner)
		}
	}
	token := login(t, base, "taquilla@example.com")
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/tickets/CSM-"+time.Now().UTC().Format("2006")+"-0004711", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("demo ticket lookup: %d", res.StatusCode)
	}
	if err, took := stop(); err != nil || took > 15*time.Second {
		t.Fatalf("stop: err %v after %v; want nil within 15 s", err, took)
	}
	// The cluster lives in DATA_DIR (not moved elsewhere), so the next check means something.
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "pgdata", "PG_VERSION")); err != nil {
		t.Fatalf("no cluster in DATA_DIR: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("the embedded cluster is still running after the service stopped (postmaster.pid: %v)", err)
	}

	base, out, stop = start(t, env)
	if strings.Contains(out.String(), "first admin created") || strings.Contains(out.String(), "demo CSM API token") {
		t.Errorf("a second start seeded again:\n%s", out.String())
	}
	login(t, base, "taquilla@example.com")
	if err, _ := stop(); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, base, email string) string {
	t.Helper()
	body := `{"email":"` + email + `","password":"` + services.DemoPassword + `"}`
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %v", email, res.StatusCode, err)
	}
	return v.Token
}

// TestShutdownFinishesRequestsInFlight proves the graceful stop: a request running when
// SIGTERM arrives still gets its answer, and the process returns promptly.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	env := map[string]string{"DATABASE_URL": dbtest.URL(t), "HTTP_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(),
		"ADMIN_PASSWORD": "a-long-enough-password"}
	base, _, stop := start(t, env)
	// Logins are deliberately slow (argon2id), which gives a request to be in flight.
	results := make(chan int, 8)
	for range 8 {
		go func() {
			res, err := http.Post(base+"/api/v1/auth/login", "application/json",
				strings.NewReader(`{"email":"admin@example.com","password":"a-long-enough-password"}`))
			if err != nil {
				results <- 0
				return
			}
			res.Body.Close()
			results <- res.StatusCode
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err, took := stop(); err != nil || took > 15*time.Second {
		t.Fatalf("stop: err %v after %v", err, took)
	}
	for range 8 {
		// A request either got its answer (a login, or the rate limit that counts
		// simultaneous attempts at one account) or was never accepted; none was cut
		// half-way with a server error.
		if code := <-results; code != 0 && code != http.StatusOK && code != http.StatusTooManyRequests {
			t.Errorf("request in flight during shutdown got %d", code)
		}
	}
}

func TestConfigRefusesBadSettings(t *testing.T) {
	cases := map[string]map[string]string{
		"HTTP_ADDR without port":     {"HTTP_ADDR": "localhost"},
		"DEMO_DATA not a boolean":    {"DEMO_DATA": "perhaps"},
		"short ADMIN_PASSWORD":       {"ADMIN_PASSWORD": "short"},
		"PUBLIC_BASE_URL not a URL":  {"PUBLIC_BASE_URL": "ftp://x"},
		"CSM_CALLBACK_URL not a URL": {"CSM_CALLBACK_URL": "nowhere"},
		"secret without whsec_":      {"CSM_WEBHOOK_SECRET": "c2VjcmV0"},
		"retry schedule not times":   {"CSM_RETRY_SCHEDULE": "5s,soon"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.DataDir != "./var" || !cfg.DemoData || cfg.PublicBaseURL != "http://127.0.0.1:8080" ||
		len(cfg.CSMRetrySchedule) != 9 || cfg.CSMRetrySchedule[8] != 24*time.Hour {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = loadConfig(func(k string) string { return map[string]string{"DATABASE_URL": "postgres://x/y"}[k] })
	if err != nil || cfg.DemoData {
		t.Fatalf("with DATABASE_URL demo data must default to false: %+v %v", cfg, err)
	}
}
