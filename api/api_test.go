package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"centros/models"
	"centros/services"

	"gorm.io/gorm"
)

// demoTicket is the number of the i-th demo ticket (0-19). Its centre follows i%4:
// 0 and 1 CCS-01, 2 CCS-02, 3 none.
func demoTicket(i int) string { return fmt.Sprintf("CSM-%d-%07d", time.Now().UTC().Year(), 4711+i) }

// validReferral is a referral CSM could send, reported an hour ago at CCS-01.
func validReferral(number string) map[string]any {
	return map[string]any{
		"ticket_number": number,
		"reported_at":   time.Now().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339),
		"centre_code":   "CCS-01",
		"customer": map[string]any{"account_number": "J-30123456-7", "company": "Transportes Ávila C.A.",
			"contact_name": "María Pérez", "contact_phone": "+584161234567", "contact_email": "mperez@example.com"},
		"line":   map[string]any{"msisdn": "+584161234567"},
		"device": map[string]any{"imei": "356938035643809", "brand": "Samsung", "model": "SM-A155M"},
		"fault":  map[string]any{"category": "no_signal", "description": "Sin señal desde ayer"},
	}
}

// validCentre is a centre an admin could create in the demo business unit.
func validCentre(code string) map[string]any {
	return map[string]any{
		"code": code, "name": "Centro de Instalación Maracay", "address": "Av. Bolívar, Maracay",
		"business_unit_code": "CAP", "slot_minutes": 30, "counters": 2,
		"opening_hours": []any{
			map[string]any{"weekday": 2, "opens": "13:00", "closes": "17:00"},
			map[string]any{"weekday": 1, "opens": "08:00", "closes": "12:00"},
			map[string]any{"weekday": 1, "opens": "13:00", "closes": "17:00"},
		},
		"closed_days":      []any{"2026-12-25", "2026-12-24"},
		"min_backup_stock": []any{map[string]any{"model": "SM-A155M", "quantity": 3}, map[string]any{"model": "Moto G24", "quantity": 0}},
	}
}

// wantProblem asserts an error response: its status, problem JSON, its code and its
// request id.
func wantProblem(t *testing.T, res response, status int, code string) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json: %s", ct, res.Body)
	}
	p := res.JSON()
	if p["code"] != code {
		t.Fatalf("code %v, want %s: %s", p["code"], code, res.Body)
	}
	if p["status"] != float64(status) || p["title"] == "" || p["type"] != "/problems/"+code {
		t.Fatalf("malformed problem: %s", res.Body)
	}
	if id, _ := p["request_id"].(string); id == "" || id != res.Header.Get("X-Request-ID") {
		t.Fatalf("problem request_id %q, header %q", id, res.Header.Get("X-Request-ID"))
	}
	return p
}

// wantStatus asserts a success status and returns the JSON body (nil when empty).
func wantStatus(t *testing.T, res response, status int) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.JSON()
}

func str(v any) string { s, _ := v.(string); return s }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func items(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["items"].([]any)
	if !ok {
		t.Fatalf("no items array: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = obj(it)
	}
	return out
}

func equalCounts(t *testing.T, before, after map[string]int64) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, after)
	}
}

func (e *testEnv) auditRows(entity, entityID, action string) int64 {
	e.t.Helper()
	var n int64
	if err := e.DB.Table("audit_log").Where("entity = ? AND entity_id = ? AND action = ?", entity, entityID, action).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *testEnv) exec(sql string, args ...any) {
	e.t.Helper()
	if err := e.DB.Exec(sql, args...).Error; err != nil {
		e.t.Fatal(err)
	}
}

// resolve marks a ticket resolved directly in the database, as certification will.
func (e *testEnv) resolve(number string) {
	e.t.Helper()
	e.exec("UPDATE tickets SET status = 'resolved', outcome = 'repaired', resolved_at = now(), version = version + 1 WHERE ticket_number = ?", number)
}

func (e *testEnv) csmClientID() string {
	e.t.Helper()
	var id string
	if err := e.DB.Raw("SELECT id FROM api_clients WHERE name = 'CSM (demo)'").Scan(&id).Error; err != nil || id == "" {
		e.t.Fatalf("demo CSM client: %v", err)
	}
	return id
}

func (e *testEnv) userID(email string) string {
	e.t.Helper()
	var id string
	if err := e.DB.Raw("SELECT id FROM users WHERE email = ?", email).Scan(&id).Error; err != nil || id == "" {
		e.t.Fatalf("user %s: %v", email, err)
	}
	return id
}

// login signs in without the token cache, for tests that revoke tokens.
func (e *testEnv) login(email, password string) string {
	e.t.Helper()
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	return str(wantStatus(e.t, res, http.StatusOK)["token"])
}

