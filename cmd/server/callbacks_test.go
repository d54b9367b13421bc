package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"centros/models"
	"centros/services"
	"centros/services/database/dbtest"
)

// The callback tests run the service as it runs in production, against a receiver that
// stands for CSM: a crash in the middle of deliveries loses nothing, and two replicas
// deliver every event once.

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is CSM's callback endpoint: it checks every signature and records what it
// acknowledged, in the order it did.
type receiver struct {
	t                  *testing.T
	secret             services.WebhookSecret
	minDelay, maxDelay time.Duration
	failRate           float64

	inFlight atomic.Int64
	gate     atomic.Pointer[chan struct{}] // callbacks wait until it is closed
	mu       sync.Mutex
	acks     map[string]int     // webhook-id → times acknowledged (2xx)
	first    map[string][]int64 // ticket → sequences in the order first acknowledged
	attempts int
	badSigs  int
	badIDs   int
}

func newReceiver(t *testing.T, minDelay, maxDelay time.Duration, failRate float64) (*receiver, *httptest.Server) {
	t.Helper()
	secret, err := services.ParseWebhookSecret(testWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, secret: secret, minDelay: minDelay, maxDelay: maxDelay, failRate: failRate,
		acks: map[string]int{}, first: map[string][]int64{}}
	r.release()
	hs := httptest.NewServer(r) // on 127.0.0.1
	t.Cleanup(hs.Close)
	return r, hs
}

// hold keeps callbacks waiting, in flight, until release.
func (r *receiver) hold() {
	gate := make(chan struct{})
	r.gate.Store(&gate)
}

