package pdf

import (
	"fmt"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
)

// Certificate is everything a repair certificate prints.
type Certificate struct {
	Lang              string // "es" (default when empty) or "en"
	Number            string // e.g. "CCS-01-2026-000042"
	IssuedAt          time.Time
	Location          *time.Location // the centre's time zone; dates are shown in it (nil → UTC)
	CentreCode        string
	CentreName        string
	CentreAddress     string
	CustomerCompany   string
	CustomerContact   string
	CustomerPhone     string
	CustomerEmail     string
	TicketNumber      string
	MSISDN            string // E.164, e.g. +584161234567
	Device            Device // the customer's handset
	FaultCategory     string
	FaultDescription  string
	Diagnosis         string
	CorrectiveActions []string
	Tests             []TestResult
	Outcome           string  // "repaired" or "swapped"
	Backup            *Device // the backup device the line moved to, for "swapped"
	Technician        string
	VerificationCode  string // short code printed under the QR
	VerificationURL   string // what the QR encodes (PUBLIC_BASE_URL + "/verify/" + code)
}

// Device identifies a handset.
type Device struct{ Brand, Model, IMEI string }

// TestResult is one check the technician ran, as the tests table prints it.
type TestResult struct {
	Code, Name string // Name already in the document's language
	Result     string // "pass", "fail" or "na"
	Note       string
}

// certLabels is the certificate's fixed wording in one language.
type certLabels struct {
	title, number, issued, ticket, line                    string
	customer, company, contact, phone, email               string
	device, brand, model, imei                             string
	fault, category, description, diagnosis, actions       string
	tests, testName, testResult, testNote                  string
	pass, fail, na                                         string
	outcome, repaired, swapped, backup, technician         string
	sigTechnician, sigCustomer, verify, pageOf, dateLayout string
}

var certES = certLabels{
	title: "Certificado de reparación", number: "Certificado N.º", issued: "Emitido",
	ticket: "Ticket", line: "Línea",
	customer: "Cliente", company: "Empresa", contact: "Contacto", phone: "Teléfono", email: "Correo",
	device: "Equipo", brand: "Marca", model: "Modelo", imei: "IMEI",
	fault: "Falla reportada", category: "Categoría", description: "Descripción",
	diagnosis: "Diagnóstico", actions: "Acciones correctivas",
	tests: "Pruebas realizadas", testName: "Prueba", testResult: "Resultado", testNote: "Observación",
	pass: "Aprobada", fail: "Fallida", na: "No aplica",
	outcome: "Resultado", repaired: "Reparado", swapped: "Reemplazado por equipo de respaldo",
	backup: "Equipo de respaldo", technician: "Técnico",
	sigTechnician: "Firma del técnico", sigCustomer: "Firma del cliente",
	verify: "Verifique este certificado en %s", pageOf: pageOfES,
	dateLayout: dateLayoutES,
}

var certEN = certLabels{
	title: "Repair certificate", number: "Certificate No.", issued: "Issued",
	ticket: "Ticket", line: "Line",
	customer: "Customer", company: "Company", contact: "Contact", phone: "Phone", email: "Email",
	device: "Device", brand: "Brand", model: "Model", imei: "IMEI",
	fault: "Reported fault", category: "Category", description: "Description",
	diagnosis: "Diagnosis", actions: "Corrective actions",
	tests: "Tests performed", testName: "Test", testResult: "Result", testNote: "Note",
	pass: "Pass", fail: "Fail", na: "N/A",
	outcome: "Outcome", repaired: "Repaired", swapped: "Replaced with a backup device",
	backup: "Backup device", technician: "Technician",
	sigTechnician: "Technician's signature", sigCustomer: "Customer's signature",
	verify: "Verify this certificate at %s", pageOf: pageOfEN,
	dateLayout: dateLayoutEN,
}

func certLabelsFor(lang string) *certLabels {
	if isEnglish(lang) {
		return &certEN
	}
	return &certES
}

func (l *certLabels) result(r string) string {
	switch r {
	case "pass":
		return l.pass
	case "fail":
		return l.fail
	case "na":
		return l.na
	}
	return orDash(r)
}

func (l *certLabels) outcomeText(o string) string {
	switch o {
	case "repaired":
		return l.repaired
	case "swapped":
		return l.swapped
	}
	return orDash(o)
}

