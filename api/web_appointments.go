package api

// The appointment screens: a centre's agenda of the day, booking and rescheduling
// from a slot picker, cancelling with a reason, no-shows, and check-in (with a
// booking, or as a walk-in) by scanning the ticket number and then the IMEI. They
// call the same service methods as the JSON API; a business refusal is shown on the
// page in the user's words, never as a server error.

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
)

// Template names of the appointment screens.
const (
	tplAgenda     = "agenda.html"
	tplSlots      = "slots.html"
	tplApptCancel = "appointment_cancel.html"
	tplCheckIn    = "checkin.html"
	tplTicketScan = "ticket_scan.html"
)

// bookDays is how many days the slot picker shows at a time.
const bookDays = 7

// commonAccessories are the accessories the check-in form offers as checkboxes: the
// value is what the repair order records, the key its label.
var commonAccessories = []struct{ Value, Key string }{
	{"cargador", "acc.charger"},
	{"cable USB", "acc.cable"},
	{"estuche", "acc.case"},
	{"tarjeta SIM", "acc.sim"},
	{"caja", "acc.box"},
	{"audífonos", "acc.headphones"},
}

// checkInFields are the fields of the check-in form, in the order they appear.
var checkInFields = []string{"received_imei", "imei_mismatch_reason", "condition", "accessories_other", "centre_code"}

// webAppointmentRoutes maps the appointment screens for signed-in staff.
func (s *Server) webAppointmentRoutes(staff *gin.RouterGroup) {
	staff.GET("/agenda", s.webAgenda)
	staff.GET("/book", s.webBookScan)
	staff.GET("/check-in", s.webCheckInScan)
	staff.GET("/tickets/:number/book", s.webBookForm)
	staff.POST("/tickets/:number/book", s.webBook)
	staff.GET("/tickets/:number/check-in", s.webCheckInForm)
	staff.POST("/tickets/:number/check-in", s.webCheckIn)
	staff.GET("/appointments/:id/reschedule", s.webRescheduleForm)
	staff.POST("/appointments/:id/reschedule", s.webReschedule)
	staff.GET("/appointments/:id/cancel", s.webCancelForm)
	staff.POST("/appointments/:id/cancel", s.webCancel)
	staff.POST("/appointments/:id/no-show", s.webNoShow)
}

// now is the services' clock, so that pages and rules agree on what time it is.
func (s *Server) now() time.Time {
	if s.appointments != nil && s.appointments.Now != nil {
		return s.appointments.Now()
	}
	return time.Now()
}

func apptPath(id string) string { return "/appointments/" + url.PathEscape(id) }

// mayBook and mayCheckIn say which actions to offer; the services decide.
func mayBook(p models.Principal) bool {
	return p.Role == models.RoleCounter || p.Role == models.RoleCentreManager || p.Role == models.RoleAdmin
}

func mayCheckIn(p models.Principal) bool { return mayBook(p) }

