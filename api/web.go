package api

// The staff web UI: server-rendered pages over the same services as the JSON API.
// Pages are html/template files embedded from templates/, styled and enhanced by our
// own CSS and JS embedded from static/. Sessions live in an HttpOnly cookie; every
// POST form carries a CSRF token (the session's, or a double-submit cookie before
// sign-in). Pages speak Spanish (es-VE) unless the user asks for English.

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	_ "time/tzdata" // centres' time zones load on machines without zoneinfo

	"centros/models"

	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Template names: one file per page under templates/, each defining "content" for
// the layout.
const (
	tplLogin      = "login.html"
	tplLookup     = "lookup.html"
	tplTicket     = "ticket.html"
	tplTickets    = "tickets.html"
	tplCentres    = "centres.html"
	tplCentreForm = "centre_form.html"
	tplUsers      = "users.html"
	tplUserForm   = "user_form.html"
	tplError      = "error.html"
	tplLayout     = "layout.html"
	tplRepair     = "repair.html"
	tplVerify     = "verify.html"

	tplStock          = "stock.html"
	tplUnit           = "unit.html"
	tplUnitsRegister  = "units_register.html"
	tplReturns        = "returns.html"
	tplReturn         = "return.html"
	tplRestock        = "restock.html"
	tplRestockRequest = "restock_request.html"
	tplWarehouse      = "warehouse.html"
)

var pageTemplates = []string{tplLogin, tplLookup, tplTicket, tplTickets, tplCentres, tplCentreForm, tplUsers, tplUserForm, tplError,
	tplAgenda, tplSlots, tplApptCancel, tplCheckIn, tplTicketScan, tplDeliveries, tplRepair, tplVerify,
	tplStock, tplUnit, tplUnitsRegister, tplReturns, tplReturn, tplRestock, tplRestockRequest, tplWarehouse}

// Cookie and form field names of the web UI.
const (
	cookieSession   = "centros_session"
	cookieLoginCSRF = "centros_login_csrf"
	cookieFlash     = "centros_flash"
	cookieLang      = "lang"
	fieldCSRF       = "csrf_token"
	ctxLang         = "web_lang"
)

// contentSecurityPolicy lets pages load only our own files: scripts must be files
// under /static/, never inline.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webAssets are the parsed templates and the fingerprint of the static files, built once
// per server from files embedded in the binary and read-only after.
type webAssets struct {
	pages   map[string]*template.Template
	version string
}

func newWebAssets() *webAssets {
	a := &webAssets{pages: map[string]*template.Template{}}
	for _, name := range pageTemplates {
		a.pages[name] = template.Must(template.New(name).Funcs(webFuncs).ParseFS(templateFS, "templates/"+tplLayout, "templates/"+name))
	}
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		panic(err)
	}
	a.version = hex.EncodeToString(h.Sum(nil))[:12]
	return a
}

// webFuncs build the arguments of the form partials of layout.html.
var webFuncs = template.FuncMap{
	// field describes an input or textarea; kind is the input type, or the rows of
	// a textarea.
	"field": func(d *pageData, name, labelKey, kind, hintKey string) fieldArgs {
		a := d.fieldArgs(name, labelKey, hintKey)
		a.Type, a.Rows = kind, kind
		if kind == "password" {
			a.Autocomplete, a.Value = "new-password", ""
		}
		return a
	},
	// scanlist describes a list of IMEIs filled by scanning: the partial "scan-list".
	"scanlist": func(d *pageData, name, labelKey, hintKey string) scanListArgs {
		return d.scanListArgs(name, labelKey, hintKey)
	},
	// rows are the rows of a list partial ("return-table", "restock-table") with the
	// page they are on and what to say when there are none.
	"rows": func(d *pageData, rows any, emptyKey string) rowsArgs {
		return rowsArgs{P: d, Rows: rows, Empty: d.T(emptyKey)}
	},
	// choice describes a select.
	"choice": func(d *pageData, name, labelKey string, options []option, emptyKey, hintKey string) fieldArgs {
		a := d.fieldArgs(name, labelKey, hintKey)
		a.Options, a.Empty = options, d.T(emptyKey)
		return a
	},
}

// rowsArgs is what the list partials need: the page, its rows and the words for none.
type rowsArgs struct {
	P     *pageData
	Rows  any
	Empty string
}

// fieldArgs is what the partials "input", "textarea" and "select" need of a field.
type fieldArgs struct {
	Name, Label, Type, Rows, Value   string
	Error, Hint, Autocomplete, Empty string
	Autofocus, Required              bool
	Options                          []option
}

