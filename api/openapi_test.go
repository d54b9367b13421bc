package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"centros/api"
	"centros/models"
	"centros/services"
)

// openAPI is the document as plain JSON values.
type openAPI map[string]any

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns "METHOD /path" → operation.
func (d openAPI) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range obj(d["paths"]) {
		for method, op := range obj(item) {
			if slices.Contains(httpMethods, method) {
				out[strings.ToUpper(method)+" "+path] = obj(op)
			}
		}
	}
	return out
}

// resolve follows a local $ref.
func (d openAPI) resolve(t *testing.T, v any) map[string]any {
	t.Helper()
	m := obj(v)
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target := any(map[string]any(d))
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			target = obj(target)[part]
		}
		if target == nil {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		m = obj(target)
	}
	t.Fatal("$ref loop")
	return nil
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// documentedRoute reports whether a registered route belongs to the API contract: the
// JSON API and the operational endpoints, not the web UI's pages.
func documentedRoute(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/verify/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// suffixedRoutes are the contract's paths with text after a parameter in one segment,
// which Gin cannot route: the handler takes the suffix off the parameter.
var suffixedRoutes = map[string]string{"GET /api/v1/certificates/{number}": "GET /api/v1/certificates/{number}.pdf"}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	doc := loadOpenAPI(t)
	registered := map[string]bool{}
	for _, r := range e.Server.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if !documentedRoute(path) {
			continue
		}
		key := method + " " + ginParam.ReplaceAllString(path, "{$1}")
		if documented, ok := suffixedRoutes[key]; ok {
			key = documented
		}
		registered[key] = true
	}
	documented := map[string]bool{}
	for k := range doc.operations() {
		documented[k] = true
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in api/openapi.json:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("api/openapi.json documents routes that are not registered:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered: %v", len(registered), registered)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	res := e.do(http.MethodGet, "/api/v1/openapi.json", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %v", res.Status, res.Header)
	}
	if !json.Valid(res.Body) {
		t.Fatal("served document is not valid JSON")
	}
	doc := res.JSON()
	if v := str(doc["openapi"]); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi version %q", v)
	}
	if obj(doc["info"])["title"] == nil || len(obj(doc["paths"])) == 0 {
		t.Fatal("document has no info or paths")
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Body, onDisk) {
		t.Fatal("the served document is not api/openapi.json")
	}
}

// bodiless are the writes whose handler reads no body.
var bodiless = map[string]bool{"POST /api/v1/auth/logout": true, "POST /api/v1/appointments/{id}/no-show": true,
	"POST /api/v1/admin/deliveries/{id}/replay": true, "POST /api/v1/swaps/{id}/retry": true, "POST /api/v1/returns/{id}/dispatch": true}

