package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"centros/services"
)

// caracas is the demo centres' time zone (UTC-4, no daylight saving).
var caracas = func() *time.Location {
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		panic(err)
	}
	return loc
}()

// aptHolidays are the demo centres' closed days.
var aptHolidays = []string{"2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01", "2027-02-15", "2027-02-16"}

// aptMonday is 09:10 in Caracas on a Monday at least a week from now whose week has no
// closed day: a day the tests can pin the clock to, whatever today is, after the demo
// tickets were reported.
func aptMonday() time.Time {
	d := time.Now().In(caracas).AddDate(0, 0, 7)
	d = time.Date(d.Year(), d.Month(), d.Day(), 9, 10, 0, 0, caracas)
	for {
		holiday := false
		for i := 0; i < 7; i++ {
			holiday = holiday || slices.Contains(aptHolidays, d.AddDate(0, 0, i).Format(time.DateOnly))
		}
		if d.Weekday() == time.Monday && !holiday {
			return d
		}
		d = d.AddDate(0, 0, 1)
	}
}

// aptAt is local hh:mm in Caracas, days after day.
func aptAt(day time.Time, days, hh, mm int) time.Time {
	d := day.In(caracas).AddDate(0, 0, days)
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, caracas)
}

func aptRFC(t time.Time) string { return t.In(caracas).Format(time.RFC3339) }

func aptDate(t time.Time) string { return t.In(caracas).Format(time.DateOnly) }

// aptTime parses a time of a response.
func aptTime(t *testing.T, v any) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, str(v))
	if err != nil {
		t.Fatalf("not an RFC 3339 time: %v", v)
	}
	return tm
}

// aptRefer refers a ticket through CSM, reported at the given time at a centre ("" for
// none yet).
func (e *testEnv) aptRefer(number, centre string, reportedAt time.Time) {
	e.t.Helper()
	body := validReferral(number)
	body["reported_at"] = aptRFC(reportedAt)
	if centre == "" {
		delete(body, "centre_code")
	} else {
		body["centre_code"] = centre
	}
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, body), http.StatusCreated)
}

func (e *testEnv) aptBook(token, number, centre string, start time.Time, headers ...string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/api/v1/appointments", token,
		map[string]any{"ticket_number": number, "centre_code": centre, "starts_at": aptRFC(start)}, headers...)
}

// aptBooked books and returns the appointment's id.
func (e *testEnv) aptBooked(token, number, centre string, start time.Time) string {
	e.t.Helper()
	a := wantStatus(e.t, e.aptBook(token, number, centre, start), http.StatusCreated)
	return str(a["id"])
}

func aptCheckInBody(imei string) map[string]any {
	return map[string]any{"received_imei": imei, "condition": "Pantalla rayada, sin golpes", "accessories": []string{"cargador", "funda"}}
}

// the IMEI every validReferral carries, and another valid one
const (
	aptIMEI      = "356938035643809"
	aptOtherIMEI = "352099001761481"
)

// aptSlots returns a centre's availability from one date to another, by local start.
func (e *testEnv) aptSlots(token, centre string, from, to time.Time, ticket string) (map[string]any, map[string]map[string]any) {
	e.t.Helper()
	q := url.Values{"from": {aptDate(from)}, "to": {aptDate(to)}}
	if ticket != "" {
		q.Set("ticket_number", ticket)
	}
	body := wantStatus(e.t, e.do(http.MethodGet, "/api/v1/centres/"+centre+"/availability?"+q.Encode(), token, nil), http.StatusOK)
	byStart := map[string]map[string]any{}
	for _, s := range body["slots"].([]any) {
		byStart[aptRFC(aptTime(e.t, obj(s)["starts_at"]))] = obj(s)
	}
	return body, byStart
}

// aptSlot asserts one slot's booked and available places.
func aptSlot(t *testing.T, slots map[string]map[string]any, start time.Time, booked, available int) {
	t.Helper()
	s := slots[aptRFC(start)]
	if s == nil {
		t.Fatalf("no slot at %s", aptRFC(start))
	}
	if s["booked"] != float64(booked) || s["available"] != float64(available) {
		t.Fatalf("slot %s: booked %v available %v, want %d and %d", aptRFC(start), s["booked"], s["available"], booked, available)
	}
}

// aptEvents is the CSM feed's events of one ticket, in order, once there are want of
// them. The feed shows an event only once every transaction older than it has ended,
// in the whole cluster, which the parallel tests share: wait a little for it.
func (e *testEnv) aptEvents(number string, want int) []map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out []map[string]any
		for _, ev := range items(e.t, wantStatus(e.t, e.do(http.MethodGet, "/api/v1/csm/events?limit=500", e.CSMToken, nil), http.StatusOK)) {
			if ev["ticket_number"] == number {
				out = append(out, ev)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aptTypes(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, str(ev["type"]))
	}
	return out
}

