package services

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"centros/models"

	"gorm.io/gorm"
)

// DeliveryConfig says where and how callbacks go.
type DeliveryConfig struct {
	URL      string
	Secrets  []WebhookSecret
	Schedule []time.Duration // delays between attempts; after the last the event is dead
	Timeout  time.Duration   // per attempt
	Workers  int             // attempts under way at once
	// Lease is how long a claimed event is ours before another worker may take it over,
	// on the ground that we died: longer than Timeout.
	Lease time.Duration
}

// Deliverer sends the published CSM events to the callback URL: at least once, in
// sequence order per ticket (a later event of a ticket waits while an earlier one has
// not been delivered), retried on the schedule with ±10 % jitter, honouring Retry-After,
// and dead after the last attempt. Several deliverers, in one process or many, share the
// work through leases taken with FOR UPDATE SKIP LOCKED.
type Deliverer struct {
	Deps
	cfg    DeliveryConfig
	client *http.Client
	wake   chan struct{}
}

// NewDeliverer returns a deliverer; Run starts it.
func NewDeliverer(d Deps, cfg DeliveryConfig) *Deliverer {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 16
	}
	if cfg.Lease == 0 {
		cfg.Lease = 3 * cfg.Timeout
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		// A redirect is an answer that is not 2xx: CSM's URL is configured, never
		// discovered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: cfg.Workers, IdleConnTimeout: time.Minute},
	}
	return &Deliverer{Deps: d, cfg: cfg, client: client, wake: make(chan struct{}, 1)}
}

// Wake tells the deliverer that events may have committed.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// pollEvery bounds how long a due retry or a missed notification waits.
const pollEvery = time.Second

// Run delivers until ctx ends, then lets the attempts under way finish (each is bounded
// by the timeout) before it returns.
func (d *Deliverer) Run(ctx context.Context) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, d.cfg.Workers)
	freed := make(chan struct{}, 1)
	publish := true
	for ctx.Err() == nil {
		// Publishing is for new commits (a notification) and the polling tick; an
		// attempt finishing only frees a worker.
		if publish {
			if _, err := PublishEvents(ctx, d.DB); err != nil && ctx.Err() == nil {
				d.Log.Error("publish events", "err", err)
			}
		}
		// Claim ahead of the free workers: one claim serves several attempts, and the
		// lease covers the wait.
		n := claimAhead * d.cfg.Workers
		claimed, lease, err := d.claim(ctx, n)
		if err != nil && ctx.Err() == nil {
			d.Log.Error("claim events to deliver", "err", err)
		}
		for _, ev := range claimed {
			slots <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() {
					<-slots
					inflight.Done()
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				// Not ctx: an attempt under way finishes even while we shut down.
				d.deliver(context.WithoutCancel(ctx), ev, lease)
			}()
		}
		if len(claimed) == n {
			publish = false
			continue
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
			publish = true
		case <-freed:
			publish = false
		case <-time.After(pollEvery):
			publish = true
		}
	}
}

// claimAhead is how many workers' worth of events one claim takes.
const claimAhead = 4

// claimedEvent is an event leased for one attempt, with the attempts of its cycle so far.
type claimedEvent struct {
	models.Event
	CycleAttempts int
}

// claim leases up to n due events whose ticket has nothing earlier undelivered. An
// event not yet tried in its cycle (new or replayed) is due at once: its next_attempt_at
// comes from the database's clock, which may be ahead of ours.
func (d *Deliverer) claim(ctx context.Context, n int) ([]claimedEvent, time.Time, error) {
	var out []claimedEvent
	now := d.now()
	lease := now.Add(d.cfg.Lease).Truncate(time.Microsecond)
	err := d.DB.WithContext(ctx).Raw(`UPDATE csm_events SET lease_until = @lease
		WHERE position IN (
			SELECT e.position FROM csm_events e
			WHERE e.sequence IS NOT NULL AND e.delivery_status IN ('pending', 'failed')
			  AND (e.cycle_attempts = 0 OR e.next_attempt_at <= @now) AND (e.lease_until IS NULL OR e.lease_until < @now)
			  AND NOT EXISTS (SELECT FROM csm_events p WHERE p.ticket_id = e.ticket_id
				AND p.sequence < e.sequence AND p.delivery_status <> 'delivered')
			ORDER BY e.sequence LIMIT @n FOR UPDATE SKIP LOCKED)
		RETURNING position, sequence, id, type, ticket_id, ticket_number, occurred_at, data, delivery_status, attempts, cycle_attempts`,
		map[string]any{"lease": lease, "now": now, "n": n}).Find(&out).Error
	return out, lease, err
}

