package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The inventory scenarios (issue 5).
//
// stock: GET /api/v1/centres/{code}/stock at a centre whose 10,000 units have 100,000
// movements in the ledger, beside five more centres like it; one client, then four. The
// centres' histories are written in SQL beforehand, through the ledger's triggers.
//
// swap: POST /api/v1/repairs/{id}/swap by 16 technicians, first all at one centre, where
// they take backup devices of one model off the same shelf, then two at each of eight
// centres; against pgbench TPC-B with as many clients.

const (
	invBU             = "BU-INV"
	invWarehouse      = "ALM-INV"
	stockCentre       = "INV-00"
	stockOthers       = 5 // centres besides the measured one, each with a history like it
	targetStockP99    = 20 * time.Millisecond
	stockPerDay       = 3  // customers a day who leave a centre with a backup device
	maxUndonePerVisit = 40 // swaps undone in one customer's visit before the one that stands
	restockDays       = 14 // between two restock shipments from the warehouse
	transitDays       = 3  // a restock shipment's way to the centre
	returnDays        = 14 // between two return shipments to the warehouse
	returnTransitDays = 4  // a return box's way to the warehouse

	swapBU             = "BU-SWP"
	swapWarehouse      = "ALM-SWP"
	swapOneCentre      = "SWP-00"
	swapSpread         = 8 // centres of the spread phase
	swapModel          = "SM-A155M"
	swapMargin         = 2.0 // repair orders seeded ÷ what the calibration rate would use up
	swapCalibPerClient = 100
	warehousePasswd    = "bench-warehouse-password-1"
)

// The shares of a centre's units at the end of its history: the rest are backup devices
// in stock.
const (
	shareInTransit = 0.05 // backup devices on their way from the warehouse
	shareSwapped   = 0.17 // customers with a backup device; their handsets are as many again
)

// invModel is a handset model the centres stock, and how common it is.
type invModel struct {
	tac, brand, model string
	weight            int
}

var invModels = []invModel{
	{"35693803", "Samsung", "SM-A155M", 14}, {"35290611", "Samsung", "SM-A057M", 12}, {"35821477", "Samsung", "SM-A256E", 6},
	{"35467912", "Samsung", "SM-A356E", 4}, {"35174221", "Samsung", "SM-S921B", 1}, {"86453405", "Xiaomi", "Redmi 13C", 11},
	{"86790412", "Xiaomi", "Redmi Note 13", 7}, {"86311208", "Xiaomi", "Redmi A3", 6}, {"86120733", "Xiaomi", "POCO X6", 2},
	{"35935611", "Motorola", "moto g24", 9}, {"35260418", "Motorola", "moto e14", 6}, {"35118920", "Motorola", "moto g54", 3},
	{"35391110", "Apple", "iPhone 12", 2}, {"35602512", "Apple", "iPhone 13", 1}, {"86753003", "Huawei", "nova Y61", 3},
	{"35412108", "ZTE", "Blade A54", 5}, {"35688213", "ZTE", "Blade A35", 3}, {"35216731", "Tecno", "Spark 20", 3},
	{"35345620", "Infinix", "Hot 40i", 3}, {"86214506", "Honor", "X6b", 2},
}

func pickModel(r *mrand.Rand) invModel {
	total := 0
	for _, m := range invModels {
		total += m.weight
	}
	x := r.IntN(total)
	for _, m := range invModels {
		if x < m.weight {
			return m
		}
		x -= m.weight
	}
	return invModels[0]
}

func modelNamed(name string) invModel {
	for _, m := range invModels {
		if m.model == name {
			return m
		}
	}
	panic("no model " + name)
}

// imeiAlloc hands out IMEIs no other unit or ticket of the run has: per type allocation
// code, serials counted up from a random start.
type imeiAlloc struct {
	base int
	next map[string]int
}

func newIMEIAlloc(r *mrand.Rand) *imeiAlloc {
	return &imeiAlloc{base: r.IntN(300000), next: map[string]int{}}
}

func (a *imeiAlloc) handset(m invModel) handset {
	n := a.next[m.tac]
	a.next[m.tac] = n + 1
	return handset{imei: imei(m.tac, a.base+n), brand: m.brand, model: m.model}
}

// references hands out document references as the service makes them (a prefix, the
// centre and 8 random hex digits), never the same twice in a run.
type references map[string]bool

func (refs references) next(prefix, centre string) string {
	b := make([]byte, 4)
	for {
		_, _ = rand.Read(b)
		ref := prefix + "-" + centre + "-" + strings.ToUpper(hex.EncodeToString(b))
		if !refs[ref] {
			refs[ref] = true
			return ref
		}
	}
}

// The history of a centre's stock.

// simUnit is a unit of a seeded history, with the movements that took it where it is.
type simUnit struct {
	id pgtype.UUID
	handset
	moves []simMove
}

// simMove is one movement: where it takes the unit, when, by whom and what for. Where the
// unit comes from is the movement before.
type simMove struct {
	at                            time.Time
	actor                         pgtype.UUID
	reason, kind, state, location string
	centre, warehouse             pgtype.UUID
	ticket, swap, ret, restock    pgtype.UUID
	note                          string
}

func (u *simUnit) move(m simMove) { u.moves = append(u.moves, m) }

// histPlan is what a centre's history is made of.
type histPlan struct {
	code                            string
	centre, warehouse, tech, keeper pgtype.UUID
	techName                        string
	orders                          []seededOrder // one per customer swapped, oldest first
	inStock, inTransit              int           // backup devices at the end
	undone                          int           // swaps undone on the way
	minimum                         map[string]int
	loc                             *time.Location
	now                             time.Time
}

// history is a centre's history as rows to copy, and what its stock view must show.
type history struct {
	units                         []*simUnit
	restocks, lines, restockUnits [][]any
	returns, returnItems, swaps   [][]any
	movements, standing, undone   int
	openLines, maxMoves           int
	expect                        stockExpect
	from                          time.Time // the first movement
}

// stockExpect is what a centre's stock view must show, by the history written.
type stockExpect struct {
	inStock, inTransit, requested            map[string]int
	faultyReceived, faultyInReturn, assigned int
	returned                                 int // not in the view
}

const (
	undoDetail = "La línea no pudo pasarse al equipo de respaldo: SIM bloqueada en la plataforma"
	undoReason = "El cambio de servicio falló; el cliente se lleva su propio equipo"
)

// seedDocument stands in for the endorsements and packing lists of the stock history:
// the stock view reads neither, and the schema asks only that the hash be the document's.
var seedDocument = []byte("%PDF-1.4\n% written by cmd/bench for the stock scenario, not rendered\n%%EOF\n")