// aptCount counts rows of the appointment tables.
func (e *testEnv) aptCount(sql string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.DB.Raw(sql, args...).Scan(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *testEnv) aptTicket(token, number string) (string, map[string]any) {
	e.t.Helper()
	tk := wantStatus(e.t, e.do(http.MethodGet, "/api/v1/tickets/"+url.PathEscape(number), token, nil), http.StatusOK)
	return str(tk["status"]), obj(tk["appointment"])
}

// TestAppointmentLifecycle books, reads, reschedules, cancels and re-books one ticket
// through the API, with the refusals along the way, and follows what CSM is told.
func TestAppointmentLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	counter := e.token(emailCounter)
	reported := mon.Add(-time.Hour)
	e.aptRefer("APT-0001", "CCS-01", reported)

	// book: 201 with the whole appointment
	res := e.aptBook(counter, "APT-0001", "CCS-01", aptAt(mon, 0, 10, 0))
	a := wantStatus(t, res, http.StatusCreated)
	id := str(a["id"])
	if len(id) != 36 || a["ticket_number"] != "APT-0001" || a["centre_code"] != "CCS-01" || a["status"] != "booked" ||
		a["version"] != float64(1) || a["within_sla"] != true || a["walk_in"] != false {
		t.Fatalf("booked: %s", res.Body)
	}
	if !aptTime(t, a["starts_at"]).Equal(aptAt(mon, 0, 10, 0)) || !aptTime(t, a["ends_at"]).Equal(aptAt(mon, 0, 10, 30)) ||
		!aptTime(t, a["sla_due_at"]).Equal(reported.Add(24*time.Hour)) {
		t.Fatalf("booked times: %s", res.Body)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		aptTime(t, a[k])
	}
	for _, k := range []string{"repair_id", "cancelled_at", "no_show_at", "checked_in_at", "cancel_reason"} {
		if _, ok := a[k]; ok {
			t.Errorf("a new booking has %s: %s", k, res.Body)
		}
	}
	got := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+id, counter, nil), http.StatusOK)
	for _, k := range []string{"id", "ticket_number", "centre_code", "starts_at", "ends_at", "status", "version", "within_sla", "sla_due_at"} {
		if fmt.Sprint(got[k]) != fmt.Sprint(a[k]) {
			t.Errorf("GET %s = %v, booked %v", k, got[k], a[k])
		}
	}
	status, ap := e.aptTicket(counter, "APT-0001")
	if status != "scheduled" || ap["id"] != id || ap["status"] != "booked" {
		t.Fatalf("ticket after booking: %s %v", status, ap)
	}
	_, slots := e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 10, 0), 1, 2)

	// a second booking of a scheduled ticket
	wantProblem(t, e.aptBook(counter, "APT-0001", "CCS-01", aptAt(mon, 0, 11, 0)), http.StatusConflict, "ticket_has_appointment")

	// reschedule: the old place is freed, the new one taken
	moved := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/reschedule", counter, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 0))}), http.StatusOK)
	if !aptTime(t, moved["starts_at"]).Equal(aptAt(mon, 0, 11, 0)) || moved["version"] != float64(2) || moved["id"] != id || moved["status"] != "booked" {
		t.Fatalf("rescheduled: %v", moved)
	}
	_, slots = e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 10, 0), 0, 3)
	aptSlot(t, slots, aptAt(mon, 0, 11, 0), 1, 2)

	// into a full slot: 409, and the old booking stays as it was
	for i := 2; i <= 4; i++ {
		n := fmt.Sprintf("APT-%04d", i)
		e.aptRefer(n, "CCS-01", reported)
		e.aptBooked(counter, n, "CCS-01", aptAt(mon, 0, 11, 30))
	}
	e.aptRefer("APT-0005", "CCS-01", reported)
	wantProblem(t, e.aptBook(counter, "APT-0005", "CCS-01", aptAt(mon, 0, 11, 30)), http.StatusConflict, "slot_full")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/reschedule", counter, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 30))}), http.StatusConflict, "slot_full")
	kept := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+id, counter, nil), http.StatusOK)
	if !aptTime(t, kept["starts_at"]).Equal(aptAt(mon, 0, 11, 0)) || kept["version"] != float64(2) || kept["status"] != "booked" {
		t.Fatalf("after a refused move: %v", kept)
	}
	_, slots = e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 11, 0), 1, 2)
	aptSlot(t, slots, aptAt(mon, 0, 11, 30), 3, 0)
	if status, _ := e.aptTicket(counter, "APT-0005"); status != "referred" {
		t.Fatalf("refused ticket is %s", status)
	}

	// the rules of the calendar, and stale versions
	reschedule := func(body map[string]any, headers ...string) response {
		return e.do(http.MethodPost, "/api/v1/appointments/"+id+"/reschedule", counter, body, headers...)
	}
	for _, c := range []struct {
		name   string
		at     time.Time
		status int
		code   string
	}{
		{"NotASlotStart", aptAt(mon, 0, 11, 15), 422, "not_a_slot_start"},
		{"LunchBreak", aptAt(mon, 0, 12, 0), 422, "outside_opening_hours"},
		{"BeforeOpening", aptAt(mon, 1, 7, 30), 422, "outside_opening_hours"},
		{"LastSlotOverrunsClosing", aptAt(mon, 0, 16, 45), 422, "not_a_slot_start"},
		{"Sunday", aptAt(mon, 6, 10, 0), 422, "outside_opening_hours"},
		{"SaturdayAfternoon", aptAt(mon, 5, 13, 0), 422, "outside_opening_hours"},
		{"ClosedDay", time.Date(2026, 12, 24, 10, 0, 0, 0, caracas), 422, "outside_opening_hours"},
		{"Started", aptAt(mon, 0, 9, 0), 422, "in_the_past"},
		{"Yesterday", aptAt(mon, -3, 10, 0), 422, "in_the_past"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, reschedule(map[string]any{"starts_at": aptRFC(c.at)}), c.status, c.code)
			wantProblem(t, e.aptBook(counter, "APT-0005", "CCS-01", c.at), c.status, c.code)
		})
	}
	wantProblem(t, reschedule(map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0)), "version": 1}), http.StatusConflict, "version_conflict")
	wantProblem(t, reschedule(map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, "If-Match", `"1"`), http.StatusConflict, "version_conflict")
	// the same slot again changes nothing
	same := wantStatus(t, reschedule(map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 0)), "version": 2}), http.StatusOK)
	if same["version"] != float64(2) {
		t.Fatalf("a move to the same slot changed the version: %v", same)
	}

	// cancel frees the place at once; the ticket can be booked again
	cancelled := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/cancel", counter, map[string]any{"reason": "  El cliente viaja  "}), http.StatusOK)
	if cancelled["status"] != "cancelled" || cancelled["cancel_reason"] != "El cliente viaja" || cancelled["cancelled_at"] == nil || cancelled["version"] != float64(3) {
		t.Fatalf("cancelled: %v", cancelled)
	}
	_, slots = e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 11, 0), 0, 3)
	if status, ap := e.aptTicket(counter, "APT-0001"); status != "referred" || ap["status"] != "cancelled" {
		t.Fatalf("ticket after cancelling: %s %v", status, ap)
	}
	again := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/cancel", counter, map[string]any{"reason": "otra vez"}), http.StatusOK)
	if again["version"] != float64(3) || again["cancel_reason"] != "El cliente viaja" {
		t.Fatalf("cancelling twice changed it: %v", again)
	}
	wantProblem(t, reschedule(map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}), http.StatusConflict, "appointment_not_booked")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/no-show", counter, nil), http.StatusConflict, "appointment_not_booked")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/check-in", counter, aptCheckInBody(aptIMEI)), http.StatusConflict, "appointment_not_booked")

	// booked again; a no-show only once the slot has started
	second := e.aptBooked(counter, "APT-0001", "CCS-01", aptAt(mon, 0, 13, 0))
	if second == id {
		t.Fatal("the new booking reuses the cancelled appointment")
	}
	if _, ap := e.aptTicket(counter, "APT-0001"); ap["id"] != second {
		t.Fatalf("the ticket shows %v, not its active appointment %s", ap["id"], second)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+second+"/no-show", counter, nil), http.StatusUnprocessableEntity, "slot_not_started")
	e.SetNow(aptAt(mon, 0, 13, 0))
	ns := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+second+"/no-show", counter, nil), http.StatusOK)
	if ns["status"] != "no_show" || ns["no_show_at"] == nil {
		t.Fatalf("no-show: %v", ns)
	}
	if status, _ := e.aptTicket(counter, "APT-0001"); status != "referred" {
		t.Fatalf("ticket after a no-show: %s", status)
	}
	_, slots = e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 13, 0), 0, 3)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+second+"/no-show", counter, nil), http.StatusOK)

	// booked once more, and checked in on the day
	third := e.aptBooked(counter, "APT-0001", "CCS-01", aptAt(mon, 0, 14, 0))
	ci := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+third+"/check-in", counter, aptCheckInBody(aptIMEI)), http.StatusCreated)
	if ci["status"] != "checked_in" || str(ci["repair_id"]) == "" {
		t.Fatalf("check-in: %v", ci)
	}

	// what CSM was told, in order
	evs := e.aptEvents("APT-0001", 7)
	want := []string{"appointment.booked", "appointment.rescheduled", "appointment.cancelled", "appointment.booked",
		"appointment.no_show", "appointment.booked", "ticket.in_service"}
	if got := aptTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i, ev := range evs {
		d := obj(ev["data"])
		if i > 0 && ev["sequence"].(float64) <= evs[i-1]["sequence"].(float64) {
			t.Fatalf("events out of sequence: %v", evs)
		}
		if d["centre"] != "CCS-01" {
			t.Errorf("%s: centre %v", ev["type"], d["centre"])
		}
		if strings.HasPrefix(str(ev["type"]), "appointment.") && (d["starts_at"] == nil || d["ends_at"] == nil) {
			t.Errorf("%s without starts_at/ends_at: %v", ev["type"], d)
		}
	}
	if d := obj(evs[1]["data"]); !aptTime(t, d["starts_at"]).Equal(aptAt(mon, 0, 11, 0)) {
		t.Errorf("rescheduled event: %v", d)
	}
	if d := obj(evs[2]["data"]); d["reason"] != "El cliente viaja" {
		t.Errorf("cancelled event: %v", d)
	}
	if d := obj(evs[6]["data"]); d["received_imei"] != aptIMEI || d["checked_in_at"] == nil {
		t.Errorf("in-service event: %v", d)
	}
	// the refused requests told CSM nothing
	if n := len(e.aptEvents("APT-0005", 0)); n != 0 {
		t.Fatalf("%d events for a ticket never booked", n)
	}
}

