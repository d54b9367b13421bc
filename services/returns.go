package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"centros/models"
	"centros/pdf"

	"gorm.io/gorm"
)

// returnRow is a return shipment as stored.
type returnRow struct {
	ID, Reference, CentreID, WarehouseID, Status string
	DispatchedAt, ReceivedAt                     *time.Time
	Version                                      int
	CreatedAt, UpdatedAt                         time.Time
}

func (returnRow) TableName() string { return "return_shipments" }

func packingListPath(id string) string { return "/api/v1/returns/" + id + "/packing-list.pdf" }

// logisticsScope limits return shipments and restock requests (aliased r) to the
// caller's centre, or to its warehouse's.
func logisticsScope(p models.Principal) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		switch {
		case p.Role.AtCentre():
			return q.Where("r.centre_id = ?", p.CentreID)
		case p.Role == models.RoleWarehouse:
			return q.Where("r.warehouse_id = ?", p.WarehouseID)
		case p.Role == models.RoleAdmin:
			return q
		}
		return q.Where("false")
	}
}

// CreateReturn drafts a shipment to the centre's business-unit warehouse with faulty
// units received at the centre, as scanned. Each IMEI that cannot go is named with the
// reason and nothing is drafted. Errors: invalid, unprocessable (unit_not_returnable,
// mixed_centres, no_warehouse).
func (s *Inventory) CreateReturn(ctx context.Context, p models.Principal, imeis []string) (*models.ReturnShipment, error) {
	if err := authorize(p, actManageReturns); err != nil {
		return nil, err
	}
	if err := uniqueIMEIs("imeis", imeis); err != nil {
		return nil, err
	}
	var out *models.ReturnShipment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		units, err := lockUnits(tx, imeis)
		if err != nil {
			return err
		}
		var drafted []string
		if err := tx.Raw(`SELECT u.imei FROM return_items ri JOIN inventory_units u ON u.id = ri.unit_id WHERE u.imei IN ?`, imeis).
			Scan(&drafted).Error; err != nil {
			return err
		}
		// The centre is the caller's; an admin's is the units'.
		centreID := p.CentreID
		bad := map[string]string{}
		for _, imei := range imeis {
			u := units[imei]
			switch {
			case u == nil:
				bad[imei] = "is not a unit of ours"
			case slices.Contains(drafted, imei):
				bad[imei] = "is already in a return shipment"
			case u.Kind != models.UnitFaulty || u.State != models.UnitReceived || u.CentreID == nil:
				bad[imei] = "is not a faulty handset received at a centre (it is " + strings.ReplaceAll(u.Kind+" "+u.State, "_", " ") + ")"
			case centreID == "":
				centreID = *u.CentreID
			}
			if u != nil && bad[imei] == "" && *u.CentreID != centreID {
				bad[imei] = "was received at another centre"
			}
		}
		if len(bad) > 0 {
			return &models.Error{Kind: models.KindUnprocessable, Code: "unit_not_returnable", Message: "some units cannot go in this shipment",
				Fields: imeiFields("imeis", imeis, bad)}
		}
		c, err := loadCentre(tx, "centres.id = ?", centreID)
		if err != nil {
			return err
		}
		w, err := warehouseOf(tx, c)
		if err != nil {
			return err
		}
		ref, err := newReference("DEV", c.Code)
		if err != nil {
			return err
		}
		now := s.now()
		id := newID()
		if err := tx.Exec(`INSERT INTO return_shipments (id, reference, centre_id, warehouse_id, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, CAST(? AS uuid), ?, ?)`, id, ref, c.ID, w.ID, userOrNil(p), now, now).Error; err != nil {
			return err
		}
		for _, imei := range imeis {
			if err := tx.Exec("INSERT INTO return_items (return_id, unit_id) VALUES (?, ?)", id, units[imei].ID).Error; err != nil {
				return err
			}
		}
		if out, err = loadReturn(tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "return_draft", "return_shipment", id, &c.ID, nil, out)
	})
	return out, err
}

func loadReturn(tx *gorm.DB, id string) (*models.ReturnShipment, error) {
	list, err := loadReturns(tx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, models.NotFound("return shipment")
	}
	return &list[0], nil
}

