package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"centros/models"

	"gorm.io/gorm"
)

// Appointments runs a centre's calendar: availability, booking, rescheduling,
// cancelling, no-shows, check-in and walk-ins.
type Appointments struct{ Deps }

// NewAppointments returns the appointment service.
func NewAppointments(d Deps) *Appointments { return &Appointments{d} }

// MaxAvailabilityDays bounds one availability request.
const MaxAvailabilityDays = 31

func calendarOf(c *CentreView) (models.Calendar, error) {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return models.Calendar{}, fmt.Errorf("centre %s time zone %q: %w", c.Code, c.TimeZone, err)
	}
	closed := make(map[string]bool, len(c.ClosedDays))
	for _, d := range c.ClosedDays {
		closed[d] = true
	}
	return models.Calendar{Location: loc, SlotMinutes: c.SlotMinutes, Hours: c.OpeningHours, Closed: closed}, nil
}

// centreFor loads a centre the caller may work at, with its calendar.
func (s *Appointments) centreFor(tx *gorm.DB, p models.Principal, code string) (*CentreView, models.Calendar, error) {
	c, err := loadCentre(tx.Scopes(centreScope(p)), "centres.code = ?", code)
	if err != nil {
		return nil, models.Calendar{}, err
	}
	cal, err := calendarOf(c)
	return c, cal, err
}

// lockTicket locks the ticket the caller named, within their scope.
func lockTicket(tx *gorm.DB, p models.Principal, number string) (*models.Ticket, error) {
	return lockTicketSharingCentre(tx, p, number, "")
}

// lockTicketSharingCentre also takes shareCentre on centreID in the same round trip.
func lockTicketSharingCentre(tx *gorm.DB, p models.Principal, number, centreID string) (*models.Ticket, error) {
	if !models.ValidTicketNumber(number) {
		return nil, models.NotFound("ticket")
	}
	q := tx.Clauses(lockForUpdate("tickets")).Scopes(ticketScope(p))
	if centreID != "" {
		q = q.Where("pg_advisory_xact_lock_shared(?, hashtext(?)) IS NOT NULL", centreCountersLock, centreID)
	}
	var t models.Ticket
	if err := loadTicket(q, &t, "tickets.ticket_number = ?", number); err != nil {
		return nil, err
	}
	return &t, nil
}

// takePlace is the statement that keeps a slot from holding more than its capacity: it
// creates the slot's row on first use with the centre's counters as capacity, or adds
// one to booked only while booked < capacity. No row comes back when the slot is full.
// Parameters: @centre, @starts_at, @ends_at.
const takePlace = `INSERT INTO slots (centre_id, starts_at, ends_at, capacity, booked)
	SELECT id, @starts_at, @ends_at, counters, 1 FROM centres WHERE id = @centre
	ON CONFLICT (centre_id, starts_at) DO UPDATE SET booked = slots.booked + 1 WHERE slots.booked < slots.capacity`

// reserve takes a place in a slot, creating its row on first use with the centre's
// counters as capacity. The conditional UPDATE is what keeps a slot from holding more
// than its capacity, whatever the number of concurrent requests and replicas. Callers
// hold shareCentre, so the counters read here are the current ones.
func reserve(tx *gorm.DB, centreID string, slot models.Slot) error {
	var booked int
	res := tx.Raw(takePlace+` RETURNING booked`,
		map[string]any{"starts_at": slot.StartsAt, "ends_at": slot.EndsAt, "centre": centreID}).Scan(&booked)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return models.Errorf(models.KindConflict, "slot_full", "every counter is taken at %s", slot.StartsAt.Format(time.RFC3339))
	}
	return nil
}

func release(tx *gorm.DB, centreID string, startsAt time.Time) error {
	return tx.Exec("UPDATE slots SET booked = booked - 1 WHERE centre_id = ? AND starts_at = ? AND booked > 0", centreID, startsAt).Error
}

// centreCountersLock is the namespace of the per-centre advisory locks that order
// bookings against changes of a centre's counters.
const centreCountersLock = 0x63747273 // "ctrs"

// shareCentre lets bookings run side by side while keeping out a change of the centre's
// counters (which takes the lock exclusively, in resizeSlots). An advisory lock, not a
// row lock: it writes nothing, where FOR SHARE rewrote the centre row on every booking.
func shareCentre(tx *gorm.DB, centreID string) error {
	return tx.Exec("SELECT pg_advisory_xact_lock_shared(?, hashtext(?))", centreCountersLock, centreID).Error
}

