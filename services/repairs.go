package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"centros/models"
	"centros/pdf"

	"gorm.io/gorm"
)

// Repairs is the bench: the technician's findings, the test checklist, certification
// and the certificates.
type Repairs struct {
	Deps
	publicBaseURL string
}

// NewRepairs builds the repairs service; publicBaseURL is the base of the verification
// links printed on certificates.
func NewRepairs(d Deps, publicBaseURL string) *Repairs {
	return &Repairs{Deps: d, publicBaseURL: strings.TrimRight(publicBaseURL, "/")}
}

// repairCtx is a repair order locked with its ticket and centre.
type repairCtx struct {
	r      models.RepairOrder
	ticket *models.Ticket
	centre *CentreView
}

// lockRepair locks the ticket of a repair order the caller may see, then the order: the
// order of check-in and of Tickets.Cancel, so that they wait for each other.
func lockRepair(tx *gorm.DB, p models.Principal, id string) (*repairCtx, error) {
	if !validUUID(id) {
		return nil, models.NotFound("repair order")
	}
	var ticketID string
	q := tx.Table("repair_orders").Select("repair_orders.ticket_id").
		Joins("JOIN centres ON centres.id = repair_orders.centre_id").Scopes(centreScope(p))
	if err := q.Where("repair_orders.id = ?", id).Take(&ticketID).Error; err != nil {
		return nil, notFoundIf(err, "repair order")
	}
	var rc repairCtx
	rc.ticket = new(models.Ticket)
	if err := loadTicket(tx.Clauses(lockForUpdate("tickets")), rc.ticket, "tickets.id = ?", ticketID); err != nil {
		return nil, err
	}
	if err := tx.Clauses(lockForUpdate()).Table("repair_orders").Where("id = ?", id).Take(&rc.r).Error; err != nil {
		return nil, notFoundIf(err, "repair order")
	}
	var err error
	if rc.centre, err = loadCentre(tx, "centres.id = ?", rc.r.CentreID); err != nil {
		return nil, err
	}
	rc.r.TicketNumber, rc.r.CentreCode = rc.ticket.TicketNumber, rc.centre.Code
	return &rc, nil
}

func (rc *repairCtx) mustBeOpen() error {
	if rc.r.Status != models.RepairOpen {
		return models.Errorf(models.KindConflict, "repair_not_open", "the repair order is %s; it can no longer be changed", rc.r.Status)
	}
	return nil
}

// Get returns a repair order with its checklist and certificate. Errors: not found.
func (s *Repairs) Get(ctx context.Context, p models.Principal, id string) (*models.RepairOrder, error) {
	if err := authorize(p, actReadRepair); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("repair order")
	}
	var out *models.RepairOrder
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var row struct {
			models.RepairOrder
			JoinedTicketNumber, JoinedCentreCode string
		}
		q := tx.Table("repair_orders").Select("repair_orders.*, t.ticket_number AS joined_ticket_number, centres.code AS joined_centre_code").
			Joins("JOIN centres ON centres.id = repair_orders.centre_id").Joins("JOIN tickets t ON t.id = repair_orders.ticket_id").
			Scopes(centreScope(p))
		if err := q.Where("repair_orders.id = ?", id).Take(&row).Error; err != nil {
			return notFoundIf(err, "repair order")
		}
		out = &row.RepairOrder
		out.TicketNumber, out.CentreCode = row.JoinedTicketNumber, row.JoinedCentreCode
		return s.fillView(tx, out)
	})
	return out, err
}

// fillView adds what the view of a repair order shows besides its row.
func (s *Repairs) fillView(tx *gorm.DB, r *models.RepairOrder) error {
	var err error
	if r.Tests, err = loadTests(tx, r.ID); err != nil {
		return err
	}
	r.Checklist = summarise(r.Tests)
	if r.Actions, err = actionViews(tx, r.CorrectiveActions); err != nil {
		return err
	}
	if r.TechnicianID != nil {
		var name string
		if err := tx.Raw("SELECT name FROM users WHERE id = ?", *r.TechnicianID).Scan(&name).Error; err != nil {
			return err
		}
		r.Technician = &name
	}
	if r.Swap, err = loadSwap(tx, "s.repair_id = ?", r.ID); err != nil && models.ErrorCode(err) != "not_found" {
		return err
	}
	certs, err := s.certificates(tx, "c.repair_id = ?", r.ID)
	if err != nil {
		return err
	}
	// The valid certificate, else the latest voided one.
	for i := range certs {
		if r.Certificate == nil || certs[i].Status == models.CertificateValid {
			r.Certificate = &certs[i]
		}
	}
	return nil
}

