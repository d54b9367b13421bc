package api_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"centros/services"
)

// webClient is a browser without JavaScript: a cookie jar that does not follow
// redirects by itself, so tests can see every step.
type webClient struct {
	t   *testing.T
	e   *testEnv
	jar http.CookieJar
	c   *http.Client
}

// webPage is one response of the web UI.
type webPage struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (e *testEnv) webClient() *webClient {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &webClient{t: e.t, e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) do(req *http.Request) webPage {
	w.t.Helper()
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return webPage{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Location: resp.Header.Get("Location")}
}

func (w *webClient) get(path string) webPage {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.e.HTTP.URL+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.do(req)
}

func (w *webClient) post(path string, form url.Values) webPage {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.e.HTTP.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.do(req)
}

// follow fetches where a redirect points.
func (w *webClient) follow(p webPage) webPage {
	w.t.Helper()
	if p.Status < 300 || p.Status > 399 || p.Location == "" {
		w.t.Fatalf("not a redirect: %d", p.Status)
	}
	return w.get(p.Location)
}

// submit posts a form the way the page at formPage would: with its CSRF token.
func (w *webClient) submit(formPage webPage, path string, form url.Values) webPage {
	w.t.Helper()
	form.Set("csrf_token", webCSRF(w.t, formPage))
	return w.post(path, form)
}

// login signs in through the login form and returns the first page after it.
func (w *webClient) login(email string) webPage {
	w.t.Helper()
	res := w.submit(w.get("/login"), "/login", url.Values{"email": {email}, "password": {services.DemoPassword}})
	if res.Status != http.StatusSeeOther || res.Location != "/" {
		w.t.Fatalf("login %s: %d %q %s", email, res.Status, res.Location, res.Body)
	}
	return w.follow(res)
}

func (w *webClient) cookie(name string) *http.Cookie {
	u, _ := url.Parse(w.e.HTTP.URL + "/")
	for _, c := range w.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var webCSRFPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func webCSRF(t *testing.T, p webPage) string {
	t.Helper()
	m := webCSRFPattern.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in page (%d): %s", p.Status, p.Body)
	}
	return m[1]
}

func wantPage(t *testing.T, p webPage, status int, texts ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d: %s", p.Status, status, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page lacks %q:\n%s", s, p.Body)
		}
	}
}

func wantNot(t *testing.T, p webPage, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(p.Body, s) {
			t.Errorf("page has %q but should not", s)
		}
	}
}

// ticketAt returns the number of a demo ticket of a centre.
func (e *testEnv) ticketAt(centre string) string {
	e.t.Helper()
	var n string
	err := e.DB.Raw(`SELECT t.ticket_number FROM tickets t JOIN centres c ON c.id = t.centre_id
		WHERE c.code = ? ORDER BY t.ticket_number LIMIT 1`, centre).Scan(&n).Error
	if err != nil || n == "" {
		e.t.Fatalf("no ticket at %s: %v", centre, err)
	}
	return n
}

func TestWebLoginRequired(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	for _, tc := range []struct{ path, next string }{
		{"/", "/"},
		{"/tickets?status=referred", "/tickets?status=referred"},
		{"/tickets/CSM-1", "/tickets/CSM-1"},
		{"/admin/users", "/admin/users"},
	} {
		res := w.get(tc.path)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("%s: %d, want 303", tc.path, res.Status)
		}
		u, err := url.Parse(res.Location)
		if err != nil || u.Path != "/login" || u.Query().Get("next") != tc.next {
			t.Fatalf("%s: redirected to %q", tc.path, res.Location)
		}
	}
	// After signing in, the user lands where they were going.
	page := w.get("/login?next=" + url.QueryEscape("/tickets?status=referred"))
	wantPage(t, page, http.StatusOK, `name="next" value="/tickets?status=referred"`, "autofocus")
	res := w.submit(page, "/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword},
		"next": {"/tickets?status=referred"}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets?status=referred" {
		t.Fatalf("login: %d %q", res.Status, res.Location)
	}
	// A POST without a session goes to the login page too.
	anon := e.webClient()
	if res := anon.post("/logout", url.Values{}); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Fatalf("anonymous POST: %d %q", res.Status, res.Location)
	}
}

