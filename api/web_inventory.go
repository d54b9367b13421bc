package api

// The inventory screens: a centre's backup stock against its minimums and the ledger of
// one unit; registering backup devices by scanning them (warehouse); the swap onto a
// backup device from the repair order, its endorsement, and the retry or undo of a
// service change CSM could not make; return shipments of faulty handsets from the
// centre to its warehouse, with their discrepancies; restock requests, fulfilled by
// the warehouse and received at the centre by scanning; and the warehouse's inbox.
//
// Every list of IMEIs is a scan list: the scanner's Enter in the scan box adds the IMEI
// to the list (a textarea, one IMEI per line, which is what the form sends), and
// without the script the textarea is filled by hand. They call the same service
// methods as the JSON API; a refusal is shown beside the IMEI or field it concerns,
// with the user's input kept, never as a server error.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// maxScan is how many IMEIs one list takes, as the services allow.
const maxScan = 1000

// restockFormLines is how many model and quantity lines the manual restock form offers.
const restockFormLines = 4

// The forms of the repair page that work on its swap.
const (
	repairFormSwap      = "swap"
	repairFormSwapRetry = "swap_retry"
	repairFormSwapUndo  = "swap_undo"
)

// focusSwapRetry puts the cursor on retrying a failed service change.
const focusSwapRetry = "swap-retry"

// webInventoryRoutes maps the inventory screens for signed-in staff.
func (s *Server) webInventoryRoutes(staff *gin.RouterGroup) {
	staff.GET("/stock", s.webStock)
	staff.GET("/units", s.webUnitLookup)
	staff.GET("/units/register", s.webRegisterForm)
	staff.POST("/units/register", s.webRegister)
	staff.GET("/units/:imei", s.webUnit)

	staff.POST("/repairs/:id/swap", s.webSwap)
	staff.GET("/swaps/:id/endorsement", s.webEndorsementPDF)
	staff.POST("/swaps/:id/retry", s.webSwapRetry)
	staff.POST("/swaps/:id/undo", s.webSwapUndo)

	staff.GET("/returns", s.webReturns)
	staff.POST("/returns", s.webReturnCreate)
	staff.GET("/returns/:id", s.webReturn)
	staff.POST("/returns/:id/dispatch", s.webReturnDispatch)
	staff.GET("/returns/:id/packing-list", s.webPackingList)
	staff.POST("/returns/:id/receive", s.webReturnReceive)
	staff.POST("/returns/:id/discrepancies/:did/resolve", s.webDiscrepancyResolve)

	staff.GET("/restock", s.webRestockList)
	staff.POST("/restock", s.webRestockCreate)
	staff.GET("/restock/:id", s.webRestock)
	staff.POST("/restock/:id/fulfil", s.webRestockFulfil)
	staff.POST("/restock/:id/receive", s.webRestockReceive)
	staff.POST("/restock/:id/reject", s.webRestockReject)

	staff.GET("/warehouse", s.webWarehouse)
}

func unitPath(imei string) string  { return "/units/" + url.PathEscape(imei) }
func swapPath(id string) string    { return "/swaps/" + url.PathEscape(id) }
func returnPath(id string) string  { return "/returns/" + url.PathEscape(id) }
func restockPath(id string) string { return "/restock/" + url.PathEscape(id) }

func endorsementWebPath(swapID string) string { return swapPath(swapID) + "/endorsement" }

// Which forms and links to offer; the services decide.
func mayRegisterUnits(p models.Principal) bool {
	return p.Role == models.RoleWarehouse || p.Role == models.RoleAdmin
}

func mayManageReturns(p models.Principal) bool {
	return p.Role == models.RoleCentreManager || p.Role == models.RoleAdmin
}

func mayReceiveReturns(p models.Principal) bool {
	return p.Role == models.RoleWarehouse || p.Role == models.RoleAdmin
}

func mayResolveDiscrepancy(p models.Principal) bool {
	return p.Role == models.RoleCentreManager || p.Role == models.RoleWarehouse || p.Role == models.RoleAdmin
}

func mayRequestRestock(p models.Principal) bool { return p.Role == models.RoleCentreManager }

func mayFulfilRestock(p models.Principal) bool {
	return p.Role == models.RoleWarehouse || p.Role == models.RoleAdmin
}

func mayReceiveRestock(p models.Principal) bool {
	return p.Role.AtCentre() || p.Role == models.RoleAdmin
}

// mayReadRepairs says whether the role may open repair orders and their documents
// (endorsements): the warehouse may not.
func mayReadRepairs(p models.Principal) bool { return p.Role.AtCentre() || p.Role == models.RoleAdmin }