// RenderCertificate returns the certificate as an A4 PDF.
func RenderCertificate(c Certificate) ([]byte, error) {
	lb := certLabelsFor(c.Lang)
	loc := zoneOr(c.Location)
	p := newDoc(lb.title+" "+c.Number, c.IssuedAt, lb.title+" "+oneLine(orDash(c.Number)), lb.pageOf)

	certHeader(p, lb, c, loc)
	p.columns(marginX, append(heading(p, lb.customer, colW),
		kvLines(p, colW, 22, []kv{
			{lb.company, c.CustomerCompany}, {lb.contact, c.CustomerContact},
			{lb.phone, c.CustomerPhone}, {lb.email, c.CustomerEmail},
		})...),
		marginX+colW+colGap, append(heading(p, lb.device, colW),
			kvLines(p, colW, 22, []kv{
				{lb.brand, c.Device.Brand}, {lb.model, c.Device.Model}, {lb.imei, c.Device.IMEI},
			})...))
	p.y += sectionGap

	p.flow(marginX, append(heading(p, lb.fault, contentW), kvLines(p, contentW, 26, []kv{
		{lb.category, c.FaultCategory}, {lb.description, c.FaultDescription},
	})...))
	p.y += sectionGap

	p.flow(marginX, append(heading(p, lb.diagnosis, contentW), paragraph(p, c.Diagnosis, contentW)...))
	p.y += sectionGap

	p.flow(marginX, append(heading(p, lb.actions, contentW), bullets(p, c.CorrectiveActions, contentW)...))
	p.y += sectionGap

	testsTable(p, lb, c.Tests)
	p.y += sectionGap

	outcome := append(heading(p, lb.outcome, colW), outcomeLines(p, lb, c)...)
	var backup []line
	if c.Backup != nil || c.Outcome == "swapped" {
		var d Device
		if c.Backup != nil {
			d = *c.Backup
		}
		backup = append(heading(p, lb.backup, colW), kvLines(p, colW, 22, []kv{
			{lb.brand, d.Brand}, {lb.model, d.Model}, {lb.imei, d.IMEI},
		})...)
	}
	p.columns(marginX, outcome, marginX+colW+colGap, backup)
	p.y += sectionGap + 2

	if err := certClosing(p, lb, c); err != nil {
		return nil, fmt.Errorf("render certificate: %w", err)
	}

	return p.output("certificate")
}

func certHeader(p *page, lb *certLabels, c Certificate, loc *time.Location) {
	docHeader(p, lb.title, &letterhead{c.CentreCode, c.CentreName, c.CentreAddress}, 24, []kv{
		{lb.number, c.Number},
		{lb.issued, issuedText(c.IssuedAt, loc, lb.dateLayout)},
		{lb.ticket, c.TicketNumber},
		{lb.line, c.MSISDN},
	})
}

func bullets(p *page, items []string, w float64) []line {
	const indent = 5.0
	if len(items) == 0 {
		return paragraph(p, "", w)
	}
	bullet := p.enc("•")
	var out []line
	for _, it := range items {
		for i, s := range p.wrap(p.enc(oneLine(orDash(it))), w-indent, "", sizeBody) {
			first := i == 0
			out = append(out, line{h: lhBody, draw: func(x, y float64) {
				p.setFont("", sizeBody, colText)
				if first {
					p.text(x+1, y, indent-1, lhBody, bullet, "L")
				}
				p.text(x+indent, y, w-indent, lhBody, s, "L")
			}})
		}
	}
	return out
}

func outcomeLines(p *page, lb *certLabels, c Certificate) []line {
	var out []line
	for _, s := range p.wrap(p.enc(lb.outcomeText(c.Outcome)), colW, "B", 10.5) {
		out = append(out, line{h: 5.5, draw: func(x, y float64) {
			p.setFont("B", 10.5, colText)
			p.text(x, y, colW, 5.5, s, "L")
		}})
	}
	out = append(out, line{h: 1, draw: func(float64, float64) {}})
	return append(out, kvLines(p, colW, 22, []kv{{lb.technician, c.Technician}})...)
}

// testsTable prints one row per test, the result coloured by outcome.
func testsTable(p *page, lb *certLabels, tests []TestResult) {
	cols := []column{{w: 62, head: lb.testName}, {w: 26, head: lb.testResult}, {w: contentW - 62 - 26, head: lb.testNote}}
	rows := make([][]cell, 0, len(tests))
	for _, t := range tests {
		col := colMuted
		switch t.Result {
		case "pass":
			col = colPass
		case "fail":
			col = colFail
		}
		rows = append(rows, []cell{
			textCell(p, t.Name, cols[0].w, "", colText),
			{lines: p.wrap(p.enc(lb.result(t.Result)), cols[1].w-3, "B", sizeTable), style: "B", col: col},
			textCell(p, t.Note, cols[2].w, "", colText),
		})
	}
	table(p, lb.tests, cols, rows)
}

// certClosing draws the signature lines and the verification QR as one block
// so they are never separated by a page break.
func certClosing(p *page, lb *certLabels, c Certificate) error {
	var bitmap [][]bool
	if url := strings.TrimSpace(c.VerificationURL); url != "" {
		q, err := qrcode.New(url, qrcode.Medium)
		if err != nil {
			return fmt.Errorf("qr code: %w", err)
		}
		bitmap = q.Bitmap() // with its quiet zone, so nothing printed nearby confuses a scanner
	}

	const leftW = contentW - qrSize - 8
	verify := p.wrap(p.enc(fmt.Sprintf(lb.verify, oneLine(orDash(c.VerificationURL)))), leftW, "", sizeLabel)
	h := max(qrSize+5, sigSpace+12+float64(len(verify))*3.8)
	p.ensure(h)
	top := p.y
	f := p.f

	signatureLines(p, marginX, top+sigSpace, leftW, lb.sigTechnician, lb.sigCustomer)
	y := top + sigSpace + 10
	for _, s := range verify {
		p.setFont("", sizeLabel, colMuted)
		p.text(marginX, y, leftW, 3.8, s, "L")
		y += 3.8
	}

	qx := pageW - marginX - qrSize
	drawQR(f, qx, top, qrSize, bitmap)
	p.setFont("B", 9.5, colText)
	p.text(qx, top+qrSize, qrSize, 5, p.enc(oneLine(orDash(c.VerificationCode))), "C")
	p.y = top + h
	return nil
}
