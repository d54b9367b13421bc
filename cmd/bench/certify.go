package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The certify scenario: POST /api/v1/repairs/{id}/certify by 16 technicians, first all
// at one centre, where every certification queues on that centre's certificate counter
// row, then two at each of eight centres; against pgbench TPC-B with as many clients.
// The repair orders they certify are written in SQL beforehand, ready: diagnosis,
// corrective actions and every test passed.

const (
	certifyBU             = "BU-CRT"
	certifyOneCentre      = "CRT-00"
	certifySpread         = 8   // centres of the spread phase
	certifyCounters       = 100 // per centre: places per slot for the seeded appointments
	certifyMargin         = 2.0 // repair orders seeded ÷ what the calibration rate would use up
	certifyCalibPerClient = 100 // repair orders per client for the calibration
	certifyMinCalibration = 2 * time.Second
	certifySlotsPerDay    = 47 // 00:00-23:30 in 30-minute slots
	technicianPasswd      = "bench-technician-password-1"
)

var certifyCentreNames = []struct{ name, address string }{
	{"Centro Caracas Las Mercedes", "Calle París, Las Mercedes, Caracas"},
	{"Centro Caracas Chacao", "Av. Francisco de Miranda, Chacao, Caracas"},
	{"Centro Valencia Norte", "Av. Bolívar Norte, Valencia, Carabobo"},
	{"Centro Maracaibo", "Av. 5 de Julio, Maracaibo, Zulia"},
	{"Centro Barquisimeto", "Av. Lara, Barquisimeto, Lara"},
	{"Centro Maracay", "Av. Las Delicias, Maracay, Aragua"},
	{"Centro Puerto La Cruz", "Av. Municipal, Puerto La Cruz, Anzoátegui"},
	{"Centro Mérida", "Av. Las Américas, Mérida, Mérida"},
	{"Centro Ciudad Guayana", "Av. Guayana, Puerto Ordaz, Bolívar"},
}

// repairWork is what a technician finds and does for a fault category: a diagnosis, an
// action of the catalogue and a note of what was done.
type repairWork struct{ diagnosis, code, text string }

var repairWorks = map[string]repairWork{
	"no_power":        {"Batería agotada con celdas hinchadas; el equipo no arrancaba", "battery_replaced", "Se verificó el arranque con fuente externa antes del cambio"},
	"no_signal":       {"Conector de antena desoldado en la placa principal", "antenna_repaired", "Se resoldó el conector y se midió la señal en 4G y 3G"},
	"no_charge":       {"Conector de carga con pines doblados y restos de pelusa", "charging_port", "Limpieza y reemplazo del conector USB-C"},
	"audio":           {"Micrófono principal obstruido y dañado por humedad", "microphone_replaced", "Se probó la llamada en ambos sentidos tras el cambio"},
	"screen":          {"Flex de la pantalla fisurado; el táctil fallaba en la franja inferior", "screen_replaced", "Pantalla original instalada y calibrada"},
	"keypad":          {"Pulsador de encendido con el contacto roto", "board_cleaned", "Se reemplazó el pulsador de encendido"},
	"sim":             {"Lector de SIM con un pin levantado", "sim_reader_repaired", "Se enderezó el pin y se probó con dos SIM distintas"},
	"data":            {"APN mal configurado tras un cambio de SIM", "network_settings", "Se configuró el APN de la operadora y se probó la navegación"},
	"software":        {"Actualización incompleta; el sistema entraba en bucle de reinicio", "software_reflash", "Firmware oficial reinstalado; datos del cliente respaldados"},
	"physical_damage": {"Carcasa trasera partida y módulo de cámara roto por caída", "screen_replaced", "Cambio de carcasa trasera y del módulo de cámara"},
	"other":           {"Humedad en la placa con corrosión leve cerca del cargador", "board_cleaned", "Limpieza ultrasónica de la placa y secado"},
}

var (
	receivedConditions = []string{"Sin daños visibles", "Pantalla con rayones leves; carcasa con desgaste en las esquinas",
		"Golpe en la esquina superior derecha", "Carcasa trasera despegada", "Equipo con funda, sin daños aparentes"}
	receivedAccessories = []string{`[]`, `["cargador"]`, `["cargador", "cable USB"]`, `["funda"]`, `["cargador", "funda"]`}
)

func workFor(category string) repairWork {
	if w, ok := repairWorks[category]; ok {
		return w
	}
	return repairWorks["other"]
}

// technician is a technician's account, signed in.
type technician struct {
	id, email, name, centre, token string
}

// issuedCert is what a 201 of certify said.
type issuedCert struct {
	Number string `json:"certificate_number"`
	SHA256 string `json:"pdf_sha256"`
	Centre string `json:"centre_code"`
	Repair string `json:"repair_id"`
	Status string `json:"status"`
}

// certifyWorker is one technician certifying the ready repair orders of their centre's
// pool, one after another; every answer but 201 with a certificate is an error.
type certifyWorker struct {
	base, auth string
	pool       *ticketPool // repair order ids
	current    string
	issued     []issuedCert
}

var certifyBody = []byte(`{"outcome":"repaired"}`)

func (w *certifyWorker) next(ctx context.Context) (*http.Request, error) {
	id, ok := w.pool.take()
	if !ok {
		return nil, nil
	}
	w.current = id
	return jsonRequest(ctx, "POST", w.base+"/api/v1/repairs/"+id+"/certify", w.auth, certifyBody)
}

func (w *certifyWorker) classify(status int, body []byte) (int, string) {
	if status != http.StatusCreated {
		return -1, snippet(status, body)
	}
	var c issuedCert
	if err := json.Unmarshal(body, &c); err != nil || c.Number == "" || len(c.SHA256) != 64 || c.Repair != w.current || c.Status != "valid" {
		return -1, "201 without the certificate of the repair: " + snippet(status, body)
	}
	w.issued = append(w.issued, c)
	return 0, ""
}

// poolDry says whether a pool ran out: its clients stopped before the end.
func poolDry(p *ticketPool) bool { return p.next.Load() > int64(len(p.numbers)) }

