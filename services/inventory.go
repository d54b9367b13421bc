package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"centros/models"

	"gorm.io/gorm"
)

// Inventory is the backup pool and the faulty handsets: units and their ledger, swaps at
// the counter, return shipments and restock requests.
type Inventory struct {
	Deps
}

// NewInventory builds the inventory service.
func NewInventory(d Deps) *Inventory { return &Inventory{Deps: d} }

// unitRow is a unit as stored.
type unitRow struct {
	ID, IMEI, Brand, Model, Kind, State, Location string
	CentreID, WarehouseID, TicketID               *string
	Version                                       int
	CreatedAt, UpdatedAt                          time.Time
}

func (unitRow) TableName() string { return "inventory_units" }

// move is one movement to write: where the unit goes, why, and what for.
type move struct {
	reason, kind, state, location               string
	centreID, warehouseID                       *string
	ticketID, swapID, returnID, restockID, note *string
}

// moveUnit writes the movement of u; the ledger's trigger moves the unit and refuses a
// movement that does not start where the unit is.
func moveUnit(ctx context.Context, tx *gorm.DB, p models.Principal, u *unitRow, m move, at time.Time, first bool) error {
	args := withActor(ctx, p, map[string]any{"unit": u.ID, "at": at, "reason": m.reason, "kind": m.kind,
		"to_state": m.state, "to_location": m.location, "to_centre": m.centreID, "to_warehouse": m.warehouseID,
		"ticket": m.ticketID, "swap": m.swapID, "return": m.returnID, "restock": m.restockID, "note": m.note,
		"from_state": nil, "from_location": nil, "from_centre": nil, "from_warehouse": nil})
	if !first {
		args["from_state"], args["from_location"], args["from_centre"], args["from_warehouse"] = u.State, u.Location, u.CentreID, u.WarehouseID
	}
	err := tx.Exec(`INSERT INTO stock_movements (unit_id, at, actor_kind, actor_id, reason, kind, from_state, from_location,
			from_centre_id, from_warehouse_id, to_state, to_location, to_centre_id, to_warehouse_id, ticket_id, swap_id, return_id, restock_id, note)
		VALUES (@unit, @at, @actor_kind, CAST(@actor_id AS uuid), @reason, @kind, @from_state, @from_location,
			CAST(@from_centre AS uuid), CAST(@from_warehouse AS uuid), @to_state, @to_location, CAST(@to_centre AS uuid),
			CAST(@to_warehouse AS uuid), CAST(@ticket AS uuid), CAST(@swap AS uuid), CAST(@return AS uuid), CAST(@restock AS uuid), @note)`, args).Error
	if err != nil {
		return err
	}
	u.Kind, u.State, u.Location, u.CentreID, u.WarehouseID = m.kind, m.state, m.location, m.centreID, m.warehouseID
	if m.ticketID != nil {
		u.TicketID = m.ticketID
	}
	u.Version++
	return nil
}

// newUnit inserts a unit where its first movement puts it; the movement must follow in
// the same transaction (the schema checks at commit).
func newUnit(tx *gorm.DB, imei, brand, model string, m move, at time.Time) (*unitRow, error) {
	u := &unitRow{IMEI: imei, Brand: brand, Model: model, Kind: m.kind, State: m.state, Location: m.location,
		CentreID: m.centreID, WarehouseID: m.warehouseID, TicketID: m.ticketID, Version: 1, CreatedAt: at, UpdatedAt: at}
	err := tx.Raw(`INSERT INTO inventory_units (imei, brand, model, kind, state, location, centre_id, warehouse_id, ticket_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, CAST(? AS uuid), CAST(? AS uuid), CAST(? AS uuid), ?, ?) RETURNING id`,
		imei, brand, model, m.kind, m.state, m.location, m.centreID, m.warehouseID, m.ticketID, at, at).Scan(&u.ID).Error
	return u, err
}

// lockUnits locks the units with these IMEIs, by IMEI.
func lockUnits(tx *gorm.DB, imeis []string) (map[string]*unitRow, error) {
	var rows []unitRow
	if err := tx.Clauses(lockForUpdate()).Where("imei IN ?", imeis).Order("imei").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]*unitRow, len(rows))
	for i := range rows {
		out[rows[i].IMEI] = &rows[i]
	}
	return out, nil
}

// place is a centre or a warehouse, as a location code names it.
type place struct {
	centre    *CentreView
	warehouse *models.Warehouse
}

func (pl place) code() string {
	if pl.centre != nil {
		return pl.centre.Code
	}
	return pl.warehouse.Code
}

