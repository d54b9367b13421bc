package services_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"centros/models"
	"centros/services"
)

// ---------------------------------------------------------------------------
// Fixtures and assertions shared by the tests of this package.

// org is a small organisation made through the services: two business units, a
// warehouse each, three centres (two in CAP, one in OCC), an admin user and a CSM client.
type org struct {
	admin        models.Principal
	adminUser    *models.User
	csm          models.Principal
	csmToken     string
	cap, occ     *models.BusinessUnit
	almCap       *models.Warehouse
	almOcc       *models.Warehouse
	ccs01, ccs02 *services.CentreView
	mcb01        *services.CentreView
}

func fiveDays() []models.OpeningHoursInput {
	var out []models.OpeningHoursInput
	for d := 1; d <= 5; d++ {
		out = append(out, models.OpeningHoursInput{Weekday: d, Opens: "08:00", Closes: "12:00"},
			models.OpeningHoursInput{Weekday: d, Opens: "13:00", Closes: "17:00"})
	}
	return out
}

func centreInput(code, bu string) models.CentreInput {
	two := 2
	return models.CentreInput{Code: code, Name: "Centro " + code, Address: "Av. Principal " + code, BusinessUnitCode: bu,
		SlotMinutes: 30, Counters: 2, OpeningHours: fiveDays(), ClosedDays: []string{"2026-12-24", "2026-12-25"},
		MinBackupStock: []models.MinStockInput{{Model: "SM-A155M", Quantity: &two}}}
}

func newOrg(t *testing.T, e *env) *org {
	t.Helper()
	ctx := context.Background()
	sys := models.System
	o := &org{}
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	o.adminUser, err = e.admin.CreateUser(ctx, sys, models.UserInput{Email: "admin@example.com", Name: "Admin", Password: "admin-password-1", Role: models.RoleAdmin})
	must(err)
	o.admin = models.Principal{UserID: o.adminUser.ID, Name: o.adminUser.Name, Email: o.adminUser.Email, Role: models.RoleAdmin}
	o.cap, err = e.admin.CreateBusinessUnit(ctx, o.admin, models.BusinessUnitInput{Code: "CAP", Name: "Región Capital"})
	must(err)
	o.occ, err = e.admin.CreateBusinessUnit(ctx, o.admin, models.BusinessUnitInput{Code: "OCC", Name: "Región Occidente"})
	must(err)
	o.almCap, err = e.admin.CreateWarehouse(ctx, o.admin, models.WarehouseInput{Code: "ALM-CAP", Name: "Almacén Capital", BusinessUnitCode: "CAP"})
	must(err)
	o.almOcc, err = e.admin.CreateWarehouse(ctx, o.admin, models.WarehouseInput{Code: "ALM-OCC", Name: "Almacén Occidente", BusinessUnitCode: "OCC"})
	must(err)
	o.ccs01, err = e.admin.CreateCentre(ctx, o.admin, centreInput("CCS-01", "CAP"))
	must(err)
	o.ccs02, err = e.admin.CreateCentre(ctx, o.admin, centreInput("CCS-02", "CAP"))
	must(err)
	o.mcb01, err = e.admin.CreateCentre(ctx, o.admin, centreInput("MCB-01", "OCC"))
	must(err)
	client, err := e.admin.CreateAPIClient(ctx, o.admin, models.APIClientInput{Name: "CSM", Role: models.RoleCSM})
	must(err)
	o.csm = models.Principal{APIClientID: client.ID, Name: client.Name, Role: models.RoleCSM}
	o.csmToken = client.Token
	return o
}

// at returns a principal of a centre role at c.
func at(role models.Role, c *services.CentreView) models.Principal {
	return models.Principal{UserID: "00000000-0000-0000-0000-000000000001", Role: role, CentreID: c.ID, CentreCode: c.Code}
}

// of returns the warehouse principal of w.
func of(w *models.Warehouse, bu *models.BusinessUnit) models.Principal {
	return models.Principal{UserID: "00000000-0000-0000-0000-000000000099", Role: models.RoleWarehouse, WarehouseID: w.ID, WarehouseCode: w.Code, BusinessUnitID: bu.ID}
}

// referral is a valid referral of number reported at reported, for centre (may be "").
func referral(number string, reported time.Time, centre string) models.Referral {
	var r models.Referral
	r.TicketNumber = number
	r.ReportedAt = reported.Format(time.RFC3339)
	r.CentreCode = centre
	r.Customer.AccountNumber = "J-30123456-7"
	r.Customer.Company = "Transportes Ávila C.A."
	r.Customer.ContactName = "María Pérez"
	r.Customer.ContactPhone = "+584161234567"
	r.Customer.ContactEmail = "mperez@example.com"
	r.Line.MSISDN = "+584161234567"
	r.Device.IMEI = "356938035643809"
	r.Device.Brand = "Samsung"
	r.Device.Model = "SM-A155M"
	r.Fault.Category = "no_signal"
	r.Fault.Description = "Sin señal desde ayer"
	return r
}

func (e *env) refer(t *testing.T, o *org, r models.Referral) *models.Ticket {
	t.Helper()
	tk, _, err := e.tickets.Refer(context.Background(), o.csm, r)
	if err != nil {
		t.Fatalf("refer %s: %v", r.TicketNumber, err)
	}
	return tk
}

