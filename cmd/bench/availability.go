package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The availability scenario: GET /api/v1/centres/{code}/availability for 14 days at a
// centre with 10,000 past and future appointments.

const (
	targetAvailabilityP99 = 10 * time.Millisecond
	availabilityDays      = 14
	availabilityCentre    = "AV-01"
	availabilityCounters  = 6
	pastShare             = 0.8 // of the appointments, before now
)

// The centre's calendar: Monday to Friday 08:00-18:00, Saturday 08:00-13:00, closed on
// Sunday and two holidays.
var (
	availabilityHours  = append(openingHours("08:00", "18:00", 1, 2, 3, 4, 5), openingHours("08:00", "13:00", 6)...)
	availabilityClosed = []string{"2026-12-24", "2026-12-25"}
)

// benchSlot is one slot of the calendar above.
type benchSlot struct{ start, end time.Time }

// slotsOn returns the slots of the availability centre on a local date.
func slotsOn(day time.Time) []benchSlot {
	y, m, d := day.Date()
	date := time.Date(y, m, d, 0, 0, 0, 0, day.Location())
	for _, c := range availabilityClosed {
		if date.Format(time.DateOnly) == c {
			return nil
		}
	}
	wd := int(date.Weekday())
	if wd == 0 {
		wd = 7
	}
	var out []benchSlot
	for _, h := range availabilityHours {
		if h["weekday"] != wd {
			continue
		}
		opens, closes := minutes(h["opens"].(string)), minutes(h["closes"].(string))
		for s := opens; s+slotMinutes <= closes; s += slotMinutes {
			start := time.Date(y, m, d, s/60, s%60, 0, 0, day.Location())
			out = append(out, benchSlot{start, start.Add(slotMinutes * time.Minute)})
		}
	}
	return out
}

func minutes(hhmm string) int {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return h*60 + m
}

// apptSeed is one appointment to insert, with its ticket.
type apptSeed struct {
	slot   benchSlot
	status string // appointment status
}

// planAppointments spreads n appointments over the places (slot × counter) of the
// centre's calendar: pastShare of them in slots already started, the rest in slots to
// come, filling about four places in five so that some slots are full and most are not.
// The future reaches at least the days availability is asked for.
func planAppointments(now time.Time, loc *time.Location, n int, r *mrand.Rand) []apptSeed {
	nPast := int(float64(n) * pastShare)
	nFuture := n - nPast
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	var past, future []benchSlot
	for d := 0; len(past)*availabilityCounters < nPast*5/4; d-- {
		for _, s := range slotsOn(today.AddDate(0, 0, d)) {
			if s.start.Before(now) {
				past = append(past, s)
			}
		}
	}
	for d := 0; d < availabilityDays || len(future)*availabilityCounters < nFuture*5/4; d++ {
		for _, s := range slotsOn(today.AddDate(0, 0, d)) {
			if !s.start.Before(now) {
				future = append(future, s)
			}
		}
	}
	pick := func(slots []benchSlot, k int, status func() string) []apptSeed {
		places := make([]benchSlot, 0, len(slots)*availabilityCounters)
		for _, s := range slots {
			for range availabilityCounters {
				places = append(places, s)
			}
		}
		r.Shuffle(len(places), func(i, j int) { places[i], places[j] = places[j], places[i] })
		out := make([]apptSeed, 0, k)
		for _, p := range places[:min(k, len(places))] {
			out = append(out, apptSeed{slot: p, status: status()})
		}
		return out
	}
	out := pick(past, nPast, func() string {
		switch x := r.IntN(100); {
		case x < 85:
			return "completed"
		case x < 95:
			return "no_show"
		default:
			return "cancelled"
		}
	})
	return append(out, pick(future, nFuture, func() string {
		if r.IntN(100) < 92 {
			return "booked"
		}
		return "cancelled"
	})...)
}