// placeFor resolves a location code the caller may register units into: the warehouse
// role its own warehouse and its business unit's centres, admin anywhere.
func placeFor(tx *gorm.DB, p models.Principal, code string) (place, error) {
	var ws []models.Warehouse
	if err := tx.Where("code = ?", code).Find(&ws).Error; err != nil {
		return place{}, err
	}
	if len(ws) == 1 {
		if p.Role == models.RoleWarehouse && ws[0].ID != p.WarehouseID {
			return place{}, locationNotFound()
		}
		return place{warehouse: &ws[0]}, nil
	}
	c, err := loadCentre(tx.Scopes(centreScope(p)), "centres.code = ?", code)
	if err != nil {
		return place{}, locationNotFound()
	}
	return place{centre: c}, nil
}

func locationNotFound() error {
	return &models.Error{Kind: models.KindUnprocessable, Code: "unknown_location", Message: "no warehouse or centre of yours has this code",
		Fields: []models.FieldError{{Field: "location_code", Rule: "exists", Message: "must be a warehouse or centre you stock"}}}
}

// warehouseOf is the warehouse of a centre's business unit that its returns and restock
// go through: the first by code.
func warehouseOf(tx *gorm.DB, c *CentreView) (*models.Warehouse, error) {
	var ws []models.Warehouse
	if err := tx.Where("business_unit_id = ?", c.BusinessUnitID).Order("code").Limit(1).Find(&ws).Error; err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, models.Errorf(models.KindUnprocessable, "no_warehouse", "the business unit of %s has no warehouse", c.Code)
	}
	return &ws[0], nil
}

// newReference is a short reference printed on documents: a prefix, the centre and 8
// random hex digits.
func newReference(prefix, centre string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + "-" + centre + "-" + strings.ToUpper(hex.EncodeToString(b)), nil
}

