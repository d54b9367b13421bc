package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// invIMEI makes the n-th valid IMEI of a test series: 14 digits and the Luhn check
// digit. The series keep clear of the demo's IMEIs.
func invIMEI(series, n int) string {
	body := fmt.Sprintf("35%06d%06d", 700000+series, n)
	sum := 0
	for i := 0; i < 14; i++ {
		d := int(body[13-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}

// invDemoUnits are the IMEIs of the demo's backup devices of a model at a centre or
// warehouse, in IMEI order.
func (e *testEnv) invDemoUnits(location, model string) []string {
	e.t.Helper()
	var out []string
	err := e.DB.Raw(`SELECT u.imei FROM inventory_units u LEFT JOIN centres c ON c.id = u.centre_id
		LEFT JOIN warehouses w ON w.id = u.warehouse_id
		WHERE COALESCE(c.code, w.code) = ? AND u.model = ? AND u.kind = 'backup' AND u.state = 'in_stock' ORDER BY u.imei`,
		location, model).Scan(&out).Error
	if err != nil || len(out) == 0 {
		e.t.Fatalf("no %s in stock at %s: %v", model, location, err)
	}
	return out
}

// invUnitState is a unit's kind, state and place code, as stored.
func (e *testEnv) invUnitState(imei string) string {
	e.t.Helper()
	var row struct{ Kind, State, Place string }
	err := e.DB.Raw(`SELECT u.kind, u.state, COALESCE(c.code, w.code, '') AS place FROM inventory_units u
		LEFT JOIN centres c ON c.id = u.centre_id LEFT JOIN warehouses w ON w.id = u.warehouse_id WHERE u.imei = ?`, imei).Scan(&row).Error
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(row.Kind + " " + row.State + " " + row.Place)
}

// invWalkIn receives a demo ticket as a walk-in at the counter, at now, and returns its
// repair order.
func (e *testEnv) invWalkIn(number string, now time.Time) string {
	e.t.Helper()
	e.SetNow(now)
	res := wantStatus(e.t, e.do(http.MethodPost, "/api/v1/tickets/"+number+"/walk-in", e.token(emailCounter),
		map[string]any{"received_imei": e.webTicketIMEI(number), "condition": "Sin golpes."}), http.StatusCreated)
	return str(res["repair_id"])
}

// invSwapAPI swaps the line of a repair onto a backup device of model through the JSON
// API, as the technician, and returns the swap.
func (e *testEnv) invSwapAPI(repairID, model string) map[string]any {
	e.t.Helper()
	return wantStatus(e.t, e.do(http.MethodPost, "/api/v1/repairs/"+repairID+"/swap", e.token(emailTech), map[string]any{"model": model}), http.StatusCreated)
}

// invServiceChange answers a swap's service change as CSM.
func (e *testEnv) invServiceChange(swapID, status, detail string) {
	e.t.Helper()
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+swapID, e.CSMToken,
		map[string]any{"status": status, "detail": detail}), http.StatusOK)
}

var swapIDPattern = regexp.MustCompile(`href="/swaps/([0-9a-f-]{36})/endorsement"`)

func autofocused(t *testing.T, p webPage, id string) {
	t.Helper()
	if !regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*autofocus`).MatchString(p.Body) {
		t.Fatalf("the cursor is not in #%s:\n%s", id, p.Body)
	}
	if n := strings.Count(p.Body, " autofocus"); n != 1 {
		t.Fatalf("%d fields have autofocus, want 1", n)
	}
}

func TestWebInventoryScreensByRole(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range []struct {
		email            string
		nav, noNav       []string
		pages, forbidden []string
	}{
		{emailCounter, []string{`href="/stock"`, `href="/returns"`, `href="/restock"`}, []string{`href="/warehouse"`, `href="/units/register"`},
			[]string{"/stock", "/returns", "/restock", "/units"}, []string{"/units/register", "/warehouse"}},
		{emailTech, []string{`href="/stock"`, `href="/returns"`, `href="/restock"`}, []string{`href="/warehouse"`, `href="/units/register"`},
			[]string{"/stock", "/returns", "/restock"}, []string{"/units/register", "/warehouse"}},
		{emailManager, []string{`href="/stock"`, `href="/returns"`, `href="/restock"`}, []string{`href="/warehouse"`, `href="/units/register"`},
			[]string{"/stock", "/returns", "/restock"}, []string{"/units/register", "/warehouse"}},
		{emailWarehouse, []string{`href="/warehouse"`, `href="/units/register"`, `href="/stock"`}, []string{`href="/returns"`, `href="/tickets"`},
			[]string{"/stock", "/returns", "/restock", "/warehouse", "/units/register"}, nil},
		{emailAdmin, []string{`href="/stock"`, `href="/returns"`, `href="/restock"`, `href="/warehouse"`, `href="/units/register"`}, nil,
			[]string{"/stock", "/returns", "/restock", "/warehouse", "/units/register"}, nil},
	} {
		t.Run(tc.email, func(t *testing.T) {
			w := e.webClient()
			home := w.login(tc.email)
			wantPage(t, home, http.StatusOK, tc.nav...)
			wantNot(t, home, tc.noNav...)
			for _, p := range tc.pages {
				wantPage(t, w.get(p), http.StatusOK)
			}
			for _, p := range tc.forbidden {
				wantPage(t, w.get(p), http.StatusForbidden, "Su rol no permite hacer esto.")
			}
		})
	}

	// The counter: its centre's stock, a model short of its minimum highlighted, and the
	// cursor in the unit lookup; no forms that are not theirs.
	counter := e.webClient()
	counter.login(emailCounter)
	stock := counter.get("/stock?centre=CCS-02")
	wantPage(t, stock, http.StatusOK, "Stock de respaldo · CCS-01", `<tr class="short" data-model="SM-A155M">`, "Faltan: 1",
		`data-model="Moto G24"`, "Completo", "Modelos por debajo del mínimo: 1.", `id="faulty-received">0<`)
	wantNot(t, stock, `id="centre"`, "Preparar una devolución")
	autofocused(t, stock, "imei")
	wantNot(t, counter.get("/returns"), `id="return-form"`)
	wantNot(t, counter.get("/restock"), `id="restock-form"`)
	res := counter.submit(counter.get("/returns"), "/returns", url.Values{"imeis": {invIMEI(1, 1)}})
	wantPage(t, res, http.StatusForbidden, "Su rol no permite hacer esto.")

	// The unit lookup: scan, Enter, the unit's ledger; a bad read is said beside the field.
	own := e.invDemoUnits("CCS-01", "SM-A155M")[0]
	res = counter.get("/units?imei=" + own)
	if res.Status != http.StatusSeeOther || res.Location != "/units/"+own {
		t.Fatalf("lookup: %d %q", res.Status, res.Location)
	}
	unit := counter.follow(res)
	wantPage(t, unit, http.StatusOK, "Equipo "+own, "Equipo de respaldo", "En existencia", "en el centro CCS-01", "Registro", "Samsung SM-A155M")
	autofocused(t, unit, "imei")
	wantPage(t, counter.get("/units?imei=12345"), http.StatusBadRequest, "no es un IMEI válido", `value="12345"`)
	// Another centre's unit is not there for them.
	other := e.invDemoUnits("CCS-02", "SM-A155M")[0]
	wantPage(t, counter.get("/units/"+other), http.StatusNotFound, "No hay ningún equipo con el IMEI «"+other+"»")

	// The manager builds returns and asks for restock: the forms are there, the cursor in
	// the scan box and the first model.
	mgr := e.webClient()
	mgr.login(emailManager)
	page := mgr.get("/returns")
	wantPage(t, page, http.StatusOK, `id="return-form"`, "Nueva devolución al almacén", "No hay devoluciones.")
	autofocused(t, page, "scan-imeis")
	page = mgr.get("/restock")
	wantPage(t, page, http.StatusOK, `id="restock-form"`, `<option value="SM-A155M">`)
	autofocused(t, page, "model-0")

	// The warehouse picks a centre of its business unit; the stock of CCS-02.
	wh := e.webClient()
	wh.login(emailWarehouse)
	stock = wh.get("/stock")
	wantPage(t, stock, http.StatusOK, "Stock de respaldo · CCS-01", `<option value="CCS-02"`)
	wantPage(t, wh.get("/stock?centre=CCS-02"), http.StatusOK, "Stock de respaldo · CCS-02", `<option value="CCS-02" selected>`)
	wantPage(t, wh.get("/stock?centre=NOPE"), http.StatusNotFound)
	wantPage(t, wh.get("/stock?centre=%00"), http.StatusNotFound)
	wantPage(t, wh.get("/units/%00"), http.StatusNotFound)
	wantPage(t, wh.get("/returns/%00"), http.StatusNotFound)
	wantPage(t, wh.get("/restock/%00"), http.StatusNotFound)
	wantPage(t, wh.get("/returns?status=%00&cursor=%00"), http.StatusBadRequest)
	wantPage(t, wh.get("/units/"+other), http.StatusOK, "en el centro CCS-02")
	wantNot(t, wh.get("/returns"), `id="return-form"`)
	inbox := wh.get("/warehouse")
	wantPage(t, inbox, http.StatusOK, "Bandeja del almacén · ALM-CAP", "No hay devoluciones en camino.", "No hay solicitudes abiertas.")
	register := wh.get("/units/register")
	wantPage(t, register, http.StatusOK, `<option value="ALM-CAP" selected>`, `<option value="CCS-01">`, `<option value="CCS-02">`)
	autofocused(t, register, "brand")

	// English on request.
	wantPage(t, counter.get("/stock?lang=en"), http.StatusOK, "Backup stock · CCS-01", "Short: 1")
}

func TestWebRegisterUnitsMixedBatch(t *testing.T) {
	e := newTestEnv(t)
	wh := e.webClient()
	wh.login(emailWarehouse)
	page := wh.get("/units/register")
	valid1, valid2, valid3 := invIMEI(2, 1), invIMEI(2, 2), invIMEI(2, 3)
	already := e.invDemoUnits("ALM-CAP", "SM-A155M")[0]

	// A model is needed: said beside it, the list kept.
	res := wh.submit(page, "/units/register", url.Values{"brand": {"Samsung"}, "model": {""}, "location_code": {"ALM-CAP"},
		"imeis": {valid1 + "\n" + valid2}})
	wantPage(t, res, http.StatusBadRequest, "Revise los campos marcados.", `id="model-error"`, "es obligatorio", valid1+"\n"+valid2)
	autofocused(t, res, "model")
	// A place that is not theirs.
	res = wh.submit(page, "/units/register", url.Values{"brand": {"Samsung"}, "model": {"SM-A055M"}, "location_code": {"NOPE"},
		"imeis": {valid1}})
	wantPage(t, res, http.StatusUnprocessableEntity, "debe ser su almacén o un centro de su unidad de negocio")
	if s := e.invUnitState(valid1); s != "" {
		t.Fatalf("a refused batch registered %s: %s", valid1, s)
	}

	// The mixed batch: two good lines, a bad read, one scanned twice, one already
	// registered, and one left in the scan box when the form was sent.
	res = wh.submit(page, "/units/register", url.Values{"brand": {"Samsung"}, "model": {"SM-A055M"}, "location_code": {"ALM-CAP"},
		"imeis": {valid1 + "\n123456789012345\n" + valid2 + "\n" + valid1 + "\n" + already + "\n"}, "scan_imeis": {valid3}})
	wantPage(t, res, http.StatusOK, "Resultado del registro", "Registrados: 3. Rechazados: 3.", "Registrados (3)", "Rechazados (3)",
		`href="/units/`+valid1+`">`+valid1, `href="/units/`+valid2+`">`+valid2, `href="/units/`+valid3+`">`+valid3,
		"123456789012345</span> <span class=\"refusal\">no es un IMEI válido", valid1+"</span> <span class=\"refusal\">se escaneó dos veces en este lote",
		`<a href="/units/`+already+`">`+already+`</a></span> <span class="refusal">ya estaba registrado`,
		"Registrar otro lote", `value="Samsung"`, `value="SM-A055M"`)
	// Ready for the next batch of the same model: an empty list, the cursor in the scan box.
	autofocused(t, res, "scan-imeis")
	if !strings.Contains(res.Body, `class="scan-lines"`) || strings.Contains(res.Body, "aria-invalid") {
		t.Fatalf("the next batch's form is not clean:\n%s", res.Body)
	}
	for _, imei := range []string{valid1, valid2, valid3} {
		if s := e.invUnitState(imei); s != "backup in_stock ALM-CAP" {
			t.Fatalf("%s is %q", imei, s)
		}
	}
	// A batch with nothing new: every line refused.
	res = wh.submit(page, "/units/register", url.Values{"brand": {"Samsung"}, "model": {"SM-A055M"}, "location_code": {"CCS-01"},
		"imeis": {valid1}})
	wantPage(t, res, http.StatusUnprocessableEntity, "Registrados: 0. Rechazados: 1.")

	// Into a centre of the business unit.
	valid4 := invIMEI(2, 4)
	res = wh.submit(page, "/units/register", url.Values{"brand": {"Motorola"}, "model": {"Moto G24"}, "location_code": {"CCS-02"},
		"imeis": {valid4}})
	wantPage(t, res, http.StatusOK, "Registrados: 1. Rechazados: 0.", "en el centro CCS-02")
	if s := e.invUnitState(valid4); s != "backup in_stock CCS-02" {
		t.Fatalf("%s is %q", valid4, s)
	}

	// Not for centre staff.
	mgr := e.webClient()
	mgr.login(emailManager)
	res = mgr.submit(mgr.get("/stock"), "/units/register", url.Values{"brand": {"Samsung"}, "model": {"SM-A055M"},
		"location_code": {"CCS-01"}, "imeis": {invIMEI(2, 9)}})
	wantPage(t, res, http.StatusForbidden)
}

func TestWebSwapFromRepair(t *testing.T) {
	e := newTestEnv(t)
	number, id := e.webRepairAt()
	path := "/repairs/" + id
	tech := e.webClient()
	tech.login(emailTech)
	backups := e.invDemoUnits("CCS-01", "SM-A155M")

	// The bench offers the swap: the customer's model, what is in stock.
	page := tech.get(path)
	wantPage(t, page, http.StatusOK, `id="swap-form"`, `id="model" name="model" type="text" value="SM-A155M"`,
		"En existencia en el centro: Moto G24 (2), SM-A155M (4)")
	wantNot(t, page, `id="swap-status"`)
	if n := strings.Count(page.Body, "autofocus"); n != 1 {
		t.Fatalf("%d autofocus on the repair page", n)
	}

	// A bad read, and a device that is not in stock here: said beside the field.
	res := tech.submit(page, path+"/swap", url.Values{"backup_imei": {"35693803564"}, "model": {"SM-A155M"}})
	wantPage(t, res, http.StatusBadRequest, `id="backup_imei-error"`, "no es un IMEI válido", `value="35693803564"`)
	autofocused(t, res, "backup_imei")
	elsewhere := e.invDemoUnits("CCS-02", "SM-A155M")[0]
	res = tech.submit(page, path+"/swap", url.Values{"backup_imei": {elsewhere}, "model": {"SM-A155M"}})
	wantPage(t, res, http.StatusConflict, "El equipo "+elsewhere+" no está disponible", "no es un equipo de respaldo en existencia en este centro")
	res = tech.submit(page, path+"/swap", url.Values{"backup_imei": {""}, "model": {"Nokia 105"}})
	wantPage(t, res, http.StatusConflict, "No hay equipos de respaldo Nokia 105 en existencia", `id="model-error"`)
	autofocused(t, res, "model")

	// The swap: the scanned device goes to the customer; CSM is asked.
	res = tech.submit(page, path+"/swap", url.Values{"backup_imei": {backups[0]}, "model": {"SM-A155M"}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("swap: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Equipo de respaldo "+backups[0]+" entregado. Cambio de servicio solicitado a CSM.",
		"Cambio de servicio solicitado", "Esperando la confirmación de CSM (solicitud 1).", `id="swap-backup-imei">`+backups[0],
		`id="swap-faulty-imei">`+e.webTicketIMEI(number), "Imprimir el aval del reemplazo", `id="swap-undo-form"`,
		`id="outcome-swapped" name="outcome" value="swapped" checked`)
	wantNot(t, page, `id="swap-form"`, `id="swap-retry"`, `id="swap-failed"`)
	m := swapIDPattern.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no endorsement link:\n%s", page.Body)
	}
	swapID := m[1]
	if s := e.invUnitState(backups[0]); s != "backup assigned" {
		t.Fatalf("backup %s is %q", backups[0], s)
	}

	// The endorsement, through the session.
	pdf := tech.get("/swaps/" + swapID + "/endorsement")
	if pdf.Status != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") {
		t.Fatalf("endorsement: %d %q", pdf.Status, pdf.Header.Get("Content-Type"))
	}
	other := e.webClient()
	other.login(emailCounter2)
	wantPage(t, other.get("/swaps/"+swapID+"/endorsement"), http.StatusNotFound)
	// The counter sees the swap and prints the endorsement, and changes nothing.
	counter := e.webClient()
	counter.login(emailCounter)
	cpage := counter.get(path)
	wantPage(t, cpage, http.StatusOK, `id="swap-status"`, "/swaps/"+swapID+"/endorsement")
	wantNot(t, cpage, `id="swap-undo-form"`, `id="swap-form"`)

	// While the line is on the backup device, "repaired" is refused.
	e.readyRepair(id)
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"repaired"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar como «Reparado»: la línea del cliente está en un equipo de respaldo.")

	// CSM could not move the line: the page says so first thing, with retry and undo.
	e.invServiceChange(swapID, "failed", "Línea suspendida por deuda")
	page = tech.get(path)
	wantPage(t, page, http.StatusOK, "CSM no pudo hacer el cambio de servicio", "Línea suspendida por deuda", "Cambio de servicio fallido",
		`id="swap-retry"`, `id="swap-undo-form"`, `<details class="danger-zone void" open>`)
	if strings.Index(page.Body, `id="swap-failed"`) > strings.Index(page.Body, `class="card repair"`) {
		t.Fatal("the failed service change is not at the top of the page")
	}
	autofocused(t, page, "swap-retry")
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"swapped"}, "cert_lang": {"es"}})
	wantPage(t, res, http.StatusUnprocessableEntity, "No se puede certificar: CSM no pudo hacer el cambio de servicio.")

	// Retry: asked of CSM again.
	res = tech.submit(page, "/swaps/"+swapID+"/retry", url.Values{})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("retry: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "solicitado de nuevo a CSM", "Esperando la confirmación de CSM (solicitud 2).")
	wantNot(t, page, `id="swap-failed"`, `id="swap-retry"`)
	res = tech.submit(page, "/swaps/"+swapID+"/retry", url.Values{})
	wantPage(t, res, http.StatusConflict, "El cambio de servicio no está fallido")

	// It fails again; the technician undoes the swap, which needs a reason.
	e.invServiceChange(swapID, "failed", "")
	page = tech.get(path)
	res = tech.submit(page, "/swaps/"+swapID+"/undo", url.Values{"undo_reason": {"  "}})
	wantPage(t, res, http.StatusBadRequest, `id="undo_reason-error"`)
	autofocused(t, res, "undo_reason")
	res = tech.submit(page, "/swaps/"+swapID+"/undo", url.Values{"undo_reason": {"El cliente prefiere esperar a CSM"}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("undo: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Cambio deshecho: el equipo "+backups[0]+" volvió al stock.", "Deshecho",
		"El cliente prefiere esperar a CSM", `id="swap-form"`, `id="outcome-repaired" name="outcome" value="repaired" checked`)
	if s := e.invUnitState(backups[0]); s != "backup in_stock CCS-01" {
		t.Fatalf("backup %s is %q after the undo", backups[0], s)
	}

	// A second swap, by model: the oldest Moto G24; CSM confirms; certified as swapped.
	res = tech.submit(page, path+"/swap", url.Values{"backup_imei": {""}, "model": {"Moto G24"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("swap by model: %d %s", res.Status, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Motorola Moto G24")
	m = swapIDPattern.FindStringSubmatch(page.Body)
	if m == nil || m[1] == swapID {
		t.Fatalf("no new swap on the page")
	}
	e.invServiceChange(m[1], "confirmed", "")
	page = tech.get(path)
	wantPage(t, page, http.StatusOK, "Cambio de servicio confirmado", "ya funciona en el equipo de respaldo")
	wantNot(t, page, `id="swap-undo-form"`)
	res = tech.submit(page, path+"/certify", url.Values{"outcome": {"swapped"}, "cert_lang": {"es"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("certify swapped: %d %s", res.Status, res.Body)
	}
	page = tech.follow(res)
	wantPage(t, page, http.StatusOK, "Reparación certificada.", "Reemplazado", `id="swap-status"`)
	wantNot(t, page, `id="swap-form"`, `id="swap-undo-form"`)
}

func TestWebReturnFlow(t *testing.T) {
	e := newTestEnv(t)
	mon := webMonday(t, 9, 10)
	var faulty []string
	for i, number := range e.webTicketsAt("CCS-01", 3) {
		id := e.invWalkIn(number, mon.Add(time.Duration(i)*30*time.Minute))
		faulty = append(faulty, str(e.invSwapAPI(id, "SM-A155M")["faulty_imei"]))
	}

	// The manager scans the box; a device that is not theirs is named and nothing drafted.
	mgr := e.webClient()
	mgr.login(emailManager)
	page := mgr.get("/returns")
	wantPage(t, page, http.StatusOK, "Equipos averiados esperando volver al almacén: 3.")
	stranger := invIMEI(3, 1)
	res := mgr.submit(page, "/returns", url.Values{"imeis": {faulty[0] + "\n" + stranger}})
	wantPage(t, res, http.StatusUnprocessableEntity, "Algunos equipos no pueden ir en esta devolución",
		"<li>"+stranger+": no es un equipo registrado, o no es de su centro</li>", faulty[0]+"\n"+stranger)
	autofocused(t, res, "imeis")
	res = mgr.submit(page, "/returns", url.Values{"imeis": {faulty[0] + "\nabc"}})
	wantPage(t, res, http.StatusBadRequest, "<li>abc: no es un IMEI válido")

	// Two scanned into the list, the third left in the scan box.
	res = mgr.submit(page, "/returns", url.Values{"imeis": {faulty[0] + "\n" + faulty[1]}, "scan_imeis": {faulty[2]}})
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/returns/") {
		t.Fatalf("create: %d %q %s", res.Status, res.Location, res.Body)
	}
	path := res.Location
	page = mgr.follow(res)
	wantPage(t, page, http.StatusOK, "creada como borrador", "Borrador", "Equipos (3)", faulty[0], faulty[1], faulty[2], "AVR-CCS-01-", `id="dispatch-form"`)
	autofocused(t, page, "dispatch")
	wantNot(t, page, `id="packing-list"`)
	// The counter sees the draft but does not dispatch it.
	counter := e.webClient()
	counter.login(emailCounter)
	wantNot(t, counter.get(path), `id="dispatch-form"`)
	wantPage(t, counter.submit(counter.get(path), path+"/dispatch", url.Values{}), http.StatusForbidden)

	// Dispatch; the packing list to print.
	res = mgr.submit(page, path+"/dispatch", url.Values{})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("dispatch: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = mgr.follow(res)
	wantPage(t, page, http.StatusOK, "despachada. Imprima la lista de empaque", "Despachada", "Imprimir lista de empaque")
	autofocused(t, page, "packing-list")
	pdf := mgr.get(path + "/packing-list")
	if pdf.Status != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") {
		t.Fatalf("packing list: %d %q", pdf.Status, pdf.Header.Get("Content-Type"))
	}
	res = mgr.submit(page, path+"/dispatch", url.Values{})
	wantPage(t, res, http.StatusConflict, "La devolución ya fue despachada.")
	for _, imei := range faulty {
		if s := e.invUnitState(imei); s != "faulty in_return ALM-CAP" {
			t.Fatalf("%s is %q after dispatch", imei, s)
		}
	}

	// The warehouse: the box is in its inbox; it scans two of three.
	wh := e.webClient()
	wh.login(emailWarehouse)
	inbox := wh.get("/warehouse")
	wantPage(t, inbox, http.StatusOK, "Devoluciones por recibir (1)", `href="`+path+`"`)
	page = wh.get(path)
	wantPage(t, page, http.StatusOK, `id="receive-form"`, "Recibir la devolución")
	wantNot(t, page, "/endorsement") // the warehouse reads no repair documents
	autofocused(t, page, "scan-imeis")
	res = wh.submit(page, path+"/receive", url.Values{"imeis": {faulty[0] + "\n123"}})
	wantPage(t, res, http.StatusBadRequest, "<li>123: no es un IMEI válido")
	res = wh.submit(page, path+"/receive", url.Values{"imeis": {faulty[0] + "\n" + faulty[1]}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("receive: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = wh.follow(res)
	wantPage(t, page, http.StatusOK, "Devolución recibida con discrepancias (1)", "Recibida con discrepancias", "Abiertas: 1",
		`id="discrepancy-`, faulty[2]+`</span> <span class="badge discrepancy-badge discrepancy-missing">Faltante`)
	wantNot(t, page, `id="receive-form"`)
	autofocused(t, page, "note-"+regexp.MustCompile(`id="note-([0-9a-f-]{36})"`).FindStringSubmatch(page.Body)[1])
	for i, want := range []string{"faulty returned ALM-CAP", "faulty returned ALM-CAP", "faulty in_return ALM-CAP"} {
		if s := e.invUnitState(faulty[i]); s != want {
			t.Fatalf("%s is %q, want %q", faulty[i], s, want)
		}
	}
	wantPage(t, wh.get("/warehouse"), http.StatusOK, "Devoluciones por recibir (0)", "Devoluciones con discrepancias abiertas (1)")

	// Both sides see the discrepancy; the manager resolves it, with a note.
	list := mgr.get("/returns")
	wantPage(t, list, http.StatusOK, "Recibida con discrepancias", "Abiertas: 1")
	page = mgr.get(path)
	wantPage(t, page, http.StatusOK, "Faltante", "Abierta", `class="form resolve-form"`)
	did := regexp.MustCompile(`id="note-([0-9a-f-]{36})"`).FindStringSubmatch(page.Body)[1]
	resolve := path + "/discrepancies/" + did + "/resolve"
	res = mgr.submit(page, resolve, url.Values{"note": {" "}})
	wantPage(t, res, http.StatusBadRequest, `id="note-`+did+`-error"`)
	autofocused(t, res, "note-"+did)
	wantPage(t, counter.submit(counter.get(path), resolve, url.Values{"note": {"x"}}), http.StatusForbidden)
	res = mgr.submit(page, resolve, url.Values{"note": {"Quedó en el centro; sale en la próxima caja."}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("resolve: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = mgr.follow(res)
	wantPage(t, page, http.StatusOK, "Discrepancia de "+faulty[2]+" resuelta.", "Resuelta", "Quedó en el centro; sale en la próxima caja.")
	wantNot(t, page, `class="form resolve-form"`)
	res = mgr.submit(page, resolve, url.Values{"note": {"otra vez"}})
	wantPage(t, res, http.StatusConflict, "Esa discrepancia ya estaba resuelta.")
	wantPage(t, wh.get(path), http.StatusOK, "Quedó en el centro; sale en la próxima caja.")
	wantPage(t, wh.get("/warehouse"), http.StatusOK, "Devoluciones con discrepancias abiertas (0)")

	// Another centre does not see the shipment.
	other := e.webClient()
	other.login(emailCounter2)
	wantPage(t, other.get(path), http.StatusNotFound)
	wantPage(t, other.get(path+"/packing-list"), http.StatusNotFound)
}

func TestWebRestockFlow(t *testing.T) {
	e := newTestEnv(t)
	mgr := e.webClient()
	mgr.login(emailManager)
	page := mgr.get("/restock")

	// Lines that do not read are said beside them.
	res := mgr.submit(page, "/restock", url.Values{"model.0": {"Moto G24"}, "quantity.0": {"2"}, "model.1": {""}, "quantity.1": {"3"},
		"model.2": {"SM-A155M"}, "quantity.2": {"muchos"}})
	wantPage(t, res, http.StatusBadRequest, `id="model-1-error"`, "escriba el modelo", `id="quantity-2-error"`, "debe ser un número entero",
		`value="Moto G24"`)
	autofocused(t, res, "model-1")
	res = mgr.submit(page, "/restock", url.Values{"model.0": {""}, "quantity.0": {""}})
	wantPage(t, res, http.StatusBadRequest, "escriba al menos un modelo y su cantidad")
	res = mgr.submit(page, "/restock", url.Values{"model.0": {"Moto G24"}, "quantity.0": {"0"}})
	wantPage(t, res, http.StatusBadRequest, `id="quantity-0-error"`)

	// The request: two Moto G24 for the warehouse.
	res = mgr.submit(page, "/restock", url.Values{"model.0": {"Moto G24"}, "quantity.0": {"2"}, "note": {"Para la campaña de fin de mes"}})
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/restock/") {
		t.Fatalf("request: %d %q %s", res.Status, res.Location, res.Body)
	}
	path := res.Location
	page = mgr.follow(res)
	wantPage(t, page, http.StatusOK, "Pedido agregado a la solicitud RST-CCS-01-", "Abierta", "<th scope=\"row\">Moto G24</th><td class=\"num\">2</td><td>pedido del gerente",
		"Para la campaña de fin de mes")
	wantNot(t, page, `id="fulfil-form"`, `id="receive-form"`)
	wantPage(t, mgr.get("/restock"), http.StatusOK, "2 × Moto G24", "Abierta")

	// The warehouse: in its inbox; it scans units of its stock; one that is not fails.
	wh := e.webClient()
	wh.login(emailWarehouse)
	wantPage(t, wh.get("/warehouse"), http.StatusOK, "Solicitudes de reposición por atender (1)", `href="`+path+`"`)
	page = wh.get(path)
	wantPage(t, page, http.StatusOK, `id="fulfil-form"`, `id="reject-form"`)
	autofocused(t, page, "scan-imeis")
	shelf := e.invDemoUnits("ALM-CAP", "Moto G24")
	atCentre := e.invDemoUnits("CCS-01", "Moto G24")[0]
	res = wh.submit(page, path+"/fulfil", url.Values{"imeis": {shelf[0] + "\n" + atCentre}})
	wantPage(t, res, http.StatusUnprocessableEntity, "<li>"+atCentre+": no es un equipo de respaldo en existencia en el almacén de la solicitud</li>")
	res = wh.submit(page, path+"/fulfil", url.Values{"imeis": {shelf[0] + "\n" + shelf[1]}})
	if res.Status != http.StatusSeeOther || res.Location != path {
		t.Fatalf("fulfil: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = wh.follow(res)
	wantPage(t, page, http.StatusOK, "Equipos enviados al centro: 2.", "Enviada", "Equipos enviados (2; 2 en camino)", shelf[0], shelf[1])
	wantNot(t, page, `id="fulfil-form"`, `id="receive-form"`)
	if s := e.invUnitState(shelf[0]); s != "backup in_transit CCS-01" {
		t.Fatalf("%s is %q", shelf[0], s)
	}
	counterStock := e.webClient()
	counterStock.login(emailCounter)
	wantPage(t, counterStock.get("/stock"), http.StatusOK, `<tr class="" data-model="Moto G24">
    <th scope="row">Moto G24</th>
    <td class="num">2</td>
    <td class="num">2</td>`)

	// The centre scans them in, one at a time.
	page = counterStock.get(path)
	wantPage(t, page, http.StatusOK, `id="receive-form"`, "Equipos en camino: 2.")
	autofocused(t, page, "scan-imeis")
	res = counterStock.submit(page, path+"/receive", url.Values{"imeis": {shelf[2]}})
	wantPage(t, res, http.StatusUnprocessableEntity, "<li>"+shelf[2]+": no se envió para esta solicitud")
	res = counterStock.submit(page, path+"/receive", url.Values{"scan_imeis": {shelf[0]}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("receive: %d %s", res.Status, res.Body)
	}
	page = counterStock.follow(res)
	wantPage(t, page, http.StatusOK, "Equipos recibidos. Aún en camino: 1.", "Equipos enviados (2; 1 en camino)", `id="receive-form"`)
	res = counterStock.submit(page, path+"/receive", url.Values{"imeis": {shelf[1]}})
	page = counterStock.follow(res)
	wantPage(t, page, http.StatusOK, "Equipos recibidos: 1. Ya están en existencia.", "Recibida", "Tiempo de reposición")
	wantNot(t, page, `id="receive-form"`)
	if s := e.invUnitState(shelf[1]); s != "backup in_stock CCS-01" {
		t.Fatalf("%s is %q", shelf[1], s)
	}

	// A new request, rejected by the warehouse with a reason the centre reads.
	page = mgr.get("/restock")
	res = mgr.submit(page, "/restock", url.Values{"model.0": {"SM-A155M"}, "quantity.0": {"10"}})
	path = res.Location
	page = wh.get(path)
	res = wh.submit(page, path+"/reject", url.Values{"reason": {""}})
	wantPage(t, res, http.StatusBadRequest, `id="reason-error"`, `<details class="danger-zone void" open>`)
	autofocused(t, res, "reason")
	res = wh.submit(page, path+"/reject", url.Values{"reason": {"Sin existencia de SM-A155M hasta el próximo lote"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("reject: %d %s", res.Status, res.Body)
	}
	wantPage(t, mgr.get(path), http.StatusOK, "Rechazada", "Sin existencia de SM-A155M hasta el próximo lote")
	wantPage(t, mgr.get("/restock?status=rejected"), http.StatusOK, "Rechazada")
	wantPage(t, wh.submit(page, path+"/fulfil", url.Values{"imeis": {shelf[2]}}), http.StatusConflict, "La solicitud ya no está abierta")
}

func TestWebInventoryCSRFRefused(t *testing.T) {
	e := newTestEnv(t)
	_, id := e.webRepairAt()
	backup := e.invDemoUnits("CCS-01", "SM-A155M")[0]
	for _, tc := range []struct {
		email, path string
		form        url.Values
	}{
		{emailTech, "/repairs/" + id + "/swap", url.Values{"backup_imei": {backup}}},
		{emailManager, "/returns", url.Values{"imeis": {backup}}},
		{emailManager, "/restock", url.Values{"model.0": {"Moto G24"}, "quantity.0": {"1"}}},
		{emailWarehouse, "/units/register", url.Values{"brand": {"Samsung"}, "model": {"SM-A155M"}, "location_code": {"ALM-CAP"}, "imeis": {invIMEI(4, 1)}}},
	} {
		w := e.webClient()
		w.login(tc.email)
		res := w.post(tc.path, tc.form)
		wantPage(t, res, http.StatusForbidden, "El formulario caducó")
		tc.form.Set("csrf_token", "forged")
		wantPage(t, w.post(tc.path, tc.form), http.StatusForbidden)
	}
	var n int64
	for _, table := range []string{"swaps", "return_shipments", "restock_requests"} {
		if err := e.DB.Table(table).Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("%s: %d rows (%v)", table, n, err)
		}
	}
	if s := e.invUnitState(invIMEI(4, 1)); s != "" {
		t.Fatalf("a forged registration registered %q", s)
	}
	if s := e.invUnitState(backup); s != "backup in_stock CCS-01" {
		t.Fatalf("a forged swap moved %s: %q", backup, s)
	}
}