// loadTests is the checklist of a repair: every active test of the catalogue, and retired
// ones that have a result. A retired test is no longer mandatory.
func loadTests(tx *gorm.DB, repairID string) ([]models.TestView, error) {
	var tests []models.TestView
	err := tx.Raw(`SELECT c.code, c.name_es, c.name_en, c.mandatory AND c.active AS mandatory,
			r.result, COALESCE(r.note, '') AS note, r.recorded_at
		FROM test_catalogue c LEFT JOIN repair_tests r ON r.code = c.code AND r.repair_id = ?
		WHERE c.active OR r.result IS NOT NULL ORDER BY c.position, c.code`, repairID).Scan(&tests).Error
	return tests, err
}

func summarise(tests []models.TestView) *models.Checklist {
	c := &models.Checklist{Missing: []string{}, NotPassed: []string{}}
	for _, t := range tests {
		if t.Result == nil {
			if t.Mandatory {
				c.Missing = append(c.Missing, t.Code)
			}
			continue
		}
		c.Recorded++
		switch *t.Result {
		case models.TestPass:
			c.Passed++
		case models.TestFail:
			c.Failed++
		}
		if t.Mandatory && *t.Result != models.TestPass {
			c.NotPassed = append(c.NotPassed, t.Code)
		}
	}
	return c
}

func actionViews(tx *gorm.DB, stored json.RawMessage) ([]models.ActionView, error) {
	var actions []models.StoredAction
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &actions); err != nil {
			return nil, fmt.Errorf("corrective actions: %w", err)
		}
	}
	views := make([]models.ActionView, len(actions))
	var codes []string
	for i, a := range actions {
		views[i].StoredAction = a
		if a.Code != "" {
			codes = append(codes, a.Code)
		}
	}
	if len(codes) == 0 {
		return views, nil
	}
	var names []struct{ Code, NameES, NameEN string }
	if err := tx.Raw("SELECT code, name_es, name_en FROM corrective_action_catalogue WHERE code IN ?", codes).Scan(&names).Error; err != nil {
		return nil, err
	}
	for i := range views {
		for _, n := range names {
			if n.Code == views[i].Code {
				views[i].NameES, views[i].NameEN = n.NameES, n.NameEN
			}
		}
	}
	return views, nil
}

// Update edits the diagnosis and corrective actions of an open repair order.
// Errors: not found, conflict (version_conflict, repair_not_open), invalid,
// unprocessable (unknown_action).
func (s *Repairs) Update(ctx context.Context, p models.Principal, id string, in models.RepairUpdate) (*models.RepairOrder, error) {
	return s.work(ctx, p, id, in.Version, "repair_update", func(tx *gorm.DB, rc *repairCtx) (map[string]any, error) {
		set := map[string]any{}
		if in.Diagnosis != nil {
			set["diagnosis"] = strings.TrimSpace(*in.Diagnosis)
		}
		if in.CorrectiveActions != nil {
			actions, err := checkActions(tx, *in.CorrectiveActions, rc.r.CorrectiveActions)
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(actions)
			set["corrective_actions"] = string(b)
		}
		return set, nil
	})
}