// repairSeeder writes ready repair orders straight into the database: for each, a
// ticket in service, an appointment checked in on an earlier day, its slot, the repair
// order with diagnosis and corrective actions, and a passed result for every active
// test, as check-in, PATCH /repairs/{id} and PUT /repairs/{id}/tests leave them.
type repairSeeder struct {
	url     string
	adminID string
	tests   []string
	r       *mrand.Rand
	run     string
	prefix  string // of the ticket numbers; "CRT" when empty
	perDay  int    // orders a day at a centre; 0: a whole day of slots, 47 × 100
	seq     int
	nextDay map[string]int // per centre, days before today of its next seed
}

// handset is a customer's device as a ticket names it.
type handset struct{ imei, brand, model string }

// seededOrder is one repair order the seeder wrote, with what a swap of it needs.
type seededOrder struct {
	id, ticketID, tech pgtype.UUID
	handset
	msisdn    string
	checkedIn time.Time
}

// seed writes n repair orders at a centre, worked by the given technicians, and returns
// their ids in random order. Each call takes whole days of slots of its own, before
// those of the calls before it.
func (s *repairSeeder) seed(ctx context.Context, centre string, techs []string, n int) ([]string, error) {
	orders, err := s.seedOrders(ctx, centre, techs, n, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.id.String()
	}
	s.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids, nil
}

