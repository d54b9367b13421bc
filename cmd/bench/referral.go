package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"centros/models"
)

// referral is the body of POST /api/v1/csm/tickets (CSM-CONTRACT.md).
type referral struct {
	TicketNumber string `json:"ticket_number"`
	ReportedAt   string `json:"reported_at"`
	CentreCode   string `json:"centre_code"`
	Customer     struct {
		AccountNumber string `json:"account_number"`
		Company       string `json:"company"`
		ContactName   string `json:"contact_name"`
		ContactPhone  string `json:"contact_phone"`
		ContactEmail  string `json:"contact_email"`
	} `json:"customer"`
	Line struct {
		MSISDN string `json:"msisdn"`
	} `json:"line"`
	Device struct {
		IMEI  string `json:"imei"`
		Brand string `json:"brand"`
		Model string `json:"model"`
	} `json:"device"`
	Fault struct {
		Category    string `json:"category"`
		Description string `json:"description"`
	} `json:"fault"`
}

var (
	caracas   = time.FixedZone("-04", -4*60*60)
	companies = []string{"Transportes Ávila C.A.", "Distribuidora Los Andes S.A.", "Farmacia San Rafael C.A.",
		"Constructora Orinoco C.A.", "Inversiones Caroní 2020 C.A.", "Servicios Médicos El Llano C.A.",
		"Panadería La Candelaria", "Agropecuaria Portuguesa S.A.", "Seguridad Integral Zulia C.A."}
	firstNames = []string{"María", "José", "Luis", "Carmen", "Ana", "Carlos", "Yusmary", "Jesús", "Daniela", "Rafael"}
	lastNames  = []string{"Pérez", "González", "Rodríguez", "Hernández", "García", "Martínez", "López", "Díaz", "Rojas"}
	prefixes   = []string{"412", "414", "416", "422", "424", "426"}
	devices    = []struct{ tac, brand, model string }{
		{"35693803", "Samsung", "SM-A155M"}, {"35290611", "Samsung", "SM-A057M"},
		{"86453405", "Xiaomi", "Redmi 13C"}, {"35935611", "Motorola", "moto g24"},
		{"35391110", "Apple", "iPhone 12"}, {"86753003", "Huawei", "nova Y61"}, {"35412108", "ZTE", "Blade A54"},
	}
	faults = []struct{ category, description string }{
		{"no_power", "No enciende desde esta mañana, ni conectado al cargador"},
		{"no_signal", "Sin señal desde ayer; otros equipos en la misma oficina sí tienen"},
		{"no_charge", "No carga, el conector parece flojo"},
		{"audio", "El interlocutor no escucha durante las llamadas"},
		{"screen", "Pantalla con líneas verdes y el táctil no responde abajo"},
		{"keypad", "Botón de encendido hundido"},
		{"sim", "No reconoce la SIM; probada en otro equipo y funciona"},
		{"data", "Datos móviles no navegan aunque hay cobertura 4G"},
		{"software", "Se reinicia solo varias veces al día tras la actualización"},
		{"physical_damage", "Cayó al suelo, carcasa partida y cámara trasera rota"},
		{"other", "El equipo se calienta mucho durante el uso normal"},
	}
)

// referralGen makes distinct, valid referrals for one client: unique ticket numbers,
// Luhn-valid IMEIs, Venezuelan mobile numbers, a known centre.
type referralGen struct {
	r       *rand.Rand
	prefix  string
	seq     int
	centres []string
}

func newReferralGen(run string, client int, centres []string) *referralGen {
	return &referralGen{r: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(client))),
		prefix: fmt.Sprintf("CSM-%d-%s-%02d-", time.Now().Year(), run, client), centres: centres}
}

// number is the ticket number of the referral next made last.
func (g *referralGen) number() string { return fmt.Sprintf("%s%07d", g.prefix, g.seq) }

