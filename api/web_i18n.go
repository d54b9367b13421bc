package api

import (
	"fmt"
	"regexp"
	"strings"

	"centros/models"
)

// The languages of the web UI: Spanish as spoken in Venezuela by default, English on
// request.
const (
	langES      = "es"
	langEN      = "en"
	defaultLang = langES
)

// messages is the catalogue of every string the web UI shows, by language and key.
// Values may hold fmt verbs filled by tr's arguments.
var messages = map[string]map[string]string{
	langES: {
		"app.name":        "Centros de Instalación",
		"a11y.skip":       "Saltar al contenido",
		"nav.main":        "Navegación principal",
		"nav.lookup":      "Buscar ticket",
		"nav.queue":       "Cola del centro",
		"nav.centres":     "Centros",
		"nav.users":       "Usuarios",
		"header.logout":   "Cerrar sesión",
		"header.switch":   "English",
		"header.switchto": "Switch to English",
		"header.user":     "Usuario conectado",

		"role.counter":        "Taquilla",
		"role.technician":     "Técnico",
		"role.centre_manager": "Gerente de centro",
		"role.warehouse":      "Almacén",
		"role.admin":          "Administrador",

		"login.title":       "Iniciar sesión",
		"login.intro":       "Personal de los centros de instalación y del almacén.",
		"login.email":       "Correo electrónico",
		"login.password":    "Contraseña",
		"login.submit":      "Entrar",
		"login.failed":      "Correo o contraseña incorrectos.",
		"login.ratelimited": "Demasiados intentos fallidos. Espere %d minutos y vuelva a intentarlo.",

		"flash.welcome":        "Bienvenido/a, %s.",
		"flash.loggedout":      "Sesión cerrada.",
		"flash.user_created":   "Usuario %s creado.",
		"flash.user_updated":   "Usuario %s actualizado.",
		"flash.user_disabled":  "Usuario %s desactivado; sus sesiones se cerraron.",
		"flash.centre_created": "Centro %s creado.",
		"flash.centre_updated": "Centro %s actualizado.",

		"lookup.title":    "Buscar ticket",
		"lookup.label":    "Número de ticket",
		"lookup.hint":     "Escanee el código de barras o escriba el número y pulse Intro.",
		"lookup.submit":   "Buscar",
		"lookup.notfound": "No se encontró el ticket «%s», o no pertenece a su centro. Revise el número y vuelva a intentarlo.",
		"lookup.queue":    "Ver la cola del centro",

		"ticket.title":        "Ticket %s",
		"ticket.status":       "Estado",
		"ticket.customer":     "Cliente",
		"ticket.company":      "Empresa",
		"ticket.account":      "Cuenta corporativa",
		"ticket.contact":      "Contacto",
		"ticket.phone":        "Teléfono",
		"ticket.email":        "Correo",
		"ticket.line":         "Línea",
		"ticket.device":       "Equipo",
		"ticket.brand_model":  "Marca y modelo",
		"ticket.imei":         "IMEI",
		"ticket.fault":        "Falla reportada",
		"ticket.category":     "Categoría",
		"ticket.description":  "Descripción",
		"ticket.reported_at":  "Reportado",
		"ticket.sla_due":      "Vence el SLA",
		"ticket.sla":          "SLA (24 h)",
		"ticket.centre":       "Centro",
		"ticket.unassigned":   "Sin centro asignado",
		"ticket.timezone":     "Horas en la zona horaria %s.",
		"ticket.outcome":      "Resultado",
		"ticket.resolved_at":  "Resuelto",
		"ticket.cancelled_at": "Anulado",
		"ticket.closed_at":    "Cerrado",
		"ticket.another":      "Buscar otro ticket",

		"status.referred":   "Referido",
		"status.scheduled":  "Agendado",
		"status.in_service": "En servicio",
		"status.resolved":   "Resuelto",
		"status.closed":     "Cerrado",
		"status.cancelled":  "Anulado",

		"sla.on_time": "A tiempo",
		"sla.at_risk": "En riesgo",
		"sla.late":    "Vencido",
		"sla.left":    "quedan %s",
		"sla.overdue": "vencido hace %s",

		"fault.no_power":        "No enciende",
		"fault.no_signal":       "Sin señal",
		"fault.no_charge":       "No carga",
		"fault.audio":           "Audio",
		"fault.screen":          "Pantalla",
		"fault.keypad":          "Teclado o botones",
		"fault.sim":             "SIM",
		"fault.data":            "Datos móviles",
		"fault.software":        "Software",
		"fault.physical_damage": "Daño físico",
		"fault.other":           "Otra",

		"outcome.repaired": "Reparado",
		"outcome.swapped":  "Reemplazado por un equipo de respaldo",

		"tickets.title":        "Tickets",
		"tickets.title_centre": "Cola del centro %s",
		"tickets.intro":        "Primero los que vencen antes.",
		"tickets.empty":        "No hay tickets que mostrar.",
		"tickets.next":         "Página siguiente",
		"tickets.first":        "Primera página",
		"tickets.filter":       "Filtrar",
		"tickets.any":          "Todos",
		"tickets.number":       "Ticket",
		"tickets.company":      "Empresa",
		"tickets.device":       "Equipo",
		"tickets.due":          "Vence",

		"centres.title":              "Centros",
		"centres.new":                "Nuevo centro",
		"centres.edit":               "Editar centro %s",
		"centres.code":               "Código",
		"centres.name":               "Nombre",
		"centres.address":            "Dirección",
		"centres.business_unit_code": "Unidad de negocio",
		"centres.time_zone":          "Zona horaria",
		"centres.slot_minutes":       "Duración de cada cita (minutos)",
		"centres.counters":           "Puestos de atención (citas por turno)",
		"centres.opening_hours":      "Horario de atención",
		"centres.opening_hours.hint": "Una línea por intervalo: día (1 = lunes … 7 = domingo) y horas, p. ej. «1 08:00-12:00». «1-5 08:00-12:00» vale de lunes a viernes.",
		"centres.closed_days":        "Días cerrados (feriados)",
		"centres.closed_days.hint":   "Una fecha por línea, como 2026-12-24.",
		"centres.min_backup_stock":   "Stock mínimo de equipos de respaldo",
		"centres.min_stock.hint":     "Una línea por modelo: «modelo: cantidad», p. ej. «SM-A155M: 5».",
		"centres.create":             "Crear centro",
		"centres.hours":              "Horario",
		"centres.empty":              "Todavía no hay centros.",

		"users.title":          "Usuarios",
		"users.new":            "Nuevo usuario",
		"users.edit":           "Editar usuario %s",
		"users.email":          "Correo electrónico",
		"users.name":           "Nombre",
		"users.password":       "Contraseña",
		"users.password.hint":  "Al menos 10 caracteres.",
		"users.new_password":   "Nueva contraseña",
		"users.new_pass.hint":  "Déjela vacía para no cambiarla. Cambiarla cierra las sesiones del usuario.",
		"users.role":           "Rol",
		"users.centre_code":    "Centro",
		"users.centre.hint":    "Para taquilla, técnico y gerente de centro.",
		"users.warehouse_code": "Almacén",
		"users.warehouse.hint": "Solo para el rol almacén.",
		"users.scope":          "Centro o almacén",
		"users.active":         "Activo",
		"users.create":         "Crear usuario",
		"users.disable":        "Desactivar",
		"users.confirm":        "¿Desactivar a %s? Se cerrarán sus sesiones.",
		"users.inactive":       "Inactivo",

		"form.errors":  "Revise los campos marcados.",
		"form.choose":  "— Elija —",
		"form.none":    "— Ninguno —",
		"form.save":    "Guardar cambios",
		"form.cancel":  "Cancelar",
		"form.edit":    "Editar",
		"form.actions": "Acciones",
		"form.yes":     "Sí",
		"form.no":      "No",

		"parse.hours":   "línea %d: escriba «día HH:MM-HH:MM», p. ej. «1 08:00-12:00»",
		"parse.weekday": "línea %d: el día va de 1 (lunes) a 7 (domingo)",
		"parse.stock":   "línea %d: escriba «modelo: cantidad», p. ej. «SM-A155M: 5»",
		"parse.int":     "debe ser un número entero",
		"parse.text":    "tiene caracteres no permitidos",
		"parse.line":    "línea %d: %s",

		"err.title.400":       "Solicitud no válida",
		"err.title.401":       "Sesión requerida",
		"err.title.403":       "Acceso denegado",
		"err.title.404":       "No encontrado",
		"err.title.409":       "Conflicto",
		"err.title.413":       "Solicitud demasiado grande",
		"err.title.422":       "No se puede completar",
		"err.title.429":       "Demasiadas solicitudes",
		"err.title.500":       "Error interno",
		"err.csrf":            "El formulario caducó o no es válido. Recargue la página y vuelva a intentarlo.",
		"err.internal":        "Algo salió mal de nuestro lado. Si lo reporta, indique el identificador de la solicitud.",
		"err.request_id":      "Identificador de la solicitud",
		"err.home":            "Volver al inicio",
		"err.page_not_found":  "La página que busca no existe.",
		"err.forbidden":       "Su rol no permite hacer esto.",
		"err.not_found":       "No se encontró lo que busca, o no pertenece a su centro.",
		"err.version":         "Otra persona modificó este registro mientras usted lo editaba. Recargue la página para ver los cambios y vuelva a intentarlo.",
		"err.exists_email":    "ya existe un usuario con este correo",
		"err.exists_code":     "ya existe un registro con este código",
		"err.demote_self":     "No puede desactivarse ni quitarse el rol de administrador a sí mismo.",
		"err.bad_form":        "No se pudo leer el formulario.",
		"err.too_large":       "El formulario es demasiado grande.",
		"err.concurrent":      "Otra solicitud modificó los mismos datos. Vuelva a intentarlo.",
		"err.session_expired": "Su sesión expiró. Inicie sesión de nuevo.",
	},
	langEN: {
		"app.name":        "Installation Centres",
		"a11y.skip":       "Skip to content",
		"nav.main":        "Main navigation",
		"nav.lookup":      "Find ticket",
		"nav.queue":       "Centre queue",
		"nav.centres":     "Centres",
		"nav.users":       "Users",
		"header.logout":   "Sign out",
		"header.switch":   "Español",
		"header.switchto": "Cambiar a español",
		"header.user":     "Signed in",

		"role.counter":        "Counter",
		"role.technician":     "Technician",
		"role.centre_manager": "Centre manager",
		"role.warehouse":      "Warehouse",
		"role.admin":          "Administrator",

		"login.title":       "Sign in",
		"login.intro":       "For staff of the installation centres and the warehouse.",
		"login.email":       "Email",
		"login.password":    "Password",
		"login.submit":      "Sign in",
		"login.failed":      "Wrong email or password.",
		"login.ratelimited": "Too many failed sign-ins. Wait %d minutes and try again.",

		"flash.welcome":        "Welcome, %s.",
		"flash.loggedout":      "You have signed out.",
		"flash.user_created":   "User %s created.",
		"flash.user_updated":   "User %s updated.",
		"flash.user_disabled":  "User %s disabled; their sessions were closed.",
		"flash.centre_created": "Centre %s created.",
		"flash.centre_updated": "Centre %s updated.",

		"lookup.title":    "Find a ticket",
		"lookup.label":    "Ticket number",
		"lookup.hint":     "Scan the barcode or type the number and press Enter.",
		"lookup.submit":   "Find",
		"lookup.notfound": "Ticket “%s” was not found, or it is not for your centre. Check the number and try again.",
		"lookup.queue":    "See the centre queue",

		"ticket.title":        "Ticket %s",
		"ticket.status":       "Status",
		"ticket.customer":     "Customer",
		"ticket.company":      "Company",
		"ticket.account":      "Corporate account",
		"ticket.contact":      "Contact",
		"ticket.phone":        "Phone",
		"ticket.email":        "Email",
		"ticket.line":         "Line",
		"ticket.device":       "Device",
		"ticket.brand_model":  "Brand and model",
		"ticket.imei":         "IMEI",
		"ticket.fault":        "Reported fault",
		"ticket.category":     "Category",
		"ticket.description":  "Description",
		"ticket.reported_at":  "Reported",
		"ticket.sla_due":      "SLA deadline",
		"ticket.sla":          "SLA (24 h)",
		"ticket.centre":       "Centre",
		"ticket.unassigned":   "No centre assigned",
		"ticket.timezone":     "Times in the %s time zone.",
		"ticket.outcome":      "Outcome",
		"ticket.resolved_at":  "Resolved",
		"ticket.cancelled_at": "Cancelled",
		"ticket.closed_at":    "Closed",
		"ticket.another":      "Find another ticket",

		"status.referred":   "Referred",
		"status.scheduled":  "Scheduled",
		"status.in_service": "In service",
		"status.resolved":   "Resolved",
		"status.closed":     "Closed",
		"status.cancelled":  "Cancelled",

		"sla.on_time": "On time",
		"sla.at_risk": "At risk",
		"sla.late":    "Late",
		"sla.left":    "%s left",
		"sla.overdue": "overdue by %s",

		"fault.no_power":        "No power",
		"fault.no_signal":       "No signal",
		"fault.no_charge":       "Does not charge",
		"fault.audio":           "Audio",
		"fault.screen":          "Screen",
		"fault.keypad":          "Keypad or buttons",
		"fault.sim":             "SIM",
		"fault.data":            "Mobile data",
		"fault.software":        "Software",
		"fault.physical_damage": "Physical damage",
		"fault.other":           "Other",

		"outcome.repaired": "Repaired",
		"outcome.swapped":  "Swapped for a backup device",

		"tickets.title":        "Tickets",
		"tickets.title_centre": "Centre %s queue",
		"tickets.intro":        "Soonest deadline first.",
		"tickets.empty":        "No tickets to show.",
		"tickets.next":         "Next page",
		"tickets.first":        "First page",
		"tickets.filter":       "Filter",
		"tickets.any":          "All",
		"tickets.number":       "Ticket",
		"tickets.company":      "Company",
		"tickets.device":       "Device",
		"tickets.due":          "Due",

		"centres.title":              "Centres",
		"centres.new":                "New centre",
		"centres.edit":               "Edit centre %s",
		"centres.code":               "Code",
		"centres.name":               "Name",
		"centres.address":            "Address",
		"centres.business_unit_code": "Business unit",
		"centres.time_zone":          "Time zone",
		"centres.slot_minutes":       "Appointment length (minutes)",
		"centres.counters":           "Counters (appointments per slot)",
		"centres.opening_hours":      "Opening hours",
		"centres.opening_hours.hint": "One interval per line: weekday (1 = Monday … 7 = Sunday) and hours, e.g. “1 08:00-12:00”. “1-5 08:00-12:00” covers Monday to Friday.",
		"centres.closed_days":        "Closed days (holidays)",
		"centres.closed_days.hint":   "One date per line, as 2026-12-24.",
		"centres.min_backup_stock":   "Minimum backup stock",
		"centres.min_stock.hint":     "One model per line: “model: quantity”, e.g. “SM-A155M: 5”.",
		"centres.create":             "Create centre",
		"centres.hours":              "Hours",
		"centres.empty":              "No centres yet.",

		"users.title":          "Users",
		"users.new":            "New user",
		"users.edit":           "Edit user %s",
		"users.email":          "Email",
		"users.name":           "Name",
		"users.password":       "Password",
		"users.password.hint":  "At least 10 characters.",
		"users.new_password":   "New password",
		"users.new_pass.hint":  "Leave empty to keep it. Changing it closes the user's sessions.",
		"users.role":           "Role",
		"users.centre_code":    "Centre",
		"users.centre.hint":    "For counter, technician and centre manager.",
		"users.warehouse_code": "Warehouse",
		"users.warehouse.hint": "For the warehouse role only.",
		"users.scope":          "Centre or warehouse",
		"users.active":         "Active",
		"users.create":         "Create user",
		"users.disable":        "Disable",
		"users.confirm":        "Disable %s? Their sessions will be closed.",
		"users.inactive":       "Inactive",

		"form.errors":  "Check the fields marked below.",
		"form.choose":  "— Choose —",
		"form.none":    "— None —",
		"form.save":    "Save changes",
		"form.cancel":  "Cancel",
		"form.edit":    "Edit",
		"form.actions": "Actions",
		"form.yes":     "Yes",
		"form.no":      "No",

		"parse.hours":   "line %d: write “weekday HH:MM-HH:MM”, e.g. “1 08:00-12:00”",
		"parse.weekday": "line %d: the weekday is 1 (Monday) to 7 (Sunday)",
		"parse.stock":   "line %d: write “model: quantity”, e.g. “SM-A155M: 5”",
		"parse.int":     "must be a whole number",
		"parse.text":    "has characters that are not allowed",
		"parse.line":    "line %d: %s",

		"err.title.400":       "Bad request",
		"err.title.401":       "Sign-in required",
		"err.title.403":       "Forbidden",
		"err.title.404":       "Not found",
		"err.title.409":       "Conflict",
		"err.title.413":       "Request too large",
		"err.title.422":       "Cannot be done",
		"err.title.429":       "Too many requests",
		"err.title.500":       "Internal error",
		"err.csrf":            "The form has expired or is not valid. Reload the page and try again.",
		"err.internal":        "Something went wrong on our side. If you report it, quote the request id.",
		"err.request_id":      "Request id",
		"err.home":            "Back to the start",
		"err.page_not_found":  "The page you are looking for does not exist.",
		"err.forbidden":       "Your role may not do this.",
		"err.not_found":       "Not found, or not for your centre.",
		"err.version":         "Someone else changed this record while you were editing it. Reload the page to see their changes and try again.",
		"err.exists_email":    "a user with this email already exists",
		"err.exists_code":     "a record with this code already exists",
		"err.demote_self":     "You cannot disable yourself or take away your own admin role.",
		"err.bad_form":        "The form could not be read.",
		"err.too_large":       "The form is too large.",
		"err.concurrent":      "Another request changed the same data. Try again.",
		"err.session_expired": "Your session has expired. Sign in again.",
	},
}

