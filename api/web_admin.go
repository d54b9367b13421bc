package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"centros/models"

	"github.com/gin-gonic/gin"
)

// The admin screens: centres and users, over the same service methods as the JSON
// admin API. Forms post back to their own address; a failed form is shown again
// with what the user typed and the messages beside the fields.

// centreFields are the fields of the centre form, in the order they appear.
var centreFields = []string{"code", "name", "address", "business_unit_code", "time_zone", "slot_minutes", "counters",
	"opening_hours", "closed_days", "min_backup_stock"}

// userFields are the fields of the user form, in the order they appear.
var userFields = []string{"email", "name", "password", "role", "centre_code", "warehouse_code", "active"}

// centreRow is a centre in the list.
type centreRow struct {
	Code, Name, BusinessUnit, TimeZone string
	SlotMinutes, Counters              int
	Hours                              []string
	EditURL                            string
}

func centrePath(code string) string { return "/admin/centres/" + url.PathEscape(code) }
func userPath(id string) string     { return "/admin/users/" + url.PathEscape(id) }

// webCentres lists the centres.
func (s *Server) webCentres(c *gin.Context) {
	centres, err := s.admin.ListCentres(c.Request.Context(), principal(c))
	if err != nil {
		s.webError(c, err)
		return
	}
	rows := make([]centreRow, 0, len(centres))
	for _, ce := range centres {
		rows = append(rows, centreRow{Code: ce.Code, Name: ce.Name, BusinessUnit: ce.BusinessUnitCode, TimeZone: ce.TimeZone,
			SlotMinutes: ce.SlotMinutes, Counters: ce.Counters, Hours: formatHours(ce.OpeningHours), EditURL: centrePath(ce.Code)})
	}
	s.render(c, http.StatusOK, tplCentres, &pageData{Title: tr(webLang(c), "centres.title"), Data: rows})
}

// centreFormPage is the data of the centre form.
type centreFormPage struct {
	New           bool
	Code          string
	BusinessUnit  string
	Action        string
	Version       string
	BusinessUnits []option
}

func (s *Server) renderCentreForm(c *gin.Context, status int, f *formState, d centreFormPage) {
	lang := webLang(c)
	title := tr(lang, "centres.new")
	if d.New {
		d.Action = "/admin/centres/new"
		units, err := s.admin.ListBusinessUnits(c.Request.Context(), principal(c))
		if err != nil {
			s.webError(c, err)
			return
		}
		for _, u := range units {
			d.BusinessUnits = append(d.BusinessUnits, option{u.Code, u.Code + " · " + u.Name})
		}
	} else {
		d.Action = centrePath(d.Code)
		title = tr(lang, "centres.edit", d.Code)
	}
	focus := ""
	if !d.New {
		focus = "name"
	}
	s.render(c, status, tplCentreForm, &pageData{Title: title, Form: f, Focus: focus, Data: d})
}

// webCentreNew shows an empty centre form with sensible defaults.
func (s *Server) webCentreNew(c *gin.Context) {
	f := newForm(centreFields...)
	f.Values["time_zone"] = models.DefaultTimeZone
	f.Values["slot_minutes"] = "30"
	f.Values["counters"] = "2"
	f.Values["opening_hours"] = "1-5 08:00-12:00\n1-5 13:00-17:00"
	s.renderCentreForm(c, http.StatusOK, f, centreFormPage{New: true})
}

// webCentreCreate creates a centre from the form.
func (s *Server) webCentreCreate(c *gin.Context) {
	lang := webLang(c)
	f := readForm(c, centreFields)
	cal := parseCalendar(lang, f)
	in := models.CentreInput{Code: strings.ToUpper(f.Values["code"]), Name: f.Values["name"], Address: f.Values["address"],
		BusinessUnitCode: f.Values["business_unit_code"], TimeZone: f.Values["time_zone"],
		SlotMinutes: formInt(lang, f, "slot_minutes"), Counters: formInt(lang, f, "counters"),
		OpeningHours: cal.hours, ClosedDays: cal.closed, MinBackupStock: cal.stock}
	f.Values["code"] = in.Code
	if err := s.validate(&in); err != nil {
		f.addError(lang, err, cal.lines)
	}
	page := centreFormPage{New: true}
	if len(f.Errors) > 0 {
		f.addMessage(tr(lang, "form.errors"))
		s.renderCentreForm(c, http.StatusBadRequest, f, page)
		return
	}
	centre, err := s.admin.CreateCentre(c.Request.Context(), principal(c), in)
	if err != nil {
		if status, ok := s.formFailed(c, f, err, cal.lines, "code"); ok {
			s.renderCentreForm(c, status, f, page)
		}
		return
	}
	s.setFlash(c, "flash.centre_created", centre.Code)
	c.Redirect(http.StatusSeeOther, "/admin/centres")
}

