package api_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"centros/services"
)

// caller is one kind of client in the access table.
type caller string

const (
	asAdmin     caller = "admin"
	asCounter   caller = "counter"         // CCS-01
	asTech      caller = "technician"      // CCS-01
	asManager   caller = "centre_manager"  // CCS-01
	asCounter2  caller = "counter_ccs02"   // CCS-02
	asWarehouse caller = "warehouse"       // ALM-CAP, business unit CAP
	asCSM       caller = "csm"             // the demo API client
	asNobody    caller = "no_token"        // no Authorization header
	asBadToken  caller = "unknown_token"   // a token nobody issued
	asStale     caller = "malformed_token" // "Authorization: Token x"
)

var callers = []caller{asAdmin, asCounter, asTech, asManager, asCounter2, asWarehouse, asCSM, asNobody, asBadToken, asStale}

var staffEmail = map[caller]string{asAdmin: emailAdmin, asCounter: emailCounter, asTech: emailTech, asManager: emailManager,
	asCounter2: emailCounter2, asWarehouse: emailWarehouse}

var authenticated = []caller{asAdmin, asCounter, asTech, asManager, asCounter2, asWarehouse, asCSM}

// outcome is the status (and problem code) a caller must get.
type outcome struct {
	status int
	code   string
}

type outcomes map[caller]outcome

// public: everyone gets status, token or not.
func public(status int) outcomes {
	o := outcomes{}
	for _, c := range callers {
		o[c] = outcome{status: status}
	}
	return o
}

// only: the given callers get status, other authenticated callers 403 forbidden, the
// unauthenticated 401.
func only(status int, allowed ...caller) outcomes {
	o := outcomes{}
	for _, c := range authenticated {
		o[c] = outcome{http.StatusForbidden, "forbidden"}
	}
	for _, c := range allowed {
		o[c] = outcome{status: status}
	}
	for _, c := range []caller{asNobody, asBadToken, asStale} {
		o[c] = outcome{http.StatusUnauthorized, "unauthenticated"}
	}
	return o
}

// anyone authenticated gets status.
func signedIn(status int) outcomes { return only(status, authenticated...) }

// but overrides some callers' outcome.
func (o outcomes) but(status int, code string, cs ...caller) outcomes {
	out := outcomes{}
	for k, v := range o {
		out[k] = v
	}
	for _, c := range cs {
		out[c] = outcome{status, code}
	}
	return out
}

// accessFixture is what the access table works on, made once.
type accessFixture struct {
	e            *testEnv
	tokens       map[caller]string
	patchUser    string
	deleteUser   string
	deleteClient string
	resolved     string
	// The appointments part: the clock is pinned to a Monday at 09:10 in Caracas.
	monday time.Time
	// appointments at CCS-01 to read, move, cancel, and mark a no-show (its slot,
	// 08:30, has started)
	aptGet, aptMove, aptCancel, aptNoShow string
	// checkIn holds a booked appointment today for each caller that may check in
	checkIn map[caller]string
	// referred tickets at CCS-01 and CCS-02 the fixture added
	extraTickets, extraCCS02 int
	// published callback events (from the bookings) to replay
	events []string
	// The bench: an open repair order; a ready one for each caller that may certify, and
	// a certificate for each that may void.
	repair   string
	certify  map[caller]string
	voidable map[caller]map[string]any
	// The inventory, settled: each write reaches its business rule once past the gate.
	inv inventoryScene
}

// callerIndex numbers the callers, for data of their own.
func callerIndex(c caller) int { return slices.Index(callers, c) }