// exec runs SQL directly, to put the database in a state the services reach by other
// paths (a ticket that moved on, an old key).
func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if err := e.deps.DB.Exec(sql, args...).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.deps.DB.Raw(sql, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// setStatus moves a ticket on as later services would, keeping the table's checks.
func (e *env) setStatus(t *testing.T, number string, status models.TicketStatus) {
	t.Helper()
	switch status {
	case models.TicketResolved:
		e.exec(t, "UPDATE tickets SET status = 'resolved', outcome = 'repaired', resolved_at = ? WHERE ticket_number = ?", e.now, number)
	case models.TicketClosed:
		e.exec(t, "UPDATE tickets SET status = 'closed', outcome = 'repaired', resolved_at = ?, closed_at = ? WHERE ticket_number = ?", e.now, e.now, number)
	case models.TicketCancelled:
		e.exec(t, "UPDATE tickets SET status = 'cancelled', cancelled_at = ?, cancel_reason = 'test' WHERE ticket_number = ?", e.now, number)
	default:
		e.exec(t, "UPDATE tickets SET status = ? WHERE ticket_number = ?", string(status), number)
	}
}

type auditRow struct {
	ActorKind string
	ActorID   *string
	RequestID string
	Action    string
	Entity    string
	EntityID  string
	CentreID  *string
	Before    *string
	After     *string
}

func (e *env) audits(t *testing.T, entity, entityID string) []auditRow {
	t.Helper()
	var rows []auditRow
	err := e.deps.DB.Raw(`SELECT actor_kind, actor_id::text, request_id, action, entity, entity_id, centre_id::text,
		before::text, after::text FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id`, entity, entityID).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func decodeJSON(t *testing.T, s *string) map[string]any {
	t.Helper()
	if s == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(*s), &m); err != nil {
		t.Fatalf("audit json %s: %v", *s, err)
	}
	return m
}

// wantErr fails unless err is a *models.Error of kind and code.
func wantErr(t *testing.T, err error, kind models.ErrorKind, code string) *models.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	e, ok := models.AsError(err)
	if !ok {
		t.Fatalf("got %v (not a models.Error), want kind %v code %s", err, kind, code)
	}
	if e.Kind != kind || models.ErrorCode(err) != code {
		t.Fatalf("got kind %v code %s (%v), want kind %v code %s", e.Kind, e.Code, err, kind, code)
	}
	return e
}

// wantField fails unless err names field (with rule, if given).
func wantField(t *testing.T, err error, field, rule string) {
	t.Helper()
	e, _ := models.AsError(err)
	if e == nil {
		t.Fatalf("no models.Error: %v", err)
	}
	for _, f := range e.Fields {
		if f.Field == field && (rule == "" || f.Rule == rule) {
			return
		}
	}
	t.Fatalf("error %v does not name field %s (rule %q): %+v", err, field, rule, e.Fields)
}

// ---------------------------------------------------------------------------
// Refer

func TestReferCreates(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	reported := e.now.Add(-2 * time.Hour)
	in := referral("CSM-2026-0004711", reported, "CCS-01")
	in.Customer.ContactPhone = "0416-1234567"
	in.Line.MSISDN = "416 123 4567"
	tk, created, err := e.tickets.Refer(context.Background(), o.csm, in)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("created = false on the first referral")
	}
	if tk.Status != models.TicketReferred || tk.Version != 1 {
		t.Fatalf("status %s version %d", tk.Status, tk.Version)
	}
	if !tk.ReportedAt.Equal(reported) || !tk.SLADueAt.Equal(reported.Add(24*time.Hour)) {
		t.Fatalf("reported %v due %v", tk.ReportedAt, tk.SLADueAt)
	}
	if tk.CentreCode == nil || *tk.CentreCode != "CCS-01" || tk.CentreID == nil || *tk.CentreID != o.ccs01.ID {
		t.Fatalf("centre %v %v", tk.CentreCode, tk.CentreID)
	}
	if tk.Customer.ContactPhone != "+584161234567" || tk.Line.MSISDN != "+584161234567" {
		t.Fatalf("phones not in E.164: %q %q", tk.Customer.ContactPhone, tk.Line.MSISDN)
	}
	if tk.SLAState != models.SLAOnTime {
		t.Fatalf("sla state %s", tk.SLAState)
	}
	a := e.audits(t, "ticket", tk.ID)
	if len(a) != 1 || a[0].Action != "refer" || a[0].ActorKind != "api_client" || a[0].ActorID == nil || *a[0].ActorID != o.csm.APIClientID || a[0].Before != nil {
		t.Fatalf("audit %+v", a)
	}
	if got := decodeJSON(t, a[0].After)["ticket_number"]; got != "CSM-2026-0004711" {
		t.Fatalf("audit after names %v", got)
	}
	// Unassigned tickets are allowed: the customer chooses when booking.
	tk2, created, err := e.tickets.Refer(context.Background(), o.csm, referral("CSM-2026-0004712", reported, ""))
	if err != nil || !created || tk2.CentreID != nil || tk2.CentreCode != nil {
		t.Fatalf("unassigned referral: %+v %v %v", tk2, created, err)
	}
}