// webCentreEdit shows a centre in its form, with the version it was read at.
func (s *Server) webCentreEdit(c *gin.Context) {
	if !models.ValidCode(c.Param("code")) {
		s.webError(c, models.NotFound("centre"))
		return
	}
	centre, err := s.admin.GetCentre(c.Request.Context(), principal(c), c.Param("code"))
	if err != nil {
		s.webError(c, err)
		return
	}
	f := newForm(centreFields...)
	f.Values["name"] = centre.Name
	f.Values["address"] = centre.Address
	f.Values["time_zone"] = centre.TimeZone
	f.Values["slot_minutes"] = strconv.Itoa(centre.SlotMinutes)
	f.Values["counters"] = strconv.Itoa(centre.Counters)
	f.Values["opening_hours"] = strings.Join(formatHours(centre.OpeningHours), "\n")
	f.Values["closed_days"] = strings.Join(centre.ClosedDays, "\n")
	var stock []string
	for _, m := range centre.MinBackupStock {
		stock = append(stock, fmt.Sprintf("%s: %d", m.Model, m.Quantity))
	}
	f.Values["min_backup_stock"] = strings.Join(stock, "\n")
	s.renderCentreForm(c, http.StatusOK, f, centreFormPage{Code: centre.Code, BusinessUnit: centre.BusinessUnitCode,
		Version: strconv.Itoa(centre.Version)})
}

// webCentreUpdate saves the centre form; a version someone else has changed since is
// refused with the conflict message and the user's input kept.
func (s *Server) webCentreUpdate(c *gin.Context) {
	lang := webLang(c)
	code := c.Param("code")
	if !models.ValidCode(code) {
		s.webError(c, models.NotFound("centre"))
		return
	}
	current, err := s.admin.GetCentre(c.Request.Context(), principal(c), code)
	if err != nil {
		s.webError(c, err)
		return
	}
	f := readForm(c, centreFields)
	cal := parseCalendar(lang, f)
	page := centreFormPage{Code: current.Code, BusinessUnit: current.BusinessUnitCode, Version: c.PostForm("version")}
	name, address, zone := f.Values["name"], f.Values["address"], f.Values["time_zone"]
	slot, counters := formInt(lang, f, "slot_minutes"), formInt(lang, f, "counters")
	in := models.CentreUpdate{Name: &name, Address: &address, TimeZone: &zone, SlotMinutes: &slot, Counters: &counters,
		OpeningHours: &cal.hours, ClosedDays: &cal.closed, MinBackupStock: &cal.stock}
	if cal.closed == nil {
		in.ClosedDays = &[]string{}
	}
	if cal.stock == nil {
		in.MinBackupStock = &[]models.MinStockInput{}
	}
	if v, err := strconv.Atoi(page.Version); err == nil {
		in.Version = &v
	}
	for _, field := range []string{"name", "time_zone", "slot_minutes", "counters", "opening_hours"} {
		if f.Values[field] == "" {
			f.parseError(field, fieldMessage(lang, models.FieldError{Field: field, Rule: "required", Message: "is required"}))
		}
	}
	if err := s.validate(&in); err != nil {
		f.addError(lang, err, cal.lines)
	}
	if len(f.Errors) > 0 || in.Version == nil {
		formRefused(lang, f, in.Version == nil)
		s.renderCentreForm(c, http.StatusBadRequest, f, page)
		return
	}
	centre, err := s.admin.UpdateCentre(c.Request.Context(), principal(c), code, in)
	if err != nil {
		if status, ok := s.formFailed(c, f, err, cal.lines, "code"); ok {
			s.renderCentreForm(c, status, f, page)
		}
		return
	}
	s.setFlash(c, "flash.centre_updated", centre.Code)
	c.Redirect(http.StatusSeeOther, "/admin/centres")
}

// userRow is a member of staff in the list.
type userRow struct {
	ID, Email, Name, Role, Scope string
	Active, Self                 bool
	EditURL, DisableURL          string
}

