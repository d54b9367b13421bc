package services

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"centros/models"
	"centros/pdf"

	"gorm.io/gorm"
)

// swapRow is a swap as stored.
type swapRow struct {
	ID, Reference, RepairID, TicketID, CentreID string
	FaultyUnitID, BackupUnitID, MSISDN, Status  string
	Detail                                      *string
	Requests                                    int
	TechnicianName                              string
	SettledAt, UndoneAt                         *time.Time
	UndoReason                                  *string
	Version                                     int
	CreatedAt, UpdatedAt                        time.Time
}

func (swapRow) TableName() string { return "swaps" }

func endorsementPath(swapID string) string { return "/api/v1/swaps/" + swapID + "/endorsement.pdf" }

// Swap moves the customer's line of an open repair onto a backup device in stock at the
// repair's centre: the one with the IMEI given, or the oldest of the model asked for (the
// customer's model when none is). In one transaction the backup device goes to the
// customer, their handset becomes a faulty unit received at the centre, the service
// change is requested of CSM, the endorsement is rendered and stored, and the centre's
// open restock request gets a line for the unit (and another if the model fell under its
// minimum). Errors: not found, conflict (unit_not_available, no_stock, swap_exists,
// repair_not_open, faulty_unit_conflict).
func (s *Inventory) Swap(ctx context.Context, p models.Principal, repairID string, in models.SwapInput) (*models.Swap, error) {
	if err := authorize(p, actWorkRepair); err != nil {
		return nil, err
	}
	var out *models.Swap
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		rc, err := lockRepair(tx, p, repairID)
		if err != nil {
			return err
		}
		if err := rc.mustBeOpen(); err != nil {
			return err
		}
		var active int64
		if err := tx.Model(&swapRow{}).Where("repair_id = ? AND status <> 'undone'", rc.r.ID).Count(&active).Error; err != nil {
			return err
		}
		if active > 0 {
			return models.Errorf(models.KindConflict, "swap_exists", "this repair already has a swap; undo it first")
		}
		if in.BackupIMEI == rc.r.ReceivedIMEI {
			return models.Invalid(models.FieldError{Field: "backup_imei", Rule: "not_received", Message: "is the customer's own handset"})
		}
		backup, err := pickBackup(tx, rc, in)
		if err != nil {
			return err
		}
		now := s.now()
		faulty, firstMove, err := s.faultyUnit(tx, rc, now)
		if err != nil {
			return err
		}
		sw := swapRow{ID: newID(), RepairID: rc.r.ID, TicketID: rc.ticket.ID, CentreID: rc.centre.ID, FaultyUnitID: faulty.ID,
			BackupUnitID: backup.ID, MSISDN: rc.ticket.Line.MSISDN, Status: models.SwapRequested, Requests: 1,
			TechnicianName: nameOf(p), Version: 1, CreatedAt: now, UpdatedAt: now}
		if sw.Reference, err = newReference("AVR", rc.centre.Code); err != nil {
			return err
		}
		body, err := pdf.RenderEndorsement(endorsementDocument(rc, faulty, backup, sw, now))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		err = tx.Exec(`INSERT INTO swaps (id, reference, repair_id, ticket_id, centre_id, faulty_unit_id, backup_unit_id, msisdn, status,
				requests, technician_id, technician_name, endorsement_pdf, endorsement_sha256, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'requested', 1, CAST(? AS uuid), ?, ?, ?, ?, ?)`,
			sw.ID, sw.Reference, sw.RepairID, sw.TicketID, sw.CentreID, faulty.ID, backup.ID, sw.MSISDN, userOrNil(p),
			sw.TechnicianName, body, hex.EncodeToString(sum[:]), now, now).Error
		if err != nil {
			return swapConflict(err)
		}
		ticket := &rc.ticket.ID
		if err := moveUnit(ctx, tx, p, faulty, move{reason: "swap_in", kind: models.UnitFaulty, state: models.UnitReceived,
			location: models.AtCentre, centreID: &rc.centre.ID, ticketID: ticket, swapID: &sw.ID}, now, firstMove); err != nil {
			return err
		}
		if err := moveUnit(ctx, tx, p, backup, move{reason: "swap_out", kind: models.UnitBackup, state: models.UnitAssigned,
			location: models.AtCustomer, ticketID: ticket, swapID: &sw.ID}, now, false); err != nil {
			return err
		}
		if _, err := RecordEvent(tx, rc.ticket, models.EventSwapServiceChangeReqstd, serviceChangeEvent(rc.centre.Code, &sw, faulty, backup)); err != nil {
			return err
		}
		if out, err = loadSwap(tx, "s.id = ?", sw.ID); err != nil {
			return err
		}
		if err := audit(ctx, tx, p, "swap", "swap", sw.ID, &rc.centre.ID, nil, out); err != nil {
			return err
		}
		// Last: the centre's open request stays locked until commit, and the centre's
		// swaps queue on it.
		return s.restockAfterSwap(tx, rc.centre, backup.Model, sw.ID, now)
	})
	return out, err
}

