package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"centros/models"
	"centros/services"
)

const staffPassword = "contraseña-segura-1"

// newStaff creates a user of role at the given centre or warehouse code.
func newStaff(t *testing.T, e *env, o *org, email string, role models.Role, centre, warehouse string) *models.User {
	t.Helper()
	u, err := e.admin.CreateUser(context.Background(), o.admin, models.UserInput{Email: email, Name: "Persona " + email,
		Password: staffPassword, Role: role, CentreCode: centre, WarehouseCode: warehouse})
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func TestHashPassword(t *testing.T) {
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)
	a, err := services.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	b, err := services.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	m := phc.FindStringSubmatch(a)
	if m == nil {
		t.Fatalf("hash %q is not an argon2id PHC string", a)
	}
	mem, _ := strconv.Atoi(m[1])
	passes, _ := strconv.Atoi(m[2])
	lanes, _ := strconv.Atoi(m[3])
	if mem < 19*1024 || passes < 2 || lanes < 1 {
		t.Fatalf("argon2id parameters m=%d t=%d p=%d under OWASP's minimum (m=19456, t=2, p=1)", mem, passes, lanes)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", a)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(m[4])
	key, _ := base64.RawStdEncoding.DecodeString(m[5])
	if len(salt) < 16 || len(key) < 32 {
		t.Fatalf("salt %d bytes, key %d bytes", len(salt), len(key))
	}
	if strings.Contains(a, "correct horse") {
		t.Fatal("hash contains the password")
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	u := newStaff(t, e, o, "taquilla@example.com", models.RoleCounter, "CCS-01", "")
	tests := []struct {
		name     string
		email    string
		password string
		kind     services.TokenKind
		wantCode string
	}{
		{name: "Bearer", email: "taquilla@example.com", password: staffPassword, kind: services.TokenBearer},
		{name: "Session", email: "taquilla@example.com", password: staffPassword, kind: services.TokenSession},
		{name: "EmailCaseAndSpaces", email: "  Taquilla@Example.COM ", password: staffPassword, kind: services.TokenBearer},
		{name: "WrongPassword", email: "taquilla@example.com", password: "contraseña-segura-2", kind: services.TokenBearer, wantCode: "invalid_credentials"},
		{name: "EmptyPassword", email: "taquilla@example.com", password: "", kind: services.TokenBearer, wantCode: "invalid_credentials"},
		{name: "UnknownEmail", email: "nadie@example.com", password: staffPassword, kind: services.TokenBearer, wantCode: "invalid_credentials"},
	}
	var messages []string
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.auth.Login(ctx, tc.email, tc.password, fmt.Sprintf("10.0.0.%d", i), tc.kind)
			if tc.wantCode != "" {
				me := wantErr(t, err, models.KindUnauthenticated, tc.wantCode)
				messages = append(messages, me.Message)
				if res != nil {
					t.Fatal("a result came with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res.Token, "cst_") {
				t.Fatalf("token %q does not start with cst_", res.Token)
			}
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(res.Token, "cst_"))
			if err != nil || len(raw)*8 < 128 {
				t.Fatalf("token carries %d bits (%v)", len(raw)*8, err)
			}
			if !res.ExpiresAt.Equal(e.now.Add(services.StaffTokenTTL)) {
				t.Fatalf("expires %v", res.ExpiresAt)
			}
			if res.User.UserID != u.ID || res.User.Role != models.RoleCounter || res.User.CentreID != o.ccs01.ID || res.User.CentreCode != "CCS-01" {
				t.Fatalf("principal %+v", res.User)
			}
			if (tc.kind == services.TokenSession) != (res.User.CSRFToken != "") {
				t.Fatalf("kind %s with CSRF token %q", tc.kind, res.User.CSRFToken)
			}
			// Only the SHA-256 of the token is stored, never the token.
			sum := sha256.Sum256([]byte(res.Token))
			if n := e.count(t, "SELECT count(*) FROM auth_tokens WHERE token_hash = ?", hex.EncodeToString(sum[:])); n != 1 {
				t.Fatalf("%d rows hold the token's hash", n)
			}
			if n := e.count(t, "SELECT count(*) FROM auth_tokens t WHERE strpos(t::text, ?) > 0", strings.TrimPrefix(res.Token, "cst_")); n != 0 {
				t.Fatal("auth_tokens holds the token in plain text")
			}
			if n := e.count(t, "SELECT count(*) FROM audit_log a WHERE strpos(a::text, ?) > 0", strings.TrimPrefix(res.Token, "cst_")); n != 0 {
				t.Fatal("audit_log holds the token in plain text")
			}
			who, err := e.auth.Authenticate(ctx, res.Token)
			if err != nil || who.UserID != u.ID {
				t.Fatalf("authenticate: %+v %v", who, err)
			}
		})
	}
	t.Run("UnknownEmailIndistinguishable", func(t *testing.T) {
		if len(messages) != 3 || messages[0] != messages[2] {
			t.Fatalf("messages differ: %q", messages)
		}
	})
	t.Run("DisabledUserCannotLogIn", func(t *testing.T) {
		if err := e.admin.DisableUser(ctx, o.admin, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.auth.Login(ctx, "taquilla@example.com", staffPassword, "10.0.1.1", services.TokenBearer)
		wantErr(t, err, models.KindUnauthenticated, "invalid_credentials")
	})
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	newStaff(t, e, o, "tecnico@example.com", models.RoleTechnician, "CCS-01", "")
	login := func(email, password, addr string) error {
		_, err := e.auth.Login(ctx, email, password, addr, services.TokenBearer)
		return err
	}
	for i := 0; i < 5; i++ {
		wantErr(t, login("tecnico@example.com", "wrong-password", "10.1.0.1"), models.KindUnauthenticated, "invalid_credentials")
		e.now = e.now.Add(10 * time.Second)
	}
	tests := []struct {
		name     string
		advance  time.Duration
		email    string
		addr     string
		wantCode string
	}{
		{"SixthEvenCorrect", 0, "tecnico@example.com", "10.1.0.1", "rate_limited"},
		{"OtherAddressSameEmail", 0, "Tecnico@Example.com", "10.1.0.2", "rate_limited"},
		{"StillWithinWindow", 14 * time.Minute, "tecnico@example.com", "10.1.0.1", "rate_limited"},
		{"AfterWindow", 2 * time.Minute, "tecnico@example.com", "10.1.0.1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = e.now.Add(tc.advance)
			err := login(tc.email, staffPassword, tc.addr)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			me := wantErr(t, err, models.KindTooManyRequests, tc.wantCode)
			if me.RetryAfter <= 0 || me.RetryAfter > 15*60+1 {
				t.Fatalf("RetryAfter %d", me.RetryAfter)
			}
		})
	}
	t.Run("SuccessClearsFailures", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			wantErr(t, login("tecnico@example.com", "wrong-password", "10.1.0.3"), models.KindUnauthenticated, "invalid_credentials")
		}
		if err := login("tecnico@example.com", staffPassword, "10.1.0.3"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			wantErr(t, login("tecnico@example.com", "wrong-password", "10.1.0.3"), models.KindUnauthenticated, "invalid_credentials")
		}
		if err := login("tecnico@example.com", staffPassword, "10.1.0.3"); err != nil {
			t.Fatalf("four failures after a success: %v", err)
		}
	})
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	newStaff(t, e, o, "gerente@example.com", models.RoleCentreManager, "CCS-01", "")
	const addr = "203.0.113.7"
	// Thirty failures spread over ten emails, none of them reaching the per-email limit.
	for i := 0; i < 30; i++ {
		email := fmt.Sprintf("intento%d@example.com", i%10)
		_, err := e.auth.Login(ctx, email, "guess", addr, services.TokenBearer)
		wantErr(t, err, models.KindUnauthenticated, "invalid_credentials")
		e.now = e.now.Add(time.Second)
	}
	tests := []struct {
		name     string
		advance  time.Duration
		addr     string
		wantCode string
	}{
		{"SameAddressFreshEmail", 0, addr, "rate_limited"},
		{"OtherAddress", 0, "203.0.113.8", ""},
		{"SameAddressAfterWindow", 15 * time.Minute, addr, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = e.now.Add(tc.advance)
			_, err := e.auth.Login(ctx, "gerente@example.com", staffPassword, tc.addr, services.TokenBearer)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			me := wantErr(t, err, models.KindTooManyRequests, tc.wantCode)
			if me.RetryAfter <= 0 {
				t.Fatalf("RetryAfter %d", me.RetryAfter)
			}
		})
	}
}