// webUsers lists the staff.
func (s *Server) webUsers(c *gin.Context) {
	lang := webLang(c)
	p := principal(c)
	users, err := s.admin.ListUsers(c.Request.Context(), p)
	if err != nil {
		s.webError(c, err)
		return
	}
	rows := make([]userRow, 0, len(users))
	for _, u := range users {
		scope := u.CentreCode
		if scope == "" {
			scope = u.WarehouseCode
		}
		rows = append(rows, userRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: tr(lang, "role."+string(u.Role)), Scope: scope,
			Active: u.Active, Self: u.ID == p.UserID, EditURL: userPath(u.ID), DisableURL: userPath(u.ID) + "/disable"})
	}
	s.render(c, http.StatusOK, tplUsers, &pageData{Title: tr(lang, "users.title"), Data: rows})
}

// userFormPage is the data of the user form.
type userFormPage struct {
	New                        bool
	ID, Email, Version         string
	Action, DisableURL         string
	Self, Active               bool
	Roles, Centres, Warehouses []option
}

func (s *Server) renderUserForm(c *gin.Context, status int, f *formState, d userFormPage) {
	lang := webLang(c)
	ctx, p := c.Request.Context(), principal(c)
	centres, err := s.admin.ListCentres(ctx, p)
	if err != nil {
		s.webError(c, err)
		return
	}
	warehouses, err := s.admin.ListWarehouses(ctx, p)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, r := range models.StaffRoles {
		d.Roles = append(d.Roles, option{string(r), tr(lang, "role."+string(r))})
	}
	for _, ce := range centres {
		d.Centres = append(d.Centres, option{ce.Code, ce.Code + " · " + ce.Name})
	}
	for _, w := range warehouses {
		d.Warehouses = append(d.Warehouses, option{w.Code, w.Code + " · " + w.Name})
	}
	title := tr(lang, "users.new")
	if d.New {
		d.Action = "/admin/users/new"
	} else {
		d.Action = userPath(d.ID)
		d.DisableURL = userPath(d.ID) + "/disable"
		title = tr(lang, "users.edit", d.Email)
	}
	focus := ""
	if !d.New {
		focus = "name"
	}
	s.render(c, status, tplUserForm, &pageData{Title: title, Form: f, Focus: focus, Data: d})
}

// webUserNew shows an empty user form.
func (s *Server) webUserNew(c *gin.Context) {
	s.renderUserForm(c, http.StatusOK, newForm(userFields...), userFormPage{New: true})
}

// webUserCreate creates a member of staff from the form.
func (s *Server) webUserCreate(c *gin.Context) {
	lang := webLang(c)
	f := readForm(c, userFields)
	in := models.UserInput{Email: f.Values["email"], Name: f.Values["name"], Password: c.PostForm("password"),
		Role: models.Role(f.Values["role"]), CentreCode: f.Values["centre_code"], WarehouseCode: f.Values["warehouse_code"]}
	f.Values["password"] = "" // a password is never sent back
	page := userFormPage{New: true}
	if err := s.validate(&in); err != nil {
		f.addError(lang, err, nil)
	}
	if len(f.Errors) > 0 {
		f.addMessage(tr(lang, "form.errors"))
		s.renderUserForm(c, http.StatusBadRequest, f, page)
		return
	}
	u, err := s.admin.CreateUser(c.Request.Context(), principal(c), in)
	if err != nil {
		if status, ok := s.formFailed(c, f, err, nil, "email"); ok {
			s.renderUserForm(c, status, f, page)
		}
		return
	}
	s.setFlash(c, "flash.user_created", u.Email)
	c.Redirect(http.StatusSeeOther, "/admin/users")
}

// webUserEdit shows a member of staff in the form.
func (s *Server) webUserEdit(c *gin.Context) {
	u, err := s.admin.GetUser(c.Request.Context(), principal(c), c.Param("id"))
	if err != nil {
		s.webError(c, err)
		return
	}
	f := newForm(userFields...)
	f.Values["name"] = u.Name
	f.Values["role"] = string(u.Role)
	f.Values["centre_code"] = u.CentreCode
	f.Values["warehouse_code"] = u.WarehouseCode
	if u.Active {
		f.Values["active"] = "on"
	}
	s.renderUserForm(c, http.StatusOK, f, userFormPage{ID: u.ID, Email: u.Email, Version: strconv.Itoa(u.Version),
		Self: u.ID == principal(c).UserID, Active: u.Active})
}