// TestAppointmentCheckIn: on the appointment's day only; the ticket goes in service
// and shows its repair order; another IMEI needs a reason.
func TestAppointmentCheckIn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	counter, manager := e.token(emailCounter), e.token(emailManager)
	for _, n := range []string{"CI-0001", "CI-0002", "CI-0003"} {
		e.aptRefer(n, "CCS-01", mon.Add(-2*time.Hour))
	}
	id := e.aptBooked(e.CSMToken, "CI-0001", "CCS-01", aptAt(mon, 1, 10, 0))
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/check-in", counter, aptCheckInBody(aptIMEI)), http.StatusUnprocessableEntity, "not_today")
	// CSM books and moves, but does not check in
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/check-in", e.CSMToken, aptCheckInBody(aptIMEI)), http.StatusForbidden, "forbidden")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/reschedule", e.CSMToken, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 9, 30))}), http.StatusOK)

	repairs := e.aptCount("SELECT count(*) FROM repair_orders")
	res := e.do(http.MethodPost, "/api/v1/appointments/"+id+"/check-in", counter, aptCheckInBody(aptIMEI))
	ci := wantStatus(t, res, http.StatusCreated)
	repairID := str(ci["repair_id"])
	if ci["status"] != "checked_in" || len(repairID) != 36 || aptTime(t, ci["checked_in_at"]).IsZero() || ci["id"] != id || ci["walk_in"] != false {
		t.Fatalf("check-in: %s", res.Body)
	}
	if e.aptCount("SELECT count(*) FROM repair_orders") != repairs+1 {
		t.Fatal("no repair order opened")
	}
	var ro struct {
		ReceivedIMEI      string
		ReceivedCondition string
		Accessories       string
		Status            string
		CheckedInBy       *string
	}
	e.DB.Raw("SELECT received_imei, received_condition, accessories::text, status, checked_in_by::text FROM repair_orders WHERE id = ?", repairID).Scan(&ro)
	if ro.ReceivedIMEI != aptIMEI || ro.Status != "open" || ro.ReceivedCondition != "Pantalla rayada, sin golpes" || ro.CheckedInBy == nil ||
		ro.Accessories != `["cargador", "funda"]` {
		t.Fatalf("repair order: %+v", ro)
	}
	tk := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/CI-0001", manager, nil), http.StatusOK)
	ap := obj(tk["appointment"])
	if tk["status"] != "in_service" || ap["id"] != id || ap["status"] != "checked_in" || ap["repair_id"] != repairID || ap["centre_code"] != "CCS-01" || ap["ticket_number"] != "CI-0001" {
		t.Fatalf("ticket after check-in: %v", tk)
	}
	if got := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+id, e.CSMToken, nil), http.StatusOK); got["repair_id"] != repairID {
		t.Fatalf("appointment after check-in: %v", got)
	}
	// nothing more to do with it at the counter
	for _, action := range []string{"check-in", "cancel", "no-show", "reschedule"} {
		body := map[string]any{"check-in": aptCheckInBody(aptIMEI), "cancel": map[string]any{"reason": "x"},
			"reschedule": map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 10, 0))}}[action]
		if action == "no-show" {
			body = nil
		}
		wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/"+action, counter, body), http.StatusConflict, "appointment_not_booked")
	}
	wantProblem(t, e.aptBook(counter, "CI-0001", "CCS-01", aptAt(mon, 0, 10, 0)), http.StatusUnprocessableEntity, "ticket_not_bookable")
	// the checked-in appointment keeps its place
	_, slots := e.aptSlots(counter, "CCS-01", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 9, 30), 1, 2)

	// another handset than the ticket's: only with a reason
	id2 := e.aptBooked(counter, "CI-0002", "CCS-01", aptAt(mon, 0, 10, 0))
	p := wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id2+"/check-in", counter, aptCheckInBody(aptOtherIMEI)), http.StatusUnprocessableEntity, "imei_mismatch")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || obj(errs[0])["field"] != "imei_mismatch_reason" {
		t.Fatalf("imei_mismatch names %v", p["errors"])
	}
	if status, _ := e.aptTicket(counter, "CI-0002"); status != "scheduled" {
		t.Fatalf("a refused check-in left the ticket %s", status)
	}
	body := aptCheckInBody(aptOtherIMEI)
	body["imei_mismatch_reason"] = "El cliente trajo el equipo de reemplazo"
	delete(body, "accessories")
	ci2 := wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id2+"/check-in", manager, body), http.StatusCreated)
	var reason, acc string
	e.DB.Raw("SELECT imei_mismatch_reason, accessories::text FROM repair_orders WHERE id = ?", ci2["repair_id"]).Row().Scan(&reason, &acc)
	if reason != "El cliente trajo el equipo de reemplazo" || acc != "[]" {
		t.Fatalf("repair order reason %q accessories %s", reason, acc)
	}

	// a check-in later on the day of the slot is still that day
	id3 := e.aptBooked(counter, "CI-0003", "CCS-01", aptAt(mon, 0, 9, 30))
	e.SetNow(aptAt(mon, 0, 16, 55))
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+id3+"/check-in", counter, aptCheckInBody(aptIMEI)), http.StatusCreated)
	if evs := aptTypes(e.aptEvents("CI-0003", 2)); !slices.Equal(evs, []string{"appointment.booked", "ticket.in_service"}) {
		t.Fatalf("events %v", evs)
	}
}