// checkActions refuses an action that is neither a catalogue item nor text, and codes the
// catalogue does not offer; an action retired since the order recorded it may stay.
func checkActions(tx *gorm.DB, in []models.ActionInput, stored json.RawMessage) ([]models.StoredAction, error) {
	var kept []models.StoredAction
	if err := json.Unmarshal(stored, &kept); err != nil {
		return nil, fmt.Errorf("corrective actions: %w", err)
	}
	actions := make([]models.StoredAction, len(in))
	var codes []string
	for i, a := range in {
		if a.Code == "" && strings.TrimSpace(a.Text) == "" {
			return nil, models.Invalid(models.FieldError{Field: fmt.Sprintf("corrective_actions[%d]", i), Rule: "code_or_text",
				Message: "must name a catalogue action (code) or describe it (text)"})
		}
		actions[i] = models.StoredAction{Code: a.Code, Text: strings.TrimSpace(a.Text)}
		if a.Code != "" {
			codes = append(codes, a.Code)
		}
	}
	if len(codes) == 0 {
		return actions, nil
	}
	var known []string
	if err := tx.Raw("SELECT code FROM corrective_action_catalogue WHERE active AND code IN ?", codes).Scan(&known).Error; err != nil {
		return nil, err
	}
	for _, k := range kept {
		known = append(known, k.Code)
	}
	var fields []models.FieldError
	for i, a := range actions {
		if a.Code != "" && !slices.Contains(known, a.Code) {
			fields = append(fields, models.FieldError{Field: fmt.Sprintf("corrective_actions[%d].code", i), Rule: "catalogue",
				Message: fmt.Sprintf("%q is not an action of the catalogue", a.Code)})
		}
	}
	if fields != nil {
		return nil, &models.Error{Kind: models.KindUnprocessable, Code: "unknown_action", Message: "some corrective actions are not in the catalogue", Fields: fields}
	}
	return actions, nil
}

// RecordTests sets the checklist of an open repair order to the results given: a test
// left out has no result. A result that does not change keeps when it was recorded.
// Errors: not found, conflict (version_conflict, repair_not_open), invalid,
// unprocessable (unknown_test).
func (s *Repairs) RecordTests(ctx context.Context, p models.Principal, id string, in models.TestResultsUpdate) (*models.RepairOrder, error) {
	seen := map[string]bool{}
	for i, r := range in.Results {
		if seen[r.Code] {
			return nil, models.Invalid(models.FieldError{Field: fmt.Sprintf("results[%d].code", i), Rule: "unique", Message: fmt.Sprintf("%q appears more than once", r.Code)})
		}
		seen[r.Code] = true
	}
	return s.work(ctx, p, id, in.Version, "record_tests", func(tx *gorm.DB, rc *repairCtx) (map[string]any, error) {
		// A test retired since it was recorded on this order may keep its result.
		var active []string
		if err := tx.Raw("SELECT code FROM test_catalogue WHERE active OR code IN (SELECT code FROM repair_tests WHERE repair_id = ?)",
			rc.r.ID).Scan(&active).Error; err != nil {
			return nil, err
		}
		var fields []models.FieldError
		for i, r := range in.Results {
			if !slices.Contains(active, r.Code) {
				fields = append(fields, models.FieldError{Field: fmt.Sprintf("results[%d].code", i), Rule: "catalogue",
					Message: fmt.Sprintf("%q is not a test of the catalogue", r.Code)})
			}
		}
		if fields != nil {
			return nil, &models.Error{Kind: models.KindUnprocessable, Code: "unknown_test", Message: "some results name tests that are not in the catalogue", Fields: fields}
		}
		results := make([]models.TestResultInput, len(in.Results))
		for i, r := range in.Results {
			results[i] = models.TestResultInput{Code: r.Code, Result: r.Result, Note: strings.TrimSpace(r.Note)}
		}
		b, _ := json.Marshal(results)
		err := tx.Exec(`WITH input AS (SELECT * FROM jsonb_to_recordset(CAST(@results AS jsonb)) AS x(code text, result text, note text)),
				gone AS (DELETE FROM repair_tests WHERE repair_id = @repair AND code NOT IN (SELECT code FROM input))
			INSERT INTO repair_tests (repair_id, code, result, note, recorded_by, recorded_at)
			SELECT @repair, code, result, note, CAST(@by AS uuid), @now FROM input
			ON CONFLICT (repair_id, code) DO UPDATE SET result = EXCLUDED.result, note = EXCLUDED.note,
				recorded_by = EXCLUDED.recorded_by, recorded_at = EXCLUDED.recorded_at
			WHERE (repair_tests.result, repair_tests.note) IS DISTINCT FROM (EXCLUDED.result, EXCLUDED.note)`,
			map[string]any{"results": string(b), "repair": rc.r.ID, "by": userOrNil(p), "now": s.now()}).Error
		return map[string]any{}, err
	})
}

func userOrNil(p models.Principal) any {
	if p.UserID == "" {
		return nil
	}
	return p.UserID
}