func newUUID() pgtype.UUID {
	var u pgtype.UUID
	_, _ = rand.Read(u.Bytes[:])
	u.Bytes[6] = u.Bytes[6]&0x0f | 0x40
	u.Bytes[8] = u.Bytes[8]&0x3f | 0x80
	u.Valid = true
	return u
}

// seedAppointments inserts the appointments, their tickets and their slots straight
// into the database in one transaction, consistent with the schema: a ticket per
// appointment in the state its appointment implies, and a slot row per slot used whose
// booked count is its active appointments.
func seedAppointments(ctx context.Context, dbURL, centre string, seeds []apptSeed, r *mrand.Rand) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var centreID pgtype.UUID
	if err := tx.QueryRow(ctx, "SELECT id FROM centres WHERE code = $1", centre).Scan(&centreID); err != nil {
		return fmt.Errorf("centre %s: %w", centre, err)
	}
	run := runID()
	var tickets, appts [][]any
	type slotKey = int64
	slots := map[slotKey]*[5]any{}
	var order []slotKey
	for i, s := range seeds {
		tid, aid := newUUID(), newUUID()
		reported := s.slot.start.Add(-time.Duration(2+r.IntN(18)) * time.Hour)
		var (
			ticketStatus                         = "referred"
			outcome, cancelReason, aCancelReason any
			cancelled, resolved, closed, aCancel any
			noShow, checkedIn                    any
			ticketCentre                         any = centreID
		)
		switch s.status {
		case "completed":
			in := s.slot.start.Add(time.Duration(r.IntN(20)) * time.Minute)
			checkedIn = in
			ticketStatus, outcome, resolved, closed = "closed", "repaired", in.Add(2*time.Hour), in.Add(3*time.Hour)
		case "no_show":
			noShow = s.slot.start.Add(slotMinutes * time.Minute)
		case "cancelled":
			at := reported.Add(time.Duration(10+r.IntN(50)) * time.Minute)
			aCancel, aCancelReason = at, "El cliente pidió cancelar la cita"
			if s.slot.start.Before(time.Now()) {
				ticketStatus, cancelled, cancelReason = "cancelled", at, "Resuelto por teléfono; el cliente no necesita la visita"
			}
		case "booked":
			ticketStatus = "scheduled"
		}
		number := fmt.Sprintf("AV-%s-%06d", run, i+1)
		tickets = append(tickets, ticketRow(r, tid, number, ticketStatus, reported, ticketCentre, outcome, cancelReason, cancelled, resolved, closed))
		appts = append(appts, []any{aid, tid, centreID, s.slot.start, s.slot.end, s.status, aCancelReason, aCancel, noShow, checkedIn,
			reported.Add(5 * time.Minute), reported.Add(5 * time.Minute)})
		k := s.slot.start.Unix()
		row, ok := slots[k]
		if !ok {
			row = &[5]any{centreID, s.slot.start, s.slot.end, availabilityCounters, 0}
			slots[k] = row
			order = append(order, k)
		}
		if s.status == "booked" {
			row[4] = row[4].(int) + 1
		}
	}
	slotRows := make([][]any, 0, len(order))
	for _, k := range order {
		slotRows = append(slotRows, slots[k][:])
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"tickets", ticketColumns, tickets},
		{"slots", []string{"centre_id", "starts_at", "ends_at", "capacity", "booked"}, slotRows},
		{"appointments", []string{"id", "ticket_id", "centre_id", "starts_at", "ends_at", "status", "cancel_reason", "cancelled_at",
			"no_show_at", "checked_in_at", "created_at", "updated_at"}, appts},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", c.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ANALYZE tickets, slots, appointments")
	return err
}

