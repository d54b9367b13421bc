package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// The booking scenario: POST /api/v1/appointments by 64 clients into 100 slots of one
// centre, against pgbench TPC-B with as many clients.

const (
	targetBookingRatio = 0.4 // bookings/s while places remained ÷ pgbench TPC-B tps, at least
	bookingSlots       = 100
	slotMinutes        = 30
	warmupTicketsEach  = 50 // tickets per client for the warm-up
	bookingBU          = "BU-BENCH"
	warmupCentre       = "BEN-W"
	bookingCentre      = "BEN-01"
)

var bookingOutcomes = []string{"201 booked", "409 slot_full"}

const (
	outBooked = iota
	outFull
)

// ticketPool hands out referred tickets, each once, to the clients.
type ticketPool struct {
	numbers []string
	next    atomic.Int64
}

func (p *ticketPool) take() (string, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.numbers)) {
		return "", false
	}
	return p.numbers[i], true
}

// bookingWorker books tickets of the pool into random slots among the given ones. A
// ticket whose slot was full is tried again in another slot; a client with no ticket
// left stops.
type bookingWorker struct {
	url, auth, centre string
	slots             []string
	pool              *ticketPool
	r                 *rand.Rand
	ticket            string // being booked
}

func newBookingWorker(s *server, token, centre string, slots []string, pool *ticketPool, client int) *bookingWorker {
	return &bookingWorker{url: s.base + "/api/v1/appointments", auth: "Bearer " + token, centre: centre, slots: slots, pool: pool,
		r: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(client)))}
}

func (w *bookingWorker) next(ctx context.Context) (*http.Request, error) {
	if w.ticket == "" {
		t, ok := w.pool.take()
		if !ok {
			return nil, nil
		}
		w.ticket = t
	}
	body, err := json.Marshal(map[string]string{"ticket_number": w.ticket, "centre_code": w.centre,
		"starts_at": w.slots[w.r.IntN(len(w.slots))]})
	if err != nil {
		return nil, err
	}
	return jsonRequest(ctx, "POST", w.url, w.auth, body)
}

func (w *bookingWorker) classify(status int, body []byte) (int, string) {
	if status == http.StatusConflict {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(body, &p) == nil && p.Code == "slot_full" {
			return outFull, ""
		}
	}
	// Booked, or in a state we cannot tell: either way, the next request takes a new ticket.
	w.ticket = ""
	if status == http.StatusCreated {
		return outBooked, ""
	}
	return -1, snippet(status, body)
}

// nextSlots returns the first n slot starts of a centre open every day from opens to
// closes (minutes after midnight), from the next local midnight on: all in the future.
func nextSlots(loc *time.Location, now time.Time, n, opens, closes int) []string {
	y, m, d := now.In(loc).Date()
	var out []string
	for day := 1; len(out) < n; day++ {
		for start := opens; start+slotMinutes <= closes && len(out) < n; start += slotMinutes {
			out = append(out, time.Date(y, m, d+day, start/60, start%60, 0, 0, loc).Format(time.RFC3339))
		}
	}
	return out
}

// slotCheck is what the database holds for the slots of one centre.
type slotCheck struct {
	centre                             string
	slots, mismatched, overbooked      int
	full                               int
	booked, capacity, activeAppts      int
	appointments                       int // any status
	ticketsWithSeveral, scheduledTicks int
	bookedEvents                       int
}

func (c slotCheck) ok() bool {
	return c.mismatched == 0 && c.overbooked == 0 && c.ticketsWithSeveral == 0 && c.booked == c.activeAppts
}