// refuseRole shows the error page for a screen the role does not work with.
func (s *Server) refuseRole(c *gin.Context) {
	s.renderError(c, http.StatusForbidden, tr(webLang(c), "err.forbidden"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// shown makes text from a URL or form printable on the page: valid UTF-8 without NUL,
// at most 40 characters.
func shown(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// stateLabel says a unit's state in lang.
func stateLabel(lang, state string) string {
	if key := "unit.state." + state; hasMessage(key) {
		return tr(lang, key)
	}
	return strings.ReplaceAll(state, "_", " ")
}

// placeLabel says where a unit is: at a centre, at a warehouse, on its way (to where)
// or with the customer.
func placeLabel(lang, location string, centre, warehouse *string) string {
	code := deref(centre)
	if code == "" {
		code = deref(warehouse)
	}
	switch location {
	case models.AtCentre:
		return tr(lang, "unit.at_centre", code)
	case models.AtWarehouse:
		return tr(lang, "unit.at_warehouse", code)
	case models.InTransit:
		if code != "" {
			return tr(lang, "unit.in_transit_to", code)
		}
		return tr(lang, "unit.in_transit")
	case models.AtCustomer:
		return tr(lang, "unit.at_customer")
	}
	return location
}

// zoneOf is the time zone of a centre as zones has it, else the default one.
func zoneOf(zones map[string]string, centre string) *time.Location {
	if z, ok := zones[centre]; ok {
		return zoneLocation(z)
	}
	return zoneLocation(models.DefaultTimeZone)
}

func timeOr(lang string, t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return formatTime(lang, *t, loc)
}

// ---- Scan lists ----

// scanFieldName is the scan box of the list field: what it holds when the form is
// sent joins the list.
func scanFieldName(field string) string { return "scan_" + field }

// scanListArgs is what the partial "scan-list" needs of a list of IMEIs.
type scanListArgs struct {
	Name, Label, Hint, ListHint, Value string
	ScanID, ScanName, ScanLabel        string
	MsgAdded, MsgInvalid, MsgTwice     string
	Rows                               string
	Count                              int
	Problems                           []string
	Autofocus, ListFocus               bool
}

func (d *pageData) scanListArgs(name, labelKey, hintKey string) scanListArgs {
	a := scanListArgs{Name: name, Label: d.T(labelKey), ListHint: d.T("scan.list_hint"), Value: d.Val(name),
		ScanID: "scan-" + name, ScanName: scanFieldName(name), ScanLabel: d.T("scan.label"),
		MsgAdded: d.T("scan.added", "{}"), MsgInvalid: d.T("scan.invalid", "{}"), MsgTwice: d.T("scan.twice", "{}"), Rows: "6"}
	if hintKey != "" {
		a.Hint = d.T(hintKey)
	}
	a.Count = len(strings.Fields(a.Value))
	if e := d.Err(name); e != "" {
		a.Problems = strings.Split(e, "\n")
	}
	if d.focusField() == name {
		if len(a.Problems) > 0 {
			a.ListFocus = true
		} else {
			a.Autofocus = true
		}
	}
	return a
}

// readIMEIs reads the list of IMEIs of a form: the lines of field, and what was left in
// its scan box (the scanner's Enter sends the form when the script is off). The list
// keeps the order scanned; the form shows it back one IMEI a line.
func readIMEIs(c *gin.Context, f *formState, field string) []string {
	out := strings.FieldsFunc(f.Values[field], func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if extra := strings.TrimSpace(c.PostForm(scanFieldName(field))); extra != "" && plainText(extra) && !slices.Contains(out, extra) {
		out = append(out, extra)
	}
	if out == nil {
		out = []string{}
	}
	f.Values[field] = strings.Join(out, "\n")
	return out
}

// addProblem notes one more problem of a list field, one a line.
func addProblem(f *formState, field, problem string) {
	if prev := f.Errors[field]; prev != "" {
		problem = prev + "\n" + problem
	}
	f.Errors[field] = problem
}

// checkIMEIs marks the lines of a list that are not IMEIs or repeat one, and an empty
// list when one is needed.
func checkIMEIs(lang string, f *formState, field string, imeis []string, required bool) {
	switch {
	case len(imeis) == 0 && required:
		addProblem(f, field, tr(lang, "scan.err.empty"))
		return
	case len(imeis) > maxScan:
		addProblem(f, field, tr(lang, "scan.err.too_many", maxScan))
		return
	}
	seen := map[string]bool{}
	for _, imei := range imeis {
		switch {
		case !models.ValidIMEI(imei):
			addProblem(f, field, tr(lang, "scan.problem", shown(imei), tr(lang, "scan.err.not_imei")))
		case seen[imei]:
			addProblem(f, field, tr(lang, "scan.problem", imei, tr(lang, "scan.err.twice")))
		}
		seen[imei] = true
	}
}

// unitProblems translates what the services say of one unit of a list.
var unitProblems = []struct{ prefix, key string }{
	{"is not a unit of ours", "scan.why.unknown"},
	{"is already in a return shipment", "scan.why.in_return"},
	{"is not a faulty handset received at a centre", "scan.why.not_faulty"},
	{"was received at another centre", "scan.why.other_centre"},
	{"is not a backup device in stock at the request's warehouse", "scan.why.not_in_warehouse"},
	{"was not shipped for this request", "scan.why.not_shipped"},
}

// unitProblem says in lang why the service refused a unit of a list.
func unitProblem(lang string, fe models.FieldError) string {
	if fe.Rule == "unique" || strings.HasSuffix(fe.Message, " is listed twice") {
		return tr(lang, "scan.err.twice")
	}
	if fe.Rule == "imei" {
		return tr(lang, "scan.err.not_imei")
	}
	for _, p := range unitProblems {
		if strings.HasPrefix(fe.Message, p.prefix) {
			if lang == langEN {
				return fe.Message
			}
			return tr(lang, p.key)
		}
	}
	return fieldMessage(lang, fe)
}

// invRefusal puts a service's refusal of an inventory form on the form and says with
// which status to show it again; errors that are not about the form (not found,
// forbidden, bugs) get the error page instead (ok false). lists are the scan lists the
// form sent, by the service's name of them; fieldOf names the form's field of any
// other field the service names.
func (s *Server) invRefusal(c *gin.Context, f *formState, err error, lists map[string]scanned,
	fieldOf func(models.FieldError) (string, string)) (int, bool) {
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
	own := "inv.err." + e.Code
	if hasMessage(own) {
		f.addMessage(tr(lang, own))
	}
	var other []string
	for _, fe := range e.Fields {
		name, idx := splitFieldPath(fe.Field)
		if l, ok := lists[name]; ok && idx >= 0 && idx < len(l.imeis) {
			addProblem(f, l.field, tr(lang, "scan.problem", l.imeis[idx], unitProblem(lang, fe)))
			continue
		}
		field, msg := name, fieldMessage(lang, fe)
		if fieldOf != nil {
			field, msg = fieldOf(fe)
		}
		if f.has(field) && !f.parsed[field] {
			f.fieldError(field, msg)
			continue
		}
		other = append(other, fe.Field+": "+msg)
	}
	switch {
	case len(e.Fields) > 0 && !hasMessage(own):
		f.addMessage(tr(lang, "form.errors"))
	case len(e.Fields) == 0 && !hasMessage(own):
		f.addMessage(errorMessage(lang, e))
	}
	for _, m := range other {
		f.addMessage(m)
	}
	return statusOf[e.Kind], true
}

// scanned is a list of IMEIs a form sent, and the form field it came from.
type scanned struct {
	field string
	imeis []string
}

// ---- Backup stock and units ----

// stockPage is the data of a centre's backup stock.
type stockPage struct {
	CentreCode     string
	Centres        []option
	Choose         bool
	Rows           []stockRow
	Short          int
	FaultyReceived int
	FaultyInReturn int
	Assigned       int
	MayReturn      bool
	MayRestock     bool
}

// stockRow is one model of the stock against its minimum.
type stockRow struct {
	Model                                         string
	InStock, InTransit, Requested, Minimum, Short int
	Shortfall                                     bool
}

// webStock shows a centre's backup devices by model against its minimums, and its
// faulty handsets waiting to go back: the user's centre, or for the warehouse and
// admin the centre ?centre= names among theirs.
func (s *Server) webStock(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	d := stockPage{CentreCode: p.CentreCode, MayReturn: mayManageReturns(p), MayRestock: p.Role.AtCentre()}
	if !p.Role.AtCentre() {
		centres, err := s.admin.ListCentres(ctx, p)
		if err != nil {
			s.webError(c, err)
			return
		}
		if len(centres) == 0 {
			s.renderError(c, http.StatusNotFound, tr(lang, "stock.no_centres"))
			return
		}
		d.Choose = true
		d.CentreCode = strings.TrimSpace(c.Query("centre"))
		if d.CentreCode == "" {
			d.CentreCode = centres[0].Code
		}
		if !models.ValidCode(d.CentreCode) {
			s.renderError(c, http.StatusNotFound, tr(lang, "err.not_found"))
			return
		}
		for _, ce := range centres {
			d.Centres = append(d.Centres, option{ce.Code, ce.Code + " · " + ce.Name})
		}
	}
	st, err := s.inventory.Stock(ctx, p, d.CentreCode)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, m := range st.Backup {
		d.Rows = append(d.Rows, stockRow{Model: m.Model, InStock: m.InStock, InTransit: m.InTransit, Requested: m.Requested,
			Minimum: m.Minimum, Short: m.Shortfall, Shortfall: m.Shortfall > 0})
		if m.Shortfall > 0 {
			d.Short++
		}
	}
	d.FaultyReceived, d.FaultyInReturn, d.Assigned = st.FaultyReceived, st.FaultyInReturn, st.Assigned
	f := newForm("imei")
	s.render(c, http.StatusOK, tplStock, &pageData{Title: tr(lang, "stock.title", st.CentreCode), Form: f, Focus: "imei", Data: d})
}

// unitPage is the data of a unit's page: the lookup, and the unit with its ledger.
type unitPage struct {
	Found     bool
	Unit      unitView
	Movements []movementRow
	TimeZone  string
}

// unitView is a unit as its page shows it.
type unitView struct {
	IMEI, Brand, Model, Kind, KindLabel string
	State, StateLabel, Place            string
	Ticket, TicketURL                   string
	Registered                          string
}

// movementRow is one entry of a unit's ledger.
type movementRow struct {
	At, Reason, From, To string
	Ticket, TicketURL    string
	Links                []linkView
	Actor, Note          string
}

// linkView is a link a page shows.
type linkView struct{ Label, URL string }

// webUnitLookup is the unit lookup: ?imei= goes to the unit's page, or says what is
// wrong with the IMEI read.
func (s *Server) webUnitLookup(c *gin.Context) {
	lang := webLang(c)
	imei := strings.TrimSpace(c.Query("imei"))
	f := newForm("imei")
	f.Values["imei"] = shown(imei)
	switch {
	case imei == "":
		s.renderUnit(c, http.StatusOK, f, nil)
	case !models.ValidIMEI(imei):
		f.fieldError("imei", tr(lang, "scan.err.not_imei"))
		s.renderUnit(c, http.StatusBadRequest, f, nil)
	default:
		c.Redirect(http.StatusSeeOther, unitPath(imei))
	}
}

// webUnit shows a unit and its whole ledger, with the lookup for the next one.
func (s *Server) webUnit(c *gin.Context) {
	lang := webLang(c)
	imei := c.Param("imei")
	u, err := s.inventory.Unit(c.Request.Context(), principal(c), imei)
	if err != nil {
		if models.ErrorCode(err) != "not_found" {
			s.webError(c, err)
			return
		}
		f := newForm("imei")
		f.Values["imei"] = shown(imei)
		f.fieldError("imei", tr(lang, "unit.not_found", shown(imei)))
		s.renderUnit(c, http.StatusNotFound, f, nil)
		return
	}
	s.renderUnit(c, http.StatusOK, newForm("imei"), u)
}

func (s *Server) renderUnit(c *gin.Context, status int, f *formState, u *models.Unit) {
	lang, p := webLang(c), principal(c)
	title := tr(lang, "unit.lookup_title")
	d := unitPage{}
	if u != nil {
		zones := map[string]string{}
		if u.CentreCode != nil {
			zones = s.centreZones(c, p, u.CentreCode)
		}
		loc := zoneOf(zones, deref(u.CentreCode))
		d.Found, d.TimeZone = true, loc.String()
		d.Unit = unitView{IMEI: u.IMEI, Brand: u.Brand, Model: u.Model, Kind: u.Kind, KindLabel: tr(lang, "unit.kind."+u.Kind),
			State: u.State, StateLabel: stateLabel(lang, u.State), Place: placeLabel(lang, u.Location, u.CentreCode, u.WarehouseCode),
			Ticket: deref(u.TicketNumber), Registered: formatTime(lang, u.CreatedAt, loc)}
		if d.Unit.Ticket != "" {
			d.Unit.TicketURL = ticketPath(d.Unit.Ticket)
		}
		for _, m := range u.Movements {
			d.Movements = append(d.Movements, viewMovement(lang, p, m, loc))
		}
		title = tr(lang, "unit.title", u.IMEI)
	}
	s.render(c, status, tplUnit, &pageData{Title: title, Form: f, Focus: "imei", Data: d})
}

func viewMovement(lang string, p models.Principal, m models.Movement, loc *time.Location) movementRow {
	row := movementRow{At: formatTime(lang, m.At, loc), Reason: tr(lang, "unit.reason."+m.Reason),
		To:     stateLabel(lang, m.ToState) + " · " + placeLabel(lang, m.ToLocation, m.ToCentreCode, m.ToWarehouseCode),
		Ticket: deref(m.TicketNumber), Actor: deref(m.ActorName), Note: deref(m.Note)}
	if !hasMessage("unit.reason." + m.Reason) {
		row.Reason = m.Reason
	}
	if m.FromState != nil {
		row.From = stateLabel(lang, *m.FromState) + " · " + placeLabel(lang, deref(m.FromLocation), m.FromCentreCode, m.FromWarehouseCode)
	}
	if row.Ticket != "" && mayReadRepairs(p) {
		row.TicketURL = ticketPath(row.Ticket)
	}
	if m.SwapID != nil && mayReadRepairs(p) {
		row.Links = append(row.Links, linkView{tr(lang, "unit.link.endorsement"), endorsementWebPath(*m.SwapID)})
	}
	if m.ReturnID != nil {
		row.Links = append(row.Links, linkView{tr(lang, "unit.link.return"), returnPath(*m.ReturnID)})
	}
	if m.RestockID != nil {
		row.Links = append(row.Links, linkView{tr(lang, "unit.link.restock"), restockPath(*m.RestockID)})
	}
	if row.Actor == "" {
		row.Actor = tr(lang, "unit.actor."+m.ActorKind)
	}
	return row
}

// ---- Registering units ----

// registerPage is the data of the registration of backup devices.
type registerPage struct {
	Locations []option
	Result    *registerResult
}

// registerResult is what a batch did, IMEI by IMEI.
type registerResult struct {
	Registered []registeredRow
	Refused    []refusedRow
}

type registeredRow struct{ IMEI, URL, Model, Place string }

type refusedRow struct{ IMEI, Reason, URL string }

var registerFields = []string{"brand", "model", "location_code", "imeis"}

// webRegisterForm is the registration of backup devices: brand, model and where they
// go, then the IMEIs, scanned one after another.
func (s *Server) webRegisterForm(c *gin.Context) {
	p := principal(c)
	if !mayRegisterUnits(p) {
		s.refuseRole(c)
		return
	}
	f := newForm(registerFields...)
	f.Values["location_code"] = p.WarehouseCode
	for _, k := range []string{"brand", "model", "location_code"} {
		if v := strings.TrimSpace(c.Query(k)); v != "" && plainText(v) {
			f.Values[k] = shown(v)
		}
	}
	s.renderRegister(c, http.StatusOK, f, nil)
}

func (s *Server) renderRegister(c *gin.Context, status int, f *formState, res *registerResult) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	d := registerPage{Result: res}
	if p.Role == models.RoleAdmin {
		ws, err := s.admin.ListWarehouses(ctx, p)
		if err != nil {
			s.webError(c, err)
			return
		}
		for _, w := range ws {
			d.Locations = append(d.Locations, option{w.Code, tr(lang, "register.warehouse", w.Code, w.Name)})
		}
	} else if p.WarehouseCode != "" {
		d.Locations = append(d.Locations, option{p.WarehouseCode, tr(lang, "register.warehouse", p.WarehouseCode, tr(lang, "register.yours"))})
	}
	centres, err := s.admin.ListCentres(ctx, p)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, ce := range centres {
		d.Locations = append(d.Locations, option{ce.Code, tr(lang, "register.centre", ce.Code, ce.Name)})
	}
	focus := "imeis"
	for _, k := range []string{"brand", "model", "location_code"} {
		if f.Values[k] == "" {
			focus = k
			break
		}
	}
	s.render(c, status, tplUnitsRegister, &pageData{Title: tr(lang, "register.title"), Form: f, Focus: focus, Data: d})
}

// webRegister registers a batch: each IMEI is judged alone, and the page lists those
// registered and those refused with the reason, ready for the next batch of the same
// model. The result is the page itself: it cannot be told again after a redirect.
func (s *Server) webRegister(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	if !mayRegisterUnits(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, registerFields)
	imeis := readIMEIs(c, f, "imeis")
	in := models.UnitsInput{Brand: f.Values["brand"], Model: f.Values["model"], Kind: models.UnitBackup,
		LocationCode: f.Values["location_code"], IMEIs: imeis}
	if len(imeis) == 0 {
		addProblem(f, "imeis", tr(lang, "scan.err.empty"))
	} else if len(imeis) > maxScan {
		addProblem(f, "imeis", tr(lang, "scan.err.too_many", maxScan))
	}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, _ := splitFieldPath(fe.Field)
		if name == "location_code" && fe.Rule != "exists" {
			return name, tr(lang, "register.err.location")
		}
		return name, fieldMessage(lang, fe)
	}
	if err := s.validate(&in); err != nil {
		if e, ok := models.AsError(err); ok {
			for _, fe := range e.Fields {
				if name, msg := fieldOf(fe); name != "imeis" && f.has(name) && !f.parsed[name] {
					f.fieldError(name, msg)
				}
			}
		}
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRegister(c, http.StatusBadRequest, f, nil)
		return
	}
	res, err := s.inventory.RegisterUnits(ctx, p, in)
	if err != nil {
		if status, ok := s.invRefusal(c, f, err, nil, fieldOf); ok {
			s.renderRegister(c, status, f, nil)
		}
		return
	}
	out := &registerResult{}
	for _, u := range res.Registered {
		out.Registered = append(out.Registered, registeredRow{IMEI: u.IMEI, URL: unitPath(u.IMEI), Model: u.Brand + " " + u.Model,
			Place: placeLabel(lang, u.Location, u.CentreCode, u.WarehouseCode)})
	}
	for _, r := range res.Refused {
		row := refusedRow{IMEI: shown(r.IMEI), Reason: r.Message}
		if key := "register.refused." + r.Code; hasMessage(key) {
			row.Reason = tr(lang, key)
		}
		if r.Code == "already_registered" {
			row.URL = unitPath(r.IMEI)
		}
		out.Refused = append(out.Refused, row)
	}
	// The next batch: same brand, model and place; an empty list.
	f.Values["imeis"] = ""
	status := http.StatusOK
	if len(out.Registered) == 0 {
		status = http.StatusUnprocessableEntity
	}
	s.renderRegister(c, status, f, out)
}

// ---- The swap on the repair page ----

// swapView is a repair's swap as its page shows it.
type swapView struct {
	ID, Reference, Status, StatusLabel        string
	BackupIMEI, BackupModel, BackupUnitURL    string
	FaultyIMEI, FaultyModel, FaultyUnitURL    string
	MSISDN, Technician, Detail                string
	CreatedAt, SettledAt, UndoneAt, Reason    string
	Requests                                  int
	EndorsementURL, RetryURL, UndoURL         string
	Live, Failed, Awaiting, Confirmed, Undone bool
	MayRetry, MayUndo                         bool
}

func viewSwap(lang string, sw *models.Swap, loc *time.Location, mayWork, open bool) *swapView {
	if sw == nil {
		return nil
	}
	v := &swapView{ID: sw.ID, Reference: sw.Reference, Status: sw.Status, StatusLabel: tr(lang, "swap.status."+sw.Status),
		BackupIMEI: sw.BackupIMEI, BackupModel: sw.BackupBrand + " " + sw.BackupModel, BackupUnitURL: unitPath(sw.BackupIMEI),
		FaultyIMEI: sw.FaultyIMEI, FaultyModel: sw.FaultyModel, FaultyUnitURL: unitPath(sw.FaultyIMEI),
		MSISDN: sw.MSISDN, Technician: sw.Technician, Detail: deref(sw.Detail), Requests: sw.Requests,
		CreatedAt: formatTime(lang, sw.CreatedAt, loc), SettledAt: timeOr(lang, sw.SettledAt, loc), UndoneAt: timeOr(lang, sw.UndoneAt, loc),
		Reason: deref(sw.UndoReason), EndorsementURL: endorsementWebPath(sw.ID),
		RetryURL: swapPath(sw.ID) + "/retry", UndoURL: swapPath(sw.ID) + "/undo",
		Failed: sw.Status == models.SwapFailed, Awaiting: sw.Status == models.SwapRequested,
		Confirmed: sw.Status == models.SwapConfirmed, Undone: sw.Status == models.SwapUndone}
	v.Live = !v.Undone
	v.MayRetry = mayWork && open && v.Failed
	v.MayUndo = mayWork && open && (v.Failed || v.Awaiting)
	return v
}

// swapStock lists what the centre has in stock for a swap, by model: the options of
// the model field.
func (s *Server) swapStock(ctx context.Context, p models.Principal, centre string) ([]stockRow, error) {
	st, err := s.inventory.Stock(ctx, p, centre)
	if err != nil {
		return nil, err
	}
	var out []stockRow
	for _, m := range st.Backup {
		if m.InStock > 0 {
			out = append(out, stockRow{Model: m.Model, InStock: m.InStock})
		}
	}
	return out, nil
}

// webSwap moves the customer's line onto a backup device: the one whose IMEI was
// scanned, or the oldest in stock of the model given.
func (s *Server) webSwap(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRepairParam(c)
	if !ok {
		return
	}
	f := readForm(c, []string{"backup_imei", "model"})
	in := &repairForm{f: f, which: repairFormSwap}
	sw := models.SwapInput{BackupIMEI: f.Values["backup_imei"], Model: f.Values["model"]}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, _ := splitFieldPath(fe.Field)
		if name == "backup_imei" && fe.Rule == "imei" {
			return name, tr(lang, "scan.err.not_imei")
		}
		return name, fieldMessage(lang, fe)
	}
	if err := s.validate(&sw); err != nil {
		repairFieldErrors(lang, f, err, fieldOf)
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRepair(c, http.StatusBadRequest, r, in)
		return
	}
	done, err := s.inventory.Swap(ctx, p, r.ID, sw)
	if err != nil {
		if status, ok := s.swapRefusal(c, f, r, sw, err, fieldOf); ok {
			s.renderRepair(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.swapped", done.BackupIMEI)
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// swapRefusal puts a refusal of the swap's forms on the repair page: the codes of the
// swap in the page's words, the rest as the repair forms say them.
func (s *Server) swapRefusal(c *gin.Context, f *formState, r *models.RepairOrder, in models.SwapInput, err error,
	fieldOf func(models.FieldError) (string, string)) (int, bool) {
	lang := webLang(c)
	e, ok := models.AsError(err)
	if !ok || (e.Kind != models.KindConflict && e.Kind != models.KindUnprocessable && e.Kind != models.KindInvalid) {
		return s.repairRefusal(c, f, r, err, fieldOf)
	}
	model := in.Model
	if model == "" {
		model = f.Values["model"]
	}
	switch e.Code {
	case "unit_not_available":
		if f.has("backup_imei") && in.BackupIMEI != "" {
			f.fieldError("backup_imei", tr(lang, "swap.err.unit_field"))
		}
		f.addMessage(tr(lang, "swap.err.unit_not_available", in.BackupIMEI))
	case "no_stock":
		if f.has("model") {
			f.fieldError("model", tr(lang, "swap.err.no_stock_field"))
		}
		f.addMessage(tr(lang, "swap.err.no_stock", model))
	case "swap_exists", "faulty_unit_conflict", "swap_not_failed", "swap_confirmed", "swap_undone":
		f.addMessage(tr(lang, "swap.err."+e.Code))
	default:
		return s.repairRefusal(c, f, r, err, fieldOf)
	}
	return statusOf[e.Kind], true
}

// webSwapParam loads the swap of the path and its repair order, or shows the error page.
func (s *Server) webSwapParam(c *gin.Context) (*models.Swap, *models.RepairOrder, bool) {
	ctx, p := c.Request.Context(), principal(c)
	sw, err := s.inventory.GetSwap(ctx, p, c.Param("id"))
	if err != nil {
		s.webError(c, err)
		return nil, nil, false
	}
	r, err := s.repairs.Get(ctx, p, sw.RepairID)
	if err != nil {
		s.webError(c, err)
		return nil, nil, false
	}
	return sw, r, true
}

// webEndorsementPDF serves a swap's replacement endorsement as issued, to print.
func (s *Server) webEndorsementPDF(c *gin.Context) {
	doc, err := s.inventory.Endorsement(c.Request.Context(), principal(c), c.Param("id"))
	s.webPDF(c, doc, err)
}

// webSwapRetry asks CSM again for a service change it could not make.
func (s *Server) webSwapRetry(c *gin.Context) {
	p, ctx := principal(c), c.Request.Context()
	sw, r, ok := s.webSwapParam(c)
	if !ok {
		return
	}
	f := newForm()
	if _, err := s.inventory.RetrySwap(ctx, p, sw.ID); err != nil {
		if status, ok := s.swapRefusal(c, f, r, models.SwapInput{}, err, nil); ok {
			s.renderRepair(c, status, r, &repairForm{f: f, which: repairFormSwapRetry})
		}
		return
	}
	s.setFlash(c, "flash.swap_retried", sw.BackupIMEI)
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// webSwapUndo gives the backup device back to stock and the handset to its customer,
// for the reason given, which is required.
func (s *Server) webSwapUndo(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	sw, r, ok := s.webSwapParam(c)
	if !ok {
		return
	}
	f := readForm(c, []string{"undo_reason"})
	in := &repairForm{f: f, which: repairFormSwapUndo}
	reason := models.ReasonInput{Reason: f.Values["undo_reason"]}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, _ := splitFieldPath(fe.Field)
		if name == "reason" {
			name = "undo_reason"
		}
		return name, fieldMessage(lang, fe)
	}
	if err := s.validate(&reason); err != nil {
		repairFieldErrors(lang, f, err, fieldOf)
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRepair(c, http.StatusBadRequest, r, in)
		return
	}
	if _, err := s.inventory.UndoSwap(ctx, p, sw.ID, reason.Reason); err != nil {
		if status, ok := s.swapRefusal(c, f, r, models.SwapInput{}, err, fieldOf); ok {
			s.renderRepair(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.swap_undone", sw.BackupIMEI)
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// ---- Return shipments ----

// The states a list can be filtered by, in the order of their tabs.
var (
	returnStatuses  = []string{models.ReturnDraft, models.ReturnDispatched, models.ReturnReceivedWithDiscrepancies, models.ReturnReceived}
	restockStatuses = []string{models.RestockOpen, models.RestockFulfilled, models.RestockReceived, models.RestockRejected}
)

// tabView is one filter of a list.
type tabView struct {
	Label, URL string
	Current    bool
}

func listTabs(lang, base, prefix, current string, statuses []string) []tabView {
	tabs := []tabView{{Label: tr(lang, "list.all"), URL: base, Current: current == ""}}
	for _, st := range statuses {
		tabs = append(tabs, tabView{Label: tr(lang, prefix+st), URL: base + "?status=" + url.QueryEscape(st), Current: current == st})
	}
	return tabs
}

// listPage links the next page of a list and back to its first.
func listPage(base, status, cursor, next string) (first, nextURL string) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	link := func(cur string) string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		if cur != "" {
			qq.Set("cursor", cur)
		}
		if len(qq) == 0 {
			return base
		}
		return base + "?" + qq.Encode()
	}
	if next != "" {
		nextURL = link(next)
	}
	if cursor != "" {
		first = link("")
	}
	return first, nextURL
}

// returnRow is a shipment in a list.
type returnRow struct {
	ID, URL, Reference, Centre, Warehouse string
	Status, StatusLabel, Created, Moved   string
	Items, Open                           int
}

func viewReturnRow(lang string, r models.ReturnShipment, zones map[string]string) returnRow {
	loc := zoneOf(zones, r.CentreCode)
	row := returnRow{ID: r.ID, URL: returnPath(r.ID), Reference: r.Reference, Centre: r.CentreCode, Warehouse: r.WarehouseCode,
		Status: r.Status, StatusLabel: tr(lang, "return.status."+r.Status), Created: formatTime(lang, r.CreatedAt, loc), Items: len(r.Items)}
	switch {
	case r.ReceivedAt != nil:
		row.Moved = tr(lang, "return.received_on", formatTime(lang, *r.ReceivedAt, loc))
	case r.DispatchedAt != nil:
		row.Moved = tr(lang, "return.dispatched_on", formatTime(lang, *r.DispatchedAt, loc))
	}
	for _, d := range r.Discrepancies {
		if d.ResolvedAt == nil {
			row.Open++
		}
	}
	return row
}

// returnsPage is the data of the list of return shipments.
type returnsPage struct {
	MayCreate         bool
	FaultyReceived    int
	Tabs              []tabView
	Items             []returnRow
	FirstURL, NextURL string
}

// webReturns lists the shipments the user may see, newest first, with their open
// discrepancies; the centre manager builds a new one by scanning its handsets.
func (s *Server) webReturns(c *gin.Context) {
	s.renderReturns(c, http.StatusOK, newForm("imeis"))
}

func (s *Server) renderReturns(c *gin.Context, status int, f *formState) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	st := c.Query("status")
	if st != "" && !slices.Contains(returnStatuses, st) {
		st = ""
	}
	cursor := c.Query("cursor")
	list, next, err := s.inventory.ListReturns(ctx, p, st, services.Page{Limit: webListLimit, Cursor: cursor})
	if err != nil {
		s.webError(c, err)
		return
	}
	zones := s.centreZones(c, p, nil)
	d := returnsPage{MayCreate: mayManageReturns(p), Tabs: listTabs(lang, "/returns", "return.status.", st, returnStatuses)}
	for _, r := range list {
		d.Items = append(d.Items, viewReturnRow(lang, r, zones))
	}
	d.FirstURL, d.NextURL = listPage("/returns", st, cursor, next)
	if p.Role.AtCentre() {
		if stock, err := s.inventory.Stock(ctx, p, p.CentreCode); err == nil {
			d.FaultyReceived = stock.FaultyReceived
		}
	}
	title := tr(lang, "returns.title")
	if p.Role.AtCentre() {
		title = tr(lang, "returns.title_centre", p.CentreCode)
	}
	s.render(c, status, tplReturns, &pageData{Title: title, Form: f, Focus: "imeis", Data: d})
}

// webReturnCreate drafts a shipment of the handsets scanned.
func (s *Server) webReturnCreate(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	if !mayManageReturns(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, []string{"imeis"})
	imeis := readIMEIs(c, f, "imeis")
	checkIMEIs(lang, f, "imeis", imeis, true)
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderReturns(c, http.StatusBadRequest, f)
		return
	}
	r, err := s.inventory.CreateReturn(ctx, p, imeis)
	if err != nil {
		if status, ok := s.invRefusal(c, f, err, map[string]scanned{"imeis": {"imeis", imeis}}, nil); ok {
			s.renderReturns(c, status, f)
		}
		return
	}
	s.setFlash(c, "flash.return_created", r.Reference)
	c.Redirect(http.StatusSeeOther, returnPath(r.ID))
}

// returnPage is the data of a return shipment's page.
type returnPage struct {
	ID, URL, Reference, Centre, Warehouse string
	Status, StatusLabel                   string
	Created, DispatchedAt, DispatchedBy   string
	ReceivedAt, PackingURL, TimeZone      string
	Items                                 []returnItemRow
	Discrepancies                         []discrepancyRow
	Open                                  int
	Draft, Dispatched, Received           bool
	CanDispatch, CanReceive, CanResolve   bool
	// AtWarehouse offers "found" on a missing unit: only the warehouse can have it.
	AtWarehouse             bool
	DispatchURL, ReceiveURL string
	Failed, Focus           string
	// MessageOnTop says the message of the form that failed goes above the page, the
	// form being gone (a discrepancy resolved meanwhile, say).
	MessageOnTop bool
}

// returnItemRow is a handset of a shipment.
type returnItemRow struct {
	IMEI, UnitURL, Model, State string
	Ticket, TicketURL           string
	Endorsement, EndorsementURL string
	Problem                     string
}

// discrepancyRow is what receiving found wrong with one IMEI.
type discrepancyRow struct {
	ID, IMEI, Kind, KindLabel string
	Created, Resolved, Note   string
	Open                      bool
	ResolveURL, NoteID        string
	Value, Error              string
	Failed, Autofocus         bool
}

// returnForm is a form of the return page as posted, for showing it again.
type returnForm struct {
	f     *formState
	which string
}

// webReturnParam loads the shipment of the path, or shows the error page.
func (s *Server) webReturnParam(c *gin.Context) (*models.ReturnShipment, bool) {
	return webLoad(s, c, s.inventory.GetReturn)
}

// webReturn shows a shipment: its handsets, where it is, and what receiving found;
// with dispatching for the centre, receiving for the warehouse, and the resolution of
// discrepancies for both.
func (s *Server) webReturn(c *gin.Context) {
	r, ok := s.webReturnParam(c)
	if !ok {
		return
	}
	s.renderReturn(c, http.StatusOK, r, nil)
}

func (s *Server) renderReturn(c *gin.Context, status int, r *models.ReturnShipment, in *returnForm) {
	lang, p := webLang(c), principal(c)
	zones := s.centreZones(c, p, &r.CentreCode)
	loc := zoneOf(zones, r.CentreCode)
	d := returnPage{ID: r.ID, URL: returnPath(r.ID), Reference: r.Reference, Centre: r.CentreCode, Warehouse: r.WarehouseCode,
		Status: r.Status, StatusLabel: tr(lang, "return.status."+r.Status), Created: formatTime(lang, r.CreatedAt, loc),
		DispatchedAt: timeOr(lang, r.DispatchedAt, loc), DispatchedBy: deref(r.DispatchedBy), ReceivedAt: timeOr(lang, r.ReceivedAt, loc),
		TimeZone: loc.String(), Draft: r.Status == models.ReturnDraft, Dispatched: r.Status == models.ReturnDispatched,
		Received: r.ReceivedAt != nil, DispatchURL: returnPath(r.ID) + "/dispatch", ReceiveURL: returnPath(r.ID) + "/receive"}
	if r.PackingListURL != nil {
		d.PackingURL = returnPath(r.ID) + "/packing-list"
	}
	d.CanDispatch = d.Draft && mayManageReturns(p)
	d.CanReceive = d.Dispatched && mayReceiveReturns(p)
	d.CanResolve = mayResolveDiscrepancy(p)
	d.AtWarehouse = p.Role == models.RoleWarehouse || p.Role == models.RoleAdmin
	problems := map[string][]string{}
	for _, x := range r.Discrepancies {
		row := discrepancyRow{ID: x.ID, IMEI: x.IMEI, Kind: x.Kind, KindLabel: tr(lang, "discrepancy."+x.Kind),
			Created: formatTime(lang, x.CreatedAt, loc), Resolved: timeOr(lang, x.ResolvedAt, loc), Note: deref(x.Resolution),
			Open: x.ResolvedAt == nil, NoteID: "note-" + x.ID,
			ResolveURL: returnPath(r.ID) + "/discrepancies/" + url.PathEscape(x.ID) + "/resolve"}
		if row.Open {
			d.Open++
		}
		problems[x.IMEI] = append(problems[x.IMEI], row.KindLabel)
		d.Discrepancies = append(d.Discrepancies, row)
	}
	for _, it := range r.Items {
		row := returnItemRow{IMEI: it.IMEI, UnitURL: unitPath(it.IMEI), Model: it.Brand + " " + it.Model, State: stateLabel(lang, it.State),
			Ticket: deref(it.TicketNumber), Endorsement: deref(it.Endorsement), Problem: strings.Join(problems[it.IMEI], ", ")}
		if mayReadRepairs(p) {
			if row.Ticket != "" {
				row.TicketURL = ticketPath(row.Ticket)
			}
			if it.SwapID != nil {
				row.EndorsementURL = endorsementWebPath(*it.SwapID)
			}
		}
		d.Items = append(d.Items, row)
	}

	f := newForm("imeis", "damaged_imeis", "note")
	if in != nil {
		d.Failed = in.which
		for k, v := range in.f.Values {
			f.Values[k] = v
		}
		for k, v := range in.f.Errors {
			f.Errors[k] = v
		}
		f.Message = in.f.Message
	}
	// The cursor: back where the form failed, else at the next step of the shipment.
	focus := ""
	switch {
	case in != nil && in.which == "receive":
		focus = "imeis"
	case in != nil && in.which != "dispatch":
		focus = "note"
	case d.CanDispatch:
		focus = "dispatch"
	case d.CanReceive:
		focus = "imeis"
	case d.Dispatched && d.PackingURL != "":
		focus = "packing"
	}
	for i := range d.Discrepancies {
		row := &d.Discrepancies[i]
		if in != nil && in.which == row.ID {
			row.Failed, row.Value, row.Error = true, f.Values["note"], f.Errors["note"]
		}
		if focus == "" && row.Open && d.CanResolve {
			focus = "note"
			row.Autofocus = true
		}
		if focus == "note" && row.Failed {
			row.Autofocus = true
		}
	}
	if in != nil && in.which == "dispatch" {
		focus = "dispatch"
	}
	if in != nil {
		shown := in.which == "receive" && d.CanReceive
		for _, row := range d.Discrepancies {
			shown = shown || row.Failed && row.Open && d.CanResolve
		}
		d.MessageOnTop = !shown
	}
	d.Focus = focus
	s.render(c, status, tplReturn, &pageData{Title: tr(lang, "return.title", r.Reference), Form: f, Focus: focus, Data: d})
}

// webReturnDispatch sends a draft shipment; its page then offers the packing list.
func (s *Server) webReturnDispatch(c *gin.Context) {
	p, ctx := principal(c), c.Request.Context()
	r, ok := s.webReturnParam(c)
	if !ok {
		return
	}
	if !mayManageReturns(p) {
		s.refuseRole(c)
		return
	}
	done, err := s.inventory.DispatchReturn(ctx, p, r.ID)
	if err != nil {
		f := newForm()
		if status, ok := s.invRefusal(c, f, err, nil, nil); ok {
			s.renderReturn(c, status, r, &returnForm{f: f, which: "dispatch"})
		}
		return
	}
	s.setFlash(c, "flash.return_dispatched", done.Reference)
	c.Redirect(http.StatusSeeOther, returnPath(r.ID))
}

// webPackingList serves a dispatched shipment's packing list as printed.
func (s *Server) webPackingList(c *gin.Context) {
	doc, err := s.inventory.PackingList(c.Request.Context(), principal(c), c.Param("id"))
	s.webPDF(c, doc, err)
}

// webReturnReceive records what the warehouse scanned out of the box, and which of it
// came damaged; the shipment's page then says what is missing, unexpected or damaged.
func (s *Server) webReturnReceive(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webReturnParam(c)
	if !ok {
		return
	}
	if !mayReceiveReturns(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, []string{"imeis", "damaged_imeis"})
	found := readIMEIs(c, f, "imeis")
	damaged := readIMEIs(c, f, "damaged_imeis")
	checkIMEIs(lang, f, "imeis", found, len(damaged) == 0)
	checkIMEIs(lang, f, "damaged_imeis", damaged, false)
	in := &returnForm{f: f, which: "receive"}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderReturn(c, http.StatusBadRequest, r, in)
		return
	}
	done, err := s.inventory.ReceiveReturn(ctx, p, r.ID, models.ReceiveReturnInput{ScannedIMEIs: found, DamagedIMEIs: damaged})
	if err != nil {
		lists := map[string]scanned{"scanned_imeis": {"imeis", found}, "damaged_imeis": {"damaged_imeis", damaged}}
		if status, ok := s.invRefusal(c, f, err, lists, nil); ok {
			s.renderReturn(c, status, r, in)
		}
		return
	}
	if n := len(done.Discrepancies); n > 0 {
		s.setFlash(c, "flash.return_received_discrepancies", strconv.Itoa(n))
	} else {
		s.setFlash(c, "flash.return_received", done.Reference)
	}
	c.Redirect(http.StatusSeeOther, returnPath(r.ID))
}

// webDiscrepancyResolve closes a discrepancy with a note of what was found or decided,
// from either side.
func (s *Server) webDiscrepancyResolve(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webReturnParam(c)
	if !ok {
		return
	}
	if !mayResolveDiscrepancy(p) {
		s.refuseRole(c)
		return
	}
	did := c.Param("did")
	var imei string
	for _, x := range r.Discrepancies {
		if x.ID == did {
			imei = x.IMEI
		}
	}
	if imei == "" {
		s.renderError(c, http.StatusNotFound, tr(lang, "err.not_found"))
		return
	}
	f := readForm(c, []string{"note", "found"})
	in := &returnForm{f: f, which: did}
	note := models.ResolveInput{Note: f.Values["note"], Found: f.Values["found"] == "1"}
	if err := s.validate(&note); err != nil {
		repairFieldErrors(lang, f, err, func(fe models.FieldError) (string, string) { return "note", fieldMessage(lang, fe) })
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderReturn(c, http.StatusBadRequest, r, in)
		return
	}
	if _, err := s.inventory.ResolveDiscrepancy(ctx, p, r.ID, did, note); err != nil {
		if status, ok := s.invRefusal(c, f, err, nil, nil); ok {
			s.renderReturn(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.discrepancy_resolved", imei)
	c.Redirect(http.StatusSeeOther, returnPath(r.ID))
}

// ---- Restock requests ----

// restockRow is a request in a list.
type restockRow struct {
	ID, URL, Reference, Centre, Warehouse string
	Status, StatusLabel, Created          string
	Lines                                 []restockLineView
	Shipped, Received                     int
}

// restockLineView is what a request asks for of one model, summed over its lines.
type restockLineView struct {
	Model    string
	Quantity int
	Origins  string
}

// restockLines sums a request's lines by model, in the order first asked, saying why
// each was asked for.
func restockLines(lang string, lines []models.RestockLine) ([]restockLineView, int) {
	var out []restockLineView
	at := map[string]int{}
	origins := map[string][]string{}
	total := 0
	for _, l := range lines {
		i, ok := at[l.Model]
		if !ok {
			i = len(out)
			at[l.Model] = i
			out = append(out, restockLineView{Model: l.Model})
		}
		out[i].Quantity += l.Quantity
		total += l.Quantity
		label := tr(lang, "restock.origin."+l.Origin)
		if l.Quantity > 0 && !slices.Contains(origins[l.Model], label) {
			origins[l.Model] = append(origins[l.Model], label)
		}
	}
	for i := range out {
		out[i].Origins = strings.Join(origins[out[i].Model], ", ")
	}
	return out, total
}

func viewRestockRow(lang string, r models.RestockRequest, zones map[string]string) restockRow {
	row := restockRow{ID: r.ID, URL: restockPath(r.ID), Reference: r.Reference, Centre: r.CentreCode, Warehouse: r.WarehouseCode,
		Status: r.Status, StatusLabel: tr(lang, "restock.status."+r.Status),
		Created: formatTime(lang, r.CreatedAt, zoneOf(zones, r.CentreCode)), Shipped: len(r.Units)}
	row.Lines, _ = restockLines(lang, r.Lines)
	for _, u := range r.Units {
		if u.ReceivedAt != nil {
			row.Received++
		}
	}
	return row
}

// restockFormLine is one model and quantity line of the manual request.
type restockFormLine struct {
	N                    int
	ModelField, QtyField string
	ModelID, QtyID       string
	Model, Quantity      string
	ModelError, QtyError string
	ModelFocus, QtyFocus bool
}

// restockListPage is the data of the list of restock requests.
type restockListPage struct {
	MayRequest        bool
	Lines             []restockFormLine
	Models            []string
	Tabs              []tabView
	Items             []restockRow
	FirstURL, NextURL string
}

func restockFormFields() []string {
	var out []string
	for i := range restockFormLines {
		out = append(out, fmt.Sprintf("model.%d", i), fmt.Sprintf("quantity.%d", i))
	}
	return append(out, "note")
}

// webRestockList lists the restock requests the user may see, newest first, with
// what each asks for and what was shipped; the centre manager asks for more by hand.
func (s *Server) webRestockList(c *gin.Context) {
	s.renderRestockList(c, http.StatusOK, newForm(restockFormFields()...))
}

func (s *Server) renderRestockList(c *gin.Context, status int, f *formState) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	st := c.Query("status")
	if st != "" && !slices.Contains(restockStatuses, st) {
		st = ""
	}
	cursor := c.Query("cursor")
	list, next, err := s.inventory.ListRestock(ctx, p, services.RestockFilter{Status: st}, services.Page{Limit: webListLimit, Cursor: cursor})
	if err != nil {
		s.webError(c, err)
		return
	}
	zones := s.centreZones(c, p, nil)
	d := restockListPage{MayRequest: mayRequestRestock(p), Tabs: listTabs(lang, "/restock", "restock.status.", st, restockStatuses)}
	for _, r := range list {
		d.Items = append(d.Items, viewRestockRow(lang, r, zones))
	}
	d.FirstURL, d.NextURL = listPage("/restock", st, cursor, next)
	pd := &pageData{Title: tr(lang, "restock.title"), Form: f, Data: &d}
	if p.Role.AtCentre() {
		pd.Title = tr(lang, "restock.title_centre", p.CentreCode)
	}
	if d.MayRequest {
		if stock, err := s.inventory.Stock(ctx, p, p.CentreCode); err == nil {
			for _, m := range stock.Backup {
				d.Models = append(d.Models, m.Model)
			}
		}
		focus := pd.focusField()
		for i := range restockFormLines {
			mf, qf := fmt.Sprintf("model.%d", i), fmt.Sprintf("quantity.%d", i)
			d.Lines = append(d.Lines, restockFormLine{N: i + 1, ModelField: mf, QtyField: qf,
				ModelID: fmt.Sprintf("model-%d", i), QtyID: fmt.Sprintf("quantity-%d", i), Model: f.Values[mf], Quantity: f.Values[qf],
				ModelError: f.Errors[mf], QtyError: f.Errors[qf], ModelFocus: focus == mf, QtyFocus: focus == qf})
		}
	}
	s.render(c, status, tplRestock, pd)
}

// webRestockCreate adds the manager's lines to the centre's open request.
func (s *Server) webRestockCreate(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	if !mayRequestRestock(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, restockFormFields())
	in := models.RestockInput{Lines: []models.RestockLineInput{}, Note: f.Values["note"]}
	var rows []int // the form line of each line of the input
	for i := range restockFormLines {
		mf, qf := fmt.Sprintf("model.%d", i), fmt.Sprintf("quantity.%d", i)
		model, qty := f.Values[mf], f.Values[qf]
		if model == "" && qty == "" {
			continue
		}
		n := formInt(lang, f, qf)
		if model == "" {
			f.fieldError(mf, tr(lang, "restock.err.model"))
		}
		if qty == "" {
			f.fieldError(qf, tr(lang, "restock.err.quantity"))
		}
		in.Lines = append(in.Lines, models.RestockLineInput{Model: model, Quantity: n})
		rows = append(rows, i)
	}
	if len(in.Lines) == 0 {
		f.fieldError("model.0", tr(lang, "restock.err.no_lines"))
	}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, idx := splitFieldPath(fe.Field)
		if name == "lines" && idx >= 0 && idx < len(rows) {
			if strings.HasSuffix(fe.Field, ".quantity") {
				return fmt.Sprintf("quantity.%d", rows[idx]), fieldMessage(lang, fe)
			}
			return fmt.Sprintf("model.%d", rows[idx]), fieldMessage(lang, fe)
		}
		return name, fieldMessage(lang, fe)
	}
	if len(in.Lines) > 0 {
		if err := s.validate(&in); err != nil {
			repairFieldErrors(lang, f, err, fieldOf)
		}
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRestockList(c, http.StatusBadRequest, f)
		return
	}
	r, err := s.inventory.RequestRestock(ctx, p, in)
	if err != nil {
		if status, ok := s.invRefusal(c, f, err, nil, fieldOf); ok {
			s.renderRestockList(c, status, f)
		}
		return
	}
	s.setFlash(c, "flash.restock_requested", r.Reference)
	c.Redirect(http.StatusSeeOther, restockPath(r.ID))
}

// restockPage is the data of a restock request's page.
type restockPage struct {
	ID, Reference, Centre, Warehouse       string
	Status, StatusLabel                    string
	Created, Fulfilled, Received, LeadTime string
	Note, RejectReason, TimeZone           string
	Lines                                  []restockLineView
	Asked, Pending                         int
	Units                                  []restockUnitRow
	CanFulfil, CanReceive                  bool
	FulfilURL, ReceiveURL, RejectURL       string
	Failed                                 string
}

// restockUnitRow is a unit shipped for a request.
type restockUnitRow struct {
	IMEI, URL, Model, Shipped, Received string
	Arrived                             bool
}

// webRestockParam loads the request of the path, or shows the error page.
func (s *Server) webRestockParam(c *gin.Context) (*models.RestockRequest, bool) {
	return webLoad(s, c, s.inventory.GetRestock)
}

// webRestock shows a request: what it asks for and which units were shipped for it;
// with fulfilment and rejection for the warehouse, and receipt for the centre.
func (s *Server) webRestock(c *gin.Context) {
	r, ok := s.webRestockParam(c)
	if !ok {
		return
	}
	s.renderRestock(c, http.StatusOK, r, nil)
}

func (s *Server) renderRestock(c *gin.Context, status int, r *models.RestockRequest, in *returnForm) {
	lang, p := webLang(c), principal(c)
	zones := s.centreZones(c, p, &r.CentreCode)
	loc := zoneOf(zones, r.CentreCode)
	d := restockPage{ID: r.ID, Reference: r.Reference, Centre: r.CentreCode, Warehouse: r.WarehouseCode, Status: r.Status,
		StatusLabel: tr(lang, "restock.status."+r.Status), Created: formatTime(lang, r.CreatedAt, loc),
		Fulfilled: timeOr(lang, r.FulfilledAt, loc), Received: timeOr(lang, r.ReceivedAt, loc),
		Note: deref(r.Note), RejectReason: deref(r.RejectReason), TimeZone: loc.String(),
		FulfilURL: restockPath(r.ID) + "/fulfil", ReceiveURL: restockPath(r.ID) + "/receive", RejectURL: restockPath(r.ID) + "/reject"}
	if r.LeadTimeHours != nil {
		d.LeadTime = humanDuration(time.Duration(*r.LeadTimeHours * float64(time.Hour)))
	}
	d.Lines, d.Asked = restockLines(lang, r.Lines)
	for _, u := range r.Units {
		row := restockUnitRow{IMEI: u.IMEI, URL: unitPath(u.IMEI), Model: u.Model, Shipped: formatTime(lang, u.ShippedAt, loc),
			Received: timeOr(lang, u.ReceivedAt, loc), Arrived: u.ReceivedAt != nil}
		if !row.Arrived {
			d.Pending++
		}
		d.Units = append(d.Units, row)
	}
	d.CanFulfil = r.Status == models.RestockOpen && mayFulfilRestock(p)
	d.CanReceive = r.Status == models.RestockFulfilled && d.Pending > 0 && mayReceiveRestock(p)
	f := newForm("imeis", "reason")
	focus := ""
	if d.CanFulfil || d.CanReceive {
		focus = "imeis"
	}
	if in != nil {
		d.Failed = in.which
		for k, v := range in.f.Values {
			f.Values[k] = v
		}
		for k, v := range in.f.Errors {
			f.Errors[k] = v
		}
		f.Message = in.f.Message
		if in.which == "reject" {
			focus = "reason"
		}
	}
	s.render(c, status, tplRestockRequest, &pageData{Title: tr(lang, "restock.request_title", r.Reference), Form: f, Focus: focus, Data: d})
}

// webRestockFulfil ships the scanned units of the warehouse's stock for a request.
func (s *Server) webRestockFulfil(c *gin.Context) {
	s.restockScan(c, mayFulfilRestock, "fulfil", s.inventory.FulfilRestock, "flash.restock_fulfilled")
}

// webRestockReceive scans shipped units in at the centre.
func (s *Server) webRestockReceive(c *gin.Context) {
	s.restockScan(c, mayReceiveRestock, "receive", s.inventory.ReceiveRestock, "flash.restock_received")
}

// restockScan is fulfilment and receipt: a list of IMEIs scanned for a request.
func (s *Server) restockScan(c *gin.Context, may func(models.Principal) bool, which string,
	act func(context.Context, models.Principal, string, []string) (*models.RestockRequest, error), flash string) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRestockParam(c)
	if !ok {
		return
	}
	if !may(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, []string{"imeis"})
	imeis := readIMEIs(c, f, "imeis")
	checkIMEIs(lang, f, "imeis", imeis, true)
	in := &returnForm{f: f, which: which}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRestock(c, http.StatusBadRequest, r, in)
		return
	}
	done, err := act(ctx, p, r.ID, imeis)
	if err != nil {
		if status, ok := s.invRefusal(c, f, err, map[string]scanned{"imeis": {"imeis", imeis}}, nil); ok {
			s.renderRestock(c, status, r, in)
		}
		return
	}
	pending := 0
	for _, u := range done.Units {
		if u.ReceivedAt == nil {
			pending++
		}
	}
	if which == "receive" && pending > 0 {
		s.setFlash(c, "flash.restock_received_partly", strconv.Itoa(pending))
	} else {
		s.setFlash(c, flash, strconv.Itoa(len(imeis)))
	}
	c.Redirect(http.StatusSeeOther, restockPath(r.ID))
}

// webRestockReject refuses an open request, for the reason given.
func (s *Server) webRestockReject(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRestockParam(c)
	if !ok {
		return
	}
	if !mayFulfilRestock(p) {
		s.refuseRole(c)
		return
	}
	f := readForm(c, []string{"reason"})
	in := &returnForm{f: f, which: "reject"}
	reason := models.ReasonInput{Reason: f.Values["reason"]}
	fieldOf := func(fe models.FieldError) (string, string) { return "reason", fieldMessage(lang, fe) }
	if err := s.validate(&reason); err != nil {
		repairFieldErrors(lang, f, err, fieldOf)
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRestock(c, http.StatusBadRequest, r, in)
		return
	}
	if _, err := s.inventory.RejectRestock(ctx, p, r.ID, reason.Reason); err != nil {
		if status, ok := s.invRefusal(c, f, err, nil, fieldOf); ok {
			s.renderRestock(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.restock_rejected", r.Reference)
	c.Redirect(http.StatusSeeOther, restockPath(r.ID))
}

// ---- The warehouse's inbox ----

// warehousePage is the data of the warehouse's inbox.
type warehousePage struct {
	ToReceive     []returnRow
	Discrepancies []returnRow
	ToFulfil      []restockRow
}

// webWarehouse is the warehouse's work: shipments on their way to receive, received
// ones with discrepancies still open, and restock requests to fulfil.
func (s *Server) webWarehouse(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	if !mayReceiveReturns(p) {
		s.refuseRole(c)
		return
	}
	zones := s.centreZones(c, p, nil)
	var d warehousePage
	page := services.Page{Limit: services.MaxLimit}
	dispatched, _, err := s.inventory.ListReturns(ctx, p, models.ReturnDispatched, page)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, r := range dispatched {
		d.ToReceive = append(d.ToReceive, viewReturnRow(lang, r, zones))
	}
	withIssues, _, err := s.inventory.ListReturns(ctx, p, models.ReturnReceivedWithDiscrepancies, page)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, r := range withIssues {
		if row := viewReturnRow(lang, r, zones); row.Open > 0 {
			d.Discrepancies = append(d.Discrepancies, row)
		}
	}
	open, _, err := s.inventory.ListRestock(ctx, p, services.RestockFilter{Status: models.RestockOpen}, page)
	if err != nil {
		s.webError(c, err)
		return
	}
	for _, r := range open {
		d.ToFulfil = append(d.ToFulfil, viewRestockRow(lang, r, zones))
	}
	title := tr(lang, "warehouse.title")
	if p.WarehouseCode != "" {
		title = tr(lang, "warehouse.title_code", p.WarehouseCode)
	}
	s.render(c, http.StatusOK, tplWarehouse, &pageData{Title: title, Data: d})
}
