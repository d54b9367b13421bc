package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"centros/models"

	"gorm.io/gorm"
)

// eventSequenceLock is the transaction-scoped advisory lock every event writer takes just
// before it inserts. Held until commit, it makes sequence numbers follow commit order:
// without it, a transaction that drew number 10 could commit after one that drew 11,
// and a reader that had already moved past 11 would never see 10.
const eventSequenceLock = 0x63736d5f65767473 // "csm_evts"

// RecordEvent writes a callback event for CSM in tx, the transaction of the change it
// reports, so the event exists if and only if the change commits. Call it as the last
// write of the transaction: from here to commit, other event writers wait.
func RecordEvent(tx *gorm.DB, t *models.Ticket, typ models.EventType, data any) (*models.Event, error) {
	payload, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("record event %s: %w", typ, err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(eventSequenceLock)).Error; err != nil {
		return nil, fmt.Errorf("record event %s: %w", typ, err)
	}
	ev := models.Event{ID: "evt_" + hex.EncodeToString(id), Type: typ, TicketID: t.ID, TicketNumber: t.TicketNumber,
		Data: payload, DeliveryStatus: models.DeliveryPending}
	err = tx.Raw(`INSERT INTO csm_events (id, type, ticket_id, ticket_number, data)
		VALUES (?, ?, ?, ?, ?) RETURNING sequence, occurred_at`, ev.ID, ev.Type, ev.TicketID, ev.TicketNumber, string(payload)).
		Row().Scan(&ev.Sequence, &ev.OccurredAt)
	if err != nil {
		return nil, fmt.Errorf("record event %s: %w", typ, err)
	}
	return &ev, nil
}

// Events is CSM's feed of callback events.
type Events struct{ Deps }

// NewEvents returns the event feed service.
func NewEvents(d Deps) *Events { return &Events{d} }

// List returns up to limit events after the given sequence, in sequence order, with
// their delivery status, and the sequence to ask after next (the last one returned, or
// after itself when there is nothing new).
func (s *Events) List(ctx context.Context, p models.Principal, after int64, page Page) ([]models.Event, int64, error) {
	if err := authorize(p, actReadEvents); err != nil {
		return nil, 0, err
	}
	if after < 0 {
		return nil, 0, models.Invalid(models.FieldError{Field: "after", Rule: "min", Message: "must be 0 or more"})
	}
	var out []models.Event
	err := s.DB.WithContext(ctx).Where("sequence > ?", after).Order("sequence").Limit(page.limit()).Find(&out).Error
	if err != nil {
		return nil, 0, translate(err)
	}
	next := after
	if len(out) > 0 {
		next = out[len(out)-1].Sequence
	}
	return out, next, nil
}