func (g *referralGen) next() []byte {
	g.seq++
	r := g.r
	var in referral
	in.TicketNumber = g.number()
	in.ReportedAt = time.Now().Add(-time.Duration(1+r.IntN(240)) * time.Minute).In(caracas).Format(time.RFC3339)
	in.CentreCode = g.centres[r.IntN(len(g.centres))]
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	in.Customer.AccountNumber = fmt.Sprintf("J-%08d-%d", 30000000+r.IntN(9000000), r.IntN(10))
	in.Customer.Company = companies[r.IntN(len(companies))]
	in.Customer.ContactName = first + " " + last
	msisdn := prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%07d", r.IntN(10000000))
	if r.IntN(2) == 0 {
		in.Customer.ContactPhone = "0" + msisdn[:3] + "-" + msisdn[3:] // as people write it
	} else {
		in.Customer.ContactPhone = "+58" + msisdn
	}
	in.Customer.ContactEmail = fmt.Sprintf("%s.%s%d@example.com", ascii(first), ascii(last), r.IntN(100))
	in.Line.MSISDN = "+58" + msisdn
	d := devices[r.IntN(len(devices))]
	in.Device.IMEI = imei(d.tac, r.IntN(1000000))
	in.Device.Brand, in.Device.Model = d.brand, d.model
	f := faults[r.IntN(len(faults))]
	in.Fault.Category, in.Fault.Description = f.category, f.description
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	return b
}

// imei returns the 15-digit IMEI of a type allocation code and serial, with its Luhn
// check digit.
func imei(tac string, serial int) string { return models.IMEI(fmt.Sprintf("%s%06d", tac, serial)) }