// TestWalkIn: a walk-in takes a free counter of the slot running now, and is refused
// when every counter is taken, when the centre is closed, or the ticket is booked.
func TestWalkIn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 8, 50))
	counter, admin := e.token(emailCounter), e.token(emailAdmin)
	for i := 1; i <= 8; i++ {
		e.aptRefer(fmt.Sprintf("WI-%04d", i), "CCS-01", mon.Add(-3*time.Hour))
	}
	// two customers are booked into 09:00
	booked1 := e.aptBooked(counter, "WI-0001", "CCS-01", aptAt(mon, 0, 9, 0))
	e.aptBooked(counter, "WI-0002", "CCS-01", aptAt(mon, 0, 9, 0))
	e.SetNow(mon) // 09:10, in the 09:00 slot
	walkIn := func(token, number string, body map[string]any) response {
		return e.do(http.MethodPost, "/api/v1/tickets/"+number+"/walk-in", token, body)
	}

	res := walkIn(counter, "WI-0003", aptCheckInBody(aptIMEI))
	w := wantStatus(t, res, http.StatusCreated)
	if w["walk_in"] != true || w["status"] != "checked_in" || str(w["repair_id"]) == "" || w["centre_code"] != "CCS-01" ||
		!aptTime(t, w["starts_at"]).Equal(aptAt(mon, 0, 9, 0)) || !aptTime(t, w["ends_at"]).Equal(aptAt(mon, 0, 9, 30)) {
		t.Fatalf("walk-in: %s", res.Body)
	}
	if status, ap := e.aptTicket(counter, "WI-0003"); status != "in_service" || ap["walk_in"] != true || ap["repair_id"] != w["repair_id"] {
		t.Fatalf("walk-in ticket: %s %v", status, ap)
	}
	// every counter of the running slot is taken now
	before := e.aptCount("SELECT count(*) FROM appointments")
	wantProblem(t, walkIn(counter, "WI-0004", aptCheckInBody(aptIMEI)), http.StatusConflict, "no_counter_free")
	if e.aptCount("SELECT count(*) FROM appointments") != before || e.aptCount("SELECT count(*) FROM repair_orders WHERE ticket_id = (SELECT id FROM tickets WHERE ticket_number = 'WI-0004')") != 0 {
		t.Fatal("a refused walk-in wrote rows")
	}
	if status, _ := e.aptTicket(counter, "WI-0004"); status != "referred" {
		t.Fatalf("refused walk-in ticket is %s", status)
	}
	// a no-show frees a counter for the walk-in
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+booked1+"/no-show", counter, nil), http.StatusOK)
	wantStatus(t, walkIn(counter, "WI-0004", aptCheckInBody(aptIMEI)), http.StatusCreated)
	_, slots := e.aptSlots(counter, "CCS-01", mon, mon, "")
	if _, ok := slots[aptRFC(aptAt(mon, 0, 9, 0))]; ok {
		t.Fatal("availability offers the slot already running")
	}
	if n := e.aptCount("SELECT booked FROM slots WHERE starts_at = ?", aptAt(mon, 0, 9, 0)); n != 3 {
		t.Fatalf("the running slot holds %d", n)
	}

	// a booked ticket is checked in through its appointment
	e.aptBooked(counter, "WI-0005", "CCS-01", aptAt(mon, 0, 10, 0))
	wantProblem(t, walkIn(counter, "WI-0005", aptCheckInBody(aptIMEI)), http.StatusConflict, "ticket_has_appointment")
	// a checked-in or cancelled ticket is not bookable
	wantProblem(t, walkIn(counter, "WI-0003", aptCheckInBody(aptIMEI)), http.StatusUnprocessableEntity, "ticket_not_bookable")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/WI-0006/cancel", e.CSMToken, map[string]any{"reason": "resuelto por teléfono"}), http.StatusOK)
	e.SetNow(aptAt(mon, 0, 9, 40))
	wantProblem(t, walkIn(counter, "WI-0006", aptCheckInBody(aptIMEI)), http.StatusUnprocessableEntity, "ticket_not_bookable")
	// another IMEI needs its reason here too
	wantProblem(t, walkIn(counter, "WI-0007", aptCheckInBody(aptOtherIMEI)), http.StatusUnprocessableEntity, "imei_mismatch")
	// admin has no centre of its own: it must say which
	p := wantProblem(t, walkIn(admin, "WI-0007", aptCheckInBody(aptIMEI)), http.StatusBadRequest, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || obj(errs[0])["field"] != "centre_code" {
		t.Fatalf("errors %v", p["errors"])
	}
	body := aptCheckInBody(aptIMEI)
	body["centre_code"] = "CCS-01"
	wantStatus(t, walkIn(admin, "WI-0007", body), http.StatusCreated)
	// staff walk customers in only at their own centre
	body["centre_code"] = "CCS-02"
	wantProblem(t, walkIn(counter, "WI-0008", body), http.StatusNotFound, "not_found")
	// tickets nobody has, or that cannot be
	wantProblem(t, walkIn(counter, "CSM-1999-0000001", aptCheckInBody(aptIMEI)), http.StatusNotFound, "not_found")
	wantProblem(t, walkIn(counter, "CSM%232026", aptCheckInBody(aptIMEI)), http.StatusNotFound, "not_found")
	// nor a ticket of another centre
	wantProblem(t, walkIn(counter, demoTicket(2), aptCheckInBody(aptIMEI)), http.StatusNotFound, "not_found")
	// outside the opening hours nobody walks in
	for _, now := range []time.Time{aptAt(mon, 0, 12, 10), aptAt(mon, 0, 17, 0), aptAt(mon, 0, 7, 59), aptAt(mon, 5, 12, 0), aptAt(mon, 6, 10, 0)} {
		e.SetNow(now)
		// a session lasts 12 hours: sign in again on the day
		tok := e.login(emailCounter, services.DemoPassword)
		wantProblem(t, walkIn(tok, "WI-0008", aptCheckInBody(aptIMEI)), http.StatusUnprocessableEntity, "centre_closed_now")
	}
	if evs := aptTypes(e.aptEvents("WI-0003", 1)); !slices.Equal(evs, []string{"ticket.in_service"}) {
		t.Fatalf("walk-in events %v", evs)
	}
}

