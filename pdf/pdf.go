// Package pdf renders the service's printed documents from plain values: it
// reads no database and serves no HTTP, so a caller gathers the facts and gets
// back bytes. The same input always yields byte-identical output, which keeps
// stored documents reproducible and lets tests compare them exactly.
package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jung-kurt/gofpdf"
	"golang.org/x/text/unicode/norm"
)

// Page geometry in millimetres (A4 portrait).
const (
	pageW        = 210.0
	pageH        = 297.0
	marginX      = 15.0
	marginTop    = 14.0
	marginBottom = 16.0 // leaves room for the footer
	contentW     = pageW - 2*marginX
)

const (
	font     = "Helvetica"
	producer = "centros"
	emptyVal = "—"
)

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

// Wording every document shares, per language.
const (
	dateLayoutES = "02/01/2006 15:04"
	dateLayoutEN = "2006-01-02 15:04"
	pageOfES     = "Página %d de %s"
	pageOfEN     = "Page %d of %s"
)

// isEnglish reports whether a document's Lang asks for English; anything
// else, the empty string included, gets the Spanish default.
func isEnglish(lang string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en")
}

// fileEpoch stamps a document that has no date of its own: gofpdf would
// otherwise use the current time and the output would differ on every call.
var fileEpoch = time.Unix(0, 0).UTC()

type rgb struct{ r, g, b int }

var (
	colText   = rgb{33, 37, 41}
	colMuted  = rgb{98, 104, 110}
	colAccent = rgb{22, 58, 100}
	colRule   = rgb{196, 202, 208}
	colHeadBg = rgb{228, 234, 241}
	colAltBg  = rgb{245, 247, 249}
	colPass   = rgb{26, 115, 52}
	colFail   = rgb{176, 32, 32}
)

// cp1252Extra are the cp1252 characters outside Latin-1, in the 0x80–0x9F
// range that Latin-1 leaves to control codes.
var cp1252Extra = map[rune]bool{
	'€': true, '‚': true, 'ƒ': true, '„': true, '…': true, '†': true, '‡': true,
	'ˆ': true, '‰': true, 'Š': true, '‹': true, 'Œ': true, 'Ž': true, '‘': true,
	'’': true, '“': true, '”': true, '•': true, '–': true, '—': true, '˜': true,
	'™': true, 'š': true, '›': true, 'œ': true, 'ž': true, 'Ÿ': true,
}

// asciiFold covers characters that have no decomposition to fall back on.
var asciiFold = map[rune]string{
	'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D", 'ħ': "h", 'Ħ': "H", 'ı': "i",
	'‐': "-", '‑': "-", '‒': "-", '−': "-", '―': "—",
	'′': "'", '″': "\"", '‛': "'", '‟': "\"",
}

func inCP1252(r rune) bool {
	return r < 0x80 || (r >= 0xA0 && r <= 0xFF) || cp1252Extra[r]
}

// cp1252Safe rewrites s so that every rune has a glyph in the core fonts'
// cp1252 encoding. gofpdf's translator would otherwise print each unknown rune
// as a silent "."; a close ASCII letter ("ő" → "o") or a visible "?" tells the
// reader something was there; invisible marks are dropped. Newlines survive for paragraph breaks; other
// control characters become spaces so they cannot upset the layout.
func cp1252Safe(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\r':
		case unicode.IsControl(r):
			b.WriteByte(' ')
		case inCP1252(r):
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case unicode.In(r, unicode.Mn, unicode.Cf):
			// Invisible on their own (zero-width spaces, variation selectors,
			// accents NFC could not attach), so a "?" would only add noise.
		default:
			b.WriteString(foldRune(r))
		}
	}
	return b.String()
}

