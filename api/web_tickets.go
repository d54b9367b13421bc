package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// webListLimit is how many tickets a page of the list shows unless ?limit= says.
const webListLimit = 25

// lookupPage is the data of the ticket lookup page.
type lookupPage struct {
	ShowQueue bool
}

// ticketView is a ticket as the pages show it: words in the page's language and times
// in its centre's time zone.
type ticketView struct {
	Number, URL                       string
	Status, StatusLabel               string
	SLAState, SLALabel                string
	Company, Account, Contact         string
	Phone, Email, MSISDN              string
	Brand, Model, IMEI                string
	FaultCategory, FaultDescription   string
	ReportedAt, DueAt, DueISO         string
	Remaining                         string
	Overdue, Open                     bool
	CentreCode, TimeZone              string
	Outcome                           string
	ResolvedAt, CancelledAt, ClosedAt string
	// CountdownLeft and CountdownOverdue are the countdown's phrases with {} for
	// the time, for the script that keeps it live.
	CountdownLeft, CountdownOverdue string
	// Appt is the ticket's appointment, on the ticket page; BookURL and WalkInURL
	// are set when the ticket can be booked or received without one.
	Appt                *apptView
	MayBook, MayCheckIn bool
	BookURL, WalkInURL  string
	// Repair is the ticket's repair order and certificate, on the ticket page.
	Repair *ticketRepair
}

// ticketPath is the page of a ticket. Ticket numbers may hold '/', escaped as %2F so
// the route still matches.
func ticketPath(number string) string { return "/tickets/" + url.PathEscape(number) }

// webLookup is the home page of staff: one field for the scanner. With ?q= it looks
// the ticket up and goes to its page, or says it is not there.
func (s *Server) webLookup(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" {
		s.renderLookup(c, http.StatusOK, newForm("q"))
		return
	}
	t, err := s.tickets.Get(c.Request.Context(), principal(c), q)
	if err != nil {
		s.lookupFailed(c, q, err)
		return
	}
	c.Redirect(http.StatusSeeOther, ticketPath(t.TicketNumber))
}

// lookupFailed shows the lookup page again with the number kept and the message
// beside it when the ticket is not there (or not the caller's).
func (s *Server) lookupFailed(c *gin.Context, q string, err error) {
	if models.ErrorCode(err) != "not_found" {
		s.webError(c, err)
		return
	}
	f := newForm("q")
	f.Values["q"] = q
	f.Errors["q"] = tr(webLang(c), "lookup.notfound", q)
	s.renderLookup(c, http.StatusNotFound, f)
}

func (s *Server) renderLookup(c *gin.Context, status int, f *formState) {
	p := principal(c)
	s.render(c, status, tplLookup, &pageData{Title: tr(webLang(c), "lookup.title"), Form: f,
		Data: lookupPage{ShowQueue: p.Role.AtCentre()}})
}

// webTicket shows one ticket with its SLA, its appointment and what can be done
// about it.
func (s *Server) webTicket(c *gin.Context) {
	number := c.Param("number")
	p := principal(c)
	t, err := s.tickets.Get(c.Request.Context(), p, number)
	if err != nil {
		s.lookupFailed(c, number, err)
		return
	}
	zones := s.centreZones(c, p, t.CentreCode)
	now := s.now()
	v := viewTicket(webLang(c), *t, zones, now)
	ticketAppointment(webLang(c), p, t, &v, now)
	v.Repair = viewTicketRepair(webLang(c), t.Repair)
	s.render(c, http.StatusOK, tplTicket, &pageData{Title: tr(webLang(c), "ticket.title", t.TicketNumber), Data: v})
}

// ticketsPage is the data of the ticket list.
type ticketsPage struct {
	Items            []ticketView
	Status, SLAState string
	Statuses         []option
	SLAStates        []option
	NextURL          string
	FirstURL         string
}

// option is one choice of a select.
type option struct{ Value, Label string }

// webTickets lists the tickets the user may see, soonest deadline first: a centre's
// own queue for centre staff.
func (s *Server) webTickets(c *gin.Context) {
	lang := webLang(c)
	p := principal(c)
	f := models.TicketFilter{Status: c.Query("status"), SLAState: c.Query("sla_state")}
	limit, err := queryInt(c, "limit", webListLimit)
	if err == nil && (limit < 1 || limit > 100) {
		err = models.Invalid(models.FieldError{Field: "limit", Rule: "range", Message: "must be from 1 to 100"})
	}
	if err == nil {
		err = s.validate(f)
	}
	if err != nil {
		s.webError(c, err)
		return
	}
	cursor := c.Query("cursor")
	items, next, err := s.tickets.Search(c.Request.Context(), p, f, services.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		s.webError(c, err)
		return
	}
	zones := s.centreZones(c, p, nil)
	now := s.now()
	d := ticketsPage{Status: f.Status, SLAState: f.SLAState}
	for _, t := range items {
		d.Items = append(d.Items, viewTicket(lang, t, zones, now))
	}
	for _, st := range models.TicketStatuses {
		d.Statuses = append(d.Statuses, option{string(st), tr(lang, "status."+string(st))})
	}
	for _, st := range []models.SLAState{models.SLAOnTime, models.SLAAtRisk, models.SLALate} {
		d.SLAStates = append(d.SLAStates, option{string(st), tr(lang, "sla."+string(st))})
	}
	page := func(cur string) string {
		q := url.Values{}
		if f.Status != "" {
			q.Set("status", f.Status)
		}
		if f.SLAState != "" {
			q.Set("sla_state", f.SLAState)
		}
		if limit != webListLimit {
			q.Set("limit", fmt.Sprint(limit))
		}
		if cur != "" {
			q.Set("cursor", cur)
		}
		if len(q) == 0 {
			return "/tickets"
		}
		return "/tickets?" + q.Encode()
	}
	if next != "" {
		d.NextURL = page(next)
	}
	if cursor != "" {
		d.FirstURL = page("")
	}
	title := tr(lang, "tickets.title")
	if p.Role.AtCentre() {
		title = tr(lang, "tickets.title_centre", p.CentreCode)
	}
	s.render(c, http.StatusOK, tplTickets, &pageData{Title: title, Data: d})
}