// seedOrders is seed returning the orders oldest first. With handsets (one per order),
// the tickets name those devices, and the orders receive them, instead of random ones.
func (s *repairSeeder) seedOrders(ctx context.Context, centre string, techs []string, n int, handsets []handset) ([]seededOrder, error) {
	if handsets != nil && len(handsets) != n {
		return nil, fmt.Errorf("%d handsets for %d repair orders", len(handsets), n)
	}
	conn, err := pgx.Connect(ctx, s.url)
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
	var tz string
	if err := tx.QueryRow(ctx, "SELECT id, time_zone FROM centres WHERE code = $1", centre).Scan(&centreID, &tz); err != nil {
		return nil, fmt.Errorf("centre %s: %w", centre, err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	var adminID pgtype.UUID
	if err := adminID.Scan(s.adminID); err != nil {
		return nil, err
	}
	techIDs := make([]pgtype.UUID, len(techs))
	for i, t := range techs {
		if err := techIDs[i].Scan(t); err != nil {
			return nil, err
		}
	}
	if s.nextDay[centre] == 0 {
		s.nextDay[centre] = 1
	}
	perDay := s.perDay
	if perDay <= 0 {
		perDay = certifySlotsPerDay * certifyCounters
	}
	prefix := s.prefix
	if prefix == "" {
		prefix = "CRT"
	}
	days := (n + perDay - 1) / perDay
	y, m, d := time.Now().In(loc).Date()
	first := s.nextDay[centre] + days - 1 // the earliest day, filled first
	s.nextDay[centre] += days

	r := s.r
	var tickets, appts, slots, repairs, tests [][]any
	orders := make([]seededOrder, 0, n)
	for i := range n {
		day, place := i/perDay, i%perDay
		slotIdx := place / certifyCounters
		start := time.Date(y, m, d-first+day, slotIdx*slotMinutes/60, slotIdx*slotMinutes%60, 0, 0, loc)
		end := start.Add(slotMinutes * time.Minute)
		if place%certifyCounters == 0 {
			slots = append(slots, []any{centreID, start, end, certifyCounters, min(certifyCounters, perDay-place, n-i)})
		}
		s.seq++
		tid, aid, rid := newUUID(), newUUID(), newUUID()
		reported := start.Add(-time.Duration(2+r.IntN(18)) * time.Hour)
		ticket := ticketRow(r, tid, fmt.Sprintf("%s-%s-%07d", prefix, s.run, s.seq), "in_service", reported, centreID, nil, nil, nil, nil, nil)
		if handsets != nil {
			h := handsets[i]
			ticket[13], ticket[14], ticket[15] = h.imei, h.brand, h.model
		}
		// Referred, booked and checked in: version 3, as the API leaves a ticket.
		tickets = append(tickets, append(ticket, 3))
		checkedIn := start.Add(time.Duration(r.IntN(20)) * time.Minute)
		appts = append(appts, []any{aid, tid, centreID, start, end, "checked_in", checkedIn, 2, reported.Add(5 * time.Minute), checkedIn})
		work := workFor(ticket[16].(string))
		actions, _ := json.Marshal([]map[string]string{{"code": work.code}, {"text": work.text}})
		tech := techIDs[r.IntN(len(techIDs))]
		worked := checkedIn.Add(time.Duration(60+r.IntN(120)) * time.Minute)
		repairs = append(repairs, []any{rid, tid, aid, centreID, "open", ticket[13], receivedConditions[r.IntN(len(receivedConditions))],
			[]byte(receivedAccessories[r.IntN(len(receivedAccessories))]), adminID, work.diagnosis, actions, tech, 3, checkedIn, worked})
		for _, code := range s.tests {
			tests = append(tests, []any{rid, code, "pass", "", tech, worked})
		}
		orders = append(orders, seededOrder{id: rid, ticketID: tid, tech: tech, msisdn: ticket[12].(string), checkedIn: checkedIn,
			handset: handset{imei: ticket[13].(string), brand: ticket[14].(string), model: ticket[15].(string)}})
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"tickets", append(slices.Clone(ticketColumns), "version"), tickets},
		{"slots", []string{"centre_id", "starts_at", "ends_at", "capacity", "booked"}, slots},
		{"appointments", []string{"id", "ticket_id", "centre_id", "starts_at", "ends_at", "status", "checked_in_at", "version", "created_at", "updated_at"}, appts},
		{"repair_orders", []string{"id", "ticket_id", "appointment_id", "centre_id", "status", "received_imei", "received_condition",
			"accessories", "checked_in_by", "diagnosis", "corrective_actions", "technician_id", "version", "created_at", "updated_at"}, repairs},
		{"repair_tests", []string{"repair_id", "code", "result", "note", "recorded_by", "recorded_at"}, tests},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return nil, fmt.Errorf("copy into %s: %w", c.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE tickets, slots, appointments, repair_orders, repair_tests"); err != nil {
		return nil, err
	}
	return orders, nil
}

// waitSampler samples, every 100 ms, what the backends of a database are doing:
// running, waiting (for a lock, the WAL…) or idle in a transaction (the server working
// between two statements, the PDF rendered while the counter row is held).
type waitSampler struct {
	db      *sql.DB
	dbName  string
	stop    chan struct{}
	done    chan struct{}
	samples int
	counts  map[string]int
	err     error
}

func startWaitSampler(db *sql.DB, dbName string, delay time.Duration) *waitSampler {
	w := &waitSampler{db: db, dbName: dbName, stop: make(chan struct{}), done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(w.done)
		select {
		case <-time.After(delay):
		case <-w.stop:
			return
		}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if err := w.sample(); err != nil {
				w.err = err
				return
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *waitSampler) sample() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := w.db.QueryContext(ctx, `SELECT state, coalesce(wait_event_type || ':' || wait_event, ''), count(*)
		FROM pg_stat_activity WHERE datname = $1 AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()
		GROUP BY 1, 2`, w.dbName)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var state, wait string
		var n int
		if err := rows.Scan(&state, &wait, &n); err != nil {
			return err
		}
		key := state
		switch {
		case state == "active" && wait == "":
			key = "running"
		case state == "active":
			key = wait
		}
		w.counts[key] += n
	}
	w.samples++
	return rows.Err()
}

func (w *waitSampler) finish() *waitSampler {
	close(w.stop)
	<-w.done
	return w
}

// mean is the average number of backends in a state per sample.
func (w *waitSampler) mean(key string) float64 {
	return ratio(float64(w.counts[key]), float64(w.samples))
}

// String lists the states by their average number of backends, most first.
func (w *waitSampler) String() string {
	if w.samples == 0 {
		return "no sample"
	}
	keys := make([]string, 0, len(w.counts))
	total := 0.0
	for k := range w.counts {
		keys = append(keys, k)
		total += w.mean(k)
	}
	slices.SortFunc(keys, func(a, b string) int { return w.counts[b] - w.counts[a] })
	var parts []string
	for _, k := range keys {
		if m := w.mean(k); m >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f", k, m))
		}
	}
	return fmt.Sprintf("%.1f backends busy on average (%d samples): %s", total, w.samples, strings.Join(parts, ", "))
}

// lockWaits is the average number of backends waiting for a heavyweight lock (a row's
// transaction, a tuple).
func (w *waitSampler) lockWaits() float64 {
	n := 0.0
	for k := range w.counts {
		if strings.HasPrefix(k, "Lock:") {
			n += w.mean(k)
		}
	}
	return n
}

// certifyPhase is one load of certifications.
type certifyPhase struct {
	name       string
	short      string // in the summary
	centres    []string
	clients    int
	seeded     int
	seedTime   time.Duration
	load       *loadResult
	dry        []string // centres whose pool ran out
	walBytes   int64
	multixacts int64
	waits      *waitSampler
	pdfBytes   float64 // mean PDF size of its certificates
	started    time.Time
	workers    []*certifyWorker
}

func (p *certifyPhase) rate() float64 { return p.load.rate(p.load.measured()) }

// numbering is the check of one centre's certificates of one year.
type numbering struct {
	centre                     string
	year, count, minSeq        int
	maxSeq, distinct, counter  int
	badHash, badNumber         int
	answered, answeredMatching int
}

func (n numbering) ok() bool {
	return n.minSeq == 1 && n.maxSeq == n.count && n.distinct == n.count && n.counter == n.count &&
		n.badHash == 0 && n.badNumber == 0 && n.answered == n.count && n.answeredMatching == n.count
}

// certifyResult is the whole scenario.
type certifyResult struct {
	base                         *baseline
	technicians, tests           int
	apiCheck                     string
	apiOK                        bool
	seededCheck                  string
	seededOK                     bool
	pdfCheck                     string
	pdfOK                        bool
	calib                        *certifyPhase
	calibRate                    float64
	one, spread                  *certifyPhase
	numbers                      []numbering
	unmatched                    int // answers with no certificate of that number and hash
	certificates, repairsDone    int
	resolved, completed, events  int
	slotMismatch                 int
	deadlocks                    int64
	logErrors                    int
	logSample                    string
	mem                          memory
	stopped                      string
	validationIssued             []issuedCert
	answeredTotal, answeredDupes int
}

// certifyEnv is what the phases share.
type certifyEnv struct {
	e      *benchEnv
	ss     *session
	seeder *repairSeeder
}

func runCertify(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	spread := min(certifySpread, o.clients)
	fmt.Fprintf(os.Stdout, "  plan            %d technicians; pgbench scale %d for %s; then the service: all %d at one centre, then spread over %d centres, %s warm-up + %s each\n",
		o.clients, o.scale, o.duration, o.clients, spread, o.warmup, o.duration)
	base, err := runBaseline(ctx, e)
	if err != nil {
		return false, err
	}
	ss, err := startSession(ctx, e, "certify")
	if err != nil {
		return false, err
	}
	defer ss.close()
	srv := ss.srv
	res := &certifyResult{base: base}
	setUpErr := func(err error) error { return fmt.Errorf("set up through the API: %w", err) }
	tok, err := srv.login(ctx)
	if err != nil {
		return false, setUpErr(err)
	}
	if err := srv.createBusinessUnit(ctx, tok, certifyBU, "Región de reparaciones"); err != nil {
		return false, setUpErr(err)
	}
	// Open every day, 00:00-23:30: the seeded appointments fill 47 slots a day, and the
	// API check finds a slot today at almost any hour.
	hours := openingHours("00:00", "23:30", 1, 2, 3, 4, 5, 6, 7)
	codes := []string{certifyOneCentre}
	for i := 1; i <= spread; i++ {
		codes = append(codes, fmt.Sprintf("CRT-%02d", i))
	}
	for i, code := range codes {
		n := certifyCentreNames[i%len(certifyCentreNames)]
		if err := srv.createCentre(ctx, tok, centreBody(code, n.name, n.address, certifyBU, certifyCounters, hours, nil)); err != nil {
			return false, setUpErr(err)
		}
	}
	csm, err := srv.createCSMClient(ctx, tok)
	if err != nil {
		return false, setUpErr(err)
	}

	// The technicians: all of the one-centre phase at CRT-00, those of the spread phase
	// dealt round its centres.
	e.logf("certify: creating and signing in %d technicians", 2*o.clients)
	var oneTechs, spreadTechs []*technician
	for i := range 2 * o.clients {
		centre := certifyOneCentre
		if i >= o.clients {
			centre = codes[1+(i-o.clients)%spread]
		}
		t, err := createTechnician(ctx, srv, tok, centre, i)
		if err != nil {
			return false, setUpErr(err)
		}
		if i < o.clients {
			oneTechs = append(oneTechs, t)
		} else {
			spreadTechs = append(spreadTechs, t)
		}
	}
	var adminID string
	if err := ss.db.QueryRowContext(ctx, "SELECT id FROM users WHERE email = $1", adminEmail).Scan(&adminID); err != nil {
		return false, err
	}
	var catalogue struct {
		Items []struct {
			Code   string `json:"code"`
			Active bool   `json:"active"`
		} `json:"items"`
	}
	if err := srv.call(ctx, "GET", "/api/v1/test-catalogue", oneTechs[0].token, nil, &catalogue, 200); err != nil {
		return false, setUpErr(err)
	}
	var tests []string
	for _, it := range catalogue.Items {
		if it.Active {
			tests = append(tests, it.Code)
		}
	}
	ce := &certifyEnv{e: e, ss: ss, seeder: &repairSeeder{url: e.pg.cluster.URL(ss.dbName), adminID: adminID, tests: tests, run: runID(),
		r: mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11)), nextDay: map[string]int{}}}

	// A repair order made through the API against one written in SQL: the same shape,
	// and both certify.
	if err := ce.checkAgainstAPI(ctx, res, tok, csm, oneTechs); err != nil {
		return false, err
	}

	techIDs := func(ts []*technician, centre string) []string {
		var out []string
		for _, t := range ts {
			if t.centre == centre {
				out = append(out, t.id)
			}
		}
		return out
	}
	clientsAt := func(ts []*technician) map[string]int {
		m := map[string]int{}
		for _, t := range ts {
			m[t.centre]++
		}
		return m
	}

	// Calibration at the spread centres: how fast the service certifies, to size what
	// the measured phases need. Not counted.
	calibTime := max(o.warmup, certifyMinCalibration)
	calibNeed := map[string]int{}
	for c, n := range clientsAt(spreadTechs) {
		calibNeed[c] = n * certifyCalibPerClient
	}
	e.logf("certify: calibration, %d technicians at %d centres for up to %s", len(spreadTechs), spread, calibTime)
	res.calib, err = ce.phase(ctx, "calibration", "calibration", spreadTechs, calibNeed, func(c string) []string { return techIDs(spreadTechs, c) },
		loadPlan{clients: len(spreadTechs), duration: calibTime, outcomes: []string{"201"}})
	if err != nil {
		return false, err
	}
	if res.calib.load.errors > 0 {
		return false, fmt.Errorf("calibration: %d errors, e.g. %s", res.calib.load.errors, strings.Join(res.calib.load.samples, "; "))
	}
	res.calibRate = res.calib.rate()
	if res.calibRate <= 0 {
		return false, fmt.Errorf("calibration: no certification in %s", calibTime)
	}
	span := (o.warmup + o.duration).Seconds()
	need := func(ts []*technician) map[string]int {
		out := map[string]int{}
		for c, n := range clientsAt(ts) {
			share := float64(n) / float64(len(ts))
			out[c] = int(math.Ceil(res.calibRate*span*certifyMargin*share)) + n
		}
		return out
	}
	plan := loadPlan{clients: o.clients, warmup: o.warmup, duration: o.duration, outcomes: []string{"201"}}

	res.mem.startHWMKB = ss.memKB("VmHWM")
	e.logf("certify: all %d technicians at %s, %s warm-up, then %s measured", o.clients, certifyOneCentre, o.warmup, o.duration)
	if res.one, err = ce.phase(ctx, fmt.Sprintf("all %d at %s", o.clients, certifyOneCentre), "one centre", oneTechs, need(oneTechs),
		func(c string) []string { return techIDs(oneTechs, c) }, plan); err != nil {
		return false, err
	}
	e.logf("certify: %d technicians over %d centres, %s warm-up, then %s measured", o.clients, spread, o.warmup, o.duration)
	if res.spread, err = ce.phase(ctx, fmt.Sprintf("%d at %d centres", o.clients, spread), fmt.Sprintf("%d centres", spread), spreadTechs, need(spreadTechs),
		func(c string) []string { return techIDs(spreadTechs, c) }, plan); err != nil {
		return false, err
	}
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	res.mem.maxRSSKB = max(res.one.load.cpu.rssMaxKB, res.spread.load.cpu.rssMaxKB)

	if err := res.checkStored(ctx, ss); err != nil {
		return false, err
	}
	if res.stopped, _, err = ss.finish(ctx); err != nil {
		return false, err
	}
	if err := ss.admin.QueryRowContext(ctx, "SELECT deadlocks FROM pg_stat_database WHERE datname = $1", ss.dbName).Scan(&res.deadlocks); err != nil {
		return false, err
	}
	res.scanLog(srv.logPath)
	res.technicians, res.tests = 2*o.clients, len(tests)
	res.print(os.Stdout)
	return res.summary(os.Stdout), nil
}