// TestOpenAPIOperations checks what every operation must say: a summary, security
// unless public, its path parameters, the headers of API.md and problem responses.
func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true,
		"GET /api/v1/openapi.json": true, "POST /api/v1/auth/login": true, "GET /verify/{code}": true}
	if _, ok := obj(obj(obj(doc["components"])["securitySchemes"])["bearerAuth"])["scheme"]; !ok {
		t.Fatal("no bearerAuth security scheme")
	}
	ids := map[string]string{}
	for key, op := range doc.operations() {
		method, path, _ := strings.Cut(key, " ")
		t.Run(key, func(t *testing.T) {
			if str(op["summary"]) == "" {
				t.Error("no summary")
			}
			id := str(op["operationId"])
			if other, dup := ids[id]; id == "" || dup {
				t.Errorf("operationId %q missing or also used by %s", id, other)
			}
			ids[id] = key
			sec, _ := op["security"].([]any)
			if public[key] != (len(sec) == 0) {
				t.Errorf("security %v; public: %v", op["security"], public[key])
			}
			for _, s := range sec {
				if _, ok := obj(s)["bearerAuth"]; !ok {
					t.Errorf("security %v is not bearerAuth", s)
				}
			}
			params := map[string]map[string]any{}
			for _, p := range op["parameters"].([]any) {
				pm := doc.resolve(t, p)
				params[str(pm["in"])+":"+str(pm["name"])] = pm
				if pm["schema"] == nil {
					t.Errorf("parameter %s has no schema", pm["name"])
				}
			}
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				if p, ok := params["path:"+m[1]]; !ok || p["required"] != true {
					t.Errorf("path parameter %s not declared as required", m[1])
				}
			}
			for k := range params {
				if strings.HasPrefix(k, "path:") && !strings.Contains(path, "{"+strings.TrimPrefix(k, "path:")+"}") {
					t.Errorf("parameter %s is not in the path", k)
				}
			}
			if method == "POST" && !public[key] && params["header:Idempotency-Key"] == nil {
				t.Error("POST without the Idempotency-Key header")
			}
			if method == "PATCH" && params["header:If-Match"] == nil {
				t.Error("PATCH without the If-Match header")
			}
			if (method == "POST" || method == "PATCH") && !bodiless[key] && op["requestBody"] == nil {
				t.Error("no request body")
			}
			if bodiless[key] && op["requestBody"] != nil {
				t.Error("documents a request body the handler does not read")
			}
			responses := obj(op["responses"])
			if len(responses) == 0 {
				t.Fatal("no responses")
			}
			success := false
			for code, r := range responses {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("response %q is not a status code", code)
					continue
				}
				resp := doc.resolve(t, r)
				if str(resp["description"]) == "" {
					t.Errorf("response %s has no description", code)
				}
				if n < 300 {
					success = true
				}
				if n >= 400 && n != 503 {
					schema := obj(obj(obj(resp["content"])["application/problem+json"])["schema"])
					if schema["$ref"] != "#/components/schemas/Problem" {
						t.Errorf("response %s is not problem JSON", code)
					}
				}
			}
			if !success {
				t.Error("no success response")
			}
			if !public[key] && responses["401"] == nil {
				t.Error("no 401")
			}
			if (method == "POST" || method == "PATCH") && responses["413"] == nil {
				t.Error("no 413")
			}
			if (method == "POST" || method == "PATCH") && key != "POST /api/v1/auth/logout" && responses["400"] == nil {
				t.Error("no 400")
			}
		})
	}
	// every reference anywhere resolves
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$ref"]; ok {
				doc.resolve(t, x)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(map[string]any(doc))
}

// jsonFields lists the JSON fields of a struct type as encoding/json sees them,
// promoting embedded structs' fields.
func jsonFields(typ reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	var add func(reflect.Type, int)
	depth := map[string]int{}
	add = func(t reflect.Type, level int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				add(f.Type, level+1)
				continue
			}
			if name == "" {
				name = f.Name
			}
			if d, seen := depth[name]; !seen || level < d {
				out[name], depth[name] = f, level
			}
		}
	}
	add(typ, 0)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tagRule(validate, rule string) (string, bool) {
	for _, part := range strings.Split(validate, ",") {
		if part == "dive" {
			return "", false
		}
		if k, v, _ := strings.Cut(part, "="); k == rule {
			return v, true
		}
	}
	return "", false
}