func TestAdminCreatesOrganisation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)

	bu := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/business-units", adm, map[string]any{"code": "ARA", "name": "  Región Aragua "}), http.StatusCreated)
	if bu["code"] != "ARA" || bu["name"] != "Región Aragua" || bu["version"] != float64(1) || str(bu["id"]) == "" {
		t.Fatalf("business unit: %v", bu)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/business-units", adm, map[string]any{"code": "ARA", "name": "Otra"}), http.StatusConflict, "already_exists")

	wh := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/warehouses", adm, map[string]any{"code": "ALM-ARA", "name": "Almacén Aragua", "business_unit_code": "ARA"}), http.StatusCreated)
	if wh["code"] != "ALM-ARA" || wh["business_unit_code"] != "ARA" || wh["version"] != float64(1) {
		t.Fatalf("warehouse: %v", wh)
	}
	if _, leaks := wh["business_unit_id"]; leaks {
		t.Fatalf("warehouse shows internal ids: %v", wh)
	}

	in := validCentre("MCY-01")
	in["business_unit_code"] = "ARA"
	res := e.do(http.MethodPost, "/api/v1/admin/centres", adm, in)
	c := wantStatus(t, res, http.StatusCreated)
	want := map[string]any{
		"code": "MCY-01", "name": "Centro de Instalación Maracay", "address": "Av. Bolívar, Maracay", "business_unit_code": "ARA",
		"time_zone": "America/Caracas", "slot_minutes": float64(30), "counters": float64(2), "version": float64(1),
		"opening_hours": []any{
			map[string]any{"weekday": float64(1), "opens": "08:00", "closes": "12:00"},
			map[string]any{"weekday": float64(1), "opens": "13:00", "closes": "17:00"},
			map[string]any{"weekday": float64(2), "opens": "13:00", "closes": "17:00"},
		},
		"closed_days":      []any{"2026-12-24", "2026-12-25"},
		"min_backup_stock": []any{map[string]any{"model": "Moto G24", "quantity": float64(0)}, map[string]any{"model": "SM-A155M", "quantity": float64(3)}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(c[k], v) {
			t.Errorf("centre %s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"id", "created_at", "updated_at"} {
		if str(c[k]) == "" {
			t.Errorf("centre has no %s: %s", k, res.Body)
		}
	}
	if e.auditRows("centre", str(c["id"]), "create") != 1 {
		t.Error("centre creation not audited")
	}
	got := wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/centres/MCY-01", adm, nil), http.StatusOK)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("GET differs from POST:\n%v\n%v", got, c)
	}
	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/centres", adm, nil), http.StatusOK))
	var codes []string
	for _, it := range list {
		codes = append(codes, str(it["code"]))
	}
	if !slices.Equal(codes, []string{"CCS-01", "CCS-02", "MCY-01"}) {
		t.Fatalf("centres: %v", codes)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/centres", adm, in), http.StatusConflict, "already_exists")

	// A centre with no time zone gets Caracas; with one, keeps it.
	in2 := validCentre("MCY-02")
	in2["time_zone"] = "America/Bogota"
	if c2 := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/centres", adm, in2), http.StatusCreated); c2["time_zone"] != "America/Bogota" {
		t.Fatalf("time zone: %v", c2["time_zone"])
	}
	bus := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/business-units", adm, nil), http.StatusOK))
	whs := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/warehouses", adm, nil), http.StatusOK))
	if len(bus) != 2 || len(whs) != 2 || whs[0]["business_unit_code"] != "ARA" {
		t.Fatalf("lists: %v %v", bus, whs)
	}
}

func TestCentreEditVersions(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	path := "/api/v1/admin/centres/CCS-02"
	before := wantStatus(t, e.do(http.MethodGet, path, adm, nil), http.StatusOK)

	// version in the body
	c := wantStatus(t, e.do(http.MethodPatch, path, adm, map[string]any{"name": "Las Mercedes", "version": 1}), http.StatusOK)
	if c["name"] != "Las Mercedes" || c["version"] != float64(2) {
		t.Fatalf("patch: %v", c)
	}
	for _, k := range []string{"opening_hours", "closed_days", "min_backup_stock", "address", "counters"} {
		if !reflect.DeepEqual(c[k], before[k]) {
			t.Errorf("%s changed though not sent: %v -> %v", k, before[k], c[k])
		}
	}
	if e.auditRows("centre", str(c["id"]), "update") != 1 {
		t.Error("edit not audited")
	}

	// version as If-Match, strong and weak
	c = wantStatus(t, e.do(http.MethodPatch, path, adm, map[string]any{"counters": 4}, "If-Match", `"2"`), http.StatusOK)
	if c["counters"] != float64(4) || c["version"] != float64(3) {
		t.Fatalf("If-Match patch: %v", c)
	}
	c = wantStatus(t, e.do(http.MethodPatch, path, adm, map[string]any{
		"opening_hours": []any{map[string]any{"weekday": 6, "opens": "09:00", "closes": "13:00"}}, "closed_days": []any{},
		"min_backup_stock": []any{map[string]any{"model": "Redmi 13C", "quantity": 1}},
	}, "If-Match", `W/"3"`), http.StatusOK)
	if c["version"] != float64(4) || len(c["opening_hours"].([]any)) != 1 || len(c["closed_days"].([]any)) != 0 ||
		obj(c["min_backup_stock"].([]any)[0])["model"] != "Redmi 13C" {
		t.Fatalf("lists not replaced: %v", c)
	}

	// stale versions, either way, change nothing
	counts := e.rowCounts()
	wantProblem(t, e.do(http.MethodPatch, path, adm, map[string]any{"name": "Viejo", "version": 1}), http.StatusConflict, "version_conflict")
	wantProblem(t, e.do(http.MethodPatch, path, adm, map[string]any{"name": "Viejo"}, "If-Match", `"3"`), http.StatusConflict, "version_conflict")
	equalCounts(t, counts, e.rowCounts())

	// the body's version wins over If-Match
	c = wantStatus(t, e.do(http.MethodPatch, path, adm, map[string]any{"name": "Mercedes", "version": 4}, "If-Match", `"1"`), http.StatusOK)
	if c["version"] != float64(5) {
		t.Fatalf("version: %v", c["version"])
	}
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/centres/NOPE-1", adm, map[string]any{"version": 1}), http.StatusNotFound, "not_found")
}

func TestUsersLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)

	res := e.do(http.MethodPost, "/api/v1/admin/users", adm, map[string]any{
		"email": "Nuevo.Tecnico@Example.com", "name": "Nuevo Técnico", "password": "clave-secreta-1", "role": "technician", "centre_code": "CCS-02"})
	u := wantStatus(t, res, http.StatusCreated)
	if u["email"] != "nuevo.tecnico@example.com" || u["role"] != "technician" || u["centre_code"] != "CCS-02" || u["active"] != true || u["version"] != float64(1) {
		t.Fatalf("user: %s", res.Body)
	}
	if strings.Contains(string(res.Body), "password") || strings.Contains(string(res.Body), "argon2") {
		t.Fatalf("user shows its password: %s", res.Body)
	}
	id := str(u["id"])
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/users", adm, map[string]any{
		"email": "NUEVO.tecnico@example.com", "name": "Otro", "password": "clave-secreta-2", "role": "counter", "centre_code": "CCS-01"}),
		http.StatusConflict, "already_exists")

	tok := e.login("nuevo.tecnico@example.com", "clave-secreta-1")
	me := wantStatus(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusOK)
	if obj(me["user"])["id"] != id || obj(me["user"])["centre_code"] != "CCS-02" {
		t.Fatalf("me: %v", me)
	}

	// a new name keeps the sessions
	u = wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"name": "Técnico Nuevo", "version": 1}), http.StatusOK)
	if u["name"] != "Técnico Nuevo" || u["version"] != float64(2) {
		t.Fatalf("patch: %v", u)
	}
	wantStatus(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusOK)
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"name": "X", "version": 1}), http.StatusConflict, "version_conflict")

	// a new password kills them
	wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"password": "otra-clave-22"}, "If-Match", `"2"`), http.StatusOK)
	wantProblem(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "nuevo.tecnico@example.com", "password": "clave-secreta-1"}),
		http.StatusUnauthorized, "invalid_credentials")
	tok = e.login("nuevo.tecnico@example.com", "otra-clave-22")

	// so does a move to another centre
	u = wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"centre_code": "CCS-01", "version": 3}), http.StatusOK)
	if u["centre_code"] != "CCS-01" || u["role"] != "technician" {
		t.Fatalf("move: %v", u)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
	tok = e.login("nuevo.tecnico@example.com", "otra-clave-22")

	// a new role takes only the scope sent with it
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"role": "warehouse", "version": 4}), http.StatusBadRequest, "validation_failed")
	u = wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"role": "warehouse", "warehouse_code": "ALM-CAP", "version": 4}), http.StatusOK)
	if u["role"] != "warehouse" || u["warehouse_code"] != "ALM-CAP" || u["centre_code"] != nil {
		t.Fatalf("role change: %v", u)
	}
	tok = e.login("nuevo.tecnico@example.com", "otra-clave-22")

	// DELETE disables: the record stays, the sessions die, sign-in is refused
	if res := e.do(http.MethodDelete, "/api/v1/admin/users/"+id, adm, nil); res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "nuevo.tecnico@example.com", "password": "otra-clave-22"}),
		http.StatusUnauthorized, "invalid_credentials")
	u = wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/users/"+id, adm, nil), http.StatusOK)
	if u["active"] != false || e.auditRows("user", id, "disable") != 1 {
		t.Fatalf("disabled user: %v", u)
	}
	counts := e.rowCounts()
	wantStatus(t, e.do(http.MethodDelete, "/api/v1/admin/users/"+id, adm, nil), http.StatusNoContent)
	equalCounts(t, counts, e.rowCounts())

	// re-enabling lets them back in
	wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+id, adm, map[string]any{"active": true, "version": 6}), http.StatusOK)
	e.login("nuevo.tecnico@example.com", "otra-clave-22")

	// an admin cannot lock themselves out
	self := e.userID(emailAdmin)
	wantProblem(t, e.do(http.MethodDelete, "/api/v1/admin/users/"+self, adm, nil), http.StatusUnprocessableEntity, "cannot_demote_self")
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+self, adm, map[string]any{"role": "counter", "centre_code": "CCS-01", "version": 1}),
		http.StatusUnprocessableEntity, "cannot_demote_self")
	wantProblem(t, e.do(http.MethodDelete, "/api/v1/admin/users/00000000-0000-0000-0000-000000000000", adm, nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/users/not-a-uuid", adm, nil), http.StatusNotFound, "not_found")

	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/users", adm, nil), http.StatusOK))
	if len(list) != 7 || list[0]["email"] != "admin@example.com" {
		t.Fatalf("users: %v", list)
	}
}

func TestAPIClients(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	res := e.do(http.MethodPost, "/api/v1/admin/api-clients", adm, map[string]any{"name": "CSM producción", "role": "csm"})
	c := wantStatus(t, res, http.StatusCreated)
	token, id := str(c["token"]), str(c["id"])
	if !strings.HasPrefix(token, "cst_") || c["role"] != "csm" || c["active"] != true || id == "" {
		t.Fatalf("client: %s", res.Body)
	}
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", token, validReferral("API-CLIENT-1")), http.StatusCreated)
	me := wantStatus(t, e.do(http.MethodGet, "/api/v1/me", token, nil), http.StatusOK)
	if obj(me["user"])["id"] != id || obj(me["user"])["role"] != "csm" {
		t.Fatalf("me: %v", me)
	}

	res = e.do(http.MethodGet, "/api/v1/admin/api-clients", adm, nil)
	list := items(t, wantStatus(t, res, http.StatusOK))
	if len(list) != 2 || strings.Contains(string(res.Body), token) || strings.Contains(string(res.Body), `"token"`) {
		t.Fatalf("list shows tokens or misses clients: %s", res.Body)
	}

	wantStatus(t, e.do(http.MethodDelete, "/api/v1/admin/api-clients/"+id, adm, nil), http.StatusNoContent)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets", token, validReferral("API-CLIENT-2")), http.StatusUnauthorized, "unauthenticated")
	if e.auditRows("api_client", id, "revoke") != 1 {
		t.Error("revocation not audited")
	}
	counts := e.rowCounts()
	wantStatus(t, e.do(http.MethodDelete, "/api/v1/admin/api-clients/"+id, adm, nil), http.StatusNoContent)
	equalCounts(t, counts, e.rowCounts())
	wantProblem(t, e.do(http.MethodDelete, "/api/v1/admin/api-clients/00000000-0000-0000-0000-000000000000", adm, nil), http.StatusNotFound, "not_found")
	// the demo client is untouched
	wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events", e.CSMToken, nil), http.StatusOK)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	res := e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": " ADMIN@Example.com ", "password": services.DemoPassword})
	body := wantStatus(t, res, http.StatusOK)
	exp, err := time.Parse(time.RFC3339, str(body["expires_at"]))
	if err != nil || exp.Before(time.Now().Add(11*time.Hour)) || exp.After(time.Now().Add(13*time.Hour)) {
		t.Fatalf("expires_at: %v", body["expires_at"])
	}
	if u := obj(body["user"]); u["email"] != emailAdmin || u["role"] != "admin" {
		t.Fatalf("user: %v", body)
	}

	res = e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": emailCounter, "password": "wrong password"})
	wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "nadie@example.com", "password": "x"}), http.StatusUnauthorized, "invalid_credentials")

	// four more failures make five; the sixth attempt is refused even with the right password
	for i := 0; i < 4; i++ {
		wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": emailCounter, "password": fmt.Sprint("guess ", i)}), http.StatusUnauthorized, "invalid_credentials")
	}
	res = e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": emailCounter, "password": services.DemoPassword})
	wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 15*60+1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "Taquilla@Example.com", "password": services.DemoPassword}), http.StatusTooManyRequests, "rate_limited")
	// other accounts are not affected
	e.login(emailTech, services.DemoPassword)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	first := e.login(emailTech, services.DemoPassword)
	second := e.login(emailTech, services.DemoPassword)
	res := e.do(http.MethodPost, "/api/v1/auth/logout", first, nil)
	if res.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/me", first, nil), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/auth/logout", first, nil), http.StatusUnauthorized, "unauthenticated")
	wantStatus(t, e.do(http.MethodGet, "/api/v1/me", second, nil), http.StatusOK)
}

