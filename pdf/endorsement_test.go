package pdf

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"centros/pdf/pdftest"
)

func endorsementES(t testing.TB) Endorsement {
	return Endorsement{
		Lang:             "es",
		Reference:        "AVR-CCS-01-3F2A9C1B",
		IssuedAt:         time.Date(2026, 3, 14, 14, 30, 0, 0, time.UTC),
		Location:         caracas(t),
		CentreCode:       "CCS-01",
		CentreName:       "Centro de Instalación Chacao",
		CentreAddress:    "Av. Francisco de Miranda, Torre Ñandú, piso 2, Caracas",
		TicketNumber:     "CSM-2026-0004711",
		CustomerCompany:  "Constructora Ñandú, C.A.",
		CustomerContact:  "José Pérez",
		CustomerPhone:    "+582129876543",
		MSISDN:           "+584161234567",
		Faulty:           Device{Brand: "Samsung", Model: "Galaxy A15", IMEI: "356938035643809"},
		Backup:           Device{Brand: "Motorola", Model: "Moto G24", IMEI: "352099001761481"},
		FaultDescription: "Pantalla dañada, no enciende; el cliente indica que el equipo se mojó",
		Technician:       "María Fernanda Núñez",
	}
}

func endorsementEN(t testing.TB) Endorsement {
	e := endorsementES(t)
	e.Lang = "en"
	e.Reference = "AVR-CCS-01-7B0D44E2"
	e.IssuedAt = time.Date(2026, 11, 2, 21, 5, 0, 0, time.UTC)
	e.FaultDescription = "Cracked screen, does not power on; the customer says it got wet"
	return e
}

func renderEndorsement(t testing.TB, e Endorsement) []byte {
	t.Helper()
	out, err := RenderEndorsement(e)
	if err != nil {
		t.Fatalf("RenderEndorsement: %v", err)
	}
	return out
}

func endorsementValues(e Endorsement) []string {
	return []string{
		e.Reference, e.CentreCode, e.CentreName, e.CentreAddress, e.TicketNumber,
		e.CustomerCompany, e.CustomerContact, e.CustomerPhone, e.MSISDN,
		e.Faulty.Brand, e.Faulty.Model, e.Faulty.IMEI,
		e.Backup.Brand, e.Backup.Model, e.Backup.IMEI,
		e.FaultDescription, e.Technician,
	}
}

func TestRenderEndorsementSpanish(t *testing.T) {
	e := endorsementES(t)
	doc := renderEndorsement(t, e)
	text := pdftest.Layout(t, doc)
	assertContains(t, text, endorsementValues(e)...)
	assertContains(t, text,
		"Aval de reemplazo de equipo", "Aval N.º", "Emitido", "14/03/2026 10:30 (America/Caracas)",
		"Ticket", "Línea", "Cliente", "Empresa", "Contacto", "Teléfono",
		"Equipo recibido (con falla)", "Equipo de respaldo entregado", "Marca", "Modelo", "IMEI",
		"Falla reportada", "Declaración", "Técnico", "Firma del técnico", "Firma del cliente",
		"La línea +584161234567 del cliente Constructora Ñandú, C.A. fue trasladada al equipo de respaldo indicado. "+
			"El equipo con falla queda en custodia del centro para su devolución al almacén de la unidad de negocios.",
		"Aval de reemplazo de equipo AVR-CCS-01-3F2A9C1B", "Página 1 de 1",
	)
	if n := pageCount(t, doc); n != 1 {
		t.Errorf("endorsement takes %d pages, want 1", n)
	}
	checkGolden(t, "endorsement_es.txt", text)
}

func TestRenderEndorsementEnglish(t *testing.T) {
	e := endorsementEN(t)
	doc := renderEndorsement(t, e)
	text := pdftest.Layout(t, doc)
	assertContains(t, text, endorsementValues(e)...)
	assertContains(t, text,
		"Replacement endorsement", "Endorsement No.", "Issued", "2026-11-02 17:05 (America/Caracas)",
		"Ticket", "Line", "Customer", "Company", "Contact", "Phone",
		"Device received (faulty)", "Backup device handed over", "Brand", "Model", "IMEI",
		"Reported fault", "Declaration", "Technician", "Technician's signature", "Customer's signature",
		"Line +584161234567 of customer Constructora Ñandú, C.A. was moved to the backup device shown above.",
		"Page 1 of 1",
	)
	for _, es := range []string{"Aval", "Firma", "Equipo", "Línea", "Página", "trasladada"} {
		if strings.Contains(text, es) {
			t.Errorf("English endorsement has %q", es)
		}
	}
	if n := pageCount(t, doc); n != 1 {
		t.Errorf("endorsement takes %d pages, want 1", n)
	}
	checkGolden(t, "endorsement_en.txt", text)
}

func TestRenderEndorsementDeterministic(t *testing.T) {
	for _, e := range []Endorsement{endorsementES(t), endorsementEN(t), {}} {
		if a, b := renderEndorsement(t, e), renderEndorsement(t, e); !bytes.Equal(a, b) {
			t.Errorf("endorsement %q: two renders differ", e.Reference)
		}
	}
	e := endorsementES(t)
	a := renderEndorsement(t, e)
	e.IssuedAt = e.IssuedAt.In(e.Location)
	if !bytes.Equal(a, renderEndorsement(t, e)) {
		t.Error("the issue time's zone changed the output")
	}
}

func TestRenderEndorsementSize(t *testing.T) {
	doc := renderEndorsement(t, endorsementES(t))
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("output does not start like a PDF: %q", doc[:min(len(doc), 16)])
	}
	if len(doc) >= 20<<10 {
		t.Errorf("endorsement is %d bytes, want < 20 KB", len(doc))
	}
}

func TestRenderEndorsementEmpty(t *testing.T) {
	doc := renderEndorsement(t, Endorsement{})
	text := pdftest.Layout(t, doc)
	assertContains(t, text, "Aval de reemplazo de equipo", "Equipo de respaldo entregado",
		"La línea — del cliente — fue trasladada", "Firma del técnico", "Firma del cliente")
	// Reference, date, ticket, line, 3 customer fields, 6 device fields,
	// fault, technician, the footer's reference and two in the declaration.
	if n := strings.Count(text, "—"); n < 18 {
		t.Errorf("empty endorsement shows %d dashes, want one per empty field:\n%s", n, text)
	}
	if n := pageCount(t, doc); n != 1 {
		t.Errorf("empty endorsement takes %d pages, want 1", n)
	}
}

func TestRenderEndorsementLongFault(t *testing.T) {
	e := endorsementES(t)
	e.CustomerCompany = strings.Repeat("X", 300) // no spaces: must still break
	e.FaultDescription = strings.Repeat("El equipo se reinicia al recibir llamadas. ", 200)
	doc := renderEndorsement(t, e)
	text := pdftest.Layout(t, doc)
	assertContains(t, text, "Firma del cliente", "Técnico María Fernanda Núñez", "Página 2 de")
}

func BenchmarkRenderEndorsement(b *testing.B) {
	e := endorsementES(b)
	var out []byte
	for b.Loop() {
		var err error
		if out, err = RenderEndorsement(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "pdf_bytes")
}