// foldRune finds the nearest cp1252 spelling of r, or "?" when there is none.
func foldRune(r rune) string {
	if s, ok := asciiFold[r]; ok {
		return s
	}
	var b strings.Builder
	// NFKD splits accents off their letters and ligatures into letters
	// ("ﬁ" → "fi"); keeping the cp1252 part drops only the accent.
	for _, d := range norm.NFKD.String(string(r)) {
		if inCP1252(d) && !unicode.Is(unicode.Mn, d) && !unicode.IsControl(d) {
			b.WriteRune(d)
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

// orDash gives an empty value a visible mark so a blank reads as "nothing
// recorded" rather than as a printing fault.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return emptyVal
	}
	return s
}

// oneLine collapses runs of whitespace, newlines included, for values that
// are printed as a single wrapped phrase.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// qrRun is a horizontal stretch of dark QR modules: row y, columns x to x+w-1.
type qrRun struct{ x, y, w int }

// qrRuns merges each row's adjacent dark modules into one run, so a code
// becomes a few hundred rectangles instead of one per module.
func qrRuns(bitmap [][]bool) []qrRun {
	var runs []qrRun
	for y, row := range bitmap {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			runs = append(runs, qrRun{x: start, y: y, w: x - start})
		}
	}
	return runs
}

// drawQR paints bitmap as vector rectangles in a size×size square, which
// stays sharp at any zoom and costs far less than an embedded image.
func drawQR(f *gofpdf.Fpdf, x, y, size float64, bitmap [][]bool) {
	if len(bitmap) == 0 {
		return
	}
	m := size / float64(len(bitmap))
	f.SetFillColor(0, 0, 0)
	for _, r := range qrRuns(bitmap) {
		f.Rect(x+float64(r.x)*m, y+float64(r.y)*m, float64(r.w)*m, m, "F")
	}
}

// page tracks the flow of content down the pages; the document positions
// everything itself, so gofpdf's automatic page break stays off and a break
// can never land in the middle of a table row or a two-column block.
type page struct {
	f  *gofpdf.Fpdf
	tr func(string) string
	y  float64
	// onBreak runs after a page break, e.g. to repeat a table's header.
	onBreak func()
}

func newPage(f *gofpdf.Fpdf) *page {
	return &page{f: f, tr: f.UnicodeTranslatorFromDescriptor(""), y: marginTop}
}

// enc prepares UTF-8 text for a core font.
func (p *page) enc(s string) string { return p.tr(cp1252Safe(s)) }

func (p *page) bottom() float64 { return pageH - marginBottom }

func (p *page) bodyH() float64 { return p.bottom() - marginTop }

func (p *page) fits(h float64) bool { return p.y+h <= p.bottom()+1e-9 }

func (p *page) breakPage() {
	p.f.AddPage()
	p.y = marginTop
	if p.onBreak != nil {
		p.onBreak()
	}
}

// ensure starts a new page unless h more millimetres fit on this one.
func (p *page) ensure(h float64) {
	if !p.fits(h) {
		p.breakPage()
	}
}

func (p *page) setFont(style string, size float64, c rgb) {
	p.f.SetFont(font, style, size)
	p.f.SetTextColor(c.r, c.g, c.b)
}

// wrap splits already-encoded text into lines no wider than w in the given font.
func (p *page) wrap(s string, w float64, style string, size float64) []string {
	p.f.SetFont(font, style, size)
	raw := p.f.SplitLines([]byte(s), w)
	lines := make([]string, 0, len(raw))
	for _, l := range raw {
		lines = append(lines, strings.TrimRight(string(l), " "))
	}
	if len(lines) == 0 {
		lines = append(lines, "")
	}
	return lines
}

// text writes one encoded line in a w×h box at (x, y), vertically centred.
func (p *page) text(x, y, w, h float64, s, align string) {
	p.f.SetXY(x, y)
	p.f.CellFormat(w, h, s, "", 0, align, false, 0, "")
}

// line is one slice of flowing content: its height and how to draw it with
// its top-left corner at (x, y).
type line struct {
	h    float64
	keep bool // keep with the next line (headings)
	draw func(x, y float64)
}

func colHeight(lines []line) float64 {
	h := 0.0
	for _, l := range lines {
		h += l.h
	}
	return h
}

// flow draws lines one below the other at x, breaking pages between lines
// and never leaving a heading alone at the bottom of a page.
func (p *page) flow(x float64, lines []line) {
	for i, l := range lines {
		need := l.h
		for j := i; lines[j].keep && j+1 < len(lines); j++ {
			need += lines[j+1].h
		}
		if need > p.bodyH() {
			need = l.h
		}
		p.ensure(need)
		l.draw(x, p.y)
		p.y += l.h
	}
}

