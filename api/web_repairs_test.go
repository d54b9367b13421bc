package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// webMandatoryTests are the mandatory tests of the seeded catalogue, and webOptionalTests
// the others.
var (
	webMandatoryTests = []string{"power_on", "network_signal", "call_outgoing", "call_incoming", "sms", "mobile_data",
		"charging", "earpiece", "loudspeaker", "microphone", "screen_touch", "sim_reader"}
	webOptionalTests = []string{"keypad", "camera", "wifi_bluetooth"}
)

// webRepairAt receives a demo ticket of CCS-01 as a walk-in through the JSON API (the
// clock pinned to a Monday morning, when the centre is open) and returns the ticket
// number and the repair order it opened.
func (e *testEnv) webRepairAt() (number, repairID string) {
	e.t.Helper()
	e.SetNow(webMonday(e.t, 9, 10))
	number = e.ticketAt("CCS-01")
	res := e.do(http.MethodPost, "/api/v1/tickets/"+number+"/walk-in", e.token(emailCounter),
		map[string]any{"received_imei": e.webTicketIMEI(number), "condition": "Carcasa con rayones leves.", "accessories": []string{"cargador", "estuche"}})
	if res.Status != http.StatusCreated {
		e.t.Fatalf("walk-in %s: %d %s", number, res.Status, res.Body)
	}
	id, _ := res.JSON()["repair_id"].(string)
	if id == "" {
		e.t.Fatalf("walk-in opened no repair order: %s", res.Body)
	}
	return number, id
}

// webRepairRow is a repair order as stored.
func (e *testEnv) webRepairRow(id string) (status, diagnosis string, version int) {
	e.t.Helper()
	var row struct {
		Status, Diagnosis string
		Version           int
	}
	if err := e.DB.Raw("SELECT status, diagnosis, version FROM repair_orders WHERE id = ?", id).Scan(&row).Error; err != nil {
		e.t.Fatal(err)
	}
	return row.Status, row.Diagnosis, row.Version
}

// webAllResults is the checklist form with every test at result (optional tests not
// applicable), at version.
func webAllResults(result, version string) url.Values {
	form := url.Values{"version": {version}}
	for _, code := range webMandatoryTests {
		form.Set("result."+code, result)
	}
	for _, code := range webOptionalTests {
		form.Set("result."+code, "na")
	}
	return form
}

// verifyJSON asks the verification route for JSON.
func (e *testEnv) verifyJSON(code string) response {
	e.t.Helper()
	return e.do(http.MethodGet, "/verify/"+code, "", nil, "Accept", "application/json")
}

var certNumberPattern = regexp.MustCompile(`id="cert-number">([^<]+)<`)