// pickBackup locks the backup unit the swap hands over. Asked by model, it skips units
// other swaps hold locked, so that concurrent swaps each get a different one.
func pickBackup(tx *gorm.DB, rc *repairCtx, in models.SwapInput) (*unitRow, error) {
	var units []unitRow
	if in.BackupIMEI != "" {
		err := tx.Clauses(lockForUpdate()).Where("imei = ?", in.BackupIMEI).Find(&units).Error
		if err != nil {
			return nil, err
		}
		if len(units) == 0 || units[0].Kind != models.UnitBackup || units[0].State != models.UnitInStock ||
			units[0].CentreID == nil || *units[0].CentreID != rc.centre.ID {
			return nil, &models.Error{Kind: models.KindConflict, Code: "unit_not_available",
				Message: fmt.Sprintf("%s is not a backup device in stock at %s", in.BackupIMEI, rc.centre.Code),
				Fields:  []models.FieldError{{Field: "backup_imei", Rule: "in_stock", Message: "must be a backup device in stock at this centre"}}}
		}
		if in.Model != "" && !strings.EqualFold(units[0].Model, strings.TrimSpace(in.Model)) {
			return nil, models.Invalid(models.FieldError{Field: "model", Rule: "matches", Message: fmt.Sprintf("%s is a %s", in.BackupIMEI, units[0].Model)})
		}
		return &units[0], nil
	}
	model := strings.TrimSpace(in.Model)
	if model == "" {
		model = rc.ticket.Device.Model
	}
	err := tx.Raw(`SELECT * FROM inventory_units WHERE centre_id = ? AND kind = 'backup' AND state = 'in_stock' AND lower(model) = lower(?)
		ORDER BY lower(model), created_at, imei LIMIT 1 FOR UPDATE SKIP LOCKED`, rc.centre.ID, model).Scan(&units).Error
	if err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, models.Errorf(models.KindConflict, "no_stock", "no %s backup device is in stock at %s", model, rc.centre.Code)
	}
	return &units[0], nil
}

// faultyUnit is the customer's handset as a unit, locked: a new one (first says its
// movement starts from nowhere), or the backup device this customer was given before.
func (s *Inventory) faultyUnit(tx *gorm.DB, rc *repairCtx, now time.Time) (*unitRow, bool, error) {
	imei := rc.r.ReceivedIMEI
	units, err := lockUnits(tx, []string{imei})
	if err != nil {
		return nil, false, err
	}
	if u := units[imei]; u != nil {
		if u.State == models.UnitAssigned || u.State == models.UnitHandedBack {
			return u, false, nil
		}
		return nil, false, models.Errorf(models.KindConflict, "faulty_unit_conflict",
			"the handset %s is registered as a %s unit, %s; it cannot be taken in", imei, u.Kind, strings.ReplaceAll(u.State, "_", " "))
	}
	brand, model := rc.ticket.Device.Brand, rc.ticket.Device.Model
	u, err := newUnit(tx, imei, brand, model, move{kind: models.UnitFaulty, state: models.UnitReceived, location: models.AtCentre,
		centreID: &rc.centre.ID, ticketID: &rc.ticket.ID}, now)
	return u, true, err
}

