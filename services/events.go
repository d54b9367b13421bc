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

// RecordEvent writes a callback event for CSM in tx, the transaction of the change it
// reports, so the event exists if and only if the change commits. It locks the ticket
// row (callers usually hold it already): events of one ticket are then written in commit
// order, which is the order CSM receives them in. The event gets its feed sequence when
// it is published, after it commits.
func RecordEvent(tx *gorm.DB, t *models.Ticket, typ models.EventType, data any) (*models.Event, error) {
	payload, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("record event %s: %w", typ, err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	ev := models.Event{ID: "evt_" + hex.EncodeToString(id), Type: typ, TicketID: t.ID, TicketNumber: t.TicketNumber,
		Data: payload, DeliveryStatus: models.DeliveryPending}
	// The lock, the insert and the wake-up of the deliverers (sent at commit) in one
	// round trip.
	err = tx.Raw(`WITH locked AS (SELECT id FROM tickets WHERE id = ? FOR UPDATE),
		inserted AS (INSERT INTO csm_events (id, type, ticket_id, ticket_number, data)
			SELECT ?, ?, locked.id, ?, ? FROM locked RETURNING position, occurred_at)
		SELECT position, occurred_at, pg_notify(?, '')::text FROM inserted`,
		t.ID, ev.ID, ev.Type, ev.TicketNumber, string(payload), EventChannel).Row().Scan(&ev.Position, &ev.OccurredAt, new(string))
	if err != nil {
		return nil, fmt.Errorf("record event %s: %w", typ, err)
	}
	return &ev, nil
}

// EventChannel is the NOTIFY channel that wakes deliverers when events commit.
const EventChannel = "csm_events"

// eventPublisherLock serialises publishers, so that sequence numbers are handed out by
// one of them at a time, each batch above the last.
const eventPublisherLock = 0x63736d5f70756273 // "csm_pubs"

// publishBatch bounds one publishing statement.
const publishBatch = 5000

// PublishEvents gives the next feed sequence numbers to the events that can no longer be
// overtaken: those written by transactions older than every transaction still running
// (so every event that could precede them has committed or rolled back), and not behind
// an unpublished event of the same ticket. Numbers follow the order of writing. It
// returns how many it published.
func PublishEvents(ctx context.Context, db *gorm.DB) (int, error) {
	total := 0
	for {
		var n int64
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(eventPublisherLock)).Error; err != nil {
				return err
			}
			res := tx.Exec(`WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
				ready AS (
					SELECT e.position FROM csm_events e, horizon
					WHERE e.sequence IS NULL AND e.created_xid < horizon.xmin
					  AND NOT EXISTS (SELECT FROM csm_events p
						WHERE p.ticket_id = e.ticket_id AND p.sequence IS NULL AND p.position < e.position
						  AND p.created_xid >= horizon.xmin)
					ORDER BY e.position LIMIT ?),
				numbered AS (
					SELECT position, (SELECT COALESCE(max(sequence), 0) FROM csm_events) + row_number() OVER (ORDER BY position) AS sequence
					FROM ready)
				UPDATE csm_events e SET sequence = numbered.sequence FROM numbered WHERE e.position = numbered.position`, publishBatch)
			n = res.RowsAffected
			return res.Error
		})
		if err != nil {
			return total, translate(err)
		}
		total += int(n)
		if n < publishBatch {
			return total, nil
		}
	}
}

// Events is CSM's feed of callback events.
type Events struct{ Deps }

// NewEvents returns the event feed service.
func NewEvents(d Deps) *Events { return &Events{d} }

// List returns up to limit published events after the given sequence, in sequence order,
// with their delivery status, and the sequence to ask after next (the last one returned,
// or after itself when there is nothing new). It publishes what is ready first, so a
// caller sees every event committed before it asked, unless a transaction that started
// earlier is still running.
func (s *Events) List(ctx context.Context, p models.Principal, after int64, page Page) ([]models.Event, int64, error) {
	if err := authorize(p, actReadEvents); err != nil {
		return nil, 0, err
	}
	if after < 0 {
		return nil, 0, models.Invalid(models.FieldError{Field: "after", Rule: "min", Message: "must be 0 or more"})
	}
	if _, err := PublishEvents(ctx, s.DB); err != nil {
		return nil, 0, err
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