func (s *Appointments) notPast(slot models.Slot) error {
	if slot.StartsAt.Before(s.now()) {
		return models.Errorf(models.KindUnprocessable, "in_the_past", "the slot at %s has already started", slot.StartsAt.Format(time.RFC3339))
	}
	return nil
}

// appointmentView fills in what an appointment shows of its ticket and centre, and
// whether its slot falls within the ticket's deadline.
func appointmentView(a *models.Appointment, t *models.Ticket, centreCode string) *models.Appointment {
	a.TicketNumber, a.CentreCode = t.TicketNumber, centreCode
	a.SLADueAt = t.ReportedAt.Add(models.SLA).UTC()
	a.WithinSLA = !a.StartsAt.After(a.SLADueAt)
	return a
}

func eventData(a *models.Appointment, extra map[string]any) map[string]any {
	d := map[string]any{"appointment_id": a.ID, "centre": a.CentreCode, "starts_at": a.StartsAt, "ends_at": a.EndsAt, "within_sla": a.WithinSLA}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// Book books a ticket into a slot of a centre.
// Errors: not found (ticket, centre), conflict (slot_full, ticket_has_appointment),
// unprocessable (outside_opening_hours, not_a_slot_start, in_the_past, ticket_not_bookable).
func (s *Appointments) Book(ctx context.Context, p models.Principal, in models.BookInput) (*models.Appointment, error) {
	if err := authorize(p, actBook); err != nil {
		return nil, err
	}
	startsAt, err := parseTime("starts_at", in.StartsAt)
	if err != nil {
		return nil, err
	}
	var a models.Appointment
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		centre, cal, err := s.centreFor(tx, p, in.CentreCode)
		if err != nil {
			return err
		}
		slot, err := cal.SlotAt(startsAt)
		if err != nil {
			return err
		}
		if err := s.notPast(slot); err != nil {
			return err
		}
		t, err := lockTicketSharingCentre(tx, p, in.TicketNumber, centre.ID)
		if err != nil {
			return err
		}
		switch t.Status {
		case models.TicketReferred:
		case models.TicketScheduled:
			return models.Errorf(models.KindConflict, "ticket_has_appointment", "ticket %s already has an appointment; reschedule it instead", t.TicketNumber)
		default:
			return models.Errorf(models.KindUnprocessable, "ticket_not_bookable", "ticket %s is %s and cannot be booked", t.TicketNumber, t.Status)
		}
		if err := s.bookSlot(ctx, tx, p, t, centre.ID, slot, &a); err != nil {
			return err
		}
		appointmentView(&a, t, centre.Code)
		_, err = RecordEvent(tx, t, models.EventAppointmentBooked, eventData(&a, nil))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// bookSlot is booking's write, in one statement because it is the hot path under
// contention: take a place in the slot (takePlace, as reserve does), insert the
// appointment, mark the ticket scheduled at this centre, and write the audit entry. No
// row comes back when the slot is full.
func (s *Appointments) bookSlot(ctx context.Context, tx *gorm.DB, p models.Principal, t *models.Ticket, centreID string, slot models.Slot, a *models.Appointment) error {
	res := tx.Raw(`WITH slot AS (`+takePlace+` RETURNING centre_id, starts_at, ends_at),
		appointment AS (
			INSERT INTO appointments (ticket_id, centre_id, starts_at, ends_at, status, version)
			SELECT @ticket, centre_id, starts_at, ends_at, 'booked', 1 FROM slot
			RETURNING *),
		ticket AS (
			UPDATE tickets SET status = 'scheduled', centre_id = @centre, version = version + 1, updated_at = @now
			WHERE id = @ticket AND EXISTS (SELECT FROM appointment)),
		logged AS (
			INSERT INTO audit_log (actor_kind, actor_id, request_id, action, entity, entity_id, centre_id, after)
			SELECT @actor_kind, CAST(@actor_id AS uuid), @request_id, 'book', 'appointment', id::text, centre_id, to_jsonb(appointment)
			FROM appointment)
		SELECT * FROM appointment`, withActor(ctx, p, map[string]any{"starts_at": slot.StartsAt, "ends_at": slot.EndsAt, "centre": centreID,
		"ticket": t.ID, "now": s.now()})).Find(a)
	if res.Error != nil {
		return activeConflict(res.Error, t.TicketNumber)
	}
	if res.RowsAffected == 0 {
		return models.Errorf(models.KindConflict, "slot_full", "every counter is taken at %s", slot.StartsAt.Format(time.RFC3339))
	}
	t.Status, t.Version = models.TicketScheduled, t.Version+1
	return nil
}

// activeConflict turns the database's refusal of a second active appointment into the
// caller's conflict.
func activeConflict(err error, number string) error {
	if e, ok := models.AsError(translate(err)); ok && e.Code == "already_exists" {
		return models.Errorf(models.KindConflict, "ticket_has_appointment", "ticket %s already has an active appointment", number)
	}
	return err
}

// setTicket writes fields of a locked ticket and bumps its version.
func setTicket(tx *gorm.DB, now time.Time, t *models.Ticket, set map[string]any) error {
	set["version"] = t.Version + 1
	set["updated_at"] = now
	if err := tx.Table("tickets").Where("id = ?", t.ID).Updates(set).Error; err != nil {
		return err
	}
	t.Version++
	return nil
}

// appointmentCtx is an appointment locked with its ticket and centre, for a transition.
type appointmentCtx struct {
	a      models.Appointment
	ticket *models.Ticket
	centre *CentreView
	cal    models.Calendar
}

// lockAppointment locks the ticket of an appointment the caller may see, then the
// appointment: the order of Book and Tickets.Cancel (ticket, appointment, slot), so that
// they wait for each other instead of deadlocking. An appointment's ticket never changes.
func (s *Appointments) lockAppointment(tx *gorm.DB, p models.Principal, id string) (*appointmentCtx, error) {
	if !validUUID(id) {
		return nil, models.NotFound("appointment")
	}
	var ticketID string
	q := tx.Table("appointments").Select("appointments.ticket_id").
		Joins("JOIN centres ON centres.id = appointments.centre_id").Scopes(centreScope(p))
	if err := q.Where("appointments.id = ?", id).Take(&ticketID).Error; err != nil {
		return nil, notFoundIf(err, "appointment")
	}
	var t models.Ticket
	if err := loadTicket(tx.Clauses(lockForUpdate("tickets")), &t, "tickets.id = ?", ticketID); err != nil {
		return nil, err
	}
	var ac appointmentCtx
	if err := tx.Clauses(lockForUpdate()).Table("appointments").Where("id = ?", id).Take(&ac.a).Error; err != nil {
		return nil, notFoundIf(err, "appointment")
	}
	var err error
	if ac.centre, err = loadCentre(tx, "centres.id = ?", ac.a.CentreID); err != nil {
		return nil, err
	}
	if ac.cal, err = calendarOf(ac.centre); err != nil {
		return nil, err
	}
	ac.ticket = &t
	appointmentView(&ac.a, ac.ticket, ac.centre.Code)
	return &ac, nil
}

// Get returns one appointment the caller may see. Errors: not found.
func (s *Appointments) Get(ctx context.Context, p models.Principal, id string) (*models.Appointment, error) {
	if err := authorize(p, actReadAppointment); err != nil {
		return nil, err
	}
	var out *models.Appointment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if !validUUID(id) {
			return models.NotFound("appointment")
		}
		var a models.Appointment
		q := tx.Table("appointments").Select("appointments.*").Joins("JOIN centres ON centres.id = appointments.centre_id").Scopes(centreScope(p))
		if err := q.Where("appointments.id = ?", id).Take(&a).Error; err != nil {
			return notFoundIf(err, "appointment")
		}
		var t models.Ticket
		if err := loadTicket(tx, &t, "tickets.id = ?", a.TicketID); err != nil {
			return err
		}
		var code string
		if err := tx.Raw("SELECT code FROM centres WHERE id = ?", a.CentreID).Row().Scan(&code); err != nil {
			return err
		}
		out = appointmentView(&a, &t, code)
		return s.attachRepair(tx, out)
	})
	return out, err
}

