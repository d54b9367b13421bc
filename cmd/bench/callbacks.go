package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"centros/services"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The callbacks scenario: the server's deliverer sends the CSM callback events to a
// receiver in the bench. First it drains a queue of 100,000 events written in SQL before
// it started; then, with the queue idle, the time from an event's commit to its delivery.

const (
	targetDrainRate     = 2000.0                 // events/s, at least
	targetCallbackP50   = 100 * time.Millisecond // commit → delivery, median, below
	callbacksBU         = "BU-CB"
	callbacksCentre     = "CB-01"
	callbackPath        = "/csm/callbacks"
	drainStall          = 2 * time.Minute  // no new event received for this long: the drain failed
	callbackWait        = 30 * time.Second // one latency sample waits this long for its callback
	callbackPauseMin    = 20 * time.Millisecond
	callbackPauseJitter = 20 * time.Millisecond
)

// lifecycle is the types of a ticket's events in the queue, in turn: what a ticket
// goes through, with reschedules and a cancellation to make ten.
var lifecycle = []string{"appointment.booked", "appointment.rescheduled", "appointment.cancelled", "appointment.booked",
	"appointment.no_show", "appointment.booked", "appointment.rescheduled", "ticket.in_service",
	"swap.service_change_requested", "ticket.resolved"}

// arrival is one callback the receiver accepted.
type arrival struct {
	id, ticketNumber, typ string
	at                    time.Time
}

// receiver stands in for CSM: it verifies every callback's signature with the secret
// the server signs with, checks the order per ticket, counts distinct webhook-ids and
// duplicates, and answers 200 at once.
type receiver struct {
	secret services.WebhookSecret
	ln     net.Listener
	srv    *http.Server

	mu         sync.Mutex
	seen       map[string]struct{}
	lastSeq    map[string]int64 // per ticket number, the highest sequence received
	requests   int
	duplicates int
	badSig     int
	badBody    int
	outOfOrder int
	problems   []string
	first      time.Time // first new webhook-id
	last       time.Time // latest new webhook-id
	want       int       // done closes when this many distinct ids have come
	done       chan struct{}
	watch      chan arrival // when set, every accepted callback is sent here too
}

func startReceiver(secret services.WebhookSecret) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rv := &receiver{secret: secret, ln: ln, seen: map[string]struct{}{}, lastSeq: map[string]int64{}, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("POST "+callbackPath, rv)
	rv.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = rv.srv.Serve(ln) }()
	return rv, nil
}

func (rv *receiver) url() string { return "http://" + rv.ln.Addr().String() + callbackPath }

func (rv *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rv.srv.Shutdown(ctx)
}

// expect makes done close once n distinct webhook-ids have come in all.
func (rv *receiver) expect(n int) <-chan struct{} {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.want, rv.done = n, make(chan struct{})
	if len(rv.seen) >= n {
		close(rv.done)
	}
	return rv.done
}

func (rv *receiver) setWatch(c chan arrival) {
	rv.mu.Lock()
	rv.watch = c
	rv.mu.Unlock()
}

func (rv *receiver) problem(format string, a ...any) {
	if len(rv.problems) < 5 {
		rv.problems = append(rv.problems, fmt.Sprintf(format, a...))
	}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	at := time.Now()
	if err != nil {
		return
	}
	id := r.Header.Get("webhook-id")
	sigErr := services.VerifyWebhook(rv.secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, at)
	var p struct {
		ID           string `json:"id"`
		Type         string `json:"type"`
		Sequence     int64  `json:"sequence"`
		TicketNumber string `json:"ticket_number"`
	}
	bodyErr := json.Unmarshal(body, &p)
	if bodyErr == nil && (p.ID != id || p.Sequence <= 0 || p.TicketNumber == "" || p.Type == "") {
		bodyErr = errors.New("id, type, sequence or ticket_number missing, or id ≠ webhook-id")
	}

	rv.mu.Lock()
	rv.requests++
	switch {
	case sigErr != nil:
		rv.badSig++
		rv.problem("webhook-id %q: signature: %v", id, sigErr)
	case bodyErr != nil:
		rv.badBody++
		rv.problem("webhook-id %q: body: %v", id, bodyErr)
	}
	if sigErr != nil || bodyErr != nil {
		rv.mu.Unlock()
		http.Error(w, "rejected", http.StatusBadRequest)
		return
	}
	if _, dup := rv.seen[id]; dup {
		rv.duplicates++
	} else {
		rv.seen[id] = struct{}{}
		if last, ok := rv.lastSeq[p.TicketNumber]; ok && p.Sequence <= last {
			rv.outOfOrder++
			rv.problem("ticket %s: sequence %d came after %d", p.TicketNumber, p.Sequence, last)
		} else {
			rv.lastSeq[p.TicketNumber] = p.Sequence
		}
		if rv.first.IsZero() {
			rv.first = at
		}
		rv.last = at
		if rv.want > 0 && len(rv.seen) == rv.want {
			close(rv.done)
		}
	}
	watch := rv.watch
	rv.mu.Unlock()
	if watch != nil {
		select {
		case watch <- arrival{id: id, ticketNumber: p.TicketNumber, typ: p.Type, at: at}:
		default:
		}
	}
	w.WriteHeader(http.StatusOK)
}