func TestReferral(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := validReferral("CSM-2026-9000001")
	obj(in["customer"])["contact_phone"] = "0416-1234567"
	obj(in["line"])["msisdn"] = "0414 555 0123"
	res := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in)
	tk := wantStatus(t, res, http.StatusCreated)
	if tk["status"] != "referred" || tk["centre_code"] != "CCS-01" || tk["version"] != float64(1) || tk["outcome"] != nil {
		t.Fatalf("ticket: %s", res.Body)
	}
	if obj(tk["customer"])["contact_phone"] != "+584161234567" || obj(tk["line"])["msisdn"] != "+584145550123" {
		t.Fatalf("numbers not in E.164: %s", res.Body)
	}
	reported, _ := time.Parse(time.RFC3339, str(tk["reported_at"]))
	due, _ := time.Parse(time.RFC3339, str(tk["sla_due_at"]))
	if due.Sub(reported) != 24*time.Hour || tk["sla_state"] != "on_time" {
		t.Fatalf("SLA: %s", res.Body)
	}
	id := str(tk["id"])
	if e.auditRows("ticket", id, "refer") != 1 {
		t.Error("referral not audited")
	}

	// the same referral again (written differently) changes nothing
	counts := e.rowCounts()
	obj(in["customer"])["contact_phone"] = "+58 (416) 123-45-67"
	again := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusOK)
	equalCounts(t, counts, e.rowCounts())
	if again["version"] != float64(1) || again["updated_at"] != tk["updated_at"] {
		t.Fatalf("retry changed the ticket: %v", again)
	}

	// other content while referred: applied and audited
	obj(in["fault"])["description"] = "Sin señal; también se reinicia"
	in["centre_code"] = "CCS-02"
	upd := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusOK)
	if upd["version"] != float64(2) || obj(upd["fault"])["description"] != "Sin señal; también se reinicia" || upd["centre_code"] != "CCS-02" {
		t.Fatalf("update not applied: %v", upd)
	}
	if e.auditRows("ticket", id, "re-refer") != 1 {
		t.Error("update not audited")
	}
	got := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/CSM-2026-9000001", e.CSMToken, nil), http.StatusOK)
	if got["version"] != float64(2) || obj(got["fault"])["description"] != "Sin señal; también se reinicia" {
		t.Fatalf("stored: %v", got)
	}

	// once cancelled: the same content is still 200, other content is a conflict
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/CSM-2026-9000001/cancel", e.CSMToken, map[string]any{"reason": "el cliente desiste"}), http.StatusOK)
	counts = e.rowCounts()
	if same := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusOK); same["status"] != "cancelled" {
		t.Fatalf("resend after cancel: %v", same)
	}
	obj(in["fault"])["description"] = "Otra cosa"
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusConflict, "ticket_conflict")
	equalCounts(t, counts, e.rowCounts())

	// no centre yet: the customer chooses when booking
	in = validReferral("CSM-2026-9000002")
	delete(in, "centre_code")
	if tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusCreated); tk["centre_code"] != nil {
		t.Fatalf("centre: %v", tk["centre_code"])
	}
	// a late report is late from the start
	in = validReferral("CSM-2026-9000003")
	in["reported_at"] = time.Now().Add(-25 * time.Hour).Format(time.RFC3339)
	if tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, in), http.StatusCreated); tk["sla_state"] != "late" {
		t.Fatalf("sla_state: %v", tk["sla_state"])
	}
}