// webUserUpdate saves the user form. Only what changed is sent, so that editing a
// name does not close the user's sessions as a change of role or password does.
func (s *Server) webUserUpdate(c *gin.Context) {
	lang := webLang(c)
	p := principal(c)
	cur, err := s.admin.GetUser(c.Request.Context(), p, c.Param("id"))
	if err != nil {
		s.webError(c, err)
		return
	}
	f := readForm(c, userFields)
	f.Values["password"] = ""
	if c.PostForm("active") != "" {
		f.Values["active"] = "on"
	}
	page := userFormPage{ID: cur.ID, Email: cur.Email, Version: c.PostForm("version"), Self: cur.ID == p.UserID, Active: cur.Active}
	var in models.UserUpdate
	if v, err := strconv.Atoi(page.Version); err == nil {
		in.Version = &v
	}
	if name := f.Values["name"]; name != cur.Name {
		in.Name = &name
	}
	if f.Values["name"] == "" {
		f.parseError("name", fieldMessage(lang, models.FieldError{Field: "name", Rule: "required", Message: "is required"}))
	}
	if pw := c.PostForm("password"); pw != "" {
		in.Password = &pw
	}
	role, centre, warehouse := models.Role(f.Values["role"]), f.Values["centre_code"], f.Values["warehouse_code"]
	if role != cur.Role || centre != cur.CentreCode || warehouse != cur.WarehouseCode {
		in.Role, in.CentreCode, in.WarehouseCode = &role, &centre, &warehouse
	}
	if active := f.Values["active"] == "on"; active != cur.Active {
		in.Active = &active
	}
	if err := s.validate(&in); err != nil {
		f.addError(lang, err, nil)
	}
	if len(f.Errors) > 0 || in.Version == nil {
		formRefused(lang, f, in.Version == nil)
		s.renderUserForm(c, http.StatusBadRequest, f, page)
		return
	}
	u, err := s.admin.UpdateUser(c.Request.Context(), p, cur.ID, in)
	if err != nil {
		if status, ok := s.formFailed(c, f, err, nil, "email"); ok {
			s.renderUserForm(c, status, f, page)
		}
		return
	}
	s.setFlash(c, "flash.user_updated", u.Email)
	c.Redirect(http.StatusSeeOther, "/admin/users")
}

// webUserDisable switches a member of staff off and closes their sessions.
func (s *Server) webUserDisable(c *gin.Context) {
	ctx, p := c.Request.Context(), principal(c)
	u, err := s.admin.GetUser(ctx, p, c.Param("id"))
	if err == nil {
		err = s.admin.DisableUser(ctx, p, u.ID)
	}
	if err != nil {
		s.webError(c, err)
		return
	}
	s.setFlash(c, "flash.user_disabled", u.Email)
	c.Redirect(http.StatusSeeOther, "/admin/users")
}

// formFailed turns a service's refusal of a form into messages on the form and says
// with which status to show it again; errors that are not about the form get the
// error page instead (ok false). keyField is where "already exists" goes.
func (s *Server) formFailed(c *gin.Context, f *formState, err error, lines map[string][]int, keyField string) (int, bool) {
	lang := webLang(c)
	e, ok := models.AsError(err)
	if !ok {
		s.webError(c, err)
		return 0, false
	}
	switch e.Kind {
	case models.KindInvalid, models.KindUnprocessable, models.KindConflict:
	default:
		s.webError(c, err)
		return 0, false
	}
	switch {
	case e.Code == "already_exists" && strings.Contains(e.Message, "email") && f.has("email"):
		f.fieldError("email", tr(lang, "err.exists_email"))
		f.addMessage(tr(lang, "form.errors"))
	case e.Code == "already_exists" && f.has(keyField):
		f.fieldError(keyField, tr(lang, "err.exists_code"))
		f.addMessage(tr(lang, "form.errors"))
	default:
		f.addError(lang, e, lines)
	}
	return statusOf[e.Kind], true
}

// formRefused says why a form is shown again before the service saw it.
func formRefused(lang string, f *formState, noVersion bool) {
	if len(f.Errors) > 0 {
		f.addMessage(tr(lang, "form.errors"))
	}
	if noVersion {
		// The form lost the version it was read at: reading it again is the way out.
		f.addMessage(tr(lang, "err.version"))
	}
}

// readForm reads the named fields of a posted form, trimmed. A field with bytes no
// text has (NUL, broken UTF-8) is marked and kept out of the database.
func readForm(c *gin.Context, fields []string) *formState {
	lang := webLang(c)
	f := newForm(fields...)
	for _, name := range fields {
		v := strings.TrimSpace(c.PostForm(name))
		if !plainText(v) {
			f.parseError(name, tr(lang, "parse.text"))
			v = strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "")
		}
		f.Values[name] = v
	}
	return f
}