// planHistory makes up a centre's history from its seeded repair orders, one customer
// each, oldest first; it follows the service's rules so that every movement starts where
// its unit is:
//
//   - every 14 days the warehouse ships a batch of backup devices it registered 3 days
//     before; each arrives 3 days later, in stock. The first batch arrives before the
//     first customer; the last left 2 days ago and is still on its way;
//   - each customer comes with their handset and leaves with a backup device picked at
//     random from the shelf: the swap stands, after as many swaps undone on the way as
//     the plan spreads over the customers (each backup device back in stock, the
//     handset handed back, then taken in again for the next try);
//   - every 14 days the handsets received go to the warehouse, which receives them 4
//     days later; the last box left 3 days ago and is on its way;
//   - each swap adds its line to the centre's open restock request (an undone one's at
//     0), which each shipment fulfils; manual lines make up the rest of each shipment,
//     and the open request also asks for the models below their minimum.
func planHistory(r *mrand.Rand, alloc *imeiAlloc, refs references, p histPlan) *history {
	h := &history{expect: stockExpect{inStock: map[string]int{}, inTransit: map[string]int{}, requested: map[string]int{}}}
	loc := p.loc
	dayAt := func(t time.Time, days, hour, minute int) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d+days, hour, minute, 0, 0, loc)
	}
	sum := sha256.Sum256(seedDocument)
	docHash := hex.EncodeToString(sum[:])

	// The customers' visits, each in a window of its own in the morning of its day.
	type visit struct {
		order  seededOrder
		start  time.Time
		undone int
	}
	visits := make([]visit, len(p.orders))
	for j, o := range p.orders {
		visits[j] = visit{order: o, start: dayAt(o.checkedIn, 0, 1+3*(j%stockPerDay), 0)}
	}
	for k := min(p.undone, len(visits)*maxUndonePerVisit); k > 0; {
		if v := &visits[r.IntN(len(visits))]; v.undone < maxUndonePerVisit {
			v.undone++
			k--
		}
	}
	first := visits[0].start

	var ships []time.Time
	for s := dayAt(p.now, -2, 12, 0); ; s = s.AddDate(0, 0, -restockDays) {
		ships = append(ships, s)
		if dayAt(s, transitDays, 11, 0).Before(first) {
			break
		}
	}
	slices.Reverse(ships)
	last := len(ships) - 1
	var dispatches []time.Time
	for d := dayAt(p.now, -3, 16, 0); !d.Before(first); d = d.AddDate(0, 0, -returnDays) {
		dispatches = append(dispatches, d)
	}
	slices.Reverse(dispatches)

	// The batches: the last is what is on its way; the first brings 30 % of what arrives
	// (and at least one more than the customers take), the others the rest evenly.
	arriving := p.inStock + len(p.orders)
	sizes := make([]int, len(ships))
	sizes[last] = p.inTransit
	sizes[0] = arriving
	if last > 1 {
		sizes[0] = min(arriving, max(arriving*3/10, len(p.orders)+1))
		rest := arriving - sizes[0]
		for k := 1; k < last; k++ {
			sizes[k] = rest / (last - 1)
			if k-1 < rest%(last-1) {
				sizes[k]++
			}
		}
	}

	type event struct {
		at  time.Time
		seq int
		do  func()
	}
	var events []event
	on := func(t time.Time, do func()) { events = append(events, event{t, len(events), do}) }
	newUnit := func(hs handset) *simUnit {
		u := &simUnit{id: newUUID(), handset: hs}
		h.units = append(h.units, u)
		return u
	}
	var shelf []*simUnit // backup devices in stock at the centre
	take := func() *simUnit {
		i := r.IntN(len(shelf))
		u := shelf[i]
		shelf[i] = shelf[len(shelf)-1]
		shelf = shelf[:len(shelf)-1]
		return u
	}

	// Restock request k is fulfilled by shipment k; the one after the last is open.
	reqIDs := make([]pgtype.UUID, len(ships)+1)
	for k := range reqIDs {
		reqIDs[k] = newUUID()
	}
	swapLines := make([]map[string]int, len(ships)+1) // per request, standing swaps by model
	for k := range swapLines {
		swapLines[k] = map[string]int{}
	}
	open := 0
	addLine := func(model string, qty int, origin string, swap pgtype.UUID, t time.Time) {
		h.lines = append(h.lines, []any{newUUID(), reqIDs[open], model, qty, origin, swap, t})
		if origin == "swap" {
			swapLines[open][model] += qty
		}
		if open == len(ships) {
			h.expect.requested[model] += qty
			h.openLines++
		}
	}

	shipped := make([][]*simUnit, len(ships))
	for k, s := range ships {
		on(s, func() {
			registered := dayAt(s, -3, 9, 0)
			for i := range sizes[k] {
				u := newUnit(alloc.handset(pickModel(r)))
				step := time.Duration(i) * time.Second
				u.move(simMove{at: registered.Add(step), actor: p.keeper, reason: "registered", kind: "backup",
					state: "in_stock", location: "warehouse", warehouse: p.warehouse})
				u.move(simMove{at: s.Add(step), actor: p.keeper, reason: "restock_shipped", kind: "backup",
					state: "in_transit", location: "in_transit", centre: p.centre, restock: reqIDs[k]})
				shipped[k] = append(shipped[k], u)
			}
			open = k + 1
		})
		if k < last {
			arrive := dayAt(s, transitDays, 11, 0)
			on(arrive, func() {
				for i, u := range shipped[k] {
					u.move(simMove{at: arrive.Add(time.Duration(i) * time.Second), actor: p.tech, reason: "restock_received", kind: "backup",
						state: "in_stock", location: "centre", centre: p.centre, restock: reqIDs[k]})
					shelf = append(shelf, u)
				}
			})
		}
	}

	var received []*simUnit // handsets at the centre, waiting for the next return box
	swapRow := func(id pgtype.UUID, o seededOrder, faulty, backup *simUnit, t time.Time, undone bool) []any {
		ref := refs.next("AVR", p.code)
		if undone {
			return []any{id, ref, o.id, o.ticketID, p.centre, faulty.id, backup.id, o.msisdn, "undone", undoDetail, 1, o.tech, p.techName,
				seedDocument, docHash, t.Add(time.Minute), t.Add(2 * time.Minute), undoReason, 3, t, t.Add(2 * time.Minute)}
		}
		return []any{id, ref, o.id, o.ticketID, p.centre, faulty.id, backup.id, o.msisdn, "confirmed", nil, 1, o.tech, p.techName,
			seedDocument, docHash, t.Add(time.Minute), nil, nil, 2, t, t.Add(time.Minute)}
	}
	for _, v := range visits {
		on(v.start, func() {
			o := v.order
			hs := newUnit(o.handset)
			swap := func(t time.Time) (*simUnit, pgtype.UUID) {
				b, sw := take(), newUUID()
				hs.move(simMove{at: t, actor: o.tech, reason: "swap_in", kind: "faulty", state: "received", location: "centre",
					centre: p.centre, ticket: o.ticketID, swap: sw})
				b.move(simMove{at: t, actor: o.tech, reason: "swap_out", kind: "backup", state: "assigned", location: "customer",
					ticket: o.ticketID, swap: sw})
				return b, sw
			}
			t := v.start
			for range v.undone {
				b, sw := swap(t)
				undoneAt, note := t.Add(2*time.Minute), "swap undone: "+undoReason
				b.move(simMove{at: undoneAt, actor: o.tech, reason: "swap_undone", kind: "backup", state: "in_stock", location: "centre",
					centre: p.centre, swap: sw, note: note})
				hs.move(simMove{at: undoneAt, actor: o.tech, reason: "swap_undone", kind: "faulty", state: "handed_back", location: "customer",
					swap: sw, note: note})
				shelf = append(shelf, b)
				h.swaps = append(h.swaps, swapRow(sw, o, hs, b, t, true))
				addLine(b.model, 0, "swap", sw, t)
				h.undone++
				t = t.Add(4 * time.Minute)
			}
			b, sw := swap(t)
			h.swaps = append(h.swaps, swapRow(sw, o, hs, b, t, false))
			addLine(b.model, 1, "swap", sw, t)
			h.standing++
			received = append(received, hs)
		})
	}

	for _, d := range dispatches {
		var box []*simUnit
		retID := newUUID()
		back := dayAt(d, returnTransitDays, 12, 0)
		arrived := back.Before(p.now)
		on(d, func() {
			if len(received) == 0 {
				return
			}
			box, received = received, nil
			for i, u := range box {
				u.move(simMove{at: d.Add(time.Duration(i) * time.Second), actor: p.tech, reason: "return_dispatched", kind: "faulty",
					state: "in_return", location: "in_transit", warehouse: p.warehouse, ret: retID})
				h.returnItems = append(h.returnItems, []any{retID, u.id})
			}
			row := []any{retID, refs.next("DEV", p.code), p.centre, p.warehouse, "dispatched", p.tech, d, p.techName, nil, nil,
				seedDocument, docHash, 2, d.Add(-time.Hour), d}
			if arrived {
				row[4], row[8], row[9], row[12], row[14] = "received", back, p.keeper, 3, back
			} else {
				h.expect.faultyInReturn += len(box)
			}
			h.returns = append(h.returns, row)
		})
		if arrived {
			on(back, func() {
				for i, u := range box {
					u.move(simMove{at: back.Add(time.Duration(i) * time.Second), actor: p.keeper, reason: "return_received", kind: "faulty",
						state: "returned", location: "warehouse", warehouse: p.warehouse, ret: retID})
				}
				h.expect.returned += len(box)
			})
		}
	}

	slices.SortFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for _, ev := range events {
		ev.do()
	}

	// The requests: manual lines for what each shipment brought beyond its swaps' lines.
	for _, u := range shelf {
		h.expect.inStock[u.model]++
	}
	for _, u := range shipped[last] {
		h.expect.inTransit[u.model]++
	}
	for k, s := range ships {
		created := s.AddDate(0, 0, -7)
		if k > 0 {
			created = ships[k-1].Add(time.Hour)
		}
		brought := map[string]int{}
		for _, u := range shipped[k] {
			brought[u.model]++
		}
		open = k
		for _, m := range invModels {
			for extra := brought[m.model] - swapLines[k][m.model]; extra > 0; extra -= 1000 {
				addLine(m.model, min(extra, 1000), "manual", pgtype.UUID{}, created)
			}
		}
		row := []any{reqIDs[k], refs.next("RST", p.code), p.centre, p.warehouse, "fulfilled", nil, nil, s, nil, nil, 2, created, s}
		if k < last {
			arrive := dayAt(s, transitDays, 11, 0)
			row[4], row[8], row[10], row[12] = "received", arrive, 3, arrive
		}
		h.restocks = append(h.restocks, row)
		for _, u := range shipped[k] {
			var arrived any
			if k < last {
				arrived = u.moves[2].at
			}
			h.restockUnits = append(h.restockUnits, []any{reqIDs[k], u.id, u.moves[1].at, arrived})
		}
	}
	open = len(ships)
	openedAt := ships[last].Add(time.Hour)
	for _, m := range invModels {
		short := p.minimum[m.model] - h.expect.inStock[m.model] - h.expect.inTransit[m.model] - h.expect.requested[m.model]
		if short > 0 {
			addLine(m.model, min(short, 1000), "below_minimum", pgtype.UUID{}, openedAt.Add(time.Minute))
		}
	}
	if h.openLines > 0 {
		h.restocks = append(h.restocks, []any{reqIDs[open], refs.next("RST", p.code), p.centre, p.warehouse, "open", nil, nil, nil, nil, nil, 1, openedAt, openedAt})
	}

	h.expect.faultyReceived = len(received)
	h.expect.assigned = h.standing
	h.from = p.now
	for _, u := range h.units {
		h.movements += len(u.moves)
		h.maxMoves = max(h.maxMoves, len(u.moves))
		if u.moves[0].at.Before(h.from) {
			h.from = u.moves[0].at
		}
	}
	return h
}

func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var movementColumns = []string{"unit_id", "at", "actor_kind", "actor_id", "reason", "kind", "from_state", "from_location",
	"from_centre_id", "from_warehouse_id", "to_state", "to_location", "to_centre_id", "to_warehouse_id", "ticket_id", "swap_id",
	"return_id", "restock_id", "note"}

// movementRow is the k-th movement of a unit, starting where the one before left it.
func movementRow(u *simUnit, k int) []any {
	m := u.moves[k]
	var fromState, fromLocation any
	var fromCentre, fromWarehouse pgtype.UUID
	if k > 0 {
		prev := u.moves[k-1]
		fromState, fromLocation, fromCentre, fromWarehouse = prev.state, prev.location, prev.centre, prev.warehouse
	}
	return []any{u.id, m.at, "user", m.actor, m.reason, m.kind, fromState, fromLocation, fromCentre, fromWarehouse,
		m.state, m.location, m.centre, m.warehouse, m.ticket, m.swap, m.ret, m.restock, textOrNil(m.note)}
}

// writeHistory copies a centre's history in one transaction. Each unit is inserted where
// its first movement puts it; the movements go in rounds, every unit's first, then every
// unit's second and so on: the ledger's trigger applies a statement's movements at its
// end, in order, and refuses a first movement of a unit that already has another.
func writeHistory(ctx context.Context, url string, h *history) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	units := make([][]any, len(h.units))
	for i, u := range h.units {
		m := u.moves[0]
		units[i] = []any{u.id, u.imei, u.brand, u.model, m.kind, m.state, m.location, m.centre, m.warehouse, m.ticket, m.at, m.at}
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"restock_requests", []string{"id", "reference", "centre_id", "warehouse_id", "status", "note", "reject_reason", "fulfilled_at",
			"received_at", "rejected_at", "version", "created_at", "updated_at"}, h.restocks},
		{"return_shipments", []string{"id", "reference", "centre_id", "warehouse_id", "status", "created_by", "dispatched_at", "dispatched_by",
			"received_at", "received_by", "packing_pdf", "packing_sha256", "version", "created_at", "updated_at"}, h.returns},
		{"inventory_units", []string{"id", "imei", "brand", "model", "kind", "state", "location", "centre_id", "warehouse_id", "ticket_id",
			"created_at", "updated_at"}, units},
		{"swaps", []string{"id", "reference", "repair_id", "ticket_id", "centre_id", "faulty_unit_id", "backup_unit_id", "msisdn", "status",
			"detail", "requests", "technician_id", "technician_name", "endorsement_pdf", "endorsement_sha256", "settled_at", "undone_at",
			"undo_reason", "version", "created_at", "updated_at"}, h.swaps},
		{"restock_lines", []string{"id", "request_id", "model", "quantity", "origin", "swap_id", "created_at"}, h.lines},
		{"restock_units", []string{"request_id", "unit_id", "shipped_at", "received_at"}, h.restockUnits},
		{"return_items", []string{"return_id", "unit_id"}, h.returnItems},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", c.table, err)
		}
	}
	for k := range h.maxMoves {
		var round []*simUnit
		for _, u := range h.units {
			if len(u.moves) > k {
				round = append(round, u)
			}
		}
		src := pgx.CopyFromSlice(len(round), func(i int) ([]any, error) { return movementRow(round[i], k), nil })
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stock_movements"}, movementColumns, src); err != nil {
			return fmt.Errorf("copy movement %d of each unit into stock_movements: %w", k+1, err)
		}
	}
	return tx.Commit(ctx)
}

