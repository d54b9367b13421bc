package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"centros/models"
	"centros/services"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	ctxPrincipal = "principal"
	ctxRequestID = "request_id"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID tags each request with an id: the caller's X-Request-ID when it is sane,
// else a new one. It is echoed back, logged, and written into the audit log.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Request = c.Request.WithContext(models.WithRequestID(c.Request.Context(), id))
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// recoverer turns a panic into a logged 500 problem: a panic is a bug, and the client
// still gets a well-formed answer.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.problem(c, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	c.Next()
}

// limitBody caps request bodies at MaxBodyBytes.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > MaxBodyBytes {
		s.problem(c, models.Errorf(models.KindTooLarge, "body_too_large", "the body is larger than %d bytes", MaxBodyBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	c.Next()
}

// Metrics are the Prometheus series the HTTP layer keeps.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
}

// NewMetrics registers the HTTP series, the database pool's and the Go runtime's in reg
// and serves everything gathered from it.
func NewMetrics(reg *prometheus.Registry, pool *sql.DB) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency, collectors.NewDBStatsCollector(pool, "centros"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// observe logs each request and counts it by route (the pattern, never the raw path,
// so ticket numbers do not explode the series).
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(route, c.Request.Method).Observe(elapsed.Seconds())
	level := s.log.Info
	if status >= 500 {
		level = s.log.Error
	}
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return
	}
	level("request", "method", c.Request.Method, "route", route, "status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", c.Writer.Size(), "request_id", requestID(c))
}

func (s *Server) noRoute(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, "/api/") && c.Request.Method == http.MethodGet {
		s.webNotFound(c)
		return
	}
	s.problem(c, models.Errorf(models.KindNotFound, "not_found", "no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
}

func (s *Server) noMethod(c *gin.Context) {
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(http.StatusMethodNotAllowed, Problem{Type: "/problems/method_not_allowed", Title: "Method Not Allowed",
		Status: http.StatusMethodNotAllowed, Detail: c.Request.Method + " is not allowed here", Code: "method_not_allowed",
		Instance: c.Request.URL.Path, RequestID: requestID(c)})
}

// requireBearer authenticates API calls by their bearer token.
func (s *Server) requireBearer(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		s.problem(c, models.Errorf(models.KindUnauthenticated, "unauthenticated", "send Authorization: Bearer <token>"))
		return
	}
	p, err := s.auth.Authenticate(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

func principal(c *gin.Context) models.Principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(models.Principal)
	return pr
}

// recorder keeps a copy of what a handler writes, for the idempotency store.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// idempotent implements the Idempotency-Key header on POST: the first response to a
// key is stored and replayed to retries with the same body; another body is refused.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if c.Request.Method != http.MethodPost || key == "" {
		c.Next()
		return
	}
	if len(key) > 255 {
		s.problem(c, models.Invalid(models.FieldError{Field: "Idempotency-Key", Rule: "max", Message: "must be at most 255 characters"}))
		return
	}
	body, err := readBody(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	p := principal(c)
	owner := p.ActorKind() + ":" + p.ActorID()
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", c.Request.Method, c.Request.URL.EscapedPath())
	h.Write(body)
	ctx := c.Request.Context()
	replay, err := s.idempotency.Begin(ctx, owner, key, hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		s.problem(c, err)
		return
	}
	if replay != nil {
		c.Header("Idempotent-Replayed", "true")
		c.Data(replay.Status, replay.ContentType, replay.Body)
		c.Abort()
		return
	}
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	status := rec.Status()
	if status >= 500 {
		if err := s.idempotency.Release(context.WithoutCancel(ctx), owner, key); err != nil {
			s.log.Error("release idempotency key", "err", err, "request_id", requestID(c))
		}
		return
	}
	stored := services.StoredResponse{Status: status, ContentType: rec.Header().Get("Content-Type"), Body: rec.body.Bytes()}
	if err := s.idempotency.Complete(context.WithoutCancel(ctx), owner, key, stored); err != nil {
		s.log.Error("store idempotent response", "err", err, "request_id", requestID(c))
	}
}
