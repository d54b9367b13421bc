package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"time"

	"centros/models"

	"gorm.io/gorm"
)

// Tickets takes fault tickets from CSM and lets staff find them.
type Tickets struct{ Deps }

// NewTickets returns the ticket service.
func NewTickets(d Deps) *Tickets { return &Tickets{d} }

// maxClockSkew is how far in the future a report time may be before we call it wrong.
const maxClockSkew = 5 * time.Minute

// normalise trims the referral and puts phone numbers in E.164, so that the same
// referral written two ways is recognised as the same.
func normalise(in models.Referral) models.Referral {
	t := func(s *string) { *s = strings.TrimSpace(*s) }
	for _, s := range []*string{&in.Customer.AccountNumber, &in.Customer.Company, &in.Customer.ContactName,
		&in.Device.Brand, &in.Device.Model, &in.Fault.Description} {
		t(s)
	}
	in.Customer.ContactEmail = strings.ToLower(strings.TrimSpace(in.Customer.ContactEmail))
	in.Customer.ContactPhone, _ = models.NormalizeVEMobile(in.Customer.ContactPhone)
	in.Line.MSISDN, _ = models.NormalizeVEMobile(in.Line.MSISDN)
	if t, err := time.Parse(time.RFC3339, in.ReportedAt); err == nil {
		in.ReportedAt = t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	}
	return in
}

// parseTime reads a time the edge has already checked to be RFC 3339.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, models.Invalid(models.FieldError{Field: field, Rule: "rfc3339", Message: "must be a date and time in RFC 3339"})
	}
	return t.UTC(), nil
}

// referralHash identifies a referral's content; the JSON is also its audit record.
func referralHash(in models.Referral) (hash string, canonical []byte) {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), b
}

// Refer records a ticket CSM refers to us. The same referral again changes nothing and
// reports created=false; other content for the same number updates a ticket that is
// still referred and is refused (conflict, ticket_conflict) once it has moved on.
// Errors: unprocessable (unknown_reference, reported_at in the future), conflict.
func (s *Tickets) Refer(ctx context.Context, p models.Principal, in models.Referral) (*models.Ticket, bool, error) {
	if err := authorize(p, actReferTickets); err != nil {
		return nil, false, err
	}
	in = normalise(in)
	reportedAt, err := parseTime("reported_at", in.ReportedAt)
	if err != nil {
		return nil, false, err
	}
	if reportedAt.After(s.now().Add(maxClockSkew)) {
		return nil, false, &models.Error{Kind: models.KindUnprocessable, Code: "validation_failed", Message: "reported_at is in the future",
			Fields: []models.FieldError{{Field: "reported_at", Rule: "not_future", Message: "is in the future"}}}
	}
	hash, canonical := referralHash(in)
	fields := ticketFields(in, reportedAt, hash)
	if t, err := s.referNew(ctx, p, canonical, fields); err != nil || t != nil {
		return t, t != nil, err
	}
	// Not new: a retry, an update, a conflict, or a centre code we do not know.
	var t models.Ticket
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		if in.CentreCode != "" {
			id, err := lookupID(tx, "centres", in.CentreCode, "centre_code", "centre")
			if err != nil {
				return err
			}
			fields["centre_id"] = id
		}
		if err := loadTicket(tx.Clauses(lockForUpdate("tickets")), &t, "tickets.ticket_number = ?", in.TicketNumber); err != nil {
			return err
		}
		if t.ReferralHash == hash {
			return nil
		}
		if t.Status != models.TicketReferred {
			return models.Errorf(models.KindConflict, "ticket_conflict",
				"ticket %s was already referred with other content and is now %s", t.TicketNumber, t.Status)
		}
		before := t
		delete(fields, "ticket_number")
		delete(fields, "centre_code")
		fields["version"] = t.Version + 1
		fields["updated_at"] = s.now()
		if err := tx.Table("tickets").Where("id = ?", t.ID).Updates(fields).Error; err != nil {
			return err
		}
		if err := loadTicket(tx, &t, "tickets.id = ?", t.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, "re-refer", "ticket", t.ID, t.CentreID, before, t)
	})
	if err != nil {
		return nil, false, err
	}
	t.SLAState = t.SLAStateAt(s.now())
	return &t, false, nil
}

