package services_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"centros/services"
	"centros/services/database/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type env struct {
	deps    services.Deps
	auth    *services.Auth
	admin   *services.Admin
	tickets *services.Tickets
	events  *services.Events
	now     time.Time
}

// newEnv gives a test the services over a fresh database, with a clock it can move.
func newEnv(t *testing.T) *env {
	t.Helper()
	db, _ := dbtest.New(t)
	e := &env{now: time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)}
	e.deps = services.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return e.now }}
	e.auth = services.NewAuth(e.deps)
	e.admin = services.NewAdmin(e.deps)
	e.tickets = services.NewTickets(e.deps)
	e.events = services.NewEvents(e.deps)
	return e
}

// together runs fn(0) … fn(n-1) in n goroutines released at the same moment, the way
// simultaneous requests arrive, and returns when all have finished.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