// work runs an edit of an open repair order at the stated version: change returns the
// columns to set; the version, the technician and the audit entry follow.
func (s *Repairs) work(ctx context.Context, p models.Principal, id string, version *int, name string,
	change func(tx *gorm.DB, rc *repairCtx) (map[string]any, error)) (*models.RepairOrder, error) {
	if err := authorize(p, actWorkRepair); err != nil {
		return nil, err
	}
	var out *models.RepairOrder
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		rc, err := lockRepair(tx, p, id)
		if err != nil {
			return err
		}
		if err := rc.mustBeOpen(); err != nil {
			return err
		}
		if err := checkVersion("the repair order", rc.r.Version, *version); err != nil {
			return err
		}
		before, err := s.snapshot(tx, rc)
		if err != nil {
			return err
		}
		set, err := change(tx, rc)
		if err != nil {
			return err
		}
		if err := s.touch(tx, p, rc, set); err != nil {
			return err
		}
		if err := s.fillView(tx, &rc.r); err != nil {
			return err
		}
		out = &rc.r
		return audit(ctx, tx, p, name, "repair_order", rc.r.ID, &rc.centre.ID, before, out)
	})
	return out, err
}

// snapshot is the repair order as the audit log's "before" shows it.
func (s *Repairs) snapshot(tx *gorm.DB, rc *repairCtx) (*models.RepairOrder, error) {
	before := rc.r
	if err := s.fillView(tx, &before); err != nil {
		return nil, err
	}
	before.Certificate, before.Swap = nil, nil
	return &before, nil
}

// touch writes set with the next version; whoever works on a repair order last is its
// technician.
func (s *Repairs) touch(tx *gorm.DB, p models.Principal, rc *repairCtx, set map[string]any) error {
	set["version"] = rc.r.Version + 1
	set["updated_at"] = s.now()
	if p.UserID != "" {
		set["technician_id"] = p.UserID
	}
	if err := tx.Table("repair_orders").Where("id = ?", rc.r.ID).Updates(set).Error; err != nil {
		return err
	}
	if err := tx.Table("repair_orders").Where("id = ?", rc.r.ID).Take(&rc.r).Error; err != nil {
		return err
	}
	rc.r.TicketNumber, rc.r.CentreCode = rc.ticket.TicketNumber, rc.centre.Code
	return nil
}

// Certify closes an open repair order with its outcome and issues the certificate: the
// next number of the centre and year, the PDF stored with its hash, the ticket resolved,
// the appointment completed and the ticket.resolved event, in one transaction.
// Errors: not found, conflict (repair_not_open), unprocessable (tests_incomplete,
// tests_failed, diagnosis_missing, actions_missing, swap_required, swap_failed, swap_active).
func (s *Repairs) Certify(ctx context.Context, p models.Principal, id string, in models.CertifyInput) (*models.Certificate, error) {
	if err := authorize(p, actWorkRepair); err != nil {
		return nil, err
	}
	var out *models.Certificate
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		rc, err := lockRepair(tx, p, id)
		if err != nil {
			return err
		}
		if err := rc.mustBeOpen(); err != nil {
			return err
		}
		before, err := s.snapshot(tx, rc)
		if err != nil {
			return err
		}
		if err := certifiable(before, in.Outcome); err != nil {
			return err
		}
		backup, err := swapOf(tx, rc.r.ID)
		if _, refused := models.AsError(err); err != nil && !refused {
			return err
		}
		switch {
		case in.Outcome == models.OutcomeRepaired && (backup != nil || err != nil):
			return models.Errorf(models.KindUnprocessable, "swap_active", "the customer's line is on a backup device; certify as swapped, or undo the swap")
		case err != nil:
			return err
		case in.Outcome == models.OutcomeSwapped && backup == nil:
			return models.Errorf(models.KindUnprocessable, "swap_required", "no backup device has been assigned to this repair; swap first")
		}
		now := s.now()
		if err := s.touch(tx, p, rc, map[string]any{"status": models.RepairCertified, "outcome": in.Outcome, "certified_at": now}); err != nil {
			return err
		}
		if err := setTicket(tx, now, rc.ticket, map[string]any{"status": models.TicketResolved, "outcome": in.Outcome, "resolved_at": now}); err != nil {
			return err
		}
		if err := completeVisit(tx, rc.r.AppointmentID, now); err != nil {
			return err
		}
		// The number last: its counter row stays locked until commit, and certifications
		// at the centre queue on it.
		cert, err := s.issue(tx, p, rc, before, backup, in, now)
		if err != nil {
			return err
		}
		if _, err := RecordEvent(tx, rc.ticket, models.EventTicketResolved, resolvedEvent(rc, before, cert, now)); err != nil {
			return err
		}
		out = cert
		return audit(ctx, tx, p, "certify", "certificate", cert.Number, &rc.centre.ID, nil, cert)
	})
	return out, err
}

