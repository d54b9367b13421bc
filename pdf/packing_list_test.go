package pdf

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"centros/pdf/pdftest"
)

var packingModels = []Device{
	{Brand: "Samsung", Model: "Galaxy A15"},
	{Brand: "Motorola", Model: "Moto G24"},
	{Brand: "Xiaomi", Model: "Redmi Note 13"},
	{Brand: "Huawei", Model: "Nova Y61"},
	{Brand: "Alcatel", Model: "1B Edición Ñ"},
}

// packingItems makes n distinct units; every fourth came in without an endorsement.
func packingItems(n int) []PackingItem {
	items := make([]PackingItem, n)
	for i := range items {
		d := packingModels[i%len(packingModels)]
		items[i] = PackingItem{
			IMEI:         fmt.Sprintf("35693803%07d", 1000+i),
			Brand:        d.Brand,
			Model:        d.Model,
			TicketNumber: fmt.Sprintf("CSM-2026-%07d", 4700+i),
		}
		if i%4 != 3 {
			items[i].Endorsement = fmt.Sprintf("AVR-CCS-01-%08X", 0x3F2A9C1B+i*7919)
		}
	}
	return items
}

func packingES(t testing.TB, n int) PackingList {
	return PackingList{
		Lang:          "es",
		Reference:     "DEV-CCS-01-000123",
		DispatchedAt:  time.Date(2026, 3, 20, 19, 45, 0, 0, time.UTC),
		Location:      caracas(t),
		CentreCode:    "CCS-01",
		CentreName:    "Centro de Instalación Chacao",
		CentreAddress: "Av. Francisco de Miranda, Torre Ñandú, piso 2, Caracas",
		WarehouseCode: "ALM-UN-CCS",
		WarehouseName: "Almacén Central de la Unidad de Negocios, La Yaguara",
		Items:         packingItems(n),
		DispatchedBy:  "José Pérez",
	}
}

func packingEN(t testing.TB, n int) PackingList {
	p := packingES(t, n)
	p.Lang = "en"
	p.Reference = "DEV-CCS-01-000124"
	p.DispatchedAt = time.Date(2026, 11, 2, 21, 5, 0, 0, time.UTC)
	return p
}

func renderPacking(t testing.TB, p PackingList) []byte {
	t.Helper()
	out, err := RenderPackingList(p)
	if err != nil {
		t.Fatalf("RenderPackingList: %v", err)
	}
	return out
}

func packingValues(p PackingList) []string {
	v := []string{
		p.Reference, p.CentreCode, p.CentreName, p.CentreAddress,
		p.WarehouseCode, p.WarehouseName, p.DispatchedBy,
	}
	for _, it := range p.Items {
		v = append(v, it.IMEI, it.Brand, it.Model, it.TicketNumber)
		if it.Endorsement != "" {
			v = append(v, it.Endorsement)
		}
	}
	return v
}

