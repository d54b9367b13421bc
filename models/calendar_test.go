package models_test

import (
	"testing"
	"time"

	"centros/models"
)

func caracas(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// splitWeek is Monday to Friday 08:00-12:00 and 13:00-17:00, the lunch break between.
func splitWeek() []models.OpeningHours {
	var out []models.OpeningHours
	for d := 1; d <= 5; d++ {
		out = append(out, models.OpeningHours{Weekday: d, Opens: "08:00", Closes: "12:00"},
			models.OpeningHours{Weekday: d, Opens: "13:00", Closes: "17:00"})
	}
	return out
}

func calendarIn(loc *time.Location, hours []models.OpeningHours, closed ...string) models.Calendar {
	c := models.Calendar{Location: loc, SlotMinutes: 30, Hours: hours, Closed: map[string]bool{}}
	for _, d := range closed {
		c.Closed[d] = true
	}
	return c
}

func day(loc *time.Location, y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func clock(d time.Time, h, m int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, d.Location())
}

func TestCalendarSlotsOn(t *testing.T) {
	ccs := caracas(t)
	mon := day(ccs, 2026, 11, 30) // a Monday
	oneDay := func(wd int, opens, closes string) []models.OpeningHours {
		return []models.OpeningHours{{Weekday: wd, Opens: opens, Closes: closes}}
	}
	tests := []struct {
		name  string
		cal   models.Calendar
		day   time.Time
		count int
		// first and last slot starts, and a start that must not be there, in local time
		first, last, absent string
		lastEnds            string
	}{
		{name: "SplitDay", cal: calendarIn(ccs, splitWeek()), day: mon, count: 16,
			first: "08:00", last: "16:30", lastEnds: "17:00", absent: "12:00"},
		{name: "SplitDayNoSlotInLunchBreak", cal: calendarIn(ccs, splitWeek()), day: mon, count: 16,
			first: "08:00", last: "16:30", lastEnds: "17:00", absent: "12:30"},
		{name: "ClosedDay", cal: calendarIn(ccs, splitWeek(), "2026-12-24"), day: day(ccs, 2026, 12, 24), count: 0},
		{name: "OtherClosedDayLeavesThisOneOpen", cal: calendarIn(ccs, splitWeek(), "2026-12-24"), day: day(ccs, 2026, 12, 23), count: 16,
			first: "08:00", last: "16:30", lastEnds: "17:00"},
		{name: "SaturdayNoHours", cal: calendarIn(ccs, splitWeek()), day: day(ccs, 2026, 11, 28), count: 0},
		{name: "SundayNoHours", cal: calendarIn(ccs, splitWeek()), day: day(ccs, 2026, 11, 29), count: 0},
		{name: "Weekday1IsMonday", cal: calendarIn(ccs, oneDay(1, "09:00", "10:00")), day: mon, count: 2, first: "09:00", last: "09:30", lastEnds: "10:00"},
		{name: "Weekday1NotTuesday", cal: calendarIn(ccs, oneDay(1, "09:00", "10:00")), day: day(ccs, 2026, 12, 1), count: 0},
		{name: "Weekday6IsSaturday", cal: calendarIn(ccs, oneDay(6, "09:00", "10:00")), day: day(ccs, 2026, 11, 28), count: 2, first: "09:00", last: "09:30", lastEnds: "10:00"},
		{name: "Weekday7IsSunday", cal: calendarIn(ccs, oneDay(7, "09:00", "10:00")), day: day(ccs, 2026, 11, 29), count: 2, first: "09:00", last: "09:30", lastEnds: "10:00"},
		{name: "Weekday7NotMonday", cal: calendarIn(ccs, oneDay(7, "09:00", "10:00")), day: mon, count: 0},
		{name: "SlotNotFittingTheEndIsLeftOut", cal: calendarIn(ccs, oneDay(1, "08:00", "09:45")), day: mon, count: 3,
			first: "08:00", last: "09:00", lastEnds: "09:30", absent: "09:30"},
		{name: "IntervalShorterThanASlot", cal: calendarIn(ccs, oneDay(1, "08:00", "08:20")), day: mon, count: 0},
		{name: "IntervalsListedOutOfOrderComeSorted", cal: calendarIn(ccs, []models.OpeningHours{
			{Weekday: 1, Opens: "13:00", Closes: "14:00"}, {Weekday: 1, Opens: "08:00", Closes: "09:00"}}), day: mon, count: 4,
			first: "08:00", last: "13:30", lastEnds: "14:00"},
		{name: "NoSlotLength", cal: models.Calendar{Location: ccs, SlotMinutes: 0, Hours: splitWeek()}, day: mon, count: 0},
		{name: "UTCCentre", cal: calendarIn(time.UTC, splitWeek()), day: day(time.UTC, 2026, 11, 30), count: 16,
			first: "08:00", last: "16:30", lastEnds: "17:00"},
		{name: "LateEveningCrossesUTCMidnight", cal: calendarIn(ccs, oneDay(1, "19:00", "22:00")), day: mon, count: 6,
			first: "19:00", last: "21:30", lastEnds: "22:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cal.SlotsOn(tc.day)
			if len(got) != tc.count {
				t.Fatalf("%d slots, want %d: %v", len(got), tc.count, got)
			}
			loc := tc.cal.Location
			for i, s := range got {
				if s.StartsAt.Location() != time.UTC || s.EndsAt.Location() != time.UTC {
					t.Fatalf("slot %d not in UTC: %v", i, s)
				}
				if s.EndsAt.Sub(s.StartsAt) != 30*time.Minute {
					t.Fatalf("slot %d lasts %v", i, s.EndsAt.Sub(s.StartsAt))
				}
				if i > 0 && !got[i-1].StartsAt.Before(s.StartsAt) {
					t.Fatalf("slots out of order at %d: %v", i, got)
				}
				if l := s.StartsAt.In(loc); l.Format(time.DateOnly) != tc.day.Format(time.DateOnly) {
					t.Fatalf("slot %d is on local date %s, not %s", i, l.Format(time.DateOnly), tc.day.Format(time.DateOnly))
				}
			}
			if tc.count == 0 {
				if got != nil {
					t.Fatalf("want nil, got %v", got)
				}
				return
			}
			if f := got[0].StartsAt.In(loc).Format("15:04"); f != tc.first {
				t.Fatalf("first slot %s, want %s", f, tc.first)
			}
			last := got[len(got)-1]
			if l := last.StartsAt.In(loc).Format("15:04"); l != tc.last {
				t.Fatalf("last slot %s, want %s", l, tc.last)
			}
			if l := last.EndsAt.In(loc).Format("15:04"); l != tc.lastEnds {
				t.Fatalf("last slot ends %s, want %s", l, tc.lastEnds)
			}
			for _, s := range got {
				if tc.absent != "" && s.StartsAt.In(loc).Format("15:04") == tc.absent {
					t.Fatalf("slot at %s should not exist", tc.absent)
				}
			}
		})
	}
}

