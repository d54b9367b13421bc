package api_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"centros/api"
)

// remove, as a value given to edit, deletes the field.
type removeField struct{}

var remove removeField

// edit returns a deep copy of body with the value at path (dot-separated, numbers index
// arrays) replaced.
func edit(t *testing.T, body map[string]any, path string, value any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	var cur any = out
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if value == remove {
					delete(c, p)
				} else {
					c[p] = value
				}
				return out
			}
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(c) {
				t.Fatalf("edit %s: bad index %s", path, p)
			}
			if last {
				c[n] = value
				return out
			}
			cur = c[n]
		default:
			t.Fatalf("edit %s: %s is not a container", path, p)
		}
	}
	return out
}

// sendChunked posts a body without Content-Length, so only reading it shows its size.
func (e *testEnv) sendChunked(method, path, token string, body []byte, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.HTTP.URL+path, io.MultiReader(strings.NewReader(string(body))))
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{t: e.t, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

type badCase struct {
	name         string
	method, path string
	who          caller
	body         any
	headers      []string
	chunked      bool
	status       int
	code         string
	// field and rule, when set, must be among the problem's errors.
	field, rule string
}

// endpointForm is a write endpoint with a body it accepts, for the bad inputs every
// such endpoint must refuse alike.
type endpointForm struct {
	name         string
	method, path string
	who          caller
	valid        map[string]any
	// text is a string field, with the type error a number there gives.
	text string
	// wrong is a field and a value of the wrong type for it.
	wrongField string
	wrongValue any
}

// TestBadInput sends malformed, mistyped, oversized and rule-breaking requests to every
// write endpoint and to the list parameters. Each must be refused with a 4xx problem
// naming its code and the offending field, and must write nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tokens := map[caller]string{asAdmin: e.token(emailAdmin), asCSM: e.CSMToken, asNobody: ""}
	techID := e.userID(emailTech)
	ticket := demoTicket(0)
	centre := validCentre("BAD-01")
	user := map[string]any{"email": "nuevo@example.com", "name": "Nuevo", "password": "password-123", "role": "counter", "centre_code": "CCS-01"}
	referral := validReferral("BAD-0001")
	// appointments to aim at: a week ahead of the real clock, which this test keeps
	mon := aptMonday()
	apt := e.aptBooked(tokens[asCSM], demoTicket(0), "CCS-01", aptAt(mon, 0, 10, 0))
	for _, i := range []int{12, 13, 16} { // 11:00 is full
		e.aptBooked(tokens[asCSM], demoTicket(i), "CCS-01", aptAt(mon, 0, 11, 0))
	}
	e.resolve(demoTicket(5))
	aptPath := "/api/v1/appointments/" + apt
	book := map[string]any{"ticket_number": demoTicket(4), "centre_code": "CCS-01", "starts_at": aptRFC(aptAt(mon, 0, 10, 30))}
	checkIn := aptCheckInBody(aptIMEI)
	walkIn := aptCheckInBody(aptIMEI)
	walkIn["centre_code"] = "CCS-01"
	mb := strings.Repeat("x", 1_000_000)   // a string that still fits the body limit
	tooBig := strings.Repeat("x", 1<<20+1) // a body over it

	forms := []endpointForm{
		{"Login", "POST", "/api/v1/auth/login", asNobody, map[string]any{"email": emailAdmin, "password": "x"}, "password", "email", 5},
		{"CreateBusinessUnit", "POST", "/api/v1/admin/business-units", asAdmin, map[string]any{"code": "BAD", "name": "Mala"}, "name", "code", 5},
		{"CreateWarehouse", "POST", "/api/v1/admin/warehouses", asAdmin, map[string]any{"code": "ALM-BAD", "name": "Mala", "business_unit_code": "CAP"}, "name", "business_unit_code", []any{"CAP"}},
		{"CreateCentre", "POST", "/api/v1/admin/centres", asAdmin, centre, "name", "slot_minutes", "30"},
		{"UpdateCentre", "PATCH", "/api/v1/admin/centres/CCS-01", asAdmin, map[string]any{"name": "Nuevo", "version": 1}, "name", "counters", "3"},
		{"CreateUser", "POST", "/api/v1/admin/users", asAdmin, user, "name", "role", 1},
		{"UpdateUser", "PATCH", "/api/v1/admin/users/" + techID, asAdmin, map[string]any{"name": "Nuevo", "version": 1}, "name", "active", "yes"},
		{"CreateAPIClient", "POST", "/api/v1/admin/api-clients", asAdmin, map[string]any{"name": "Otro", "role": "csm"}, "name", "role", true},
		{"ReferTicket", "POST", "/api/v1/csm/tickets", asCSM, referral, "fault.description", "device.imei", 356938035643809},
		{"CancelTicket", "POST", "/api/v1/csm/tickets/" + ticket + "/cancel", asCSM, map[string]any{"reason": "x"}, "reason", "reason", 5},
		{"ClosedTicket", "POST", "/api/v1/csm/tickets/" + ticket + "/closed", asCSM, map[string]any{"closed_at": time.Now().Format(time.RFC3339)}, "closed_at", "closed_at", 1700000000},
		{"BookAppointment", "POST", "/api/v1/appointments", asCSM, book, "starts_at", "centre_code", 5},
		{"RescheduleAppointment", "POST", aptPath + "/reschedule", asCSM, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, "starts_at", "version", "2"},
		{"CancelAppointment", "POST", aptPath + "/cancel", asCSM, map[string]any{"reason": "x"}, "reason", "reason", 5},
		{"CheckIn", "POST", aptPath + "/check-in", asAdmin, checkIn, "condition", "accessories", "cargador"},
		{"WalkIn", "POST", "/api/v1/tickets/" + demoTicket(1) + "/walk-in", asAdmin, walkIn, "condition", "accessories", map[string]any{"a": "b"}},
	}
	var cases []badCase
	for _, f := range forms {
		c := func(name string, body any, status int, code, field, rule string) badCase {
			return badCase{name: f.name + "/" + name, method: f.method, path: f.path, who: f.who, body: body, status: status, code: code, field: field, rule: rule}
		}
		valid, _ := json.Marshal(f.valid)
		cases = append(cases,
			c("MalformedJSON", `{"name": "x",`, 400, "malformed_json", "", ""),
			c("NotJSON", `name=x`, 400, "malformed_json", "", ""),
			c("EmptyBody", "", 400, "malformed_json", "", ""),
			c("Array", `[]`, 400, "validation_failed", "body", "type"),
			c("String", `"hola"`, 400, "validation_failed", "body", "type"),
			c("TrailingData", string(valid)+` {}`, 400, "malformed_json", "", ""),
			c("UnknownField", edit(t, f.valid, "is_admin", true), 400, "validation_failed", "is_admin", "unknown"),
			c("WrongType", edit(t, f.valid, f.wrongField, f.wrongValue), 400, "validation_failed", f.wrongField, "type"),
			c("NumberForString", edit(t, f.valid, f.text, 12345), 400, "validation_failed", f.text, "type"),
			c("MegabyteString", edit(t, f.valid, f.text, mb), 400, "validation_failed", f.text, ""),
			c("NULInString", edit(t, f.valid, f.text, "a\x00b"), 400, "validation_failed", f.text, "no_nul"),
			c("BodyTooLarge", edit(t, f.valid, f.text, tooBig), 413, "body_too_large", "", ""),
		)
		chunked := c("BodyTooLargeChunked", edit(t, f.valid, f.text, tooBig), 413, "body_too_large", "", "")
		chunked.chunked = true
		cases = append(cases, chunked)
		if f.who != asNobody {
			withKey := c("BodyTooLargeWithIdempotencyKey", edit(t, f.valid, f.text, tooBig), 413, "body_too_large", "", "")
			withKey.chunked, withKey.headers = true, []string{"Idempotency-Key", "big"}
			cases = append(cases, withKey)
		}
		if f.method == http.MethodPatch {
			// null leaves an edit's field as it is; a null version is a missing one
			cases = append(cases, c("NullVersion", edit(t, f.valid, "version", nil), 400, "validation_failed", "version", "required"))
		} else {
			cases = append(cases, c("NullForString", edit(t, f.valid, f.text, nil), 400, "validation_failed", f.text, "required"))
		}
	}
	// Special cases of one endpoint. Bodies are built from a valid one with one thing wrong.
	ref := func(path string, v any) map[string]any { return edit(t, referral, path, v) }
	cen := func(path string, v any) map[string]any { return edit(t, centre, path, v) }
	usr := func(path string, v any) map[string]any { return edit(t, user, path, v) }
	refer := func(name string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "ReferTicket/" + name, method: "POST", path: "/api/v1/csm/tickets", who: asCSM, body: body, status: status, code: code, field: field, rule: rule}
	}
	createCentre := func(name string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "CreateCentre/" + name, method: "POST", path: "/api/v1/admin/centres", who: asAdmin, body: body, status: status, code: code, field: field, rule: rule}
	}
	patchCentre := func(name string, body any, headers []string, status int, code, field, rule string) badCase {
		return badCase{name: "UpdateCentre/" + name, method: "PATCH", path: "/api/v1/admin/centres/CCS-01", who: asAdmin, body: body, headers: headers, status: status, code: code, field: field, rule: rule}
	}
	createUser := func(name string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "CreateUser/" + name, method: "POST", path: "/api/v1/admin/users", who: asAdmin, body: body, status: status, code: code, field: field, rule: rule}
	}
	patchUser := func(name, id string, body any, headers []string, status int, code, field, rule string) badCase {
		return badCase{name: "UpdateUser/" + name, method: "PATCH", path: "/api/v1/admin/users/" + id, who: asAdmin, body: body, headers: headers, status: status, code: code, field: field, rule: rule}
	}
	get := func(name, path string, who caller, code, field, rule string) badCase {
		return badCase{name: name, method: "GET", path: path, who: who, status: 400, code: code, field: field, rule: rule}
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"t":"2026-01-01T00:00:00Z","i":"x'; DROP TABLE tickets; --"}`))
	cases = append(cases,
		badCase{name: "Login/MissingPassword", method: "POST", path: "/api/v1/auth/login", body: `{"email":"admin@example.com"}`, status: 400, code: "validation_failed", field: "password", rule: "required"},
		badCase{name: "Login/EmailTooLong", method: "POST", path: "/api/v1/auth/login", body: map[string]any{"email": strings.Repeat("a", 250) + "@x.com", "password": "x"}, status: 400, code: "validation_failed", field: "email", rule: "max"},

		badCase{name: "CreateBusinessUnit/LowerCaseCode", method: "POST", path: "/api/v1/admin/business-units", who: asAdmin, body: map[string]any{"code": "cap-2", "name": "x"}, status: 400, code: "validation_failed", field: "code", rule: "code"},
		badCase{name: "CreateBusinessUnit/CodeTooLong", method: "POST", path: "/api/v1/admin/business-units", who: asAdmin, body: map[string]any{"code": strings.Repeat("A", 21), "name": "x"}, status: 400, code: "validation_failed", field: "code", rule: "code"},
		badCase{name: "CreateBusinessUnit/CodeWithSpace", method: "POST", path: "/api/v1/admin/business-units", who: asAdmin, body: map[string]any{"code": "CA P", "name": "x"}, status: 400, code: "validation_failed", field: "code", rule: "code"},
		badCase{name: "CreateBusinessUnit/Duplicate", method: "POST", path: "/api/v1/admin/business-units", who: asAdmin, body: map[string]any{"code": "CAP", "name": "x"}, status: 409, code: "already_exists"},
		badCase{name: "CreateBusinessUnit/IdempotencyKeyTooLong", method: "POST", path: "/api/v1/admin/business-units", who: asAdmin, body: map[string]any{"code": "BAD", "name": "x"}, headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 400, code: "validation_failed", field: "Idempotency-Key", rule: "max"},
		badCase{name: "CreateWarehouse/UnknownBusinessUnit", method: "POST", path: "/api/v1/admin/warehouses", who: asAdmin, body: map[string]any{"code": "ALM-X", "name": "x", "business_unit_code": "NOPE"}, status: 422, code: "unknown_reference", field: "business_unit_code", rule: "exists"},
		badCase{name: "CreateWarehouse/Duplicate", method: "POST", path: "/api/v1/admin/warehouses", who: asAdmin, body: map[string]any{"code": "ALM-CAP", "name": "x", "business_unit_code": "CAP"}, status: 409, code: "already_exists"},

		createCentre("OpensAt25", cen("opening_hours.0.opens", "25:00"), 400, "validation_failed", "opening_hours[0].opens", "hhmm"),
		createCentre("ClosesAt24", cen("opening_hours.1.closes", "24:00"), 400, "validation_failed", "opening_hours[1].closes", "hhmm"),
		createCentre("OpensWithoutColon", cen("opening_hours.0.opens", "0800"), 400, "validation_failed", "opening_hours[0].opens", "hhmm"),
		createCentre("ClosesBeforeOpens", cen("opening_hours.2", map[string]any{"weekday": 1, "opens": "17:00", "closes": "13:00"}), 400, "validation_failed", "opening_hours[2].closes", "gtfield"),
		createCentre("ClosesWhenOpens", cen("opening_hours.0", map[string]any{"weekday": 2, "opens": "13:00", "closes": "13:00"}), 400, "validation_failed", "opening_hours[0].closes", "gtfield"),
		createCentre("OverlappingHours", cen("opening_hours.2", map[string]any{"weekday": 1, "opens": "11:00", "closes": "14:00"}), 400, "validation_failed", "opening_hours[2]", "no_overlap"),
		createCentre("WeekdayZero", cen("opening_hours.0.weekday", 0), 400, "validation_failed", "opening_hours[0].weekday", "required"),
		createCentre("WeekdayEight", cen("opening_hours.0.weekday", 8), 400, "validation_failed", "opening_hours[0].weekday", "max"),
		createCentre("WeekdayFraction", cen("opening_hours.0.weekday", 1.5), 400, "validation_failed", "opening_hours.weekday", "type"),
		createCentre("NoOpeningHours", cen("opening_hours", []any{}), 400, "validation_failed", "opening_hours", "min"),
		createCentre("OpeningHoursObject", cen("opening_hours", map[string]any{}), 400, "validation_failed", "opening_hours", "type"),
		createCentre("ClosedDayMonth13", cen("closed_days.0", "2026-13-01"), 400, "validation_failed", "closed_days[0]", "date"),
		createCentre("ClosedDayFeb30", cen("closed_days.1", "2027-02-30"), 400, "validation_failed", "closed_days[1]", "date"),
		createCentre("ClosedDayWritten", cen("closed_days.0", "24/12/2026"), 400, "validation_failed", "closed_days[0]", "date"),
		createCentre("ClosedDayYearZero", cen("closed_days.0", "0000-01-01"), 400, "validation_failed", "closed_days[0]", "date"),
		createCentre("ClosedDayTwice", cen("closed_days.1", "2026-12-25"), 400, "validation_failed", "closed_days[1]", "unique"),
		createCentre("ClosedDaysString", cen("closed_days", "2026-12-25"), 400, "validation_failed", "closed_days", "type"),
		createCentre("ModelTwice", cen("min_backup_stock.1.model", "sm-a155m"), 400, "validation_failed", "min_backup_stock[1].model", "unique"),
		createCentre("QuantityMissing", cen("min_backup_stock.0", map[string]any{"model": "X"}), 400, "validation_failed", "min_backup_stock[0].quantity", "required"),
		createCentre("QuantityNegative", cen("min_backup_stock.0.quantity", -1), 400, "validation_failed", "min_backup_stock[0].quantity", "min"),
		createCentre("TimeZoneUnknown", cen("time_zone", "Mars/Olympus_Mons"), 400, "validation_failed", "time_zone", "timezone"),
		createCentre("SlotTooLong", cen("slot_minutes", 1000), 400, "validation_failed", "slot_minutes", "max"),
		createCentre("SlotHuge", cen("slot_minutes", 1e30), 400, "validation_failed", "slot_minutes", "type"),
		createCentre("NoCounters", cen("counters", 0), 400, "validation_failed", "counters", "required"),
		createCentre("CodeMissing", cen("code", remove), 400, "validation_failed", "code", "required"),
		createCentre("UnknownBusinessUnit", cen("business_unit_code", "NOPE"), 422, "unknown_reference", "business_unit_code", "exists"),
		createCentre("Duplicate", cen("code", "CCS-01"), 409, "already_exists", "", ""),

		patchCentre("NoVersion", map[string]any{"name": "x"}, nil, 400, "validation_failed", "version", "required"),
		patchCentre("VersionZero", map[string]any{"name": "x", "version": 0}, nil, 400, "validation_failed", "version", "min"),
		patchCentre("VersionString", map[string]any{"name": "x", "version": "1"}, nil, 400, "validation_failed", "version", "type"),
		patchCentre("IfMatchNotANumber", map[string]any{"name": "x"}, []string{"If-Match", `"abc"`}, 400, "validation_failed", "If-Match", "version"),
		patchCentre("IfMatchStar", map[string]any{"name": "x"}, []string{"If-Match", `*`}, 400, "validation_failed", "If-Match", "version"),
		patchCentre("EmptyName", map[string]any{"name": "", "version": 1}, nil, 400, "validation_failed", "name", "min"),
		patchCentre("CodeNotEditable", map[string]any{"code": "CCS-09", "version": 1}, nil, 400, "validation_failed", "code", "unknown"),
		patchCentre("NoOpeningHours", map[string]any{"opening_hours": []any{}, "version": 1}, nil, 400, "validation_failed", "opening_hours", "min"),
		patchCentre("OverlappingHours", map[string]any{"opening_hours": []any{
			map[string]any{"weekday": 3, "opens": "08:00", "closes": "12:00"}, map[string]any{"weekday": 3, "opens": "09:00", "closes": "10:00"}}, "version": 1},
			nil, 400, "validation_failed", "opening_hours[1]", "no_overlap"),
		patchCentre("ClosesAt2500", map[string]any{"opening_hours": []any{map[string]any{"weekday": 3, "opens": "08:00", "closes": "25:00"}}, "version": 1},
			nil, 400, "validation_failed", "opening_hours[0].closes", "hhmm"),
		patchCentre("ClosedDayNotADate", map[string]any{"closed_days": []any{"mañana"}, "version": 1}, nil, 400, "validation_failed", "closed_days[0]", "date"),
		patchCentre("StaleVersion", map[string]any{"name": "x", "version": 7}, nil, 409, "version_conflict", "", ""),
		patchCentre("StaleIfMatch", map[string]any{"name": "x"}, []string{"If-Match", `"7"`}, 409, "version_conflict", "", ""),
		badCase{name: "UpdateCentre/Unknown", method: "PATCH", path: "/api/v1/admin/centres/NOPE", who: asAdmin, body: map[string]any{"name": "x", "version": 1}, status: 404, code: "not_found"},
		badCase{name: "GetCentre/NULInPath", method: "GET", path: "/api/v1/admin/centres/%00", who: asAdmin, status: 400, code: "validation_failed", field: "path", rule: "no_nul"},
		badCase{name: "GetTicket/NULInPath", method: "GET", path: "/api/v1/tickets/A%00B", who: asCSM, status: 400, code: "validation_failed", field: "path", rule: "no_nul"},
		createCentre("NULInNestedString", cen("min_backup_stock.1.model", "Moto\x00G24"), 400, "validation_failed", "min_backup_stock[1].model", "no_nul"),
		createCentre("NULInListOfStrings", cen("closed_days.1", "2026-12-24\x00"), 400, "validation_failed", "closed_days[1]", ""),

		createUser("EmailInvalid", usr("email", "no-es-un-correo"), 400, "validation_failed", "email", "email"),
		createUser("PasswordShort", usr("password", "corta"), 400, "validation_failed", "password", "min"),
		createUser("RoleUnknown", usr("role", "superuser"), 400, "validation_failed", "role", "oneof"),
		createUser("RoleCSM", usr("role", "csm"), 400, "validation_failed", "role", "oneof"),
		createUser("CentreRoleWithoutCentre", usr("centre_code", remove), 400, "validation_failed", "centre_code", "required"),
		createUser("CentreRoleWithWarehouse", usr("warehouse_code", "ALM-CAP"), 400, "validation_failed", "warehouse_code", "excluded"),
		createUser("WarehouseRoleWithCentre", usr("role", "warehouse"), 400, "validation_failed", "centre_code", "excluded"),
		createUser("AdminWithCentre", usr("role", "admin"), 400, "validation_failed", "role", "scope"),
		createUser("CentreCodeLowerCase", usr("centre_code", "ccs-01"), 400, "validation_failed", "centre_code", "code"),
		createUser("UnknownCentre", usr("centre_code", "CCS-99"), 422, "unknown_reference", "centre_code", "exists"),
		createUser("WarehouseRoleWithoutWarehouse", edit(t, usr("role", "warehouse"), "centre_code", remove), 400, "validation_failed", "warehouse_code", "required"),
		createUser("UnknownWarehouseCode", edit(t, edit(t, usr("role", "warehouse"), "centre_code", remove), "warehouse_code", "ALM-NOPE"), 422, "unknown_reference", "warehouse_code", "exists"),
		createUser("DuplicateEmail", usr("email", "TAQUILLA@example.com"), 409, "already_exists", "", ""),

		patchUser("NoVersion", techID, map[string]any{"name": "x"}, nil, 400, "validation_failed", "version", "required"),
		patchUser("PasswordShort", techID, map[string]any{"password": "corta", "version": 1}, nil, 400, "validation_failed", "password", "min"),
		patchUser("RoleUnknown", techID, map[string]any{"role": "root", "version": 1}, nil, 400, "validation_failed", "role", "oneof"),
		patchUser("RoleWithoutScope", techID, map[string]any{"role": "warehouse", "version": 1}, nil, 400, "validation_failed", "warehouse_code", "required"),
		patchUser("UnknownCentre", techID, map[string]any{"centre_code": "CCS-99", "version": 1}, nil, 422, "unknown_reference", "centre_code", "exists"),
		patchUser("IfMatchNotANumber", techID, map[string]any{"name": "x"}, []string{"If-Match", "version-1"}, 400, "validation_failed", "If-Match", "version"),
		patchUser("StaleVersion", techID, map[string]any{"name": "x", "version": 9}, nil, 409, "version_conflict", "", ""),
		patchUser("NotAUUID", "42", map[string]any{"name": "x", "version": 1}, nil, 404, "not_found", "", ""),
		patchUser("Unknown", "6f1c1b8e-0000-4000-8000-000000000000", map[string]any{"name": "x", "version": 1}, nil, 404, "not_found", "", ""),

		badCase{name: "CreateAPIClient/RoleAdmin", method: "POST", path: "/api/v1/admin/api-clients", who: asAdmin, body: map[string]any{"name": "x", "role": "admin"}, status: 400, code: "validation_failed", field: "role", rule: "oneof"},
		badCase{name: "CreateAPIClient/NoName", method: "POST", path: "/api/v1/admin/api-clients", who: asAdmin, body: map[string]any{"role": "csm"}, status: 400, code: "validation_failed", field: "name", rule: "required"},

		refer("IMEIBadLuhn", ref("device.imei", "356938035643808"), 400, "validation_failed", "device.imei", "imei"),
		refer("IMEI14Digits", ref("device.imei", "35693803564380"), 400, "validation_failed", "device.imei", "imei"),
		refer("IMEI16Digits", ref("device.imei", "3569380356438090"), 400, "validation_failed", "device.imei", "imei"),
		refer("IMEILetters", ref("device.imei", "35693803564380A"), 400, "validation_failed", "device.imei", "imei"),
		refer("IMEIWithDashes", ref("device.imei", "35-693803-564380-9"), 400, "validation_failed", "device.imei", "imei"),
		refer("PhoneLandline", ref("customer.contact_phone", "0212-5551234"), 400, "validation_failed", "customer.contact_phone", "ve_msisdn"),
		refer("PhoneTooShort", ref("customer.contact_phone", "0416-12345"), 400, "validation_failed", "customer.contact_phone", "ve_msisdn"),
		refer("PhoneForeign", ref("customer.contact_phone", "+57 316 1234567"), 400, "validation_failed", "customer.contact_phone", "ve_msisdn"),
		refer("PhoneLetters", ref("customer.contact_phone", "0416-CALLME1"), 400, "validation_failed", "customer.contact_phone", "ve_msisdn"),
		refer("MSISDNLandline", ref("line.msisdn", "02125551234"), 400, "validation_failed", "line.msisdn", "ve_msisdn"),
		refer("MSISDNTooShort", ref("line.msisdn", "416123"), 400, "validation_failed", "line.msisdn", "ve_msisdn"),
		refer("MSISDNObject", ref("line.msisdn", map[string]any{"number": "04161234567"}), 400, "validation_failed", "line.msisdn", "type"),
		refer("TicketNumberSpace", ref("ticket_number", "CSM 2026 1"), 400, "validation_failed", "ticket_number", "ticket_number"),
		refer("TicketNumberHash", ref("ticket_number", "CSM#2026"), 400, "validation_failed", "ticket_number", "ticket_number"),
		refer("TicketNumberAccent", ref("ticket_number", "AVERÍA-1"), 400, "validation_failed", "ticket_number", "ticket_number"),
		refer("TicketNumberPercent", ref("ticket_number", "CSM%2F1"), 400, "validation_failed", "ticket_number", "ticket_number"),
		refer("TicketNumberTooLong", ref("ticket_number", strings.Repeat("A", 41)), 400, "validation_failed", "ticket_number", "ticket_number"),
		refer("TicketNumberEmpty", ref("ticket_number", ""), 400, "validation_failed", "ticket_number", "required"),
		refer("TicketNumberNumber", ref("ticket_number", 4711), 400, "validation_failed", "ticket_number", "type"),
		refer("ReportedAtNoOffset", ref("reported_at", "2026-11-28T09:15:00"), 400, "validation_failed", "reported_at", "rfc3339"),
		refer("ReportedAtSpace", ref("reported_at", "2026-11-28 09:15:00-04:00"), 400, "validation_failed", "reported_at", "rfc3339"),
		refer("ReportedAtDate", ref("reported_at", "2026-11-28"), 400, "validation_failed", "reported_at", "rfc3339"),
		refer("ReportedAtUnix", ref("reported_at", 1764336900), 400, "validation_failed", "reported_at", "type"),
		refer("ReportedAtFuture", ref("reported_at", time.Now().Add(time.Hour).Format(time.RFC3339)), 422, "validation_failed", "reported_at", "not_future"),
		refer("UnknownCentre", ref("centre_code", "CCS-99"), 422, "unknown_reference", "centre_code", "exists"),
		refer("CentreCodeLowerCase", ref("centre_code", "ccs-01"), 400, "validation_failed", "centre_code", "code"),
		refer("FaultCategoryUnknown", ref("fault.category", "broken"), 400, "validation_failed", "fault.category", "oneof"),
		refer("DescriptionTooLong", ref("fault.description", strings.Repeat("é", 2001)), 400, "validation_failed", "fault.description", "max"),
		refer("EmailInvalid", ref("customer.contact_email", "mperez@"), 400, "validation_failed", "customer.contact_email", "email"),
		refer("AccountTooLong", ref("customer.account_number", strings.Repeat("J", 41)), 400, "validation_failed", "customer.account_number", "max"),
		refer("CustomerMissing", ref("customer", remove), 400, "validation_failed", "customer", "required"),
		refer("CustomerArray", ref("customer", []any{}), 400, "validation_failed", "customer", "type"),
		refer("DeviceNull", ref("device", nil), 400, "validation_failed", "device", "required"),
		refer("NestedUnknownField", ref("device.colour", "negro"), 400, "validation_failed", "colour", "unknown"),
		refer("EverythingMissing", `{}`, 400, "validation_failed", "ticket_number", "required"),

		badCase{name: "CancelTicket/NoReason", method: "POST", path: "/api/v1/csm/tickets/" + ticket + "/cancel", who: asCSM, body: `{}`, status: 400, code: "validation_failed", field: "reason", rule: "required"},
		badCase{name: "CancelTicket/ReasonTooLong", method: "POST", path: "/api/v1/csm/tickets/" + ticket + "/cancel", who: asCSM, body: map[string]any{"reason": strings.Repeat("r", 501)}, status: 400, code: "validation_failed", field: "reason", rule: "max"},
		badCase{name: "CancelTicket/UnknownTicket", method: "POST", path: "/api/v1/csm/tickets/CSM-1999-0000001/cancel", who: asCSM, body: map[string]any{"reason": "x"}, status: 404, code: "not_found"},
		badCase{name: "CancelTicket/InvalidNumber", method: "POST", path: "/api/v1/csm/tickets/CSM%232026/cancel", who: asCSM, body: map[string]any{"reason": "x"}, status: 404, code: "not_found"},
		badCase{name: "ClosedTicket/NoClosedAt", method: "POST", path: "/api/v1/csm/tickets/" + ticket + "/closed", who: asCSM, body: `{}`, status: 400, code: "validation_failed", field: "closed_at", rule: "required"},
		badCase{name: "ClosedTicket/ClosedAtWords", method: "POST", path: "/api/v1/csm/tickets/" + ticket + "/closed", who: asCSM, body: map[string]any{"closed_at": "yesterday"}, status: 400, code: "validation_failed", field: "closed_at", rule: "rfc3339"},
		badCase{name: "ClosedTicket/NotResolved", method: "POST", path: "/api/v1/csm/tickets/" + ticket + "/closed", who: asCSM, body: map[string]any{"closed_at": time.Now().Format(time.RFC3339)}, status: 409, code: "ticket_not_resolved"},
		badCase{name: "ClosedTicket/UnknownTicket", method: "POST", path: "/api/v1/csm/tickets/NOPE/closed", who: asCSM, body: map[string]any{"closed_at": time.Now().Format(time.RFC3339)}, status: 404, code: "not_found"},

		get("SearchTickets/LimitZero", "/api/v1/tickets?limit=0", asAdmin, "validation_failed", "limit", "range"),
		get("SearchTickets/Limit501", "/api/v1/tickets?limit=501", asAdmin, "validation_failed", "limit", "range"),
		get("SearchTickets/LimitWords", "/api/v1/tickets?limit=abc", asAdmin, "validation_failed", "limit", "type"),
		get("SearchTickets/LimitNegative", "/api/v1/tickets?limit=-1", asAdmin, "validation_failed", "limit", "type"),
		get("SearchTickets/LimitHuge", "/api/v1/tickets?limit=99999999999999999999", asAdmin, "validation_failed", "limit", "type"),
		get("SearchTickets/CursorGarbage", "/api/v1/tickets?cursor=not-a-cursor", asAdmin, "validation_failed", "cursor", "cursor"),
		get("SearchTickets/CursorForged", "/api/v1/tickets?cursor="+forged, asAdmin, "validation_failed", "cursor", "cursor"),
		get("SearchTickets/CursorNotBase64", "/api/v1/tickets?cursor=%25%25%25", asAdmin, "validation_failed", "cursor", "cursor"),
		get("SearchTickets/StatusUnknown", "/api/v1/tickets?status=open", asAdmin, "validation_failed", "status", "oneof"),
		get("SearchTickets/SLAStateUnknown", "/api/v1/tickets?sla_state=soon", asAdmin, "validation_failed", "sla_state", "oneof"),
		get("SearchTickets/CentreCodeLowerCase", "/api/v1/tickets?centre_code=ccs-01", asAdmin, "validation_failed", "centre_code", "code"),
		get("SearchTickets/CentreCodeNUL", "/api/v1/tickets?centre_code=%00", asAdmin, "validation_failed", "centre_code", "no_nul"),
		get("Events/AfterNegative", "/api/v1/csm/events?after=-1", asCSM, "validation_failed", "after", "type"),
		get("Events/AfterWords", "/api/v1/csm/events?after=abc", asCSM, "validation_failed", "after", "type"),
		get("Events/LimitZero", "/api/v1/csm/events?limit=0", asCSM, "validation_failed", "limit", "range"),
		get("Events/Limit501", "/api/v1/csm/events?limit=501", asCSM, "validation_failed", "limit", "range"),
		get("Audit/LimitZero", "/api/v1/audit?limit=0", asAdmin, "validation_failed", "limit", "range"),
		get("Audit/CursorGarbage", "/api/v1/audit?cursor=zzz", asAdmin, "validation_failed", "cursor", "cursor"),
		get("Audit/EntityTooLong", "/api/v1/audit?entity="+strings.Repeat("e", 51), asAdmin, "validation_failed", "entity", "max"),
		get("Audit/EntityNUL", "/api/v1/audit?entity=%00", asAdmin, "validation_failed", "entity", "no_nul"),
		get("SearchTickets/NULInParameterName", "/api/v1/tickets?a%00=1", asAdmin, "validation_failed", "a\x00", "no_nul"),
	)

	// Appointments: bodies built from a valid one with one thing wrong, query
	// parameters, and ids that name nothing.
	bk := func(path string, v any) map[string]any { return edit(t, book, path, v) }
	ci := func(path string, v any) map[string]any { return edit(t, checkIn, path, v) }
	bookCase := func(name string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "BookAppointment/" + name, method: "POST", path: "/api/v1/appointments", who: asCSM, body: body, status: status, code: code, field: field, rule: rule}
	}
	reschedule := func(name, id string, body any, headers []string, status int, code, field, rule string) badCase {
		return badCase{name: "RescheduleAppointment/" + name, method: "POST", path: "/api/v1/appointments/" + id + "/reschedule", who: asCSM, body: body, headers: headers, status: status, code: code, field: field, rule: rule}
	}
	cancelApt := func(name, id string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "CancelAppointment/" + name, method: "POST", path: "/api/v1/appointments/" + id + "/cancel", who: asCSM, body: body, status: status, code: code, field: field, rule: rule}
	}
	checkInCase := func(name, id string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "CheckIn/" + name, method: "POST", path: "/api/v1/appointments/" + id + "/check-in", who: asAdmin, body: body, status: status, code: code, field: field, rule: rule}
	}
	walkInCase := func(name, number string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "WalkIn/" + name, method: "POST", path: "/api/v1/tickets/" + number + "/walk-in", who: asAdmin, body: body, status: status, code: code, field: field, rule: rule}
	}
	avail := func(name, query string, status int, code, field, rule string) badCase {
		return badCase{name: "Availability/" + name, method: "GET", path: "/api/v1/centres/CCS-01/availability?" + query, who: asCSM, status: status, code: code, field: field, rule: rule}
	}
	agenda := func(name, path string, status int, code, field, rule string) badCase {
		return badCase{name: "Agenda/" + name, method: "GET", path: path, who: asAdmin, status: status, code: code, field: field, rule: rule}
	}
	day, nextDay := aptDate(mon), aptDate(aptAt(mon, 1, 0, 0))
	span := "from=" + day + "&to=" + day
	none := "6f1c1b8e-0000-4000-8000-000000000000"
	cases = append(cases,
		bookCase("StartsAtNoOffset", bk("starts_at", aptAt(mon, 0, 10, 30).Format("2006-01-02T15:04:05")), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtYearZero", bk("starts_at", "0000-12-07T10:00:00Z"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtYear1999", bk("starts_at", "1999-12-06T10:00:00-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtYear3000", bk("starts_at", "3000-12-02T10:00:00-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtYear10000", bk("starts_at", "10000-12-07T10:00:00-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtDateOnly", bk("starts_at", day), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtSpace", bk("starts_at", day+" 10:30:00-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtFeb30", bk("starts_at", "2027-02-30T10:00:00-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtOffset25h", bk("starts_at", day+"T10:30:00+25:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtSecond60", bk("starts_at", day+"T10:29:60-04:00"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtWords", bk("starts_at", "mañana a las diez"), 400, "validation_failed", "starts_at", "rfc3339"),
		bookCase("StartsAtUnix", bk("starts_at", 1796652000), 400, "validation_failed", "starts_at", "type"),
		bookCase("StartsAtObject", bk("starts_at", map[string]any{"date": day}), 400, "validation_failed", "starts_at", "type"),
		bookCase("StartsAtMissing", bk("starts_at", remove), 400, "validation_failed", "starts_at", "required"),
		bookCase("TicketNumberHash", bk("ticket_number", "CSM#2026"), 400, "validation_failed", "ticket_number", "ticket_number"),
		bookCase("TicketNumberTooLong", bk("ticket_number", strings.Repeat("A", 41)), 400, "validation_failed", "ticket_number", "ticket_number"),
		bookCase("TicketNumberArray", bk("ticket_number", []any{demoTicket(4)}), 400, "validation_failed", "ticket_number", "type"),
		bookCase("TicketNumberMissing", bk("ticket_number", remove), 400, "validation_failed", "ticket_number", "required"),
		bookCase("CentreCodeLowerCase", bk("centre_code", "ccs-01"), 400, "validation_failed", "centre_code", "code"),
		bookCase("CentreCodeMissing", bk("centre_code", remove), 400, "validation_failed", "centre_code", "required"),
		bookCase("VersionNotAField", bk("version", 1), 400, "validation_failed", "version", "unknown"),
		bookCase("UnknownTicket", bk("ticket_number", "CSM-1999-0000001"), 404, "not_found", "", ""),
		bookCase("UnknownCentre", bk("centre_code", "CCS-99"), 404, "not_found", "", ""),
		bookCase("InThePast", bk("starts_at", "2020-01-06T10:00:00-04:00"), 422, "in_the_past", "", ""),
		bookCase("NotASlotStart", bk("starts_at", aptRFC(aptAt(mon, 0, 10, 15))), 422, "not_a_slot_start", "", ""),
		bookCase("SecondsIntoTheSlot", bk("starts_at", aptRFC(aptAt(mon, 0, 10, 30).Add(time.Second))), 422, "not_a_slot_start", "", ""),
		bookCase("Sunday", bk("starts_at", aptRFC(aptAt(mon, 6, 10, 0))), 422, "outside_opening_hours", "", ""),
		bookCase("Night", bk("starts_at", aptRFC(aptAt(mon, 0, 23, 0))), 422, "outside_opening_hours", "", ""),
		bookCase("ClosedDay", bk("starts_at", "2026-12-25T10:00:00-04:00"), 422, "outside_opening_hours", "", ""),
		bookCase("TicketResolved", bk("ticket_number", demoTicket(5)), 422, "ticket_not_bookable", "", ""),
		bookCase("TicketScheduled", bk("ticket_number", demoTicket(0)), 409, "ticket_has_appointment", "", ""),
		bookCase("SlotFull", bk("starts_at", aptRFC(aptAt(mon, 0, 11, 0))), 409, "slot_full", "", ""),
		// the same slot written in UTC is the same slot
		bookCase("SlotFullInUTC", bk("starts_at", aptAt(mon, 0, 11, 0).UTC().Format(time.RFC3339)), 409, "slot_full", "", ""),

		reschedule("StartsAtMissing", apt, `{}`, nil, 400, "validation_failed", "starts_at", "required"),
		reschedule("StartsAtYearZero", apt, map[string]any{"starts_at": "0000-01-01T00:00:00Z"}, nil, 400, "validation_failed", "starts_at", "rfc3339"),
		reschedule("VersionZero", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0)), "version": 0}, nil, 400, "validation_failed", "version", "min"),
		reschedule("VersionFraction", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0)), "version": 1.5}, nil, 400, "validation_failed", "version", "type"),
		reschedule("VersionHuge", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0)), "version": 1e30}, nil, 400, "validation_failed", "version", "type"),
		reschedule("IfMatchNotANumber", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, []string{"If-Match", `"v1"`}, 400, "validation_failed", "If-Match", "version"),
		reschedule("StaleVersion", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0)), "version": 9}, nil, 409, "version_conflict", "", ""),
		reschedule("StaleIfMatch", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, []string{"If-Match", `"9"`}, 409, "version_conflict", "", ""),
		reschedule("IntoFullSlot", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 0))}, nil, 409, "slot_full", "", ""),
		reschedule("NotASlotStart", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 10))}, nil, 422, "not_a_slot_start", "", ""),
		reschedule("LunchBreak", apt, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 12, 30))}, nil, 422, "outside_opening_hours", "", ""),
		reschedule("InThePast", apt, map[string]any{"starts_at": "2020-01-06T10:00:00-04:00"}, nil, 422, "in_the_past", "", ""),
		reschedule("NotAUUID", "42", map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),
		reschedule("Unknown", none, map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),
		reschedule("UUIDWithoutDashes", strings.ReplaceAll(apt, "-", ""), map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),
		reschedule("UUIDInBraces", "%7B"+apt+"%7D", map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),
		reschedule("SQLInID", "%27%20OR%20%271%27%3D%271", map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),
		reschedule("SlashInID", apt[:8]+"%2F"+apt[9:], map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 13, 0))}, nil, 404, "not_found", "", ""),

		cancelApt("NoReason", apt, `{}`, 400, "validation_failed", "reason", "required"),
		cancelApt("BlankReason", apt, map[string]any{"reason": " \t "}, 400, "validation_failed", "reason", "notblank"),
		cancelApt("ReasonTooLong", apt, map[string]any{"reason": strings.Repeat("r", 501)}, 400, "validation_failed", "reason", "max"),
		cancelApt("ReasonArray", apt, map[string]any{"reason": []any{"x"}}, 400, "validation_failed", "reason", "type"),
		cancelApt("NotAUUID", "not-a-uuid", map[string]any{"reason": "x"}, 404, "not_found", "", ""),
		cancelApt("Unknown", none, map[string]any{"reason": "x"}, 404, "not_found", "", ""),
		badCase{name: "NoShow/NotAUUID", method: "POST", path: "/api/v1/appointments/42/no-show", who: asAdmin, status: 404, code: "not_found"},
		badCase{name: "NoShow/Unknown", method: "POST", path: "/api/v1/appointments/" + none + "/no-show", who: asAdmin, status: 404, code: "not_found"},
		badCase{name: "NoShow/SlotNotStarted", method: "POST", path: aptPath + "/no-show", who: asAdmin, status: 422, code: "slot_not_started"},
		badCase{name: "NoShow/IdempotencyKeyTooLong", method: "POST", path: aptPath + "/no-show", who: asAdmin, headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 400, code: "validation_failed", field: "Idempotency-Key", rule: "max"},
		badCase{name: "GetAppointment/NotAUUID", method: "GET", path: "/api/v1/appointments/not-a-uuid", who: asCSM, status: 404, code: "not_found"},
		badCase{name: "GetAppointment/Unknown", method: "GET", path: "/api/v1/appointments/" + none, who: asCSM, status: 404, code: "not_found"},
		badCase{name: "GetAppointment/TooLong", method: "GET", path: "/api/v1/appointments/" + apt + "0", who: asCSM, status: 404, code: "not_found"},
		badCase{name: "GetAppointment/NULInPath", method: "GET", path: "/api/v1/appointments/%00", who: asCSM, status: 400, code: "validation_failed", field: "path", rule: "no_nul"},

		checkInCase("IMEIBadLuhn", apt, ci("received_imei", "356938035643808"), 400, "validation_failed", "received_imei", "imei"),
		checkInCase("IMEI14Digits", apt, ci("received_imei", "35693803564380"), 400, "validation_failed", "received_imei", "imei"),
		checkInCase("IMEIWithSpaces", apt, ci("received_imei", "35 693803 564380 9"), 400, "validation_failed", "received_imei", "imei"),
		checkInCase("IMEIFullWidthDigits", apt, ci("received_imei", "３５６９３８０３５６４３８０９"), 400, "validation_failed", "received_imei", "imei"),
		checkInCase("IMEINumber", apt, ci("received_imei", 356938035643809), 400, "validation_failed", "received_imei", "type"),
		checkInCase("IMEIMissing", apt, ci("received_imei", remove), 400, "validation_failed", "received_imei", "required"),
		checkInCase("ConditionMissing", apt, ci("condition", remove), 400, "validation_failed", "condition", "required"),
		checkInCase("ConditionTooLong", apt, ci("condition", strings.Repeat("c", 1001)), 400, "validation_failed", "condition", "max"),
		checkInCase("AccessoriesObject", apt, ci("accessories", map[string]any{"cargador": true}), 400, "validation_failed", "accessories", "type"),
		checkInCase("AccessoriesTooMany", apt, ci("accessories", strings.Split(strings.Repeat("x,", 20)+"x", ",")), 400, "validation_failed", "accessories", "max"),
		checkInCase("AccessoryBlank", apt, ci("accessories", []any{"cargador", "  "}), 400, "validation_failed", "accessories[1]", "notblank"),
		checkInCase("AccessoryEmpty", apt, ci("accessories", []any{""}), 400, "validation_failed", "accessories[0]", "required"),
		checkInCase("AccessoryNull", apt, ci("accessories", []any{nil}), 400, "validation_failed", "accessories[0]", "required"),
		checkInCase("AccessoryTooLong", apt, ci("accessories", []any{strings.Repeat("a", 101)}), 400, "validation_failed", "accessories[0]", "max"),
		checkInCase("AccessoryNumber", apt, ci("accessories", []any{"cargador", 5}), 400, "validation_failed", "accessories", "type"),
		checkInCase("AccessoryNUL", apt, ci("accessories", []any{"carga\x00dor"}), 400, "validation_failed", "accessories[0]", "no_nul"),
		checkInCase("MismatchReasonBlank", apt, ci("imei_mismatch_reason", "   "), 400, "validation_failed", "imei_mismatch_reason", "notblank"),
		checkInCase("MismatchReasonTooLong", apt, ci("imei_mismatch_reason", strings.Repeat("m", 501)), 400, "validation_failed", "imei_mismatch_reason", "max"),
		checkInCase("CentreCodeLowerCase", apt, ci("centre_code", "ccs-01"), 400, "validation_failed", "centre_code", "code"),
		checkInCase("NotToday", apt, checkIn, 422, "not_today", "", ""),
		checkInCase("NotAUUID", "0", checkIn, 404, "not_found", "", ""),
		checkInCase("Unknown", none, checkIn, 404, "not_found", "", ""),
		walkInCase("AdminWithoutCentre", demoTicket(1), checkIn, 400, "validation_failed", "centre_code", "required"),
		walkInCase("CentreCodeLowerCase", demoTicket(1), edit(t, walkIn, "centre_code", "ccs-01"), 400, "validation_failed", "centre_code", "code"),
		walkInCase("UnknownCentre", demoTicket(1), edit(t, walkIn, "centre_code", "CCS-99"), 404, "not_found", "", ""),
		walkInCase("IMEIBadLuhn", demoTicket(1), edit(t, walkIn, "received_imei", "356938035643808"), 400, "validation_failed", "received_imei", "imei"),
		walkInCase("AccessoriesTooMany", demoTicket(1), edit(t, walkIn, "accessories", make([]string, 21)), 400, "validation_failed", "accessories", "max"),

		avail("FromMissing", "to="+day, 400, "validation_failed", "from", "required"),
		avail("ToMissing", "from="+day, 400, "validation_failed", "to", "required"),
		avail("NoDates", "", 400, "validation_failed", "from", "required"),
		avail("FromWords", "from=ma%C3%B1ana&to="+day, 400, "validation_failed", "from", "date"),
		avail("FromYearZero", "from=0000-01-01&to="+day, 400, "validation_failed", "from", "date"),
		avail("FromFeb30", "from=2027-02-30&to=2027-03-01", 400, "validation_failed", "from", "date"),
		avail("FromWithTime", "from="+day+"T00:00:00Z&to="+day, 400, "validation_failed", "from", "date"),
		avail("FromDayFirst", "from=07-12-2026&to="+day, 400, "validation_failed", "from", "date"),
		avail("ToMonth13", "from="+day+"&to=2026-13-01", 400, "validation_failed", "to", "date"),
		avail("ToBeforeFrom", "from="+nextDay+"&to="+day, 400, "validation_failed", "to", "gtefield"),
		avail("Range32Days", "from="+day+"&to="+aptDate(aptAt(mon, 31, 0, 0)), 400, "validation_failed", "to", "max_range"),
		avail("RangeOfCenturies", "from=2000-01-01&to=2999-12-31", 400, "validation_failed", "to", "max_range"),
		avail("FromTwiceFirstBad", "from=x&from="+day+"&to="+day, 400, "validation_failed", "from", "date"),
		avail("TicketNumberHash", span+"&ticket_number=CSM%232026", 400, "validation_failed", "ticket_number", "ticket_number"),
		avail("TicketNumberTooLong", span+"&ticket_number="+strings.Repeat("A", 41), 400, "validation_failed", "ticket_number", "ticket_number"),
		avail("FromNUL", "from=%00&to="+day, 400, "validation_failed", "from", "no_nul"),
		avail("UnknownTicket", span+"&ticket_number=CSM-1999-0000001", 404, "not_found", "", ""),
		badCase{name: "Availability/UnknownCentre", method: "GET", path: "/api/v1/centres/CCS-99/availability?" + span, who: asCSM, status: 404, code: "not_found"},
		badCase{name: "Availability/LowerCaseCentre", method: "GET", path: "/api/v1/centres/ccs-01/availability?" + span, who: asCSM, status: 404, code: "not_found"},
		agenda("DateMissing", "/api/v1/centres/CCS-01/agenda", 400, "validation_failed", "date", "required"),
		agenda("DateWords", "/api/v1/centres/CCS-01/agenda?date=hoy", 400, "validation_failed", "date", "date"),
		agenda("DateYearZero", "/api/v1/centres/CCS-01/agenda?date=0000-01-01", 400, "validation_failed", "date", "date"),
		agenda("DateYear10000", "/api/v1/centres/CCS-01/agenda?date=10000-01-01", 400, "validation_failed", "date", "date"),
		agenda("DateMonth13", "/api/v1/centres/CCS-01/agenda?date=2026-13-01", 400, "validation_failed", "date", "date"),
		agenda("DateNUL", "/api/v1/centres/CCS-01/agenda?date=%00", 400, "validation_failed", "date", "no_nul"),
		agenda("UnknownCentre", "/api/v1/centres/CCS-99/agenda?date="+day, 404, "not_found", "", ""),
	)
	for _, blankField := range []string{"condition", "imei_mismatch_reason"} {
		cases = append(cases, checkInCase("Blank_"+blankField, apt, ci(blankField, " \t\n "), 400, "validation_failed", blankField, "notblank"))
	}

	// text the services trim may not be blank: it would be stored empty
	for _, f := range forms {
		blank := func(field string) badCase {
			return badCase{name: f.name + "/Blank_" + field, method: f.method, path: f.path, who: f.who, body: edit(t, f.valid, field, " \t\n "),
				status: 400, code: "validation_failed", field: field, rule: "notblank"}
		}
		switch f.name {
		case "CreateBusinessUnit", "CreateWarehouse", "CreateCentre", "UpdateCentre", "CreateUser", "UpdateUser", "CreateAPIClient":
			cases = append(cases, blank("name"))
		case "ReferTicket":
			for _, field := range []string{"customer.account_number", "customer.company", "customer.contact_name", "device.brand", "device.model", "fault.description"} {
				cases = append(cases, blank(field))
			}
		}
	}
	cases = append(cases, createCentre("BlankModel", cen("min_backup_stock.0.model", "   "), 400, "validation_failed", "min_backup_stock[0].model", "notblank"))

	// The callbacks' deliveries: the replay bodies, the replay of one, the list's filters,
	// with a published event (of the bookings above) to name.
	evs := e.publishedEvents()
	if len(evs) == 0 {
		t.Fatal("no published event")
	}
	evt := evs[0]
	const noEvent = "evt_00000000000000000000000000000000"
	replay := func(name string, body any, status int, code, field, rule string) badCase {
		return badCase{name: "ReplayDeliveries/" + name, method: "POST", path: "/api/v1/admin/deliveries/replay", who: asAdmin, body: body, status: status, code: code, field: field, rule: rule}
	}
	replayOne := func(name, id string, status int, code, field, rule string) badCase {
		return badCase{name: "ReplayDelivery/" + name, method: "POST", path: "/api/v1/admin/deliveries/" + id + "/replay", who: asAdmin, status: status, code: code, field: field, rule: rule}
	}
	deliveries := func(name, query, field, rule string) badCase {
		return get("ListDeliveries/"+name, "/api/v1/admin/deliveries?"+query, asAdmin, "validation_failed", field, rule)
	}
	ids := func(v ...any) map[string]any { return map[string]any{"ids": v} }
	tooMany := make([]any, 501)
	for i := range tooMany {
		tooMany[i] = evt
	}
	withKey := func(c badCase, key string) badCase { c.headers = []string{"Idempotency-Key", key}; return c }
	chunked := func(c badCase) badCase { c.chunked = true; return c }
	cases = append(cases,
		replay("MalformedJSON", `{"ids": [`, 400, "malformed_json", "", ""),
		replay("NotJSON", `ids=`+evt, 400, "malformed_json", "", ""),
		replay("EmptyBody", "", 400, "malformed_json", "", ""),
		replay("Array", `["`+evt+`"]`, 400, "validation_failed", "body", "type"),
		replay("String", `"`+evt+`"`, 400, "validation_failed", "body", "type"),
		replay("TrailingData", `{"ids": ["`+evt+`"]} {}`, 400, "malformed_json", "", ""),
		replay("UnknownField", map[string]any{"ids": []any{evt}, "force": true}, 400, "validation_failed", "force", "unknown"),
		replay("IDsMissing", `{}`, 400, "validation_failed", "ids", "required"),
		replay("IDsNull", `{"ids": null}`, 400, "validation_failed", "ids", "required"),
		replay("IDsNotArray", map[string]any{"ids": evt}, 400, "validation_failed", "ids", "type"),
		replay("IDsObject", map[string]any{"ids": map[string]any{"0": evt}}, 400, "validation_failed", "ids", "type"),
		replay("IDsNumber", map[string]any{"ids": 5}, 400, "validation_failed", "ids", "type"),
		// validator reports an empty list as missing (required) before min=1
		replay("IDsEmpty", ids(), 400, "validation_failed", "ids", ""),
		replay("IDsTooMany", ids(tooMany...), 400, "validation_failed", "ids", "max"),
		replay("IDNumber", ids(evt, 5), 400, "validation_failed", "ids", "type"),
		replay("IDObject", ids(map[string]any{"id": evt}), 400, "validation_failed", "ids", "type"),
		replay("IDEmpty", ids(evt, ""), 400, "validation_failed", "ids[1]", "required"),
		replay("IDNull", ids(nil), 400, "validation_failed", "ids[0]", "required"),
		replay("IDTooLong", ids(evt+"-12345"), 400, "validation_failed", "ids[0]", "max"),
		replay("IDMegabyte", ids(mb), 400, "validation_failed", "ids[0]", "max"),
		replay("IDNUL", ids("evt_\x00"), 400, "validation_failed", "ids[0]", "no_nul"),
		replay("BodyTooLarge", ids(tooBig), 413, "body_too_large", "", ""),
		chunked(replay("BodyTooLargeChunked", ids(tooBig), 413, "body_too_large", "", "")),
		withKey(chunked(replay("BodyTooLargeWithIdempotencyKey", ids(tooBig), 413, "body_too_large", "", "")), "big"),
		withKey(replay("IdempotencyKeyTooLong", ids(evt), 400, "validation_failed", "Idempotency-Key", "max"), strings.Repeat("k", 256)),
		replay("Unknown", ids(noEvent), 404, "not_found", "", ""),
		// all or nothing: the known one is not replayed either (the row counts hold the audit)
		replay("UnknownAmongKnown", ids(evt, noEvent), 404, "not_found", "", ""),
		replay("SQLInID", ids("' OR '1'='1"), 404, "not_found", "", ""),
		replayOne("Unknown", noEvent, 404, "not_found", "", ""),
		replayOne("TooLong", evt+strings.Repeat("0", 500), 404, "not_found", "", ""),
		replayOne("SQLInID", "%27%20OR%20%271%27%3D%271", 404, "not_found", "", ""),
		replayOne("NULInPath", "%00", 400, "validation_failed", "path", "no_nul"),
		withKey(replayOne("IdempotencyKeyTooLong", evt, 400, "validation_failed", "Idempotency-Key", "max"), strings.Repeat("k", 256)),
		deliveries("StatusUnknown", "status=lost", "status", "oneof"),
		deliveries("StatusUpperCase", "status=DEAD", "status", "oneof"),
		deliveries("StatusTwo", "status=dead,failed", "status", "oneof"),
		deliveries("StatusNUL", "status=%00", "status", "no_nul"),
		deliveries("LimitZero", "limit=0", "limit", "range"),
		deliveries("LimitTooBig", "limit=501", "limit", "range"),
		deliveries("LimitWords", "limit=diez", "limit", "type"),
		deliveries("CursorGarbage", "cursor=no-es-un-cursor!", "cursor", "cursor"),
		deliveries("CursorForged", "cursor="+forged, "cursor", "cursor"),
	)

	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			before := e.aptRowCounts()
			var res response
			if c.chunked {
				b, _ := json.Marshal(c.body)
				res = e.sendChunked(c.method, c.path, tokens[c.who], b, c.headers...)
			} else {
				res = e.do(c.method, c.path, tokens[c.who], c.body, c.headers...)
			}
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %.500s", res.Status, c.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(res.Body, &p); err != nil {
				t.Fatalf("not problem JSON: %v: %.500s", err, res.Body)
			}
			if p.Code != c.code || p.Status != c.status || p.Type != "/problems/"+c.code || p.Detail == "" || p.RequestID == "" {
				t.Fatalf("problem %+v, want code %s", p, c.code)
			}
			if c.field != "" {
				found := false
				for _, fe := range p.Errors {
					if fe.Field == c.field && (c.rule == "" || fe.Rule == c.rule) && fe.Message != "" {
						found = true
					}
				}
				if !found {
					t.Fatalf("errors %+v do not name %s (rule %s)", p.Errors, c.field, c.rule)
				}
			}
			if c.code == "validation_failed" && len(p.Errors) == 0 {
				t.Fatalf("validation_failed without errors: %.500s", res.Body)
			}
			if len(res.Body) > 64<<10 {
				t.Fatalf("the problem echoes the input: %d bytes", len(res.Body))
			}
			equalCounts(t, before, e.aptRowCounts())
		})
	}
	// the service is still well after all that
	wantStatus(t, e.do(http.MethodGet, "/readyz", "", nil), http.StatusOK)
	if list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets?limit=500", tokens[asAdmin], nil), http.StatusOK)); len(list) != 20 {
		t.Fatalf("%d tickets", len(list))
	}
}

// aptRowCounts is rowCounts with the appointment tables: slots and the places they
// count, appointments and their versions, repair orders.
func (e *testEnv) aptRowCounts() map[string]int64 {
	e.t.Helper()
	out := e.rowCounts()
	for name, sql := range map[string]string{
		"slots":             "SELECT count(*) FROM slots",
		"sum(slots.booked)": "SELECT COALESCE(sum(booked), 0) FROM slots",
		"appointments":      "SELECT count(*) FROM appointments",
		"sum(apt.version)":  "SELECT COALESCE(sum(version), 0) FROM appointments",
		"repair_orders":     "SELECT count(*) FROM repair_orders",
		"tickets.scheduled": "SELECT count(*) FROM tickets WHERE status = 'scheduled'",
	} {
		var n int64
		if err := e.DB.Raw(sql).Scan(&n).Error; err != nil {
			e.t.Fatal(err)
		}
		out[name] = n
	}
	return out
}