// checkSlots verifies the invariant for every slot of a centre: booked = its active
// appointments ≤ capacity; and that no ticket has two active appointments.
func checkSlots(ctx context.Context, ss *session, centre string) (slotCheck, error) {
	c := slotCheck{centre: centre}
	err := ss.db.QueryRowContext(ctx, `WITH centre AS (SELECT id FROM centres WHERE code = $1),
		active AS (SELECT starts_at, count(*) AS n FROM appointments
			WHERE centre_id = (SELECT id FROM centre) AND status IN ('booked', 'checked_in') GROUP BY starts_at)
		SELECT count(*), count(*) FILTER (WHERE s.booked <> coalesce(a.n, 0)), count(*) FILTER (WHERE s.booked > s.capacity),
			count(*) FILTER (WHERE s.booked = s.capacity), coalesce(sum(s.booked), 0), coalesce(sum(s.capacity), 0),
			(SELECT coalesce(sum(n), 0) FROM active)
		FROM slots s LEFT JOIN active a USING (starts_at) WHERE s.centre_id = (SELECT id FROM centre)`, centre).
		Scan(&c.slots, &c.mismatched, &c.overbooked, &c.full, &c.booked, &c.capacity, &c.activeAppts)
	if err != nil {
		return c, fmt.Errorf("check the slots of %s: %w", centre, err)
	}
	err = ss.db.QueryRowContext(ctx, `WITH centre AS (SELECT id FROM centres WHERE code = $1)
		SELECT (SELECT count(*) FROM appointments WHERE centre_id = (SELECT id FROM centre)),
			(SELECT count(*) FROM (SELECT ticket_id FROM appointments WHERE status IN ('booked', 'checked_in')
				GROUP BY ticket_id HAVING count(*) > 1) t),
			(SELECT count(*) FROM tickets WHERE status = 'scheduled' AND centre_id = (SELECT id FROM centre)),
			(SELECT count(*) FROM csm_events e JOIN tickets t ON t.id = e.ticket_id
				WHERE e.type = 'appointment.booked' AND t.centre_id = (SELECT id FROM centre))`, centre).
		Scan(&c.appointments, &c.ticketsWithSeveral, &c.scheduledTicks, &c.bookedEvents)
	if err != nil {
		return c, fmt.Errorf("check the appointments of %s: %w", centre, err)
	}
	return c, nil
}

func (c slotCheck) String() string {
	s := fmt.Sprintf("%s: %d slot rows, %d full; %d of %d places booked", c.centre, c.slots, c.full, c.booked, c.capacity)
	if c.ok() {
		return s + "; booked = active appointments in every slot, none over capacity"
	}
	return s + fmt.Sprintf("; VIOLATED: %d slots where booked ≠ active appointments, %d over capacity, %d tickets with several active appointments",
		c.mismatched, c.overbooked, c.ticketsWithSeveral)
}

// bookingResult is the booking load against the server.
type bookingResult struct {
	calib       *loadResult // the warm-up at the warm-up centre
	calibRate   float64     // its bookings/s
	counters    int
	sized       string // how the counters were chosen
	poolRate    float64
	pool        int
	load        *loadResult
	mem         memory
	walBytes    int64
	multixacts  int64     // created during the measured load
	measured    slotCheck // the measured centre
	warm        slotCheck // the warm-up centre
	stopped     string
	placesTotal int
}