func TestCancelTicket(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	n := demoTicket(4)
	tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/cancel", e.CSMToken, map[string]any{"reason": "  resuelto por teléfono "}), http.StatusOK)
	if tk["status"] != "cancelled" || tk["cancel_reason"] != "resuelto por teléfono" || str(tk["cancelled_at"]) == "" || tk["version"] != float64(2) {
		t.Fatalf("cancel: %v", tk)
	}
	if e.auditRows("ticket", str(tk["id"]), "cancel") != 1 {
		t.Error("cancel not audited")
	}
	counts := e.rowCounts()
	again := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/cancel", e.CSMToken, map[string]any{"reason": "otra vez"}), http.StatusOK)
	equalCounts(t, counts, e.rowCounts())
	if again["version"] != float64(2) || again["cancel_reason"] != "resuelto por teléfono" {
		t.Fatalf("second cancel changed it: %v", again)
	}

	resolved := demoTicket(5)
	e.resolve(resolved)
	counts = e.rowCounts()
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+resolved+"/cancel", e.CSMToken, map[string]any{"reason": "tarde"}), http.StatusConflict, "ticket_not_cancellable")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/CSM-0000-0000000/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusNotFound, "not_found")
	equalCounts(t, counts, e.rowCounts())
}

func TestClosedTicket(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	n := demoTicket(6)
	closedAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	body := map[string]any{"closed_at": closedAt.Format(time.RFC3339)}
	counts := e.rowCounts()
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/closed", e.CSMToken, body), http.StatusConflict, "ticket_not_resolved")
	equalCounts(t, counts, e.rowCounts())

	e.resolve(n)
	tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/closed", e.CSMToken, body), http.StatusOK)
	got, _ := time.Parse(time.RFC3339, str(tk["closed_at"]))
	if tk["status"] != "closed" || tk["outcome"] != "repaired" || !got.Equal(closedAt) {
		t.Fatalf("closed: %v", tk)
	}
	counts = e.rowCounts()
	again := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/closed", e.CSMToken, body), http.StatusOK)
	equalCounts(t, counts, e.rowCounts())
	if again["version"] != tk["version"] || again["updated_at"] != tk["updated_at"] {
		t.Fatalf("second close changed it: %v", again)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+n+"/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusConflict, "ticket_not_cancellable")

	c := demoTicket(7)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+c+"/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusOK)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+c+"/closed", e.CSMToken, body), http.StatusConflict, "ticket_not_resolved")
}

func TestTicketNumberWithSlash(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	number := "CAR/2026/000123"
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, validReferral(number)), http.StatusCreated)
	escaped := url.PathEscape(number)
	if escaped != "CAR%2F2026%2F000123" {
		t.Fatalf("escaped as %s", escaped)
	}
	for _, tok := range []string{e.CSMToken, e.token(emailAdmin), e.token(emailCounter)} {
		tk := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/"+escaped, tok, nil), http.StatusOK)
		if tk["ticket_number"] != number {
			t.Fatalf("got %v", tk["ticket_number"])
		}
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/tickets/CAR/2026/000123", e.CSMToken, nil), http.StatusNotFound, "not_found")
	tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+escaped+"/cancel", e.CSMToken, map[string]any{"reason": "prueba"}), http.StatusOK)
	if tk["status"] != "cancelled" {
		t.Fatalf("cancel: %v", tk)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/tickets/"+url.PathEscape("CAR/2026/000124"), e.CSMToken, nil), http.StatusNotFound, "not_found")
}

