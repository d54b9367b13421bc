package api

// The repair order screens: the technician's bench (diagnosis, corrective actions, the
// test checklist driven from the keyboard, certification), the certificate's PDF for
// staff, voiding a certificate, and the public page that verifies one. They call the
// same service methods as the JSON API; a refusal is shown on the form it concerns,
// with the user's input kept, never as a server error.

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// The forms of the repair page, by what they change.
const (
	repairFormDetails = "details"
	repairFormTests   = "tests"
	repairFormCertify = "certify"
	repairFormVoid    = "void"
)

// Where the cursor goes on the repair page besides a form field.
const (
	focusCertify = "certify"
	focusPDF     = "pdf"
)

// testResults are the results a test can get, with the keys that set them on the
// checklist (the first is the one shown).
var testResults = []struct{ Value, Keys string }{
	{models.TestPass, "P A"},
	{models.TestFail, "F"},
	{models.TestNotApplicable, "N"},
}

// webRepairRoutes maps the repair order screens for signed-in staff.
func (s *Server) webRepairRoutes(staff *gin.RouterGroup) {
	staff.GET("/repairs/:id", s.webRepair)
	staff.POST("/repairs/:id", s.webRepairUpdate)
	staff.POST("/repairs/:id/tests", s.webRepairTests)
	staff.POST("/repairs/:id/certify", s.webRepairCertify)
	staff.GET("/certificates/:number", s.webCertificatePDF)
	staff.POST("/certificates/:number/void", s.webCertificateVoid)
}

func repairPath(id string) string { return "/repairs/" + url.PathEscape(id) }

func certificateWebPath(number string) string { return "/certificates/" + url.PathEscape(number) }

func verifyPath(code string) string { return "/verify/" + url.PathEscape(code) }

// mayWorkRepair and mayVoidCertificate say which forms to offer; the services decide.
func mayWorkRepair(p models.Principal) bool {
	return p.Role == models.RoleTechnician || p.Role == models.RoleCentreManager || p.Role == models.RoleAdmin
}

func mayVoidCertificate(p models.Principal) bool {
	return p.Role == models.RoleCentreManager || p.Role == models.RoleAdmin
}

// repairPage is the data of the repair order page.
type repairPage struct {
	ID, URL                      string
	Ticket                       ticketView
	ReceivedIMEI, ExpectedIMEI   string
	IMEIDiffers                  bool
	MismatchReason               string
	Condition                    string
	Accessories                  []string
	Status, StatusLabel, Outcome string
	Technician, ReceivedAt       string
	TimeZone                     string
	// MayWork is the user's role; CanWork adds that the order is open.
	MayWork, CanWork, Open bool
	// Failed is the form shown again with the user's input; MessageOnTop says its
	// message goes above the page, the form being gone (a certified order's, say).
	Failed         string
	MessageOnTop   bool
	Diagnosis      string
	Actions        []string
	ActionBoxes    []actionBox
	Tests          []testRow
	Summary        checklistView
	DetailsVersion string
	TestsVersion   string
	UpdateURL      string
	TestsURL       string
	CertifyURL     string
	Outcomes       []outcomeChoice
	CertLangs      []option
	Certificate    *certificateView
	MayVoid        bool
	// Swap is the order's latest swap onto a backup device; CanSwap says the swap form
	// is offered (the order open, no live swap), with what the centre has in stock.
	Swap      *swapView
	CanSwap   bool
	SwapURL   string
	SwapStock []stockRow
	// Focus is where the cursor starts.
	Focus string
}

// actionBox is one corrective action of the catalogue as a checkbox.
type actionBox struct {
	ID, Code, Label, Note string
	Checked, Retired      bool
	Autofocus             bool
}

// testRow is one test of the checklist.
type testRow struct {
	Code, Name                 string
	Mandatory, Retired         bool
	ResultField, NoteField     string
	NoteID, NoteLabel, ErrorID string
	Result, ResultLabel        string
	ResultClass, Note, Error   string
	RecordedAt                 string
	Options                    []resultChoice
	NoteFocus                  bool
}

// resultChoice is one radio button of a test.
type resultChoice struct {
	ID, Value, Label, Keys string
	Checked, Autofocus     bool
}

// outcomeChoice is one radio button of the certification's outcome.
type outcomeChoice struct {
	ID, Value, Label, Hint string
	Checked, Autofocus     bool
}

// checklistView sums up the checklist against what certification needs.
type checklistView struct {
	Total, Recorded, Passed, Failed int
	Missing, NotPassed              string
	Ready                           bool
}