// plainText reports whether s is text a person could have typed: valid UTF-8
// without NUL, which PostgreSQL refuses in text.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// formInt reads a whole-number field; a field that is not one is marked and read as 0.
func formInt(lang string, f *formState, field string) int {
	v := f.Values[field]
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.parseError(field, tr(lang, "parse.int"))
		return 0
	}
	return n
}

// calendarForm is a centre's calendar as read from the form's text areas, with the
// line each item came from.
type calendarForm struct {
	hours  []models.OpeningHoursInput
	closed []string
	stock  []models.MinStockInput
	lines  map[string][]int
}

var (
	weekdaySpec  = regexp.MustCompile(`^(\d+)(?:-(\d+))?$`)
	intervalSpec = regexp.MustCompile(`(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})`)
)

// parseCalendar reads the text areas of the centre form:
//
//	opening_hours:    "1 08:00-12:00" or "1-5 08:00-12:00 13:00-17:00", one line each
//	closed_days:      "2026-12-24", one or more per line
//	min_backup_stock: "SM-A155M: 5", one line per model
//
// Lines that do not read are marked on the form; the rest is left to the validator
// and the service.
func parseCalendar(lang string, f *formState) calendarForm {
	cal := calendarForm{lines: map[string][]int{}}
	for i, line := range strings.Split(f.Values["opening_hours"], "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.ReplaceAll(line, ",", " "))
		if line == "" {
			continue
		}
		day, rest, _ := strings.Cut(line, " ")
		m := weekdaySpec.FindStringSubmatch(day)
		ivs := intervalSpec.FindAllStringSubmatch(rest, -1)
		if m == nil || len(ivs) == 0 || strings.TrimSpace(intervalSpec.ReplaceAllString(rest, "")) != "" {
			f.parseError("opening_hours", tr(lang, "parse.hours", n))
			continue
		}
		from, _ := strconv.Atoi(m[1])
		to := from
		if m[2] != "" {
			to, _ = strconv.Atoi(m[2])
		}
		if from < 1 || to > 7 || from > to {
			f.parseError("opening_hours", tr(lang, "parse.weekday", n))
			continue
		}
		for d := from; d <= to; d++ {
			for _, iv := range ivs {
				cal.hours = append(cal.hours, models.OpeningHoursInput{Weekday: d,
					Opens: pad2(iv[1]) + ":" + iv[2], Closes: pad2(iv[3]) + ":" + iv[4]})
				cal.lines["opening_hours"] = append(cal.lines["opening_hours"], n)
			}
		}
	}
	for i, line := range strings.Split(f.Values["closed_days"], "\n") {
		for _, day := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' }) {
			cal.closed = append(cal.closed, day)
			cal.lines["closed_days"] = append(cal.lines["closed_days"], i+1)
		}
	}
	for i, line := range strings.Split(f.Values["min_backup_stock"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cut := strings.LastIndexByte(line, ':')
		if cut < 0 {
			f.parseError("min_backup_stock", tr(lang, "parse.stock", i+1))
			continue
		}
		qty, err := strconv.Atoi(strings.TrimSpace(line[cut+1:]))
		if err != nil {
			f.parseError("min_backup_stock", tr(lang, "parse.stock", i+1))
			continue
		}
		cal.stock = append(cal.stock, models.MinStockInput{Model: strings.TrimSpace(line[:cut]), Quantity: &qty})
		cal.lines["min_backup_stock"] = append(cal.lines["min_backup_stock"], i+1)
	}
	return cal
}

func pad2(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

// formatHours writes opening hours as the form reads them, joining weekdays in a row
// that keep the same hours: "1-5 08:00-12:00 13:00-17:00".
func formatHours(hours []models.OpeningHours) []string {
	byDay := map[int][]string{}
	for _, h := range hours {
		byDay[h.Weekday] = append(byDay[h.Weekday], h.Opens+"-"+h.Closes)
	}
	for d := range byDay {
		sort.Strings(byDay[d])
	}
	var out []string
	for d := 1; d <= 7; d++ {
		if len(byDay[d]) == 0 {
			continue
		}
		key := strings.Join(byDay[d], " ")
		end := d
		for end < 7 && strings.Join(byDay[end+1], " ") == key {
			end++
		}
		days := strconv.Itoa(d)
		if end > d {
			days += "-" + strconv.Itoa(end)
		}
		out = append(out, days+" "+key)
		d = end
	}
	return out
}