// swapConflict reads the unique indexes of swaps: the backup unit or the repair is taken.
func swapConflict(err error) error {
	if e, ok := models.AsError(translate(err)); ok && e.Code == "already_exists" {
		return models.Errorf(models.KindConflict, "unit_not_available", "the backup device was just assigned to another swap; try again")
	}
	return err
}

func nameOf(p models.Principal) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Email
}

func serviceChangeEvent(centre string, sw *swapRow, faulty, backup *unitRow) map[string]any {
	return map[string]any{"swap_id": sw.ID, "msisdn": sw.MSISDN, "faulty_imei": faulty.IMEI, "backup_imei": backup.IMEI,
		"backup_model": backup.Model, "backup_brand": backup.Brand, "centre": centre, "repair_id": sw.RepairID, "request": sw.Requests}
}

func endorsementDocument(rc *repairCtx, faulty, backup *unitRow, sw swapRow, now time.Time) pdf.Endorsement {
	loc, err := time.LoadLocation(rc.centre.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	t := rc.ticket
	return pdf.Endorsement{Reference: sw.Reference, IssuedAt: now, Location: loc,
		CentreCode: rc.centre.Code, CentreName: rc.centre.Name, CentreAddress: rc.centre.Address, TicketNumber: t.TicketNumber,
		CustomerCompany: t.Customer.Company, CustomerContact: t.Customer.ContactName, CustomerPhone: t.Customer.ContactPhone,
		MSISDN: t.Line.MSISDN, Faulty: pdf.Device{Brand: faulty.Brand, Model: faulty.Model, IMEI: faulty.IMEI},
		Backup: pdf.Device{Brand: backup.Brand, Model: backup.Model, IMEI: backup.IMEI}, FaultDescription: t.Fault.Description,
		Technician: sw.TechnicianName}
}

const swapColumns = `s.id, s.reference, s.repair_id, t.ticket_number, centres.code AS centre_code, s.msisdn, fu.imei AS faulty_imei,
	fu.model AS faulty_model, bu.imei AS backup_imei, bu.brand AS backup_brand, bu.model AS backup_model, s.status, s.detail,
	s.requests, s.technician_name AS technician, s.created_at, s.settled_at, s.undone_at, s.undo_reason, s.version`

// loadSwap reads the swap where says; of several, the live one, else the latest.
func loadSwap(tx *gorm.DB, where string, args ...any) (*models.Swap, error) {
	var rows []models.Swap
	err := tx.Table("swaps s").Select(swapColumns).Joins("JOIN tickets t ON t.id = s.ticket_id").Joins("JOIN centres ON centres.id = s.centre_id").
		Joins("JOIN inventory_units fu ON fu.id = s.faulty_unit_id").Joins("JOIN inventory_units bu ON bu.id = s.backup_unit_id").
		Where(where, args...).Order("s.status = 'undone', s.created_at DESC, s.id").Limit(1).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, models.NotFound("swap")
	}
	rows[0].EndorsementURL = endorsementPath(rows[0].ID)
	return &rows[0], nil
}

