package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A worker is one client's side of a load: it makes its next request and sorts the
// answer into one of the load's outcomes, or calls it an error.
type worker interface {
	// next returns the next request to send, or nil when the worker has nothing left.
	next(ctx context.Context) (*http.Request, error)
	// classify returns the outcome of an answer (an index into loadPlan.outcomes), or
	// -1 and what was wrong with it.
	classify(status int, body []byte) (int, string)
}

// loadPlan says how to drive the server.
type loadPlan struct {
	clients  int
	warmup   time.Duration // requests sent before the end of the warm-up are not measured
	duration time.Duration // measured time; 0 when requests bounds the load
	requests int           // measured requests in all; 0 when duration bounds the load
	outcomes []string      // the answers that are correct, e.g. "201", "409 slot_full"
}

// loadResult is what the clients saw of the measured requests, and the CPU spent
// while they ran.
type loadResult struct {
	plan    loadPlan
	lat     [][]time.Duration // per outcome, sorted
	all     []time.Duration   // every measured answer that was not an error, sorted
	last    []time.Duration   // per outcome: start of the measurement → its last answer
	warm    []int             // per outcome, answers to requests sent in the warm-up
	errors  int               // warm-up included
	samples []string
	elapsed time.Duration // start of the measurement → last measured answer
	cpu     cpuUsage
}

func (r *loadResult) count(outcome int) int { return len(r.lat[outcome]) }
func (r *loadResult) measured() int         { return len(r.all) }

func (r *loadResult) warmups() int {
	n := 0
	for _, c := range r.warm {
		n += c
	}
	return n
}

// rate is answers per second over the measured time.
func (r *loadResult) rate(n int) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(n) / r.elapsed.Seconds()
}

// clientResult is what one client saw.
type clientResult struct {
	lat     [][]time.Duration
	last    []time.Time
	warm    []int
	errors  int
	samples []string
	err     error
}

// runLoad runs p.clients clients, each sending the requests of its own worker one after
// another over its own keep-alive connection, until the duration is over or the
// measured requests are all sent. The CPU of the measured part is sampled.
func (s *server) runLoad(ctx context.Context, pmPIDFile string, p loadPlan, newWorker func(client int) worker) (*loadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(p.warmup)
	end := measureFrom.Add(p.duration)
	if p.duration <= 0 {
		end = measureFrom.Add(24 * time.Hour)
	}
	var left *atomic.Int64
	if p.requests > 0 {
		left = new(atomic.Int64)
		left.Store(int64(p.requests))
	}

	results := make([]clientResult, p.clients)
	var wg sync.WaitGroup
	for i := range p.clients {
		w := newWorker(i)
		wg.Go(func() {
			results[i] = s.client(ctx, w, len(p.outcomes), measureFrom, end, left)
		})
	}
	go func() {
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-ctx.Done():
	}
	watch := startCPUWatch(pmPIDFile, s.pid())
	wg.Wait()
	res := &loadResult{plan: p, cpu: watch.finish(), lat: make([][]time.Duration, len(p.outcomes)),
		last: make([]time.Duration, len(p.outcomes)), warm: make([]int, len(p.outcomes))}

	select {
	case <-s.exited:
		return nil, fmt.Errorf("the server exited during the run (%v):\n%s", s.waitErr, s.logTail())
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err // interrupted
	}
	var last time.Time
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		for o := range p.outcomes {
			res.lat[o] = append(res.lat[o], r.lat[o]...)
			res.all = append(res.all, r.lat[o]...)
			res.warm[o] += r.warm[o]
			if d := r.last[o].Sub(measureFrom); !r.last[o].IsZero() && d > res.last[o] {
				res.last[o] = d
			}
			if r.last[o].After(last) {
				last = r.last[o]
			}
		}
		res.errors += r.errors
		for _, smp := range r.samples {
			if len(res.samples) < 5 {
				res.samples = append(res.samples, smp)
			}
		}
	}
	for o := range p.outcomes {
		slices.Sort(res.lat[o])
	}
	slices.Sort(res.all)
	if !last.IsZero() {
		res.elapsed = last.Sub(measureFrom)
	}
	return res, nil
}

// client sends w's requests until the end; requests sent before measureFrom are
// warm-up. With left set, each measured request takes one from it first.
func (s *server) client(ctx context.Context, w worker, outcomes int, measureFrom, end time.Time, left *atomic.Int64) clientResult {
	r := clientResult{lat: make([][]time.Duration, outcomes), last: make([]time.Time, outcomes), warm: make([]int, outcomes)}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var body bytes.Buffer
	sample := func(s string) {
		r.errors++
		if len(r.samples) < 5 {
			r.samples = append(r.samples, s)
		}
	}
	for {
		req, err := w.next(ctx)
		if err != nil {
			r.err = err
			return r
		}
		if req == nil {
			return r
		}
		t0 := time.Now()
		if !t0.Before(end) || ctx.Err() != nil {
			return r
		}
		measured := !t0.Before(measureFrom)
		if measured && left != nil && left.Add(-1) < 0 {
			return r
		}
		status, err := send(hc, req, &body)
		t1 := time.Now()
		if ctx.Err() != nil {
			return r
		}
		if err != nil {
			sample(err.Error())
			time.Sleep(10 * time.Millisecond) // do not spin on a refused connection
			continue
		}
		o, what := w.classify(status, body.Bytes())
		switch {
		case o < 0:
			sample(what)
		case !measured:
			r.warm[o]++
		default:
			r.lat[o] = append(r.lat[o], t1.Sub(t0))
			r.last[o] = t1
		}
	}
}

// send does one request and reads the whole answer into body, so that the connection
// is reused.
func send(hc *http.Client, req *http.Request, body *bytes.Buffer) (int, error) {
	body.Reset()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(body, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// snippet is the start of an answer, for an error sample.
func snippet(status int, body []byte) string {
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Sprintf("%d %s", status, bytes.TrimSpace(body))
}

// ratio is a ÷ b, 0 when b is.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
