package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"centros/models"

	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"
)

// The argon2id parameters: OWASP's minimum (19 MiB, 2 passes, 1 lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
)

// Session lifetimes: a working shift for people; API clients' tokens live until revoked.
const (
	StaffTokenTTL = 12 * time.Hour
	// Failed logins are counted over this window.
	loginWindow         = 15 * time.Minute
	maxFailuresPerEmail = 5
	maxFailuresPerAddr  = 30
)

// TokenKind says how a credential is carried.
type TokenKind string

// Credential kinds: a bearer token for scripts, a cookie session for the web UI.
const (
	TokenBearer  TokenKind = "bearer"
	TokenSession TokenKind = "session"
)

// Auth signs staff in and out and tells who a credential belongs to.
type Auth struct {
	Deps
	// hashing bounds the argon2id computations under way at once: each takes 19 MiB.
	hashing chan struct{}
	// dummyHash is verified when the account does not exist, so that timing does not
	// tell which emails have accounts.
	dummyHash string
}

// NewAuth returns the authentication service.
func NewAuth(d Deps) *Auth {
	a := &Auth{Deps: d, hashing: make(chan struct{}, 4)}
	a.dummyHash, _ = HashPassword("not a password of anyone")
	return a
}

// HashPassword returns the argon2id hash of password in the PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verifyPassword checks password against an encoded hash, honouring the parameters
// stored in it so that raising them later keeps old hashes valid.
func verifyPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func (a *Auth) verify(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.hashing }()
	return verifyPassword(encoded, password), nil
}

// newToken returns a fresh opaque token (256 bits from the CSPRNG) and the hash that is
// all we keep of it.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = "cst_" + base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token), nil
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// LoginResult is a new credential and who it belongs to.
type LoginResult struct {
	Token     string
	ExpiresAt time.Time
	User      models.Principal
}

// Login checks an email and password and issues a credential of the given kind.
// Errors: unauthenticated (invalid_credentials), too many requests (rate_limited).
func (a *Auth) Login(ctx context.Context, email, password, address string, kind TokenKind) (*LoginResult, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	now := a.now()
	// The attempt counts as a failure until the password proves otherwise, and it is
	// counted in the same locked step as the check: parallel guesses cannot all pass the
	// check before any of them is recorded.
	err := a.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(loginAttemptLock)).Error; err != nil {
			return err
		}
		if err := a.checkRateLimit(tx, email, address, now); err != nil {
			return err
		}
		return tx.Exec("INSERT INTO login_failures (email, address, failed_at) VALUES (?, ?, ?)", email, address, now).Error
	})
	if err != nil {
		return nil, err
	}
	var u models.User
	err = a.DB.WithContext(ctx).Where("email = ? AND active", email).Take(&u).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, translate(err)
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = a.dummyHash
	}
	ok, err := a.verify(ctx, hash, password)
	if err != nil {
		return nil, err
	}
	if !ok || u.ID == "" {
		return nil, models.Errorf(models.KindUnauthenticated, "invalid_credentials", "wrong email or password")
	}
	token, th, err := newToken()
	if err != nil {
		return nil, err
	}
	expires := now.Add(StaffTokenTTL)
	var csrf any
	if kind == TokenSession {
		c, _, err := newToken()
		if err != nil {
			return nil, err
		}
		csrf = c
	}
	p := models.Principal{UserID: u.ID, Role: u.Role}
	err = a.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM login_failures WHERE email = ?", email).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO auth_tokens (token_hash, kind, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			th, string(kind), u.ID, csrf, now, expires).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "login", "user", u.ID, u.CentreID, nil, map[string]any{"kind": kind, "address": address})
	})
	if err != nil {
		return nil, err
	}
	who, err := a.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	return &LoginResult{Token: token, ExpiresAt: expires, User: who}, nil
}

// loginAttemptLock serialises the short check-and-count step of every login.
const loginAttemptLock = 0x63736d5f6c6f676e // "csm_logn"

