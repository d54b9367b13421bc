package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jung-kurt/gofpdf"
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
	verify: "Verifique este certificado en %s", pageOf: "Página %d de %s",
	dateLayout: "02/01/2006 15:04",
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
	verify: "Verify this certificate at %s", pageOf: "Page %d of %s",
	dateLayout: "2006-01-02 15:04",
}

func certLabelsFor(lang string) *certLabels {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en") {
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

// fileEpoch stamps a certificate that has no issue time: gofpdf would
// otherwise use the current time and the output would differ on every call.
var fileEpoch = time.Unix(0, 0).UTC()

// Font sizes (points) and line heights (millimetres).
const (
	sizeTitle   = 17.0
	sizeHeading = 10.0
	sizeLabel   = 8.0
	sizeBody    = 9.0
	sizeTable   = 8.5
	sizeSmall   = 7.5
	lhBody      = 4.3
	lhTable     = 3.8
	padTable    = 0.7
	colGap      = 6.0
	colW        = (contentW - colGap) / 2
	sectionGap  = 2.5
	qrSize      = 30.0
)

// RenderCertificate returns the certificate as an A4 PDF.
func RenderCertificate(c Certificate) ([]byte, error) {
	lb := certLabelsFor(c.Lang)
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}

	f := gofpdf.New("P", "mm", "A4", "")
	stamp := fileEpoch
	if !c.IssuedAt.IsZero() {
		// UTC so the same instant gives the same bytes whatever zone it came in.
		stamp = c.IssuedAt.UTC()
	}
	f.SetCreationDate(stamp)
	f.SetModificationDate(stamp)
	f.SetProducer(producer, false)
	f.SetCreator(producer, false)
	f.SetTitle(lb.title+" "+c.Number, true)
	f.SetCatalogSort(true)
	f.SetMargins(marginX, marginTop, marginX)
	f.SetCellMargin(0)
	f.SetAutoPageBreak(false, marginBottom)
	f.AliasNbPages("")

	p := newPage(f)
	f.SetFooterFunc(func() { certFooter(p, lb, c.Number) })
	f.AddPage()

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

	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("render certificate: %w", err)
	}
	return buf.Bytes(), nil
}

// issuedText formats the issue time in the centre's zone, naming the zone so a
// reader elsewhere is not misled.
func issuedText(t time.Time, loc *time.Location, layout string) string {
	if t.IsZero() {
		return emptyVal
	}
	t = t.In(loc)
	return t.Format(layout) + " " + zoneLabel(t)
}

// zoneLabel prefers a lettered abbreviation ("UTC", "CET"). Many zones, Caracas
// among them, only have numeric ones ("-04"), and there the zone's name says more.
func zoneLabel(t time.Time) string {
	abbr := t.Format("MST")
	if abbr != "" && strings.IndexFunc(abbr, func(r rune) bool { return !unicode.IsLetter(r) }) < 0 {
		return abbr
	}
	if name := t.Location().String(); strings.Contains(name, "/") {
		return "(" + name + ")"
	}
	return "UTC" + t.Format("-07:00")
}

func certHeader(p *page, lb *certLabels, c Certificate, loc *time.Location) {
	const leftW, rightX = 92.0, 112.0
	rightW := pageW - marginX - rightX
	top := p.y

	y := top
	p.setFont("B", sizeTitle, colAccent)
	p.text(marginX, y, leftW, 8, p.enc(lb.title), "L")
	y += 9
	for _, s := range p.wrap(p.enc(oneLine(orDash(c.CentreName))), leftW, "B", 10.5) {
		p.setFont("B", 10.5, colText)
		p.text(marginX, y, leftW, 5, s, "L")
		y += 5
	}
	sub := oneLine(orDash(c.CentreCode)) + " · " + oneLine(orDash(c.CentreAddress))
	for _, s := range p.wrap(p.enc(sub), leftW, "", sizeLabel+0.5) {
		p.setFont("", sizeLabel+0.5, colMuted)
		p.text(marginX, y, leftW, 4, s, "L")
		y += 4
	}

	yr := top + 1
	for _, l := range kvLines(p, rightW, 24, []kv{
		{lb.number, c.Number},
		{lb.issued, issuedText(c.IssuedAt, loc, lb.dateLayout)},
		{lb.ticket, c.TicketNumber},
		{lb.line, c.MSISDN},
	}) {
		l.draw(rightX, yr)
		yr += l.h
	}

	p.y = max(y, yr) + 3
	p.f.SetDrawColor(colAccent.r, colAccent.g, colAccent.b)
	p.f.SetLineWidth(0.6)
	p.f.Line(marginX, p.y, pageW-marginX, p.y)
	p.y += 4
}

func certFooter(p *page, lb *certLabels, number string) {
	f := p.f
	y := pageH - 11
	f.SetDrawColor(colRule.r, colRule.g, colRule.b)
	f.SetLineWidth(0.2)
	f.Line(marginX, y, pageW-marginX, y)
	p.setFont("", sizeSmall, colMuted)
	p.text(marginX, y+1, contentW/2, 4, p.enc(lb.title+" "+oneLine(orDash(number))), "L")
	// gofpdf swaps the alias for the page count only when writing, so the
	// width is measured with a one-digit stand-in to keep the text right-aligned.
	pg := fmt.Sprintf(lb.pageOf, f.PageNo(), "{nb}")
	w := f.GetStringWidth(p.enc(fmt.Sprintf(lb.pageOf, f.PageNo(), "0")))
	p.text(pageW-marginX-w, y+1, w, 4, p.enc(pg), "L")
}

