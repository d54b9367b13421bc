package services_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"centros/models"
	"centros/services"
	"centros/services/database"

	"gorm.io/gorm"
)

// dlvRequest is one callback as CSM's receiver got it.
type dlvRequest struct {
	Method, Path, Query, ContentType string
	ID, Timestamp, Signature         string
	Body                             []byte
	At                               time.Time
	Keys                             []string // the body's top-level fields
	Payload                          dlvPayload
	PayloadErr                       error
	SigErrs                          []error // verification with each of the receiver's secrets
	Verified                         bool    // by every one of them
	N                                int     // 1 for the first request with this webhook-id, 2 for the next…
	Answered                         int     // the status answered; 0 while hanging
}

type dlvPayload struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Sequence     int64           `json:"sequence"`
	OccurredAt   time.Time       `json:"occurred_at"`
	TicketNumber string          `json:"ticket_number"`
	Data         json.RawMessage `json:"data"`
}

// dlvAnswer is what the receiver answers one request with.
type dlvAnswer struct {
	status int
	header map[string]string
	hang   bool // until the client gives up
}

// dlvReceiver stands in for CSM: a local HTTP server that verifies every callback as a
// Standard Webhooks receiver does (a request that does not verify gets 401) and answers
// as the test tells it, per request.
type dlvReceiver struct {
	srv     *httptest.Server
	secrets []services.WebhookSecret
	mu      sync.Mutex
	reqs    []dlvRequest
	answer  func(r dlvRequest) dlvAnswer
	release chan struct{}
}