// receiverCounts is a snapshot of what the receiver saw.
type receiverCounts struct {
	distinct, requests, duplicates, badSig, badBody, outOfOrder int
	first, last                                                 time.Time
	problems                                                    []string
}

func (rv *receiver) counts() receiverCounts {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return receiverCounts{distinct: len(rv.seen), requests: rv.requests, duplicates: rv.duplicates, badSig: rv.badSig,
		badBody: rv.badBody, outOfOrder: rv.outOfOrder, first: rv.first, last: rv.last, problems: slices.Clone(rv.problems)}
}

func (c receiverCounts) ok() bool { return c.badSig == 0 && c.badBody == 0 && c.outOfOrder == 0 }

// newWebhookSecret returns a fresh whsec_ secret.
func newWebhookSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// queuedTicket is a ticket of the drain's queue.
type queuedTicket struct {
	id     pgtype.UUID
	number string
}

// seedEvents writes the queue in one transaction with COPY, consistent with the
// schema: the tickets (scheduled at the centre) and their events, unpublished and
// pending, as RecordEvent leaves them when no deliverer runs. The events of different
// tickets are interleaved at random; each ticket's follow its life cycle in order.
func seedEvents(ctx context.Context, dbURL string, events, perTicket int, r *mrand.Rand) ([]queuedTicket, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var centreID pgtype.UUID
	if err := tx.QueryRow(ctx, "SELECT id FROM centres WHERE code = $1", callbacksCentre).Scan(&centreID); err != nil {
		return nil, fmt.Errorf("centre %s: %w", callbacksCentre, err)
	}
	run := runID()
	nTickets := (events + perTicket - 1) / perTicket
	now := time.Now()
	tickets := make([]queuedTicket, nTickets)
	ticketRows := make([][]any, nTickets)
	for i := range tickets {
		t := queuedTicket{id: newUUID(), number: fmt.Sprintf("CB-%s-%06d", run, i+1)}
		tickets[i] = t
		reported := now.Add(-time.Duration(2+r.IntN(18)) * time.Hour)
		ticketRows[i] = ticketRow(r, t.id, t.number, "scheduled", reported, centreID, nil, nil, nil, nil, nil)
	}
	// Which ticket each event belongs to, in the order they were written.
	order := make([]int, events)
	for j := range order {
		order[j] = j / perTicket
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	nth := make([]int, nTickets)
	slot := now.Truncate(time.Hour).Add(48 * time.Hour)
	eventRows := make([][]any, events)
	for j, i := range order {
		k := nth[i]
		nth[i]++
		starts := slot.Add(time.Duration(i%40) * slotMinutes * time.Minute)
		data, err := json.Marshal(map[string]any{"appointment_id": newUUID(), "centre": callbacksCentre,
			"starts_at": starts.UTC(), "ends_at": starts.Add(slotMinutes * time.Minute).UTC(), "within_sla": true})
		if err != nil {
			return nil, err
		}
		at := now.Add(-time.Hour + time.Duration(j)*time.Hour/time.Duration(events))
		eventRows[j] = []any{newEventID(), lifecycle[k%len(lifecycle)], tickets[i].id, tickets[i].number, at, string(data)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tickets"}, ticketColumns, pgx.CopyFromRows(ticketRows)); err != nil {
		return nil, fmt.Errorf("copy into tickets: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"csm_events"}, []string{"id", "type", "ticket_id", "ticket_number", "occurred_at", "data"},
		pgx.CopyFromRows(eventRows)); err != nil {
		return nil, fmt.Errorf("copy into csm_events: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "ANALYZE tickets, csm_events")
	return tickets, err
}

// drainResult is the deliverer draining the queue.
type drainResult struct {
	events, tickets int
	seedTime        time.Duration
	elapsed         time.Duration // server start → last distinct event received
	ready           time.Duration // server start → /readyz answered 200
	firstAt         time.Duration // server start → first event received
	recv            receiverCounts
	cpu             cpuUsage
	walBytes        int64
	// In the database afterwards.
	delivered, unpublished, multiAttempts, attemptRows int
	dbSpan                                             time.Duration // first → last delivered_at
	mem                                                memory
}

func (d *drainResult) rate() float64 { return ratio(float64(d.recv.distinct), d.elapsed.Seconds()) }

// steadyRate is the events received after the first ÷ the time from the first to the last.
func (d *drainResult) steadyRate() float64 {
	return ratio(float64(d.recv.distinct-1), (d.elapsed - d.firstAt).Seconds())
}

func (d *drainResult) storedOK() bool {
	return d.delivered == d.events && d.unpublished == 0 && d.multiAttempts == 0 && d.attemptRows == d.events
}

// latencyResult is one method of measuring commit → delivery with an idle queue.
type latencyResult struct {
	name     string
	lat      []time.Duration // the figure held against the target, or the first of the API's, sorted
	commit   []time.Duration // SQL: COMMIT sent → returned; API: request sent → answer read
	after    []time.Duration // API: answer read → callback (negative when the callback came first)
	errors   int
	samples  []string
	cpu      cpuUsage
	negative int
}

func (l *latencyResult) fail(format string, a ...any) {
	l.errors++
	if len(l.samples) < 5 {
		l.samples = append(l.samples, fmt.Sprintf(format, a...))
	}
}

type callbacksResult struct {
	drain          drainResult
	sql, api       *latencyResult
	recvEnd        receiverCounts
	stopped        string
	referRate      float64
	latencyTickets int
}

func runCallbacks(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	nTickets := (o.events + o.perTicket - 1) / o.perTicket
	fmt.Fprintf(os.Stdout, "  plan            drain %d events of %d tickets queued in SQL; then %d callbacks one at a time with an idle queue, committed in SQL, and %d booked through the API\n",
		o.events, nTickets, o.samples, o.samples)
	ss, err := startSession(ctx, e, "callbacks")
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
	if err := srv.createBusinessUnit(ctx, tok, callbacksBU, "Callbacks"); err != nil {
		return false, setUpErr(err)
	}
	// Open every day, 00:00-23:30 in 30-minute slots, 100 counters: the API samples book
	// into the slots of the next days, 100 in each.
	hours := openingHours("00:00", "23:30", 1, 2, 3, 4, 5, 6, 7)
	if err := srv.createCentre(ctx, tok, centreBody(callbacksCentre, "Centro de callbacks (benchmark)", "Caracas", callbacksBU, 100, hours, nil)); err != nil {
		return false, setUpErr(err)
	}
	csm, err := srv.createCSMClient(ctx, tok)
	if err != nil {
		return false, setUpErr(err)
	}
	res := &callbacksResult{drain: drainResult{events: o.events, tickets: nTickets}}
	pm := e.pg.postmasterPIDFile
	e.logf("callbacks: referring %d tickets through the API for the API samples", o.samples)
	apiTickets, rate, err := referTickets(ctx, ss, pm, csm, o.samples, o.clients, callbacksCentre)
	if err != nil {
		return false, err
	}
	res.referRate, res.latencyTickets = rate, len(apiTickets)
	// The set-up server had no CSM_CALLBACK_URL; it stops before the queue is written.
	if s := srv.stop(); !strings.HasPrefix(s, "SIGTERM → exit 0") {
		return false, fmt.Errorf("the set-up server: %s", s)
	}

	dbURL := e.pg.cluster.URL(ss.dbName)
	e.logf("callbacks: writing %d events of %d tickets in SQL", o.events, nTickets)
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	t0 := time.Now()
	queued, err := seedEvents(ctx, dbURL, o.events, o.perTicket, r)
	if err != nil {
		return false, fmt.Errorf("write the queue: %w", err)
	}
	res.drain.seedTime = time.Since(t0)
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}

	secretText := newWebhookSecret()
	secret, err := services.ParseWebhookSecret(secretText)
	if err != nil {
		return false, err
	}
	rv, err := startReceiver(secret)
	if err != nil {
		return false, err
	}
	defer rv.close()

	if err := res.runDrain(ctx, e, ss, rv, secretText); err != nil {
		return false, err
	}
	srv = ss.srv

	// The queue is idle now; the drain's dead rows are cleared first, as autovacuum
	// would, so that the samples do not meet its work.
	if _, err := ss.db.ExecContext(ctx, "VACUUM (ANALYZE) csm_events, csm_delivery_attempts"); err != nil {
		return false, fmt.Errorf("vacuum: %w", err)
	}
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	arrivals := make(chan arrival, 1024)
	rv.setWatch(arrivals)

	e.logf("callbacks: %d events committed in SQL one at a time", o.samples)
	if res.sql, err = latencyBySQL(ctx, ss, pm, dbURL, queued, o.samples, arrivals, r); err != nil {
		return false, err
	}
	e.logf("callbacks: %d appointments booked through the API one at a time", o.samples)
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		return false, err
	}
	if res.api, err = latencyByAPI(ctx, srv, pm, csm, apiTickets, loc, arrivals, r); err != nil {
		return false, err
	}
	rv.setWatch(nil)
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	res.recvEnd = rv.counts()
	res.print(os.Stdout)
	return res.summary(os.Stdout), nil
}

// runDrain starts the server with the callback URL and waits until the receiver has
// every queued event, then checks the database.
func (res *callbacksResult) runDrain(ctx context.Context, e *benchEnv, ss *session, rv *receiver, secret string) error {
	d := &res.drain
	done := rv.expect(d.events)
	wal0, err := walLSN(ctx, e.admin)
	if err != nil {
		return err
	}
	e.logf("callbacks: starting the server with CSM_CALLBACK_URL; draining %d events", d.events)
	start := time.Now()
	srv, err := startServer(e.serverBin, e.pg.cluster.URL(ss.dbName), e.tmp, "callbacks-deliver",
		"CSM_CALLBACK_URL="+rv.url(), "CSM_WEBHOOK_SECRET="+secret)
	if err != nil {
		return err
	}
	ss.srv = srv
	watch := startCPUWatch(e.pg.postmasterPIDFile, srv.pid())
	readyAt := make(chan time.Duration, 1)
	readyCtx, stopReady := context.WithCancel(ctx)
	defer stopReady()
	go func() {
		if srv.waitReady(readyCtx) == nil {
			readyAt <- time.Since(start)
		}
	}()

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	lastCount, lastProgress := 0, time.Now()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			watch.finish()
			return ctx.Err()
		case <-srv.exited:
			watch.finish()
			return fmt.Errorf("the server exited during the drain (%v):\n%s", srv.waitErr, srv.logTail())
		case <-tick.C:
			c := rv.counts()
			e.logf("callbacks: %d of %d received after %.0fs", c.distinct, d.events, time.Since(start).Seconds())
			if c.distinct > lastCount {
				lastCount, lastProgress = c.distinct, time.Now()
			} else if time.Since(lastProgress) > drainStall {
				watch.finish()
				return fmt.Errorf("the drain stalled: %d of %d events received, none in %s (signatures rejected %d, bodies %d; e.g. %s):\n%s",
					c.distinct, d.events, drainStall, c.badSig, c.badBody, strings.Join(c.problems, "; "), srv.logTail())
			}
		}
	}
	d.cpu = watch.finish()
	d.recv = rv.counts()
	d.elapsed = d.recv.last.Sub(start)
	d.firstAt = d.recv.first.Sub(start)
	select {
	case d.ready = <-readyAt:
	case <-time.After(5 * time.Second):
	}
	d.mem.hwmKB, d.mem.endRSSKB, d.mem.maxRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS"), d.cpu.rssMaxKB

	// The last attempts are recorded after their answers: wait for them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var span float64
		err := ss.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE delivery_status = 'delivered'),
				count(*) FILTER (WHERE sequence IS NULL), count(*) FILTER (WHERE attempts <> 1),
				(SELECT count(*) FROM csm_delivery_attempts),
				coalesce(extract(epoch FROM max(delivered_at) - min(delivered_at)), 0)::float8
			FROM csm_events`).Scan(&d.delivered, &d.unpublished, &d.multiAttempts, &d.attemptRows, &span)
		if err != nil {
			return fmt.Errorf("check the deliveries: %w", err)
		}
		d.dbSpan = time.Duration(span * float64(time.Second))
		if d.storedOK() || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.walBytes, err = walSince(ctx, e.admin, wal0); err != nil {
		return err
	}
	return nil
}

// waitArrival waits for the callback that match says is the one, ignoring others (a
// duplicate, a late one of an earlier sample).
func waitArrival(ctx context.Context, arrivals <-chan arrival, exited <-chan struct{}, match func(arrival) bool) (time.Time, error) {
	timeout := time.NewTimer(callbackWait)
	defer timeout.Stop()
	for {
		select {
		case a := <-arrivals:
			if match(a) {
				return a.at, nil
			}
		case <-timeout.C:
			return time.Time{}, fmt.Errorf("no callback within %s", callbackWait)
		case <-exited:
			return time.Time{}, errors.New("the server exited")
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func pause(ctx context.Context, r *mrand.Rand) {
	select {
	case <-ctx.Done():
	case <-time.After(callbackPauseMin + time.Duration(r.Int64N(int64(callbackPauseJitter)))):
	}
}

// latencyBySQL commits events one at a time, as RecordEvent writes them (the ticket
// locked, the event inserted and pg_notify in one statement, in a transaction of its
// own), and times COMMIT returned → callback received.
func latencyBySQL(ctx context.Context, ss *session, pm, dbURL string, tickets []queuedTicket, n int, arrivals chan arrival, r *mrand.Rand) (*latencyResult, error) {
	res := &latencyResult{name: "SQL commit"}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	const record = `WITH locked AS (SELECT id FROM tickets WHERE id = $1 FOR UPDATE),
		inserted AS (INSERT INTO csm_events (id, type, ticket_id, ticket_number, data)
			SELECT $2, 'ticket.in_service', locked.id, $3, $4 FROM locked RETURNING position)
		SELECT position, pg_notify($5, '')::text FROM inserted`
	data := fmt.Sprintf(`{"centre": %q, "received_imei": "356938035643809"}`, callbacksCentre)
	watch := startCPUWatch(pm, ss.srv.pid())
	defer func() { res.cpu = watch.finish() }()
	for i := range n {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t := tickets[r.IntN(len(tickets))]
		id := newEventID()
		tx, err := conn.Begin(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, record, t.id, id, t.number, data, services.EventChannel); err != nil {
			_ = tx.Rollback(ctx)
			return nil, fmt.Errorf("record an event: %w", err)
		}
		c0 := time.Now()
		if err := tx.Commit(ctx); err != nil {
			return nil, err
		}
		committed := time.Now()
		res.commit = append(res.commit, committed.Sub(c0))
		at, err := waitArrival(ctx, arrivals, ss.srv.exited, func(a arrival) bool { return a.id == id })
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			res.fail("sample %d, event %s: %v", i+1, id, err)
			continue
		}
		d := at.Sub(committed)
		if d < 0 {
			res.negative++
			d = 0
		}
		res.lat = append(res.lat, d)
		pause(ctx, r)
	}
	slices.Sort(res.lat)
	slices.Sort(res.commit)
	return res, nil
}

// latencyByAPI books the referred tickets one at a time (POST /api/v1/appointments, as
// CSM does) and times request sent → callback received, and answer read → callback
// received: the commit is somewhere between the two.
func latencyByAPI(ctx context.Context, srv *server, pm, token string, tickets []string, loc *time.Location, arrivals chan arrival, r *mrand.Rand) (*latencyResult, error) {
	res := &latencyResult{name: "API booking"}
	slots := nextSlots(loc, time.Now(), (len(tickets)+99)/100, 0, 23*60+30)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	watch := startCPUWatch(pm, srv.pid())
	defer func() { res.cpu = watch.finish() }()
	url, auth := srv.base+"/api/v1/appointments", "Bearer "+token
	for i, number := range tickets {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		body, err := json.Marshal(map[string]string{"ticket_number": number, "centre_code": callbacksCentre, "starts_at": slots[i/100]})
		if err != nil {
			return nil, err
		}
		req, err := jsonRequest(ctx, "POST", url, auth, body)
		if err != nil {
			return nil, err
		}
		var answer strings.Builder
		sent := time.Now()
		resp, err := hc.Do(req)
		if err == nil {
			_, err = io.Copy(&answer, resp.Body)
			resp.Body.Close()
		}
		answered := time.Now()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			res.fail("book %s: %v", number, err)
			continue
		}
		if resp.StatusCode != http.StatusCreated {
			res.fail("book %s: %s", number, snippet(resp.StatusCode, []byte(answer.String())))
			continue
		}
		res.commit = append(res.commit, answered.Sub(sent))
		at, err := waitArrival(ctx, arrivals, srv.exited, func(a arrival) bool {
			return a.ticketNumber == number && a.typ == "appointment.booked"
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			res.fail("booking of %s: %v", number, err)
			continue
		}
		res.lat = append(res.lat, at.Sub(sent))
		res.after = append(res.after, at.Sub(answered))
		if at.Before(answered) {
			res.negative++
		}
		pause(ctx, r)
	}
	slices.Sort(res.lat)
	slices.Sort(res.commit)
	slices.Sort(res.after)
	return res, nil
}

func (res *callbacksResult) print(w io.Writer) {
	d := &res.drain
	fmt.Fprintf(w, "\n== Drain: %d events of %d tickets queued before the deliverer started\n", d.events, d.tickets)
	fmt.Fprintf(w, "  queue           written in SQL in %.1fs (unpublished, pending); %d more tickets referred through the API at %.0f/s for the API samples\n",
		d.seedTime.Seconds(), res.latencyTickets, res.referRate)
	fmt.Fprintf(w, "  server          ready after %.2fs; first callback after %.2fs (start-up and publishing)\n", d.ready.Seconds(), d.firstAt.Seconds())
	fmt.Fprintf(w, "  received        %d distinct events in %.2fs from the server's start: %.1f events/s (%.1f/s from the first to the last)\n",
		d.recv.distinct, d.elapsed.Seconds(), d.rate(), d.steadyRate())
	fmt.Fprintf(w, "  requests        %d (%d duplicates, %d bad signatures, %d bad bodies, %d out of order per ticket)\n",
		d.recv.requests, d.recv.duplicates, d.recv.badSig, d.recv.badBody, d.recv.outOfOrder)
	for _, p := range d.recv.problems {
		fmt.Fprintf(w, "    e.g. %s\n", p)
	}
	fmt.Fprintf(w, "  stored          %d of %d delivered, %d unpublished, %d with more than one attempt, %d attempt rows; delivered_at spans %.2fs\n",
		d.delivered, d.events, d.unpublished, d.multiAttempts, d.attemptRows, d.dbSpan.Seconds())
	printCPU(w, d.cpu, float64(d.recv.distinct), "event", [][2]any{{"server", d.cpu.server}, {"PostgreSQL", d.cpu.postgres}, {"receiver", d.cpu.self}})
	fmt.Fprintf(w, "  PostgreSQL      %.0f bytes WAL per event\n", ratio(float64(d.walBytes), float64(d.recv.distinct)))
	fmt.Fprintf(w, "  server memory   peak RSS (VmHWM) %.1f MB; largest RSS sample in the drain %.1f MB\n",
		d.mem.peakMB(), float64(d.mem.maxRSSKB)*1024/mb)

	for _, l := range []*latencyResult{res.sql, res.api} {
		fmt.Fprintf(w, "\n== Idle queue, one at a time: %s (%d callbacks, %d errors)\n", l.name, len(l.lat), l.errors)
		for _, s := range l.samples {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
		if l == res.sql {
			fmt.Fprintf(w, "  commit → callback      %s\n", latencySummary(l.lat))
			fmt.Fprintf(w, "  COMMIT round trip      %s\n", latencySummary(l.commit))
			if l.negative > 0 {
				fmt.Fprintf(w, "  %d callbacks came before COMMIT returned (counted as 0)\n", l.negative)
			}
		} else {
			fmt.Fprintf(w, "  request → callback     %s\n", latencySummary(l.lat))
			fmt.Fprintf(w, "  answer → callback      %s (negative: the callback came first)\n", latencySummary(l.after))
			fmt.Fprintf(w, "  request → answer       %s\n", latencySummary(l.commit))
			fmt.Fprintf(w, "  %d of %d callbacks came before the answer was read\n", l.negative, len(l.after))
		}
		printCPU(w, l.cpu, float64(len(l.lat)), "event", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"bench", l.cpu.self}})
	}
	fmt.Fprintf(w, "\n  receiver        %d distinct events in all, %d requests, %d duplicates\n", res.recvEnd.distinct, res.recvEnd.requests, res.recvEnd.duplicates)
	if res.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", res.stopped)
	}
}

// summary prints the figures against their targets and reports whether the run failed:
// events missing, a rejected signature or body, events out of order per ticket, the
// database not saying every event was delivered once, or a sample without its callback.
func (res *callbacksResult) summary(w io.Writer) bool {
	d := &res.drain
	s := newSummary(w, "callbacks")
	s.row("events queued (tickets × events each)", fmt.Sprintf("%d", d.events), "", fmt.Sprintf("%d tickets", d.tickets))
	s.row("drain: events/s from the server's start", fmt.Sprintf("%.1f", d.rate()), fmt.Sprintf("≥ %.0f", targetDrainRate),
		verdict(d.recv.distinct == d.events && d.rate() >= targetDrainRate))
	s.row("  from the first callback to the last", fmt.Sprintf("%.1f", d.steadyRate()), "", "")
	s.row("  server start → first callback", fmt.Sprintf("%.2f s", d.firstAt.Seconds()), "", "")
	s.row("drain: duplicates", fmt.Sprint(d.recv.duplicates), "0", verdict(d.recv.duplicates == 0))
	s.row("drain: all delivered once (database)", fmt.Sprintf("%d", d.delivered), fmt.Sprint(d.events), check(d.storedOK()))
	s.row("signatures rejected, bodies rejected", fmt.Sprintf("%d, %d", res.recvEnd.badSig, res.recvEnd.badBody), "0", check(res.recvEnd.badSig+res.recvEnd.badBody == 0))
	s.row("events out of order per ticket", fmt.Sprint(res.recvEnd.outOfOrder), "0", check(res.recvEnd.outOfOrder == 0))
	l := res.sql
	p50 := percentile(l.lat, .5)
	s.row("commit → callback p50 (SQL, idle queue)", ms(p50), "< "+ms(targetCallbackP50), verdict(len(l.lat) > 0 && p50 < targetCallbackP50))
	s.row("commit → callback p90", ms(percentile(l.lat, .9)), "", "")
	s.row("commit → callback p99", ms(percentile(l.lat, .99)), "", "")
	s.row("commit → callback max", ms(percentile(l.lat, 1)), "", "")
	a := res.api
	s.row("API booking: request → callback p50", ms(percentile(a.lat, .5)), "", "upper bound")
	s.row("API booking: request → callback p99", ms(percentile(a.lat, .99)), "", "")
	s.row("API booking: answer → callback p50", ms(percentile(a.after, .5)), "", "lower bound")
	s.row("samples without their callback", fmt.Sprintf("%d, %d", res.sql.errors, res.api.errors), "0, 0", check(res.sql.errors+res.api.errors == 0))
	s.row("duplicates in all", fmt.Sprint(res.recvEnd.duplicates), "0", verdict(res.recvEnd.duplicates == 0))
	warnOtherLoad(w, phaseLoad{"the drain", d.cpu, d.cpu.server + d.cpu.postgres + d.cpu.self},
		phaseLoad{"the latency samples", res.sql.cpu, res.sql.cpu.server + res.sql.cpu.postgres + res.sql.cpu.self})
	failed := d.recv.distinct != d.events || !d.storedOK() || !res.recvEnd.ok() || res.sql.errors+res.api.errors > 0 ||
		len(res.sql.lat) == 0 || len(res.api.lat) == 0
	printResult(w, failed, "events missing or not delivered once, a signature or body rejected, events out of order, or a sample without its callback")
	return failed
}
