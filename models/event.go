package models

import (
	"encoding/json"
	"time"
)

// EventType names an outcome CSM must learn (CSM-CONTRACT.md).
type EventType string

// The callback event types of the CSM contract.
const (
	EventAppointmentBooked       EventType = "appointment.booked"
	EventAppointmentRescheduled  EventType = "appointment.rescheduled"
	EventAppointmentCancelled    EventType = "appointment.cancelled"
	EventAppointmentNoShow       EventType = "appointment.no_show"
	EventTicketInService         EventType = "ticket.in_service"
	EventSwapServiceChangeReqstd EventType = "swap.service_change_requested"
	EventTicketResolved          EventType = "ticket.resolved"
	EventCertificateVoided       EventType = "certificate.voided"
	// EventSwapUndone is ours, added to the contract: a swap was reversed before CSM
	// confirmed it, so the line stays on the customer's handset.
	EventSwapUndone EventType = "swap.undone"
)

// DeliveryStatus is how far an event's delivery to CSM has got.
type DeliveryStatus string

// The delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryDead      DeliveryStatus = "dead"
)

// Event is one callback for CSM, written in the same transaction as the change it
// reports. Position is the order of writing; Sequence, global and increasing in commit
// order, is given when the event is published after its transaction commits (0 until
// then).
type Event struct {
	Position       int64           `json:"-" gorm:"primaryKey;->"`
	Sequence       int64           `json:"sequence" gorm:"->"`
	ID             string          `json:"id"`
	Type           EventType       `json:"type"`
	TicketID       string          `json:"-"`
	TicketNumber   string          `json:"ticket_number"`
	OccurredAt     time.Time       `json:"occurred_at"`
	Data           json.RawMessage `json:"data" gorm:"type:jsonb"`
	DeliveryStatus DeliveryStatus  `json:"delivery_status"`
	Attempts       int             `json:"attempts"`
	DeliveredAt    *time.Time      `json:"delivered_at"`
}

// TableName keeps GORM on the table the migrations create.
func (Event) TableName() string { return "csm_events" }