func runBooking(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	fmt.Fprintf(os.Stdout, "  plan            %d clients; pgbench scale %d for %s; then the service: %s warm-up, then %s booking into %d slots\n",
		o.clients, o.scale, o.duration, o.warmup, o.duration, bookingSlots)
	base, err := runBaseline(ctx, e)
	if err != nil {
		return false, err
	}
	ss, err := startSession(ctx, e, "booking")
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
	if err := srv.createBusinessUnit(ctx, tok, bookingBU, "Benchmark de citas"); err != nil {
		return false, setUpErr(err)
	}
	csm, err := srv.createCSMClient(ctx, tok)
	if err != nil {
		return false, setUpErr(err)
	}
	// Open every day, 00:00-23:30 in 30-minute slots: 47 a day, so the 100 slots of the
	// next days exist whatever the date and time of the run.
	hours := openingHours("00:00", "23:30", 1, 2, 3, 4, 5, 6, 7)
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		return false, err
	}
	slots := nextSlots(loc, time.Now(), bookingSlots, 0, 23*60+30)
	res := &bookingResult{}
	pm := e.pg.postmasterPIDFile

	// Warm-up at another centre with the same slots, which also measures how fast the
	// service books, to size the counters of the measured centre.
	if o.warmup > 0 {
		if err := srv.createCentre(ctx, tok, centreBody(warmupCentre, "Centro de calentamiento", "Caracas", bookingBU, 100, hours, nil)); err != nil {
			return false, setUpErr(err)
		}
		e.logf("booking: referring %d tickets for the warm-up", o.clients*warmupTicketsEach)
		numbers, _, err := referTickets(ctx, ss, pm, csm, o.clients*warmupTicketsEach, o.clients, warmupCentre)
		if err != nil {
			return false, err
		}
		e.logf("booking: warm-up, %d clients for up to %s at %s", o.clients, o.warmup, warmupCentre)
		pool := &ticketPool{numbers: numbers}
		res.calib, err = srv.runLoad(ctx, pm, loadPlan{clients: o.clients, duration: o.warmup, outcomes: bookingOutcomes}, func(i int) worker {
			return newBookingWorker(srv, csm, warmupCentre, slots, pool, i)
		})
		if err != nil {
			return false, err
		}
		if res.calib.errors > 0 {
			return false, fmt.Errorf("warm-up: %d errors, e.g. %s", res.calib.errors, strings.Join(res.calib.samples, "; "))
		}
		if d := res.calib.last[outBooked]; d > 0 {
			res.calibRate = float64(res.calib.count(outBooked)) / d.Seconds()
		}
	}
	res.counters = o.counters
	switch {
	case res.counters > 0:
		res.sized = "set by -counters"
	default:
		// About half the requests of the measured time should find their slot full.
		rate, from := res.calibRate, "the warm-up's bookings/s"
		if rate <= 0 {
			rate, from = targetBookingRatio*base.tps, "the target rate (no warm-up)"
		}
		want := rate * o.duration.Seconds() / 2 / bookingSlots
		res.counters = min(max(int(math.Round(want)), 1), 100)
		res.sized = fmt.Sprintf("from %s: %.0f/s × %s ÷ 2 ÷ %d slots = %.1f", from, rate, o.duration, bookingSlots, want)
		if want > 100.5 {
			res.sized += ", capped at 100 (the most a centre has)"
		}
	}
	if err := srv.createCentre(ctx, tok, centreBody(bookingCentre, "Centro de citas (benchmark)", "Caracas", bookingBU, res.counters, hours, nil)); err != nil {
		return false, setUpErr(err)
	}
	// Every booking takes a ticket, and a client holds at most one it has not booked yet.
	res.placesTotal = bookingSlots * res.counters
	res.pool = res.placesTotal + o.clients
	e.logf("booking: referring %d tickets for %s (%d slots × %d counters, + %d)", res.pool, bookingCentre, bookingSlots, res.counters, o.clients)
	numbers, rate, err := referTickets(ctx, ss, pm, csm, res.pool, o.clients, bookingCentre)
	if err != nil {
		return false, err
	}
	res.poolRate = rate
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	wal0, err := walLSN(ctx, e.admin)
	if err != nil {
		return false, err
	}
	mx0, err := multixacts(ctx, e.admin)
	if err != nil {
		return false, err
	}

	e.logf("booking: %d clients for %s into %d slots × %d counters at %s", o.clients, o.duration, bookingSlots, res.counters, bookingCentre)
	pool := &ticketPool{numbers: numbers}
	res.mem.startHWMKB = ss.memKB("VmHWM")
	res.load, err = srv.runLoad(ctx, pm, loadPlan{clients: o.clients, duration: o.duration, outcomes: bookingOutcomes}, func(i int) worker {
		return newBookingWorker(srv, csm, bookingCentre, slots, pool, i)
	})
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	if err != nil {
		return false, err
	}
	res.mem.maxRSSKB = res.load.cpu.rssMaxKB
	if res.walBytes, err = walSince(ctx, e.admin, wal0); err != nil {
		return false, err
	}
	mx1, err := multixacts(ctx, e.admin)
	if err != nil {
		return false, err
	}
	res.multixacts = mx1 - mx0
	if res.measured, err = checkSlots(ctx, ss, bookingCentre); err != nil {
		return false, err
	}
	if res.calib != nil {
		if res.warm, err = checkSlots(ctx, ss, warmupCentre); err != nil {
			return false, err
		}
	}
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	res.print(os.Stdout)
	return res.summary(os.Stdout, base), nil
}