// columns draws two columns side by side when they fit on one page, and
// one after the other when they are too tall for that.
func (p *page) columns(xl float64, left []line, xr float64, right []line) {
	h := max(colHeight(left), colHeight(right))
	if h > p.bodyH() {
		p.flow(xl, left)
		p.flow(xl, right)
		return
	}
	p.ensure(h)
	top := p.y
	for _, col := range []struct {
		x     float64
		lines []line
	}{{xl, left}, {xr, right}} {
		y := top
		for _, l := range col.lines {
			l.draw(col.x, y)
			y += l.h
		}
	}
	p.y = top + h
}

// newDoc starts an A4 document whose bytes depend only on its arguments: at
// stamps the file's dates (the Unix epoch when zero), title names the file,
// and every page gets the footer with footText and "page n of m" in pageOf.
func newDoc(title string, at time.Time, footText, pageOf string) *page {
	f := gofpdf.New("P", "mm", "A4", "")
	stamp := fileEpoch
	if !at.IsZero() {
		// UTC so the same instant gives the same bytes whatever zone it came in.
		stamp = at.UTC()
	}
	f.SetCreationDate(stamp)
	f.SetModificationDate(stamp)
	f.SetProducer(producer, false)
	f.SetCreator(producer, false)
	f.SetTitle(title, true)
	f.SetCatalogSort(true)
	f.SetMargins(marginX, marginTop, marginX)
	f.SetCellMargin(0)
	f.SetAutoPageBreak(false, marginBottom)
	f.AliasNbPages("")

	p := newPage(f)
	f.SetFooterFunc(func() { footer(p, footText, pageOf) })
	f.AddPage()
	return p
}

// output finishes the document; what names it in an error.
func (p *page) output(what string) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.f.Output(&buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", what, err)
	}
	return buf.Bytes(), nil
}