func (d *pageData) fieldArgs(name, labelKey, hintKey string) fieldArgs {
	a := fieldArgs{Name: name, Label: d.T(labelKey), Value: d.Val(name), Error: d.Err(name)}
	if hintKey != "" {
		a.Hint = d.T(hintKey)
	}
	a.Autofocus = d.focusField() == name
	return a
}

// focusField is where the cursor starts: the first field with an error, else the
// page's chosen field, else the form's first.
func (d *pageData) focusField() string {
	if f := d.FirstError(); f != "" {
		return f
	}
	if d.Focus != "" {
		return d.Focus
	}
	if d.Form != nil && len(d.Form.order) > 0 {
		return d.Form.order[0]
	}
	return ""
}

// webRoutes maps the pages of the web UI.
func (s *Server) webRoutes(r *gin.Engine) {
	s.web = newWebAssets()
	r.GET("/static/*filepath", s.webStatic)

	ui := r.Group("", s.webHeaders, s.webRecover, s.webLang, s.webSession)
	ui.GET("/login", s.webLoginForm)
	ui.POST("/login", s.webLogin)
	// Public: whoever holds a certificate checks it here, signed in or not.
	ui.GET("/verify/:code", s.webVerify)

	staff := ui.Group("", s.webRequireUser, s.webCSRF)
	staff.POST("/logout", s.webLogout)
	staff.GET("/", s.webLookup)
	staff.GET("/tickets", s.webTickets)
	staff.GET("/tickets/:number", s.webTicket)
	s.webAppointmentRoutes(staff)
	s.webRepairRoutes(staff)
	s.webInventoryRoutes(staff)

	admin := staff.Group("/admin", s.webRequireAdmin)
	admin.GET("/centres", s.webCentres)
	admin.GET("/centres/new", s.webCentreNew)
	admin.POST("/centres/new", s.webCentreCreate)
	admin.GET("/centres/:code", s.webCentreEdit)
	admin.POST("/centres/:code", s.webCentreUpdate)
	admin.GET("/users", s.webUsers)
	admin.GET("/users/new", s.webUserNew)
	admin.POST("/users/new", s.webUserCreate)
	admin.GET("/users/:id", s.webUserEdit)
	admin.POST("/users/:id", s.webUserUpdate)
	admin.POST("/users/:id/disable", s.webUserDisable)
	s.webDeliveryRoutes(admin)
}

// webNotFound answers a GET for a page that does not exist.
func (s *Server) webNotFound(c *gin.Context) {
	s.webHeaders(c)
	c.Set(ctxLang, webLangOf(c))
	if p, ok := s.sessionPrincipal(c); ok {
		c.Set(ctxPrincipal, p)
	}
	s.renderError(c, http.StatusNotFound, tr(webLang(c), "err.page_not_found"))
}

// webStatic serves our CSS and JS. Pages link them with a fingerprint in the query,
// so they may be cached.
func (s *Server) webStatic(c *gin.Context) {
	name := strings.TrimPrefix(path.Clean(c.Param("filepath")), "/")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || name == "" {
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusNotFound, "not found")
		return
	}
	ctype := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, ctype, b)
}

// webHeaders sets the security headers of every page.
func (s *Server) webHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// webRecover renders a panic in a page handler as the error page: the user sees the
// request id, the log gets the stack.
func (s *Server) webRecover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.webError(c, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	c.Next()
}