// lockSwap locks the ticket of a swap the caller may see, then the swap: the order of
// every change of a ticket.
func lockSwap(tx *gorm.DB, p models.Principal, id string) (*swapRow, *models.Ticket, error) {
	if !validUUID(id) {
		return nil, nil, models.NotFound("swap")
	}
	var ticketID []string
	q := tx.Table("swaps").Select("swaps.ticket_id").Joins("JOIN centres ON centres.id = swaps.centre_id")
	if p.Role != models.RoleCSM {
		q = q.Scopes(centreScope(p))
	}
	if err := q.Where("swaps.id = ?", id).Scan(&ticketID).Error; err != nil {
		return nil, nil, err
	}
	if len(ticketID) == 0 {
		return nil, nil, models.NotFound("swap")
	}
	t := new(models.Ticket)
	if err := loadTicket(tx.Clauses(lockForUpdate("tickets")), t, "tickets.id = ?", ticketID[0]); err != nil {
		return nil, nil, err
	}
	var sw swapRow
	if err := tx.Clauses(lockForUpdate()).Where("id = ?", id).Take(&sw).Error; err != nil {
		return nil, nil, notFoundIf(err, "swap")
	}
	return &sw, t, nil
}

// GetSwap returns a swap the caller may see. Errors: not found.
func (s *Inventory) GetSwap(ctx context.Context, p models.Principal, id string) (*models.Swap, error) {
	if err := authorize(p, actReadRepair); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("swap")
	}
	sw, err := loadSwap(s.DB.WithContext(ctx).Scopes(centreScope(p)), "s.id = ?", id)
	return sw, translate(err)
}