func TestReferAgain(t *testing.T) {
	const number = "CSM-2026-0004711"
	tests := []struct {
		name        string
		status      models.TicketStatus // where the ticket is when the second referral arrives
		change      func(*models.Referral)
		wantCode    string // "" for success
		wantChanged bool
		check       func(t *testing.T, tk *models.Ticket)
	}{
		{name: "Identical", change: func(*models.Referral) {}},
		{name: "SameWrittenDifferently", change: func(r *models.Referral) {
			reported, _ := time.Parse(time.RFC3339, r.ReportedAt)
			r.ReportedAt = reported.In(time.FixedZone("VET", -4*3600)).Format(time.RFC3339)
			r.Customer.ContactPhone = "0416-1234567"
			r.Line.MSISDN = "+58 (416) 123-45-67"
			r.Customer.ContactEmail = "  MPerez@Example.com "
			r.Fault.Description = "  " + r.Fault.Description + "\n"
		}},
		{name: "UpdatedWhileReferred", wantChanged: true, change: func(r *models.Referral) {
			r.Fault.Description = "Sin señal y no carga"
			r.Fault.Category = "no_charge"
		}, check: func(t *testing.T, tk *models.Ticket) {
			if tk.Fault.Description != "Sin señal y no carga" || tk.Fault.Category != "no_charge" {
				t.Fatalf("fault not updated: %+v", tk.Fault)
			}
		}},
		{name: "CentreChangedWhileReferred", wantChanged: true, change: func(r *models.Referral) { r.CentreCode = "CCS-02" },
			check: func(t *testing.T, tk *models.Ticket) {
				if tk.CentreCode == nil || *tk.CentreCode != "CCS-02" {
					t.Fatalf("centre not updated: %v", tk.CentreCode)
				}
			}},
		{name: "ReportedAtChangedMovesDeadline", wantChanged: true, change: func(r *models.Referral) {
			r.ReportedAt = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC).Format(time.RFC3339)
		}, check: func(t *testing.T, tk *models.Ticket) {
			if want := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC); !tk.SLADueAt.Equal(want) {
				t.Fatalf("sla_due_at %v, want %v", tk.SLADueAt, want)
			}
		}},
		{name: "IdenticalAfterScheduled", status: models.TicketScheduled, change: func(*models.Referral) {}},
		{name: "IdenticalAfterResolved", status: models.TicketResolved, change: func(*models.Referral) {}},
		{name: "ConflictAfterScheduled", status: models.TicketScheduled, wantCode: "ticket_conflict",
			change: func(r *models.Referral) { r.Fault.Description = "otra cosa" }},
		{name: "ConflictAfterInService", status: models.TicketInService, wantCode: "ticket_conflict",
			change: func(r *models.Referral) { r.Device.IMEI = "490154203237518" }},
		{name: "ConflictAfterResolved", status: models.TicketResolved, wantCode: "ticket_conflict",
			change: func(r *models.Referral) { r.CentreCode = "CCS-02" }},
		{name: "ConflictAfterCancelled", status: models.TicketCancelled, wantCode: "ticket_conflict",
			change: func(r *models.Referral) { r.Customer.ContactName = "Otra Persona" }},
		{name: "UnknownCentreOnUpdate", wantCode: "unknown_reference",
			change: func(r *models.Referral) { r.CentreCode = "NOPE-01" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			first := referral(number, e.now.Add(-3*time.Hour), "CCS-01")
			orig := e.refer(t, o, first)
			if tc.status != "" {
				e.setStatus(t, number, tc.status)
			}
			before, err := e.tickets.Get(ctx, o.admin, number)
			if err != nil {
				t.Fatal(err)
			}
			audits := len(e.audits(t, "ticket", orig.ID))
			e.now = e.now.Add(time.Minute)
			second := first
			tc.change(&second)
			got, created, err := e.tickets.Refer(ctx, o.csm, second)
			after, gerr := e.tickets.Get(ctx, o.admin, number)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tc.wantCode != "" {
				kind := models.KindConflict
				if tc.wantCode == "unknown_reference" {
					kind = models.KindUnprocessable
				}
				wantErr(t, err, kind, tc.wantCode)
				if after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) || after.Fault != before.Fault ||
					after.Device != before.Device || after.Customer != before.Customer || *after.CentreCode != *before.CentreCode {
					t.Fatalf("refused referral changed the ticket:\nbefore %+v\nafter  %+v", before, after)
				}
				if n := len(e.audits(t, "ticket", orig.ID)); n != audits {
					t.Fatalf("refused referral wrote %d audit rows", n-audits)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created {
				t.Fatal("created = true for a known ticket number")
			}
			if got.ID != orig.ID {
				t.Fatalf("a second ticket was made: %s != %s", got.ID, orig.ID)
			}
			if n := e.count(t, "SELECT count(*) FROM tickets"); n != 1 {
				t.Fatalf("%d tickets", n)
			}
			rows := e.audits(t, "ticket", orig.ID)
			if !tc.wantChanged {
				if after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) || after.Status != before.Status {
					t.Fatalf("identical referral changed the ticket: version %d→%d updated %v→%v", before.Version, after.Version, before.UpdatedAt, after.UpdatedAt)
				}
				if len(rows) != audits {
					t.Fatalf("identical referral wrote %d audit rows", len(rows)-audits)
				}
				return
			}
			if after.Version != before.Version+1 || !after.UpdatedAt.Equal(e.now) || got.Version != after.Version {
				t.Fatalf("update: version %d→%d (returned %d), updated_at %v (now %v)", before.Version, after.Version, got.Version, after.UpdatedAt, e.now)
			}
			if len(rows) != audits+1 {
				t.Fatalf("update wrote %d audit rows, want 1", len(rows)-audits)
			}
			last := rows[len(rows)-1]
			if last.Action != "re-refer" || last.ActorKind != "api_client" || last.ActorID == nil || *last.ActorID != o.csm.APIClientID {
				t.Fatalf("audit row %+v", last)
			}
			b, a := decodeJSON(t, last.Before), decodeJSON(t, last.After)
			if b["version"] != float64(before.Version) || a["version"] != float64(after.Version) {
				t.Fatalf("audit before/after versions: %v → %v", b["version"], a["version"])
			}
			if fmt.Sprint(b) == fmt.Sprint(a) {
				t.Fatal("audit before equals after")
			}
			if tc.check != nil {
				tc.check(t, after)
			}
		})
	}
}

