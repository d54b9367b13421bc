package api_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"centros/services"

	"github.com/chromedp/chromedp"
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
	ctx := newBrowser(t, 20*time.Second)
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
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || !live {
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("countdown")))
		t.Fatalf("countdown not live: %q (%v)", text, err)
	}
}

func wantFocus(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Poll[string](
		`document.activeElement && document.activeElement.id === `+jsString(id)+` ? document.activeElement.id : ""`,
		chromedp.WithPollingTimeout(3*time.Second)))
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
