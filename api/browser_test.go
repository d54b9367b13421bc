package api_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"centros/services"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is Debian's Chromium, which CI installs.
const chromiumPath = "/usr/bin/chromium"

// needBrowser fails the test when there is no Chromium: a missing browser must not
// pass quietly. CENTROS_SKIP_BROWSER=1 skips the test instead.
func needBrowser(t *testing.T) {
	t.Helper()
	if os.Getenv("CENTROS_SKIP_BROWSER") == "1" {
		t.Skip("CENTROS_SKIP_BROWSER=1")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): install it with "+
			"`apt-get install -y --no-install-recommends chromium` (CI installs it), or set CENTROS_SKIP_BROWSER=1 to skip", chromiumPath, err)
	}
}

// newBrowser starts a headless Chromium for one test, with a fresh profile, that
// stops at the test's end or after timeout.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	needBrowser(t)
	// A fresh profile; Chromium's helpers may still write in it for a moment after
	// the browser exits, so its removal is retried rather than left to t.TempDir.
	profile, err := os.MkdirTemp("", "centros-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	return bctx
}

// TestBrowserLookup drives the real pages in Chromium as a counter clerk does: sign
// in, scan a ticket number into the field that has the cursor, press Enter, and see
// the ticket with its SLA.
func TestBrowserLookup(t *testing.T) {
	needBrowser(t)
	e := newTestEnv(t)
	ctx := newBrowser(t, 60*time.Second)
	number := e.ticketAt("CCS-01")
	t.Logf("web UI at %s", e.HTTP.URL)

	// Any page sends a visitor to the login form, with the cursor in the email field.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("email")),
	); err != nil {
		t.Fatalf("open %s: %v", e.HTTP.URL, err)
	}
	wantFocus(t, ctx, "email")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(emailCounter),
		chromedp.SendKeys(chromedp.ID("password"), services.DemoPassword+"\r"),
		chromedp.WaitVisible(chromedp.ID("q")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}

	// The lookup page: the cursor is already in the ticket field, so the scanner's
	// keystrokes and its Enter go straight in.
	wantFocus(t, ctx, "q")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(number+"\r"),
		chromedp.WaitVisible(chromedp.ID("sla-badge")),
	); err != nil {
		t.Fatalf("look up %s: %v", number, err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(heading, number) {
		t.Fatalf("ticket page heading %q lacks %s", heading, number)
	}
	badge, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("sla-badge")))
	if err != nil {
		t.Fatal(err)
	}
	switch strings.TrimSpace(badge) {
	case "A tiempo", "En riesgo", "Vencido":
	default:
		t.Fatalf("SLA badge says %q", badge)
	}
	class, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("sla-badge"), "class"))
	if err != nil || !strings.Contains(class.Value, "sla-") {
		t.Fatalf("SLA badge class %q: %v", class.Value, err)
	}
	// Our script, allowed by the page's CSP as a file of our own, keeps the countdown
	// live: it adds the seconds the server-rendered text leaves out.
	live, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`/\d\d s$|\d+ d \d+ h$/.test(document.getElementById("countdown").textContent)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !live {
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("countdown")))
		t.Fatalf("countdown not live: %q (%v)", text, err)
	}
}

func wantFocus(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Poll[string](
		`document.activeElement && document.activeElement.id === `+jsString(id)+` ? document.activeElement.id : ""`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		active, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML : "none"`))
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("the cursor is not in #%s; the focused element is %s", id, active)
		}
		t.Fatalf("focus of #%s: %v (focused: %s)", id, err, active)
	}
	if got != id {
		t.Fatalf("focused %q, want %q", got, id)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestBrowserAppointment books, reschedules and checks a customer in the way a counter
// clerk does, with the keyboard and the scanner: look the ticket up, press Enter on
// the slot that has the cursor, move the booking with the arrow keys, then scan the
// ticket number and the IMEI. CENTROS_SCREENSHOTS=dir also saves the booking page
// and the agenda as PNG files there.
func TestBrowserAppointment(t *testing.T) {
	needBrowser(t)
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	ctx := newBrowser(t, 90*time.Second)
	number := e.ticketAt("CCS-01")
	imei := e.webTicketIMEI(number)
	shots := os.Getenv("CENTROS_SCREENSHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if shots != "" {
		// Company for the agenda: one more customer in the morning.
		for _, n := range e.webTicketsAt("CCS-01", 3)[1:] {
			e.webBookAPI(n, "CCS-01", webSlot(monday, 11, 0))
		}
	}

	// Sign in and look the ticket up.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.KeyEvent(emailCounter),
		chromedp.SendKeys(chromedp.ID("password"), services.DemoPassword+"\r"),
		chromedp.WaitVisible(chromedp.ID("q")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	wantFocus(t, ctx, "q")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(number+"\r"),
		chromedp.WaitVisible(chromedp.ID("book-link")),
		chromedp.Click(chromedp.ID("book-link")),
		chromedp.WaitVisible(chromedp.CSS(".slot-picker")),
	); err != nil {
		t.Fatalf("open the booking of %s: %v", number, err)
	}

	// The first free slot has the cursor: Enter books it.
	wantFocusedSlot(t, ctx, webSlot(monday, 9, 30))
	shot("booking.png")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(".flash"))); err != nil {
		t.Fatalf("book: %v", err)
	}
	wantText(t, ctx, ".flash", "Cita reservada: lunes "+monday.Format("02/01/2006")+" 09:30 · CCS-01.")

	// Reschedule: the picker starts on the first other free slot (10:00); one arrow
	// key moves to 10:30, Enter moves the booking there.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href$="/reschedule"]`)),
		chromedp.WaitVisible(chromedp.CSS(".slot-picker")),
	); err != nil {
		t.Fatalf("open reschedule: %v", err)
	}
	wantFocusedSlot(t, ctx, webSlot(monday, 10, 0))
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowRight)); err != nil {
		t.Fatal(err)
	}
	wantFocusedSlot(t, ctx, webSlot(monday, 10, 30))
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(".flash"))); err != nil {
		t.Fatalf("reschedule: %v", err)
	}
	wantText(t, ctx, ".flash", "Cita reprogramada: lunes "+monday.Format("02/01/2006")+" 10:30 · CCS-01.")

	// Check-in from the agenda: scan the ticket number, then the IMEI; the scanner's
	// Enter moves on to the condition, which is still to be written.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/agenda"),
		chromedp.WaitVisible(chromedp.CSS(".agenda-table")),
	); err != nil {
		t.Fatalf("agenda: %v", err)
	}
	wantText(t, ctx, ".agenda-table", number)
	shot("agenda.png")
	wantFocus(t, ctx, "q")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(number+"\r"),
		chromedp.WaitVisible(chromedp.ID("received_imei")),
	); err != nil {
		t.Fatalf("scan the ticket: %v", err)
	}
	wantFocus(t, ctx, "received_imei")
	// Another handset's IMEI: the reason field appears and takes the cursor. Scanned
	// again with the right one, it goes away and the cursor moves to the condition.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("356938035643809\r")); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "imei_mismatch_reason")
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("received_imei").select()`),
		chromedp.KeyEvent(imei+"\r"),
	); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "condition")
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("mismatch-field").hidden`)); err != nil || !hidden {
		t.Fatalf("the reason field stays for the ticket's own IMEI (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent("Carcasa con rayones leves."),
		chromedp.Click(chromedp.ID("acc-0")),
	); err != nil {
		t.Fatalf("fill the check-in form: %v", err)
	}
	shot("checkin.png")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("checkin-submit")),
		chromedp.WaitVisible(chromedp.ID("repair-id")),
	); err != nil {
		t.Fatalf("check in: %v", err)
	}
	wantText(t, ctx, ".flash", "Cliente recibido. Orden de reparación")
	wantText(t, ctx, ".status", "En servicio")
	shot("ticket.png")
	repair, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("repair-id")))
	if err != nil || !strings.Contains(mustText(t, ctx, ".flash"), strings.TrimSpace(repair)) {
		t.Fatalf("repair order %q not in the flash (%v)", repair, err)
	}
	// What was typed is what was recorded: the scanner's Enter did not spill into the
	// condition.
	var got struct{ ReceivedIMEI, ReceivedCondition, Accessories string }
	if err := e.DB.Raw("SELECT received_imei, received_condition, accessories::text AS accessories FROM repair_orders WHERE id = ?",
		strings.TrimSpace(repair)).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.ReceivedIMEI != imei || got.ReceivedCondition != "Carcasa con rayones leves." || got.Accessories != `["cargador"]` {
		t.Fatalf("repair order recorded %+v", got)
	}
}