// ledgerCheck is the ledger against the units, in SQL: every unit where its last
// movement put it, every movement starting where the one before ended (a first one from
// nowhere), and each unit's version one more than its movements.
type ledgerCheck struct {
	units, movements                 int64
	notAtLast, noMovement, unchained int64
	versionOff                       int64
	took                             time.Duration
}

func checkLedger(ctx context.Context, db *sql.DB) (ledgerCheck, error) {
	var c ledgerCheck
	t0 := time.Now()
	err := db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM inventory_units),
			(SELECT count(*) FROM stock_movements),
			(SELECT count(*) FROM inventory_units u JOIN LATERAL (SELECT * FROM stock_movements m WHERE m.unit_id = u.id ORDER BY m.id DESC LIMIT 1) m ON true
				WHERE (u.kind, u.state, u.location, u.centre_id, u.warehouse_id) IS DISTINCT FROM
					(m.kind, m.to_state, m.to_location, m.to_centre_id, m.to_warehouse_id)),
			(SELECT count(*) FROM inventory_units u WHERE NOT EXISTS (SELECT FROM stock_movements m WHERE m.unit_id = u.id)),
			(SELECT count(*) FROM (SELECT row_number() OVER w AS n, from_state, from_location, from_centre_id, from_warehouse_id,
					lag(to_state) OVER w AS s, lag(to_location) OVER w AS l, lag(to_centre_id) OVER w AS c, lag(to_warehouse_id) OVER w AS h
				FROM stock_movements WINDOW w AS (PARTITION BY unit_id ORDER BY id)) x
				WHERE CASE WHEN n = 1 THEN from_state IS NOT NULL OR from_location IS NOT NULL
					ELSE (from_state, from_location, from_centre_id, from_warehouse_id) IS DISTINCT FROM (s, l, c, h) END),
			(SELECT count(*) FROM inventory_units u JOIN (SELECT unit_id, count(*) AS n FROM stock_movements GROUP BY unit_id) m
				ON m.unit_id = u.id WHERE u.version <> 1 + m.n)`).
		Scan(&c.units, &c.movements, &c.notAtLast, &c.noMovement, &c.unchained, &c.versionOff)
	c.took = time.Since(t0)
	if err != nil {
		return c, fmt.Errorf("check the ledger: %w", err)
	}
	return c, nil
}

func (c ledgerCheck) ok() bool {
	return c.units > 0 && c.notAtLast == 0 && c.noMovement == 0 && c.unchained == 0 && c.versionOff == 0
}

func (c ledgerCheck) String() string {
	s := fmt.Sprintf("%d units, %d movements: %d units not where their last movement put them, %d without a movement, "+
		"%d movements not starting where the one before ended, %d versions ≠ 1 + movements (%.1fs)",
		c.units, c.movements, c.notAtLast, c.noMovement, c.unchained, c.versionOff, c.took.Seconds())
	if !c.ok() {
		s = "WRONG: " + s
	}
	return s
}

// Set-up through the API shared by both scenarios.

func (s *server) createWarehouse(ctx context.Context, tok, code, name, bu string) error {
	return s.call(ctx, "POST", "/api/v1/admin/warehouses", tok, map[string]string{"code": code, "name": name, "business_unit_code": bu}, nil, 201)
}

// createUser creates a member of staff who does not sign in, and returns the id.
func (s *server) createUser(ctx context.Context, tok string, body map[string]string) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	if err := s.call(ctx, "POST", "/api/v1/admin/users", tok, body, &u, 201); err != nil {
		return "", err
	}
	return u.ID, nil
}

func parseUUID(s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	err := u.Scan(s)
	return u, err
}

// The stock scenario.

// stockAnswer is GET /api/v1/centres/{code}/stock.
type stockAnswer struct {
	CentreCode string `json:"centre_code"`
	Backup     []struct {
		Model     string `json:"model"`
		InStock   int    `json:"in_stock"`
		InTransit int    `json:"in_transit"`
		Requested int    `json:"requested"`
		Minimum   int    `json:"minimum"`
		Shortfall int    `json:"shortfall"`
	} `json:"backup"`
	FaultyReceived int `json:"faulty_received"`
	FaultyInReturn int `json:"faulty_in_return"`
	Assigned       int `json:"assigned"`
}

// stockWorker asks for the same stock view again and again.
type stockWorker struct{ url, auth string }

func (w *stockWorker) next(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", w.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", w.auth)
	return req, nil
}

func (w *stockWorker) classify(status int, body []byte) (int, string) {
	if status != http.StatusOK || !strings.Contains(string(body), `"backup":[`) {
		return -1, snippet(status, body)
	}
	return 0, ""
}

// stockCentreSeed is how one centre's history went in.
type stockCentreSeed struct {
	code                             string
	units, movements, maxMoves       int
	standing, undone                 int
	restocks, returns, lines         int
	orderTime, planTime, copyTime    time.Duration
	from                             time.Time
	inStock, inTransit, faulty       int
	received, inReturn, returnedUnit int
}

type stockResult struct {
	centres                  []stockCentreSeed
	seedTime, vacuumTime     time.Duration
	tableUnits, tableMoves   int64
	tableSwaps               int64
	expect                   stockExpect
	answerBytes, models      int
	answerCheck              string
	answerOK                 bool
	unitCheck                string
	unitOK                   bool
	ledger                   ledgerCheck
	seq, conc                *loadResult
	seqWorkers, concWorkers  float64 // CPU-seconds of PostgreSQL's parallel workers in each phase
	mem                      memory
	stopped                  string
	logErrors                int
	logSample                string
	inStock, transit, wanted int // the measured centre's totals in the answer
	short                    []string
}

// stockShares is how a centre's units end up: customers with a backup device (and as
// many of their handsets), and backup devices in stock; the rest are on their way.
func stockShares(units int) (swapped, inStock int) {
	swapped = int(math.Round(float64(units) * shareSwapped))
	inTransit := int(math.Round(float64(units) * shareInTransit))
	return swapped, units - inTransit - 2*swapped
}

func runStock(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	swapped, inStock := stockShares(o.units)
	inTransit := o.units - inStock - 2*swapped
	if swapped < 1 || inStock < 1 {
		return false, fmt.Errorf("-units %d leaves no customer or no stock", o.units)
	}
	fmt.Fprintf(os.Stdout, "  plan            %d centres of %d units each (%d in stock, %d on the way, %d with customers, %d customers' handsets), about %d movements each; "+
		"%d requests to %s one at a time (after %s warm-up), then %d with %d clients\n",
		1+stockOthers, o.units, inStock, inTransit, swapped, swapped, o.movements, o.requests, stockCentre, o.warmup, o.requests, o.clients)
	ss, err := startSession(ctx, e, "stock")
	if err != nil {
		return false, err
	}
	defer ss.close()
	srv := ss.srv
	setUpErr := func(err error) error { return fmt.Errorf("set up through the API: %w", err) }
	tok, err := srv.login(ctx)
	if err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createBusinessUnit(ctx, tok, invBU, "Región Centro-Occidente"); err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createWarehouse(ctx, tok, invWarehouse, "Almacén Centro-Occidente (Valencia)", invBU); err != nil {
		return false, setUpErr(err)
	}
	keeperID, err := srv.createUser(ctx, tok, map[string]string{"email": "almacen@example.com", "name": "Rosa Almacén",
		"password": warehousePasswd, "role": "warehouse", "warehouse_code": invWarehouse})
	if err != nil {
		return false, setUpErr(err)
	}
	// The measured centre's minimums: about a seventh of what each model should have in
	// stock, and more than that for the two rarest, which fall short.
	total := 0
	for _, m := range invModels {
		total += m.weight
	}
	minimum := map[string]int{}
	var minimums []map[string]any
	for _, m := range invModels {
		expected := float64(inStock) * float64(m.weight) / float64(total)
		q := max(2, int(math.Round(expected*0.15)))
		if m.weight == 1 {
			q = int(math.Round(expected*1.5)) + 5
		}
		minimum[m.model] = q
		minimums = append(minimums, map[string]any{"model": m.model, "quantity": q})
	}
	hours := openingHours("00:00", "23:30", 1, 2, 3, 4, 5, 6, 7)
	codes := []string{stockCentre}
	for i := 1; i <= stockOthers; i++ {
		codes = append(codes, fmt.Sprintf("INV-%02d", i))
	}
	var techs []*technician
	for i, code := range codes {
		n := certifyCentreNames[i%len(certifyCentreNames)]
		body := centreBody(code, n.name, n.address, invBU, certifyCounters, hours, nil)
		if code == stockCentre {
			body["min_backup_stock"] = minimums
		}
		if err := srv.createCentre(ctx, tok, body); err != nil {
			return false, setUpErr(err)
		}
		t, err := createTechnician(ctx, srv, tok, code, i)
		if err != nil {
			return false, setUpErr(err)
		}
		techs = append(techs, t)
	}
	var adminID string
	if err := ss.db.QueryRowContext(ctx, "SELECT id FROM users WHERE email = $1", adminEmail).Scan(&adminID); err != nil {
		return false, err
	}
	tests, err := activeTests(ctx, srv, techs[0].token)
	if err != nil {
		return false, setUpErr(err)
	}
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		return false, err
	}
	ids := map[string]pgtype.UUID{}
	rows, err := ss.db.QueryContext(ctx, "SELECT code, id FROM centres UNION ALL SELECT code, id FROM warehouses")
	if err != nil {
		return false, err
	}
	for rows.Next() {
		var code, id string
		if err := rows.Scan(&code, &id); err != nil {
			rows.Close()
			return false, err
		}
		if ids[code], err = parseUUID(id); err != nil {
			rows.Close()
			return false, err
		}
	}
	rows.Close()
	keeper, err := parseUUID(keeperID)
	if err != nil {
		return false, err
	}

	// The histories, the measured centre's first.
	res := &stockResult{}
	url := e.pg.cluster.URL(ss.dbName)
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 13))
	seeder := &repairSeeder{url: url, adminID: adminID, tests: tests, run: runID(), prefix: "INV", perDay: stockPerDay, r: r, nextDay: map[string]int{}}
	alloc, refs := newIMEIAlloc(r), references{}
	t0 := time.Now()
	for i, code := range codes {
		e.logf("stock: %s: %d repair orders, then the history of %d units written through the ledger", code, swapped, o.units)
		c := stockCentreSeed{code: code}
		ts := time.Now()
		handsets := make([]handset, swapped)
		for j := range handsets {
			handsets[j] = alloc.handset(pickModel(r))
		}
		orders, err := seeder.seedOrders(ctx, code, []string{techs[i].id}, swapped, handsets)
		if err != nil {
			return false, fmt.Errorf("%s: insert the repair orders: %w", code, err)
		}
		c.orderTime = time.Since(ts)
		ts = time.Now()
		tech, err := parseUUID(techs[i].id)
		if err != nil {
			return false, err
		}
		plan := histPlan{code: code, centre: ids[code], warehouse: ids[invWarehouse], tech: tech, keeper: keeper, techName: techs[i].name,
			orders: orders, inStock: inStock, inTransit: inTransit, loc: loc, now: time.Now()}
		if code == stockCentre {
			plan.minimum = minimum
		}
		// A first plan with no swap undone counts the movements the rest of the history
		// makes; each undone swap adds four.
		base := planHistory(r, alloc, refs, plan).movements
		plan.undone = max(0, (o.movements-base)/4)
		h := planHistory(r, alloc, refs, plan)
		c.planTime = time.Since(ts)
		ts = time.Now()
		if err := writeHistory(ctx, url, h); err != nil {
			return false, fmt.Errorf("%s: write the history: %w", code, err)
		}
		c.copyTime = time.Since(ts)
		c.units, c.movements, c.maxMoves, c.standing, c.undone = len(h.units), h.movements, h.maxMoves, h.standing, h.undone
		c.restocks, c.returns, c.lines, c.from = len(h.restocks), len(h.returns), len(h.lines), h.from
		for _, n := range h.expect.inStock {
			c.inStock += n
		}
		for _, n := range h.expect.inTransit {
			c.inTransit += n
		}
		c.received, c.inReturn, c.returnedUnit = h.expect.faultyReceived, h.expect.faultyInReturn, h.expect.returned
		res.centres = append(res.centres, c)
		if code == stockCentre {
			res.expect = h.expect
		}
		e.logf("stock: %s: %d units, %d movements (%d swaps standing, %d undone) in %.1fs", code, c.units, c.movements, c.standing, c.undone,
			time.Since(t0).Seconds())
	}
	res.seedTime = time.Since(t0)
	ts := time.Now()
	if _, err := ss.db.ExecContext(ctx, `VACUUM ANALYZE inventory_units, stock_movements, swaps, restock_requests, restock_lines,
		restock_units, return_shipments, return_items`); err != nil {
		return false, err
	}
	res.vacuumTime = time.Since(ts)
	if err := ss.db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM inventory_units), (SELECT count(*) FROM stock_movements), (SELECT count(*) FROM swaps)").
		Scan(&res.tableUnits, &res.tableMoves, &res.tableSwaps); err != nil {
		return false, err
	}
	e.logf("stock: checking the ledger in SQL")
	if res.ledger, err = checkLedger(ctx, ss.db); err != nil {
		return false, err
	}
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}

	tech := techs[0]
	path := "/api/v1/centres/" + stockCentre + "/stock"
	if err := res.checkAnswer(ctx, ss, tech.token, path, ids[stockCentre], minimum); err != nil {
		return false, err
	}
	if err := res.checkUnit(ctx, ss, tech.token, ids[stockCentre]); err != nil {
		return false, err
	}

	worker := func(int) worker { return &stockWorker{url: srv.base + path, auth: "Bearer " + tech.token} }
	pm := e.pg.postmasterPIDFile
	res.mem.startHWMKB = ss.memKB("VmHWM")
	e.logf("stock: %d requests one at a time, after %s warm-up", o.requests, o.warmup)
	reaped := reapedCPU(pm)
	if res.seq, err = srv.runLoad(ctx, pm, loadPlan{clients: 1, warmup: o.warmup, requests: o.requests, outcomes: []string{"200"}}, worker); err != nil {
		return false, err
	}
	res.seqWorkers = measuredShare(reapedCPU(pm)-reaped, res.seq)
	e.logf("stock: %d requests from %d clients", o.requests, o.clients)
	reaped = reapedCPU(pm)
	if res.conc, err = srv.runLoad(ctx, pm, loadPlan{clients: o.clients, requests: o.requests, outcomes: []string{"200"}}, worker); err != nil {
		return false, err
	}
	res.concWorkers = measuredShare(reapedCPU(pm)-reaped, res.conc)
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	res.mem.maxRSSKB = max(res.seq.cpu.rssMaxKB, res.conc.cpu.rssMaxKB)
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	res.logErrors, res.logSample = scanServerLog(srv.logPath)
	res.print(os.Stdout)
	return res.summary(os.Stdout), nil
}

// reapedCPU is the CPU-seconds of the postmaster's children that have exited (its
// cutime and cstime). The CPU sampler reads the live processes every 200 ms and misses
// PostgreSQL's parallel workers, which live for one query each; they are most of these.
func reapedCPU(pmPIDFile string) float64 {
	b, err := os.ReadFile(pmPIDFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0
	}
	f, ok := procStatFields(pid)
	if !ok || len(f) < 15 {
		return 0
	}
	u, _ := strconv.ParseUint(f[13], 10, 64)
	s, _ := strconv.ParseUint(f[14], 10, 64)
	return float64(u+s) / clockTicks
}

// measuredShare is the part of a load's CPU that its measured requests took, the warm-up's
// left out pro rata.
func measuredShare(cpu float64, l *loadResult) float64 {
	return cpu * ratio(float64(l.measured()), float64(l.measured()+l.warmups()))
}

// activeTests is the codes of the active tests of the catalogue, as a technician sees it.
func activeTests(ctx context.Context, srv *server, token string) ([]string, error) {
	var catalogue struct {
		Items []struct {
			Code   string `json:"code"`
			Active bool   `json:"active"`
		} `json:"items"`
	}
	if err := srv.call(ctx, "GET", "/api/v1/test-catalogue", token, nil, &catalogue, 200); err != nil {
		return nil, err
	}
	var tests []string
	for _, it := range catalogue.Items {
		if it.Active {
			tests = append(tests, it.Code)
		}
	}
	return tests, nil
}

// checkAnswer asks once and holds the answer against SQL and against the history
// written: backup devices by model in stock and on the way, what the open restock
// request asks for, the minimums and shortfalls; handsets received and on their way
// back, and backup devices with customers, these two counted from the ledger (units
// whose last movement took them from this centre), not from the tables the view reads.
func (res *stockResult) checkAnswer(ctx context.Context, ss *session, token, path string, centre pgtype.UUID, minimum map[string]int) error {
	body, status, err := ss.srv.getRaw(ctx, path, token)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, snippet(status, body))
	}
	var a stockAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	res.answerBytes, res.models = len(body), len(a.Backup)

	type modelRow struct{ inStock, inTransit, requested, minimum int }
	want := map[string]*modelRow{}
	row := func(m string) *modelRow {
		if want[m] == nil {
			want[m] = &modelRow{}
		}
		return want[m]
	}
	id := centre.String()
	q := func(query string, scan func(*sql.Rows) error) error {
		rows, err := ss.db.QueryContext(ctx, query, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var m string
	var n1, n2 int
	if err := q(`SELECT model, count(*) FILTER (WHERE state = 'in_stock'), count(*) FILTER (WHERE state = 'in_transit')
		FROM inventory_units WHERE centre_id = $1 AND kind = 'backup' GROUP BY model`, func(rs *sql.Rows) error {
		if err := rs.Scan(&m, &n1, &n2); err != nil {
			return err
		}
		row(m).inStock, row(m).inTransit = n1, n2
		return nil
	}); err != nil {
		return fmt.Errorf("stock by model: %w", err)
	}
	if err := q(`SELECT l.model, sum(l.quantity) FROM restock_lines l JOIN restock_requests r ON r.id = l.request_id
		WHERE r.centre_id = $1 AND r.status = 'open' GROUP BY l.model`, func(rs *sql.Rows) error {
		if err := rs.Scan(&m, &n1); err != nil {
			return err
		}
		row(m).requested = n1
		return nil
	}); err != nil {
		return fmt.Errorf("requested by model: %w", err)
	}
	if err := q(`SELECT model, quantity FROM centre_min_stock WHERE centre_id = $1`, func(rs *sql.Rows) error {
		if err := rs.Scan(&m, &n1); err != nil {
			return err
		}
		row(m).minimum = n1
		return nil
	}); err != nil {
		return fmt.Errorf("minimums: %w", err)
	}
	var received, inReturn, assigned int
	if err := ss.db.QueryRowContext(ctx, `WITH last AS (
			SELECT DISTINCT ON (unit_id) unit_id, reason, kind, from_centre_id, to_state, to_centre_id FROM stock_movements ORDER BY unit_id, id DESC)
		SELECT count(*) FILTER (WHERE kind = 'faulty' AND to_state = 'received' AND to_centre_id = $1),
			count(*) FILTER (WHERE reason = 'return_dispatched' AND to_state = 'in_return' AND from_centre_id = $1),
			count(*) FILTER (WHERE reason = 'swap_out' AND to_state = 'assigned' AND from_centre_id = $1)
		FROM last`, id).Scan(&received, &inReturn, &assigned); err != nil {
		return fmt.Errorf("the ledger's counts: %w", err)
	}

	var problems []string
	x := res.expect
	for model, w := range want {
		if w.inStock != x.inStock[model] || w.inTransit != x.inTransit[model] || w.requested != x.requested[model] || w.minimum != minimum[model] {
			problems = append(problems, fmt.Sprintf("SQL has %s %d/%d/%d/%d, the history %d/%d/%d/%d", model, w.inStock, w.inTransit, w.requested,
				w.minimum, x.inStock[model], x.inTransit[model], x.requested[model], minimum[model]))
		}
	}
	seen := map[string]bool{}
	for _, b := range a.Backup {
		seen[b.Model] = true
		res.inStock, res.transit, res.wanted = res.inStock+b.InStock, res.transit+b.InTransit, res.wanted+b.Requested
		w := want[b.Model]
		if w == nil {
			problems = append(problems, "model "+b.Model+" in the answer, not in SQL")
			continue
		}
		if b.InStock != w.inStock || b.InTransit != w.inTransit || b.Requested != w.requested || b.Minimum != w.minimum ||
			b.Shortfall != max(w.minimum-w.inStock, 0) {
			problems = append(problems, fmt.Sprintf("%s: answer %d/%d/%d/%d/%d, SQL %d/%d/%d/%d", b.Model, b.InStock, b.InTransit, b.Requested,
				b.Minimum, b.Shortfall, w.inStock, w.inTransit, w.requested, w.minimum))
		}
		if b.Shortfall > 0 {
			res.short = append(res.short, fmt.Sprintf("%s %d", b.Model, b.Shortfall))
		}
	}
	for model := range want {
		if !seen[model] {
			problems = append(problems, "model "+model+" in SQL, not in the answer")
		}
	}
	if a.CentreCode != stockCentre {
		problems = append(problems, "centre_code "+a.CentreCode)
	}
	for _, c := range []struct {
		name                  string
		answer, ledger, wrote int
	}{
		{"faulty_received", a.FaultyReceived, received, x.faultyReceived},
		{"faulty_in_return", a.FaultyInReturn, inReturn, x.faultyInReturn},
		{"assigned", a.Assigned, assigned, x.assigned},
	} {
		if c.answer != c.ledger || c.ledger != c.wrote {
			problems = append(problems, fmt.Sprintf("%s: answer %d, ledger %d, history %d", c.name, c.answer, c.ledger, c.wrote))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		res.answerCheck = "WRONG: " + strings.Join(problems, "; ")
		return nil
	}
	res.answerOK = true
	res.answerCheck = fmt.Sprintf("%d models: %d in stock, %d on the way, %d requested; %d handsets received, %d on their way back, %d with customers: "+
		"= SQL, = the ledger, = the history written", len(a.Backup), res.inStock, res.transit, res.wanted, a.FaultyReceived, a.FaultyInReturn, a.Assigned)
	return nil
}

// checkUnit reads the measured centre's unit with the longest history through
// GET /api/v1/units/{imei}: its movements must be the ledger's, and it must be where the
// last one left it.
func (res *stockResult) checkUnit(ctx context.Context, ss *session, token string, centre pgtype.UUID) error {
	var imeiOf string
	var n int
	if err := ss.db.QueryRowContext(ctx, `SELECT u.imei, count(*) FROM inventory_units u JOIN stock_movements m ON m.unit_id = u.id
		WHERE u.id IN (SELECT unit_id FROM stock_movements WHERE to_centre_id = $1 OR from_centre_id = $1)
		GROUP BY u.imei ORDER BY 2 DESC, 1 LIMIT 1`, centre.String()).Scan(&imeiOf, &n); err != nil {
		return fmt.Errorf("the longest history: %w", err)
	}
	var u unitView
	if err := ss.srv.call(ctx, "GET", "/api/v1/units/"+imeiOf, token, nil, &u, 200); err != nil {
		return err
	}
	lastOK := len(u.Movements) > 0 && u.Movements[len(u.Movements)-1].ToState == u.State && u.Movements[len(u.Movements)-1].Kind == u.Kind
	res.unitOK = len(u.Movements) == n && u.Version == n+1 && lastOK
	res.unitCheck = fmt.Sprintf("%s (%s %s, %s): %d movements through the API, %d in SQL, version %d, where the last put it: %t",
		imeiOf, u.Kind, u.Model, u.State, len(u.Movements), n, u.Version, lastOK)
	if !res.unitOK {
		res.unitCheck = "WRONG: " + res.unitCheck
	}
	return nil
}

// unitView is what the checks read of GET /api/v1/units/{imei}.
type unitView struct {
	IMEI       string  `json:"imei"`
	Model      string  `json:"model"`
	Kind       string  `json:"kind"`
	State      string  `json:"state"`
	Location   string  `json:"location"`
	CentreCode *string `json:"centre_code"`
	Warehouse  *string `json:"warehouse_code"`
	Ticket     *string `json:"ticket_number"`
	Version    int     `json:"version"`
	Movements  []struct {
		Reason       string  `json:"reason"`
		Kind         string  `json:"kind"`
		FromState    *string `json:"from_state"`
		FromLocation *string `json:"from_location"`
		ToState      string  `json:"to_state"`
		ToLocation   string  `json:"to_location"`
		ToCentre     *string `json:"to_centre_code"`
		ActorKind    string  `json:"actor_kind"`
		ActorName    *string `json:"actor_name"`
	} `json:"movements"`
}

// shape is what a unit registered into a centre's stock must look like, whoever made it.
func (u *unitView) shape() string {
	s := fmt.Sprintf("%s %s %s at %s, warehouse %v, ticket %v, version %d, %d movements", u.Kind, u.State, u.Location, deref(u.CentreCode),
		u.Warehouse != nil, u.Ticket != nil, u.Version, len(u.Movements))
	for _, m := range u.Movements {
		s += fmt.Sprintf("; %s %s from %v/%v to %s/%s at %s by %s (named %t)", m.Reason, m.Kind, m.FromState != nil, m.FromLocation != nil,
			m.ToState, m.ToLocation, deref(m.ToCentre), m.ActorKind, m.ActorName != nil)
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func (res *stockResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Service: GET /api/v1/centres/%s/stock\n", stockCentre)
	for _, c := range res.centres {
		fmt.Fprintf(w, "  %-15s %d units, %d movements (at most %d for one unit) since %s: %d in stock, %d on the way, %d with customers; "+
			"handsets %d received, %d on their way back, %d returned; %d swaps standing, %d undone; %d restock requests (%d lines), %d return boxes; "+
			"written in %.1fs (repair orders %.1fs, plan %.1fs, copy through the ledger %.1fs)\n",
			c.code, c.units, c.movements, c.maxMoves, c.from.Format(time.DateOnly), c.inStock, c.inTransit, c.standing, c.received, c.inReturn,
			c.returnedUnit, c.standing, c.undone, c.restocks, c.lines, c.returns, (c.orderTime + c.planTime + c.copyTime).Seconds(),
			c.orderTime.Seconds(), c.planTime.Seconds(), c.copyTime.Seconds())
	}
	fmt.Fprintf(w, "  tables          %d units, %d movements, %d swaps; seeded in %.1fs, VACUUM ANALYZE %.1fs\n",
		res.tableUnits, res.tableMoves, res.tableSwaps, res.seedTime.Seconds(), res.vacuumTime.Seconds())
	fmt.Fprintf(w, "  ledger          %s\n", res.ledger)
	fmt.Fprintf(w, "  answer          %d bytes: %s\n", res.answerBytes, res.answerCheck)
	if len(res.short) > 0 {
		fmt.Fprintf(w, "  short           %s\n", strings.Join(res.short, ", "))
	}
	fmt.Fprintf(w, "  unit            %s\n", res.unitCheck)
	for _, p := range []struct {
		name    string
		l       *loadResult
		workers float64
	}{{"one at a time", res.seq, res.seqWorkers}, {fmt.Sprintf("%d clients", res.conc.plan.clients), res.conc, res.concWorkers}} {
		l := p.l
		fmt.Fprintf(w, "  %-15s %d requests in %.2fs (%.1f/s)", p.name, l.measured(), l.elapsed.Seconds(), l.rate(l.measured()))
		if n := l.warmups(); n > 0 {
			fmt.Fprintf(w, ", after %d in warm-up", n)
		}
		fmt.Fprintf(w, "; %d errors\n", l.errors)
		for _, s := range l.samples {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
		fmt.Fprintf(w, "    latency       %s\n", latencyP95Summary(l.all))
		printCPU(w, l.cpu, float64(l.measured()), "request", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres},
			{"its parallel workers", p.workers}, {"load generator", l.cpu.self}})
	}
	fmt.Fprintf(w, "  server log      %d warnings or errors", res.logErrors)
	if res.logSample != "" {
		fmt.Fprintf(w, ", e.g. %s", res.logSample)
	}
	fmt.Fprintln(w)
	res.mem.print(w)
	if res.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", res.stopped)
	}
}

// summary prints the figures against their targets and reports whether the run failed:
// an answer other than 200, a first answer unlike SQL and the history, a unit read unlike
// its ledger, or a ledger that does not check.
func (res *stockResult) summary(w io.Writer) bool {
	s := newSummary(w, "stock")
	c := res.centres[0]
	s.row("units / movements at the centre", fmt.Sprintf("%d / %d", c.units, c.movements), "", "")
	s.row("units / movements in the tables", fmt.Sprintf("%d / %d", res.tableUnits, res.tableMoves), "", "")
	target := fmt.Sprintf("< %s", ms(targetStockP99))
	for _, p := range []struct {
		name    string
		l       *loadResult
		workers float64
	}{{"one at a time", res.seq, res.seqWorkers}, {fmt.Sprintf("%d clients", res.conc.plan.clients), res.conc, res.concWorkers}} {
		l := p.l
		s.row(p.name+": requests/s", fmt.Sprintf("%.1f", l.rate(l.measured())), "", "")
		if n := l.measured(); n > 0 {
			s.row(p.name+": PostgreSQL CPU per request", fmt.Sprintf("%.1f ms", 1000*(l.cpu.postgres+p.workers)/float64(n)), "",
				fmt.Sprintf("%.1f of it in parallel workers", 1000*p.workers/float64(n)))
		}
		s.row(p.name+": latency p50", ms(percentile(l.all, .5)), "", "")
		s.row(p.name+": latency p95", ms(percentile(l.all, .95)), "", "")
		p99 := percentile(l.all, .99)
		s.row(p.name+": latency p99", ms(p99), target, verdict(l.measured() > 0 && p99 < targetStockP99))
		s.row(p.name+": latency max", ms(percentile(l.all, 1)), "", "")
	}
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", res.mem.peakMB()), "", "")
	s.row("answer = SQL = ledger = history written", map[bool]string{true: "yes", false: "NO"}[res.answerOK], "", check(res.answerOK))
	s.row("a unit's movements through the API = SQL", map[bool]string{true: "yes", false: "NO"}[res.unitOK], "", check(res.unitOK))
	s.row("every unit where its last movement put it", map[bool]string{true: "yes", false: "NO"}[res.ledger.ok()], "", check(res.ledger.ok()))
	errs := res.seq.errors + res.conc.errors
	s.row("failed requests (not 200)", fmt.Sprint(errs), "0", check(errs == 0))
	warnOtherLoad(w, phaseLoad{"the sequential requests", res.seq.cpu, res.seq.cpu.server + res.seq.cpu.postgres + res.seqWorkers + res.seq.cpu.self},
		phaseLoad{"the concurrent requests", res.conc.cpu, res.conc.cpu.server + res.conc.cpu.postgres + res.concWorkers + res.conc.cpu.self})
	failed := errs > 0 || !res.answerOK || !res.unitOK || !res.ledger.ok() || res.seq.measured() == 0 || res.conc.measured() == 0
	printResult(w, failed, "answers other than 200, an answer unlike the database, a unit unlike its ledger, or a ledger that does not check")
	return failed
}

// The swap scenario.

// swapAnswer is what a 201 of swap said.
type swapAnswer struct {
	ID          string `json:"swap_id"`
	Repair      string `json:"repair_id"`
	Centre      string `json:"centre_code"`
	FaultyIMEI  string `json:"faulty_imei"`
	BackupIMEI  string `json:"backup_imei"`
	BackupModel string `json:"backup_model"`
	Status      string `json:"status"`
	Endorsement string `json:"endorsement_url"`
}

var swapBody = []byte(`{"model":"` + swapModel + `"}`)

// swapWorker is one technician swapping the ready repair orders of their centre's pool,
// one after another; every answer but a 201 with the swap of that repair, its
// customer's handset taken in and a backup device of the model asked for, is an error.
type swapWorker struct {
	base, auth string
	token      string
	pool       *ticketPool       // repair order ids
	received   map[string]string // repair order id → the IMEI it received; read only
	current    string
	answers    []swapAnswer
}

func (w *swapWorker) next(ctx context.Context) (*http.Request, error) {
	id, ok := w.pool.take()
	if !ok {
		return nil, nil
	}
	w.current = id
	return jsonRequest(ctx, "POST", w.base+"/api/v1/repairs/"+id+"/swap", w.auth, swapBody)
}

func (w *swapWorker) classify(status int, body []byte) (int, string) {
	if status != http.StatusCreated {
		return -1, snippet(status, body)
	}
	var a swapAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" || a.Repair != w.current || a.Status != "requested" ||
		a.BackupModel != swapModel || !imeiPattern.MatchString(a.BackupIMEI) || a.FaultyIMEI != w.received[w.current] {
		return -1, "201 without the swap of the repair: " + snippet(status, body)
	}
	w.answers = append(w.answers, a)
	return 0, ""
}

// seedBackups registers n backup devices of a model into a centre's stock in SQL, as
// POST /api/v1/admin/units/batch leaves them: each in_stock at the centre, version 2,
// with its one movement, "registered" by the admin, from nowhere. Their created_at run
// from an hour ago a millisecond apart, the order swaps take them in.
func seedBackups(ctx context.Context, url string, admin pgtype.UUID, centre string, alloc *imeiAlloc, m invModel, n int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var centreID pgtype.UUID
	if err := tx.QueryRow(ctx, "SELECT id FROM centres WHERE code = $1", centre).Scan(&centreID); err != nil {
		return fmt.Errorf("centre %s: %w", centre, err)
	}
	base := time.Now().Add(-time.Hour)
	units, moves := make([][]any, n), make([][]any, n)
	for i := range n {
		id, hs, at := newUUID(), alloc.handset(m), base.Add(time.Duration(i)*time.Millisecond)
		units[i] = []any{id, hs.imei, hs.brand, hs.model, "backup", "in_stock", "centre", centreID, at, at}
		moves[i] = []any{id, at, "user", admin, "registered", "backup", "in_stock", "centre", centreID}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"inventory_units"}, []string{"id", "imei", "brand", "model", "kind", "state", "location",
		"centre_id", "created_at", "updated_at"}, pgx.CopyFromRows(units)); err != nil {
		return fmt.Errorf("copy into inventory_units: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stock_movements"}, []string{"unit_id", "at", "actor_kind", "actor_id", "reason", "kind",
		"to_state", "to_location", "to_centre_id"}, pgx.CopyFromRows(moves)); err != nil {
		return fmt.Errorf("copy into stock_movements: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE inventory_units, stock_movements")
	return err
}

// swapPhase is one load of swaps.
type swapPhase struct {
	name, short    string
	centres        []string
	clients        int
	repairs, units int // seeded
	stock          int // backup devices in stock at each centre when it starts
	seedTime       time.Duration
	load           *loadResult
	dry            []string // centres whose repair orders or backup devices ran out
	walBytes       int64
	multixacts     int64
	waits          *waitSampler
	pdfBytes       float64
	started        time.Time
	workers        []*swapWorker
	left           map[string]int // backup devices of the model still in stock, per centre
}

func (p *swapPhase) rate() float64 { return p.load.rate(p.load.measured()) }

// swapEnv is what the phases share.
type swapEnv struct {
	e         *benchEnv
	ss        *session
	seeder    *repairSeeder
	alloc     *imeiAlloc
	r         *mrand.Rand
	admin     pgtype.UUID
	seededMov int // movements written in SQL: one per backup device
}

type swapResult struct {
	base                       *baseline
	technicians                int
	unitCheck                  string
	unitOK                     bool
	calib                      *swapPhase
	calibRate                  float64
	one, spread                *swapPhase
	answered, distinct, stored int
	unmatched                  int // answers without a stored swap of that id, repair, centre and backup IMEI
	perCentre                  []string
	twice, notAssigned         int
	badFaulty, events, lines   int
	seededMoves                int
	ledger                     ledgerCheck
	pdfCheck                   string
	pdfOK                      bool
	deadlocks                  int64
	logErrors                  int
	logSample                  string
	mem                        memory
	stopped                    string
}

func runSwap(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	spread := min(swapSpread, o.clients)
	fmt.Fprintf(os.Stdout, "  plan            %d technicians; pgbench scale %d for %s; then the service: all %d at one centre, then spread over %d centres, "+
		"%s warm-up + %s each, every swap asking for a %s\n", o.clients, o.scale, o.duration, o.clients, spread, o.warmup, o.duration, swapModel)
	base, err := runBaseline(ctx, e)
	if err != nil {
		return false, err
	}
	ss, err := startSession(ctx, e, "swap")
	if err != nil {
		return false, err
	}
	defer ss.close()
	srv := ss.srv
	res := &swapResult{base: base}
	setUpErr := func(err error) error { return fmt.Errorf("set up through the API: %w", err) }
	tok, err := srv.login(ctx)
	if err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createBusinessUnit(ctx, tok, swapBU, "Región de cambios"); err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createWarehouse(ctx, tok, swapWarehouse, "Almacén de cambios", swapBU); err != nil {
		return false, setUpErr(err)
	}
	hours := openingHours("00:00", "23:30", 1, 2, 3, 4, 5, 6, 7)
	codes := []string{swapOneCentre}
	for i := 1; i <= spread; i++ {
		codes = append(codes, fmt.Sprintf("SWP-%02d", i))
	}
	for i, code := range codes {
		n := certifyCentreNames[i%len(certifyCentreNames)]
		if err := srv.createCentre(ctx, tok, centreBody(code, n.name, n.address, swapBU, certifyCounters, hours, nil)); err != nil {
			return false, setUpErr(err)
		}
	}
	e.logf("swap: creating and signing in %d technicians", 2*o.clients)
	var oneTechs, spreadTechs []*technician
	for i := range 2 * o.clients {
		centre := swapOneCentre
		if i >= o.clients {
			centre = codes[1+(i-o.clients)%spread]
		}
		t, err := createTechnician(ctx, srv, tok, centre, i)
		if err != nil {
			return false, setUpErr(err)
		}
		if i < o.clients {
			oneTechs = append(oneTechs, t)
		} else {
			spreadTechs = append(spreadTechs, t)
		}
	}
	var adminID string
	if err := ss.db.QueryRowContext(ctx, "SELECT id FROM users WHERE email = $1", adminEmail).Scan(&adminID); err != nil {
		return false, err
	}
	admin, err := parseUUID(adminID)
	if err != nil {
		return false, err
	}
	tests, err := activeTests(ctx, srv, oneTechs[0].token)
	if err != nil {
		return false, setUpErr(err)
	}
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 17))
	se := &swapEnv{e: e, ss: ss, r: r, alloc: newIMEIAlloc(r), admin: admin,
		seeder: &repairSeeder{url: e.pg.cluster.URL(ss.dbName), adminID: adminID, tests: tests, run: runID(), prefix: "SWP", r: r, nextDay: map[string]int{}}}

	if err := se.checkUnitsAgainstAPI(ctx, res, tok, oneTechs[0].token); err != nil {
		return false, err
	}

	clientsAt := func(ts []*technician) map[string]int {
		m := map[string]int{}
		for _, t := range ts {
			m[t.centre]++
		}
		return m
	}
	// Calibration at the spread centres: how fast the service swaps, to size what the
	// measured phases need. Not counted.
	calibTime := max(o.warmup, certifyMinCalibration)
	calibNeed := map[string]int{}
	calibStock := 0
	for c, n := range clientsAt(spreadTechs) {
		calibNeed[c] = n * swapCalibPerClient
		calibStock = max(calibStock, calibNeed[c])
	}
	e.logf("swap: calibration, %d technicians at %d centres for up to %s", len(spreadTechs), spread, calibTime)
	res.calib, err = se.phase(ctx, "calibration", "calibration", spreadTechs, calibNeed, calibStock,
		loadPlan{clients: len(spreadTechs), duration: calibTime, outcomes: []string{"201"}})
	if err != nil {
		return false, err
	}
	if res.calib.load.errors > 0 {
		return false, fmt.Errorf("calibration: %d errors, e.g. %s", res.calib.load.errors, strings.Join(res.calib.load.samples, "; "))
	}
	if res.calibRate = res.calib.rate(); res.calibRate <= 0 {
		return false, fmt.Errorf("calibration: no swap in %s", calibTime)
	}
	span := (o.warmup + o.duration).Seconds()
	need := func(ts []*technician) map[string]int {
		out := map[string]int{}
		for c, n := range clientsAt(ts) {
			share := float64(n) / float64(len(ts))
			out[c] = int(math.Ceil(res.calibRate*span*swapMargin*share)) + n
		}
		return out
	}
	// Every centre of both phases starts with as many backup devices in stock as the stock
	// scenario's centre holds (-units: 6,100 by default), so that the two phases differ only
	// in how the technicians are spread: each swap reads all of its centre's stock. More
	// only if the calibration rate alone would use them up at one centre.
	_, stock := stockShares(o.units)
	stock = max(stock, int(math.Ceil(res.calibRate*span))+o.clients)
	plan := loadPlan{clients: o.clients, warmup: o.warmup, duration: o.duration, outcomes: []string{"201"}}

	res.mem.startHWMKB = ss.memKB("VmHWM")
	e.logf("swap: all %d technicians at %s, %s warm-up, then %s measured", o.clients, swapOneCentre, o.warmup, o.duration)
	if res.one, err = se.phase(ctx, fmt.Sprintf("all %d at %s", o.clients, swapOneCentre), "one centre", oneTechs, need(oneTechs), stock, plan); err != nil {
		return false, err
	}
	e.logf("swap: %d technicians over %d centres, %s warm-up, then %s measured", o.clients, spread, o.warmup, o.duration)
	if res.spread, err = se.phase(ctx, fmt.Sprintf("%d at %d centres", o.clients, spread), fmt.Sprintf("%d centres", spread), spreadTechs,
		need(spreadTechs), stock, plan); err != nil {
		return false, err
	}
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	res.mem.maxRSSKB = max(res.one.load.cpu.rssMaxKB, res.spread.load.cpu.rssMaxKB)

	if err := res.checkEndorsement(ctx, ss); err != nil {
		return false, err
	}
	res.seededMoves = se.seededMov
	if err := res.checkStored(ctx, ss); err != nil {
		return false, err
	}
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	if err := ss.admin.QueryRowContext(ctx, "SELECT deadlocks FROM pg_stat_database WHERE datname = $1", ss.dbName).Scan(&res.deadlocks); err != nil {
		return false, err
	}
	res.logErrors, res.logSample = scanServerLog(srv.logPath)
	res.technicians = 2 * o.clients
	res.print(os.Stdout)
	return res.summary(os.Stdout), nil
}

// checkUnitsAgainstAPI registers two backup devices at the one centre through
// POST /api/v1/admin/units/batch and writes one in SQL, and compares what
// GET /api/v1/units/{imei} shows of them: the same shape. They stay in the shelf.
func (se *swapEnv) checkUnitsAgainstAPI(ctx context.Context, res *swapResult, adminTok, techTok string) error {
	srv := se.ss.srv
	m := modelNamed(swapModel)
	imeis := []string{se.alloc.handset(m).imei, se.alloc.handset(m).imei}
	var reg struct {
		Registered []struct {
			IMEI string `json:"imei"`
		} `json:"registered"`
		Refused []json.RawMessage `json:"refused"`
	}
	if err := srv.call(ctx, "POST", "/api/v1/admin/units/batch", adminTok, map[string]any{"brand": m.brand, "model": m.model, "kind": "backup",
		"location_code": swapOneCentre, "imeis": imeis}, &reg, 200); err != nil {
		return fmt.Errorf("register units: %w", err)
	}
	if len(reg.Registered) != 2 || len(reg.Refused) != 0 {
		return fmt.Errorf("register units: %d registered, %d refused", len(reg.Registered), len(reg.Refused))
	}
	before := se.alloc.next[m.tac]
	if err := seedBackups(ctx, se.seeder.url, se.admin, swapOneCentre, se.alloc, m, 1); err != nil {
		return fmt.Errorf("insert a unit: %w", err)
	}
	se.seededMov += 3 // the two through the API count as seeds too
	seeded := imei(m.tac, se.alloc.base+before)
	var api, sqlView unitView
	if err := srv.call(ctx, "GET", "/api/v1/units/"+imeis[0], techTok, nil, &api, 200); err != nil {
		return err
	}
	if err := srv.call(ctx, "GET", "/api/v1/units/"+seeded, techTok, nil, &sqlView, 200); err != nil {
		return err
	}
	res.unitOK = api.shape() == sqlView.shape()
	res.unitCheck = "GET /units/{imei}: " + sqlView.shape() + "; the same as one registered through the API"
	if !res.unitOK {
		res.unitCheck = fmt.Sprintf("MISMATCH:\n      API: %s\n      SQL: %s", api.shape(), sqlView.shape())
	}
	return nil
}

// phase seeds the repair orders each centre needs, with a handset of its own each, and
// stock backup devices at each centre, then runs the technicians, each on the pool of
// their centre.
func (se *swapEnv) phase(ctx context.Context, name, short string, techs []*technician, need map[string]int, stock int, plan loadPlan) (*swapPhase, error) {
	e, ss := se.e, se.ss
	p := &swapPhase{name: name, short: short, clients: len(techs), stock: stock, left: map[string]int{}}
	pools := map[string]*ticketPool{}
	received := map[string]string{}
	m := modelNamed(swapModel)
	t0 := time.Now()
	for _, t := range techs {
		if _, ok := pools[t.centre]; ok {
			continue
		}
		var workedBy []string
		for _, u := range techs {
			if u.centre == t.centre {
				workedBy = append(workedBy, u.id)
			}
		}
		n := need[t.centre]
		handsets := make([]handset, n)
		for i := range handsets {
			handsets[i] = se.alloc.handset(pickModel(se.r))
		}
		orders, err := se.seeder.seedOrders(ctx, t.centre, workedBy, n, handsets)
		if err != nil {
			return nil, fmt.Errorf("%s: insert the repair orders of %s: %w", name, t.centre, err)
		}
		ids := make([]string, n)
		for i, o := range orders {
			ids[i] = o.id.String()
			received[ids[i]] = o.imei
		}
		se.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		units := stock
		if err := seedBackups(ctx, se.seeder.url, se.admin, t.centre, se.alloc, m, units); err != nil {
			return nil, fmt.Errorf("%s: insert the backup devices of %s: %w", name, t.centre, err)
		}
		se.seededMov += units
		pools[t.centre] = &ticketPool{numbers: ids}
		p.centres = append(p.centres, t.centre)
		p.repairs += n
		p.units += units
	}
	p.seedTime = time.Since(t0)
	slices.Sort(p.centres)
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	wal0, err := walLSN(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	mx0, err := multixacts(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	p.waits = startWaitSampler(e.admin, ss.dbName, plan.warmup)
	p.workers = make([]*swapWorker, len(techs))
	p.load, err = ss.srv.runLoad(ctx, e.pg.postmasterPIDFile, plan, func(i int) worker {
		t := techs[i]
		p.workers[i] = &swapWorker{base: ss.srv.base, auth: "Bearer " + t.token, token: t.token, pool: pools[t.centre], received: received}
		return p.workers[i]
	})
	p.waits.finish()
	if err != nil {
		return nil, err
	}
	if p.waits.err != nil {
		return nil, fmt.Errorf("sample pg_stat_activity: %w", p.waits.err)
	}
	if p.walBytes, err = walSince(ctx, e.admin, wal0); err != nil {
		return nil, err
	}
	mx1, err := multixacts(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	p.multixacts = mx1 - mx0
	rows, err := ss.db.QueryContext(ctx, `SELECT c.code, count(u.id) FROM centres c LEFT JOIN inventory_units u ON u.centre_id = c.id
		AND u.kind = 'backup' AND u.state = 'in_stock' AND u.model = $2 WHERE c.code = ANY($1) GROUP BY c.code`, p.centres, swapModel)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var n int
		if err := rows.Scan(&code, &n); err != nil {
			rows.Close()
			return nil, err
		}
		p.left[code] = n
	}
	rows.Close()
	for _, c := range p.centres {
		if poolDry(pools[c]) || p.left[c] == 0 {
			p.dry = append(p.dry, c)
		}
	}
	var avg sql.NullFloat64
	if err := ss.db.QueryRowContext(ctx, `SELECT avg(length(s.endorsement_pdf)) FROM swaps s JOIN centres c ON c.id = s.centre_id
		WHERE c.code = ANY($1) AND s.created_at >= $2`, p.centres, p.started).Scan(&avg); err != nil {
		return nil, fmt.Errorf("mean PDF size: %w", err)
	}
	p.pdfBytes = avg.Float64
	return p, nil
}

func (res *swapResult) phases() []*swapPhase { return []*swapPhase{res.calib, res.one, res.spread} }

// checkEndorsement fetches, as its technician, the endorsement of the first swap of each
// measured phase: it must be a PDF whose hash is the one stored.
func (res *swapResult) checkEndorsement(ctx context.Context, ss *session) error {
	res.pdfOK = true
	var notes []string
	for _, p := range []*swapPhase{res.one, res.spread} {
		var a *swapAnswer
		var token string
		for _, w := range p.workers {
			if len(w.answers) > 0 {
				a, token = &w.answers[0], w.token
				break
			}
		}
		if a == nil {
			res.pdfOK = false
			notes = append(notes, p.short+": no swap")
			continue
		}
		body, status, err := ss.srv.getRaw(ctx, a.Endorsement, token)
		if err != nil {
			return err
		}
		var stored string
		if err := ss.db.QueryRowContext(ctx, "SELECT endorsement_sha256 FROM swaps WHERE id = $1", a.ID).Scan(&stored); err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ok := status == 200 && strings.HasPrefix(string(body), "%PDF-") && hex.EncodeToString(sum[:]) == stored
		res.pdfOK = res.pdfOK && ok
		notes = append(notes, fmt.Sprintf("%s %d bytes, SHA-256 %s", p.short, len(body), map[bool]string{true: "= stored", false: "DIFFERS"}[ok]))
	}
	res.pdfCheck = strings.Join(notes, "; ")
	return nil
}

// checkStored verifies the swaps in the database: as many as the 201 answers, each
// answer's swap stored with its repair, centre and backup device; no backup device in
// two swaps that stand, each one assigned to its customer; each customer's handset
// received at the swap's centre under the repair's IMEI; an event and a restock line
// per swap; and the ledger: every unit where its last movement put it, and two
// movements per swap besides the seeds.
func (res *swapResult) checkStored(ctx context.Context, ss *session) error {
	answered := map[string]swapAnswer{}
	perCentre := map[string]int{}
	for _, p := range res.phases() {
		for _, w := range p.workers {
			for _, a := range w.answers {
				res.answered++
				answered[a.ID] = a
				perCentre[a.Centre]++
			}
		}
	}
	res.distinct = len(answered)
	rows, err := ss.db.QueryContext(ctx, `SELECT s.id, s.repair_id, c.code, b.imei FROM swaps s JOIN centres c ON c.id = s.centre_id
		JOIN inventory_units b ON b.id = s.backup_unit_id`)
	if err != nil {
		return fmt.Errorf("read the swaps: %w", err)
	}
	storedPerCentre := map[string]int{}
	matched := 0
	for rows.Next() {
		var id, repair, centre, backup string
		if err := rows.Scan(&id, &repair, &centre, &backup); err != nil {
			rows.Close()
			return err
		}
		res.stored++
		storedPerCentre[centre]++
		if a, ok := answered[id]; ok && a.Repair == repair && a.Centre == centre && a.BackupIMEI == backup {
			matched++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	res.unmatched = res.distinct - matched
	var centres []string
	for c := range storedPerCentre {
		centres = append(centres, c)
	}
	for c := range perCentre {
		if _, ok := storedPerCentre[c]; !ok {
			centres = append(centres, c)
		}
	}
	slices.Sort(centres)
	for _, c := range centres {
		mark := ""
		if perCentre[c] != storedPerCentre[c] {
			mark = " MISMATCH"
		}
		res.perCentre = append(res.perCentre, fmt.Sprintf("%s %d/%d%s", c, perCentre[c], storedPerCentre[c], mark))
	}
	err = ss.db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM (SELECT backup_unit_id FROM swaps WHERE status <> 'undone' GROUP BY 1 HAVING count(*) > 1) x),
			(SELECT count(*) FROM swaps s JOIN inventory_units b ON b.id = s.backup_unit_id
				WHERE s.status <> 'undone' AND NOT (b.kind = 'backup' AND b.state = 'assigned' AND b.location = 'customer' AND b.ticket_id = s.ticket_id)),
			(SELECT count(*) FROM swaps s JOIN inventory_units f ON f.id = s.faulty_unit_id JOIN repair_orders r ON r.id = s.repair_id
				WHERE NOT (f.kind = 'faulty' AND f.state = 'received' AND f.centre_id = s.centre_id AND f.imei = r.received_imei)),
			(SELECT count(*) FROM csm_events WHERE type = 'swap.service_change_requested'),
			(SELECT count(*) FROM restock_lines WHERE origin = 'swap')`).
		Scan(&res.twice, &res.notAssigned, &res.badFaulty, &res.events, &res.lines)
	if err != nil {
		return fmt.Errorf("check the swaps: %w", err)
	}
	if res.ledger, err = checkLedger(ctx, ss.db); err != nil {
		return err
	}
	return nil
}