// bookingRate is bookings per second while places remained: 201 answers ÷ the time of
// the last one. Once every slot is full the service can only answer 409.
func (r *bookingResult) bookingRate() float64 {
	d := r.load.last[outBooked]
	if d <= 0 {
		return 0
	}
	return float64(r.load.count(outBooked)) / d.Seconds()
}

func (r *bookingResult) storedOK() bool {
	m := r.measured
	ok := m.appointments == r.load.count(outBooked) && m.scheduledTicks == m.appointments && m.bookedEvents == m.appointments
	if r.calib != nil {
		ok = ok && r.warm.appointments == r.calib.count(outBooked)
	}
	return ok
}

func (r *bookingResult) print(w io.Writer) {
	l := r.load
	booked, full := l.count(outBooked), l.count(outFull)
	fmt.Fprintf(w, "\n== Service: POST /api/v1/appointments (%d keep-alive clients, %d slots × %d counters at %s, %s measured)\n",
		l.plan.clients, bookingSlots, r.counters, bookingCentre, l.plan.duration)
	if c := r.calib; c != nil {
		fmt.Fprintf(w, "  warm-up         at %s: %d booked (201), %d slot_full (409) in %.2fs: %.1f bookings/s\n",
			warmupCentre, c.count(outBooked), c.count(outFull), c.elapsed.Seconds(), r.calibRate)
	}
	fmt.Fprintf(w, "  counters        %d (%s): %d places\n", r.counters, r.sized, r.placesTotal)
	fmt.Fprintf(w, "  tickets         %d referred beforehand, not timed (%.0f referrals/s)\n", r.pool, r.poolRate)
	fmt.Fprintf(w, "  decisions       %d in %.2fs: %d booked (201), %d slot_full (409), %.0f%% rejected\n",
		l.measured(), l.elapsed.Seconds(), booked, full, 100*ratio(float64(full), float64(l.measured())))
	fmt.Fprintf(w, "  errors          %d (any answer but 201 or 409 slot_full)\n", l.errors)
	for _, s := range l.samples {
		fmt.Fprintf(w, "    e.g. %s\n", s)
	}
	if r.measured.full == bookingSlots && r.measured.booked == r.placesTotal {
		fmt.Fprintf(w, "  slots           all %d full %.2fs into the run (the last 201)\n", bookingSlots, l.last[outBooked].Seconds())
	} else {
		fmt.Fprintf(w, "  slots           %d of %d full at the end, %d places left\n", r.measured.full, bookingSlots, r.placesTotal-r.measured.booked)
	}
	fmt.Fprintf(w, "  throughput      %.1f bookings/s while places remained (%.1f/s over the whole run); %.1f decisions/s\n",
		r.bookingRate(), l.rate(booked), l.rate(l.measured()))
	fmt.Fprintf(w, "  latency         all decisions: %s\n", latencySummary(l.all))
	fmt.Fprintf(w, "                  201 booked:    %s\n", latencySummary(l.lat[outBooked]))
	fmt.Fprintf(w, "                  409 slot_full: %s\n", latencySummary(l.lat[outFull]))
	r.mem.print(w)
	printCPU(w, l.cpu, float64(l.measured()), "decision", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"load generator", l.cpu.self}})
	if booked > 0 {
		fmt.Fprintf(w, "  PostgreSQL      %.0f bytes WAL per booking (%.0f per decision); %.2f multixacts created per decision\n",
			float64(r.walBytes)/float64(booked), ratio(float64(r.walBytes), float64(l.measured())), ratio(float64(r.multixacts), float64(l.measured())))
	}
	fmt.Fprintf(w, "  invariant       %s\n", r.measured)
	if r.calib != nil {
		fmt.Fprintf(w, "                  %s\n", r.warm)
	}
	check := "matches the 201 answers"
	if !r.storedOK() {
		check = "MISMATCH with the 201 answers"
	}
	fmt.Fprintf(w, "  stored          %d appointments at %s (%s); %d tickets scheduled there; %d appointment.booked events\n",
		r.measured.appointments, bookingCentre, check, r.measured.scheduledTicks, r.measured.bookedEvents)
	if r.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", r.stopped)
	}
}