func newAccessFixture(t *testing.T) *accessFixture {
	f := &accessFixture{e: newTestEnv(t), tokens: map[caller]string{}, checkIn: map[caller]string{},
		certify: map[caller]string{}, voidable: map[caller]map[string]any{}}
	e := f.e
	// the clock first: sessions expire by it
	f.monday = aptMonday()
	e.SetNow(aptAt(f.monday, 0, 8, 0))
	for c, email := range staffEmail {
		f.tokens[c] = e.token(email)
	}
	f.tokens[asCSM] = e.CSMToken
	f.tokens[asBadToken] = "cst_nobody-ever-issued-this-token-at-all-000000"
	adm := f.tokens[asAdmin]
	mk := func(email string) string {
		u := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/users", adm, map[string]any{
			"email": email, "name": "Objetivo", "password": "password-123", "role": "counter", "centre_code": "CCS-02"}), http.StatusCreated)
		return str(u["id"])
	}
	f.patchUser, f.deleteUser = mk("editar@example.com"), mk("borrar@example.com")
	f.deleteClient = str(wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/api-clients", adm, map[string]any{"name": "Revocar", "role": "csm"}), http.StatusCreated)["id"])
	f.resolved = demoTicket(9)
	e.resolve(f.resolved)

	mon := f.monday
	refer := func(number string) string {
		e.aptRefer(number, "CCS-01", mon.Add(-2*time.Hour))
		f.extraTickets++
		return number
	}
	csm := f.tokens[asCSM]
	f.aptGet = e.aptBooked(csm, refer("ACC-APT-GET"), "CCS-01", aptAt(mon, 0, 11, 0))
	f.aptMove = e.aptBooked(csm, refer("ACC-APT-MOVE"), "CCS-01", aptAt(mon, 0, 11, 0))
	f.aptCancel = e.aptBooked(csm, refer("ACC-APT-CANCEL"), "CCS-01", aptAt(mon, 0, 11, 0))
	f.aptNoShow = e.aptBooked(csm, refer("ACC-APT-NOSHOW"), "CCS-01", aptAt(mon, 0, 8, 30))
	for _, c := range []caller{asAdmin, asCounter, asManager} {
		f.checkIn[c] = e.aptBooked(csm, refer("ACC-CI-"+string(c)), "CCS-01", aptAt(mon, 0, 10, 0))
	}
	for _, c := range callers {
		refer(fmt.Sprintf("ACC-BOOK-%d", callerIndex(c)))
		refer(fmt.Sprintf("ACC-WALK-%d", callerIndex(c)))
	}
	e.aptRefer("ACC-WALK-CCS02", "CCS-02", mon.Add(-2*time.Hour))
	f.extraCCS02++
	f.repair = e.repairAt("ACC-REP-GET", aptAt(mon, 0, 11, 30))
	for _, c := range []caller{asAdmin, asTech, asManager} {
		f.certify[c] = e.repairAt("ACC-REP-"+string(c), aptAt(mon, 0, 9, 30))
		e.readyRepair(f.certify[c])
	}
	for _, c := range []caller{asAdmin, asManager} {
		id := e.repairAt("ACC-VOID-"+string(c), aptAt(mon, 0, 10, 30))
		e.readyRepair(id)
		f.voidable[c] = wantStatus(t, e.do(http.MethodPost, "/api/v1/repairs/"+id+"/certify", f.tokens[asTech], map[string]any{"outcome": "repaired"}), http.StatusCreated)
	}
	f.extraTickets += 6
	f.inv = e.inventoryScene(mon)
	f.extraTickets++
	// the bookings' events, published, to list and replay
	f.events = e.publishedEvents()
	if len(f.events) < 3 {
		t.Fatalf("%d events published", len(f.events))
	}
	// 09:10: the 08:30 slot has started, 09:00 is running with every counter free
	e.SetNow(mon)
	return f
}

// repairVersion is the open repair order's version now.
func (f *accessFixture) repairVersion(t *testing.T) any {
	return wantStatus(t, f.e.do(http.MethodGet, "/api/v1/repairs/"+f.repair, f.tokens[asAdmin], nil), http.StatusOK)["version"]
}

// fresh returns a token of the caller's that a test may revoke.
func (f *accessFixture) fresh(t *testing.T, c caller) string {
	switch {
	case c == asCSM:
		return str(wantStatus(t, f.e.do(http.MethodPost, "/api/v1/admin/api-clients", f.tokens[asAdmin], map[string]any{"name": "Salir", "role": "csm"}), http.StatusCreated)["token"])
	case staffEmail[c] != "":
		return f.e.login(staffEmail[c], services.DemoPassword)
	}
	return f.tokens[c]
}

type accessCase struct {
	name         string
	method, path string
	body         any
	want         outcomes
	// freshToken: the request revokes the caller's token, so it gets one of its own.
	freshToken bool
	// check looks further at an allowed caller's response.
	check func(t *testing.T, c caller, res response)
	// perCaller, when set, gives each caller a path and body of its own (for writes
	// that succeed once per record); path and body above stand for the route.
	perCaller func(c caller) (path string, body any)
}