// referNew inserts a new ticket and its audit entry in one statement, the common case
// that CSM's traffic is made of: one round trip instead of a transaction's five. It
// returns nil, and writes nothing, when the number exists or the centre is unknown.
func (s *Tickets) referNew(ctx context.Context, p models.Principal, referral []byte, fields map[string]any) (*models.Ticket, error) {
	args := maps.Clone(fields)
	withActor(ctx, p, args)["after"] = string(referral)
	var r ticketRow
	res := s.DB.WithContext(ctx).Raw(`WITH centre AS (SELECT id, code FROM centres WHERE code = @centre_code),
		ticket AS (
			INSERT INTO tickets (ticket_number, status, reported_at, sla_due_at, centre_id,
				customer_account_number, customer_company, customer_contact_name, customer_contact_phone, customer_contact_email,
				line_msisdn, device_imei, device_brand, device_model, fault_category, fault_description, referral_hash)
			SELECT @ticket_number, 'referred', @reported_at, @sla_due_at, (SELECT id FROM centre),
				@customer_account_number, @customer_company, @customer_contact_name, @customer_contact_phone, @customer_contact_email,
				@line_msisdn, @device_imei, @device_brand, @device_model, @fault_category, @fault_description, @referral_hash
			WHERE @centre_code = '' OR EXISTS (SELECT FROM centre)
			ON CONFLICT (ticket_number) DO NOTHING
			RETURNING *),
		logged AS (
			INSERT INTO audit_log (actor_kind, actor_id, request_id, action, entity, entity_id, centre_id, after)
			SELECT @actor_kind, CAST(@actor_id AS uuid), @request_id, 'refer', 'ticket', id::text, centre_id, CAST(@after AS jsonb) FROM ticket)
		SELECT ticket.*, (SELECT code FROM centre) AS joined_centre_code FROM ticket`, args).Find(&r)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	t := r.Ticket
	t.CentreCode = r.JoinedCentreCode
	t.SLAState = t.SLAStateAt(s.now())
	return &t, nil
}

// ticketFields are the columns a referral sets; centre_code is resolved by the query.
func ticketFields(in models.Referral, reportedAt time.Time, hash string) map[string]any {
	return map[string]any{
		"ticket_number": in.TicketNumber, "reported_at": reportedAt, "sla_due_at": reportedAt.Add(models.SLA),
		"centre_code":             in.CentreCode,
		"centre_id":               nil,
		"customer_account_number": in.Customer.AccountNumber, "customer_company": in.Customer.Company,
		"customer_contact_name": in.Customer.ContactName, "customer_contact_phone": in.Customer.ContactPhone,
		"customer_contact_email": in.Customer.ContactEmail,
		"line_msisdn":            in.Line.MSISDN,
		"device_imei":            in.Device.IMEI, "device_brand": in.Device.Brand, "device_model": in.Device.Model,
		"fault_category": in.Fault.Category, "fault_description": in.Fault.Description,
		"referral_hash": hash,
	}
}

// ticketRow is a ticket with its centre's code, read in one query.
type ticketRow struct {
	models.Ticket
	JoinedCentreCode *string `gorm:"column:joined_centre_code"`
}

func ticketQuery(q *gorm.DB) *gorm.DB {
	return q.Table("tickets").Select("tickets.*, centres.code AS joined_centre_code").
		Joins("LEFT JOIN centres ON centres.id = tickets.centre_id")
}

func loadTicket(q *gorm.DB, t *models.Ticket, where string, args ...any) error {
	var r ticketRow
	if err := ticketQuery(q).Where(where, args...).Take(&r).Error; err != nil {
		return notFoundIf(err, "ticket")
	}
	*t = r.Ticket
	t.CentreCode = r.JoinedCentreCode
	return nil
}