// payload is the body CSM receives (CSM-CONTRACT.md).
type payload struct {
	ID           string           `json:"id"`
	Type         models.EventType `json:"type"`
	Sequence     int64            `json:"sequence"`
	OccurredAt   time.Time        `json:"occurred_at"`
	TicketNumber string           `json:"ticket_number"`
	Data         json.RawMessage  `json:"data"`
}

// deliver makes one attempt and records its outcome.
func (d *Deliverer) deliver(ctx context.Context, ev claimedEvent, lease time.Time) {
	body, _ := json.Marshal(payload{ID: ev.ID, Type: ev.Type, Sequence: ev.Sequence, OccurredAt: ev.OccurredAt.UTC(),
		TicketNumber: ev.TicketNumber, Data: ev.Data})
	started := time.Now()
	status, retryAfter, err := d.send(ctx, ev.ID, body)
	latency := time.Since(started)
	if err := d.record(ctx, ev, lease, started, status, retryAfter, latency, err); err != nil {
		// The lease runs out and the event is sent again, with the same webhook-id.
		d.Log.Error("record a delivery attempt", "event", ev.ID, "err", err)
	}
}

func (d *Deliverer) send(ctx context.Context, id string, body []byte) (int, time.Duration, error) {
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "centros-callbacks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", SignWebhook(d.cfg.Secrets, id, ts, body))
	res, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	var retryAfter time.Duration
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
	}
	return res.StatusCode, retryAfter, nil
}

// parseRetryAfter reads seconds or an HTTP date; anything else is ignored.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// nextDelay is the wait before attempt number n+1 (n attempts made in this cycle), with
// ±10 % jitter so that a recovering CSM is not hit by every retry at once; ok is false
// when the schedule is exhausted.
func (d *Deliverer) nextDelay(n int, retryAfter time.Duration) (time.Duration, bool) {
	if n > len(d.cfg.Schedule) {
		return 0, false
	}
	base := d.cfg.Schedule[n-1]
	delay := time.Duration(float64(base) * (0.9 + 0.2*rand.Float64()))
	return max(delay, retryAfter), true
}

func (d *Deliverer) record(ctx context.Context, ev claimedEvent, lease, at time.Time, status int, retryAfter, latency time.Duration, sendErr error) error {
	delivered := sendErr == nil && status >= 200 && status < 300
	var errText *string
	switch {
	case sendErr != nil:
		s := sendErr.Error()
		errText = &s
	case !delivered:
		s := fmt.Sprintf("HTTP %d", status)
		errText = &s
	}
	var code *int
	if sendErr == nil {
		code = &status
	}
	// One statement: the attempt is history either way; the event's state is ours to
	// change only while the lease is (after it ran out, or a replay, another owns it).
	args := map[string]any{"pos": ev.Position, "lease": lease, "at": at, "code": code,
		"latency": latency.Milliseconds(), "error": errText, "now": d.now()}
	set := `delivery_status = 'delivered', delivered_at = @now, attempts = attempts + 1,
		cycle_attempts = cycle_attempts + 1, lease_until = NULL, last_error = NULL`
	var retryIn time.Duration
	if !delivered {
		next := "failed"
		delay, retry := d.nextDelay(ev.CycleAttempts+1, retryAfter)
		if !retry {
			next = string(models.DeliveryDead)
		} else {
			retryIn = delay
		}
		args["next"], args["next_at"] = next, d.now().Add(delay)
		set = `delivery_status = @next, attempts = attempts + 1, cycle_attempts = cycle_attempts + 1,
			next_attempt_at = @next_at, lease_until = NULL, last_error = @error`
	}
	err := d.DB.WithContext(ctx).Exec(`WITH updated AS (
			UPDATE csm_events SET `+set+` WHERE position = @pos AND lease_until = @lease RETURNING position)
		INSERT INTO csm_delivery_attempts (event_position, attempted_at, status_code, latency_ms, error)
		VALUES (@pos, @at, @code, @latency, @error)`, args).Error
	if err == nil && retryIn > 0 {
		// Look again when the retry falls due, not at the next polling tick, which
		// could be later than the schedule's jitter allows.
		time.AfterFunc(retryIn, d.Wake)
	}
	return err
}