// certificateView is a certificate as staff see it.
type certificateView struct {
	Number, Status, StatusLabel string
	Valid                       bool
	IssuedAt, Outcome           string
	Code, VerifyURL             string
	PDFURL, DownloadURL         string
	VoidedAt, VoidReason        string
	VoidURL                     string
}

// repairForm is a repair page form as posted, for showing it again.
type repairForm struct {
	f     *formState
	which string
	// checked are the catalogue actions ticked on the details form.
	checked map[string]bool
}

// webLoad reads the record the path's id names with get, or shows the error page.
func webLoad[T any](s *Server, c *gin.Context, get func(context.Context, models.Principal, string) (T, error)) (T, bool) {
	v, err := get(c.Request.Context(), principal(c), c.Param("id"))
	if err != nil {
		s.webError(c, err)
		return v, false
	}
	return v, true
}

// webRepairParam loads the repair order of the path, or shows the error page.
func (s *Server) webRepairParam(c *gin.Context) (*models.RepairOrder, bool) {
	return webLoad(s, c, s.repairs.Get)
}

// webRepair shows a repair order: what was received, the technician's findings, the
// checklist, and the certificate; with the forms to work on it for the roles that may.
func (s *Server) webRepair(c *gin.Context) {
	r, ok := s.webRepairParam(c)
	if !ok {
		return
	}
	s.renderRepair(c, http.StatusOK, r, nil)
}

// repairFieldOrder is the order of the fields of the repair page: where the cursor
// goes when several have a message.
func repairFieldOrder(r *models.RepairOrder) []string {
	order := []string{"diagnosis", "actions", "actions_other"}
	for _, t := range r.Tests {
		order = append(order, "result."+t.Code, "note."+t.Code)
	}
	return append(order, "backup_imei", "model", "undo_reason", "outcome", "cert_lang", "reason")
}

