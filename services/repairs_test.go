package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"centros/models"
	"centros/services"
)

// rfx is the bench: the appointments fixture with real technician and manager accounts
// (a repair order records who worked on it) and the repairs service.
type rfx struct {
	*fx
	repairs *services.Repairs
	techP   models.Principal
	mgrP    models.Principal
}

func newRfx(t *testing.T) *rfx {
	t.Helper()
	f := newFx(t)
	person := func(email string, role models.Role) models.Principal {
		u := newStaff(t, f.env, f.o, email, role, "CCS-01", "")
		return models.Principal{UserID: u.ID, Name: u.Name, Email: u.Email, Role: role, CentreID: f.o.ccs01.ID, CentreCode: "CCS-01"}
	}
	return &rfx{fx: f, repairs: services.NewRepairs(f.deps, "https://centros.example/"),
		techP: person("banco@example.com", models.RoleTechnician), mgrP: person("jefa@example.com", models.RoleCentreManager)}
}

// checkedIn refers number to CCS-01, books it at slot on Monday, checks it in five minutes
// later and returns the repair order.
func (f *rfx) checkedIn(t *testing.T, number string, slot time.Time) *models.RepairOrder {
	t.Helper()
	return f.arrive(t, f.booked(t, number, slot))
}

// arrive checks a booked customer in, at least five minutes into the slot.
func (f *rfx) arrive(t *testing.T, a *models.Appointment) *models.RepairOrder {
	t.Helper()
	if f.now.Before(a.StartsAt) {
		f.now = a.StartsAt.Add(5 * time.Minute).UTC()
	}
	in, err := f.appts.CheckIn(context.Background(), f.counter, a.ID, checkIn(ticketIMEI))
	if err != nil {
		t.Fatalf("check in %s: %v", a.TicketNumber, err)
	}
	r, err := f.repairs.Get(context.Background(), f.techP, *in.RepairID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// results gives every test of r's checklist the result res, except those in except.
func results(r *models.RepairOrder, res string, except map[string]string) []models.TestResultInput {
	var out []models.TestResultInput
	for _, tv := range r.Tests {
		v, ok := except[tv.Code]
		if !ok {
			v = res
		}
		if v != "" {
			out = append(out, models.TestResultInput{Code: tv.Code, Result: v})
		}
	}
	return out
}

// ready brings r to a certifiable state: diagnosis, one action, every test passed.
func (f *rfx) ready(t *testing.T, r *models.RepairOrder) *models.RepairOrder {
	t.Helper()
	ctx := context.Background()
	d := "Conector de carga oxidado por humedad"
	acts := []models.ActionInput{{Code: "charging_port"}, {Text: "Limpieza con alcohol isopropílico"}}
	r, err := f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{Diagnosis: &d, CorrectiveActions: &acts, Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	r, err = f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: results(r, models.TestPass, nil), Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *rfx) certify(r *models.RepairOrder) (*models.Certificate, error) {
	return f.repairs.Certify(context.Background(), f.techP, r.ID, models.CertifyInput{Outcome: models.OutcomeRepaired})
}

func TestRepairUpdate(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	r := f.checkedIn(t, "CSM-2026-0070001", mon(8, 0))
	if r.Status != models.RepairOpen || r.Version != 1 || r.Diagnosis != "" || len(r.Actions) != 0 || r.Technician != nil {
		t.Fatalf("new repair order: %+v", r)
	}
	if r.ReceivedCondition != "Pantalla rayada, enciende" || string(r.Accessories) != `["cargador", "estuche"]` {
		t.Fatalf("check-in content: %q %s", r.ReceivedCondition, r.Accessories)
	}
	if len(r.Tests) != 15 || len(r.Checklist.Missing) != 12 {
		t.Fatalf("checklist: %d tests, missing %v", len(r.Tests), r.Checklist.Missing)
	}

	d := "  No carga: conector oxidado  "
	acts := []models.ActionInput{{Code: "charging_port", Text: " se cambió la pieza "}, {Text: "Limpieza de contactos"}}
	r, err := f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{Diagnosis: &d, CorrectiveActions: &acts, Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 || r.Diagnosis != "No carga: conector oxidado" || r.Technician == nil || *r.Technician != f.techP.Name {
		t.Fatalf("after edit: v%d %q %v", r.Version, r.Diagnosis, r.Technician)
	}
	want := []string{"Reparación del conector de carga: se cambió la pieza", "Limpieza de contactos"}
	if got := []string{r.Actions[0].Label("es"), r.Actions[1].Label("es")}; !slices.Equal(got, want) {
		t.Fatalf("actions %q, want %q", got, want)
	}
	if r.Actions[0].Label("en") != "Charging port repaired: se cambió la pieza" {
		t.Fatalf("english label %q", r.Actions[0].Label("en"))
	}
	// Only what is sent changes.
	d2 := "Conector oxidado"
	r, err = f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{Diagnosis: &d2, Version: &r.Version})
	if err != nil || len(r.Actions) != 2 || r.Diagnosis != d2 {
		t.Fatalf("diagnosis only: %v %+v", err, r)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'repair_order' AND entity_id = ?", r.ID); n != 2 {
		t.Fatalf("%d audit entries, want 2", n)
	}

	stale := 1
	bad := []models.ActionInput{{Code: "no_such_action"}}
	empty := []models.ActionInput{{Text: " "}}
	cases := []struct {
		name     string
		p        models.Principal
		id       string
		in       models.RepairUpdate
		wantKind models.ErrorKind
		wantCode string
	}{
		{"StaleVersion", f.techP, r.ID, models.RepairUpdate{Diagnosis: &d, Version: &stale}, models.KindConflict, "version_conflict"},
		{"UnknownAction", f.techP, r.ID, models.RepairUpdate{CorrectiveActions: &bad, Version: &r.Version}, models.KindUnprocessable, "unknown_action"},
		{"NeitherCodeNorText", f.techP, r.ID, models.RepairUpdate{CorrectiveActions: &empty, Version: &r.Version}, models.KindInvalid, "validation_failed"},
		{"CounterForbidden", f.counter, r.ID, models.RepairUpdate{Diagnosis: &d, Version: &r.Version}, models.KindForbidden, "forbidden"},
		{"CSMForbidden", f.o.csm, r.ID, models.RepairUpdate{Diagnosis: &d, Version: &r.Version}, models.KindForbidden, "forbidden"},
		{"OtherCentre", at(models.RoleTechnician, f.o.ccs02), r.ID, models.RepairUpdate{Diagnosis: &d, Version: &r.Version}, models.KindNotFound, "not_found"},
		{"NotAnID", f.techP, "x", models.RepairUpdate{Diagnosis: &d, Version: &r.Version}, models.KindNotFound, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snap(t)
			_, err := f.repairs.Update(ctx, tc.p, tc.id, tc.in)
			wantErr(t, err, tc.wantKind, tc.wantCode)
			f.unchanged(t, before)
		})
	}
	// An action retired since it was recorded may stay; a retired one cannot be added.
	if _, err := f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueActions, "charging_port", models.CatalogueInput{
		NameES: "Conector", NameEN: "Port", Active: new(false), Version: new(1)}); err != nil {
		t.Fatal(err)
	}
	if r, err = f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{CorrectiveActions: &acts, Version: &r.Version}); err != nil {
		t.Fatalf("keeping a retired action: %v", err)
	}
	retired := []models.ActionInput{{Code: "charging_port"}, {Code: "factory_reset"}}
	if _, err := f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueActions, "factory_reset", models.CatalogueInput{
		NameES: "Reset", NameEN: "Reset", Active: new(false), Version: new(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{CorrectiveActions: &retired, Version: &r.Version})
	wantErr(t, err, models.KindUnprocessable, "unknown_action")

	// The counter and the manager may read it; another centre may not.
	if _, err := f.repairs.Get(ctx, f.counter, r.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.repairs.Get(ctx, f.counter2(), r.ID)
	wantErr(t, err, models.KindNotFound, "not_found")
}

func TestRecordTests(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	r := f.checkedIn(t, "CSM-2026-0070002", mon(8, 0))
	in := []models.TestResultInput{{Code: "power_on", Result: "pass"}, {Code: "charging", Result: "fail", Note: " no carga "}, {Code: "camera", Result: "na"}}
	r, err := f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: in, Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Checklist
	if c.Recorded != 3 || c.Passed != 1 || c.Failed != 1 || len(c.Missing) != 10 || !slices.Equal(c.NotPassed, []string{"charging"}) {
		t.Fatalf("checklist %+v", c)
	}
	recorded := map[string]models.TestView{}
	for _, tv := range r.Tests {
		recorded[tv.Code] = tv
	}
	if tv := recorded["charging"]; tv.Note != "no carga" || tv.RecordedAt == nil || !tv.RecordedAt.Equal(f.now) {
		t.Fatalf("charging: %+v", tv)
	}

	// The checklist as it stands replaces the last one; an unchanged result keeps its time.
	first := f.now
	f.now = f.now.Add(10 * time.Minute)
	in = []models.TestResultInput{{Code: "power_on", Result: "pass"}, {Code: "charging", Result: "pass"}}
	r, err = f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: in, Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	for _, tv := range r.Tests {
		switch tv.Code {
		case "power_on":
			if !tv.RecordedAt.Equal(first) {
				t.Errorf("power_on recorded at %v, want %v (unchanged)", tv.RecordedAt, first)
			}
		case "charging":
			if *tv.Result != "pass" || !tv.RecordedAt.Equal(f.now) {
				t.Errorf("charging %v at %v", *tv.Result, tv.RecordedAt)
			}
		case "camera":
			if tv.Result != nil {
				t.Errorf("camera left out but still %v", *tv.Result)
			}
		}
	}

	stale := 1
	cases := []struct {
		name     string
		in       []models.TestResultInput
		version  *int
		wantKind models.ErrorKind
		wantCode string
		field    string
	}{
		{"UnknownTest", []models.TestResultInput{{Code: "teleport", Result: "pass"}}, &r.Version, models.KindUnprocessable, "unknown_test", "results[0].code"},
		{"Twice", []models.TestResultInput{{Code: "sms", Result: "pass"}, {Code: "sms", Result: "fail"}}, &r.Version, models.KindInvalid, "validation_failed", "results[1].code"},
		{"StaleVersion", []models.TestResultInput{{Code: "sms", Result: "pass"}}, &stale, models.KindConflict, "version_conflict", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snap(t)
			_, err := f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: tc.in, Version: tc.version})
			e := wantErr(t, err, tc.wantKind, tc.wantCode)
			if tc.field != "" && (len(e.Fields) == 0 || e.Fields[0].Field != tc.field) {
				t.Fatalf("fields %+v, want %s", e.Fields, tc.field)
			}
			f.unchanged(t, before)
		})
	}

	// A retired test is refused from then on, and no longer needed.
	if _, err := f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueTests, "sms", models.CatalogueInput{
		NameES: "SMS", NameEN: "SMS", Active: new(false), Version: new(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: []models.TestResultInput{{Code: "sms", Result: "pass"}}, Version: &r.Version})
	wantErr(t, err, models.KindUnprocessable, "unknown_test")
	r, _ = f.repairs.Get(ctx, f.techP, r.ID)
	if slices.Contains(r.Checklist.Missing, "sms") {
		t.Fatal("a retired test is still required")
	}
	// A result recorded before its test was retired may stay on the order.
	if _, err := f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueTests, "charging", models.CatalogueInput{
		NameES: "Carga", NameEN: "Charging", Active: new(false), Version: new(1)}); err != nil {
		t.Fatal(err)
	}
	r, err = f.repairs.RecordTests(ctx, f.techP, r.ID, models.TestResultsUpdate{Results: in, Version: &r.Version})
	if err != nil {
		t.Fatalf("keeping a retired test's result: %v", err)
	}
}

