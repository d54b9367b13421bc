package models

import "time"

// AppointmentStatus is where an appointment is in its life.
type AppointmentStatus string

// The appointment states of SPEC.md. Booked and checked-in appointments are active: they
// hold a place at a counter.
const (
	AppointmentBooked    AppointmentStatus = "booked"
	AppointmentCheckedIn AppointmentStatus = "checked_in"
	AppointmentCompleted AppointmentStatus = "completed"
	AppointmentCancelled AppointmentStatus = "cancelled"
	AppointmentNoShow    AppointmentStatus = "no_show"
)

// Appointment is a customer's visit to a centre about one ticket.
type Appointment struct {
	ID           string            `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	TicketID     string            `json:"-"`
	TicketNumber string            `json:"ticket_number" gorm:"-"`
	CentreID     string            `json:"-"`
	CentreCode   string            `json:"centre_code" gorm:"-"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	Status       AppointmentStatus `json:"status"`
	WalkIn       bool              `json:"walk_in"`
	CancelReason *string           `json:"cancel_reason,omitempty"`
	CancelledAt  *time.Time        `json:"cancelled_at,omitempty"`
	NoShowAt     *time.Time        `json:"no_show_at,omitempty"`
	CheckedInAt  *time.Time        `json:"checked_in_at,omitempty"`
	// SLADueAt and WithinSLA say whether the slot falls within the ticket's deadline.
	SLADueAt  time.Time `json:"sla_due_at" gorm:"-"`
	WithinSLA bool      `json:"within_sla" gorm:"-"`
	// RepairID is the repair order check-in opened.
	RepairID  *string   `json:"repair_id,omitempty" gorm:"-"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Active reports whether the appointment holds a place at a counter.
func (a *Appointment) Active() bool {
	return a.Status == AppointmentBooked || a.Status == AppointmentCheckedIn
}

// BookInput books a ticket into a slot.
type BookInput struct {
	TicketNumber string `json:"ticket_number" validate:"required,ticket_number"`
	CentreCode   string `json:"centre_code" validate:"required,code"`
	StartsAt     string `json:"starts_at" validate:"required,rfc3339"`
}

// RescheduleInput moves an appointment to another slot of its centre.
type RescheduleInput struct {
	StartsAt string `json:"starts_at" validate:"required,rfc3339"`
	Version  *int   `json:"version" validate:"omitempty,min=1"`
}

// ReasonInput carries why something was cancelled.
type ReasonInput struct {
	Reason string `json:"reason" validate:"required,notblank,max=500"`
}

// CheckInInput is what the counter records when the customer hands the device over.
type CheckInInput struct {
	ReceivedIMEI       string   `json:"received_imei" validate:"required,imei"`
	IMEIMismatchReason string   `json:"imei_mismatch_reason" validate:"omitempty,notblank,max=500"`
	Condition          string   `json:"condition" validate:"required,notblank,max=1000"`
	Accessories        []string `json:"accessories" validate:"max=20,dive,required,notblank,max=100"`
	// CentreCode says where a walk-in happens; staff of a centre may leave it out.
	CentreCode string `json:"centre_code" validate:"omitempty,code"`
}

// SlotView is a slot as availability shows it.
type SlotView struct {
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Capacity  int       `json:"capacity"`
	Booked    int       `json:"booked"`
	Available int       `json:"available"`
	// WithinSLA is set when availability was asked for a ticket.
	WithinSLA *bool `json:"within_sla,omitempty"`
}

// Alternative is the earliest free in-deadline slot at another centre.
type Alternative struct {
	CentreCode string    `json:"centre_code"`
	CentreName string    `json:"centre_name"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	Available  int       `json:"available"`
}

// Availability is a centre's slots over a range of dates.
type Availability struct {
	CentreCode   string     `json:"centre_code"`
	TimeZone     string     `json:"time_zone"`
	From         string     `json:"from"`
	To           string     `json:"to"`
	TicketNumber string     `json:"ticket_number,omitempty"`
	SLADueAt     *time.Time `json:"sla_due_at,omitempty"`
	Slots        []SlotView `json:"slots"`
	// Alternatives are offered when this centre has no free slot before the deadline.
	Alternatives []Alternative `json:"alternatives,omitempty"`
}

// AgendaEntry is one appointment of a day's agenda with what the counter needs to know.
type AgendaEntry struct {
	Appointment
	Company    string   `json:"company"`
	Contact    string   `json:"contact_name"`
	Device     string   `json:"device"`
	Attendance string   `json:"attendance"` // due, late, checked_in, completed, no_show, cancelled
	SLAState   SLAState `json:"sla_state"`
}
