package models

import "time"

// The kinds of inventory unit.
const (
	UnitBackup = "backup"
	UnitFaulty = "faulty"
)

// The states of a unit: backup devices go in_transit → in_stock → assigned (with a
// customer); faulty handsets go received (at the centre) → in_return → returned (at the
// warehouse), or handed_back to their customer when a swap is undone.
const (
	UnitInTransit  = "in_transit"
	UnitInStock    = "in_stock"
	UnitAssigned   = "assigned"
	UnitReceived   = "received"
	UnitInReturn   = "in_return"
	UnitReturned   = "returned"
	UnitHandedBack = "handed_back"
)

// The places a unit can be.
const (
	AtCentre    = "centre"
	AtWarehouse = "warehouse"
	InTransit   = "in_transit"
	AtCustomer  = "customer"
)

// Unit is one physical handset a centre or warehouse holds or has held, keyed by IMEI.
type Unit struct {
	ID            string     `json:"id"`
	IMEI          string     `json:"imei"`
	Brand         string     `json:"brand"`
	Model         string     `json:"model"`
	Kind          string     `json:"kind"`
	State         string     `json:"state"`
	Location      string     `json:"location"`
	CentreCode    *string    `json:"centre_code"`
	WarehouseCode *string    `json:"warehouse_code"`
	TicketNumber  *string    `json:"ticket_number"`
	Version       int        `json:"version"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	Movements     []Movement `json:"movements,omitempty" gorm:"-"`
}

// Movement is one entry of the stock ledger: who moved a unit, when, from where to
// where, why, and for which ticket, swap, shipment or request.
type Movement struct {
	ID                int64     `json:"id"`
	At                time.Time `json:"at"`
	Reason            string    `json:"reason"`
	Kind              string    `json:"kind"`
	FromState         *string   `json:"from_state"`
	FromLocation      *string   `json:"from_location"`
	FromCentreCode    *string   `json:"from_centre_code"`
	FromWarehouseCode *string   `json:"from_warehouse_code"`
	ToState           string    `json:"to_state"`
	ToLocation        string    `json:"to_location"`
	ToCentreCode      *string   `json:"to_centre_code"`
	ToWarehouseCode   *string   `json:"to_warehouse_code"`
	TicketNumber      *string   `json:"ticket_number"`
	SwapID            *string   `json:"swap_id"`
	ReturnID          *string   `json:"return_id"`
	RestockID         *string   `json:"restock_id"`
	ActorKind         string    `json:"actor_kind"`
	ActorName         *string   `json:"actor_name"`
	Note              *string   `json:"note"`
}

// ModelStock is a centre's backup stock of one model against its minimum.
type ModelStock struct {
	Model     string `json:"model"`
	InStock   int    `json:"in_stock"`
	InTransit int    `json:"in_transit"`
	// Requested is what the centre's open restock request still asks for.
	Requested int `json:"requested"`
	Minimum   int `json:"minimum"`
	// Shortfall is how far in_stock is under the minimum.
	Shortfall int `json:"shortfall"`
}

// StockView is what a centre holds: backup devices by model against the minimums, and
// the faulty handsets waiting to go back or on their way.
type StockView struct {
	CentreCode     string       `json:"centre_code"`
	Backup         []ModelStock `json:"backup"`
	FaultyReceived int          `json:"faulty_received"`
	FaultyInReturn int          `json:"faulty_in_return"`
	// Assigned counts backup devices this centre handed to customers.
	Assigned int `json:"assigned"`
}

// The service-change states of a swap (CSM confirms or fails it; an undone swap gave the
// backup device back to stock).
const (
	SwapRequested = "requested"
	SwapConfirmed = "confirmed"
	SwapFailed    = "failed"
	SwapUndone    = "undone"
)

// Swap moved a customer's line from their faulty handset onto a backup device.
type Swap struct {
	ID             string     `json:"swap_id"`
	Reference      string     `json:"reference"`
	RepairID       string     `json:"repair_id"`
	TicketNumber   string     `json:"ticket_number"`
	CentreCode     string     `json:"centre_code"`
	MSISDN         string     `json:"msisdn"`
	FaultyIMEI     string     `json:"faulty_imei"`
	FaultyModel    string     `json:"faulty_model"`
	BackupIMEI     string     `json:"backup_imei"`
	BackupBrand    string     `json:"backup_brand"`
	BackupModel    string     `json:"backup_model"`
	Status         string     `json:"status"`
	Detail         *string    `json:"detail"`
	Requests       int        `json:"requests"`
	Technician     string     `json:"technician"`
	EndorsementURL string     `json:"endorsement_url"`
	CreatedAt      time.Time  `json:"created_at"`
	SettledAt      *time.Time `json:"settled_at"`
	UndoneAt       *time.Time `json:"undone_at,omitempty"`
	UndoReason     *string    `json:"undo_reason,omitempty"`
	Version        int        `json:"version"`
}

// The states of a return shipment.
const (
	ReturnDraft                     = "draft"
	ReturnDispatched                = "dispatched"
	ReturnReceived                  = "received"
	ReturnReceivedWithDiscrepancies = "received_with_discrepancies"
)

// ReturnItem is a faulty unit in a return shipment.
type ReturnItem struct {
	IMEI         string  `json:"imei"`
	Brand        string  `json:"brand"`
	Model        string  `json:"model"`
	State        string  `json:"state"`
	TicketNumber *string `json:"ticket_number"`
	// Endorsement is the reference of the swap that took the unit in.
	Endorsement *string `json:"endorsement"`
	SwapID      *string `json:"swap_id"`
}

// Discrepancy is a unit missing from, unexpected in or damaged in a received shipment,
// open until someone resolves it with a note.
type Discrepancy struct {
	ID         string     `json:"id"`
	IMEI       string     `json:"imei"`
	Kind       string     `json:"kind"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	Resolution *string    `json:"resolution"`
}

