package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"centros/models"

	"centros/pdf/pdftest"
)

// testIMEI makes the n-th valid IMEI of a series.
func testIMEI(series, n int) string { return models.IMEI(fmt.Sprintf("35%06d%06d", series, n)) }

// registerUnits registers backup devices at a location as admin and returns their IMEIs.
func (e *testEnv) registerUnits(location, model string, series, from, n int) []string {
	e.t.Helper()
	var imeis []string
	for i := range n {
		imeis = append(imeis, testIMEI(series, from+i))
	}
	res := wantStatus(e.t, e.do(http.MethodPost, "/api/v1/admin/units/batch", e.token(emailAdmin), map[string]any{
		"brand": "Motorola", "model": model, "kind": "backup", "location_code": location, "imeis": imeis}), http.StatusOK)
	if len(res["registered"].([]any)) != n {
		e.t.Fatalf("registered %v", res)
	}
	return imeis
}

// inventoryScene is what the access table needs of the inventory, all at CCS-01: a
// swap CSM confirmed, a return received with its one discrepancy resolved, and a
// restock request received.
type inventoryScene struct {
	swapID, returnID, discrepancyID, restockID string
}

func (e *testEnv) inventoryScene(mon time.Time) inventoryScene {
	e.t.Helper()
	var sc inventoryScene
	e.registerUnits("CCS-01", "Moto G24", 20, 1, 1)
	wh := e.registerUnits("ALM-CAP", "Moto G24", 21, 1, 1)
	id := e.repairAt("ACC-SWAP-1", aptAt(mon, 0, 11, 30))
	e.readyRepair(id)
	sw := wantStatus(e.t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/swap", e.token(emailTech), map[string]any{"model": "Moto G24"}), http.StatusCreated)
	sc.swapID = str(sw["swap_id"])
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+sc.swapID, e.CSMToken, map[string]any{"status": "confirmed"}), http.StatusOK)
	mgr := e.token(emailManager)
	ret := wantStatus(e.t, e.do(http.MethodPost, "/api/v1/returns", mgr, map[string]any{"imeis": []string{str(sw["faulty_imei"])}}), http.StatusCreated)
	sc.returnID = str(ret["id"])
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/returns/"+sc.returnID+"/dispatch", mgr, nil), http.StatusOK)
	ret = wantStatus(e.t, e.do(http.MethodPost, "/api/v1/returns/"+sc.returnID+"/receive", e.token(emailWarehouse), map[string]any{"scanned_imeis": []string{}}), http.StatusOK)
	sc.discrepancyID = str(obj(ret["discrepancies"].([]any)[0])["id"])
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/returns/"+sc.returnID+"/discrepancies/"+sc.discrepancyID+"/resolve", mgr, map[string]any{"note": "apareció"}), http.StatusOK)
	reqs := items(e.t, wantStatus(e.t, e.do(http.MethodGet, "/api/v1/restock-requests?status=open", mgr, nil), http.StatusOK))
	sc.restockID = str(reqs[0]["id"])
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/restock-requests/"+sc.restockID+"/fulfil", e.token(emailWarehouse), map[string]any{"imeis": wh}), http.StatusOK)
	wantStatus(e.t, e.do(http.MethodPost, "/api/v1/restock-requests/"+sc.restockID+"/receive", e.token(emailCounter), map[string]any{"imeis": wh}), http.StatusOK)
	return sc
}

