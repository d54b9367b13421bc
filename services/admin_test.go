package services_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"centros/models"
	"centros/services"
)

func TestCreateCentreRules(t *testing.T) {
	one := 1
	tests := []struct {
		name     string
		change   func(*models.CentreInput)
		wantKind models.ErrorKind
		wantCode string
		field    string
		rule     string
	}{
		{name: "ClosesBeforeOpens", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 1, Opens: "17:00", Closes: "08:00"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[0].closes", rule: "gtfield"},
		{name: "ClosesWhenOpens", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 1, Opens: "08:00", Closes: "12:00"}, {Weekday: 2, Opens: "09:00", Closes: "09:00"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[1].closes", rule: "gtfield"},
		{name: "OverlapSameWeekday", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 3, Opens: "08:00", Closes: "12:00"}, {Weekday: 3, Opens: "11:30", Closes: "17:00"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[1]", rule: "no_overlap"},
		{name: "OverlapListedOutOfOrder", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 3, Opens: "13:00", Closes: "17:00"}, {Weekday: 3, Opens: "08:00", Closes: "13:30"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[0]", rule: "no_overlap"},
		{name: "IntervalInsideAnother", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 5, Opens: "08:00", Closes: "17:00"}, {Weekday: 5, Opens: "10:00", Closes: "11:00"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[1]", rule: "no_overlap"},
		{name: "SameOpeningTwice", change: func(c *models.CentreInput) {
			c.OpeningHours = []models.OpeningHoursInput{{Weekday: 5, Opens: "08:00", Closes: "12:00"}, {Weekday: 5, Opens: "08:00", Closes: "12:00"}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[1]", rule: "no_overlap"},
		{name: "DuplicateClosedDay", change: func(c *models.CentreInput) {
			c.ClosedDays = []string{"2026-12-24", "2026-12-25", "2026-12-24"}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "closed_days[2]", rule: "unique"},
		{name: "DuplicateModel", change: func(c *models.CentreInput) {
			c.MinBackupStock = []models.MinStockInput{{Model: "SM-A155M", Quantity: &one}, {Model: " sm-a155m ", Quantity: &one}}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "min_backup_stock[1].model", rule: "unique"},
		{name: "UnknownBusinessUnit", change: func(c *models.CentreInput) { c.BusinessUnitCode = "NOPE" },
			wantKind: models.KindUnprocessable, wantCode: "unknown_reference", field: "business_unit_code", rule: "exists"},
		{name: "DuplicateCode", change: func(c *models.CentreInput) { c.Code = "CCS-01" },
			wantKind: models.KindConflict, wantCode: "already_exists"},
	}
	// Every case is refused, so they share one database, which must not change.
	e := newEnv(t)
	o := newOrg(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := centreInput("VAL-01", "CAP")
			tc.change(&in)
			before := e.count(t, "SELECT count(*) FROM centres")
			auditsBefore := e.count(t, "SELECT count(*) FROM audit_log")
			c, err := e.admin.CreateCentre(context.Background(), o.admin, in)
			wantErr(t, err, tc.wantKind, tc.wantCode)
			if tc.field != "" {
				wantField(t, err, tc.field, tc.rule)
			}
			if c != nil {
				t.Fatal("a centre came back with the error")
			}
			if n := e.count(t, "SELECT count(*) FROM centres"); n != before {
				t.Fatalf("refused centre was stored (%d → %d)", before, n)
			}
			if n := e.count(t, "SELECT count(*) FROM audit_log"); n != auditsBefore {
				t.Fatal("refused centre was audited")
			}
		})
	}
}

func TestCreateCentre(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	in := centreInput("VAL-01", "OCC")
	in.Name, in.Address = "  Centro Valencia  ", " Av. Bolívar Norte "
	in.OpeningHours = []models.OpeningHoursInput{
		{Weekday: 1, Opens: "13:00", Closes: "17:00"}, {Weekday: 1, Opens: "08:00", Closes: "13:00"}, // touching is not overlapping
		{Weekday: 6, Opens: "08:00", Closes: "12:00"},
	}
	c, err := e.admin.CreateCentre(ctx, o.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if c.TimeZone != "America/Caracas" {
		t.Fatalf("time zone %q, want the default", c.TimeZone)
	}
	if c.Name != "Centro Valencia" || c.Address != "Av. Bolívar Norte" || c.BusinessUnitCode != "OCC" || c.Version != 1 {
		t.Fatalf("centre %+v", c)
	}
	wantHours := []models.OpeningHours{{CentreID: c.ID, Weekday: 1, Opens: "08:00", Closes: "13:00"},
		{CentreID: c.ID, Weekday: 1, Opens: "13:00", Closes: "17:00"}, {CentreID: c.ID, Weekday: 6, Opens: "08:00", Closes: "12:00"}}
	if !slices.Equal(c.OpeningHours, wantHours) {
		t.Fatalf("hours %+v", c.OpeningHours)
	}
	if !slices.Equal(c.ClosedDays, []string{"2026-12-24", "2026-12-25"}) {
		t.Fatalf("closed days %v", c.ClosedDays)
	}
	if len(c.MinBackupStock) != 1 || c.MinBackupStock[0].Model != "SM-A155M" || c.MinBackupStock[0].Quantity != 2 {
		t.Fatalf("stock %+v", c.MinBackupStock)
	}
	in2 := centreInput("VAL-02", "OCC")
	in2.TimeZone = "America/Bogota"
	c2, err := e.admin.CreateCentre(ctx, o.admin, in2)
	if err != nil || c2.TimeZone != "America/Bogota" {
		t.Fatalf("explicit time zone: %v %v", c2, err)
	}
	rows := e.audits(t, "centre", c.ID)
	if len(rows) != 1 || rows[0].Action != "create" || rows[0].Before != nil || rows[0].ActorID == nil || *rows[0].ActorID != o.adminUser.ID ||
		rows[0].CentreID == nil || *rows[0].CentreID != c.ID {
		t.Fatalf("audit %+v", rows)
	}
	if decodeJSON(t, rows[0].After)["code"] != "VAL-01" {
		t.Fatalf("audit after %s", *rows[0].After)
	}
}

func TestUpdateCentre(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	three := 3
	tests := []struct {
		name     string
		update   func(v int) models.CentreUpdate
		wantKind models.ErrorKind
		wantCode string
		field    string
		check    func(t *testing.T, before, after *services.CentreView)
	}{
		{name: "NameOnlyKeepsTheRest", update: func(v int) models.CentreUpdate {
			return models.CentreUpdate{Name: str(" Nuevo nombre "), Version: &v}
		}, check: func(t *testing.T, before, after *services.CentreView) {
			if after.Name != "Nuevo nombre" {
				t.Fatalf("name %q", after.Name)
			}
			if after.Address != before.Address || after.SlotMinutes != before.SlotMinutes || after.Counters != before.Counters ||
				after.TimeZone != before.TimeZone || !slices.Equal(after.OpeningHours, before.OpeningHours) ||
				!slices.Equal(after.ClosedDays, before.ClosedDays) || !slices.Equal(after.MinBackupStock, before.MinBackupStock) {
				t.Fatalf("untouched fields changed:\nbefore %+v\nafter  %+v", before, after)
			}
		}},
		{name: "ScalarsReplaced", update: func(v int) models.CentreUpdate {
			return models.CentreUpdate{Address: str("Otra dirección"), TimeZone: str("America/Bogota"), SlotMinutes: num(15), Counters: num(4), Version: &v}
		}, check: func(t *testing.T, before, after *services.CentreView) {
			if after.Address != "Otra dirección" || after.TimeZone != "America/Bogota" || after.SlotMinutes != 15 || after.Counters != 4 || after.Name != before.Name {
				t.Fatalf("after %+v", after)
			}
			if !slices.Equal(after.OpeningHours, before.OpeningHours) {
				t.Fatal("hours changed")
			}
		}},
		{name: "HoursReplaced", update: func(v int) models.CentreUpdate {
			h := []models.OpeningHoursInput{{Weekday: 7, Opens: "09:00", Closes: "13:00"}}
			return models.CentreUpdate{OpeningHours: &h, Version: &v}
		}, check: func(t *testing.T, before, after *services.CentreView) {
			if !slices.Equal(after.OpeningHours, []models.OpeningHours{{CentreID: after.ID, Weekday: 7, Opens: "09:00", Closes: "13:00"}}) {
				t.Fatalf("hours %+v", after.OpeningHours)
			}
			if !slices.Equal(after.ClosedDays, before.ClosedDays) || !slices.Equal(after.MinBackupStock, before.MinBackupStock) {
				t.Fatal("other lists changed")
			}
		}},
		{name: "ClosedDaysCleared", update: func(v int) models.CentreUpdate {
			d := []string{}
			return models.CentreUpdate{ClosedDays: &d, Version: &v}
		}, check: func(t *testing.T, before, after *services.CentreView) {
			if len(after.ClosedDays) != 0 || !slices.Equal(after.OpeningHours, before.OpeningHours) {
				t.Fatalf("closed %v", after.ClosedDays)
			}
		}},
		{name: "StockReplaced", update: func(v int) models.CentreUpdate {
			s := []models.MinStockInput{{Model: "Moto G24", Quantity: &three}}
			return models.CentreUpdate{MinBackupStock: &s, Version: &v}
		}, check: func(t *testing.T, _, after *services.CentreView) {
			if !slices.Equal(after.MinBackupStock, []models.MinStock{{CentreID: after.ID, Model: "Moto G24", Quantity: 3}}) {
				t.Fatalf("stock %+v", after.MinBackupStock)
			}
		}},
		{name: "StaleVersion", update: func(v int) models.CentreUpdate {
			v--
			return models.CentreUpdate{Name: str("tarde"), Version: &v}
		}, wantKind: models.KindConflict, wantCode: "version_conflict"},
		{name: "FutureVersion", update: func(v int) models.CentreUpdate {
			v++
			return models.CentreUpdate{Name: str("adelantado"), Version: &v}
		}, wantKind: models.KindConflict, wantCode: "version_conflict"},
		{name: "OverlappingHours", update: func(v int) models.CentreUpdate {
			h := []models.OpeningHoursInput{{Weekday: 1, Opens: "08:00", Closes: "12:00"}, {Weekday: 1, Opens: "11:00", Closes: "14:00"}}
			return models.CentreUpdate{OpeningHours: &h, Name: str("no"), Version: &v}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "opening_hours[1]"},
		{name: "DuplicateClosedDay", update: func(v int) models.CentreUpdate {
			d := []string{"2027-01-01", "2027-01-01"}
			return models.CentreUpdate{ClosedDays: &d, Version: &v}
		}, wantKind: models.KindInvalid, wantCode: "validation_failed", field: "closed_days[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			// One edit first, so that version 2 is current and version 1 is stale.
			first, err := e.admin.UpdateCentre(ctx, o.admin, "CCS-01", models.CentreUpdate{Counters: num(3), Version: &o.ccs01.Version})
			if err != nil {
				t.Fatal(err)
			}
			before, _ := e.admin.GetCentre(ctx, o.admin, "CCS-01")
			if before.Version != 2 || first.Version != 2 {
				t.Fatalf("version after first edit %d", before.Version)
			}
			audits := len(e.audits(t, "centre", before.ID))
			got, err := e.admin.UpdateCentre(ctx, o.admin, "CCS-01", tc.update(before.Version))
			after, _ := e.admin.GetCentre(ctx, o.admin, "CCS-01")
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				if after.Version != before.Version || after.Name != before.Name || !slices.Equal(after.ClosedDays, before.ClosedDays) ||
					!slices.Equal(after.OpeningHours, before.OpeningHours) {
					t.Fatal("refused update changed the centre")
				}
				if len(e.audits(t, "centre", before.ID)) != audits {
					t.Fatal("refused update was audited")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != before.Version+1 || after.Version != got.Version {
				t.Fatalf("version %d → %d", before.Version, after.Version)
			}
			tc.check(t, before, after)
			rows := e.audits(t, "centre", before.ID)
			if len(rows) != audits+1 {
				t.Fatalf("%d audit rows for one update", len(rows)-audits)
			}
			last := rows[len(rows)-1]
			if last.Action != "update" || last.ActorKind != "user" || last.ActorID == nil || *last.ActorID != o.adminUser.ID {
				t.Fatalf("audit %+v", last)
			}
			if decodeJSON(t, last.Before)["version"] != float64(before.Version) || decodeJSON(t, last.After)["version"] != float64(after.Version) {
				t.Fatalf("audit before/after: %s → %s", *last.Before, *last.After)
			}
		})
	}
	t.Run("UnknownCentre", func(t *testing.T) {
		e := newEnv(t)
		o := newOrg(t, e)
		v := 1
		_, err := e.admin.UpdateCentre(context.Background(), o.admin, "NOPE-01", models.CentreUpdate{Name: str("x"), Version: &v})
		wantErr(t, err, models.KindNotFound, "not_found")
	})
}

func TestUpdateCentreConcurrent(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	const n = 10
	errs := make([]error, n)
	together(n, func(i int) {
		v, counters := o.ccs01.Version, 1+i
		hours := []models.OpeningHoursInput{{Weekday: 1 + i%7, Opens: "08:00", Closes: "12:00"}}
		_, errs[i] = e.admin.UpdateCentre(ctx, o.admin, "CCS-01", models.CentreUpdate{Counters: &counters, OpeningHours: &hours, Version: &v})
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both won", winner, i)
			}
			winner = i
			continue
		}
		wantErr(t, err, models.KindConflict, "version_conflict")
	}
	if winner < 0 {
		t.Fatal("nobody won")
	}
	c, err := e.admin.GetCentre(ctx, o.admin, "CCS-01")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 2 || c.Counters != 1+winner || len(c.OpeningHours) != 1 || c.OpeningHours[0].Weekday != 1+winner%7 {
		t.Fatalf("centre is not the winner's (%d): %+v", winner, c)
	}
	if n := len(e.audits(t, "centre", c.ID)); n != 2 {
		t.Fatalf("%d audit rows, want create + one update", n)
	}
}

func TestCreateUserRules(t *testing.T) {
	tests := []struct {
		name     string
		in       models.UserInput
		wantKind models.ErrorKind
		wantCode string
		field    string
	}{
		{name: "CounterWithoutCentre", in: models.UserInput{Role: models.RoleCounter},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "centre_code"},
		{name: "TechnicianWithWarehouse", in: models.UserInput{Role: models.RoleTechnician, CentreCode: "CCS-01", WarehouseCode: "ALM-CAP"},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "warehouse_code"},
		{name: "WarehouseWithCentre", in: models.UserInput{Role: models.RoleWarehouse, WarehouseCode: "ALM-CAP", CentreCode: "CCS-01"},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "centre_code"},
		{name: "WarehouseWithoutWarehouse", in: models.UserInput{Role: models.RoleWarehouse},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "warehouse_code"},
		{name: "AdminWithCentre", in: models.UserInput{Role: models.RoleAdmin, CentreCode: "CCS-01"},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "role"},
		{name: "AdminWithWarehouse", in: models.UserInput{Role: models.RoleAdmin, WarehouseCode: "ALM-CAP"},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "role"},
		{name: "UnknownCentre", in: models.UserInput{Role: models.RoleCentreManager, CentreCode: "NOPE-01"},
			wantKind: models.KindUnprocessable, wantCode: "unknown_reference", field: "centre_code"},
		{name: "UnknownWarehouse", in: models.UserInput{Role: models.RoleWarehouse, WarehouseCode: "NOPE"},
			wantKind: models.KindUnprocessable, wantCode: "unknown_reference", field: "warehouse_code"},
		{name: "DuplicateEmailOtherCase", in: models.UserInput{Email: "ADMIN@Example.com", Role: models.RoleCounter, CentreCode: "CCS-01"},
			wantKind: models.KindConflict, wantCode: "already_exists"},
		{name: "DuplicateEmailSpaces", in: models.UserInput{Email: " admin@example.com ", Role: models.RoleAdmin},
			wantKind: models.KindConflict, wantCode: "already_exists"},
		{name: "NotAdmin", in: models.UserInput{Role: models.RoleCounter, CentreCode: "CCS-01"},
			wantKind: models.KindForbidden, wantCode: "forbidden"},
	}
	// Every case is refused, so they share one database, which must not change.
	e := newEnv(t)
	o := newOrg(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Email == "" {
				in.Email = "nuevo@example.com"
			}
			in.Name, in.Password = "Nuevo", staffPassword
			p := o.admin
			if tc.wantCode == "forbidden" {
				p = at(models.RoleCentreManager, o.ccs01)
			}
			before := e.count(t, "SELECT count(*) FROM users")
			u, err := e.admin.CreateUser(context.Background(), p, in)
			wantErr(t, err, tc.wantKind, tc.wantCode)
			if tc.field != "" {
				wantField(t, err, tc.field, "")
			}
			if u != nil {
				t.Fatal("a user came back with the error")
			}
			if n := e.count(t, "SELECT count(*) FROM users"); n != before {
				t.Fatal("refused user was stored")
			}
		})
	}
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	tests := []struct {
		name      string
		in        models.UserInput
		centre    string
		warehouse string
	}{
		{"Counter", models.UserInput{Email: "Taquilla@Example.com", Role: models.RoleCounter, CentreCode: "CCS-01"}, "CCS-01", ""},
		{"Technician", models.UserInput{Email: "tecnico@example.com", Role: models.RoleTechnician, CentreCode: "CCS-02"}, "CCS-02", ""},
		{"Manager", models.UserInput{Email: "gerente@example.com", Role: models.RoleCentreManager, CentreCode: "MCB-01"}, "MCB-01", ""},
		{"Warehouse", models.UserInput{Email: "almacen@example.com", Role: models.RoleWarehouse, WarehouseCode: "ALM-OCC"}, "", "ALM-OCC"},
		{"Admin", models.UserInput{Email: "admin2@example.com", Role: models.RoleAdmin}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Name, in.Password = " Persona ", staffPassword
			u, err := e.admin.CreateUser(ctx, o.admin, in)
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != strings.ToLower(tc.in.Email) || u.Name != "Persona" || !u.Active || u.Version != 1 ||
				u.CentreCode != tc.centre || u.WarehouseCode != tc.warehouse {
				t.Fatalf("user %+v", u)
			}
			rows := e.audits(t, "user", u.ID)
			if len(rows) != 1 || rows[0].Action != "create" || *rows[0].ActorID != o.adminUser.ID {
				t.Fatalf("audit %+v", rows)
			}
			if strings.Contains(*rows[0].After, "argon2") || strings.Contains(*rows[0].After, staffPassword) {
				t.Fatalf("audit row holds the password or its hash: %s", *rows[0].After)
			}
		})
	}
}

func TestUpdateUserRules(t *testing.T) {
	str := func(s string) *string { return &s }
	role := func(r models.Role) *models.Role { return &r }
	off := false
	tests := []struct {
		name     string
		self     bool
		update   models.UserUpdate
		stale    bool
		wantKind models.ErrorKind
		wantCode string
		field    string
		check    func(t *testing.T, u *models.User)
	}{
		{name: "MoveToOtherCentre", update: models.UserUpdate{CentreCode: str("CCS-02")},
			check: func(t *testing.T, u *models.User) {
				if u.CentreCode != "CCS-02" || u.Role != models.RoleCounter {
					t.Fatalf("user %+v", u)
				}
			}},
		{name: "BecomeWarehouse", update: models.UserUpdate{Role: role(models.RoleWarehouse), WarehouseCode: str("ALM-CAP")},
			check: func(t *testing.T, u *models.User) {
				if u.Role != models.RoleWarehouse || u.WarehouseCode != "ALM-CAP" || u.CentreCode != "" {
					t.Fatalf("user %+v", u)
				}
			}},
		{name: "BecomeAdmin", update: models.UserUpdate{Role: role(models.RoleAdmin)},
			check: func(t *testing.T, u *models.User) {
				if u.Role != models.RoleAdmin || u.CentreCode != "" {
					t.Fatalf("user %+v", u)
				}
			}},
		{name: "BecomeWarehouseWithoutWarehouse", update: models.UserUpdate{Role: role(models.RoleWarehouse)},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "warehouse_code"},
		{name: "CounterGivenWarehouse", update: models.UserUpdate{WarehouseCode: str("ALM-CAP")},
			wantKind: models.KindInvalid, wantCode: "validation_failed", field: "warehouse_code"},
		{name: "UnknownCentre", update: models.UserUpdate{CentreCode: str("NOPE-01")},
			wantKind: models.KindUnprocessable, wantCode: "unknown_reference", field: "centre_code"},
		{name: "StaleVersion", stale: true, update: models.UserUpdate{Name: str("x")},
			wantKind: models.KindConflict, wantCode: "version_conflict"},
		{name: "SelfDisable", self: true, update: models.UserUpdate{Active: &off},
			wantKind: models.KindUnprocessable, wantCode: "cannot_demote_self"},
		{name: "SelfDemote", self: true, update: models.UserUpdate{Role: role(models.RoleCentreManager), CentreCode: str("CCS-01")},
			wantKind: models.KindUnprocessable, wantCode: "cannot_demote_self"},
		{name: "SelfRename", self: true, update: models.UserUpdate{Name: str("Admin Principal")},
			check: func(t *testing.T, u *models.User) {
				if u.Name != "Admin Principal" || u.Role != models.RoleAdmin || !u.Active {
					t.Fatalf("user %+v", u)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			target := o.adminUser
			if !tc.self {
				target = newStaff(t, e, o, "taquilla@example.com", models.RoleCounter, "CCS-01", "")
			}
			in := tc.update
			v := target.Version
			if tc.stale {
				v--
			}
			in.Version = &v
			audits := len(e.audits(t, "user", target.ID))
			u, err := e.admin.UpdateUser(ctx, o.admin, target.ID, in)
			after, _ := e.admin.GetUser(ctx, o.admin, target.ID)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.field != "" {
					wantField(t, err, tc.field, "")
				}
				if after.Version != target.Version || after.Role != target.Role || after.Active != target.Active || after.CentreCode != target.CentreCode {
					t.Fatalf("refused update changed the user: %+v", after)
				}
				if len(e.audits(t, "user", target.ID)) != audits {
					t.Fatal("refused update was audited")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Version != target.Version+1 {
				t.Fatalf("version %d", u.Version)
			}
			tc.check(t, u)
			rows := e.audits(t, "user", target.ID)
			last := rows[len(rows)-1]
			if len(rows) != audits+1 || last.Action != "update" || *last.ActorID != o.adminUser.ID || last.Before == nil || last.After == nil {
				t.Fatalf("audit %+v", rows)
			}
		})
	}
	t.Run("PasswordChangeIsRedactedInAudit", func(t *testing.T) {
		e := newEnv(t)
		o := newOrg(t, e)
		u := newStaff(t, e, o, "taquilla@example.com", models.RoleCounter, "CCS-01", "")
		pw, v := "nueva-contraseña-22", u.Version
		if _, err := e.admin.UpdateUser(context.Background(), o.admin, u.ID, models.UserUpdate{Password: &pw, Version: &v}); err != nil {
			t.Fatal(err)
		}
		for _, r := range e.audits(t, "user", u.ID) {
			for _, s := range []*string{r.Before, r.After} {
				if s != nil && (strings.Contains(*s, "argon2") || strings.Contains(*s, pw)) {
					t.Fatalf("audit holds a password or hash: %s", *s)
				}
			}
		}
		if _, err := e.auth.Login(context.Background(), "taquilla@example.com", pw, "10.0.0.1", services.TokenBearer); err != nil {
			t.Fatalf("new password refused: %v", err)
		}
	})
}

func TestDisableUser(t *testing.T) {
	tests := []struct {
		name     string
		target   func(o *org, u *models.User) string
		who      func(o *org) models.Principal
		wantKind models.ErrorKind
		wantCode string
	}{
		{name: "OK", target: func(_ *org, u *models.User) string { return u.ID }},
		{name: "Self", target: func(o *org, _ *models.User) string { return o.adminUser.ID },
			wantKind: models.KindUnprocessable, wantCode: "cannot_demote_self"},
		{name: "SelfUpperCaseID", target: func(o *org, _ *models.User) string { return strings.ToUpper(o.adminUser.ID) },
			wantKind: models.KindUnprocessable, wantCode: "cannot_demote_self"},
		{name: "Unknown", target: func(*org, *models.User) string { return "00000000-0000-0000-0000-000000000000" },
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "Malformed", target: func(*org, *models.User) string { return "42" },
			wantKind: models.KindNotFound, wantCode: "not_found"},
		{name: "NotAdmin", target: func(_ *org, u *models.User) string { return u.ID },
			who: func(o *org) models.Principal { return at(models.RoleCentreManager, o.ccs01) }, wantKind: models.KindForbidden, wantCode: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			ctx := context.Background()
			u := newStaff(t, e, o, "taquilla@example.com", models.RoleCounter, "CCS-01", "")
			p := o.admin
			if tc.who != nil {
				p = tc.who(o)
			}
			id := tc.target(o, u)
			auditsBefore := e.count(t, "SELECT count(*) FROM audit_log")
			err := e.admin.DisableUser(ctx, p, id)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if n := e.count(t, "SELECT count(*) FROM users WHERE active"); n != 2 {
					t.Fatalf("%d active users after a refused disable", n)
				}
				if n := e.count(t, "SELECT count(*) FROM audit_log"); n != auditsBefore {
					t.Fatal("refused disable was audited")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := e.admin.GetUser(ctx, o.admin, u.ID)
			if got.Active || got.Version != u.Version+1 {
				t.Fatalf("user %+v", got)
			}
			rows := e.audits(t, "user", u.ID)
			last := rows[len(rows)-1]
			if last.Action != "disable" || *last.ActorID != o.adminUser.ID || decodeJSON(t, last.Before)["active"] != true || decodeJSON(t, last.After)["active"] != false {
				t.Fatalf("audit %+v", last)
			}
			// Disabling again changes nothing.
			if err := e.admin.DisableUser(ctx, o.admin, u.ID); err != nil {
				t.Fatal(err)
			}
			again, _ := e.admin.GetUser(ctx, o.admin, u.ID)
			if again.Version != got.Version || len(e.audits(t, "user", u.ID)) != len(rows) {
				t.Fatal("second disable changed something")
			}
		})
	}
}

func TestAdminForbidden(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	v := 1
	name := "x"
	calls := map[string]func(p models.Principal) error{
		"CreateBusinessUnit": func(p models.Principal) error {
			_, err := e.admin.CreateBusinessUnit(ctx, p, models.BusinessUnitInput{Code: "ZZZ", Name: "z"})
			return err
		},
		"CreateWarehouse": func(p models.Principal) error {
			_, err := e.admin.CreateWarehouse(ctx, p, models.WarehouseInput{Code: "ZZZ", Name: "z", BusinessUnitCode: "CAP"})
			return err
		},
		"CreateCentre": func(p models.Principal) error {
			_, err := e.admin.CreateCentre(ctx, p, centreInput("ZZZ-01", "CAP"))
			return err
		},
		"UpdateCentre": func(p models.Principal) error {
			_, err := e.admin.UpdateCentre(ctx, p, "CCS-01", models.CentreUpdate{Name: &name, Version: &v})
			return err
		},
		"UpdateUser": func(p models.Principal) error {
			_, err := e.admin.UpdateUser(ctx, p, o.adminUser.ID, models.UserUpdate{Name: &name, Version: &v})
			return err
		},
		"CreateAPIClient": func(p models.Principal) error {
			_, err := e.admin.CreateAPIClient(ctx, p, models.APIClientInput{Name: "z", Role: models.RoleCSM})
			return err
		},
		"RevokeAPIClient": func(p models.Principal) error { return e.admin.RevokeAPIClient(ctx, p, o.csm.APIClientID) },
		"ListUsers": func(p models.Principal) error {
			_, err := e.admin.ListUsers(ctx, p)
			return err
		},
	}
	who := map[string]models.Principal{
		"Counter":    at(models.RoleCounter, o.ccs01),
		"Technician": at(models.RoleTechnician, o.ccs01),
		"Manager":    at(models.RoleCentreManager, o.ccs01),
		"Warehouse":  of(o.almCap, o.cap),
		"CSM":        o.csm,
	}
	for call, fn := range calls {
		for role, p := range who {
			t.Run(call+"/"+role, func(t *testing.T) {
				wantErr(t, fn(p), models.KindForbidden, "forbidden")
			})
		}
	}
	if n := e.count(t, "SELECT count(*) FROM business_units WHERE code = 'ZZZ'"); n != 0 {
		t.Fatal("forbidden call wrote")
	}
}

func TestAuditLogCarriesActorAndRequest(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := models.WithRequestID(context.Background(), "req-7f3a")
	bu, err := e.admin.CreateBusinessUnit(ctx, o.admin, models.BusinessUnitInput{Code: "AND", Name: "Región Andes"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.admin.CreateWarehouse(ctx, o.admin, models.WarehouseInput{Code: "ALM-AND", Name: "Almacén Andes", BusinessUnitCode: "AND"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.admin.CreateAPIClient(ctx, o.admin, models.APIClientInput{Name: "CSM 2", Role: models.RoleCSM})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.admin.RevokeAPIClient(ctx, o.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		entity, id string
		actions    []string
	}{
		{"BusinessUnit", "business_unit", bu.ID, []string{"create"}},
		{"Warehouse", "warehouse", w.ID, []string{"create"}},
		{"APIClient", "api_client", c.ID, []string{"create", "revoke"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := e.audits(t, tc.entity, tc.id)
			if len(rows) != len(tc.actions) {
				t.Fatalf("%d rows, want %v", len(rows), tc.actions)
			}
			for i, r := range rows {
				if r.Action != tc.actions[i] || r.ActorKind != "user" || r.ActorID == nil || *r.ActorID != o.adminUser.ID || r.RequestID != "req-7f3a" {
					t.Fatalf("row %d: %+v", i, r)
				}
				if r.After == nil {
					t.Fatalf("row %d has no after", i)
				}
				if i > 0 && r.Before == nil {
					t.Fatalf("row %d has no before", i)
				}
			}
			if strings.Contains(*rows[0].After, strings.TrimPrefix(c.Token, "cst_")) {
				t.Fatal("audit holds the client token")
			}
		})
	}
}