// zoneLocation loads a centre's time zone, falling back to the default one.
func zoneLocation(zone string) *time.Location {
	if loc, err := time.LoadLocation(zone); err == nil {
		return loc
	}
	if loc, err := time.LoadLocation(models.DefaultTimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// centreCalendar is the calendar that decides a centre's slots.
func centreCalendar(ce *services.CentreView) models.Calendar {
	closed := make(map[string]bool, len(ce.ClosedDays))
	for _, d := range ce.ClosedDays {
		closed[d] = true
	}
	return models.Calendar{Location: zoneLocation(ce.TimeZone), SlotMinutes: ce.SlotMinutes, Hours: ce.OpeningHours, Closed: closed}
}

// dayLabel says a local date the way people there say it: "lunes 15/06/2026".
func dayLabel(lang string, t time.Time) string {
	wd := tr(lang, "weekday."+strconv.Itoa((int(t.Weekday())+6)%7+1))
	if lang == langEN {
		return wd + " " + t.Format("2006-01-02")
	}
	return wd + " " + t.Format("02/01/2006")
}

// whenLabel says when a slot starts: "lunes 15/06/2026 09:30".
func whenLabel(lang string, t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	return dayLabel(lang, lt) + " " + lt.Format("15:04")
}

// backTo is where an action started from (the agenda, say), when it is a page of
// ours; else def.
func backTo(raw, def string) string {
	if raw == "" {
		return def
	}
	if next := safeNext(raw); next != "/" {
		return next
	}
	return def
}

// apptRefusal turns a service's refusal into a message for the page and its status.
// Errors that are not a refusal of this request (not found, forbidden, bugs) get the
// error page instead (ok false).
func (s *Server) apptRefusal(c *gin.Context, err error) (int, string, bool) {
	e, ok := models.AsError(err)
	if !ok {
		s.webError(c, err)
		return 0, "", false
	}
	switch e.Kind {
	case models.KindInvalid, models.KindConflict, models.KindUnprocessable:
	default:
		s.webError(c, err)
		return 0, "", false
	}
	return statusOf[e.Kind], apptErrorMessage(webLang(c), e), true
}

// apptErrorMessage says an appointment refusal in lang: the codes of the appointment
// rules have their own words in the catalogue.
func apptErrorMessage(lang string, e *models.Error) string {
	if key := "appt.err." + e.Code; hasMessage(key) {
		return tr(lang, key)
	}
	return errorMessage(lang, e)
}

// apptView is an appointment as the ticket page and the forms show it.
type apptView struct {
	ID, Status, StatusLabel                         string
	When, CentreCode                                string
	WithinSLA, WalkIn                               bool
	Booked, Started, Today                          bool
	RepairID, CancelReason                          string
	Version                                         int
	CheckInURL, RescheduleURL, CancelURL, NoShowURL string
}

func viewAppointment(lang string, a *models.Appointment, loc *time.Location, now time.Time) *apptView {
	v := &apptView{ID: a.ID, Status: string(a.Status), StatusLabel: tr(lang, "appt.status."+string(a.Status)),
		When: whenLabel(lang, a.StartsAt, loc) + "–" + a.EndsAt.In(loc).Format("15:04"), CentreCode: a.CentreCode,
		WithinSLA: a.WithinSLA, WalkIn: a.WalkIn, Booked: a.Status == models.AppointmentBooked,
		Started: !now.Before(a.StartsAt), Version: a.Version,
		Today:      now.In(loc).Format(time.DateOnly) == a.StartsAt.In(loc).Format(time.DateOnly),
		CheckInURL: ticketPath(a.TicketNumber) + "/check-in", RescheduleURL: apptPath(a.ID) + "/reschedule",
		CancelURL: apptPath(a.ID) + "/cancel", NoShowURL: apptPath(a.ID) + "/no-show"}
	if a.RepairID != nil {
		v.RepairID = *a.RepairID
	}
	if a.CancelReason != nil {
		v.CancelReason = *a.CancelReason
	}
	return v
}

// ticketAppointment fills in the appointment part of the ticket page: the ticket's
// appointment and what the user may do about it.
func ticketAppointment(lang string, p models.Principal, t *models.Ticket, v *ticketView, now time.Time) {
	loc := zoneLocation(v.TimeZone)
	if t.Appointment != nil {
		v.Appt = viewAppointment(lang, t.Appointment, loc, now)
	}
	v.MayBook, v.MayCheckIn = mayBook(p), mayCheckIn(p)
	if t.Status == models.TicketReferred {
		v.BookURL = ticketPath(t.TicketNumber) + "/book"
		v.WalkInURL = ticketPath(t.TicketNumber) + "/check-in"
	}
}

// agendaPage is the data of the agenda.
type agendaPage struct {
	CentreCode, CentreName, TimeZone string
	Date, DayLabel                   string
	IsToday                          bool
	PrevURL, NextURL, TodayURL       string
	Centres                          []option
	Slots                            []agendaSlot
	Counts                           []agendaCount
	MayBook, MayCheckIn              bool
	Back                             string
}

// agendaSlot is one slot of the day with its appointments.
type agendaSlot struct {
	Time, End              string
	Capacity, Active, Free int
	Started, Now           bool
	Entries                []agendaRow
}

// agendaRow is one appointment of the agenda.
type agendaRow struct {
	ID, Number, TicketURL          string
	Company, Contact, Device       string
	Attendance, AttendanceLabel    string
	SLAState, SLALabel             string
	WithinSLA, WalkIn              bool
	RepairID                       string
	CheckInURL, RescheduleURL      string
	CancelURL, NoShowURL           string
	CanCheckIn, CanNoShow, CanMove bool
}

// agendaCount is how many appointments of the day stand in one attendance state.
type agendaCount struct {
	Attendance, Label string
	N                 int
}

// webAgenda shows a centre's appointments of one day, slot by slot: centre staff see
// their own centre, admins choose one with ?centre=.
func (s *Server) webAgenda(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	code := p.CentreCode
	d := agendaPage{MayBook: mayBook(p), MayCheckIn: mayCheckIn(p)}
	if !p.Role.AtCentre() {
		list, err := s.admin.ListCentres(ctx, p)
		if err != nil {
			s.webError(c, err)
			return
		}
		for _, ce := range list {
			d.Centres = append(d.Centres, option{ce.Code, ce.Code + " · " + ce.Name})
		}
		code = strings.ToUpper(strings.TrimSpace(c.Query("centre")))
		if code == "" && len(list) > 0 {
			code = list[0].Code
		}
	}
	if !models.ValidCode(code) {
		s.webError(c, models.NotFound("centre"))
		return
	}
	centre, err := s.admin.GetCentre(ctx, p, code)
	if err != nil {
		s.webError(c, err)
		return
	}
	cal := centreCalendar(centre)
	now := s.now()
	today := now.In(cal.Location).Format(time.DateOnly)
	date := strings.TrimSpace(c.Query("date"))
	if date == "" {
		date = today
	}
	day, err := time.ParseInLocation(time.DateOnly, date, cal.Location)
	if err != nil || day.Year() < 2000 || day.Year() > 2999 {
		s.webError(c, models.Invalid(models.FieldError{Field: "date", Rule: "date", Message: "must be a date as YYYY-MM-DD, from year 2000 to 2999"}))
		return
	}
	entries, err := s.appointments.Agenda(ctx, p, code, date)
	if err != nil {
		s.webError(c, err)
		return
	}
	agendaURL := func(date string) string {
		q := url.Values{"date": {date}}
		if !p.Role.AtCentre() {
			q.Set("centre", centre.Code)
		}
		return "/agenda?" + q.Encode()
	}
	d.CentreCode, d.CentreName, d.TimeZone = centre.Code, centre.Name, centre.TimeZone
	d.Date, d.DayLabel, d.IsToday = date, dayLabel(lang, day), date == today
	d.PrevURL, d.NextURL, d.TodayURL = agendaURL(day.AddDate(0, 0, -1).Format(time.DateOnly)),
		agendaURL(day.AddDate(0, 0, 1).Format(time.DateOnly)), agendaURL(today)
	d.Back = agendaURL(date)

	// The day's slots, and any appointment outside them (the hours may have changed
	// since it was booked) in a slot of its own.
	type slotAt struct{ start, end time.Time }
	var slots []slotAt
	index := map[int64]int{}
	for _, sl := range cal.SlotsOn(day) {
		index[sl.StartsAt.Unix()] = len(slots)
		slots = append(slots, slotAt{sl.StartsAt, sl.EndsAt})
	}
	for _, e := range entries {
		if _, ok := index[e.StartsAt.Unix()]; !ok {
			index[e.StartsAt.Unix()] = len(slots)
			slots = append(slots, slotAt{e.StartsAt, e.EndsAt})
		}
	}
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].start.Before(slots[j].start) })
	for i, sl := range slots {
		index[sl.start.Unix()] = i
	}
	d.Slots = make([]agendaSlot, len(slots))
	for i, sl := range slots {
		d.Slots[i] = agendaSlot{Time: sl.start.In(cal.Location).Format("15:04"), End: sl.end.In(cal.Location).Format("15:04"),
			Capacity: centre.Counters, Started: !now.Before(sl.start), Now: !now.Before(sl.start) && now.Before(sl.end)}
	}
	counts := map[string]int{}
	for _, e := range entries {
		slot := &d.Slots[index[e.StartsAt.Unix()]]
		if e.Active() {
			slot.Active++
		}
		counts[e.Attendance]++
		booked := e.Status == models.AppointmentBooked
		row := agendaRow{ID: e.ID, Number: e.TicketNumber, TicketURL: ticketPath(e.TicketNumber),
			Company: e.Company, Contact: e.Contact, Device: strings.TrimSpace(e.Device),
			Attendance: e.Attendance, AttendanceLabel: tr(lang, "att."+e.Attendance),
			SLAState: string(e.SLAState), SLALabel: tr(lang, "sla."+string(e.SLAState)),
			WithinSLA: e.WithinSLA, WalkIn: e.WalkIn,
			CheckInURL: ticketPath(e.TicketNumber) + "/check-in", NoShowURL: apptPath(e.ID) + "/no-show",
			RescheduleURL: apptPath(e.ID) + "/reschedule?back=" + url.QueryEscape(d.Back),
			CancelURL:     apptPath(e.ID) + "/cancel?back=" + url.QueryEscape(d.Back),
			CanCheckIn:    booked && d.MayCheckIn && d.IsToday,
			CanNoShow:     booked && d.MayCheckIn && e.Attendance == "late",
			CanMove:       booked && d.MayBook}
		if e.RepairID != nil {
			row.RepairID = *e.RepairID
		}
		slot.Entries = append(slot.Entries, row)
	}
	for i := range d.Slots {
		d.Slots[i].Free = max(d.Slots[i].Capacity-d.Slots[i].Active, 0)
	}
	for _, att := range []string{"due", "late", "checked_in", "completed", "no_show", "cancelled"} {
		if n := counts[att]; n > 0 || att == "due" || att == "late" || att == "checked_in" {
			d.Counts = append(d.Counts, agendaCount{Attendance: att, Label: tr(lang, "att."+att), N: n})
		}
	}
	focus := ""
	if d.MayCheckIn {
		focus = "q"
	}
	s.render(c, http.StatusOK, tplAgenda, &pageData{Title: tr(lang, "agenda.title", centre.Code), Focus: focus,
		Form: newForm("q"), Data: d})
}