// webLang picks the page language: ?lang= (remembered in a cookie), else the cookie,
// else Spanish.
func (s *Server) webLang(c *gin.Context) {
	if l := normLang(c.Query("lang")); l != "" {
		http.SetCookie(c.Writer, &http.Cookie{Name: cookieLang, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
		c.Set(ctxLang, l)
	} else {
		c.Set(ctxLang, webLangOf(c))
	}
	c.Next()
}

func webLangOf(c *gin.Context) string {
	if l := normLang(c.Query("lang")); l != "" {
		return l
	}
	if ck, err := c.Cookie(cookieLang); err == nil {
		if l := normLang(ck); l != "" {
			return l
		}
	}
	return defaultLang
}

func webLang(c *gin.Context) string {
	if l := c.GetString(ctxLang); l != "" {
		return l
	}
	return defaultLang
}

// sessionPrincipal resolves the session cookie. Only web sessions of people count:
// a bearer token or an API client's token in the cookie is no session.
func (s *Server) sessionPrincipal(c *gin.Context) (models.Principal, bool) {
	token, err := c.Cookie(cookieSession)
	if err != nil || token == "" {
		return models.Principal{}, false
	}
	p, err := s.auth.Authenticate(c.Request.Context(), token)
	if err != nil || p.UserID == "" || p.CSRFToken == "" {
		return models.Principal{}, false
	}
	return p, true
}

// webSession makes the signed-in user the request's principal, and drops a cookie
// that no longer names a live session.
func (s *Server) webSession(c *gin.Context) {
	if p, ok := s.sessionPrincipal(c); ok {
		c.Set(ctxPrincipal, p)
	} else if _, err := c.Cookie(cookieSession); err == nil {
		s.clearCookie(c, cookieSession, "/")
	}
	c.Next()
}

func webUser(c *gin.Context) (models.Principal, bool) {
	p, ok := c.Get(ctxPrincipal)
	pr, _ := p.(models.Principal)
	return pr, ok && pr.UserID != ""
}

// webRequireUser sends visitors without a session to the login page, coming back
// here afterwards.
func (s *Server) webRequireUser(c *gin.Context) {
	if _, ok := webUser(c); ok {
		c.Next()
		return
	}
	target := "/login"
	if c.Request.Method == http.MethodGet {
		if next := c.Request.URL.RequestURI(); next != "/" {
			target += "?next=" + url.QueryEscape(next)
		} else {
			target += "?next=%2F"
		}
	}
	c.Redirect(http.StatusSeeOther, target)
	c.Abort()
}

// webCSRF refuses a POST whose form does not carry the session's CSRF token.
func (s *Server) webCSRF(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	p, _ := webUser(c)
	if !s.parseForm(c) {
		return
	}
	if !tokensEqual(c.PostForm(fieldCSRF), p.CSRFToken) {
		s.renderError(c, http.StatusForbidden, tr(webLang(c), "err.csrf"))
		return
	}
	c.Next()
}

// webRequireAdmin keeps the admin screens to admins.
func (s *Server) webRequireAdmin(c *gin.Context) {
	if p, _ := webUser(c); p.Role != models.RoleAdmin {
		s.renderError(c, http.StatusForbidden, tr(webLang(c), "err.forbidden"))
		return
	}
	c.Next()
}

// parseForm reads a form body, rendering the error page when it cannot.
func (s *Server) parseForm(c *gin.Context) bool {
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(c, http.StatusRequestEntityTooLarge, tr(webLang(c), "err.too_large"))
		} else {
			s.renderError(c, http.StatusBadRequest, tr(webLang(c), "err.bad_form"))
		}
		return false
	}
	return true
}

// navItem is one entry of the navigation bar.
type navItem struct {
	Label   string
	URL     string
	Current bool
}

// pageData is what every page template gets: the layout's data, the form state and
// the page's own Data.
type pageData struct {
	Lang      string
	Title     string
	User      *userHeader
	Nav       []navItem
	CSRF      string
	Flash     string
	RequestID string
	AssetV    string
	SwitchURL string
	Form      *formState
	// Focus is the field the cursor starts in when no field has an error.
	Focus string
	Data  any
}

// userHeader is who is signed in, as the header shows them.
type userHeader struct {
	Name, Email, Role, Scope string
}

// T translates a catalogue key for the page's language.
func (d *pageData) T(key string, args ...any) string { return tr(d.Lang, key, args...) }

// HTMLLang is the value of <html lang>.
func (d *pageData) HTMLLang() string {
	if d.Lang == langES {
		return "es-VE"
	}
	return "en"
}

// Val is the submitted or stored value of a form field.
func (d *pageData) Val(field string) string {
	if d.Form == nil {
		return ""
	}
	return d.Form.Values[field]
}

// Err is the message beside a form field, if it has one.
func (d *pageData) Err(field string) string {
	if d.Form == nil {
		return ""
	}
	return d.Form.Errors[field]
}

// Sel reports whether a select field has value v.
func (d *pageData) Sel(field, v string) bool { return d.Val(field) == v }

// FirstError is the field to put the cursor in: the first one marked, in form order.
func (d *pageData) FirstError() string {
	if d.Form == nil {
		return ""
	}
	for _, f := range d.Form.order {
		if d.Form.Errors[f] != "" {
			return f
		}
	}
	return ""
}

// navFor lists the screens a role works with.
func navFor(lang string, p models.Principal, current string) []navItem {
	var items []navItem
	add := func(key, u string) {
		items = append(items, navItem{Label: tr(lang, key), URL: u, Current: u == current})
	}
	add("nav.lookup", "/")
	switch {
	case p.Role.AtCentre():
		add("nav.queue", "/tickets")
		add("nav.agenda", "/agenda")
		add("nav.stock", "/stock")
		add("nav.returns", "/returns")
		add("nav.restock", "/restock")
	case p.Role == models.RoleWarehouse:
		add("nav.warehouse", "/warehouse")
		add("nav.register", "/units/register")
		add("nav.stock", "/stock")
	case p.Role == models.RoleAdmin:
		add("nav.agenda", "/agenda")
		add("nav.stock", "/stock")
		add("nav.returns", "/returns")
		add("nav.restock", "/restock")
		add("nav.warehouse", "/warehouse")
		add("nav.register", "/units/register")
		add("nav.centres", "/admin/centres")
		add("nav.users", "/admin/users")
		add("nav.deliveries", "/admin/deliveries")
	}
	return items
}