// TestInventoryAPI walks the life of backup devices through the HTTP API: registration
// by scanning, a swap, CSM's answers, the endorsement, a return with a discrepancy, and
// a restock, with the refusals on the way.
func TestInventoryAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mon := aptMonday()
	e.SetNow(aptAt(mon, 0, 8, 0))
	adm, wh, tech, mgr, counter := e.token(emailAdmin), e.token(emailWarehouse), e.token(emailTech), e.token(emailManager), e.token(emailCounter)

	// registration: the good ones in, the rest refused one by one
	good := testIMEI(30, 1)
	res := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/units/batch", wh, map[string]any{"brand": "Motorola", "model": "Moto G24",
		"kind": "backup", "location_code": "CCS-01", "imeis": []string{good, "35000000000000", good, testIMEI(30, 2)}}), http.StatusOK)
	if len(res["registered"].([]any)) != 2 || len(res["refused"].([]any)) != 2 {
		t.Fatalf("batch %v", res)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/units", adm, map[string]any{"imei": good, "brand": "Motorola", "model": "Moto G24",
		"kind": "backup", "location_code": "CCS-01"}), http.StatusConflict, "already_registered")
	u := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/units", adm, map[string]any{"imei": testIMEI(30, 3), "brand": "Nokia", "model": "Nokia 105",
		"kind": "backup", "location_code": "ALM-CAP"}), http.StatusCreated)
	if u["state"] != "in_stock" || u["warehouse_code"] != "ALM-CAP" {
		t.Fatalf("unit %v", u)
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/admin/units", adm, map[string]any{"imei": testIMEI(30, 4), "brand": "Nokia", "model": "Nokia 105",
		"kind": "backup", "location_code": "NOPE"}), http.StatusUnprocessableEntity, "unknown_location")

	// the swap, and the line on a backup device
	id := e.repairAt("INV-API-0001", aptAt(mon, 0, 8, 0))
	e.readyRepair(id)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/swap", tech, map[string]any{"model": "Nokia 105"}), http.StatusConflict, "no_stock")
	wantProblem(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/swap", tech, map[string]any{"backup_imei": testIMEI(30, 3)}), http.StatusConflict, "unit_not_available")
	res2 := e.do(http.MethodPost, "/api/v1/repairs/"+id+"/swap", tech, map[string]any{"backup_imei": good}, "Idempotency-Key", "swap-1")
	sw := wantStatus(t, res2, http.StatusCreated)
	if sw["backup_imei"] != good || sw["faulty_imei"] != aptIMEI || sw["status"] != "requested" || sw["endorsement_url"] != "/api/v1/swaps/"+str(sw["swap_id"])+"/endorsement.pdf" {
		t.Fatalf("swap %v", sw)
	}
	if again := e.do(http.MethodPost, "/api/v1/repairs/"+id+"/swap", tech, map[string]any{"backup_imei": good}, "Idempotency-Key", "swap-1"); string(again.Body) != string(res2.Body) {
		t.Fatalf("the retried swap did not replay: %s", again.Body)
	}
	swapID := str(sw["swap_id"])
	pdf := e.do(http.MethodGet, str(sw["endorsement_url"]), counter, nil)
	if pdf.Status != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("endorsement %d", pdf.Status)
	}
	if text := pdftest.Words(t, pdf.Body); !strings.Contains(text, good) || !strings.Contains(text, aptIMEI) || !strings.Contains(text, "INV-API-0001") {
		t.Fatalf("endorsement text %s", text)
	}
	wantProblem(t, e.do(http.MethodGet, str(sw["endorsement_url"]), e.token(emailCounter2), nil), http.StatusNotFound, "not_found")

	// CSM fails it; the same answer twice; the centre retries; CSM confirms
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+swapID, e.CSMToken, map[string]any{"status": "failed", "detail": "sin cobertura"}), http.StatusOK)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+swapID, e.CSMToken, map[string]any{"status": "failed", "detail": "sin cobertura"}), http.StatusOK)
	if tk := wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/INV-API-0001", counter, nil), http.StatusOK); obj(tk["swap"])["status"] != "failed" {
		t.Fatalf("ticket's swap %v", tk["swap"])
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+swapID, e.CSMToken, map[string]any{"status": "lost"}), http.StatusBadRequest, "validation_failed")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/swaps/"+swapID+"/retry", tech, nil), http.StatusOK)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/csm/service-changes/"+swapID, e.CSMToken, map[string]any{"status": "confirmed"}), http.StatusOK)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/swaps/"+swapID+"/undo", tech, map[string]any{"reason": "x"}), http.StatusConflict, "swap_confirmed")
	cert := wantStatus(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", tech, map[string]any{"outcome": "swapped"}), http.StatusCreated)
	if cert["outcome"] != "swapped" {
		t.Fatalf("certificate %v", cert)
	}
	unit := wantStatus(t, e.do(http.MethodGet, "/api/v1/units/"+good, counter, nil), http.StatusOK)
	if unit["state"] != "assigned" || len(unit["movements"].([]any)) != 2 {
		t.Fatalf("unit %v", unit)
	}
	st := wantStatus(t, e.do(http.MethodGet, "/api/v1/centres/CCS-01/stock", wh, nil), http.StatusOK)
	if st["faulty_received"] != float64(1) || st["assigned"] != float64(1) {
		t.Fatalf("stock %v", st)
	}

	// the handset goes back to the warehouse, which misses nothing but finds a stranger
	wantProblem(t, e.do(http.MethodPost, "/api/v1/returns", counter, map[string]any{"imeis": []string{aptIMEI}}), http.StatusForbidden, "forbidden")
	p := wantProblem(t, e.do(http.MethodPost, "/api/v1/returns", mgr, map[string]any{"imeis": []string{aptIMEI, good}}), http.StatusUnprocessableEntity, "unit_not_returnable")
	if fe := obj(p["errors"].([]any)[0]); fe["field"] != "imeis[1]" {
		t.Fatalf("errors %v", p["errors"])
	}
	wantProblem(t, e.do(http.MethodPost, "/api/v1/returns", mgr, map[string]any{"imeis": []string{"123"}}), http.StatusBadRequest, "validation_failed")
	ret := wantStatus(t, e.do(http.MethodPost, "/api/v1/returns", mgr, map[string]any{"imeis": []string{aptIMEI}}), http.StatusCreated)
	retID := str(ret["id"])
	ret = wantStatus(t, e.do(http.MethodPost, "/api/v1/returns/"+retID+"/dispatch", mgr, nil), http.StatusOK)
	pl := e.do(http.MethodGet, str(ret["packing_list_url"]), wh, nil)
	if pl.Status != http.StatusOK || !strings.Contains(pdftest.Words(t, pl.Body), aptIMEI) {
		t.Fatalf("packing list %d", pl.Status)
	}
	stranger := testIMEI(31, 1)
	ret = wantStatus(t, e.do(http.MethodPost, "/api/v1/returns/"+retID+"/receive", wh, map[string]any{"scanned_imeis": []string{aptIMEI, stranger}}), http.StatusOK)
	if ret["status"] != "received_with_discrepancies" || len(ret["unexpected"].([]any)) != 1 || len(ret["missing"].([]any)) != 0 {
		t.Fatalf("received %v", ret)
	}
	list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/returns?status=received_with_discrepancies", mgr, nil), http.StatusOK))
	if len(list) != 1 {
		t.Fatalf("returns %v", list)
	}
	wantProblem(t, e.do(http.MethodGet, "/api/v1/returns?status=lost", mgr, nil), http.StatusBadRequest, "validation_failed")

	// restock: the swap's line, fulfilled from the warehouse and received by scanning
	reqs := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/restock-requests?status=open&centre_code=CCS-01", wh, nil), http.StatusOK))
	if len(reqs) != 1 || obj(reqs[0]["lines"].([]any)[0])["origin"] != "swap" {
		t.Fatalf("restock %v", reqs)
	}
	rid := str(reqs[0]["id"])
	wantProblem(t, e.do(http.MethodPost, "/api/v1/restock-requests/"+rid+"/fulfil", wh, map[string]any{"imeis": []string{good}}), http.StatusUnprocessableEntity, "unit_not_available")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/restock-requests/"+rid+"/fulfil", wh, map[string]any{"imeis": []string{testIMEI(30, 3)}}), http.StatusOK)
	r := wantStatus(t, e.do(http.MethodPost, "/api/v1/restock-requests/"+rid+"/receive", counter, map[string]any{"imeis": []string{testIMEI(30, 3)}}), http.StatusOK)
	if r["status"] != "received" || r["lead_time_hours"] == nil {
		t.Fatalf("received %v", r)
	}
	manual := wantStatus(t, e.do(http.MethodPost, "/api/v1/restock-requests", mgr, map[string]any{"lines": []any{map[string]any{"model": "Nokia 105", "quantity": 2}}}), http.StatusCreated)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/restock-requests/"+str(manual["id"])+"/reject", wh, map[string]any{}), http.StatusBadRequest, "validation_failed")
	wantStatus(t, e.do(http.MethodPost, "/api/v1/restock-requests/"+str(manual["id"])+"/reject", wh, map[string]any{"reason": "sin existencias"}), http.StatusOK)
	wantProblem(t, e.do(http.MethodPost, "/api/v1/restock-requests", mgr, map[string]any{"lines": []any{map[string]any{"model": "X", "quantity": 0}}}), http.StatusBadRequest, "validation_failed")
}
