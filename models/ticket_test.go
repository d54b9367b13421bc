package models_test

import (
	"testing"
	"time"

	"centros/models"
)

func TestTicketSLAStateAt(t *testing.T) {
	reported := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	due := reported.Add(24 * time.Hour)
	at := func(d time.Duration) *time.Time { v := due.Add(d); return &v }
	tests := []struct {
		name      string
		now       time.Time
		resolved  *time.Time
		cancelled *time.Time
		want      models.SLAState
	}{
		{"JustReported", reported, nil, nil, models.SLAOnTime},
		{"FourHoursAndOneSecondLeft", due.Add(-4*time.Hour - time.Second), nil, nil, models.SLAOnTime},
		{"ExactlyFourHoursLeft", due.Add(-4 * time.Hour), nil, nil, models.SLAOnTime},
		{"UnderFourHoursLeft", due.Add(-4*time.Hour + time.Second), nil, nil, models.SLAAtRisk},
		{"OneSecondLeft", due.Add(-time.Second), nil, nil, models.SLAAtRisk},
		{"AtDue", due, nil, nil, models.SLALate},
		{"AfterDue", due.Add(time.Second), nil, nil, models.SLALate},
		{"LongAfterDue", due.Add(72 * time.Hour), nil, nil, models.SLALate},
		{"ResolvedBeforeDueNowAfterDue", due.Add(10 * time.Hour), at(-time.Second), nil, models.SLAOnTime},
		{"ResolvedInRiskWindowIsOnTime", due.Add(-time.Hour), at(-2 * time.Hour), nil, models.SLAOnTime},
		{"ResolvedAtDue", due.Add(time.Hour), at(0), nil, models.SLALate},
		{"ResolvedAfterDue", due.Add(time.Hour), at(time.Minute), nil, models.SLALate},
		{"ResolvedLateJudgedByResolutionNotClock", reported, at(time.Minute), nil, models.SLALate},
		{"CancelledBeforeDueNowAfterDue", due.Add(5 * time.Hour), nil, at(-5 * time.Hour), models.SLAOnTime},
		{"CancelledInRiskWindowIsOnTime", due.Add(5 * time.Hour), nil, at(-time.Minute), models.SLAOnTime},
		{"CancelledAtDue", due.Add(5 * time.Hour), nil, at(0), models.SLALate},
		{"CancelledAfterDue", due.Add(5 * time.Hour), nil, at(time.Hour), models.SLALate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &models.Ticket{ReportedAt: reported, SLADueAt: due, ResolvedAt: tc.resolved, CancelledAt: tc.cancelled}
			if got := tk.SLAStateAt(tc.now); got != tc.want {
				t.Fatalf("SLAStateAt(due%+v) = %s, want %s", tc.now.Sub(due), got, tc.want)
			}
		})
	}
}

func TestTicketBookable(t *testing.T) {
	tests := []struct {
		status models.TicketStatus
		want   bool
	}{
		{models.TicketReferred, true},
		{models.TicketScheduled, true},
		{models.TicketInService, false},
		{models.TicketResolved, false},
		{models.TicketClosed, false},
		{models.TicketCancelled, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			if got := (&models.Ticket{Status: tc.status}).Bookable(); got != tc.want {
				t.Fatalf("Bookable() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantKind models.ErrorKind
		wantCode string
		isModel  bool
	}{
		{"Invalid", models.Invalid(models.FieldError{Field: "imei", Rule: "imei", Message: "bad"}), models.KindInvalid, "validation_failed", true},
		{"NotFound", models.NotFound("ticket"), models.KindNotFound, "not_found", true},
		{"Forbidden", models.Forbidden(), models.KindForbidden, "forbidden", true},
		{"StaleVersion", models.StaleVersion("centre"), models.KindConflict, "version_conflict", true},
		{"Wrapped", wrap(models.NotFound("ticket")), models.KindNotFound, "not_found", true},
		{"Plain", errPlain{}, models.KindInternal, "internal", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := models.AsError(tc.err)
			if ok != tc.isModel {
				t.Fatalf("AsError ok = %v, want %v", ok, tc.isModel)
			}
			if ok && e.Kind != tc.wantKind {
				t.Fatalf("kind = %v, want %v", e.Kind, tc.wantKind)
			}
			if got := models.ErrorCode(tc.err); got != tc.wantCode {
				t.Fatalf("ErrorCode = %q, want %q", got, tc.wantCode)
			}
		})
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "boom" }

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func wrap(err error) error { return wrapped{err} }