// loadReturns reads shipments with their items and discrepancies, in the order of ids:
// three statements whatever their number.
func loadReturns(tx *gorm.DB, ids []string) ([]models.ReturnShipment, error) {
	var rows []models.ReturnShipment
	err := tx.Table("return_shipments r").Select(`r.id, r.reference, c.code AS centre_code, w.code AS warehouse_code, r.status,
			r.dispatched_at, r.dispatched_by, r.received_at, r.version, r.created_at`).
		Joins("JOIN centres c ON c.id = r.centre_id").Joins("JOIN warehouses w ON w.id = r.warehouse_id").Where("r.id IN ?", ids).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	byID := map[string]*models.ReturnShipment{}
	for i := range rows {
		r := &rows[i]
		byID[r.ID] = r
		r.Items, r.Discrepancies = []models.ReturnItem{}, []models.Discrepancy{}
		r.Missing, r.Unexpected, r.Damaged = []string{}, []string{}, []string{}
		if r.DispatchedAt != nil {
			u := packingListPath(r.ID)
			r.PackingListURL = &u
		}
	}
	var items []struct {
		ReturnID string
		models.ReturnItem
	}
	if err := tx.Raw(`SELECT ri.return_id, u.imei, u.brand, u.model, u.state, t.ticket_number, s.reference AS endorsement, s.id AS swap_id
		FROM return_items ri JOIN inventory_units u ON u.id = ri.unit_id LEFT JOIN tickets t ON t.id = u.ticket_id
		LEFT JOIN LATERAL (SELECT id, reference FROM swaps WHERE faulty_unit_id = u.id ORDER BY created_at DESC LIMIT 1) s ON true
		WHERE ri.return_id IN ? ORDER BY u.imei`, ids).Scan(&items).Error; err != nil {
		return nil, err
	}
	for _, it := range items {
		byID[it.ReturnID].Items = append(byID[it.ReturnID].Items, it.ReturnItem)
	}
	var ds []struct {
		ReturnID string
		models.Discrepancy
	}
	if err := tx.Raw(`SELECT return_id, id, imei, kind, created_at, resolved_at, resolution FROM return_discrepancies
		WHERE return_id IN ? ORDER BY kind, imei`, ids).Scan(&ds).Error; err != nil {
		return nil, err
	}
	for _, d := range ds {
		r := byID[d.ReturnID]
		r.Discrepancies = append(r.Discrepancies, d.Discrepancy)
		switch d.Kind {
		case "missing":
			r.Missing = append(r.Missing, d.IMEI)
		case "unexpected":
			r.Unexpected = append(r.Unexpected, d.IMEI)
		case "damaged":
			r.Damaged = append(r.Damaged, d.IMEI)
		}
	}
	out := make([]models.ReturnShipment, 0, len(ids))
	for _, id := range ids {
		if r := byID[id]; r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

func lockReturn(tx *gorm.DB, p models.Principal, id string) (*returnRow, error) {
	if !validUUID(id) {
		return nil, models.NotFound("return shipment")
	}
	var r returnRow
	err := tx.Table("return_shipments r").Select("r.*").Scopes(logisticsScope(p)).Clauses(lockForUpdate()).Where("r.id = ?", id).Take(&r).Error
	return &r, notFoundIf(err, "return shipment")
}

// DispatchReturn sends a draft: its units go in_return, on their way to the warehouse,
// and the packing list is rendered and stored. Errors: not found, conflict
// (return_not_draft, unit_not_available).
func (s *Inventory) DispatchReturn(ctx context.Context, p models.Principal, id string) (*models.ReturnShipment, error) {
	if err := authorize(p, actManageReturns); err != nil {
		return nil, err
	}
	var out *models.ReturnShipment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockReturn(tx, p, id)
		if err != nil {
			return err
		}
		if r.Status != models.ReturnDraft {
			return models.Errorf(models.KindConflict, "return_not_draft", "the shipment was dispatched on %s", r.DispatchedAt.Format(time.RFC3339))
		}
		before, err := loadReturn(tx, id)
		if err != nil {
			return err
		}
		var unitIDs []string
		if err := tx.Raw("SELECT unit_id FROM return_items WHERE return_id = ?", id).Scan(&unitIDs).Error; err != nil {
			return err
		}
		units, err := unitsByID(tx, unitIDs...)
		if err != nil {
			return err
		}
		now := s.now()
		for _, uid := range unitIDs {
			u := units[uid]
			if u.State != models.UnitReceived || u.CentreID == nil || *u.CentreID != r.CentreID {
				return models.Errorf(models.KindConflict, "unit_not_available", "%s is no longer at the centre (%s)", u.IMEI, u.State)
			}
			if err := moveUnit(ctx, tx, p, u, move{reason: "return_dispatched", kind: models.UnitFaulty, state: models.UnitInReturn,
				location: models.InTransit, warehouseID: &r.WarehouseID, returnID: &r.ID}, now, false); err != nil {
				return err
			}
		}
		body, err := s.packingList(tx, before, nameOf(p), now)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		if err := tx.Model(r).Updates(map[string]any{"status": models.ReturnDispatched, "dispatched_at": now, "dispatched_by": nameOf(p),
			"packing_pdf": body, "packing_sha256": hex.EncodeToString(sum[:]), "version": r.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		if out, err = loadReturn(tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "return_dispatch", "return_shipment", id, &r.CentreID, before, out)
	})
	return out, err
}

func (s *Inventory) packingList(tx *gorm.DB, r *models.ReturnShipment, by string, now time.Time) ([]byte, error) {
	c, err := loadCentre(tx, "centres.code = ?", r.CentreCode)
	if err != nil {
		return nil, err
	}
	var w models.Warehouse
	if err := tx.Where("code = ?", r.WarehouseCode).Take(&w).Error; err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	doc := pdf.PackingList{Reference: r.Reference, DispatchedAt: now, Location: loc, CentreCode: c.Code, CentreName: c.Name,
		CentreAddress: c.Address, WarehouseCode: w.Code, WarehouseName: w.Name, DispatchedBy: by}
	for _, it := range r.Items {
		item := pdf.PackingItem{IMEI: it.IMEI, Brand: it.Brand, Model: it.Model}
		if it.TicketNumber != nil {
			item.TicketNumber = *it.TicketNumber
		}
		if it.Endorsement != nil {
			item.Endorsement = *it.Endorsement
		}
		doc.Items = append(doc.Items, item)
	}
	return pdf.RenderPackingList(doc)
}

// ReceiveReturn records what the warehouse scanned out of a dispatched box: the units
// scanned are returned to the warehouse; a unit listed but not scanned is missing (it
// stays in_return), one scanned but not listed unexpected, and those marked damaged
// damaged. Each discrepancy stays open until resolved.
// Errors: not found, conflict (return_not_dispatched).
func (s *Inventory) ReceiveReturn(ctx context.Context, p models.Principal, id string, in models.ReceiveReturnInput) (*models.ReturnShipment, error) {
	if err := authorize(p, actReceiveReturns); err != nil {
		return nil, err
	}
	if err := uniqueIMEIs("scanned_imeis", in.ScannedIMEIs); err != nil {
		return nil, err
	}
	if err := uniqueIMEIs("damaged_imeis", in.DamagedIMEIs); err != nil {
		return nil, err
	}
	var out *models.ReturnShipment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockReturn(tx, p, id)
		if err != nil {
			return err
		}
		if r.Status != models.ReturnDispatched {
			return models.Errorf(models.KindConflict, "return_not_dispatched", "the shipment is %s", strings.ReplaceAll(r.Status, "_", " "))
		}
		before, err := loadReturn(tx, id)
		if err != nil {
			return err
		}
		// A damaged unit was in the box, scanned or not.
		scanned := slices.Clone(in.ScannedIMEIs)
		for _, d := range in.DamagedIMEIs {
			if !slices.Contains(scanned, d) {
				scanned = append(scanned, d)
			}
		}
		listed := map[string]bool{}
		for _, it := range before.Items {
			listed[it.IMEI] = true
		}
		var imeis []string
		for imei := range listed {
			imeis = append(imeis, imei)
		}
		units, err := lockUnits(tx, imeis)
		if err != nil {
			return err
		}
		now := s.now()
		discrepancy := func(imei, kind string) error {
			return tx.Exec("INSERT INTO return_discrepancies (return_id, imei, kind, created_at) VALUES (?, ?, ?, ?)", r.ID, imei, kind, now).Error
		}
		found := 0
		for _, imei := range scanned {
			if !listed[imei] {
				if err := discrepancy(imei, "unexpected"); err != nil {
					return err
				}
				found++
				continue
			}
			if err := moveUnit(ctx, tx, p, units[imei], move{reason: "return_received", kind: models.UnitFaulty, state: models.UnitReturned,
				location: models.AtWarehouse, warehouseID: &r.WarehouseID, returnID: &r.ID}, now, false); err != nil {
				return err
			}
		}
		slices.Sort(imeis)
		for _, imei := range imeis {
			if !slices.Contains(scanned, imei) {
				if err := discrepancy(imei, "missing"); err != nil {
					return err
				}
				found++
			}
		}
		for _, imei := range in.DamagedIMEIs {
			if err := discrepancy(imei, "damaged"); err != nil {
				return err
			}
			found++
		}
		status := models.ReturnReceived
		if found > 0 {
			status = models.ReturnReceivedWithDiscrepancies
		}
		if err := tx.Model(r).Updates(map[string]any{"status": status, "received_at": now, "received_by": userOrNil(p),
			"version": r.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		if out, err = loadReturn(tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "return_receive", "return_shipment", id, &r.CentreID, before, out)
	})
	return out, err
}

// ResolveDiscrepancy closes a discrepancy of a received shipment with a note, from
// either side. A missing unit found at the warehouse after all is received there.
// Errors: not found, invalid, conflict (discrepancy_resolved).
func (s *Inventory) ResolveDiscrepancy(ctx context.Context, p models.Principal, returnID, discrepancyID string, in models.ResolveInput) (*models.ReturnShipment, error) {
	if err := authorize(p, actResolveReturns); err != nil {
		return nil, err
	}
	note := strings.TrimSpace(in.Note)
	if note == "" || len([]rune(note)) > 1000 {
		return nil, models.Invalid(models.FieldError{Field: "note", Rule: "required", Message: "say what was found or decided, in 1 to 1000 characters"})
	}
	var out *models.ReturnShipment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockReturn(tx, p, returnID)
		if err != nil {
			return err
		}
		if !validUUID(discrepancyID) {
			return models.NotFound("discrepancy")
		}
		var d []models.Discrepancy
		if err := tx.Raw("SELECT id, imei, kind, resolved_at FROM return_discrepancies WHERE id = ? AND return_id = ? FOR UPDATE",
			discrepancyID, r.ID).Scan(&d).Error; err != nil {
			return err
		}
		if len(d) == 0 {
			return models.NotFound("discrepancy")
		}
		if d[0].ResolvedAt != nil {
			return models.Errorf(models.KindConflict, "discrepancy_resolved", "the discrepancy of %s was resolved on %s", d[0].IMEI, d[0].ResolvedAt.Format(time.RFC3339))
		}
		if in.Found {
			if d[0].Kind != "missing" {
				return models.Invalid(models.FieldError{Field: "found", Rule: "missing_only", Message: "only a missing unit can be found"})
			}
			units, err := lockUnits(tx, []string{d[0].IMEI})
			if err != nil {
				return err
			}
			if err := moveUnit(ctx, tx, p, units[d[0].IMEI], move{reason: "return_received", kind: models.UnitFaulty, state: models.UnitReturned,
				location: models.AtWarehouse, warehouseID: &r.WarehouseID, returnID: &r.ID, note: &note}, s.now(), false); err != nil {
				return err
			}
		}
		if err := tx.Exec("UPDATE return_discrepancies SET resolved_at = ?, resolved_by = CAST(? AS uuid), resolution = ? WHERE id = ?",
			s.now(), userOrNil(p), note, discrepancyID).Error; err != nil {
			return err
		}
		if out, err = loadReturn(tx, r.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "discrepancy_resolve", "return_shipment", r.ID, &r.CentreID, d[0], map[string]any{"resolution": note, "found": in.Found})
	})
	return out, err
}