func (a *Auth) checkRateLimit(tx *gorm.DB, email, address string, now time.Time) error {
	var r struct {
		ByEmail, ByAddr         int
		OldestEmail, OldestAddr *time.Time
	}
	since := now.Add(-loginWindow)
	err := tx.Raw(`SELECT
			count(*) FILTER (WHERE email = @email) AS by_email,
			count(*) FILTER (WHERE address = @addr) AS by_addr,
			min(failed_at) FILTER (WHERE email = @email) AS oldest_email,
			min(failed_at) FILTER (WHERE address = @addr) AS oldest_addr
		FROM login_failures WHERE failed_at > @since AND (email = @email OR address = @addr)`,
		map[string]any{"email": email, "addr": address, "since": since}).Scan(&r).Error
	if err != nil {
		return translate(err)
	}
	var oldest *time.Time
	switch {
	case r.ByEmail >= maxFailuresPerEmail:
		oldest = r.OldestEmail
	case r.ByAddr >= maxFailuresPerAddr:
		oldest = r.OldestAddr
	default:
		return nil
	}
	retry := int(oldest.Add(loginWindow).Sub(now).Seconds()) + 1
	e := models.Errorf(models.KindTooManyRequests, "rate_limited", "too many failed sign-ins; wait %d minutes and try again", (retry+59)/60)
	e.RetryAfter = retry
	return e
}

// Authenticate returns who a token belongs to, or unauthenticated when it is unknown,
// expired, revoked, or its user or client has been disabled.
func (a *Auth) Authenticate(ctx context.Context, token string) (models.Principal, error) {
	// Every request comes through here: one indexed query, scanned without reflection.
	var p models.Principal
	var role string
	err := a.DB.WithContext(ctx).Raw(`SELECT t.id, COALESCE(t.csrf_token, ''), t.expires_at,
			COALESCE(u.role, c.role, ''), COALESCE(u.id::text, ''), COALESCE(c.id::text, ''), COALESCE(u.name, c.name, ''), COALESCE(u.email, ''),
			COALESCE(u.centre_id::text, ''), COALESCE(ce.code, ''),
			COALESCE(u.warehouse_id::text, ''), COALESCE(w.code, ''), COALESCE(w.business_unit_id::text, '')
		FROM auth_tokens t
		LEFT JOIN users u ON u.id = t.user_id AND u.active
		LEFT JOIN centres ce ON ce.id = u.centre_id
		LEFT JOIN warehouses w ON w.id = u.warehouse_id
		LEFT JOIN api_clients c ON c.id = t.api_client_id AND c.active
		WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`,
		tokenHash(token), a.now()).Row().Scan(&p.TokenID, &p.CSRFToken, &p.ExpiresAt,
		&role, &p.UserID, &p.APIClientID, &p.Name, &p.Email, &p.CentreID, &p.CentreCode,
		&p.WarehouseID, &p.WarehouseCode, &p.BusinessUnitID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (role == "" || p.UserID == "" && p.APIClientID == "")) {
		return models.Principal{}, models.Errorf(models.KindUnauthenticated, "unauthenticated", "the session has expired or was revoked; sign in again")
	}
	if err != nil {
		return models.Principal{}, translate(err)
	}
	p.Role = models.Role(role)
	return p, nil
}

// Logout revokes the credential the caller came with.
func (a *Auth) Logout(ctx context.Context, p models.Principal) error {
	if p.TokenID == "" {
		return models.Errorf(models.KindUnauthenticated, "unauthenticated", "sign in first")
	}
	return a.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("UPDATE auth_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", a.now(), p.TokenID).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "logout", "auth_token", p.TokenID, nil, nil, nil)
	})
}

// revokeTokens kills every live credential of a user or API client.
func revokeTokens(tx *gorm.DB, column, id string, now time.Time) error {
	return tx.Exec("UPDATE auth_tokens SET revoked_at = ? WHERE "+column+" = ? AND revoked_at IS NULL", now, id).Error
}