// TestAccess runs every endpoint as every kind of caller and asserts the exact status
// and problem code, following the permission table of services/access.go: what a role
// may not do is 403 forbidden; what is outside its centre or business unit is 404,
// never the data; without a valid token, 401.
func TestAccess(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t)
	e := f.e
	ccs01, ccs02, unassigned := demoTicket(0), demoTicket(2), demoTicket(3)
	centreStaff01 := []caller{asCounter, asTech, asManager}
	allStaff := []caller{asAdmin, asCounter, asTech, asManager, asCounter2, asWarehouse}
	countItems := func(want map[caller]int) func(*testing.T, caller, response) {
		return func(t *testing.T, c caller, res response) {
			if n := len(items(t, res.JSON())); n != want[c] {
				t.Errorf("%s sees %d items, want %d", c, n, want[c])
			}
		}
	}
	noData := func(t *testing.T, c caller, res response) {
		if res.Status == http.StatusNotFound && (strings.Contains(string(res.Body), "customer") || strings.Contains(string(res.Body), "opening_hours")) {
			t.Errorf("a 404 shows the record: %s", res.Body)
		}
	}
	newCentre := validCentre("ACC-01")
	mon, x, y := f.monday, f.extraTickets, f.extraCCS02
	day := aptDate(mon)
	slotsOf := func(centre string) func(*testing.T, caller, response) {
		return func(t *testing.T, c caller, res response) {
			if res.Status != http.StatusOK {
				return
			}
			body := res.JSON()
			if body["centre_code"] != centre || len(body["slots"].([]any)) == 0 {
				t.Errorf("%s: availability %s", c, res.Body)
			}
		}
	}
	agendaOf := func(centre string, atLeast int) func(*testing.T, caller, response) {
		return func(t *testing.T, c caller, res response) {
			if res.Status != http.StatusOK {
				return
			}
			if body := res.JSON(); body["centre_code"] != centre || len(items(t, body)) < atLeast {
				t.Errorf("%s: agenda %s", c, res.Body)
			}
		}
	}
	appointmentIs := func(status string) func(*testing.T, caller, response) {
		return func(t *testing.T, c caller, res response) {
			if res.Status < 300 && res.JSON()["status"] != status {
				t.Errorf("%s: appointment %s, want %s", c, res.Body, status)
			}
		}
	}
	noAppointment := func(t *testing.T, c caller, res response) {
		if res.Status == http.StatusNotFound && strings.Contains(string(res.Body), "ticket_number") {
			t.Errorf("a 404 shows the appointment: %s", res.Body)
		}
	}
	cases := []accessCase{
		{name: "Healthz", method: "GET", path: "/healthz", want: public(200)},
		{name: "Readyz", method: "GET", path: "/readyz", want: public(200)},
		{name: "Metrics", method: "GET", path: "/metrics", want: public(200)},
		{name: "OpenAPI", method: "GET", path: "/api/v1/openapi.json", want: public(200)},
		{name: "Login", method: "POST", path: "/api/v1/auth/login", body: map[string]any{"email": emailTech, "password": services.DemoPassword}, want: public(200)},
		{name: "Logout", method: "POST", path: "/api/v1/auth/logout", want: signedIn(204), freshToken: true},
		{name: "Me", method: "GET", path: "/api/v1/me", want: signedIn(200)},

		{name: "CreateBusinessUnit", method: "POST", path: "/api/v1/admin/business-units", body: map[string]any{"code": "ACC", "name": "Acceso"}, want: only(201, asAdmin)},
		{name: "ListBusinessUnits", method: "GET", path: "/api/v1/admin/business-units", want: only(200, asAdmin)},
		{name: "CreateWarehouse", method: "POST", path: "/api/v1/admin/warehouses", body: map[string]any{"code": "ALM-ACC", "name": "Acceso", "business_unit_code": "CAP"}, want: only(201, asAdmin)},
		{name: "ListWarehouses", method: "GET", path: "/api/v1/admin/warehouses", want: only(200, asAdmin)},
		{name: "CreateCentre", method: "POST", path: "/api/v1/admin/centres", body: newCentre, want: only(201, asAdmin)},
		// centres are read by everyone, each within their scope
		{name: "ListCentres", method: "GET", path: "/api/v1/admin/centres", want: signedIn(200),
			check: countItems(map[caller]int{asAdmin: 3, asCSM: 3, asWarehouse: 3, asCounter: 1, asTech: 1, asManager: 1, asCounter2: 1})},
		{name: "GetCentreCCS01", method: "GET", path: "/api/v1/admin/centres/CCS-01", want: signedIn(200).but(404, "not_found", asCounter2), check: noData},
		{name: "GetCentreCCS02", method: "GET", path: "/api/v1/admin/centres/CCS-02", want: signedIn(200).but(404, "not_found", centreStaff01...), check: noData},
		{name: "GetCentreUnknown", method: "GET", path: "/api/v1/admin/centres/NOPE", want: signedIn(404).but(404, "not_found", authenticated...)},
		{name: "UpdateCentre", method: "PATCH", path: "/api/v1/admin/centres/CCS-02", body: map[string]any{"name": "Editado", "version": 1}, want: only(200, asAdmin)},
		{name: "CreateUser", method: "POST", path: "/api/v1/admin/users", body: map[string]any{"email": "acceso@example.com", "name": "Acceso", "password": "password-123", "role": "counter", "centre_code": "CCS-01"}, want: only(201, asAdmin)},
		{name: "ListUsers", method: "GET", path: "/api/v1/admin/users", want: only(200, asAdmin)},
		{name: "GetUser", method: "GET", path: "/api/v1/admin/users/" + f.patchUser, want: only(200, asAdmin)},
		{name: "UpdateUser", method: "PATCH", path: "/api/v1/admin/users/" + f.patchUser, body: map[string]any{"name": "Editado", "version": 1}, want: only(200, asAdmin)},
		{name: "DisableUser", method: "DELETE", path: "/api/v1/admin/users/" + f.deleteUser, want: only(204, asAdmin)},
		{name: "CreateAPIClient", method: "POST", path: "/api/v1/admin/api-clients", body: map[string]any{"name": "Acceso", "role": "csm"}, want: only(201, asAdmin)},
		{name: "ListAPIClients", method: "GET", path: "/api/v1/admin/api-clients", want: only(200, asAdmin)},
		{name: "RevokeAPIClient", method: "DELETE", path: "/api/v1/admin/api-clients/" + f.deleteClient, want: only(204, asAdmin)},
		// the callbacks to CSM: only an admin sees and replays them
		{name: "ListDeliveries", method: "GET", path: "/api/v1/admin/deliveries?status=pending", want: only(200, asAdmin),
			check: func(t *testing.T, c caller, res response) {
				if n := len(items(t, res.JSON())); n != len(f.events) {
					t.Errorf("%d deliveries listed, want %d", n, len(f.events))
				}
			}},
		{name: "ReplayDeliveries", method: "POST", path: "/api/v1/admin/deliveries/replay", body: map[string]any{"ids": f.events[:2]}, want: only(200, asAdmin),
			check: func(t *testing.T, c caller, res response) {
				if n := res.JSON()["replayed"]; n != float64(2) {
					t.Errorf("replayed %v, want 2", n)
				}
			}},
		{name: "ReplayDelivery", method: "POST", path: "/api/v1/admin/deliveries/" + f.events[2] + "/replay", want: only(200, asAdmin),
			check: func(t *testing.T, c caller, res response) {
				if n := res.JSON()["replayed"]; n != float64(1) {
					t.Errorf("replayed %v, want 1", n)
				}
			}},
		{name: "ReplayDeliveryUnknown", method: "POST", path: "/api/v1/admin/deliveries/evt_00000000000000000000000000000000/replay",
			want: only(404, asAdmin).but(404, "not_found", asAdmin)},

		{name: "ReferTicket", method: "POST", path: "/api/v1/csm/tickets", body: validReferral("ACC-0001"), want: only(201, asCSM)},
		{name: "CancelTicket", method: "POST", path: "/api/v1/csm/tickets/" + demoTicket(8) + "/cancel", body: map[string]any{"reason": "x"}, want: only(200, asCSM)},
		{name: "ClosedTicket", method: "POST", path: "/api/v1/csm/tickets/" + f.resolved + "/closed", body: map[string]any{"closed_at": time.Now().Format(time.RFC3339)}, want: only(200, asCSM)},
		{name: "Events", method: "GET", path: "/api/v1/csm/events", want: only(200, asCSM, asAdmin)},

		{name: "SearchTickets", method: "GET", path: "/api/v1/tickets?limit=500", want: only(200, allStaff...),
			check: countItems(map[caller]int{asAdmin: 21 + x + y, asCounter: 11 + x, asTech: 11 + x, asManager: 11 + x, asCounter2: 5 + y, asWarehouse: 16 + x + y})},
		{name: "SearchTicketsOtherCentre", method: "GET", path: "/api/v1/tickets?centre_code=CCS-02", want: only(200, allStaff...),
			check: countItems(map[caller]int{asAdmin: 5 + y, asCounter: 0, asTech: 0, asManager: 0, asCounter2: 5 + y, asWarehouse: 5 + y})},
		{name: "GetTicketCCS01", method: "GET", path: "/api/v1/tickets/" + ccs01, want: signedIn(200).but(404, "not_found", asCounter2), check: noData},
		{name: "GetTicketCCS02", method: "GET", path: "/api/v1/tickets/" + ccs02, want: signedIn(200).but(404, "not_found", centreStaff01...), check: noData},
		// not yet at a centre: any centre may book it, the warehouse has nothing to do with it
		{name: "GetTicketUnassigned", method: "GET", path: "/api/v1/tickets/" + unassigned, want: signedIn(200).but(404, "not_found", asWarehouse), check: noData},
		{name: "GetTicketUnknown", method: "GET", path: "/api/v1/tickets/NOPE-1", want: signedIn(404).but(404, "not_found", authenticated...)},
		{name: "Audit", method: "GET", path: "/api/v1/audit", want: only(200, asAdmin, asManager)},

		// Appointments: staff of a centre work its calendar; the warehouse only reads
		// availability; CSM books, moves, cancels and reads, but the counter receives.
		{name: "AvailabilityCCS01", method: "GET", path: "/api/v1/centres/CCS-01/availability?from=" + day + "&to=" + day,
			want: signedIn(200).but(404, "not_found", asCounter2), check: slotsOf("CCS-01")},
		{name: "AvailabilityCCS02", method: "GET", path: "/api/v1/centres/CCS-02/availability?from=" + day + "&to=" + day,
			want: signedIn(200).but(404, "not_found", centreStaff01...), check: slotsOf("CCS-02")},
		{name: "AvailabilityForTicket", method: "GET", path: "/api/v1/centres/CCS-01/availability?from=" + day + "&to=" + day + "&ticket_number=ACC-APT-GET",
			want: signedIn(200).but(404, "not_found", asCounter2), check: slotsOf("CCS-01")},
		// the centre is theirs, the ticket (at CCS-02) is not
		{name: "AvailabilityForOtherCentresTicket", method: "GET", path: "/api/v1/centres/CCS-01/availability?from=" + day + "&to=" + day + "&ticket_number=" + ccs02,
			want: signedIn(200).but(404, "not_found", asCounter2, asCounter, asTech, asManager)},
		{name: "AvailabilityUnknownCentre", method: "GET", path: "/api/v1/centres/NOPE/availability?from=" + day + "&to=" + day,
			want: signedIn(404).but(404, "not_found", authenticated...)},
		{name: "AgendaCCS01", method: "GET", path: "/api/v1/centres/CCS-01/agenda?date=" + day,
			want: only(200, asAdmin, asCounter, asTech, asManager).but(404, "not_found", asCounter2), check: agendaOf("CCS-01", 7)},
		{name: "AgendaCCS02", method: "GET", path: "/api/v1/centres/CCS-02/agenda?date=" + day,
			want: only(200, asAdmin, asCounter2).but(404, "not_found", centreStaff01...), check: agendaOf("CCS-02", 0)},
		{name: "BookAppointment", method: "POST", path: "/api/v1/appointments", body: map[string]any{},
			want: only(201, asAdmin, asCounter, asManager, asCSM).but(404, "not_found", asCounter2),
			perCaller: func(c caller) (string, any) {
				i := callerIndex(c)
				start := aptAt(mon, 1+i/4, 8, 0).Add(time.Duration(i%4) * 30 * time.Minute)
				return "/api/v1/appointments", map[string]any{"ticket_number": fmt.Sprintf("ACC-BOOK-%d", i), "centre_code": "CCS-01", "starts_at": aptRFC(start)}
			},
			check: appointmentIs("booked")},
		{name: "GetAppointment", method: "GET", path: "/api/v1/appointments/" + f.aptGet,
			want: signedIn(200).but(403, "forbidden", asWarehouse).but(404, "not_found", asCounter2), check: noAppointment},
		{name: "GetAppointmentUnknown", method: "GET", path: "/api/v1/appointments/6f1c1b8e-0000-4000-8000-000000000000",
			want: signedIn(404).but(404, "not_found", authenticated...).but(403, "forbidden", asWarehouse)},
		{name: "RescheduleAppointment", method: "POST", path: "/api/v1/appointments/" + f.aptMove + "/reschedule",
			body: map[string]any{"starts_at": aptRFC(aptAt(mon, 0, 11, 30))},
			want: only(200, asAdmin, asCounter, asManager, asCSM).but(404, "not_found", asCounter2), check: appointmentIs("booked")},
		{name: "CancelAppointment", method: "POST", path: "/api/v1/appointments/" + f.aptCancel + "/cancel", body: map[string]any{"reason": "acceso"},
			want: only(200, asAdmin, asCounter, asManager, asCSM).but(404, "not_found", asCounter2), check: appointmentIs("cancelled")},
		{name: "NoShow", method: "POST", path: "/api/v1/appointments/" + f.aptNoShow + "/no-show",
			want: only(200, asAdmin, asCounter, asManager).but(404, "not_found", asCounter2), check: appointmentIs("no_show")},
		{name: "CheckIn", method: "POST", path: "/api/v1/appointments/" + f.aptGet + "/check-in", body: aptCheckInBody(aptIMEI),
			want: only(201, asAdmin, asCounter, asManager).but(404, "not_found", asCounter2),
			perCaller: func(c caller) (string, any) {
				id := f.checkIn[c]
				if id == "" {
					id = f.aptGet
				}
				return "/api/v1/appointments/" + id + "/check-in", aptCheckInBody(aptIMEI)
			},
			check: appointmentIs("checked_in")},
		{name: "WalkIn", method: "POST", path: "/api/v1/tickets/ACC-WALK-0/walk-in", body: map[string]any{},
			want: only(201, asAdmin, asCounter, asManager).but(404, "not_found", asCounter2),
			perCaller: func(c caller) (string, any) {
				body := aptCheckInBody(aptIMEI)
				body["centre_code"] = "CCS-01"
				return fmt.Sprintf("/api/v1/tickets/ACC-WALK-%d/walk-in", callerIndex(c)), body
			},
			check: appointmentIs("checked_in")},
		// a walk-in names no centre: staff walk customers in at their own
		// The bench: staff of the centre read repairs and print certificates; technicians
		// and managers work on them; only managers void.
		{name: "TestCatalogue", method: "GET", path: "/api/v1/test-catalogue", want: only(200, allStaff...)},
		{name: "ActionCatalogue", method: "GET", path: "/api/v1/corrective-actions", want: only(200, allStaff...)},
		{name: "SaveTest", method: "PUT", path: "/api/v1/admin/test-catalogue/vibration",
			body: map[string]any{"name_es": "Vibración", "name_en": "Vibration", "mandatory": false}, want: only(201, asAdmin)},
		{name: "SaveAction", method: "PUT", path: "/api/v1/admin/corrective-actions/glue",
			body: map[string]any{"name_es": "Pegado", "name_en": "Glued"}, want: only(201, asAdmin)},
		{name: "GetRepair", method: "GET", path: "/api/v1/repairs/" + f.repair,
			want: only(200, asAdmin, asCounter, asTech, asManager, asCounter2).but(404, "not_found", asCounter2), check: noData},
		{name: "UpdateRepair", method: "PATCH", path: "/api/v1/repairs/" + f.repair, body: map[string]any{},
			want: only(200, asAdmin, asTech, asManager),
			perCaller: func(c caller) (string, any) {
				return "/api/v1/repairs/" + f.repair, map[string]any{"diagnosis": "Revisado por " + string(c), "version": f.repairVersion(t)}
			}},
		{name: "RecordTests", method: "PUT", path: "/api/v1/repairs/" + f.repair + "/tests", body: map[string]any{},
			want: only(200, asAdmin, asTech, asManager),
			perCaller: func(c caller) (string, any) {
				return "/api/v1/repairs/" + f.repair + "/tests", map[string]any{"results": []any{map[string]any{"code": "sms", "result": "pass"}}, "version": f.repairVersion(t)}
			}},
		{name: "Certify", method: "POST", path: "/api/v1/repairs/" + f.repair + "/certify", body: map[string]any{"outcome": "repaired"},
			want: only(201, asAdmin, asTech, asManager),
			perCaller: func(c caller) (string, any) {
				id := f.certify[c]
				if id == "" {
					id = f.certify[asTech]
				}
				return "/api/v1/repairs/" + id + "/certify", map[string]any{"outcome": "repaired"}
			}},
		{name: "CertificatePDF", method: "GET", path: "/api/v1/certificates/" + str(f.voidable[asAdmin]["certificate_number"]) + ".pdf",
			want: only(200, asAdmin, asCounter, asTech, asManager, asCounter2).but(404, "not_found", asCounter2)},
		{name: "VoidCertificate", method: "POST", path: "/api/v1/certificates/x/void", body: map[string]any{"reason": "acceso"},
			want: only(200, asAdmin, asManager),
			perCaller: func(c caller) (string, any) {
				cert := f.voidable[c]
				if cert == nil {
					cert = f.voidable[asManager]
				}
				return "/api/v1/certificates/" + str(cert["certificate_number"]) + "/void", map[string]any{"reason": "acceso"}
			}},
		{name: "Verify", method: "GET", path: "/verify/" + str(f.voidable[asManager]["verification_code"]), want: public(200)},
		// Inventory: the warehouse registers and ships, the centre swaps, returns and
		// receives, CSM answers service changes. Writes on settled records answer their
		// business rule to whoever passes the gate.
		{name: "Stock", method: "GET", path: "/api/v1/centres/CCS-01/stock", want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "Unit", method: "GET", path: "/api/v1/units/" + testIMEI(20, 1), want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "RegisterUnit", method: "POST", path: "/api/v1/admin/units", body: map[string]any{}, want: only(201, asAdmin, asWarehouse),
			perCaller: func(c caller) (string, any) {
				return "/api/v1/admin/units", map[string]any{"imei": testIMEI(22, callerIndex(c)), "brand": "Motorola", "model": "Moto G24", "kind": "backup", "location_code": "ALM-CAP"}
			}},
		{name: "RegisterUnits", method: "POST", path: "/api/v1/admin/units/batch", body: map[string]any{}, want: only(200, asAdmin, asWarehouse),
			perCaller: func(c caller) (string, any) {
				return "/api/v1/admin/units/batch", map[string]any{"imeis": []string{testIMEI(23, callerIndex(c))}, "brand": "Motorola", "model": "Moto G24", "kind": "backup", "location_code": "ALM-CAP"}
			}},
		{name: "Swap", method: "POST", path: "/api/v1/repairs/" + f.repair + "/swap", body: map[string]any{"model": "Ninguno"},
			want: only(409, asAdmin, asTech, asManager).but(409, "no_stock", asAdmin, asTech, asManager)},
		{name: "GetSwap", method: "GET", path: "/api/v1/swaps/" + f.inv.swapID, want: only(200, asAdmin, asCounter, asTech, asManager, asCounter2).but(404, "not_found", asCounter2)},
		// the warehouse checks the endorsements of what returns bring
		{name: "Endorsement", method: "GET", path: "/api/v1/swaps/" + f.inv.swapID + "/endorsement.pdf", want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "RetrySwap", method: "POST", path: "/api/v1/swaps/" + f.inv.swapID + "/retry",
			want: only(409, asAdmin, asTech, asManager).but(409, "swap_not_failed", asAdmin, asTech, asManager)},
		{name: "UndoSwap", method: "POST", path: "/api/v1/swaps/" + f.inv.swapID + "/undo", body: map[string]any{"reason": "acceso"},
			want: only(409, asAdmin, asTech, asManager).but(409, "swap_confirmed", asAdmin, asTech, asManager)},
		{name: "ServiceChange", method: "POST", path: "/api/v1/csm/service-changes/" + f.inv.swapID, body: map[string]any{"status": "confirmed"}, want: only(200, asCSM)},
		{name: "CreateReturn", method: "POST", path: "/api/v1/returns", body: map[string]any{"imeis": []string{testIMEI(24, 1)}},
			want: only(422, asAdmin, asManager).but(422, "unit_not_returnable", asAdmin, asManager)},
		{name: "ListReturns", method: "GET", path: "/api/v1/returns", want: only(200, allStaff...),
			check: countItems(map[caller]int{asAdmin: 1, asCounter: 1, asTech: 1, asManager: 1, asCounter2: 0, asWarehouse: 1})},
		{name: "GetReturn", method: "GET", path: "/api/v1/returns/" + f.inv.returnID, want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "DispatchReturn", method: "POST", path: "/api/v1/returns/" + f.inv.returnID + "/dispatch",
			want: only(409, asAdmin, asManager).but(409, "return_not_draft", asAdmin, asManager)},
		{name: "PackingList", method: "GET", path: "/api/v1/returns/" + f.inv.returnID + "/packing-list.pdf", want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "ReceiveReturn", method: "POST", path: "/api/v1/returns/" + f.inv.returnID + "/receive", body: map[string]any{"scanned_imeis": []string{}},
			want: only(409, asAdmin, asWarehouse).but(409, "return_not_dispatched", asAdmin, asWarehouse)},
		{name: "ResolveDiscrepancy", method: "POST", path: "/api/v1/returns/" + f.inv.returnID + "/discrepancies/" + f.inv.discrepancyID + "/resolve",
			body: map[string]any{"note": "acceso"}, want: only(409, asAdmin, asManager, asWarehouse).but(409, "discrepancy_resolved", asAdmin, asManager, asWarehouse)},
		{name: "RequestRestock", method: "POST", path: "/api/v1/restock-requests", body: map[string]any{"lines": []any{map[string]any{"model": "Moto G24", "quantity": 1}}},
			want: only(201, asManager)},
		{name: "ListRestock", method: "GET", path: "/api/v1/restock-requests", want: only(200, allStaff...)},
		{name: "GetRestock", method: "GET", path: "/api/v1/restock-requests/" + f.inv.restockID, want: only(200, allStaff...).but(404, "not_found", asCounter2)},
		{name: "FulfilRestock", method: "POST", path: "/api/v1/restock-requests/" + f.inv.restockID + "/fulfil", body: map[string]any{"imeis": []string{testIMEI(24, 1)}},
			want: only(409, asAdmin, asWarehouse).but(409, "restock_not_open", asAdmin, asWarehouse)},
		{name: "ReceiveRestock", method: "POST", path: "/api/v1/restock-requests/" + f.inv.restockID + "/receive", body: map[string]any{"imeis": []string{testIMEI(24, 1)}},
			want: only(409, asAdmin, asCounter, asTech, asManager, asCounter2).but(409, "restock_not_shipped", asAdmin, asCounter, asTech, asManager).but(404, "not_found", asCounter2)},
		{name: "RejectRestock", method: "POST", path: "/api/v1/restock-requests/" + f.inv.restockID + "/reject", body: map[string]any{"reason": "acceso"},
			want: only(409, asAdmin, asWarehouse).but(409, "restock_not_open", asAdmin, asWarehouse)},
		{name: "WalkInAtOwnCentre", method: "POST", path: "/api/v1/tickets/ACC-WALK-CCS02/walk-in", body: aptCheckInBody(aptIMEI),
			want: only(201, asCounter2).but(404, "not_found", asCounter, asManager).but(400, "validation_failed", asAdmin), check: appointmentIs("checked_in")},
	}
	// the table covers every endpoint of the contract
	for _, r := range e.Server.Routes() {
		method, pattern, _ := strings.Cut(r, " ")
		if !documentedRoute(pattern) {
			continue
		}
		re := regexp.MustCompile("^" + ginParam.ReplaceAllString(regexp.QuoteMeta(pattern), "[^/]+") + "$")
		covered := false
		for _, c := range cases {
			path, _, _ := strings.Cut(c.path, "?")
			covered = covered || (c.method == method && re.MatchString(path))
		}
		if !covered {
			t.Errorf("%s has no row in the access table", r)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, who := range callers {
				want, ok := c.want[who]
				if !ok {
					t.Fatalf("no outcome for %s", who)
				}
				token := f.tokens[who]
				if c.freshToken {
					token = f.fresh(t, who)
				}
				var headers []string
				if who == asStale {
					headers = []string{"Authorization", "Token " + f.tokens[asAdmin]}
				}
				path, body := c.path, c.body
				if c.perCaller != nil {
					path, body = c.perCaller(who)
				}
				res := e.do(c.method, path, token, body, headers...)
				if res.Status != want.status {
					t.Errorf("%s: status %d, want %d: %s", who, res.Status, want.status, res.Body)
					continue
				}
				if want.status >= 400 {
					if got := res.Code(); got != want.code {
						t.Errorf("%s: code %q, want %q", who, got, want.code)
					}
					if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
						t.Errorf("%s: content type %q", who, res.Header.Get("Content-Type"))
					}
					if want.status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: 401 without WWW-Authenticate", who)
					}
				}
				if c.check != nil && res.Status < 300 {
					c.check(t, who, res)
				}
				if c.check != nil && res.Status == http.StatusNotFound {
					c.check(t, who, res)
				}
			}
		})
	}
}