// Get returns the ticket with this number if the caller may see it. Errors: not found.
func (s *Tickets) Get(ctx context.Context, p models.Principal, number string) (*models.Ticket, error) {
	if err := authorize(p, actReadTicket); err != nil {
		return nil, err
	}
	if !models.ValidTicketNumber(number) {
		return nil, models.NotFound("ticket")
	}
	var t models.Ticket
	db := s.DB.WithContext(ctx)
	if err := loadTicket(db.Scopes(ticketScope(p)), &t, "tickets.ticket_number = ?", number); err != nil {
		return nil, translate(err)
	}
	t.SLAState = t.SLAStateAt(s.now())
	var a struct {
		models.Appointment
		Code     string
		RepairID *string
	}
	res := db.Raw(`SELECT a.*, c.code, r.id AS repair_id FROM appointments a JOIN centres c ON c.id = a.centre_id
		LEFT JOIN repair_orders r ON r.appointment_id = a.id
		WHERE a.ticket_id = ? ORDER BY a.status IN ('booked', 'checked_in') DESC, a.created_at DESC LIMIT 1`, t.ID).Find(&a)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 1 {
		t.Appointment = appointmentView(&a.Appointment, &t, a.Code)
		t.Appointment.RepairID = a.RepairID
	}
	repair, err := repairSummary(db, t.ID)
	if err != nil {
		return nil, translate(err)
	}
	t.Repair = repair
	if t.Repair != nil {
		sw, err := loadSwap(db, "s.ticket_id = ?", t.ID)
		if err != nil && models.ErrorCode(err) != "not_found" {
			return nil, translate(err)
		}
		t.Swap = sw
	}
	return &t, nil
}

// repairSummary is the ticket's latest repair order with its valid certificate, or the
// latest voided one.
func repairSummary(db *gorm.DB, ticketID string) (*models.RepairSummary, error) {
	var rows []struct {
		ID, Status               string
		Outcome                  *string
		CertifiedAt              *time.Time
		Number, VerificationCode *string
		VoidedAt                 *time.Time
	}
	err := db.Raw(`SELECT r.id, r.status, r.outcome, r.certified_at, c.number, c.verification_code, c.voided_at
		FROM repair_orders r LEFT JOIN LATERAL (SELECT * FROM certificates c WHERE c.repair_id = r.id
			ORDER BY c.voided_at IS NULL DESC, c.issued_at DESC LIMIT 1) c ON true
		WHERE r.ticket_id = ? ORDER BY r.created_at DESC LIMIT 1`, ticketID).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	sum := &models.RepairSummary{ID: r.ID, Status: r.Status, Outcome: r.Outcome, CertifiedAt: r.CertifiedAt}
	if r.Number != nil {
		status := models.CertificateValid
		if r.VoidedAt != nil {
			status = models.CertificateVoid
		}
		sum.Certificate = &models.CertificateSummary{Number: *r.Number, Status: status, VerificationCode: *r.VerificationCode,
			PDFURL: certificatePath(*r.Number)}
	}
	return sum, nil
}

// Search lists the tickets the caller may see, soonest deadline first.
// Errors: invalid (a bad cursor). A centre outside the caller's scope lists nothing.
func (s *Tickets) Search(ctx context.Context, p models.Principal, f models.TicketFilter, page Page) ([]models.Ticket, string, error) {
	if err := authorize(p, actSearchTickets); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	if after != nil && !validUUID(after.ID) {
		// A forged cursor is bad input, not a storage error.
		return nil, "", models.Invalid(models.FieldError{Field: "cursor", Rule: "cursor", Message: "is not a cursor this service gave out"})
	}
	now := s.now()
	q := ticketQuery(s.DB.WithContext(ctx)).Scopes(ticketScope(p))
	if p.Role.AtCentre() {
		// A centre's list is its own queue; unassigned tickets are found by number.
		q = q.Where("tickets.centre_id = ?", p.CentreID)
	}
	if f.CentreCode != "" {
		q = q.Where("centres.code = ?", f.CentreCode)
	}
	if f.Status != "" {
		q = q.Where("tickets.status = ?", f.Status)
	}
	// The same rule as Ticket.SLAStateAt, in SQL so that pages stay full.
	switch models.SLAState(f.SLAState) {
	case models.SLALate:
		q = q.Where("COALESCE(tickets.resolved_at, tickets.cancelled_at, ?) >= tickets.sla_due_at", now)
	case models.SLAAtRisk:
		q = q.Where("tickets.resolved_at IS NULL AND tickets.cancelled_at IS NULL AND tickets.sla_due_at > ? AND tickets.sla_due_at - ? < ?::interval",
			now, now, models.SLAAtRiskWithin.String())
	case models.SLAOnTime:
		q = q.Where(`(COALESCE(tickets.resolved_at, tickets.cancelled_at) < tickets.sla_due_at
			OR (tickets.resolved_at IS NULL AND tickets.cancelled_at IS NULL AND tickets.sla_due_at - ? >= ?::interval))`, now, models.SLAAtRiskWithin.String())
	}
	if after != nil {
		q = q.Where("(tickets.sla_due_at, tickets.id) > (?, ?)", after.At, after.ID)
	}
	limit := page.limit()
	var rows []ticketRow
	if err := q.Order("tickets.sla_due_at, tickets.id").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next = encodeCursor(cursor{At: last.SLADueAt, ID: last.ID})
	}
	out := make([]models.Ticket, len(rows))
	for i, r := range rows {
		out[i] = r.Ticket
		out[i].CentreCode = r.JoinedCentreCode
		out[i].SLAState = out[i].SLAStateAt(now)
	}
	return out, next, nil
}