func TestWebRepairOrderToCertificate(t *testing.T) {
	e := newTestEnv(t)
	number, id := e.webRepairAt()
	path := "/repairs/" + id
	tech := e.webClient()
	tech.login(emailTech)

	// The order as received, the forms of the bench, the cursor in the diagnosis.
	page := tech.get(path)
	wantPage(t, page, http.StatusOK, "Orden de reparación · ticket "+number, `href="/tickets/`+number+`"`,
		"Carcasa con rayones leves.", "cargador, estuche", e.webTicketIMEI(number), "Abierta", "Vence el SLA",
		`id="details-form"`, `id="tests-form"`, `id="certify-form"`, `value="battery_replaced"`, "Cambio de batería",
		"Encendido", "obligatoria", `name="result.power_on" value="pass"`, `name="version" value="1"`,
		"0 de 15 pruebas con resultado", "Obligatorias sin resultado: Encendido, Registro en la red y señal",
		`id="outcome-repaired"`, `id="outcome-swapped"`, `<option value="es" selected>`)
	wantNot(t, page, `id="certificate"`, `id="read-only"`)
	if !regexp.MustCompile(`<textarea id="diagnosis"[^>]*autofocus`).MatchString(page.Body) || strings.Count(page.Body, "autofocus") != 1 {
		t.Fatalf("the cursor does not start in the diagnosis alone:\n%s", page.Body)
	}

	// Diagnosis and actions: a catalogue action and another written out.
	res := tech.submit(page, path, url.Values{"diagnosis": {"Batería inflada; no retiene carga."}, "actions": {"battery_replaced"},
		"actions_other": {"Limpieza de contactos\n\n"}, "version": {"1"}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("save details: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Diagnóstico y acciones guardados.", "Batería inflada; no retiene carga.",
		`value="battery_replaced" checked`, "Limpieza de contactos", `name="version" value="2"`, "José Gregorio Hernández")
	// Now the cursor waits on the first test without a result.
	if !regexp.MustCompile(`id="t-power_on-pass"[^>]*autofocus`).MatchString(page.Body) {
		t.Fatalf("the cursor is not on the first test:\n%s", page.Body)
	}

	// A result that is none of the three: said beside its test, what was chosen kept.
	form := webAllResults("pass", "2")
	form.Set("result.sms", "maybe")
	res = tech.submit(page, path+"/tests", form)
	wantPage(t, res, http.StatusBadRequest, "Revise los campos marcados.", `id="test-sms-error"`, "elija aprobada, fallida o no aplica",
		`id="t-power_on-pass" name="result.power_on" value="pass" checked`)
	if _, _, v := e.webRepairRow(id); v != 2 {
		t.Fatalf("a refused checklist changed the order: version %d", v)
	}

	// Part of the checklist: saved, and the page says what is missing.
	res = tech.submit(page, path+"/tests", url.Values{"version": {"2"}, "result.power_on": {"pass"}, "note.power_on": {"Enciende al primer intento"}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("save tests: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Pruebas guardadas. Faltan 11 pruebas obligatorias por registrar.",
		"1 de 15 pruebas con resultado: 1 aprobadas, 0 fallidas.", "Obligatorias sin resultado: Registro en la red y señal",
		`value="Enciende al primer intento"`)
	if !regexp.MustCompile(`id="t-network_signal-pass"[^>]*autofocus`).MatchString(page.Body) {
		t.Fatal("the cursor is not on the first test left")
	}
	// Certifying now is refused with the tests that are missing, by name.
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar: faltan resultados de pruebas obligatorias: Registro en la red y señal, Llamada saliente")

	// A failed mandatory test keeps "repaired" out.
	form = webAllResults("pass", "3")
	form.Set("result.charging", "fail")
	form.Set("note.charging", "No carga con el cargador del cliente")
	res = tech.submit(page, path+"/tests", form)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("save tests: %d %s", res.Status, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Pruebas guardadas.", "Obligatorias no aprobadas: Carga de batería.")
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar como «Reparado»", "No aprobadas: Carga de batería.")

	// Every test passed: the summary says it is ready, and the cursor is on certify.
	res = tech.submit(page, path+"/tests", webAllResults("pass", "4"))
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Pruebas guardadas.", "15 de 15 pruebas con resultado: 12 aprobadas, 0 fallidas.",
		"Todas las pruebas obligatorias están aprobadas.")
	wantNot(t, page, "Faltan", "Obligatorias sin resultado")
	if !regexp.MustCompile(`id="certify-submit"[^>]*autofocus`).MatchString(page.Body) {
		t.Fatal("the cursor is not on the certify button")
	}
	// "Swapped" needs a swap this order does not have: said on the form, not a 500.
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"swapped"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar «Reemplazado»", `id="outcome-error"`,
		`id="outcome-swapped" name="outcome" value="swapped" checked`)
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"fixed"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusBadRequest, "elija el resultado")

	// Certify: back on the order, with the certificate.
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("certify: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	m := certNumberPattern.FindStringSubmatch(page.Body)
	if m == nil || !regexp.MustCompile(`^CCS-01-\d{4}-000001$`).MatchString(m[1]) {
		t.Fatalf("no certificate number on the page:\n%s", page.Body)
	}
	certNumber := m[1]
	var code string
	if err := e.DB.Raw("SELECT verification_code FROM certificates WHERE number = ?", certNumber).Scan(&code).Error; err != nil || code == "" {
		t.Fatalf("verification code of %s: %v", certNumber, err)
	}
	grouped := code[:4] + "-" + code[4:8] + "-" + code[8:]
	wantPage(t, page, http.StatusOK, "Reparación certificada. Certificado "+certNumber+" emitido.", "Certificada", "Válido",
		grouped, `href="/certificates/`+certNumber+`"`, "Ver / imprimir PDF", `href="/certificates/`+certNumber+`?download=1"`,
		"Descargar", `href="/verify/`+code+`"`, "Reparado")
	wantNot(t, page, `id="details-form"`, `id="tests-form"`, `id="certify-form"`, `id="void-form"`)
	if !regexp.MustCompile(`id="cert-pdf"[^>]*autofocus`).MatchString(page.Body) {
		t.Fatal("the cursor is not on the certificate's PDF")
	}
	if status, _, _ := e.webRepairRow(id); status != "certified" {
		t.Fatalf("repair %s", status)
	}

	// The PDF through the session, inline to print or as a download.
	pdf := tech.get("/certificates/" + certNumber)
	if pdf.Status != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF") {
		t.Fatalf("certificate PDF: %d %q %.20q", pdf.Status, pdf.Header.Get("Content-Type"), pdf.Body)
	}
	if cd := pdf.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") || !strings.Contains(cd, certNumber+".pdf") {
		t.Errorf("inline PDF disposition %q", cd)
	}
	dl := tech.get("/certificates/" + certNumber + "?download=1")
	if dl.Status != http.StatusOK || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment") || dl.Body != pdf.Body {
		t.Fatalf("download: %d %q", dl.Status, dl.Header.Get("Content-Disposition"))
	}
	// Nobody else: a visitor is sent to sign in, another centre does not find it.
	if res := e.webClient().get("/certificates/" + certNumber); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Fatalf("anonymous PDF: %d %q", res.Status, res.Location)
	}
	other := e.webClient()
	other.login(emailCounter2)
	wantPage(t, other.get("/certificates/"+certNumber), http.StatusNotFound)
	wantPage(t, other.get(path), http.StatusNotFound)

	// The ticket links to its order and certificate; the agenda to the order.
	ticket := tech.get("/tickets/" + number)
	wantPage(t, ticket, http.StatusOK, `id="repair-link"`, `href="`+path+`"`, certNumber, "Válido", `href="/certificates/`+certNumber+`"`)
	wantPage(t, tech.get("/agenda"), http.StatusOK, `href="`+path+`"`)

	// Anyone verifies it: the facts that are not personal, and no staff links.
	anon := e.webClient()
	verify := anon.get("/verify/" + code)
	wantPage(t, verify, http.StatusOK, "Verificación de certificado", `id="verdict-badge">Válido<`, "auténtico y está vigente",
		certNumber, "Centro de Instalación Chacao", "Reparado", grouped, `name="viewport"`)
	var company, contact, imei string
	e.DB.Raw("SELECT customer_company FROM tickets WHERE ticket_number = ?", number).Scan(&company)
	e.DB.Raw("SELECT customer_contact_name FROM tickets WHERE ticket_number = ?", number).Scan(&contact)
	imei = e.webTicketIMEI(number)
	wantNot(t, verify, number, company, imei, "José Gregorio", `class="main-nav"`, `href="/agenda"`, "Cerrar sesión")
	if contact != "" {
		wantNot(t, verify, contact)
	}
	if verify.Header.Get("Content-Security-Policy") == "" || !strings.Contains(verify.Header.Get("Vary"), "Accept") {
		t.Errorf("verify headers: %v", verify.Header)
	}
	// As people type it: lower case, grouped.
	wantPage(t, anon.get("/verify/"+strings.ToLower(grouped)), http.StatusOK, certNumber)
	// In English on request.
	wantPage(t, anon.get("/verify/"+code+"?lang=en"), http.StatusOK, "Certificate verification", ">Valid<", "Repaired")
	// A browser's Accept gets the page; a client that prefers JSON gets JSON.
	res2 := e.do(http.MethodGet, "/verify/"+code, "", nil, "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	if res2.Status != http.StatusOK || !strings.HasPrefix(res2.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("browser verify: %d %q", res2.Status, res2.Header.Get("Content-Type"))
	}
	res2 = e.do(http.MethodGet, "/verify/"+code, "", nil, "Accept", "application/json;q=0.5, text/html")
	if !strings.HasPrefix(res2.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("html preferred: %q", res2.Header.Get("Content-Type"))
	}
	js := e.verifyJSON(code)
	if js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("verify JSON: %d %q %s", js.Status, js.Header.Get("Content-Type"), js.Body)
	}
	v := js.JSON()
	if v["status"] != "valid" || v["certificate_number"] != certNumber || v["centre_code"] != "CCS-01" || v["outcome"] != "repaired" {
		t.Fatalf("verification %v", v)
	}
	for _, personal := range []string{number, company, imei} {
		if strings.Contains(string(js.Body), personal) {
			t.Errorf("verification JSON shows %q: %s", personal, js.Body)
		}
	}

	// A technician may not void: no form, and a POST is refused.
	wantNot(t, tech.get(path), `id="void-form"`, "Anular el certificado")
	res = tech.submit(page, "/certificates/"+certNumber+"/void", url.Values{"reason": {"Error de tipeo"}})
	wantPage(t, res, http.StatusForbidden, "Su rol no permite hacer esto.")

	// The centre manager voids it, with a reason.
	manager := e.webClient()
	manager.login(emailManager)
	page = manager.get(path)
	wantPage(t, page, http.StatusOK, `id="void-form"`, `action="/certificates/`+certNumber+`/void"`, "Anular el certificado")
	res = manager.submit(page, "/certificates/"+certNumber+"/void", url.Values{"reason": {"  "}})
	wantPage(t, res, http.StatusBadRequest, `id="reason-error"`, "es obligatorio", "<details class=\"danger-zone void\" open>")
	if !regexp.MustCompile(`<textarea id="reason"[^>]*autofocus`).MatchString(res.Body) {
		t.Error("the cursor is not in the reason")
	}
	res = manager.submit(page, "/certificates/"+certNumber+"/void", url.Values{"reason": {"Se emitió con el modelo equivocado."}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("void: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = manager.follow(res)
	wantPage(t, page, http.StatusOK, "Certificado "+certNumber+" anulado; la orden de reparación se reabrió.", `id="cert-status">Anulado<`,
		"Se emitió con el modelo equivocado.", "Abierta", `id="details-form"`, `id="certify-form"`)
	wantNot(t, page, `id="void-form"`)
	res = manager.submit(page, "/certificates/"+certNumber+"/void", url.Values{"reason": {"Otra vez"}})
	wantPage(t, res, http.StatusConflict, "Este certificado ya estaba anulado.")

	// The verification says so, both ways.
	wantPage(t, anon.get("/verify/"+code+"?lang=es"), http.StatusOK, `id="verdict-badge">Anulado<`, "fue anulado y ya no tiene validez", "Anulado el")
	if v := e.verifyJSON(code).JSON(); v["status"] != "void" || v["voided_at"] == nil {
		t.Fatalf("void verification %v", v)
	}
	// The ticket's link follows the certificate's state.
	wantPage(t, tech.get("/tickets/"+number), http.StatusOK, certNumber, "Anulado")
}

func TestWebVerifyUnknownCode(t *testing.T) {
	e := newTestEnv(t)
	anon := e.webClient()
	for _, code := range []string{"ZZZZ-ZZZZ-ZZZZ", "no-es-un-codigo"} {
		page := anon.get("/verify/" + code)
		wantPage(t, page, http.StatusNotFound, "Certificado no encontrado", "No existe ningún certificado con el código «"+code+"».")
		wantNot(t, page, `class="main-nav"`)
		res := e.verifyJSON(code)
		if res.Status != http.StatusNotFound || res.Code() != "not_found" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s as JSON: %d %q %s", code, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
	}
	wantPage(t, anon.get("/verify/ZZZZZZZZZZZZ?lang=en"), http.StatusNotFound, "Certificate not found", "No certificate has the code")
}

func TestWebRepairStaleVersion(t *testing.T) {
	e := newTestEnv(t)
	_, id := e.webRepairAt()
	path := "/repairs/" + id
	tech := e.webClient()
	tech.login(emailTech)
	page := tech.get(path)
	wantPage(t, page, http.StatusOK, `name="version" value="1"`)

	// Someone else saves meanwhile (through the API).
	res := e.do(http.MethodPatch, "/api/v1/repairs/"+id, e.token(emailManager), map[string]any{"diagnosis": "Antena suelta.", "version": 1})
	if res.Status != http.StatusOK {
		t.Fatalf("API update: %d %s", res.Status, res.Body)
	}
	// The page read at version 1 is refused, the user's input kept for them to copy.
	stale := tech.submit(page, path, url.Values{"diagnosis": {"Pantalla rota."}, "actions": {"screen_replaced"}, "version": {"1"}})
	wantPage(t, stale, http.StatusConflict, "Otra persona modificó este registro", "Pantalla rota.", `value="screen_replaced" checked`,
		`<input type="hidden" name="version" value="1">`)
	if _, diagnosis, _ := e.webRepairRow(id); diagnosis != "Antena suelta." {
		t.Fatalf("stale form overwrote the diagnosis: %q", diagnosis)
	}
	// The checklist form read at version 1 too.
	stale = tech.submit(page, path+"/tests", webAllResults("pass", "1"))
	wantPage(t, stale, http.StatusConflict, "Otra persona modificó este registro")
	// A form without its version is refused the same way.
	wantPage(t, tech.submit(page, path, url.Values{"diagnosis": {"x"}}), http.StatusBadRequest, "Otra persona modificó este registro")
	// Read again, it saves.
	page = tech.get(path)
	wantPage(t, page, http.StatusOK, "Antena suelta.", `name="version" value="2"`)
	res2 := tech.submit(page, path, url.Values{"diagnosis": {"Antena suelta; se fijó."}, "actions": {"antenna_repaired"}, "version": {"2"}})
	if res2.Status != http.StatusSeeOther {
		t.Fatalf("save after reload: %d %s", res2.Status, res2.Body)
	}
	// An action line too long is named by its line.
	page = tech.follow(res2)
	res2 = tech.submit(page, path, url.Values{"diagnosis": {"Antena suelta; se fijó."}, "actions_other": {"Limpieza\n" + strings.Repeat("x", 501)}, "version": {"3"}})
	wantPage(t, res2, http.StatusBadRequest, `id="actions_other-error"`, "línea 2")
}

func TestWebRepairReadOnlyForCounter(t *testing.T) {
	e := newTestEnv(t)
	number, id := e.webRepairAt()
	path := "/repairs/" + id
	counter := e.webClient()
	counter.login(emailCounter)
	// The ticket page leads to the order.
	wantPage(t, counter.get("/tickets/"+number), http.StatusOK, `id="repair-link"`, `href="`+path+`"`)
	page := counter.get(path)
	wantPage(t, page, http.StatusOK, "Orden de reparación · ticket "+number, `id="read-only"`, "Solo lectura", "Sin diagnóstico todavía.",
		"Encendido", "Sin resultado", "Carcasa con rayones leves.")
	wantNot(t, page, `id="details-form"`, `id="tests-form"`, `id="certify-form"`, `name="result.power_on"`, "autofocus")
	// Posting anyway is refused by the service's rule, on the error page.
	res := counter.submit(page, path, url.Values{"diagnosis": {"x"}, "version": {"1"}})
	wantPage(t, res, http.StatusForbidden, "Su rol no permite hacer esto.")
	res = counter.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusForbidden)
	if _, diagnosis, v := e.webRepairRow(id); diagnosis != "" || v != 1 {
		t.Fatalf("a counter changed the order: %q v%d", diagnosis, v)
	}
	// Unknown orders are not found, in words.
	wantPage(t, counter.get("/repairs/00000000-0000-0000-0000-000000000000"), http.StatusNotFound)
	wantPage(t, counter.get("/repairs/nope"), http.StatusNotFound)
	// In English on request.
	wantPage(t, counter.get(path+"?lang=en"), http.StatusOK, "Repair order · ticket "+number, "Read only", "No result")
}

func TestWebRepairCSRFRefused(t *testing.T) {
	e := newTestEnv(t)
	_, id := e.webRepairAt()
	path := "/repairs/" + id
	// A certified order, so that there is a certificate to void.
	tech := e.webClient()
	tech.login(emailTech)
	page := tech.get(path)
	tech.submit(page, path, url.Values{"diagnosis": {"Software corrupto."}, "actions": {"software_reflash"}, "version": {"1"}})
	tech.submit(page, path+"/tests", webAllResults("pass", "2"))
	if res := tech.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("certify: %d %s", res.Status, res.Body)
	}
	var number string
	e.DB.Raw("SELECT number FROM certificates WHERE repair_id = ?", id).Scan(&number)
	manager := e.webClient()
	manager.login(emailManager)
	count := func() (n int64) {
		e.DB.Raw("SELECT count(*) FROM certificates WHERE voided_at IS NULL").Scan(&n)
		return n
	}
	_, _, version := e.webRepairRow(id)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{path, url.Values{"diagnosis": {"x"}, "version": {"4"}}},
		{path + "/tests", webAllResults("pass", "4")},
		{path + "/certify", url.Values{"outcome": {"repaired"}}},
		{"/certificates/" + number + "/void", url.Values{"reason": {"x"}}},
	} {
		wantPage(t, manager.post(tc.path, tc.form), http.StatusForbidden, "El formulario caducó")
		tc.form.Set("csrf_token", "forged")
		wantPage(t, manager.post(tc.path, tc.form), http.StatusForbidden)
	}
	if _, _, v := e.webRepairRow(id); v != version || count() != 1 {
		t.Fatalf("a refused form changed something: version %d→%d, %d valid certificates", version, v, count())
	}
}