// centreZones returns the time zones of the centres p may see, by code: of the one
// centre named by only, or of all of them when only is nil. Centres it cannot read
// are shown in the default zone.
func (s *Server) centreZones(c *gin.Context, p models.Principal, only *string) map[string]string {
	zones := map[string]string{}
	ctx := c.Request.Context()
	if only != nil {
		if centre, err := s.admin.GetCentre(ctx, p, *only); err == nil {
			zones[centre.Code] = centre.TimeZone
		}
		return zones
	}
	if centres, err := s.admin.ListCentres(ctx, p); err == nil {
		for _, centre := range centres {
			zones[centre.Code] = centre.TimeZone
		}
	}
	return zones
}

// viewTicket puts a ticket in the words of lang and the time zone of its centre.
func viewTicket(lang string, t models.Ticket, zones map[string]string, now time.Time) ticketView {
	v := ticketView{
		Number: t.TicketNumber, URL: ticketPath(t.TicketNumber),
		Status: string(t.Status), StatusLabel: tr(lang, "status."+string(t.Status)),
		SLAState: string(t.SLAState), SLALabel: tr(lang, "sla."+string(t.SLAState)),
		Company: t.Customer.Company, Account: t.Customer.AccountNumber, Contact: t.Customer.ContactName,
		Phone: t.Customer.ContactPhone, Email: t.Customer.ContactEmail, MSISDN: t.Line.MSISDN,
		Brand: t.Device.Brand, Model: t.Device.Model, IMEI: t.Device.IMEI,
		FaultCategory: tr(lang, "fault."+t.Fault.Category), FaultDescription: t.Fault.Description,
		CountdownLeft: tr(lang, "sla.left", "{}"), CountdownOverdue: tr(lang, "sla.overdue", "{}"),
	}
	if !hasMessage("fault." + t.Fault.Category) {
		v.FaultCategory = t.Fault.Category
	}
	zone := models.DefaultTimeZone
	if t.CentreCode != nil {
		v.CentreCode = *t.CentreCode
		if z := zones[*t.CentreCode]; z != "" {
			zone = z
		}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		zone = models.DefaultTimeZone
		if loc, err = time.LoadLocation(zone); err != nil {
			loc = time.UTC
		}
	}
	v.TimeZone = zone
	due := t.SLADueAt
	if due.IsZero() {
		due = t.ReportedAt.Add(models.SLA)
	}
	v.ReportedAt = formatTime(lang, t.ReportedAt, loc)
	v.DueAt = formatTime(lang, due, loc)
	v.DueISO = due.UTC().Format(time.RFC3339)
	v.Open = t.ResolvedAt == nil && t.CancelledAt == nil && t.Status != models.TicketClosed && t.Status != models.TicketCancelled
	left := due.Sub(now)
	v.Overdue = left < 0
	if v.Overdue {
		v.Remaining = tr(lang, "sla.overdue", humanDuration(-left))
	} else {
		v.Remaining = tr(lang, "sla.left", humanDuration(left))
	}
	if t.Outcome != nil {
		v.Outcome = tr(lang, "outcome."+*t.Outcome)
	}
	opt := func(at *time.Time) string {
		if at == nil {
			return ""
		}
		return formatTime(lang, *at, loc)
	}
	v.ResolvedAt, v.CancelledAt, v.ClosedAt = opt(t.ResolvedAt), opt(t.CancelledAt), opt(t.ClosedAt)
	return v
}

// formatTime shows t in loc the way people there write it.
func formatTime(lang string, t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	if lang == langEN {
		return lt.Format("2006-01-02 15:04 (MST)")
	}
	return lt.Format("02/01/2006 15:04 (MST)")
}

// humanDuration says d in days, hours and minutes, as the countdown script does.
func humanDuration(d time.Duration) string {
	mins := int(d / time.Minute)
	days, hours, m := mins/(24*60), mins/60%24, mins%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d d %d h", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d h %d min", hours, m)
	}
	return fmt.Sprintf("%d min", m)
}
