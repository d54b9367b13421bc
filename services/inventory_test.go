package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"centros/models"
	"centros/services"

	"centros/pdf/pdftest"
)

// ifx is the inventory fixture: the bench fixture with a warehouse account and the
// inventory service.
type ifx struct {
	*rfx
	inv    *services.Inventory
	whP    models.Principal
	serial int
}

func newIfx(t *testing.T) *ifx {
	t.Helper()
	f := newRfx(t)
	u := newStaff(t, f.env, f.o, "deposito@example.com", models.RoleWarehouse, "", f.o.almCap.Code)
	return &ifx{rfx: f, inv: services.NewInventory(f.deps), whP: models.Principal{UserID: u.ID, Name: u.Name, Email: u.Email,
		Role: models.RoleWarehouse, WarehouseID: f.o.almCap.ID, WarehouseCode: f.o.almCap.Code, BusinessUnitID: f.o.cap.ID}}
}

// slotN is the Monday slot of the i-th of many appointments, two to a slot (the
// centre's counters), around the lunch break.
func slotN(i int) time.Time {
	slot := mon(8, 0).Add(time.Duration(i/2) * 30 * time.Minute)
	if slot.Hour() >= 12 {
		slot = slot.Add(time.Hour)
	}
	return slot
}

// imei makes the n-th valid IMEI of a series.
func imei(series, n int) string { return models.IMEI(fmt.Sprintf("35%06d%06d", series, n)) }

// stock registers n backup devices of model at location, as admin, and returns their IMEIs.
func (f *ifx) stock(t *testing.T, location, model string, n int) []string {
	t.Helper()
	var imeis []string
	for range n {
		f.serial++
		imeis = append(imeis, imei(7, f.serial))
	}
	res, err := f.inv.RegisterUnits(context.Background(), f.o.admin, models.UnitsInput{Brand: "Motorola", Model: model, Kind: "backup",
		LocationCode: location, IMEIs: imeis})
	if err != nil || len(res.Registered) != n {
		t.Fatalf("register %d at %s: %v %+v", n, location, err, res)
	}
	return imeis
}

func (f *ifx) setMinimum(t *testing.T, model string, n int) {
	t.Helper()
	f.exec(t, "INSERT INTO centre_min_stock (centre_id, model, quantity) VALUES (?, ?, ?) ON CONFLICT (centre_id, model) DO UPDATE SET quantity = EXCLUDED.quantity",
		f.o.ccs01.ID, model, n)
}

// ledgerHolds checks, in SQL, what the ledger promises whatever happened: every unit is
// where its last movement put it; counting the ledger's moves in and out of each place
// gives what each place holds; each movement starts where the one before it ended; and
// no backup device is in two live swaps, nor assigned without one.
func (f *ifx) ledgerHolds(t *testing.T) {
	t.Helper()
	if n := f.count(t, `SELECT count(*) FROM inventory_units u JOIN LATERAL (SELECT * FROM stock_movements m WHERE m.unit_id = u.id
			ORDER BY m.id DESC LIMIT 1) last ON true
		WHERE (u.kind, u.state, u.location, u.centre_id, u.warehouse_id) IS DISTINCT FROM
			(last.kind, last.to_state, last.to_location, last.to_centre_id, last.to_warehouse_id)`); n != 0 {
		t.Errorf("%d units are not where their last movement put them", n)
	}
	if n := f.count(t, `SELECT count(*) FROM inventory_units u WHERE NOT EXISTS (SELECT FROM stock_movements WHERE unit_id = u.id)`); n != 0 {
		t.Errorf("%d units without a movement", n)
	}
	if n := f.count(t, `SELECT count(*) FROM stock_movements m JOIN LATERAL (SELECT * FROM stock_movements p WHERE p.unit_id = m.unit_id
			AND p.id < m.id ORDER BY p.id DESC LIMIT 1) prev ON true
		WHERE (m.from_state, m.from_location, m.from_centre_id, m.from_warehouse_id) IS DISTINCT FROM
			(prev.to_state, prev.to_location, prev.to_centre_id, prev.to_warehouse_id)`); n != 0 {
		t.Errorf("%d movements do not start where the unit's previous one ended", n)
	}
	var diff []struct {
		Place  string
		Ledger int
		Units  int
	}
	err := f.deps.DB.Raw(`WITH moves AS (
			SELECT concat_ws('/', kind, to_state, to_location, to_centre_id, to_warehouse_id) AS place, 1 AS delta FROM stock_movements
			UNION ALL
			SELECT concat_ws('/', (SELECT p.kind FROM stock_movements p WHERE p.unit_id = m.unit_id AND p.id < m.id ORDER BY p.id DESC LIMIT 1),
				from_state, from_location, from_centre_id, from_warehouse_id), -1 FROM stock_movements m WHERE from_state IS NOT NULL),
		ledger AS (SELECT place, sum(delta) AS n FROM moves GROUP BY place),
		units AS (SELECT concat_ws('/', kind, state, location, centre_id, warehouse_id) AS place, count(*) AS n FROM inventory_units GROUP BY 1)
		SELECT COALESCE(l.place, u.place) AS place, COALESCE(l.n, 0) AS ledger, COALESCE(u.n, 0) AS units
		FROM ledger l FULL JOIN units u ON u.place = l.place WHERE COALESCE(l.n, 0) <> COALESCE(u.n, 0)`).Scan(&diff).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("at %s the ledger sums to %d, the units number %d", d.Place, d.Ledger, d.Units)
	}
	if n := f.count(t, `SELECT count(*) FROM inventory_units u WHERE u.state = 'assigned' AND u.kind = 'backup'
		AND (SELECT count(*) FROM swaps s WHERE s.backup_unit_id = u.id AND s.status <> 'undone') <> 1
		AND EXISTS (SELECT FROM swaps s WHERE s.backup_unit_id = u.id)`); n != 0 {
		t.Errorf("%d assigned backup devices without exactly one live swap", n)
	}
	if n := f.count(t, `SELECT count(*) FROM swaps s JOIN inventory_units u ON u.id = s.backup_unit_id
		WHERE s.status <> 'undone' AND u.state <> 'assigned'`); n != 0 {
		t.Errorf("%d live swaps whose backup device is not with the customer", n)
	}
}