func (s *Appointments) attachRepair(tx *gorm.DB, a *models.Appointment) error {
	var id string
	if err := tx.Raw("SELECT id FROM repair_orders WHERE appointment_id = ?", a.ID).Scan(&id).Error; err != nil {
		return err
	}
	if id != "" {
		a.RepairID = &id
	}
	return nil
}

// transition runs change on a locked appointment, then writes the fields it returns
// (nil: nothing to do) with the audit entry.
func (s *Appointments) transition(ctx context.Context, p models.Principal, id string, may action, name string,
	change func(tx *gorm.DB, ac *appointmentCtx) (map[string]any, error)) (*models.Appointment, error) {
	if err := authorize(p, may); err != nil {
		return nil, err
	}
	var out *models.Appointment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		ac, err := s.lockAppointment(tx, p, id)
		if err != nil {
			return err
		}
		before := ac.a
		set, err := change(tx, ac)
		if err != nil {
			return err
		}
		if set != nil {
			set["version"] = ac.a.Version + 1
			set["updated_at"] = s.now()
			if err := tx.Table("appointments").Where("id = ?", ac.a.ID).Updates(set).Error; err != nil {
				return err
			}
			if err := tx.Table("appointments").Where("id = ?", ac.a.ID).Take(&ac.a).Error; err != nil {
				return err
			}
			appointmentView(&ac.a, ac.ticket, ac.centre.Code)
			if err := audit(ctx, tx, p, name, "appointment", ac.a.ID, &ac.centre.ID, before, ac.a); err != nil {
				return err
			}
		}
		out = &ac.a
		return s.attachRepair(tx, out)
	})
	return out, err
}