// ticketScanPage is the data of the pages that start from a scanned ticket number.
type ticketScanPage struct {
	Action, Intro, Hint, Submit string
}

// webBookScan is the entry to booking: scan or type the ticket number.
func (s *Server) webBookScan(c *gin.Context) {
	s.ticketScan(c, "/book", "/book", "book.scan_title", "book.scan_intro", "book.scan_submit")
}

// webCheckInScan is the entry to check-in: scan the ticket number the customer brings.
func (s *Server) webCheckInScan(c *gin.Context) {
	s.ticketScan(c, "/check-in", "/check-in", "checkin.scan_title", "checkin.scan_intro", "checkin.scan_submit")
}

// ticketScan shows a one-field page for a ticket number; with ?q= it finds the ticket
// and goes on to its page of this screen (/tickets/{number}{suffix}), or says it is
// not there with the number kept.
func (s *Server) ticketScan(c *gin.Context, action, suffix, titleKey, introKey, submitKey string) {
	lang := webLang(c)
	d := ticketScanPage{Action: action, Intro: tr(lang, introKey), Hint: tr(lang, "lookup.hint"), Submit: tr(lang, submitKey)}
	f := newForm("q")
	status := http.StatusOK
	if q := strings.TrimSpace(c.Query("q")); q != "" {
		t, err := s.tickets.Get(c.Request.Context(), principal(c), q)
		if err == nil {
			c.Redirect(http.StatusSeeOther, ticketPath(t.TicketNumber)+suffix)
			return
		}
		if models.ErrorCode(err) != "not_found" {
			s.webError(c, err)
			return
		}
		f.Values["q"] = q
		f.Errors["q"] = tr(lang, "lookup.notfound", q)
		status = http.StatusNotFound
	}
	s.render(c, status, tplTicketScan, &pageData{Title: tr(lang, titleKey), Form: f, Data: d})
}