func (res *swapResult) storedOK() bool {
	n := res.stored
	return n > 0 && res.answered == n && res.distinct == n && res.unmatched == 0 && res.twice == 0 && res.notAssigned == 0 &&
		res.badFaulty == 0 && res.events == n && res.lines == n
}

func (res *swapResult) ledgerOK() bool {
	return res.ledger.ok() && res.ledger.movements == int64(res.seededMoves+2*res.stored)
}

func (res *swapResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Service: POST /api/v1/repairs/{id}/swap {\"model\":%q} (%d technicians, %s measured after %s warm-up in each phase)\n",
		swapModel, res.one.clients, res.one.load.plan.duration, res.one.load.plan.warmup)
	fmt.Fprintf(w, "  set-up          %d centres open 00:00-23:30 every day, a warehouse, %d technicians signed in\n", 1+len(res.spread.centres), res.technicians)
	fmt.Fprintf(w, "  units           %s\n", res.unitCheck)
	c := res.calib
	fmt.Fprintf(w, "  calibration     %d technicians at %d centres, %d %s in stock at each: %d swapped in %.2fs, %.1f/s, %s (not counted); "+
		"sizes the seeds: rate × %s × %.0f\n", c.clients, len(c.centres), c.stock, swapModel, c.load.measured(), c.load.elapsed.Seconds(), res.calibRate,
		latencyP95Summary(c.load.all), res.one.load.plan.warmup+res.one.load.plan.duration, swapMargin)
	printCPU(w, c.load.cpu, float64(c.load.measured()), "swap", [][2]any{{"server", c.load.cpu.server}, {"PostgreSQL", c.load.cpu.postgres}, {"load generator", c.load.cpu.self}})
	for _, p := range []*swapPhase{res.one, res.spread} {
		l := p.load
		fmt.Fprintf(w, "  -- %s (%s)\n", p.name, strings.Join(p.centres, ", "))
		fmt.Fprintf(w, "  seeded          %d repair orders ready, each with a handset of its own, and %d %s in stock (%d at each centre), written in SQL in %.1fs\n",
			p.repairs, p.units, swapModel, p.stock, p.seedTime.Seconds())
		fmt.Fprintf(w, "  swapped         %d (201) in %.2fs measured, %d in warm-up; %d errors\n", l.measured(), l.elapsed.Seconds(), l.warmups(), l.errors)
		for _, s := range l.samples {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
		if len(p.dry) > 0 {
			fmt.Fprintf(w, "  POOL RAN DRY    at %s: the clients stopped early or found no stock; the figures are not valid\n", strings.Join(p.dry, ", "))
		}
		fmt.Fprintf(w, "  throughput      %.1f swaps/s (%.3f × pgbench tps)\n", p.rate(), ratio(p.rate(), res.base.tps))
		fmt.Fprintf(w, "  latency         %s\n", latencyP95Summary(l.all))
		fmt.Fprintf(w, "  endorsement     %.0f bytes on average\n", p.pdfBytes)
		fmt.Fprintf(w, "  backends        %s\n", p.waits)
		printCPU(w, l.cpu, float64(l.measured()), "swap", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"load generator", l.cpu.self}})
		if n := l.measured() + l.warmups(); n > 0 {
			fmt.Fprintf(w, "  PostgreSQL      %.0f bytes WAL per swap; %d multixacts created\n", float64(p.walBytes)/float64(n), p.multixacts)
		}
	}
	fmt.Fprintf(w, "  -- checks\n")
	fmt.Fprintf(w, "  answers         %d swaps answered (201), %d distinct, %d stored; %d without a stored swap of that repair, centre and backup IMEI\n",
		res.answered, res.distinct, res.stored, res.unmatched)
	fmt.Fprintf(w, "  per centre      answered/stored: %s\n", strings.Join(res.perCentre, ", "))
	fmt.Fprintf(w, "  backup devices  %d in two swaps that stand; %d of the swaps' not assigned to their customer\n", res.twice, res.notAssigned)
	fmt.Fprintf(w, "  handsets        %d swaps whose handset is not received at the centre under the repair's IMEI\n", res.badFaulty)
	fmt.Fprintf(w, "  with each swap  %d swap.service_change_requested events, %d restock lines (origin swap)\n", res.events, res.lines)
	fmt.Fprintf(w, "  ledger          %s; expected %d movements = %d seeded + 2 × %d swaps\n", res.ledger, res.seededMoves+2*res.stored, res.seededMoves, res.stored)
	fmt.Fprintf(w, "  endorsements    %s\n", res.pdfCheck)
	fmt.Fprintf(w, "  deadlocks       %d (pg_stat_database)\n", res.deadlocks)
	fmt.Fprintf(w, "  server log      %d warnings or errors", res.logErrors)
	if res.logSample != "" {
		fmt.Fprintf(w, ", e.g. %s", res.logSample)
	}
	fmt.Fprintln(w)
	res.mem.print(w)
	if res.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", res.stopped)
	}
}