// Cancel cancels a ticket at CSM's request. Cancelling a cancelled ticket again
// changes nothing. Errors: not found, conflict (ticket_not_cancellable once resolved).
func (s *Tickets) Cancel(ctx context.Context, p models.Principal, number, reason string) (*models.Ticket, error) {
	if err := authorize(p, actReferTickets); err != nil {
		return nil, err
	}
	return s.transition(ctx, p, number, "cancel", func(tx *gorm.DB, t *models.Ticket) (map[string]any, error) {
		switch t.Status {
		case models.TicketCancelled:
			return nil, nil
		case models.TicketResolved, models.TicketClosed:
			return nil, models.Errorf(models.KindConflict, "ticket_not_cancellable", "ticket %s is already %s", t.TicketNumber, t.Status)
		}
		reason = strings.TrimSpace(reason)
		if err := freeTicketAppointment(tx, t, reason, s.now()); err != nil {
			return nil, err
		}
		return map[string]any{"status": models.TicketCancelled, "cancel_reason": reason, "cancelled_at": s.now()}, nil
	})
}

// AcknowledgeClosed records that CSM closed a resolved ticket. The same
// acknowledgement again changes nothing. Errors: not found, conflict (ticket_not_resolved).
func (s *Tickets) AcknowledgeClosed(ctx context.Context, p models.Principal, number string, in models.ClosedInput) (*models.Ticket, error) {
	if err := authorize(p, actReferTickets); err != nil {
		return nil, err
	}
	closedAt, err := parseTime("closed_at", in.ClosedAt)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, p, number, "close", func(tx *gorm.DB, t *models.Ticket) (map[string]any, error) {
		switch t.Status {
		case models.TicketClosed:
			return nil, nil
		case models.TicketResolved:
			return map[string]any{"status": models.TicketClosed, "closed_at": closedAt}, nil
		}
		return nil, models.Errorf(models.KindConflict, "ticket_not_resolved", "ticket %s is %s; only a resolved ticket can be closed", t.TicketNumber, t.Status)
	})
}

// transition locks a ticket, asks change what to set (nil: nothing to do) and writes it
// with its audit entry.
func (s *Tickets) transition(ctx context.Context, p models.Principal, number, action string,
	change func(tx *gorm.DB, t *models.Ticket) (map[string]any, error)) (*models.Ticket, error) {
	if !models.ValidTicketNumber(number) {
		return nil, models.NotFound("ticket")
	}
	var t models.Ticket
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if err := loadTicket(tx.Clauses(lockForUpdate("tickets")).Scopes(ticketScope(p)), &t, "tickets.ticket_number = ?", number); err != nil {
			return err
		}
		set, err := change(tx, &t)
		if err != nil || set == nil {
			return err
		}
		before := t
		set["version"] = t.Version + 1
		set["updated_at"] = s.now()
		if err := tx.Table("tickets").Where("id = ?", t.ID).Updates(set).Error; err != nil {
			return err
		}
		if err := loadTicket(tx, &t, "tickets.id = ?", t.ID); err != nil {
			return err
		}
		return audit(ctx, tx, p, action, "ticket", t.ID, t.CentreID, before, t)
	})
	if err != nil {
		return nil, err
	}
	t.SLAState = t.SLAStateAt(s.now())
	return &t, nil
}