func TestWebLoginNextStaysLocal(t *testing.T) {
	e := newTestEnv(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/login"} {
		w := e.webClient()
		page := w.get("/login?next=" + url.QueryEscape(next))
		res := w.submit(page, "/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword}, "next": {next}})
		if res.Status != http.StatusSeeOther || res.Location != "/" {
			t.Errorf("next %q: %d %q", next, res.Status, res.Location)
		}
	}
}

func TestWebLoginFailure(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	page := w.get("/login")
	wantPage(t, page, http.StatusOK, "Iniciar sesión", `id="email"`)
	res := w.submit(page, "/login", url.Values{"email": {emailCounter}, "password": {"not-the-password"}})
	wantPage(t, res, http.StatusUnauthorized, "Correo o contraseña incorrectos.", `value="taquilla@example.com"`)
	if w.cookie("centros_session") != nil {
		t.Fatal("a failed login set a session cookie")
	}
	// Empty fields are named.
	res = w.submit(res, "/login", url.Values{"email": {""}, "password": {""}})
	wantPage(t, res, http.StatusBadRequest, "es obligatorio")
	// Five failures for one email, then the sixth attempt is refused for a while.
	for i := 0; i < 4; i++ {
		res = w.submit(res, "/login", url.Values{"email": {emailCounter}, "password": {"wrong"}})
		wantPage(t, res, http.StatusUnauthorized)
	}
	res = w.submit(res, "/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword}})
	wantPage(t, res, http.StatusTooManyRequests, "Demasiados intentos fallidos", `value="taquilla@example.com"`)
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestWebCSRFRefused(t *testing.T) {
	e := newTestEnv(t)
	// The login form: no token, or a token that is not the cookie's.
	w := e.webClient()
	res := w.post("/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword}})
	wantPage(t, res, http.StatusForbidden, "El formulario caducó")
	w.get("/login")
	res = w.post("/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword}, "csrf_token": {"forged"}})
	wantPage(t, res, http.StatusForbidden)
	if w.cookie("centros_session") != nil {
		t.Fatal("a login without a valid CSRF token started a session")
	}

	// Signed in: a POST without the session's token changes nothing.
	admin := e.webClient()
	admin.login(emailAdmin)
	before := e.rowCounts()
	res = admin.post("/admin/users/new", url.Values{"email": {"x@example.com"}, "name": {"X"}, "password": {"long-enough-pw"}, "role": {"admin"}})
	wantPage(t, res, http.StatusForbidden)
	res = admin.post("/admin/users/new", url.Values{"email": {"x@example.com"}, "name": {"X"}, "password": {"long-enough-pw"},
		"role": {"admin"}, "csrf_token": {"cst_forged"}})
	wantPage(t, res, http.StatusForbidden)
	res = admin.post("/logout", url.Values{})
	wantPage(t, res, http.StatusForbidden)
	after := e.rowCounts()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d rows before, %d after", k, v, after[k])
		}
	}
	wantPage(t, admin.get("/admin/users"), http.StatusOK) // still signed in
}

func TestWebLogoutRevokesSession(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	home := w.login(emailCounter)
	wantPage(t, home, http.StatusOK, "Carmen Rodríguez", "CCS-01", "Bienvenido/a, Carmen Rodríguez.")
	session := w.cookie("centros_session")
	if session == nil {
		t.Fatal("no session cookie")
	}
	res := w.submit(home, "/logout", url.Values{})
	if res.Status != http.StatusSeeOther || res.Location != "/login" {
		t.Fatalf("logout: %d %q", res.Status, res.Location)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Sesión cerrada.")

	// The old cookie, replayed by someone who kept it, opens nothing.
	thief := e.webClient()
	u, _ := url.Parse(e.HTTP.URL + "/")
	thief.jar.SetCookies(u, []*http.Cookie{{Name: "centros_session", Value: session.Value, Path: "/"}})
	res = thief.get("/")
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Fatalf("old session cookie still works: %d %q", res.Status, res.Location)
	}
	if got := e.do(http.MethodGet, "/api/v1/me", session.Value, nil); got.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token as bearer: %d", got.Status)
	}
}

func TestWebSessionCookieIsHardened(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	res := w.submit(w.get("/login"), "/login", url.Values{"email": {emailCounter}, "password": {services.DemoPassword}})
	var found bool
	for _, line := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "centros_session=") {
			found = true
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(line, attr) {
					t.Errorf("session cookie lacks %s: %s", attr, line)
				}
			}
		}
	}
	if !found {
		t.Fatal("no session cookie set")
	}
	// A bearer token of the API in the cookie is no web session.
	other := e.webClient()
	u, _ := url.Parse(e.HTTP.URL + "/")
	other.jar.SetCookies(u, []*http.Cookie{{Name: "centros_session", Value: e.token(emailCounter), Path: "/"}})
	if res := other.get("/"); res.Status != http.StatusSeeOther {
		t.Fatalf("bearer token as session cookie: %d", res.Status)
	}
}