// RegisterUnits registers backup devices by scanning their IMEIs into a warehouse's or a
// centre's stock. Each IMEI is judged alone: an invalid one, one scanned twice and one
// already registered are refused with the reason, the others registered, each with its
// first movement. Errors: invalid, unprocessable (unknown_location).
func (s *Inventory) RegisterUnits(ctx context.Context, p models.Principal, in models.UnitsInput) (*models.UnitsResult, error) {
	if err := authorize(p, actRegisterUnits); err != nil {
		return nil, err
	}
	out := &models.UnitsResult{Registered: []models.Unit{}, Refused: []models.Refusal{}}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		pl, err := placeFor(tx, p, in.LocationCode)
		if err != nil {
			return err
		}
		var candidates []string
		seen := map[string]bool{}
		for _, raw := range in.IMEIs {
			imei := strings.TrimSpace(raw)
			switch {
			case !models.ValidIMEI(imei):
				out.Refused = append(out.Refused, models.Refusal{IMEI: raw, Code: "invalid_imei", Message: "not an IMEI: 15 digits ending in a valid check digit"})
			case seen[imei]:
				out.Refused = append(out.Refused, models.Refusal{IMEI: imei, Code: "scanned_twice", Message: "scanned more than once in this batch"})
			default:
				seen[imei] = true
				candidates = append(candidates, imei)
			}
		}
		if len(candidates) == 0 {
			return nil
		}
		existing, err := lockUnits(tx, candidates)
		if err != nil {
			return err
		}
		now := s.now()
		m := move{reason: "registered", kind: models.UnitBackup, state: models.UnitInStock}
		if pl.centre != nil {
			m.location, m.centreID = models.AtCentre, &pl.centre.ID
		} else {
			m.location, m.warehouseID = models.AtWarehouse, &pl.warehouse.ID
		}
		brand, model := strings.TrimSpace(in.Brand), strings.TrimSpace(in.Model)
		var ids []string
		for _, imei := range candidates {
			if u := existing[imei]; u != nil {
				out.Refused = append(out.Refused, models.Refusal{IMEI: imei, Code: "already_registered",
					Message: fmt.Sprintf("already registered as a %s unit, %s", u.Kind, strings.ReplaceAll(u.State, "_", " "))})
				continue
			}
			// A concurrent batch may register the same IMEI: the savepoint keeps the rest.
			var u *unitRow
			err := tx.Transaction(func(sp *gorm.DB) error {
				var err error
				if u, err = newUnit(sp, imei, brand, model, m, now); err != nil {
					return err
				}
				return moveUnit(ctx, sp, p, u, m, now, true)
			})
			if err != nil {
				if models.ErrorCode(translate(err)) == "already_exists" {
					out.Refused = append(out.Refused, models.Refusal{IMEI: imei, Code: "already_registered", Message: "registered a moment ago by someone else"})
					continue
				}
				return err
			}
			ids = append(ids, u.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		if out.Registered, err = loadUnits(tx, "u.id IN ?", ids); err != nil {
			return err
		}
		return audit(ctx, tx, p, "register_units", "location", pl.code(), centreIDOf(pl), nil,
			map[string]any{"brand": brand, "model": model, "registered": len(ids), "refused": len(out.Refused)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func centreIDOf(pl place) *string {
	if pl.centre != nil {
		return &pl.centre.ID
	}
	return nil
}

// RegisterUnit registers one unit. Errors: invalid, conflict (already_registered),
// unprocessable (unknown_location).
func (s *Inventory) RegisterUnit(ctx context.Context, p models.Principal, in models.UnitInput) (*models.Unit, error) {
	res, err := s.RegisterUnits(ctx, p, models.UnitsInput{Brand: in.Brand, Model: in.Model, Kind: in.Kind, LocationCode: in.LocationCode, IMEIs: []string{in.IMEI}})
	if err != nil {
		return nil, err
	}
	if len(res.Refused) > 0 {
		r := res.Refused[0]
		return nil, &models.Error{Kind: models.KindConflict, Code: r.Code, Message: r.Message,
			Fields: []models.FieldError{{Field: "imei", Rule: r.Code, Message: r.Message}}}
	}
	return &res.Registered[0], nil
}

const unitColumns = `u.id, u.imei, u.brand, u.model, u.kind, u.state, u.location, u.version, u.created_at, u.updated_at,
	c.code AS centre_code, w.code AS warehouse_code, t.ticket_number`

func loadUnits(tx *gorm.DB, where string, args ...any) ([]models.Unit, error) {
	var units []models.Unit
	err := tx.Table("inventory_units u").Select(unitColumns).
		Joins("LEFT JOIN centres c ON c.id = u.centre_id").Joins("LEFT JOIN warehouses w ON w.id = u.warehouse_id").
		Joins("LEFT JOIN tickets t ON t.id = u.ticket_id").Where(where, args...).Order("u.imei").Scan(&units).Error
	return units, err
}

// unitScope limits units to those the caller holds or held: centre staff their centre's
// (there, on the way there, or swapped or returned by it), the warehouse its own and its
// business unit's centres', admin all.
func unitScope(p models.Principal) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		switch {
		case p.Role.AtCentre():
			return q.Where(`(u.centre_id = @c OR EXISTS (SELECT FROM swaps s WHERE s.centre_id = @c AND u.id IN (s.backup_unit_id, s.faulty_unit_id))
				OR EXISTS (SELECT FROM return_items ri JOIN return_shipments r ON r.id = ri.return_id WHERE ri.unit_id = u.id AND r.centre_id = @c))`,
				map[string]any{"c": p.CentreID})
		case p.Role == models.RoleWarehouse:
			return q.Where(`(u.warehouse_id = @w OR u.centre_id IN (SELECT id FROM centres WHERE business_unit_id = @bu)
				OR EXISTS (SELECT FROM swaps s JOIN centres sc ON sc.id = s.centre_id WHERE sc.business_unit_id = @bu AND u.id IN (s.backup_unit_id, s.faulty_unit_id)))`,
				map[string]any{"w": p.WarehouseID, "bu": p.BusinessUnitID})
		case p.Role == models.RoleAdmin:
			return q
		}
		return q.Where("false")
	}
}

// Unit returns a unit with its whole ledger. Errors: not found.
func (s *Inventory) Unit(ctx context.Context, p models.Principal, imei string) (*models.Unit, error) {
	if err := authorize(p, actReadUnit); err != nil {
		return nil, err
	}
	if !models.ValidIMEI(imei) {
		return nil, models.NotFound("unit")
	}
	var out *models.Unit
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		units, err := loadUnits(tx.Scopes(unitScope(p)), "u.imei = ?", imei)
		if err != nil {
			return err
		}
		if len(units) == 0 {
			return models.NotFound("unit")
		}
		out = &units[0]
		out.Movements, err = movementsOf(tx, out.ID)
		return err
	})
	return out, err
}

func movementsOf(tx *gorm.DB, unitID string) ([]models.Movement, error) {
	var ms []models.Movement
	err := tx.Raw(`SELECT m.id, m.at, m.reason, m.kind, m.from_state, m.from_location, fc.code AS from_centre_code,
			fw.code AS from_warehouse_code, m.to_state, m.to_location, tc.code AS to_centre_code, tw.code AS to_warehouse_code,
			t.ticket_number, m.swap_id, m.return_id, m.restock_id, m.actor_kind, COALESCE(us.name, ac.name) AS actor_name, m.note
		FROM stock_movements m
		LEFT JOIN centres fc ON fc.id = m.from_centre_id LEFT JOIN warehouses fw ON fw.id = m.from_warehouse_id
		LEFT JOIN centres tc ON tc.id = m.to_centre_id LEFT JOIN warehouses tw ON tw.id = m.to_warehouse_id
		LEFT JOIN tickets t ON t.id = m.ticket_id
		LEFT JOIN users us ON m.actor_kind = 'user' AND us.id = m.actor_id
		LEFT JOIN api_clients ac ON m.actor_kind = 'api_client' AND ac.id = m.actor_id
		WHERE m.unit_id = ? ORDER BY m.id`, unitID).Scan(&ms).Error
	return ms, err
}

// Stock is a centre's backup devices by model against its minimums, in one statement,
// and its faulty handsets waiting to go back or on their way. Errors: not found.
func (s *Inventory) Stock(ctx context.Context, p models.Principal, code string) (*models.StockView, error) {
	if err := authorize(p, actReadStock); err != nil {
		return nil, err
	}
	var out *models.StockView
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Table("centres").Select("id").Scopes(centreScope(p)).Where("code = ?", code).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return models.NotFound("centre")
		}
		out = &models.StockView{CentreCode: code, Backup: []models.ModelStock{}}
		var err error
		out.Backup, err = modelStock(tx, ids[0], "")
		if err != nil {
			return err
		}
		// Only shipments still open and live swaps: the centre's history must not make
		// its stock slower to read.
		return tx.Raw(`SELECT
				(SELECT count(*) FROM inventory_units WHERE centre_id = @c AND kind = 'faulty' AND state = 'received') AS faulty_received,
				(SELECT count(*) FROM return_shipments r JOIN return_items ri ON ri.return_id = r.id JOIN inventory_units fu ON fu.id = ri.unit_id
					WHERE r.centre_id = @c AND r.status IN ('dispatched', 'received_with_discrepancies') AND fu.state = 'in_return') AS faulty_in_return,
				(SELECT count(*) FROM swaps WHERE centre_id = @c AND status <> 'undone') AS assigned`, map[string]any{"c": ids[0]}).Row().
			Scan(&out.FaultyReceived, &out.FaultyInReturn, &out.Assigned)
	})
	return out, err
}