// ticketColumns are the columns of a ticket row made by ticketRow, for COPY.
var ticketColumns = []string{"id", "ticket_number", "status", "outcome", "reported_at", "sla_due_at", "centre_id",
	"customer_account_number", "customer_company", "customer_contact_name", "customer_contact_phone", "customer_contact_email",
	"line_msisdn", "device_imei", "device_brand", "device_model", "fault_category", "fault_description",
	"cancel_reason", "cancelled_at", "resolved_at", "closed_at", "referral_hash", "created_at", "updated_at"}

// ticketRow is a ticket inserted in SQL, with a made-up customer, line, device and
// fault, in the given state (the state's fields nil where it has none).
func ticketRow(r *mrand.Rand, id pgtype.UUID, number, status string, reported time.Time, centre, outcome, cancelReason, cancelled, resolved, closed any) []any {
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	msisdn := prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%07d", r.IntN(10000000))
	d := devices[r.IntN(len(devices))]
	f := faults[r.IntN(len(faults))]
	hash := sha256.Sum256([]byte(number))
	return []any{id, number, status, outcome, reported, reported.Add(24 * time.Hour), centre,
		fmt.Sprintf("J-%08d-%d", 30000000+r.IntN(9000000), r.IntN(10)), companies[r.IntN(len(companies))], first + " " + last,
		"+58" + msisdn, fmt.Sprintf("%s.%s@example.com", ascii(first), ascii(last)), "+58" + msisdn,
		imei(d.tac, r.IntN(1000000)), d.brand, d.model, f.category, f.description,
		cancelReason, cancelled, resolved, closed, hex.EncodeToString(hash[:]), reported, reported}
}

// availabilityWorker asks for the same 14 days again and again.
type availabilityWorker struct{ url, auth string }

func (w *availabilityWorker) next(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", w.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", w.auth)
	return req, nil
}

func (w *availabilityWorker) classify(status int, body []byte) (int, string) {
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"slots":[`)) {
		return -1, snippet(status, body)
	}
	return 0, ""
}

// availabilityResult is the availability load against the server.
type availabilityResult struct {
	appointments, past, active, slotRows int
	from, to                             string
	slots, answerBytes                   int
	answerCheck                          string
	answerOK                             bool
	seedTime                             time.Duration
	seq, conc                            *loadResult
	mem                                  memory
	stopped                              string
}

func runAvailability(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	fmt.Fprintf(os.Stdout, "  plan            %d appointments at one centre; %d requests for %d days one at a time (after %s warm-up), then %d with %d clients\n",
		o.appointments, o.requests, availabilityDays, o.warmup, o.requests, o.clients)
	ss, err := startSession(ctx, e, "availability")
	if err != nil {
		return false, err
	}
	defer ss.close()
	srv := ss.srv
	setUpErr := func(err error) error { return fmt.Errorf("set up through the API: %w", err) }
	tok, err := srv.login(ctx)
	if err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createBusinessUnit(ctx, tok, "BU-AV", "Región Central"); err != nil {
		return false, setUpErr(err)
	}
	body := centreBody(availabilityCentre, "Centro Valencia Sur", "Av. Bolívar Sur, Valencia, Carabobo", "BU-AV",
		availabilityCounters, availabilityHours, availabilityClosed)
	if err := srv.createCentre(ctx, tok, body); err != nil {
		return false, setUpErr(err)
	}
	csm, err := srv.createCSMClient(ctx, tok)
	if err != nil {
		return false, setUpErr(err)
	}
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		return false, err
	}

	res := &availabilityResult{}
	e.logf("availability: inserting %d appointments with their tickets and slots", o.appointments)
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t0 := time.Now()
	seeds := planAppointments(time.Now(), loc, o.appointments, r)
	if err := seedAppointments(ctx, e.pg.cluster.URL(ss.dbName), availabilityCentre, seeds, r); err != nil {
		return false, fmt.Errorf("insert the appointments: %w", err)
	}
	res.seedTime = time.Since(t0)
	if err := ss.db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE starts_at < now()),
			count(*) FILTER (WHERE status IN ('booked', 'checked_in')), (SELECT count(*) FROM slots)
		FROM appointments`).Scan(&res.appointments, &res.past, &res.active, &res.slotRows); err != nil {
		return false, err
	}
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}

	today := time.Now().In(loc)
	res.from, res.to = today.Format(time.DateOnly), today.AddDate(0, 0, availabilityDays-1).Format(time.DateOnly)
	path := "/api/v1/centres/" + availabilityCentre + "/availability?" + url.Values{"from": {res.from}, "to": {res.to}}.Encode()
	if err := res.checkAnswer(ctx, ss, csm, path, loc); err != nil {
		return false, err
	}

	worker := func(int) worker { return &availabilityWorker{url: srv.base + path, auth: "Bearer " + csm} }
	pm := e.pg.postmasterPIDFile
	res.mem.startHWMKB = ss.memKB("VmHWM")
	e.logf("availability: %d requests one at a time, after %s warm-up", o.requests, o.warmup)
	if res.seq, err = srv.runLoad(ctx, pm, loadPlan{clients: 1, warmup: o.warmup, requests: o.requests, outcomes: []string{"200"}}, worker); err != nil {
		return false, err
	}
	e.logf("availability: %d requests from %d clients", o.requests, o.clients)
	if res.conc, err = srv.runLoad(ctx, pm, loadPlan{clients: o.clients, requests: o.requests, outcomes: []string{"200"}}, worker); err != nil {
		return false, err
	}
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	res.mem.maxRSSKB = max(res.seq.cpu.rssMaxKB, res.conc.cpu.rssMaxKB)
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	res.print(os.Stdout)
	return res.summary(os.Stdout), nil
}

