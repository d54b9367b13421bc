package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"centros/pdf/pdftest"
)

// repairAt refers number to CCS-01 (reported at 06:00 that day), books it at start,
// checks it in at the counter and returns the repair order's id. The clock must be on
// start's day, after 06:00.
func (e *testEnv) repairAt(number string, start time.Time) string {
	e.t.Helper()
	e.aptRefer(number, "CCS-01", aptAt(start, 0, 6, 0))
	id := e.aptBooked(e.CSMToken, number, "CCS-01", start)
	a := wantStatus(e.t, e.do(http.MethodPost, "/api/v1/appointments/"+id+"/check-in", e.token(emailCounter), aptCheckInBody(aptIMEI)), http.StatusCreated)
	return str(a["repair_id"])
}

// readyRepair writes the diagnosis and an action and passes every test, as the
// technician; it returns the repair order as it then stands.
func (e *testEnv) readyRepair(id string) map[string]any {
	e.t.Helper()
	tech := e.token(emailTech)
	r := wantStatus(e.t, e.do(http.MethodGet, "/api/v1/repairs/"+id, tech, nil), http.StatusOK)
	r = wantStatus(e.t, e.do(http.MethodPatch, "/api/v1/repairs/"+id, tech, map[string]any{
		"diagnosis":          "Antena desconectada tras una caída",
		"corrective_actions": []any{map[string]any{"code": "antenna_repaired"}, map[string]any{"text": "Se ajustó la carcasa"}},
		"version":            r["version"]}), http.StatusOK)
	return wantStatus(e.t, e.do(http.MethodPut, "/api/v1/repairs/"+id+"/tests", tech, map[string]any{
		"results": allResults(r, "pass"), "version": r["version"]}), http.StatusOK)
}

func allResults(repair map[string]any, result string) []any {
	var out []any
	for _, tv := range repair["tests"].([]any) {
		out = append(out, map[string]any{"code": obj(tv)["code"], "result": result})
	}
	return out
}

func TestRepairAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 8, 0))
	const number = "REP-API-0001"
	id := e.repairAt(number, aptAt(mon, 0, 8, 0))
	tech, mgr, counter := e.token(emailTech), e.token(emailManager), e.token(emailCounter)

	r := wantStatus(t, e.do(http.MethodGet, "/api/v1/repairs/"+id, counter, nil), http.StatusOK)
	if r["status"] != "open" || r["ticket_number"] != number || r["centre_code"] != "CCS-01" || r["received_imei"] != aptIMEI ||
		len(r["tests"].([]any)) != 15 || r["version"] != float64(1) {
		t.Fatalf("repair order %v", r)
	}
	cat := wantStatus(t, e.do(http.MethodGet, "/api/v1/test-catalogue", counter, nil), http.StatusOK)
	if n := len(items(t, cat)); n != 15 {
		t.Fatalf("%d tests in the catalogue", n)
	}
	acts := wantStatus(t, e.do(http.MethodGet, "/api/v1/corrective-actions", tech, nil), http.StatusOK)
	if n := len(items(t, acts)); n < 10 {
		t.Fatalf("%d actions in the catalogue", n)
	}

	// the version as If-Match; a stale one is refused
	r = wantStatus(t, e.do(http.MethodPatch, "/api/v1/repairs/"+id, tech, map[string]any{"diagnosis": "Sin señal: antena suelta"}, "If-Match", `"1"`), http.StatusOK)
	if r["version"] != float64(2) || r["diagnosis"] != "Sin señal: antena suelta" || r["technician"] == nil {
		t.Fatalf("patched %v", r)
	}
	wantProblem(t, e.do(http.MethodPatch, "/api/v1/repairs/"+id, tech, map[string]any{"diagnosis": "x"}, "If-Match", `"1"`), http.StatusConflict, "version_conflict")

	// certification waits for the checklist
	r = wantStatus(t, e.do(http.MethodPut, "/api/v1/repairs/"+id+"/tests", tech, map[string]any{
		"results": []any{map[string]any{"code": "power_on", "result": "pass"}}, "version": 2}), http.StatusOK)
	p := wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "repaired"}), http.StatusUnprocessableEntity, "tests_incomplete")
	if !strings.Contains(str(p["detail"]), "network_signal") {
		t.Fatalf("the refusal does not name the missing tests: %v", p)
	}
	r = e.readyRepair(id)
	if c := obj(r["checklist"]); c["passed"] != float64(15) || len(c["missing"].([]any)) != 0 {
		t.Fatalf("checklist %v", c)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", counter, map[string]any{"outcome": "repaired"}), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "swapped"}), http.StatusUnprocessableEntity, "swap_required")

	// certify, once: the retry with the same key replays the answer
	e.SetNow(aptAt(mon, 0, 9, 45))
	res := e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "repaired"}, "Idempotency-Key", "cert-1")
	cert := wantStatus(t, res, http.StatusCreated)
	num := str(cert["certificate_number"])
	if !strings.HasPrefix(num, "CCS-01-") || !strings.HasSuffix(num, "-000001") || cert["pdf_url"] != "/api/v1/certificates/"+num+".pdf" ||
		cert["verification_url"] != "http://example.test/verify/"+str(cert["verification_code"]) {
		t.Fatalf("certificate %v", cert)
	}
	again := e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "repaired"}, "Idempotency-Key", "cert-1")
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(res.Body) {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "repaired"}), http.StatusConflict, "repair_not_open")

	// the ticket shows its repair and certificate
	tk := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/"+number, e.CSMToken, nil), http.StatusOK)
	if tk["status"] != "resolved" || tk["outcome"] != "repaired" || obj(obj(tk["repair"])["certificate"])["certificate_number"] != num {
		t.Fatalf("ticket %v", tk)
	}
	if obj(tk["appointment"])["status"] != "completed" {
		t.Fatalf("appointment %v", tk["appointment"])
	}

	// the PDF, byte for byte the same on every download
	pdfPath := "/api/v1/certificates/" + num + ".pdf"
	first := e.do(http.MethodGet, pdfPath, counter, nil)
	if first.Status != http.StatusOK || first.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(first.Body), "%PDF-") {
		t.Fatalf("pdf: %d %v", first.Status, first.Header)
	}
	sum := sha256.Sum256(first.Body)
	if first.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || cert["pdf_sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("etag %s, body hash %x, stored %v", first.Header.Get("ETag"), sum, cert["pdf_sha256"])
	}
	if second := e.do(http.MethodGet, pdfPath, e.token(emailAdmin), nil); string(second.Body) != string(first.Body) {
		t.Fatal("the PDF changed between downloads")
	}
	if nm := e.do(http.MethodGet, pdfPath, counter, nil, "If-None-Match", first.Header.Get("ETag")); nm.Status != http.StatusNotModified || len(nm.Body) != 0 {
		t.Fatalf("If-None-Match: %d", nm.Status)
	}
	wantProblem(t, e.do(http.MethodGet, pdfPath, e.token(emailCounter2), nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/certificates/"+num, counter, nil), http.StatusNotFound, "not_found")
	text := pdftest.Words(t, first.Body)
	for _, want := range []string{num, number, "Transportes Ávila C.A.", "María Pérez", "+584161234567", aptIMEI, "Samsung", "SM-A155M",
		"Sin señal desde ayer", "Antena desconectada tras una caída", "Reparación de antena", "Se ajustó la carcasa", "Registro en la red y señal",
		str(cert["technician"]), "Firma del técnico", "Firma del cliente", "http://example.test/verify/" + str(cert["verification_code"])} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate does not show %q", want)
		}
	}

	// void: the manager's, with a reason
	wantProblem(t, e.do(http.MethodPost, "/api/v1/certificates/"+num+"/void", tech, map[string]any{"reason": "error"}), http.StatusForbidden, "forbidden")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/certificates/"+num+"/void", mgr, map[string]any{"reason": "  "}), http.StatusBadRequest, "validation_failed")
	v := wantStatus(t, e.do(http.MethodPost, "/api/v1/certificates/"+num+"/void", mgr, map[string]any{"reason": "IMEI mal transcrito"}), http.StatusOK)
	if v["status"] != "void" || v["void_reason"] != "IMEI mal transcrito" {
		t.Fatalf("voided %v", v)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/certificates/"+num+"/void", mgr, map[string]any{"reason": "otra vez"}), http.StatusConflict, "certificate_void")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/certificates/CCS-01-2026-999999/void", mgr, map[string]any{"reason": "x"}), http.StatusNotFound, "not_found")
	if r := wantStatus(t, e.do(http.MethodGet, "/api/v1/repairs/"+id, tech, nil), http.StatusOK); r["status"] != "open" {
		t.Fatalf("after void the repair is %v", r["status"])
	}
}

func TestRepairAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 8, 0))
	id := e.repairAt("REP-BAD-0001", aptAt(mon, 0, 8, 0))
	tech, adm := e.token(emailTech), e.token(emailAdmin)
	long := strings.Repeat("a", 4001)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"PatchUnknownField", "PATCH", "/api/v1/repairs/" + id, map[string]any{"diagnosis": "x", "colour": "red", "version": 1}, 400, "validation_failed", "colour"},
		{"PatchNoVersion", "PATCH", "/api/v1/repairs/" + id, map[string]any{"diagnosis": "x"}, 400, "validation_failed", "version"},
		{"PatchLongDiagnosis", "PATCH", "/api/v1/repairs/" + id, map[string]any{"diagnosis": long, "version": 1}, 400, "validation_failed", "diagnosis"},
		{"PatchActionBadCode", "PATCH", "/api/v1/repairs/" + id, map[string]any{"corrective_actions": []any{map[string]any{"code": "Bad Code"}}, "version": 1}, 400, "validation_failed", "corrective_actions[0].code"},
		{"PatchActionEmpty", "PATCH", "/api/v1/repairs/" + id, map[string]any{"corrective_actions": []any{map[string]any{}}, "version": 1}, 400, "validation_failed", "corrective_actions[0]"},
		{"PatchActionUnknown", "PATCH", "/api/v1/repairs/" + id, map[string]any{"corrective_actions": []any{map[string]any{"code": "magic"}}, "version": 1}, 422, "unknown_action", "corrective_actions[0].code"},
		{"PatchDiagnosisNotText", "PATCH", "/api/v1/repairs/" + id, map[string]any{"diagnosis": 3, "version": 1}, 400, "validation_failed", "diagnosis"},
		{"TestsBadResult", "PUT", "/api/v1/repairs/" + id + "/tests", map[string]any{"results": []any{map[string]any{"code": "sms", "result": "ok"}}, "version": 1}, 400, "validation_failed", "results[0].result"},
		{"TestsNoCode", "PUT", "/api/v1/repairs/" + id + "/tests", map[string]any{"results": []any{map[string]any{"result": "pass"}}, "version": 1}, 400, "validation_failed", "results[0].code"},
		{"TestsTwice", "PUT", "/api/v1/repairs/" + id + "/tests", map[string]any{"results": []any{map[string]any{"code": "sms", "result": "pass"}, map[string]any{"code": "sms", "result": "fail"}}, "version": 1}, 400, "validation_failed", "results[1].code"},
		{"TestsUnknown", "PUT", "/api/v1/repairs/" + id + "/tests", map[string]any{"results": []any{map[string]any{"code": "teleport", "result": "pass"}}, "version": 1}, 422, "unknown_test", "results[0].code"},
		{"TestsNoVersion", "PUT", "/api/v1/repairs/" + id + "/tests", map[string]any{"results": []any{}}, 400, "validation_failed", "version"},
		{"TestsNotJSON", "PUT", "/api/v1/repairs/" + id + "/tests", "{", 400, "malformed_json", ""},
		{"CertifyBadOutcome", "POST", "/api/v1/repairs/" + id + "/certify", map[string]any{"outcome": "fixed"}, 400, "validation_failed", "outcome"},
		{"CertifyNoOutcome", "POST", "/api/v1/repairs/" + id + "/certify", map[string]any{}, 400, "validation_failed", "outcome"},
		{"CertifyBadLang", "POST", "/api/v1/repairs/" + id + "/certify", map[string]any{"outcome": "repaired", "lang": "fr"}, 400, "validation_failed", "lang"},
		{"RepairNotAnID", "GET", "/api/v1/repairs/not-an-id", nil, 404, "not_found", ""},
		{"RepairUnknown", "GET", "/api/v1/repairs/6f1c1b8e-0000-4000-8000-000000000000", nil, 404, "not_found", ""},
		{"VoidNoReason", "POST", "/api/v1/certificates/CCS-01-2026-000001/void", map[string]any{}, 400, "validation_failed", "reason"},
		{"PDFUnknown", "GET", "/api/v1/certificates/CCS-01-2026-000001.pdf", nil, 404, "not_found", ""},
		{"PDFMalformed", "GET", "/api/v1/certificates/..%2F..%2Fetc%2Fpasswd.pdf", nil, 404, "not_found", ""},
		{"CatalogueBadCode", "PUT", "/api/v1/admin/test-catalogue/Bad-Code", map[string]any{"name_es": "a", "name_en": "a", "mandatory": true}, 400, "validation_failed", "code"},
		{"CatalogueNoNames", "PUT", "/api/v1/admin/test-catalogue/vibration", map[string]any{"mandatory": true}, 400, "validation_failed", "name_es"},
		{"CatalogueMandatoryAction", "PUT", "/api/v1/admin/corrective-actions/glue", map[string]any{"name_es": "a", "name_en": "a", "mandatory": true}, 400, "validation_failed", "mandatory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tech
			if strings.Contains(tc.path, "/admin/") || strings.Contains(tc.path, "/void") {
				tok = adm
			}
			before := e.rowCounts()
			p := wantProblem(t, e.do(tc.method, tc.path, tok, tc.body), tc.status, tc.code)
			if tc.field != "" {
				found := false
				for _, fe := range p["errors"].([]any) {
					found = found || obj(fe)["field"] == tc.field
				}
				if !found {
					t.Errorf("errors %v do not name %s", p["errors"], tc.field)
				}
			}
			if after := e.rowCounts(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("a refused request changed rows: %v → %v", before, after)
			}
		})
	}
	// and the repair order is as it was
	if r := wantStatus(t, e.do(http.MethodGet, "/api/v1/repairs/"+id, tech, nil), http.StatusOK); r["version"] != float64(1) {
		t.Fatalf("version %v after refused edits", r["version"])
	}
}

func TestTestCatalogueAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	created := wantStatus(t, e.do(http.MethodPut, "/api/v1/admin/test-catalogue/vibration", adm,
		map[string]any{"name_es": "Vibración", "name_en": "Vibration", "mandatory": true, "position": 105}), http.StatusCreated)
	if created["version"] != float64(1) || created["mandatory"] != true || created["active"] != true {
		t.Fatalf("created %v", created)
	}
	wantProblem(t, e.do(http.MethodPut, "/api/v1/admin/test-catalogue/vibration", adm,
		map[string]any{"name_es": "Vibración", "name_en": "Vibration", "mandatory": true}), http.StatusConflict, "already_exists")
	edited := wantStatus(t, e.do(http.MethodPut, "/api/v1/admin/test-catalogue/vibration", adm,
		map[string]any{"name_es": "Vibrador", "name_en": "Vibration", "active": false}, "If-Match", `"1"`), http.StatusOK)
	if edited["version"] != float64(2) || edited["active"] != false || edited["mandatory"] != true {
		t.Fatalf("edited %v", edited)
	}
	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/test-catalogue", e.token(emailTech), nil), http.StatusOK))
	found := false
	for _, it := range list {
		found = found || (obj(it)["code"] == "vibration" && obj(it)["active"] == false)
	}
	if !found {
		t.Fatal("the retired test is not listed as retired")
	}
	action := wantStatus(t, e.do(http.MethodPut, "/api/v1/admin/corrective-actions/glue", adm,
		map[string]any{"name_es": "Pegado de carcasa", "name_en": "Housing glued"}), http.StatusCreated)
	if _, ok := action["mandatory"]; ok {
		t.Fatalf("an action shows mandatory: %v", action)
	}
}