func TestWebSecurityHeaders(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	for _, p := range []webPage{w.get("/login"), w.login(emailCounter), w.get("/no-such-page")} {
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP: %q", csp)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("content type %q", p.Header.Get("Content-Type"))
		}
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(p.Body) || strings.Contains(p.Body, " onclick=") {
			t.Errorf("page has inline script")
		}
	}
	css := w.get("/static/app.css")
	if css.Status != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("app.css: %d %s", css.Status, css.Header.Get("Content-Type"))
	}
	if js := w.get("/static/app.js"); js.Status != http.StatusOK || !strings.Contains(js.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("app.js: %d %s", js.Status, js.Header.Get("Content-Type"))
	}
	if res := w.get("/static/../web.go"); res.Status != http.StatusNotFound {
		t.Fatalf("static escape: %d", res.Status)
	}
	wantPage(t, w.get("/no-such-page"), http.StatusNotFound, "La página que busca no existe.")
}

func TestWebNavFollowsRole(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range []struct {
		email    string
		has, not []string
	}{
		{emailCounter, []string{"Buscar ticket", `href="/tickets"`, "Taquilla", "CCS-01"}, []string{`href="/admin/users"`, `href="/admin/centres"`}},
		{emailTech, []string{"Buscar ticket", `href="/tickets"`, "Técnico"}, []string{`href="/admin/users"`}},
		{emailManager, []string{"Buscar ticket", `href="/tickets"`, "Gerente de centro"}, []string{`href="/admin/users"`}},
		{emailWarehouse, []string{"Buscar ticket", "Almacén", "ALM-CAP"}, []string{`href="/tickets"`, `href="/admin/users"`}},
		{emailAdmin, []string{"Buscar ticket", `href="/admin/centres"`, `href="/admin/users"`, "Administrador"}, []string{`href="/tickets"`}},
	} {
		t.Run(tc.email, func(t *testing.T) {
			w := e.webClient()
			home := w.login(tc.email)
			wantPage(t, home, http.StatusOK, tc.has...)
			wantNot(t, home, tc.not...)
			if tc.email != emailAdmin {
				wantPage(t, w.get("/admin/users"), http.StatusForbidden, "Su rol no permite hacer esto.")
			}
		})
	}
}

func TestWebLookup(t *testing.T) {
	e := newTestEnv(t)
	own, other := e.ticketAt("CCS-02"), e.ticketAt("CCS-01")
	w := e.webClient()
	home := w.login(emailCounter2)
	wantPage(t, home, http.StatusOK, `id="q"`, "autofocus")

	// Another centre's ticket is not there, as far as this user can tell.
	res := w.get("/?q=" + url.QueryEscape(other))
	wantPage(t, res, http.StatusNotFound, "No se encontró el ticket «"+other+"»", `value="`+other+`"`, "autofocus", `aria-invalid="true"`)
	wantNot(t, res, "Transportes", "IMEI")
	wantPage(t, w.get("/tickets/"+url.PathEscape(other)), http.StatusNotFound, "No se encontró el ticket")

	// Its own ticket: the lookup goes to the ticket's page.
	res = w.get("/?q=" + url.QueryEscape(" "+own+" "))
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+url.PathEscape(own) {
		t.Fatalf("lookup %s: %d %q", own, res.Status, res.Location)
	}
	page := w.follow(res)
	wantPage(t, page, http.StatusOK, own, `class="badge sla sla-`, `data-due="`, "(-04)", "America/Caracas", "CCS-02", "IMEI")
	if !regexp.MustCompile(`id="countdown"[^>]*>(quedan|vencido hace) \d`).MatchString(page.Body) {
		t.Errorf("no server-rendered countdown:\n%s", page.Body)
	}
}