// The same opening hours mean different instants in Caracas (UTC-4) and at a UTC centre.
func TestCalendarTimeZones(t *testing.T) {
	ccs := caracas(t)
	vet := calendarIn(ccs, splitWeek()).SlotsOn(day(ccs, 2026, 11, 30))
	utc := calendarIn(time.UTC, splitWeek()).SlotsOn(day(time.UTC, 2026, 11, 30))
	if want := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC); !vet[0].StartsAt.Equal(want) {
		t.Fatalf("Caracas 08:00 is %v, want %v", vet[0].StartsAt, want)
	}
	if want := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC); !utc[0].StartsAt.Equal(want) {
		t.Fatalf("UTC 08:00 is %v, want %v", utc[0].StartsAt, want)
	}
	for i := range vet {
		if d := vet[i].StartsAt.Sub(utc[i].StartsAt); d != 4*time.Hour {
			t.Fatalf("slot %d: Caracas is %v after UTC, want 4h", i, d)
		}
	}
	// A Caracas evening slot falls on the next UTC date but belongs to its local day.
	late := calendarIn(ccs, []models.OpeningHours{{Weekday: 1, Opens: "20:00", Closes: "21:00"}}).SlotsOn(day(ccs, 2026, 11, 30))
	if len(late) != 2 || !late[0].StartsAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("late slots %v", late)
	}
}