// ReturnShipment carries a centre's faulty units back to its business unit's warehouse.
type ReturnShipment struct {
	ID             string        `json:"id"`
	Reference      string        `json:"reference"`
	CentreCode     string        `json:"centre_code"`
	WarehouseCode  string        `json:"warehouse_code"`
	Status         string        `json:"status"`
	Items          []ReturnItem  `json:"items" gorm:"-"`
	Discrepancies  []Discrepancy `json:"discrepancies" gorm:"-"`
	Missing        []string      `json:"missing" gorm:"-"`
	Unexpected     []string      `json:"unexpected" gorm:"-"`
	Damaged        []string      `json:"damaged" gorm:"-"`
	DispatchedAt   *time.Time    `json:"dispatched_at"`
	DispatchedBy   *string       `json:"dispatched_by"`
	ReceivedAt     *time.Time    `json:"received_at"`
	PackingListURL *string       `json:"packing_list_url"`
	Version        int           `json:"version"`
	CreatedAt      time.Time     `json:"created_at"`
}

// The states of a restock request.
const (
	RestockOpen      = "open"
	RestockFulfilled = "fulfilled"
	RestockReceived  = "received"
	RestockRejected  = "rejected"
)

// RestockLine asks for a quantity of a model, for a swap, for a shortfall under the
// minimum, or by hand.
type RestockLine struct {
	Model    string  `json:"model"`
	Quantity int     `json:"quantity"`
	Origin   string  `json:"origin"`
	SwapID   *string `json:"swap_id"`
}

// RestockUnit is a unit the warehouse shipped for a request.
type RestockUnit struct {
	IMEI       string     `json:"imei"`
	Model      string     `json:"model"`
	ShippedAt  time.Time  `json:"shipped_at"`
	ReceivedAt *time.Time `json:"received_at"`
}