// DeliveryAttempt is one try at sending an event.
type DeliveryAttempt struct {
	AttemptedAt time.Time `json:"attempted_at"`
	StatusCode  *int      `json:"status_code"`
	LatencyMS   int       `json:"latency_ms" gorm:"column:latency_ms"`
	Error       *string   `json:"error"`
}

// Delivery is an event with its delivery state and attempts, for the admin's view.
type Delivery struct {
	models.Event
	NextAttemptAt time.Time         `json:"next_attempt_at"`
	LastError     *string           `json:"last_error"`
	AttemptLog    []DeliveryAttempt `json:"attempt_log" gorm:"-"`
}

// Deliveries lets an admin see callback deliveries and replay them.
type Deliveries struct{ Deps }

// NewDeliveries returns the deliveries service.
func NewDeliveries(d Deps) *Deliveries { return &Deliveries{d} }

// List returns deliveries in one state (pending, failed, dead or delivered; all when
// empty), by sequence, each with every attempt, in two queries. Like the feed, it
// publishes what is ready first, so that every committed event shows, deliverer
// running or not.
func (s *Deliveries) List(ctx context.Context, p models.Principal, status string, page Page) ([]Delivery, string, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	if _, err := PublishEvents(ctx, s.DB); err != nil {
		return nil, "", err
	}
	q := s.DB.WithContext(ctx).Table("csm_events").Where("sequence IS NOT NULL")
	if status != "" {
		q = q.Where("delivery_status = ?", status)
	}
	if after != nil {
		seq, err := strconv.ParseInt(after.ID, 10, 64)
		if err != nil {
			return nil, "", models.Invalid(models.FieldError{Field: "cursor", Rule: "cursor", Message: "is not a cursor this service gave out"})
		}
		q = q.Where("sequence > ?", seq)
	}
	limit := page.limit()
	var out []Delivery
	if err := q.Order("sequence").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(cursor{ID: strconv.FormatInt(out[limit-1].Sequence, 10)})
	}
	if len(out) == 0 {
		return out, next, nil
	}
	positions := make([]int64, len(out))
	index := map[int64]int{}
	for i, dl := range out {
		positions[i], index[dl.Position] = dl.Position, i
		out[i].AttemptLog = []DeliveryAttempt{}
	}
	var attempts []struct {
		EventPosition int64
		DeliveryAttempt
	}
	if err := s.DB.WithContext(ctx).Table("csm_delivery_attempts").Where("event_position IN ?", positions).
		Order("id").Find(&attempts).Error; err != nil {
		return nil, "", translate(err)
	}
	for _, a := range attempts {
		i := index[a.EventPosition]
		out[i].AttemptLog = append(out[i].AttemptLog, a.DeliveryAttempt)
	}
	return out, next, nil
}

// Replay sends events again with their webhook-id, on a fresh retry schedule: dead ones
// from the dead-letter list, failing ones at once, delivered ones when CSM lost them. It
// returns how many it queued. Errors: not found (an id that is no event).
func (s *Deliveries) Replay(ctx context.Context, p models.Principal, ids []string) (int, error) {
	if err := authorize(p, actAdminister); err != nil {
		return 0, err
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	n := 0
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE csm_events SET delivery_status = 'pending', cycle_attempts = 0, next_attempt_at = ?, lease_until = NULL
			WHERE id IN ? AND sequence IS NOT NULL`, s.now(), ids)
		if res.Error != nil {
			return res.Error
		}
		if int(res.RowsAffected) != len(ids) {
			return models.NotFound("event")
		}
		n = int(res.RowsAffected)
		for _, id := range ids {
			if err := audit(ctx, tx, p, "replay", "csm_event", id, nil, nil, nil); err != nil {
				return err
			}
		}
		return tx.Exec("SELECT pg_notify(?, '')", EventChannel).Error
	})
	return n, err
}
