// Command csm-mock is a small stand-in for CSM's ticket core, the receiver of our
// callbacks (../shared/CSM-CONTRACT.md), for demos and trials by hand:
//
//	go run ./cmd/csm-mock -secret whsec_… -token cst_…
//
// It verifies each callback's Standard Webhooks signature and timestamp (401 when they
// do not hold), de-duplicates on webhook-id as CSM does (a repeat is acknowledged and
// noted), prints each event on one line, and acknowledges a ticket.resolved back to the
// service with POST /api/v1/csm/tickets/{n}/closed, as CSM does once it has closed the
// ticket. It can be told to fail (-fail-rate, -status, -retry-after) or to be slow
// (-delay), to watch the service retry. Ctrl-C or SIGTERM stops it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"centros/models"
	"centros/services"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// options are the mock's settings.
type options struct {
	Addr       string
	Secrets    []services.WebhookSecret
	Service    string // the service's base URL, for acknowledgements
	Token      string // a CSM API token of the service
	FailRate   float64
	Status     int
	RetryAfter int
	Delay      time.Duration
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("csm-mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var secret string
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:9090", "listen address")
	fs.StringVar(&secret, "secret", getenv("CSM_WEBHOOK_SECRET"), "the shared `whsec_…` secret (several space-separated accepted); default $CSM_WEBHOOK_SECRET")
	fs.StringVar(&o.Service, "service", "http://127.0.0.1:8080", "the service's base `URL`, where closures are acknowledged")
	fs.StringVar(&o.Token, "token", getenv("CSM_TOKEN"), "a CSM API `token` of the service, to acknowledge closures; default $CSM_TOKEN")
	fs.Float64Var(&o.FailRate, "fail-rate", 0, "share of callbacks answered 500, from 0 to 1")
	fs.IntVar(&o.Status, "status", 0, "answer every callback with this HTTP `status` (e.g. 503)")
	fs.IntVar(&o.RetryAfter, "retry-after", 0, "Retry-After `seconds` sent with 429 and 503")
	fs.DurationVar(&o.Delay, "delay", 0, "wait this long before answering (e.g. 2s)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("-addr %q: %w", o.Addr, err)
	}
	for _, s := range strings.Fields(secret) {
		key, err := services.ParseWebhookSecret(s)
		if err != nil {
			return nil, fmt.Errorf("-secret: %w", err)
		}
		o.Secrets = append(o.Secrets, key)
	}
	if len(o.Secrets) == 0 {
		return nil, errors.New("-secret (or CSM_WEBHOOK_SECRET) is required: the service's whsec_… secret, printed at its first start")
	}
	o.Service = strings.TrimRight(o.Service, "/")
	if u, err := url.Parse(o.Service); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-service %q must be an http or https URL", o.Service)
	}
	switch {
	case o.FailRate < 0 || o.FailRate > 1:
		return nil, errors.New("-fail-rate must be from 0 to 1")
	case o.Status != 0 && (o.Status < 200 || o.Status > 599):
		return nil, errors.New("-status must be an HTTP status from 200 to 599")
	case o.RetryAfter < 0:
		return nil, errors.New("-retry-after must be 0 or more seconds")
	case o.Delay < 0:
		return nil, errors.New("-delay must not be negative")
	}
	return o, nil
}

