// Package pdf renders the service's printed documents from plain values: it
// reads no database and serves no HTTP, so a caller gathers the facts and gets
// back bytes. The same input always yields byte-identical output, which keeps
// stored documents reproducible and lets tests compare them exactly.
package pdf

import (
	"strings"
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