// certifiable applies SPEC.md's rule: every mandatory test has a result and, for
// "repaired", has passed; and there is something to certify.
func certifiable(r *models.RepairOrder, outcome string) error {
	c := r.Checklist
	if len(c.Missing) > 0 {
		return &models.Error{Kind: models.KindUnprocessable, Code: "tests_incomplete",
			Message: fmt.Sprintf("%d mandatory tests have no result: %s", len(c.Missing), strings.Join(c.Missing, ", ")),
			Fields:  []models.FieldError{{Field: "tests", Rule: "mandatory", Message: "missing: " + strings.Join(c.Missing, ", ")}}}
	}
	if outcome == models.OutcomeRepaired && len(c.NotPassed) > 0 {
		return &models.Error{Kind: models.KindUnprocessable, Code: "tests_failed",
			Message: fmt.Sprintf("a repaired handset must pass every mandatory test; not passed: %s", strings.Join(c.NotPassed, ", ")),
			Fields:  []models.FieldError{{Field: "tests", Rule: "passed", Message: "not passed: " + strings.Join(c.NotPassed, ", ")}}}
	}
	if strings.TrimSpace(r.Diagnosis) == "" {
		return &models.Error{Kind: models.KindUnprocessable, Code: "diagnosis_missing", Message: "write the diagnosis before certifying",
			Fields: []models.FieldError{{Field: "diagnosis", Rule: "required", Message: "is required to certify"}}}
	}
	if outcome == models.OutcomeRepaired && len(r.Actions) == 0 {
		return &models.Error{Kind: models.KindUnprocessable, Code: "actions_missing", Message: "record what was done to repair the handset before certifying",
			Fields: []models.FieldError{{Field: "corrective_actions", Rule: "required", Message: "at least one is required to certify a repair"}}}
	}
	return nil
}

// completeVisit ends the visit the repair began with; the slot counts active
// appointments only.
func completeVisit(tx *gorm.DB, appointmentID string, now time.Time) error {
	var a models.Appointment
	res := tx.Clauses(lockForUpdate()).Where("id = ? AND status = 'checked_in'", appointmentID).Find(&a)
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	if err := release(tx, a.CentreID, a.StartsAt); err != nil {
		return err
	}
	return tx.Exec("UPDATE appointments SET status = 'completed', version = version + 1, updated_at = ? WHERE id = ?", now, a.ID).Error
}

// nextCertificateNumber takes the next number of the centre and year. The counter row
// stays locked until commit, so concurrent certifications take consecutive numbers, and a
// rollback returns the number with the row.
func nextCertificateNumber(tx *gorm.DB, centreID string, year int) (int, error) {
	var seq int
	err := tx.Raw(`INSERT INTO certificate_counters (centre_id, year, last) VALUES (?, ?, 1)
		ON CONFLICT (centre_id, year) DO UPDATE SET last = certificate_counters.last + 1 RETURNING last`, centreID, year).Scan(&seq).Error
	return seq, err
}

// verificationAlphabet is Crockford's base 32: no I, L, O or U to misread.
const verificationAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newVerificationCode draws 60 random bits: a code nobody can guess.
func newVerificationCode() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = verificationAlphabet[b[i]&31]
	}
	return string(b), nil
}

// normaliseVerificationCode reads a code as people type it: any case, with dashes or
// spaces, O for 0 and I or L for 1.
func normaliseVerificationCode(s string) (string, bool) {
	s = strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(strings.ToUpper(s))
	if len(s) != 12 {
		return "", false
	}
	for _, c := range s {
		if !strings.ContainsRune(verificationAlphabet, c) {
			return "", false
		}
	}
	return s, true
}

// FormatVerificationCode groups a code in fours, as documents print it.
func FormatVerificationCode(code string) string {
	if len(code) != 12 {
		return code
	}
	return code[:4] + "-" + code[4:8] + "-" + code[8:]
}

