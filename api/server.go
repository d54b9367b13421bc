// Package api is the HTTP face of the service: the JSON API of API.md and the web UI
// for staff. Handlers decode, validate, call one service method and encode; the rules
// live in package services.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"centros/services"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// Readiness tells whether the service can take traffic (database reachable, schema
// current).
type Readiness interface {
	Ready(ctx context.Context) error
}

// Config is what the HTTP layer needs to know about its deployment.
type Config struct {
	// PublicBaseURL is the base of links the service prints.
	PublicBaseURL string
	// SecureCookies marks cookies Secure; on for https deployments.
	SecureCookies bool
}

// Server holds every dependency of the handlers; NewServer takes them all.
type Server struct {
	cfg          Config
	log          *slog.Logger
	auth         *services.Auth
	admin        *services.Admin
	tickets      *services.Tickets
	events       *services.Events
	idempotency  *services.Idempotency
	audit        *services.Audit
	appointments *services.Appointments
	deliveries   *services.Deliveries
	repairs      *services.Repairs
	inventory    *services.Inventory
	readiness    Readiness
	metrics      *Metrics
	validator    *validator.Validate
	web          *webAssets
	engine       *gin.Engine
	draining     atomic.Bool
}

// Services are the use cases the handlers call, one type per area.
type Services struct {
	Auth         *services.Auth
	Admin        *services.Admin
	Tickets      *services.Tickets
	Events       *services.Events
	Idempotency  *services.Idempotency
	Audit        *services.Audit
	Appointments *services.Appointments
	Deliveries   *services.Deliveries
	Repairs      *services.Repairs
	Inventory    *services.Inventory
}

// NewServices builds every service over the same dependencies; publicBaseURL is the
// base of the links printed on documents.
func NewServices(d services.Deps, publicBaseURL string) Services {
	return Services{Auth: services.NewAuth(d), Admin: services.NewAdmin(d), Tickets: services.NewTickets(d),
		Events: services.NewEvents(d), Idempotency: services.NewIdempotency(d), Audit: services.NewAudit(d),
		Appointments: services.NewAppointments(d), Deliveries: services.NewDeliveries(d),
		Repairs: services.NewRepairs(d, publicBaseURL), Inventory: services.NewInventory(d)}
}

// NewServer wires the handlers to their services.
func NewServer(cfg Config, log *slog.Logger, svc Services, readiness Readiness, metrics *Metrics) *Server {
	s := &Server{cfg: cfg, log: log, auth: svc.Auth, admin: svc.Admin, tickets: svc.Tickets, events: svc.Events,
		idempotency: svc.Idempotency, audit: svc.Audit, appointments: svc.Appointments, deliveries: svc.Deliveries, repairs: svc.Repairs, inventory: svc.Inventory, readiness: readiness,
		metrics: metrics, validator: newValidator()}
	s.engine = s.routes()
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Drain makes readiness fail so load balancers stop sending traffic during shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// Routes lists every registered route as "METHOD /path", for the contract test.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