func ascii(s string) string {
	return strings.ToLower(strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n").Replace(s))
}

// referralWorker sends referrals; every answer but 201 is an error. With keep set, it
// remembers the numbers of the tickets created.
type referralWorker struct {
	gen     *referralGen
	url     string
	auth    string
	keep    bool
	created []string
}

func newReferralWorker(s *server, token string, gen *referralGen, keep bool) *referralWorker {
	return &referralWorker{gen: gen, url: s.base + "/api/v1/csm/tickets", auth: "Bearer " + token, keep: keep}
}

func (w *referralWorker) next(ctx context.Context) (*http.Request, error) {
	return jsonRequest(ctx, "POST", w.url, w.auth, w.gen.next())
}

func (w *referralWorker) classify(status int, body []byte) (int, string) {
	if status != http.StatusCreated {
		return -1, snippet(status, body)
	}
	if w.keep {
		w.created = append(w.created, w.gen.number())
	}
	return 0, ""
}

func jsonRequest(ctx context.Context, method, url, auth string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	return req, nil
}

// referTickets refers n tickets for a centre with the given clients, as set-up (not
// measured), and returns their numbers and the rate they were made at.
func referTickets(ctx context.Context, ss *session, pmPIDFile, token string, n, clients int, centre string) ([]string, float64, error) {
	run := runID()
	workers := make([]*referralWorker, clients)
	res, err := ss.srv.runLoad(ctx, pmPIDFile, loadPlan{clients: clients, requests: n, outcomes: []string{"201"}}, func(i int) worker {
		workers[i] = newReferralWorker(ss.srv, token, newReferralGen(run, i+1, []string{centre}), true)
		return workers[i]
	})
	if err != nil {
		return nil, 0, err
	}
	if res.errors > 0 {
		return nil, 0, fmt.Errorf("referring the tickets: %d errors, e.g. %s", res.errors, strings.Join(res.samples, "; "))
	}
	var out []string
	for _, w := range workers {
		out = append(out, w.created...)
	}
	return out, res.rate(res.measured()), nil
}

// The referral scenario: POST /api/v1/csm/tickets against pgbench TPC-B.

const (
	targetReferralRatio = 0.5   // service referrals/s ÷ pgbench TPC-B tps, at least
	targetRSSMB         = 150.0 // server peak RSS, below (MB = 10^6 bytes)
)

var referralCentres = []struct{ code, name, address string }{
	{"CCS-01", "Centro Caracas Chacao", "Av. Francisco de Miranda, Chacao, Caracas"},
	{"VAL-01", "Centro Valencia Norte", "Av. Bolívar Norte, Valencia, Carabobo"},
	{"MCB-01", "Centro Maracaibo", "Av. 5 de Julio, Maracaibo, Zulia"},
}

// referralsResult is the referral load against the server.
type referralsResult struct {
	load     *loadResult
	mem      memory
	tickets  int64
	walBytes int64
	commits  int64
	stopped  string
}

func runReferrals(ctx context.Context, e *benchEnv) (bool, error) {
	o := e.o
	fmt.Fprintf(os.Stdout, "  plan            %d clients; pgbench scale %d for %s; then the service for %s (+%s warm-up)\n",
		o.clients, o.scale, o.duration, o.duration, o.warmup)
	base, err := runBaseline(ctx, e)
	if err != nil {
		return false, err
	}
	ss, err := startSession(ctx, e, "referrals")
	if err != nil {
		return false, err
	}
	defer ss.close()
	srv := ss.srv
	tok, err := srv.login(ctx)
	if err != nil {
		return false, fmt.Errorf("set up through the API: %w", err)
	}
	if err := srv.createBusinessUnit(ctx, tok, "BU-CAP", "Región Capital"); err != nil {
		return false, fmt.Errorf("set up through the API: %w", err)
	}
	hours := append(openingHours("08:00", "17:00", 1, 2, 3, 4, 5), openingHours("08:00", "13:00", 6)...)
	var codes []string
	for _, c := range referralCentres {
		body := centreBody(c.code, c.name, c.address, "BU-CAP", 4, hours, []string{"2026-12-24", "2026-12-25"})
		if err := srv.createCentre(ctx, tok, body); err != nil {
			return false, fmt.Errorf("set up through the API: %w", err)
		}
		codes = append(codes, c.code)
	}
	csm, err := srv.createCSMClient(ctx, tok)
	if err != nil {
		return false, fmt.Errorf("set up through the API: %w", err)
	}
	wal0, err := walLSN(ctx, e.admin)
	if err != nil {
		return false, err
	}

	e.logf("referrals: %d clients, %s warm-up, then %s measured", o.clients, o.warmup, o.duration)
	res := &referralsResult{}
	res.mem.startHWMKB = ss.memKB("VmHWM")
	run := runID()
	plan := loadPlan{clients: o.clients, warmup: o.warmup, duration: o.duration, outcomes: []string{"201"}}
	res.load, err = srv.runLoad(ctx, e.pg.postmasterPIDFile, plan, func(i int) worker {
		return newReferralWorker(srv, csm, newReferralGen(run, i+1, codes), false)
	})
	res.mem.hwmKB, res.mem.endRSSKB = ss.memKB("VmHWM"), ss.memKB("VmRSS")
	if err != nil {
		return false, err
	}
	res.mem.maxRSSKB = res.load.cpu.rssMaxKB
	if res.walBytes, err = walSince(ctx, e.admin, wal0); err != nil {
		return false, err
	}
	if err := ss.db.QueryRowContext(ctx, "SELECT count(*) FROM tickets").Scan(&res.tickets); err != nil {
		return false, fmt.Errorf("count tickets: %w", err)
	}
	if res.stopped, res.commits, err = ss.finish(ctx); err != nil {
		return false, err
	}
	res.print(os.Stdout)
	return res.summary(os.Stdout, base), nil
}

// runBaseline runs pgbench TPC-B with the scenario's clients and prints it.
func runBaseline(ctx context.Context, e *benchEnv) (*baseline, error) {
	e.logf("pgbench: initialising scale %d", e.o.scale)
	base, err := runPgbench(ctx, e.pg, e.admin, e.o, e.logf)
	if err != nil {
		return nil, err
	}
	base.print(os.Stdout)
	return base, nil
}

func (r *referralsResult) created() int { return r.load.measured() + r.load.warmups() }

func (r *referralsResult) print(w io.Writer) {
	l := r.load
	n := l.measured()
	fmt.Fprintf(w, "\n== Service: POST /api/v1/csm/tickets (%d keep-alive clients, %s measured after %s warm-up)\n", l.plan.clients, l.plan.duration, l.plan.warmup)
	fmt.Fprintf(w, "  referrals       %d created (201) in %.2fs measured, %d in warm-up\n", n, l.elapsed.Seconds(), l.warmups())
	fmt.Fprintf(w, "  errors          %d (any answer but 201)\n", l.errors)
	for _, s := range l.samples {
		fmt.Fprintf(w, "    e.g. %s\n", s)
	}
	fmt.Fprintf(w, "  throughput      %.1f referrals/s\n", l.rate(n))
	fmt.Fprintf(w, "  latency         %s\n", latencySummary(l.all))
	r.mem.print(w)
	printCPU(w, l.cpu, float64(n), "referral", [][2]any{{"server", l.cpu.server}, {"PostgreSQL", l.cpu.postgres}, {"load generator", l.cpu.self}})
	if total := float64(r.created()); total > 0 {
		fmt.Fprintf(w, "  PostgreSQL      per referral: %.2f commits, %.0f bytes WAL\n", float64(r.commits)/total, float64(r.walBytes)/total)
	}
	check := "matches the 201 answers"
	if r.tickets != int64(r.created()) {
		check = fmt.Sprintf("MISMATCH: %d answers were 201", r.created())
	}
	fmt.Fprintf(w, "  tickets stored  %d (%s)\n", r.tickets, check)
	if r.stopped != "" {
		fmt.Fprintf(w, "  server stop     %s\n", r.stopped)
	}
}

// summary prints the figures against their targets and reports whether the run
// failed (requests that were not 201, or stored tickets that do not match).
func (r *referralsResult) summary(w io.Writer, b *baseline) bool {
	l := r.load
	rps := l.rate(l.measured())
	ratio := rps / b.tps
	rss := r.mem.peakMB()
	s := newSummary(w, "referrals")
	s.row("pgbench TPC-B tps", fmt.Sprintf("%.1f", b.tps), "", "")
	s.row("service referrals/s", fmt.Sprintf("%.1f", rps), "", "")
	s.row("ratio referrals/s ÷ pgbench tps", fmt.Sprintf("%.3f", ratio), fmt.Sprintf("≥ %.1f", targetReferralRatio), verdict(ratio >= targetReferralRatio))
	if c := cpuCostRatio(b, l); c > 0 {
		s.row("  CPU-cost ratio (tx CPU ÷ referral CPU)", fmt.Sprintf("%.3f", c), "", "estimate, less disturbed by other load")
	}
	s.row("referral latency p50", ms(percentile(l.all, .5)), "", "")
	s.row("referral latency p90", ms(percentile(l.all, .9)), "", "")
	s.row("referral latency p99", ms(percentile(l.all, .99)), "", "")
	s.row("referral latency max", ms(percentile(l.all, 1)), "", "")
	s.row("server peak RSS (VmHWM)", fmt.Sprintf("%.1f MB", rss), fmt.Sprintf("< %.0f MB", targetRSSMB), verdict(rss > 0 && rss < targetRSSMB))
	s.row("failed requests (not 201)", fmt.Sprint(l.errors), "0", check(l.errors == 0))
	warnOtherLoad(w, phaseLoad{"pgbench", b.cpu, b.pgbenchCPU + b.cpu.postgres}, phaseLoad{"the service load", l.cpu, l.cpu.server + l.cpu.postgres + l.cpu.self})
	failed := l.errors > 0 || r.tickets != int64(r.created()) || l.measured() == 0
	printResult(w, failed, "requests not answered 201, or tickets stored do not match")
	return failed
}

// cpuCostRatio is the CPU of a TPC-B transaction (pgbench and PostgreSQL) ÷ the CPU of
// one measured answer of the load (server, PostgreSQL and load generator); 0 when
// unknown.
func cpuCostRatio(b *baseline, l *loadResult) float64 {
	tx := (b.pgbenchCPU + b.cpu.postgres) / float64(max(b.transactions, 1))
	req := (l.cpu.server + l.cpu.postgres + l.cpu.self) / float64(max(l.measured(), 1))
	if tx <= 0 || req <= 0 {
		return 0
	}
	return tx / req
}
