package services_test

import (
	"testing"
	"time"

	"centros/services"
)

// The Standard Webhooks reference vector: a receiver's existing library must accept what
// we send.
func TestSignWebhookReferenceVector(t *testing.T) {
	secret, err := services.ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	got := services.SignWebhook([]services.WebhookSecret{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	at := time.Unix(1614265330, 0)
	if err := services.VerifyWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", got, body, at); err != nil {
		t.Fatal(err)
	}
	other, _ := services.ParseWebhookSecret("whsec_c2VjcmV0LW9mLWFub3RoZXItc2VydmljZQ==")
	for name, check := range map[string]error{
		"TamperedBody": services.VerifyWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", got, []byte(`{"test": 2432232315}`), at),
		"OtherID":      services.VerifyWebhook(secret, "msg_other", "1614265330", got, body, at),
		"StaleStamp":   services.VerifyWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", got, body, at.Add(6*time.Minute)),
		"FutureStamp":  services.VerifyWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", got, body, at.Add(-6*time.Minute)),
		"WrongSecret":  services.VerifyWebhook(other, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", got, body, at),
		"NoSignature":  services.VerifyWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v2,abc", body, at),
	} {
		if check == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// While rotating, the header carries both signatures and either secret verifies it.
	both := services.SignWebhook([]services.WebhookSecret{other, secret}, "evt_1", 1614265330, body)
	for _, s := range []services.WebhookSecret{secret, other} {
		if err := services.VerifyWebhook(s, "evt_1", "1614265330", both, body, at); err != nil {
			t.Errorf("rotation: %v", err)
		}
	}
}