func createTechnician(ctx context.Context, srv *server, adminTok, centre string, i int) (*technician, error) {
	t := &technician{centre: centre, email: fmt.Sprintf("tecnico-%02d@example.com", i+1),
		name: fmt.Sprintf("%s %s", firstNames[i%len(firstNames)], lastNames[(i/len(firstNames)+i)%len(lastNames)])}
	var u struct {
		ID string `json:"id"`
	}
	if err := srv.call(ctx, "POST", "/api/v1/admin/users", adminTok, map[string]string{"email": t.email, "name": t.name,
		"password": technicianPasswd, "role": "technician", "centre_code": centre}, &u, 201); err != nil {
		return nil, err
	}
	t.id = u.ID
	var login struct {
		Token string `json:"token"`
	}
	if err := srv.call(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": t.email, "password": technicianPasswd}, &login, 200); err != nil {
		return nil, err
	}
	t.token = login.Token
	return t, nil
}

// phase seeds the repair orders each centre needs, then runs the technicians, each on
// the pool of their centre.
func (ce *certifyEnv) phase(ctx context.Context, name, short string, techs []*technician, need map[string]int,
	workedBy func(centre string) []string, plan loadPlan) (*certifyPhase, error) {
	e, ss := ce.e, ce.ss
	p := &certifyPhase{name: name, short: short, clients: len(techs)}
	pools := map[string]*ticketPool{}
	t0 := time.Now()
	for _, t := range techs {
		if _, ok := pools[t.centre]; ok {
			continue
		}
		ids, err := ce.seeder.seed(ctx, t.centre, workedBy(t.centre), need[t.centre])
		if err != nil {
			return nil, fmt.Errorf("%s: insert the repair orders of %s: %w", name, t.centre, err)
		}
		pools[t.centre] = &ticketPool{numbers: ids}
		p.centres = append(p.centres, t.centre)
		p.seeded += len(ids)
	}
	p.seedTime = time.Since(t0)
	slices.Sort(p.centres)
	if _, err := e.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	wal0, err := walLSN(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	mx0, err := multixacts(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	p.waits = startWaitSampler(e.admin, ss.dbName, plan.warmup)
	p.workers = make([]*certifyWorker, len(techs))
	p.load, err = ss.srv.runLoad(ctx, e.pg.postmasterPIDFile, plan, func(i int) worker {
		t := techs[i]
		p.workers[i] = &certifyWorker{base: ss.srv.base, auth: "Bearer " + t.token, pool: pools[t.centre]}
		return p.workers[i]
	})
	p.waits.finish()
	if err != nil {
		return nil, err
	}
	if p.waits.err != nil {
		return nil, fmt.Errorf("sample pg_stat_activity: %w", p.waits.err)
	}
	for _, c := range p.centres {
		if poolDry(pools[c]) {
			p.dry = append(p.dry, c)
		}
	}
	if p.walBytes, err = walSince(ctx, e.admin, wal0); err != nil {
		return nil, err
	}
	mx1, err := multixacts(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	p.multixacts = mx1 - mx0
	var avg sql.NullFloat64
	if err := ss.db.QueryRowContext(ctx, `SELECT avg(length(x.pdf)) FROM certificates x JOIN centres c ON c.id = x.centre_id
		WHERE c.code = ANY($1) AND x.issued_at >= $2`, p.centres, p.started).Scan(&avg); err != nil {
		return nil, fmt.Errorf("mean PDF size: %w", err)
	}
	p.pdfBytes = avg.Float64
	return p, nil
}

// repairView is what the checks read of GET /api/v1/repairs/{id}.
type repairView struct {
	Status       string  `json:"status"`
	Version      int     `json:"version"`
	CentreCode   string  `json:"centre_code"`
	ReceivedIMEI string  `json:"received_imei"`
	Diagnosis    string  `json:"diagnosis"`
	Technician   *string `json:"technician"`
	Actions      []struct {
		Code   string `json:"code"`
		Text   string `json:"text"`
		NameES string `json:"name_es"`
	} `json:"corrective_actions"`
	Tests []struct {
		Code      string  `json:"code"`
		Mandatory bool    `json:"mandatory"`
		Result    *string `json:"result"`
	} `json:"tests"`
	Checklist *struct {
		Recorded  int      `json:"recorded"`
		Passed    int      `json:"passed"`
		Failed    int      `json:"failed"`
		Missing   []string `json:"missing"`
		NotPassed []string `json:"not_passed"`
	} `json:"checklist"`
	Accessories []string `json:"accessories"`
}

var imeiPattern = regexp.MustCompile(`^[0-9]{15}$`)

// shape is what a repair order ready for certification must look like, whoever made it.
func (v *repairView) shape() string {
	named, texts := 0, 0
	for _, a := range v.Actions {
		if a.Code != "" && a.NameES != "" {
			named++
		}
		if a.Text != "" {
			texts++
		}
	}
	results := 0
	for _, t := range v.Tests {
		if t.Result != nil {
			results++
		}
	}
	s := fmt.Sprintf("%s at %s, version %d, IMEI %t, diagnosis %t, technician %t, %d actions (%d from the catalogue, %d with text), %d tests, %d with a result",
		v.Status, v.CentreCode, v.Version, imeiPattern.MatchString(v.ReceivedIMEI), v.Diagnosis != "",
		v.Technician != nil, len(v.Actions), named, texts, len(v.Tests), results)
	if c := v.Checklist; c != nil {
		s += fmt.Sprintf("; checklist %d recorded, %d passed, %d failed, missing %v, not passed %v", c.Recorded, c.Passed, c.Failed, c.Missing, c.NotPassed)
	}
	return s
}

func (v *repairView) ready() bool {
	return v.Status == "open" && v.Checklist != nil && len(v.Checklist.Missing) == 0 && len(v.Checklist.NotPassed) == 0 &&
		v.Checklist.Passed == v.Checklist.Recorded && v.Checklist.Recorded > 0 && v.Diagnosis != "" && len(v.Actions) > 0
}

// checkAgainstAPI opens a repair order through the API, as the counter and the technician
// would (a booking today and its check-in, or a walk-in when no slot of today is left;
// then the diagnosis and actions, then the tests), and compares it with one written in
// SQL. Then it certifies both and fetches their PDFs.
func (ce *certifyEnv) checkAgainstAPI(ctx context.Context, res *certifyResult, adminTok, csmTok string, techs []*technician) error {
	srv := ce.ss.srv
	tech := techs[0]
	seeded, err := ce.seeder.seed(ctx, certifyOneCentre, []string{tech.id}, 1)
	if err != nil {
		return fmt.Errorf("insert a repair order: %w", err)
	}
	var seededView repairView
	if err := srv.call(ctx, "GET", "/api/v1/repairs/"+seeded[0], tech.token, nil, &seededView, 200); err != nil {
		return fmt.Errorf("the repair order written in SQL: %w", err)
	}
	res.seededOK = seededView.ready()
	res.seededCheck = seededView.shape()
	if !res.seededOK {
		res.seededCheck = "NOT READY: " + res.seededCheck
	}

	repairID, how, err := ce.openThroughAPI(ctx, adminTok, csmTok, tech)
	if err != nil {
		return err
	}
	ids := []string{seeded[0]}
	if repairID == "" {
		res.apiOK = true // nothing to compare: said so
		res.apiCheck = "skipped: " + how
	} else {
		var apiView repairView
		if err := srv.call(ctx, "GET", "/api/v1/repairs/"+repairID, tech.token, nil, &apiView, 200); err != nil {
			return fmt.Errorf("the repair order made through the API: %w", err)
		}
		res.apiOK = apiView.ready() && apiView.shape() == seededView.shape()
		res.apiCheck = fmt.Sprintf("%s; GET /repairs/{id} shows the same shape as one written in SQL", how)
		if !res.apiOK {
			res.apiCheck = fmt.Sprintf("MISMATCH (%s):\n      API: %s\n      SQL: %s", how, apiView.shape(), seededView.shape())
		}
		ids = append(ids, repairID)
	}

	// Certify both; each PDF served must be the one whose hash the answer gave.
	res.pdfOK = true
	var sizes []string
	for _, id := range ids {
		var c issuedCert
		if err := srv.call(ctx, "POST", "/api/v1/repairs/"+id+"/certify", tech.token, map[string]string{"outcome": "repaired"}, &c, 201); err != nil {
			return fmt.Errorf("certify: %w", err)
		}
		res.validationIssued = append(res.validationIssued, c)
		body, status, err := srv.getRaw(ctx, "/api/v1/certificates/"+c.Number+".pdf", tech.token)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ok := status == 200 && hex.EncodeToString(sum[:]) == c.SHA256 && strings.HasPrefix(string(body), "%PDF-")
		res.pdfOK = res.pdfOK && ok
		sizes = append(sizes, fmt.Sprintf("%s %d bytes, SHA-256 %s", c.Number, len(body), map[bool]string{true: "matches", false: "DIFFERS"}[ok]))
	}
	res.pdfCheck = strings.Join(sizes, "; ")
	return nil
}

// openThroughAPI refers a ticket to CRT-00 and checks it in: booked into a slot later
// today and checked in, or walked in when today has no slot left to book. It returns
// the repair order's id, or "" and why it could not (the centre closed now).
func (ce *certifyEnv) openThroughAPI(ctx context.Context, adminTok, csmTok string, tech *technician) (string, string, error) {
	srv := ce.ss.srv
	gen := newReferralGen(runID(), 1, []string{certifyOneCentre})
	body := gen.next()
	var ref referral
	if err := json.Unmarshal(body, &ref); err != nil {
		return "", "", err
	}
	if err := srv.call(ctx, "POST", "/api/v1/csm/tickets", csmTok, json.RawMessage(body), nil, 201); err != nil {
		return "", "", fmt.Errorf("refer a ticket: %w", err)
	}
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		return "", "", err
	}
	checkIn := map[string]any{"received_imei": ref.Device.IMEI, "condition": receivedConditions[1], "accessories": []string{"cargador"}}
	var appt struct {
		ID       string  `json:"id"`
		RepairID *string `json:"repair_id"`
	}
	// The next slot that starts today, a minute from now at least.
	now := time.Now().In(loc)
	next := now.Truncate(slotMinutes * time.Minute).Add(slotMinutes * time.Minute)
	if next.Sub(now) < time.Minute {
		next = next.Add(slotMinutes * time.Minute)
	}
	var how string
	switch {
	case next.Day() == now.Day() && next.Hour()*60+next.Minute()+slotMinutes <= 23*60+30:
		if err := srv.call(ctx, "POST", "/api/v1/appointments", csmTok, map[string]string{"ticket_number": ref.TicketNumber,
			"centre_code": certifyOneCentre, "starts_at": next.Format(time.RFC3339)}, &appt, 201); err != nil {
			return "", "", fmt.Errorf("book today: %w", err)
		}
		if err := srv.call(ctx, "POST", "/api/v1/appointments/"+appt.ID+"/check-in", adminTok, checkIn, &appt, 201); err != nil {
			return "", "", fmt.Errorf("check in: %w", err)
		}
		how = "booked for " + next.Format("15:04") + " today and checked in"
	case now.Hour()*60+now.Minute() < 23*60+30:
		checkIn["centre_code"] = certifyOneCentre
		if err := srv.call(ctx, "POST", "/api/v1/tickets/"+ref.TicketNumber+"/walk-in", adminTok, checkIn, &appt, 201); err != nil {
			return "", "", fmt.Errorf("walk in: %w", err)
		}
		how = "walked in (no slot left to book today)"
	default:
		return "", "the centre is closed now (23:30-24:00 in Caracas): no check-in possible", nil
	}
	if appt.RepairID == nil {
		return "", "", fmt.Errorf("check-in answered no repair_id")
	}
	id := *appt.RepairID
	work := workFor(ref.Fault.Category)
	var rv struct {
		Version int `json:"version"`
	}
	if err := srv.call(ctx, "PATCH", "/api/v1/repairs/"+id, tech.token, map[string]any{"diagnosis": work.diagnosis,
		"corrective_actions": []map[string]string{{"code": work.code}, {"text": work.text}}, "version": 1}, &rv, 200); err != nil {
		return "", "", fmt.Errorf("diagnosis and actions: %w", err)
	}
	results := make([]map[string]string, len(ce.seeder.tests))
	for i, code := range ce.seeder.tests {
		results[i] = map[string]string{"code": code, "result": "pass"}
	}
	if err := srv.call(ctx, "PUT", "/api/v1/repairs/"+id+"/tests", tech.token, map[string]any{"results": results, "version": rv.Version}, &rv, 200); err != nil {
		return "", "", fmt.Errorf("tests: %w", err)
	}
	return id, how, nil
}

// getRaw fetches a path and returns the body as it came.
func (s *server) getRaw(ctx context.Context, path, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// checkStored verifies the certificates in the database: per centre and year, numbers 1
// to N with no gap or duplicate and the counter at N; every PDF's hash; as many as the
// 201 answers, each answer's number with its hash; and what certification changes with
// it (repair certified, ticket resolved, appointment completed, the event, the slots).
func (res *certifyResult) checkStored(ctx context.Context, ss *session) error {
	answered := map[string]issuedCert{}
	perCentre := map[string]int{}
	add := func(c issuedCert) {
		res.answeredTotal++
		if _, dup := answered[c.Number]; dup {
			res.answeredDupes++
		}
		answered[c.Number] = c
		perCentre[c.Centre]++
	}
	for _, c := range res.validationIssued {
		add(c)
	}
	for _, p := range []*certifyPhase{res.calib, res.one, res.spread} {
		for _, w := range p.workers {
			for _, c := range w.issued {
				add(c)
			}
		}
	}
	rows, err := ss.db.QueryContext(ctx, `SELECT c.code, x.year, count(*), min(x.seq), max(x.seq), count(DISTINCT x.seq),
			count(*) FILTER (WHERE x.pdf_sha256 <> encode(sha256(x.pdf), 'hex')),
			count(*) FILTER (WHERE x.number <> c.code || '-' || lpad(x.year::text, 4, '0') || '-' || lpad(x.seq::text, 6, '0')),
			coalesce((SELECT k.last FROM certificate_counters k WHERE k.centre_id = x.centre_id AND k.year = x.year), 0)
		FROM certificates x JOIN centres c ON c.id = x.centre_id GROUP BY c.code, x.centre_id, x.year ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("check the certificates: %w", err)
	}
	for rows.Next() {
		var n numbering
		if err := rows.Scan(&n.centre, &n.year, &n.count, &n.minSeq, &n.maxSeq, &n.distinct, &n.badHash, &n.badNumber, &n.counter); err != nil {
			rows.Close()
			return err
		}
		res.numbers = append(res.numbers, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Every answer against the stored certificate of its number.
	stored := map[string]string{}
	hashes, err := ss.db.QueryContext(ctx, "SELECT number, pdf_sha256 FROM certificates")
	if err != nil {
		return err
	}
	for hashes.Next() {
		var number, sum string
		if err := hashes.Scan(&number, &sum); err != nil {
			hashes.Close()
			return err
		}
		stored[number] = sum
	}
	hashes.Close()
	if err := hashes.Err(); err != nil {
		return err
	}
	matching := map[string]int{}
	for number, c := range answered {
		if stored[number] == c.SHA256 {
			matching[c.Centre]++
		} else {
			res.unmatched++
		}
	}
	for i := range res.numbers {
		n := &res.numbers[i]
		// The bench runs well within one year; a run across New Year's Eve counts the
		// answers of both years against each.
		n.answered, n.answeredMatching = perCentre[n.centre], matching[n.centre]
	}
	res.certificates = len(stored)
	err = ss.db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM repair_orders WHERE status = 'certified'),
			(SELECT count(*) FROM repair_orders r JOIN tickets t ON t.id = r.ticket_id
				WHERE r.status = 'certified' AND t.status = 'resolved' AND t.outcome = 'repaired'),
			(SELECT count(*) FROM repair_orders r JOIN appointments a ON a.id = r.appointment_id
				WHERE r.status = 'certified' AND a.status = 'completed'),
			(SELECT count(*) FROM csm_events WHERE type = 'ticket.resolved'),
			(SELECT count(*) FROM slots s WHERE s.booked <> (SELECT count(*) FROM appointments a
				WHERE a.centre_id = s.centre_id AND a.starts_at = s.starts_at AND a.status IN ('booked', 'checked_in')))`).
		Scan(&res.repairsDone, &res.resolved, &res.completed, &res.events, &res.slotMismatch)
	if err != nil {
		return fmt.Errorf("check the repair orders: %w", err)
	}
	return nil
}

func (res *certifyResult) numberingOK() bool {
	if len(res.numbers) == 0 || res.unmatched > 0 || res.answeredDupes > 0 || res.certificates != res.answeredTotal {
		return false
	}
	for _, n := range res.numbers {
		if !n.ok() {
			return false
		}
	}
	return true
}

func (res *certifyResult) hashesOK() bool {
	for _, n := range res.numbers {
		if n.badHash > 0 {
			return false
		}
	}
	return len(res.numbers) > 0 && res.unmatched == 0
}

func (res *certifyResult) storedOK() bool {
	n := res.certificates
	return res.repairsDone == n && res.resolved == n && res.completed == n && res.events == n && res.slotMismatch == 0
}

// scanLog counts the errors and warnings the server logged.
func (res *certifyResult) scanLog(path string) {
	res.logErrors, res.logSample = scanServerLog(path)
}

// scanServerLog counts the errors and warnings in a server's log, and returns the first.
func scanServerLog(path string) (n int, sample string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") ||
			strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			n++
			if sample == "" {
				sample = line
				if len(sample) > 300 {
					sample = sample[:300]
				}
			}
		}
	}
	return n, sample
}

// latencyP95Summary is "p50 …, p95 …, p99 …, max …" of sorted latencies.
func latencyP95Summary(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s", ms(percentile(sorted, .5)), ms(percentile(sorted, .95)),
		ms(percentile(sorted, .99)), ms(percentile(sorted, 1)))
}

