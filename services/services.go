// Package services holds the business rules. Each area is one type whose exported
// methods are use cases: a method takes the caller's Principal, decides access through
// authorize and the scope helpers in access.go, and owns one transaction. Unexported
// helpers take the *gorm.DB of that transaction explicitly.
package services

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"centros/models"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Deps are what every service needs.
type Deps struct {
	DB  *gorm.DB
	Log *slog.Logger
	// Now is the clock; tests set it to pin SLA arithmetic.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// inTx runs fn in one transaction and translates storage errors on the way out.
func (d Deps) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return translate(d.DB.WithContext(ctx).Transaction(fn))
}

// translate turns storage errors a caller can act on into kinds; anything else stays
// an internal error to be logged, never shown.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := models.AsError(err); ok {
		return err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505": // unique_violation
			return models.Errorf(models.KindConflict, "already_exists", "a record with the same %s already exists", uniqueWhat(pg.ConstraintName))
		case "23503": // foreign_key_violation: a reference that validation let through
			return models.Errorf(models.KindUnprocessable, "unknown_reference", "a referenced record does not exist (%s)", pg.ConstraintName)
		case "23514": // check_violation: the schema refused a value validation let through
			return models.Errorf(models.KindUnprocessable, "constraint_violated", "a value breaks the rule %s", pg.ConstraintName)
		case "40001", "40P01": // serialization failure, deadlock
			return models.Errorf(models.KindConflict, "concurrent_update", "another request changed the same records; try again")
		case "55P03": // lock_not_available
			return models.Errorf(models.KindConflict, "concurrent_update", "the record is busy; try again")
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("storage: %w", err)
}

func uniqueWhat(constraint string) string {
	switch constraint {
	case "users_email":
		return "email"
	case "tickets_ticket_number_key":
		return "ticket number"
	default:
		return "code"
	}
}

// audit writes one entry of the audit log in the caller's transaction, so the change and
// its record commit or roll back together.
func audit(ctx context.Context, tx *gorm.DB, p models.Principal, action, entity, entityID string, centreID *string, before, after any) error {
	args := withActor(ctx, p, map[string]any{"action": action, "entity": entity, "entity_id": entityID,
		"centre": centreID, "before": jsonOrNil(before), "after": jsonOrNil(after)})
	return tx.Exec(`INSERT INTO audit_log (actor_kind, actor_id, request_id, action, entity, entity_id, centre_id, before, after)
		VALUES (@actor_kind, CAST(@actor_id AS uuid), @request_id, @action, @entity, @entity_id, @centre, @before, @after)`, args).Error
}

// withActor adds who is acting and in which request to the named arguments of a
// statement that writes the audit log (audit, and the single-statement hot paths).
func withActor(ctx context.Context, p models.Principal, args map[string]any) map[string]any {
	var actor any
	if id := p.ActorID(); id != "" {
		actor = id
	}
	args["actor_kind"], args["actor_id"], args["request_id"] = p.ActorKind(), actor, models.RequestID(ctx)
	return args
}

func jsonOrNil(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

// Page asks for one page of a list.
type Page struct {
	Limit  int
	Cursor string
}

// DefaultLimit and MaxLimit bound every list (API.md).
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// cursor is the opaque position after the last item of a page.
type cursor struct {
	At time.Time `json:"t,omitempty"`
	ID string    `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, models.Invalid(models.FieldError{Field: "cursor", Rule: "cursor", Message: "is not a cursor this service gave out"})
	}
	return &c, nil
}

// checkVersion refuses an edit based on a stale version.
func checkVersion(what string, have, sent int) error {
	if have != sent {
		return models.StaleVersion(what)
	}
	return nil
}

func notFoundIf(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.NotFound(what)
	}
	return err
}

// lockForUpdate locks the rows read, of the named table only when a query joins others.
func lockForUpdate(table ...string) clause.Expression {
	l := clause.Locking{Strength: "UPDATE"}
	if len(table) > 0 {
		l.Table = clause.Table{Name: table[0]}
	}
	return l
}

// newID is a random (version 4) UUID, for rows whose id a document prints before the
// row is written.
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on the platforms we run on
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// validUUID guards id lookups: a malformed id is simply not found, not a storage error.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}