// Reschedule moves a booked appointment to another slot of its centre in one step: if
// the new slot is full, the old booking stays as it was.
// Errors: not found, conflict (slot_full, version_conflict, appointment_not_booked),
// unprocessable (outside_opening_hours, not_a_slot_start, in_the_past).
func (s *Appointments) Reschedule(ctx context.Context, p models.Principal, id string, in models.RescheduleInput) (*models.Appointment, error) {
	startsAt, err := parseTime("starts_at", in.StartsAt)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, p, id, actBook, "reschedule", func(tx *gorm.DB, ac *appointmentCtx) (map[string]any, error) {
		if in.Version != nil {
			if err := checkVersion("appointment", ac.a.Version, *in.Version); err != nil {
				return nil, err
			}
		}
		if ac.a.Status != models.AppointmentBooked {
			return nil, notBooked(&ac.a)
		}
		slot, err := ac.cal.SlotAt(startsAt)
		if err != nil {
			return nil, err
		}
		if slot.StartsAt.Equal(ac.a.StartsAt) {
			return nil, nil
		}
		if err := s.notPast(slot); err != nil {
			return nil, err
		}
		if err := shareCentre(tx, ac.centre.ID); err != nil {
			return nil, err
		}
		// Lock both slots in time order, so that two appointments swapping slots wait
		// for each other instead of deadlocking.
		if err := tx.Exec(`SELECT 1 FROM slots WHERE centre_id = ? AND starts_at IN (?, ?) ORDER BY starts_at FOR UPDATE`,
			ac.centre.ID, ac.a.StartsAt, slot.StartsAt).Error; err != nil {
			return nil, err
		}
		if err := reserve(tx, ac.centre.ID, slot); err != nil {
			return nil, err
		}
		if err := release(tx, ac.centre.ID, ac.a.StartsAt); err != nil {
			return nil, err
		}
		moved := ac.a
		moved.StartsAt, moved.EndsAt = slot.StartsAt, slot.EndsAt
		appointmentView(&moved, ac.ticket, ac.centre.Code)
		if _, err := RecordEvent(tx, ac.ticket, models.EventAppointmentRescheduled,
			eventData(&moved, map[string]any{"previous_starts_at": ac.a.StartsAt})); err != nil {
			return nil, err
		}
		return map[string]any{"starts_at": slot.StartsAt, "ends_at": slot.EndsAt}, nil
	})
}

func notBooked(a *models.Appointment) error {
	return models.Errorf(models.KindConflict, "appointment_not_booked", "the appointment is %s, not booked", a.Status)
}

// Cancel cancels a booked appointment and frees its place at once; the ticket can be
// booked again. Cancelling a cancelled appointment changes nothing.
// Errors: not found, conflict (appointment_not_booked).
func (s *Appointments) Cancel(ctx context.Context, p models.Principal, id, reason string) (*models.Appointment, error) {
	return s.transition(ctx, p, id, actBook, "cancel", func(tx *gorm.DB, ac *appointmentCtx) (map[string]any, error) {
		switch ac.a.Status {
		case models.AppointmentCancelled:
			return nil, nil
		case models.AppointmentBooked:
		default:
			return nil, notBooked(&ac.a)
		}
		reason = strings.TrimSpace(reason)
		if err := s.unbook(tx, ac, models.EventAppointmentCancelled, map[string]any{"reason": reason}); err != nil {
			return nil, err
		}
		return map[string]any{"status": models.AppointmentCancelled, "cancel_reason": reason, "cancelled_at": s.now()}, nil
	})
}