func (s *Server) renderRepair(c *gin.Context, status int, r *models.RepairOrder, in *repairForm) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	now := s.now()
	t, err := s.tickets.Get(ctx, p, r.TicketNumber)
	if err != nil {
		s.webError(c, err)
		return
	}
	zones := s.centreZones(c, p, &r.CentreCode)
	if t.CentreCode != nil && *t.CentreCode != r.CentreCode {
		zones = s.centreZones(c, p, t.CentreCode)
	}
	loc := zoneLocation(zones[r.CentreCode])
	d := repairPage{ID: r.ID, URL: repairPath(r.ID), Ticket: viewTicket(lang, *t, zones, now),
		ReceivedIMEI: r.ReceivedIMEI, ExpectedIMEI: t.Device.IMEI, IMEIDiffers: r.ReceivedIMEI != t.Device.IMEI,
		Condition: r.ReceivedCondition, Status: string(r.Status), StatusLabel: tr(lang, "repair.status."+string(r.Status)),
		ReceivedAt: formatTime(lang, r.CreatedAt, loc), TimeZone: loc.String(),
		MayWork: mayWorkRepair(p), Open: r.Status == models.RepairOpen, MayVoid: mayVoidCertificate(p),
		Diagnosis: r.Diagnosis, UpdateURL: repairPath(r.ID), TestsURL: repairPath(r.ID) + "/tests",
		CertifyURL:     repairPath(r.ID) + "/certify",
		DetailsVersion: strconv.Itoa(r.Version), TestsVersion: strconv.Itoa(r.Version)}
	d.CanWork = d.MayWork && d.Open
	if r.IMEIMismatchReason != nil {
		d.MismatchReason = *r.IMEIMismatchReason
	}
	if len(r.Accessories) > 0 {
		_ = json.Unmarshal(r.Accessories, &d.Accessories)
	}
	if r.Technician != nil {
		d.Technician = *r.Technician
	}
	if r.Outcome != nil {
		d.Outcome = tr(lang, "outcome."+*r.Outcome)
	}
	for _, a := range r.Actions {
		d.Actions = append(d.Actions, a.Label(lang))
	}
	if r.Certificate != nil {
		d.Certificate = viewCertificate(lang, r.Certificate, loc)
	}
	d.Swap = viewSwap(lang, r.Swap, loc, d.MayWork, d.Open)
	d.CanSwap = d.CanWork && (d.Swap == nil || !d.Swap.Live)
	d.SwapURL = repairPath(r.ID) + "/swap"
	if d.CanSwap {
		if d.SwapStock, err = s.swapStock(ctx, p, r.CentreCode); err != nil {
			s.webError(c, err)
			return
		}
	}

	// One form state for the page: what is stored, and over it what the user posted
	// on the form that failed.
	f := newForm(repairFieldOrder(r)...)
	f.Values["diagnosis"] = r.Diagnosis
	var other []string
	for _, a := range r.Actions {
		if a.Code == "" {
			other = append(other, a.Text)
		}
	}
	f.Values["actions_other"] = strings.Join(other, "\n")
	for _, tv := range r.Tests {
		if tv.Result != nil {
			f.Values["result."+tv.Code] = *tv.Result
		}
		f.Values["note."+tv.Code] = tv.Note
	}
	f.Values["outcome"] = models.OutcomeRepaired
	if d.Swap != nil && d.Swap.Live {
		f.Values["outcome"] = models.OutcomeSwapped
	}
	f.Values["model"] = t.Device.Model
	f.Values["cert_lang"] = langES
	checked := map[string]bool{}
	for _, a := range r.Actions {
		if a.Code != "" {
			checked[a.Code] = true
		}
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
		switch in.which {
		case repairFormDetails:
			checked = in.checked
			d.DetailsVersion = in.f.Values["version"]
		case repairFormTests:
			d.TestsVersion = in.f.Values["version"]
		}
	}

	if d.CanWork {
		actions, err := s.repairs.ListCatalogue(ctx, p, services.CatalogueActions)
		if err != nil {
			s.webError(c, err)
			return
		}
		d.ActionBoxes = actionBoxes(lang, actions, r.Actions, checked)
	}
	var active map[string]bool
	if d.CanWork {
		tests, err := s.repairs.ListCatalogue(ctx, p, services.CatalogueTests)
		if err != nil {
			s.webError(c, err)
			return
		}
		active = map[string]bool{}
		for _, it := range tests {
			active[it.Code] = it.Active
		}
	}
	d.Tests, d.Summary = testRows(lang, r, f, active, loc)
	for _, o := range []string{models.OutcomeRepaired, models.OutcomeSwapped} {
		hint := ""
		if o == models.OutcomeSwapped {
			hint = tr(lang, "repair.swap_hint")
		}
		d.Outcomes = append(d.Outcomes, outcomeChoice{ID: "outcome-" + o, Value: o, Label: tr(lang, "outcome."+o), Hint: hint,
			Checked: f.Values["outcome"] == o})
	}
	d.CertLangs = []option{{langES, tr(lang, "lang.es")}, {langEN, tr(lang, "lang.en")}}
	switch d.Failed {
	case repairFormDetails, repairFormTests, repairFormCertify:
		d.MessageOnTop = !d.CanWork
	case repairFormVoid:
		d.MessageOnTop = !d.MayVoid || d.Certificate == nil || !d.Certificate.Valid
	case repairFormSwap:
		d.MessageOnTop = !d.CanSwap
	case repairFormSwapRetry:
		d.MessageOnTop = d.Swap == nil || !d.Swap.MayRetry
	case repairFormSwapUndo:
		d.MessageOnTop = d.Swap == nil || !d.Swap.MayUndo
	}

	pd := &pageData{Title: tr(lang, "repair.title", r.TicketNumber), Form: f, Focus: d.defaultFocus(in)}
	d.Focus = pd.focusField()
	d.markFocus()
	pd.Data = d
	s.render(c, status, tplRepair, pd)
}

// defaultFocus is where the cursor starts when no field has a message: back in the
// form that was posted, else at the next step of the work (the diagnosis, the first
// test without a result, certifying), else on the certificate to print.
func (d *repairPage) defaultFocus(in *repairForm) string {
	firstOpen := ""
	for _, t := range d.Tests {
		if !t.Retired && t.Result == "" {
			firstOpen = t.ResultField
			break
		}
	}
	if in != nil {
		switch in.which {
		case repairFormDetails:
			return "diagnosis"
		case repairFormTests:
			if firstOpen != "" {
				return firstOpen
			}
			return focusCertify
		case repairFormCertify:
			return focusCertify
		case repairFormVoid:
			return "reason"
		case repairFormSwap:
			return "backup_imei"
		case repairFormSwapUndo:
			return "undo_reason"
		case repairFormSwapRetry:
			return focusSwapRetry
		}
	}
	switch {
	case d.Swap != nil && d.Swap.MayRetry:
		// CSM could not move the line: that comes before anything else.
		return focusSwapRetry
	case d.CanWork && strings.TrimSpace(d.Diagnosis) == "":
		return "diagnosis"
	case d.CanWork && firstOpen != "":
		return firstOpen
	case d.CanWork:
		return focusCertify
	case d.Certificate != nil && d.Certificate.Valid:
		return focusPDF
	}
	return ""
}

