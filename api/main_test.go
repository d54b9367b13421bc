package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"centros/api"
	"centros/services"
	"centros/services/database/dbtest"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// together runs fn(0) … fn(n-1) in n goroutines released at the same moment, the way
// simultaneous requests arrive, and returns when all have finished.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// testEnv is the real server over a fresh database seeded with the demo organisation:
// business unit CAP, warehouse ALM-CAP, centres CCS-01 and CCS-02, one user per role,
// a CSM client and twenty referred tickets.
type testEnv struct {
	t        *testing.T
	DB       *gorm.DB
	Server   *api.Server
	HTTP     *httptest.Server
	CSMToken string
	tokens   map[string]string
	clock    atomic.Pointer[time.Time]
}

// SetNow pins the services' clock (real time until called), for rules that depend on
// the hour: slots in the past, check-in on the appointment's day, walk-ins.
func (e *testEnv) SetNow(now time.Time) { e.clock.Store(&now) }

// Now is the services' clock.
func (e *testEnv) Now() time.Time {
	if p := e.clock.Load(); p != nil {
		return *p
	}
	return time.Now()
}

// Demo users by role, as seeded.
const (
	emailAdmin     = "admin@example.com"
	emailCounter   = "taquilla@example.com"
	emailTech      = "tecnico@example.com"
	emailManager   = "gerente@example.com"
	emailCounter2  = "taquilla2@example.com"
	emailWarehouse = "almacen@example.com"
)

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	db, sqlDB := dbtest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &testEnv{t: t, DB: db, tokens: map[string]string{}}
	deps := services.Deps{DB: db, Log: log, Now: e.Now}
	svc := api.NewServices(deps, "http://example.test")
	ctx := context.Background()
	if _, err := svc.Admin.EnsureAdmin(ctx, emailAdmin, services.DemoPassword); err != nil {
		t.Fatal(err)
	}
	demo, err := services.NewDemo(deps, svc.Admin, svc.Tickets, svc.Inventory).Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(api.Config{PublicBaseURL: "http://example.test"}, log, svc, services.NewHealth(sqlDB),
		api.NewMetrics(prometheus.NewRegistry(), sqlDB))
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e.Server, e.HTTP, e.CSMToken = srv, hs, demo.CSMToken
	return e
}

// token logs a demo user in once and returns their bearer token.
func (e *testEnv) token(email string) string {
	e.t.Helper()
	if tok, ok := e.tokens[email]; ok {
		return tok
	}
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": services.DemoPassword})
	if res.Status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, res.Status, res.Body)
	}
	tok := res.JSON()["token"].(string)
	e.tokens[email] = tok
	return tok
}

// response is a finished HTTP exchange.
type response struct {
	t      *testing.T
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r response) JSON() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		r.t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Code is the problem code of an error response.
func (r response) Code() string {
	c, _ := r.JSON()["code"].(string)
	return c
}

// do sends a request; body may be nil, a string or []byte sent as is, or a value
// encoded as JSON.
func (e *testEnv) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.HTTP.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{t: e.t, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// rowCounts counts the rows of every table a request could write, to prove that a
// refused request changed nothing.
func (e *testEnv) rowCounts() map[string]int64 {
	e.t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"business_units", "warehouses", "centres", "centre_opening_hours", "centre_closed_days",
		"centre_min_stock", "users", "api_clients", "auth_tokens", "tickets", "audit_log", "csm_events", "idempotency_keys"} {
		var n int64
		if err := e.DB.Table(table).Count(&n).Error; err != nil {
			e.t.Fatal(err)
		}
		out[table] = n
	}
	var versions int64
	if err := e.DB.Raw("SELECT COALESCE(sum(version), 0) FROM (SELECT version FROM tickets UNION ALL SELECT version FROM users UNION ALL SELECT version FROM centres) v").Scan(&versions).Error; err != nil {
		e.t.Fatal(err)
	}
	out["sum(version)"] = versions
	return out
}
