package models

import "time"

// TicketStatus is where a fault ticket is in its life.
type TicketStatus string

// The ticket states of SPEC.md.
const (
	TicketReferred  TicketStatus = "referred"
	TicketScheduled TicketStatus = "scheduled"
	TicketInService TicketStatus = "in_service"
	TicketResolved  TicketStatus = "resolved"
	TicketClosed    TicketStatus = "closed"
	TicketCancelled TicketStatus = "cancelled"
)

// TicketStatuses lists every state, for validating filters.
var TicketStatuses = []TicketStatus{TicketReferred, TicketScheduled, TicketInService, TicketResolved, TicketClosed, TicketCancelled}

// FaultCategories are the categories CSM files faults under.
var FaultCategories = []string{"no_power", "no_signal", "no_charge", "audio", "screen", "keypad",
	"sim", "data", "software", "physical_damage", "other"}

// SLA is how long after the customer's report a fault must be attended.
const SLA = 24 * time.Hour

// SLAAtRiskWithin is how close to the deadline a ticket counts as at risk.
const SLAAtRiskWithin = 4 * time.Hour

// SLAState says how a ticket stands against its deadline.
type SLAState string

// The SLA states.
const (
	SLAOnTime SLAState = "on_time"
	SLAAtRisk SLAState = "at_risk"
	SLALate   SLAState = "late"
)

// Customer is the corporate customer who reported the fault.
type Customer struct {
	AccountNumber string `json:"account_number"`
	Company       string `json:"company"`
	ContactName   string `json:"contact_name"`
	ContactPhone  string `json:"contact_phone"`
	ContactEmail  string `json:"contact_email"`
}

// Line is the customer's mobile line.
type Line struct {
	MSISDN string `json:"msisdn" gorm:"column:msisdn"`
}

// Device is the handset as CSM knows it.
type Device struct {
	IMEI  string `json:"imei" gorm:"column:imei"`
	Brand string `json:"brand"`
	Model string `json:"model"`
}

// Fault is what the customer reported.
type Fault struct {
	Category    string `json:"category"`
	Description string `json:"description"`
}

// Ticket is a fault ticket referred by CSM; its number is the key everyone quotes.
type Ticket struct {
	ID           string       `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	TicketNumber string       `json:"ticket_number"`
	Status       TicketStatus `json:"status"`
	Outcome      *string      `json:"outcome"`
	ReportedAt   time.Time    `json:"reported_at"`
	SLADueAt     time.Time    `json:"sla_due_at" gorm:"column:sla_due_at"`
	SLAState     SLAState     `json:"sla_state" gorm:"-"`
	CentreID     *string      `json:"-"`
	CentreCode   *string      `json:"centre_code" gorm:"-"`
	Customer     Customer     `json:"customer" gorm:"embedded;embeddedPrefix:customer_"`
	Line         Line         `json:"line" gorm:"embedded;embeddedPrefix:line_"`
	Device       Device       `json:"device" gorm:"embedded;embeddedPrefix:device_"`
	Fault        Fault        `json:"fault" gorm:"embedded;embeddedPrefix:fault_"`
	CancelReason *string      `json:"cancel_reason,omitempty"`
	CancelledAt  *time.Time   `json:"cancelled_at,omitempty"`
	ResolvedAt   *time.Time   `json:"resolved_at,omitempty"`
	ClosedAt     *time.Time   `json:"closed_at,omitempty"`
	// Appointment is the ticket's active appointment, or its latest one.
	Appointment *Appointment `json:"appointment,omitempty" gorm:"-"`
	// Repair is the ticket's latest repair order, with its certificate.
	Repair *RepairSummary `json:"repair,omitempty" gorm:"-"`
	// Swap is the ticket's live swap, else its latest undone one.
	Swap         *Swap     `json:"swap,omitempty" gorm:"-"`
	ReferralHash string    `json:"-"`
	Version      int       `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// SLAStateAt says how the ticket stands against its deadline at now. A ticket that has
// been resolved or cancelled is judged by when that happened, not by the clock.
func (t *Ticket) SLAStateAt(now time.Time) SLAState {
	due := t.ReportedAt.Add(SLA)
	end := now
	finished := false
	if t.ResolvedAt != nil {
		end, finished = *t.ResolvedAt, true
	} else if t.CancelledAt != nil {
		end, finished = *t.CancelledAt, true
	}
	switch {
	case !end.Before(due):
		return SLALate
	case !finished && due.Sub(end) < SLAAtRiskWithin:
		return SLAAtRisk
	default:
		return SLAOnTime
	}
}

// Bookable reports whether the ticket can take an appointment.
func (t *Ticket) Bookable() bool {
	return t.Status == TicketReferred || t.Status == TicketScheduled
}

// RepairSummary is what a ticket shows of its repair order.
type RepairSummary struct {
	ID          string              `json:"id"`
	Status      string              `json:"status"`
	Outcome     *string             `json:"outcome"`
	CertifiedAt *time.Time          `json:"certified_at"`
	Certificate *CertificateSummary `json:"certificate,omitempty"`
}

// CertificateSummary is what a ticket shows of its certificate.
type CertificateSummary struct {
	Number           string `json:"certificate_number"`
	Status           string `json:"status"`
	VerificationCode string `json:"verification_code"`
	PDFURL           string `json:"pdf_url"`
}