func TestCertify(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	const number = "CSM-2026-0070003"
	r := f.ready(t, f.checkedIn(t, number, mon(8, 0)))
	appt := f.getTicket(t, number).Appointment
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 1, 2)
	f.now = mon(9, 30).UTC()

	cert, err := f.certify(r)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Number != "CCS-01-2026-000001" || cert.Status != "valid" || cert.Outcome != "repaired" || cert.Technician != f.techP.Name {
		t.Fatalf("certificate %+v", cert)
	}
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{12}$`).MatchString(cert.VerificationCode) ||
		cert.VerificationURL != "https://centros.example/verify/"+cert.VerificationCode || cert.PDFURL != "/api/v1/certificates/CCS-01-2026-000001.pdf" {
		t.Fatalf("verification %q %q %q", cert.VerificationCode, cert.VerificationURL, cert.PDFURL)
	}

	// The ticket is resolved, the visit over and its place given back.
	tk := f.getTicket(t, number)
	if tk.Status != models.TicketResolved || *tk.Outcome != "repaired" || !tk.ResolvedAt.Equal(f.now) {
		t.Fatalf("ticket %s %v %v", tk.Status, tk.Outcome, tk.ResolvedAt)
	}
	if tk.Repair == nil || tk.Repair.Status != "certified" || tk.Repair.Certificate == nil || tk.Repair.Certificate.Number != cert.Number {
		t.Fatalf("ticket's repair %+v", tk.Repair)
	}
	if a := f.stored(t, appt.ID); a.Status != models.AppointmentCompleted {
		t.Fatalf("appointment %s", a.Status)
	}
	f.wantSlot(t, f.o.ccs01.ID, mon(8, 0), 0, 2)
	f.invariant(t)

	ev := f.lastEvent(t, number)
	if ev.Type != "ticket.resolved" || ev.Data["outcome"] != "repaired" || ev.Data["certificate_number"] != cert.Number ||
		ev.Data["verification_url"] != cert.VerificationURL || ev.Data["within_sla"] != true || ev.Data["technician"] != f.techP.Name {
		t.Fatalf("event %+v", ev)
	}
	wantTime(t, "resolved_at", ev.Data["resolved_at"], f.now)
	if s := ev.Data["test_summary"].(map[string]any); s["passed"] != float64(15) || s["failed"] != float64(0) {
		t.Fatalf("test summary %v", s)
	}
	if acts := ev.Data["corrective_actions"].([]any); len(acts) != 2 {
		t.Fatalf("actions %v", acts)
	}

	// The PDF is stored with its hash and served identically.
	doc, got, err := f.repairs.CertificatePDF(ctx, f.counter, cert.Number)
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Body
	sum := sha256.Sum256(body)
	if !strings.HasPrefix(string(body), "%PDF-") || hex.EncodeToString(sum[:]) != cert.PDFSHA256 || got.PDFSHA256 != cert.PDFSHA256 ||
		doc.SHA256 != cert.PDFSHA256 || doc.Name != cert.Number+".pdf" {
		t.Fatalf("pdf of %d bytes, hash %s, want %s", len(body), hex.EncodeToString(sum[:]), cert.PDFSHA256)
	}
	again, _, _ := f.repairs.CertificatePDF(ctx, f.o.admin, cert.Number)
	if string(again.Body) != string(body) {
		t.Fatal("the PDF changed between two downloads")
	}
	_, _, err = f.repairs.CertificatePDF(ctx, at(models.RoleCounter, f.o.ccs02), cert.Number)
	wantErr(t, err, models.KindNotFound, "not_found")

	// The repair order is closed to edits, and to a second certification.
	r, _ = f.repairs.Get(ctx, f.techP, r.ID)
	if r.Status != models.RepairCertified || r.Certificate == nil || r.Certificate.Number != cert.Number {
		t.Fatalf("repair %s %+v", r.Status, r.Certificate)
	}
	d := "otra cosa"
	_, err = f.repairs.Update(ctx, f.techP, r.ID, models.RepairUpdate{Diagnosis: &d, Version: &r.Version})
	wantErr(t, err, models.KindConflict, "repair_not_open")
	_, err = f.certify(r)
	wantErr(t, err, models.KindConflict, "repair_not_open")

	// The next certificate of the centre takes the next number.
	r2 := f.ready(t, f.checkedIn(t, "CSM-2026-0070004", mon(9, 30)))
	cert2, err := f.certify(r2)
	if err != nil || cert2.Number != "CCS-01-2026-000002" {
		t.Fatalf("second certificate %v %v", cert2, err)
	}
}

func TestCertifyRefused(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder
		p        func(f *rfx) models.Principal
		outcome  string
		wantKind models.ErrorKind
		wantCode string
	}{
		{name: "TestsIncomplete", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			return f.record(t, r, results(r, "pass", map[string]string{"sms": ""}))
		}, wantKind: models.KindUnprocessable, wantCode: "tests_incomplete"},
		{name: "MandatoryFailed", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			return f.record(t, r, results(r, "pass", map[string]string{"charging": "fail"}))
		}, wantKind: models.KindUnprocessable, wantCode: "tests_failed"},
		{name: "MandatoryNotApplicable", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			return f.record(t, r, results(r, "pass", map[string]string{"earpiece": "na"}))
		}, wantKind: models.KindUnprocessable, wantCode: "tests_failed"},
		{name: "NoDiagnosis", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			empty := ""
			r, err := f.repairs.Update(context.Background(), f.techP, r.ID, models.RepairUpdate{Diagnosis: &empty, Version: &r.Version})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, wantKind: models.KindUnprocessable, wantCode: "diagnosis_missing"},
		{name: "NoActions", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			none := []models.ActionInput{}
			r, err := f.repairs.Update(context.Background(), f.techP, r.ID, models.RepairUpdate{CorrectiveActions: &none, Version: &r.Version})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, wantKind: models.KindUnprocessable, wantCode: "actions_missing"},
		{name: "SwappedWithoutSwap", outcome: models.OutcomeSwapped, wantKind: models.KindUnprocessable, wantCode: "swap_required"},
		{name: "Counter", p: func(f *rfx) models.Principal { return f.counter }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "OtherCentre", p: func(f *rfx) models.Principal { return at(models.RoleTechnician, f.o.ccs02) }, wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "Abandoned", prepare: func(t *testing.T, f *rfx, r *models.RepairOrder) *models.RepairOrder {
			if _, err := f.tickets.Cancel(context.Background(), f.o.csm, r.TicketNumber, "el cliente desistió"); err != nil {
				t.Fatal(err)
			}
			return r
		}, wantKind: models.KindConflict, wantCode: "repair_not_open"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRfx(t)
			r := f.ready(t, f.checkedIn(t, fmt.Sprintf("CSM-2026-00710%02d", i), mon(8, 0)))
			if tc.prepare != nil {
				r = tc.prepare(t, f, r)
			}
			p, outcome := f.techP, models.OutcomeRepaired
			if tc.p != nil {
				p = tc.p(f)
			}
			if tc.outcome != "" {
				outcome = tc.outcome
			}
			before := f.snap(t)
			_, err := f.repairs.Certify(context.Background(), p, r.ID, models.CertifyInput{Outcome: outcome})
			wantErr(t, err, tc.wantKind, tc.wantCode)
			f.unchanged(t, before)
			if n := f.count(t, "SELECT count(*) FROM certificates") + f.count(t, "SELECT count(*) FROM certificate_counters"); n != 0 {
				t.Fatalf("a refused certification left %d rows", n)
			}
		})
	}
}

func (f *rfx) record(t *testing.T, r *models.RepairOrder, in []models.TestResultInput) *models.RepairOrder {
	t.Helper()
	r, err := f.repairs.RecordTests(context.Background(), f.techP, r.ID, models.TestResultsUpdate{Results: in, Version: &r.Version})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An optional test may fail on a repaired handset (a phone without a camera).
func TestCertifyOptionalTestFailed(t *testing.T) {
	f := newRfx(t)
	r := f.ready(t, f.checkedIn(t, "CSM-2026-0070005", mon(8, 0)))
	r = f.record(t, r, results(r, "pass", map[string]string{"camera": "fail", "keypad": "na", "wifi_bluetooth": ""}))
	if _, err := f.certify(r); err != nil {
		t.Fatal(err)
	}
}

func TestCertifyLate(t *testing.T) {
	f := newRfx(t)
	const number = "CSM-2026-0070006"
	r := f.ready(t, f.checkedIn(t, number, mon(8, 0)))
	f.now = f.getTicket(t, number).SLADueAt.Add(time.Minute)
	if _, err := f.certify(r); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t, number); ev.Data["within_sla"] != false {
		t.Fatalf("within_sla %v after the deadline", ev.Data["within_sla"])
	}
	if tk := f.getTicket(t, number); tk.SLAState != models.SLALate {
		t.Fatalf("sla_state %s", tk.SLAState)
	}
}

// The year of a number is the centre's: 31 December at 21:00 in Caracas is already
// 1 January in UTC.
func TestCertificateYearIsTheCentres(t *testing.T) {
	f := newRfx(t)
	f.now = lt(time.December, 31, 7, 0).UTC()
	r := f.ready(t, f.checkedIn(t, "CSM-2026-0070007", lt(time.December, 31, 8, 0)))
	f.now = lt(time.December, 31, 21, 0).UTC()
	cert, err := f.certify(r)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Number != "CCS-01-2026-000001" {
		t.Fatalf("number %s", cert.Number)
	}
}

func TestVoidCertificate(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	const number = "CSM-2026-0070008"
	r := f.ready(t, f.checkedIn(t, number, mon(8, 0)))
	cert, err := f.certify(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.repairs.Void(ctx, f.techP, cert.Number, "error de datos")
	wantErr(t, err, models.KindForbidden, "forbidden")
	_, err = f.repairs.Void(ctx, at(models.RoleCentreManager, f.o.ccs02), cert.Number, "error de datos")
	wantErr(t, err, models.KindNotFound, "not_found")

	_, err = f.repairs.Void(ctx, f.mgrP, cert.Number, "   ")
	wantErr(t, err, models.KindInvalid, "validation_failed")
	_, err = f.repairs.Void(ctx, f.mgrP, cert.Number, strings.Repeat("á", 501))
	wantErr(t, err, models.KindInvalid, "validation_failed")

	f.now = f.now.Add(time.Hour)
	void, err := f.repairs.Void(ctx, f.mgrP, cert.Number, "  IMEI mal transcrito ")
	if err != nil {
		t.Fatal(err)
	}
	if void.Status != "void" || *void.VoidReason != "IMEI mal transcrito" || !void.VoidedAt.Equal(f.now) {
		t.Fatalf("voided %+v", void)
	}
	ev := f.lastEvent(t, number)
	if ev.Type != "certificate.voided" || ev.Data["certificate_number"] != cert.Number || ev.Data["reason"] != "IMEI mal transcrito" {
		t.Fatalf("event %+v", ev)
	}
	_, err = f.repairs.Void(ctx, f.mgrP, cert.Number, "otra vez")
	wantErr(t, err, models.KindConflict, "certificate_void")

	// The repair opens again, the ticket is back in service, and a corrected certificate
	// takes the next number; the voided one stays, unchanged.
	tk := f.getTicket(t, number)
	if tk.Status != models.TicketInService || tk.Outcome != nil || tk.ResolvedAt != nil {
		t.Fatalf("ticket %s %v %v", tk.Status, tk.Outcome, tk.ResolvedAt)
	}
	r, _ = f.repairs.Get(ctx, f.techP, r.ID)
	if r.Status != models.RepairOpen || r.Outcome != nil || r.Certificate == nil || r.Certificate.Status != "void" {
		t.Fatalf("repair %s %v %+v", r.Status, r.Outcome, r.Certificate)
	}
	cert2, err := f.certify(r)
	if err != nil || cert2.Number != "CCS-01-2026-000002" {
		t.Fatalf("recertified %v %v", cert2, err)
	}
	r, _ = f.repairs.Get(ctx, f.techP, r.ID)
	if r.Certificate.Number != cert2.Number {
		t.Fatalf("the repair shows %s, want the valid %s", r.Certificate.Number, cert2.Number)
	}
	// Not only the first of a year can be voided (the schema's check once stopped it).
	if _, err := f.repairs.Void(ctx, f.mgrP, cert2.Number, "prueba"); err != nil {
		t.Fatalf("void %s: %v", cert2.Number, err)
	}
	voided, old, err := f.repairs.CertificatePDF(ctx, f.mgrP, cert.Number)
	if err == nil && old.Status != "void" {
		t.Fatalf("%s is %s", cert.Number, old.Status)
	}
	if err != nil || old.Status != "void" || old.PDFSHA256 != cert.PDFSHA256 || len(voided.Body) == 0 {
		t.Fatalf("the voided certificate: %v %+v", err, old)
	}

	v, err := f.repairs.Verify(ctx, cert.VerificationCode)
	if err != nil || v.Status != "void" || v.VoidedAt == nil {
		t.Fatalf("verify voided: %+v %v", v, err)
	}
}

// The database keeps certificates as issued whatever the code does: no edit, no delete,
// no number out of sequence.
func TestCertificatesAreImmutable(t *testing.T) {
	f := newRfx(t)
	cert, err := f.certify(f.ready(t, f.checkedIn(t, "CSM-2026-0070009", mon(8, 0))))
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"UPDATE certificates SET pdf = 'x'::bytea, pdf_sha256 = encode(sha256('x'::bytea), 'hex')",
		"UPDATE certificates SET outcome = 'swapped'",
		"DELETE FROM certificates",
		`INSERT INTO certificates (number, centre_id, year, seq, repair_id, ticket_id, outcome, device_model, verification_code,
			issued_at, technician_name, pdf, pdf_sha256)
		 SELECT 'CCS-01-2026-000003', centre_id, year, 3, repair_id, ticket_id, outcome, device_model, 'ZZZZZZZZZZZZ',
			issued_at, technician_name, pdf, pdf_sha256 FROM certificates`,
		"UPDATE certificates SET pdf_sha256 = repeat('0', 64)",
	} {
		if err := f.deps.DB.Exec(sql).Error; err == nil {
			t.Errorf("the database let through: %s", sql)
		}
	}
	if err := f.deps.DB.Exec("UPDATE certificates SET voided_at = now(), void_reason = 'x'").Error; err != nil {
		t.Fatalf("voiding: %v", err)
	}
	if err := f.deps.DB.Exec("UPDATE certificates SET void_reason = 'y'").Error; err == nil {
		t.Error("a voided certificate was changed")
	}
	if n := f.count(t, "SELECT count(*) FROM certificates WHERE number = ?", cert.Number); n != 1 {
		t.Fatalf("%d certificates", n)
	}
}

// Twenty technicians certify at once at one centre, among five whose checklists are not
// complete: the twenty take numbers 1 to 20, without gap or repeat, and the refused five
// take none.
func TestCertifyConcurrentNumbers(t *testing.T) {
	f := newRfx(t)
	const n, incomplete = 20, 5
	var appts []*models.Appointment
	for i := range n + incomplete {
		slot := mon(8, 0).Add(time.Duration(i/2) * 30 * time.Minute)
		if slot.Hour() >= 12 {
			slot = slot.Add(time.Hour) // the lunch break
		}
		appts = append(appts, f.booked(t, fmt.Sprintf("CSM-2026-00720%02d", i), slot))
	}
	f.now = mon(16, 0).UTC()
	var repairs []*models.RepairOrder
	for i, a := range appts {
		r := f.ready(t, f.arrive(t, a))
		if i >= n {
			r = f.record(t, r, results(r, "pass", map[string]string{"sms": ""}))
		}
		repairs = append(repairs, r)
	}
	numbers := make([]string, len(repairs))
	errs := make([]error, len(repairs))
	together(len(repairs), func(i int) {
		var cert *models.Certificate
		cert, errs[i] = f.certify(repairs[i])
		if cert != nil {
			numbers[i] = cert.Number
		}
	})
	var got []string
	for i, err := range errs {
		if i < n && err != nil {
			t.Errorf("certify %d: %v", i, err)
		}
		if i >= n {
			wantErr(t, err, models.KindUnprocessable, "tests_incomplete")
		}
		if numbers[i] != "" {
			got = append(got, numbers[i])
		}
	}
	slices.Sort(got)
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("CCS-01-2026-%06d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("numbers %v\nwant %v", got, want)
	}
	if last := f.count(t, "SELECT last FROM certificate_counters"); last != n {
		t.Fatalf("counter at %d, want %d", last, n)
	}
	f.invariant(t)
}

func TestVerify(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	cert, err := f.certify(f.ready(t, f.checkedIn(t, "CSM-2026-0070010", mon(8, 0))))
	if err != nil {
		t.Fatal(err)
	}
	typed := strings.ToLower(services.FormatVerificationCode(cert.VerificationCode))
	for _, code := range []string{cert.VerificationCode, typed, " " + typed + " "} {
		v, err := f.repairs.Verify(ctx, code)
		if err != nil {
			t.Fatalf("verify %q: %v", code, err)
		}
		if v.Status != "valid" || v.Number != cert.Number || v.CentreCode != "CCS-01" || v.DeviceModel != cert.DeviceModel ||
			v.Outcome != "repaired" || !v.IssuedAt.Equal(cert.IssuedAt) || v.TimeZone != "America/Caracas" {
			t.Fatalf("verification %+v", v)
		}
	}
	for _, code := range []string{"", "ABC", "0000-0000-0000", cert.VerificationCode + "0", "ÑÑÑÑ-ÑÑÑÑ-ÑÑÑÑ"} {
		_, err := f.repairs.Verify(ctx, code)
		wantErr(t, err, models.KindNotFound, "not_found")
	}
}

func TestCatalogue(t *testing.T) {
	f := newRfx(t)
	ctx := context.Background()
	tests, err := f.repairs.ListCatalogue(ctx, f.counter, services.CatalogueTests)
	if err != nil {
		t.Fatal(err)
	}
	var mandatory []string
	for _, it := range tests {
		if *it.Mandatory {
			mandatory = append(mandatory, it.Code)
		}
	}
	if len(tests) != 15 || len(mandatory) != 12 || tests[0].Code != "power_on" || tests[0].NameES != "Encendido" {
		t.Fatalf("seeded tests: %d, mandatory %v", len(tests), mandatory)
	}
	actions, err := f.repairs.ListCatalogue(ctx, f.techP, services.CatalogueActions)
	if err != nil || len(actions) == 0 || actions[0].Mandatory != nil {
		t.Fatalf("actions %v %v", actions, err)
	}

	// A new mandatory test is needed by repairs from then on.
	r := f.ready(t, f.checkedIn(t, "CSM-2026-0070011", mon(8, 0)))
	item, err := f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueTests, "vibration",
		models.CatalogueInput{NameES: "Vibración", NameEN: "Vibration", Mandatory: new(true), Position: new(105)})
	if err != nil || item.Version != 1 || !item.Active {
		t.Fatalf("new test %+v %v", item, err)
	}
	_, err = f.certify(r)
	wantErr(t, err, models.KindUnprocessable, "tests_incomplete")
	item, err = f.repairs.SaveCatalogueItem(ctx, f.o.admin, services.CatalogueTests, "vibration",
		models.CatalogueInput{NameES: "Vibrador", NameEN: "Vibration", Mandatory: new(false), Version: &item.Version})
	if err != nil || item.Version != 2 || *item.Mandatory || item.NameES != "Vibrador" || item.Position != 105 {
		t.Fatalf("edited %+v %v", item, err)
	}
	if _, err := f.certify(r); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		p        models.Principal
		kind     services.Catalogue
		code     string
		in       models.CatalogueInput
		wantKind models.ErrorKind
		wantCode string
	}{
		{"Exists", f.o.admin, services.CatalogueTests, "sms", models.CatalogueInput{NameES: "a", NameEN: "a", Mandatory: new(true)}, models.KindConflict, "already_exists"},
		{"Stale", f.o.admin, services.CatalogueTests, "sms", models.CatalogueInput{NameES: "a", NameEN: "a", Version: new(7)}, models.KindConflict, "version_conflict"},
		{"Unknown", f.o.admin, services.CatalogueActions, "nothing_here", models.CatalogueInput{NameES: "a", NameEN: "a", Version: new(1)}, models.KindNotFound, "not_found"},
		{"BadCode", f.o.admin, services.CatalogueTests, "Bad-Code", models.CatalogueInput{NameES: "a", NameEN: "a", Mandatory: new(true)}, models.KindInvalid, "validation_failed"},
		{"NewTestWithoutMandatory", f.o.admin, services.CatalogueTests, "new_one", models.CatalogueInput{NameES: "a", NameEN: "a"}, models.KindInvalid, "validation_failed"},
		{"MandatoryAction", f.o.admin, services.CatalogueActions, "new_one", models.CatalogueInput{NameES: "a", NameEN: "a", Mandatory: new(true)}, models.KindInvalid, "validation_failed"},
		{"NotAdmin", f.mgrP, services.CatalogueTests, "new_one", models.CatalogueInput{NameES: "a", NameEN: "a", Mandatory: new(true)}, models.KindForbidden, "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.repairs.SaveCatalogueItem(ctx, tc.p, tc.kind, tc.code, tc.in)
			wantErr(t, err, tc.wantKind, tc.wantCode)
		})
	}
}
