package models

import (
	"encoding/json"
	"time"
)

// RepairStatus is where a repair order is in its life.
type RepairStatus string

// The repair order states of SPEC.md.
const (
	RepairOpen      RepairStatus = "open"
	RepairCertified RepairStatus = "certified"
	RepairAbandoned RepairStatus = "abandoned"
)

// The outcomes a certificate states.
const (
	OutcomeRepaired = "repaired"
	OutcomeSwapped  = "swapped"
)

// The results a test of the checklist can have.
const (
	TestPass          = "pass"
	TestFail          = "fail"
	TestNotApplicable = "na"
)

// RepairOrder is the work on a handset, opened at check-in.
type RepairOrder struct {
	ID                 string          `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	TicketID           string          `json:"-"`
	TicketNumber       string          `json:"ticket_number" gorm:"-"`
	AppointmentID      string          `json:"appointment_id"`
	CentreID           string          `json:"-"`
	CentreCode         string          `json:"centre_code" gorm:"-"`
	Status             RepairStatus    `json:"status"`
	ReceivedIMEI       string          `json:"received_imei" gorm:"column:received_imei"`
	IMEIMismatchReason *string         `json:"imei_mismatch_reason,omitempty" gorm:"column:imei_mismatch_reason"`
	ReceivedCondition  string          `json:"received_condition"`
	Accessories        json.RawMessage `json:"accessories" gorm:"type:jsonb"`
	Diagnosis          string          `json:"diagnosis"`
	// CorrectiveActions are stored as [{code, text}]; the view adds the catalogue names.
	CorrectiveActions json.RawMessage `json:"-" gorm:"type:jsonb"`
	Actions           []ActionView    `json:"corrective_actions" gorm:"-"`
	Tests             []TestView      `json:"tests" gorm:"-"`
	// Checklist sums up the tests against what certification needs.
	Checklist    *Checklist   `json:"checklist,omitempty" gorm:"-"`
	CheckedInBy  *string      `json:"-"`
	TechnicianID *string      `json:"-"`
	Technician   *string      `json:"technician" gorm:"-"`
	Outcome      *string      `json:"outcome"`
	CertifiedAt  *time.Time   `json:"certified_at"`
	Certificate  *Certificate `json:"certificate,omitempty" gorm:"-"`
	// Swap is the order's live swap, else its latest undone one.
	Swap      *Swap     `json:"swap,omitempty" gorm:"-"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StoredAction is one corrective action as a repair order keeps it: an item of the
// catalogue, free text, or an item with a note.
type StoredAction struct {
	Code string `json:"code,omitempty"`
	Text string `json:"text,omitempty"`
}

// ActionView is a corrective action with the catalogue's names.
type ActionView struct {
	StoredAction
	NameES string `json:"name_es,omitempty"`
	NameEN string `json:"name_en,omitempty"`
}

// Label is how a document in lang prints the action.
func (a ActionView) Label(lang string) string {
	name := a.NameES
	if lang == "en" {
		name = a.NameEN
	}
	switch {
	case name == "":
		return a.Text
	case a.Text == "":
		return name
	}
	return name + ": " + a.Text
}

// TestView is one test of the checklist with its result, if recorded.
type TestView struct {
	Code       string     `json:"code"`
	NameES     string     `json:"name_es"`
	NameEN     string     `json:"name_en"`
	Mandatory  bool       `json:"mandatory"`
	Result     *string    `json:"result"`
	Note       string     `json:"note,omitempty"`
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
}

// Checklist says how far the tests are from allowing certification.
type Checklist struct {
	Recorded int `json:"recorded"`
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	// Missing are the mandatory tests without a result; NotPassed those recorded as
	// failed or not applicable, which keep the outcome "repaired" out.
	Missing   []string `json:"missing"`
	NotPassed []string `json:"not_passed"`
}

// CatalogueItem is a test or a corrective action of the catalogues. Mandatory is set for
// tests only.
type CatalogueItem struct {
	Code      string    `json:"code"`
	NameES    string    `json:"name_es"`
	NameEN    string    `json:"name_en"`
	Mandatory *bool     `json:"mandatory,omitempty"`
	Active    bool      `json:"active"`
	Position  int       `json:"position"`
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Certificate is an issued repair certificate. Its PDF is stored at issue and served
// identically every time.
type Certificate struct {
	Number           string     `json:"certificate_number"`
	Status           string     `json:"status"` // valid or void
	VerificationCode string     `json:"verification_code"`
	VerificationURL  string     `json:"verification_url"`
	PDFURL           string     `json:"pdf_url"`
	PDFSHA256        string     `json:"pdf_sha256"`
	RepairID         string     `json:"repair_id"`
	TicketNumber     string     `json:"ticket_number"`
	CentreCode       string     `json:"centre_code"`
	Outcome          string     `json:"outcome"`
	DeviceModel      string     `json:"device_model"`
	Technician       string     `json:"technician"`
	IssuedAt         time.Time  `json:"issued_at"`
	VoidedAt         *time.Time `json:"voided_at,omitempty"`
	VoidReason       *string    `json:"void_reason,omitempty"`
}

// Document is a PDF as it was stored when issued: served byte for byte, its hash the
// proof that it never changed.
type Document struct {
	Name   string // the file name offered, e.g. CCS-01-2026-000042.pdf
	SHA256 string
	Body   []byte
}

// The states a certificate shows.
const (
	CertificateValid = "valid"
	CertificateVoid  = "void"
)

// Verification is what anyone holding a certificate may learn of it: nothing personal.
type Verification struct {
	Status      string     `json:"status"`
	Number      string     `json:"certificate_number"`
	IssuedAt    time.Time  `json:"issued_at"`
	CentreCode  string     `json:"centre_code"`
	CentreName  string     `json:"centre_name"`
	DeviceModel string     `json:"device_model"`
	Outcome     string     `json:"outcome"`
	VoidedAt    *time.Time `json:"voided_at,omitempty"`
	// TimeZone is the centre's, for showing the dates.
	TimeZone string `json:"time_zone"`
}

// ActionInput is one corrective action: a catalogue code, free text, or both.
type ActionInput struct {
	Code string `json:"code" validate:"omitempty,catalogue_code"`
	Text string `json:"text" validate:"omitempty,notblank,max=500"`
}

// RepairUpdate edits the technician's findings; nil fields stay as they are.
type RepairUpdate struct {
	Diagnosis         *string        `json:"diagnosis" validate:"omitempty,max=4000"`
	CorrectiveActions *[]ActionInput `json:"corrective_actions" validate:"omitempty,max=30,dive"`
	Version           *int           `json:"version" validate:"required,min=1"`
}

// TestResultInput is the result of one test of the checklist.
type TestResultInput struct {
	Code   string `json:"code" validate:"required,catalogue_code"`
	Result string `json:"result" validate:"required,oneof=pass fail na"`
	Note   string `json:"note" validate:"max=500"`
}

// TestResultsUpdate is the checklist as it stands: tests left out have no result.
type TestResultsUpdate struct {
	Results []TestResultInput `json:"results" validate:"max=100,dive"`
	Version *int              `json:"version" validate:"required,min=1"`
}

// CertifyInput closes a repair with its outcome. Lang picks the certificate's language
// (Spanish unless "en").
type CertifyInput struct {
	Outcome string `json:"outcome" validate:"required,oneof=repaired swapped"`
	Lang    string `json:"lang" validate:"omitempty,oneof=es en"`
}

// CatalogueInput creates an item of a catalogue (Version nil) or edits one.
type CatalogueInput struct {
	NameES    string `json:"name_es" validate:"required,notblank,max=100"`
	NameEN    string `json:"name_en" validate:"required,notblank,max=100"`
	Mandatory *bool  `json:"mandatory"`
	Active    *bool  `json:"active"`
	Position  *int   `json:"position" validate:"omitempty,min=0,max=10000"`
	Version   *int   `json:"version" validate:"omitempty,min=1"`
}