func TestCalendarSlotAt(t *testing.T) {
	ccs := caracas(t)
	mon := day(ccs, 2026, 11, 30)
	week := calendarIn(ccs, splitWeek(), "2026-12-24")
	utcWeek := calendarIn(time.UTC, splitWeek())
	short := calendarIn(ccs, []models.OpeningHours{{Weekday: 1, Opens: "08:00", Closes: "09:45"}})
	evening := calendarIn(ccs, []models.OpeningHours{{Weekday: 1, Opens: "20:00", Closes: "22:00"}}, "2026-12-07")
	tests := []struct {
		name     string
		cal      models.Calendar
		at       time.Time
		wantCode string // "" for a slot
		wantEnds time.Time
	}{
		{name: "FirstSlot", cal: week, at: clock(mon, 8, 0), wantEnds: clock(mon, 8, 30)},
		{name: "LastSlotBeforeLunch", cal: week, at: clock(mon, 11, 30), wantEnds: clock(mon, 12, 0)},
		{name: "FirstSlotAfterLunch", cal: week, at: clock(mon, 13, 0), wantEnds: clock(mon, 13, 30)},
		{name: "LastSlot", cal: week, at: clock(mon, 16, 30), wantEnds: clock(mon, 17, 0)},
		{name: "SameInstantWrittenInUTC", cal: week, at: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), wantEnds: clock(mon, 8, 30)},
		{name: "SameInstantWrittenInAnotherOffset", cal: week, at: time.Date(2026, 11, 30, 7, 0, 0, 0, time.FixedZone("COT", -5*3600)), wantEnds: clock(mon, 8, 30)},
		{name: "InsideASlot", cal: week, at: clock(mon, 8, 15), wantCode: "not_a_slot_start"},
		{name: "SecondsAfterAStart", cal: week, at: clock(mon, 8, 0).Add(30 * time.Second), wantCode: "not_a_slot_start"},
		{name: "InsideTheLastSlot", cal: week, at: clock(mon, 16, 59), wantCode: "not_a_slot_start"},
		{name: "BeforeOpening", cal: week, at: clock(mon, 7, 30), wantCode: "outside_opening_hours"},
		{name: "AtClosing", cal: week, at: clock(mon, 17, 0), wantCode: "outside_opening_hours"},
		{name: "LunchBreak", cal: week, at: clock(mon, 12, 30), wantCode: "outside_opening_hours"},
		{name: "LunchBreakStart", cal: week, at: clock(mon, 12, 0), wantCode: "outside_opening_hours"},
		{name: "Saturday", cal: week, at: clock(day(ccs, 2026, 11, 28), 8, 0), wantCode: "outside_opening_hours"},
		{name: "Sunday", cal: week, at: clock(day(ccs, 2026, 11, 29), 10, 0), wantCode: "outside_opening_hours"},
		{name: "ClosedDay", cal: week, at: clock(day(ccs, 2026, 12, 24), 8, 0), wantCode: "outside_opening_hours"},
		{name: "ClosedDayInsideASlot", cal: week, at: clock(day(ccs, 2026, 12, 24), 8, 10), wantCode: "outside_opening_hours"},
		{name: "TailThatFitsNoSlot", cal: short, at: clock(mon, 9, 30), wantCode: "outside_opening_hours"},
		{name: "LastFittingSlot", cal: short, at: clock(mon, 9, 0), wantEnds: clock(mon, 9, 30)},
		// 08:00 UTC is 04:00 in Caracas: closed there, open at a UTC centre.
		{name: "CaracasCentreAt0800UTC", cal: week, at: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), wantCode: "outside_opening_hours"},
		{name: "UTCCentreAt0800UTC", cal: utcWeek, at: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
			wantEnds: time.Date(2026, 11, 30, 8, 30, 0, 0, time.UTC)},
		{name: "UTCCentreAt1200UTCIsLunch", cal: utcWeek, at: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), wantCode: "outside_opening_hours"},
		// Monday 21:30 in Caracas is Tuesday 01:30 UTC: the local weekday decides.
		{name: "LocalWeekdayNotUTCWeekday", cal: evening, at: time.Date(2026, 12, 1, 1, 30, 0, 0, time.UTC),
			wantEnds: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)},
		// Monday 7 December is closed; its 21:30 slot (Tuesday in UTC) with it.
		{name: "LocalClosedDayNotUTCDate", cal: evening, at: time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC), wantCode: "outside_opening_hours"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.cal.SlotAt(tc.at)
			if tc.wantCode != "" {
				e, ok := models.AsError(err)
				if !ok {
					t.Fatalf("got %v, %v; want %s", s, err, tc.wantCode)
				}
				if e.Kind != models.KindUnprocessable || e.Code != tc.wantCode {
					t.Fatalf("got kind %v code %s, want unprocessable %s", e.Kind, e.Code, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.StartsAt.Equal(tc.at) || !s.EndsAt.Equal(tc.wantEnds) || s.StartsAt.Location() != time.UTC {
				t.Fatalf("slot %v – %v, want %v – %v in UTC", s.StartsAt, s.EndsAt, tc.at.UTC(), tc.wantEnds.UTC())
			}
		})
	}
}

