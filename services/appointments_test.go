package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"centros/models"
	"centros/services"

	"gorm.io/gorm"
)

// ---------------------------------------------------------------------------
// Fixtures of the appointment tests.
//
// The clock starts on Monday 30 November 2026 at 07:00 in Caracas (11:00 UTC), an hour
// before the centres open (Monday to Friday 08:00-12:00 and 13:00-17:00, 30-minute slots,
// two counters, closed on 24 and 25 December). Tickets are reported two hours before, so
// every Monday slot is within their 24-hour deadline and Tuesday's are not.

var vet = func() *time.Location {
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		panic(err)
	}
	return loc
}()

// lt is a local time in Caracas.
func lt(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, vet) }

// mon and tue are times of Monday 30 November and Tuesday 1 December in Caracas.
func mon(h, m int) time.Time { return lt(time.November, 30, h, m) }
func tue(h, m int) time.Time { return lt(time.December, 1, h, m) }

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

const (
	ticketIMEI = "356938035643809" // the IMEI referral() gives every ticket
	otherIMEI  = "490154203237518"
)

type fx struct {
	*env
	o       *org
	appts   *services.Appointments
	counter models.Principal // a real counter user at CCS-01 (check-in records who)
}

func newFx(t *testing.T) *fx {
	t.Helper()
	e := newEnv(t)
	e.now = mon(7, 0).UTC()
	o := newOrg(t, e)
	u := newStaff(t, e, o, "mostrador@example.com", models.RoleCounter, "CCS-01", "")
	return &fx{env: e, o: o, appts: services.NewAppointments(e.deps),
		counter: models.Principal{UserID: u.ID, Name: u.Name, Email: u.Email, Role: models.RoleCounter, CentreID: o.ccs01.ID, CentreCode: "CCS-01"}}
}

func (f *fx) tech() models.Principal     { return at(models.RoleTechnician, f.o.ccs01) }
func (f *fx) manager() models.Principal  { return at(models.RoleCentreManager, f.o.ccs01) }
func (f *fx) counter2() models.Principal { return at(models.RoleCounter, f.o.ccs02) }
func (f *fx) wh() models.Principal       { return of(f.o.almCap, f.o.cap) }

// ticket refers a ticket to centre, reported two hours ago.
func (f *fx) ticket(t *testing.T, number, centre string) *models.Ticket {
	t.Helper()
	return f.refer(t, f.o, referral(number, f.now.Add(-2*time.Hour), centre))
}

func (f *fx) book(p models.Principal, number, centre string, at time.Time) (*models.Appointment, error) {
	return f.appts.Book(context.Background(), p, models.BookInput{TicketNumber: number, CentreCode: centre, StartsAt: rfc(at)})
}

// booked refers a new ticket to CCS-01 and books it there at at, as CSM.
func (f *fx) booked(t *testing.T, number string, at time.Time) *models.Appointment {
	t.Helper()
	return f.bookedAt(t, number, "CCS-01", at)
}

func (f *fx) bookedAt(t *testing.T, number, centre string, at time.Time) *models.Appointment {
	t.Helper()
	f.ticket(t, number, centre)
	a, err := f.book(f.o.csm, number, centre, at)
	if err != nil {
		t.Fatalf("book %s at %v: %v", number, at, err)
	}
	return a
}

func checkIn(imei string) models.CheckInInput {
	return models.CheckInInput{ReceivedIMEI: imei, Condition: " Pantalla rayada, enciende ", Accessories: []string{"cargador", "estuche"}}
}

// slot returns the booked count and capacity of a slot row, or -1, -1 when it has none.
func (f *fx) slot(t *testing.T, centreID string, at time.Time) (booked, capacity int) {
	t.Helper()
	var rows []struct{ Booked, Capacity int }
	if err := f.deps.DB.Raw("SELECT booked, capacity FROM slots WHERE centre_id = ? AND starts_at = ?", centreID, at).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return -1, -1
	}
	return rows[0].Booked, rows[0].Capacity
}

func (f *fx) wantSlot(t *testing.T, centreID string, at time.Time, booked, capacity int) {
	t.Helper()
	b, c := f.slot(t, centreID, at)
	if b != booked || c != capacity {
		t.Fatalf("slot %v: booked %d capacity %d, want %d/%d", at.In(vet), b, c, booked, capacity)
	}
}

// slotState is every slot row, to compare before and after a refused change.
func (f *fx) slotState(t *testing.T) map[string]string {
	t.Helper()
	var rows []struct {
		CentreID string
		StartsAt time.Time
		Booked   int
		Capacity int
	}
	if err := f.deps.DB.Raw("SELECT centre_id::text, starts_at, booked, capacity FROM slots").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.CentreID+"@"+r.StartsAt.UTC().Format(time.RFC3339)] = fmt.Sprintf("%d/%d", r.Booked, r.Capacity)
	}
	return out
}