// TestAgenda: the day's appointments by slot, with who is due, late, checked in, a
// no-show or cancelled.
func TestAgenda(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 8, 0))
	counter := e.token(emailCounter)
	for _, n := range []string{"AG-A", "AG-B", "AG-C", "AG-D", "AG-E", "AG-F"} {
		e.aptRefer(n, "CCS-01", mon.Add(-23*time.Hour))
	}
	e.aptBooked(counter, "AG-A", "CCS-01", aptAt(mon, 0, 9, 0))
	b := e.aptBooked(counter, "AG-B", "CCS-01", aptAt(mon, 0, 8, 30))
	e.aptBooked(counter, "AG-C", "CCS-01", aptAt(mon, 0, 10, 0))
	d := e.aptBooked(counter, "AG-D", "CCS-01", aptAt(mon, 0, 10, 0))
	e.aptBooked(counter, "AG-F", "CCS-01", aptAt(mon, 1, 8, 0))
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+d+"/cancel", counter, map[string]any{"reason": "x"}), http.StatusOK)
	e.SetNow(mon) // 09:10
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+b+"/no-show", counter, nil), http.StatusOK)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/tickets/AG-E/walk-in", counter, aptCheckInBody(aptIMEI)), http.StatusCreated)
	e.SetNow(aptAt(mon, 0, 9, 20))

	res := e.do(http.MethodGet, "/api/v1/centres/CCS-01/agenda?date="+aptDate(mon), counter, nil)
	body := wantStatus(t, res, http.StatusOK)
	if got := sortedKeys(body); !slices.Equal(got, []string{"centre_code", "date", "items"}) || body["centre_code"] != "CCS-01" || body["date"] != aptDate(mon) {
		t.Fatalf("agenda: %s", res.Body)
	}
	want := []struct{ number, attendance string }{
		{"AG-B", "no_show"}, {"AG-A", "late"}, {"AG-E", "checked_in"}, {"AG-C", "due"}, {"AG-D", "cancelled"},
	}
	list := items(t, body)
	if len(list) != len(want) {
		t.Fatalf("agenda has %d items: %s", len(list), res.Body)
	}
	for i, w := range want {
		it := list[i]
		if it["ticket_number"] != w.number || it["attendance"] != w.attendance {
			t.Errorf("item %d: %v %v, want %s %s", i, it["ticket_number"], it["attendance"], w.number, w.attendance)
		}
		if it["company"] != "Transportes Ávila C.A." || it["contact_name"] != "María Pérez" || it["device"] != "Samsung SM-A155M" ||
			it["sla_state"] != "at_risk" || it["centre_code"] != "CCS-01" || it["within_sla"] != true || str(it["sla_due_at"]) == "" {
			t.Errorf("item %d: %v", i, it)
		}
	}
	if str(list[2]["repair_id"]) == "" || list[2]["walk_in"] != true {
		t.Errorf("walk-in in the agenda: %v", list[2])
	}
	// the agenda shows the same fields as the OpenAPI AgendaEntry
	schema := obj(obj(obj(loadOpenAPI(t)["components"])["schemas"])["AgendaEntry"])
	for k := range list[2] {
		if obj(schema["properties"])[k] == nil {
			t.Errorf("agenda field %s is not documented", k)
		}
	}
	// another day
	next := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/agenda?date="+aptDate(aptAt(mon, 1, 0, 0)), counter, nil), http.StatusOK))
	if len(next) != 1 || next[0]["ticket_number"] != "AG-F" || next[0]["attendance"] != "due" {
		t.Fatalf("next day: %v", next)
	}
	empty := e.do(http.MethodGet, "/api/v1/centres/CCS-01/agenda?date="+aptDate(aptAt(mon, 6, 0, 0)), counter, nil)
	if wantStatus(t, empty, http.StatusOK); !bytes.Contains(empty.Body, []byte(`"items":[]`)) {
		t.Fatalf("empty day: %s", empty.Body)
	}
	// the other centre's staff are told it does not exist; CSM may not read agendas
	wantProblem(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/agenda?date="+aptDate(mon), e.token(emailCounter2), nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/agenda?date="+aptDate(mon), e.CSMToken, nil), http.StatusForbidden, "forbidden")
}

// TestAvailability: every slot not yet started with its places; for a ticket, which
// are within its deadline and, when this centre has none free in time, alternatives.
func TestAvailability(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	counter := e.token(emailCounter)

	body, slots := e.aptSlots(counter, "CCS-01", mon, mon, "")
	if body["centre_code"] != "CCS-01" || body["time_zone"] != "America/Caracas" || body["from"] != aptDate(mon) || body["to"] != aptDate(mon) {
		t.Fatalf("availability: %v", body)
	}
	for _, k := range []string{"ticket_number", "sla_due_at", "alternatives"} {
		if _, ok := body[k]; ok {
			t.Errorf("%s without a ticket: %v", k, body)
		}
	}
	// 09:00 has started; 09:30 … 11:30 and 13:00 … 16:30 remain
	var starts []string
	for _, s := range body["slots"].([]any) {
		sl := obj(s)
		starts = append(starts, aptTime(t, sl["starts_at"]).In(caracas).Format("15:04"))
		if sl["capacity"] != float64(3) || sl["booked"] != float64(0) || sl["available"] != float64(3) {
			t.Errorf("slot %v", sl)
		}
		if _, ok := sl["within_sla"]; ok {
			t.Errorf("within_sla without a ticket: %v", sl)
		}
		if !aptTime(t, sl["ends_at"]).Equal(aptTime(t, sl["starts_at"]).Add(30 * time.Minute)) {
			t.Errorf("slot %v is not 30 minutes", sl)
		}
	}
	wantStarts := []string{"09:30", "10:00", "10:30", "11:00", "11:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"}
	if !slices.Equal(starts, wantStarts) {
		t.Fatalf("slots %v, want %v", starts, wantStarts)
	}
	// a week: Monday's rest, four full weekdays, Saturday morning, no Sunday
	_, week := e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 6, 0, 0), "")
	if len(week) != 13+4*16+8 {
		t.Fatalf("a week has %d slots", len(week))
	}
	// CCS-02: 20-minute slots, two counters
	_, ccs02 := e.aptSlots(e.CSMToken, "CCS-02", aptAt(mon, 1, 0, 0), aptAt(mon, 1, 0, 0), "")
	if len(ccs02) != 24 || ccs02[aptRFC(aptAt(mon, 1, 8, 30))]["capacity"] != float64(2) || ccs02[aptRFC(aptAt(mon, 1, 16, 10))] == nil {
		t.Fatalf("CCS-02: %d slots %v", len(ccs02), ccs02[aptRFC(aptAt(mon, 1, 8, 30))])
	}
	// 31 days at most, closed days have no slots
	dec := time.Date(2026, 12, 24, 0, 0, 0, 0, caracas)
	_, closed := e.aptSlots(e.CSMToken, "CCS-01", dec, dec.AddDate(0, 0, 1), "")
	if len(closed) != 0 {
		t.Fatalf("closed days have %d slots", len(closed))
	}
	wantStatus(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/availability?from="+aptDate(mon)+"&to="+aptDate(mon.AddDate(0, 0, 30)), counter, nil), http.StatusOK)
	p := wantProblem(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/availability?from="+aptDate(mon)+"&to="+aptDate(mon.AddDate(0, 0, 31)), counter, nil), http.StatusBadRequest, "validation_failed")
	if obj(p["errors"].([]any)[0])["field"] != "to" {
		t.Fatalf("range: %v", p)
	}

	// a ticket due at 09:40 today: only 09:30 is in time here
	reported := aptAt(mon, -1, 9, 40)
	e.aptRefer("AV-0001", "CCS-01", reported)
	body, slots = e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 1, 0, 0), "AV-0001")
	if body["ticket_number"] != "AV-0001" || !aptTime(t, body["sla_due_at"]).Equal(reported.Add(24*time.Hour)) {
		t.Fatalf("for a ticket: %v", body)
	}
	for start, s := range slots {
		within := start == aptRFC(aptAt(mon, 0, 9, 30))
		if s["within_sla"] != within {
			t.Errorf("%s within_sla %v", start, s["within_sla"])
		}
	}
	if _, ok := body["alternatives"]; ok {
		t.Fatalf("alternatives while 09:30 is free: %v", body["alternatives"])
	}
	// the booking says the same
	e.aptRefer("AV-0002", "CCS-01", reported)
	late := wantStatus(t, e.aptBook(counter, "AV-0002", "CCS-01", aptAt(mon, 0, 10, 0)), http.StatusCreated)
	if late["within_sla"] != false {
		t.Fatalf("a booking after the deadline: %v", late)
	}
	// 09:30 fills up: CCS-02 has free slots in time
	for i := 3; i <= 5; i++ {
		n := fmt.Sprintf("AV-%04d", i)
		e.aptRefer(n, "CCS-01", reported)
		if a := wantStatus(t, e.aptBook(counter, n, "CCS-01", aptAt(mon, 0, 9, 30)), http.StatusCreated); a["within_sla"] != true {
			t.Fatalf("a booking in time: %v", a)
		}
	}
	body, _ = e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 1, 0, 0), "AV-0001")
	alts, _ := body["alternatives"].([]any)
	if len(alts) != 1 {
		t.Fatalf("alternatives: %v", body["alternatives"])
	}
	alt := obj(alts[0])
	start := aptTime(t, alt["starts_at"])
	if alt["centre_code"] != "CCS-02" || alt["centre_name"] != "Centro de Instalación Las Mercedes" || alt["available"] != float64(2) ||
		start.Before(mon) || start.After(reported.Add(24*time.Hour)) || !aptTime(t, alt["ends_at"]).Equal(start.Add(20*time.Minute)) {
		t.Fatalf("alternative: %v", alt)
	}
	// CSM books it there
	wantStatus(t, e.aptBook(e.CSMToken, "AV-0001", "CCS-02", start), http.StatusCreated)
	if _, ap := e.aptTicket(e.CSMToken, "AV-0001"); ap["centre_code"] != "CCS-02" || ap["within_sla"] != true {
		t.Fatalf("booked at the alternative: %v", ap)
	}
	// once the deadline has passed there is nothing to offer
	e.aptRefer("AV-0006", "CCS-01", aptAt(mon, -1, 8, 0))
	body, _ = e.aptSlots(counter, "CCS-01", mon, mon, "AV-0006")
	if _, ok := body["alternatives"]; ok {
		t.Fatalf("alternatives after the deadline: %v", body["alternatives"])
	}
	// another centre's ticket is not the CCS-02 counter's to ask about
	wantProblem(t, e.do(http.MethodGet, "/api/v1/centres/CCS-02/availability?from="+aptDate(mon)+"&to="+aptDate(mon)+"&ticket_number=AV-0006", e.token(emailCounter2), nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/availability?from="+aptDate(mon)+"&to="+aptDate(mon)+"&ticket_number=NOPE-1", counter, nil), http.StatusNotFound, "not_found")
}

// TestAvailabilityAlternativesNextDay: late in the day, with this centre full until a
// deadline early tomorrow, the other centre's slots tomorrow morning are offered.
func TestAvailabilityAlternativesNextDay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 16, 35))
	counter := e.token(emailCounter)
	// due tomorrow at 08:35: CCS-01 has 08:00 and 08:30 in time, CCS-02 08:30
	reported := aptAt(mon, 0, 8, 35)
	e.aptRefer("NX-0000", "CCS-01", reported)
	for i := 1; i <= 6; i++ {
		n := fmt.Sprintf("NX-%04d", i)
		e.aptRefer(n, "CCS-01", reported)
		e.aptBooked(counter, n, "CCS-01", aptAt(mon, 1, 8, (i-1)/3*30))
	}
	body, _ := e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 1, 0, 0), "NX-0000")
	alts, _ := body["alternatives"].([]any)
	if len(alts) != 1 || obj(alts[0])["centre_code"] != "CCS-02" || !aptTime(t, obj(alts[0])["starts_at"]).Equal(aptAt(mon, 1, 8, 30)) {
		t.Fatalf("alternatives: %v", body["alternatives"])
	}
}