// TestLoginRateLimitParallel fires guesses at once, as an attacker would: the limit must
// hold however many arrive together.
func TestLoginRateLimitParallel(t *testing.T) {
	tests := []struct {
		name        string
		guesses     int
		email       func(i int) string
		addr        func(i int) string
		wantAllowed int
	}{
		{"OneEmail", 20, func(int) string { return "victima@example.com" }, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }, 5},
		{"OneAddress", 40, func(i int) string { return fmt.Sprintf("victima%d@example.com", i) }, func(int) string { return "198.51.100.1" }, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			codes := make([]string, tc.guesses)
			together(tc.guesses, func(i int) {
				_, err := e.auth.Login(context.Background(), tc.email(i), "adivinanza", tc.addr(i), services.TokenBearer)
				codes[i] = models.ErrorCode(err)
			})
			count := map[string]int{}
			for _, c := range codes {
				count[c]++
			}
			if count["invalid_credentials"] != tc.wantAllowed || count["rate_limited"] != tc.guesses-tc.wantAllowed {
				t.Fatalf("outcomes %v, want %d passwords checked and the rest rate limited", count, tc.wantAllowed)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		kind     services.TokenKind
		then     func(t *testing.T, e *env, o *org, u *models.User, p models.Principal)
		wantCode string
	}{
		{name: "Fresh", kind: services.TokenBearer},
		{name: "SessionFresh", kind: services.TokenSession},
		{name: "JustBeforeExpiry", kind: services.TokenBearer, then: func(t *testing.T, e *env, _ *org, _ *models.User, _ models.Principal) {
			e.now = e.now.Add(services.StaffTokenTTL - time.Second)
		}},
		{name: "AtExpiry", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, _ *org, _ *models.User, _ models.Principal) {
			e.now = e.now.Add(services.StaffTokenTTL)
		}},
		{name: "Expired", kind: services.TokenSession, wantCode: "unauthenticated", then: func(t *testing.T, e *env, _ *org, _ *models.User, _ models.Principal) {
			e.now = e.now.Add(12*time.Hour + time.Minute)
		}},
		{name: "LoggedOut", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, _ *org, _ *models.User, p models.Principal) {
			if err := e.auth.Logout(ctx, p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "UserDisabled", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			if err := e.admin.DisableUser(ctx, o.admin, u.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "UserDeactivatedByUpdate", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			off, v := false, u.Version
			if _, err := e.admin.UpdateUser(ctx, o.admin, u.ID, models.UserUpdate{Active: &off, Version: &v}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "RoleChanged", kind: services.TokenSession, wantCode: "unauthenticated", then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			role, centre, v := models.RoleCentreManager, "CCS-01", u.Version
			if _, err := e.admin.UpdateUser(ctx, o.admin, u.ID, models.UserUpdate{Role: &role, CentreCode: &centre, Version: &v}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "CentreChanged", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			centre, v := "CCS-02", u.Version
			if _, err := e.admin.UpdateUser(ctx, o.admin, u.ID, models.UserUpdate{CentreCode: &centre, Version: &v}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "PasswordChanged", kind: services.TokenBearer, wantCode: "unauthenticated", then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			pw, v := "otra-contraseña-9", u.Version
			if _, err := e.admin.UpdateUser(ctx, o.admin, u.ID, models.UserUpdate{Password: &pw, Version: &v}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "NameChangedKeepsSession", kind: services.TokenBearer, then: func(t *testing.T, e *env, o *org, u *models.User, _ models.Principal) {
			name, v := "Nuevo Nombre", u.Version
			if _, err := e.admin.UpdateUser(ctx, o.admin, u.ID, models.UserUpdate{Name: &name, Version: &v}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "OtherSessionLoggedOut", kind: services.TokenBearer, then: func(t *testing.T, e *env, _ *org, _ *models.User, _ models.Principal) {
			other, err := e.auth.Login(ctx, "counter@example.com", staffPassword, "10.9.9.9", services.TokenBearer)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.auth.Logout(ctx, other.User); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			u := newStaff(t, e, o, "counter@example.com", models.RoleCounter, "CCS-01", "")
			res, err := e.auth.Login(ctx, "counter@example.com", staffPassword, "10.0.0.1", tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if tc.then != nil {
				tc.then(t, e, o, u, res.User)
			}
			who, err := e.auth.Authenticate(ctx, res.Token)
			if tc.wantCode != "" {
				wantErr(t, err, models.KindUnauthenticated, tc.wantCode)
				if who.Role != "" || who.UserID != "" {
					t.Fatalf("principal returned with the error: %+v", who)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if who.UserID != u.ID || who.TokenID == "" || who.ExpiresAt == nil {
				t.Fatalf("principal %+v", who)
			}
			if tc.kind == services.TokenSession && who.CSRFToken == "" {
				t.Fatal("session without a CSRF token")
			}
			if tc.kind == services.TokenBearer && who.CSRFToken != "" {
				t.Fatal("bearer token with a CSRF token")
			}
		})
	}
	t.Run("GarbageTokens", func(t *testing.T) {
		e := newEnv(t)
		for _, tok := range []string{"", "cst_", "cst_nope", strings.Repeat("x", 5000), "'; DROP TABLE users; --"} {
			_, err := e.auth.Authenticate(ctx, tok)
			wantErr(t, err, models.KindUnauthenticated, "unauthenticated")
		}
	})
	t.Run("LogoutWithoutToken", func(t *testing.T) {
		e := newEnv(t)
		wantErr(t, e.auth.Logout(ctx, models.Principal{Role: models.RoleAdmin}), models.KindUnauthenticated, "unauthenticated")
	})
}

func TestAuthenticateWarehouseScope(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	newStaff(t, e, o, "almacen@example.com", models.RoleWarehouse, "", "ALM-CAP")
	res, err := e.auth.Login(ctx, "almacen@example.com", staffPassword, "10.0.0.1", services.TokenBearer)
	if err != nil {
		t.Fatal(err)
	}
	p := res.User
	if p.Role != models.RoleWarehouse || p.WarehouseID != o.almCap.ID || p.WarehouseCode != "ALM-CAP" || p.BusinessUnitID != o.cap.ID || p.CentreID != "" {
		t.Fatalf("warehouse principal %+v", p)
	}
}

func TestAPIClientToken(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	other, err := e.admin.CreateAPIClient(ctx, o.admin, models.APIClientInput{Name: "CSM respaldo", Role: models.RoleCSM})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.csmToken, "cst_") {
		t.Fatalf("client token %q", o.csmToken)
	}
	if n := e.count(t, "SELECT count(*) FROM auth_tokens t WHERE strpos(t::text, ?) > 0", strings.TrimPrefix(o.csmToken, "cst_")); n != 0 {
		t.Fatal("the client token is stored in plain text")
	}
	tests := []struct {
		name     string
		advance  time.Duration
		revoke   bool
		token    string
		wantCode string
	}{
		{name: "Works", token: o.csmToken},
		{name: "DoesNotExpireWithTheShift", advance: 30 * 24 * time.Hour, token: o.csmToken},
		{name: "RevokedRefused", revoke: true, token: o.csmToken, wantCode: "unauthenticated"},
		{name: "OtherClientUnaffected", token: other.Token},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = e.now.Add(tc.advance)
			if tc.revoke {
				if err := e.admin.RevokeAPIClient(ctx, o.admin, o.csm.APIClientID); err != nil {
					t.Fatal(err)
				}
				// Revoking twice is harmless.
				if err := e.admin.RevokeAPIClient(ctx, o.admin, o.csm.APIClientID); err != nil {
					t.Fatal(err)
				}
			}
			p, err := e.auth.Authenticate(ctx, tc.token)
			if tc.wantCode != "" {
				wantErr(t, err, models.KindUnauthenticated, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != models.RoleCSM || p.APIClientID == "" || p.UserID != "" || p.CSRFToken != "" || p.ExpiresAt != nil {
				t.Fatalf("client principal %+v", p)
			}
		})
	}
	t.Run("RevokeUnknown", func(t *testing.T) {
		wantErr(t, e.admin.RevokeAPIClient(ctx, o.admin, "00000000-0000-0000-0000-000000000000"), models.KindNotFound, "not_found")
		wantErr(t, e.admin.RevokeAPIClient(ctx, o.admin, "nope"), models.KindNotFound, "not_found")
	})
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("Once", func(t *testing.T) {
		e := newEnv(t)
		created, err := e.admin.EnsureAdmin(ctx, "root@example.com", "first-admin-password")
		if err != nil || !created {
			t.Fatalf("first: %v %v", created, err)
		}
		created, err = e.admin.EnsureAdmin(ctx, "root@example.com", "first-admin-password")
		if err != nil || created {
			t.Fatalf("second: %v %v", created, err)
		}
		created, err = e.admin.EnsureAdmin(ctx, "other@example.com", "other-admin-password")
		if err != nil || created {
			t.Fatalf("another email while an admin exists: %v %v", created, err)
		}
		if n := e.count(t, "SELECT count(*) FROM users WHERE role = 'admin'"); n != 1 {
			t.Fatalf("%d admins", n)
		}
		if _, err := e.auth.Login(ctx, "root@example.com", "first-admin-password", "127.0.0.1", services.TokenBearer); err != nil {
			t.Fatalf("the first admin cannot log in: %v", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		e := newEnv(t)
		const n = 5
		created := make([]bool, n)
		errs := make([]error, n)
		together(n, func(i int) {
			created[i], errs[i] = e.admin.EnsureAdmin(ctx, "root@example.com", "first-admin-password")
		})
		nCreated := 0
		for i := range errs {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if created[i] {
				nCreated++
			}
		}
		if nCreated != 1 {
			t.Fatalf("%d calls report creating the admin", nCreated)
		}
		if c := e.count(t, "SELECT count(*) FROM users WHERE role = 'admin'"); c != 1 {
			t.Fatalf("%d admins", c)
		}
	})
}
