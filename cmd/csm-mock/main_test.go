package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"centros/services"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// lockedBuffer is the mock's output, read by the test while the mock writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// closures is a fake service that records closure acknowledgements.
type closures struct {
	mu   sync.Mutex
	got  []string // path, authorization and body of each
	done chan struct{}
}

func newFakeService(t *testing.T) (*closures, *httptest.Server) {
	c := &closures{done: make(chan struct{}, 8)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.got = append(c.got, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization")+" "+string(b))
		c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		c.done <- struct{}{}
	}))
	t.Cleanup(hs.Close)
	return c, hs
}

func newTestMock(t *testing.T, args ...string) (*mock, *httptest.Server, *lockedBuffer) {
	t.Helper()
	o, err := parseOptions(append([]string{"-secret", testSecret}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	m := newMock(o, out)
	hs := httptest.NewServer(m)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { m.stopAcks(context.Background()) })
	return m, hs, out
}

type callback struct {
	id, typ, ticket string
	seq             int64
	secret          string
	at              time.Time
	tamper          bool
}

// send posts a callback signed as the service signs it and returns the answer.
func send(t *testing.T, url string, cb callback) *http.Response {
	t.Helper()
	if cb.secret == "" {
		cb.secret = testSecret
	}
	if cb.at.IsZero() {
		cb.at = time.Now()
	}
	body, _ := json.Marshal(map[string]any{"id": cb.id, "type": cb.typ, "sequence": cb.seq, "occurred_at": cb.at.UTC(),
		"ticket_number": cb.ticket, "data": map[string]any{"centre": "CCS-01"}})
	key, err := services.ParseWebhookSecret(cb.secret)
	if err != nil {
		t.Fatal(err)
	}
	sig := services.SignWebhook([]services.WebhookSecret{key}, cb.id, cb.at.Unix(), body)
	if cb.tamper {
		body = bytes.Replace(body, []byte("CCS-01"), []byte("CCS-02"), 1)
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("webhook-id", cb.id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(cb.at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestMockVerifiesDeduplicatesAndAcknowledgesClosures(t *testing.T) {
	service, svc := newFakeService(t)
	m, hs, out := newTestMock(t, "-service", svc.URL, "-token", "cst_test")

	booked := callback{id: "evt_1", typ: "appointment.booked", ticket: "CSM-2026-0000001", seq: 7}
	if res := send(t, hs.URL, booked); res.StatusCode != http.StatusOK {
		t.Fatalf("valid callback: %d", res.StatusCode)
	}
	if res := send(t, hs.URL, booked); res.StatusCode != http.StatusOK {
		t.Fatalf("repeated callback: %d", res.StatusCode)
	}
	for name, cb := range map[string]callback{
		"TamperedBody": {id: "evt_2", typ: "appointment.booked", ticket: "CSM-2026-0000001", seq: 8, tamper: true},
		"StaleStamp":   {id: "evt_3", typ: "appointment.booked", ticket: "CSM-2026-0000001", seq: 9, at: time.Now().Add(-10 * time.Minute)},
		"WrongSecret":  {id: "evt_4", typ: "appointment.booked", ticket: "CSM-2026-0000001", seq: 10, secret: "whsec_c2VjcmV0LW9mLWFub3RoZXItc2VydmljZQ=="},
	} {
		if res := send(t, hs.URL, cb); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, res.StatusCode)
		}
	}
	if res := send(t, hs.URL, callback{id: "evt_5", typ: "ticket.resolved", ticket: "CSM/2026/5", seq: 11}); res.StatusCode != http.StatusOK {
		t.Fatalf("resolved: %d", res.StatusCode)
	}
	select {
	case <-service.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the closure was not acknowledged")
	}
	m.stopAcks(context.Background()) // the acknowledgement has been logged
	service.mu.Lock()
	got := service.got
	service.mu.Unlock()
	if len(got) != 1 || !regexp.MustCompile(`^POST /api/v1/csm/tickets/CSM%2F2026%2F5/closed Bearer cst_test \{"closed_at":"[^"]+"\}$`).MatchString(got[0]) {
		t.Fatalf("closure acknowledgements: %q", got)
	}

	text := out.String()
	if n := strings.Count(text, "#7 appointment.booked CSM-2026-0000001 {\"centre\":\"CCS-01\"}"); n != 1 {
		t.Errorf("the event is printed %d times, want once:\n%s", n, text)
	}
	for _, want := range []string{"duplicate #7", `REFUSED "evt_2"`, `REFUSED "evt_3"`, `REFUSED "evt_4"`, "#11 ticket.resolved CSM/2026/5",
		"closure of CSM/2026/5 acknowledged"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestMockFailsOnPurpose(t *testing.T) {
	_, hs, out := newTestMock(t, "-status", "503", "-retry-after", "7")
	cb := callback{id: "evt_1", typ: "appointment.booked", ticket: "CSM-1", seq: 1}
	res := send(t, hs.URL, cb)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("forced status: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if strings.Contains(out.String(), "#1 appointment.booked CSM-1 {") {
		t.Fatalf("an event answered 503 was processed:\n%s", out.String())
	}

	_, hs, _ = newTestMock(t, "-fail-rate", "1")
	if res := send(t, hs.URL, cb); res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("fail-rate 1: %d", res.StatusCode)
	}

	_, hs, _ = newTestMock(t, "-delay", "150ms")
	began := time.Now()
	if res := send(t, hs.URL, cb); res.StatusCode != http.StatusOK || time.Since(began) < 150*time.Millisecond {
		t.Fatalf("delay: %d after %v", res.StatusCode, time.Since(began))
	}
}

func TestOptionsRefuseBadSettings(t *testing.T) {
	for name, args := range map[string][]string{
		"NoSecret":         {},
		"SecretNotWhsec":   {"-secret", "c2VjcmV0"},
		"FailRateAbove1":   {"-secret", testSecret, "-fail-rate", "1.5"},
		"StatusNotHTTP":    {"-secret", testSecret, "-status", "42"},
		"ServiceNotURL":    {"-secret", testSecret, "-service", "localhost:8080"},
		"AddrWithoutPort":  {"-secret", testSecret, "-addr", "localhost"},
		"NegativeDelay":    {"-secret", testSecret, "-delay", "-1s"},
		"StrayArgument":    {"-secret", testSecret, "extra"},
		"NegativeRetryAft": {"-secret", testSecret, "-retry-after", "-3"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseOptions(args, func(string) string { return "" }, io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	o, err := parseOptions(nil, func(k string) string {
		return map[string]string{"CSM_WEBHOOK_SECRET": testSecret + " whsec_c2VjcmV0LW9mLWFub3RoZXItc2VydmljZQ==", "CSM_TOKEN": "cst_x"}[k]
	}, io.Discard)
	if err != nil || len(o.Secrets) != 2 || o.Token != "cst_x" || o.Addr != "127.0.0.1:9090" {
		t.Fatalf("from the environment: %+v %v", o, err)
	}
}

// TestStopsOnSignal runs the command as main does and stops it as SIGTERM would.
func TestStopsOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-secret", testSecret}, func(string) string { return "" }, out, io.Discard)
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("did not start:\n%s", out.String())
		}
	}
	if res := send(t, url+"/callbacks", callback{id: "evt_1", typ: "appointment.booked", ticket: "CSM-1", seq: 1}); res.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}