// heading is a section title with a rule under it, kept with what follows.
func heading(p *page, title string, w float64) []line {
	s := p.enc(title)
	return []line{{h: 7, keep: true, draw: func(x, y float64) {
		p.setFont("B", sizeHeading, colAccent)
		p.text(x, y, w, 5.5, s, "L")
		p.f.SetDrawColor(colRule.r, colRule.g, colRule.b)
		p.f.SetLineWidth(0.25)
		p.f.Line(x, y+5.7, x+w, y+5.7)
	}}}
}

type kv struct{ label, value string }

// kvLines lays out label/value rows; a long value wraps under itself so the
// label column stays clear.
func kvLines(p *page, w, labelW float64, rows []kv) []line {
	var out []line
	for _, r := range rows {
		label := p.enc(r.label)
		for i, s := range p.wrap(p.enc(oneLine(orDash(r.value))), w-labelW, "", sizeBody) {
			first := i == 0
			out = append(out, line{h: lhBody, draw: func(x, y float64) {
				if first {
					p.setFont("", sizeLabel, colMuted)
					p.text(x, y, labelW, lhBody, label, "L")
				}
				p.setFont("", sizeBody, colText)
				p.text(x+labelW, y, w-labelW, lhBody, s, "L")
			}})
		}
	}
	return out
}

// paragraph keeps the writer's own line breaks and wraps the rest.
func paragraph(p *page, text string, w float64) []line {
	var out []line
	for _, s := range p.wrap(p.enc(strings.TrimSpace(orDash(text))), w, "", sizeBody) {
		out = append(out, line{h: lhBody, draw: func(x, y float64) {
			p.setFont("", sizeBody, colText)
			p.text(x, y, w, lhBody, s, "L")
		}})
	}
	return out
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

// testsTable prints one row per test; a row never splits across pages unless
// it alone is taller than a page, and the column header repeats on each page.
func testsTable(p *page, lb *certLabels, tests []TestResult) {
	widths := [3]float64{62, 26, contentW - 62 - 26}
	headH := 6.0
	drawHead := func() {
		f := p.f
		f.SetFillColor(colHeadBg.r, colHeadBg.g, colHeadBg.b)
		f.Rect(marginX, p.y, contentW, headH, "F")
		p.setFont("B", sizeTable, colAccent)
		x := marginX
		for i, h := range []string{lb.testName, lb.testResult, lb.testNote} {
			p.text(x+1.5, p.y, widths[i]-3, headH, p.enc(h), "L")
			x += widths[i]
		}
		p.y += headH
	}

	type row struct {
		cells [3][]string
		col   rgb
	}
	rows := make([]row, 0, len(tests))
	for _, t := range tests {
		var r row
		r.cells[0] = p.wrap(p.enc(oneLine(orDash(t.Name))), widths[0]-3, "", sizeTable)
		r.cells[1] = p.wrap(p.enc(lb.result(t.Result)), widths[1]-3, "B", sizeTable)
		r.cells[2] = p.wrap(p.enc(oneLine(orDash(t.Note))), widths[2]-3, "", sizeTable)
		switch t.Result {
		case "pass":
			r.col = colPass
		case "fail":
			r.col = colFail
		default:
			r.col = colMuted
		}
		rows = append(rows, r)
	}

	title := heading(p, lb.tests, contentW)
	firstH := headH + lhTable + 2*padTable
	if len(rows) == 0 {
		p.flow(marginX, append(title, paragraph(p, "", contentW)...))
		return
	}
	p.ensure(title[0].h + firstH)
	title[0].draw(marginX, p.y)
	p.y += title[0].h
	drawHead()
	p.onBreak = drawHead
	defer func() { p.onBreak = nil }()

	maxLines := int((p.bodyH() - headH - 2*padTable) / lhTable)
	for i, r := range rows {
		n := max(len(r.cells[0]), len(r.cells[1]), len(r.cells[2]))
		if n <= maxLines {
			p.ensure(float64(n)*lhTable + 2*padTable)
		}
		// Segments exist only for a row taller than a page; normally there is one.
		for from := 0; from < n; {
			avail := int((p.bottom() - p.y - 2*padTable) / lhTable)
			if avail < 1 {
				p.breakPage()
				continue
			}
			to := min(n, from+avail)
			h := float64(to-from)*lhTable + 2*padTable
			if i%2 == 1 {
				p.f.SetFillColor(colAltBg.r, colAltBg.g, colAltBg.b)
				p.f.Rect(marginX, p.y, contentW, h, "F")
			}
			x := marginX
			for ci, cell := range r.cells {
				style, col := "", colText
				if ci == 1 {
					style, col = "B", r.col
				}
				p.setFont(style, sizeTable, col)
				for li := from; li < to && li < len(cell); li++ {
					p.text(x+1.5, p.y+padTable+float64(li-from)*lhTable, widths[ci]-3, lhTable, cell[li], "L")
				}
				x += widths[ci]
			}
			p.y += h
			from = to
		}
	}
	p.f.SetDrawColor(colRule.r, colRule.g, colRule.b)
	p.f.SetLineWidth(0.25)
	p.f.Line(marginX, p.y, pageW-marginX, p.y)
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
	const sigY = 20.0
	h := max(qrSize+5, sigY+12+float64(len(verify))*3.8)
	p.ensure(h)
	top := p.y
	f := p.f

	sigW := (leftW - 10) / 2
	f.SetDrawColor(colText.r, colText.g, colText.b)
	f.SetLineWidth(0.3)
	for i, label := range []string{lb.sigTechnician, lb.sigCustomer} {
		x := marginX + float64(i)*(sigW+10)
		f.Line(x, top+sigY, x+sigW, top+sigY)
		p.setFont("", sizeLabel, colMuted)
		p.text(x, top+sigY+1, sigW, 4, p.enc(label), "C")
	}
	y := top + sigY + 10
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