// unbook frees the place of a booked appointment and returns its ticket to referred.
func (s *Appointments) unbook(tx *gorm.DB, ac *appointmentCtx, event models.EventType, extra map[string]any) error {
	if err := release(tx, ac.centre.ID, ac.a.StartsAt); err != nil {
		return err
	}
	if ac.ticket.Status == models.TicketScheduled {
		if err := setTicket(tx, s.now(), ac.ticket, map[string]any{"status": models.TicketReferred}); err != nil {
			return err
		}
	}
	_, err := RecordEvent(tx, ac.ticket, event, eventData(&ac.a, extra))
	return err
}

// NoShow records that the customer did not come; only once the slot has started. The
// place is freed (for a walk-in) and the ticket can be booked again.
// Errors: not found, conflict (appointment_not_booked), unprocessable (slot_not_started).
func (s *Appointments) NoShow(ctx context.Context, p models.Principal, id string) (*models.Appointment, error) {
	return s.transition(ctx, p, id, actCheckIn, "no_show", func(tx *gorm.DB, ac *appointmentCtx) (map[string]any, error) {
		switch ac.a.Status {
		case models.AppointmentNoShow:
			return nil, nil
		case models.AppointmentBooked:
		default:
			return nil, notBooked(&ac.a)
		}
		if s.now().Before(ac.a.StartsAt) {
			return nil, models.Errorf(models.KindUnprocessable, "slot_not_started", "a no-show can be recorded only once the slot has started")
		}
		if err := s.unbook(tx, ac, models.EventAppointmentNoShow, nil); err != nil {
			return nil, err
		}
		return map[string]any{"status": models.AppointmentNoShow, "no_show_at": s.now()}, nil
	})
}

// CheckIn receives the customer and the handset: the appointment becomes checked in,
// the ticket in service, and a repair order is opened. Only on the appointment's day.
// Errors: not found, conflict (appointment_not_booked), unprocessable (not_today,
// imei_mismatch when the IMEI differs from the ticket's without a reason).
func (s *Appointments) CheckIn(ctx context.Context, p models.Principal, id string, in models.CheckInInput) (*models.Appointment, error) {
	return s.transition(ctx, p, id, actCheckIn, "check_in", func(tx *gorm.DB, ac *appointmentCtx) (map[string]any, error) {
		if ac.a.Status != models.AppointmentBooked {
			return nil, notBooked(&ac.a)
		}
		now := s.now()
		if now.In(ac.cal.Location).Format(time.DateOnly) != ac.a.StartsAt.In(ac.cal.Location).Format(time.DateOnly) {
			return nil, models.Errorf(models.KindUnprocessable, "not_today", "the appointment is on %s; check in on that day, or reschedule",
				ac.a.StartsAt.In(ac.cal.Location).Format(time.DateOnly))
		}
		if err := s.openRepair(tx, p, ac, in, now); err != nil {
			return nil, err
		}
		return map[string]any{"status": models.AppointmentCheckedIn, "checked_in_at": now}, nil
	})
}

// openRepair checks the handset in: repair order, ticket in service, and the event.
func (s *Appointments) openRepair(tx *gorm.DB, p models.Principal, ac *appointmentCtx, in models.CheckInInput, now time.Time) error {
	var reason *string
	if in.ReceivedIMEI != ac.ticket.Device.IMEI {
		r := strings.TrimSpace(in.IMEIMismatchReason)
		if r == "" {
			return &models.Error{Kind: models.KindUnprocessable, Code: "imei_mismatch",
				Message: fmt.Sprintf("the ticket's device is %s; say why a different handset was received", ac.ticket.Device.IMEI),
				Fields:  []models.FieldError{{Field: "imei_mismatch_reason", Rule: "required_if_mismatch", Message: "is required when the IMEI differs from the ticket's"}}}
		}
		reason = &r
	}
	accessories := in.Accessories
	if accessories == nil {
		accessories = []string{}
	}
	acc, _ := json.Marshal(accessories)
	var by *string
	if p.UserID != "" {
		by = &p.UserID
	}
	ro := models.RepairOrder{TicketID: ac.ticket.ID, AppointmentID: ac.a.ID, CentreID: ac.centre.ID, Status: "open",
		ReceivedIMEI: in.ReceivedIMEI, IMEIMismatchReason: reason, ReceivedCondition: strings.TrimSpace(in.Condition),
		Accessories: acc, CorrectiveActions: json.RawMessage("[]"), CheckedInBy: by, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&ro).Error; err != nil {
		return err
	}
	if err := setTicket(tx, now, ac.ticket, map[string]any{"status": models.TicketInService, "centre_id": ac.centre.ID}); err != nil {
		return err
	}
	_, err := RecordEvent(tx, ac.ticket, models.EventTicketInService, map[string]any{
		"centre": ac.centre.Code, "received_imei": in.ReceivedIMEI, "checked_in_at": now, "walk_in": ac.a.WalkIn,
		"repair_id": ro.ID})
	return err
}