// checkAnswer asks once and checks the answer against the database: every slot of the
// calendar not yet started is there, at the centre's capacity, and what it says is
// booked is what the appointments hold.
func (res *availabilityResult) checkAnswer(ctx context.Context, ss *session, token, path string, loc *time.Location) error {
	var a struct {
		Slots []struct {
			StartsAt  time.Time `json:"starts_at"`
			Capacity  int       `json:"capacity"`
			Booked    int       `json:"booked"`
			Available int       `json:"available"`
		} `json:"slots"`
	}
	req, err := http.NewRequestWithContext(ctx, "GET", ss.srv.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, snippet(resp.StatusCode, b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	res.slots, res.answerBytes = len(a.Slots), len(b)
	if len(a.Slots) == 0 {
		res.answerCheck = "no slot in the answer"
		return nil
	}
	first := a.Slots[0].StartsAt
	from, _ := time.ParseInLocation(time.DateOnly, res.from, loc)
	end := from.AddDate(0, 0, availabilityDays)
	want := 0
	for d := from; d.Before(end); d = d.AddDate(0, 0, 1) {
		for _, s := range slotsOn(d) {
			if !s.start.Before(first) {
				want++
			}
		}
	}
	var active int
	if err := ss.db.QueryRowContext(ctx, `SELECT count(*) FROM appointments
		WHERE status IN ('booked', 'checked_in') AND starts_at >= $1 AND starts_at < $2`, first, end).Scan(&active); err != nil {
		return err
	}
	booked, bad, full := 0, 0, 0
	for _, s := range a.Slots {
		booked += s.Booked
		if s.Capacity != availabilityCounters || s.Available != s.Capacity-s.Booked {
			bad++
		}
		if s.Available == 0 {
			full++
		}
	}
	var problems []string
	if len(a.Slots) != want {
		problems = append(problems, fmt.Sprintf("%d slots, the calendar has %d", len(a.Slots), want))
	}
	if booked != active {
		problems = append(problems, fmt.Sprintf("%d booked, the database holds %d active appointments", booked, active))
	}
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d slots with a wrong capacity or availability", bad))
	}
	if len(problems) > 0 {
		res.answerCheck = "WRONG: " + strings.Join(problems, "; ")
		return nil
	}
	res.answerOK = true
	res.answerCheck = fmt.Sprintf("every slot of the calendar, %d booked = the active appointments, %d full", booked, full)
	return nil
}

func (res *availabilityResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Service: GET /api/v1/centres/%s/availability?from=%s&to=%s (%d days)\n", availabilityCentre, res.from, res.to, availabilityDays)
	fmt.Fprintf(w, "  centre          %d counters, 30-minute slots, Mon-Fri 08:00-18:00, Sat 08:00-13:00\n", availabilityCounters)
	fmt.Fprintf(w, "  appointments    %d (%d past, %d to come; %d active) in %d slot rows, inserted in SQL in %.1fs\n",
		res.appointments, res.past, res.appointments-res.past, res.active, res.slotRows, res.seedTime.Seconds())
	fmt.Fprintf(w, "  answer          %d slots, %d bytes: %s\n", res.slots, res.answerBytes, res.answerCheck)
	for _, p := range []struct {
		name string
		l    *loadResult
	}{{"one at a time", res.seq}, {fmt.Sprintf("%d clients", res.conc.plan.clients), res.conc}} {
		l := p.l
		fmt.Fprintf(w, "  %-15s %d requests in %.2fs (%.1f/s)", p.name, l.measured(), l.elapsed.Seconds(), l.rate(l.measured()))
		if n := l.warmups(); n > 0 {
			fmt.Fprintf(w, ", after %d in warm-up", n)
		}
		fmt.Fprintf(w, "; %d errors\n", l.errors)
		for _, s := range l.samples {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
		fmt.Fprintf(w, "    latency       %s\n", latencySummary(l.all))
		printCPU(w, l.cpu, float64(l.measured()), "request", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"load generator", l.cpu.self}})
	}
	res.mem.print(w)
	if res.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", res.stopped)
	}
}

