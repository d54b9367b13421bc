package pdf

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the Caracas zone must resolve the same on every machine

	"github.com/jung-kurt/gofpdf"
	"github.com/skip2/go-qrcode"

	"centros/pdf/pdftest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func caracas(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Caracas")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

var testNamesES = []string{
	"Encendido", "Registro en la red y señal", "Llamada saliente", "Llamada entrante",
	"SMS", "Datos móviles", "Carga", "Batería", "Auricular", "Altavoz", "Micrófono",
	"Pantalla y táctil", "Teclado", "Lector de SIM", "Cámara", "Wi-Fi / Bluetooth",
}

var testNamesEN = []string{
	"Power on", "Network registration and signal", "Outgoing call", "Incoming call",
	"SMS", "Mobile data", "Charging", "Battery", "Earpiece", "Loudspeaker", "Microphone",
	"Display and touch", "Keypad", "SIM reader", "Camera", "Wi-Fi / Bluetooth",
}

func testResults(names []string, notes map[int]string) []TestResult {
	out := make([]TestResult, len(names))
	for i, n := range names {
		out[i] = TestResult{Code: fmt.Sprintf("T%02d", i+1), Name: n, Result: "pass", Note: notes[i]}
	}
	return out
}

func swappedES(t testing.TB) Certificate {
	tests := testResults(testNamesES, map[int]string{
		1: "Señal -71 dBm, 4G", 6: "Puerto de carga dañado", 12: "Equipo sin teclado físico",
	})
	tests[6].Result = "fail"
	tests[12].Result = "na"
	return Certificate{
		Lang:              "es",
		Number:            "CCS-01-2026-000042",
		IssuedAt:          time.Date(2026, 3, 14, 14, 30, 0, 0, time.UTC),
		Location:          caracas(t),
		CentreCode:        "CCS-01",
		CentreName:        "Centro de Instalación Chacao",
		CentreAddress:     "Av. Francisco de Miranda, Torre Ñandú, piso 2, Caracas",
		CustomerCompany:   "Constructora Ñandú, C.A.",
		CustomerContact:   "José Pérez",
		CustomerPhone:     "+582129876543",
		CustomerEmail:     "jose.perez@nandu.com.ve",
		TicketNumber:      "CSM-2026-0004711",
		MSISDN:            "+584161234567",
		Device:            Device{Brand: "Samsung", Model: "Galaxy A15", IMEI: "356938035643809"},
		FaultCategory:     "Pantalla / Energía",
		FaultDescription:  "Pantalla dañada, no enciende",
		Diagnosis:         "Conector de carga oxidado; se limpió y reemplazó",
		CorrectiveActions: []string{"Limpieza del conector con alcohol isopropílico", "Reemplazo del módulo de carga", "Actualización del software a la versión más reciente"},
		Tests:             tests,
		Outcome:           "swapped",
		Backup:            &Device{Brand: "Motorola", Model: "Moto G24", IMEI: "352099001761481"},
		Technician:        "María Fernanda Núñez",
		VerificationCode:  "7KQ2-M9XD",
		VerificationURL:   "https://centros.example.com/verify/7KQ2-M9XD",
	}
}

func repairedES(t testing.TB) Certificate {
	c := swappedES(t)
	c.Number = "CCS-01-2026-000043"
	c.Outcome = "repaired"
	c.Backup = nil
	c.Tests = testResults(testNamesES, map[int]string{12: "Equipo sin teclado físico"})
	c.Tests[12].Result = "na"
	c.VerificationCode = "P4ZT-2WQA"
	c.VerificationURL = "https://centros.example.com/verify/P4ZT-2WQA"
	return c
}

func repairedEN(t testing.TB) Certificate {
	tests := testResults(testNamesEN, map[int]string{1: "Signal -71 dBm, 4G", 12: "No physical keypad"})
	tests[12].Result = "na"
	tests[6].Result = "fail"
	tests[6].Note = "Slow charging, within tolerance"
	return Certificate{
		Lang:              "en",
		Number:            "CCS-02-2026-000107",
		IssuedAt:          time.Date(2026, 11, 2, 21, 5, 0, 0, time.UTC),
		Location:          caracas(t),
		CentreCode:        "CCS-02",
		CentreName:        "Centro Las Mercedes",
		CentreAddress:     "Calle París, Las Mercedes, Caracas",
		CustomerCompany:   "Inversiones Güiria, S.A.",
		CustomerContact:   "Ana Muñoz",
		CustomerPhone:     "+582127654321",
		CustomerEmail:     "ana@guiria.com.ve",
		TicketNumber:      "CSM-2026-0004720",
		MSISDN:            "+584241112233",
		Device:            Device{Brand: "Xiaomi", Model: "Redmi Note 13", IMEI: "861234567890123"},
		FaultCategory:     "Audio",
		FaultDescription:  "Customer cannot be heard during calls",
		Diagnosis:         "Microphone membrane blocked by debris",
		CorrectiveActions: []string{"Cleaned the microphone port", "Replaced the microphone membrane"},
		Tests:             tests,
		Outcome:           "repaired",
		Technician:        "Luis Rodríguez",
		VerificationCode:  "Q8HN-3KTV",
		VerificationURL:   "https://centros.example.com/verify/Q8HN-3KTV",
	}
}