// webTicketParam loads the ticket the path names, or shows that it is not there.
func (s *Server) webTicketParam(c *gin.Context) (*models.Ticket, bool) {
	number := c.Param("number")
	t, err := s.tickets.Get(c.Request.Context(), principal(c), number)
	if err != nil {
		s.lookupFailed(c, number, err)
		return nil, false
	}
	return t, true
}

// webAppointmentParam loads the appointment the path names and its ticket.
func (s *Server) webAppointmentParam(c *gin.Context) (*models.Appointment, *models.Ticket, bool) {
	ctx, p := c.Request.Context(), principal(c)
	a, err := s.appointments.Get(ctx, p, c.Param("id"))
	if err != nil {
		s.webError(c, err)
		return nil, nil, false
	}
	t, err := s.tickets.Get(ctx, p, a.TicketNumber)
	if err != nil {
		s.webError(c, err)
		return nil, nil, false
	}
	return a, t, true
}

// slotsPage is the data of the slot picker, for booking and for rescheduling.
type slotsPage struct {
	Reschedule       bool
	Ticket           ticketView
	Action           string
	CentreCode       string
	CentreName       string
	Version, Back    string
	Current          string
	Blocked          string
	DueAt            string
	DuePassed        bool
	NoneInSLA        bool
	AnyFree          bool
	Days             []slotDay
	Alternatives     []altView
	MayBookElsewhere bool
	Centres          []option
	PrevURL, NextURL string
}

// slotDay is one day of the picker.
type slotDay struct {
	Label string
	Items []slotItem
}

// slotItem is a slot button, or the mark of the SLA deadline between two slots.
type slotItem struct {
	Deadline                       string
	Value, Time, End               string
	Available, Capacity            int
	Full, AfterSLA, Current, Focus bool
}

// altView is a free in-deadline slot at another centre.
type altView struct {
	CentreCode, CentreName, When, Value string
	Available                           int
}

