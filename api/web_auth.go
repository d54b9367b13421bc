package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// loginPage is the data of the login page.
type loginPage struct {
	Next string
}

var loginTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// webLoginForm shows the login form. Before a session exists, the form is protected
// by a double-submit cookie: a random token both in an HttpOnly cookie and in the
// form, which a cross-site page can neither read nor set.
func (s *Server) webLoginForm(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if _, ok := webUser(c); ok {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	s.renderLogin(c, http.StatusOK, newForm("email", "password"), next)
}

func (s *Server) renderLogin(c *gin.Context, status int, f *formState, next string) {
	token, err := c.Cookie(cookieLoginCSRF)
	if err != nil || !loginTokenPattern.MatchString(token) {
		token = randomToken()
		http.SetCookie(c.Writer, &http.Cookie{Name: cookieLoginCSRF, Value: token, Path: "/login", MaxAge: 2 * 3600,
			HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	}
	d := &pageData{Title: tr(webLang(c), "login.title"), CSRF: token, Form: f, Data: loginPage{Next: next}}
	s.render(c, status, tplLogin, d)
}

// webLogin signs a member of staff in and starts a cookie session.
func (s *Server) webLogin(c *gin.Context) {
	lang := webLang(c)
	if !s.parseForm(c) {
		return
	}
	cookie, _ := c.Cookie(cookieLoginCSRF)
	if !tokensEqual(c.PostForm(fieldCSRF), cookie) {
		s.renderError(c, http.StatusForbidden, tr(lang, "err.csrf"))
		return
	}
	next := safeNext(c.PostForm("next"))
	in := loginRequest{Email: strings.TrimSpace(c.PostForm("email")), Password: c.PostForm("password")}
	f := newForm("email", "password")
	f.Values["email"] = in.Email
	if !plainText(in.Email) || !plainText(in.Password) {
		f.Values["email"] = ""
		f.Message = tr(lang, "login.failed")
		s.renderLogin(c, http.StatusBadRequest, f, next)
		return
	}
	if err := s.validate(&in); err != nil {
		f.addError(lang, err, nil)
		s.renderLogin(c, http.StatusBadRequest, f, next)
		return
	}
	res, err := s.auth.Login(c.Request.Context(), in.Email, in.Password, c.ClientIP(), services.TokenSession)
	if err != nil {
		e, ok := models.AsError(err)
		switch {
		case ok && e.Code == "invalid_credentials":
			f.Message = tr(lang, "login.failed")
			s.renderLogin(c, http.StatusUnauthorized, f, next)
		case ok && e.Kind == models.KindTooManyRequests:
			c.Header("Retry-After", fmt.Sprint(e.RetryAfter))
			f.Message = tr(lang, "login.ratelimited", (e.RetryAfter+59)/60)
			s.renderLogin(c, http.StatusTooManyRequests, f, next)
		default:
			s.webError(c, err)
		}
		return
	}
	maxAge := int(time.Until(res.ExpiresAt).Seconds())
	http.SetCookie(c.Writer, &http.Cookie{Name: cookieSession, Value: res.Token, Path: "/", MaxAge: maxAge, Expires: res.ExpiresAt,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	s.clearCookie(c, cookieLoginCSRF, "/login")
	s.setFlash(c, "flash.welcome", res.User.Name)
	c.Redirect(http.StatusSeeOther, next)
}

// webLogout revokes the session and forgets its cookie.
func (s *Server) webLogout(c *gin.Context) {
	p, _ := webUser(c)
	if err := s.auth.Logout(c.Request.Context(), p); err != nil {
		s.webError(c, err)
		return
	}
	s.clearCookie(c, cookieSession, "/")
	s.setFlash(c, "flash.loggedout", "")
	c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext returns raw when it is a path on this site to go back to after signing
// in, else "/": never another host, whatever the spelling.
func safeNext(raw string) string {
	if raw == "" || len(raw) > 2000 || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") ||
		strings.ContainsAny(raw, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return "/"
	}
	return raw
}

// tokensEqual compares a submitted token with the expected one in constant time; an
// empty token never matches.
func tokensEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) clearCookie(c *gin.Context, name, path string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// setFlash leaves a message for the next page: a catalogue key and its argument,
// so that it shows in the language of that page.
func (s *Server) setFlash(c *gin.Context, key, arg string) {
	v := base64.RawURLEncoding.EncodeToString([]byte(key + "\n" + arg))
	http.SetCookie(c.Writer, &http.Cookie{Name: cookieFlash, Value: v, Path: "/", MaxAge: 300,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the pending flash message, in lang, and clears it.
func (s *Server) takeFlash(c *gin.Context, lang string) string {
	v, err := c.Cookie(cookieFlash)
	if err != nil || v == "" {
		return ""
	}
	s.clearCookie(c, cookieFlash, "/")
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	key, arg, _ := strings.Cut(string(b), "\n")
	if !hasMessage(key) || len(arg) > 300 {
		return ""
	}
	if strings.Contains(messages[defaultLang][key], "%") {
		return tr(lang, key, arg)
	}
	return tr(lang, key)
}

// formState is a form as the user filled it in, with the messages for its fields.
type formState struct {
	Values map[string]string
	Errors map[string]string
	// Message is said above the form, for what belongs to no one field.
	Message string
	order   []string
	// parsed marks fields whose text did not read; the validator's view of what
	// came out of them would only repeat the point.
	parsed map[string]bool
}

// newForm returns an empty form with these fields, in the order they appear.
func newForm(fields ...string) *formState {
	return &formState{Values: map[string]string{}, Errors: map[string]string{}, order: fields, parsed: map[string]bool{}}
}

// parseError marks a field whose text could not be read.
func (f *formState) parseError(field, msg string) {
	f.parsed[field] = true
	f.fieldError(field, msg)
}

func (f *formState) has(field string) bool {
	for _, o := range f.order {
		if o == field {
			return true
		}
	}
	return false
}

// fieldError adds a message beside field.
func (f *formState) fieldError(field, msg string) {
	if prev := strings.TrimSpace(f.Errors[field]); prev != "" {
		msg = prev + "; " + msg
	}
	f.Errors[field] = msg
}

// addError puts err's field messages beside their fields. A field of a list that the
// form shows as lines of a textarea (opening_hours[2].closes) is named by its line,
// as lines[field][index] tells.
func (f *formState) addError(lang string, err error, lines map[string][]int) {
	e, ok := models.AsError(err)
	if !ok {
		return
	}
	if len(e.Fields) == 0 {
		f.addMessage(errorMessage(lang, e))
		return
	}
	var other []string
	for _, fe := range e.Fields {
		name, idx := splitFieldPath(fe.Field)
		msg := fieldMessage(lang, fe)
		if idx >= 0 {
			if ls, ok := lines[name]; ok && idx < len(ls) {
				msg = tr(lang, "parse.line", ls[idx], msg)
			}
		}
		if f.parsed[name] {
			continue
		}
		if f.has(name) {
			f.fieldError(name, msg)
			continue
		}
		other = append(other, fe.Field+": "+msg)
	}
	f.addMessage(tr(lang, "form.errors"))
	for _, m := range other {
		f.addMessage(m)
	}
}

func (f *formState) addMessage(msg string) {
	if strings.Contains(f.Message, msg) {
		return
	}
	if f.Message == "" {
		f.Message = msg
		return
	}
	f.Message += " " + msg
}

// splitFieldPath turns "opening_hours[2].closes" into "opening_hours" and 2, and
// "email" into "email" and -1.
func splitFieldPath(field string) (string, int) {
	name := field
	if i := strings.IndexAny(name, "[."); i >= 0 {
		name = name[:i]
	}
	idx := -1
	if open := strings.IndexByte(field, '['); open >= 0 {
		if end := strings.IndexByte(field[open:], ']'); end > 0 {
			n := 0
			for _, ch := range field[open+1 : open+end] {
				if ch < '0' || ch > '9' {
					return name, -1
				}
				n = n*10 + int(ch-'0')
			}
			idx = n
		}
	}
	return name, idx
}
