package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"centros/models"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// MaxBodyBytes bounds every request body; a larger one gets 413.
const MaxBodyBytes = 1 << 20

var (
	hhmmPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	// unknownField is how encoding/json names a field the type does not have.
	unknownField = regexp.MustCompile(`^json: unknown field "(.*)"$`)
)

// newValidator returns validator/v10 with our tags, naming fields as the JSON does.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		for _, tag := range []string{"json", "form"} {
			if name, _, _ := strings.Cut(f.Tag.Get(tag), ","); name != "" && name != "-" {
				return name
			}
		}
		return f.Name
	})
	str := func(fn func(string) bool) validator.Func {
		return func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) }
	}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("imei", str(models.ValidIMEI)))
	must(v.RegisterValidation("ve_msisdn", str(func(s string) bool { _, ok := models.NormalizeVEMobile(s); return ok })))
	must(v.RegisterValidation("code", str(models.ValidCode)))
	must(v.RegisterValidation("ticket_number", str(models.ValidTicketNumber)))
	must(v.RegisterValidation("catalogue_code", str(models.ValidCatalogueCode)))
	must(v.RegisterValidation("hhmm", str(hhmmPattern.MatchString)))
	must(v.RegisterValidation("notblank", str(func(s string) bool { return strings.TrimSpace(s) != "" })))
	must(v.RegisterValidation("date", str(func(s string) bool { t, err := time.Parse(time.DateOnly, s); return err == nil && plausible(t) })))
	must(v.RegisterValidation("rfc3339", str(func(s string) bool { t, err := time.Parse(time.RFC3339, s); return err == nil && plausible(t) })))
	return v
}

// plausible keeps dates within the years this service can mean: year 0000 parses in Go
// but is no date PostgreSQL knows, and a fault reported in 1900 is a typing error.
func plausible(t time.Time) bool { return t.Year() >= 2000 && t.Year() <= 2999 }

// ruleMessage says in words what each rule wants.
func ruleMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice {
			return "must have at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param()
	case "min":
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice {
			return "must have at least " + fe.Param() + " items"
		}
		return "must be at least " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "email":
		return "must be an email address"
	case "imei":
		return "must be an IMEI: 15 digits ending in a valid check digit"
	case "ve_msisdn":
		return "must be a Venezuelan mobile number (0412, 0414, 0416, 0422, 0424 or 0426 and 7 digits)"
	case "code":
		return "must be 1 to 20 upper-case letters, digits or dashes"
	case "ticket_number":
		return "must be 1 to 40 letters, digits, '-', '_' or '/'"
	case "catalogue_code":
		return "must be 2 to 40 lower-case letters, digits or '_', starting with a letter"
	case "notblank":
		return "must not be blank"
	case "hhmm":
		return "must be a time of day as HH:MM"
	case "date":
		return "must be a date as YYYY-MM-DD, from year 2000 to 2999"
	case "rfc3339":
		return "must be a date and time in RFC 3339 with offset (2026-11-28T09:15:00-04:00), from year 2000 to 2999"
	case "timezone":
		return "must be an IANA time zone such as America/Caracas"
	}
	return "breaks the rule " + fe.Tag()
}

// fieldPath drops the root type from validator's namespace: Referral.customer.company
// becomes customer.company.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

// validate checks v's tags and reports every broken rule with its field.
func (s *Server) validate(v any) error {
	err := s.validator.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("validate: %w", err)
	}
	fields := make([]models.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, models.FieldError{Field: fieldPath(fe), Rule: fe.Tag(), Message: ruleMessage(fe)})
	}
	return models.Invalid(fields...)
}

// bindJSON decodes the body strictly into v and validates it. It writes the problem
// and returns false when the body is not acceptable.
func (s *Server) bindJSON(c *gin.Context, v any) bool {
	if err := decodeJSON(c.Request.Body, v); err != nil {
		s.problem(c, err)
		return false
	}
	if err := s.validate(v); err != nil {
		s.problem(c, err)
		return false
	}
	return true
}

func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() || tokenAfter(dec) {
			return models.Errorf(models.KindInvalid, "malformed_json", "the body has data after its JSON value")
		}
		if field := nulField(reflect.ValueOf(v), ""); field != "" {
			return models.Invalid(models.FieldError{Field: field, Rule: "no_nul", Message: "must not contain NUL characters"})
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return models.Errorf(models.KindTooLarge, "body_too_large", "the body is larger than %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return models.Errorf(models.KindInvalid, "malformed_json", "the body must be a JSON object")
	case errors.As(err, &syntax):
		return models.Errorf(models.KindInvalid, "malformed_json", "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return models.Errorf(models.KindInvalid, "malformed_json", "the body ends in the middle of its JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return models.Invalid(models.FieldError{Field: field, Rule: "type", Message: "must be " + jsonKind(typ.Type)})
	}
	if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
		return models.Invalid(models.FieldError{Field: m[1], Rule: "unknown", Message: "is not a field of this request"})
	}
	return models.Errorf(models.KindInvalid, "malformed_json", "the body could not be read: %v", err)
}

// nulField returns the JSON path of the first string in v holding a NUL character
// ("\u0000" is valid JSON, but PostgreSQL text cannot store it), or "".
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), path)
		}
	case reflect.String:
		if strings.ContainsRune(v.String(), 0) {
			return path
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if f := nulField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); f != "" {
				return f
			}
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if path != "" {
				name = path + "." + name
			}
			if f := nulField(v.Field(i), name); f != "" {
				return f
			}
		}
	}
	return ""
}

// refuseNUL refuses a path or query parameter holding a NUL character: no code, number
// or filter of ours has one, and PostgreSQL cannot compare text with it.
func (s *Server) refuseNUL(c *gin.Context) {
	if strings.ContainsRune(c.Request.URL.Path, 0) {
		s.problem(c, models.Invalid(models.FieldError{Field: "path", Rule: "no_nul", Message: "must not contain NUL characters"}))
		return
	}
	for name, values := range c.Request.URL.Query() {
		for _, v := range values {
			if strings.ContainsRune(name+v, 0) {
				s.problem(c, models.Invalid(models.FieldError{Field: name, Rule: "no_nul", Message: "must not contain NUL characters"}))
				return
			}
		}
	}
	c.Next()
}

func tokenAfter(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// queryInt reads an optional integer query parameter.
func queryInt(c *gin.Context, name string, def int) (int, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, models.Invalid(models.FieldError{Field: name, Rule: "type", Message: "must be a whole number, 0 or more"})
	}
	return n, nil
}

// readBody buffers the body (bounded) so that middleware and handler can both read it.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, models.Errorf(models.KindTooLarge, "body_too_large", "the body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, models.Errorf(models.KindInvalid, "malformed_body", "the body could not be read")
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}