// invariant checks, in SQL, what the database must hold whatever happened: every slot
// holds exactly its active appointments and no more than its capacity, and no ticket has
// two active appointments.
func (f *fx) invariant(t *testing.T) {
	t.Helper()
	var bad []struct {
		StartsAt time.Time
		Booked   int
		Capacity int
		Active   int
	}
	err := f.deps.DB.Raw(`SELECT s.starts_at, s.booked, s.capacity,
			(SELECT count(*) FROM appointments a WHERE a.centre_id = s.centre_id AND a.starts_at = s.starts_at
				AND a.status IN ('booked', 'checked_in')) AS active
		FROM slots s`).Scan(&bad).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bad {
		if r.Booked != r.Active || r.Booked > r.Capacity {
			t.Errorf("slot %v: booked %d, active appointments %d, capacity %d", r.StartsAt, r.Booked, r.Active, r.Capacity)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM (SELECT ticket_id FROM appointments WHERE status IN ('booked', 'checked_in')
		GROUP BY ticket_id HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d tickets with more than one active appointment", n)
	}
	if n := f.count(t, `SELECT count(*) FROM appointments a WHERE status IN ('booked', 'checked_in')
		AND NOT EXISTS (SELECT FROM slots s WHERE s.centre_id = a.centre_id AND s.starts_at = a.starts_at)`); n != 0 {
		t.Errorf("%d active appointments without a slot row", n)
	}
}

type event struct {
	Type string
	Data map[string]any
}

func (f *fx) events(t *testing.T, number string) []event {
	t.Helper()
	var rows []struct {
		Type string
		Data string
	}
	if err := f.deps.DB.Raw("SELECT type, data::text AS data FROM csm_events WHERE ticket_number = ? ORDER BY position", number).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]event, len(rows))
	for i, r := range rows {
		out[i].Type = r.Type
		if err := json.Unmarshal([]byte(r.Data), &out[i].Data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (f *fx) lastEvent(t *testing.T, number string) event {
	t.Helper()
	evs := f.events(t, number)
	if len(evs) == 0 {
		t.Fatalf("no event for %s", number)
	}
	return evs[len(evs)-1]
}

// wantTime fails unless v (a JSON time) is the instant want.
func wantTime(t *testing.T, what string, v any, want time.Time) {
	t.Helper()
	s, _ := v.(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, v, want.UTC())
	}
}

// stored reads an appointment as the database holds it.
func (f *fx) stored(t *testing.T, id string) models.Appointment {
	t.Helper()
	var a models.Appointment
	if err := f.deps.DB.Table("appointments").Where("id = ?", id).Take(&a).Error; err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fx) getTicket(t *testing.T, number string) *models.Ticket {
	t.Helper()
	tk, err := f.tickets.Get(context.Background(), f.o.admin, number)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// snapshot is what a refused operation must leave as it was.
type snapshot struct {
	slots   map[string]string
	repairs int64
	events  int64
	audits  int64
	tickets string
}

// held is how many places a slot held in the snapshot.
func (s snapshot) held(centreID string, at time.Time) int {
	var n int
	if v, ok := s.slots[centreID+"@"+at.UTC().Format(time.RFC3339)]; ok {
		fmt.Sscanf(v, "%d/", &n)
	}
	return n
}

func (f *fx) snap(t *testing.T) snapshot {
	t.Helper()
	var tickets []string
	if err := f.deps.DB.Raw("SELECT ticket_number || ':' || status || ':' || version FROM tickets ORDER BY ticket_number").Scan(&tickets).Error; err != nil {
		t.Fatal(err)
	}
	var appts []string
	if err := f.deps.DB.Raw("SELECT id || status || version || starts_at::text FROM appointments ORDER BY id").Scan(&appts).Error; err != nil {
		t.Fatal(err)
	}
	return snapshot{slots: f.slotState(t),
		repairs: f.count(t, "SELECT count(*) FROM repair_orders"), events: f.count(t, "SELECT count(*) FROM csm_events"),
		audits: f.count(t, "SELECT count(*) FROM audit_log"), tickets: strings.Join(tickets, ",") + "|" + strings.Join(appts, ",")}
}

func (f *fx) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	after := f.snap(t)
	if fmt.Sprint(after.slots) != fmt.Sprint(before.slots) {
		t.Errorf("slots changed: %v → %v", before.slots, after.slots)
	}
	if after.tickets != before.tickets {
		t.Errorf("tickets or appointments changed:\n%s\n%s", before.tickets, after.tickets)
	}
	if after.repairs != before.repairs || after.events != before.events || after.audits != before.audits {
		t.Errorf("repairs/events/audits %d/%d/%d → %d/%d/%d", before.repairs, before.events, before.audits,
			after.repairs, after.events, after.audits)
	}
}

// ---------------------------------------------------------------------------
// Book

func TestBook(t *testing.T) {
	const number = "CSM-2026-0010001"
	tests := []struct {
		name       string
		setup      func(t *testing.T, f *fx)
		who        func(f *fx) models.Principal // CSM unless set
		unassigned bool                         // the ticket names no centre
		number     string
		centre     string
		at         time.Time
		startsAt   string // overrides at
		wantKind   models.ErrorKind
		wantCode   string
		field      string
		wantCentre string // the centre the ticket ends up at, CCS-01 unless set
	}{
		{name: "ByCSM"},
		{name: "ByCounter", who: func(f *fx) models.Principal { return f.counter }},
		{name: "ByCentreManager", who: func(f *fx) models.Principal { return f.manager() }},
		{name: "ByAdmin", who: func(f *fx) models.Principal { return f.o.admin }},
		{name: "LastSlotOfTheDay", at: mon(16, 30)},
		{name: "FirstSlotAfterLunch", at: mon(13, 0)},
		{name: "GivenInUTC", startsAt: "2026-11-30T12:00:00Z"},
		{name: "CSMAtAnotherCentreMovesTheTicket", centre: "CCS-02", wantCentre: "CCS-02"},
		{name: "UnassignedTicketAtTheCounter", unassigned: true, centre: "CCS-02", wantCentre: "CCS-02",
			who: func(f *fx) models.Principal { return f.counter2() }},
		{name: "TechnicianForbidden", who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "WarehouseForbidden", who: func(f *fx) models.Principal { return f.wh() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "NobodyUnauthenticated", who: func(f *fx) models.Principal { return models.Principal{} }, wantKind: models.KindUnauthenticated, wantCode: "unauthenticated"},
		{name: "SlotFull", setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0010101", mon(8, 0))
			f.booked(t, "CSM-2026-0010102", mon(8, 0))
		}, wantKind: models.KindConflict, wantCode: "slot_full"},
		{name: "TicketHasAppointment", setup: func(t *testing.T, f *fx) {
			if _, err := f.book(f.o.csm, number, "CCS-01", mon(9, 0)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "ticket_has_appointment"},
		{name: "TicketHasAppointmentAtAnotherCentre", setup: func(t *testing.T, f *fx) {
			if _, err := f.book(f.o.csm, number, "CCS-02", mon(9, 0)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "ticket_has_appointment"},
		{name: "LunchBreak", at: mon(12, 30), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "BeforeOpening", at: mon(7, 30), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "AtClosing", at: mon(17, 0), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "Saturday", at: lt(time.December, 5, 8, 0), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "ClosedDay", at: lt(time.December, 24, 8, 0), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "EightUTCIsFourInCaracas", startsAt: "2026-11-30T08:00:00Z", wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "NotASlotStart", at: mon(8, 15), wantKind: models.KindUnprocessable, wantCode: "not_a_slot_start"},
		{name: "NotASlotStartBySeconds", startsAt: "2026-11-30T08:00:01-04:00", wantKind: models.KindUnprocessable, wantCode: "not_a_slot_start"},
		{name: "InThePast", at: lt(time.November, 27, 8, 0), wantKind: models.KindUnprocessable, wantCode: "in_the_past"},
		{name: "SlotAlreadyStarted", setup: func(t *testing.T, f *fx) { f.now = mon(8, 10).UTC() },
			at: mon(8, 0), wantKind: models.KindUnprocessable, wantCode: "in_the_past"},
		{name: "TicketInService", setup: func(t *testing.T, f *fx) { f.setStatus(t, number, models.TicketInService) },
			wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "TicketResolved", setup: func(t *testing.T, f *fx) { f.setStatus(t, number, models.TicketResolved) },
			wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "TicketClosed", setup: func(t *testing.T, f *fx) { f.setStatus(t, number, models.TicketClosed) },
			wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "TicketCancelled", setup: func(t *testing.T, f *fx) {
			if _, err := f.tickets.Cancel(context.Background(), f.o.csm, number, "ya no"); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "UnknownTicket", number: "CSM-2026-9999999", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "MalformedTicketNumber", number: "CSM 1; DROP", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "UnknownCentre", centre: "NOPE-01", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "CentreOfOtherStaff", centre: "CCS-02", who: func(f *fx) models.Principal { return f.counter },
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "TicketOfAnotherCentre", centre: "CCS-02", who: func(f *fx) models.Principal { return f.counter2() },
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "BadStartsAt", startsAt: "lunes a las 8", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "starts_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			ticketCentre := "CCS-01"
			if tc.unassigned {
				ticketCentre = ""
			}
			tk := f.ticket(t, number, ticketCentre)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			p := f.o.csm
			if tc.who != nil {
				p = tc.who(f)
			}
			num, centre, at := number, "CCS-01", mon(8, 0)
			if tc.number != "" {
				num = tc.number
			}
			if tc.centre != "" {
				centre = tc.centre
			}
			if !tc.at.IsZero() {
				at = tc.at
			}
			in := models.BookInput{TicketNumber: num, CentreCode: centre, StartsAt: rfc(at)}
			if tc.startsAt != "" {
				in.StartsAt = tc.startsAt
				at, _ = time.Parse(time.RFC3339, tc.startsAt)
			}
			before := f.snap(t)
			before1 := f.getTicket(t, number)
			a, err := f.appts.Book(ctx, p, in)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				if a != nil {
					t.Fatalf("refused booking returned %+v", a)
				}
				f.unchanged(t, before)
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantCentre := "CCS-01"
			if tc.wantCentre != "" {
				wantCentre = tc.wantCentre
			}
			due := tk.ReportedAt.Add(24 * time.Hour)
			if a.ID == "" || a.Status != models.AppointmentBooked || a.Version != 1 || a.WalkIn || a.TicketNumber != number ||
				a.CentreCode != centre || !a.StartsAt.Equal(at) || !a.EndsAt.Equal(at.Add(30*time.Minute)) ||
				!a.SLADueAt.Equal(due) || !a.WithinSLA || a.RepairID != nil {
				t.Fatalf("appointment %+v", a)
			}
			got, err := f.appts.Get(ctx, f.o.admin, a.ID)
			if err != nil || got.Status != models.AppointmentBooked || !got.StartsAt.Equal(at) || got.CentreCode != centre || got.TicketNumber != number {
				t.Fatalf("get %+v %v", got, err)
			}
			after := f.getTicket(t, number)
			if after.Status != models.TicketScheduled || after.Version != before1.Version+1 || after.CentreCode == nil || *after.CentreCode != wantCentre {
				t.Fatalf("ticket %s v%d centre %v", after.Status, after.Version, after.CentreCode)
			}
			if after.Appointment == nil || after.Appointment.ID != a.ID || after.Appointment.Status != models.AppointmentBooked ||
				after.Appointment.CentreCode != centre || !after.Appointment.WithinSLA {
				t.Fatalf("ticket's appointment %+v", after.Appointment)
			}
			centreID := f.o.ccs01.ID
			if centre == "CCS-02" {
				centreID = f.o.ccs02.ID
			}
			f.wantSlot(t, centreID, at, 1, 2)
			rows := f.audits(t, "appointment", a.ID)
			if len(rows) != 1 || rows[0].Action != "book" || rows[0].CentreID == nil || *rows[0].CentreID != centreID || rows[0].Before != nil {
				t.Fatalf("audit %+v", rows)
			}
			if decodeJSON(t, rows[0].After)["status"] != "booked" {
				t.Fatalf("audit after %s", *rows[0].After)
			}
			ev := f.lastEvent(t, number)
			if ev.Type != "appointment.booked" || ev.Data["centre"] != centre || ev.Data["appointment_id"] != a.ID || ev.Data["within_sla"] != true {
				t.Fatalf("event %+v", ev)
			}
			wantTime(t, "starts_at", ev.Data["starts_at"], at)
			wantTime(t, "ends_at", ev.Data["ends_at"], at.Add(30*time.Minute))
			f.invariant(t)
		})
	}
}

func TestBookWithinSLA(t *testing.T) {
	// Reported Sunday 09:00 in Caracas: the deadline is Monday 09:00.
	reported := lt(time.November, 29, 9, 0)
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"WellBefore", mon(8, 0), true},
		{"SlotBeforeTheDeadline", mon(8, 30), true},
		{"SlotStartingAtTheDeadline", mon(9, 0), true},
		{"SlotAfterTheDeadline", mon(9, 30), false},
		{"NextDay", tue(8, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			const number = "CSM-2026-0010002"
			f.refer(t, f.o, referral(number, reported, "CCS-01"))
			a, err := f.book(f.o.csm, number, "CCS-01", tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if a.WithinSLA != tc.want || !a.SLADueAt.Equal(mon(9, 0)) {
				t.Fatalf("within_sla %v due %v, want %v due %v", a.WithinSLA, a.SLADueAt, tc.want, mon(9, 0))
			}
			if ev := f.lastEvent(t, number); ev.Data["within_sla"] != tc.want {
				t.Fatalf("event within_sla %v", ev.Data["within_sla"])
			}
			if tk := f.getTicket(t, number); tk.Appointment == nil || tk.Appointment.WithinSLA != tc.want || !tk.Appointment.SLADueAt.Equal(mon(9, 0)) {
				t.Fatalf("ticket's appointment %+v", tk.Appointment)
			}
			if got, _ := f.appts.Get(context.Background(), f.o.csm, a.ID); got.WithinSLA != tc.want {
				t.Fatalf("get within_sla %v", got.WithinSLA)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Reschedule

func TestReschedule(t *testing.T) {
	const number = "CSM-2026-0020001"
	ver := func(v int) *int { return &v }
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *fx, a *models.Appointment)
		who      func(f *fx) models.Principal // the counter unless set
		id       string
		to       time.Time
		startsAt string
		version  *int
		wantKind models.ErrorKind
		wantCode string
		field    string
		noChange bool // succeeds without changing anything
		wantSLA  bool
	}{
		{name: "Moves", to: mon(10, 0), wantSLA: true},
		{name: "MovesWithCurrentVersion", to: mon(10, 0), version: ver(1), wantSLA: true},
		{name: "ByCSM", to: mon(10, 0), who: func(f *fx) models.Principal { return f.o.csm }, wantSLA: true},
		{name: "ByManager", to: mon(10, 0), who: func(f *fx) models.Principal { return f.manager() }, wantSLA: true},
		{name: "ToTheLastFreePlace", to: mon(10, 0), wantSLA: true, setup: func(t *testing.T, f *fx, _ *models.Appointment) {
			f.booked(t, "CSM-2026-0020101", mon(10, 0))
		}},
		{name: "ToTheNextDayAfterTheDeadline", to: tue(8, 0), wantSLA: false},
		{name: "NewSlotFull", to: mon(10, 0), setup: func(t *testing.T, f *fx, _ *models.Appointment) {
			f.booked(t, "CSM-2026-0020101", mon(10, 0))
			f.booked(t, "CSM-2026-0020102", mon(10, 0))
		}, wantKind: models.KindConflict, wantCode: "slot_full"},
		{name: "SameSlot", to: mon(8, 0), noChange: true},
		{name: "SameSlotWrittenInUTC", startsAt: "2026-11-30T12:00:00Z", noChange: true},
		{name: "StaleVersion", to: mon(10, 0), version: ver(1), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			if _, err := f.appts.Reschedule(context.Background(), f.o.csm, a.ID, models.RescheduleInput{StartsAt: rfc(mon(9, 0))}); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "version_conflict"},
		{name: "FutureVersion", to: mon(10, 0), version: ver(2), wantKind: models.KindConflict, wantCode: "version_conflict"},
		{name: "Cancelled", to: mon(10, 0), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			if _, err := f.appts.Cancel(context.Background(), f.o.csm, a.ID, "no puede"); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "CheckedIn", to: mon(10, 0), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 5).UTC()
			if _, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "NoShow", to: mon(10, 0), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 20).UTC()
			if _, err := f.appts.NoShow(context.Background(), f.counter, a.ID); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "LunchBreak", to: mon(12, 0), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "ClosedDay", to: lt(time.December, 25, 9, 0), wantKind: models.KindUnprocessable, wantCode: "outside_opening_hours"},
		{name: "NotASlotStart", to: mon(10, 10), wantKind: models.KindUnprocessable, wantCode: "not_a_slot_start"},
		{name: "InThePast", to: lt(time.November, 27, 10, 0), wantKind: models.KindUnprocessable, wantCode: "in_the_past"},
		{name: "BadStartsAt", startsAt: "2026-11-30 10:00", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "starts_at"},
		{name: "TechnicianForbidden", to: mon(10, 0), who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "WarehouseForbidden", to: mon(10, 0), who: func(f *fx) models.Principal { return f.wh() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "OtherCentresCounter", to: mon(10, 0), who: func(f *fx) models.Principal { return f.counter2() }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "UnknownAppointment", to: mon(10, 0), id: "6f1c1c8e-2b6b-4a57-9d55-0d6f1d3b9e10", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "MalformedID", to: mon(10, 0), id: "1; DROP TABLE slots", wantKind: models.KindNotFound, wantCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			a := f.booked(t, number, mon(8, 0))
			if tc.setup != nil {
				tc.setup(t, f, a)
			}
			p := f.counter
			if tc.who != nil {
				p = tc.who(f)
			}
			id := a.ID
			if tc.id != "" {
				id = tc.id
			}
			in := models.RescheduleInput{StartsAt: rfc(tc.to), Version: tc.version}
			to := tc.to
			if tc.startsAt != "" {
				in.StartsAt = tc.startsAt
				to, _ = time.Parse(time.RFC3339, tc.startsAt)
			}
			was := f.stored(t, a.ID)
			before := f.snap(t)
			got, err := f.appts.Reschedule(ctx, p, id, in)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				f.unchanged(t, before)
				if now := f.stored(t, a.ID); !now.StartsAt.Equal(was.StartsAt) || now.Version != was.Version || now.Status != was.Status {
					t.Fatalf("refused reschedule changed the appointment: %+v → %+v", was, now)
				}
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.noChange {
				if got.Version != 1 || !got.StartsAt.Equal(mon(8, 0)) || got.Status != models.AppointmentBooked {
					t.Fatalf("same slot changed the appointment: %+v", got)
				}
				f.unchanged(t, before)
				return
			}
			if got.ID != a.ID || got.Version != 2 || got.Status != models.AppointmentBooked || !got.StartsAt.Equal(to) ||
				!got.EndsAt.Equal(to.Add(30*time.Minute)) || got.WithinSLA != tc.wantSLA || got.TicketNumber != number || got.CentreCode != "CCS-01" {
				t.Fatalf("rescheduled %+v", got)
			}
			if s := f.stored(t, a.ID); !s.StartsAt.Equal(to) || s.Version != 2 {
				t.Fatalf("stored %+v", s)
			}
			b, c := f.slot(t, f.o.ccs01.ID, mon(8, 0))
			if b != 0 || c != 2 {
				t.Fatalf("old slot %d/%d after the move", b, c)
			}
			f.wantSlot(t, f.o.ccs01.ID, to, before.held(f.o.ccs01.ID, to)+1, 2)
			if tk := f.getTicket(t, number); tk.Status != models.TicketScheduled || tk.Appointment == nil || !tk.Appointment.StartsAt.Equal(to) {
				t.Fatalf("ticket %s appointment %+v", tk.Status, tk.Appointment)
			}
			ev := f.lastEvent(t, number)
			if ev.Type != "appointment.rescheduled" || ev.Data["appointment_id"] != a.ID || ev.Data["centre"] != "CCS-01" || ev.Data["within_sla"] != tc.wantSLA {
				t.Fatalf("event %+v", ev)
			}
			wantTime(t, "starts_at", ev.Data["starts_at"], to)
			wantTime(t, "ends_at", ev.Data["ends_at"], to.Add(30*time.Minute))
			wantTime(t, "previous_starts_at", ev.Data["previous_starts_at"], mon(8, 0))
			rows := f.audits(t, "appointment", a.ID)
			last := rows[len(rows)-1]
			if last.Action != "reschedule" {
				t.Fatalf("audit %+v", last)
			}
			wantTime(t, "audit before starts_at", decodeJSON(t, last.Before)["starts_at"], mon(8, 0))
			wantTime(t, "audit after starts_at", decodeJSON(t, last.After)["starts_at"], to)
			f.invariant(t)
		})
	}
}

// The slot counts follow a move exactly: the old place is free for someone else at once.
func TestRescheduleFreesTheOldPlace(t *testing.T) {
	f := newFx(t)
	a := f.booked(t, "CSM-2026-0020201", mon(8, 0))
	f.booked(t, "CSM-2026-0020202", mon(8, 0))
	f.booked(t, "CSM-2026-0020203", mon(9, 0))
	f.ticket(t, "CSM-2026-0020204", "CCS-01")
	if _, err := f.book(f.o.csm, "CSM-2026-0020204", "CCS-01", mon(8, 0)); models.ErrorCode(err) != "slot_full" {
		t.Fatalf("full slot: %v", err)
	}
	if _, err := f.appts.Reschedule(context.Background(), f.counter, a.ID, models.RescheduleInput{StartsAt: rfc(mon(9, 0))}); err != nil {
		t.Fatal(err)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 2)
	f.wantSlot(t, f.o.ccs01.ID, mon(9, 0), 2, 2)
	if _, err := f.book(f.o.csm, "CSM-2026-0020204", "CCS-01", mon(8, 0)); err != nil {
		t.Fatalf("the freed place: %v", err)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 2, 2)
	f.invariant(t)
}

// ---------------------------------------------------------------------------
// Cancel

func TestCancelAppointment(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	a := f.booked(t, "CSM-2026-0030001", mon(8, 0))
	f.booked(t, "CSM-2026-0030002", mon(8, 0))
	f.ticket(t, "CSM-2026-0030003", "CCS-01")
	if _, err := f.book(f.o.csm, "CSM-2026-0030003", "CCS-01", mon(8, 0)); models.ErrorCode(err) != "slot_full" {
		t.Fatalf("full slot: %v", err)
	}
	tkBefore := f.getTicket(t, "CSM-2026-0030001")
	f.now = f.now.Add(5 * time.Minute)
	got, err := f.appts.Cancel(ctx, f.counter, a.ID, "  el cliente no puede venir ")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != models.AppointmentCancelled || got.Version != 2 || got.CancelReason == nil || *got.CancelReason != "el cliente no puede venir" ||
		got.CancelledAt == nil || !got.CancelledAt.Equal(f.now) {
		t.Fatalf("cancelled %+v", got)
	}
	// The place is free at once: the third ticket takes it.
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 2)
	if _, err := f.book(f.o.csm, "CSM-2026-0030003", "CCS-01", mon(8, 0)); err != nil {
		t.Fatalf("the freed place: %v", err)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 2, 2)
	tk := f.getTicket(t, "CSM-2026-0030001")
	if tk.Status != models.TicketReferred || tk.Version != tkBefore.Version+1 {
		t.Fatalf("ticket %s v%d", tk.Status, tk.Version)
	}
	if tk.Appointment == nil || tk.Appointment.ID != a.ID || tk.Appointment.Status != models.AppointmentCancelled {
		t.Fatalf("ticket's latest appointment %+v", tk.Appointment)
	}
	ev := f.lastEvent(t, "CSM-2026-0030001")
	if ev.Type != "appointment.cancelled" || ev.Data["appointment_id"] != a.ID || ev.Data["reason"] != "el cliente no puede venir" || ev.Data["centre"] != "CCS-01" {
		t.Fatalf("event %+v", ev)
	}
	wantTime(t, "starts_at", ev.Data["starts_at"], mon(8, 0))
	if rows := f.audits(t, "appointment", a.ID); len(rows) != 2 || rows[1].Action != "cancel" {
		t.Fatalf("audit %+v", rows)
	}
	// Cancelling again changes nothing.
	before := f.snap(t)
	again, err := f.appts.Cancel(ctx, f.o.csm, a.ID, "otra vez")
	if err != nil || again.Status != models.AppointmentCancelled || again.Version != 2 || *again.CancelReason != "el cliente no puede venir" {
		t.Fatalf("second cancel %+v %v", again, err)
	}
	f.unchanged(t, before)
	// The ticket can be booked again.
	b, err := f.book(f.o.csm, "CSM-2026-0030001", "CCS-01", mon(9, 0))
	if err != nil || b.ID == a.ID {
		t.Fatalf("book again: %+v %v", b, err)
	}
	f.invariant(t)
}

func TestCancelAppointmentRefused(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *fx, a *models.Appointment)
		who      func(f *fx) models.Principal
		id       string
		wantKind models.ErrorKind
		wantCode string
	}{
		{name: "CheckedIn", setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 5).UTC()
			if _, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "NoShow", setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 20).UTC()
			if _, err := f.appts.NoShow(context.Background(), f.counter, a.ID); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "TechnicianForbidden", who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "WarehouseForbidden", who: func(f *fx) models.Principal { return f.wh() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "OtherCentresCounter", who: func(f *fx) models.Principal { return f.counter2() }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "UnknownAppointment", id: "6f1c1c8e-2b6b-4a57-9d55-0d6f1d3b9e10", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "MalformedID", id: "nope", wantKind: models.KindNotFound, wantCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			a := f.booked(t, "CSM-2026-0030101", mon(8, 0))
			if tc.setup != nil {
				tc.setup(t, f, a)
			}
			p, id := f.counter, a.ID
			if tc.who != nil {
				p = tc.who(f)
			}
			if tc.id != "" {
				id = tc.id
			}
			before := f.snap(t)
			_, err := f.appts.Cancel(context.Background(), p, id, "razón")
			wantErr(t, err, tc.wantKind, tc.wantCode)
			f.unchanged(t, before)
			f.invariant(t)
		})
	}
}

// ---------------------------------------------------------------------------
// No-show

func TestNoShow(t *testing.T) {
	const number = "CSM-2026-0040001"
	tests := []struct {
		name     string
		now      time.Time
		setup    func(t *testing.T, f *fx, a *models.Appointment)
		who      func(f *fx) models.Principal
		wantKind models.ErrorKind
		wantCode string
	}{
		{name: "BeforeTheSlotStarts", now: mon(7, 59), wantKind: models.KindUnprocessable, wantCode: "slot_not_started"},
		{name: "DayBefore", now: lt(time.November, 29, 9, 0), wantKind: models.KindUnprocessable, wantCode: "slot_not_started"},
		{name: "AsTheSlotStarts", now: mon(8, 0)},
		{name: "DuringTheSlot", now: mon(8, 20)},
		{name: "AfterTheSlot", now: mon(11, 0)},
		{name: "NextDay", now: tue(9, 0)},
		{name: "ByManager", now: mon(8, 20), who: func(f *fx) models.Principal { return f.manager() }},
		{name: "Cancelled", now: mon(8, 20), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			if _, err := f.appts.Cancel(context.Background(), f.o.csm, a.ID, "no viene"); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "CheckedIn", now: mon(8, 20), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 5).UTC()
			if _, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "CSMForbidden", now: mon(8, 20), who: func(f *fx) models.Principal { return f.o.csm }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "TechnicianForbidden", now: mon(8, 20), who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "OtherCentresCounter", now: mon(8, 20), who: func(f *fx) models.Principal { return f.counter2() }, wantKind: models.KindNotFound, wantCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			a := f.booked(t, number, mon(8, 0))
			if tc.setup != nil {
				tc.setup(t, f, a)
			}
			f.now = tc.now.UTC()
			p := f.counter
			if tc.who != nil {
				p = tc.who(f)
			}
			before := f.snap(t)
			got, err := f.appts.NoShow(ctx, p, a.ID)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				f.unchanged(t, before)
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != models.AppointmentNoShow || got.Version != 2 || got.NoShowAt == nil || !got.NoShowAt.Equal(f.now) {
				t.Fatalf("no-show %+v", got)
			}
			f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 0, 2)
			if tk := f.getTicket(t, number); tk.Status != models.TicketReferred {
				t.Fatalf("ticket %s", tk.Status)
			}
			ev := f.lastEvent(t, number)
			if ev.Type != "appointment.no_show" || ev.Data["appointment_id"] != a.ID || ev.Data["centre"] != "CCS-01" {
				t.Fatalf("event %+v", ev)
			}
			if rows := f.audits(t, "appointment", a.ID); rows[len(rows)-1].Action != "no_show" {
				t.Fatalf("audit %+v", rows)
			}
			// Once more changes nothing.
			before = f.snap(t)
			again, err := f.appts.NoShow(ctx, p, a.ID)
			if err != nil || again.Version != 2 || again.Status != models.AppointmentNoShow {
				t.Fatalf("second no-show %+v %v", again, err)
			}
			f.unchanged(t, before)
			f.invariant(t)
		})
	}
}