// slotPicker fills in d's days of free slots at centre code, from the local date from
// for bookDays days, marking the ticket's deadline and the slot the appointment holds
// now (current, when rescheduling).
func (s *Server) slotPicker(c *gin.Context, d *slotsPage, t *models.Ticket, code, from string, current *time.Time, basePath string) error {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	centre, err := s.admin.GetCentre(ctx, p, code)
	if err != nil {
		return err
	}
	loc := zoneLocation(centre.TimeZone)
	now := s.now()
	today, _ := time.ParseInLocation(time.DateOnly, now.In(loc).Format(time.DateOnly), loc)
	start, err := time.ParseInLocation(time.DateOnly, from, loc)
	if err != nil || start.Before(today) || start.After(today.AddDate(1, 0, 0)) {
		start = today
	}
	end := start.AddDate(0, 0, bookDays-1)
	av, err := s.appointments.Availability(ctx, p, centre.Code, start.Format(time.DateOnly), end.Format(time.DateOnly), t.TicketNumber)
	if err != nil {
		return err
	}
	d.CentreCode, d.CentreName = centre.Code, centre.Name
	page := func(day time.Time) string {
		q := url.Values{"from": {day.Format(time.DateOnly)}}
		if !p.Role.AtCentre() && !d.Reschedule {
			q.Set("centre", centre.Code)
		}
		if d.Back != "" {
			q.Set("back", d.Back)
		}
		return basePath + "?" + q.Encode()
	}
	if start.After(today) {
		prev := start.AddDate(0, 0, -bookDays)
		if prev.Before(today) {
			prev = today
		}
		d.PrevURL = page(prev)
	}
	d.NextURL = page(start.AddDate(0, 0, bookDays))

	due := av.SLADueAt
	if due != nil {
		d.DueAt = whenLabel(lang, *due, loc)
		d.DuePassed = !due.After(now)
	}
	byDay := map[string][]models.SlotView{}
	for _, sl := range av.Slots {
		k := sl.StartsAt.In(loc).Format(time.DateOnly)
		byDay[k] = append(byDay[k], sl)
	}
	inSLA := false
	var first, firstInSLA *slotItem
	for day := start; !day.After(end); day = day.AddDate(0, 0, 1) {
		key := day.Format(time.DateOnly)
		sd := slotDay{Label: dayLabel(lang, day)}
		marked := due == nil || due.In(loc).Format(time.DateOnly) != key || !due.After(now)
		for _, sl := range byDay[key] {
			item := slotItem{Value: sl.StartsAt.In(loc).Format(time.RFC3339), Time: sl.StartsAt.In(loc).Format("15:04"),
				End: sl.EndsAt.In(loc).Format("15:04"), Available: sl.Available, Capacity: sl.Capacity, Full: sl.Available == 0,
				AfterSLA: sl.WithinSLA != nil && !*sl.WithinSLA, Current: current != nil && sl.StartsAt.Equal(*current)}
			if !marked && sl.StartsAt.After(*due) {
				sd.Items = append(sd.Items, slotItem{Deadline: due.In(loc).Format("15:04")})
				marked = true
			}
			sd.Items = append(sd.Items, item)
			if !item.Full && !item.Current {
				d.AnyFree = true
				inSLA = inSLA || !item.AfterSLA
			}
		}
		if !marked {
			sd.Items = append(sd.Items, slotItem{Deadline: due.In(loc).Format("15:04")})
		}
		d.Days = append(d.Days, sd)
	}
	for i := range d.Days {
		for j := range d.Days[i].Items {
			it := &d.Days[i].Items[j]
			if it.Deadline != "" || it.Full || it.Current {
				continue
			}
			if first == nil {
				first = it
			}
			if firstInSLA == nil && !it.AfterSLA {
				firstInSLA = it
			}
		}
	}
	if firstInSLA != nil {
		firstInSLA.Focus = true
	} else if first != nil {
		first.Focus = true
	}
	d.NoneInSLA = due != nil && !inSLA
	for _, alt := range av.Alternatives {
		d.Alternatives = append(d.Alternatives, altView{CentreCode: alt.CentreCode, CentreName: alt.CentreName,
			When: whenLabel(lang, alt.StartsAt, loc), Value: alt.StartsAt.In(loc).Format(time.RFC3339), Available: alt.Available})
	}
	d.MayBookElsewhere = !d.Reschedule && p.Role == models.RoleAdmin
	return nil
}

// bookingCentre is where a ticket is booked: the centre the admin chose, else the
// ticket's, else the user's own, else the first centre there is.
func (s *Server) bookingCentre(c *gin.Context, t *models.Ticket, chosen string) (string, []option, error) {
	p := principal(c)
	if p.Role.AtCentre() {
		return p.CentreCode, nil, nil
	}
	list, err := s.admin.ListCentres(c.Request.Context(), p)
	if err != nil {
		return "", nil, err
	}
	var opts []option
	for _, ce := range list {
		opts = append(opts, option{ce.Code, ce.Code + " · " + ce.Name})
	}
	code := strings.ToUpper(strings.TrimSpace(chosen))
	switch {
	case code != "":
	case t.CentreCode != nil:
		code = *t.CentreCode
	case len(list) > 0:
		code = list[0].Code
	}
	if !models.ValidCode(code) {
		return "", nil, models.NotFound("centre")
	}
	return code, opts, nil
}

// webBookForm shows the free slots of the coming days for a ticket. A ticket that
// is booked already goes to the reschedule screen of its appointment.
func (s *Server) webBookForm(c *gin.Context) {
	t, ok := s.webTicketParam(c)
	if !ok {
		return
	}
	if a := t.Appointment; a != nil && a.Status == models.AppointmentBooked {
		c.Redirect(http.StatusSeeOther, apptPath(a.ID)+"/reschedule")
		return
	}
	s.renderBook(c, http.StatusOK, newForm("starts_at"), t, c.Query("centre"), c.Query("from"))
}

func (s *Server) renderBook(c *gin.Context, status int, f *formState, t *models.Ticket, centre, from string) {
	lang, p := webLang(c), principal(c)
	now := s.now()
	code, centres, err := s.bookingCentre(c, t, centre)
	if err != nil {
		s.webError(c, err)
		return
	}
	zones := s.centreZones(c, p, &code)
	d := slotsPage{Ticket: viewTicket(lang, *t, zones, now), Action: ticketPath(t.TicketNumber) + "/book", Centres: centres}
	if t.Status != models.TicketReferred {
		d.Blocked = tr(lang, "book.not_bookable", tr(lang, "status."+string(t.Status)))
		d.CentreCode = code
	} else if err := s.slotPicker(c, &d, t, code, from, nil, d.Action); err != nil {
		s.webError(c, err)
		return
	}
	s.render(c, status, tplSlots, &pageData{Title: tr(lang, "book.title", t.TicketNumber), Form: f, Data: d})
}