// render writes page name with status, filling in the layout's data.
func (s *Server) render(c *gin.Context, status int, name string, d *pageData) {
	lang := webLang(c)
	d.Lang = lang
	d.RequestID = requestID(c)
	d.AssetV = s.web.version
	if p, ok := webUser(c); ok {
		scope := p.CentreCode
		if scope == "" {
			scope = p.WarehouseCode
		}
		d.User = &userHeader{Name: p.Name, Email: p.Email, Role: tr(lang, "role."+string(p.Role)), Scope: scope}
		d.CSRF = p.CSRFToken
		d.Nav = navFor(lang, p, navSection(c.Request.URL.Path))
	}
	if d.Flash == "" {
		d.Flash = s.takeFlash(c, lang)
	}
	other := langEN
	if lang == langEN {
		other = langES
	}
	u := *c.Request.URL
	q := u.Query()
	q.Set("lang", other)
	q.Del("cursor")
	u.RawQuery = q.Encode()
	d.SwitchURL = u.RequestURI()

	t := s.web.pages[name]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(c.Request.Context(), "render page", "err", err, "template", name, "request_id", requestID(c))
		c.Data(http.StatusInternalServerError, "text/html; charset=utf-8",
			[]byte("<!doctype html><title>500</title><p>"+template.HTMLEscapeString(tr(lang, "err.internal"))+
				"</p><p>"+template.HTMLEscapeString(requestID(c))+"</p>"))
		c.Abort()
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// navSection maps a path to the navigation entry it belongs to.
func navSection(p string) string {
	switch {
	case p == "/book" || p == "/check-in" || strings.HasPrefix(p, "/appointments/") ||
		strings.HasPrefix(p, "/tickets/") && (strings.HasSuffix(p, "/book") || strings.HasSuffix(p, "/check-in")):
		return "/agenda"
	case p == "/" || strings.HasPrefix(p, "/tickets/"):
		return "/"
	case strings.HasPrefix(p, "/admin/centres"):
		return "/admin/centres"
	case strings.HasPrefix(p, "/admin/users"):
		return "/admin/users"
	case p == "/units/register":
		return p
	case p == "/units" || strings.HasPrefix(p, "/units/"):
		return "/stock"
	case strings.HasPrefix(p, "/returns/"):
		return "/returns"
	case strings.HasPrefix(p, "/restock/"):
		return "/restock"
	}
	return p
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Message string
}

// renderError shows the error page with status and message, and stops the chain.
func (s *Server) renderError(c *gin.Context, status int, message string) {
	lang := webLang(c)
	s.render(c, status, tplError, &pageData{Title: tr(lang, fmt.Sprintf("err.title.%d", status)),
		Data: errorPage{Status: status, Message: message}})
	c.Abort()
}

// webError shows err to the user in words they can act on. Errors without a kind
// are bugs: logged with the request id, which is all the user sees of them.
func (s *Server) webError(c *gin.Context, err error) {
	lang := webLang(c)
	e, ok := models.AsError(err)
	if !ok {
		if ctxErr := c.Request.Context().Err(); ctxErr != nil {
			c.Abort()
			return
		}
		s.log.ErrorContext(c.Request.Context(), "internal error", "err", err, "request_id", requestID(c), "route", c.FullPath())
		s.renderError(c, http.StatusInternalServerError, tr(lang, "err.internal"))
		return
	}
	if e.Kind == models.KindUnauthenticated {
		s.clearCookie(c, cookieSession, "/")
		s.setFlash(c, "err.session_expired", "")
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	status := statusOf[e.Kind]
	if e.RetryAfter > 0 {
		c.Header("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	s.renderError(c, status, errorMessage(lang, e))
}

// errorMessage says what went wrong in lang; codes the catalogue knows are
// translated, others keep the service's words.
func errorMessage(lang string, e *models.Error) string {
	switch e.Code {
	case "forbidden":
		return tr(lang, "err.forbidden")
	case "not_found":
		return tr(lang, "err.not_found")
	case "version_conflict":
		return tr(lang, "err.version")
	case "cannot_demote_self":
		return tr(lang, "err.demote_self")
	case "concurrent_update":
		return tr(lang, "err.concurrent")
	case "body_too_large":
		return tr(lang, "err.too_large")
	case "validation_failed":
		if len(e.Fields) == 1 {
			return e.Fields[0].Field + ": " + fieldMessage(lang, e.Fields[0])
		}
		return tr(lang, "form.errors")
	}
	return e.Message
}