func (s *Repairs) verificationURL(code string) string { return s.publicBaseURL + "/verify/" + code }

func certificatePath(number string) string { return "/api/v1/certificates/" + number + ".pdf" }

// issue numbers, renders and stores the certificate. Everything that can come before
// the number does, since the counter row is held from here to commit.
func (s *Repairs) issue(tx *gorm.DB, p models.Principal, rc *repairCtx, r *models.RepairOrder, backup *pdf.Device,
	in models.CertifyInput, now time.Time) (*models.Certificate, error) {
	code, err := newVerificationCode()
	if err != nil {
		return nil, err
	}
	technician := p.Name
	if technician == "" {
		technician = p.Email
	}
	loc, err := time.LoadLocation(rc.centre.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("centre time zone: %w", err)
	}
	year := now.In(loc).Year()
	seq, err := nextCertificateNumber(tx, rc.centre.ID, year)
	if err != nil {
		return nil, err
	}
	number := fmt.Sprintf("%s-%04d-%06d", rc.centre.Code, year, seq)
	doc := certificateDocument(rc, r, backup, in, now, loc)
	doc.Number, doc.Technician = number, technician
	doc.VerificationCode, doc.VerificationURL = FormatVerificationCode(code), s.verificationURL(code)
	body, err := pdf.RenderCertificate(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	cert := &models.Certificate{Number: number, Status: models.CertificateValid, VerificationCode: code,
		VerificationURL: s.verificationURL(code), PDFURL: certificatePath(number), PDFSHA256: hex.EncodeToString(sum[:]),
		RepairID: rc.r.ID, TicketNumber: rc.ticket.TicketNumber, CentreCode: rc.centre.Code, Outcome: in.Outcome,
		DeviceModel: rc.ticket.Device.Brand + " " + rc.ticket.Device.Model, Technician: technician, IssuedAt: now}
	err = tx.Exec(`INSERT INTO certificates (number, centre_id, year, seq, repair_id, ticket_id, outcome, device_model,
			verification_code, issued_at, issued_by, technician_name, pdf, pdf_sha256)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS uuid), ?, ?, ?)`,
		number, rc.centre.ID, year, seq, rc.r.ID, rc.ticket.ID, in.Outcome, cert.DeviceModel, code, now, userOrNil(p),
		technician, body, cert.PDFSHA256).Error
	return cert, err
}

// certificateDocument gathers what the certificate prints.
func certificateDocument(rc *repairCtx, r *models.RepairOrder, backup *pdf.Device, in models.CertifyInput, now time.Time, loc *time.Location) pdf.Certificate {
	lang := in.Lang
	if lang == "" {
		lang = "es"
	}
	t := rc.ticket
	doc := pdf.Certificate{Lang: lang, IssuedAt: now, Location: loc,
		CentreCode: rc.centre.Code, CentreName: rc.centre.Name, CentreAddress: rc.centre.Address,
		CustomerCompany: t.Customer.Company, CustomerContact: t.Customer.ContactName,
		CustomerPhone: t.Customer.ContactPhone, CustomerEmail: t.Customer.ContactEmail,
		TicketNumber: t.TicketNumber, MSISDN: t.Line.MSISDN,
		Device:        pdf.Device{Brand: t.Device.Brand, Model: t.Device.Model, IMEI: r.ReceivedIMEI},
		FaultCategory: faultCategoryName(t.Fault.Category, lang), FaultDescription: t.Fault.Description,
		Diagnosis: r.Diagnosis, Outcome: in.Outcome, Backup: backup}
	for _, a := range r.Actions {
		doc.CorrectiveActions = append(doc.CorrectiveActions, a.Label(lang))
	}
	for _, tv := range r.Tests {
		if tv.Result == nil {
			continue
		}
		name := tv.NameES
		if lang == "en" {
			name = tv.NameEN
		}
		doc.Tests = append(doc.Tests, pdf.TestResult{Code: tv.Code, Name: name, Result: *tv.Result, Note: tv.Note})
	}
	return doc
}

var faultCategoryNames = map[string][2]string{
	"no_power": {"No enciende", "No power"}, "no_signal": {"Sin señal", "No signal"}, "no_charge": {"No carga", "Does not charge"},
	"audio": {"Audio", "Audio"}, "screen": {"Pantalla", "Screen"}, "keypad": {"Teclado", "Keypad"}, "sim": {"SIM", "SIM"},
	"data": {"Datos móviles", "Mobile data"}, "software": {"Software", "Software"},
	"physical_damage": {"Daño físico", "Physical damage"}, "other": {"Otra", "Other"},
}

func faultCategoryName(category, lang string) string {
	names, ok := faultCategoryNames[category]
	if !ok {
		return category
	}
	if lang == "en" {
		return names[1]
	}
	return names[0]
}

func resolvedEvent(rc *repairCtx, r *models.RepairOrder, cert *models.Certificate, now time.Time) map[string]any {
	actions := make([]map[string]any, len(r.Actions))
	for i, a := range r.Actions {
		actions[i] = map[string]any{"code": a.Code, "name": a.NameES, "text": a.Text}
	}
	results := make([]map[string]any, 0, len(r.Tests))
	for _, t := range r.Tests {
		if t.Result != nil {
			results = append(results, map[string]any{"code": t.Code, "result": *t.Result})
		}
	}
	c := r.Checklist
	return map[string]any{"outcome": cert.Outcome, "certificate_number": cert.Number, "verification_url": cert.VerificationURL,
		"corrective_actions": actions, "diagnosis": r.Diagnosis,
		"test_summary": map[string]any{"recorded": c.Recorded, "passed": c.Passed, "failed": c.Failed,
			"not_applicable": c.Recorded - c.Passed - c.Failed, "results": results},
		"technician": cert.Technician, "resolved_at": now, "within_sla": !now.After(rc.ticket.ReportedAt.Add(models.SLA)),
		"centre": rc.centre.Code, "repair_id": rc.r.ID}
}

// certificateRow is a certificate as stored, with its centre.
type certificateRow struct {
	Number, VerificationCode, RepairID, TicketNumber string
	PDFSHA256                                        string `gorm:"column:pdf_sha256"`
	CentreCode, CentreName, TimeZone, Outcome        string
	DeviceModel, TechnicianName                      string
	IssuedAt                                         time.Time
	VoidedAt                                         *time.Time
	VoidReason                                       *string
}

func (s *Repairs) view(c certificateRow) models.Certificate {
	status := models.CertificateValid
	if c.VoidedAt != nil {
		status = models.CertificateVoid
	}
	return models.Certificate{Number: c.Number, Status: status, VerificationCode: c.VerificationCode,
		VerificationURL: s.verificationURL(c.VerificationCode), PDFURL: certificatePath(c.Number), PDFSHA256: c.PDFSHA256,
		RepairID: c.RepairID, TicketNumber: c.TicketNumber, CentreCode: c.CentreCode, Outcome: c.Outcome,
		DeviceModel: c.DeviceModel, Technician: c.TechnicianName, IssuedAt: c.IssuedAt.UTC(), VoidedAt: c.VoidedAt, VoidReason: c.VoidReason}
}

const certificateColumns = `c.number, c.verification_code, c.pdf_sha256, c.repair_id, t.ticket_number,
	centres.code AS centre_code, centres.name AS centre_name, centres.time_zone, c.outcome, c.device_model,
	c.technician_name, c.issued_at, c.voided_at, c.void_reason`

func (s *Repairs) certificates(tx *gorm.DB, where string, args ...any) ([]models.Certificate, error) {
	var rows []certificateRow
	err := tx.Table("certificates c").Select(certificateColumns).
		Joins("JOIN centres ON centres.id = c.centre_id").Joins("JOIN tickets t ON t.id = c.ticket_id").
		Where(where, args...).Order("c.issued_at").Scan(&rows).Error
	certs := make([]models.Certificate, len(rows))
	for i, r := range rows {
		certs[i] = s.view(r)
	}
	return certs, err
}

// CertificatePDF returns a certificate's PDF exactly as issued, with the certificate.
// Errors: not found.
func (s *Repairs) CertificatePDF(ctx context.Context, p models.Principal, number string) (*models.Document, *models.Certificate, error) {
	if err := authorize(p, actReadRepair); err != nil {
		return nil, nil, err
	}
	var doc *models.Document
	var cert *models.Certificate
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		certs, err := s.certificates(tx.Scopes(centreScope(p)), "c.number = ?", number)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return models.NotFound("certificate")
		}
		cert = &certs[0]
		doc = &models.Document{Name: cert.Number + ".pdf", SHA256: cert.PDFSHA256}
		return tx.Raw("SELECT pdf FROM certificates WHERE number = ?", number).Row().Scan(&doc.Body)
	})
	return doc, cert, err
}