// compareSchema checks a request schema against the Go type the handler decodes into:
// the same field names, the same required fields, limits and enums.
func compareSchema(t *testing.T, doc openAPI, where string, schema map[string]any, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	schema = doc.resolve(t, schema)
	props := obj(schema["properties"])
	fields := jsonFields(typ)
	if got, want := sortedKeys(props), sortedKeys(fields); !slices.Equal(got, want) {
		t.Errorf("%s: properties %v, Go fields %v", where, got, want)
		return
	}
	if schema["additionalProperties"] != false {
		t.Errorf("%s: requests are decoded strictly; say additionalProperties: false", where)
	}
	var required []string
	reqs, _ := schema["required"].([]any)
	for _, r := range reqs {
		required = append(required, r.(string))
	}
	for name, f := range fields {
		path := where + "." + name
		v := f.Tag.Get("validate")
		_, req := tagRule(v, "required")
		// the version of an edit may come as If-Match instead
		if name == "version" && strings.HasSuffix(typ.Name(), "Update") {
			req = false
		}
		if req != slices.Contains(required, name) {
			t.Errorf("%s: required in Go %v, in the document %v", path, req, !req)
		}
		p := doc.resolve(t, props[name])
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.String:
			if p["type"] != "string" {
				t.Errorf("%s: type %v, want string", path, p["type"])
			}
			if m, ok := tagRule(v, "max"); ok && strconv.Itoa(int(num(p["maxLength"]))) != m {
				t.Errorf("%s: maxLength %v, Go max=%s", path, p["maxLength"], m)
			}
			if m, ok := tagRule(v, "min"); ok && strconv.Itoa(int(num(p["minLength"]))) != m {
				t.Errorf("%s: minLength %v, Go min=%s", path, p["minLength"], m)
			}
			if m, ok := tagRule(v, "oneof"); ok {
				var enum []string
				for _, x := range p["enum"].([]any) {
					enum = append(enum, x.(string))
				}
				if !slices.Equal(enum, strings.Fields(m)) {
					t.Errorf("%s: enum %v, Go oneof=%s", path, enum, m)
				}
			}
			if _, ok := tagRule(v, "notblank"); ok != (p["pattern"] == `\S`) {
				t.Errorf("%s: notblank in Go %v, pattern %v", path, ok, p["pattern"])
			}
			for _, rule := range []string{"code", "ticket_number", "hhmm", "imei"} {
				if _, ok := tagRule(v, rule); ok && str(p["pattern"]) == "" {
					t.Errorf("%s: rule %s without a pattern", path, rule)
				}
			}
			if _, ok := tagRule(v, "rfc3339"); ok && p["format"] != "date-time" {
				t.Errorf("%s: format %v, want date-time", path, p["format"])
			}
			if _, ok := tagRule(v, "email"); ok && p["format"] != "email" {
				t.Errorf("%s: format %v, want email", path, p["format"])
			}
		case reflect.Int:
			if p["type"] != "integer" {
				t.Errorf("%s: type %v, want integer", path, p["type"])
			}
			if m, ok := tagRule(v, "max"); ok && strconv.Itoa(int(num(p["maximum"]))) != m {
				t.Errorf("%s: maximum %v, Go max=%s", path, p["maximum"], m)
			}
			if m, ok := tagRule(v, "min"); ok && strconv.Itoa(int(num(p["minimum"]))) != m {
				t.Errorf("%s: minimum %v, Go min=%s", path, p["minimum"], m)
			}
		case reflect.Bool:
			if p["type"] != "boolean" {
				t.Errorf("%s: type %v, want boolean", path, p["type"])
			}
		case reflect.Slice:
			if p["type"] != "array" {
				t.Errorf("%s: type %v, want array", path, p["type"])
			}
			if m, ok := tagRule(v, "max"); ok && strconv.Itoa(int(num(p["maxItems"]))) != m {
				t.Errorf("%s: maxItems %v, Go max=%s", path, p["maxItems"], m)
			}
			if m, ok := tagRule(v, "min"); ok && strconv.Itoa(int(num(p["minItems"]))) != m {
				t.Errorf("%s: minItems %v, Go min=%s", path, p["minItems"], m)
			}
			if ft.Elem().Kind() == reflect.Struct {
				compareSchema(t, doc, path+"[]", obj(p["items"]), ft.Elem())
			}
		case reflect.Struct:
			if p["type"] != "object" {
				t.Errorf("%s: type %v, want object", path, p["type"])
			}
			compareSchema(t, doc, path, p, ft)
		}
	}
}

func num(v any) float64 { f, _ := v.(float64); return f }