// tr returns the message key in lang, formatted with args. An unknown key is returned
// as is, so that a missing translation shows up rather than hides.
func tr(lang, key string, args ...any) string {
	msg, ok := messages[lang][key]
	if !ok {
		msg, ok = messages[defaultLang][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// hasMessage reports whether key is in the catalogue.
func hasMessage(key string) bool {
	_, ok := messages[defaultLang][key]
	return ok
}

// normLang returns the supported language s names, or "".
func normLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == langES || strings.HasPrefix(s, "es-"):
		return langES
	case s == langEN || strings.HasPrefix(s, "en-"):
		return langEN
	}
	return ""
}

// esFieldMessages translates the fixed messages that services and the validator
// give for fields.
var esFieldMessages = map[string]string{
	"is required":                                                                  "es obligatorio",
	"must be an email address":                                                     "debe ser una dirección de correo",
	"must be a time of day as HH:MM":                                               "debe ser una hora del día como HH:MM",
	"must be a date as YYYY-MM-DD, from year 2000 to 2999":                         "debe ser una fecha como AAAA-MM-DD, del año 2000 al 2999",
	"must be an IANA time zone such as America/Caracas":                            "debe ser una zona horaria IANA, como America/Caracas",
	"must be 1 to 20 upper-case letters, digits or dashes":                         "debe tener de 1 a 20 letras mayúsculas, dígitos o guiones",
	"must be after opens":                                                          "el cierre debe ser posterior a la apertura",
	"overlaps another interval of the same weekday":                                "se solapa con otro intervalo del mismo día",
	"is listed twice":                                                              "está repetido",
	"a centre role has no warehouse":                                               "un rol de centro no lleva almacén",
	"a centre role needs its centre":                                               "un rol de centro necesita su centro",
	"the warehouse role has no centre":                                             "el rol almacén no lleva centro",
	"the warehouse role needs its warehouse":                                       "el rol almacén necesita su almacén",
	"an admin works everywhere and has no centre or warehouse":                     "un administrador trabaja en todas partes y no lleva centro ni almacén",
	"no centre has this code":                                                      "no hay ningún centro con este código",
	"no warehouse has this code":                                                   "no hay ningún almacén con este código",
	"no business unit has this code":                                               "no hay ninguna unidad de negocio con este código",
	"must be a whole number":                                                       "debe ser un número entero",
	"must be a whole number, 0 or more":                                            "debe ser un número entero, 0 o más",
	"must be an IMEI: 15 digits ending in a valid check digit":                     "debe ser un IMEI: 15 dígitos con dígito verificador válido",
	"must be 1 to 40 letters, digits, '-', '_' or '/'":                             "debe tener de 1 a 40 letras, dígitos, «-», «_» o «/»",
	"is not a cursor this service gave out":                                        "no es una posición de página válida",
	"must be from 1 to 500":                                                        "debe estar entre 1 y 500",
	"must be one of: referred, scheduled, in_service, resolved, closed, cancelled": "no es un estado válido",
}

var boundMessage = regexp.MustCompile(`^must (be|have) at (most|least) (\d+)( characters| items)?$`)

// fieldMessage says what is wrong with a field in lang.
func fieldMessage(lang string, fe models.FieldError) string {
	if lang != langES {
		return fe.Message
	}
	if m, ok := esFieldMessages[fe.Message]; ok {
		return m
	}
	if m := boundMessage.FindStringSubmatch(fe.Message); m != nil {
		bound := "como máximo"
		if m[2] == "least" {
			bound = "al menos"
		}
		switch m[4] {
		case " characters":
			return fmt.Sprintf("debe tener %s %s caracteres", bound, m[3])
		case " items":
			return fmt.Sprintf("debe tener %s %s elementos", bound, m[3])
		}
		return fmt.Sprintf("debe ser %s %s", bound, m[3])
	}
	if rest, ok := strings.CutPrefix(fe.Message, "must be one of: "); ok {
		return "debe ser uno de: " + rest
	}
	return fe.Message
}
