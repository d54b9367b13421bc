package models

import (
	"regexp"
	"strings"
)

// ValidIMEI reports whether s is 15 digits whose last is the Luhn check digit of the
// first 14, as every handset's IMEI is.
func ValidIMEI(s string) bool {
	if len(s) != 15 {
		return false
	}
	for i := 0; i < 15; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return IMEI(s[:14]) == s
}

// IMEI completes the 14 digits of a handset's body with their Luhn check digit.
func IMEI(body string) string {
	sum := 0
	for i := 0; i < 14; i++ {
		d := int(body[i] - '0')
		// Luhn doubles every second digit counting from the check digit; in the body
		// those are the digits at odd positions counting from zero on the left.
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + string(rune('0'+(10-sum%10)%10))
}

// Venezuelan mobile prefixes (Movilnet 416/426, Movistar 414/424, Digitel 412/422).
var veMobilePrefixes = []string{"412", "414", "416", "422", "424", "426"}

// NormalizeVEMobile returns a Venezuelan mobile number in E.164 (+58416…) and true, or
// "" and false when s is not one. It accepts the ways people write them: 0416-1234567,
// 416 123 4567, 58 416 1234567, +58 (416) 123-45-67.
func NormalizeVEMobile(s string) (string, bool) {
	// Every referral checks two numbers twice; a loop is many times cheaper than a regexp.
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.TrimSpace(s) {
		switch r {
		case ' ', '\t', '\n', '\f', '\r', '-', '(', ')', '.':
		default:
			b.WriteRune(r)
		}
	}
	d := b.String()
	// A leading + announces a country code, which must then be Venezuela's.
	international := strings.HasPrefix(d, "+")
	d = strings.TrimPrefix(d, "+")
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "58"):
		d = d[2:]
	case international:
		return "", false
	case len(d) == 11 && strings.HasPrefix(d, "0"):
		d = d[1:]
	case len(d) == 10:
	default:
		return "", false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	for _, p := range veMobilePrefixes {
		if strings.HasPrefix(d, p) {
			return "+58" + d, true
		}
	}
	return "", false
}

var ticketNumberPattern = regexp.MustCompile(`^[A-Za-z0-9_/-]{1,40}$`)

// ValidTicketNumber reports whether s is a ticket number as CSM issues them.
func ValidTicketNumber(s string) bool { return ticketNumberPattern.MatchString(s) }

var codePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,19}$`)

// ValidCode reports whether s is a code for a business unit, warehouse or centre:
// upper-case letters, digits and dashes, at most 20, as they are printed on documents.
func ValidCode(s string) bool { return codePattern.MatchString(s) }

var catalogueCodePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// ValidCatalogueCode reports whether s is the code of a test or corrective action of the
// catalogues: lower-case snake case, 2 to 40 characters.
func ValidCatalogueCode(s string) bool { return catalogueCodePattern.MatchString(s) }