func TestWebTicketNumberWithSlash(t *testing.T) {
	e := newTestEnv(t)
	number := "CSM/2026/000123"
	ref := map[string]any{
		"ticket_number": number, "reported_at": time.Now().Add(-21 * time.Hour).UTC().Format(time.RFC3339), "centre_code": "CCS-01",
		"customer": map[string]any{"account_number": "J-1", "company": "Barra & Compañía", "contact_name": "Ana", "contact_phone": "04141234567"},
		"line":     map[string]any{"msisdn": "04141234567"},
		"device":   map[string]any{"imei": "356938035643809", "brand": "Samsung", "model": "SM-A155M"},
		"fault":    map[string]any{"category": "screen", "description": "<script>alert(1)</script>"},
	}
	if res := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, ref); res.Status != http.StatusCreated {
		t.Fatalf("refer: %d %s", res.Status, res.Body)
	}
	w := e.webClient()
	w.login(emailCounter)
	res := w.get("/?q=" + url.QueryEscape(number))
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/CSM%2F2026%2F000123" {
		t.Fatalf("lookup: %d %q", res.Status, res.Location)
	}
	page := w.follow(res)
	wantPage(t, page, http.StatusOK, number, "Barra &amp; Compañía", "&lt;script&gt;", "sla-at_risk", "En riesgo")
	wantNot(t, page, "<script>alert")
}