// summary prints the figures against their targets and reports whether the run failed:
// an answer other than 200, or a first answer that does not match the database.
func (res *availabilityResult) summary(w io.Writer) bool {
	s := newSummary(w, "availability")
	s.row("appointments at the centre (past / to come)", fmt.Sprintf("%d / %d", res.past, res.appointments-res.past), "", "")
	s.row(fmt.Sprintf("slots in %d days", availabilityDays), fmt.Sprint(res.slots), "", "")
	target := fmt.Sprintf("< %s", ms(targetAvailabilityP99))
	for _, p := range []struct {
		name string
		l    *loadResult
	}{{"one at a time", res.seq}, {fmt.Sprintf("%d clients", res.conc.plan.clients), res.conc}} {
		l := p.l
		s.row(p.name+": requests/s", fmt.Sprintf("%.1f", l.rate(l.measured())), "", "")
		s.row(p.name+": latency p50", ms(percentile(l.all, .5)), "", "")
		p99 := percentile(l.all, .99)
		s.row(p.name+": latency p99", ms(p99), target, verdict(l.measured() > 0 && p99 < targetAvailabilityP99))
		s.row(p.name+": latency max", ms(percentile(l.all, 1)), "", "")
	}
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", res.mem.peakMB()), "", "")
	s.row("first answer matches the database", map[bool]string{true: "yes", false: "no"}[res.answerOK], "", check(res.answerOK))
	errs := res.seq.errors + res.conc.errors
	s.row("failed requests (not 200)", fmt.Sprint(errs), "0", check(errs == 0))
	warnOtherLoad(w, phaseLoad{"the sequential requests", res.seq.cpu, res.seq.cpu.server + res.seq.cpu.postgres + res.seq.cpu.self},
		phaseLoad{"the concurrent requests", res.conc.cpu, res.conc.cpu.server + res.conc.cpu.postgres + res.conc.cpu.self})
	failed := errs > 0 || !res.answerOK || res.seq.measured() == 0 || res.conc.measured() == 0
	printResult(w, failed, "answers other than 200, or an answer that does not match the database")
	return failed
}