func TestSearchTickets(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)

	// cursor pagination visits every ticket once, soonest deadline first
	seen := map[string]bool{}
	var dues []string
	cursor, pages := "", 0
	for {
		res := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets?limit=7&cursor="+url.QueryEscape(cursor), adm, nil), http.StatusOK)
		pages++
		for _, it := range items(t, res) {
			n := str(it["ticket_number"])
			if seen[n] {
				t.Fatalf("%s seen twice", n)
			}
			seen[n] = true
			dues = append(dues, str(it["sla_due_at"]))
			if it["sla_state"] == nil || it["sla_due_at"] == nil {
				t.Fatalf("no SLA: %v", it)
			}
		}
		cursor = str(res["next_cursor"])
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 20 || pages != 3 {
		t.Fatalf("%d tickets in %d pages", len(seen), pages)
	}
	for i := 0; i < 20; i++ {
		if !seen[demoTicket(i)] {
			t.Errorf("%s missing", demoTicket(i))
		}
	}
	for i := 1; i < len(dues); i++ {
		a, _ := time.Parse(time.RFC3339, dues[i-1])
		b, _ := time.Parse(time.RFC3339, dues[i])
		if b.Before(a) {
			t.Fatalf("not ordered by deadline: %v", dues)
		}
	}
	// a page exactly as large as what is left ends the list
	all := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets?limit=20", adm, nil), http.StatusOK)
	if len(items(t, all)) != 20 || all["next_cursor"] != "" {
		t.Fatalf("limit=20: next_cursor %q", all["next_cursor"])
	}

	count := func(tok, query string, check func(map[string]any) bool) int {
		t.Helper()
		list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets?limit=500&"+query, tok, nil), http.StatusOK))
		for _, it := range list {
			if !check(it) {
				t.Fatalf("%s: item does not match: %v", query, it)
			}
		}
		return len(list)
	}
	anyItem := func(map[string]any) bool { return true }
	if n := count(adm, "centre_code=CCS-02", func(it map[string]any) bool { return it["centre_code"] == "CCS-02" }); n != 5 {
		t.Errorf("CCS-02: %d", n)
	}
	if n := count(adm, "centre_code=CCS-01&status=referred", func(it map[string]any) bool { return it["centre_code"] == "CCS-01" }); n != 10 {
		t.Errorf("CCS-01 referred: %d", n)
	}
	if n := count(adm, "centre_code=NOPE", anyItem); n != 0 {
		t.Errorf("unknown centre: %d", n)
	}
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+demoTicket(0)+"/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusOK)
	if n := count(adm, "status=cancelled", func(it map[string]any) bool { return it["ticket_number"] == demoTicket(0) }); n != 1 {
		t.Errorf("cancelled: %d", n)
	}
	if n := count(adm, "status=referred", func(it map[string]any) bool { return it["status"] == "referred" }); n != 19 {
		t.Errorf("referred: %d", n)
	}
	total := 0
	for _, st := range []string{"on_time", "at_risk", "late"} {
		n := count(adm, "sla_state="+st, func(it map[string]any) bool { return it["sla_state"] == st })
		if n == 0 {
			t.Errorf("no demo ticket is %s", st)
		}
		total += n
	}
	if total != 20 {
		t.Errorf("SLA states cover %d tickets", total)
	}

	// scope: centre staff see their centre's queue, the warehouse its business unit's
	for _, c := range []struct {
		email  string
		want   int
		centre []any
	}{
		{emailCounter, 10, []any{"CCS-01"}},
		{emailManager, 10, []any{"CCS-01"}},
		{emailCounter2, 5, []any{"CCS-02"}},
		{emailWarehouse, 15, []any{"CCS-01", "CCS-02"}},
	} {
		n := count(e.token(c.email), "", func(it map[string]any) bool { return slices.Contains(c.centre, it["centre_code"]) })
		if n != c.want {
			t.Errorf("%s sees %d tickets, want %d", c.email, n, c.want)
		}
	}
	if n := count(e.token(emailCounter), "centre_code=CCS-02", anyItem); n != 0 {
		t.Errorf("a CCS-01 counter finds %d CCS-02 tickets", n)
	}
}