// A no-show frees its place in the running slot for a walk-in.
func TestNoShowFreesThePlaceForAWalkIn(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	a := f.booked(t, "CSM-2026-0040101", mon(8, 0))
	f.booked(t, "CSM-2026-0040102", mon(8, 0))
	f.ticket(t, "CSM-2026-0040103", "CCS-01")
	f.now = mon(8, 15).UTC()
	if _, err := f.appts.WalkIn(ctx, f.counter, "CSM-2026-0040103", checkIn(ticketIMEI)); models.ErrorCode(err) != "no_counter_free" {
		t.Fatalf("walk-in into a full slot: %v", err)
	}
	if _, err := f.appts.NoShow(ctx, f.counter, a.ID); err != nil {
		t.Fatal(err)
	}
	w, err := f.appts.WalkIn(ctx, f.counter, "CSM-2026-0040103", checkIn(ticketIMEI))
	if err != nil || !w.StartsAt.Equal(mon(8, 0)) {
		t.Fatalf("walk-in after the no-show: %+v %v", w, err)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 2, 2)
	f.invariant(t)
}

// ---------------------------------------------------------------------------
// Check-in

func TestCheckIn(t *testing.T) {
	const number = "CSM-2026-0050001"
	tests := []struct {
		name     string
		slot     time.Time // mon 08:00 unless set
		now      time.Time // mon 08:05 unless set
		setup    func(t *testing.T, f *fx, a *models.Appointment)
		who      func(f *fx) models.Principal
		in       func(in *models.CheckInInput)
		id       string
		wantKind models.ErrorKind
		wantCode string
		field    string
		reason   string // the mismatch reason the repair order keeps
	}{
		{name: "OnTheDay"},
		{name: "EarlyOnTheDay", now: mon(7, 30)},
		{name: "LateTheSameDay", now: mon(16, 50)},
		{name: "ByAdmin", who: func(f *fx) models.Principal { return f.o.admin }},
		{name: "NoAccessories", in: func(in *models.CheckInInput) { in.Accessories = nil }},
		// Monday 22:00 in Caracas is Tuesday 02:00 UTC: still the appointment's local day.
		{name: "LocalDayNotUTCDay", slot: mon(16, 30), now: mon(22, 0)},
		{name: "IMEIMismatchWithReason", in: func(in *models.CheckInInput) {
			in.ReceivedIMEI, in.IMEIMismatchReason = otherIMEI, "  El cliente trajo el equipo de su colega "
		}, reason: "El cliente trajo el equipo de su colega"},
		{name: "DayBefore", now: lt(time.November, 29, 10, 0), wantKind: models.KindUnprocessable, wantCode: "not_today"},
		{name: "DayAfter", now: tue(8, 5), wantKind: models.KindUnprocessable, wantCode: "not_today"},
		// Monday 21:00 in Caracas is Tuesday 01:00 UTC, the UTC date of a Tuesday appointment.
		{name: "UTCDayNotLocalDay", slot: tue(8, 0), now: mon(21, 0), wantKind: models.KindUnprocessable, wantCode: "not_today"},
		{name: "IMEIMismatchWithoutReason", in: func(in *models.CheckInInput) { in.ReceivedIMEI = otherIMEI },
			wantKind: models.KindUnprocessable, wantCode: "imei_mismatch", field: "imei_mismatch_reason"},
		{name: "IMEIMismatchBlankReason", in: func(in *models.CheckInInput) { in.ReceivedIMEI, in.IMEIMismatchReason = otherIMEI, "   " },
			wantKind: models.KindUnprocessable, wantCode: "imei_mismatch", field: "imei_mismatch_reason"},
		{name: "AlreadyCheckedIn", setup: func(t *testing.T, f *fx, a *models.Appointment) {
			if _, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "Cancelled", setup: func(t *testing.T, f *fx, a *models.Appointment) {
			if _, err := f.appts.Cancel(context.Background(), f.counter, a.ID, "no viene"); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "NoShow", now: mon(8, 40), setup: func(t *testing.T, f *fx, a *models.Appointment) {
			f.now = mon(8, 35).UTC()
			if _, err := f.appts.NoShow(context.Background(), f.counter, a.ID); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "appointment_not_booked"},
		{name: "TechnicianForbidden", who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "CSMForbidden", who: func(f *fx) models.Principal { return f.o.csm }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "OtherCentresCounter", who: func(f *fx) models.Principal { return f.counter2() }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "UnknownAppointment", id: "6f1c1c8e-2b6b-4a57-9d55-0d6f1d3b9e10", wantKind: models.KindNotFound, wantCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			slot := mon(8, 0)
			if !tc.slot.IsZero() {
				slot = tc.slot
			}
			a := f.booked(t, number, slot)
			f.now = mon(8, 5).UTC()
			if tc.setup != nil {
				tc.setup(t, f, a)
			}
			if !tc.now.IsZero() {
				f.now = tc.now.UTC()
			}
			p, id := f.counter, a.ID
			if tc.who != nil {
				p = tc.who(f)
			}
			if tc.id != "" {
				id = tc.id
			}
			in := checkIn(ticketIMEI)
			if tc.in != nil {
				tc.in(&in)
			}
			before := f.snap(t)
			got, err := f.appts.CheckIn(ctx, p, id, in)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				f.unchanged(t, before)
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != models.AppointmentCheckedIn || got.Version != 2 || got.CheckedInAt == nil || !got.CheckedInAt.Equal(f.now) ||
				got.RepairID == nil || got.WalkIn || !got.StartsAt.Equal(slot) {
				t.Fatalf("checked in %+v", got)
			}
			var ro struct {
				TicketID, AppointmentID, CentreID, Status, ReceivedIMEI, ReceivedCondition, Accessories string
				ImeiMismatchReason                                                                      *string
				CheckedInBy                                                                             *string
			}
			if err := f.deps.DB.Raw(`SELECT ticket_id, appointment_id, centre_id, status, received_imei, received_condition,
				accessories::text AS accessories, imei_mismatch_reason, checked_in_by::text AS checked_in_by FROM repair_orders WHERE id = ?`, *got.RepairID).Scan(&ro).Error; err != nil {
				t.Fatal(err)
			}
			wantAcc := `["cargador", "estuche"]`
			if in.Accessories == nil {
				wantAcc = `[]`
			}
			if ro.AppointmentID != a.ID || ro.CentreID != f.o.ccs01.ID || ro.Status != "open" || ro.ReceivedIMEI != in.ReceivedIMEI ||
				ro.ReceivedCondition != "Pantalla rayada, enciende" || ro.Accessories != wantAcc || ro.CheckedInBy == nil || *ro.CheckedInBy != p.UserID {
				t.Fatalf("repair order %+v", ro)
			}
			if (tc.reason == "") != (ro.ImeiMismatchReason == nil) || (tc.reason != "" && *ro.ImeiMismatchReason != tc.reason) {
				t.Fatalf("mismatch reason %v, want %q", ro.ImeiMismatchReason, tc.reason)
			}
			tk := f.getTicket(t, number)
			if tk.Status != models.TicketInService || tk.CentreCode == nil || *tk.CentreCode != "CCS-01" {
				t.Fatalf("ticket %s", tk.Status)
			}
			if tk.Appointment == nil || tk.Appointment.ID != a.ID || tk.Appointment.Status != models.AppointmentCheckedIn ||
				tk.Appointment.RepairID == nil || *tk.Appointment.RepairID != *got.RepairID {
				t.Fatalf("ticket's appointment %+v", tk.Appointment)
			}
			if g, err := f.appts.Get(ctx, f.counter, a.ID); err != nil || g.RepairID == nil || *g.RepairID != *got.RepairID {
				t.Fatalf("get %+v %v", g, err)
			}
			ev := f.lastEvent(t, number)
			if ev.Type != "ticket.in_service" || ev.Data["centre"] != "CCS-01" || ev.Data["received_imei"] != in.ReceivedIMEI ||
				ev.Data["repair_id"] != *got.RepairID || ev.Data["walk_in"] != false {
				t.Fatalf("event %+v", ev)
			}
			wantTime(t, "checked_in_at", ev.Data["checked_in_at"], f.now)
			if rows := f.audits(t, "appointment", a.ID); rows[len(rows)-1].Action != "check_in" {
				t.Fatalf("audit %+v", rows)
			}
			// A checked-in customer still holds the place.
			f.wantSlot(t, f.o.ccs01.ID, slot, 1, 2)
			f.invariant(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Walk-in

func TestWalkIn(t *testing.T) {
	const number = "CSM-2026-0060001"
	tests := []struct {
		name     string
		now      time.Time                 // mon 09:10 unless set
		setup    func(t *testing.T, f *fx) // runs at 07:00
		who      func(f *fx) models.Principal
		number   string
		in       func(in *models.CheckInInput)
		wantKind models.ErrorKind
		wantCode string
		field    string
		slot     time.Time // the slot it lands in, mon 09:00 unless set
	}{
		{name: "CentreOpenCounterFree"},
		{name: "OneBookingLeavesAPlace", setup: func(t *testing.T, f *fx) { f.booked(t, "CSM-2026-0060101", mon(9, 0)) }},
		{name: "AtASlotBoundary", now: mon(9, 30), slot: mon(9, 30)},
		{name: "ByAdminNamingTheCentre", who: func(f *fx) models.Principal { return f.o.admin },
			in: func(in *models.CheckInInput) { in.CentreCode = "CCS-01" }},
		{name: "AdminWithoutCentre", who: func(f *fx) models.Principal { return f.o.admin },
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "centre_code"},
		{name: "NoCounterFree", setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0060101", mon(9, 0))
			f.booked(t, "CSM-2026-0060102", mon(9, 0))
		}, wantKind: models.KindConflict, wantCode: "no_counter_free"},
		{name: "LunchBreak", now: mon(12, 30), wantKind: models.KindUnprocessable, wantCode: "centre_closed_now"},
		{name: "BeforeOpening", now: mon(7, 55), wantKind: models.KindUnprocessable, wantCode: "centre_closed_now"},
		{name: "Saturday", now: lt(time.December, 5, 10, 0), wantKind: models.KindUnprocessable, wantCode: "centre_closed_now"},
		{name: "ClosedDay", now: lt(time.December, 24, 10, 0), wantKind: models.KindUnprocessable, wantCode: "centre_closed_now"},
		{name: "TicketScheduled", setup: func(t *testing.T, f *fx) {
			if _, err := f.book(f.o.csm, number, "CCS-01", mon(10, 0)); err != nil {
				t.Fatal(err)
			}
		}, wantKind: models.KindConflict, wantCode: "ticket_has_appointment"},
		{name: "TicketInService", setup: func(t *testing.T, f *fx) { f.setStatus(t, number, models.TicketInService) },
			wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "TicketResolved", setup: func(t *testing.T, f *fx) { f.setStatus(t, number, models.TicketResolved) },
			wantKind: models.KindUnprocessable, wantCode: "ticket_not_bookable"},
		{name: "IMEIMismatchWithoutReason", in: func(in *models.CheckInInput) { in.ReceivedIMEI = otherIMEI },
			wantKind: models.KindUnprocessable, wantCode: "imei_mismatch", field: "imei_mismatch_reason"},
		{name: "UnknownTicket", number: "CSM-2026-9999999", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "OtherCentresCounterNamingThisCentre", who: func(f *fx) models.Principal { return f.counter2() },
			in: func(in *models.CheckInInput) { in.CentreCode = "CCS-01" }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "TicketOfAnotherCentre", who: func(f *fx) models.Principal { return f.counter2() }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "TechnicianForbidden", who: func(f *fx) models.Principal { return f.tech() }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "CSMForbidden", who: func(f *fx) models.Principal { return f.o.csm },
			in: func(in *models.CheckInInput) { in.CentreCode = "CCS-01" }, wantKind: models.KindForbidden, wantCode: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			f.ticket(t, number, "CCS-01")
			if tc.setup != nil {
				tc.setup(t, f)
			}
			f.now = mon(9, 10).UTC()
			if !tc.now.IsZero() {
				f.now = tc.now.UTC()
			}
			p, num := f.counter, number
			if tc.who != nil {
				p = tc.who(f)
			}
			if tc.number != "" {
				num = tc.number
			}
			in := checkIn(ticketIMEI)
			if tc.in != nil {
				tc.in(&in)
			}
			before := f.snap(t)
			got, err := f.appts.WalkIn(ctx, p, num, in)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				f.unchanged(t, before)
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			slot := mon(9, 0)
			if !tc.slot.IsZero() {
				slot = tc.slot
			}
			if got.Status != models.AppointmentCheckedIn || !got.WalkIn || !got.StartsAt.Equal(slot) || !got.EndsAt.Equal(slot.Add(30*time.Minute)) ||
				got.CheckedInAt == nil || !got.CheckedInAt.Equal(f.now) || got.RepairID == nil || got.CentreCode != "CCS-01" || got.TicketNumber != number {
				t.Fatalf("walk-in %+v", got)
			}
			if n := f.count(t, "SELECT count(*) FROM repair_orders WHERE id = ? AND appointment_id = ? AND status = 'open'", *got.RepairID, got.ID); n != 1 {
				t.Fatal("no open repair order for the walk-in")
			}
			tk := f.getTicket(t, number)
			if tk.Status != models.TicketInService || tk.Appointment == nil || tk.Appointment.ID != got.ID || !tk.Appointment.WalkIn ||
				tk.Appointment.RepairID == nil || *tk.Appointment.RepairID != *got.RepairID {
				t.Fatalf("ticket %s appointment %+v", tk.Status, tk.Appointment)
			}
			evs := f.events(t, number)
			if len(evs) != 1 || evs[0].Type != "ticket.in_service" || evs[0].Data["walk_in"] != true || evs[0].Data["repair_id"] != *got.RepairID {
				t.Fatalf("events %+v", evs)
			}
			if rows := f.audits(t, "appointment", got.ID); len(rows) != 1 || rows[0].Action != "walk_in" {
				t.Fatalf("audit %+v", rows)
			}
			f.wantSlot(t, f.o.ccs01.ID, slot, before.held(f.o.ccs01.ID, slot)+1, 2)
			f.invariant(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Cancelling a ticket (CSM) ends its appointment.

func TestTicketCancelEndsItsAppointment(t *testing.T) {
	t.Run("Scheduled", func(t *testing.T) {
		f := newFx(t)
		ctx := context.Background()
		a := f.booked(t, "CSM-2026-0070001", mon(8, 0))
		f.booked(t, "CSM-2026-0070002", mon(8, 0))
		f.now = f.now.Add(time.Minute)
		if _, err := f.tickets.Cancel(ctx, f.o.csm, "CSM-2026-0070001", " resuelto por teléfono "); err != nil {
			t.Fatal(err)
		}
		s := f.stored(t, a.ID)
		if s.Status != models.AppointmentCancelled || s.CancelReason == nil || *s.CancelReason != "resuelto por teléfono" ||
			s.CancelledAt == nil || !s.CancelledAt.Equal(f.now) {
			t.Fatalf("appointment %+v", s)
		}
		f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 2)
		f.booked(t, "CSM-2026-0070003", mon(8, 0)) // the freed place
		tk := f.getTicket(t, "CSM-2026-0070001")
		if tk.Status != models.TicketCancelled || tk.Appointment == nil || tk.Appointment.Status != models.AppointmentCancelled {
			t.Fatalf("ticket %s appointment %+v", tk.Status, tk.Appointment)
		}
		f.invariant(t)
	})
	t.Run("InService", func(t *testing.T) {
		f := newFx(t)
		ctx := context.Background()
		a := f.booked(t, "CSM-2026-0070011", mon(8, 0))
		f.booked(t, "CSM-2026-0070012", mon(8, 0))
		f.now = mon(8, 5).UTC()
		in, err := f.appts.CheckIn(ctx, f.counter, a.ID, checkIn(ticketIMEI))
		if err != nil {
			t.Fatal(err)
		}
		f.now = mon(8, 10).UTC()
		if _, err := f.tickets.Cancel(ctx, f.o.csm, "CSM-2026-0070011", "el cliente retiró el equipo"); err != nil {
			t.Fatal(err)
		}
		if s := f.stored(t, a.ID); s.Status != models.AppointmentCompleted || s.Version != 3 {
			t.Fatalf("appointment %+v", s)
		}
		if n := f.count(t, "SELECT count(*) FROM repair_orders WHERE id = ? AND status = 'abandoned'", *in.RepairID); n != 1 {
			t.Fatal("repair order not abandoned")
		}
		// A completed appointment no longer holds a place: the slot keeps only the other.
		f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 2)
		f.ticket(t, "CSM-2026-0070013", "CCS-01")
		if _, err := f.appts.WalkIn(ctx, f.counter, "CSM-2026-0070013", checkIn(ticketIMEI)); err != nil {
			t.Fatalf("walk-in into the freed place: %v", err)
		}
		tk := f.getTicket(t, "CSM-2026-0070011")
		if tk.Status != models.TicketCancelled || tk.Appointment == nil || tk.Appointment.Status != models.AppointmentCompleted {
			t.Fatalf("ticket %s appointment %+v", tk.Status, tk.Appointment)
		}
		f.invariant(t)
	})
}

// ---------------------------------------------------------------------------
// Counters

func TestCountersAgainstBookings(t *testing.T) {
	num := func(n int) *int { return &n }
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *fx)
		now      time.Time
		counters int
		wantCode string
		slotName time.Time // the slot the refusal must name
		check    func(t *testing.T, f *fx)
	}{
		{name: "BelowWhatAFutureSlotHolds", counters: 1, setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0080001", mon(8, 0))
			f.booked(t, "CSM-2026-0080002", mon(8, 0))
			f.booked(t, "CSM-2026-0080003", mon(9, 0))
		}, wantCode: "counters_below_bookings", slotName: mon(8, 0)},
		{name: "BelowWhatARunningSlotHolds", counters: 1, now: mon(8, 10), setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0080001", mon(8, 0))
			f.booked(t, "CSM-2026-0080002", mon(8, 0))
		}, wantCode: "counters_below_bookings", slotName: mon(8, 0)},
		{name: "ExactlyWhatIsBooked", counters: 1, setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0080001", mon(8, 0))
		}, check: func(t *testing.T, f *fx) {
			f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 1)
			f.ticket(t, "CSM-2026-0080009", "CCS-01")
			_, err := f.book(f.o.csm, "CSM-2026-0080009", "CCS-01", mon(8, 0))
			wantErr(t, err, models.KindConflict, "slot_full")
			// A slot first booked after the change gets the new capacity.
			if _, err := f.book(f.o.csm, "CSM-2026-0080009", "CCS-01", mon(10, 0)); err != nil {
				t.Fatal(err)
			}
			f.wantSlot(t, f.o.ccs01.ID, mon(10, 0), 1, 1)
		}},
		{name: "RaisingOpensFullSlots", counters: 3, setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0080001", mon(8, 0))
			f.booked(t, "CSM-2026-0080002", mon(8, 0))
		}, check: func(t *testing.T, f *fx) {
			f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 2, 3)
			f.booked(t, "CSM-2026-0080003", mon(8, 0))
			f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 3, 3)
			f.ticket(t, "CSM-2026-0080004", "CCS-01")
			_, err := f.book(f.o.csm, "CSM-2026-0080004", "CCS-01", mon(8, 0))
			wantErr(t, err, models.KindConflict, "slot_full")
		}},
		{name: "PastSlotsDoNotCount", counters: 1, now: mon(8, 40), setup: func(t *testing.T, f *fx) {
			f.booked(t, "CSM-2026-0080001", mon(8, 0))
			f.booked(t, "CSM-2026-0080002", mon(8, 0))
		}, check: func(t *testing.T, f *fx) {
			// History keeps the capacity it had.
			f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 2, 2)
		}},
		{name: "CancelledBookingsDoNotCount", counters: 1, setup: func(t *testing.T, f *fx) {
			a := f.booked(t, "CSM-2026-0080001", mon(8, 0))
			f.booked(t, "CSM-2026-0080002", mon(8, 0))
			if _, err := f.appts.Cancel(context.Background(), f.o.csm, a.ID, "no"); err != nil {
				t.Fatal(err)
			}
		}, check: func(t *testing.T, f *fx) { f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			tc.setup(t, f)
			if !tc.now.IsZero() {
				f.now = tc.now.UTC()
			}
			before, _ := f.admin.GetCentre(ctx, f.o.admin, "CCS-01")
			slots := f.slotState(t)
			_, err := f.admin.UpdateCentre(ctx, f.o.admin, "CCS-01", models.CentreUpdate{Counters: num(tc.counters), Version: &before.Version})
			after, _ := f.admin.GetCentre(ctx, f.o.admin, "CCS-01")
			if tc.wantCode != "" {
				e := wantErr(t, err, models.KindConflict, tc.wantCode)
				wantField(t, err, "counters", "min_booked")
				name := tc.slotName.UTC().Format(time.RFC3339)
				if !strings.Contains(e.Message, name) || !strings.Contains(e.Fields[0].Message, name) {
					t.Fatalf("refusal does not name slot %s: %q / %q", name, e.Message, e.Fields[0].Message)
				}
				if strings.Contains(e.Message, mon(9, 0).UTC().Format(time.RFC3339)) {
					t.Fatalf("refusal names a slot within the new counters: %q", e.Message)
				}
				if after.Counters != before.Counters || after.Version != before.Version {
					t.Fatalf("refused change changed the centre: %d v%d", after.Counters, after.Version)
				}
				if fmt.Sprint(f.slotState(t)) != fmt.Sprint(slots) {
					t.Fatal("refused change changed the slots")
				}
				f.invariant(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if after.Counters != tc.counters {
				t.Fatalf("counters %d", after.Counters)
			}
			tc.check(t, f)
			f.invariant(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Availability

func TestAvailability(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	f.booked(t, "CSM-2026-0090001", mon(8, 0))
	f.booked(t, "CSM-2026-0090002", mon(9, 0))
	f.booked(t, "CSM-2026-0090003", mon(9, 0))
	c := f.booked(t, "CSM-2026-0090004", mon(9, 30))
	if _, err := f.appts.Cancel(ctx, f.o.csm, c.ID, "no"); err != nil {
		t.Fatal(err)
	}
	f.bookedAt(t, "CSM-2026-0090005", "CCS-02", mon(8, 0)) // another centre's booking
	utc := centreInput("UTC-01", "CAP")
	utc.TimeZone = "UTC"
	if _, err := f.admin.CreateCentre(ctx, f.o.admin, utc); err != nil {
		t.Fatal(err)
	}

	type slotWant struct {
		at                      time.Time
		capacity, booked, avail int
	}
	tests := []struct {
		name     string
		now      time.Time
		who      func(f *fx) models.Principal
		centre   string
		from, to string
		count    int
		first    time.Time
		last     time.Time
		slots    []slotWant
		wantKind models.ErrorKind
		wantCode string
		field    string
		rule     string
		zone     string
	}{
		{name: "OneDay", from: "2026-11-30", to: "2026-11-30", count: 16, first: mon(8, 0), last: mon(16, 30), slots: []slotWant{
			{mon(8, 0), 2, 1, 1}, {mon(8, 30), 2, 0, 2}, {mon(9, 0), 2, 2, 0}, {mon(9, 30), 2, 0, 2}, {mon(13, 0), 2, 0, 2}}},
		{name: "PastSlotsLeftOut", now: mon(9, 5), from: "2026-11-30", to: "2026-11-30", count: 13, first: mon(9, 30), last: mon(16, 30),
			slots: []slotWant{{mon(9, 30), 2, 0, 2}}},
		{name: "WholeDayPast", now: mon(17, 0), from: "2026-11-30", to: "2026-11-30", count: 0},
		{name: "AWeekLeavesOutTheWeekend", from: "2026-11-30", to: "2026-12-06", count: 80, first: mon(8, 0), last: lt(time.December, 4, 16, 30)},
		{name: "ClosedDaysLeftOut", from: "2026-12-21", to: "2026-12-27", count: 48, first: lt(time.December, 21, 8, 0), last: lt(time.December, 23, 16, 30)},
		{name: "Weekend", from: "2026-12-05", to: "2026-12-06", count: 0},
		{name: "ThirtyOneDays", from: "2026-12-01", to: "2026-12-31", count: 21 * 16, first: tue(8, 0), last: lt(time.December, 31, 16, 30)},
		{name: "UTCCentre", centre: "UTC-01", from: "2026-12-01", to: "2026-12-01", count: 16, zone: "UTC",
			first: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), last: time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC)},
		{name: "OtherCentreHasItsOwnBookings", centre: "CCS-02", from: "2026-11-30", to: "2026-11-30", count: 16,
			slots: []slotWant{{mon(8, 0), 2, 1, 1}, {mon(9, 0), 2, 0, 2}}},
		{name: "ByCounter", who: func(f *fx) models.Principal { return f.counter }, from: "2026-11-30", to: "2026-11-30", count: 16},
		{name: "ByTechnician", who: func(f *fx) models.Principal { return f.tech() }, from: "2026-11-30", to: "2026-11-30", count: 16},
		{name: "ByWarehouseOfTheBusinessUnit", who: func(f *fx) models.Principal { return f.wh() }, from: "2026-11-30", to: "2026-11-30", count: 16},
		{name: "ByAdmin", who: func(f *fx) models.Principal { return f.o.admin }, from: "2026-11-30", to: "2026-11-30", count: 16},
		{name: "ToBeforeFrom", from: "2026-12-02", to: "2026-12-01", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "to", rule: "gtefield"},
		{name: "ThirtyTwoDays", from: "2026-12-01", to: "2027-01-01", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "to", rule: "max_range"},
		{name: "BadFrom", from: "30/11/2026", to: "2026-12-01", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "from", rule: "date"},
		{name: "BadTo", from: "2026-11-30", to: "mañana", wantKind: models.KindInvalid, wantCode: "validation_failed", field: "to", rule: "date"},
		{name: "UnknownCentre", centre: "NOPE-01", from: "2026-11-30", to: "2026-11-30", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "OtherCentresCounter", who: func(f *fx) models.Principal { return f.counter2() }, from: "2026-11-30", to: "2026-11-30",
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "WarehouseOfAnotherBusinessUnit", who: func(f *fx) models.Principal { return of(f.o.almOcc, f.o.occ) }, from: "2026-11-30", to: "2026-11-30",
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "Nobody", who: func(f *fx) models.Principal { return models.Principal{} }, from: "2026-11-30", to: "2026-11-30",
			wantKind: models.KindUnauthenticated, wantCode: "unauthenticated"},
	}
	start := f.now
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.now = start
			if !tc.now.IsZero() {
				f.now = tc.now.UTC()
			}
			p, centre := f.o.csm, "CCS-01"
			if tc.who != nil {
				p = tc.who(f)
			}
			if tc.centre != "" {
				centre = tc.centre
			}
			got, err := f.appts.Availability(ctx, p, centre, tc.from, tc.to, "")
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, tc.rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			zone := "America/Caracas"
			if tc.zone != "" {
				zone = tc.zone
			}
			if got.CentreCode != centre || got.TimeZone != zone || got.From != tc.from || got.To != tc.to || got.Slots == nil ||
				got.SLADueAt != nil || got.TicketNumber != "" || got.Alternatives != nil {
				t.Fatalf("availability %+v", got)
			}
			if len(got.Slots) != tc.count {
				t.Fatalf("%d slots, want %d", len(got.Slots), tc.count)
			}
			for i, s := range got.Slots {
				if i > 0 && !got.Slots[i-1].StartsAt.Before(s.StartsAt) {
					t.Fatalf("slots out of order at %d", i)
				}
				if s.StartsAt.Before(f.now) || s.EndsAt.Sub(s.StartsAt) != 30*time.Minute || s.WithinSLA != nil ||
					s.Available != s.Capacity-s.Booked {
					t.Fatalf("slot %+v", s)
				}
			}
			if !tc.first.IsZero() && !got.Slots[0].StartsAt.Equal(tc.first) {
				t.Fatalf("first slot %v, want %v", got.Slots[0].StartsAt, tc.first)
			}
			if !tc.last.IsZero() && !got.Slots[len(got.Slots)-1].StartsAt.Equal(tc.last) {
				t.Fatalf("last slot %v, want %v", got.Slots[len(got.Slots)-1].StartsAt, tc.last)
			}
			for _, w := range tc.slots {
				i := slices.IndexFunc(got.Slots, func(s models.SlotView) bool { return s.StartsAt.Equal(w.at) })
				if i < 0 {
					t.Fatalf("no slot at %v", w.at)
				}
				if s := got.Slots[i]; s.Capacity != w.capacity || s.Booked != w.booked || s.Available != w.avail {
					t.Fatalf("slot %v: %d/%d/%d, want capacity %d booked %d available %d", w.at, s.Capacity, s.Booked, s.Available, w.capacity, w.booked, w.avail)
				}
			}
		})
	}
}