// assertContainsWrapped is assertContains for values that may wrap inside a
// column: pdftotext then interleaves their lines with the next column's, so
// it accepts the value's words in order, each within a short gap of the last.
func assertContainsWrapped(t *testing.T, text string, want ...string) {
	t.Helper()
	const gap = 200
	flat := collapse(text)
	found := func(words []string) bool {
		for start := 0; ; {
			i := strings.Index(flat[start:], words[0])
			if i < 0 {
				return false
			}
			at, ok := start+i+len(words[0]), true
			for _, w := range words[1:] {
				j := strings.Index(flat[at:min(len(flat), at+gap+len(w))], w)
				if j < 0 {
					ok = false
					break
				}
				at += j + len(w)
			}
			if ok {
				return true
			}
			start += i + 1
		}
	}
	for _, w := range want {
		if words := strings.Fields(w); len(words) > 0 && !found(words) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
}

var (
	headerES = regexp.MustCompile(`(?m)^\s*#\s+IMEI\s+Marca\s+Modelo\s+Ticket\s+Aval\s*$`)
	headerEN = regexp.MustCompile(`(?m)^\s*#\s+IMEI\s+Brand\s+Model\s+Ticket\s+Endorsement\s*$`)
)

func TestRenderPackingListSpanish(t *testing.T) {
	p := packingES(t, 8)
	doc := renderPacking(t, p)
	text := pdftest.Layout(t, doc)
	assertContainsWrapped(t, text, packingValues(p)...)
	assertContains(t, text,
		"Lista de empaque — Devolución de equipos DEV-CCS-01-000123", // the footer, on one line
		"Lista N.º", "Despacho", "20/03/2026 15:45 (America/Caracas)",
		"Origen (centro)", "Destino (almacén)", "Código", "Nombre", "Dirección",
		"Equipos en la caja", "Total de equipos: 8", "Despachado por José Pérez",
		"Entregado por (centro)", "Recibido por (almacén)", "Página 1 de 1",
	)
	if n := len(headerES.FindAllString(text, -1)); n != 1 {
		t.Errorf("table header appears %d times, want 1", n)
	}
	if n := pageCount(t, doc); n != 1 {
		t.Errorf("an 8-unit packing list takes %d pages, want 1", n)
	}
	checkGolden(t, "packing_list_es.txt", text)
}

func TestRenderPackingListEnglish(t *testing.T) {
	p := packingEN(t, 8)
	doc := renderPacking(t, p)
	text := pdftest.Layout(t, doc)
	assertContainsWrapped(t, text, packingValues(p)...)
	assertContains(t, text,
		"Packing list — Return shipment DEV-CCS-01-000124",
		"List No.", "Dispatched", "2026-11-02 17:05 (America/Caracas)",
		"From (centre)", "To (warehouse)", "Code", "Name", "Address",
		"Units in the box", "Total units: 8", "Dispatched by José Pérez",
		"Handed over by (centre)", "Received by (warehouse)", "Page 1 of 1",
	)
	if n := len(headerEN.FindAllString(text, -1)); n != 1 {
		t.Errorf("table header appears %d times, want 1", n)
	}
	for _, es := range []string{"Lista", "Marca", "Aval", "Total de equipos", "Página", "Origen"} {
		if strings.Contains(text, es) {
			t.Errorf("English packing list has %q", es)
		}
	}
	checkGolden(t, "packing_list_en.txt", text)
}

func TestRenderPackingListPaginates(t *testing.T) {
	p := packingES(t, 150)
	p.Items[70].Model = "Modelo con un nombre comercial muy largo que ocupa varias líneas en la tabla"
	doc := renderPacking(t, p)
	pages := pageCount(t, doc)
	if pages < 2 {
		t.Fatalf("150 units fit on %d page, want more", pages)
	}
	text := pdftest.Layout(t, doc)
	assertContainsWrapped(t, text, packingValues(p)...)
	assertContains(t, text, "Total de equipos: 150", "Recibido por (almacén)",
		fmt.Sprintf("Página %d de %d", pages, pages))

	// Every unit once, in order.
	last := -1
	for i, it := range p.Items {
		if n := strings.Count(text, it.IMEI); n != 1 {
			t.Errorf("IMEI %s (unit %d) appears %d times", it.IMEI, i+1, n)
		}
		at := strings.Index(text, it.IMEI)
		if at < last {
			t.Errorf("unit %d is out of order", i+1)
		}
		last = at
	}
	// The column header opens the table on every page it runs over.
	sheets := strings.Split(strings.TrimSuffix(text, "\f"), "\f")
	if len(sheets) != pages {
		t.Fatalf("pdftotext shows %d pages, pdfinfo %d", len(sheets), pages)
	}
	for i, s := range sheets {
		if !headerES.MatchString(s) {
			t.Errorf("page %d has no table header:\n%s", i+1, s)
		}
	}
	if n := len(headerES.FindAllString(text, -1)); n != pages {
		t.Errorf("table header appears %d times on %d pages", n, pages)
	}
	if len(doc) >= 100<<10 {
		t.Errorf("150-unit packing list is %d bytes, want < 100 KB", len(doc))
	}
}

func TestRenderPackingListDeterministic(t *testing.T) {
	for _, p := range []PackingList{packingES(t, 8), packingEN(t, 150), {}} {
		if a, b := renderPacking(t, p), renderPacking(t, p); !bytes.Equal(a, b) {
			t.Errorf("packing list %q: two renders differ", p.Reference)
		}
	}
	p := packingES(t, 8)
	a := renderPacking(t, p)
	p.DispatchedAt = p.DispatchedAt.In(p.Location)
	if !bytes.Equal(a, renderPacking(t, p)) {
		t.Error("the dispatch time's zone changed the output")
	}
}

func TestRenderPackingListSize(t *testing.T) {
	doc := renderPacking(t, packingES(t, 8))
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("output does not start like a PDF: %q", doc[:min(len(doc), 16)])
	}
	if len(doc) >= 20<<10 {
		t.Errorf("packing list is %d bytes, want < 20 KB", len(doc))
	}
}

func TestRenderPackingListEmpty(t *testing.T) {
	doc := renderPacking(t, PackingList{})
	text := pdftest.Layout(t, doc)
	assertContains(t, text, "Lista de empaque", "Equipos en la caja", "Total de equipos: 0",
		"Entregado por (centro)", "Recibido por (almacén)")
	// Reference, date, 3 centre fields, 2 warehouse fields, no items,
	// dispatched by and the footer's reference.
	if n := strings.Count(text, "—"); n < 10 {
		t.Errorf("empty packing list shows %d dashes, want one per empty field:\n%s", n, text)
	}
	if n := pageCount(t, doc); n != 1 {
		t.Errorf("empty packing list takes %d pages, want 1", n)
	}
}

func TestRenderPackingListEmptyFields(t *testing.T) {
	p := packingES(t, 1)
	p.Items[0] = PackingItem{IMEI: "356938035643809"}
	text := pdftest.Layout(t, renderPacking(t, p))
	if !regexp.MustCompile(`(?m)^\s*1\s+356938035643809\s+—\s+—\s+—\s+—\s*$`).MatchString(text) {
		t.Errorf("a unit with only an IMEI should print dashes in the other columns:\n%s", text)
	}
}

func BenchmarkRenderPackingList(b *testing.B) {
	p := packingES(b, 50)
	var out []byte
	for b.Loop() {
		var err error
		if out, err = RenderPackingList(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "pdf_bytes")
}