// ListReturns lists the shipments the caller may see, newest first; open discrepancies
// show on both sides.
func (s *Inventory) ListReturns(ctx context.Context, p models.Principal, status string, page Page) ([]models.ReturnShipment, string, error) {
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var out []models.ReturnShipment
	next := ""
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		q := tx.Table("return_shipments r").Select("r.id, r.created_at").Scopes(logisticsScope(p))
		if status != "" {
			q = q.Where("r.status = ?", status)
		}
		if after != nil {
			q = q.Where("(r.created_at, r.id) < (?, ?)", after.At, after.ID)
		}
		var ids []struct {
			ID        string
			CreatedAt time.Time
		}
		if err := q.Order("r.created_at DESC, r.id DESC").Limit(page.limit() + 1).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) > page.limit() {
			ids = ids[:page.limit()]
			next = encodeCursor(cursor{At: ids[len(ids)-1].CreatedAt, ID: ids[len(ids)-1].ID})
		}
		if len(ids) == 0 {
			return nil
		}
		list := make([]string, len(ids))
		for i, id := range ids {
			list[i] = id.ID
		}
		var err error
		out, err = loadReturns(tx, list)
		return err
	})
	return out, next, err
}

// GetReturn returns one shipment the caller may see. Errors: not found.
func (s *Inventory) GetReturn(ctx context.Context, p models.Principal, id string) (*models.ReturnShipment, error) {
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, err
	}
	var out *models.ReturnShipment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if !validUUID(id) {
			return models.NotFound("return shipment")
		}
		var n int64
		if err := tx.Table("return_shipments r").Scopes(logisticsScope(p)).Where("r.id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return models.NotFound("return shipment")
		}
		var err error
		out, err = loadReturn(tx, id)
		return err
	})
	return out, err
}

// PackingList returns a dispatched shipment's packing list as printed.
// Errors: not found.
func (s *Inventory) PackingList(ctx context.Context, p models.Principal, id string) (*models.Document, error) {
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("return shipment")
	}
	return storedDocument(s.DB.WithContext(ctx).Table("return_shipments r").Scopes(logisticsScope(p)),
		"r.reference, r.packing_sha256, r.packing_pdf", "r.id = ?", id)
}
