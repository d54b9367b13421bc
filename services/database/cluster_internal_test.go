package database

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReachable(t *testing.T) {
	cred := &syscall.Credential{Uid: 4242, Gid: 4242}
	open, err := os.MkdirTemp("", "centros-reach-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(open, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if !reachable(filepath.Join(open, "var", "postgres"), cred) {
		t.Error("a folder under world-searchable folders is unreachable")
	}
	if reachable(filepath.Join(private, "var", "postgres"), cred) {
		t.Error("a folder under a 0700 folder of another user is reachable")
	}
}
