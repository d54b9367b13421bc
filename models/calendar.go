package models

import (
	"time"
)

// Calendar is what decides a centre's slots: its time zone, weekly opening intervals,
// slot length and closed days.
type Calendar struct {
	Location    *time.Location
	SlotMinutes int
	// Hours holds each weekday's intervals (1 Monday … 7 Sunday) as "HH:MM".
	Hours  []OpeningHours
	Closed map[string]bool // "2006-01-02" in the centre's time zone
}

// Slot is one appointment slot, in UTC.
type Slot struct {
	StartsAt time.Time
	EndsAt   time.Time
}

// isoWeekday numbers days as the calendar does: Monday 1 … Sunday 7.
func isoWeekday(t time.Time) int { return (int(t.Weekday())+6)%7 + 1 }

// minutesOf reads "HH:MM" (or "HH:MM:SS") as minutes after midnight.
func minutesOf(hhmm string) int {
	if len(hhmm) < 5 {
		return 0
	}
	d := func(c byte) int { return int(c - '0') }
	return (d(hhmm[0])*10+d(hhmm[1]))*60 + d(hhmm[3])*10 + d(hhmm[4])
}

// SlotsOn lists the slots of a local date (its year, month and day are read in the
// centre's time zone), in time order.
func (c Calendar) SlotsOn(day time.Time) []Slot {
	y, m, d := day.Date()
	date := time.Date(y, m, d, 0, 0, 0, 0, c.Location)
	if c.Closed[date.Format(time.DateOnly)] || c.SlotMinutes <= 0 {
		return nil
	}
	var out []Slot
	wd := isoWeekday(date)
	for _, h := range c.Hours {
		if h.Weekday != wd {
			continue
		}
		closes := minutesOf(h.Closes)
		for start := minutesOf(h.Opens); start+c.SlotMinutes <= closes; start += c.SlotMinutes {
			s := time.Date(y, m, d, start/60, start%60, 0, 0, c.Location)
			out = append(out, Slot{StartsAt: s.UTC(), EndsAt: s.Add(time.Duration(c.SlotMinutes) * time.Minute).UTC()})
		}
	}
	sortSlots(out)
	return out
}

func sortSlots(s []Slot) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].StartsAt.Before(s[j-1].StartsAt); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// SlotAt returns the slot that starts exactly at t, or an unprocessable error saying why
// there is none: a closed day, outside the opening hours, or not on a slot boundary.
func (c Calendar) SlotAt(t time.Time) (Slot, error) {
	local := t.In(c.Location)
	if c.Closed[local.Format(time.DateOnly)] {
		return Slot{}, Errorf(KindUnprocessable, "outside_opening_hours", "the centre is closed on %s", local.Format(time.DateOnly))
	}
	onBoundary := false
	for _, s := range c.SlotsOn(local) {
		if s.StartsAt.Equal(t) {
			return s, nil
		}
		if !t.Before(s.StartsAt) && t.Before(s.EndsAt) {
			onBoundary = true
		}
	}
	if onBoundary {
		return Slot{}, Errorf(KindUnprocessable, "not_a_slot_start", "appointments start on the %d-minute slots of the centre", c.SlotMinutes)
	}
	return Slot{}, Errorf(KindUnprocessable, "outside_opening_hours", "the centre is not open at %s", local.Format("2006-01-02 15:04"))
}

// SlotContaining returns the slot running at t, if the centre is open then.
func (c Calendar) SlotContaining(t time.Time) (Slot, bool) {
	for _, s := range c.SlotsOn(t.In(c.Location)) {
		if !t.Before(s.StartsAt) && t.Before(s.EndsAt) {
			return s, true
		}
	}
	return Slot{}, false
}