// TestWebRepairVerificationJSONShape: the JSON of the verification is the contract's,
// with the fields API.md names.
func TestWebRepairVerificationJSONShape(t *testing.T) {
	e := newTestEnv(t)
	_, id := e.webRepairAt()
	tok := e.token(emailTech)
	if res := e.do(http.MethodPatch, "/api/v1/repairs/"+id, tok, map[string]any{"diagnosis": "d", "corrective_actions": []map[string]string{{"code": "factory_reset"}}, "version": 1}); res.Status != http.StatusOK {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	results := []map[string]string{}
	for _, c := range append(append([]string{}, webMandatoryTests...), webOptionalTests...) {
		results = append(results, map[string]string{"code": c, "result": "pass"})
	}
	if res := e.do(http.MethodPut, "/api/v1/repairs/"+id+"/tests", tok, map[string]any{"results": results, "version": 2}); res.Status != http.StatusOK {
		t.Fatalf("tests: %d %s", res.Status, res.Body)
	}
	res := e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tok, map[string]any{"outcome": "repaired"})
	if res.Status != http.StatusCreated {
		t.Fatalf("certify: %d %s", res.Status, res.Body)
	}
	code := res.JSON()["verification_code"].(string)
	var v map[string]json.RawMessage
	if err := json.Unmarshal(e.verifyJSON(code).Body, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "certificate_number", "issued_at", "centre_code", "centre_name", "device_model", "outcome"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verification lacks %q: %v", k, v)
		}
	}
}