// webBook books the slot whose button was pressed, then shows the ticket.
func (s *Server) webBook(c *gin.Context) {
	lang, p := webLang(c), principal(c)
	t, ok := s.webTicketParam(c)
	if !ok {
		return
	}
	f := readForm(c, []string{"starts_at", "centre_code"})
	code, _, err := s.bookingCentre(c, t, f.Values["centre_code"])
	if err != nil {
		s.webError(c, err)
		return
	}
	in := models.BookInput{TicketNumber: t.TicketNumber, CentreCode: code, StartsAt: f.Values["starts_at"]}
	if err := s.validate(&in); err != nil {
		f.addMessage(tr(lang, "appt.err.choose_slot"))
		s.renderBook(c, http.StatusBadRequest, f, t, code, "")
		return
	}
	a, err := s.appointments.Book(c.Request.Context(), p, in)
	if err != nil {
		status, msg, ok := s.apptRefusal(c, err)
		if !ok {
			return
		}
		f.addMessage(msg)
		s.renderBook(c, status, f, t, code, "")
		return
	}
	loc := zoneLocation(s.centreZones(c, p, &a.CentreCode)[a.CentreCode])
	s.setFlash(c, "flash.booked", whenLabel(lang, a.StartsAt, loc)+" · "+a.CentreCode)
	c.Redirect(http.StatusSeeOther, ticketPath(t.TicketNumber))
}

// webRescheduleForm shows the slot picker to move a booked appointment.
func (s *Server) webRescheduleForm(c *gin.Context) {
	a, t, ok := s.webAppointmentParam(c)
	if !ok {
		return
	}
	s.renderReschedule(c, http.StatusOK, newForm("starts_at"), a, t, c.Query("from"), backTo(c.Query("back"), ""))
}

func (s *Server) renderReschedule(c *gin.Context, status int, f *formState, a *models.Appointment, t *models.Ticket, from, back string) {
	lang, p := webLang(c), principal(c)
	now := s.now()
	zones := s.centreZones(c, p, &a.CentreCode)
	loc := zoneLocation(zones[a.CentreCode])
	d := slotsPage{Reschedule: true, Ticket: viewTicket(lang, *t, zones, now), Action: apptPath(a.ID) + "/reschedule",
		Version: strconv.Itoa(a.Version), Back: back, CentreCode: a.CentreCode,
		Current: whenLabel(lang, a.StartsAt, loc) + "–" + a.EndsAt.In(loc).Format("15:04")}
	if a.Status != models.AppointmentBooked {
		d.Blocked = tr(lang, "resched.not_booked", tr(lang, "appt.status."+string(a.Status)))
	} else {
		cur := a.StartsAt
		if err := s.slotPicker(c, &d, t, a.CentreCode, from, &cur, d.Action); err != nil {
			s.webError(c, err)
			return
		}
	}
	s.render(c, status, tplSlots, &pageData{Title: tr(lang, "resched.title", t.TicketNumber), Form: f, Data: d})
}

// webReschedule moves the appointment to the slot whose button was pressed, at the
// version the page was read at.
func (s *Server) webReschedule(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	f := readForm(c, []string{"starts_at", "version", "back"})
	back := backTo(f.Values["back"], "")
	in := models.RescheduleInput{StartsAt: f.Values["starts_at"]}
	if v, err := strconv.Atoi(f.Values["version"]); err == nil {
		in.Version = &v
	}
	err := s.validate(&in)
	switch {
	case in.Version == nil:
		err = models.StaleVersion("appointment")
	case err != nil:
		err = models.Errorf(models.KindInvalid, "choose_slot", "choose a slot")
	default:
		var a *models.Appointment
		if a, err = s.appointments.Reschedule(ctx, p, c.Param("id"), in); err == nil {
			loc := zoneLocation(s.centreZones(c, p, &a.CentreCode)[a.CentreCode])
			s.setFlash(c, "flash.rescheduled", whenLabel(lang, a.StartsAt, loc)+" · "+a.CentreCode)
			c.Redirect(http.StatusSeeOther, backTo(back, ticketPath(a.TicketNumber)))
			return
		}
	}
	status, msg, ok := s.apptRefusal(c, err)
	if !ok {
		return
	}
	// Show the appointment as it stands now: a refused move left it where it was.
	a, t, ok := s.webAppointmentParam(c)
	if !ok {
		return
	}
	f.addMessage(msg)
	s.renderReschedule(c, status, f, a, t, "", back)
}

// cancelPage is the data of the cancel form.
type cancelPage struct {
	Ticket  ticketView
	Appt    *apptView
	Action  string
	Back    string
	BackURL string
}