func TestRegisterUnits(t *testing.T) {
	f := newIfx(t)
	ctx := context.Background()
	existing := f.stock(t, "ALM-CAP", "Moto G24", 1)[0]
	good1, good2 := imei(8, 1), imei(8, 2)
	bad := good1[:14] + strconv.Itoa((int(good1[14]-'0')+1)%10)
	res, err := f.inv.RegisterUnits(ctx, f.whP, models.UnitsInput{Brand: "Motorola", Model: "Moto G24", Kind: "backup", LocationCode: "ALM-CAP",
		IMEIs: []string{good1, bad, good1, existing, " " + good2 + " ", "12345"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range res.Registered {
		got = append(got, u.IMEI)
		if u.State != "in_stock" || u.Location != "warehouse" || *u.WarehouseCode != "ALM-CAP" || u.Kind != "backup" {
			t.Errorf("registered %+v", u)
		}
	}
	if !slices.Equal(got, []string{good1, good2}) {
		t.Fatalf("registered %v", got)
	}
	codes := map[string]string{}
	for _, r := range res.Refused {
		codes[r.IMEI] = r.Code
	}
	want := map[string]string{bad: "invalid_imei", good1: "scanned_twice", existing: "already_registered", "12345": "invalid_imei"}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("refused %v, want %v", codes, want)
	}
	u, err := f.inv.Unit(ctx, f.whP, good1)
	if err != nil || len(u.Movements) != 1 || u.Movements[0].Reason != "registered" || u.Movements[0].ActorName == nil {
		t.Fatalf("unit %+v %v", u, err)
	}
	// into a centre of the business unit, yes; elsewhere or by a counter, no
	f.stock(t, "CCS-01", "Moto G24", 1)
	_, err = f.inv.RegisterUnits(ctx, f.whP, models.UnitsInput{Brand: "X", Model: "Y", Kind: "backup", LocationCode: "NOPE", IMEIs: []string{imei(8, 3)}})
	wantErr(t, err, models.KindUnprocessable, "unknown_location")
	_, err = f.inv.RegisterUnits(ctx, f.counter, models.UnitsInput{Brand: "X", Model: "Y", Kind: "backup", LocationCode: "CCS-01", IMEIs: []string{imei(8, 3)}})
	wantErr(t, err, models.KindForbidden, "forbidden")
	_, err = f.inv.RegisterUnit(ctx, f.o.admin, models.UnitInput{IMEI: good2, Brand: "X", Model: "Y", Kind: "backup", LocationCode: "CCS-01"})
	wantErr(t, err, models.KindConflict, "already_registered")
	// the ledger is the only way to move a unit
	for _, sql := range []string{"UPDATE inventory_units SET state = 'assigned', location = 'customer', warehouse_id = NULL",
		"DELETE FROM inventory_units", "UPDATE stock_movements SET note = 'x'", "DELETE FROM stock_movements"} {
		if err := f.deps.DB.Exec(sql).Error; err == nil {
			t.Errorf("the database let through: %s", sql)
		}
	}
	f.ledgerHolds(t)
}

func TestSwap(t *testing.T) {
	f := newIfx(t)
	ctx := context.Background()
	const number = "CSM-2026-0080001"
	f.setMinimum(t, "Moto G24", 3)
	units := f.stock(t, "CCS-01", "Moto G24", 3)
	r := f.ready(t, f.checkedIn(t, number, mon(8, 0)))

	_, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{BackupIMEI: imei(9, 9)})
	wantErr(t, err, models.KindConflict, "unit_not_available")
	_, err = f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{Model: "Nokia 105"})
	wantErr(t, err, models.KindConflict, "no_stock")
	_, err = f.inv.Swap(ctx, f.counter, r.ID, models.SwapInput{Model: "Moto G24"})
	wantErr(t, err, models.KindForbidden, "forbidden")
	_, err = f.inv.Swap(ctx, at(models.RoleTechnician, f.o.ccs02), r.ID, models.SwapInput{Model: "Moto G24"})
	wantErr(t, err, models.KindNotFound, "not_found")

	sw, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{BackupIMEI: units[1]})
	if err != nil {
		t.Fatal(err)
	}
	if sw.Status != "requested" || sw.BackupIMEI != units[1] || sw.FaultyIMEI != ticketIMEI || sw.MSISDN != "+584161234567" ||
		sw.EndorsementURL != "/api/v1/swaps/"+sw.ID+"/endorsement.pdf" || !strings.HasPrefix(sw.Reference, "AVR-CCS-01-") {
		t.Fatalf("swap %+v", sw)
	}
	_, err = f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{Model: "Moto G24"})
	wantErr(t, err, models.KindConflict, "swap_exists")

	backup, _ := f.inv.Unit(ctx, f.techP, units[1])
	if backup.State != "assigned" || backup.Location != "customer" || *backup.TicketNumber != number || len(backup.Movements) != 2 ||
		backup.Movements[1].Reason != "swap_out" || *backup.Movements[1].SwapID != sw.ID {
		t.Fatalf("backup %+v", backup)
	}
	faulty, _ := f.inv.Unit(ctx, f.techP, ticketIMEI)
	if faulty.Kind != "faulty" || faulty.State != "received" || *faulty.CentreCode != "CCS-01" || faulty.Model != "SM-A155M" {
		t.Fatalf("faulty %+v", faulty)
	}
	ev := f.lastEvent(t, number)
	if ev.Type != "swap.service_change_requested" || ev.Data["swap_id"] != sw.ID || ev.Data["backup_imei"] != units[1] ||
		ev.Data["faulty_imei"] != ticketIMEI || ev.Data["msisdn"] != "+584161234567" || ev.Data["backup_model"] != "Moto G24" {
		t.Fatalf("event %+v", ev)
	}
	// the swap's line, and the top-up: minimum 3, 2 left, 1 asked for by the swap
	st, err := f.inv.Stock(ctx, f.mgrP, "CCS-01")
	if err != nil {
		t.Fatal(err)
	}
	moto := st.Backup[slices.IndexFunc(st.Backup, func(m models.ModelStock) bool { return m.Model == "Moto G24" })]
	if moto.InStock != 2 || moto.Requested != 1 || moto.Minimum != 3 || moto.Shortfall != 1 || st.FaultyReceived != 1 || st.Assigned != 1 {
		t.Fatalf("stock %+v", st)
	}
	reqs, _, _ := f.inv.ListRestock(ctx, f.mgrP, services.RestockFilter{}, services.Page{})
	if len(reqs) != 1 || len(reqs[0].Lines) != 1 || reqs[0].Lines[0].Origin != "swap" || *reqs[0].Lines[0].SwapID != sw.ID {
		t.Fatalf("restock %+v", reqs)
	}
	// the minimum rises to 4: a second swap leaves 1 with 2 asked for, so one more is
	// asked for the shortfall, once
	f.setMinimum(t, "Moto G24", 4)
	r2 := f.ready(t, f.checkedIn(t, "CSM-2026-0080002", mon(8, 30)))
	f.exec(t, "UPDATE repair_orders SET received_imei = ? WHERE id = ?", imei(5, 9), r2.ID)
	if _, err := f.inv.Swap(ctx, f.techP, r2.ID, models.SwapInput{Model: "Moto G24"}); err != nil {
		t.Fatal(err)
	}
	reqs, _, _ = f.inv.ListRestock(ctx, f.mgrP, services.RestockFilter{}, services.Page{})
	var origins []string
	total := 0
	for _, l := range reqs[0].Lines {
		origins = append(origins, l.Origin)
		total += l.Quantity
	}
	slices.Sort(origins)
	if len(reqs) != 1 || !slices.Equal(origins, []string{"below_minimum", "swap", "swap"}) || total != 3 {
		t.Fatalf("after the second swap: %d requests, lines %v, total %d", len(reqs), origins, total)
	}

	// the endorsement, as issued
	doc, err := f.inv.Endorsement(ctx, f.counter, sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(doc.Body); doc.Name != sw.Reference+".pdf" || doc.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("endorsement %s, hash %s of bytes hashing to %x", doc.Name, doc.SHA256, sum)
	}
	text := pdftest.Words(t, doc.Body)
	for _, want := range []string{sw.Reference, number, units[1], ticketIMEI, "Moto G24", "SM-A155M", "Transportes Ávila C.A.", "+584161234567", "Firma del cliente"} {
		if !strings.Contains(text, want) {
			t.Errorf("the endorsement does not show %q", want)
		}
	}

	// certified as repaired it cannot be: the line is on the backup device
	_, err = f.certify(r)
	wantErr(t, err, models.KindUnprocessable, "swap_active")
	cert, err := f.repairs.Certify(ctx, f.techP, r.ID, models.CertifyInput{Outcome: models.OutcomeSwapped})
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ = f.repairs.CertificatePDF(ctx, f.techP, cert.Number)
	if text := pdftest.Words(t, doc.Body); !strings.Contains(text, units[1]) || !strings.Contains(text, "Reemplazado por equipo de respaldo") {
		t.Fatalf("the certificate does not show the backup device: %s", text)
	}
	if tk := f.getTicket(t, number); tk.Swap == nil || tk.Swap.ID != sw.ID || *tk.Outcome != "swapped" {
		t.Fatalf("ticket's swap %+v", tk.Swap)
	}
	f.ledgerHolds(t)
}