func TestWebRepairCertifyNeedsDiagnosisAndActions(t *testing.T) {
	e := newTestEnv(t)
	_, id := e.webRepairAt()
	path := "/repairs/" + id
	manager := e.webClient()
	manager.login(emailManager)
	page := manager.get(path)
	if res := manager.submit(page, path+"/tests", webAllResults("pass", "1")); res.Status != http.StatusSeeOther {
		t.Fatalf("tests: %d %s", res.Status, res.Body)
	}
	// Tests done, nothing written: the diagnosis is asked for beside its field, which
	// gets the cursor.
	res := manager.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"en"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar sin diagnóstico", `id="diagnosis-error"`,
		"es obligatorio para certificar", `<option value="en" selected>`)
	if !regexp.MustCompile(`<textarea id="diagnosis"[^>]*autofocus`).MatchString(res.Body) {
		t.Error("the cursor is not in the diagnosis")
	}
	// A diagnosis without actions: the actions are asked for.
	res = manager.submit(page, path, url.Values{"diagnosis": {"Sin falla aparente."}, "version": {"2"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("details: %d %s", res.Status, res.Body)
	}
	res = manager.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar una reparación sin acciones correctivas", `id="actions-error"`)
	if !regexp.MustCompile(`id="action-software_reflash"[^>]*autofocus`).MatchString(res.Body) {
		t.Error("the cursor is not on the first action")
	}
	// Certified in English when asked: the order says so, and certifying twice is
	// refused in words on the page.
	res = manager.submit(page, path, url.Values{"diagnosis": {"Sin falla aparente."}, "actions": {"factory_reset"}, "version": {"3"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("details: %d %s", res.Status, res.Body)
	}
	if res = manager.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"en"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("certify: %d %s", res.Status, res.Body)
	}
	res = manager.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusConflict, "La orden de reparación ya no está abierta", `id="form-message"`, `id="certificate"`)
}