// The counters of a centre show in the capacity of its slots, booked or not.
func TestAvailabilityFollowsCounters(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	f.booked(t, "CSM-2026-0090101", mon(8, 0))
	three := 3
	if _, err := f.admin.UpdateCentre(ctx, f.o.admin, "CCS-01", models.CentreUpdate{Counters: &three, Version: &f.o.ccs01.Version}); err != nil {
		t.Fatal(err)
	}
	got, err := f.appts.Availability(ctx, f.o.csm, "CCS-01", "2026-11-30", "2026-11-30", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Slots[0]; s.Capacity != 3 || s.Booked != 1 || s.Available != 2 {
		t.Fatalf("booked slot %+v", s)
	}
	if s := got.Slots[1]; s.Capacity != 3 || s.Booked != 0 || s.Available != 3 {
		t.Fatalf("empty slot %+v", s)
	}
}

func TestAvailabilityForTicket(t *testing.T) {
	const number = "CSM-2026-0090201"
	// fill books every place of the given slots of a centre with other tickets.
	fill := func(t *testing.T, f *fx, prefix, centre string, slots ...time.Time) {
		t.Helper()
		for i, s := range slots {
			for k := 0; k < 2; k++ {
				f.bookedAt(t, fmt.Sprintf("%s-%02d-%d", prefix, i, k), centre, s)
			}
		}
	}
	tests := []struct {
		name     string
		reported time.Time
		now      time.Time
		setup    func(t *testing.T, f *fx)
		from, to string
		due      time.Time
		within   []time.Time // the slots within the deadline
		alts     []models.Alternative
	}{
		{name: "FreeSlotBeforeTheDeadline", reported: lt(time.November, 29, 10, 0), due: mon(10, 0),
			from: "2026-11-30", to: "2026-12-01", within: []time.Time{mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30), mon(10, 0)}},
		{name: "OneFreePlaceBeforeTheDeadlineIsEnough", reported: lt(time.November, 29, 10, 0), due: mon(10, 0),
			setup: func(t *testing.T, f *fx) {
				fill(t, f, "F", "CCS-01", mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30))
				f.booked(t, "CSM-ONE-LEFT", mon(10, 0))
			},
			from: "2026-11-30", to: "2026-11-30", within: []time.Time{mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30), mon(10, 0)}},
		{name: "FullBeforeTheDeadlineOffersTheOtherCentre", reported: lt(time.November, 29, 10, 0), due: mon(10, 0),
			setup: func(t *testing.T, f *fx) {
				fill(t, f, "F", "CCS-01", mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30), mon(10, 0))
				fill(t, f, "G", "CCS-02", mon(8, 0))
				fill(t, f, "H", "MCB-01", mon(8, 0)) // another business unit: never offered
			},
			from: "2026-11-30", to: "2026-11-30", within: []time.Time{mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30), mon(10, 0)},
			alts: []models.Alternative{{CentreCode: "CCS-02", CentreName: "Centro CCS-02", StartsAt: mon(8, 30), EndsAt: mon(9, 0), Available: 2}}},
		{name: "NoAlternativeAfterTheDeadline", reported: lt(time.November, 28, 10, 0), due: lt(time.November, 29, 10, 0),
			from: "2026-11-30", to: "2026-11-30"},
		{name: "NoAlternativeWhenNoneBeforeTheDeadlineEither", reported: lt(time.November, 29, 8, 30), due: mon(8, 30),
			setup: func(t *testing.T, f *fx) {
				fill(t, f, "F", "CCS-01", mon(8, 0), mon(8, 30))
				fill(t, f, "G", "CCS-02", mon(8, 0), mon(8, 30))
			},
			from: "2026-11-30", to: "2026-11-30", within: []time.Time{mon(8, 0), mon(8, 30)}},
		// Late on Monday, the deadline is Tuesday 09:00: the in-deadline places are Tuesday
		// morning's, earlier in the day than the clock.
		{name: "AlternativeOnTheDeadlineDay", reported: mon(9, 0), now: mon(16, 40), due: tue(9, 0),
			setup: func(t *testing.T, f *fx) { fill(t, f, "F", "CCS-01", tue(8, 0), tue(8, 30), tue(9, 0)) },
			from:  "2026-11-30", to: "2026-12-01", within: []time.Time{tue(8, 0), tue(8, 30), tue(9, 0)},
			alts: []models.Alternative{{CentreCode: "CCS-02", CentreName: "Centro CCS-02", StartsAt: tue(8, 0), EndsAt: tue(8, 30), Available: 2}}},
		// Asked only for the days after the deadline, this centre still has an earlier
		// free place: nothing to offer elsewhere.
		{name: "NoAlternativeWhenThisCentreHasAnInDeadlinePlaceOutsideTheRange", reported: lt(time.November, 29, 10, 0), due: mon(10, 0),
			from: "2026-12-01", to: "2026-12-02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t)
			ctx := context.Background()
			if tc.setup != nil {
				tc.setup(t, f)
			}
			if !tc.now.IsZero() {
				f.now = tc.now.UTC()
			}
			f.refer(t, f.o, referral(number, tc.reported, "CCS-01"))
			got, err := f.appts.Availability(ctx, f.o.csm, "CCS-01", tc.from, tc.to, number)
			if err != nil {
				t.Fatal(err)
			}
			if got.TicketNumber != number || got.SLADueAt == nil || !got.SLADueAt.Equal(tc.due) {
				t.Fatalf("ticket %q due %v, want %v", got.TicketNumber, got.SLADueAt, tc.due)
			}
			var within []time.Time
			for _, s := range got.Slots {
				if s.WithinSLA == nil {
					t.Fatalf("slot %v without within_sla", s.StartsAt)
				}
				if *s.WithinSLA != !s.StartsAt.After(tc.due) {
					t.Fatalf("slot %v within_sla %v with the deadline at %v", s.StartsAt, *s.WithinSLA, tc.due)
				}
				if *s.WithinSLA {
					within = append(within, s.StartsAt)
				}
			}
			if !slices.EqualFunc(within, tc.within, time.Time.Equal) {
				t.Fatalf("within the deadline %v, want %v", within, tc.within)
			}
			if len(got.Alternatives) != len(tc.alts) {
				t.Fatalf("alternatives %+v, want %+v", got.Alternatives, tc.alts)
			}
			for i, a := range got.Alternatives {
				w := tc.alts[i]
				if a.CentreCode != w.CentreCode || a.CentreName != w.CentreName || !a.StartsAt.Equal(w.StartsAt) || !a.EndsAt.Equal(w.EndsAt) || a.Available != w.Available {
					t.Fatalf("alternative %d: %+v, want %+v", i, a, w)
				}
			}
		})
	}
	t.Run("UnknownTicket", func(t *testing.T) {
		f := newFx(t)
		_, err := f.appts.Availability(context.Background(), f.o.csm, "CCS-01", "2026-11-30", "2026-11-30", "CSM-2026-9999999")
		wantErr(t, err, models.KindNotFound, "not_found")
	})
	t.Run("TicketOfAnotherCentre", func(t *testing.T) {
		f := newFx(t)
		f.ticket(t, number, "CCS-01")
		_, err := f.appts.Availability(context.Background(), f.counter2(), "CCS-02", "2026-11-30", "2026-11-30", number)
		wantErr(t, err, models.KindNotFound, "not_found")
	})
}