func newReceiver(t *testing.T, secrets ...services.WebhookSecret) *dlvReceiver {
	t.Helper()
	rc := &dlvReceiver{secrets: secrets, release: make(chan struct{})}
	rc.srv = httptest.NewServer(rc) // on 127.0.0.1
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

// URL is where the deliverer is pointed.
func (rc *dlvReceiver) URL() string { return rc.srv.URL + "/hooks" }

// answerWith sets how the receiver answers from now on (nil: 200).
func (rc *dlvReceiver) answerWith(fn func(r dlvRequest) dlvAnswer) {
	rc.mu.Lock()
	rc.answer = fn
	rc.mu.Unlock()
}

func (rc *dlvReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := dlvRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"),
		ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
		Signature: r.Header.Get("webhook-signature"), Body: body, At: time.Now()}
	req.Verified = true
	for _, s := range rc.secrets {
		err := services.VerifyWebhook(s, req.ID, req.Timestamp, req.Signature, body, req.At)
		req.SigErrs = append(req.SigErrs, err)
		if err != nil {
			req.Verified = false
		}
	}
	var fields map[string]json.RawMessage
	if req.PayloadErr = json.Unmarshal(body, &fields); req.PayloadErr == nil {
		for k := range fields {
			req.Keys = append(req.Keys, k)
		}
		sort.Strings(req.Keys)
		req.PayloadErr = json.Unmarshal(body, &req.Payload)
	}
	rc.mu.Lock()
	for _, p := range rc.reqs {
		if p.ID == req.ID {
			req.N++
		}
	}
	req.N++
	fn := rc.answer
	rc.mu.Unlock()
	a := dlvAnswer{status: http.StatusOK}
	switch {
	case len(rc.secrets) > 0 && !req.Verified:
		a = dlvAnswer{status: http.StatusUnauthorized}
	case r.URL.Path != "/hooks":
		// where a followed redirect would land: it would count as delivered
	case fn != nil:
		a = fn(req)
	}
	req.Answered = a.status
	if a.hang {
		req.Answered = 0
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	rc.mu.Unlock()
	if a.hang {
		select {
		case <-r.Context().Done():
		case <-rc.release:
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
}

// requests returns what the receiver got so far, in order of arrival.
func (rc *dlvReceiver) requests() []dlvRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// of returns the requests carrying one webhook-id, in order of arrival.
func (rc *dlvReceiver) of(id string) []dlvRequest {
	var out []dlvRequest
	for _, r := range rc.requests() {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

// countByID counts the requests per webhook-id on the callback path.
func (rc *dlvReceiver) countByID() map[string]int {
	out := map[string]int{}
	for _, r := range rc.requests() {
		if r.Path == "/hooks" {
			out[r.ID]++
		}
	}
	return out
}

func newSecret(t *testing.T) services.WebhookSecret {
	t.Helper()
	b := make([]byte, 24)
	rand.Read(b)
	s, err := services.ParseWebhookSecret("whsec_" + base64.StdEncoding.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ms is a schedule in milliseconds.
func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

// testLog sends the deliverer's warnings and errors to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startDeliverer runs a deliverer as the server does, listening for notifications, on
// the real clock (retries wait real time). The returned stop cancels it and waits until
// Run has returned; it is also called when the test ends.
func (e *env) startDeliverer(t *testing.T, cfg services.DeliveryConfig) (stop func()) {
	t.Helper()
	return e.startDelivererWithClock(t, cfg, nil)
}

// startDelivererWithClock is startDeliverer with the deliverer's clock (nil: real time).
func (e *env) startDelivererWithClock(t *testing.T, cfg services.DeliveryConfig, now func() time.Time) (stop func()) {
	t.Helper()
	deps := e.deps
	deps.Now = now
	deps.Log = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := services.NewDeliverer(deps, cfg)
	sqlDB, err := e.deps.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var listening sync.WaitGroup
	listening.Go(func() { database.Listen(ctx, sqlDB, services.EventChannel, d.Wake, deps.Log) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the deliverer's Run did not return after its context ended")
		}
		listening.Wait()
	})
	t.Cleanup(stop)
	return stop
}

// record writes one event in a transaction of its own.
func (e *env) record(t *testing.T, tk *models.Ticket, typ models.EventType, data any) *models.Event {
	t.Helper()
	var ev *models.Event
	err := e.deps.DB.Transaction(func(tx *gorm.DB) error {
		var err error
		ev, err = services.RecordEvent(tx, tk, typ, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// dlvState is an event's delivery columns.
type dlvState struct {
	Status        string
	Sequence      *int64
	Attempts      int
	CycleAttempts int
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	LastError     *string
}

func (e *env) state(t *testing.T, id string) dlvState {
	t.Helper()
	var s dlvState
	err := e.deps.DB.Raw(`SELECT delivery_status, sequence, attempts, cycle_attempts, next_attempt_at, delivered_at, last_error
		FROM csm_events WHERE id = ?`, id).Row().Scan(&s.Status, &s.Sequence, &s.Attempts, &s.CycleAttempts, &s.NextAttemptAt, &s.DeliveredAt, &s.LastError)
	if err != nil {
		t.Fatalf("event %s: %v", id, err)
	}
	return s
}

func (e *env) statusIs(t *testing.T, id, status string) func() bool {
	return func() bool { return e.state(t, id).Status == status }
}

// eventually polls cond until it holds, failing the test after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// published waits until the feed has numbered the given events: it does so only once
// every older transaction of the cluster, which parallel tests share, has ended.
func (e *env) published(t *testing.T, ids ...string) {
	t.Helper()
	eventually(t, 15*time.Second, "events published", func() bool {
		if _, err := services.PublishEvents(context.Background(), e.deps.DB); err != nil {
			t.Fatal(err)
		}
		return e.count(t, "SELECT count(*) FROM csm_events WHERE id IN ? AND sequence IS NOT NULL", ids) == int64(len(ids))
	})
}

// deliveryOf finds an event among the admin's deliveries.
func (e *env) deliveryOf(t *testing.T, admin models.Principal, id string) services.Delivery {
	t.Helper()
	page := services.Page{Limit: services.MaxLimit}
	for {
		list, next, err := services.NewDeliveries(e.deps).List(context.Background(), admin, "", page)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.ID == id {
				return d
			}
		}
		if next == "" {
			t.Fatalf("event %s is not among the deliveries", id)
		}
		page.Cursor = next
	}
}

// deliveryFixture: an organisation, a receiver and tickets to record events of.
type deliveryFixture struct {
	e  *env
	o  *org
	rc *dlvReceiver
}

func newDeliveryFixture(t *testing.T, secrets ...services.WebhookSecret) *deliveryFixture {
	e := newEnv(t)
	return &deliveryFixture{e: e, o: newOrg(t, e), rc: newReceiver(t, secrets...)}
}

func (f *deliveryFixture) ticket(t *testing.T, number string) *models.Ticket {
	return f.e.refer(t, f.o, referral(number, f.e.now.Add(-time.Hour), "CCS-01"))
}

// TestDeliverSignedOnce: every event reaches the receiver once, with the Standard
// Webhooks headers, a signature per secret while a secret is rotated (a receiver holding
// either accepts), and the body of the contract; events of a ticket in sequence order.
func TestDeliverSignedOnce(t *testing.T) {
	oldKey, newKey := newSecret(t), newSecret(t)
	f := newDeliveryFixture(t, oldKey, newKey)
	e := f.e
	tickets := []*models.Ticket{f.ticket(t, "CSM-DLV-A"), f.ticket(t, "CSM-DLV-B"), f.ticket(t, "CSM-DLV/C")}
	var events []*models.Event
	types := []models.EventType{models.EventAppointmentBooked, models.EventTicketInService, models.EventTicketResolved}
	for round, typ := range types {
		for i, tk := range tickets {
			events = append(events, e.record(t, tk, typ, map[string]any{"centre": "CCS-01", "round": round, "ticket": i, "note": "señal ✓"}))
		}
	}
	started := time.Now()
	stop := e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Secrets: []services.WebhookSecret{newKey, oldKey},
		Schedule: ms(50, 100, 150), Timeout: 5 * time.Second})
	eventually(t, 10*time.Second, "every event delivered", func() bool {
		return e.count(t, "SELECT count(*) FROM csm_events WHERE delivery_status = 'delivered'") == int64(len(events))
	})
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	stop()

	feed := map[string]models.Event{}
	for _, ev := range e.listAll(t, 0) {
		feed[ev.ID] = ev
	}
	other := newSecret(t)
	reqs := f.rc.requests()
	if len(reqs) != len(events) {
		t.Fatalf("%d requests for %d events", len(reqs), len(events))
	}
	lastSeq := map[string]int64{}
	for _, r := range reqs {
		ev, ok := feed[r.ID]
		if !ok {
			t.Fatalf("webhook-id %q is no event", r.ID)
		}
		if r.N != 1 {
			t.Errorf("%s delivered %d times", r.ID, r.N)
		}
		if r.Method != http.MethodPost || r.Path != "/hooks" || r.ContentType != "application/json" {
			t.Errorf("%s: %s %s, content type %q", r.ID, r.Method, r.Path, r.ContentType)
		}
		var ts int64
		if _, err := fmt.Sscan(r.Timestamp, &ts); err != nil || time.Unix(ts, 0).Before(started.Add(-time.Second).Truncate(time.Second)) || time.Unix(ts, 0).After(r.At.Add(time.Second)) {
			t.Errorf("%s: webhook-timestamp %q, not the time of the attempt %v", r.ID, r.Timestamp, r.At)
		}
		// two signatures, one per secret; each secret alone verifies the message
		sigs := strings.Fields(r.Signature)
		if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
			t.Errorf("%s: webhook-signature %q, want two v1 signatures", r.ID, r.Signature)
		}
		for i, err := range r.SigErrs {
			if err != nil {
				t.Errorf("%s: a receiver holding secret %d rejects it: %v", r.ID, i, err)
			}
		}
		if services.VerifyWebhook(newKey, r.ID, r.Timestamp, sigs[0], r.Body, r.At) != nil ||
			services.VerifyWebhook(oldKey, r.ID, r.Timestamp, sigs[1], r.Body, r.At) != nil {
			t.Errorf("%s: the signatures are not one per configured secret, in order", r.ID)
		}
		if services.VerifyWebhook(other, r.ID, r.Timestamp, r.Signature, r.Body, r.At) == nil {
			t.Errorf("%s: a receiver with another secret accepts it", r.ID)
		}
		tampered := bytes.Replace(r.Body, []byte("CCS-01"), []byte("CCS-02"), 1)
		if services.VerifyWebhook(oldKey, r.ID, r.Timestamp, r.Signature, tampered, r.At) == nil {
			t.Errorf("%s: a tampered body verifies", r.ID)
		}
		// the body of the contract, and nothing else
		if r.PayloadErr != nil {
			t.Fatalf("%s: body %s: %v", r.ID, r.Body, r.PayloadErr)
		}
		if want := []string{"data", "id", "occurred_at", "sequence", "ticket_number", "type"}; !slices.Equal(r.Keys, want) {
			t.Errorf("%s: body fields %v, want %v", r.ID, r.Keys, want)
		}
		p := r.Payload
		if p.ID != ev.ID || p.Type != string(ev.Type) || p.Sequence != ev.Sequence || p.Sequence <= 0 || p.TicketNumber != ev.TicketNumber ||
			!p.OccurredAt.Equal(ev.OccurredAt) {
			t.Errorf("%s: body %s, event %+v", r.ID, r.Body, ev)
		}
		var got, want map[string]any
		if json.Unmarshal(p.Data, &got) != nil || json.Unmarshal(ev.Data, &want) != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: data %s, want %s", r.ID, p.Data, ev.Data)
		}
		// in sequence order per ticket
		if p.Sequence <= lastSeq[p.TicketNumber] {
			t.Errorf("ticket %s: sequence %d arrived after %d", p.TicketNumber, p.Sequence, lastSeq[p.TicketNumber])
		}
		lastSeq[p.TicketNumber] = p.Sequence
	}
	// the admin's view: delivered, one attempt each, answered 200
	list, next, err := services.NewDeliveries(e.deps).List(context.Background(), f.o.admin, "delivered", services.Page{Limit: 100})
	if err != nil || next != "" || len(list) != len(events) {
		t.Fatalf("%d delivered listed (next %q): %v", len(list), next, err)
	}
	for _, d := range list {
		if d.Attempts != 1 || d.DeliveredAt == nil || d.LastError != nil || len(d.AttemptLog) != 1 {
			t.Fatalf("delivery %+v", d)
		}
		a := d.AttemptLog[0]
		if a.StatusCode == nil || *a.StatusCode != 200 || a.Error != nil || a.LatencyMS < 0 || a.AttemptedAt.Before(started.Add(-time.Second)) {
			t.Fatalf("attempt %+v", a)
		}
	}
}

// dlvAttempts returns the attempt log of an event, checking what each attempt records.
func dlvAttempts(t *testing.T, f *deliveryFixture, id string) []services.DeliveryAttempt {
	t.Helper()
	d := f.e.deliveryOf(t, f.o.admin, id)
	for i, a := range d.AttemptLog {
		if a.AttemptedAt.IsZero() || a.LatencyMS < 0 || (a.StatusCode == nil && a.Error == nil) {
			t.Errorf("attempt %d of %s records %+v", i, id, a)
		}
	}
	return d.AttemptLog
}

// wantSpacing checks that consecutive times are apart by the schedule, within its
// ±10 % jitter (and late by at most slack: the time to notice and send).
func wantSpacing(t *testing.T, what string, at []time.Time, schedule []time.Duration, slack time.Duration) {
	t.Helper()
	for i := 1; i < len(at); i++ {
		gap, step := at[i].Sub(at[i-1]), schedule[i-1]
		lo, hi := time.Duration(float64(step)*0.9), time.Duration(float64(step)*1.1)+slack
		if gap < lo || gap > hi {
			t.Errorf("%s: attempt %d came %v after the one before; the schedule says %v ±10%% (%v to %v)", what, i+1, gap, step, lo, hi)
		}
	}
}

// TestDeliverRetriesThenDead: an event that is never acknowledged is tried on the
// schedule, then dead, with every attempt in the admin's list; redirects are not
// followed, a receiver that hangs is given up on after the timeout, a refused
// connection is retried too.
func TestDeliverRetriesThenDead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schedule []time.Duration
		timeout  time.Duration
		answer   dlvAnswer
		refused  bool // no one listens at the URL
		status   int  // the status each attempt records; 0: none
		err      string
	}{
		{name: "ServerError", schedule: ms(50, 100, 150), answer: dlvAnswer{status: 500}, status: 500, err: "HTTP 500"},
		{name: "ClientError", schedule: ms(60, 60), answer: dlvAnswer{status: 400}, status: 400, err: "HTTP 400"},
		{name: "RedirectNotFollowed", schedule: ms(50, 50), answer: dlvAnswer{status: http.StatusFound, header: map[string]string{"Location": "/elsewhere"}},
			status: 302, err: "HTTP 302"},
		{name: "PermanentRedirectNotFollowed", schedule: ms(50), answer: dlvAnswer{status: http.StatusPermanentRedirect, header: map[string]string{"Location": "/elsewhere"}},
			status: 308, err: "HTTP 308"},
		{name: "HangTimesOut", schedule: ms(50, 80), timeout: 300 * time.Millisecond, answer: dlvAnswer{hang: true}, err: "Timeout"},
		{name: "ConnectionRefused", schedule: ms(50, 100), refused: true, err: "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := newSecret(t)
			f := newDeliveryFixture(t, secret)
			f.rc.answerWith(func(dlvRequest) dlvAnswer { return tc.answer })
			url := f.rc.URL()
			if tc.refused {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				url = "http://" + ln.Addr().String() + "/hooks"
				ln.Close()
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			tk := f.ticket(t, "CSM-DEAD-1")
			ev := f.e.record(t, tk, models.EventTicketResolved, map[string]string{"outcome": "repaired"})
			started := time.Now()
			stop := f.e.startDeliverer(t, services.DeliveryConfig{URL: url, Secrets: []services.WebhookSecret{secret}, Schedule: tc.schedule, Timeout: timeout})
			eventually(t, 15*time.Second, "the event dead", f.e.statusIs(t, ev.ID, "dead"))
			time.Sleep(200 * time.Millisecond) // no attempt after dead
			stop()

			attempts := len(tc.schedule) + 1
			st := f.e.state(t, ev.ID)
			if st.Attempts != attempts || st.CycleAttempts != attempts || st.DeliveredAt != nil || st.LastError == nil || !strings.Contains(*st.LastError, tc.err) {
				t.Fatalf("state %+v (last error %v), want %d attempts and error %q", st, deref(st.LastError), attempts, tc.err)
			}
			log := dlvAttempts(t, f, ev.ID)
			if len(log) != attempts {
				t.Fatalf("%d attempts listed, want %d", len(log), attempts)
			}
			var at []time.Time
			for i, a := range log {
				at = append(at, a.AttemptedAt)
				if tc.status == 0 && a.StatusCode != nil || tc.status != 0 && (a.StatusCode == nil || *a.StatusCode != tc.status) {
					t.Errorf("attempt %d: status %v, want %d", i, deref(a.StatusCode), tc.status)
				}
				if a.Error == nil || !strings.Contains(*a.Error, tc.err) {
					t.Errorf("attempt %d: error %v, want %q", i, deref(a.Error), tc.err)
				}
				if a.AttemptedAt.Before(started.Add(-time.Second)) || a.AttemptedAt.After(time.Now()) {
					t.Errorf("attempt %d at %v", i, a.AttemptedAt)
				}
				if tc.answer.hang && (a.LatencyMS < int(timeout.Milliseconds()) || a.LatencyMS > int(timeout.Milliseconds())+2000) {
					t.Errorf("attempt %d took %d ms; the timeout is %v", i, a.LatencyMS, timeout)
				}
			}
			// an attempt starts when the one before has ended and its delay passed
			var ends []time.Time
			for i := range at {
				if i+1 < len(at) {
					ends = append(ends, at[i].Add(time.Duration(log[i].LatencyMS)*time.Millisecond))
				}
			}
			for i := 1; i < len(at); i++ {
				gap, step := at[i].Sub(ends[i-1]), tc.schedule[i-1]
				if lo, hi := time.Duration(float64(step)*0.9)-2*time.Millisecond, time.Duration(float64(step)*1.1)+300*time.Millisecond; gap < lo || gap > hi {
					t.Errorf("attempt %d started %v after the one before ended; the schedule says %v ±10%%", i+1, gap, step)
				}
			}
			if !tc.refused {
				reqs := f.rc.requests()
				if len(reqs) != attempts {
					t.Fatalf("the receiver got %d requests, want %d", len(reqs), attempts)
				}
				for i, r := range reqs {
					if r.Path != "/hooks" {
						t.Errorf("request %d went to %s: a redirect was followed", i, r.Path)
					}
					if r.ID != ev.ID || r.N != i+1 || !r.Verified {
						t.Errorf("request %d: webhook-id %s (n %d), verified %v", i, r.ID, r.N, r.Verified)
					}
				}
				if tc.answer.hang {
					return
				}
				var arrivals []time.Time
				for _, r := range reqs {
					arrivals = append(arrivals, r.At)
				}
				wantSpacing(t, "arrivals", arrivals, tc.schedule, 300*time.Millisecond)
			}
			// the dead-letter list shows it
			dead, _, err := services.NewDeliveries(f.e.deps).List(context.Background(), f.o.admin, "dead", services.Page{})
			if err != nil || len(dead) != 1 || dead[0].ID != ev.ID || dead[0].DeliveryStatus != models.DeliveryDead {
				t.Fatalf("dead letters %+v: %v", dead, err)
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestDeliverRetryAfter: a 429 or 503 with Retry-After (seconds or a date) puts the next
// attempt at least that far off; on other statuses the header is not a promise and the
// schedule rules.
func TestDeliverRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		header   func() string
		atLeast  time.Duration
		atMost   time.Duration
		honoured bool
	}{
		{name: "429Seconds", status: 429, header: func() string { return "1" }, atLeast: time.Second, atMost: 2 * time.Second},
		{name: "503Seconds", status: 503, header: func() string { return "2" }, atLeast: 2 * time.Second, atMost: 3 * time.Second},
		// an HTTP date has whole seconds: two seconds from now is at least one away
		{name: "503Date", status: 503, header: func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, atLeast: time.Second, atMost: 3 * time.Second},
		{name: "429Garbage", status: 429, header: func() string { return "soon" }, atMost: 700 * time.Millisecond},
		{name: "500Ignored", status: 500, header: func() string { return "5" }, atMost: 700 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDeliveryFixture(t)
			f.rc.answerWith(func(r dlvRequest) dlvAnswer {
				if r.N == 1 {
					return dlvAnswer{status: tc.status, header: map[string]string{"Retry-After": tc.header()}}
				}
				return dlvAnswer{status: 200}
			})
			ev := f.e.record(t, f.ticket(t, "CSM-RA-1"), models.EventAppointmentBooked, map[string]string{"centre": "CCS-01"})
			f.e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(50, 50, 50), Timeout: 5 * time.Second})
			// between the attempts: failed, and due no sooner than Retry-After says
			eventually(t, 5*time.Second, "the first attempt recorded", func() bool { return f.e.state(t, ev.ID).Attempts >= 1 })
			st := f.e.state(t, ev.ID)
			first := dlvAttempts(t, f, ev.ID)[0]
			if st.Attempts == 1 {
				if st.Status != "failed" || st.LastError == nil || *st.LastError != fmt.Sprintf("HTTP %d", tc.status) {
					t.Fatalf("after a %d: %+v", tc.status, st)
				}
				if wait := st.NextAttemptAt.Sub(first.AttemptedAt); wait < tc.atLeast || wait < 45*time.Millisecond {
					t.Fatalf("next attempt %v after the first; Retry-After asked for %v", wait, tc.atLeast)
				}
			}
			eventually(t, 10*time.Second, "delivered", f.e.statusIs(t, ev.ID, "delivered"))
			reqs := f.rc.of(ev.ID)
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			gap := reqs[1].At.Sub(reqs[0].At)
			if gap < tc.atLeast || gap > tc.atMost {
				t.Fatalf("retried %v later, want %v to %v", gap, tc.atLeast, tc.atMost)
			}
			if log := dlvAttempts(t, f, ev.ID); len(log) != 2 || *log[0].StatusCode != tc.status || *log[1].StatusCode != 200 {
				t.Fatalf("attempts %+v", log)
			}
		})
	}
}

// TestDeliverOrderPerTicket: while the first event of ticket A keeps failing, A's later
// events wait and ticket B's flow; once the receiver takes A's first, the rest of A
// follow in sequence order.
func TestDeliverOrderPerTicket(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	a, b := f.ticket(t, "CSM-ORD-A"), f.ticket(t, "CSM-ORD-B")
	a1 := e.record(t, a, models.EventAppointmentBooked, map[string]int{"a": 1})
	b1 := e.record(t, b, models.EventAppointmentBooked, map[string]int{"b": 1})
	a2 := e.record(t, a, models.EventAppointmentRescheduled, map[string]int{"a": 2})
	b2 := e.record(t, b, models.EventTicketInService, map[string]int{"b": 2})
	a3 := e.record(t, a, models.EventTicketInService, map[string]int{"a": 3})
	b3 := e.record(t, b, models.EventTicketResolved, map[string]int{"b": 3})
	var failA atomic.Bool
	failA.Store(true)
	f.rc.answerWith(func(r dlvRequest) dlvAnswer {
		if r.ID == a1.ID && failA.Load() {
			return dlvAnswer{status: 503}
		}
		return dlvAnswer{status: 200}
	})
	stop := e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40),
		Timeout: 5 * time.Second})
	eventually(t, 10*time.Second, "B's events delivered and A's first tried three times", func() bool {
		return e.state(t, b3.ID).Status == "delivered" && e.state(t, a1.ID).Attempts >= 3
	})
	for _, ev := range []*models.Event{a2, a3} {
		if n := len(f.rc.of(ev.ID)); n != 0 {
			t.Fatalf("a later event of A was sent %d times while A's first was failing", n)
		}
		if st := e.state(t, ev.ID); st.Status != "pending" || st.Attempts != 0 {
			t.Fatalf("a later event of A: %+v", st)
		}
	}
	if st := e.state(t, a1.ID); st.Status != "failed" || st.Attempts < 3 {
		t.Fatalf("A's first: %+v", st)
	}
	failA.Store(false)
	eventually(t, 10*time.Second, "A's events delivered", f.e.statusIs(t, a3.ID, "delivered"))
	stop()
	// arrival order per ticket is sequence order; every event once acknowledged
	var gotA, gotB []string
	for _, r := range f.rc.requests() {
		if r.Answered != 200 {
			continue
		}
		switch r.Payload.TicketNumber {
		case a.TicketNumber:
			gotA = append(gotA, r.ID)
		case b.TicketNumber:
			gotB = append(gotB, r.ID)
		}
	}
	if want := []string{a1.ID, a2.ID, a3.ID}; !slices.Equal(gotA, want) {
		t.Fatalf("A acknowledged in order %v, want %v", gotA, want)
	}
	if want := []string{b1.ID, b2.ID, b3.ID}; !slices.Equal(gotB, want) {
		t.Fatalf("B acknowledged in order %v, want %v", gotB, want)
	}
	// B's went out while A's first was failing
	firstA2 := f.rc.of(a2.ID)[0].At
	for _, id := range []string{b1.ID, b2.ID, b3.ID} {
		if r := f.rc.of(id); len(r) != 1 || !r[0].At.Before(firstA2) {
			t.Fatalf("B's %s was held back behind A", id)
		}
	}
	for _, ev := range []*models.Event{a1, a2, a3, b1, b2, b3} {
		if st := e.state(t, ev.ID); st.Status != "delivered" {
			t.Fatalf("%s: %+v", ev.ID, st)
		}
	}
}

