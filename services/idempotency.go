package services

import (
	"context"
	"time"

	"gorm.io/gorm"

	"centros/models"
)

// Idempotency keeps the first response to each Idempotency-Key so that a client's retry
// gets that response again instead of doing the work twice.
type Idempotency struct{ Deps }

// NewIdempotency returns the idempotency-key store.
func NewIdempotency(d Deps) *Idempotency { return &Idempotency{d} }

// IdempotencyRetention is how long keys are kept (API.md: at least 72 h).
const IdempotencyRetention = 72 * time.Hour

// idempotencyLease is how long a first request may run before a retry may take its key
// over, on the ground that its server died before it could answer.
const idempotencyLease = 2 * time.Minute

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// Begin claims key for a request whose method, path and body hash to requestHash. It
// returns a stored response to replay when the key has already been answered.
// Errors: unprocessable (idempotency_key_reused: another body), conflict
// (idempotency_key_in_flight: the first request is still running).
func (s *Idempotency) Begin(ctx context.Context, principal, key string, requestHash string) (*StoredResponse, error) {
	var replay *StoredResponse
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Exec(`INSERT INTO idempotency_keys (principal, key, request_hash, state, created_at, lease_until)
			VALUES (?, ?, ?, 'in_flight', ?, ?) ON CONFLICT DO NOTHING`, principal, key, requestHash, now, now.Add(idempotencyLease))
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		var row struct {
			RequestHash    string
			State          string
			ResponseStatus *int
			ResponseType   *string
			ResponseBody   *string
			LeaseUntil     time.Time
		}
		if err := tx.Raw(`SELECT request_hash, state, response_status, response_type, response_body, lease_until
			FROM idempotency_keys WHERE principal = ? AND key = ? FOR UPDATE`, principal, key).Scan(&row).Error; err != nil {
			return err
		}
		switch {
		case row.RequestHash != requestHash:
			return models.Errorf(models.KindUnprocessable, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
		case row.State == "done":
			replay = &StoredResponse{Status: *row.ResponseStatus}
			if row.ResponseBody != nil {
				replay.Body = []byte(*row.ResponseBody)
			}
			if row.ResponseType != nil {
				replay.ContentType = *row.ResponseType
			}
			return nil
		case row.LeaseUntil.After(now):
			return models.Errorf(models.KindConflict, "idempotency_key_in_flight", "a request with this Idempotency-Key is still being processed")
		}
		return tx.Exec(`UPDATE idempotency_keys SET lease_until = ? WHERE principal = ? AND key = ?`,
			now.Add(idempotencyLease), principal, key).Error
	})
	return replay, err
}

// Complete stores the response to a claimed key.
func (s *Idempotency) Complete(ctx context.Context, principal, key string, r StoredResponse) error {
	return translate(s.DB.WithContext(ctx).Exec(`UPDATE idempotency_keys
		SET state = 'done', response_status = ?, response_type = ?, response_body = ?
		WHERE principal = ? AND key = ?`, r.Status, r.ContentType, string(r.Body), principal, key).Error)
}

// Release gives a key back after its request failed on our side, so a retry runs anew.
func (s *Idempotency) Release(ctx context.Context, principal, key string) error {
	return translate(s.DB.WithContext(ctx).Exec(`DELETE FROM idempotency_keys
		WHERE principal = ? AND key = ? AND state = 'in_flight'`, principal, key).Error)
}

// Purge forgets keys older than the retention, and failed logins older than their
// window; the service calls it now and then.
func (s *Idempotency) Purge(ctx context.Context) error {
	now := s.now()
	if err := s.DB.WithContext(ctx).Exec("DELETE FROM idempotency_keys WHERE created_at < ?", now.Add(-IdempotencyRetention)).Error; err != nil {
		return translate(err)
	}
	return translate(s.DB.WithContext(ctx).Exec("DELETE FROM login_failures WHERE failed_at < ?", now.Add(-loginWindow)).Error)
}
