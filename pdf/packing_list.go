package pdf

import (
	"fmt"
	"strconv"
	"time"
)

// PackingList is what travels in a return shipment's box to the
// business-unit warehouse.
type PackingList struct {
	Lang                                  string // "es" (default when empty) or "en"
	Reference                             string // the shipment's short reference, e.g. "DEV-CCS-01-000123"
	DispatchedAt                          time.Time
	Location                              *time.Location // the centre's time zone; dates are shown in it (nil → UTC)
	CentreCode, CentreName, CentreAddress string
	WarehouseCode, WarehouseName          string
	Items                                 []PackingItem
	DispatchedBy                          string
}

// PackingItem is one unit in the box.
type PackingItem struct {
	IMEI, Brand, Model string
	TicketNumber       string
	Endorsement        string // the endorsement reference of the swap that took the unit in ("" if none)
}

// packingLabels is the packing list's fixed wording in one language.
type packingLabels struct {
	title, headTitle, number, dispatched                                 string
	from, to, code, name, address                                        string
	items, colNo, colIMEI, colBrand, colModel, colTicket, colEndorsement string
	total, dispatchedBy, sigFrom, sigTo                                  string
	pageOf, dateLayout                                                   string
}

var packingLabelsES = packingLabels{
	title: "Lista de empaque — Devolución de equipos", headTitle: "Lista de empaque —\nDevolución de equipos",
	number: "Lista N.º", dispatched: "Despacho",
	from: "Origen (centro)", to: "Destino (almacén)", code: "Código", name: "Nombre", address: "Dirección",
	items: "Equipos en la caja", colNo: "#", colIMEI: "IMEI", colBrand: "Marca", colModel: "Modelo",
	colTicket: "Ticket", colEndorsement: "Aval",
	total: "Total de equipos: %d", dispatchedBy: "Despachado por",
	sigFrom: "Entregado por (centro)", sigTo: "Recibido por (almacén)",
	pageOf: pageOfES, dateLayout: dateLayoutES,
}

var packingLabelsEN = packingLabels{
	title: "Packing list — Return shipment", headTitle: "Packing list —\nReturn shipment",
	number: "List No.", dispatched: "Dispatched",
	from: "From (centre)", to: "To (warehouse)", code: "Code", name: "Name", address: "Address",
	items: "Units in the box", colNo: "#", colIMEI: "IMEI", colBrand: "Brand", colModel: "Model",
	colTicket: "Ticket", colEndorsement: "Endorsement",
	total: "Total units: %d", dispatchedBy: "Dispatched by",
	sigFrom: "Handed over by (centre)", sigTo: "Received by (warehouse)",
	pageOf: pageOfEN, dateLayout: dateLayoutEN,
}

func packingLabelsFor(lang string) *packingLabels {
	if isEnglish(lang) {
		return &packingLabelsEN
	}
	return &packingLabelsES
}

// RenderPackingList returns the packing list as an A4 PDF; the items table
// runs over as many pages as it needs, its header repeated on each.
func RenderPackingList(pl PackingList) ([]byte, error) {
	lb := packingLabelsFor(pl.Lang)
	p := newDoc(lb.title+" "+pl.Reference, pl.DispatchedAt, lb.title+" "+oneLine(orDash(pl.Reference)), lb.pageOf)

	docHeader(p, lb.headTitle, nil, 24, []kv{
		{lb.number, pl.Reference},
		{lb.dispatched, issuedText(pl.DispatchedAt, zoneOr(pl.Location), lb.dateLayout)},
	})

	p.columns(marginX, append(heading(p, lb.from, colW), kvLines(p, colW, 22, []kv{
		{lb.code, pl.CentreCode}, {lb.name, pl.CentreName}, {lb.address, pl.CentreAddress},
	})...),
		marginX+colW+colGap, append(heading(p, lb.to, colW), kvLines(p, colW, 22, []kv{
			{lb.code, pl.WarehouseCode}, {lb.name, pl.WarehouseName},
		})...))
	p.y += sectionGap

	cols := []column{
		{w: 10, head: lb.colNo, align: "R"},
		{w: 31, head: lb.colIMEI},
		{w: 26, head: lb.colBrand},
		{w: 36, head: lb.colModel},
		{w: 34, head: lb.colTicket},
		{w: contentW - 10 - 31 - 26 - 36 - 34, head: lb.colEndorsement},
	}
	rows := make([][]cell, 0, len(pl.Items))
	for i, it := range pl.Items {
		rows = append(rows, []cell{
			textCell(p, strconv.Itoa(i+1), cols[0].w, "", colMuted),
			textCell(p, it.IMEI, cols[1].w, "", colText),
			textCell(p, it.Brand, cols[2].w, "", colText),
			textCell(p, it.Model, cols[3].w, "", colText),
			textCell(p, it.TicketNumber, cols[4].w, "", colText),
			textCell(p, it.Endorsement, cols[5].w, "", colText),
		})
	}
	table(p, lb.items, cols, rows)
	p.y += sectionGap

	total := p.enc(fmt.Sprintf(lb.total, len(pl.Items)))
	p.flow(marginX, []line{{h: 6, draw: func(x, y float64) {
		p.setFont("B", sizeHeading, colText)
		p.text(x, y, contentW, 6, total, "L")
	}}})
	p.y += 1
	p.flow(marginX, kvLines(p, contentW, 28, []kv{{lb.dispatchedBy, pl.DispatchedBy}}))
	p.y += sectionGap + 2

	signatures(p, lb.sigFrom, lb.sigTo)
	return p.output("packing list")
}