// WalkIn checks a customer in without a booking, into the slot running now, when a
// counter is free in it.
// Errors: not found, conflict (no_counter_free, ticket_has_appointment),
// unprocessable (centre_closed_now, ticket_not_bookable, imei_mismatch).
func (s *Appointments) WalkIn(ctx context.Context, p models.Principal, number string, in models.CheckInInput) (*models.Appointment, error) {
	if err := authorize(p, actCheckIn); err != nil {
		return nil, err
	}
	code := in.CentreCode
	if code == "" {
		code = p.CentreCode
	}
	if code == "" {
		return nil, models.Invalid(models.FieldError{Field: "centre_code", Rule: "required", Message: "say at which centre the customer walked in"})
	}
	var out *models.Appointment
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		centre, cal, err := s.centreFor(tx, p, code)
		if err != nil {
			return err
		}
		now := s.now()
		slot, open := cal.SlotContaining(now)
		if !open {
			return models.Errorf(models.KindUnprocessable, "centre_closed_now", "centre %s is not open now", centre.Code)
		}
		t, err := lockTicket(tx, p, number)
		if err != nil {
			return err
		}
		switch t.Status {
		case models.TicketReferred:
		case models.TicketScheduled:
			return models.Errorf(models.KindConflict, "ticket_has_appointment", "ticket %s has an appointment; check that one in", t.TicketNumber)
		default:
			return models.Errorf(models.KindUnprocessable, "ticket_not_bookable", "ticket %s is %s", t.TicketNumber, t.Status)
		}
		if err := shareCentre(tx, centre.ID); err != nil {
			return err
		}
		if err := reserve(tx, centre.ID, slot); err != nil {
			if models.ErrorCode(err) == "slot_full" {
				return models.Errorf(models.KindConflict, "no_counter_free", "every counter is busy until %s", slot.EndsAt.In(cal.Location).Format("15:04"))
			}
			return err
		}
		ac := &appointmentCtx{ticket: t, centre: centre, cal: cal, a: models.Appointment{TicketID: t.ID, CentreID: centre.ID,
			StartsAt: slot.StartsAt, EndsAt: slot.EndsAt, Status: models.AppointmentCheckedIn, WalkIn: true, CheckedInAt: &now, Version: 1}}
		if err := tx.Create(&ac.a).Error; err != nil {
			return activeConflict(err, t.TicketNumber)
		}
		if err := s.openRepair(tx, p, ac, in, now); err != nil {
			return err
		}
		out = appointmentView(&ac.a, t, centre.Code)
		if err := audit(ctx, tx, p, "walk_in", "appointment", ac.a.ID, &centre.ID, nil, ac.a); err != nil {
			return err
		}
		return s.attachRepair(tx, out)
	})
	return out, err
}

// Availability lists a centre's slots from one local date to another (at most 31 days),
// leaving out those already started, in a fixed number of queries. Given a ticket, it
// marks each slot within the ticket's deadline or not and, when this centre has no free
// slot before the deadline, offers the earliest in-deadline slots at the other centres
// of its business unit.
// Errors: not found (centre, ticket), invalid (dates).
func (s *Appointments) Availability(ctx context.Context, p models.Principal, code, from, to, ticketNumber string) (*models.Availability, error) {
	if err := authorize(p, actReadAvailability); err != nil {
		return nil, err
	}
	var out *models.Availability
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		centre, cal, err := s.centreFor(tx, p, code)
		if err != nil {
			return err
		}
		start, end, err := dateRange(from, to, cal.Location)
		if err != nil {
			return err
		}
		out = &models.Availability{CentreCode: centre.Code, TimeZone: centre.TimeZone, From: from, To: to, Slots: []models.SlotView{}}
		var due *time.Time
		if ticketNumber != "" {
			t := models.Ticket{}
			if err := loadTicket(tx.Scopes(ticketScope(p)), &t, "tickets.ticket_number = ?", ticketNumber); err != nil {
				return err
			}
			d := t.ReportedAt.Add(models.SLA).UTC()
			due, out.TicketNumber, out.SLADueAt = &d, t.TicketNumber, &d
		}
		now := s.now()
		views, err := slotViews(tx, []*CentreView{centre}, map[string]models.Calendar{centre.ID: cal}, start, end, now)
		if err != nil {
			return err
		}
		freeInTime := false
		for _, v := range views[centre.ID] {
			if due != nil {
				within := !v.StartsAt.After(*due)
				v.WithinSLA = &within
				freeInTime = freeInTime || (within && v.Available > 0)
			}
			out.Slots = append(out.Slots, v)
		}
		if due != nil && !freeInTime && due.After(now) {
			out.Alternatives, err = s.alternatives(tx, centre, now, *due)
		}
		return err
	})
	return out, err
}