// TestDeliverDeadThenReplay: a dead event is sent again by a replay with the same
// webhook-id and a fresh schedule; the events of its ticket behind it wait for it.
func TestDeliverDeadThenReplay(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	deliveries := services.NewDeliveries(e.deps)
	ctx := context.Background()
	tk, other := f.ticket(t, "CSM-RPL-A"), f.ticket(t, "CSM-RPL-B")
	x := e.record(t, tk, models.EventTicketResolved, map[string]string{"outcome": "swapped"})
	y := e.record(t, tk, models.EventCertificateVoided, map[string]string{"reason": "error"})
	z := e.record(t, other, models.EventTicketResolved, map[string]string{"outcome": "repaired"})
	var down atomic.Bool
	down.Store(true)
	f.rc.answerWith(func(r dlvRequest) dlvAnswer {
		if r.ID != z.ID && down.Load() {
			return dlvAnswer{status: 500}
		}
		return dlvAnswer{status: 204}
	})
	e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(40, 40), Timeout: 5 * time.Second})
	eventually(t, 10*time.Second, "x dead", e.statusIs(t, x.ID, "dead"))
	eventually(t, 5*time.Second, "z delivered", e.statusIs(t, z.ID, "delivered"))
	time.Sleep(150 * time.Millisecond)
	// y waits behind its dead predecessor
	if st := e.state(t, y.ID); st.Status != "pending" || len(f.rc.of(y.ID)) != 0 {
		t.Fatalf("y, behind a dead event: %+v, sent %d times", st, len(f.rc.of(y.ID)))
	}
	if n := len(f.rc.of(x.ID)); n != 3 {
		t.Fatalf("x sent %d times before dying", n)
	}
	// replayed while CSM is still down: a whole new schedule, then dead again
	if n, err := deliveries.Replay(ctx, f.o.admin, []string{x.ID}); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	eventually(t, 10*time.Second, "x dead again after a fresh schedule", func() bool {
		st := e.state(t, x.ID)
		return st.Status == "dead" && st.Attempts == 6
	})
	if n := len(f.rc.of(x.ID)); n != 6 {
		t.Fatalf("x sent %d times, want 3 + 3", n)
	}
	// CSM is back: replaying delivers x, with its webhook-id, then y
	down.Store(false)
	if n, err := deliveries.Replay(ctx, f.o.admin, []string{x.ID, x.ID}); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	eventually(t, 10*time.Second, "y delivered after x", e.statusIs(t, y.ID, "delivered"))
	reqs := f.rc.of(x.ID)
	if len(reqs) != 7 || reqs[6].Answered != 204 {
		t.Fatalf("x sent %d times", len(reqs))
	}
	for _, r := range reqs {
		if r.ID != x.ID || r.Payload.ID != x.ID {
			t.Fatalf("a replay changed the webhook-id: %s / %s", r.ID, r.Payload.ID)
		}
		if r.Payload.Sequence != reqs[0].Payload.Sequence {
			t.Fatalf("a replay changed the sequence")
		}
	}
	if ys := f.rc.of(y.ID); len(ys) != 1 || ys[0].At.Before(reqs[6].At) {
		t.Fatal("y was not sent once, after x")
	}
	st := e.state(t, x.ID)
	if st.Status != "delivered" || st.Attempts != 7 || st.CycleAttempts != 1 || st.DeliveredAt == nil {
		t.Fatalf("x: %+v", st)
	}
	if log := dlvAttempts(t, f, x.ID); len(log) != 7 || log[6].StatusCode == nil || *log[6].StatusCode != 204 {
		t.Fatalf("x attempts %+v", log)
	}
	// replays are audited, per event
	if rows := e.audits(t, "csm_event", x.ID); len(rows) != 2 {
		t.Fatalf("%d audit rows for x's replays", len(rows))
	}
	// a delivered event replayed (CSM lost it) goes out again, same id
	if n, err := deliveries.Replay(ctx, f.o.admin, []string{z.ID, y.ID}); err != nil || n != 2 {
		t.Fatalf("replay of delivered events: %d %v", n, err)
	}
	eventually(t, 10*time.Second, "z and y sent again", func() bool {
		return len(f.rc.of(z.ID)) == 2 && len(f.rc.of(y.ID)) == 2 && e.state(t, z.ID).Status == "delivered" && e.state(t, y.ID).Status == "delivered"
	})
}