func TestReferRefused(t *testing.T) {
	tests := []struct {
		name     string
		who      func(o *org) models.Principal
		change   func(e *env, r *models.Referral)
		wantKind models.ErrorKind
		wantCode string
		field    string
	}{
		{name: "UnknownCentre", change: func(_ *env, r *models.Referral) { r.CentreCode = "XXX-99" },
			wantKind: models.KindUnprocessable, wantCode: "unknown_reference", field: "centre_code"},
		{name: "ReportedInTheFuture", change: func(e *env, r *models.Referral) { r.ReportedAt = e.now.Add(6 * time.Minute).Format(time.RFC3339) },
			wantKind: models.KindUnprocessable, wantCode: "validation_failed", field: "reported_at"},
		{name: "ReportedNextDay", change: func(e *env, r *models.Referral) { r.ReportedAt = e.now.Add(24 * time.Hour).Format(time.RFC3339) },
			wantKind: models.KindUnprocessable, wantCode: "validation_failed", field: "reported_at"},
		{name: "ReportedAtNotATime", change: func(_ *env, r *models.Referral) { r.ReportedAt = "ayer" },
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "reported_at"},
		{name: "RoleCounter", who: func(o *org) models.Principal { return at(models.RoleCounter, o.ccs01) },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "RoleTechnician", who: func(o *org) models.Principal { return at(models.RoleTechnician, o.ccs01) },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "RoleCentreManager", who: func(o *org) models.Principal { return at(models.RoleCentreManager, o.ccs01) },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "RoleWarehouse", who: func(o *org) models.Principal { return of(o.almCap, o.cap) },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "RoleAdmin", who: func(o *org) models.Principal { return o.admin },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "NoRole", who: func(*org) models.Principal { return models.Principal{} },
			wantKind: models.KindUnauthenticated, wantCode: "unauthenticated"},
	}
	// Every case is refused, so they share one database, which must stay without tickets.
	e := newEnv(t)
	o := newOrg(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := referral("CSM-2026-0000001", e.now.Add(-time.Hour), "CCS-01")
			if tc.change != nil {
				tc.change(e, &in)
			}
			p := o.csm
			if tc.who != nil {
				p = tc.who(o)
			}
			tk, _, err := e.tickets.Refer(context.Background(), p, in)
			wantErr(t, err, tc.wantKind, tc.wantCode)
			if tc.field != "" {
				wantField(t, err, tc.field, "")
			}
			if tk != nil {
				t.Fatalf("a ticket came back with the error: %+v", tk)
			}
			if n := e.count(t, "SELECT count(*) FROM tickets"); n != 0 {
				t.Fatalf("refused referral left %d tickets", n)
			}
			if n := e.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'ticket'"); n != 0 {
				t.Fatalf("refused referral left %d audit rows", n)
			}
		})
	}
}

func TestReferWithinClockSkew(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	// A report a few minutes ahead of our clock is CSM's clock running fast, not an error.
	tk, created, err := e.tickets.Refer(context.Background(), o.csm, referral("CSM-1", e.now.Add(4*time.Minute), ""))
	if err != nil || !created {
		t.Fatalf("refer: %v %v", created, err)
	}
	if tk.SLAState != models.SLAOnTime {
		t.Fatalf("sla %s", tk.SLAState)
	}
}

func TestReferConcurrentIdentical(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	in := referral("CSM-2026-0009999", e.now.Add(-time.Hour), "CCS-01")
	const n = 20
	created := make([]bool, n)
	errs := make([]error, n)
	ids := make([]string, n)
	together(n, func(i int) {
		tk, c, err := e.tickets.Refer(context.Background(), o.csm, in)
		created[i], errs[i] = c, err
		if tk != nil {
			ids[i] = tk.ID
		}
	})
	nCreated := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if created[i] {
			nCreated++
		}
		if ids[i] != ids[0] {
			t.Fatalf("different tickets returned: %s %s", ids[i], ids[0])
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d referrals reported created, want 1", nCreated)
	}
	if c := e.count(t, "SELECT count(*) FROM tickets WHERE ticket_number = ?", in.TicketNumber); c != 1 {
		t.Fatalf("%d rows", c)
	}
	if c := e.count(t, "SELECT version FROM tickets"); c != 1 {
		t.Fatalf("version %d after identical referrals", c)
	}
	if c := e.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'ticket'"); c != 1 {
		t.Fatalf("%d audit rows, want 1", c)
	}
}

func TestReferConcurrentDifferent(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	const n = 20
	ins := make([]models.Referral, n)
	for i := range ins {
		ins[i] = referral("CSM-2026-0008888", e.now.Add(-time.Hour), "CCS-01")
		ins[i].Fault.Description = fmt.Sprintf("versión %d del reporte", i)
	}
	errs := make([]error, n)
	created := make([]bool, n)
	together(n, func(i int) {
		_, created[i], errs[i] = e.tickets.Refer(context.Background(), o.csm, ins[i])
	})
	nCreated, nOK := 0, 0
	for i, err := range errs {
		if err != nil {
			if me, ok := models.AsError(err); !ok || me.Kind != models.KindConflict {
				t.Fatalf("goroutine %d failed with something other than a clean conflict: %v", i, err)
			}
			continue
		}
		nOK++
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d created, want 1", nCreated)
	}
	if c := e.count(t, "SELECT count(*) FROM tickets"); c != 1 {
		t.Fatalf("%d rows", c)
	}
	final, err := e.tickets.Get(context.Background(), o.csm, "CSM-2026-0008888")
	if err != nil {
		t.Fatal(err)
	}
	found := slices.ContainsFunc(ins, func(r models.Referral) bool { return r.Fault.Description == final.Fault.Description })
	if !found {
		t.Fatalf("final description %q is none of the referrals", final.Fault.Description)
	}
	// Every successful referral but the creating one applied an update, each audited.
	updates := e.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'ticket' AND action = 're-refer'")
	if int64(final.Version) != 1+updates || updates != int64(nOK-1) {
		t.Fatalf("version %d, %d re-refer audits, %d successes", final.Version, updates, nOK)
	}
}