// TestEventFeed is not parallel: the feed publishes an event only once every older
// transaction has ended, in the whole cluster the parallel tests share, so a busy
// neighbour would hold back the events it reads right after writing them.
func TestEventFeed(t *testing.T) {
	e := newTestEnv(t)
	feed := wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events", e.CSMToken, nil), http.StatusOK)
	if len(items(t, feed)) != 0 || feed["next_cursor"] != "0" || !bytes.Contains(e.do(http.MethodGet, "/api/v1/csm/events", e.CSMToken, nil).Body, []byte(`"items":[]`)) {
		t.Fatalf("empty feed: %v", feed)
	}

	record := func(number string, typ models.EventType, data any) {
		t.Helper()
		err := e.DB.Transaction(func(tx *gorm.DB) error {
			var tk models.Ticket
			if err := tx.Table("tickets").Select("id, ticket_number").Where("ticket_number = ?", number).Take(&tk).Error; err != nil {
				return err
			}
			_, err := services.RecordEvent(tx, &tk, typ, data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	record(demoTicket(0), models.EventAppointmentBooked, map[string]any{"centre": "CCS-01"})
	record(demoTicket(1), models.EventTicketInService, map[string]any{"centre": "CCS-01"})
	record(demoTicket(0), models.EventAppointmentCancelled, map[string]any{"reason": "x"})

	feed = wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events", e.CSMToken, nil), http.StatusOK)
	evs := items(t, feed)
	if len(evs) != 3 {
		t.Fatalf("events: %v", feed)
	}
	wantTypes := []string{"appointment.booked", "ticket.in_service", "appointment.cancelled"}
	var seqs []int64
	for i, ev := range evs {
		seq := int64(ev["sequence"].(float64))
		if i > 0 && seq <= seqs[i-1] {
			t.Fatalf("not in sequence order: %v", evs)
		}
		seqs = append(seqs, seq)
		if ev["type"] != wantTypes[i] || !regexp.MustCompile(`^evt_[0-9a-f]{32}$`).MatchString(str(ev["id"])) ||
			ev["delivery_status"] != "pending" || ev["attempts"] != float64(0) || ev["data"] == nil || str(ev["occurred_at"]) == "" {
			t.Fatalf("event %d: %v", i, ev)
		}
	}
	if evs[0]["ticket_number"] != demoTicket(0) || obj(evs[0]["data"])["centre"] != "CCS-01" {
		t.Fatalf("event: %v", evs[0])
	}
	if feed["next_cursor"] != strconv.FormatInt(seqs[2], 10) {
		t.Fatalf("next_cursor %v, want %d", feed["next_cursor"], seqs[2])
	}

	page := wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events?limit=2", e.CSMToken, nil), http.StatusOK)
	if len(items(t, page)) != 2 || page["next_cursor"] != strconv.FormatInt(seqs[1], 10) {
		t.Fatalf("limit=2: %v", page)
	}
	rest := wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events?after="+str(page["next_cursor"]), e.CSMToken, nil), http.StatusOK)
	if got := items(t, rest); len(got) != 1 || got[0]["type"] != "appointment.cancelled" {
		t.Fatalf("after: %v", rest)
	}
	last := strconv.FormatInt(seqs[2], 10)
	end := wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events?after="+last, e.CSMToken, nil), http.StatusOK)
	if len(items(t, end)) != 0 || end["next_cursor"] != last {
		t.Fatalf("caught up: %v", end)
	}
	// admins read the feed too
	if got := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/csm/events", e.token(emailAdmin), nil), http.StatusOK)); len(got) != 3 {
		t.Fatalf("admin feed: %v", got)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	body, _ := json.Marshal(validReferral("IDEM-0001"))
	first := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, body, "Idempotency-Key", "key-1")
	wantStatus(t, first, http.StatusCreated)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first response marked as replayed")
	}

	counts := e.rowCounts()
	again := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, body, "Idempotency-Key", "key-1")
	if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
		again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay: %d %v %s", again.Status, again.Header, again.Body)
	}
	equalCounts(t, counts, e.rowCounts())

	other, _ := json.Marshal(validReferral("IDEM-0002"))
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, other, "Idempotency-Key", "key-1"), http.StatusUnprocessableEntity, "idempotency_key_reused")
	// the same key on another path is another request
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets/IDEM-0001/cancel", e.CSMToken, `{"reason":"x"}`, "Idempotency-Key", "key-1"), http.StatusUnprocessableEntity, "idempotency_key_reused")
	equalCounts(t, counts, e.rowCounts())

	// keys belong to their caller: the admin's key-1 is another key
	wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/business-units", e.token(emailAdmin), `{"code":"IDM","name":"Idem"}`, "Idempotency-Key", "key-1"), http.StatusCreated)

	// an error is replayed too, and a replayed refusal still changes nothing
	dup := `{"code":"IDM","name":"Idem"}`
	r1 := e.do(http.MethodPost, "/api/v1/admin/business-units", e.token(emailAdmin), dup, "Idempotency-Key", "key-2")
	wantProblem(t, r1, http.StatusConflict, "already_exists")
	r2 := e.do(http.MethodPost, "/api/v1/admin/business-units", e.token(emailAdmin), dup, "Idempotency-Key", "key-2")
	if r2.Status != http.StatusConflict || r2.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r1.Body, r2.Body) {
		t.Fatalf("replayed error: %d %s", r2.Status, r2.Body)
	}

	// a key whose first request is still running
	inFlight, _ := json.Marshal(validReferral("IDEM-0003"))
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", http.MethodPost, "/api/v1/csm/tickets")
	h.Write(inFlight)
	e.exec(`INSERT INTO idempotency_keys (principal, key, request_hash, state, created_at, lease_until)
		VALUES (?, 'key-3', ?, 'in_flight', now(), now() + interval '1 minute')`, "api_client:"+e.csmClientID(), hex.EncodeToString(h.Sum(nil)))
	counts = e.rowCounts()
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, inFlight, "Idempotency-Key", "key-3"), http.StatusConflict, "idempotency_key_in_flight")
	equalCounts(t, counts, e.rowCounts())
	// once its lease has run out (the first request died with its server), a retry takes over
	e.exec(`UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE key = 'key-3'`)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, inFlight, "Idempotency-Key", "key-3"), http.StatusCreated)
	replayed := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, inFlight, "Idempotency-Key", "key-3")
	if replayed.Status != http.StatusCreated || replayed.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after takeover: %d %v", replayed.Status, replayed.Header)
	}

	// GET ignores the header
	if res := e.do(http.MethodGet, "/api/v1/me", e.CSMToken, nil, "Idempotency-Key", "key-1"); res.Status != http.StatusOK || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("GET with a key: %d %v", res.Status, res.Header)
	}
}

