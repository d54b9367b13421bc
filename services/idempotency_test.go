package services_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"centros/models"
	"centros/services"
)

func reqHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestIdempotency(t *testing.T) {
	const principal, key = "api_client:csm", "key-0001"
	hashA, hashB := reqHash("POST /api/v1/csm/tickets {a}"), reqHash("POST /api/v1/csm/tickets {b}")
	stored := services.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"ticket_number":"CSM-1"}`)}
	type step func(t *testing.T, e *env, id *services.Idempotency) (*services.StoredResponse, error)
	begin := func(hash string) step {
		return func(t *testing.T, e *env, id *services.Idempotency) (*services.StoredResponse, error) {
			return id.Begin(context.Background(), principal, key, hash)
		}
	}
	complete := func(t *testing.T, e *env, id *services.Idempotency) {
		t.Helper()
		if err := id.Complete(context.Background(), principal, key, stored); err != nil {
			t.Fatal(err)
		}
	}
	release := func(t *testing.T, e *env, id *services.Idempotency) {
		t.Helper()
		if err := id.Release(context.Background(), principal, key); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env, id *services.Idempotency)
		then       step
		wantReplay bool
		wantKind   models.ErrorKind
		wantCode   string
	}{
		{name: "NewKey", then: begin(hashA)},
		{name: "CompletedSameRequestReplays", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			complete(t, e, id)
			e.now = e.now.Add(time.Hour)
		}, then: begin(hashA), wantReplay: true},
		{name: "CompletedOtherRequest", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			complete(t, e, id)
		}, then: begin(hashB), wantKind: models.KindUnprocessable, wantCode: "idempotency_key_reused"},
		{name: "InFlightOtherRequest", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
		}, then: begin(hashB), wantKind: models.KindUnprocessable, wantCode: "idempotency_key_reused"},
		{name: "InFlightWithinLease", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			e.now = e.now.Add(time.Minute + 59*time.Second)
		}, then: begin(hashA), wantKind: models.KindConflict, wantCode: "idempotency_key_in_flight"},
		{name: "InFlightAfterLeaseTakenOver", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			e.now = e.now.Add(3 * time.Minute)
		}, then: begin(hashA)},
		{name: "TakenOverKeyHasFreshLease", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			e.now = e.now.Add(3 * time.Minute)
			mustBegin(t, id, principal, key, hashA)
			e.now = e.now.Add(time.Minute)
		}, then: begin(hashA), wantKind: models.KindConflict, wantCode: "idempotency_key_in_flight"},
		{name: "ReleasedRunsAgain", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			release(t, e, id)
		}, then: begin(hashA)},
		{name: "ReleasedMayCarryOtherRequest", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			release(t, e, id)
		}, then: begin(hashB)},
		{name: "ReleaseDoesNotForgetAnAnswer", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, principal, key, hashA)
			complete(t, e, id)
			release(t, e, id)
		}, then: begin(hashA), wantReplay: true},
		{name: "OtherPrincipalIndependent", setup: func(t *testing.T, e *env, id *services.Idempotency) {
			mustBegin(t, id, "user:someone-else", key, hashA)
		}, then: begin(hashB)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := services.NewIdempotency(e.deps)
			if tc.setup != nil {
				tc.setup(t, e, id)
			}
			replay, err := tc.then(t, e, id)
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantKind, tc.wantCode)
				if replay != nil {
					t.Fatal("replay returned with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantReplay {
				if replay != nil {
					t.Fatalf("unexpected replay %+v", replay)
				}
				return
			}
			if replay == nil || replay.Status != stored.Status || replay.ContentType != stored.ContentType || string(replay.Body) != string(stored.Body) {
				t.Fatalf("replay %+v, want %+v", replay, stored)
			}
		})
	}
}

func mustBegin(t *testing.T, id *services.Idempotency, principal, key, hash string) {
	t.Helper()
	replay, err := id.Begin(context.Background(), principal, key, hash)
	if err != nil || replay != nil {
		t.Fatalf("begin %s: %+v %v", key, replay, err)
	}
}

func TestIdempotencyConcurrentBegin(t *testing.T) {
	e := newEnv(t)
	id := services.NewIdempotency(e.deps)
	const n = 10
	errs := make([]error, n)
	together(n, func(i int) {
		_, errs[i] = id.Begin(context.Background(), "api_client:csm", "same-key", reqHash("same"))
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantErr(t, err, models.KindConflict, "idempotency_key_in_flight")
	}
	if won != 1 {
		t.Fatalf("%d requests claimed the key", won)
	}
}

func TestIdempotencyPurge(t *testing.T) {
	e := newEnv(t)
	id := services.NewIdempotency(e.deps)
	ctx := context.Background()
	t0 := e.now
	ages := []struct {
		key  string
		age  time.Duration
		done bool
		kept bool
	}{
		{"ancient", 30 * 24 * time.Hour, true, false},
		{"just-over", services.IdempotencyRetention + time.Second, true, false},
		{"in-flight-old", services.IdempotencyRetention + time.Hour, false, false},
		{"exactly-72h", services.IdempotencyRetention, true, true},
		{"71h", 71 * time.Hour, true, true},
		{"fresh", time.Minute, false, true},
	}
	for _, a := range ages {
		e.now = t0.Add(-a.age)
		mustBegin(t, id, "p", a.key, reqHash(a.key))
		if a.done {
			if err := id.Complete(ctx, "p", a.key, services.StoredResponse{Status: 200, Body: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Failed logins: one inside the window, one outside.
	e.exec(t, "INSERT INTO login_failures (email, address, failed_at) VALUES ('a@example.com', '1.2.3.4', ?), ('b@example.com', '1.2.3.4', ?)",
		t0.Add(-time.Minute), t0.Add(-16*time.Minute))
	e.now = t0
	if err := id.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range ages {
		t.Run(a.key, func(t *testing.T) {
			n := e.count(t, "SELECT count(*) FROM idempotency_keys WHERE key = ?", a.key)
			if (n == 1) != a.kept {
				t.Fatalf("kept = %v, want %v", n == 1, a.kept)
			}
		})
	}
	if n := e.count(t, "SELECT count(*) FROM login_failures"); n != 1 {
		t.Fatalf("%d login failures left, want the recent one", n)
	}
	// A purged key is free again.
	mustBegin(t, id, "p", "ancient", reqHash("another request"))
}