// Twenty technicians swap at once for five units of the model: five get one each, the
// rest hear there is no stock, and no unit goes to two customers.
func TestSwapConcurrent(t *testing.T) {
	f := newIfx(t)
	f.stock(t, "CCS-01", "Moto G24", 5)
	var appts []*models.Appointment
	for i := range 20 {
		appts = append(appts, f.booked(t, fmt.Sprintf("CSM-2026-00810%02d", i), slotN(i)))
	}
	f.now = mon(16, 0).UTC()
	var repairs []*models.RepairOrder
	for i, a := range appts {
		r := f.arrive(t, a)
		f.exec(t, "UPDATE repair_orders SET received_imei = ? WHERE id = ?", imei(3, i), r.ID)
		repairs = append(repairs, r)
	}
	errs := make([]error, len(repairs))
	swaps := make([]*models.Swap, len(repairs))
	together(len(repairs), func(i int) {
		swaps[i], errs[i] = f.inv.Swap(context.Background(), f.techP, repairs[i].ID, models.SwapInput{Model: "Moto G24"})
	})
	var won []string
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, swaps[i].BackupIMEI)
		case models.ErrorCode(err) != "no_stock":
			t.Errorf("swap %d: %v", i, err)
		}
	}
	slices.Sort(won)
	if len(won) != 5 || len(slices.Compact(slices.Clone(won))) != 5 {
		t.Fatalf("units assigned: %v", won)
	}
	if n := f.count(t, "SELECT count(*) FROM inventory_units WHERE kind = 'backup' AND state = 'in_stock'"); n != 0 {
		t.Fatalf("%d units left in stock", n)
	}
	f.ledgerHolds(t)
}