// markFocus puts the cursor's mark on the element of d.Focus that is not a plain field.
func (d *repairPage) markFocus() {
	if d.Focus == "actions" && len(d.ActionBoxes) > 0 {
		d.ActionBoxes[0].Autofocus = true
	}
	for i := range d.Tests {
		row := &d.Tests[i]
		switch d.Focus {
		case row.NoteField:
			row.NoteFocus = true
		case row.ResultField:
			at := 0
			for j, o := range row.Options {
				if o.Checked {
					at = j
				}
			}
			if len(row.Options) > 0 {
				row.Options[at].Autofocus = true
			}
		}
	}
	if d.Focus == "outcome" {
		for i := range d.Outcomes {
			if d.Outcomes[i].Checked {
				d.Outcomes[i].Autofocus = true
			}
		}
	}
}

// actionBoxes are the checkboxes of the corrective actions: the active catalogue, and
// any action the order records that the catalogue has retired since.
func actionBoxes(lang string, catalogue []models.CatalogueItem, stored []models.ActionView, checked map[string]bool) []actionBox {
	notes := map[string]string{}
	for _, a := range stored {
		if a.Code != "" {
			notes[a.Code] = a.Text
		}
	}
	name := func(es, en string) string {
		if lang == langEN {
			return en
		}
		return es
	}
	var boxes []actionBox
	seen := map[string]bool{}
	for _, it := range catalogue {
		if !it.Active && !checked[it.Code] && notes[it.Code] == "" {
			continue
		}
		seen[it.Code] = true
		boxes = append(boxes, actionBox{ID: "action-" + it.Code, Code: it.Code, Label: name(it.NameES, it.NameEN),
			Note: notes[it.Code], Checked: checked[it.Code], Retired: !it.Active})
	}
	for _, a := range stored {
		if a.Code != "" && !seen[a.Code] {
			seen[a.Code] = true
			label := name(a.NameES, a.NameEN)
			if label == "" {
				label = a.Code
			}
			boxes = append(boxes, actionBox{ID: "action-" + a.Code, Code: a.Code, Label: label, Note: a.Text,
				Checked: checked[a.Code], Retired: true})
		}
	}
	return boxes
}

// testRows are the rows of the checklist with the results of f, and its summary. A
// test the catalogue no longer has (active says, when known) cannot be recorded again.
func testRows(lang string, r *models.RepairOrder, f *formState, active map[string]bool, loc *time.Location) ([]testRow, checklistView) {
	var rows []testRow
	var sum checklistView
	var missing, notPassed []string
	for _, t := range r.Tests {
		name := t.NameES
		if lang == langEN {
			name = t.NameEN
		}
		row := testRow{Code: t.Code, Name: name, Mandatory: t.Mandatory, ResultField: "result." + t.Code,
			NoteField: "note." + t.Code, NoteID: "note-" + t.Code, ErrorID: "test-" + t.Code + "-error",
			Result: f.Values["result."+t.Code], Note: f.Values["note."+t.Code],
			Error:     strings.TrimSpace(f.Errors["result."+t.Code] + " " + f.Errors["note."+t.Code]),
			NoteLabel: tr(lang, "repair.note_for", name)}
		row.Retired = active != nil && !active[t.Code]
		if t.RecordedAt != nil {
			row.RecordedAt = formatTime(lang, *t.RecordedAt, loc)
		}
		for _, res := range testResults {
			row.Options = append(row.Options, resultChoice{ID: "t-" + t.Code + "-" + res.Value, Value: res.Value,
				Label: tr(lang, "repair.result."+res.Value), Keys: res.Keys, Checked: row.Result == res.Value})
		}
		if row.Result != "" {
			row.ResultLabel = tr(lang, "repair.result."+row.Result)
			row.ResultClass = row.Result
		} else {
			row.ResultLabel = tr(lang, "repair.result.none")
			row.ResultClass = "none"
		}
		rows = append(rows, row)

		// The summary is of what is stored, as certification will judge it.
		sum.Total++
		if t.Result == nil {
			if t.Mandatory {
				missing = append(missing, name)
			}
			continue
		}
		sum.Recorded++
		switch *t.Result {
		case models.TestPass:
			sum.Passed++
		case models.TestFail:
			sum.Failed++
		}
		if t.Mandatory && *t.Result != models.TestPass {
			notPassed = append(notPassed, name)
		}
	}
	sum.Missing, sum.NotPassed = strings.Join(missing, ", "), strings.Join(notPassed, ", ")
	sum.Ready = len(missing) == 0 && len(notPassed) == 0
	return rows, sum
}