func wantFocusedSlot(t *testing.T, ctx context.Context, value string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.activeElement && document.activeElement.value === `+jsString(value),
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		active, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML : "none"`))
		t.Fatalf("the cursor is not on the slot %s; the focused element is %s", value, active)
	}
}

func mustText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

func wantText(t *testing.T, ctx context.Context, css, want string) {
	t.Helper()
	if got := mustText(t, ctx, css); !strings.Contains(got, want) {
		t.Fatalf("%s says %q, want %q", css, got, want)
	}
}

// TestBrowserRepairToVerifiedCertificate follows a handset from the counter to a
// verified certificate: the counter clerk receives the customer (scan the ticket, then
// the IMEI), the technician writes the diagnosis, ticks an action, goes through the
// checklist from the keyboard (P for each test passed, the arrows to move, N for not
// applicable, Enter to save), certifies, and the certificate's public page says it is
// valid. CENTROS_SCREENSHOTS=dir also saves the repair order and the verification page
// (at a phone's width) there.
func TestBrowserRepairToVerifiedCertificate(t *testing.T) {
	needBrowser(t)
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	e.SetNow(monday)
	ctx := newBrowser(t, 120*time.Second)
	number := e.ticketAt("CCS-01")
	imei := e.webTicketIMEI(number)
	shots := os.Getenv("CENTROS_SCREENSHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(email string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(e.HTTP.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.KeyEvent(email),
			chromedp.SendKeys(chromedp.ID("password"), services.DemoPassword+"\r"),
			chromedp.WaitVisible(chromedp.ID("q")),
		); err != nil {
			t.Fatalf("sign in as %s: %v", email, err)
		}
	}

	// The counter receives the customer without an appointment: scan the ticket
	// number, then the IMEI, write the condition, register.
	signIn(emailCounter)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/check-in"),
		chromedp.WaitVisible(chromedp.ID("q")),
	); err != nil {
		t.Fatalf("check-in screen: %v", err)
	}
	wantFocus(t, ctx, "q")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(number+"\r"), chromedp.WaitVisible(chromedp.ID("received_imei"))); err != nil {
		t.Fatalf("scan the ticket: %v", err)
	}
	wantFocus(t, ctx, "received_imei")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(imei+"\r")); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "condition")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent("Pantalla sin golpes."),
		chromedp.Click(chromedp.ID("checkin-submit")),
		chromedp.WaitVisible(chromedp.ID("repair-link")),
	); err != nil {
		t.Fatalf("check in: %v", err)
	}
	wantText(t, ctx, ".flash", "Cliente recibido sin cita. Orden de reparación")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("form.logout button")),
		chromedp.WaitVisible(chromedp.ID("email")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}

	// The technician finds the ticket and opens its repair order: the cursor is in the
	// diagnosis.
	signIn(emailTech)
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(number+"\r"),
		chromedp.WaitVisible(chromedp.ID("repair-link")),
		chromedp.Click(chromedp.ID("repair-link")),
		chromedp.WaitVisible(chromedp.ID("details-form")),
	); err != nil {
		t.Fatalf("open the repair order: %v", err)
	}
	wantFocus(t, ctx, "diagnosis")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent("Conector de carga con óxido."),
		chromedp.Click(chromedp.ID("action-charging_port")),
		chromedp.Click(chromedp.ID("details-submit")),
	); err != nil {
		t.Fatalf("diagnosis: %v", err)
	}
	waitFlash(t, ctx, "Diagnóstico y acciones guardados.")

	// The checklist from the keyboard: the cursor waits on the first test; P passes a
	// test and moves on; up and down move; N is not applicable; Enter saves.
	wantFocus(t, ctx, "t-power_on-pass")
	for range 13 { // power_on … sim_reader
		if err := chromedp.Do(ctx, chromedp.KeyEvent("p")); err != nil {
			t.Fatal(err)
		}
	}
	wantFocus(t, ctx, "t-camera-pass")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowUp)); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "t-sim_reader-pass")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowDown)); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "t-camera-pass")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("n")); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "t-wifi_bluetooth-pass")
	shot("repair-checklist.png")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Pruebas guardadas.")
	var recorded []struct{ Code, Result string }
	if err := e.DB.Raw(`SELECT rt.code, rt.result FROM repair_tests rt JOIN repair_orders r ON r.id = rt.repair_id
		JOIN tickets tk ON tk.id = r.ticket_id WHERE tk.ticket_number = ? ORDER BY rt.code`, number).Scan(&recorded).Error; err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recorded {
		got[r.Code] = r.Result
	}
	if len(got) != 14 || got["power_on"] != "pass" || got["sim_reader"] != "pass" || got["camera"] != "na" || got["wifi_bluetooth"] != "" {
		t.Fatalf("checklist recorded %v", got)
	}
	// The one test left has the cursor; N and the cursor is on saving; Enter saves.
	wantFocus(t, ctx, "t-wifi_bluetooth-pass")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("n")); err != nil {
		t.Fatal(err)
	}
	wantFocus(t, ctx, "tests-submit")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Pruebas guardadas.")
	wantText(t, ctx, "#checklist-summary", "Todas las pruebas obligatorias están aprobadas.")

	// Certify: the cursor is on the button.
	wantFocus(t, ctx, "certify-submit")
	shot("repair-certify.png")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Reparación certificada. Certificado CCS-01-")
	wantText(t, ctx, "#cert-status", "Válido")
	number2 := strings.TrimSpace(mustText(t, ctx, "#cert-number"))
	wantFocus(t, ctx, "cert-pdf")
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("cert-pdf"), "href"))
	if err != nil || href.Value != "/certificates/"+number2 {
		t.Fatalf("PDF link %q (%v)", href.Value, err)
	}
	verify, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("cert-verify"), "href"))
	if err != nil || !strings.HasPrefix(verify.Value, "/verify/") {
		t.Fatalf("verification link %q (%v)", verify.Value, err)
	}
	shot("repair-certified.png")

	// The public page, as the QR code opens it on a phone: valid.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(e.HTTP.URL+verify.Value),
		chromedp.WaitVisible(chromedp.ID("verdict-badge")),
	); err != nil {
		t.Fatalf("verify: %v", err)
	}
	badge, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("verdict-badge")))
	if err != nil || strings.TrimSpace(badge) != "Válido" {
		t.Fatalf("verification badge %q (%v)", badge, err)
	}
	wantText(t, ctx, "#verify-number", number2)
	// Readable on the phone: nothing wider than the screen.
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Fatalf("the verification page scrolls sideways on a phone (%v)", err)
	}
	shot("verify-phone.png")
}

