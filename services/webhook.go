package services

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WebhookSecret is a Standard Webhooks shared secret ("whsec_" and base64).
type WebhookSecret []byte

// ParseWebhookSecret reads "whsec_<base64>".
func ParseWebhookSecret(s string) (WebhookSecret, error) {
	raw, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	key, err := base64.StdEncoding.DecodeString(raw)
	if !ok || err != nil || len(key) == 0 {
		return nil, errors.New("a webhook secret is whsec_ followed by base64")
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header for a message: "v1,<base64 HMAC-SHA256
// of id.timestamp.body>" for each secret, space-separated, so that receivers holding the
// old or the new secret both accept it while a secret is rotated.
func SignWebhook(secrets []WebhookSecret, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(webhookMAC(s, id, timestamp, body))
	}
	return strings.Join(sigs, " ")
}

func webhookMAC(secret WebhookSecret, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return m.Sum(nil)
}

// WebhookTolerance is how far a message's timestamp may be from the receiver's clock.
const WebhookTolerance = 5 * time.Minute

// VerifyWebhook checks a received message as a Standard Webhooks receiver does: a
// timestamp within the tolerance, and at least one v1 signature made with secret.
func VerifyWebhook(secret WebhookSecret, id, timestamp, signatures string, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a number")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return errors.New("webhook-timestamp is too old or too new")
	}
	want := webhookMAC(secret, id, ts, body)
	for _, sig := range strings.Fields(signatures) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid signature")
}