// webCancelForm asks why the appointment is cancelled.
func (s *Server) webCancelForm(c *gin.Context) {
	a, t, ok := s.webAppointmentParam(c)
	if !ok {
		return
	}
	s.renderCancel(c, http.StatusOK, newForm("reason"), a, t, backTo(c.Query("back"), ""))
}

func (s *Server) renderCancel(c *gin.Context, status int, f *formState, a *models.Appointment, t *models.Ticket, back string) {
	lang, p := webLang(c), principal(c)
	now := s.now()
	zones := s.centreZones(c, p, &a.CentreCode)
	d := cancelPage{Ticket: viewTicket(lang, *t, zones, now), Appt: viewAppointment(lang, a, zoneLocation(zones[a.CentreCode]), now),
		Action: apptPath(a.ID) + "/cancel", Back: back, BackURL: backTo(back, ticketPath(t.TicketNumber))}
	if a.Status != models.AppointmentBooked && f.Message == "" {
		f.addMessage(tr(lang, "cancel.not_booked", d.Appt.StatusLabel))
	}
	s.render(c, status, tplApptCancel, &pageData{Title: tr(lang, "cancel.title", t.TicketNumber), Form: f, Data: d})
}

// webCancel cancels the appointment for the reason given, which is required.
func (s *Server) webCancel(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	f := readForm(c, []string{"reason", "back"})
	back := backTo(f.Values["back"], "")
	in := models.ReasonInput{Reason: f.Values["reason"]}
	err := s.validate(&in)
	if err == nil {
		var a *models.Appointment
		if a, err = s.appointments.Cancel(ctx, p, c.Param("id"), in.Reason); err == nil {
			s.setFlash(c, "flash.appt_cancelled", a.TicketNumber)
			c.Redirect(http.StatusSeeOther, backTo(back, ticketPath(a.TicketNumber)))
			return
		}
	}
	status, msg, ok := s.apptRefusal(c, err)
	if !ok {
		return
	}
	if e, _ := models.AsError(err); len(e.Fields) > 0 {
		f.addError(lang, e, nil)
	} else {
		f.addMessage(msg)
	}
	a, t, ok := s.webAppointmentParam(c)
	if !ok {
		return
	}
	s.renderCancel(c, status, f, a, t, back)
}

// webNoShow records that the customer did not come, once the slot has started.
func (s *Server) webNoShow(c *gin.Context) {
	a, err := s.appointments.NoShow(c.Request.Context(), principal(c), c.Param("id"))
	if err != nil {
		status, msg, ok := s.apptRefusal(c, err)
		if ok {
			s.renderError(c, status, msg)
		}
		return
	}
	s.setFlash(c, "flash.no_show", a.TicketNumber)
	c.Redirect(http.StatusSeeOther, backTo(c.PostForm("back"), ticketPath(a.TicketNumber)))
}

// checkInPage is the data of the check-in form, for a booked appointment or a walk-in.
type checkInPage struct {
	Ticket        ticketView
	WalkIn        bool
	Blocked       string
	Action        string
	AppointmentID string
	Appt          *apptView
	ExpectedIMEI  string
	ShowReason    bool
	Accessories   []accessoryBox
	Centres       []option
	// Focus is the field the cursor starts in.
	Focus string
}

// accessoryBox is one checkbox of the common accessories.
type accessoryBox struct {
	ID, Value, Label string
	Checked          bool
}

// webCheckInForm shows the check-in form for the ticket's booked appointment of
// today, or the walk-in form when the ticket has no appointment; anything else is
// said on the page with the way forward.
func (s *Server) webCheckInForm(c *gin.Context) {
	t, ok := s.webTicketParam(c)
	if !ok {
		return
	}
	s.renderCheckIn(c, http.StatusOK, newForm(checkInFields...), t, nil)
}

