package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// webDemoHolidays are the closed days of the demo centres (services/demo.go).
var webDemoHolidays = map[string]bool{"2026-12-24": true, "2026-12-25": true, "2026-12-31": true,
	"2027-01-01": true, "2027-02-15": true, "2027-02-16": true}

// webMonday is a Monday in the future at hh:mm in Caracas, when the demo centres are
// open, so that booking and check-in work whatever day the tests run.
func webMonday(t *testing.T, hh, mm int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	days := (8 - int(now.Weekday())) % 7
	if days == 0 {
		days = 7
	}
	d := time.Date(now.Year(), now.Month(), now.Day()+days, 0, 0, 0, 0, loc)
	for webDemoHolidays[d.Format(time.DateOnly)] {
		d = d.AddDate(0, 0, 7)
	}
	return d.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

// webSlot is the value of the slot button that starts at hh:mm on monday's day.
func webSlot(monday time.Time, hh, mm int) string {
	y, m, d := monday.Date()
	return time.Date(y, m, d, hh, mm, 0, 0, monday.Location()).Format(time.RFC3339)
}

// webTicketsAt returns n demo tickets of a centre, in number order.
func (e *testEnv) webTicketsAt(centre string, n int) []string {
	e.t.Helper()
	var out []string
	err := e.DB.Raw(`SELECT t.ticket_number FROM tickets t JOIN centres c ON c.id = t.centre_id
		WHERE c.code = ? ORDER BY t.ticket_number LIMIT ?`, centre, n).Scan(&out).Error
	if err != nil || len(out) < n {
		e.t.Fatalf("want %d tickets at %s, have %d: %v", n, centre, len(out), err)
	}
	return out
}

func (e *testEnv) webTicketIMEI(number string) string {
	e.t.Helper()
	var imei string
	if err := e.DB.Raw("SELECT device_imei FROM tickets WHERE ticket_number = ?", number).Scan(&imei).Error; err != nil || imei == "" {
		e.t.Fatalf("IMEI of %s: %v", number, err)
	}
	return imei
}

// webReferAt refers a fresh ticket to centre, reported at reported.
func (e *testEnv) webReferAt(number, centre string, reported time.Time) {
	e.t.Helper()
	ref := map[string]any{
		"ticket_number": number, "reported_at": reported.Format(time.RFC3339), "centre_code": centre,
		"customer": map[string]any{"account_number": "J-12345678-9", "company": "Panadería La Esquina C.A.", "contact_name": "Rosa Díaz", "contact_phone": "04141234567"},
		"line":     map[string]any{"msisdn": "04141234567"},
		"device":   map[string]any{"imei": "356938035643809", "brand": "Samsung", "model": "SM-A155M"},
		"fault":    map[string]any{"category": "no_signal", "description": "Sin señal."},
	}
	if res := e.do(http.MethodPost, "/api/v1/csm/tickets", e.CSMToken, ref); res.Status != http.StatusCreated {
		e.t.Fatalf("refer %s: %d %s", number, res.Status, res.Body)
	}
}

// webBookAPI books a ticket through the JSON API as the counter clerk and returns the
// appointment id.
func (e *testEnv) webBookAPI(number, centre, startsAt string) string {
	e.t.Helper()
	res := e.do(http.MethodPost, "/api/v1/appointments", e.token(emailCounter),
		map[string]string{"ticket_number": number, "centre_code": centre, "starts_at": startsAt})
	if res.Status != http.StatusCreated {
		e.t.Fatalf("book %s at %s: %d %s", number, startsAt, res.Status, res.Body)
	}
	return res.JSON()["id"].(string)
}

func (e *testEnv) webAppointmentOf(number string) (id, status string) {
	e.t.Helper()
	var row struct{ ID, Status string }
	err := e.DB.Raw(`SELECT a.id, a.status FROM appointments a JOIN tickets t ON t.id = a.ticket_id
		WHERE t.ticket_number = ? ORDER BY a.created_at DESC LIMIT 1`, number).Scan(&row).Error
	if err != nil {
		e.t.Fatal(err)
	}
	return row.ID, row.Status
}

// slotButton matches the button of a slot, with whatever attributes follow its value.
func slotButton(value string) *regexp.Regexp {
	return regexp.MustCompile(`<button type="submit" name="starts_at" value="` + regexp.QuoteMeta(value) + `"([^>]*)>`)
}

func TestWebBookThroughForm(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	numbers := e.webTicketsAt("CCS-01", 5)
	number := numbers[0]
	w := e.webClient()
	w.login(emailCounter)

	// The ticket offers a booking; the booking screen also starts from a scanned number.
	ticket := w.get("/tickets/" + url.PathEscape(number))
	wantPage(t, ticket, http.StatusOK, "Este ticket no tiene cita.", `href="/tickets/`+number+`/book"`, "Reservar cita", "Recibir sin cita")
	wantPage(t, w.get("/book"), http.StatusOK, `id="q"`, "autofocus", "Ver turnos")
	wantPage(t, w.get("/book?q=NOPE-1"), http.StatusNotFound, "No se encontró el ticket «NOPE-1»", `value="NOPE-1"`)
	res := w.get("/book?q=" + url.QueryEscape(number))
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number+"/book" {
		t.Fatalf("book scan: %d %q", res.Status, res.Location)
	}

	// The picker: seven days from today, the slot already started left out, the first
	// free slot focused; the demo ticket's deadline has passed, so every slot is flagged.
	page := w.follow(res)
	wantPage(t, page, http.StatusOK, "Reservar cita · ticket "+number, "Turnos libres en Centro de Instalación Chacao",
		"lunes", "domingo", "Cerrado", "El SLA de este ticket ya venció", "fuera del SLA", "3 libres")
	wantNot(t, page, webSlot(monday, 9, 0))
	m := slotButton(webSlot(monday, 9, 30)).FindStringSubmatch(page.Body)
	if m == nil || !strings.Contains(m[1], "autofocus") || !strings.Contains(m[1], "after-sla") {
		t.Fatalf("09:30 is not the focused first slot: %v", m)
	}
	if strings.Count(page.Body, "autofocus") != 1 {
		t.Errorf("%d elements with autofocus", strings.Count(page.Body, "autofocus"))
	}

	// Fill 10:00 through the API: its button is disabled, and a booking sent anyway
	// (a page loaded before) is refused with the reason, the picker shown again.
	for _, n := range numbers[1:4] {
		e.webBookAPI(n, "CCS-01", webSlot(monday, 10, 0))
	}
	page = w.get("/tickets/" + number + "/book")
	if m := slotButton(webSlot(monday, 10, 0)).FindStringSubmatch(page.Body); m == nil || !strings.Contains(m[1], "disabled") {
		t.Fatalf("full slot not disabled: %v", m)
	}
	wantPage(t, page, http.StatusOK, "Completo")
	res = w.submit(page, "/tickets/"+number+"/book", url.Values{"starts_at": {webSlot(monday, 10, 0)}, "centre_code": {"CCS-01"}})
	wantPage(t, res, http.StatusConflict, "Ese turno se llenó mientras elegía. Elija otro.", `name="starts_at"`)
	res = w.submit(page, "/tickets/"+number+"/book", url.Values{"starts_at": {webSlot(monday, 9, 0)}})
	wantPage(t, res, http.StatusUnprocessableEntity, "Ese turno ya empezó.")
	res = w.submit(page, "/tickets/"+number+"/book", url.Values{"starts_at": {webSlot(monday, 9, 45)}})
	wantPage(t, res, http.StatusUnprocessableEntity, "Esa hora no es el inicio de un turno.")
	res = w.submit(page, "/tickets/"+number+"/book", url.Values{})
	wantPage(t, res, http.StatusBadRequest, "Elija un turno.")

	// Book 09:30: Post/Redirect/Get to the ticket, which shows the appointment.
	res = w.submit(page, "/tickets/"+number+"/book", url.Values{"starts_at": {webSlot(monday, 9, 30)}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("book: %d %q %s", res.Status, res.Location, res.Body)
	}
	ticket = w.follow(res)
	day := monday.Format("02/01/2006")
	wantPage(t, ticket, http.StatusOK, "Cita reservada: lunes "+day+" 09:30 · CCS-01.", "Reservada", "lunes "+day+" 09:30–10:00",
		"fuera del SLA", "Recibir al cliente", "Reprogramar", "Cancelar cita", "Agendado")
	if _, status := e.webAppointmentOf(number); status != "booked" {
		t.Fatalf("appointment %s", status)
	}
	// A booked ticket's booking screen is its reschedule screen.
	res = w.get("/tickets/" + number + "/book")
	if res.Status != http.StatusSeeOther || !strings.HasSuffix(res.Location, "/reschedule") {
		t.Fatalf("book a booked ticket: %d %q", res.Status, res.Location)
	}
	// A ticket in service cannot be booked: said on the page, not a server error.
	e.do(http.MethodPost, "/api/v1/tickets/"+numbers[4]+"/walk-in", e.token(emailCounter),
		map[string]any{"received_imei": e.webTicketIMEI(numbers[4]), "condition": "Bien"})
	wantPage(t, w.get("/tickets/"+numbers[4]+"/book"), http.StatusOK, "no admite una cita nueva")
}

func TestWebBookMarksDeadlineAndAlternatives(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	// Reported on Monday at 08:00: due on Tuesday at 08:00.
	e.webReferAt("CSM-SLA-1", "CCS-01", monday.Add(-70*time.Minute))
	w := e.webClient()
	w.login(emailCounter)
	page := w.get("/tickets/CSM-SLA-1/book")
	tuesday := monday.AddDate(0, 0, 1)
	wantPage(t, page, http.StatusOK, "Vence el SLA · 08:00", "martes "+tuesday.Format("02/01/2006")+" 08:00")
	wantNot(t, page, "El SLA de este ticket ya venció", `id="alternatives"`)
	if m := slotButton(webSlot(monday, 9, 30)).FindStringSubmatch(page.Body); m == nil || strings.Contains(m[1], "after-sla") || !strings.Contains(m[1], "autofocus") {
		t.Fatalf("09:30 Monday should be in the deadline and focused: %v", m)
	}
	if m := slotButton(webSlot(tuesday, 8, 0)).FindStringSubmatch(page.Body); m == nil || strings.Contains(m[1], "after-sla") {
		t.Fatalf("08:00 Tuesday starts at the deadline: %v", m)
	}
	if m := slotButton(webSlot(tuesday, 8, 30)).FindStringSubmatch(page.Body); m == nil || !strings.Contains(m[1], "after-sla") {
		t.Fatalf("08:30 Tuesday is after the deadline: %v", m)
	}
	// The deadline mark sits between the last slot in time and the first after it.
	mark := strings.Index(page.Body, "Vence el SLA · 08:00")
	if !(strings.Index(page.Body, webSlot(tuesday, 8, 0)) < mark && mark < strings.Index(page.Body, webSlot(tuesday, 8, 30))) {
		t.Error("deadline mark out of place")
	}

	// Due at 09:40 with 09:30 full: no in-deadline slot here, so the other centre's
	// earliest in-deadline slot is offered; counter staff are told to pass it on.
	e.webReferAt("CSM-SLA-2", "CCS-01", monday.AddDate(0, 0, -1).Add(30*time.Minute))
	for _, n := range e.webTicketsAt("CCS-01", 3) {
		e.webBookAPI(n, "CCS-01", webSlot(monday, 9, 30))
	}
	page = w.get("/tickets/CSM-SLA-2/book")
	wantPage(t, page, http.StatusOK, `id="none-in-sla"`, "No quedan turnos libres en CCS-01 antes del vencimiento del SLA.",
		`id="alternatives"`, "CCS-02", "Centro de Instalación Las Mercedes", "Solo ese centro (o CSM) puede reservar allí")
	wantNot(t, page, "Reservar allí")
	// An admin may book there at once.
	admin := e.webClient()
	admin.login(emailAdmin)
	page = admin.get("/tickets/CSM-SLA-2/book")
	wantPage(t, page, http.StatusOK, "Reservar allí", `name="centre_code" value="CCS-02"`, `id="f-centre"`)
	alt := regexp.MustCompile(`name="centre_code" value="CCS-02">\s*<button type="submit" name="starts_at" value="([^"]+)"`).FindStringSubmatch(page.Body)
	if alt == nil {
		t.Fatalf("no alternative button:\n%s", page.Body)
	}
	res := admin.submit(page, "/tickets/CSM-SLA-2/book", url.Values{"centre_code": {"CCS-02"}, "starts_at": {alt[1]}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("book at CCS-02: %d %s", res.Status, res.Body)
	}
	wantPage(t, admin.follow(res), http.StatusOK, "· CCS-02.", "dentro del SLA")
}

func TestWebReschedule(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	numbers := e.webTicketsAt("CCS-01", 4)
	number := numbers[0]
	id := e.webBookAPI(number, "CCS-01", webSlot(monday, 9, 30))
	w := e.webClient()
	w.login(emailCounter)

	ticket := w.get("/tickets/" + number)
	wantPage(t, ticket, http.StatusOK, `href="/appointments/`+id+`/reschedule"`)
	page := w.get("/appointments/" + id + "/reschedule")
	wantPage(t, page, http.StatusOK, "Reprogramar cita · ticket "+number, `name="version" value="1"`, "cita actual", `id="current-slot"`)
	if m := slotButton(webSlot(monday, 9, 30)).FindStringSubmatch(page.Body); m == nil || !strings.Contains(m[1], "disabled") || !strings.Contains(m[1], "current") {
		t.Fatalf("current slot not marked: %v", m)
	}
	if m := slotButton(webSlot(monday, 10, 0)).FindStringSubmatch(page.Body); m == nil || !strings.Contains(m[1], "autofocus") {
		t.Fatalf("the first other free slot is not focused: %v", m)
	}

	res := w.submit(page, "/appointments/"+id+"/reschedule", url.Values{"starts_at": {webSlot(monday, 11, 0)}, "version": {"1"}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("reschedule: %d %q %s", res.Status, res.Location, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Cita reprogramada: lunes "+monday.Format("02/01/2006")+" 11:00 · CCS-01.", "11:00–11:30")

	// The page read at version 1 is stale now: refused, the picker shown as it stands.
	res = w.submit(page, "/appointments/"+id+"/reschedule", url.Values{"starts_at": {webSlot(monday, 14, 0)}, "version": {"1"}})
	wantPage(t, res, http.StatusConflict, "Otra persona modificó este registro", `name="version" value="2"`, "11:00–11:30")

	// Into a full slot: refused, and the appointment keeps its place.
	for _, n := range numbers[1:] {
		e.webBookAPI(n, "CCS-01", webSlot(monday, 15, 0))
	}
	res = w.submit(res, "/appointments/"+id+"/reschedule", url.Values{"starts_at": {webSlot(monday, 15, 0)}, "version": {"2"}})
	wantPage(t, res, http.StatusConflict, "Ese turno se llenó")
	wantPage(t, w.get("/tickets/"+number), http.StatusOK, "11:00–11:30")

	// From the agenda, the move goes back to the agenda.
	back := "/agenda?date=" + monday.Format(time.DateOnly)
	page = w.get("/appointments/" + id + "/reschedule?back=" + url.QueryEscape(back))
	wantPage(t, page, http.StatusOK, `name="back" value="`+strings.ReplaceAll(back, "&", "&amp;")+`"`)
	res = w.submit(page, "/appointments/"+id+"/reschedule", url.Values{"starts_at": {webSlot(monday, 11, 30)}, "version": {"2"}, "back": {back}})
	if res.Status != http.StatusSeeOther || res.Location != back {
		t.Fatalf("reschedule from agenda: %d %q", res.Status, res.Location)
	}
	// A back address elsewhere is not followed.
	res = w.submit(page, "/appointments/"+id+"/reschedule", url.Values{"starts_at": {webSlot(monday, 11, 0)}, "version": {"3"}, "back": {"//evil.example/"}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("reschedule with a foreign back: %d %q", res.Status, res.Location)
	}
}

func TestWebCancelNeedsReason(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	number := e.ticketAt("CCS-01")
	id := e.webBookAPI(number, "CCS-01", webSlot(monday, 10, 30))
	w := e.webClient()
	w.login(emailCounter)

	page := w.get("/appointments/" + id + "/cancel")
	wantPage(t, page, http.StatusOK, "Cancelar cita · ticket "+number, `name="reason"`, "autofocus", "10:30–11:00")
	res := w.submit(page, "/appointments/"+id+"/cancel", url.Values{"reason": {"   "}})
	wantPage(t, res, http.StatusBadRequest, `id="reason-error"`, "es obligatorio", "Revise los campos marcados.")
	if _, status := e.webAppointmentOf(number); status != "booked" {
		t.Fatalf("refused cancel changed the appointment: %s", status)
	}
	res = w.submit(res, "/appointments/"+id+"/cancel", url.Values{"reason": {"El cliente viaja esta semana."}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("cancel: %d %q %s", res.Status, res.Location, res.Body)
	}
	ticket := w.follow(res)
	wantPage(t, ticket, http.StatusOK, "Cita del ticket "+number+" cancelada", "Cancelada", "El cliente viaja esta semana.",
		`href="/tickets/`+number+`/book"`, "Referido")
	if _, status := e.webAppointmentOf(number); status != "cancelled" {
		t.Fatalf("appointment %s", status)
	}
	// Cancelled already: the form is not offered again.
	page = w.get("/appointments/" + id + "/cancel")
	wantPage(t, page, http.StatusOK, "La cita está «Cancelada»: no se puede cancelar.")
	wantNot(t, page, `name="reason"`)
}

func TestWebAgenda(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	numbers := e.webTicketsAt("CCS-01", 3)
	first := e.webBookAPI(numbers[0], "CCS-01", webSlot(monday, 9, 30))
	second := e.webBookAPI(numbers[1], "CCS-01", webSlot(monday, 10, 0))
	e.webBookAPI(numbers[2], "CCS-01", webSlot(monday, 9, 30))
	e.SetNow(monday.Add(30 * time.Minute)) // 09:40: the 09:30 customers are late

	w := e.webClient()
	home := w.login(emailCounter)
	wantPage(t, home, http.StatusOK, `href="/agenda"`, "Agenda")
	page := w.get("/agenda")
	day := monday.Format("02/01/2006")
	wantPage(t, page, http.StatusOK, "Agenda de CCS-01", "lunes "+day, "Hoy", numbers[0], numbers[1], "Transportes Ávila C.A.",
		"Atrasado", "Por llegar", "1 de 3 libres", "Sin citas · 3 de 3 libres", `class="badge sla sla-late"`, "ahora",
		`id="q"`, `href="/tickets/`+numbers[0]+`/check-in"`, `href="/appointments/`+first+`/reschedule?back=`,
		`action="/appointments/`+first+`/no-show"`, "America/Caracas")
	// Slots in time order: 08:00 … 09:30 … 10:00 … 16:30.
	order := []string{">08:00<", ">09:30<", ">10:00<", ">16:30<"}
	last := -1
	for _, s := range order {
		i := strings.Index(page.Body, s)
		if i < 0 || i < last {
			t.Fatalf("slot %s missing or out of order", s)
		}
		last = i
	}
	// No-show only once the slot has started.
	wantNot(t, page, `action="/appointments/`+second+`/no-show"`)
	// The day is the one asked for; a closed day says so.
	sunday := monday.AddDate(0, 0, -1).Format(time.DateOnly)
	wantPage(t, w.get("/agenda?date="+sunday), http.StatusOK, "domingo", "El centro no atiende este día.")
	wantPage(t, w.get("/agenda?date=2026-13-01"), http.StatusBadRequest)
	wantPage(t, w.get("/agenda?date="+monday.AddDate(0, 0, 1).Format(time.DateOnly)), http.StatusOK, "martes", `href="/agenda?date=`+monday.Format(time.DateOnly)+`"`)

	// No-show from the agenda: back to the agenda with the word, the place freed.
	res := w.submit(page, "/appointments/"+first+"/no-show", url.Values{"back": {"/agenda?date=" + monday.Format(time.DateOnly)}})
	if res.Status != http.StatusSeeOther || res.Location != "/agenda?date="+monday.Format(time.DateOnly) {
		t.Fatalf("no-show: %d %q %s", res.Status, res.Location, res.Body)
	}
	page = w.follow(res)
	wantPage(t, page, http.StatusOK, "Se registró que el cliente del ticket "+numbers[0]+" no se presentó.", "No se presentó", "2 de 3 libres")
	// Too early for a no-show: a refusal in words, not a server error.
	res = w.submit(page, "/appointments/"+second+"/no-show", url.Values{})
	wantPage(t, res, http.StatusUnprocessableEntity, "Solo se puede registrar que el cliente no se presentó una vez empezado su turno.")

	// A technician reads the agenda but gets no counter actions.
	tech := e.webClient()
	tech.login(emailTech)
	page = tech.get("/agenda")
	wantPage(t, page, http.StatusOK, numbers[1])
	wantNot(t, page, `id="q"`, "/check-in", "/reschedule")
	// Staff of another centre see their own centre, whatever they ask for.
	other := e.webClient()
	other.login(emailCounter2)
	page = other.get("/agenda?centre=CCS-01&date=" + monday.Format(time.DateOnly))
	wantPage(t, page, http.StatusOK, "Agenda de CCS-02")
	wantNot(t, page, numbers[1])
	// Admins choose the centre.
	admin := e.webClient()
	admin.login(emailAdmin)
	page = admin.get("/agenda?centre=CCS-01&date=" + monday.Format(time.DateOnly))
	wantPage(t, page, http.StatusOK, "Agenda de CCS-01", numbers[1], `<option value="CCS-02"`, `href="/agenda?centre=CCS-01&amp;date=`)
	wantPage(t, admin.get("/agenda?centre=NOPE-9"), http.StatusNotFound)
	// English on request.
	wantPage(t, w.get("/agenda?lang=en"), http.StatusOK, "CCS-01 agenda", "Monday", "Due")
}

func TestWebCheckInIMEIMismatch(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	number := e.ticketAt("CCS-01")
	imei := e.webTicketIMEI(number)
	id := e.webBookAPI(number, "CCS-01", webSlot(monday, 9, 30))
	w := e.webClient()
	w.login(emailCounter)

	wantPage(t, w.get("/check-in"), http.StatusOK, "Recibir cliente", `id="q"`, "autofocus")
	res := w.get("/check-in?q=" + url.QueryEscape(number))
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number+"/check-in" {
		t.Fatalf("check-in scan: %d %q", res.Status, res.Location)
	}
	form := w.follow(res)
	wantPage(t, form, http.StatusOK, "Recibir cliente · ticket "+number, `name="appointment_id" value="`+id+`"`,
		`data-imei="`+imei+`"`, `id="mismatch-field" hidden`, "Cargador", "Cable USB", "Estuche", "Tarjeta SIM", "Caja", "Audífonos")
	if !regexp.MustCompile(`id="received_imei"[^>]*autofocus`).MatchString(form.Body) {
		t.Fatal("the IMEI field does not have the cursor")
	}

	// Bad input: each message beside its field, the input kept.
	res = w.submit(form, "/tickets/"+number+"/check-in", url.Values{"received_imei": {"12345"}, "condition": {""},
		"accessories": {"cargador"}, "appointment_id": {id}})
	wantPage(t, res, http.StatusBadRequest, `id="received_imei-error"`, "debe ser un IMEI", `id="condition-error"`, "es obligatorio",
		`value="12345"`, `value="cargador" checked`)

	// A form for an appointment that is not this ticket's is stale, not obeyed.
	otherID := e.webBookAPI(e.webTicketsAt("CCS-01", 2)[1], "CCS-01", webSlot(monday, 10, 0))
	res = w.submit(form, "/tickets/"+number+"/check-in", url.Values{"received_imei": {imei}, "condition": {"Bien"}, "appointment_id": {otherID}})
	wantPage(t, res, http.StatusConflict, "Otra persona modificó este registro")

	// Another handset without a reason: the reason field appears with the message.
	other := "356938035643809"
	res = w.submit(form, "/tickets/"+number+"/check-in", url.Values{"received_imei": {other}, "condition": {"Pantalla rayada"},
		"accessories": {"cargador", "caja"}, "accessories_other": {"forro azul"}, "appointment_id": {id}})
	wantPage(t, res, http.StatusUnprocessableEntity, `id="mismatch-field"`, `id="imei_mismatch_reason-error"`,
		"El IMEI recibido no coincide con el del ticket ("+imei+")", `value="`+other+`"`, "Pantalla rayada", `value="caja" checked`, `value="forro azul"`)
	wantNot(t, res, `id="mismatch-field" hidden`)
	if !regexp.MustCompile(`id="imei_mismatch_reason"[^>]*autofocus`).MatchString(res.Body) {
		t.Error("the reason field does not have the cursor")
	}
	if _, status := e.webAppointmentOf(number); status != "booked" {
		t.Fatalf("refused check-in changed the appointment: %s", status)
	}

	// With the reason: checked in, the repair order opened, the ticket in service.
	res = w.submit(res, "/tickets/"+number+"/check-in", url.Values{"received_imei": {other}, "imei_mismatch_reason": {"El cliente trae el equipo de reemplazo."},
		"condition": {"Pantalla rayada"}, "accessories": {"cargador"}, "appointment_id": {id}})
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("check-in: %d %q %s", res.Status, res.Location, res.Body)
	}
	var repair struct {
		ID, ReceivedIMEI, IMEIMismatchReason string
		Accessories                          string
	}
	if err := e.DB.Raw(`SELECT r.id, r.received_imei, r.imei_mismatch_reason, r.accessories::text AS accessories FROM repair_orders r
		JOIN tickets t ON t.id = r.ticket_id WHERE t.ticket_number = ?`, number).Scan(&repair).Error; err != nil || repair.ID == "" {
		t.Fatalf("no repair order: %v", err)
	}
	if repair.ReceivedIMEI != other || repair.IMEIMismatchReason == "" || !strings.Contains(repair.Accessories, "cargador") {
		t.Fatalf("repair order %+v", repair)
	}
	ticket := w.follow(res)
	wantPage(t, ticket, http.StatusOK, "Cliente recibido. Orden de reparación "+repair.ID+".", "En servicio", "Cliente recibido", `id="repair-id"`)
	// Checked in already: said on the check-in screen.
	wantPage(t, w.get("/tickets/"+number+"/check-in"), http.StatusOK, "El cliente ya fue recibido; orden de reparación "+repair.ID)
}

func TestWebCheckInNotToday(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	number := e.ticketAt("CCS-01")
	e.webBookAPI(number, "CCS-01", webSlot(monday.AddDate(0, 0, 1), 9, 0))
	w := e.webClient()
	w.login(emailCounter)
	page := w.get("/tickets/" + number + "/check-in")
	wantPage(t, page, http.StatusOK, "no hoy", "Reprogramar", "Cancelar cita")
	wantNot(t, page, `name="received_imei"`)
}

func TestWebWalkIn(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	numbers := e.webTicketsAt("CCS-01", 5)
	w := e.webClient()
	w.login(emailCounter)

	// A ticket without an appointment gets the walk-in form.
	number := numbers[0]
	form := w.get("/tickets/" + number + "/check-in")
	wantPage(t, form, http.StatusOK, "Recibir sin cita · ticket "+number, "Este ticket no tiene cita", "Recibir sin cita")
	wantNot(t, form, `name="appointment_id"`)

	// Closed now (lunch): refused in words, the input kept.
	e.SetNow(monday.Add(3 * time.Hour)) // 12:10
	fields := url.Values{"received_imei": {e.webTicketIMEI(number)}, "condition": {"Sin golpes."}, "accessories": {"estuche"}}
	res := w.submit(form, "/tickets/"+number+"/check-in", fields)
	wantPage(t, res, http.StatusUnprocessableEntity, "El centro no está atendiendo en este momento", "Sin golpes.", `value="estuche" checked`)

	e.SetNow(monday)
	res = w.submit(form, "/tickets/"+number+"/check-in", fields)
	if res.Status != http.StatusSeeOther || res.Location != "/tickets/"+number {
		t.Fatalf("walk-in: %d %q %s", res.Status, res.Location, res.Body)
	}
	wantPage(t, w.follow(res), http.StatusOK, "Cliente recibido sin cita. Orden de reparación", "En servicio", "Llegó sin cita")
	if _, status := e.webAppointmentOf(number); status != "checked_in" {
		t.Fatalf("walk-in appointment %s", status)
	}

	// Two more fill the slot of now; the fourth finds no counter free.
	for _, n := range numbers[1:3] {
		res := e.do(http.MethodPost, "/api/v1/tickets/"+n+"/walk-in", e.token(emailCounter),
			map[string]any{"received_imei": e.webTicketIMEI(n), "condition": "Bien"})
		if res.Status != http.StatusCreated {
			t.Fatalf("walk-in %s: %d %s", n, res.Status, res.Body)
		}
	}
	res = w.submit(form, "/tickets/"+numbers[3]+"/check-in", url.Values{"received_imei": {e.webTicketIMEI(numbers[3])}, "condition": {"Bien"}})
	wantPage(t, res, http.StatusConflict, "Todos los puestos están ocupados en el turno de ahora.")
	wantPage(t, w.get("/agenda"), http.StatusOK, "sin cita", "0 de 3 libres", "Recibido")
}

func TestWebAppointmentCSRFRefused(t *testing.T) {
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	numbers := e.webTicketsAt("CCS-01", 2)
	id := e.webBookAPI(numbers[1], "CCS-01", webSlot(monday, 11, 0))
	w := e.webClient()
	w.login(emailCounter)
	count := func() int64 {
		var n int64
		if err := e.DB.Raw("SELECT count(*) FROM appointments WHERE status = 'booked'").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/tickets/" + numbers[0] + "/book", url.Values{"starts_at": {webSlot(monday, 9, 30)}}},
		{"/appointments/" + id + "/reschedule", url.Values{"starts_at": {webSlot(monday, 9, 30)}, "version": {"1"}}},
		{"/appointments/" + id + "/cancel", url.Values{"reason": {"x"}}},
		{"/appointments/" + id + "/no-show", url.Values{}},
		{"/tickets/" + numbers[1] + "/check-in", url.Values{"received_imei": {e.webTicketIMEI(numbers[1])}, "condition": {"Bien"}, "appointment_id": {id}}},
		{"/tickets/" + numbers[0] + "/check-in", url.Values{"received_imei": {e.webTicketIMEI(numbers[0])}, "condition": {"Bien"}}},
	} {
		res := w.post(tc.path, tc.form)
		wantPage(t, res, http.StatusForbidden, "El formulario caducó")
		tc.form.Set("csrf_token", "forged")
		wantPage(t, w.post(tc.path, tc.form), http.StatusForbidden)
	}
	if after := count(); after != before {
		t.Fatalf("booked appointments %d before, %d after", before, after)
	}
	if _, status := e.webAppointmentOf(numbers[0]); status != "" {
		t.Fatalf("a refused form made an appointment: %s", status)
	}
}