func (r *receiver) release() {
	gate := make(chan struct{})
	close(gate)
	if old := r.gate.Swap(&gate); old != nil {
		select {
		case <-*old:
		default:
			close(*old)
		}
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	<-*r.gate.Load()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	id := req.Header.Get("webhook-id")
	var ev struct {
		ID           string `json:"id"`
		Sequence     int64  `json:"sequence"`
		TicketNumber string `json:"ticket_number"`
	}
	verr := services.VerifyWebhook(r.secret, id, req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body, time.Now())
	jerr := json.Unmarshal(body, &ev)
	r.mu.Lock()
	r.attempts++
	switch {
	case verr != nil:
		r.badSigs++
	case jerr != nil || ev.ID != id || ev.Sequence <= 0:
		r.badIDs++
	}
	r.mu.Unlock()
	if verr != nil || jerr != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.maxDelay > 0 {
		// Not the request's context: what CSM has begun, it finishes, even when the
		// sender is gone, so an event in flight at a crash arrives twice.
		time.Sleep(r.minDelay + rand.N(r.maxDelay-r.minDelay+1))
	}
	if r.failRate > 0 && rand.Float64() < r.failRate {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.mu.Lock()
	if r.acks[id] == 0 {
		r.first[ev.TicketNumber] = append(r.first[ev.TicketNumber], ev.Sequence)
	}
	r.acks[id]++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// snapshot returns how many distinct events were acknowledged, and how many times in all.
func (r *receiver) snapshot() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.acks {
		total += n
	}
	return len(r.acks), total
}

// check compares what the receiver acknowledged with every event in the database:
// each acknowledged at least once (exactly once when once is set), nothing else, in
// sequence order per ticket, every signature valid.
func (r *receiver) check(t *testing.T, db *sql.DB, once bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	rows, err := db.Query("SELECT id, ticket_number, sequence FROM csm_events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	events := map[string]bool{}
	for rows.Next() {
		var id, ticket string
		var seq sql.NullInt64
		if err := rows.Scan(&id, &ticket, &seq); err != nil {
			t.Fatal(err)
		}
		events[id] = true
		if r.acks[id] == 0 {
			t.Errorf("event %s (ticket %s, sequence %v) was never acknowledged: lost", id, ticket, seq)
		}
		if once && r.acks[id] != 1 {
			t.Errorf("event %s was delivered %d times, want once", id, r.acks[id])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range r.acks {
		if !events[id] {
			t.Errorf("the receiver acknowledged %s, which is no event", id)
		}
	}
	if len(r.acks) != len(events) {
		t.Errorf("%d distinct webhook-ids acknowledged for %d events", len(r.acks), len(events))
	}
	if r.badSigs > 0 || r.badIDs > 0 {
		t.Errorf("%d callbacks with an invalid signature, %d whose webhook-id is not the body's event id", r.badSigs, r.badIDs)
	}
	for ticket, seqs := range r.first {
		if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) {
			t.Errorf("ticket %s: events first acknowledged in the order %v, want increasing sequence", ticket, seqs)
		}
	}
}

// waitDelivered waits until every event in the database is delivered and acknowledged.
func waitDelivered(t *testing.T, db *sql.DB, r *receiver, within time.Duration, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var events, delivered int
		if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE delivery_status = 'delivered') FROM csm_events`).Scan(&events, &delivered); err != nil {
			t.Fatal(err)
		}
		distinct, _ := r.snapshot()
		if events > 0 && delivered == events && distinct >= events {
			return
		}
		if time.Now().After(deadline) {
			var states string
			_ = db.QueryRow(`SELECT string_agg(s, ', ') FROM (SELECT delivery_status || ': ' || count(*) AS s FROM csm_events GROUP BY 1) x`).Scan(&states)
			t.Fatalf("after %v: %d of %d events delivered (%s), %d acknowledged\n%s", within, delivered, events, states, distinct, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverBinary builds this command into a folder of the test's.
func serverBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/server: %v\n%s", err, out)
	}
	return bin
}

// process is the service running as a separate process.
type process struct {
	cmd   *exec.Cmd
	URL   string
	Out   *syncBuffer // the banner
	Logs  *syncBuffer
	done  chan struct{}
	token string
}

var csmTokenLine = regexp.MustCompile(`demo CSM API token \(shown once\): (\S+)`)

// startProcess runs the built service with env added to this process's environment and
// returns once it answers /readyz.
func startProcess(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, Out: &syncBuffer{}, Logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	deadline := time.Now().Add(60 * time.Second)
	for p.URL == "" {
		if m := listening.FindStringSubmatch(p.Out.String()); m != nil {
			p.URL = m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("the server exited at start:\n%s\n%s", p.Out, p.Logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start within 60 s:\n%s", p.Logs)
		}
	}
	for get(t, p.URL+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the server is not ready after 60 s:\n%s", p.Logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := csmTokenLine.FindStringSubmatch(p.Out.String()); m != nil {
		p.token = m[1]
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no deferred work, as in a crash.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// csmClient drives the API as CSM does, with the demo CSM token.
type csmClient struct {
	t     *testing.T
	token string
	http  *http.Client
}

func (c *csmClient) call(method, url string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, url, res.StatusCode, want, b)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// refer refers n tickets to CCS-01 with numbers prefix-0001 … and returns the numbers.
func (c *csmClient) refer(base, prefix string, n int) []string {
	c.t.Helper()
	var numbers []string
	for i := 1; i <= n; i++ {
		number := fmt.Sprintf("%s-%04d", prefix, i)
		c.call(http.MethodPost, base+"/api/v1/csm/tickets", map[string]any{
			"ticket_number": number, "reported_at": time.Now().Format(time.RFC3339), "centre_code": "CCS-01",
			"customer": map[string]string{"account_number": "J-30123456-7", "company": "Transportes Ávila C.A.",
				"contact_name": "María Pérez", "contact_phone": "0416-1234567", "contact_email": "mperez@example.com"},
			"line":   map[string]string{"msisdn": "+584161234567"},
			"device": map[string]string{"imei": "356938035643809", "brand": "Samsung", "model": "SM-A155M"},
			"fault":  map[string]string{"category": "no_signal", "description": "Sin señal desde ayer"},
		}, http.StatusCreated)
		numbers = append(numbers, number)
	}
	return numbers
}

// freeSlots returns the start of n empty future slots at CCS-01, from availability: the
// clock is real, so the slots are the coming days'.
func (c *csmClient) freeSlots(base string, n int) []string {
	c.t.Helper()
	loc, err := time.LoadLocation(models.DefaultTimeZone)
	if err != nil {
		c.t.Fatal(err)
	}
	today := time.Now().In(loc)
	q := url.Values{"from": {today.Format(time.DateOnly)}, "to": {today.AddDate(0, 0, 13).Format(time.DateOnly)}}
	av := c.call(http.MethodGet, base+"/api/v1/centres/CCS-01/availability?"+q.Encode(), nil, http.StatusOK)
	var out []string
	slots, _ := av["slots"].([]any)
	for _, s := range slots {
		slot := s.(map[string]any)
		starts, _ := time.Parse(time.RFC3339, slot["starts_at"].(string))
		if starts.After(time.Now().Add(time.Hour)) && slot["booked"].(float64) == 0 && slot["capacity"].(float64) >= 1 {
			out = append(out, slot["starts_at"].(string))
		}
		if len(out) == n {
			return out
		}
	}
	c.t.Fatalf("only %d free slots in the next two weeks at CCS-01, want %d", len(out), n)
	return nil
}

// churn books and cancels each ticket rounds times (two events each time), the tickets
// shared among one worker per slot, each worker talking to bases[worker % len(bases)].
// Each worker holds at most one booking at a time, in its own slot.
func (c *csmClient) churn(bases []string, tickets, slots []string, rounds int) {
	c.t.Helper()
	var wg sync.WaitGroup
	for w, slot := range slots {
		base := bases[w%len(bases)]
		wg.Go(func() {
			for range rounds {
				for i := w; i < len(tickets); i += len(slots) {
					a := c.call(http.MethodPost, base+"/api/v1/appointments",
						map[string]string{"ticket_number": tickets[i], "centre_code": "CCS-01", "starts_at": slot}, http.StatusCreated)
					c.call(http.MethodPost, base+"/api/v1/appointments/"+a["id"].(string)+"/cancel",
						map[string]string{"reason": "callback test"}, http.StatusOK)
				}
			}
		})
	}
	wg.Wait()
}

func openDB(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func serverEnv(t *testing.T, dbURL, callbackURL string) map[string]string {
	return map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(), "DEMO_DATA": "true",
		"CSM_CALLBACK_URL": callbackURL, "CSM_WEBHOOK_SECRET": testWebhookSecret,
		"CSM_RETRY_SCHEDULE": "100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s"}
}

// TestCrashLosesNoCallback kills the service with SIGKILL while callbacks are in flight
// and starts it again: every event reaches the receiver, and the only repeats are of the
// same webhook-id. Events in flight at the crash are sent again once their lease (3 ×
// the 10 s timeout) runs out, so the test takes about 30 s.
func TestCrashLosesNoCallback(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s: waits for the leases of the killed process to run out")
	}
	bin := serverBinary(t)
	dbURL := dbtest.URL(t)
	db := openDB(t, dbURL)
	// Slow, and failing now and then, so that deliveries and retries are under way.
	recv, hs := newReceiver(t, 20*time.Millisecond, 50*time.Millisecond, 0.05)
	env := serverEnv(t, dbURL, hs.URL+"/csm/callbacks")

	first := startProcess(t, bin, env)
	if first.token == "" {
		t.Fatalf("no demo CSM token in the banner:\n%s", first.Out)
	}
	csm := &csmClient{t: t, token: first.token, http: &http.Client{Timeout: 30 * time.Second}}
	tickets := csm.refer(first.URL, "CRASH", 24)
	slots := csm.freeSlots(first.URL, 6)
	// Callbacks wait at the receiver while the events are made, so that however fast
	// this machine is, most are still to deliver when the process dies.
	recv.hold()
	began := time.Now()
	csm.churn([]string{first.URL}, tickets, slots, 6) // 24 × 6 × 2 = 288 events
	produced := time.Since(began)
	recv.release()

	// Kill while the receiver is answering and events are still queued.
	var atKill int
	var killedAt time.Time
	for deadline := time.Now().Add(10 * time.Second); ; {
		distinct, _ := recv.snapshot()
		if recv.inFlight.Load() > 0 && distinct >= 20 {
			first.kill()
			atKill, killedAt = distinct, time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no callback in flight within 10 s (%d acknowledged)\n%s", distinct, first.Logs)
		}
		time.Sleep(time.Millisecond)
	}
	var events, delivered int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE delivery_status = 'delivered') FROM csm_events`).Scan(&events, &delivered); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events produced in %v; killed with %d acknowledged, %d recorded delivered", events, produced.Round(time.Millisecond), atKill, delivered)
	if delivered >= events {
		t.Fatalf("every event was delivered before the kill: the test proved nothing")
	}

	second := startProcess(t, bin, env)
	// The restarted service takes new events as well as the old.
	more := csm.refer(second.URL, "AFTER", 4)
	csm.churn([]string{second.URL}, more, slots[:2], 2)
	waitDelivered(t, db, recv, 90*time.Second, second.Logs)
	recv.check(t, db, false)
	distinct, total := recv.snapshot()
	t.Logf("all %d events delivered %v after the kill; %d acknowledgements in all (%d repeats of the same webhook-id)",
		distinct, time.Since(killedAt).Round(time.Millisecond), total, total-distinct)
}

// TestTwoReplicasDeliverEachEventOnce runs two replicas against one database and one
// receiver that always acknowledges: every event is delivered, none twice.
func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	dbURL := dbtest.URL(t)
	db := openDB(t, dbURL)
	recv, hs := newReceiver(t, 0, 0, 0)
	envA := serverEnv(t, dbURL, hs.URL)
	baseA, outA, stopA := start(t, envA)
	token := csmTokenLine.FindStringSubmatch(outA.String())
	if token == nil {
		t.Fatalf("no demo CSM token in the banner:\n%s", outA)
	}
	envB := serverEnv(t, dbURL, hs.URL) // the same database, its own address
	baseB, _, stopB := start(t, envB)
	csm := &csmClient{t: t, token: token[1], http: &http.Client{Timeout: 30 * time.Second}}

	tickets := csm.refer(baseA, "TWO", 20)
	slots := csm.freeSlots(baseB, 4)
	csm.churn([]string{baseA, baseB}, tickets, slots, 5) // 20 × 5 × 2 = 200 events through both
	waitDelivered(t, db, recv, 30*time.Second, &syncBuffer{})
	// Let anything that would be sent twice arrive before counting.
	time.Sleep(300 * time.Millisecond)
	recv.check(t, db, true)
	var attempts int
	if err := db.QueryRow("SELECT count(*) FROM csm_delivery_attempts").Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	distinct, total := recv.snapshot()
	if attempts != distinct || total != distinct {
		t.Errorf("%d attempts recorded and %d acknowledgements for %d events, want one each", attempts, total, distinct)
	}
	for name, stop := range map[string]func() (error, time.Duration){"A": stopA, "B": stopB} {
		if err, took := stop(); err != nil || took > 15*time.Second {
			t.Errorf("replica %s stopped with %v after %v", name, err, took)
		}
	}
	t.Logf("%d events, each delivered once, by two replicas", distinct)
}
