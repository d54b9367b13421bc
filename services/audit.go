package services

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"centros/models"
)

// AuditEntry is one change as the audit trail shows it.
type AuditEntry struct {
	ID         int64           `json:"id,string"`
	OccurredAt time.Time       `json:"occurred_at"`
	ActorKind  string          `json:"actor_kind"`
	ActorID    *string         `json:"actor_id"`
	RequestID  string          `json:"request_id"`
	Action     string          `json:"action"`
	Entity     string          `json:"entity"`
	EntityID   string          `json:"entity_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

// Audit reads the audit trail.
type Audit struct{ Deps }

// NewAudit returns the audit-trail service.
func NewAudit(d Deps) *Audit { return &Audit{d} }

// List returns the audit entries the caller may see, newest first, optionally of one
// entity kind or one record. A centre manager sees the entries of their centre.
func (s *Audit) List(ctx context.Context, p models.Principal, entity, entityID string, page Page) ([]AuditEntry, string, error) {
	if err := authorize(p, actReadAudit); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	q := s.DB.WithContext(ctx).Table("audit_log").
		Select("id, occurred_at, actor_kind, actor_id, request_id, action, entity, entity_id, before, after")
	if p.Role == models.RoleCentreManager {
		q = q.Where("centre_id = ?", p.CentreID)
	}
	if entity != "" {
		q = q.Where("entity = ?", entity)
	}
	if entityID != "" {
		q = q.Where("entity_id = ?", entityID)
	}
	if after != nil {
		id, err := strconv.ParseInt(after.ID, 10, 64)
		if err != nil {
			return nil, "", models.Invalid(models.FieldError{Field: "cursor", Rule: "cursor", Message: "is not a cursor this service gave out"})
		}
		q = q.Where("id < ?", id)
	}
	limit := page.limit()
	var rows []AuditEntry
	if err := q.Order("id DESC").Limit(limit + 1).Scan(&rows).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(cursor{ID: strconv.FormatInt(rows[limit-1].ID, 10)})
	}
	return rows, next, nil
}
