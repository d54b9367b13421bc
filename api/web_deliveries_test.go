package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"centros/services"
)

// deliveryFixture has events in every delivery state, sent by a real deliverer to a
// receiver that answers by ticket: dead (500 until the schedule runs out), failed (503
// with a Retry-After of an hour), delivered, and pending (published, never sent).
type deliveryFixture struct {
	Dead      []string // ticket numbers
	Failed    string
	Delivered string
	Pending   string
}

func (e *testEnv) deliveryFixture() deliveryFixture {
	e.t.Helper()
	numbers := e.webTicketsAt("CCS-01", 5)
	f := deliveryFixture{Dead: numbers[:2], Failed: numbers[2], Delivered: numbers[3], Pending: numbers[4]}
	monday := webMonday(e.t, 8, 0)
	for i, n := range numbers[:4] {
		e.webBookAPI(n, "CCS-01", webSlot(monday, 8+i, 0))
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			TicketNumber string `json:"ticket_number"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		switch ev.TicketNumber {
		case f.Delivered:
			w.WriteHeader(http.StatusOK)
		case f.Failed:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer recv.Close()
	secret, _ := services.ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	// The real clock: retries must come due.
	d := services.NewDeliverer(services.Deps{DB: e.DB, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		services.DeliveryConfig{URL: recv.URL, Secrets: []services.WebhookSecret{secret}, Schedule: []time.Duration{time.Millisecond}, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	want := map[string]string{f.Dead[0]: "dead", f.Dead[1]: "dead", f.Failed: "failed", f.Delivered: "delivered"}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if e.deliveryStates(want) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			e.t.Fatalf("deliveries did not settle: want %v", want)
		}
	}
	cancel()
	<-stopped
	e.webBookAPI(f.Pending, "CCS-01", webSlot(monday, 13, 0))
	if _, err := services.PublishEvents(context.Background(), e.DB); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// deliveryStates reports whether each ticket's events are in the state given.
func (e *testEnv) deliveryStates(want map[string]string) bool {
	e.t.Helper()
	for ticket, status := range want {
		var n int64
		if err := e.DB.Raw(`SELECT count(*) FROM csm_events WHERE ticket_number = ? AND delivery_status <> ?`, ticket, status).Scan(&n).Error; err != nil {
			e.t.Fatal(err)
		}
		if n > 0 {
			return false
		}
	}
	return true
}

func (e *testEnv) eventOf(ticket string) (id, status string, cycle int) {
	e.t.Helper()
	var row struct {
		ID, DeliveryStatus string
		CycleAttempts      int
	}
	if err := e.DB.Raw(`SELECT id, delivery_status, cycle_attempts FROM csm_events WHERE ticket_number = ?`, ticket).Scan(&row).Error; err != nil || row.ID == "" {
		e.t.Fatalf("event of %s: %v", ticket, err)
	}
	return row.ID, row.DeliveryStatus, row.CycleAttempts
}

func TestWebDeliveries(t *testing.T) {
	e := newTestEnv(t)
	f := e.deliveryFixture()
	admin := e.webClient()
	admin.login(emailAdmin)
	dead0, _, _ := e.eventOf(f.Dead[0])
	dead1, _, _ := e.eventOf(f.Dead[1])
	delivered, _, _ := e.eventOf(f.Delivered)

	// The first tab is pending: published, never attempted, due now.
	page := admin.get("/admin/deliveries")
	wantPage(t, page, http.StatusOK, "Entregas a CSM", `href="/admin/deliveries" aria-current="page"`, f.Pending, "appointment.booked", "ahora")
	wantNot(t, page, f.Dead[0], f.Delivered, "Reenviar</button>")

	page = admin.get("/admin/deliveries?status=failed")
	wantPage(t, page, http.StatusOK, f.Failed, "Reintentando", "HTTP 503", "Último error")
	wantNot(t, page, f.Pending, ">ahora<")

	page = admin.get("/admin/deliveries?status=delivered")
	wantPage(t, page, http.StatusOK, f.Delivered, "Entregado", "HTTP 200", `data-confirm="¿Reenviar a CSM el evento `+delivered)

	page = admin.get("/admin/deliveries?status=dead&lang=en")
	wantPage(t, page, http.StatusOK, "Deliveries to CSM", f.Dead[0], f.Dead[1], "Dead", "HTTP 500", "Show the attempts (2)",
		"Replay all dead events shown (2)", `action="/admin/deliveries/`+dead0+`/replay"`)
	admin.get("/admin/deliveries?lang=es")

	wantPage(t, admin.get("/admin/deliveries?status=lost"), http.StatusBadRequest)

	// One replayed from its row: pending again, on a fresh schedule, back to the tab.
	page = admin.get("/admin/deliveries?status=dead")
	res := admin.submit(page, "/admin/deliveries/"+dead0+"/replay", url.Values{"status": {"dead"}})
	if res.Status != http.StatusSeeOther || res.Location != "/admin/deliveries?status=dead" {
		t.Fatalf("replay one: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = admin.follow(res)
	wantPage(t, page, http.StatusOK, "El evento "+dead0+" está en cola", f.Dead[1], "Reenviar todos los agotados mostrados (1)")
	wantNot(t, page, f.Dead[0])
	if _, status, cycle := e.eventOf(f.Dead[0]); status != "pending" || cycle != 0 {
		t.Fatalf("replayed event: %s after %d attempts of its cycle, want pending and 0", status, cycle)
	}

	// Every dead one shown, in one form.
	res = admin.submit(page, "/admin/deliveries/replay", url.Values{"status": {"dead"}, "id": {dead1}})
	if res.Status != http.StatusSeeOther || res.Location != "/admin/deliveries?status=dead" {
		t.Fatalf("replay all: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = admin.follow(res)
	wantPage(t, page, http.StatusOK, "Eventos en cola para reenviarse a CSM: 1.", "No hay eventos en este estado.")
	if _, status, _ := e.eventOf(f.Dead[1]); status != "pending" {
		t.Fatalf("event replayed with the others: %s", status)
	}
	var audited int64
	if err := e.DB.Raw(`SELECT count(*) FROM audit_log WHERE action = 'replay' AND entity = 'csm_event' AND entity_id IN (?, ?)`, dead0, dead1).Scan(&audited).Error; err != nil || audited != 2 {
		t.Fatalf("replays audited: %d %v", audited, err)
	}

	// A delivered one may be sent again (CSM lost it).
	page = admin.get("/admin/deliveries?status=delivered")
	res = admin.submit(page, "/admin/deliveries/"+delivered+"/replay", url.Values{"status": {"delivered"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("replay delivered: %d %s", res.Status, res.Body)
	}
	if _, status, _ := e.eventOf(f.Delivered); status != "pending" {
		t.Fatalf("replayed delivered event: %s", status)
	}

	// An id that is no event.
	wantPage(t, admin.submit(page, "/admin/deliveries/evt_nothing/replay", url.Values{}), http.StatusNotFound)
	wantPage(t, admin.submit(page, "/admin/deliveries/replay", url.Values{"id": {dead0, "evt_nothing"}}), http.StatusNotFound)
	wantPage(t, admin.submit(page, "/admin/deliveries/replay", url.Values{}), http.StatusBadRequest)
}

func TestWebDeliveriesRefused(t *testing.T) {
	e := newTestEnv(t)
	f := e.deliveryFixture()
	dead, _, _ := e.eventOf(f.Dead[0])

	// Staff who are not admins see no entry and get no page.
	clerk := e.webClient()
	home := clerk.login(emailCounter)
	wantNot(t, home, "/admin/deliveries")
	wantPage(t, clerk.get("/admin/deliveries?status=dead"), http.StatusForbidden)
	wantPage(t, clerk.submit(home, "/admin/deliveries/"+dead+"/replay", url.Values{}), http.StatusForbidden)
	wantPage(t, clerk.submit(home, "/admin/deliveries/replay", url.Values{"id": {dead}}), http.StatusForbidden)

	// An admin's form without the session's CSRF token is refused.
	admin := e.webClient()
	page := admin.login(emailAdmin)
	wantPage(t, page, http.StatusOK, `href="/admin/deliveries"`, "Entregas a CSM")
	wantPage(t, admin.post("/admin/deliveries/"+dead+"/replay", url.Values{"status": {"dead"}}), http.StatusForbidden)
	wantPage(t, admin.post("/admin/deliveries/replay", url.Values{"id": {dead}, "csrf_token": {"forged"}}), http.StatusForbidden)

	// Without a session, the sign-in page.
	anon := e.webClient()
	if res := anon.get("/admin/deliveries"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Fatalf("anonymous: %d %q", res.Status, res.Location)
	}
	if _, status, _ := e.eventOf(f.Dead[0]); status != "dead" {
		t.Fatalf("a refused replay changed the event: %s", status)
	}
}