func TestWebTicketListPaginates(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	w.login(emailCounter)
	rows := regexp.MustCompile(`<a href="(/tickets/[^"]+)" class="mono">`)
	seen := map[string]bool{}
	next := "/tickets?limit=4"
	pages := 0
	for next != "" {
		page := w.get(strings.ReplaceAll(next, "&amp;", "&"))
		wantPage(t, page, http.StatusOK, "Cola del centro CCS-01")
		for _, m := range rows.FindAllStringSubmatch(page.Body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		pages++
		n := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(page.Body)
		next = ""
		if n != nil {
			next = n[1]
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	// CCS-01 holds demo tickets i%4 in {0,1}: 10 of 20.
	if len(seen) != 10 || pages != 3 {
		t.Fatalf("%d tickets on %d pages, want 10 on 3", len(seen), pages)
	}
	late := w.get("/tickets?sla_state=late")
	wantPage(t, late, http.StatusOK, "sla-late")
	wantNot(t, late, "sla-on_time\"", "sla-at_risk\"")
	wantPage(t, w.get("/tickets?cursor=garbage"), http.StatusBadRequest)
}

func TestWebAdminCreatesUser(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	w.login(emailAdmin)
	form := w.get("/admin/users/new")
	wantPage(t, form, http.StatusOK, "Nuevo usuario", `name="email"`, "CCS-01")

	// Bad input: each message beside its field, the input kept, the password not.
	res := w.submit(form, "/admin/users/new", url.Values{"email": {"nueva@example.com"}, "name": {"Nueva Persona"},
		"password": {"short"}, "role": {"counter"}})
	wantPage(t, res, http.StatusBadRequest, "Revise los campos marcados.", `id="password-error"`, "debe tener al menos 10 caracteres",
		`value="nueva@example.com"`, `value="Nueva Persona"`)
	wantNot(t, res, `value="short"`)
	// A counter without its centre: the service's rule, beside the centre.
	res = w.submit(res, "/admin/users/new", url.Values{"email": {"nueva@example.com"}, "name": {"Nueva Persona"},
		"password": {"una-clave-larga"}, "role": {"counter"}})
	wantPage(t, res, http.StatusBadRequest, `id="centre_code-error"`, "un rol de centro necesita su centro")
	// An email that is taken.
	res = w.submit(res, "/admin/users/new", url.Values{"email": {emailCounter}, "name": {"Otra"},
		"password": {"una-clave-larga"}, "role": {"counter"}, "centre_code": {"CCS-01"}})
	wantPage(t, res, http.StatusConflict, `id="email-error"`, "ya existe un usuario con este correo")

	res = w.submit(res, "/admin/users/new", url.Values{"email": {"nueva@example.com"}, "name": {"Nueva Persona"},
		"password": {"una-clave-larga"}, "role": {"counter"}, "centre_code": {"CCS-02"}})
	if res.Status != http.StatusSeeOther || res.Location != "/admin/users" {
		t.Fatalf("create: %d %q %s", res.Status, res.Location, res.Body)
	}
	list := w.follow(res)
	wantPage(t, list, http.StatusOK, "Usuario nueva@example.com creado.", "Nueva Persona", "CCS-02")

	// The new user can sign in and works at CCS-02.
	nw := e.webClient()
	page := nw.submit(nw.get("/login"), "/login", url.Values{"email": {"nueva@example.com"}, "password": {"una-clave-larga"}})
	wantPage(t, nw.follow(page), http.StatusOK, "Nueva Persona", "CCS-02")

	// Edit: rename keeps their session; disabling ends it.
	var id string
	if err := e.DB.Raw("SELECT id FROM users WHERE email = 'nueva@example.com'").Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	edit := w.get("/admin/users/" + id)
	wantPage(t, edit, http.StatusOK, `value="Nueva Persona"`, `name="version" value="1"`)
	res = w.submit(edit, "/admin/users/"+id, url.Values{"name": {"Nueva P. Renombrada"}, "role": {"counter"},
		"centre_code": {"CCS-02"}, "active": {"on"}, "version": {"1"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Nueva P. Renombrada")
	wantPage(t, nw.get("/"), http.StatusOK, "Nueva P. Renombrada")
	// The same stale version again is a conflict.
	res = w.submit(edit, "/admin/users/"+id, url.Values{"name": {"Otro nombre"}, "role": {"counter"},
		"centre_code": {"CCS-02"}, "active": {"on"}, "version": {"1"}})
	wantPage(t, res, http.StatusConflict, "Otra persona modificó este registro", `value="Otro nombre"`)

	res = w.submit(w.get("/admin/users"), "/admin/users/"+id+"/disable", url.Values{})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", res.Status, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Usuario nueva@example.com desactivado")
	if res := nw.get("/"); res.Status != http.StatusSeeOther {
		t.Fatalf("disabled user's session still works: %d", res.Status)
	}
}

func TestWebAdminCentres(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	w.login(emailAdmin)
	wantPage(t, w.get("/admin/centres"), http.StatusOK, "CCS-01", "Centro de Instalación Chacao", "1-5 08:00-12:00 13:00-17:00")

	form := w.get("/admin/centres/new")
	wantPage(t, form, http.StatusOK, `name="opening_hours"`, "America/Caracas", "CAP")
	bad := url.Values{"code": {"val-01"}, "name": {"Centro Valencia"}, "address": {"Av. Bolívar Norte"}, "business_unit_code": {"CAP"},
		"time_zone": {"America/Caracas"}, "slot_minutes": {"treinta"}, "counters": {"2"},
		"opening_hours": {"1-5 08:00-12:00\nlunes 13:00-17:00\n8 09:00-10:00\n6 12:00-09:00"}, "closed_days": {"2026-12-24\n2026-13-01"},
		"min_backup_stock": {"SM-A155M: 3"}}
	res := w.submit(form, "/admin/centres/new", bad)
	wantPage(t, res, http.StatusBadRequest, `id="opening_hours-error"`, "línea 2", "línea 3: el día va de 1 (lunes) a 7 (domingo)",
		`id="slot_minutes-error"`, "debe ser un número entero", `id="closed_days-error"`, "línea 2: debe ser una fecha",
		"Centro Valencia", "lunes 13:00-17:00", `value="VAL-01"`)
	good := url.Values{}
	for k, v := range bad {
		good[k] = v
	}
	good.Set("slot_minutes", "30")
	good.Set("opening_hours", "1-5 08:00-12:00\n6 12:00-09:00")
	good.Set("closed_days", "2026-12-24")
	res = w.submit(res, "/admin/centres/new", good)
	wantPage(t, res, http.StatusBadRequest, "línea 2: el cierre debe ser posterior a la apertura")
	good.Set("opening_hours", "1-5 08:00-12:00 13:00-17:00\n6 8:00-12:00")
	res = w.submit(res, "/admin/centres/new", good)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create centre: %d %s", res.Status, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Centro VAL-01 creado.", "Centro Valencia", "6 08:00-12:00")
	res = w.submit(form, "/admin/centres/new", good)
	wantPage(t, res, http.StatusConflict, `id="code-error"`, "ya existe un registro con este código")

	// Edit with the version read; then the same stale version is refused, input kept.
	edit := w.get("/admin/centres/VAL-01")
	wantPage(t, edit, http.StatusOK, `name="version" value="1"`, "1-5 08:00-12:00 13:00-17:00", "SM-A155M: 3", "2026-12-24")
	fields := url.Values{"name": {"Centro Valencia Norte"}, "address": {"Av. Bolívar Norte"}, "time_zone": {"America/Caracas"},
		"slot_minutes": {"20"}, "counters": {"3"}, "opening_hours": {"1-5 08:00-16:00"}, "closed_days": {""},
		"min_backup_stock": {""}, "version": {"1"}}
	res = w.submit(edit, "/admin/centres/VAL-01", fields)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("edit centre: %d %s", res.Status, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Centro VAL-01 actualizado.", "Centro Valencia Norte", "1-5 08:00-16:00", "20 min × 3")
	fields.Set("name", "Nombre viejo")
	res = w.submit(edit, "/admin/centres/VAL-01", fields)
	wantPage(t, res, http.StatusConflict, "Otra persona modificó este registro", `value="Nombre viejo"`)
	wantPage(t, w.get("/admin/centres/NOPE-99"), http.StatusNotFound)
}

func TestWebLanguageSwitch(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	es := w.get("/login")
	wantPage(t, es, http.StatusOK, `<html lang="es-VE">`, "Iniciar sesión", `href="/login?lang=en"`)
	en := w.get("/login?lang=en")
	wantPage(t, en, http.StatusOK, `<html lang="en">`, "Sign in", "Email", `href="/login?lang=es"`)
	if c := w.cookie("lang"); c == nil || c.Value != "en" {
		t.Fatalf("lang cookie: %v", c)
	}
	// The choice sticks: signing in and looking a ticket up speak English.
	res := w.submit(w.get("/login"), "/login", url.Values{"email": {emailCounter}, "password": {"wrong"}})
	wantPage(t, res, http.StatusUnauthorized, "Wrong email or password.")
	home := w.login(emailCounter)
	wantPage(t, home, http.StatusOK, "Find a ticket", "Ticket number", "Welcome, Carmen Rodríguez.", "Sign out", "Counter")
	number := e.ticketAt("CCS-01")
	page := w.follow(w.get("/?q=" + url.QueryEscape(number)))
	wantPage(t, page, http.StatusOK, "SLA deadline", "Reported fault")
	if !regexp.MustCompile(`id="countdown"[^>]*>(\d+ (d|h|min).* left|overdue by \d)`).MatchString(page.Body) {
		t.Errorf("English countdown missing")
	}
	wantPage(t, w.get("/?q=NOPE-1"), http.StatusNotFound, "Ticket “NOPE-1” was not found")
	back := w.get("/?lang=es")
	wantPage(t, back, http.StatusOK, "Buscar ticket", "Número de ticket")
}

func TestWebErrorPageHidesInternals(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	w.login(emailCounter)
	// Break the database under the page: the user gets the request id, not the error.
	sqlDB, err := e.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Exec("ALTER TABLE tickets RENAME TO tickets_gone").Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = sqlDB.Exec("ALTER TABLE tickets_gone RENAME TO tickets") })
	res := w.get("/?q=CSM-1")
	wantPage(t, res, http.StatusInternalServerError, "Error interno", "Identificador de la solicitud", res.Header.Get("X-Request-ID"))
	wantNot(t, res, "tickets_gone", "relation", "SQLSTATE")
}

func TestWebFormsRefuseNUL(t *testing.T) {
	e := newTestEnv(t)
	w := e.webClient()
	res := w.submit(w.get("/login"), "/login", url.Values{"email": {"a\x00@example.com"}, "password": {"x"}})
	wantPage(t, res, http.StatusBadRequest, "Correo o contraseña incorrectos.")
	w.login(emailAdmin)
	res = w.submit(w.get("/admin/users/new"), "/admin/users/new", url.Values{"email": {"nul@example.com"}, "name": {"A\x00B"},
		"password": {"una-clave-larga"}, "role": {"counter"}, "centre_code": {"CCS-01"}})
	wantPage(t, res, http.StatusBadRequest, `id="name-error"`, "tiene caracteres no permitidos", `value="AB"`)
	res = w.submit(w.get("/admin/centres/CCS-01"), "/admin/centres/CCS-01", url.Values{"name": {"X\xff"}, "version": {"1"}})
	wantPage(t, res, http.StatusBadRequest, `id="name-error"`, "tiene caracteres no permitidos")
	wantPage(t, w.get("/admin/centres/%00"), http.StatusNotFound)
	wantPage(t, w.get("/tickets/%00"), http.StatusNotFound)
	wantPage(t, w.get("/?q=%00"), http.StatusNotFound)
}