// TestDeliveriesReplayRefused: an unknown id is not found and nothing is replayed, not
// even the known ones asked with it; only admins replay and list.
func TestDeliveriesReplayRefused(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	ctx := context.Background()
	deliveries := services.NewDeliveries(e.deps)
	tk := f.ticket(t, "CSM-RPL-X")
	dead := e.record(t, tk, models.EventTicketResolved, map[string]string{"outcome": "repaired"})
	e.published(t, dead.ID)
	e.exec(t, "UPDATE csm_events SET delivery_status = 'dead', attempts = 10, cycle_attempts = 10 WHERE id = ?", dead.ID)
	unpublished := e.begin(t)
	hidden, err := services.RecordEvent(unpublished, f.ticket(t, "CSM-RPL-Y"), models.EventTicketResolved, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		who  models.Principal
		ids  []string
		kind models.ErrorKind
		code string
	}{
		{"Unknown", f.o.admin, []string{"evt_00000000000000000000000000000000"}, models.KindNotFound, "not_found"},
		{"UnknownAmongKnown", f.o.admin, []string{dead.ID, "evt_nope"}, models.KindNotFound, "not_found"},
		{"NotYetPublished", f.o.admin, []string{hidden.ID}, models.KindNotFound, "not_found"},
		{"CSM", f.o.csm, []string{dead.ID}, models.KindForbidden, "forbidden"},
		{"Counter", at(models.RoleCounter, f.o.ccs01), []string{dead.ID}, models.KindForbidden, "forbidden"},
		{"Manager", at(models.RoleCentreManager, f.o.ccs01), []string{dead.ID}, models.KindForbidden, "forbidden"},
		{"Technician", at(models.RoleTechnician, f.o.ccs01), []string{dead.ID}, models.KindForbidden, "forbidden"},
		{"Warehouse", of(f.o.almCap, f.o.cap), []string{dead.ID}, models.KindForbidden, "forbidden"},
		{"Nobody", models.Principal{}, []string{dead.ID}, models.KindUnauthenticated, "unauthenticated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := deliveries.Replay(ctx, tc.who, tc.ids)
			wantErr(t, err, tc.kind, tc.code)
			if n != 0 {
				t.Fatalf("replayed %d", n)
			}
			if st := e.state(t, dead.ID); st.Status != "dead" || st.CycleAttempts != 10 {
				t.Fatalf("a refused replay changed the event: %+v", st)
			}
			if rows := e.audits(t, "csm_event", dead.ID); len(rows) != 0 {
				t.Fatalf("a refused replay was audited")
			}
			if tc.kind == models.KindNotFound {
				return
			}
			list, next, err := deliveries.List(ctx, tc.who, "", services.Page{})
			wantErr(t, err, tc.kind, tc.code)
			if list != nil || next != "" {
				t.Fatal("deliveries listed with the error")
			}
		})
	}
}