func TestOpenAPIRequestsMatchInputs(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	bodies := map[string]reflect.Type{
		"POST /api/v1/admin/business-units":                                reflect.TypeFor[models.BusinessUnitInput](),
		"POST /api/v1/admin/warehouses":                                    reflect.TypeFor[models.WarehouseInput](),
		"POST /api/v1/admin/centres":                                       reflect.TypeFor[models.CentreInput](),
		"PATCH /api/v1/admin/centres/{code}":                               reflect.TypeFor[models.CentreUpdate](),
		"POST /api/v1/admin/users":                                         reflect.TypeFor[models.UserInput](),
		"PATCH /api/v1/admin/users/{id}":                                   reflect.TypeFor[models.UserUpdate](),
		"POST /api/v1/admin/api-clients":                                   reflect.TypeFor[models.APIClientInput](),
		"POST /api/v1/csm/tickets":                                         reflect.TypeFor[models.Referral](),
		"POST /api/v1/csm/tickets/{ticket_number}/cancel":                  reflect.TypeFor[models.CancelInput](),
		"POST /api/v1/csm/tickets/{ticket_number}/closed":                  reflect.TypeFor[models.ClosedInput](),
		"POST /api/v1/appointments":                                        reflect.TypeFor[models.BookInput](),
		"POST /api/v1/appointments/{id}/reschedule":                        reflect.TypeFor[models.RescheduleInput](),
		"POST /api/v1/appointments/{id}/cancel":                            reflect.TypeFor[models.ReasonInput](),
		"POST /api/v1/appointments/{id}/check-in":                          reflect.TypeFor[models.CheckInInput](),
		"POST /api/v1/tickets/{ticket_number}/walk-in":                     reflect.TypeFor[models.CheckInInput](),
		"PUT /api/v1/admin/test-catalogue/{code}":                          reflect.TypeFor[models.CatalogueInput](),
		"PUT /api/v1/admin/corrective-actions/{code}":                      reflect.TypeFor[models.CatalogueInput](),
		"PATCH /api/v1/repairs/{id}":                                       reflect.TypeFor[models.RepairUpdate](),
		"PUT /api/v1/repairs/{id}/tests":                                   reflect.TypeFor[models.TestResultsUpdate](),
		"POST /api/v1/repairs/{id}/certify":                                reflect.TypeFor[models.CertifyInput](),
		"POST /api/v1/certificates/{number}/void":                          reflect.TypeFor[models.ReasonInput](),
		"POST /api/v1/admin/units":                                         reflect.TypeFor[models.UnitInput](),
		"POST /api/v1/admin/units/batch":                                   reflect.TypeFor[models.UnitsInput](),
		"POST /api/v1/repairs/{id}/swap":                                   reflect.TypeFor[models.SwapInput](),
		"POST /api/v1/swaps/{id}/undo":                                     reflect.TypeFor[models.ReasonInput](),
		"POST /api/v1/csm/service-changes/{swap_id}":                       reflect.TypeFor[models.ServiceChangeInput](),
		"POST /api/v1/returns":                                             reflect.TypeFor[models.IMEIsInput](),
		"POST /api/v1/returns/{id}/receive":                                reflect.TypeFor[models.ReceiveReturnInput](),
		"POST /api/v1/returns/{id}/discrepancies/{discrepancy_id}/resolve": reflect.TypeFor[models.ResolveInput](),
		"POST /api/v1/restock-requests":                                    reflect.TypeFor[models.RestockInput](),
		"POST /api/v1/restock-requests/{id}/fulfil":                        reflect.TypeFor[models.IMEIsInput](),
		"POST /api/v1/restock-requests/{id}/receive":                       reflect.TypeFor[models.IMEIsInput](),
		"POST /api/v1/restock-requests/{id}/reject":                        reflect.TypeFor[models.ReasonInput](),
		// api.loginRequest is unexported; this mirrors it.
		"POST /api/v1/auth/login": reflect.TypeFor[struct {
			Email    string `json:"email" validate:"required,max=254"`
			Password string `json:"password" validate:"required,max=200"`
		}](),
		// and api.replayRequest
		"POST /api/v1/admin/deliveries/replay": reflect.TypeFor[struct {
			IDs []string `json:"ids" validate:"required,min=1,max=500,dive,required,max=40"`
		}](),
	}
	ops := doc.operations()
	for key, op := range ops {
		if op["requestBody"] != nil {
			if _, ok := bodies[key]; !ok {
				t.Errorf("%s: request body not compared with its Go type; add it here", key)
			}
		}
	}
	for key, typ := range bodies {
		op := ops[key]
		if op == nil {
			t.Errorf("%s: not documented", key)
			continue
		}
		body := obj(op["requestBody"])
		if body["required"] != true {
			t.Errorf("%s: request body not required", key)
		}
		compareSchema(t, doc, key, obj(obj(obj(body["content"])["application/json"])["schema"]), typ)
	}
}