// ServiceChange records CSM's answer to a swap's service change. The same answer again
// changes nothing; a different one once settled is refused.
// Errors: not found, conflict (service_change_settled, swap_undone).
func (s *Inventory) ServiceChange(ctx context.Context, p models.Principal, id string, in models.ServiceChangeInput) (*models.Swap, error) {
	if err := authorize(p, actServiceChange); err != nil {
		return nil, err
	}
	var out *models.Swap
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		sw, _, err := lockSwap(tx, p, id)
		if err != nil {
			return err
		}
		detail := strings.TrimSpace(in.Detail)
		switch {
		case sw.Status == in.Status && (sw.Detail == nil && detail == "" || sw.Detail != nil && *sw.Detail == detail):
			out, err = loadSwap(tx, "s.id = ?", id)
			return err
		case sw.Status == models.SwapUndone:
			return models.Errorf(models.KindConflict, "swap_undone", "the swap was undone on %s", sw.UndoneAt.Format(time.RFC3339))
		case sw.Status != models.SwapRequested:
			return models.Errorf(models.KindConflict, "service_change_settled", "the service change is already %s", sw.Status)
		}
		before, err := loadSwap(tx, "s.id = ?", id)
		if err != nil {
			return err
		}
		var d *string
		if detail != "" {
			d = &detail
		}
		now := s.now()
		if err := tx.Model(sw).Updates(map[string]any{"status": in.Status, "detail": d, "settled_at": now,
			"version": sw.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		if out, err = loadSwap(tx, "s.id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "service_change_"+in.Status, "swap", id, &sw.CentreID, before, out)
	})
	return out, err
}

// RetrySwap asks CSM again for a service change that failed.
// Errors: not found, conflict (swap_not_failed).
func (s *Inventory) RetrySwap(ctx context.Context, p models.Principal, id string) (*models.Swap, error) {
	if err := authorize(p, actWorkRepair); err != nil {
		return nil, err
	}
	var out *models.Swap
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		sw, ticket, err := lockSwap(tx, p, id)
		if err != nil {
			return err
		}
		if sw.Status != models.SwapFailed {
			return models.Errorf(models.KindConflict, "swap_not_failed", "only a failed service change is asked again; this one is %s", sw.Status)
		}
		before, err := loadSwap(tx, "s.id = ?", id)
		if err != nil {
			return err
		}
		now := s.now()
		requests := sw.Requests + 1
		if err := tx.Model(sw).Updates(map[string]any{"status": models.SwapRequested, "detail": nil, "settled_at": nil,
			"requests": requests, "version": sw.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		sw.Requests = requests
		units, err := unitsByID(tx, sw.FaultyUnitID, sw.BackupUnitID)
		if err != nil {
			return err
		}
		if _, err := RecordEvent(tx, ticket, models.EventSwapServiceChangeReqstd,
			serviceChangeEvent(before.CentreCode, sw, units[sw.FaultyUnitID], units[sw.BackupUnitID])); err != nil {
			return err
		}
		if out, err = loadSwap(tx, "s.id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "swap_retry", "swap", id, &sw.CentreID, before, out)
	})
	return out, err
}

func unitsByID(tx *gorm.DB, ids ...string) (map[string]*unitRow, error) {
	var rows []unitRow
	if err := tx.Clauses(lockForUpdate()).Where("id IN ?", ids).Order("imei").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]*unitRow{}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// UndoSwap reverses a swap whose service change failed or is still awaited: the backup
// device returns to stock and the customer's handset to them, each by a compensating
// movement; the swap stays on record, undone, and CSM is told.
// Errors: not found, invalid, conflict (swap_confirmed, swap_undone, repair_not_open,
// unit_not_available).
func (s *Inventory) UndoSwap(ctx context.Context, p models.Principal, id, reason string) (*models.Swap, error) {
	if err := authorize(p, actWorkRepair); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 500 {
		return nil, models.Invalid(models.FieldError{Field: "reason", Rule: "required", Message: "say why, in 1 to 500 characters"})
	}
	var out *models.Swap
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		sw, ticket, err := lockSwap(tx, p, id)
		if err != nil {
			return err
		}
		switch sw.Status {
		case models.SwapUndone:
			return models.Errorf(models.KindConflict, "swap_undone", "the swap was already undone")
		case models.SwapConfirmed:
			return models.Errorf(models.KindConflict, "swap_confirmed", "CSM confirmed the service change: the line is on the backup device")
		}
		var status models.RepairStatus
		if err := tx.Raw("SELECT status FROM repair_orders WHERE id = ?", sw.RepairID).Scan(&status).Error; err != nil {
			return err
		}
		if status != models.RepairOpen {
			return models.Errorf(models.KindConflict, "repair_not_open", "the repair is %s; void its certificate first", status)
		}
		before, err := loadSwap(tx, "s.id = ?", id)
		if err != nil {
			return err
		}
		units, err := unitsByID(tx, sw.FaultyUnitID, sw.BackupUnitID)
		if err != nil {
			return err
		}
		faulty, backup := units[sw.FaultyUnitID], units[sw.BackupUnitID]
		if faulty.State != models.UnitReceived || faulty.CentreID == nil || *faulty.CentreID != sw.CentreID {
			return models.Errorf(models.KindConflict, "unit_not_available", "the customer's handset %s is %s; it cannot be handed back",
				faulty.IMEI, strings.ReplaceAll(faulty.State, "_", " "))
		}
		now := s.now()
		note := "swap undone: " + reason
		if err := moveUnit(ctx, tx, p, backup, move{reason: "swap_undone", kind: models.UnitBackup, state: models.UnitInStock,
			location: models.AtCentre, centreID: &sw.CentreID, swapID: &sw.ID, note: &note}, now, false); err != nil {
			return err
		}
		// The handset goes back as it came in: a backup device the customer held before
		// is theirs again; their own handset is handed back.
		prev, err := stateBeforeSwap(tx, faulty.ID, sw.ID)
		if err != nil {
			return err
		}
		m := move{reason: "swap_undone", kind: models.UnitFaulty, state: models.UnitHandedBack, location: models.AtCustomer, swapID: &sw.ID, note: &note}
		if prev != nil {
			m.kind, m.state = prev.Kind, *prev.FromState
		}
		if err := moveUnit(ctx, tx, p, faulty, m, now, false); err != nil {
			return err
		}
		if err := tx.Model(sw).Updates(map[string]any{"status": models.SwapUndone, "undone_at": now, "undo_reason": reason,
			"version": sw.Version + 1, "updated_at": now}).Error; err != nil {
			return err
		}
		// The swap's restock line asks for nothing more while its request is open.
		if err := tx.Exec(`UPDATE restock_lines SET quantity = 0 WHERE swap_id = ?
			AND request_id IN (SELECT id FROM restock_requests WHERE status = 'open')`, sw.ID).Error; err != nil {
			return err
		}
		if _, err := RecordEvent(tx, ticket, models.EventSwapUndone, map[string]any{"swap_id": sw.ID, "reason": reason,
			"backup_imei": backup.IMEI, "faulty_imei": faulty.IMEI, "msisdn": sw.MSISDN, "centre": before.CentreCode}); err != nil {
			return err
		}
		if out, err = loadSwap(tx, "s.id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, p, "swap_undo", "swap", id, &sw.CentreID, before, out)
	})
	return out, err
}

// stateBeforeSwap is the movement that took a unit in for a swap when the unit existed
// before it (a backup device the customer had), or nil for a handset new to us.
func stateBeforeSwap(tx *gorm.DB, unitID, swapID string) (*struct {
	Kind      string
	FromState *string
}, error) {
	var rows []struct {
		Kind      string
		FromState *string
	}
	err := tx.Raw(`SELECT prev.kind, m.from_state FROM stock_movements m
		JOIN LATERAL (SELECT kind FROM stock_movements p WHERE p.unit_id = m.unit_id AND p.id < m.id ORDER BY p.id DESC LIMIT 1) prev ON true
		WHERE m.unit_id = ? AND m.swap_id = ? AND m.reason = 'swap_in'`, unitID, swapID).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// Endorsement returns a swap's replacement endorsement as issued, to the staff of its
// centre and the warehouse of its business unit. Errors: not found.
func (s *Inventory) Endorsement(ctx context.Context, p models.Principal, id string) (*models.Document, error) {
	// The warehouse checks the endorsements of what comes back in returns.
	if err := authorize(p, actReadLogistics); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("swap")
	}
	return storedDocument(s.DB.WithContext(ctx).Table("swaps s").Joins("JOIN centres ON centres.id = s.centre_id").Scopes(centreScope(p)),
		"s.reference, s.endorsement_sha256, s.endorsement_pdf", "s.id = ?", id)
}

// storedDocument reads the reference, hash and bytes of a stored PDF, in that order of
// columns, from the one row where says.
func storedDocument(q *gorm.DB, columns, where string, args ...any) (*models.Document, error) {
	var row struct {
		Reference string
		SHA256    *string
		Body      []byte
	}
	err := q.Select(columns).Where(where, args...).Row().Scan(&row.Reference, &row.SHA256, &row.Body)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && row.SHA256 == nil) {
		return nil, models.NotFound("document")
	}
	if err != nil {
		return nil, translate(err)
	}
	return &models.Document{Name: row.Reference + ".pdf", SHA256: *row.SHA256, Body: row.Body}, nil
}

// swapOf is the backup device the repair's line moved to, for a certificate "swapped".
// Errors: unprocessable (swap_required, swap_failed).
func swapOf(tx *gorm.DB, repairID string) (*pdf.Device, error) {
	var rows []struct{ Brand, Model, IMEI, Status string }
	err := tx.Raw(`SELECT u.brand, u.model, u.imei, s.status FROM swaps s JOIN inventory_units u ON u.id = s.backup_unit_id
		WHERE s.repair_id = ? AND s.status <> 'undone'`, repairID).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if rows[0].Status == models.SwapFailed {
		return nil, models.Errorf(models.KindUnprocessable, "swap_failed", "CSM could not move the line to the backup device; retry the service change or undo the swap")
	}
	return &pdf.Device{Brand: rows[0].Brand, Model: rows[0].Model, IMEI: rows[0].IMEI}, nil
}