// ---------------------------------------------------------------------------
// Cancel and AcknowledgeClosed

func TestCancel(t *testing.T) {
	const number = "CSM-2026-0000100"
	tests := []struct {
		name      string
		status    models.TicketStatus
		number    string
		who       func(o *org) models.Principal
		wantKind  models.ErrorKind
		wantCode  string
		wantNoop  bool
		wantState models.TicketStatus
	}{
		{name: "Referred", status: models.TicketReferred, wantState: models.TicketCancelled},
		{name: "Scheduled", status: models.TicketScheduled, wantState: models.TicketCancelled},
		{name: "InService", status: models.TicketInService, wantState: models.TicketCancelled},
		{name: "AlreadyCancelled", status: models.TicketCancelled, wantNoop: true, wantState: models.TicketCancelled},
		{name: "Resolved", status: models.TicketResolved, wantKind: models.KindConflict, wantCode: "ticket_not_cancellable"},
		{name: "Closed", status: models.TicketClosed, wantKind: models.KindConflict, wantCode: "ticket_not_cancellable"},
		{name: "UnknownTicket", number: "CSM-NOPE", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "MalformedNumber", number: "CSM 1; DROP", wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "AdminMayNot", who: func(o *org) models.Principal { return o.admin }, wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "CounterMayNot", who: func(o *org) models.Principal { return at(models.RoleCounter, o.ccs01) }, wantKind: models.KindForbidden, wantCode: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			e.refer(t, o, referral(number, e.now.Add(-time.Hour), "CCS-01"))
			if tc.status != "" && tc.status != models.TicketReferred {
				e.setStatus(t, number, tc.status)
			}
			before, _ := e.tickets.Get(ctx, o.admin, number)
			e.now = e.now.Add(10 * time.Minute)
			p, num := o.csm, number
			if tc.who != nil {
				p = tc.who(o)
			}
			if tc.number != "" {
				num = tc.number
			}
			got, err := e.tickets.Cancel(ctx, p, num, "  el cliente resolvió por su cuenta ")
			after, _ := e.tickets.Get(ctx, o.admin, number)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if after.Version != before.Version || after.Status != before.Status {
					t.Fatalf("refused cancel changed the ticket: %s v%d → %s v%d", before.Status, before.Version, after.Status, after.Version)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantState || after.Status != tc.wantState {
				t.Fatalf("status %s / %s, want %s", got.Status, after.Status, tc.wantState)
			}
			if tc.wantNoop {
				if after.Version != before.Version || *after.CancelReason != *before.CancelReason || !after.CancelledAt.Equal(*before.CancelledAt) {
					t.Fatal("cancelling again changed the ticket")
				}
				return
			}
			if after.Version != before.Version+1 || after.CancelReason == nil || *after.CancelReason != "el cliente resolvió por su cuenta" ||
				after.CancelledAt == nil || !after.CancelledAt.Equal(e.now) {
				t.Fatalf("cancelled ticket: %+v", after)
			}
			rows := e.audits(t, "ticket", after.ID)
			if last := rows[len(rows)-1]; last.Action != "cancel" || decodeJSON(t, last.Before)["status"] != string(before.Status) ||
				decodeJSON(t, last.After)["status"] != "cancelled" {
				t.Fatalf("audit %+v", last)
			}
			// The same message twice changes nothing the second time.
			again, err := e.tickets.Cancel(ctx, o.csm, number, "otra razón")
			if err != nil || again.Version != after.Version || *again.CancelReason != *after.CancelReason {
				t.Fatalf("second cancel: %+v %v", again, err)
			}
			if n := len(e.audits(t, "ticket", after.ID)); n != len(rows) {
				t.Fatal("second cancel wrote an audit row")
			}
		})
	}
}

