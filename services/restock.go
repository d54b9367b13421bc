package services

import (
	"context"
	"slices"
	"strings"
	"time"

	"centros/models"

	"gorm.io/gorm"
)

// restockRow is a restock request as stored.
type restockRow struct {
	ID, Reference, CentreID, WarehouseID, Status string
	Note, RejectReason                           *string
	FulfilledAt, ReceivedAt, RejectedAt          *time.Time
	Version                                      int
	CreatedAt, UpdatedAt                         time.Time
}

func (restockRow) TableName() string { return "restock_requests" }

// openRequest is the centre's open restock request, created when it has none, locked.
// Automatic and manual lines all go to it.
func openRequest(tx *gorm.DB, c *CentreView, now time.Time) (*restockRow, error) {
	w, err := warehouseOf(tx, c)
	if err != nil {
		return nil, err
	}
	ref, err := newReference("RST", c.Code)
	if err != nil {
		return nil, err
	}
	if err := tx.Exec(`INSERT INTO restock_requests (reference, centre_id, warehouse_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (centre_id) WHERE status = 'open' DO NOTHING`, ref, c.ID, w.ID, now, now).Error; err != nil {
		return nil, err
	}
	var r restockRow
	err = tx.Clauses(lockForUpdate()).Where("centre_id = ? AND status = 'open'", c.ID).Take(&r).Error
	return &r, err
}

func addLine(tx *gorm.DB, requestID, model string, quantity int, origin string, swapID *string, now time.Time) error {
	return tx.Exec(`INSERT INTO restock_lines (request_id, model, quantity, origin, swap_id, created_at) VALUES (?, ?, ?, ?, CAST(? AS uuid), ?)`,
		requestID, model, quantity, origin, swapID, now).Error
}

// restockAfterSwap asks for the unit a swap used, and tops the model up to the centre's
// minimum when what it holds, has on the way and has asked for falls short of it: what
// is already asked for counts, so one shortfall is never asked for twice.
func (s *Inventory) restockAfterSwap(tx *gorm.DB, c *CentreView, model, swapID string, now time.Time) error {
	r, err := openRequest(tx, c, now)
	if err != nil {
		return err
	}
	if err := addLine(tx, r.ID, model, 1, "swap", &swapID, now); err != nil {
		return err
	}
	return topUp(tx, c, r, model, now)
}

func topUp(tx *gorm.DB, c *CentreView, r *restockRow, model string, now time.Time) error {
	stock, err := modelStock(tx, c.ID, model)
	if err != nil || len(stock) == 0 {
		return err
	}
	m := stock[0]
	if short := m.Minimum - m.InStock - m.InTransit - m.Requested; short > 0 {
		return addLine(tx, r.ID, m.Model, short, "below_minimum", nil, now)
	}
	return nil
}

// RequestRestock adds a manager's lines to the centre's open request (opening one when
// there is none). Errors: invalid, unprocessable (no_warehouse).
func (s *Inventory) RequestRestock(ctx context.Context, p models.Principal, in models.RestockInput) (*models.RestockRequest, error) {
	if err := authorize(p, actRequestRestock); err != nil {
		return nil, err
	}
	var out *models.RestockRequest
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		c, err := loadCentre(tx, "centres.id = ?", p.CentreID)
		if err != nil {
			return err
		}
		now := s.now()
		r, err := openRequest(tx, c, now)
		if err != nil {
			return err
		}
		for _, l := range in.Lines {
			if err := addLine(tx, r.ID, strings.TrimSpace(l.Model), l.Quantity, "manual", nil, now); err != nil {
				return err
			}
		}
		if note := strings.TrimSpace(in.Note); note != "" {
			if r.Note != nil {
				note = *r.Note + "\n" + note
			}
			if len([]rune(note)) > 1000 {
				return models.Invalid(models.FieldError{Field: "note", Rule: "max", Message: "the open request's notes would pass 1000 characters"})
			}
			if err := tx.Model(r).Updates(map[string]any{"note": note, "version": r.Version + 1, "updated_at": now}).Error; err != nil {
				return translate(err)
			}
		}
		if out, err = loadRestock(tx, r.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "restock_request", "restock_request", r.ID, &c.ID, nil, in)
	})
	return out, err
}