// stopBudget is how long callbacks being answered and acknowledgements under way get
// when the mock is stopped.
const stopBudget = 5 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	m := newMock(o, stdout)
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	m.printf("csm-mock listening on http://%s (signatures checked with %d secret(s))", ln.Addr(), len(o.Secrets))
	switch {
	case o.Token == "":
		m.printf("no -token: ticket.resolved will not be acknowledged back to the service")
	default:
		m.printf("closures acknowledged to %s", o.Service)
	}
	if o.Status != 0 || o.FailRate > 0 || o.Delay > 0 {
		m.printf("misbehaving on purpose: status %d, fail-rate %.2f, retry-after %ds, delay %s", o.Status, o.FailRate, o.RetryAfter, o.Delay)
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	m.printf("stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	m.stopAcks(shutCtx)
	return err
}

// mock is the receiver.
type mock struct {
	opt    *options
	client *http.Client
	now    func() time.Time

	outMu sync.Mutex
	out   io.Writer

	mu   sync.Mutex
	seen map[string]bool // webhook-ids acknowledged

	ackCtx    context.Context
	ackCancel context.CancelFunc
	acks      sync.WaitGroup
}

func newMock(o *options, out io.Writer) *mock {
	ctx, cancel := context.WithCancel(context.Background())
	return &mock{opt: o, out: out, now: time.Now, seen: map[string]bool{}, ackCtx: ctx, ackCancel: cancel,
		client: &http.Client{Timeout: 10 * time.Second}}
}

// printf writes one line, with the time, to the mock's output.
func (m *mock) printf(format string, args ...any) {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	fmt.Fprintf(m.out, "%s %s\n", m.now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// event is a callback's body (CSM-CONTRACT.md).
type event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Sequence     int64           `json:"sequence"`
	OccurredAt   time.Time       `json:"occurred_at"`
	TicketNumber string          `json:"ticket_number"`
	Data         json.RawMessage `json:"data"`
}

func (m *mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "callbacks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		m.printf("REFUSED a callback whose body could not be read: %v", err)
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if m.opt.Delay > 0 {
		select {
		case <-time.After(m.opt.Delay):
		case <-r.Context().Done():
			m.printf("the sender gave up while we were slow (%s): %s", m.opt.Delay, r.Header.Get("webhook-id"))
			return
		}
	}
	id := r.Header.Get("webhook-id")
	if err := m.verify(id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body); err != nil {
		m.printf("REFUSED %q (401): %v", id, err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		m.printf("REFUSED %q (400): the body is not an event: %v", id, err)
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	if ev.ID != id {
		m.printf("WARNING: webhook-id %q differs from the body's id %q", id, ev.ID)
	}

	status := http.StatusOK
	switch {
	case m.opt.Status != 0:
		status = m.opt.Status
	case m.opt.FailRate > 0 && rand.Float64() < m.opt.FailRate:
		status = http.StatusInternalServerError
	}
	if status < 200 || status > 299 {
		if m.opt.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			w.Header().Set("Retry-After", strconv.Itoa(m.opt.RetryAfter))
		}
		m.printf("answered %d to #%d %s %s (%s), on purpose", status, ev.Sequence, ev.Type, ev.TicketNumber, id)
		http.Error(w, http.StatusText(status), status)
		return
	}

	m.mu.Lock()
	dup := m.seen[id]
	m.seen[id] = true
	m.mu.Unlock()
	if dup {
		m.printf("duplicate #%d %s %s (%s): acknowledged, not processed again", ev.Sequence, ev.Type, ev.TicketNumber, id)
		w.WriteHeader(status)
		return
	}
	m.printf("#%d %s %s %s", ev.Sequence, ev.Type, ev.TicketNumber, compact(ev.Data))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	if ev.Type == string(models.EventTicketResolved) {
		// Answer first: the acknowledgement is a separate conversation, as in CSM.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		m.acknowledgeClosure(ev.TicketNumber)
	}
}

// verify checks the signature with each secret the mock holds.
func (m *mock) verify(id, timestamp, signatures string, body []byte) error {
	if id == "" || timestamp == "" || signatures == "" {
		return errors.New("webhook-id, webhook-timestamp and webhook-signature are required")
	}
	var err error
	for _, s := range m.opt.Secrets {
		if err = services.VerifyWebhook(s, id, timestamp, signatures, body, m.now()); err == nil {
			return nil
		}
	}
	return err
}

func compact(data json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return string(data)
	}
	return b.String()
}

// acknowledgeClosure tells the service that CSM closed the ticket, in the background,
// retrying a few times while the service is unreachable or failing.
func (m *mock) acknowledgeClosure(ticket string) {
	if m.opt.Token == "" {
		m.printf("closure of %s not acknowledged: no -token", ticket)
		return
	}
	m.acks.Add(1)
	go func() {
		defer m.acks.Done()
		closedAt := m.now().Format(time.RFC3339)
		body, _ := json.Marshal(map[string]string{"closed_at": closedAt})
		target := m.opt.Service + "/api/v1/csm/tickets/" + url.PathEscape(ticket) + "/closed"
		wait := time.Second
		for attempt := 1; ; attempt++ {
			status, answer, err := m.post(target, body)
			switch {
			case err == nil && status >= 200 && status < 300:
				m.printf("closure of %s acknowledged (closed_at %s): %d", ticket, closedAt, status)
				return
			case err == nil && status < 500 && status != http.StatusTooManyRequests:
				m.printf("closure of %s refused: %d %s", ticket, status, answer)
				return
			case attempt == 4:
				m.printf("closure of %s not acknowledged after %d attempts: %d %v %s", ticket, attempt, status, err, answer)
				return
			}
			select {
			case <-time.After(wait):
				wait *= 2
			case <-m.ackCtx.Done():
				m.printf("closure of %s not acknowledged: stopping", ticket)
				return
			}
		}
	}()
}

func (m *mock) post(target string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(m.ackCtx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m.opt.Token)
	res, err := m.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
	return res.StatusCode, strings.TrimSpace(string(answer)), nil
}

// stopAcks lets acknowledgements under way finish until ctx ends, then cuts them.
func (m *mock) stopAcks(ctx context.Context) {
	done := make(chan struct{})
	go func() { m.acks.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	m.ackCancel()
	<-done
}