// clearFlash takes the flash of the page away, so that waitFlash sees the next page's.
func clearFlash(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".flash").forEach(function (f) { f.remove(); })`)); err != nil {
		t.Fatalf("clear the flash: %v", err)
	}
}

// waitFlash waits for the flash of the page after a form, saying want. The page is
// being replaced meanwhile, so a check that fails with the navigation is tried again.
func waitFlash(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	check := `(function () { var f = document.querySelector(".flash"); return !!f && f.textContent.indexOf(` + jsString(want) + `) >= 0; })()`
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			flash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".flash") || {}).textContent || ""`))
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".form-message") || {}).textContent || ""`))
			t.Fatalf("no flash %q: flash %q, form message %q (%v)", want, flash, msg, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserBackupDevices follows backup devices through the centre and the warehouse
// with the keyboard and the scanner: the technician swaps a customer onto a backup
// device from the repair order (scan, Enter), the manager builds a return by scanning
// the faulty handsets and dispatches it, the warehouse receives the box leaving one
// handset unscanned (a discrepancy), fulfils the centre's restock request by scanning
// devices off its shelf, and the centre scans them in. CENTROS_SCREENSHOTS=dir also
// saves the screens there.
func TestBrowserBackupDevices(t *testing.T) {
	needBrowser(t)
	e := newTestEnv(t)
	monday := webMonday(t, 9, 10)
	ctx := newBrowser(t, 180*time.Second)
	shots := os.Getenv("CENTROS_SCREENSHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(email string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(e.HTTP.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.KeyEvent(email),
			chromedp.SendKeys(chromedp.ID("password"), services.DemoPassword+"\r"),
			chromedp.WaitVisible(chromedp.ID("q")),
		); err != nil {
			t.Fatalf("sign in as %s: %v", email, err)
		}
	}
	signOut := func() {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("form.logout button")),
			chromedp.WaitVisible(chromedp.ID("email")),
		); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}
	// scan types IMEIs into the scan box that has the cursor, each with the scanner's
	// Enter, and checks that the list holds them.
	scan := func(box, list string, imeis ...string) {
		t.Helper()
		wantFocus(t, ctx, box)
		for _, imei := range imeis {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(imei+"\r")); err != nil {
				t.Fatalf("scan %s: %v", imei, err)
			}
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById(`+jsString(list)+`).value`))
		if err != nil || strings.Join(strings.Fields(got), " ") != strings.Join(imeis, " ") {
			t.Fatalf("the list %s holds %q, want %v (%v)", list, got, imeis, err)
		}
		wantFocus(t, ctx, box)
	}

	// Two customers at CCS-01; the second was already swapped at the bench.
	numbers := e.webTicketsAt("CCS-01", 2)
	first := e.invWalkIn(numbers[0], monday)
	second := e.invWalkIn(numbers[1], monday.Add(30*time.Minute))
	otherFaulty := str(e.invSwapAPI(second, "Moto G24")["faulty_imei"])
	backup := e.invDemoUnits("CCS-01", "SM-A155M")[0]

	// The technician scans the backup device into the repair order's swap form: Enter
	// hands it over, and the endorsement is there to print.
	signIn(emailTech)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/repairs/"+first),
		chromedp.WaitVisible(chromedp.ID("swap-form")),
		chromedp.Focus(chromedp.ID("backup_imei")),
	); err != nil {
		t.Fatalf("open the repair order: %v", err)
	}
	wantFocus(t, ctx, "backup_imei")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.KeyEvent(backup+"\r")); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Equipo de respaldo "+backup+" entregado.")
	wantText(t, ctx, "#swap-status", "Cambio de servicio solicitado")
	wantText(t, ctx, "#swap-backup-imei", backup)
	faulty := strings.TrimSpace(mustText(t, ctx, "#swap-faulty-imei"))
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("endorsement-pdf"), "href"))
	if err != nil || !strings.HasPrefix(href.Value, "/swaps/") || !strings.HasSuffix(href.Value, "/endorsement") {
		t.Fatalf("endorsement link %q (%v)", href.Value, err)
	}
	shot("swap.png")
	signOut()

	// The manager scans both handsets into a new return and dispatches it.
	signIn(emailManager)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/returns"),
		chromedp.WaitVisible(chromedp.ID("return-form")),
	); err != nil {
		t.Fatalf("returns: %v", err)
	}
	// A misread is said and left out; the scan box keeps the cursor.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("12345\r")); err != nil {
		t.Fatal(err)
	}
	wantText(t, ctx, "#scan-imeis-status", "no es un IMEI válido")
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("scan-imeis").value = ""`)); err != nil {
		t.Fatal(err)
	}
	scan("scan-imeis", "imeis", faulty, otherFaulty)
	wantText(t, ctx, ".scan-count", "2")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(faulty+"\r")); err != nil {
		t.Fatal(err)
	}
	wantText(t, ctx, "#scan-imeis-status", "ya está en la lista")
	shot("return-build.png")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("return-create"))); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "creada como borrador")
	wantText(t, ctx, "#return-status", "Borrador")
	// Dispatch is where the cursor is; the page asks before it goes.
	wantFocus(t, ctx, "dispatch")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`window.confirm = function () { return true; }`),
		chromedp.KeyEvent("\r"),
	); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "despachada. Imprima la lista de empaque")
	wantText(t, ctx, "#return-status", "Despachada")
	wantFocus(t, ctx, "packing-list")
	returnURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	shot("return-dispatched.png")
	signOut()

	// The warehouse opens the box from its inbox and scans one of the two.
	signIn(emailWarehouse)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/warehouse"),
		chromedp.WaitVisible(chromedp.ID("to-receive")),
		chromedp.Click(chromedp.CSS(`#to-receive a[href="`+returnURL+`"]`)),
		chromedp.WaitVisible(chromedp.ID("receive-form")),
	); err != nil {
		t.Fatalf("open the return: %v", err)
	}
	scan("scan-imeis", "imeis", faulty)
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("receive-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Devolución recibida con discrepancias (1)")
	wantText(t, ctx, "#return-status", "Recibida con discrepancias")
	wantText(t, ctx, "#discrepancies", otherFaulty)
	wantText(t, ctx, "#discrepancies", "Faltante")
	shot("return-received.png")

	// The restock request the swaps opened: fulfilled by scanning two off the shelf.
	shelf := e.invDemoUnits("ALM-CAP", "SM-A155M")[:2]
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+"/warehouse"),
		chromedp.WaitVisible(chromedp.ID("to-fulfil")),
		chromedp.Click(chromedp.CSS(`#to-fulfil a.mono`)),
		chromedp.WaitVisible(chromedp.ID("fulfil-form")),
	); err != nil {
		t.Fatalf("open the restock request: %v", err)
	}
	restockURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	scan("scan-imeis", "imeis", shelf...)
	shot("restock-fulfil.png")
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("fulfil-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Equipos enviados al centro: 2.")
	wantText(t, ctx, "#restock-status", "Enviada")
	signOut()

	// The centre scans them in.
	signIn(emailCounter)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.HTTP.URL+restockURL),
		chromedp.WaitVisible(chromedp.ID("receive-form")),
	); err != nil {
		t.Fatalf("open the restock request at the centre: %v", err)
	}
	scan("scan-imeis", "imeis", shelf...)
	clearFlash(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("receive-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFlash(t, ctx, "Equipos recibidos: 2. Ya están en existencia.")
	wantText(t, ctx, "#restock-status", "Recibida")
	shot("restock-received.png")
	for _, imei := range shelf {
		if s := e.invUnitState(imei); s != "backup in_stock CCS-01" {
			t.Fatalf("%s is %q", imei, s)
		}
	}
	if s := e.invUnitState(otherFaulty); s != "faulty in_return ALM-CAP" {
		t.Fatalf("the unscanned handset %s is %q", otherFaulty, s)
	}
}