func TestServiceChangeAndUndo(t *testing.T) {
	f := newIfx(t)
	ctx := context.Background()
	const number = "CSM-2026-0080010"
	units := f.stock(t, "CCS-01", "Moto G24", 2)
	r := f.ready(t, f.checkedIn(t, number, mon(8, 0)))
	sw, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{Model: "Moto G24"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.inv.ServiceChange(ctx, f.techP, sw.ID, models.ServiceChangeInput{Status: "failed"})
	wantErr(t, err, models.KindForbidden, "forbidden")
	_, err = f.inv.RetrySwap(ctx, f.techP, sw.ID)
	wantErr(t, err, models.KindConflict, "swap_not_failed")

	// failed, twice (the second changes nothing), then asked again
	failed, err := f.inv.ServiceChange(ctx, f.o.csm, sw.ID, models.ServiceChangeInput{Status: "failed", Detail: "línea suspendida"})
	if err != nil || failed.Status != "failed" || *failed.Detail != "línea suspendida" || failed.SettledAt == nil {
		t.Fatalf("failed: %+v %v", failed, err)
	}
	audits := f.count(t, "SELECT count(*) FROM audit_log")
	if again, err := f.inv.ServiceChange(ctx, f.o.csm, sw.ID, models.ServiceChangeInput{Status: "failed", Detail: "línea suspendida"}); err != nil || again.Version != failed.Version {
		t.Fatalf("the same answer again: %+v %v", again, err)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log"); n != audits {
		t.Fatal("the repeated answer changed something")
	}
	_, err = f.repairs.Certify(ctx, f.techP, r.ID, models.CertifyInput{Outcome: models.OutcomeSwapped})
	wantErr(t, err, models.KindUnprocessable, "swap_failed")
	retried, err := f.inv.RetrySwap(ctx, f.techP, sw.ID)
	if err != nil || retried.Status != "requested" || retried.Requests != 2 {
		t.Fatalf("retried %+v %v", retried, err)
	}
	if ev := f.lastEvent(t, number); ev.Type != "swap.service_change_requested" || ev.Data["request"] != float64(2) {
		t.Fatalf("event %+v", ev)
	}
	if _, err := f.inv.ServiceChange(ctx, f.o.csm, sw.ID, models.ServiceChangeInput{Status: "failed"}); err != nil {
		t.Fatal(err)
	}
	// undone: the backup device back in stock, the handset back to its owner
	_, err = f.inv.UndoSwap(ctx, f.techP, sw.ID, " ")
	wantErr(t, err, models.KindInvalid, "validation_failed")
	undone, err := f.inv.UndoSwap(ctx, f.techP, sw.ID, "el cliente prefiere esperar la reparación")
	if err != nil || undone.Status != "undone" || undone.UndoneAt == nil {
		t.Fatalf("undone %+v %v", undone, err)
	}
	backup, _ := f.inv.Unit(ctx, f.techP, sw.BackupIMEI)
	if backup.State != "in_stock" || len(backup.Movements) != 3 || backup.Movements[2].Reason != "swap_undone" {
		t.Fatalf("backup %+v", backup)
	}
	faulty, _ := f.inv.Unit(ctx, f.techP, ticketIMEI)
	if faulty.State != "handed_back" || faulty.Location != "customer" {
		t.Fatalf("faulty %+v", faulty)
	}
	if ev := f.lastEvent(t, number); ev.Type != "swap.undone" {
		t.Fatalf("event %+v", ev)
	}
	reqs, _, _ := f.inv.ListRestock(ctx, f.mgrP, services.RestockFilter{Status: "open"}, services.Page{})
	if len(reqs) != 1 || reqs[0].Lines[0].Quantity != 0 {
		t.Fatalf("the undone swap's line still asks: %+v", reqs)
	}
	_, err = f.inv.UndoSwap(ctx, f.techP, sw.ID, "otra vez")
	wantErr(t, err, models.KindConflict, "swap_undone")

	// a new swap for the same repair, with the handset taken in again; confirmed, it
	// cannot be undone, and a contrary answer is refused
	sw2, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{BackupIMEI: units[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.inv.ServiceChange(ctx, f.o.csm, sw2.ID, models.ServiceChangeInput{Status: "confirmed"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.inv.ServiceChange(ctx, f.o.csm, sw2.ID, models.ServiceChangeInput{Status: "failed"})
	wantErr(t, err, models.KindConflict, "service_change_settled")
	_, err = f.inv.UndoSwap(ctx, f.techP, sw2.ID, "no")
	wantErr(t, err, models.KindConflict, "swap_confirmed")
	_, err = f.inv.ServiceChange(ctx, f.o.csm, "6f1c1b8e-0000-4000-8000-000000000000", models.ServiceChangeInput{Status: "confirmed"})
	wantErr(t, err, models.KindNotFound, "not_found")
	f.ledgerHolds(t)
}

func TestReturnShipment(t *testing.T) {
	f := newIfx(t)
	ctx := context.Background()
	f.stock(t, "CCS-01", "Moto G24", 2)
	var faulty []string
	for i, slot := range []time.Time{mon(8, 0), mon(8, 30)} {
		r := f.ready(t, f.checkedIn(t, fmt.Sprintf("CSM-2026-00820%02d", i), slot))
		// each customer brought a different handset
		f.exec(t, "UPDATE repair_orders SET received_imei = ? WHERE id = ?", imei(5, i), r.ID)
		sw, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{Model: "Moto G24"})
		if err != nil {
			t.Fatal(err)
		}
		faulty = append(faulty, sw.FaultyIMEI)
	}
	backupIMEI := imei(7, 1)
	_, err := f.inv.CreateReturn(ctx, f.mgrP, []string{faulty[0], backupIMEI, imei(9, 1)})
	e := wantErr(t, err, models.KindUnprocessable, "unit_not_returnable")
	if len(e.Fields) != 2 || e.Fields[0].Field != "imeis[1]" || e.Fields[1].Field != "imeis[2]" {
		t.Fatalf("fields %+v", e.Fields)
	}
	_, err = f.inv.CreateReturn(ctx, f.counter, faulty)
	wantErr(t, err, models.KindForbidden, "forbidden")

	ret, err := f.inv.CreateReturn(ctx, f.mgrP, faulty)
	if err != nil || ret.Status != "draft" || len(ret.Items) != 2 || ret.WarehouseCode != "ALM-CAP" || ret.Items[0].Endorsement == nil {
		t.Fatalf("draft %+v %v", ret, err)
	}
	_, err = f.inv.CreateReturn(ctx, f.mgrP, faulty[:1])
	wantErr(t, err, models.KindUnprocessable, "unit_not_returnable")
	_, err = f.inv.ReceiveReturn(ctx, f.whP, ret.ID, models.ReceiveReturnInput{ScannedIMEIs: faulty})
	wantErr(t, err, models.KindConflict, "return_not_dispatched")

	ret, err = f.inv.DispatchReturn(ctx, f.mgrP, ret.ID)
	if err != nil || ret.Status != "dispatched" || ret.PackingListURL == nil || ret.Items[0].State != "in_return" {
		t.Fatalf("dispatched %+v %v", ret, err)
	}
	doc, err := f.inv.PackingList(ctx, f.whP, ret.ID)
	if err != nil || doc.Name != ret.Reference+".pdf" {
		t.Fatal(err)
	}
	text := pdftest.Words(t, doc.Body)
	for _, want := range []string{ret.Reference, faulty[0], faulty[1], "CSM-2026-0082000", *ret.Items[0].Endorsement, "Total de equipos: 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the packing list does not show %q", want)
		}
	}
	if st, _ := f.inv.Stock(ctx, f.mgrP, "CCS-01"); st.FaultyReceived != 0 || st.FaultyInReturn != 2 {
		t.Fatalf("stock %+v", st)
	}
	_, err = f.inv.DispatchReturn(ctx, f.mgrP, ret.ID)
	wantErr(t, err, models.KindConflict, "return_not_draft")

	// the warehouse finds one handset, one it did not expect, and the first is damaged
	stranger := imei(6, 1)
	_, err = f.inv.ReceiveReturn(ctx, f.mgrP, ret.ID, models.ReceiveReturnInput{ScannedIMEIs: faulty})
	wantErr(t, err, models.KindForbidden, "forbidden")
	ret, err = f.inv.ReceiveReturn(ctx, f.whP, ret.ID, models.ReceiveReturnInput{ScannedIMEIs: []string{faulty[0], stranger}, DamagedIMEIs: []string{faulty[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if ret.Status != "received_with_discrepancies" || !slices.Equal(ret.Missing, faulty[1:]) || !slices.Equal(ret.Unexpected, []string{stranger}) ||
		!slices.Equal(ret.Damaged, faulty[:1]) {
		t.Fatalf("received %+v", ret)
	}
	u0, _ := f.inv.Unit(ctx, f.whP, faulty[0])
	u1, _ := f.inv.Unit(ctx, f.whP, faulty[1])
	if u0.State != "returned" || *u0.WarehouseCode != "ALM-CAP" || u1.State != "in_return" {
		t.Fatalf("units %s %s", u0.State, u1.State)
	}
	// both sides see the discrepancies open; either resolves one with a note
	seen, err := f.inv.GetReturn(ctx, f.mgrP, ret.ID)
	if err != nil || len(seen.Discrepancies) != 3 {
		t.Fatalf("centre's view %+v %v", seen, err)
	}
	var missing string
	for _, d := range seen.Discrepancies {
		if d.Kind == "missing" {
			missing = d.ID
		}
	}
	_, err = f.inv.ResolveDiscrepancy(ctx, f.whP, ret.ID, missing, models.ResolveInput{Note: "  "})
	wantErr(t, err, models.KindInvalid, "validation_failed")
	var damaged string
	for _, d := range seen.Discrepancies {
		if d.Kind == "damaged" {
			damaged = d.ID
		}
	}
	_, err = f.inv.ResolveDiscrepancy(ctx, f.whP, ret.ID, damaged, models.ResolveInput{Note: "x", Found: true})
	wantErr(t, err, models.KindInvalid, "validation_failed")
	// the missing handset turns up at the warehouse: it is received there
	ret, err = f.inv.ResolveDiscrepancy(ctx, f.whP, ret.ID, missing, models.ResolveInput{Note: "estaba en otra caja", Found: true})
	if err != nil {
		t.Fatal(err)
	}
	if u1, _ := f.inv.Unit(ctx, f.whP, faulty[1]); u1.State != "returned" || *u1.WarehouseCode != "ALM-CAP" {
		t.Fatalf("found unit %+v", u1)
	}
	_, err = f.inv.ResolveDiscrepancy(ctx, f.mgrP, ret.ID, missing, models.ResolveInput{Note: "otra vez"})
	wantErr(t, err, models.KindConflict, "discrepancy_resolved")
	list, _, err := f.inv.ListReturns(ctx, f.whP, "received_with_discrepancies", services.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("warehouse list %v %v", list, err)
	}
	other := at(models.RoleCentreManager, f.o.ccs02)
	_, err = f.inv.GetReturn(ctx, other, ret.ID)
	wantErr(t, err, models.KindNotFound, "not_found")
	f.ledgerHolds(t)
}

func TestRestock(t *testing.T) {
	f := newIfx(t)
	ctx := context.Background()
	wh := f.stock(t, "ALM-CAP", "Moto G24", 3)
	f.stock(t, "CCS-01", "Moto G24", 1)
	_, err := f.inv.RequestRestock(ctx, f.counter, models.RestockInput{Lines: []models.RestockLineInput{{Model: "Moto G24", Quantity: 1}}})
	wantErr(t, err, models.KindForbidden, "forbidden")
	f.now = mon(7, 0).UTC()
	req, err := f.inv.RequestRestock(ctx, f.mgrP, models.RestockInput{Lines: []models.RestockLineInput{{Model: "Moto G24", Quantity: 2}}, Note: "temporada alta"})
	if err != nil || req.Status != "open" || req.WarehouseCode != "ALM-CAP" || len(req.Lines) != 1 || req.Lines[0].Origin != "manual" {
		t.Fatalf("request %+v %v", req, err)
	}
	// a swap's line joins the open request
	r := f.ready(t, f.checkedIn(t, "CSM-2026-0083001", mon(8, 0)))
	if _, err := f.inv.Swap(ctx, f.techP, r.ID, models.SwapInput{Model: "Moto G24"}); err != nil {
		t.Fatal(err)
	}
	req, _ = f.inv.GetRestock(ctx, f.whP, req.ID)
	if len(req.Lines) != 2 {
		t.Fatalf("lines %+v", req.Lines)
	}
	// fulfilled in part, from the warehouse's stock only
	_, err = f.inv.FulfilRestock(ctx, f.whP, req.ID, []string{wh[0], imei(7, 4)})
	e := wantErr(t, err, models.KindUnprocessable, "unit_not_available")
	if len(e.Fields) != 1 || e.Fields[0].Field != "imeis[1]" {
		t.Fatalf("fields %+v", e.Fields)
	}
	_, err = f.inv.FulfilRestock(ctx, f.mgrP, req.ID, wh[:2])
	wantErr(t, err, models.KindForbidden, "forbidden")
	_, err = f.inv.FulfilRestock(ctx, f.whP, req.ID, nil)
	wantErr(t, err, models.KindInvalid, "validation_failed")
	req, err = f.inv.FulfilRestock(ctx, f.whP, req.ID, wh[:2])
	if err != nil || req.Status != "fulfilled" || len(req.Units) != 2 {
		t.Fatalf("fulfilled %+v %v", req, err)
	}
	// three were asked (two by hand, one by the swap), two shipped: one asked again
	open, _, _ := f.inv.ListRestock(ctx, f.mgrP, services.RestockFilter{Status: "open"}, services.Page{})
	if len(open) != 1 || len(open[0].Lines) != 1 || open[0].Lines[0].Origin != "carried_over" || open[0].Lines[0].Quantity != 1 {
		t.Fatalf("carried over %+v", open)
	}
	if st, _ := f.inv.Stock(ctx, f.mgrP, "CCS-01"); st.Backup[0].Model != "Moto G24" || st.Backup[0].InTransit != 2 {
		t.Fatalf("stock %+v", st)
	}
	// received in two scans; the lead time runs to the last
	f.now = f.now.Add(26 * time.Hour)
	_, err = f.inv.ReceiveRestock(ctx, f.counter, req.ID, []string{wh[2]})
	wantErr(t, err, models.KindUnprocessable, "unit_not_shipped")
	req, err = f.inv.ReceiveRestock(ctx, f.counter, req.ID, wh[:1])
	if err != nil || req.Status != "fulfilled" || req.LeadTimeHours != nil {
		t.Fatalf("first receipt %+v %v", req, err)
	}
	f.now = f.now.Add(2 * time.Hour)
	req, err = f.inv.ReceiveRestock(ctx, f.counter, req.ID, wh[1:2])
	if err != nil || req.Status != "received" || req.LeadTimeHours == nil || *req.LeadTimeHours != f.now.Sub(req.CreatedAt).Hours() {
		t.Fatalf("received %+v %v", req, err)
	}
	u, _ := f.inv.Unit(ctx, f.mgrP, wh[1])
	if u.State != "in_stock" || *u.CentreCode != "CCS-01" || len(u.Movements) != 3 {
		t.Fatalf("unit %+v", u)
	}
	// a new need joins the open request, which the warehouse may reject
	req2, err := f.inv.RequestRestock(ctx, f.mgrP, models.RestockInput{Lines: []models.RestockLineInput{{Model: "Nokia 105", Quantity: 5}}, Note: "urgente"})
	if err != nil || req2.ID != open[0].ID || len(req2.Lines) != 2 {
		t.Fatalf("second request %+v %v", req2, err)
	}
	_, err = f.inv.RequestRestock(ctx, f.mgrP, models.RestockInput{Lines: []models.RestockLineInput{{Model: "Nokia 105", Quantity: 1}},
		Note: strings.Repeat("n", 1000)})
	wantErr(t, err, models.KindInvalid, "validation_failed")
	rej, err := f.inv.RejectRestock(ctx, f.whP, req2.ID, "modelo descontinuado")
	if err != nil || rej.Status != "rejected" || *rej.RejectReason != "modelo descontinuado" {
		t.Fatalf("rejected %+v %v", rej, err)
	}
	_, err = f.inv.FulfilRestock(ctx, f.whP, req2.ID, wh[2:])
	wantErr(t, err, models.KindConflict, "restock_not_open")
	f.ledgerHolds(t)
}

// TestLedgerProperty runs a long random sequence of registrations, swaps, answers from
// CSM, undos, returns, receipts and restocks, and after every step checks that each unit
// is where its ledger says and that what each place holds is the ledger's sum. The seed
// is printed so a failure can be replayed (LEDGER_SEED).
func TestLedgerProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGER_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("LEDGER_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	f := newIfx(t)
	ctx := context.Background()
	f.setMinimum(t, "Moto G24", 2)
	modelsOf := []string{"Moto G24", "Nokia 105"}

	// a pool of checked-in repairs, each with its own handset
	var appts []*models.Appointment
	for i := range 24 {
		appts = append(appts, f.booked(t, fmt.Sprintf("CSM-2026-00900%02d", i), slotN(i)))
	}
	f.now = mon(16, 0).UTC()
	var repairs []string
	for i, a := range appts {
		r := f.arrive(t, a)
		f.exec(t, "UPDATE repair_orders SET received_imei = ? WHERE id = ?", imei(4, i), r.ID)
		repairs = append(repairs, r.ID)
	}
	pick := func(sql string, args ...any) []string {
		var out []string
		if err := f.deps.DB.Raw(sql, args...).Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}
	any1 := func(list []string) string { return list[rng.IntN(len(list))] }
	// refusals are part of the game; anything else is a bug
	allowed := func(err error) {
		t.Helper()
		if err != nil && models.ErrorCode(err) == "internal" {
			t.Fatalf("storage error: %v", err)
		}
	}
	counts := map[string]int{}
	for step := range 160 {
		op := rng.IntN(9)
		switch op {
		case 0: // register at the warehouse or the centre
			loc := []string{"ALM-CAP", "CCS-01"}[rng.IntN(2)]
			var imeis []string
			for range 1 + rng.IntN(3) {
				f.serial++
				imeis = append(imeis, imei(7, f.serial))
			}
			if rng.IntN(4) == 0 && f.serial > 3 {
				imeis = append(imeis, imei(7, 1+rng.IntN(f.serial-1))) // already registered
			}
			_, err := f.inv.RegisterUnits(ctx, f.o.admin, models.UnitsInput{Brand: "Marca", Model: any1(modelsOf), Kind: "backup", LocationCode: loc, IMEIs: imeis})
			allowed(err)
		case 1, 2: // swap an open repair without a live swap
			open := pick(`SELECT r.id FROM repair_orders r WHERE r.status = 'open' AND NOT EXISTS
				(SELECT FROM swaps s WHERE s.repair_id = r.id AND s.status <> 'undone')`)
			if len(open) == 0 {
				continue
			}
			in := models.SwapInput{Model: any1(modelsOf)}
			if rng.IntN(3) == 0 {
				if units := pick("SELECT imei FROM inventory_units WHERE state = 'in_stock' AND centre_id IS NOT NULL"); len(units) > 0 {
					in = models.SwapInput{BackupIMEI: any1(units)}
				}
			}
			_, err := f.inv.Swap(ctx, f.techP, any1(open), in)
			allowed(err)
		case 3: // CSM answers
			live := pick("SELECT id FROM swaps WHERE status = 'requested'")
			if len(live) == 0 {
				continue
			}
			_, err := f.inv.ServiceChange(ctx, f.o.csm, any1(live), models.ServiceChangeInput{Status: []string{"confirmed", "failed", "failed"}[rng.IntN(3)]})
			allowed(err)
		case 4: // undo or retry a failed swap
			failed := pick("SELECT id FROM swaps WHERE status IN ('failed', 'requested')")
			if len(failed) == 0 {
				continue
			}
			var err error
			if rng.IntN(2) == 0 {
				_, err = f.inv.UndoSwap(ctx, f.techP, any1(failed), "prueba")
			} else {
				_, err = f.inv.RetrySwap(ctx, f.techP, any1(failed))
			}
			allowed(err)
		case 5: // draft and dispatch a return of some received handsets
			received := pick("SELECT imei FROM inventory_units WHERE kind = 'faulty' AND state = 'received' AND NOT EXISTS (SELECT FROM return_items WHERE unit_id = inventory_units.id)")
			if len(received) == 0 {
				continue
			}
			rng.Shuffle(len(received), func(i, j int) { received[i], received[j] = received[j], received[i] })
			ret, err := f.inv.CreateReturn(ctx, f.mgrP, received[:1+rng.IntN(len(received))])
			allowed(err)
			if err == nil && rng.IntN(4) > 0 {
				_, err = f.inv.DispatchReturn(ctx, f.mgrP, ret.ID)
				allowed(err)
			}
		case 6: // the warehouse receives a dispatched box, finding most of it
			boxes := pick("SELECT id FROM return_shipments WHERE status = 'dispatched'")
			if len(boxes) == 0 {
				continue
			}
			box := any1(boxes)
			items := pick("SELECT u.imei FROM return_items ri JOIN inventory_units u ON u.id = ri.unit_id WHERE ri.return_id = ?", box)
			var scanned, damaged []string
			for _, it := range items {
				if rng.IntN(5) > 0 {
					scanned = append(scanned, it)
					if rng.IntN(6) == 0 {
						damaged = append(damaged, it)
					}
				}
			}
			if rng.IntN(4) == 0 {
				scanned = append(scanned, imei(6, step))
			}
			_, err := f.inv.ReceiveReturn(ctx, f.whP, box, models.ReceiveReturnInput{ScannedIMEIs: scanned, DamagedIMEIs: damaged})
			allowed(err)
		case 7: // the warehouse fulfils the open request with what it has
			open := pick("SELECT id FROM restock_requests WHERE status = 'open'")
			stock := pick("SELECT imei FROM inventory_units WHERE kind = 'backup' AND state = 'in_stock' AND warehouse_id IS NOT NULL")
			if len(open) == 0 || len(stock) == 0 {
				continue
			}
			_, err := f.inv.FulfilRestock(ctx, f.whP, open[0], stock[:1+rng.IntN(len(stock))])
			allowed(err)
		case 8: // the centre scans in part of a shipment
			shipped := pick("SELECT DISTINCT request_id FROM restock_units WHERE received_at IS NULL")
			if len(shipped) == 0 {
				continue
			}
			req := any1(shipped)
			units := pick("SELECT u.imei FROM restock_units ru JOIN inventory_units u ON u.id = ru.unit_id WHERE ru.request_id = ? AND ru.received_at IS NULL", req)
			_, err := f.inv.ReceiveRestock(ctx, f.counter, req, units[:1+rng.IntN(len(units))])
			allowed(err)
		}
		counts[strconv.Itoa(op)]++
		f.ledgerHolds(t)
		if t.Failed() {
			t.Fatalf("after step %d (operation %d); replay with LEDGER_SEED=%d", step, op, seed)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM stock_movements"); n < 50 {
		t.Fatalf("only %d movements: the sequence did too little (%v)", n, counts)
	}
	t.Logf("operations %v, %d movements", counts, f.count(t, "SELECT count(*) FROM stock_movements"))
}