// Void voids a valid certificate with a reason. The repair order opens again so that a
// corrected certificate can be issued, and the ticket goes back in service; CSM learns
// it by the certificate.voided event.
// Errors: not found, conflict (certificate_void).
func (s *Repairs) Void(ctx context.Context, p models.Principal, number, reason string) (*models.Certificate, error) {
	if err := authorize(p, actVoidCertificate); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return nil, models.Invalid(models.FieldError{Field: "reason", Rule: "required", Message: "say why, in 1 to 500 characters"})
	}
	var out *models.Certificate
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		certs, err := s.certificates(tx.Scopes(centreScope(p)), "c.number = ?", number)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return models.NotFound("certificate")
		}
		rc, err := lockRepair(tx, p, certs[0].RepairID)
		if err != nil {
			return err
		}
		// Read again under the ticket's lock: a concurrent void may have won.
		if certs, err = s.certificates(tx.Clauses(lockForUpdate("c")), "c.number = ?", number); err != nil {
			return err
		}
		before := certs[0]
		if before.Status == models.CertificateVoid {
			return models.Errorf(models.KindConflict, "certificate_void", "certificate %s was voided on %s", number, before.VoidedAt.Format(time.RFC3339))
		}
		now := s.now()
		if err := tx.Exec("UPDATE certificates SET voided_at = ?, void_reason = ?, voided_by = CAST(? AS uuid) WHERE number = ?",
			now, reason, userOrNil(p), number).Error; err != nil {
			return err
		}
		after := before
		after.Status, after.VoidedAt, after.VoidReason = models.CertificateVoid, &now, &reason
		if rc.r.Status == models.RepairCertified {
			if err := tx.Exec(`UPDATE repair_orders SET status = 'open', outcome = NULL, certified_at = NULL, version = version + 1, updated_at = ?
				WHERE id = ?`, now, rc.r.ID).Error; err != nil {
				return err
			}
		}
		ticketStatus := rc.ticket.Status
		if ticketStatus == models.TicketResolved || ticketStatus == models.TicketClosed {
			ticketStatus = models.TicketInService
			if err := setTicket(tx, now, rc.ticket, map[string]any{"status": ticketStatus, "outcome": nil, "resolved_at": nil, "closed_at": nil}); err != nil {
				return err
			}
		}
		if _, err := RecordEvent(tx, rc.ticket, models.EventCertificateVoided, map[string]any{"certificate_number": number, "reason": reason,
			"voided_at": now, "repair_id": rc.r.ID, "centre": rc.centre.Code, "ticket_status": ticketStatus}); err != nil {
			return err
		}
		out = &after
		return audit(ctx, tx, p, "void", "certificate", number, &rc.centre.ID, before, after)
	})
	return out, err
}

// Verify tells anyone holding a certificate whether it is valid, and nothing personal.
// Errors: not found.
func (s *Repairs) Verify(ctx context.Context, code string) (*models.Verification, error) {
	code, ok := normaliseVerificationCode(code)
	if !ok {
		return nil, models.NotFound("certificate")
	}
	var certs []certificateRow
	err := s.DB.WithContext(ctx).Table("certificates c").Select(certificateColumns).
		Joins("JOIN centres ON centres.id = c.centre_id").Joins("JOIN tickets t ON t.id = c.ticket_id").
		Where("c.verification_code = ?", code).Scan(&certs).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(certs) == 0 {
		return nil, models.NotFound("certificate")
	}
	c := certs[0]
	v := &models.Verification{Status: models.CertificateValid, Number: c.Number, IssuedAt: c.IssuedAt.UTC(), CentreCode: c.CentreCode,
		CentreName: c.CentreName, DeviceModel: c.DeviceModel, Outcome: c.Outcome, VoidedAt: c.VoidedAt, TimeZone: c.TimeZone}
	if c.VoidedAt != nil {
		v.Status = models.CertificateVoid
	}
	return v, nil
}