func loadRestock(tx *gorm.DB, id string) (*models.RestockRequest, error) {
	list, err := loadRestocks(tx, "r.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, models.NotFound("restock request")
	}
	return &list[0], nil
}

// loadRestocks reads requests with their lines and units: three statements for a page.
func loadRestocks(tx *gorm.DB, where string, args ...any) ([]models.RestockRequest, error) {
	var rows []models.RestockRequest
	err := tx.Table("restock_requests r").Select(`r.id, r.reference, c.code AS centre_code, w.code AS warehouse_code, r.status,
			r.note, r.reject_reason, r.created_at, r.fulfilled_at, r.received_at, r.version`).
		Joins("JOIN centres c ON c.id = r.centre_id").Joins("JOIN warehouses w ON w.id = r.warehouse_id").
		Where(where, args...).Order("r.created_at DESC, r.id").Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	ids := make([]string, len(rows))
	byID := map[string]*models.RestockRequest{}
	for i := range rows {
		ids[i], byID[rows[i].ID] = rows[i].ID, &rows[i]
		rows[i].Lines, rows[i].Units = []models.RestockLine{}, []models.RestockUnit{}
		if rows[i].ReceivedAt != nil {
			h := rows[i].ReceivedAt.Sub(rows[i].CreatedAt).Hours()
			rows[i].LeadTimeHours = &h
		}
	}
	var lines []struct {
		RequestID string
		models.RestockLine
	}
	if err := tx.Raw(`SELECT request_id, model, quantity, origin, swap_id FROM restock_lines WHERE request_id IN ? ORDER BY created_at, model, origin, id`, ids).
		Scan(&lines).Error; err != nil {
		return nil, err
	}
	for _, l := range lines {
		byID[l.RequestID].Lines = append(byID[l.RequestID].Lines, l.RestockLine)
	}
	var units []struct {
		RequestID string
		models.RestockUnit
	}
	if err := tx.Raw(`SELECT ru.request_id, u.imei, u.model, ru.shipped_at, ru.received_at FROM restock_units ru
		JOIN inventory_units u ON u.id = ru.unit_id WHERE ru.request_id IN ? ORDER BY u.imei`, ids).Scan(&units).Error; err != nil {
		return nil, err
	}
	for _, u := range units {
		byID[u.RequestID].Units = append(byID[u.RequestID].Units, u.RestockUnit)
	}
	return rows, nil
}

// RestockFilter narrows the list of restock requests.
type RestockFilter struct {
	Status, CentreCode string
}

// ListRestock lists the restock requests the caller may see, newest first.
func (s *Inventory) ListRestock(ctx context.Context, p models.Principal, f RestockFilter, page Page) ([]models.RestockRequest, string, error) {
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	q := s.DB.WithContext(ctx).Scopes(logisticsScope(p)).Limit(page.limit() + 1)
	if f.Status != "" {
		q = q.Where("r.status = ?", f.Status)
	}
	if f.CentreCode != "" {
		q = q.Where("c.code = ?", f.CentreCode)
	}
	if after != nil {
		q = q.Where("(r.created_at, r.id) < (?, ?)", after.At, after.ID)
	}
	list, err := loadRestocks(q, "true")
	if err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(list) > page.limit() {
		list = list[:page.limit()]
		last := list[len(list)-1]
		next = encodeCursor(cursor{At: last.CreatedAt, ID: last.ID})
	}
	return list, next, nil
}

// GetRestock returns one request the caller may see. Errors: not found.
func (s *Inventory) GetRestock(ctx context.Context, p models.Principal, id string) (*models.RestockRequest, error) {
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("restock request")
	}
	r, err := loadRestock(s.DB.WithContext(ctx).Scopes(logisticsScope(p)), id)
	return r, translate(err)
}