// zoneOr returns loc, or UTC when there is none.
func zoneOr(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
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

// letterhead is the issuing centre as a document's header prints it.
type letterhead struct{ code, name, address string }

// docHeader draws the title and, when lh is set, the issuing centre on the
// left, the document's key facts on the right (labels labelW wide), and a
// rule under both. The title is fixed wording: it is not measured, so a long
// one carries "\n" where it should break to stay clear of the facts.
func docHeader(p *page, title string, lh *letterhead, labelW float64, facts []kv) {
	const leftW, rightX = 92.0, 112.0
	rightW := pageW - marginX - rightX
	top := p.y

	y := top
	p.setFont("B", sizeTitle, colAccent)
	for i, s := range strings.Split(title, "\n") {
		if i > 0 {
			y += 7.5
		}
		p.text(marginX, y, leftW, 8, p.enc(s), "L")
	}
	y += 9
	if lh != nil {
		for _, s := range p.wrap(p.enc(oneLine(orDash(lh.name))), leftW, "B", 10.5) {
			p.setFont("B", 10.5, colText)
			p.text(marginX, y, leftW, 5, s, "L")
			y += 5
		}
		sub := oneLine(orDash(lh.code)) + " · " + oneLine(orDash(lh.address))
		for _, s := range p.wrap(p.enc(sub), leftW, "", sizeLabel+0.5) {
			p.setFont("", sizeLabel+0.5, colMuted)
			p.text(marginX, y, leftW, 4, s, "L")
			y += 4
		}
	}

	yr := top + 1
	for _, l := range kvLines(p, rightW, labelW, facts) {
		l.draw(rightX, yr)
		yr += l.h
	}

	p.y = max(y, yr) + 3
	p.f.SetDrawColor(colAccent.r, colAccent.g, colAccent.b)
	p.f.SetLineWidth(0.6)
	p.f.Line(marginX, p.y, pageW-marginX, p.y)
	p.y += 4
}

// footer names the document on the left and numbers the page on the right.
func footer(p *page, text, pageOf string) {
	f := p.f
	y := pageH - 11
	f.SetDrawColor(colRule.r, colRule.g, colRule.b)
	f.SetLineWidth(0.2)
	f.Line(marginX, y, pageW-marginX, y)
	p.setFont("", sizeSmall, colMuted)
	p.text(marginX, y+1, contentW/2, 4, p.enc(text), "L")
	// gofpdf swaps the alias for the page count only when writing, so the
	// width is measured with a one-digit stand-in to keep the text right-aligned.
	pg := fmt.Sprintf(pageOf, f.PageNo(), "{nb}")
	w := f.GetStringWidth(p.enc(fmt.Sprintf(pageOf, f.PageNo(), "0")))
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

// column is one column of a table: its width, header and alignment ("L"
// when empty).
type column struct {
	w     float64
	head  string
	align string
}

// cell is a table cell's text, already encoded and wrapped to its column,
// and the font style and colour it prints in.
type cell struct {
	lines []string
	style string
	col   rgb
}

// textCell wraps a value for a column of width w; an empty value prints a dash.
func textCell(p *page, s string, w float64, style string, col rgb) cell {
	return cell{lines: p.wrap(p.enc(oneLine(orDash(s))), w-3, style, sizeTable), style: style, col: col}
}

// table prints a titled table, one row per entry, with alternate rows
// shaded. A row never splits across pages unless it alone is taller than a
// page, and the column header repeats on every page the table reaches. With
// no rows it prints the title and a dash.
func table(p *page, title string, cols []column, rows [][]cell) {
	headH := 6.0
	align := func(c column) string {
		if c.align == "" {
			return "L"
		}
		return c.align
	}
	drawHead := func() {
		f := p.f
		f.SetFillColor(colHeadBg.r, colHeadBg.g, colHeadBg.b)
		f.Rect(marginX, p.y, contentW, headH, "F")
		p.setFont("B", sizeTable, colAccent)
		x := marginX
		for _, c := range cols {
			p.text(x+1.5, p.y, c.w-3, headH, p.enc(c.head), align(c))
			x += c.w
		}
		p.y += headH
	}

	heads := heading(p, title, contentW)
	firstH := headH + lhTable + 2*padTable
	if len(rows) == 0 {
		p.flow(marginX, append(heads, paragraph(p, "", contentW)...))
		return
	}
	p.ensure(heads[0].h + firstH)
	heads[0].draw(marginX, p.y)
	p.y += heads[0].h
	drawHead()
	p.onBreak = drawHead
	defer func() { p.onBreak = nil }()

	maxLines := int((p.bodyH() - headH - 2*padTable) / lhTable)
	for i, r := range rows {
		n := 0
		for _, c := range r {
			n = max(n, len(c.lines))
		}
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
			for ci, c := range r {
				w := cols[ci].w
				p.setFont(c.style, sizeTable, c.col)
				for li := from; li < to && li < len(c.lines); li++ {
					p.text(x+1.5, p.y+padTable+float64(li-from)*lhTable, w-3, lhTable, c.lines[li], align(cols[ci]))
				}
				x += w
			}
			p.y += h
			from = to
		}
	}
	p.f.SetDrawColor(colRule.r, colRule.g, colRule.b)
	p.f.SetLineWidth(0.25)
	p.f.Line(marginX, p.y, pageW-marginX, p.y)
}

// Signature lines leave sigSpace millimetres to sign in above each line.
const (
	sigSpace = 20.0
	sigGap   = 10.0
)

// signatureLines draws one line per label side by side across w from x at
// height y, each label centred under its line.
func signatureLines(p *page, x, y, w float64, labels ...string) {
	if len(labels) == 0 {
		return
	}
	n := float64(len(labels))
	sigW := (w - sigGap*(n-1)) / n
	f := p.f
	f.SetDrawColor(colText.r, colText.g, colText.b)
	f.SetLineWidth(0.3)
	for i, label := range labels {
		lx := x + float64(i)*(sigW+sigGap)
		f.Line(lx, y, lx+sigW, y)
		p.setFont("", sizeLabel, colMuted)
		p.text(lx, y+1, sigW, 4, p.enc(label), "C")
	}
}

// signatures is a block of signature lines across the page, kept whole on one page.
func signatures(p *page, labels ...string) {
	h := sigSpace + 6
	p.ensure(h)
	signatureLines(p, marginX, p.y+sigSpace, contentW, labels...)
	p.y += h
}