func (s *Server) renderCheckIn(c *gin.Context, status int, f *formState, t *models.Ticket, checked map[string]bool) {
	lang, p := webLang(c), principal(c)
	now := s.now()
	var zones map[string]string
	if t.Appointment != nil {
		zones = s.centreZones(c, p, &t.Appointment.CentreCode)
	} else {
		zones = s.centreZones(c, p, t.CentreCode)
	}
	d := checkInPage{Ticket: viewTicket(lang, *t, zones, now), Action: ticketPath(t.TicketNumber) + "/check-in",
		ExpectedIMEI: t.Device.IMEI}
	if t.Appointment != nil {
		d.Appt = viewAppointment(lang, t.Appointment, zoneLocation(zones[t.Appointment.CentreCode]), now)
	}
	switch a := t.Appointment; {
	case a != nil && a.Status == models.AppointmentBooked && d.Appt.Today:
		d.AppointmentID = a.ID
	case a != nil && a.Status == models.AppointmentBooked:
		d.Blocked = tr(lang, "checkin.not_today", d.Appt.When)
	case a != nil && a.Status == models.AppointmentCheckedIn:
		d.Blocked = tr(lang, "checkin.already", d.Appt.RepairID)
	case t.Status == models.TicketReferred:
		d.WalkIn = true
		if !p.Role.AtCentre() {
			code, centres, err := s.bookingCentre(c, t, f.Values["centre_code"])
			if err != nil {
				s.webError(c, err)
				return
			}
			d.Centres = centres
			f.Values["centre_code"] = code
		}
	default:
		d.Blocked = tr(lang, "checkin.not_receivable", d.Ticket.StatusLabel)
	}
	for i, acc := range commonAccessories {
		d.Accessories = append(d.Accessories, accessoryBox{ID: "acc-" + strconv.Itoa(i), Value: acc.Value,
			Label: tr(lang, acc.Key), Checked: checked[acc.Value]})
	}
	imei := f.Values["received_imei"]
	d.ShowReason = f.Values["imei_mismatch_reason"] != "" || f.Errors["imei_mismatch_reason"] != "" ||
		(len(imei) == 15 && imei != t.Device.IMEI)
	title := tr(lang, "checkin.title", t.TicketNumber)
	if d.WalkIn {
		title = tr(lang, "walkin.title", t.TicketNumber)
	}
	pd := &pageData{Title: title, Form: f, Focus: "received_imei"}
	d.Focus = pd.focusField()
	pd.Data = d
	s.render(c, status, tplCheckIn, pd)
}

// webCheckIn receives the customer and the handset: the booked appointment's
// check-in, or a walk-in when the form was for a ticket without one. Success opens
// the repair order and shows the ticket.
func (s *Server) webCheckIn(c *gin.Context) {
	lang, p, ctx := webLang(c), principal(c), c.Request.Context()
	t, ok := s.webTicketParam(c)
	if !ok {
		return
	}
	f := readForm(c, checkInFields)
	checked := map[string]bool{}
	var accessories []string
	for _, v := range c.PostFormArray("accessories") {
		for _, acc := range commonAccessories {
			if v == acc.Value && !checked[v] {
				checked[v] = true
				accessories = append(accessories, v)
			}
		}
	}
	for _, v := range strings.FieldsFunc(f.Values["accessories_other"], func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if v = strings.TrimSpace(v); v != "" {
			accessories = append(accessories, v)
		}
	}
	in := models.CheckInInput{ReceivedIMEI: strings.ReplaceAll(f.Values["received_imei"], " ", ""),
		IMEIMismatchReason: f.Values["imei_mismatch_reason"], Condition: f.Values["condition"], Accessories: accessories}
	if !p.Role.AtCentre() {
		in.CentreCode = f.Values["centre_code"]
	}
	f.Values["received_imei"] = in.ReceivedIMEI
	if err := s.validate(&in); err != nil {
		f.addError(lang, renameFields(err, "accessories", "accessories_other"), nil)
	}
	if len(f.Errors) > 0 {
		f.addMessage(tr(lang, "form.errors"))
		s.renderCheckIn(c, http.StatusBadRequest, f, t, checked)
		return
	}
	var a *models.Appointment
	var err error
	switch appointmentID := c.PostForm("appointment_id"); {
	case appointmentID != "" && (t.Appointment == nil || t.Appointment.ID != appointmentID):
		// The form was for an appointment this ticket no longer has.
		err = models.StaleVersion("appointment")
	case appointmentID != "":
		a, err = s.appointments.CheckIn(ctx, p, appointmentID, in)
	default:
		a, err = s.appointments.WalkIn(ctx, p, t.TicketNumber, in)
	}
	if err != nil {
		e, _ := models.AsError(err)
		status, msg, ok := s.apptRefusal(c, err)
		if !ok {
			return
		}
		switch {
		case e.Code == "imei_mismatch":
			f.fieldError("imei_mismatch_reason", tr(lang, "checkin.reason_needed"))
			f.addMessage(tr(lang, "checkin.mismatch", t.Device.IMEI))
		case len(e.Fields) > 0:
			f.addError(lang, renameFields(e, "accessories", "accessories_other"), nil)
		default:
			f.addMessage(msg)
		}
		// The ticket as it is now: the refusal may come from a change made meanwhile.
		if fresh, err := s.tickets.Get(ctx, p, t.TicketNumber); err == nil {
			t = fresh
		}
		s.renderCheckIn(c, status, f, t, checked)
		return
	}
	repair := ""
	if a.RepairID != nil {
		repair = *a.RepairID
	}
	key := "flash.checked_in"
	if a.WalkIn {
		key = "flash.walked_in"
	}
	s.setFlash(c, key, repair)
	c.Redirect(http.StatusSeeOther, ticketPath(t.TicketNumber))
}

// renameFields returns err with the fields named from (accessories[2]) named to
// instead, for a form that shows them as one field.
func renameFields(err error, from, to string) error {
	e, ok := models.AsError(err)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = make([]models.FieldError, len(e.Fields))
	for i, fe := range e.Fields {
		if name, _ := splitFieldPath(fe.Field); name == from {
			fe.Field = to
		}
		out.Fields[i] = fe
	}
	return &out
}