// post sends a request from any goroutine: it reports errors instead of failing the
// test, as only the test's goroutine may.
func (e *testEnv) post(path, token string, body []byte, headers ...string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, e.HTTP.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func TestConcurrentReferrals(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, c := range []struct {
		name    string
		number  string
		headers []string
		allowed []int
	}{
		{"SameReferral", "RACE-0001", nil, []int{http.StatusCreated, http.StatusOK}},
		// with one key, the others are told it is in flight or get the first answer replayed
		{"SameKey", "RACE-0002", []string{"Idempotency-Key", "race"}, []int{http.StatusCreated, http.StatusConflict}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(validReferral(c.number))
			const n = 10
			statuses := make([]int, n)
			errs := make([]error, n)
			together(n, func(i int) {
				statuses[i], errs[i] = e.post("/api/v1/csm/tickets", e.CSMToken, body, c.headers...)
			})
			created := 0
			for i := range statuses {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if !slices.Contains(c.allowed, statuses[i]) {
					t.Fatalf("statuses %v", statuses)
				}
				if statuses[i] == http.StatusCreated {
					created++
				}
			}
			if c.headers == nil && created != 1 {
				t.Fatalf("statuses %v: want one 201 and nine 200", statuses)
			}
			if created < 1 {
				t.Fatalf("statuses %v: nobody created it", statuses)
			}
			var rows int64
			if err := e.DB.Table("tickets").Where("ticket_number = ?", c.number).Count(&rows).Error; err != nil || rows != 1 {
				t.Fatalf("%d rows for %s (%v)", rows, c.number, err)
			}
			var audits int64
			e.DB.Table("audit_log").Where("action = 'refer' AND entity_id = (SELECT id::text FROM tickets WHERE ticket_number = ?)", c.number).Count(&audits)
			if audits != 1 {
				t.Fatalf("%d audit rows", audits)
			}
		})
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if b := wantStatus(t, e.do(http.MethodGet, "/healthz", "", nil), http.StatusOK); b["status"] != "ok" {
		t.Fatalf("healthz: %v", b)
	}
	if b := wantStatus(t, e.do(http.MethodGet, "/readyz", "", nil), http.StatusOK); b["status"] != "ready" {
		t.Fatalf("readyz: %v", b)
	}
	wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(0), e.CSMToken, nil), http.StatusOK)
	e.do(http.MethodGet, "/api/v1/no-such-thing", "", nil)
	res := e.do(http.MethodGet, "/metrics", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %v", res.Status, res.Header)
	}
	text := string(res.Body)
	for _, want := range []string{
		// by route pattern, never by raw path
		`http_requests_total{method="GET",route="/api/v1/tickets/:ticket_number",status="200"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/v1/tickets/:ticket_number",le="+Inf"} 1`,
		// the database pool
		`go_sql_max_open_connections{db_name="centros"} 20`,
		`go_sql_open_connections{db_name="centros"}`,
		`go_sql_wait_count_total{db_name="centros"}`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, demoTicket(0)) {
		t.Error("a ticket number became a label")
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, c := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"UnknownRoute", http.MethodGet, "/api/v1/nope", http.StatusNotFound, "not_found"},
		{"UnknownRoutePost", http.MethodPost, "/api/v1/tickets/x/y/z", http.StatusNotFound, "not_found"},
		{"UnknownVersion", http.MethodGet, "/api/v2/tickets", http.StatusNotFound, "not_found"},
		{"TrailingSlash", http.MethodGet, "/api/v1/tickets/", http.StatusNotFound, "not_found"},
		{"WrongMethod", http.MethodPut, "/api/v1/tickets", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"WrongMethodOnItem", http.MethodDelete, "/api/v1/admin/centres/CCS-01", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"WrongMethodOnCSM", http.MethodGet, "/api/v1/csm/tickets", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"WrongMethodOnLogin", http.MethodGet, "/api/v1/auth/login", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := e.do(c.method, c.path, e.token(emailAdmin), nil)
			p := wantProblem(t, res, c.status, c.code)
			if p["instance"] != c.path {
				t.Fatalf("instance %v", p["instance"])
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	res := e.do(http.MethodGet, "/api/v1/tickets/NOPE", e.CSMToken, nil, "X-Request-ID", "req-abc.123_X")
	if res.Header.Get("X-Request-ID") != "req-abc.123_X" {
		t.Fatalf("X-Request-ID %q", res.Header.Get("X-Request-ID"))
	}
	if p := wantProblem(t, res, http.StatusNotFound, "not_found"); p["request_id"] != "req-abc.123_X" {
		t.Fatalf("problem request_id %v", p["request_id"])
	}
	// ids that are not sane are replaced
	for _, bad := range []string{"", "has space", strings.Repeat("a", 65), "<script>"} {
		res := e.do(http.MethodGet, "/healthz", "", nil, "X-Request-ID", bad)
		if id := res.Header.Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
			t.Errorf("X-Request-ID %q for %q", id, bad)
		}
	}
	// validation problems and successes carry it too, and the audit log records it
	res = e.do(http.MethodPost, "/api/v1/admin/business-units", e.token(emailAdmin), `{"code":"rq"}`, "X-Request-ID", "req-2")
	if p := wantProblem(t, res, http.StatusBadRequest, "validation_failed"); p["request_id"] != "req-2" {
		t.Fatalf("request_id %v", p["request_id"])
	}
	res = e.do(http.MethodPost, "/api/v1/admin/business-units", e.token(emailAdmin), `{"code":"RQ","name":"Req"}`, "X-Request-ID", "req-3")
	bu := wantStatus(t, res, http.StatusCreated)
	if res.Header.Get("X-Request-ID") != "req-3" {
		t.Fatalf("X-Request-ID %q", res.Header.Get("X-Request-ID"))
	}
	var rid string
	e.DB.Raw("SELECT request_id FROM audit_log WHERE entity = 'business_unit' AND entity_id = ?", bu["id"]).Scan(&rid)
	if rid != "req-3" {
		t.Fatalf("audit request_id %q", rid)
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	tk := wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/tickets/"+demoTicket(0)+"/cancel", e.CSMToken, map[string]any{"reason": "x"}), http.StatusOK)
	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/audit?entity=ticket&entity_id="+str(tk["id"]), adm, nil), http.StatusOK))
	if len(list) != 2 || list[0]["action"] != "cancel" || list[1]["action"] != "refer" || list[0]["actor_kind"] != "api_client" {
		t.Fatalf("audit: %v", list)
	}
	// a centre manager sees only their centre's entries
	mine := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/audit?entity=ticket&limit=500", e.token(emailManager), nil), http.StatusOK))
	if len(mine) != 11 { // ten CCS-01 referrals and one cancellation
		t.Fatalf("manager sees %d entries", len(mine))
	}
	// pages join up
	seen := map[string]bool{}
	cursor := ""
	for i := 0; i < 10; i++ {
		page := wantStatus(t, e.do(http.MethodGet, "/api/v1/audit?limit=4&cursor="+url.QueryEscape(cursor), e.token(emailManager), nil), http.StatusOK)
		for _, it := range items(t, page) {
			if seen[str(it["id"])] {
				t.Fatalf("entry %v twice", it["id"])
			}
			seen[str(it["id"])] = true
		}
		if cursor = str(page["next_cursor"]); cursor == "" {
			break
		}
	}
	if n := len(items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/audit?limit=500", e.token(emailManager), nil), http.StatusOK))); len(seen) != n {
		t.Fatalf("paged %d entries of %d", len(seen), n)
	}
}