// TestAccessTicketOfAnotherCentre: a CCS-02 counter asking for a CCS-01 ticket is told
// it does not exist, exactly as for a number nobody has, and cannot act on it.
func TestAccessTicketOfAnotherCentre(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(emailCounter2)
	other := e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(0), tok, nil)
	none := e.do(http.MethodGet, "/api/v1/tickets/CSM-1999-0000001", tok, nil)
	wantProblem(t, other, http.StatusNotFound, "not_found")
	wantProblem(t, none, http.StatusNotFound, "not_found")
	if other.JSON()["detail"] != none.JSON()["detail"] || strings.Contains(string(other.Body), "customer") {
		t.Fatalf("another centre's ticket is distinguishable from a missing one:\n%s\n%s", other.Body, none.Body)
	}
	// its own centre's ticket and an unassigned one are visible
	wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(2), tok, nil), http.StatusOK)
	wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(3), tok, nil), http.StatusOK)
	// the warehouse sees every ticket of its business unit's centres
	wh := e.token(emailWarehouse)
	for i := 0; i < 20; i++ {
		res := e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(i), wh, nil)
		want := http.StatusOK
		if i%4 == 3 {
			want = http.StatusNotFound
		}
		if res.Status != want {
			t.Errorf("warehouse, %s: %d, want %d", demoTicket(i), res.Status, want)
		}
	}
	// a warehouse of another business unit sees none of them
	adm := e.token(emailAdmin)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/business-units", adm, map[string]any{"code": "OCC", "name": "Occidente"}), http.StatusCreated)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/warehouses", adm, map[string]any{"code": "ALM-OCC", "name": "Almacén Occidente", "business_unit_code": "OCC"}), http.StatusCreated)
	wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/users", adm, map[string]any{"email": "almacen.occ@example.com", "name": "Almacén Occidente",
		"password": "password-123", "role": "warehouse", "warehouse_code": "ALM-OCC"}), http.StatusCreated)
	occ := e.login("almacen.occ@example.com", "password-123")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(0), occ, nil), http.StatusNotFound, "not_found")
	wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/centres/CCS-01", occ, nil), http.StatusNotFound, "not_found")
	if list := items(t, wantStatus(t, e.do(http.MethodGet, "/api/v1/tickets", occ, nil), http.StatusOK)); len(list) != 0 {
		t.Fatalf("another business unit's warehouse sees %d tickets", len(list))
	}
}