func render(t testing.TB, c Certificate) []byte {
	t.Helper()
	out, err := RenderCertificate(c)
	if err != nil {
		t.Fatalf("RenderCertificate: %v", err)
	}
	return out
}

// pageCount asks pdfinfo when it is there and otherwise counts pdftotext's page breaks.
func pageCount(t testing.TB, doc []byte) int {
	t.Helper()
	if bin, err := exec.LookPath("pdfinfo"); err == nil {
		path := filepath.Join(t.TempDir(), "doc.pdf")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, path).Output()
		if err != nil {
			t.Fatalf("pdfinfo: %v", err)
		}
		m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("pdfinfo gave no page count:\n%s", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return strings.Count(pdftest.Layout(t, doc), "\f")
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// assertContains checks each want in the text with whitespace collapsed, as a
// value may wrap onto the next line.
func assertContains(t *testing.T, text string, want ...string) {
	t.Helper()
	flat := collapse(text)
	for _, w := range want {
		if !strings.Contains(flat, collapse(w)) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
}

func certValues(c Certificate) []string {
	v := []string{
		c.Number, c.CentreCode, c.CentreName, c.CentreAddress,
		c.CustomerCompany, c.CustomerContact, c.CustomerPhone, c.CustomerEmail,
		c.TicketNumber, c.MSISDN, c.Device.Brand, c.Device.Model, c.Device.IMEI,
		c.FaultCategory, c.FaultDescription, c.Diagnosis, c.Technician,
		c.VerificationCode, c.VerificationURL,
	}
	v = append(v, c.CorrectiveActions...)
	for _, t := range c.Tests {
		v = append(v, t.Name)
		if t.Note != "" {
			v = append(v, t.Note)
		}
	}
	if c.Backup != nil {
		v = append(v, c.Backup.Brand, c.Backup.Model, c.Backup.IMEI)
	}
	return v
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pdf -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendered text (go test ./pdf -update rewrites it):\n--- got ---\n%s", path, got)
	}
}

func TestRenderCertificateSpanish(t *testing.T) {
	esLabels := []string{
		"Certificado de reparación", "Certificado N.º", "Emitido", "Ticket", "Línea",
		"Cliente", "Empresa", "Contacto", "Teléfono", "Correo",
		"Equipo", "Marca", "Modelo", "IMEI", "Falla reportada", "Categoría", "Descripción",
		"Diagnóstico", "Acciones correctivas", "Pruebas realizadas", "Prueba", "Observación",
		"Resultado", "Técnico", "Firma del técnico", "Firma del cliente",
		"Aprobada", "No aplica", "Página 1 de 1",
	}
	for _, tc := range []struct {
		name, golden string
		cert         Certificate
		want, absent []string
	}{
		{
			name: "swapped", golden: "certificate_swapped_es.txt", cert: swappedES(t),
			want: []string{
				"Reemplazado por equipo de respaldo", "Equipo de respaldo", "Fallida",
				"14/03/2026 10:30 (America/Caracas)",
				"Verifique este certificado en https://centros.example.com/verify/7KQ2-M9XD",
			},
		},
		{
			name: "repaired", golden: "certificate_repaired_es.txt", cert: repairedES(t),
			want:   []string{"Reparado", "Verifique este certificado en https://centros.example.com/verify/P4ZT-2WQA"},
			absent: []string{"Equipo de respaldo", "Reemplazado", "Fallida"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := render(t, tc.cert)
			text := pdftest.Layout(t, doc)
			assertContains(t, text, certValues(tc.cert)...)
			assertContains(t, text, esLabels...)
			assertContains(t, text, tc.want...)
			for _, a := range tc.absent {
				if strings.Contains(text, a) {
					t.Errorf("PDF text has %q", a)
				}
			}
			if n := pageCount(t, doc); n != 1 {
				t.Errorf("a typical certificate takes %d pages, want 1", n)
			}
			checkGolden(t, tc.golden, text)
		})
	}
}

func TestRenderCertificateEnglish(t *testing.T) {
	c := repairedEN(t)
	doc := render(t, c)
	text := pdftest.Layout(t, doc)
	assertContains(t, text, certValues(c)...)
	assertContains(t, text,
		"Repair certificate", "Certificate No.", "Issued", "Ticket", "Line",
		"Customer", "Company", "Contact", "Phone", "Email", "Device", "Brand", "Model",
		"Reported fault", "Category", "Description", "Diagnosis", "Corrective actions",
		"Tests performed", "Result", "Note", "Pass", "Fail", "N/A", "Outcome", "Repaired",
		"Technician", "Technician's signature", "Customer's signature",
		"2026-11-02 17:05 (America/Caracas)", "Page 1 of 1",
		"Verify this certificate at https://centros.example.com/verify/Q8HN-3KTV",
	)
	for _, es := range []string{"Certificado", "Aprobada", "Firma", "Backup device"} {
		if strings.Contains(text, es) {
			t.Errorf("English certificate has %q", es)
		}
	}
	checkGolden(t, "certificate_repaired_en.txt", text)
}

func TestRenderCertificateDeterministic(t *testing.T) {
	for _, c := range []Certificate{swappedES(t), repairedEN(t), {}} {
		a, b := render(t, c), render(t, c)
		if !bytes.Equal(a, b) {
			t.Errorf("certificate %q: two renders differ", c.Number)
		}
	}
	// The same instant in another zone value must not change the file's dates.
	c := swappedES(t)
	a := render(t, c)
	c.IssuedAt = c.IssuedAt.In(c.Location)
	if !bytes.Equal(a, render(t, c)) {
		t.Error("the issue time's zone changed the output")
	}
}

func TestRenderCertificateSize(t *testing.T) {
	doc := render(t, swappedES(t))
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("output does not start like a PDF: %q", doc[:min(len(doc), 16)])
	}
	if len(doc) >= 150<<10 {
		t.Errorf("certificate is %d bytes, want < 150 KB", len(doc))
	}
	if len(doc) >= 20<<10 {
		t.Logf("certificate is %d bytes, more than the usual < 20 KB", len(doc))
	}
}

func TestRenderCertificateLongContent(t *testing.T) {
	c := swappedES(t)
	var diag strings.Builder
	for diag.Len() < 3000 {
		diag.WriteString("Se verificó la placa con el multímetro y se detectó corrosión en el conector. ")
	}
	c.Diagnosis = diag.String()[:3000]
	c.Tests = nil
	for i := range 40 {
		c.Tests = append(c.Tests, TestResult{
			Code: fmt.Sprintf("T%02d", i+1), Name: fmt.Sprintf("Prueba número %02d", i+1),
			Result: []string{"pass", "fail", "na"}[i%3], Note: strings.Repeat("observación ", i%7),
		})
	}
	c.CorrectiveActions = append(c.CorrectiveActions, strings.Repeat("Acción con una descripción muy larga ", 12))
	doc := render(t, c)
	if n := pageCount(t, doc); n < 2 {
		t.Fatalf("long certificate has %d page(s), want more than 1", n)
	}
	text := pdftest.Layout(t, doc)
	if n := strings.Count(text, "\f"); n < 2 {
		t.Errorf("pdftotext shows %d pages, want more than 1", n)
	}
	// Every row and the closing block must land inside a page, where pdftotext finds them.
	for i := range 40 {
		assertContains(t, text, fmt.Sprintf("Prueba número %02d", i+1))
	}
	assertContains(t, text, c.VerificationCode, "Firma del cliente", "Página 2 de")
	// The table header repeats on the page the table continues on.
	if n := strings.Count(text, "Observación"); n < 2 {
		t.Errorf("table header appears %d time(s), want it repeated after the break", n)
	}
}

func TestRenderCertificateOversizedValues(t *testing.T) {
	c := swappedES(t)
	word := strings.Repeat("X", 400) // no spaces: must still break
	c.CustomerCompany = word
	c.Tests[0].Note = strings.Repeat("nota larga ", 800)
	c.CorrectiveActions = []string{word}
	c.FaultDescription = strings.Repeat("línea\n", 120)
	doc := render(t, c)
	text := pdftest.Layout(t, doc)
	assertContains(t, text, c.VerificationCode, "Firma del técnico")
	if n := pageCount(t, doc); n < 3 {
		t.Errorf("oversized certificate has %d page(s), want at least 3", n)
	}
}

func TestRenderCertificateEmpty(t *testing.T) {
	doc := render(t, Certificate{})
	text := pdftest.Layout(t, doc)
	assertContains(t, text, "Certificado de reparación", "—", "Firma del cliente")
	if strings.Count(text, "—") < 15 {
		t.Errorf("empty certificate shows %d dashes, want one per empty field:\n%s", strings.Count(text, "—"), text)
	}
}

func TestRenderCertificateUnsupportedCharacters(t *testing.T) {
	c := repairedES(t)
	c.CustomerContact = "Łukasz Wałęsa 😀"
	c.Diagnosis = "Señal → estable; ﬁltro OK"
	text := pdftest.Layout(t, render(t, c))
	assertContains(t, text, "Lukasz Walesa ?", "Señal ? estable; filtro OK")
}

func TestCP1252Safe(t *testing.T) {
	for in, want := range map[string]string{
		"Constructora Ñandú, C.A. ¿Qué? ¡Sí! 1º ü €": "Constructora Ñandú, C.A. ¿Qué? ¡Sí! 1º ü €",
		"“comillas” – guion — raya • viñeta …":       "“comillas” – guion — raya • viñeta …",
		"e\u0301":               "é", // decomposed accent recomposes
		"Łódź, Kraków":          "Lódz, Kraków",
		"Őrség ő":               "Orség o",
		"→ 😀 中":                 "? ? ?",
		"a\tb\r\nc\x00d\u200be": "a b\nc de",
		"👍\ufe0f ok":            "? ok",
		"ﬁ № 5−3":               "fi No 5-3",
		"\u00a0nbsp":            "\u00a0nbsp",
		"":                      "",
	} {
		if got := cp1252Safe(in); got != want {
			t.Errorf("cp1252Safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCP1252SetMatchesGofpdf keeps inCP1252 in step with the translator that
// does the encoding: anything it lets through must not come out as ".".
func TestCP1252SetMatchesGofpdf(t *testing.T) {
	tr := gofpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
	for r := rune(0x20); r < 0x3000; r++ {
		if r == '.' || (r >= 0x7f && r < 0xa0) {
			continue
		}
		if got, want := inCP1252(r), tr(string(r)) != "."; got != want {
			t.Errorf("inCP1252(%U) = %v, gofpdf maps it: %v", r, got, want)
		}
	}
	if got := tr(cp1252Safe("ñÑáéíóúü¿¡º")); got != "\xf1\xd1\xe1\xe9\xed\xf3\xfa\xfc\xbf\xa1\xba" {
		t.Errorf("Spanish letters encode as %q", got)
	}
}

func TestQRRuns(t *testing.T) {
	q, err := qrcode.New("https://centros.example.com/verify/7KQ2-M9XD", qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = true
	bitmaps := map[string][][]bool{
		"empty":  {},
		"light":  {{false, false}, {false, false}},
		"dark":   {{true, true, true}},
		"mixed":  {{true, false, true, true}, {false, true, true, false}, {false, false, false, true}},
		"qr":     q.Bitmap(),
		"ragged": {{true}, {}, {false, true, true}},
	}
	for name, bm := range bitmaps {
		runs := qrRuns(bm)
		got := make([][]bool, len(bm))
		for y := range bm {
			got[y] = make([]bool, len(bm[y]))
		}
		for _, r := range runs {
			if r.w < 1 {
				t.Errorf("%s: empty run %+v", name, r)
			}
			for x := r.x; x < r.x+r.w; x++ {
				if !bm[r.y][x] {
					t.Errorf("%s: run %+v covers light module (%d,%d)", name, r, x, r.y)
				}
				got[r.y][x] = true
			}
			// Maximal: a run is never next to another dark module in its row.
			if r.x > 0 && bm[r.y][r.x-1] || r.x+r.w < len(bm[r.y]) && bm[r.y][r.x+r.w] {
				t.Errorf("%s: run %+v could be longer", name, r)
			}
		}
		for y := range bm {
			for x := range bm[y] {
				if bm[y][x] != got[y][x] {
					t.Errorf("%s: module (%d,%d) dark=%v, runs cover it: %v", name, x, y, bm[y][x], got[y][x])
				}
			}
		}
	}
	if runs := qrRuns(bitmaps["mixed"]); len(runs) != 4 {
		t.Errorf("mixed: %d runs, want 4: %+v", len(runs), runs)
	}
}

func TestZoneLabel(t *testing.T) {
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "UTC"},
		{madrid, "CET"},
		{caracas(t), "(America/Caracas)"},
		{time.FixedZone("", -4*3600), "UTC-04:00"},
	} {
		if got := zoneLabel(at.In(tc.loc)); got != tc.want {
			t.Errorf("zoneLabel in %v = %q, want %q", tc.loc, got, tc.want)
		}
	}
	if got := issuedText(at, caracas(t), certES.dateLayout); got != "15/01/2026 08:00 (America/Caracas)" {
		t.Errorf("issuedText = %q", got)
	}
	if got := issuedText(at, time.UTC, certEN.dateLayout); got != "2026-01-15 12:00 UTC" {
		t.Errorf("issuedText = %q", got)
	}
	if got := issuedText(time.Time{}, time.UTC, certEN.dateLayout); got != "—" {
		t.Errorf("issuedText(zero) = %q, want a dash", got)
	}
}

func BenchmarkRenderCertificate(b *testing.B) {
	c := swappedES(b)
	var out []byte
	for b.Loop() {
		var err error
		if out, err = RenderCertificate(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "pdf_bytes")
}