// TestCSMCancelFreesAppointment: CSM cancelling a scheduled ticket cancels its
// appointment and frees the place at once.
func TestCSMCancelFreesAppointment(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	e.aptRefer("CX-0001", "", mon.Add(-time.Hour))
	id := e.aptBooked(e.CSMToken, "CX-0001", "CCS-02", aptAt(mon, 0, 10, 10))
	_, slots := e.aptSlots(e.CSMToken, "CCS-02", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 10, 10), 1, 1)
	if status, ap := e.aptTicket(e.CSMToken, "CX-0001"); status != "scheduled" || ap["centre_code"] != "CCS-02" {
		t.Fatalf("booked: %s %v", status, ap)
	}
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/CX-0001/cancel", e.CSMToken, map[string]any{"reason": "Resuelto por teléfono"}), http.StatusOK)
	_, slots = e.aptSlots(e.CSMToken, "CCS-02", mon, mon, "")
	aptSlot(t, slots, aptAt(mon, 0, 10, 10), 0, 2)
	a := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+id, e.CSMToken, nil), http.StatusOK)
	if a["status"] != "cancelled" || a["cancel_reason"] != "Resuelto por teléfono" {
		t.Fatalf("appointment of a cancelled ticket: %v", a)
	}
	status, ap := e.aptTicket(e.CSMToken, "CX-0001")
	if status != "cancelled" || ap["status"] != "cancelled" {
		t.Fatalf("ticket: %s %v", status, ap)
	}
	// it cannot be booked again, nor walked in
	wantProblem(t, e.aptBook(e.CSMToken, "CX-0001", "CCS-02", aptAt(mon, 0, 10, 10)), http.StatusUnprocessableEntity, "ticket_not_bookable")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/reschedule", e.CSMToken, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 10))}), http.StatusConflict, "appointment_not_booked")
	if n := e.aptCount("SELECT booked FROM slots WHERE starts_at = ?", aptAt(mon, 0, 10, 10)); n != 0 {
		t.Fatalf("slot still holds %d", n)
	}
}

