package services

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"centros/services/database"
)

// Health answers readiness: the database answers and every migration is applied.
type Health struct{ db *sql.DB }

// NewHealth returns the readiness check over the service's pool.
func NewHealth(db *sql.DB) *Health { return &Health{db} }

// Ready returns nil when the service can take traffic.
func (h *Health) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.db.PingContext(ctx); err != nil {
		return errors.New("database unreachable")
	}
	pending, err := database.MigrationsPending(ctx, h.db)
	if err != nil {
		return errors.New("cannot read the migration state")
	}
	if pending {
		return errors.New("migrations pending")
	}
	return nil
}