func TestAcknowledgeClosed(t *testing.T) {
	const number = "CSM-2026-0000200"
	closedAt := "2026-11-28T20:00:00-04:00"
	tests := []struct {
		name     string
		status   models.TicketStatus
		closedAt string
		who      func(o *org) models.Principal
		wantKind models.ErrorKind
		wantCode string
		wantNoop bool
	}{
		{name: "Resolved", status: models.TicketResolved},
		{name: "AlreadyClosed", status: models.TicketClosed, wantNoop: true},
		{name: "Referred", status: models.TicketReferred, wantKind: models.KindConflict, wantCode: "ticket_not_resolved"},
		{name: "InService", status: models.TicketInService, wantKind: models.KindConflict, wantCode: "ticket_not_resolved"},
		{name: "Cancelled", status: models.TicketCancelled, wantKind: models.KindConflict, wantCode: "ticket_not_resolved"},
		{name: "BadClosedAt", status: models.TicketResolved, closedAt: "mañana", wantKind: models.KindInvalid, wantCode: "validation_failed"},
		{name: "TechnicianMayNot", status: models.TicketResolved, who: func(o *org) models.Principal { return at(models.RoleTechnician, o.ccs01) },
			wantKind: models.KindForbidden, wantCode: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			e.refer(t, o, referral(number, e.now.Add(-time.Hour), "CCS-01"))
			if tc.status != models.TicketReferred {
				e.setStatus(t, number, tc.status)
			}
			before, _ := e.tickets.Get(ctx, o.admin, number)
			p, in := o.csm, models.ClosedInput{ClosedAt: closedAt}
			if tc.who != nil {
				p = tc.who(o)
			}
			if tc.closedAt != "" {
				in.ClosedAt = tc.closedAt
			}
			got, err := e.tickets.AcknowledgeClosed(ctx, p, number, in)
			after, _ := e.tickets.Get(ctx, o.admin, number)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.wantCode == "validation_failed" {
					wantField(t, err, "closed_at", "")
				}
				if after.Version != before.Version || after.Status != before.Status {
					t.Fatal("refused acknowledgement changed the ticket")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != models.TicketClosed || after.Status != models.TicketClosed {
				t.Fatalf("status %s", after.Status)
			}
			if tc.wantNoop {
				if after.Version != before.Version || !after.ClosedAt.Equal(*before.ClosedAt) {
					t.Fatal("acknowledging again changed the ticket")
				}
				return
			}
			want, _ := time.Parse(time.RFC3339, closedAt)
			if after.Version != before.Version+1 || after.ClosedAt == nil || !after.ClosedAt.Equal(want) {
				t.Fatalf("closed ticket %+v", after)
			}
			again, err := e.tickets.AcknowledgeClosed(ctx, o.csm, number, models.ClosedInput{ClosedAt: "2026-11-29T08:00:00Z"})
			if err != nil || again.Version != after.Version || !again.ClosedAt.Equal(want) {
				t.Fatalf("second acknowledgement: %+v %v", again, err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Get and Search

func TestGetScope(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	reported := e.now.Add(-time.Hour)
	e.refer(t, o, referral("T-CCS01", reported, "CCS-01"))
	e.refer(t, o, referral("T-CCS02", reported, "CCS-02"))
	e.refer(t, o, referral("T-MCB01", reported, "MCB-01"))
	e.refer(t, o, referral("T-NONE", reported, ""))
	all := []string{"T-CCS01", "T-CCS02", "T-MCB01", "T-NONE"}
	tests := []struct {
		name    string
		who     models.Principal
		visible []string
	}{
		{"CounterCCS01", at(models.RoleCounter, o.ccs01), []string{"T-CCS01", "T-NONE"}},
		{"TechnicianCCS01", at(models.RoleTechnician, o.ccs01), []string{"T-CCS01", "T-NONE"}},
		{"ManagerCCS01", at(models.RoleCentreManager, o.ccs01), []string{"T-CCS01", "T-NONE"}},
		{"CounterCCS02", at(models.RoleCounter, o.ccs02), []string{"T-CCS02", "T-NONE"}},
		{"CounterMCB01", at(models.RoleCounter, o.mcb01), []string{"T-MCB01", "T-NONE"}},
		{"WarehouseCAP", of(o.almCap, o.cap), []string{"T-CCS01", "T-CCS02"}},
		{"WarehouseOCC", of(o.almOcc, o.occ), []string{"T-MCB01"}},
		{"Admin", o.admin, all},
		{"CSM", o.csm, all},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range all {
				tk, err := e.tickets.Get(ctx, tc.who, n)
				if slices.Contains(tc.visible, n) {
					if err != nil || tk.TicketNumber != n {
						t.Fatalf("%s: %v", n, err)
					}
					continue
				}
				wantErr(t, err, models.KindNotFound, "not_found")
				if tk != nil {
					t.Fatalf("%s: data returned with not found", n)
				}
			}
			// Unknown and malformed numbers answer the same.
			_, err := e.tickets.Get(ctx, tc.who, "T-UNKNOWN")
			wantErr(t, err, models.KindNotFound, "not_found")
			_, err = e.tickets.Get(ctx, tc.who, "T NONE' OR '1'='1")
			wantErr(t, err, models.KindNotFound, "not_found")
		})
	}
	t.Run("NoRole", func(t *testing.T) {
		_, err := e.tickets.Get(ctx, models.Principal{}, "T-CCS01")
		wantErr(t, err, models.KindUnauthenticated, "unauthenticated")
	})
}

func numbers(ts []models.Ticket) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.TicketNumber
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	// Reported in this order, so due in this order.
	e.refer(t, o, referral("A-CCS01", e.now.Add(-5*time.Hour), "CCS-01"))
	e.refer(t, o, referral("B-CCS02", e.now.Add(-4*time.Hour), "CCS-02"))
	e.refer(t, o, referral("C-CCS01", e.now.Add(-3*time.Hour), "CCS-01"))
	e.refer(t, o, referral("D-MCB01", e.now.Add(-2*time.Hour), "MCB-01"))
	e.refer(t, o, referral("E-NONE", e.now.Add(-1*time.Hour), ""))
	e.setStatus(t, "C-CCS01", models.TicketScheduled)
	e.setStatus(t, "D-MCB01", models.TicketScheduled)
	tests := []struct {
		name   string
		who    models.Principal
		filter models.TicketFilter
		want   []string
	}{
		{"AdminAll", o.admin, models.TicketFilter{}, []string{"A-CCS01", "B-CCS02", "C-CCS01", "D-MCB01", "E-NONE"}},
		{"AdminStatusReferred", o.admin, models.TicketFilter{Status: "referred"}, []string{"A-CCS01", "B-CCS02", "E-NONE"}},
		{"AdminStatusScheduled", o.admin, models.TicketFilter{Status: "scheduled"}, []string{"C-CCS01", "D-MCB01"}},
		{"AdminStatusClosed", o.admin, models.TicketFilter{Status: "closed"}, []string{}},
		{"AdminCentre", o.admin, models.TicketFilter{CentreCode: "CCS-01"}, []string{"A-CCS01", "C-CCS01"}},
		{"AdminCentreAndStatus", o.admin, models.TicketFilter{CentreCode: "CCS-01", Status: "scheduled"}, []string{"C-CCS01"}},
		{"AdminUnknownCentre", o.admin, models.TicketFilter{CentreCode: "ZZZ-01"}, []string{}},
		{"CounterOwnQueueOnly", at(models.RoleCounter, o.ccs01), models.TicketFilter{}, []string{"A-CCS01", "C-CCS01"}},
		{"CounterOtherCentreFilter", at(models.RoleCounter, o.ccs01), models.TicketFilter{CentreCode: "CCS-02"}, []string{}},
		{"ManagerStatus", at(models.RoleCentreManager, o.ccs01), models.TicketFilter{Status: "referred"}, []string{"A-CCS01"}},
		{"WarehouseBusinessUnit", of(o.almCap, o.cap), models.TicketFilter{}, []string{"A-CCS01", "B-CCS02", "C-CCS01"}},
		{"WarehouseOtherUnitCentre", of(o.almCap, o.cap), models.TicketFilter{CentreCode: "MCB-01"}, []string{}},
		{"WarehouseOCC", of(o.almOcc, o.occ), models.TicketFilter{}, []string{"D-MCB01"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := e.tickets.Search(ctx, tc.who, tc.filter, services.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Fatalf("next cursor %q on a short list", next)
			}
			if g := numbers(got); !slices.Equal(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
	t.Run("CSMMayNot", func(t *testing.T) {
		_, _, err := e.tickets.Search(ctx, o.csm, models.TicketFilter{}, services.Page{})
		wantErr(t, err, models.KindForbidden, "forbidden")
	})
}

func TestSearchSLAStates(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	t0 := e.now
	// Each ticket's deadline relative to t0 (reported_at = due - 24h).
	e.refer(t, o, referral("DUE-23H", t0.Add(-time.Hour), "CCS-01"))                      // due t0+23h
	e.refer(t, o, referral("DUE-4H", t0.Add(-20*time.Hour), "CCS-01"))                    // due t0+4h: on the edge
	e.refer(t, o, referral("DUE-3H", t0.Add(-21*time.Hour), "CCS-01"))                    // due t0+3h
	e.refer(t, o, referral("DUE-1S", t0.Add(-24*time.Hour+time.Second), "CCS-01"))        // due t0+1s
	e.refer(t, o, referral("DUE-NOW", t0.Add(-24*time.Hour), "CCS-01"))                   // due t0
	e.refer(t, o, referral("DUE-PAST", t0.Add(-30*time.Hour), "CCS-01"))                  // due t0-6h
	e.refer(t, o, referral("RESOLVED-EARLY", t0.Add(-23*time.Hour), "CCS-01"))            // due t0+1h, resolved t0
	e.refer(t, o, referral("RESOLVED-LATE", t0.Add(-26*time.Hour), "CCS-01"))             // due t0-2h, resolved t0
	e.refer(t, o, referral("CANCELLED-EARLY", t0.Add(-22*time.Hour), "CCS-01"))           // due t0+2h, cancelled t0
	e.refer(t, o, referral("CANCELLED-LATE", t0.Add(-25*time.Hour), "CCS-01"))            // due t0-1h, cancelled t0
	e.refer(t, o, referral("RESOLVED-ON-TIME-LONG-AGO", t0.Add(-47*time.Hour), "CCS-01")) // due t0-23h
	e.exec(t, "UPDATE tickets SET status='resolved', outcome='repaired', resolved_at = ? WHERE ticket_number = 'RESOLVED-ON-TIME-LONG-AGO'", t0.Add(-40*time.Hour))
	e.setStatus(t, "RESOLVED-EARLY", models.TicketResolved)
	e.setStatus(t, "RESOLVED-LATE", models.TicketResolved)
	e.setStatus(t, "CANCELLED-EARLY", models.TicketCancelled)
	e.setStatus(t, "CANCELLED-LATE", models.TicketCancelled)

	finished := map[models.SLAState][]string{
		models.SLAOnTime: {"RESOLVED-EARLY", "CANCELLED-EARLY", "RESOLVED-ON-TIME-LONG-AGO"},
		models.SLALate:   {"RESOLVED-LATE", "CANCELLED-LATE"},
	}
	tests := []struct {
		name string
		now  time.Time
		want map[models.SLAState][]string // open tickets only; finished ones never move
	}{
		{"AtT0", t0, map[models.SLAState][]string{
			models.SLAOnTime: {"DUE-23H", "DUE-4H"},
			models.SLAAtRisk: {"DUE-3H", "DUE-1S"},
			models.SLALate:   {"DUE-NOW", "DUE-PAST"},
		}},
		{"OneSecondLater", t0.Add(time.Second), map[models.SLAState][]string{
			models.SLAOnTime: {"DUE-23H"},
			models.SLAAtRisk: {"DUE-4H", "DUE-3H"},
			models.SLALate:   {"DUE-1S", "DUE-NOW", "DUE-PAST"},
		}},
		{"OneSecondEarlier", t0.Add(-time.Second), map[models.SLAState][]string{
			models.SLAOnTime: {"DUE-23H", "DUE-4H"},
			models.SLAAtRisk: {"DUE-3H", "DUE-1S", "DUE-NOW"},
			models.SLALate:   {"DUE-PAST"},
		}},
		{"NineteenHoursLater", t0.Add(19 * time.Hour), map[models.SLAState][]string{
			models.SLAOnTime: {"DUE-23H"},
			models.SLAAtRisk: {},
			models.SLALate:   {"DUE-4H", "DUE-3H", "DUE-1S", "DUE-NOW", "DUE-PAST"},
		}},
		{"NineteenHoursAndOneSecondLater", t0.Add(19*time.Hour + time.Second), map[models.SLAState][]string{
			models.SLAOnTime: {},
			models.SLAAtRisk: {"DUE-23H"},
			models.SLALate:   {"DUE-4H", "DUE-3H", "DUE-1S", "DUE-NOW", "DUE-PAST"},
		}},
		{"TwoDaysLater", t0.Add(48 * time.Hour), map[models.SLAState][]string{
			models.SLAOnTime: {},
			models.SLAAtRisk: {},
			models.SLALate:   {"DUE-23H", "DUE-4H", "DUE-3H", "DUE-1S", "DUE-NOW", "DUE-PAST"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = tc.now
			all, _, err := e.tickets.Search(ctx, o.admin, models.TicketFilter{}, services.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, state := range []models.SLAState{models.SLAOnTime, models.SLAAtRisk, models.SLALate} {
				got, _, err := e.tickets.Search(ctx, o.admin, models.TicketFilter{SLAState: string(state)}, services.Page{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				var open, done []string
				for _, tk := range got {
					if tk.SLAState != state {
						t.Errorf("%s listed under %s but reports %s", tk.TicketNumber, state, tk.SLAState)
					}
					if seen[tk.TicketNumber] {
						t.Errorf("%s listed under two states", tk.TicketNumber)
					}
					seen[tk.TicketNumber] = true
					if tk.ResolvedAt != nil || tk.CancelledAt != nil {
						done = append(done, tk.TicketNumber)
					} else {
						open = append(open, tk.TicketNumber)
					}
				}
				if want := tc.want[state]; !sameSet(open, want) {
					t.Errorf("%s open: got %v, want %v", state, open, want)
				}
				if want := finished[state]; !sameSet(done, want) {
					t.Errorf("%s finished: got %v, want %v", state, done, want)
				}
			}
			if len(seen) != len(all) {
				t.Errorf("the three SLA filters list %d tickets, the unfiltered search %d", len(seen), len(all))
			}
		})
	}
	t.Run("CombinedWithStatus", func(t *testing.T) {
		e.now = t0
		got, _, err := e.tickets.Search(ctx, o.admin, models.TicketFilter{SLAState: "on_time", Status: "referred"}, services.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if g := numbers(got); !sameSet(g, []string{"DUE-23H", "DUE-4H"}) {
			t.Fatalf("on_time referred: %v", g)
		}
		got, _, err = e.tickets.Search(ctx, o.admin, models.TicketFilter{SLAState: "late", Status: "cancelled"}, services.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if g := numbers(got); !sameSet(g, []string{"CANCELLED-LATE"}) {
			t.Fatalf("late cancelled: %v", g)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestSearchPagination(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	var want []string
	// Eleven tickets, several reported at the same instant, so that the cursor must
	// break ties by id; referred out of deadline order.
	offsets := []int{7, 3, 3, 9, 1, 3, 5, 7, 2, 8, 3}
	for i, h := range offsets {
		n := fmt.Sprintf("PAGE-%02d", i)
		e.refer(t, o, referral(n, e.now.Add(-time.Duration(h)*time.Hour), "CCS-01"))
		want = append(want, n)
	}
	for _, tc := range []struct {
		name string
		who  models.Principal
	}{{"Admin", o.admin}, {"Counter", at(models.RoleCounter, o.ccs01)}, {"Warehouse", of(o.almCap, o.cap)}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []models.Ticket
			cursor, pages := "", 0
			for {
				items, next, err := e.tickets.Search(ctx, tc.who, models.TicketFilter{}, services.Page{Limit: 3, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(items) > 3 {
					t.Fatalf("page of %d", len(items))
				}
				got = append(got, items...)
				if next == "" {
					break
				}
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				cursor = next
			}
			if pages != 4 {
				t.Fatalf("%d pages for 11 tickets at 3 a page", pages)
			}
			if !sameSet(numbers(got), want) || len(got) != len(want) {
				t.Fatalf("visited %v, want each of %v once", numbers(got), want)
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				if b.SLADueAt.Before(a.SLADueAt) || (b.SLADueAt.Equal(a.SLADueAt) && b.ID <= a.ID) {
					t.Fatalf("out of order at %d: %s %v %s, %s %v %s", i, a.TicketNumber, a.SLADueAt, a.ID, b.TicketNumber, b.SLADueAt, b.ID)
				}
			}
		})
	}
	t.Run("ExactMultipleHasNoEmptyLastPage", func(t *testing.T) {
		items, next, err := e.tickets.Search(ctx, o.admin, models.TicketFilter{}, services.Page{Limit: 11})
		if err != nil || len(items) != 11 || next != "" {
			t.Fatalf("%d items, next %q, %v", len(items), next, err)
		}
	})
}

func TestSearchBadCursor(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		cursor string
	}{
		{"NotBase64", "!!!not-a-cursor!!!"},
		{"NotJSON", enc("hello")},
		{"EmptyObject", enc("{}")},
		{"WrongTypes", enc(`{"t":12,"i":"x"}`)},
		{"StdBase64Padding", base64.StdEncoding.EncodeToString([]byte(`{"i":"x"}`)) + "=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.tickets.Search(context.Background(), o.admin, models.TicketFilter{}, services.Page{Limit: 3, Cursor: tc.cursor})
			wantErr(t, err, models.KindInvalid, "validation_failed")
			wantField(t, err, "cursor", "")
		})
	}
	t.Run("CursorWithBadIDIsNotInternal", func(t *testing.T) {
		_, _, err := e.tickets.Search(context.Background(), o.admin, models.TicketFilter{},
			services.Page{Limit: 3, Cursor: enc(`{"t":"2026-11-28T14:00:00Z","i":"not-a-uuid"}`)})
		if err != nil {
			if me, ok := models.AsError(err); !ok || me.Kind != models.KindInvalid {
				t.Fatalf("forged cursor: %v", err)
			}
		}
	})
}