func TestCalendarSlotContaining(t *testing.T) {
	ccs := caracas(t)
	mon := day(ccs, 2026, 11, 30)
	week := calendarIn(ccs, splitWeek(), "2026-12-24")
	tests := []struct {
		name      string
		at        time.Time
		wantOpen  bool
		wantStart time.Time
	}{
		{name: "AtAStart", at: clock(mon, 8, 0), wantOpen: true, wantStart: clock(mon, 8, 0)},
		{name: "InsideASlot", at: clock(mon, 8, 10), wantOpen: true, wantStart: clock(mon, 8, 0)},
		{name: "BoundaryBelongsToTheNextSlot", at: clock(mon, 8, 30), wantOpen: true, wantStart: clock(mon, 8, 30)},
		{name: "LastMomentOfTheDay", at: clock(mon, 16, 59), wantOpen: true, wantStart: clock(mon, 16, 30)},
		{name: "GivenInUTC", at: time.Date(2026, 11, 30, 13, 45, 0, 0, time.UTC), wantOpen: true, wantStart: clock(mon, 9, 30)},
		{name: "BeforeOpening", at: clock(mon, 7, 59)},
		{name: "LunchBreak", at: clock(mon, 12, 30)},
		{name: "AtClosing", at: clock(mon, 17, 0)},
		{name: "Saturday", at: clock(day(ccs, 2026, 11, 28), 10, 0)},
		{name: "ClosedDay", at: clock(day(ccs, 2026, 12, 24), 10, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, open := week.SlotContaining(tc.at)
			if open != tc.wantOpen {
				t.Fatalf("open = %v, want %v (%v)", open, tc.wantOpen, s)
			}
			if open && (!s.StartsAt.Equal(tc.wantStart) || !s.EndsAt.Equal(tc.wantStart.Add(30*time.Minute))) {
				t.Fatalf("slot %v – %v, want start %v", s.StartsAt, s.EndsAt, tc.wantStart)
			}
		})
	}
}