// testNames are the names in lang of the tests with these codes.
func testNames(lang string, r *models.RepairOrder, codes []string) string {
	names := make([]string, 0, len(codes))
	for _, code := range codes {
		name := code
		for _, t := range r.Tests {
			if t.Code == code {
				name = t.NameES
				if lang == langEN {
					name = t.NameEN
				}
			}
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

func viewCertificate(lang string, cert *models.Certificate, loc *time.Location) *certificateView {
	v := &certificateView{Number: cert.Number, Status: cert.Status, StatusLabel: tr(lang, "cert.status."+cert.Status),
		Valid: cert.Status == models.CertificateValid, IssuedAt: formatTime(lang, cert.IssuedAt, loc),
		Outcome: tr(lang, "outcome."+cert.Outcome), Code: services.FormatVerificationCode(cert.VerificationCode),
		VerifyURL: verifyPath(cert.VerificationCode), PDFURL: certificateWebPath(cert.Number),
		DownloadURL: certificateWebPath(cert.Number) + "?download=1", VoidURL: certificateWebPath(cert.Number) + "/void"}
	if cert.VoidedAt != nil {
		v.VoidedAt = formatTime(lang, *cert.VoidedAt, loc)
	}
	if cert.VoidReason != nil {
		v.VoidReason = *cert.VoidReason
	}
	return v
}

// formVersion reads the version a form was read at; nil when it has none.
func formVersion(f *formState) *int {
	if v, err := strconv.Atoi(f.Values["version"]); err == nil {
		return &v
	}
	return nil
}

// webRepairUpdate saves the diagnosis and the corrective actions: the catalogue's
// ticked, and the other actions one per line. An action of the catalogue keeps the
// note the order has for it.
func (s *Server) webRepairUpdate(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRepairParam(c)
	if !ok {
		return
	}
	f := readForm(c, []string{"diagnosis", "actions_other", "version"})
	in := &repairForm{f: f, which: repairFormDetails, checked: map[string]bool{}}
	notes := map[string]string{}
	for _, a := range r.Actions {
		if a.Code != "" {
			notes[a.Code] = a.Text
		}
	}
	// Where each action of the input came from: a checkbox (line 0) or a line of the
	// other actions.
	var actions []models.ActionInput
	var lines []int
	for _, code := range c.PostFormArray("actions") {
		if in.checked[code] || !plainText(code) {
			continue
		}
		in.checked[code] = true
		actions = append(actions, models.ActionInput{Code: code, Text: notes[code]})
		lines = append(lines, 0)
	}
	for i, line := range strings.Split(f.Values["actions_other"], "\n") {
		if line = strings.TrimSpace(line); line != "" {
			actions = append(actions, models.ActionInput{Text: line})
			lines = append(lines, i+1)
		}
	}
	diagnosis := f.Values["diagnosis"]
	upd := models.RepairUpdate{Diagnosis: &diagnosis, CorrectiveActions: &actions, Version: formVersion(f)}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, idx := splitFieldPath(fe.Field)
		msg := fieldMessage(lang, fe)
		switch {
		case name != "corrective_actions":
			return name, msg
		case idx < 0 || idx >= len(lines):
			return "actions", msg
		case lines[idx] == 0 && strings.HasSuffix(fe.Field, ".code"):
			return "actions", tr(lang, "repair.err.action_retired")
		case lines[idx] == 0:
			return "actions", msg
		}
		return "actions_other", tr(lang, "parse.line", lines[idx], msg)
	}
	if upd.Version != nil {
		if err := s.validate(&upd); err != nil {
			repairFieldErrors(lang, f, err, fieldOf)
		}
	}
	if len(f.Errors) > 0 || upd.Version == nil {
		formRefused(lang, f, upd.Version == nil)
		s.renderRepair(c, http.StatusBadRequest, r, in)
		return
	}
	if _, err := s.repairs.Update(ctx, p, r.ID, upd); err != nil {
		if status, ok := s.repairRefusal(c, f, r, err, fieldOf); ok {
			s.renderRepair(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.repair_saved", "")
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// webRepairTests saves the checklist. The service replaces it whole, so the form sends
// every test's result as shown; a test without one stays without.
func (s *Server) webRepairTests(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRepairParam(c)
	if !ok {
		return
	}
	fields := []string{"version"}
	for _, t := range r.Tests {
		fields = append(fields, "result."+t.Code, "note."+t.Code)
	}
	f := readForm(c, fields)
	in := &repairForm{f: f, which: repairFormTests}
	items, err := s.repairs.ListCatalogue(ctx, p, services.CatalogueTests)
	if err != nil {
		s.webError(c, err)
		return
	}
	active := map[string]bool{}
	for _, it := range items {
		active[it.Code] = it.Active
	}
	upd := models.TestResultsUpdate{Results: []models.TestResultInput{}, Version: formVersion(f)}
	var codes []string
	for _, t := range r.Tests {
		result, note := f.Values["result."+t.Code], f.Values["note."+t.Code]
		if !active[t.Code] {
			// Retired from the catalogue: shown read-only, its stored result kept.
			if t.Result == nil {
				continue
			}
			result, note = *t.Result, t.Note
		}
		switch result {
		case models.TestPass, models.TestFail, models.TestNotApplicable:
			upd.Results = append(upd.Results, models.TestResultInput{Code: t.Code, Result: result, Note: note})
			codes = append(codes, t.Code)
		case "":
			if note != "" {
				f.fieldError("result."+t.Code, tr(lang, "repair.err.note_without_result"))
			}
		default:
			f.fieldError("result."+t.Code, tr(lang, "repair.err.result"))
		}
	}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, idx := splitFieldPath(fe.Field)
		if name != "results" || idx < 0 || idx >= len(codes) {
			return name, fieldMessage(lang, fe)
		}
		if strings.HasSuffix(fe.Field, ".note") {
			return "note." + codes[idx], fieldMessage(lang, fe)
		}
		return "result." + codes[idx], fieldMessage(lang, fe)
	}
	if upd.Version != nil {
		if err := s.validate(&upd); err != nil {
			repairFieldErrors(lang, f, err, fieldOf)
		}
	}
	if len(f.Errors) > 0 || upd.Version == nil {
		formRefused(lang, f, upd.Version == nil)
		s.renderRepair(c, http.StatusBadRequest, r, in)
		return
	}
	saved, err := s.repairs.RecordTests(ctx, p, r.ID, upd)
	if err != nil {
		if status, ok := s.repairRefusal(c, f, r, err, fieldOf); ok {
			s.renderRepair(c, status, r, in)
		}
		return
	}
	if n := len(saved.Checklist.Missing); n > 0 {
		s.setFlash(c, "flash.tests_saved_missing", strconv.Itoa(n))
	} else {
		s.setFlash(c, "flash.tests_saved", "")
	}
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// webRepairCertify closes the repair with its outcome and issues the certificate in
// the language chosen.
func (s *Server) webRepairCertify(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	r, ok := s.webRepairParam(c)
	if !ok {
		return
	}
	f := readForm(c, []string{"outcome", "cert_lang"})
	in := &repairForm{f: f, which: repairFormCertify}
	cert := models.CertifyInput{Outcome: f.Values["outcome"], Lang: f.Values["cert_lang"]}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, _ := splitFieldPath(fe.Field)
		switch name {
		case "outcome":
			return "outcome", tr(lang, "repair.err.outcome")
		case "lang":
			return "cert_lang", fieldMessage(lang, fe)
		}
		return name, fieldMessage(lang, fe)
	}
	if err := s.validate(&cert); err != nil {
		repairFieldErrors(lang, f, err, fieldOf)
	}
	if len(f.Errors) > 0 {
		formRefused(lang, f, false)
		s.renderRepair(c, http.StatusBadRequest, r, in)
		return
	}
	issued, err := s.repairs.Certify(ctx, p, r.ID, cert)
	if err != nil {
		if status, ok := s.repairRefusal(c, f, r, err, fieldOf); ok {
			s.renderRepair(c, status, r, in)
		}
		return
	}
	s.setFlash(c, "flash.certified", issued.Number)
	c.Redirect(http.StatusSeeOther, repairPath(r.ID))
}

// webCertificatePDF serves a certificate's PDF as issued to signed-in staff of its
// centre: inline to view and print, or as a download with ?download=1.
func (s *Server) webCertificatePDF(c *gin.Context) {
	doc, _, err := s.repairs.CertificatePDF(c.Request.Context(), principal(c), c.Param("number"))
	s.webPDF(c, doc, err)
}

// webPDF serves a stored document to signed-in staff, or the error page.
func (s *Server) webPDF(c *gin.Context, doc *models.Document, err error) {
	if err != nil {
		s.webError(c, err)
		return
	}
	// The pages' policy is for HTML; the browser's PDF viewer needs its own plugin.
	c.Writer.Header().Del("Content-Security-Policy")
	writePDF(c, doc)
}

// webCertificateVoid voids a certificate for the reason given, which is required, and
// shows its repair order, open again.
func (s *Server) webCertificateVoid(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	if !mayVoidCertificate(p) {
		s.renderError(c, http.StatusForbidden, tr(lang, "err.forbidden"))
		return
	}
	number := c.Param("number")
	f := readForm(c, []string{"reason"})
	in := models.ReasonInput{Reason: f.Values["reason"]}
	fieldOf := func(fe models.FieldError) (string, string) {
		name, _ := splitFieldPath(fe.Field)
		return name, fieldMessage(lang, fe)
	}
	status := http.StatusBadRequest
	if err := s.validate(&in); err != nil {
		repairFieldErrors(lang, f, err, fieldOf)
	}
	if len(f.Errors) == 0 {
		cert, err := s.repairs.Void(ctx, p, number, in.Reason)
		if err == nil {
			s.setFlash(c, "flash.voided", cert.Number)
			c.Redirect(http.StatusSeeOther, repairPath(cert.RepairID))
			return
		}
		var ok bool
		if status, ok = s.repairRefusal(c, f, nil, err, fieldOf); !ok {
			return
		}
	} else {
		formRefused(lang, f, false)
	}
	// The repair page again, with the form's message.
	_, cert, err := s.repairs.CertificatePDF(ctx, p, number)
	if err != nil {
		s.webError(c, err)
		return
	}
	r, err := s.repairs.Get(ctx, p, cert.RepairID)
	if err != nil {
		s.webError(c, err)
		return
	}
	s.renderRepair(c, status, r, &repairForm{f: f, which: repairFormVoid})
}

// repairFieldErrors puts err's field messages beside the fields fieldOf names, or above
// the form for fields it does not show.
func repairFieldErrors(lang string, f *formState, err error, fieldOf func(models.FieldError) (string, string)) {
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
		field, msg := fieldOf(fe)
		if f.parsed[field] {
			continue
		}
		if f.has(field) {
			f.fieldError(field, msg)
			continue
		}
		other = append(other, fe.Field+": "+msg)
	}
	f.addMessage(tr(lang, "form.errors"))
	for _, m := range other {
		f.addMessage(m)
	}
}

// repairRefusal puts a service's refusal of a repair form on the form and says with
// which status to show it again; errors that are not about the form (not found,
// forbidden, bugs) get the error page instead (ok false). r names the tests a
// refusal lists, when known.
func (s *Server) repairRefusal(c *gin.Context, f *formState, r *models.RepairOrder, err error,
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
	names := func(codes []string) string {
		if r == nil {
			return strings.Join(codes, ", ")
		}
		return testNames(lang, r, codes)
	}
	switch e.Code {
	case "version_conflict":
		f.addMessage(tr(lang, "err.version"))
	case "tests_incomplete":
		missing := []string{}
		if r != nil && r.Checklist != nil {
			missing = r.Checklist.Missing
		}
		f.addMessage(tr(lang, "repair.err.tests_incomplete", names(missing)))
	case "tests_failed":
		failed := []string{}
		if r != nil && r.Checklist != nil {
			failed = r.Checklist.NotPassed
		}
		f.addMessage(tr(lang, "repair.err.tests_failed", names(failed)))
	case "diagnosis_missing":
		f.fieldError("diagnosis", tr(lang, "repair.err.diagnosis_field"))
		f.addMessage(tr(lang, "repair.err.diagnosis_missing"))
	case "actions_missing":
		f.fieldError("actions", tr(lang, "repair.err.actions_field"))
		f.addMessage(tr(lang, "repair.err.actions_missing"))
	case "swap_required":
		f.fieldError("outcome", tr(lang, "repair.err.swap_field"))
		f.addMessage(tr(lang, "repair.err.swap_required"))
	case "swap_active", "swap_failed":
		f.fieldError("outcome", tr(lang, "repair.err."+e.Code+"_field"))
		f.addMessage(tr(lang, "repair.err."+e.Code))
	case "repair_not_open", "certificate_void", "unknown_test":
		f.addMessage(tr(lang, "repair.err."+e.Code))
	default:
		repairFieldErrors(lang, f, e, fieldOf)
	}
	return statusOf[e.Kind], true
}

// verifyPage is the data of the public verification page.
type verifyPage struct {
	Found                       bool
	Code                        string
	Valid                       bool
	Status, StatusLabel         string
	Number, IssuedAt, IssuedISO string
	CentreName, CentreCode      string
	DeviceModel, Outcome        string
	VoidedAt, TimeZone          string
}

// webVerify tells anyone holding a certificate whether it is valid, and nothing
// personal: as JSON to a client that asks for it, else as a page readable on a phone.
func (s *Server) webVerify(c *gin.Context) {
	lang := webLang(c)
	c.Header("Vary", "Accept")
	v, err := s.repairs.Verify(c.Request.Context(), c.Param("code"))
	if prefersJSON(c.GetHeader("Accept")) {
		s.respond(c, http.StatusOK, v, err)
		return
	}
	if err != nil {
		if models.ErrorCode(err) != "not_found" {
			s.webError(c, err)
			return
		}
		code := c.Param("code")
		if len(code) > 40 || !plainText(code) {
			code = strings.ToValidUTF8(strings.ReplaceAll(code, "\x00", ""), "")
			if r := []rune(code); len(r) > 40 {
				code = string(r[:40]) + "…"
			}
		}
		s.render(c, http.StatusNotFound, tplVerify, &pageData{Title: tr(lang, "verify.not_found_title"),
			Data: verifyPage{Code: code}})
		return
	}
	loc := zoneLocation(v.TimeZone)
	code := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(c.Param("code")))
	d := verifyPage{Found: true, Code: services.FormatVerificationCode(code),
		Valid: v.Status == models.CertificateValid, Status: v.Status, StatusLabel: tr(lang, "cert.status."+v.Status),
		Number: v.Number, IssuedAt: formatTime(lang, v.IssuedAt, loc), IssuedISO: v.IssuedAt.UTC().Format(time.RFC3339),
		CentreName: v.CentreName, CentreCode: v.CentreCode, DeviceModel: v.DeviceModel,
		Outcome: tr(lang, "outcome."+v.Outcome), TimeZone: loc.String()}
	if v.VoidedAt != nil {
		d.VoidedAt = formatTime(lang, *v.VoidedAt, loc)
	}
	s.render(c, http.StatusOK, tplVerify, &pageData{Title: tr(lang, "verify.title"), Data: d})
}

// prefersJSON reports whether an Accept header ranks application/json above
// text/html; a browser's (or no header) gets the page.
func prefersJSON(accept string) bool {
	if accept == "" {
		return false
	}
	quality := func(typ, sub string) float64 {
		best, specificity := 0.0, -1
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			t, st, _ := strings.Cut(mt, "/")
			spec := -1
			switch {
			case t == typ && st == sub:
				spec = 2
			case t == typ && st == "*":
				spec = 1
			case t == "*" && st == "*":
				spec = 0
			}
			if spec < specificity || spec < 0 {
				continue
			}
			q := 1.0
			if raw, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(raw, 64); err == nil && v >= 0 && v <= 1 {
					q = v
				}
			}
			if spec > specificity {
				best, specificity = q, spec
			} else if q > best {
				best = q
			}
		}
		return best
	}
	j := quality("application", "json")
	return j > 0 && j > quality("text", "html")
}

// ticketRepair is what the ticket page shows of its repair order and certificate.
type ticketRepair struct {
	URL, Status, StatusLabel, Outcome string
	Certificate                       *certificateView
}

func viewTicketRepair(lang string, r *models.RepairSummary) *ticketRepair {
	if r == nil {
		return nil
	}
	v := &ticketRepair{URL: repairPath(r.ID), Status: r.Status, StatusLabel: tr(lang, "repair.status."+r.Status)}
	if r.Outcome != nil {
		v.Outcome = tr(lang, "outcome."+*r.Outcome)
	}
	if c := r.Certificate; c != nil {
		v.Certificate = &certificateView{Number: c.Number, Status: c.Status, StatusLabel: tr(lang, "cert.status."+c.Status),
			Valid: c.Status == models.CertificateValid, Code: services.FormatVerificationCode(c.VerificationCode),
			VerifyURL: verifyPath(c.VerificationCode), PDFURL: certificateWebPath(c.Number),
			DownloadURL: certificateWebPath(c.Number) + "?download=1"}
	}
	return v
}