// summary prints the figures and reports whether the run failed: an answer other than
// 201, a pool that ran dry, swaps or a ledger that do not check, an endorsement served
// unlike its hash, or a unit written in SQL unlike one registered through the API.
func (res *swapResult) summary(w io.Writer) bool {
	b := res.base
	s := newSummary(w, "swap")
	s.row(fmt.Sprintf("pgbench TPC-B tps (%d clients)", b.clients), fmt.Sprintf("%.1f", b.tps), "", "")
	for _, p := range []*swapPhase{res.one, res.spread} {
		s.writePhaseRows(b, p.short, "swaps", p.rate(), p.load, p.waits, "endorsement", p.pdfBytes)
	}
	s.row("speed-up of spreading (swaps/s)", fmt.Sprintf("%.2f×", ratio(res.spread.rate(), res.one.rate())), "", "")
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", res.mem.peakMB()), "", "")
	s.row("swaps stored = 201s, each as answered", map[bool]string{true: "yes", false: "NO"}[res.storedOK()], "", check(res.storedOK()))
	s.row("ledger: units at last movement; 2 per swap", map[bool]string{true: "yes", false: "NO"}[res.ledgerOK()], "", check(res.ledgerOK()))
	seedOK := res.unitOK && res.pdfOK
	s.row("seed = API shape; endorsements = hash", map[bool]string{true: "yes", false: "NO"}[seedOK], "", check(seedOK))
	dry := len(res.one.dry) + len(res.spread.dry)
	s.row("pools that ran dry", fmt.Sprint(dry), "0", check(dry == 0))
	errs := res.one.load.errors + res.spread.load.errors
	s.row("failed requests (not 201)", fmt.Sprint(errs), "0", check(errs == 0))
	warnOtherLoad(w, phaseLoad{"pgbench", b.cpu, b.pgbenchCPU + b.cpu.postgres},
		phaseLoad{"the one-centre load", res.one.load.cpu, res.one.load.cpu.server + res.one.load.cpu.postgres + res.one.load.cpu.self},
		phaseLoad{"the spread load", res.spread.load.cpu, res.spread.load.cpu.server + res.spread.load.cpu.postgres + res.spread.load.cpu.self})
	failed := errs > 0 || dry > 0 || !res.storedOK() || !res.ledgerOK() || !seedOK || res.one.load.measured() == 0 || res.spread.load.measured() == 0
	printResult(w, failed, "answers other than 201, a pool of repair orders or backup devices that ran dry, swaps or a ledger that do not check, "+
		"a unit written in SQL unlike one registered through the API, or an endorsement served unlike its hash")
	return failed
}