// TestCountersBelowBookings: a centre's counters cannot go below what a slot still to
// come holds; the refusal names the slot, and a change resizes the slots.
func TestCountersBelowBookings(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	admin, counter := e.token(emailAdmin), e.token(emailCounter)
	var ids []string
	for i := 1; i <= 3; i++ {
		n := fmt.Sprintf("CB-%04d", i)
		e.aptRefer(n, "CCS-01", mon.Add(-time.Hour))
		ids = append(ids, e.aptBooked(counter, n, "CCS-01", aptAt(mon, 1, 10, 0)))
	}
	version := func() float64 {
		return wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/centres/CCS-01", admin, nil), http.StatusOK)["version"].(float64)
	}
	v := version()
	p := wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/centres/CCS-01", admin, map[string]any{"counters": 2, "version": v}), http.StatusConflict, "counters_below_bookings")
	slot := aptAt(mon, 1, 10, 0).UTC().Format(time.RFC3339)
	if !strings.Contains(str(p["detail"]), slot) {
		t.Fatalf("the refusal does not name %s: %v", slot, p["detail"])
	}
	if errs, _ := p["errors"].([]any); len(errs) != 1 || obj(errs[0])["field"] != "counters" || !strings.Contains(str(obj(errs[0])["message"]), slot) {
		t.Fatalf("errors %v", p["errors"])
	}
	if version() != v {
		t.Fatal("a refused edit changed the centre")
	}
	// more counters: every slot to come has more places
	wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/centres/CCS-01", admin, map[string]any{"counters": 4, "version": v}), http.StatusOK)
	_, slots := e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 1, 0, 0), "")
	aptSlot(t, slots, aptAt(mon, 1, 10, 0), 3, 1)
	aptSlot(t, slots, aptAt(mon, 1, 10, 30), 0, 4)
	e.aptRefer("CB-0004", "CCS-01", mon.Add(-time.Hour))
	e.aptBooked(counter, "CB-0004", "CCS-01", aptAt(mon, 1, 10, 0))
	// back to two once a place is freed in the fullest slot … not enough
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+ids[0]+"/cancel", counter, map[string]any{"reason": "x"}), http.StatusOK)
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/centres/CCS-01", admin, map[string]any{"counters": 2}, "If-Match", fmt.Sprintf(`"%d"`, int(version()))), http.StatusConflict, "counters_below_bookings")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+ids[1]+"/cancel", counter, map[string]any{"reason": "x"}), http.StatusOK)
	wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/centres/CCS-01", admin, map[string]any{"counters": 2, "version": version()}), http.StatusOK)
	_, slots = e.aptSlots(counter, "CCS-01", mon, aptAt(mon, 1, 0, 0), "")
	aptSlot(t, slots, aptAt(mon, 1, 10, 0), 2, 0)
	aptSlot(t, slots, aptAt(mon, 1, 11, 0), 0, 2)
	e.aptRefer("CB-0005", "CCS-01", mon.Add(-time.Hour))
	wantProblem(t, e.aptBook(counter, "CB-0005", "CCS-01", aptAt(mon, 1, 10, 0)), http.StatusConflict, "slot_full")
}

// TestBookingIdempotencyKey: the same booking with the same key replays the first 201
// and books nothing more.
func TestBookingIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	e.aptRefer("ID-0001", "CCS-01", mon.Add(-time.Hour))
	e.aptRefer("ID-0002", "CCS-01", mon.Add(-time.Hour))
	first := e.aptBook(e.CSMToken, "ID-0001", "CCS-01", aptAt(mon, 0, 10, 0), "Idempotency-Key", "book-1")
	wantStatus(t, first, http.StatusCreated)
	counts := func() [3]int64 {
		return [3]int64{e.aptCount("SELECT count(*) FROM appointments"), e.aptCount("SELECT COALESCE(sum(booked), 0) FROM slots"),
			e.aptCount("SELECT count(*) FROM csm_events")}
	}
	before := counts()
	again := e.aptBook(e.CSMToken, "ID-0001", "CCS-01", aptAt(mon, 0, 10, 0), "Idempotency-Key", "book-1")
	if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", again.Status, again.Header, again.Body)
	}
	if after := counts(); after != before {
		t.Fatalf("a replay changed rows: %v → %v", before, after)
	}
	// without the key it is a second booking of a scheduled ticket
	wantProblem(t, e.aptBook(e.CSMToken, "ID-0001", "CCS-01", aptAt(mon, 0, 10, 0)), http.StatusConflict, "ticket_has_appointment")
	// the key with another booking
	wantProblem(t, e.aptBook(e.CSMToken, "ID-0002", "CCS-01", aptAt(mon, 0, 10, 0), "Idempotency-Key", "book-1"), http.StatusUnprocessableEntity, "idempotency_key_reused")
	if after := counts(); after != before {
		t.Fatalf("refusals changed rows: %v → %v", before, after)
	}
	// a refused booking is replayed as refused, even once it would succeed
	for i := 3; i <= 5; i++ {
		n := fmt.Sprintf("ID-%04d", i)
		e.aptRefer(n, "CCS-01", mon.Add(-time.Hour))
		e.aptBooked(e.CSMToken, n, "CCS-01", aptAt(mon, 0, 11, 0))
	}
	full := e.aptBook(e.CSMToken, "ID-0002", "CCS-01", aptAt(mon, 0, 11, 0), "Idempotency-Key", "book-2")
	wantProblem(t, full, http.StatusConflict, "slot_full")
	var victim string
	e.DB.Raw("SELECT a.id FROM appointments a JOIN tickets t ON t.id = a.ticket_id WHERE t.ticket_number = 'ID-0003'").Scan(&victim)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/appointments/"+victim+"/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusOK)
	replayed := e.aptBook(e.CSMToken, "ID-0002", "CCS-01", aptAt(mon, 0, 11, 0), "Idempotency-Key", "book-2")
	if replayed.Status != http.StatusConflict || !bytes.Equal(replayed.Body, full.Body) {
		t.Fatalf("replayed refusal: %d %s", replayed.Status, replayed.Body)
	}
	wantStatus(t, e.aptBook(e.CSMToken, "ID-0002", "CCS-01", aptAt(mon, 0, 11, 0), "Idempotency-Key", "book-3"), http.StatusCreated)
}

// aptPost sends a request from any goroutine and returns its status and problem code.
func (e *testEnv) aptPost(path, token string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, e.HTTP.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(b, &p)
	return resp.StatusCode, p.Code, nil
}

