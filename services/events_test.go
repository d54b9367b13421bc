package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"centros/models"
	"centros/services"

	"gorm.io/gorm"
)

type recorded struct {
	ev  *models.Event
	err error
}

// begin opens a transaction that is rolled back at the end of the test unless the test
// committed it.
func (e *env) begin(t *testing.T) *gorm.DB {
	t.Helper()
	tx := e.deps.DB.Begin()
	if tx.Error != nil {
		t.Fatal(tx.Error)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

func (e *env) listAll(t *testing.T, after int64) []models.Event {
	t.Helper()
	var out []models.Event
	for {
		page, next, err := e.events.List(context.Background(), models.Principal{Role: models.RoleCSM, APIClientID: "x"}, after, services.Page{Limit: services.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = next
	}
}

func TestRecordEvent(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	tk := e.refer(t, o, referral("CSM-EV-1", e.now.Add(-time.Hour), "CCS-01"))
	tx := e.begin(t)
	ev, err := services.RecordEvent(tx, tk, models.EventTicketInService, map[string]any{"centre": "CCS-01", "received_imei": "356938035643809"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	// The sequence comes at publication, after commit.
	if !regexp.MustCompile(`^evt_[0-9a-f]{32}$`).MatchString(ev.ID) || ev.Position <= 0 || ev.Sequence != 0 || ev.OccurredAt.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	got := e.listAll(t, 0)
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	g := got[0]
	if g.ID != ev.ID || g.Sequence != 1 || g.Type != models.EventTicketInService || g.TicketNumber != "CSM-EV-1" ||
		g.DeliveryStatus != models.DeliveryPending || g.Attempts != 0 || g.DeliveredAt != nil {
		t.Fatalf("listed %+v", g)
	}
	var data map[string]string
	if err := json.Unmarshal(g.Data, &data); err != nil || data["received_imei"] != "356938035643809" {
		t.Fatalf("data %s: %v", g.Data, err)
	}
}

// TestFeedWaitsForEarlierTransactions is the late-commit case: A writes an event and
// stays open while B, which started writing later, commits. The feed must not publish
// B yet, or A would later take a sequence behind a cursor a reader has already passed.
// Events of one ticket also keep their order: a second writer of A's ticket waits for A.
func TestFeedWaitsForEarlierTransactions(t *testing.T) {
	tests := []struct {
		name       string
		commitA    bool
		sameTicket bool
	}{
		{"FirstCommits", true, false},
		{"FirstRollsBack", false, false},
		{"SameTicketFirstCommits", true, true},
		{"SameTicketFirstRollsBack", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			o := newOrg(t, e)
			t1 := e.refer(t, o, referral("CSM-A", e.now.Add(-time.Hour), "CCS-01"))
			t2 := t1
			if !tc.sameTicket {
				t2 = e.refer(t, o, referral("CSM-B", e.now.Add(-time.Hour), "CCS-02"))
			}
			txA := e.begin(t)
			evA, err := services.RecordEvent(txA, t1, models.EventAppointmentBooked, map[string]string{"who": "A"})
			if err != nil {
				t.Fatal(err)
			}
			txB := e.begin(t)
			done := make(chan recorded, 1)
			go func() {
				ev, err := services.RecordEvent(txB, t2, models.EventAppointmentBooked, map[string]string{"who": "B"})
				if err == nil {
					err = txB.Commit().Error
				}
				done <- recorded{ev, err}
			}()
			var evB *models.Event
			if tc.sameTicket {
				// B waits on A's lock of the ticket row.
				select {
				case r := <-done:
					t.Fatalf("B wrote an event of A's ticket (%+v, %v) while A was open", r.ev, r.err)
				case <-time.After(300 * time.Millisecond):
				}
			} else {
				r := <-done
				if r.err != nil {
					t.Fatal(r.err)
				}
				evB = r.ev
			}
			// B may have committed, but A, older, is open: nothing is published.
			if got := e.listAll(t, 0); len(got) != 0 {
				t.Fatalf("the feed published %d events while an older writer was open", len(got))
			}
			if tc.commitA {
				err = txA.Commit().Error
			} else {
				err = txA.Rollback().Error
			}
			if err != nil {
				t.Fatal(err)
			}
			if evB == nil {
				select {
				case r := <-done:
					if r.err != nil {
						t.Fatal(r.err)
					}
					evB = r.ev
				case <-time.After(10 * time.Second):
					t.Fatal("B still blocked after A ended")
				}
			}
			got := e.listAll(t, 0)
			var ids []string
			for i, ev := range got {
				ids = append(ids, ev.ID)
				if ev.Sequence != int64(i+1) {
					t.Fatalf("sequence %d at %d: published numbers have no gaps", ev.Sequence, i)
				}
			}
			want := []string{evA.ID, evB.ID}
			if !tc.commitA {
				want = want[1:]
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("feed %v, want %v", ids, want)
			}
		})
	}
}

func TestRolledBackEventNeverListed(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	tk := e.refer(t, o, referral("CSM-RB", e.now.Add(-time.Hour), "CCS-01"))
	tx := e.begin(t)
	lost, err := services.RecordEvent(tx, tk, models.EventTicketResolved, map[string]string{"outcome": "repaired"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	tx = e.begin(t)
	kept, err := services.RecordEvent(tx, tk, models.EventTicketResolved, map[string]string{"outcome": "swapped"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	got := e.listAll(t, 0)
	if len(got) != 1 || got[0].ID != kept.ID || got[0].ID == lost.ID || got[0].Sequence != 1 {
		t.Fatalf("feed %+v", got)
	}
	if got := e.listAll(t, 1); len(got) != 0 {
		t.Fatalf("after the only event: %+v", got)
	}
}

// TestEventFeedNeverSkipsACommittedEvent runs writers that commit in random order and
// a reader that keeps a cursor, as CSM does: every committed event must reach the
// reader exactly once, and no event may appear behind the reader's cursor.
func TestEventFeedNeverSkipsACommittedEvent(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	ctx := context.Background()
	const writers, perWriter = 20, 8
	tickets := make([]*models.Ticket, writers)
	for i := range tickets {
		tickets[i] = e.refer(t, o, referral(fmt.Sprintf("CSM-CONC-%02d", i), e.now.Add(-time.Hour), "CCS-01"))
	}
	var (
		mu         sync.Mutex
		committed  = map[string]int{} // event id → writer
		rolledBack = map[string]bool{}
		order      = make([][]string, writers) // committed event ids per ticket, in recording order
	)
	var writing sync.WaitGroup
	var failures atomic.Int32
	for w := 0; w < writers; w++ {
		writing.Add(1)
		go func(w int) {
			defer writing.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for k := 0; k < perWriter; k++ {
				tx := e.deps.DB.Begin()
				if tx.Error != nil {
					t.Error(tx.Error)
					failures.Add(1)
					return
				}
				ev, err := services.RecordEvent(tx, tickets[w], models.EventAppointmentRescheduled, map[string]int{"writer": w, "k": k})
				if err != nil {
					tx.Rollback()
					t.Errorf("writer %d: %v", w, err)
					failures.Add(1)
					return
				}
				// Hold the transaction open a little, so that commits interleave.
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				if rng.IntN(4) == 0 {
					tx.Rollback()
					mu.Lock()
					rolledBack[ev.ID] = true
					mu.Unlock()
					continue
				}
				if err := tx.Commit().Error; err != nil {
					t.Errorf("writer %d commit: %v", w, err)
					failures.Add(1)
					return
				}
				mu.Lock()
				committed[ev.ID] = w
				order[w] = append(order[w], ev.ID)
				mu.Unlock()
			}
		}(w)
	}
	writersDone := make(chan struct{})
	go func() { writing.Wait(); close(writersDone) }()

	reader := models.Principal{Role: models.RoleCSM, APIClientID: "reader"}
	seen := map[string]int{}
	var seenOrder []models.Event
	var after int64
	read := func() int {
		page, next, err := e.events.List(ctx, reader, after, services.Page{Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			if ev.Sequence <= after {
				t.Fatalf("event %s with sequence %d appeared behind the cursor %d", ev.ID, ev.Sequence, after)
			}
			after = ev.Sequence
			seen[ev.ID]++
			seenOrder = append(seenOrder, ev)
		}
		if next != after {
			t.Fatalf("next %d, last seen %d", next, after)
		}
		return len(page)
	}
	polls := 0
loop:
	for {
		select {
		case <-writersDone:
			break loop
		default:
		}
		read()
		polls++
	}
	for read() > 0 {
	}
	if failures.Load() > 0 {
		t.FailNow()
	}
	t.Logf("%d polls, %d committed, %d rolled back", polls, len(committed), len(rolledBack))
	for id := range committed {
		if seen[id] != 1 {
			t.Errorf("committed event %s seen %d times", id, seen[id])
		}
	}
	for id := range seen {
		if rolledBack[id] {
			t.Errorf("rolled-back event %s was listed", id)
		}
		if _, ok := committed[id]; !ok && !rolledBack[id] {
			t.Errorf("unknown event %s was listed", id)
		}
	}
	// Per ticket, the feed keeps the order in which the events were recorded.
	perTicket := map[string][]string{}
	for _, ev := range seenOrder {
		perTicket[ev.TicketNumber] = append(perTicket[ev.TicketNumber], ev.ID)
	}
	for w, tk := range tickets {
		if fmt.Sprint(perTicket[tk.TicketNumber]) != fmt.Sprint(order[w]) {
			t.Errorf("ticket %s: feed order %v, recorded %v", tk.TicketNumber, perTicket[tk.TicketNumber], order[w])
		}
	}
}

func TestEventsListAccess(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	tests := []struct {
		name     string
		who      models.Principal
		after    int64
		wantKind models.ErrorKind
		wantCode string
	}{
		{name: "CSM", who: o.csm},
		{name: "Admin", who: o.admin},
		{name: "Counter", who: at(models.RoleCounter, o.ccs01), wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "Technician", who: at(models.RoleTechnician, o.ccs01), wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "Manager", who: at(models.RoleCentreManager, o.ccs01), wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "Warehouse", who: of(o.almCap, o.cap), wantKind: models.KindForbidden, wantCode: "forbidden"},
		{name: "Nobody", who: models.Principal{}, wantKind: models.KindUnauthenticated, wantCode: "unauthenticated"},
		{name: "NegativeAfter", who: o.csm, after: -1, wantKind: models.KindInvalid, wantCode: "validation_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := e.events.List(context.Background(), tc.who, tc.after, services.Page{})
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if tc.wantCode == "validation_failed" {
					wantField(t, err, "after", "")
				}
				if got != nil {
					t.Fatal("events returned with the error")
				}
				return
			}
			if err != nil || len(got) != 0 || next != tc.after {
				t.Fatalf("%v %d %v", got, next, err)
			}
		})
	}
}

func TestEventsListLimits(t *testing.T) {
	e := newEnv(t)
	o := newOrg(t, e)
	tk := e.refer(t, o, referral("CSM-MANY", e.now.Add(-time.Hour), "CCS-01"))
	const total = services.MaxLimit + 20
	tx := e.begin(t)
	for i := 0; i < total; i++ {
		if _, err := services.RecordEvent(tx, tk, models.EventAppointmentBooked, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	first := e.listAll(t, 0)[0].Sequence
	tests := []struct {
		name  string
		limit int
		after int64
		want  int
	}{
		{"Default", 0, 0, services.DefaultLimit},
		{"Negative", -3, 0, services.DefaultLimit},
		{"Small", 10, 0, 10},
		{"Max", services.MaxLimit, 0, services.MaxLimit},
		{"Capped", 100000, 0, services.MaxLimit},
		{"Tail", 100, first + total - 1 - 5, 5},
		{"PastTheEnd", 100, first + total + 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := e.events.List(context.Background(), o.admin, tc.after, services.Page{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("%d events, want %d", len(got), tc.want)
			}
			wantNext := tc.after
			if len(got) > 0 {
				wantNext = got[len(got)-1].Sequence
				if got[0].Sequence <= tc.after {
					t.Fatalf("first %d not after %d", got[0].Sequence, tc.after)
				}
			}
			if next != wantNext {
				t.Fatalf("next %d, want %d", next, wantNext)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Sequence <= got[i-1].Sequence {
					t.Fatalf("not in sequence order at %d", i)
				}
			}
		})
	}
	if n := len(e.listAll(t, 0)); n != total {
		t.Fatalf("paging through the feed found %d events, want %d", n, total)
	}
}