// lockRestock locks a request the caller may act on.
func lockRestock(tx *gorm.DB, p models.Principal, id string) (*restockRow, error) {
	if !validUUID(id) {
		return nil, models.NotFound("restock request")
	}
	var r restockRow
	err := tx.Table("restock_requests r").Select("r.*").Scopes(logisticsScope(p)).Clauses(lockForUpdate()).Where("r.id = ?", id).Take(&r).Error
	return &r, notFoundIf(err, "restock request")
}

// FulfilRestock ships units of the warehouse's stock for an open request, fully or in
// part: each goes in_transit to the centre, and what was not shipped is asked again in
// the centre's next open request. Errors: not found, conflict
// (restock_not_open), unprocessable (unit_not_available).
func (s *Inventory) FulfilRestock(ctx context.Context, p models.Principal, id string, imeis []string) (*models.RestockRequest, error) {
	if err := authorize(p, actFulfilRestock); err != nil {
		return nil, err
	}
	if err := scannedIMEIs(imeis); err != nil {
		return nil, err
	}
	var out *models.RestockRequest
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockRestock(tx, p, id)
		if err != nil {
			return err
		}
		if r.Status != models.RestockOpen {
			return models.Errorf(models.KindConflict, "restock_not_open", "the request is %s", r.Status)
		}
		units, err := lockUnits(tx, imeis)
		if err != nil {
			return err
		}
		bad := map[string]string{}
		for _, imei := range imeis {
			u := units[imei]
			if u == nil || u.Kind != models.UnitBackup || u.State != models.UnitInStock || u.WarehouseID == nil || *u.WarehouseID != r.WarehouseID {
				bad[imei] = "is not a backup device in stock at the request's warehouse"
			}
		}
		if len(bad) > 0 {
			return &models.Error{Kind: models.KindUnprocessable, Code: "unit_not_available", Message: "some units cannot be shipped", Fields: imeiFields("imeis", imeis, bad)}
		}
		now := s.now()
		for _, imei := range imeis {
			u := units[imei]
			if err := moveUnit(ctx, tx, p, u, move{reason: "restock_shipped", kind: models.UnitBackup, state: models.UnitInTransit,
				location: models.InTransit, centreID: &r.CentreID, restockID: &r.ID}, now, false); err != nil {
				return err
			}
			if err := tx.Exec("INSERT INTO restock_units (request_id, unit_id, shipped_at) VALUES (?, ?, ?)", r.ID, u.ID, now).Error; err != nil {
				return err
			}
		}
		before, err := loadRestock(tx, r.ID)
		if err != nil {
			return err
		}
		if err := tx.Model(r).Updates(map[string]any{"status": models.RestockFulfilled, "fulfilled_at": now, "version": r.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		if err := carryOver(tx, r, now); err != nil {
			return err
		}
		if out, err = loadRestock(tx, r.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "restock_fulfil", "restock_request", r.ID, &r.CentreID, before, out)
	})
	return out, err
}

// carryOver asks again, in the centre's next open request, for what a fulfilment did
// not ship of each model.
func carryOver(tx *gorm.DB, r *restockRow, now time.Time) error {
	var short []struct {
		Model string
		Short int
	}
	err := tx.Raw(`SELECT l.model, sum(l.quantity) - COALESCE((SELECT count(*) FROM restock_units ru JOIN inventory_units u ON u.id = ru.unit_id
			WHERE ru.request_id = @r AND lower(u.model) = lower(l.model)), 0) AS short
		FROM restock_lines l WHERE l.request_id = @r GROUP BY l.model HAVING sum(l.quantity) > COALESCE((SELECT count(*) FROM restock_units ru
			JOIN inventory_units u ON u.id = ru.unit_id WHERE ru.request_id = @r AND lower(u.model) = lower(l.model)), 0)
		ORDER BY l.model`, map[string]any{"r": r.ID}).Scan(&short).Error
	if err != nil || len(short) == 0 {
		return err
	}
	c, err := loadCentre(tx, "centres.id = ?", r.CentreID)
	if err != nil {
		return err
	}
	next, err := openRequest(tx, c, now)
	if err != nil {
		return err
	}
	for _, l := range short {
		if err := addLine(tx, next.ID, l.Model, l.Short, "carried_over", nil, now); err != nil {
			return err
		}
	}
	return nil
}

