package models_test

import (
	"fmt"
	"strings"
	"testing"

	"centros/models"
)

func TestValidIMEI(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"OK", "356938035643809", true},
		{"OKOther", "490154203237518", true},
		{"OKCheckDigitZero", "353918052413040", true},
		{"WrongCheckDigit", "356938035643808", false},
		{"WrongCheckDigitOther", "490154203237519", false},
		{"TransposedDigits", "359638035643809", false},
		{"FourteenDigits", "35693803564380", false},
		{"SixteenDigits", "3569380356438090", false},
		{"Letter", "35693803564380A", false},
		{"LetterInside", "3569380X5643809", false},
		{"Spaces", "356938 35643809", false},
		{"Dashes", "35-6938035643809", false},
		{"Empty", "", false},
		{"FullWidthDigits", "３５６９３８０３５６４３８０９", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ValidIMEI(tc.in); got != tc.want {
				t.Fatalf("ValidIMEI(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// IMEI completes a body with the check digit ValidIMEI expects, for every last digit.
func TestIMEICheckDigit(t *testing.T) {
	for body, want := range map[string]string{"35693803564380": "356938035643809", "49015420323751": "490154203237518",
		"35391805241304": "353918052413040"} {
		if got := models.IMEI(body); got != want {
			t.Errorf("IMEI(%s) = %s, want %s", body, got, want)
		}
	}
	for n := range 1000 {
		body := fmt.Sprintf("35000000%06d", n)
		good := models.IMEI(body)
		if !models.ValidIMEI(good) {
			t.Fatalf("%s is not valid", good)
		}
		for d := byte('0'); d <= '9'; d++ {
			if d != good[14] && models.ValidIMEI(body+string(d)) {
				t.Fatalf("%s%c passes with the wrong check digit", body, d)
			}
		}
	}
}

func TestNormalizeVEMobile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when the number must be refused
	}{
		{"NationalWithDash", "0416-1234567", "+584161234567"},
		{"NationalPlain", "04161234567", "+584161234567"},
		{"WithoutTrunkZero", "416 123 4567", "+584161234567"},
		{"E164", "+584161234567", "+584161234567"},
		{"InternationalFormatted", "+58 (416) 123-45-67", "+584161234567"},
		{"CountryCodeWithoutPlus", "584241112233", "+584241112233"},
		{"CountryCodeSpaced", "58 416 1234567", "+584161234567"},
		{"Dots", "0414.555.01.23", "+584145550123"},
		{"SurroundingSpaces", "  04265550199 ", "+584265550199"},
		{"Movistar412", "04125550101", "+584125550101"},
		{"Digitel422", "04225550101", "+584225550101"},
		{"Movilnet426", "04265550101", "+584265550101"},
		{"LandlineCaracas", "0212-5551234", ""},
		{"LandlineInternational", "+58 212 555 1234", ""},
		{"LandlineWithoutTrunk", "2125551234", ""},
		{"UnknownMobilePrefix", "0415-1234567", ""},
		{"ForeignUS", "+1 415 555 2671", ""},
		{"ForeignUSWithVEPrefixDigits", "+1 416 123 4567", ""},
		{"ForeignSpain", "+34 612 345 678", ""},
		{"ForeignSwitzerland", "+41 61 234 56 78", ""},
		{"PlusWithoutCountryCode", "+416 123 4567", ""},
		{"TooShort", "0416-123456", ""},
		{"TooShortLocal", "1234567", ""},
		{"TooLong", "0416-12345678", ""},
		{"CountryCodeAndTrunkZero", "+58 0416 1234567", ""},
		{"Letters", "0416-123456A", ""},
		{"Empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := models.NormalizeVEMobile(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("NormalizeVEMobile(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.want != "")
			}
		})
	}
}

func TestValidTicketNumber(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"OK", "CSM-2026-0004711", true},
		{"OneChar", "7", true},
		{"FortyChars", strings.Repeat("A", 40), true},
		{"FortyOneChars", strings.Repeat("A", 41), false},
		{"Slash", "CSM/2026/4711", true},
		{"Underscore", "CSM_2026_4711", true},
		{"LowerCase", "csm-2026-4711", true},
		{"Empty", "", false},
		{"Space", "CSM 2026", false},
		{"LeadingSpace", " CSM-1", false},
		{"TrailingNewline", "CSM-1\n", false},
		{"Accent", "CSM-AVERÍA-1", false},
		{"Enye", "CSM-Ñ-1", false},
		{"Dot", "CSM.1", false},
		{"Percent", "CSM%2F1", false},
		{"Backslash", `CSM\1`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ValidTicketNumber(tc.in); got != tc.want {
				t.Fatalf("ValidTicketNumber(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidCode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"OK", "CCS-01", true},
		{"OneChar", "C", true},
		{"Digits", "2026", true},
		{"TwentyChars", strings.Repeat("A", 20), true},
		{"TwentyOneChars", strings.Repeat("A", 21), false},
		{"LowerCase", "ccs-01", false},
		{"LeadingDash", "-CCS", false},
		{"Underscore", "CCS_01", false},
		{"Space", "CCS 01", false},
		{"Slash", "CCS/01", false},
		{"Accent", "MÉRIDA", false},
		{"Empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ValidCode(tc.in); got != tc.want {
				t.Fatalf("ValidCode(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