// TestAccessRevokedCredentials: a token stops working the moment its user is disabled,
// its password changes, it is logged out or expires, or its API client is revoked.
func TestAccessRevokedCredentials(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	staff := func(email string) func(*testing.T) string { return func(*testing.T) string { return e.token(email) } }
	var clientID string
	for _, c := range []struct {
		name   string
		token  func(t *testing.T) string
		revoke func(t *testing.T, token string)
	}{
		{"UserDisabled", staff(emailTech), func(t *testing.T, _ string) {
			wantStatus(t, e.do(http.MethodDelete, "/api/v1/admin/users/"+e.userID(emailTech), adm, nil), http.StatusNoContent)
		}},
		{"PasswordChanged", staff(emailCounter), func(t *testing.T, _ string) {
			wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+e.userID(emailCounter), adm, map[string]any{"password": "nueva-clave-123", "version": 1}), http.StatusOK)
		}},
		{"DisabledByPatch", staff(emailManager), func(t *testing.T, _ string) {
			wantStatus(t, e.do(http.MethodPatch, "/api/v1/admin/users/"+e.userID(emailManager), adm, map[string]any{"active": false, "version": 1}), http.StatusOK)
		}},
		{"DisabledInDatabase", staff(emailWarehouse), func(*testing.T, string) {
			e.exec("UPDATE users SET active = false WHERE email = ?", emailWarehouse)
		}},
		{"LoggedOut", func(*testing.T) string { return e.login(emailAdmin, services.DemoPassword) }, func(t *testing.T, tok string) {
			wantStatus(t, e.do(http.MethodPost, "/api/v1/auth/logout", tok, nil), http.StatusNoContent)
		}},
		{"Expired", staff(emailCounter2), func(*testing.T, string) {
			e.exec("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ?", e.userID(emailCounter2))
		}},
		{"APIClientRevoked", func(t *testing.T) string {
			cl := wantStatus(t, e.do(http.MethodPost, "/api/v1/admin/api-clients", adm, map[string]any{"name": "Efímero", "role": "csm"}), http.StatusCreated)
			clientID = str(cl["id"])
			return str(cl["token"])
		}, func(t *testing.T, _ string) {
			wantStatus(t, e.do(http.MethodDelete, "/api/v1/admin/api-clients/"+clientID, adm, nil), http.StatusNoContent)
		}},
		{"APIClientDisabledInDatabase", func(*testing.T) string { return e.CSMToken }, func(*testing.T, string) {
			e.exec("UPDATE api_clients SET active = false WHERE id = ?", e.csmClientID())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token(t)
			wantStatus(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusOK)
			c.revoke(t, tok)
			wantProblem(t, e.do(http.MethodGet, "/api/v1/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, e.do(http.MethodGet, "/api/v1/tickets/"+demoTicket(0), tok, nil), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, e.do(http.MethodPost, "/api/v1/csm/tickets", tok, validReferral("REV-"+c.name)), http.StatusUnauthorized, "unauthenticated")
		})
	}
	// only the logged-out token of the admin died
	wantStatus(t, e.do(http.MethodGet, "/api/v1/me", adm, nil), http.StatusOK)
}
