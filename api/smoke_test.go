package api_test

import (
	"net/http"
	"testing"
)

func TestLoginAndMe(t *testing.T) {
	e := newTestEnv(t)
	res := e.do(http.MethodGet, "/api/v1/me", e.token(emailCounter), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("me: %d %s", res.Status, res.Body)
	}
	user := res.JSON()["user"].(map[string]any)
	if user["role"] != "counter" || user["centre_code"] != "CCS-01" {
		t.Fatalf("me: %s", res.Body)
	}
}