// TestConcurrentBookings: simultaneous requests never overfill a slot nor give a
// ticket two appointments, and the losers are told why.
func TestConcurrentBookings(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	slot := aptAt(mon, 1, 10, 0)

	t.Run("FiftyTicketsOneSlot", func(t *testing.T) {
		const n = 50
		bodies := make([][]byte, n)
		for i := range bodies {
			num := fmt.Sprintf("RACE-%04d", i)
			e.aptRefer(num, "CCS-01", mon.Add(-time.Hour))
			bodies[i], _ = json.Marshal(map[string]any{"ticket_number": num, "centre_code": "CCS-01", "starts_at": aptRFC(slot)})
		}
		statuses, codes, errs := make([]int, n), make([]string, n), make([]error, n)
		together(n, func(i int) { statuses[i], codes[i], errs[i] = e.aptPost("/api/v1/appointments", e.CSMToken, bodies[i]) })
		created, full := 0, 0
		for i := range statuses {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch {
			case statuses[i] == http.StatusCreated:
				created++
			case statuses[i] == http.StatusConflict && codes[i] == "slot_full":
				full++
			default:
				t.Errorf("request %d: %d %s", i, statuses[i], codes[i])
			}
		}
		if created != 3 || full != 47 {
			t.Fatalf("%d created, %d slot_full; want 3 and 47", created, full)
		}
		if got := e.aptCount("SELECT count(*) FROM appointments WHERE starts_at = ? AND status = 'booked'", slot); got != 3 {
			t.Fatalf("%d appointments in the slot", got)
		}
		if got := e.aptCount("SELECT booked FROM slots WHERE starts_at = ?", slot); got != 3 {
			t.Fatalf("the slot counts %d", got)
		}
		if got := e.aptCount("SELECT count(*) FROM tickets WHERE ticket_number LIKE 'RACE-%' AND status = 'scheduled'"); got != 3 {
			t.Fatalf("%d tickets scheduled", got)
		}
		if got := e.aptCount("SELECT count(*) FROM csm_events WHERE type = 'appointment.booked' AND ticket_number LIKE 'RACE-%'"); got != 3 {
			t.Fatalf("%d booking events", got)
		}
		_, slots := e.aptSlots(e.CSMToken, "CCS-01", slot, slot, "")
		aptSlot(t, slots, slot, 3, 0)
	})

	t.Run("OneTicketEightSlots", func(t *testing.T) {
		const n = 8
		e.aptRefer("RACE-ONE", "CCS-01", mon.Add(-time.Hour))
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i], _ = json.Marshal(map[string]any{"ticket_number": "RACE-ONE", "centre_code": "CCS-01", "starts_at": aptRFC(aptAt(mon, 2, 8, 0).Add(time.Duration(i) * 30 * time.Minute))})
		}
		statuses, codes, errs := make([]int, n), make([]string, n), make([]error, n)
		together(n, func(i int) { statuses[i], codes[i], errs[i] = e.aptPost("/api/v1/appointments", e.CSMToken, bodies[i]) })
		created := 0
		for i := range statuses {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if statuses[i] == http.StatusCreated {
				created++
			} else if statuses[i] != http.StatusConflict || codes[i] != "ticket_has_appointment" {
				t.Errorf("request %d: %d %s", i, statuses[i], codes[i])
			}
		}
		if created != 1 {
			t.Fatalf("%d bookings of one ticket", created)
		}
		if got := e.aptCount("SELECT COALESCE(sum(booked), 0) FROM slots WHERE starts_at >= ? AND starts_at < ?", aptAt(mon, 2, 0, 0), aptAt(mon, 3, 0, 0)); got != 1 {
			t.Fatalf("the slots count %d places taken", got)
		}
	})

	t.Run("ReschedulesIntoLastPlace", func(t *testing.T) {
		last := aptAt(mon, 3, 10, 0)
		for i := 0; i < 2; i++ {
			num := fmt.Sprintf("RACE-LAST-%d", i)
			e.aptRefer(num, "CCS-01", mon.Add(-time.Hour))
			e.aptBooked(e.CSMToken, num, "CCS-01", last)
		}
		const n = 6
		ids := make([]string, n)
		olds := make([]time.Time, n)
		for i := range ids {
			num := fmt.Sprintf("RACE-MOVE-%d", i)
			e.aptRefer(num, "CCS-01", mon.Add(-time.Hour))
			olds[i] = aptAt(mon, 3, 13, 0).Add(time.Duration(i/3) * 30 * time.Minute)
			ids[i] = e.aptBooked(e.CSMToken, num, "CCS-01", olds[i])
		}
		body, _ := json.Marshal(map[string]any{"starts_at": aptRFC(last)})
		statuses, codes, errs := make([]int, n), make([]string, n), make([]error, n)
		together(n, func(i int) {
			statuses[i], codes[i], errs[i] = e.aptPost("/api/v1/appointments/"+ids[i]+"/reschedule", e.CSMToken, body)
		})
		moved := 0
		for i := range statuses {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			a := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+ids[i], e.CSMToken, nil), http.StatusOK)
			switch {
			case statuses[i] == http.StatusOK:
				moved++
				if !aptTime(t, a["starts_at"]).Equal(last) {
					t.Errorf("moved %d is at %v", i, a["starts_at"])
				}
			case statuses[i] == http.StatusConflict && codes[i] == "slot_full":
				if !aptTime(t, a["starts_at"]).Equal(olds[i]) || a["status"] != "booked" || a["version"] != float64(1) {
					t.Errorf("a refused move changed %d: %v", i, a)
				}
			default:
				t.Errorf("request %d: %d %s", i, statuses[i], codes[i])
			}
		}
		if moved != 1 {
			t.Fatalf("%d moves into the last place", moved)
		}
		_, slots := e.aptSlots(e.CSMToken, "CCS-01", last, last, "")
		aptSlot(t, slots, last, 3, 0)
		aptSlot(t, slots, aptAt(mon, 3, 13, 0), 3-aptOKAmong(statuses, 3), aptOKAmong(statuses, 3))
	})
}

// aptOKAmong counts the 200s among the first n statuses.
func aptOKAmong(statuses []int, n int) int {
	c := 0
	for _, s := range statuses[:n] {
		if s == http.StatusOK {
			c++
		}
	}
	return c
}

// TestAppointmentsOfAnotherCentre: the CCS-02 counter cannot see nor act on CCS-01's
// appointments, and cannot book CCS-01's tickets or its slots.
func TestAppointmentsOfAnotherCentre(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(mon)
	counter, other := e.token(emailCounter), e.token(emailCounter2)
	e.aptRefer("OC-0001", "CCS-01", mon.Add(-time.Hour))
	e.aptRefer("OC-0002", "CCS-01", mon.Add(-time.Hour))
	e.aptRefer("OC-0003", "", mon.Add(-time.Hour))
	id := e.aptBooked(counter, "OC-0001", "CCS-01", aptAt(mon, 0, 10, 0))
	none := "6f1c1b8e-0000-4000-8000-000000000000"
	for _, path := range []string{"", "/reschedule", "/cancel", "/no-show", "/check-in"} {
		method, body := http.MethodPost, any(map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 0)), "reason": "x"})
		switch path {
		case "":
			method, body = http.MethodGet, nil
		case "/reschedule":
			body = map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 0))}
		case "/cancel":
			body = map[string]any{"reason": "x"}
		case "/no-show":
			body = nil
		case "/check-in":
			body = aptCheckInBody(aptIMEI)
		}
		theirs := wantProblem(t, e.do(method, "/api/v1/appointments/"+id+path, other, body), http.StatusNotFound, "not_found")
		missing := wantProblem(t, e.do(method, "/api/v1/appointments/"+none+path, other, body), http.StatusNotFound, "not_found")
		if theirs["detail"] != missing["detail"] {
			t.Errorf("%s: another centre's appointment is distinguishable: %v / %v", path, theirs["detail"], missing["detail"])
		}
	}
	wantProblem(t, e.aptBook(other, "OC-0002", "CCS-02", aptAt(mon, 0, 10, 10)), http.StatusNotFound, "not_found")
	wantProblem(t, e.aptBook(other, "OC-0003", "CCS-01", aptAt(mon, 0, 10, 0)), http.StatusNotFound, "not_found")
	// an unassigned ticket is any centre's to book, and then it is that centre's
	wantStatus(t, e.aptBook(other, "OC-0003", "CCS-02", aptAt(mon, 0, 10, 10)), http.StatusCreated)
	wantProblem(t, e.do(http.MethodGet, "/api/v1/tickets/OC-0003", counter, nil), http.StatusNotFound, "not_found")
	a := wantStatus(t, e.do(http.MethodGet, "/api/v1/appointments/"+id, counter, nil), http.StatusOK)
	if a["version"] != float64(1) || a["status"] != "booked" {
		t.Fatalf("refused requests changed it: %v", a)
	}
	// the list of the agenda is sorted by slot
	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/centres/CCS-02/agenda?date="+aptDate(mon), other, nil), http.StatusOK))
	if len(list) != 1 || list[0]["ticket_number"] != "OC-0003" {
		t.Fatalf("CCS-02 agenda: %v", list)
	}
}