// TestOpenAPIResponsesMatchViews checks that the documented response objects have
// exactly the fields the service encodes.
func TestOpenAPIResponsesMatchViews(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	schemas := obj(obj(doc["components"])["schemas"])
	for name, typ := range map[string]reflect.Type{
		"Problem":            reflect.TypeFor[api.Problem](),
		"FieldError":         reflect.TypeFor[models.FieldError](),
		"BusinessUnit":       reflect.TypeFor[models.BusinessUnit](),
		"Warehouse":          reflect.TypeFor[models.Warehouse](),
		"Centre":             reflect.TypeFor[services.CentreView](),
		"OpeningHours":       reflect.TypeFor[models.OpeningHours](),
		"MinStock":           reflect.TypeFor[models.MinStock](),
		"User":               reflect.TypeFor[models.User](),
		"APIClient":          reflect.TypeFor[models.APIClient](),
		"Ticket":             reflect.TypeFor[models.Ticket](),
		"Event":              reflect.TypeFor[models.Event](),
		"AuditEntry":         reflect.TypeFor[services.AuditEntry](),
		"Appointment":        reflect.TypeFor[models.Appointment](),
		"AgendaEntry":        reflect.TypeFor[models.AgendaEntry](),
		"Slot":               reflect.TypeFor[models.SlotView](),
		"Alternative":        reflect.TypeFor[models.Alternative](),
		"Availability":       reflect.TypeFor[models.Availability](),
		"Delivery":           reflect.TypeFor[services.Delivery](),
		"DeliveryAttempt":    reflect.TypeFor[services.DeliveryAttempt](),
		"RepairOrder":        reflect.TypeFor[models.RepairOrder](),
		"TestView":           reflect.TypeFor[models.TestView](),
		"ActionView":         reflect.TypeFor[models.ActionView](),
		"Checklist":          reflect.TypeFor[models.Checklist](),
		"Certificate":        reflect.TypeFor[models.Certificate](),
		"Verification":       reflect.TypeFor[models.Verification](),
		"CatalogueItem":      reflect.TypeFor[models.CatalogueItem](),
		"RepairSummary":      reflect.TypeFor[models.RepairSummary](),
		"CertificateSummary": reflect.TypeFor[models.CertificateSummary](),
		"Unit":               reflect.TypeFor[models.Unit](),
		"Movement":           reflect.TypeFor[models.Movement](),
		"ModelStock":         reflect.TypeFor[models.ModelStock](),
		"StockView":          reflect.TypeFor[models.StockView](),
		"Swap":               reflect.TypeFor[models.Swap](),
		"Refusal":            reflect.TypeFor[models.Refusal](),
		"UnitsResult":        reflect.TypeFor[models.UnitsResult](),
		"ReturnShipment":     reflect.TypeFor[models.ReturnShipment](),
		"ReturnItem":         reflect.TypeFor[models.ReturnItem](),
		"Discrepancy":        reflect.TypeFor[models.Discrepancy](),
		"RestockRequest":     reflect.TypeFor[models.RestockRequest](),
		"RestockLine":        reflect.TypeFor[models.RestockLine](),
		"RestockUnit":        reflect.TypeFor[models.RestockUnit](),
	} {
		schema := obj(schemas[name])
		if schema == nil {
			t.Errorf("no schema %s", name)
			continue
		}
		if got, want := sortedKeys(obj(schema["properties"])), sortedKeys(jsonFields(typ)); !slices.Equal(got, want) {
			t.Errorf("%s: properties %v, Go fields %v", name, got, want)
		}
	}
	// nested views of the ticket
	ticket := obj(obj(schemas["Ticket"])["properties"])
	for name, typ := range map[string]reflect.Type{"customer": reflect.TypeFor[models.Customer](), "line": reflect.TypeFor[models.Line](),
		"device": reflect.TypeFor[models.Device](), "fault": reflect.TypeFor[models.Fault]()} {
		if got, want := sortedKeys(obj(obj(ticket[name])["properties"])), sortedKeys(jsonFields(typ)); !slices.Equal(got, want) {
			t.Errorf("Ticket.%s: properties %v, Go fields %v", name, got, want)
		}
	}
	// the enums of the domain
	enum := func(schema map[string]any) []string {
		var out []string
		for _, v := range schema["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	var statuses []string
	for _, s := range models.TicketStatuses {
		statuses = append(statuses, string(s))
	}
	if got := enum(obj(ticket["status"])); !slices.Equal(got, statuses) {
		t.Errorf("Ticket.status enum %v, want %v", got, statuses)
	}
	if got := enum(obj(obj(obj(ticket["fault"])["properties"])["category"])); !slices.Equal(got, models.FaultCategories) {
		t.Errorf("fault categories %v, want %v", got, models.FaultCategories)
	}
}

// TestOpenAPIAppointmentCodes checks that each appointment and repair operation documents, under
// the right status, every problem code its service can answer with.
func TestOpenAPIAppointmentCodes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ops := doc.operations()
	want := map[string]map[string][]string{
		"POST /api/v1/appointments": {
			"409": {"slot_full", "ticket_has_appointment", "idempotency_key_in_flight"},
			"422": {"outside_opening_hours", "not_a_slot_start", "in_the_past", "ticket_not_bookable", "idempotency_key_reused"},
		},
		"POST /api/v1/appointments/{id}/reschedule": {
			"409": {"slot_full", "version_conflict", "appointment_not_booked"},
			"422": {"outside_opening_hours", "not_a_slot_start", "in_the_past"},
		},
		"POST /api/v1/appointments/{id}/cancel":        {"409": {"appointment_not_booked"}},
		"POST /api/v1/appointments/{id}/no-show":       {"409": {"appointment_not_booked"}, "422": {"slot_not_started"}},
		"POST /api/v1/appointments/{id}/check-in":      {"409": {"appointment_not_booked"}, "422": {"not_today", "imei_mismatch"}},
		"POST /api/v1/tickets/{ticket_number}/walk-in": {"409": {"no_counter_free", "ticket_has_appointment"}, "422": {"centre_closed_now", "ticket_not_bookable", "imei_mismatch"}},
		"PATCH /api/v1/admin/centres/{code}":           {"409": {"version_conflict", "counters_below_bookings"}},
		"GET /api/v1/centres/{code}/availability":      {"400": {"validation_failed"}, "403": {"forbidden"}, "404": {"not_found"}},
		"GET /api/v1/centres/{code}/agenda":            {"400": {"validation_failed"}, "403": {"forbidden"}, "404": {"not_found"}},
		"GET /api/v1/appointments/{id}":                {"403": {"forbidden"}, "404": {"not_found"}},
		"PATCH /api/v1/repairs/{id}":                   {"409": {"version_conflict", "repair_not_open"}, "422": {"unknown_action"}},
		"PUT /api/v1/repairs/{id}/tests":               {"409": {"version_conflict", "repair_not_open"}, "422": {"unknown_test"}},
		"POST /api/v1/repairs/{id}/certify": {"409": {"repair_not_open"},
			"422": {"tests_incomplete", "tests_failed", "diagnosis_missing", "actions_missing", "swap_required", "swap_failed", "swap_active"}},
		"POST /api/v1/certificates/{number}/void":    {"409": {"certificate_void"}},
		"POST /api/v1/repairs/{id}/swap":             {"409": {"unit_not_available", "no_stock", "swap_exists", "repair_not_open", "faulty_unit_conflict"}},
		"POST /api/v1/swaps/{id}/undo":               {"409": {"swap_confirmed", "swap_undone", "repair_not_open", "unit_not_available"}},
		"POST /api/v1/swaps/{id}/retry":              {"409": {"swap_not_failed"}},
		"POST /api/v1/csm/service-changes/{swap_id}": {"409": {"service_change_settled", "swap_undone"}},
		"POST /api/v1/returns":                       {"422": {"unit_not_returnable", "no_warehouse"}},
		"POST /api/v1/returns/{id}/dispatch":         {"409": {"return_not_draft", "unit_not_available"}},
		"POST /api/v1/returns/{id}/receive":          {"409": {"return_not_dispatched"}},
		"POST /api/v1/restock-requests/{id}/fulfil":  {"409": {"restock_not_open"}, "422": {"unit_not_available"}},
		"POST /api/v1/restock-requests/{id}/receive": {"409": {"restock_not_shipped"}, "422": {"unit_not_shipped"}},
		"POST /api/v1/restock-requests/{id}/reject":  {"409": {"restock_not_open"}},
	}
	for key, byStatus := range want {
		op := ops[key]
		if op == nil {
			t.Errorf("%s: not documented", key)
			continue
		}
		for status, codes := range byStatus {
			r := obj(op["responses"])[status]
			if r == nil {
				t.Errorf("%s: no %s response", key, status)
				continue
			}
			desc := str(doc.resolve(t, r)["description"])
			for _, code := range codes {
				if !strings.Contains(desc, code) {
					t.Errorf("%s %s: %q does not name %s", key, status, desc, code)
				}
			}
		}
	}
	// the query parameters of the calendar reads
	for key, names := range map[string][]string{
		"GET /api/v1/centres/{code}/availability": {"from", "to", "ticket_number"},
		"GET /api/v1/centres/{code}/agenda":       {"date"},
	} {
		found := map[string]map[string]any{}
		for _, p := range ops[key]["parameters"].([]any) {
			pm := doc.resolve(t, p)
			if pm["in"] == "query" {
				found[str(pm["name"])] = pm
			}
		}
		for _, n := range names {
			p := found[n]
			if p == nil {
				t.Errorf("%s: no query parameter %s", key, n)
				continue
			}
			if required := n != "ticket_number"; p["required"] != required {
				t.Errorf("%s: %s required %v, want %v", key, n, p["required"], required)
			}
		}
	}
	// the appointment states
	schemas := obj(obj(doc["components"])["schemas"])
	var got []string
	for _, v := range obj(obj(obj(schemas["Appointment"])["properties"])["status"])["enum"].([]any) {
		got = append(got, v.(string))
	}
	states := []string{string(models.AppointmentBooked), string(models.AppointmentCheckedIn), string(models.AppointmentCompleted),
		string(models.AppointmentCancelled), string(models.AppointmentNoShow)}
	if !slices.Equal(got, states) {
		t.Errorf("Appointment.status enum %v, want %v", got, states)
	}
	if ref := str(obj(obj(obj(obj(schemas["Ticket"])["properties"])["appointment"])["allOf"].([]any)[0])["$ref"]); ref != "#/components/schemas/Appointment" {
		t.Errorf("Ticket.appointment is %q, want the Appointment schema", ref)
	}
}

// TestOpenAPIDeliveries checks the admin's deliveries routes against what the server
// does: the status filter's enum is exactly what it accepts, the lists and replays
// document their shapes and every problem they answer with.
func TestOpenAPIDeliveries(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ops := doc.operations()
	schemas := obj(obj(doc["components"])["schemas"])
	enum := func(v any) []string {
		var out []string
		for _, x := range obj(v)["enum"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	list := ops["GET /api/v1/admin/deliveries"]
	query := map[string]map[string]any{}
	for _, p := range list["parameters"].([]any) {
		pm := doc.resolve(t, p)
		if pm["in"] == "query" {
			query[str(pm["name"])] = pm
		}
	}
	if len(query) != 3 || query["limit"] == nil || query["cursor"] == nil || query["status"] == nil || query["status"]["required"] == true {
		t.Fatalf("query parameters %v, want optional status, limit, cursor", sortedKeys(query))
	}
	statuses := enum(query["status"]["schema"])
	var delivery []string
	for _, s := range []models.DeliveryStatus{models.DeliveryPending, models.DeliveryFailed, models.DeliveryDead, models.DeliveryDelivered} {
		delivery = append(delivery, string(s))
	}
	if !slices.Equal(statuses, delivery) {
		t.Errorf("status enum %v, want %v", statuses, delivery)
	}
	if got := enum(obj(obj(schemas["Delivery"])["properties"])["delivery_status"]); !sameStrings(got, delivery) {
		t.Errorf("Delivery.delivery_status enum %v, want %v", got, delivery)
	}
	wantResponses := map[string][]string{
		"GET /api/v1/admin/deliveries":              {"200", "400", "401", "403"},
		"POST /api/v1/admin/deliveries/replay":      {"200", "400", "401", "403", "404", "409", "413", "422"},
		"POST /api/v1/admin/deliveries/{id}/replay": {"200", "400", "401", "403", "404", "409", "413", "422"},
	}
	for key, codes := range wantResponses {
		if got := sortedKeys(obj(ops[key]["responses"])); !slices.Equal(got, codes) {
			t.Errorf("%s: responses %v, want %v", key, got, codes)
		}
	}
	ref := func(v any) string {
		return str(obj(obj(obj(doc.resolve(t, v)["content"])["application/json"])["schema"])["$ref"])
	}
	if r := ref(obj(list["responses"])["200"]); r != "#/components/schemas/DeliveryList" {
		t.Errorf("list answers %s", r)
	}
	if r := str(obj(obj(obj(schemas["DeliveryList"])["properties"])["items"])["items"].(map[string]any)["$ref"]); r != "#/components/schemas/Delivery" {
		t.Errorf("DeliveryList items are %s", r)
	}
	if r := str(obj(obj(obj(schemas["Delivery"])["properties"])["attempt_log"])["items"].(map[string]any)["$ref"]); r != "#/components/schemas/DeliveryAttempt" {
		t.Errorf("Delivery.attempt_log items are %s", r)
	}
	for _, key := range []string{"POST /api/v1/admin/deliveries/replay", "POST /api/v1/admin/deliveries/{id}/replay"} {
		if r := ref(obj(ops[key]["responses"])["200"]); r != "#/components/schemas/ReplayResult" {
			t.Errorf("%s answers %s", key, r)
		}
	}
	if got := sortedKeys(obj(obj(schemas["ReplayResult"])["properties"])); !slices.Equal(got, []string{"replayed"}) {
		t.Errorf("ReplayResult properties %v", got)
	}
	// the server takes exactly the documented statuses
	e := newTestEnv(t)
	adm := e.token(emailAdmin)
	for _, s := range statuses {
		wantStatus(t, e.do(http.MethodGet, "/api/v1/admin/deliveries?status="+s, adm, nil), http.StatusOK)
	}
	for _, s := range []string{"lost", "DEAD", "dead%20", "delivered,dead"} {
		wantProblem(t, e.do(http.MethodGet, "/api/v1/admin/deliveries?status="+s, adm, nil), http.StatusBadRequest, "validation_failed")
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
