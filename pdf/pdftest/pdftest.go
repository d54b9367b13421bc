// Package pdftest reads documents back as text for tests, with poppler's pdftotext
// (Debian's poppler-utils; .ci/run installs it).
package pdftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Layout is pdftotext's layout rendering of doc; each page ends in "\f".
func Layout(t testing.TB, doc []byte) string {
	t.Helper()
	return run(t, doc, "-layout")
}

// Words is the text of doc with its whitespace collapsed, for finding values that may
// wrap.
func Words(t testing.TB, doc []byte) string {
	t.Helper()
	return strings.Join(strings.Fields(run(t, doc)), " ")
}

func run(t testing.TB, doc []byte, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext is missing: install Debian's poppler-utils (.ci/run does)")
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append(flags, "-enc", "UTF-8", path, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