func (res *certifyResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n== Service: POST /api/v1/repairs/{id}/certify (%d technicians, %s measured after %s warm-up in each phase)\n",
		res.one.clients, res.one.load.plan.duration, res.one.load.plan.warmup)
	fmt.Fprintf(w, "  set-up          %d centres open 00:00-23:30 every day, %d technicians signed in; %d active tests in the catalogue\n",
		1+len(res.spread.centres), res.technicians, res.tests)
	fmt.Fprintf(w, "  SQL seed        GET /repairs/{id}: %s\n", res.seededCheck)
	fmt.Fprintf(w, "  API check       %s\n", res.apiCheck)
	fmt.Fprintf(w, "  certified both  %s\n", res.pdfCheck)
	c := res.calib
	fmt.Fprintf(w, "  calibration     %d technicians at %d centres: %d certified in %.2fs, %.1f/s (not counted); sizes the seeds: rate × %s × %.0f\n",
		c.clients, len(c.centres), c.load.measured(), c.load.elapsed.Seconds(), res.calibRate, res.one.load.plan.warmup+res.one.load.plan.duration, certifyMargin)
	for _, p := range []*certifyPhase{res.one, res.spread} {
		l := p.load
		fmt.Fprintf(w, "  -- %s (%s)\n", p.name, strings.Join(p.centres, ", "))
		fmt.Fprintf(w, "  seeded          %d repair orders ready, written in SQL in %.1fs\n", p.seeded, p.seedTime.Seconds())
		fmt.Fprintf(w, "  certified       %d (201) in %.2fs measured, %d in warm-up; %d errors\n", l.measured(), l.elapsed.Seconds(), l.warmups(), l.errors)
		for _, s := range l.samples {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
		if len(p.dry) > 0 {
			fmt.Fprintf(w, "  POOL RAN DRY    at %s: the clients stopped early; the figures are not valid\n", strings.Join(p.dry, ", "))
		}
		fmt.Fprintf(w, "  throughput      %.1f certifications/s (%.3f × pgbench tps)\n", p.rate(), ratio(p.rate(), res.base.tps))
		fmt.Fprintf(w, "  latency         %s\n", latencyP95Summary(l.all))
		fmt.Fprintf(w, "  PDF             %.0f bytes on average\n", p.pdfBytes)
		fmt.Fprintf(w, "  backends        %s\n", p.waits)
		printCPU(w, l.cpu, float64(l.measured()), "certif.", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"load generator", l.cpu.self}})
		if n := l.measured() + l.warmups(); n > 0 {
			fmt.Fprintf(w, "  PostgreSQL      %.0f bytes WAL per certification; %d multixacts created\n", float64(p.walBytes)/float64(n), p.multixacts)
		}
	}
	fmt.Fprintf(w, "  -- checks\n")
	for _, n := range res.numbers {
		state := "1..N, no gap or duplicate, counter at N, every hash right, = the 201s"
		if !n.ok() {
			state = fmt.Sprintf("WRONG: seq %d..%d, %d distinct, counter %d, %d bad hashes, %d bad numbers; %d answered, %d matching",
				n.minSeq, n.maxSeq, n.distinct, n.counter, n.badHash, n.badNumber, n.answered, n.answeredMatching)
		}
		fmt.Fprintf(w, "  numbering       %s %d: %d certificates: %s\n", n.centre, n.year, n.count, state)
	}
	fmt.Fprintf(w, "  answers         %d certificates answered (201), %d stored; %d duplicate numbers, %d without a stored certificate of that number and hash\n",
		res.answeredTotal, res.certificates, res.answeredDupes, res.unmatched)
	fmt.Fprintf(w, "  stored          %d repair orders certified, %d tickets resolved, %d appointments completed, %d ticket.resolved events; %d slots whose booked ≠ active appointments\n",
		res.repairsDone, res.resolved, res.completed, res.events, res.slotMismatch)
	fmt.Fprintf(w, "  deadlocks       %d (pg_stat_database)\n", res.deadlocks)
	fmt.Fprintf(w, "  server log      %d warnings or errors", res.logErrors)
	if res.logSample != "" {
		fmt.Fprintf(w, ", e.g. %s", res.logSample)
	}
	fmt.Fprintln(w)
	res.mem.print(w)
	if res.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", res.stopped)
	}
}