// summary prints the figures against their targets and reports whether the run failed:
// answers other than 201 and 409 slot_full, a broken invariant, or stored appointments
// that do not match the answers.
func (r *bookingResult) summary(w io.Writer, b *baseline) bool {
	l := r.load
	bookings, decisions := r.bookingRate(), l.rate(l.measured())
	br := bookings / b.tps
	s := newSummary(w, "booking")
	s.row(fmt.Sprintf("pgbench TPC-B tps (%d clients)", b.clients), fmt.Sprintf("%.1f", b.tps), "", "")
	s.row("bookings/s while places remained (201)", fmt.Sprintf("%.1f", bookings), "", "")
	s.row("decisions/s (201 + 409 slot_full)", fmt.Sprintf("%.1f", decisions), "", "")
	s.row("ratio bookings/s ÷ pgbench tps", fmt.Sprintf("%.3f", br), fmt.Sprintf("≥ %.1f", targetBookingRatio), verdict(br >= targetBookingRatio))
	s.row("ratio decisions/s ÷ pgbench tps", fmt.Sprintf("%.3f", decisions/b.tps), "", "informational: 409s are cheaper")
	if c := cpuCostRatio(b, l); c > 0 {
		s.row("  CPU-cost ratio (tx CPU ÷ decision CPU)", fmt.Sprintf("%.3f", c), "", "estimate, less disturbed by other load")
	}
	s.row("share of 409 slot_full", fmt.Sprintf("%.0f%%", 100*ratio(float64(l.count(outFull)), float64(l.measured()))), "", "")
	s.row("latency p50, all decisions", ms(percentile(l.all, .5)), "", "")
	s.row("latency p99, all decisions", ms(percentile(l.all, .99)), "", "")
	s.row("latency p99, 201 booked", ms(percentile(l.lat[outBooked], .99)), "", "")
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", r.mem.peakMB()), "", "")
	invariant := r.measured.ok() && (r.calib == nil || r.warm.ok())
	s.row("slot invariant (booked = active ≤ capacity)", map[bool]string{true: "holds", false: "VIOLATED"}[invariant], "", check(invariant))
	s.row("stored appointments = 201 answers", fmt.Sprint(r.measured.appointments), fmt.Sprint(l.count(outBooked)), check(r.storedOK()))
	s.row("failed requests (not 201 / 409 slot_full)", fmt.Sprint(l.errors), "0", check(l.errors == 0))
	warnOtherLoad(w, phaseLoad{"pgbench", b.cpu, b.pgbenchCPU + b.cpu.postgres}, phaseLoad{"the service load", l.cpu, l.cpu.server + l.cpu.postgres + l.cpu.self})
	failed := l.errors > 0 || !invariant || !r.storedOK() || l.count(outBooked) == 0
	printResult(w, failed, "requests answered other than 201 or 409 slot_full, a broken slot invariant, stored appointments that do not match, or no booking at all")
	return failed
}

// multixacts returns how many multixact IDs the cluster has handed out: row locks
// shared by several transactions at once (FOR SHARE) each take a new one.
func multixacts(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = 'postgres'").Scan(&n); err != nil {
		return 0, fmt.Errorf("multixacts: %w", err)
	}
	return n, nil
}
