package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// deliveriesEnv is the demo organisation with a few bookings, whose events are the
// callbacks to list and replay (no deliverer runs: they stay pending until the test
// changes them).
func deliveriesEnv(t *testing.T) (e *testEnv, admin string, ids []string) {
	t.Helper()
	e = newTestEnv(t)
	admin = e.token(emailAdmin)
	mon := aptMonday()
	a := e.aptBooked(e.CSMToken, demoTicket(0), "CCS-01", aptAt(mon, 0, 10, 0))
	e.aptBooked(e.CSMToken, demoTicket(12), "CCS-01", aptAt(mon, 0, 10, 30))
	e.aptBooked(e.CSMToken, demoTicket(13), "CCS-01", aptAt(mon, 0, 11, 0))
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+a+"/reschedule", e.CSMToken, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}), http.StatusOK)
	// Nobody has read the feed: the list publishes the committed events itself, once
	// every older transaction of the cluster (which parallel tests share) has ended.
	deadline := time.Now().Add(15 * time.Second)
	for len(ids) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries listed, want 4", len(ids))
		}
		time.Sleep(20 * time.Millisecond)
		ids = nil
		for _, d := range items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/deliveries", admin, nil), http.StatusOK)) {
			ids = append(ids, str(d["id"]))
		}
	}
	if len(ids) != 4 {
		t.Fatalf("%d deliveries, want 4", len(ids))
	}
	return e, admin, ids
}