// statementCounter counts the SQL statements GORM runs on a database while it is on.
type statementCounter struct {
	on atomic.Bool
	n  atomic.Int64
}

func countStatements(t *testing.T, db *gorm.DB) *statementCounter {
	t.Helper()
	c := &statementCounter{}
	count := func(*gorm.DB) {
		if c.on.Load() {
			c.n.Add(1)
		}
	}
	cb := db.Callback()
	for name, err := range map[string]error{
		"query":  cb.Query().After("*").Register("test:count_query", count),
		"row":    cb.Row().After("*").Register("test:count_row", count),
		"raw":    cb.Raw().After("*").Register("test:count_raw", count),
		"create": cb.Create().After("*").Register("test:count_create", count),
		"update": cb.Update().After("*").Register("test:count_update", count),
		"delete": cb.Delete().After("*").Register("test:count_delete", count),
	} {
		if err != nil {
			t.Fatalf("register %s counter: %v", name, err)
		}
	}
	return c
}

func (c *statementCounter) during(fn func()) int64 {
	c.n.Store(0)
	c.on.Store(true)
	fn()
	c.on.Store(false)
	return c.n.Load()
}

// Availability costs a bounded number of statements, not one per slot or per day.
func TestAvailabilityQueryCount(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	// Bookings on every weekday of December at both centres of the business unit, so that
	// a statement per stored slot would show.
	i := 0
	for d := 1; d <= 31; d++ {
		day := lt(time.December, d, 8, 0)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday || d == 24 || d == 25 {
			continue
		}
		for _, c := range []string{"CCS-01", "CCS-02"} {
			f.bookedAt(t, fmt.Sprintf("CSM-QC-%03d", i), c, day)
			f.bookedAt(t, fmt.Sprintf("CSM-QC-%03d", i+1), c, day.Add(90*time.Minute))
			i += 2
		}
	}
	// Late on Monday, a ticket due on Tuesday at 09:00, when CCS-01 is full until then: the
	// other centre of the business unit is searched for alternatives too.
	f.bookedAt(t, "CSM-QC-FILL-1", "CCS-01", tue(8, 0))
	for k, at := range []time.Time{tue(8, 30), tue(8, 30), tue(9, 0), tue(9, 0)} {
		f.bookedAt(t, fmt.Sprintf("CSM-QC-FILL-%d", k+2), "CCS-01", at)
	}
	f.now = mon(16, 40).UTC()
	f.refer(t, f.o, referral("CSM-QC-TICKET", mon(9, 0), "CCS-01"))
	// A ticket reported now is due on Tuesday afternoon, when CCS-01 has room.
	f.refer(t, f.o, referral("CSM-QC-ROOM", f.now, "CCS-01"))
	counter := countStatements(t, f.deps.DB)
	cases := []struct {
		name   string
		ticket string
		alts   int
		max    int64
	}{
		{"WithoutTicket", "", 0, 10},
		{"WithTicket", "CSM-QC-ROOM", 0, 10},
		// The alternatives cost one statement for the business unit's centres, one per
		// calendar list preloaded with them and one for their slots, whatever the range.
		{"WithTicketAndAlternatives", "CSM-QC-TICKET", 1, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var one, month *models.Availability
			n1 := counter.during(func() {
				var err error
				if one, err = f.appts.Availability(ctx, f.o.csm, "CCS-01", "2026-12-01", "2026-12-01", tc.ticket); err != nil {
					t.Fatal(err)
				}
			})
			n31 := counter.during(func() {
				var err error
				if month, err = f.appts.Availability(ctx, f.o.csm, "CCS-01", "2026-12-01", "2026-12-31", tc.ticket); err != nil {
					t.Fatal(err)
				}
			})
			if len(one.Slots) != 16 || len(month.Slots) != 21*16 {
				t.Fatalf("%d and %d slots", len(one.Slots), len(month.Slots))
			}
			if len(one.Alternatives) != tc.alts || len(month.Alternatives) != tc.alts {
				t.Fatalf("alternatives %+v / %+v", one.Alternatives, month.Alternatives)
			}
			t.Logf("statements: 1 day %d, 31 days %d", n1, n31)
			if n1 != n31 {
				t.Fatalf("1 day took %d statements, 31 days %d: the count grows with the range", n1, n31)
			}
			if n1 == 0 || n1 > tc.max {
				t.Fatalf("%d statements, want 1 to %d", n1, tc.max)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Agenda

func TestAgenda(t *testing.T) {
	f := newFx(t)
	ctx := context.Background()
	a := f.booked(t, "CSM-2026-0100001", mon(8, 0))
	b := f.booked(t, "CSM-2026-0100002", mon(8, 0))
	c := f.booked(t, "CSM-2026-0100003", mon(9, 0))
	d := f.booked(t, "CSM-2026-0100004", mon(10, 0))
	x := f.booked(t, "CSM-2026-0100005", mon(9, 30))
	if _, err := f.appts.Cancel(ctx, f.o.csm, x.ID, "no"); err != nil {
		t.Fatal(err)
	}
	tu := f.booked(t, "CSM-2026-0100006", tue(8, 0))
	f.bookedAt(t, "CSM-2026-0100007", "CCS-02", mon(8, 0))

	type row struct {
		id, attendance string
	}
	agenda := func(t *testing.T, p models.Principal, date string) []row {
		t.Helper()
		got, err := f.appts.Agenda(ctx, p, "CCS-01", date)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Fatal("nil agenda")
		}
		out := make([]row, len(got))
		for i, e := range got {
			out[i] = row{e.ID, e.Attendance}
			if i > 0 && e.StartsAt.Before(got[i-1].StartsAt) {
				t.Fatalf("agenda out of order at %d", i)
			}
			if e.CentreCode != "CCS-01" || e.TicketNumber == "" || e.Company != "Transportes Ávila C.A." || e.Contact != "María Pérez" ||
				e.Device != "Samsung SM-A155M" || e.SLAState == "" || e.SLADueAt.IsZero() {
				t.Fatalf("entry %+v", e)
			}
			if (e.Status == models.AppointmentCheckedIn) != (e.RepairID != nil) {
				t.Fatalf("entry %s status %s repair %v", e.TicketNumber, e.Status, e.RepairID)
			}
		}
		return out
	}
	steps := []struct {
		name string
		at   time.Time
		act  func(t *testing.T)
		date string
		want []row
	}{
		{name: "BeforeOpening", at: mon(7, 0), date: "2026-11-30",
			want: []row{{a.ID, "due"}, {b.ID, "due"}, {c.ID, "due"}, {x.ID, "cancelled"}, {d.ID, "due"}}},
		{name: "FirstCustomerIn", at: mon(8, 10), act: func(t *testing.T) {
			if _, err := f.appts.CheckIn(ctx, f.counter, a.ID, checkIn(ticketIMEI)); err != nil {
				t.Fatal(err)
			}
		}, date: "2026-11-30",
			want: []row{{a.ID, "checked_in"}, {b.ID, "late"}, {c.ID, "due"}, {x.ID, "cancelled"}, {d.ID, "due"}}},
		{name: "SecondMarkedNoShow", at: mon(9, 5), act: func(t *testing.T) {
			if _, err := f.appts.NoShow(ctx, f.counter, b.ID); err != nil {
				t.Fatal(err)
			}
		}, date: "2026-11-30",
			want: []row{{a.ID, "checked_in"}, {b.ID, "no_show"}, {c.ID, "late"}, {x.ID, "cancelled"}, {d.ID, "due"}}},
		{name: "NextDay", at: mon(9, 5), date: "2026-12-01", want: []row{{tu.ID, "due"}}},
		{name: "EmptyDay", at: mon(9, 5), date: "2026-12-02", want: []row{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.now = s.at.UTC()
			if s.act != nil {
				s.act(t)
			}
			got := agenda(t, f.counter, s.date)
			if !slices.Equal(got, s.want) {
				t.Fatalf("agenda %v, want %v", got, s.want)
			}
			if tech := agenda(t, f.tech(), s.date); !slices.Equal(tech, s.want) {
				t.Fatalf("technician sees %v", tech)
			}
		})
	}
	refusals := []struct {
		name     string
		who      models.Principal
		centre   string
		date     string
		wantKind models.ErrorKind
		wantCode string
		field    string
	}{
		{"BadDate", f.counter, "CCS-01", "30-11-2026", models.KindInvalid, "validation_failed", "date"},
		{"UnknownCentre", f.o.admin, "NOPE-01", "2026-11-30", models.KindNotFound, "not_found", ""},
		{"OtherCentresCounter", f.counter2(), "CCS-01", "2026-11-30", models.KindNotFound, "not_found", ""},
		{"CSMForbidden", f.o.csm, "CCS-01", "2026-11-30", models.KindForbidden, "forbidden", ""},
		{"WarehouseForbidden", f.wh(), "CCS-01", "2026-11-30", models.KindForbidden, "forbidden", ""},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := f.appts.Agenda(ctx, r.who, r.centre, r.date)
			wantErr(t, err, r.wantKind, r.wantCode)
			if r.field != "" {
				wantField(t, err, r.field, "")
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Concurrency against the real database. Every test ends by checking the invariant.

func setCounters(t *testing.T, f *fx, code string, n int) {
	t.Helper()
	ctx := context.Background()
	c, err := f.admin.GetCentre(ctx, f.o.admin, code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.UpdateCentre(ctx, f.o.admin, code, models.CentreUpdate{Counters: &n, Version: &c.Version}); err != nil {
		t.Fatal(err)
	}
}

func TestBookConcurrentOneSlot(t *testing.T) {
	f := newFx(t)
	setCounters(t, f, "CCS-01", 3)
	const n = 50
	for i := 0; i < n; i++ {
		f.ticket(t, fmt.Sprintf("CSM-C1-%03d", i), "CCS-01")
	}
	errs := make([]error, n)
	together(n, func(i int) {
		_, errs[i] = f.book(f.o.csm, fmt.Sprintf("CSM-C1-%03d", i), "CCS-01", mon(10, 0))
	})
	ok, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case models.ErrorCode(err) == "slot_full":
			wantErr(t, err, models.KindConflict, "slot_full")
			full++
		default:
			t.Errorf("booking %d: %v", i, err)
		}
	}
	if ok != 3 || full != n-3 {
		t.Fatalf("%d booked, %d slot_full; want 3 and %d", ok, full, n-3)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(10, 0), 3, 3)
	if a := f.count(t, "SELECT count(*) FROM appointments WHERE status = 'booked'"); a != 3 {
		t.Fatalf("%d active appointments", a)
	}
	if s := f.count(t, "SELECT count(*) FROM tickets WHERE status = 'scheduled'"); s != 3 {
		t.Fatalf("%d scheduled tickets", s)
	}
	if ev := f.count(t, "SELECT count(*) FROM csm_events WHERE type = 'appointment.booked'"); ev != 3 {
		t.Fatalf("%d booked events", ev)
	}
	f.invariant(t)
}

func TestBookConcurrentOneTicket(t *testing.T) {
	f := newFx(t)
	const number = "CSM-C2-001"
	f.ticket(t, number, "CCS-01")
	const n = 8
	slots := make([]time.Time, n)
	for i := range slots {
		slots[i] = mon(8, 0).Add(time.Duration(i) * 30 * time.Minute)
	}
	errs := make([]error, n)
	together(n, func(i int) { _, errs[i] = f.book(f.o.csm, number, "CCS-01", slots[i]) })
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if e, isErr := models.AsError(err); !isErr || e.Kind != models.KindConflict {
			t.Errorf("booking %d: %v, want a conflict", i, err)
		} else if e.Code != "ticket_has_appointment" {
			t.Logf("booking %d lost a race with %s", i, e.Code)
		}
	}
	if ok != 1 {
		t.Fatalf("%d bookings succeeded, want exactly 1", ok)
	}
	if a := f.count(t, "SELECT count(*) FROM appointments WHERE status IN ('booked', 'checked_in')"); a != 1 {
		t.Fatalf("%d active appointments", a)
	}
	if b := f.count(t, "SELECT COALESCE(sum(booked), 0) FROM slots"); b != 1 {
		t.Fatalf("%d places taken", b)
	}
	if tk := f.getTicket(t, number); tk.Status != models.TicketScheduled || tk.Version != 2 {
		t.Fatalf("ticket %s v%d", tk.Status, tk.Version)
	}
	f.invariant(t)
}

func TestRescheduleConcurrentLastPlace(t *testing.T) {
	f := newFx(t)
	target := mon(11, 0)
	f.booked(t, "CSM-C3-HOLD", target) // one of the two places is taken
	const n = 6
	appts := make([]*models.Appointment, n)
	for i := range appts {
		appts[i] = f.booked(t, fmt.Sprintf("CSM-C3-%02d", i), mon(8, 0).Add(time.Duration(i/2)*30*time.Minute))
	}
	errs := make([]error, n)
	together(n, func(i int) {
		_, errs[i] = f.appts.Reschedule(context.Background(), f.counter, appts[i].ID, models.RescheduleInput{StartsAt: rfc(target)})
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("reschedules %d and %d both won", winner, i)
			}
			winner = i
			continue
		}
		wantErr(t, err, models.KindConflict, "slot_full")
	}
	if winner < 0 {
		t.Fatal("nobody won the last place")
	}
	for i, a := range appts {
		s := f.stored(t, a.ID)
		want := a.StartsAt
		if i == winner {
			want = target
		}
		if !s.StartsAt.Equal(want) || s.Status != models.AppointmentBooked {
			t.Errorf("appointment %d at %v (%s), want %v", i, s.StartsAt, s.Status, want)
		}
	}
	f.wantSlot(t, f.o.ccs01.ID, target, 2, 2)
	f.wantSlot(t, f.o.ccs01.ID, appts[winner].StartsAt, 1, 2)
	f.invariant(t)
}

func TestRescheduleConcurrentSwap(t *testing.T) {
	f := newFx(t)
	// CCS-01 (two counters): each pair's slots hold one each, so both moves fit.
	// CCS-02 (one counter): each pair's slots are full, so neither move fits.
	setCounters(t, f, "CCS-02", 1)
	type pair struct{ a, b *models.Appointment }
	var pairs []pair
	for k := 0; k < 4; k++ {
		x := mon(8, 0).Add(time.Duration(k) * time.Hour)
		y := x.Add(30 * time.Minute)
		for _, c := range []string{"CCS-01", "CCS-02"} {
			pairs = append(pairs, pair{
				f.bookedAt(t, fmt.Sprintf("CSM-C4-%s-%d-A", c, k), c, x),
				f.bookedAt(t, fmt.Sprintf("CSM-C4-%s-%d-B", c, k), c, y)})
		}
	}
	const rounds = 5
	for r := 0; r < rounds; r++ {
		type move struct {
			id  string
			to  time.Time
			was time.Time
		}
		var moves []move
		for _, p := range pairs {
			sa, sb := f.stored(t, p.a.ID), f.stored(t, p.b.ID)
			moves = append(moves, move{p.a.ID, sb.StartsAt, sa.StartsAt}, move{p.b.ID, sa.StartsAt, sb.StartsAt})
		}
		errs := make([]error, len(moves))
		together(len(moves), func(i int) {
			_, errs[i] = f.appts.Reschedule(context.Background(), f.o.csm, moves[i].id, models.RescheduleInput{StartsAt: rfc(moves[i].to)})
		})
		okN, conflicts := 0, map[string]int{}
		for i, err := range errs {
			want := moves[i].was
			if err == nil {
				okN++
				want = moves[i].to
			} else if e, isErr := models.AsError(err); !isErr || e.Kind != models.KindConflict {
				t.Fatalf("round %d move %d: %v, want success or a clean conflict", r, i, err)
			} else {
				conflicts[e.Code]++
			}
			if s := f.stored(t, moves[i].id); !s.StartsAt.Equal(want) {
				t.Fatalf("round %d move %d: appointment at %v, want %v (err %v)", r, i, s.StartsAt, want, err)
			}
		}
		t.Logf("round %d: %d moved, conflicts %v", r, okN, conflicts)
		// Full slots at CCS-02 refuse both moves of every pair.
		if conflicts["slot_full"] < len(moves)/2 {
			t.Fatalf("round %d: only %d slot_full for the full pairs", r, conflicts["slot_full"])
		}
		f.invariant(t)
	}
}

func TestCountersConcurrentWithBookings(t *testing.T) {
	f := newFx(t)
	setCounters(t, f, "CCS-01", 3)
	slots := []time.Time{mon(8, 0), mon(8, 30), mon(9, 0), mon(9, 30)}
	const bookers = 40
	for i := 0; i < bookers; i++ {
		f.ticket(t, fmt.Sprintf("CSM-C5-%03d", i), "CCS-01")
	}
	targets := []int{1, 2, 3, 1, 2}
	errs := make([]error, bookers+len(targets))
	together(len(errs), func(i int) {
		ctx := context.Background()
		if i < bookers {
			_, errs[i] = f.book(f.o.csm, fmt.Sprintf("CSM-C5-%03d", i), "CCS-01", slots[i%len(slots)])
			return
		}
		n := targets[i-bookers]
		for try := 0; try < 20; try++ {
			c, err := f.admin.GetCentre(ctx, f.o.admin, "CCS-01")
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = f.admin.UpdateCentre(ctx, f.o.admin, "CCS-01", models.CentreUpdate{Counters: &n, Version: &c.Version})
			if models.ErrorCode(errs[i]) != "version_conflict" {
				return
			}
		}
	})
	booked := 0
	for i, err := range errs {
		switch {
		case err == nil:
			if i < bookers {
				booked++
			}
		case i < bookers && models.ErrorCode(err) == "slot_full":
		case i >= bookers && (models.ErrorCode(err) == "counters_below_bookings" || models.ErrorCode(err) == "version_conflict"):
		default:
			t.Errorf("%d: %v", i, err)
		}
	}
	c, err := f.admin.GetCentre(context.Background(), f.o.admin, "CCS-01")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d booked; counters end at %d", booked, c.Counters)
	if got := f.count(t, "SELECT COALESCE(sum(booked), 0) FROM slots"); got != int64(booked) {
		t.Fatalf("%d places taken for %d bookings", got, booked)
	}
	// Slots still to come have the centre's counters as capacity.
	if n := f.count(t, "SELECT count(*) FROM slots WHERE centre_id = ? AND ends_at > ? AND capacity <> ?", f.o.ccs01.ID, f.now, c.Counters); n != 0 {
		t.Fatalf("%d future slots with a capacity other than the counters", n)
	}
	f.invariant(t)
}

// CSM cancelling a ticket while the counter cancels, reschedules or checks in its
// appointment: in either order both succeed (or the second finds nothing left to do), and
// the slot counts stay exact.
func TestTicketCancelConcurrentWithAppointment(t *testing.T) {
	ops := []struct {
		name string
		run  func(f *fx, a *models.Appointment) error
		ok   []string // acceptable refusal codes of the appointment operation
	}{
		{"Cancel", func(f *fx, a *models.Appointment) error {
			_, err := f.appts.Cancel(context.Background(), f.counter, a.ID, "el cliente llamó")
			return err
		}, nil},
		{"Reschedule", func(f *fx, a *models.Appointment) error {
			_, err := f.appts.Reschedule(context.Background(), f.counter, a.ID, models.RescheduleInput{StartsAt: rfc(mon(10, 0))})
			return err
		}, []string{"appointment_not_booked"}},
		{"CheckIn", func(f *fx, a *models.Appointment) error {
			_, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI))
			return err
		}, []string{"appointment_not_booked"}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			f := newFx(t)
			const rounds = 10
			appts := make([]*models.Appointment, rounds)
			for r := range appts {
				appts[r] = f.booked(t, fmt.Sprintf("CSM-C6-%02d", r), mon(8, 0).Add(time.Duration(r%8)*30*time.Minute))
			}
			f.now = mon(8, 5).UTC()
			for r, a := range appts {
				errs := make([]error, 2)
				together(2, func(i int) {
					if i == 0 {
						_, errs[0] = f.tickets.Cancel(context.Background(), f.o.csm, a.TicketNumber, "cancelado por CSM")
						return
					}
					errs[1] = op.run(f, a)
				})
				if errs[0] != nil {
					t.Fatalf("round %d: ticket cancel: %v", r, errs[0])
				}
				if errs[1] != nil && !slices.Contains(op.ok, models.ErrorCode(errs[1])) {
					t.Fatalf("round %d: %s: %v", r, op.name, errs[1])
				}
				if s := f.stored(t, a.ID); s.Status == models.AppointmentBooked || s.Status == models.AppointmentCheckedIn {
					t.Fatalf("round %d: appointment still %s after the ticket was cancelled", r, s.Status)
				}
			}
			f.invariant(t)
		})
	}
}