// RestockRequest is a centre's request to its warehouse for backup devices.
type RestockRequest struct {
	ID            string        `json:"id"`
	Reference     string        `json:"reference"`
	CentreCode    string        `json:"centre_code"`
	WarehouseCode string        `json:"warehouse_code"`
	Status        string        `json:"status"`
	Lines         []RestockLine `json:"lines" gorm:"-"`
	Units         []RestockUnit `json:"units" gorm:"-"`
	Note          *string       `json:"note"`
	RejectReason  *string       `json:"reject_reason"`
	CreatedAt     time.Time     `json:"created_at"`
	FulfilledAt   *time.Time    `json:"fulfilled_at"`
	ReceivedAt    *time.Time    `json:"received_at"`
	// LeadTimeHours is from request to the last unit's receipt.
	LeadTimeHours *float64 `json:"lead_time_hours" gorm:"-"`
	Version       int      `json:"version"`
}

// UnitInput registers one unit into a warehouse's or centre's stock.
type UnitInput struct {
	IMEI         string `json:"imei" validate:"required,imei"`
	Brand        string `json:"brand" validate:"required,notblank,max=100"`
	Model        string `json:"model" validate:"required,notblank,max=100"`
	Kind         string `json:"kind" validate:"required,oneof=backup"`
	LocationCode string `json:"location_code" validate:"required,code"`
}

// UnitsInput registers many units of one model by scanning their IMEIs. The IMEIs are
// checked one by one: bad ones are refused with a reason, the rest registered.
type UnitsInput struct {
	Brand        string   `json:"brand" validate:"required,notblank,max=100"`
	Model        string   `json:"model" validate:"required,notblank,max=100"`
	Kind         string   `json:"kind" validate:"required,oneof=backup"`
	LocationCode string   `json:"location_code" validate:"required,code"`
	IMEIs        []string `json:"imeis" validate:"required,min=1,max=1000"`
}

// Refusal is one IMEI of a batch that was not taken, and why.
type Refusal struct {
	IMEI    string `json:"imei"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// UnitsResult is what a batch registration did.
type UnitsResult struct {
	Registered []Unit    `json:"registered"`
	Refused    []Refusal `json:"refused"`
}

// SwapInput picks the backup device: a given IMEI, or any in stock of a model.
type SwapInput struct {
	BackupIMEI string `json:"backup_imei" validate:"omitempty,imei"`
	Model      string `json:"model" validate:"omitempty,notblank,max=100"`
}

// ServiceChangeInput is CSM's answer to a swap's service change.
type ServiceChangeInput struct {
	Status string `json:"status" validate:"required,oneof=confirmed failed"`
	Detail string `json:"detail" validate:"max=1000"`
}

// IMEIsInput is a list of scanned IMEIs.
type IMEIsInput struct {
	IMEIs []string `json:"imeis" validate:"required,min=1,max=1000,dive,required,imei"`
}

// ReceiveReturnInput is what the warehouse scanned out of a return box.
type ReceiveReturnInput struct {
	ScannedIMEIs []string `json:"scanned_imeis" validate:"max=1000,dive,required,imei"`
	DamagedIMEIs []string `json:"damaged_imeis" validate:"max=1000,dive,required,imei"`
}

// ResolveInput closes a discrepancy with what was found or decided. Found, for a
// missing unit, says it turned up at the warehouse after all: it is received there.
type ResolveInput struct {
	Note  string `json:"note" validate:"required,notblank,max=1000"`
	Found bool   `json:"found"`
}

// RestockLineInput asks for a quantity of a model.
type RestockLineInput struct {
	Model    string `json:"model" validate:"required,notblank,max=100"`
	Quantity int    `json:"quantity" validate:"required,min=1,max=1000"`
}

// RestockInput is a manager's request for backup devices.
type RestockInput struct {
	Lines []RestockLineInput `json:"lines" validate:"required,min=1,max=50,dive"`
	Note  string             `json:"note" validate:"max=1000"`
}