// publishedEvents waits until the CSM feed shows every committed event and returns
// their ids in sequence order. The feed shows an event only once every older
// transaction of the cluster, which parallel tests share, has ended.
func (e *testEnv) publishedEvents() []string {
	e.t.Helper()
	var committed int64
	if err := e.DB.Table("csm_events").Count(&committed).Error; err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := items(e.t, wantStatus(e.t, e.do(http.MethodGet, "/api/v1/csm/events?limit=500", e.CSMToken, nil), http.StatusOK))
		if int64(len(evs)) >= committed {
			ids := make([]string, len(evs))
			for i, ev := range evs {
				ids[i] = str(ev["id"])
			}
			return ids
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the feed shows %d of %d committed events", len(evs), committed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listDeliveries follows next_cursor to the end.
func (e *testEnv) listDeliveries(token, query string, limit int) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	cursor := ""
	for pages := 0; ; pages++ {
		q := url.Values{}
		if query != "" {
			q.Set("status", query)
		}
		q.Set("limit", strconv.Itoa(limit))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		body := wantStatus(e.t, e.do(http.MethodGet, "/api/v1/admin/deliveries?"+q.Encode(), token, nil), http.StatusOK)
		page := items(e.t, body)
		if len(page) > limit {
			e.t.Fatalf("page of %d, limit %d", len(page), limit)
		}
		out = append(out, page...)
		next, ok := body["next_cursor"].(string)
		if !ok {
			e.t.Fatalf("no next_cursor string: %v", body)
		}
		if next == "" {
			return out
		}
		if pages > 50 {
			e.t.Fatal("paging does not end")
		}
		cursor = next
	}
}

func TestDeliveriesListShape(t *testing.T) {
	t.Parallel()
	e, admin, ids := deliveriesEnv(t)
	// one dead after two attempts, one delivered
	e.exec("UPDATE csm_events SET delivery_status = 'dead', attempts = 2, last_error = 'HTTP 503' WHERE id = ?", ids[1])
	e.exec(`INSERT INTO csm_delivery_attempts (event_position, attempted_at, status_code, latency_ms, error)
		SELECT position, now() - interval '1 minute', NULL, 10000, 'Post "http://csm/": context deadline exceeded' FROM csm_events WHERE id = ?`, ids[1])
	e.exec(`INSERT INTO csm_delivery_attempts (event_position, attempted_at, status_code, latency_ms, error)
		SELECT position, now(), 503, 12, 'HTTP 503' FROM csm_events WHERE id = ?`, ids[1])
	e.exec("UPDATE csm_events SET delivery_status = 'delivered', attempts = 1, delivered_at = now() WHERE id = ?", ids[3])

	all := e.listDeliveries(admin, "", 500)
	if len(all) != 4 {
		t.Fatalf("%d deliveries", len(all))
	}
	fields := []string{"attempt_log", "attempts", "data", "delivered_at", "delivery_status", "id", "last_error", "next_attempt_at",
		"occurred_at", "sequence", "ticket_number", "type"}
	var seqs []float64
	for i, d := range all {
		if got := sortedKeys(d); !slices.Equal(got, fields) {
			t.Fatalf("fields %v, want %v", got, fields)
		}
		if str(d["id"]) != ids[i] {
			t.Fatalf("order %d: %s, want %s", i, d["id"], ids[i])
		}
		seqs = append(seqs, d["sequence"].(float64))
		if _, ok := d["attempt_log"].([]any); !ok {
			t.Fatalf("attempt_log %v is not an array", d["attempt_log"])
		}
		aptTime(t, d["occurred_at"])
		aptTime(t, d["next_attempt_at"])
		if obj(d["data"]) == nil {
			t.Fatalf("data %v", d["data"])
		}
	}
	if !slices.IsSorted(seqs) {
		t.Fatalf("sequences %v", seqs)
	}
	if all[0]["type"] != "appointment.booked" || all[3]["type"] != "appointment.rescheduled" || all[3]["ticket_number"] != demoTicket(0) {
		t.Fatalf("events %v / %v", all[0], all[3])
	}
	dead := e.listDeliveries(admin, "dead", 500)
	if len(dead) != 1 || dead[0]["id"] != ids[1] || dead[0]["delivery_status"] != "dead" || dead[0]["attempts"] != float64(2) || dead[0]["last_error"] != "HTTP 503" {
		t.Fatalf("dead letters %v", dead)
	}
	log := dead[0]["attempt_log"].([]any)
	if len(log) != 2 {
		t.Fatalf("attempt log %v", log)
	}
	for i, want := range []map[string]any{
		{"status_code": nil, "latency_ms": float64(10000), "error": `Post "http://csm/": context deadline exceeded`},
		{"status_code": float64(503), "latency_ms": float64(12), "error": "HTTP 503"},
	} {
		a := obj(log[i])
		if got := sortedKeys(a); !slices.Equal(got, []string{"attempted_at", "error", "latency_ms", "status_code"}) {
			t.Fatalf("attempt fields %v", got)
		}
		aptTime(t, a["attempted_at"])
		for k, v := range want {
			if a[k] != v {
				t.Fatalf("attempt %d: %s %v, want %v", i, k, a[k], v)
			}
		}
	}
	if pending := e.listDeliveries(admin, "pending", 500); len(pending) != 2 || pending[0]["id"] != ids[0] || pending[1]["id"] != ids[2] ||
		len(pending[0]["attempt_log"].([]any)) != 0 || pending[0]["last_error"] != nil || pending[0]["delivered_at"] != nil {
		t.Fatalf("pending %v", pending)
	}
	if delivered := e.listDeliveries(admin, "delivered", 500); len(delivered) != 1 || delivered[0]["id"] != ids[3] || delivered[0]["delivered_at"] == nil {
		t.Fatalf("delivered %v", delivered)
	}
	if failed := e.listDeliveries(admin, "failed", 500); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	// pages of one cover the same, once each
	var paged []string
	for _, d := range e.listDeliveries(admin, "", 1) {
		paged = append(paged, str(d["id"]))
	}
	if !slices.Equal(paged, ids) {
		t.Fatalf("paged %v, want %v", paged, ids)
	}
	// the last page says so
	body := wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/deliveries?limit=4", admin, nil), http.StatusOK)
	if body["next_cursor"] != "" || len(items(t, body)) != 4 {
		t.Fatalf("one page of all: %v", body)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/deliveries?status=lost", admin, nil), http.StatusBadRequest, "validation_failed")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/deliveries", e.CSMToken, nil), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/deliveries", "", nil), http.StatusUnauthorized, "unauthenticated")
}

func TestDeliveriesReplayAPI(t *testing.T) {
	t.Parallel()
	e, admin, ids := deliveriesEnv(t)
	for _, id := range ids[:3] {
		e.exec("UPDATE csm_events SET delivery_status = 'dead', attempts = 10, cycle_attempts = 10, next_attempt_at = now() + interval '1 day' WHERE id = ?", id)
	}
	status := func(id string) string {
		var s string
		if err := e.DB.Raw("SELECT delivery_status FROM csm_events WHERE id = ?", id).Scan(&s).Error; err != nil {
			t.Fatal(err)
		}
		return s
	}
	// one
	res := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/"+ids[0]+"/replay", admin, nil), http.StatusOK)
	if got := sortedKeys(res); !slices.Equal(got, []string{"replayed"}) || res["replayed"] != float64(1) {
		t.Fatalf("replay one: %v", res)
	}
	if status(ids[0]) != "pending" || e.auditRows("csm_event", ids[0], "replay") != 1 {
		t.Fatalf("after replay: %s, %d audit rows", status(ids[0]), e.auditRows("csm_event", ids[0], "replay"))
	}
	var cycle int
	var due time.Time
	if err := e.DB.Raw("SELECT cycle_attempts, next_attempt_at FROM csm_events WHERE id = ?", ids[0]).Row().Scan(&cycle, &due); err != nil {
		t.Fatal(err)
	}
	if cycle != 0 || due.After(time.Now().Add(time.Second)) {
		t.Fatalf("a replay starts a fresh schedule now: cycle %d, due %v", cycle, due)
	}
	// the attempts count keeps the history
	if d := e.listDeliveries(admin, "pending", 500); d[0]["id"] != ids[0] || d[0]["attempts"] != float64(10) {
		t.Fatalf("after replay %v", d[0])
	}
	// many, with a repeat counted once
	res = wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{ids[1], ids[2], ids[1]}}), http.StatusOK)
	if res["replayed"] != float64(2) || status(ids[1]) != "pending" || status(ids[2]) != "pending" {
		t.Fatalf("replay many: %v", res)
	}
	if dead := e.listDeliveries(admin, "dead", 500); len(dead) != 0 {
		t.Fatalf("still dead: %v", dead)
	}
	// unknown: 404, and nothing replayed, not even the known one asked with it
	e.exec("UPDATE csm_events SET delivery_status = 'dead' WHERE id = ?", ids[3])
	before := e.aptRowCounts()
	const unknown = "evt_00000000000000000000000000000000"
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/"+unknown+"/replay", admin, nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{ids[3], unknown}}), http.StatusNotFound, "not_found")
	if status(ids[3]) != "dead" {
		t.Fatal("a refused replay changed the event")
	}
	equalCounts(t, before, e.aptRowCounts())
	// validation
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{}}), http.StatusBadRequest, "validation_failed")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": ids[3]}), http.StatusBadRequest, "validation_failed")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{ids[3]}, "all": true}), http.StatusBadRequest, "validation_failed")
	// only an admin
	for _, tok := range []string{e.CSMToken, e.token(emailManager), e.token(emailCounter)} {
		wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/"+ids[3]+"/replay", tok, nil), http.StatusForbidden, "forbidden")
		wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", tok, map[string]any{"ids": []string{ids[3]}}), http.StatusForbidden, "forbidden")
	}
	if status(ids[3]) != "dead" {
		t.Fatal("a forbidden replay changed the event")
	}
	// with an Idempotency-Key, sending again replays the answer, not the event
	first := e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{ids[3]}}, "Idempotency-Key", "replay-3")
	again := e.do(http.MethodPost, "/api/v1/admin/deliveries/replay", admin, map[string]any{"ids": []string{ids[3]}}, "Idempotency-Key", "replay-3")
	if first.Status != 200 || again.Status != 200 || string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("idempotent replay: %d %s / %d %s %v", first.Status, first.Body, again.Status, again.Body, again.Header)
	}
	if n := e.auditRows("csm_event", ids[3], "replay"); n != 1 {
		t.Fatalf("%d replays audited", n)
	}
}