// dateRange turns from and to (local dates, inclusive) into the instants that bound them.
func dateRange(from, to string, loc *time.Location) (time.Time, time.Time, error) {
	f, err1 := time.ParseInLocation(time.DateOnly, from, loc)
	t, err2 := time.ParseInLocation(time.DateOnly, to, loc)
	switch {
	case err1 != nil:
		return time.Time{}, time.Time{}, models.Invalid(models.FieldError{Field: "from", Rule: "date", Message: "must be a date as YYYY-MM-DD"})
	case err2 != nil:
		return time.Time{}, time.Time{}, models.Invalid(models.FieldError{Field: "to", Rule: "date", Message: "must be a date as YYYY-MM-DD"})
	case t.Before(f):
		return time.Time{}, time.Time{}, models.Invalid(models.FieldError{Field: "to", Rule: "gtefield", Message: "must not be before from"})
	case t.Sub(f) >= MaxAvailabilityDays*24*time.Hour:
		return time.Time{}, time.Time{}, models.Invalid(models.FieldError{Field: "to", Rule: "max_range", Message: fmt.Sprintf("must be at most %d days after from", MaxAvailabilityDays-1)})
	}
	return f, t.AddDate(0, 0, 1), nil
}

// slotViews computes the slots of several centres between two instants with one query
// for what is booked.
func slotViews(tx *gorm.DB, centres []*CentreView, cals map[string]models.Calendar, start, end, now time.Time) (map[string][]models.SlotView, error) {
	ids := make([]string, 0, len(centres))
	for _, c := range centres {
		ids = append(ids, c.ID)
	}
	type row struct {
		CentreID string
		StartsAt time.Time
		Capacity int
		Booked   int
	}
	var rows []row
	if err := tx.Raw(`SELECT centre_id, starts_at, capacity, booked FROM slots
		WHERE centre_id IN ? AND starts_at >= ? AND starts_at < ?`, ids, start, end).Scan(&rows).Error; err != nil {
		return nil, err
	}
	type key struct {
		centre string
		at     int64
	}
	stored := make(map[key]row, len(rows))
	for _, r := range rows {
		stored[key{r.CentreID, r.StartsAt.Unix()}] = r
	}
	out := map[string][]models.SlotView{}
	for _, c := range centres {
		cal := cals[c.ID]
		// Walk whole local days: from a start in the middle of a day, stepping by days
		// would stop before the slots of the last day that come earlier in the day.
		first := start.In(cal.Location)
		for day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, cal.Location); day.Before(end); day = day.AddDate(0, 0, 1) {
			for _, sl := range cal.SlotsOn(day) {
				if sl.StartsAt.Before(now) || !sl.StartsAt.Before(end) || sl.StartsAt.Before(start) {
					continue
				}
				v := models.SlotView{StartsAt: sl.StartsAt, EndsAt: sl.EndsAt, Capacity: c.Counters}
				if r, ok := stored[key{c.ID, sl.StartsAt.Unix()}]; ok {
					v.Capacity, v.Booked = r.Capacity, r.Booked
				}
				v.Available = max(v.Capacity-v.Booked, 0)
				out[c.ID] = append(out[c.ID], v)
			}
		}
	}
	return out, nil
}