// summary prints the figures and reports whether the run failed: an answer other than
// 201, a pool that ran dry, numbering or hashes that do not check, stored changes that
// do not match, or an API-made repair order unlike the seeded ones.
func (res *certifyResult) summary(w io.Writer) bool {
	b := res.base
	s := newSummary(w, "certify")
	s.row(fmt.Sprintf("pgbench TPC-B tps (%d clients)", b.clients), fmt.Sprintf("%.1f", b.tps), "", "")
	for _, p := range []*certifyPhase{res.one, res.spread} {
		s.writePhaseRows(b, p.short, "certifications", p.rate(), p.load, p.waits, "PDF", p.pdfBytes)
	}
	s.row("speed-up of spreading (certifications/s)", fmt.Sprintf("%.2f×", ratio(res.spread.rate(), res.one.rate())), "", "")
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", res.mem.peakMB()), "", "")
	s.row("numbers 1..N per centre and year = the 201s", map[bool]string{true: "yes", false: "NO"}[res.numberingOK()], "", check(res.numberingOK()))
	s.row("pdf_sha256 = sha256(pdf); answers = stored", map[bool]string{true: "yes", false: "NO"}[res.hashesOK()], "", check(res.hashesOK()))
	s.row("repairs/tickets/appointments/events/slots", map[bool]string{true: "consistent", false: "MISMATCH"}[res.storedOK()], "", check(res.storedOK()))
	seedOK := res.seededOK && res.apiOK && res.pdfOK
	s.row("seed ready = API shape; PDFs served = hash", map[bool]string{true: "yes", false: "NO"}[seedOK], "", check(seedOK))
	dry := len(res.one.dry) + len(res.spread.dry)
	s.row("pools that ran dry", fmt.Sprint(dry), "0", check(dry == 0))
	errs := res.one.load.errors + res.spread.load.errors
	s.row("failed requests (not 201)", fmt.Sprint(errs), "0", check(errs == 0))
	warnOtherLoad(w, phaseLoad{"pgbench", b.cpu, b.pgbenchCPU + b.cpu.postgres},
		phaseLoad{"the one-centre load", res.one.load.cpu, res.one.load.cpu.server + res.one.load.cpu.postgres + res.one.load.cpu.self},
		phaseLoad{"the spread load", res.spread.load.cpu, res.spread.load.cpu.server + res.spread.load.cpu.postgres + res.spread.load.cpu.self})
	failed := errs > 0 || dry > 0 || !res.numberingOK() || !res.hashesOK() || !res.storedOK() || !seedOK ||
		res.one.load.measured() == 0 || res.spread.load.measured() == 0
	printResult(w, failed, "answers other than 201, a pool of repair orders that ran dry, certificate numbers or hashes that do not check, stored changes that do not match, a seed unlike the API's, or a PDF served unlike its hash")
	return failed
}