// modelStock counts a centre's backup devices by model (one model when model is set),
// with what is on the way and requested, against the minimums.
func modelStock(tx *gorm.DB, centreID, model string) ([]models.ModelStock, error) {
	var rows []models.ModelStock
	// The model filter sits in each part, so that a swap's top-up reads one model's rows.
	err := tx.Raw(`WITH units AS (
			SELECT model, count(*) FILTER (WHERE state = 'in_stock') AS in_stock, count(*) FILTER (WHERE state = 'in_transit') AS in_transit
			FROM inventory_units WHERE centre_id = @c AND kind = 'backup' AND state IN ('in_stock', 'in_transit')
				AND (@model = '' OR model = @model) GROUP BY model),
		requested AS (
			SELECT l.model, sum(l.quantity) AS requested FROM restock_lines l JOIN restock_requests r ON r.id = l.request_id
			WHERE r.centre_id = @c AND r.status = 'open' AND (@model = '' OR l.model = @model) GROUP BY l.model),
		minimum AS (SELECT model, quantity FROM centre_min_stock WHERE centre_id = @c AND (@model = '' OR model = @model)),
		models AS (SELECT model FROM units UNION SELECT model FROM requested UNION SELECT model FROM minimum)
		SELECT m.model, COALESCE(u.in_stock, 0) AS in_stock, COALESCE(u.in_transit, 0) AS in_transit,
			COALESCE(q.requested, 0) AS requested, COALESCE(mi.quantity, 0) AS minimum,
			GREATEST(COALESCE(mi.quantity, 0) - COALESCE(u.in_stock, 0), 0) AS shortfall
		FROM models m LEFT JOIN units u USING (model) LEFT JOIN requested q USING (model) LEFT JOIN minimum mi USING (model)
		WHERE @model = '' OR m.model = @model ORDER BY m.model`, map[string]any{"c": centreID, "model": model}).Scan(&rows).Error
	if rows == nil {
		rows = []models.ModelStock{}
	}
	return rows, err
}

// imeiFields names the IMEIs of a request that break a rule, by their index.
func imeiFields(field string, imeis []string, bad map[string]string) []models.FieldError {
	var out []models.FieldError
	for i, imei := range imeis {
		if msg, ok := bad[imei]; ok {
			out = append(out, models.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Rule: "unit", Message: msg})
		}
	}
	return out
}

// uniqueIMEIs refuses a list that names an IMEI twice.
func uniqueIMEIs(field string, imeis []string) error {
	for i, imei := range imeis {
		if slices.Index(imeis, imei) < i {
			return models.Invalid(models.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Rule: "unique", Message: imei + " is listed twice"})
		}
	}
	return nil
}