// alternatives finds, at the other centres of the business unit, the earliest free slot
// before the deadline, unless this centre itself has a free slot before the deadline
// (which the range of dates asked for may not have reached).
func (s *Appointments) alternatives(tx *gorm.DB, centre *CentreView, now, due time.Time) ([]models.Alternative, error) {
	unit, err := loadCentres(tx, "centres.business_unit_id = ?", centre.BusinessUnitID)
	if err != nil {
		return nil, err
	}
	if len(unit) < 2 {
		return nil, nil
	}
	views := make([]*CentreView, 0, len(unit))
	cals := map[string]models.Calendar{}
	for i := range unit {
		v := &unit[i]
		cal, err := calendarOf(v)
		if err != nil {
			return nil, err
		}
		views, cals[v.ID] = append(views, v), cal
	}
	// The day before covers time zones behind UTC.
	slots, err := slotViews(tx, views, cals, now.AddDate(0, 0, -1), due.Add(time.Second), now)
	if err != nil {
		return nil, err
	}
	for _, sl := range slots[centre.ID] {
		if sl.Available > 0 && !sl.StartsAt.After(due) {
			return nil, nil
		}
	}
	var out []models.Alternative
	for _, v := range views {
		if v.ID == centre.ID {
			continue
		}
		for _, sl := range slots[v.ID] {
			if sl.Available > 0 && !sl.StartsAt.After(due) {
				out = append(out, models.Alternative{CentreCode: v.Code, CentreName: v.Name, StartsAt: sl.StartsAt, EndsAt: sl.EndsAt, Available: sl.Available})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartsAt.Before(out[j].StartsAt) })
	return out, nil
}

// Agenda lists a centre's appointments of one local date, by slot, with whether each
// customer is due, late, checked in or a no-show.
// Errors: not found (centre), invalid (date).
func (s *Appointments) Agenda(ctx context.Context, p models.Principal, code, date string) ([]models.AgendaEntry, error) {
	if err := authorize(p, actReadAgenda); err != nil {
		return nil, err
	}
	var out []models.AgendaEntry
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		centre, cal, err := s.centreFor(tx, p, code)
		if err != nil {
			return err
		}
		day, err := time.ParseInLocation(time.DateOnly, date, cal.Location)
		if err != nil {
			return models.Invalid(models.FieldError{Field: "date", Rule: "date", Message: "must be a date as YYYY-MM-DD"})
		}
		var rows []struct {
			models.Appointment
			TicketNumber string
			ReportedAt   time.Time
			Company      string
			Contact      string
			Brand, Model string
			RepairID     *string
		}
		err = tx.Raw(`SELECT a.*, t.ticket_number, t.reported_at, t.customer_company AS company,
				t.customer_contact_name AS contact, t.device_brand AS brand, t.device_model AS model, r.id AS repair_id
			FROM appointments a JOIN tickets t ON t.id = a.ticket_id
			LEFT JOIN repair_orders r ON r.appointment_id = a.id
			WHERE a.centre_id = ? AND a.starts_at >= ? AND a.starts_at < ?
			ORDER BY a.starts_at, a.created_at, a.id`, centre.ID, day, day.AddDate(0, 0, 1)).Scan(&rows).Error
		if err != nil {
			return err
		}
		now := s.now()
		out = make([]models.AgendaEntry, 0, len(rows))
		for _, r := range rows {
			e := models.AgendaEntry{Appointment: r.Appointment, Company: r.Company, Contact: r.Contact, Device: r.Brand + " " + r.Model}
			t := models.Ticket{TicketNumber: r.TicketNumber, ReportedAt: r.ReportedAt}
			appointmentView(&e.Appointment, &t, centre.Code)
			e.RepairID = r.RepairID
			e.SLAState = t.SLAStateAt(now)
			e.Attendance = string(e.Status)
			if e.Status == models.AppointmentBooked {
				e.Attendance = "due"
				if !now.Before(e.StartsAt) {
					e.Attendance = "late"
				}
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// freeTicketAppointment ends a cancelled ticket's appointment: a booked one is cancelled
// and its place freed; a checked-in one is completed and its repair abandoned.
func freeTicketAppointment(tx *gorm.DB, t *models.Ticket, reason string, now time.Time) error {
	var a models.Appointment
	err := tx.Clauses(lockForUpdate()).Where("ticket_id = ? AND status IN ('booked', 'checked_in')", t.ID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Status == models.AppointmentBooked {
		if err := release(tx, a.CentreID, a.StartsAt); err != nil {
			return err
		}
		return tx.Exec(`UPDATE appointments SET status = 'cancelled', cancel_reason = ?, cancelled_at = ?, version = version + 1, updated_at = ?
			WHERE id = ?`, reason, now, now, a.ID).Error
	}
	if err := tx.Exec("UPDATE repair_orders SET status = 'abandoned', version = version + 1, updated_at = ? WHERE appointment_id = ? AND status = 'open'", now, a.ID).Error; err != nil {
		return err
	}
	// A completed appointment no longer holds its place: the slot counts active ones only.
	if err := release(tx, a.CentreID, a.StartsAt); err != nil {
		return err
	}
	return tx.Exec("UPDATE appointments SET status = 'completed', version = version + 1, updated_at = ? WHERE id = ?", now, a.ID).Error
}