// ReceiveRestock scans shipped units in at the centre: each goes in_stock. The request is
// received once every unit shipped has arrived; its lead time runs to then.
// Errors: not found, conflict (restock_not_shipped), unprocessable (unit_not_shipped).
func (s *Inventory) ReceiveRestock(ctx context.Context, p models.Principal, id string, imeis []string) (*models.RestockRequest, error) {
	if err := authorize(p, actReceiveRestock); err != nil {
		return nil, err
	}
	if err := scannedIMEIs(imeis); err != nil {
		return nil, err
	}
	var out *models.RestockRequest
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockRestock(tx, p, id)
		if err != nil {
			return err
		}
		if r.Status != models.RestockFulfilled {
			return models.Errorf(models.KindConflict, "restock_not_shipped", "the request is %s; only shipped units are received", r.Status)
		}
		units, err := lockUnits(tx, imeis)
		if err != nil {
			return err
		}
		var pending []string
		if err := tx.Raw("SELECT unit_id FROM restock_units WHERE request_id = ? AND received_at IS NULL", r.ID).Scan(&pending).Error; err != nil {
			return err
		}
		bad := map[string]string{}
		for _, imei := range imeis {
			if u := units[imei]; u == nil || !slices.Contains(pending, u.ID) {
				bad[imei] = "was not shipped for this request, or is already received"
			}
		}
		if len(bad) > 0 {
			return &models.Error{Kind: models.KindUnprocessable, Code: "unit_not_shipped", Message: "some units are not on their way for this request",
				Fields: imeiFields("imeis", imeis, bad)}
		}
		before, err := loadRestock(tx, r.ID)
		if err != nil {
			return err
		}
		now := s.now()
		for _, imei := range imeis {
			u := units[imei]
			if err := moveUnit(ctx, tx, p, u, move{reason: "restock_received", kind: models.UnitBackup, state: models.UnitInStock,
				location: models.AtCentre, centreID: &r.CentreID, restockID: &r.ID}, now, false); err != nil {
				return err
			}
			if err := tx.Exec("UPDATE restock_units SET received_at = ? WHERE request_id = ? AND unit_id = ?", now, r.ID, u.ID).Error; err != nil {
				return err
			}
		}
		set := map[string]any{"version": r.Version + 1, "updated_at": now}
		if len(imeis) == len(pending) {
			set["status"], set["received_at"] = models.RestockReceived, now
		}
		if err := tx.Model(r).Updates(set).Error; err != nil {
			return err
		}
		if out, err = loadRestock(tx, r.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "restock_receive", "restock_request", r.ID, &r.CentreID, before, out)
	})
	return out, err
}

// scannedIMEIs refuses an empty scan and an IMEI scanned twice.
func scannedIMEIs(imeis []string) error {
	if len(imeis) == 0 {
		return models.Invalid(models.FieldError{Field: "imeis", Rule: "min", Message: "scan at least one IMEI"})
	}
	return uniqueIMEIs("imeis", imeis)
}

// RejectRestock refuses an open request with a reason; the centre's next need opens a
// new one. Errors: not found, invalid, conflict (restock_not_open).
func (s *Inventory) RejectRestock(ctx context.Context, p models.Principal, id, reason string) (*models.RestockRequest, error) {
	if err := authorize(p, actFulfilRestock); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 500 {
		return nil, models.Invalid(models.FieldError{Field: "reason", Rule: "required", Message: "say why, in 1 to 500 characters"})
	}
	var out *models.RestockRequest
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := lockRestock(tx, p, id)
		if err != nil {
			return err
		}
		if r.Status != models.RestockOpen {
			return models.Errorf(models.KindConflict, "restock_not_open", "the request is %s", r.Status)
		}
		now := s.now()
		if err := tx.Model(r).Updates(map[string]any{"status": models.RestockRejected, "reject_reason": reason, "rejected_at": now,
			"version": r.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		if out, err = loadRestock(tx, r.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "restock_reject", "restock_request", r.ID, &r.CentreID, nil, map[string]any{"reason": reason})
	})
	return out, err
}
