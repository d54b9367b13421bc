package models

// The inputs of use cases. Their `validate` tags state the rules of form, checked at
// the edge before a service sees them (tags imei, ve_msisdn, code, ticket_number, hhmm,
// date and notblank are the service's own); services check what needs the database.
// Text that services trim is notblank: spaces alone would be stored empty.

// BusinessUnitInput creates a business unit.
type BusinessUnitInput struct {
	Code string `json:"code" validate:"required,code"`
	Name string `json:"name" validate:"required,notblank,max=200"`
}

// WarehouseInput creates a warehouse.
type WarehouseInput struct {
	Code             string `json:"code" validate:"required,code"`
	Name             string `json:"name" validate:"required,notblank,max=200"`
	BusinessUnitCode string `json:"business_unit_code" validate:"required,code"`
}

// OpeningHoursInput is one opening interval on a weekday (1 Monday … 7 Sunday).
type OpeningHoursInput struct {
	Weekday int    `json:"weekday" validate:"required,min=1,max=7"`
	Opens   string `json:"opens" validate:"required,hhmm"`
	Closes  string `json:"closes" validate:"required,hhmm"`
}

// MinStockInput is the least backup stock of a model a centre should hold.
type MinStockInput struct {
	Model    string `json:"model" validate:"required,notblank,max=100"`
	Quantity *int   `json:"quantity" validate:"required,min=0,max=10000"`
}

// CentreInput creates a centre with its calendar.
type CentreInput struct {
	Code             string              `json:"code" validate:"required,code"`
	Name             string              `json:"name" validate:"required,notblank,max=200"`
	Address          string              `json:"address" validate:"max=500"`
	BusinessUnitCode string              `json:"business_unit_code" validate:"required,code"`
	TimeZone         string              `json:"time_zone" validate:"omitempty,max=64,timezone"`
	SlotMinutes      int                 `json:"slot_minutes" validate:"required,min=5,max=240"`
	Counters         int                 `json:"counters" validate:"required,min=1,max=100"`
	OpeningHours     []OpeningHoursInput `json:"opening_hours" validate:"required,min=1,max=28,dive"`
	ClosedDays       []string            `json:"closed_days" validate:"max=400,dive,date"`
	MinBackupStock   []MinStockInput     `json:"min_backup_stock" validate:"max=200,dive"`
}

// CentreUpdate edits a centre; nil fields stay as they are.
type CentreUpdate struct {
	Name           *string              `json:"name" validate:"omitempty,min=1,notblank,max=200"`
	Address        *string              `json:"address" validate:"omitempty,max=500"`
	TimeZone       *string              `json:"time_zone" validate:"omitempty,max=64,timezone"`
	SlotMinutes    *int                 `json:"slot_minutes" validate:"omitempty,min=5,max=240"`
	Counters       *int                 `json:"counters" validate:"omitempty,min=1,max=100"`
	OpeningHours   *[]OpeningHoursInput `json:"opening_hours" validate:"omitempty,min=1,max=28,dive"`
	ClosedDays     *[]string            `json:"closed_days" validate:"omitempty,max=400,dive,date"`
	MinBackupStock *[]MinStockInput     `json:"min_backup_stock" validate:"omitempty,max=200,dive"`
	Version        *int                 `json:"version" validate:"required,min=1"`
}

// UserInput creates a member of staff.
type UserInput struct {
	Email         string `json:"email" validate:"required,max=254,email"`
	Name          string `json:"name" validate:"required,notblank,max=200"`
	Password      string `json:"password" validate:"required,min=10,max=200"`
	Role          Role   `json:"role" validate:"required,oneof=counter technician centre_manager warehouse admin"`
	CentreCode    string `json:"centre_code" validate:"omitempty,code"`
	WarehouseCode string `json:"warehouse_code" validate:"omitempty,code"`
}

// UserUpdate edits a member of staff; nil fields stay as they are.
type UserUpdate struct {
	Name          *string `json:"name" validate:"omitempty,min=1,notblank,max=200"`
	Password      *string `json:"password" validate:"omitempty,min=10,max=200"`
	Role          *Role   `json:"role" validate:"omitempty,oneof=counter technician centre_manager warehouse admin"`
	CentreCode    *string `json:"centre_code" validate:"omitempty,code"`
	WarehouseCode *string `json:"warehouse_code" validate:"omitempty,code"`
	Active        *bool   `json:"active"`
	Version       *int    `json:"version" validate:"required,min=1"`
}

// APIClientInput creates an integration credential.
type APIClientInput struct {
	Name string `json:"name" validate:"required,notblank,max=200"`
	Role Role   `json:"role" validate:"required,oneof=csm"`
}

// Referral is a fault ticket as CSM refers it (CSM-CONTRACT.md).
type Referral struct {
	TicketNumber string `json:"ticket_number" validate:"required,ticket_number"`
	ReportedAt   string `json:"reported_at" validate:"required,rfc3339"`
	CentreCode   string `json:"centre_code" validate:"omitempty,code"`
	Customer     struct {
		AccountNumber string `json:"account_number" validate:"required,notblank,max=40"`
		Company       string `json:"company" validate:"required,notblank,max=200"`
		ContactName   string `json:"contact_name" validate:"required,notblank,max=200"`
		ContactPhone  string `json:"contact_phone" validate:"required,ve_msisdn"`
		ContactEmail  string `json:"contact_email" validate:"omitempty,max=254,email"`
	} `json:"customer" validate:"required"`
	Line struct {
		MSISDN string `json:"msisdn" validate:"required,ve_msisdn"`
	} `json:"line" validate:"required"`
	Device struct {
		IMEI  string `json:"imei" validate:"required,imei"`
		Brand string `json:"brand" validate:"required,notblank,max=100"`
		Model string `json:"model" validate:"required,notblank,max=100"`
	} `json:"device" validate:"required"`
	Fault struct {
		Category    string `json:"category" validate:"required,oneof=no_power no_signal no_charge audio screen keypad sim data software physical_damage other"`
		Description string `json:"description" validate:"required,notblank,max=2000"`
	} `json:"fault" validate:"required"`
}

// CancelInput is CSM's cancellation of a ticket.
type CancelInput struct {
	Reason string `json:"reason" validate:"required,max=500"`
}

// ClosedInput is CSM's acknowledgement that it closed a ticket.
type ClosedInput struct {
	ClosedAt string `json:"closed_at" validate:"required,rfc3339"`
}

// TicketFilter narrows a ticket search.
type TicketFilter struct {
	CentreCode string `form:"centre_code" validate:"omitempty,code"`
	Status     string `form:"status" validate:"omitempty,oneof=referred scheduled in_service resolved closed cancelled"`
	SLAState   string `form:"sla_state" validate:"omitempty,oneof=on_time at_risk late"`
}