// TestDeliveriesList: filtered by status, in sequence order, paged by cursor, each with
// its attempts; every committed event is listed, none still uncommitted.
func TestDeliveriesList(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	ctx := context.Background()
	deliveries := services.NewDeliveries(e.deps)
	statuses := []string{"pending", "failed", "dead", "delivered"}
	want := map[string][]string{}
	var all []string
	for i := 0; i < 14; i++ {
		tk := f.ticket(t, fmt.Sprintf("CSM-LST-%02d", i))
		ev := e.record(t, tk, models.EventAppointmentBooked, map[string]int{"i": i})
		all = append(all, ev.ID)
		want[statuses[i%4]] = append(want[statuses[i%4]], ev.ID)
	}
	e.published(t, all...)
	for i, id := range all {
		st := statuses[i%4]
		e.exec(t, "UPDATE csm_events SET delivery_status = ?, attempts = ? WHERE id = ?", st, i%4, id)
		for k := 0; k < i%4; k++ {
			code := any(nil)
			errText := any("dial tcp: connection refused")
			if k%2 == 1 {
				code, errText = 500+k, "HTTP 50x"
			}
			e.exec(t, `INSERT INTO csm_delivery_attempts (event_position, attempted_at, status_code, latency_ms, error)
				SELECT position, ?, ?, ?, ? FROM csm_events WHERE id = ?`, time.Now().Add(time.Duration(k)*time.Second), code, 10+k, errText, id)
		}
	}
	// an event committed but not yet published (no deliverer, no feed reader): the list
	// publishes it, after those above
	late := e.record(t, f.ticket(t, "CSM-LST-LATE"), models.EventTicketInService, map[string]string{})
	all = append(all, late.ID)
	want["pending"] = append(want["pending"], late.ID)
	// one in a transaction still open is not listed
	open := e.begin(t)
	if _, err := services.RecordEvent(open, f.ticket(t, "CSM-LST-OPEN"), models.EventTicketInService, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the list publishes the committed event", func() bool {
		list, _, err := deliveries.List(ctx, f.o.admin, "pending", services.Page{Limit: services.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		return len(list) > 0 && list[len(list)-1].ID == late.ID
	})
	listAll := func(status string, limit int) []services.Delivery {
		var out []services.Delivery
		page := services.Page{Limit: limit}
		for pages := 0; ; pages++ {
			list, next, err := deliveries.List(ctx, f.o.admin, status, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) > limit || (next != "" && len(list) != limit) {
				t.Fatalf("page of %d (limit %d), next %q", len(list), limit, next)
			}
			out = append(out, list...)
			if next == "" {
				return out
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			page.Cursor = next
		}
	}
	for _, status := range append(statuses, "") {
		for _, limit := range []int{1, 2, 3, 100} {
			t.Run(fmt.Sprintf("%s/%d", status, limit), func(t *testing.T) {
				got := listAll(status, limit)
				wantIDs := want[status]
				if status == "" {
					wantIDs = all
				}
				var ids []string
				for i, d := range got {
					ids = append(ids, d.ID)
					if i > 0 && d.Sequence <= got[i-1].Sequence {
						t.Fatalf("not in sequence order at %d", i)
					}
					if status != "" && string(d.DeliveryStatus) != status {
						t.Fatalf("%s listed under %s", d.DeliveryStatus, status)
					}
					k := slices.Index(all, d.ID) % 4
					if d.ID == late.ID {
						k = 0
					}
					if d.AttemptLog == nil || len(d.AttemptLog) != k || d.Attempts != k {
						t.Fatalf("%s: %d attempts listed, %d counted, want %d", d.ID, len(d.AttemptLog), d.Attempts, k)
					}
					for j, a := range d.AttemptLog {
						if a.LatencyMS != 10+j || (j%2 == 1) != (a.StatusCode != nil) || a.Error == nil || (j > 0 && !a.AttemptedAt.After(d.AttemptLog[j-1].AttemptedAt)) {
							t.Fatalf("%s attempt %d: %+v", d.ID, j, a)
						}
					}
				}
				if !slices.Equal(ids, wantIDs) {
					t.Fatalf("listed %v, want %v", ids, wantIDs)
				}
			})
		}
	}
	// an unknown status lists nothing; a cursor not given out is refused
	if list, _, err := deliveries.List(ctx, f.o.admin, "lost", services.Page{}); err != nil || len(list) != 0 {
		t.Fatalf("unknown status: %d %v", len(list), err)
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"i":"1; DROP TABLE csm_events"}`))
	for _, c := range []string{"garbage!", forged} {
		_, _, err := deliveries.List(ctx, f.o.admin, "", services.Page{Cursor: c})
		wantErr(t, err, models.KindInvalid, "validation_failed")
		wantField(t, err, "cursor", "cursor")
	}
}

// TestDeliverTwoDeliverers: two deliverers (as two replicas would run) share one
// database; with a receiver that always acknowledges, each of 200 events is delivered
// exactly once, in order per ticket.
func TestDeliverTwoDeliverers(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	const tickets, perTicket = 20, 10
	var tks []*models.Ticket
	for i := 0; i < tickets; i++ {
		tks = append(tks, f.ticket(t, fmt.Sprintf("CSM-TWO-%02d", i)))
	}
	cfg := func(path string) services.DeliveryConfig {
		return services.DeliveryConfig{URL: f.rc.srv.URL + path, Schedule: ms(50, 100), Timeout: 5 * time.Second, Workers: 8}
	}
	var byPath sync.Map
	f.rc.answerWith(func(r dlvRequest) dlvAnswer {
		n, _ := byPath.LoadOrStore("?"+r.Query, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return dlvAnswer{status: 200}
	})
	// both start before the events and record them while running
	stop1 := e.startDeliverer(t, cfg("/hooks"))
	stop2 := e.startDeliverer(t, cfg("/hooks?replica=2"))
	ids := map[string]bool{}
	var mu sync.Mutex
	together(tickets, func(i int) {
		for k := 0; k < perTicket; k++ {
			err := e.deps.DB.Transaction(func(tx *gorm.DB) error {
				ev, err := services.RecordEvent(tx, tks[i], models.EventAppointmentRescheduled, map[string]int{"k": k})
				if err == nil {
					mu.Lock()
					ids[ev.ID] = true
					mu.Unlock()
				}
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	eventually(t, 30*time.Second, "every event delivered", func() bool {
		return e.count(t, "SELECT count(*) FROM csm_events WHERE delivery_status = 'delivered'") == tickets*perTicket
	})
	time.Sleep(300 * time.Millisecond)
	stop1()
	stop2()
	counts := f.rc.countByID()
	if len(counts) != tickets*perTicket {
		t.Fatalf("%d distinct webhook-ids, want %d", len(counts), tickets*perTicket)
	}
	for id, n := range counts {
		if !ids[id] {
			t.Errorf("unknown webhook-id %s", id)
		}
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	last := map[string]int64{}
	for _, r := range f.rc.requests() {
		if r.Payload.Sequence <= last[r.Payload.TicketNumber] {
			t.Errorf("ticket %s: %d after %d", r.Payload.TicketNumber, r.Payload.Sequence, last[r.Payload.TicketNumber])
		}
		last[r.Payload.TicketNumber] = r.Payload.Sequence
	}
	if n := e.count(t, "SELECT count(*) FROM csm_delivery_attempts"); n != tickets*perTicket {
		t.Errorf("%d attempts recorded, want one per event", n)
	}
	var shares []string
	byPath.Range(func(k, v any) bool {
		shares = append(shares, fmt.Sprintf("%v: %d", k, v.(*atomic.Int32).Load()))
		return true
	})
	t.Logf("requests by deliverer: %v", shares)
}

// TestDeliverLateCommits: events whose transactions commit out of order are all
// delivered once, none before the feed can number it; a rolled-back event never is.
func TestDeliverLateCommits(t *testing.T) {
	t.Parallel()
	t.Run("OneHeldOpen", func(t *testing.T) {
		t.Parallel()
		f := newDeliveryFixture(t)
		e := f.e
		ta, tb, tc := f.ticket(t, "CSM-LATE-A"), f.ticket(t, "CSM-LATE-B"), f.ticket(t, "CSM-LATE-C")
		e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(50), Timeout: 5 * time.Second})
		txA := e.begin(t)
		evA, err := services.RecordEvent(txA, ta, models.EventAppointmentBooked, map[string]string{"who": "A"})
		if err != nil {
			t.Fatal(err)
		}
		txC := e.begin(t)
		evC, err := services.RecordEvent(txC, tc, models.EventAppointmentBooked, map[string]string{"who": "C"})
		if err != nil {
			t.Fatal(err)
		}
		evB := e.record(t, tb, models.EventAppointmentBooked, map[string]string{"who": "B"})
		// B committed, but A (older) is open: B has no sequence yet and is not sent
		time.Sleep(400 * time.Millisecond)
		if n := len(f.rc.requests()); n != 0 {
			t.Fatalf("%d callbacks sent while an older writer was open", n)
		}
		if err := txC.Rollback().Error; err != nil {
			t.Fatal(err)
		}
		if err := txA.Commit().Error; err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "A and B delivered", func() bool {
			return e.state(t, evA.ID).Status == "delivered" && e.state(t, evB.ID).Status == "delivered"
		})
		time.Sleep(200 * time.Millisecond)
		counts := f.rc.countByID()
		if len(counts) != 2 || counts[evA.ID] != 1 || counts[evB.ID] != 1 || counts[evC.ID] != 0 {
			t.Fatalf("callbacks %v; A %s, B %s, rolled back C %s", counts, evA.ID, evB.ID, evC.ID)
		}
		if sa, sb := f.rc.of(evA.ID)[0].Payload.Sequence, f.rc.of(evB.ID)[0].Payload.Sequence; sa != 1 || sb != 2 {
			t.Fatalf("sequences A %d, B %d", sa, sb)
		}
	})
	t.Run("Random", func(t *testing.T) {
		t.Parallel()
		f := newDeliveryFixture(t)
		e := f.e
		const writers, perWriter = 12, 8
		var tks []*models.Ticket
		for i := 0; i < writers; i++ {
			tks = append(tks, f.ticket(t, fmt.Sprintf("CSM-LATE-%02d", i)))
		}
		e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(50), Timeout: 5 * time.Second})
		var mu sync.Mutex
		committed, rolledBack := map[string]bool{}, map[string]bool{}
		order := make([][]string, writers)
		together(writers, func(w int) {
			rng := mrand.New(mrand.NewPCG(uint64(w), 11))
			for k := 0; k < perWriter; k++ {
				tx := e.deps.DB.Begin()
				ev, err := services.RecordEvent(tx, tks[w], models.EventAppointmentRescheduled, map[string]int{"w": w, "k": k})
				if err != nil {
					tx.Rollback()
					t.Error(err)
					return
				}
				// held open a little, so that commits interleave
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if rng.IntN(4) == 0 {
					tx.Rollback()
					mu.Lock()
					rolledBack[ev.ID] = true
					mu.Unlock()
					continue
				}
				if err := tx.Commit().Error; err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				committed[ev.ID] = true
				order[w] = append(order[w], ev.ID)
				mu.Unlock()
			}
		})
		if t.Failed() {
			t.FailNow()
		}
		eventually(t, 20*time.Second, "every committed event delivered", func() bool {
			return e.count(t, "SELECT count(*) FROM csm_events WHERE delivery_status = 'delivered'") == int64(len(committed))
		})
		time.Sleep(200 * time.Millisecond)
		counts := f.rc.countByID()
		for id := range committed {
			if counts[id] != 1 {
				t.Errorf("committed %s delivered %d times", id, counts[id])
			}
		}
		for id := range counts {
			if rolledBack[id] {
				t.Errorf("rolled-back %s was delivered", id)
			} else if !committed[id] {
				t.Errorf("unknown %s was delivered", id)
			}
		}
		perTicket := map[string][]string{}
		for _, r := range f.rc.requests() {
			perTicket[r.Payload.TicketNumber] = append(perTicket[r.Payload.TicketNumber], r.ID)
		}
		for w, tk := range tks {
			if !slices.Equal(perTicket[tk.TicketNumber], order[w]) {
				t.Errorf("ticket %s delivered %v, committed %v", tk.TicketNumber, perTicket[tk.TicketNumber], order[w])
			}
		}
		t.Logf("%d committed, %d rolled back", len(committed), len(rolledBack))
	})
}

// TestDeliverWakesOnCommit: an idle deliverer is woken by the commit's notification, not
// by its polling tick (a second). Not parallel: a transaction left open by another test,
// even in another database of the cluster, holds the feed's horizon back, and the event
// would rightly wait for it.
func TestDeliverWakesOnCommit(t *testing.T) {
	f := newDeliveryFixture(t)
	e := f.e
	tk := f.ticket(t, "CSM-WAKE-1")
	e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(50), Timeout: 5 * time.Second})
	time.Sleep(300 * time.Millisecond) // listening, idle
	var lat []time.Duration
	for i := 0; i < 7; i++ {
		start := time.Now()
		ev := e.record(t, tk, models.EventAppointmentRescheduled, map[string]int{"i": i})
		eventually(t, 5*time.Second, "delivered", func() bool { return len(f.rc.of(ev.ID)) == 1 })
		lat = append(lat, f.rc.of(ev.ID)[0].At.Sub(start))
		time.Sleep(time.Duration(100+mrand.IntN(300)) * time.Millisecond)
	}
	slices.Sort(lat)
	if median := lat[len(lat)/2]; median > 300*time.Millisecond {
		t.Fatalf("median commit to delivery %v (all %v): not woken by the commit", median, lat)
	}
	t.Logf("commit to delivery: %v", lat)
}

// TestDeliverStopFinishesAttempt: stopping a deliverer lets the attempt under way end
// (bounded by the timeout) and records it.
func TestDeliverStopFinishesAttempt(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	e := f.e
	f.rc.answerWith(func(dlvRequest) dlvAnswer { return dlvAnswer{hang: true} })
	ev := e.record(t, f.ticket(t, "CSM-STOP-1"), models.EventTicketResolved, map[string]string{})
	stop := e.startDeliverer(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(50), Timeout: 700 * time.Millisecond})
	eventually(t, 5*time.Second, "the attempt under way", func() bool { return len(f.rc.requests()) == 1 })
	began := time.Now()
	stop()
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("stopping took %v", took)
	}
	st := e.state(t, ev.ID)
	if st.Status != "failed" || st.Attempts != 1 || st.LastError == nil || !strings.Contains(*st.LastError, "Timeout") {
		t.Fatalf("after the stop: %+v %v", st, deref(st.LastError))
	}
	if n := len(f.rc.requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

// TestDeliverClockBehindDatabase: a new event is sent at once even when the deliverer's
// clock is behind the database's (which stamps new events), and retries still keep to
// the schedule by the deliverer's clock. Not parallel, for the same reason as
// TestDeliverWakesOnCommit.
func TestDeliverClockBehindDatabase(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour, -200 * time.Millisecond, time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			f := newDeliveryFixture(t)
			f.rc.answerWith(func(r dlvRequest) dlvAnswer {
				if r.N == 1 {
					return dlvAnswer{status: 500}
				}
				return dlvAnswer{status: 200}
			})
			f.e.startDelivererWithClock(t, services.DeliveryConfig{URL: f.rc.URL(), Schedule: ms(100, 100), Timeout: 5 * time.Second},
				func() time.Time { return time.Now().Add(skew) })
			tk := f.ticket(t, "CSM-SKEW-1")
			time.Sleep(100 * time.Millisecond) // idle
			committed := time.Now()
			ev := f.e.record(t, tk, models.EventAppointmentBooked, map[string]string{"centre": "CCS-01"})
			eventually(t, 5*time.Second, "delivered", f.e.statusIs(t, ev.ID, "delivered"))
			reqs := f.rc.of(ev.ID)
			if len(reqs) > 0 && reqs[0].At.Sub(committed) > 500*time.Millisecond {
				t.Errorf("first sent %v after the commit", reqs[0].At.Sub(committed))
			}
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			wantSpacing(t, "retry", []time.Time{reqs[0].At, reqs[1].At}, ms(100), 300*time.Millisecond)
		})
	}
}
