package pdf

import (
	"fmt"
	"time"
)

// Endorsement is the replacement endorsement ("aval del reemplazo"): the
// customer's line moved from a faulty handset to a backup device.
type Endorsement struct {
	Lang                                            string // "es" (default when empty) or "en"
	Reference                                       string // the swap's short reference, printed as the document number, e.g. "AVR-CCS-01-3F2A9C1B"
	IssuedAt                                        time.Time
	Location                                        *time.Location // the centre's time zone; dates are shown in it (nil → UTC)
	CentreCode, CentreName, CentreAddress           string
	TicketNumber                                    string
	CustomerCompany, CustomerContact, CustomerPhone string
	MSISDN                                          string // the line that moved, E.164
	Faulty                                          Device // the customer's handset, taken in
	Backup                                          Device // the backup device handed over
	FaultDescription                                string
	Technician                                      string
}

// endorsementLabels is the endorsement's fixed wording in one language.
type endorsementLabels struct {
	title, number, issued, ticket, line       string
	customer, company, contact, phone         string
	faulty, backup, brand, model, imei        string
	fault, declaration, statement, technician string
	sigTechnician, sigCustomer                string
	pageOf, dateLayout                        string
}

var endorsementLabelsES = endorsementLabels{
	title: "Aval de reemplazo de equipo", number: "Aval N.º", issued: "Emitido",
	ticket: "Ticket", line: "Línea",
	customer: "Cliente", company: "Empresa", contact: "Contacto", phone: "Teléfono",
	faulty: "Equipo recibido (con falla)", backup: "Equipo de respaldo entregado",
	brand: "Marca", model: "Modelo", imei: "IMEI",
	fault: "Falla reportada", declaration: "Declaración",
	statement: "La línea %s del cliente %s fue trasladada al equipo de respaldo indicado. " +
		"El equipo con falla queda en custodia del centro para su devolución al almacén de la unidad de negocios.",
	technician:    "Técnico",
	sigTechnician: "Firma del técnico", sigCustomer: "Firma del cliente",
	pageOf: pageOfES, dateLayout: dateLayoutES,
}

var endorsementLabelsEN = endorsementLabels{
	title: "Replacement endorsement", number: "Endorsement No.", issued: "Issued",
	ticket: "Ticket", line: "Line",
	customer: "Customer", company: "Company", contact: "Contact", phone: "Phone",
	faulty: "Device received (faulty)", backup: "Backup device handed over",
	brand: "Brand", model: "Model", imei: "IMEI",
	fault: "Reported fault", declaration: "Declaration",
	statement: "Line %s of customer %s was moved to the backup device shown above. " +
		"The faulty device stays in the centre's custody until it is returned to the business unit's warehouse.",
	technician:    "Technician",
	sigTechnician: "Technician's signature", sigCustomer: "Customer's signature",
	pageOf: pageOfEN, dateLayout: dateLayoutEN,
}

func endorsementLabelsFor(lang string) *endorsementLabels {
	if isEnglish(lang) {
		return &endorsementLabelsEN
	}
	return &endorsementLabelsES
}

// RenderEndorsement returns the replacement endorsement as a one-page A4 PDF
// (longer only if the fault description is).
func RenderEndorsement(e Endorsement) ([]byte, error) {
	lb := endorsementLabelsFor(e.Lang)
	p := newDoc(lb.title+" "+e.Reference, e.IssuedAt, lb.title+" "+oneLine(orDash(e.Reference)), lb.pageOf)

	docHeader(p, lb.title, &letterhead{e.CentreCode, e.CentreName, e.CentreAddress}, 26, []kv{
		{lb.number, e.Reference},
		{lb.issued, issuedText(e.IssuedAt, zoneOr(e.Location), lb.dateLayout)},
		{lb.ticket, e.TicketNumber},
		{lb.line, e.MSISDN},
	})

	p.flow(marginX, append(heading(p, lb.customer, contentW), kvLines(p, contentW, 26, []kv{
		{lb.company, e.CustomerCompany}, {lb.contact, e.CustomerContact}, {lb.phone, e.CustomerPhone},
	})...))
	p.y += sectionGap

	device := func(title string, d Device) []line {
		return append(heading(p, title, colW), kvLines(p, colW, 22, []kv{
			{lb.brand, d.Brand}, {lb.model, d.Model}, {lb.imei, d.IMEI},
		})...)
	}
	p.columns(marginX, device(lb.faulty, e.Faulty), marginX+colW+colGap, device(lb.backup, e.Backup))
	p.y += sectionGap

	p.flow(marginX, append(heading(p, lb.fault, contentW), paragraph(p, e.FaultDescription, contentW)...))
	p.y += sectionGap

	statement := fmt.Sprintf(lb.statement, oneLine(orDash(e.MSISDN)), oneLine(orDash(e.CustomerCompany)))
	p.flow(marginX, append(heading(p, lb.declaration, contentW), paragraph(p, statement, contentW)...))
	p.y += sectionGap
	p.flow(marginX, kvLines(p, contentW, 26, []kv{{lb.technician, e.Technician}}))
	p.y += sectionGap + 2

	signatures(p, lb.sigTechnician, lb.sigCustomer)
	return p.output("endorsement")
}
