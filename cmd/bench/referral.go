package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// referral is the body of POST /api/v1/csm/tickets (CSM-CONTRACT.md).
type referral struct {
	TicketNumber string `json:"ticket_number"`
	ReportedAt   string `json:"reported_at"`
	CentreCode   string `json:"centre_code"`
	Customer     struct {
		AccountNumber string `json:"account_number"`
		Company       string `json:"company"`
		ContactName   string `json:"contact_name"`
		ContactPhone  string `json:"contact_phone"`
		ContactEmail  string `json:"contact_email"`
	} `json:"customer"`
	Line struct {
		MSISDN string `json:"msisdn"`
	} `json:"line"`
	Device struct {
		IMEI  string `json:"imei"`
		Brand string `json:"brand"`
		Model string `json:"model"`
	} `json:"device"`
	Fault struct {
		Category    string `json:"category"`
		Description string `json:"description"`
	} `json:"fault"`
}

var (
	caracas   = time.FixedZone("-04", -4*60*60)
	companies = []string{"Transportes Ávila C.A.", "Distribuidora Los Andes S.A.", "Farmacia San Rafael C.A.",
		"Constructora Orinoco C.A.", "Inversiones Caroní 2020 C.A.", "Servicios Médicos El Llano C.A.",
		"Panadería La Candelaria", "Agropecuaria Portuguesa S.A.", "Seguridad Integral Zulia C.A."}
	firstNames = []string{"María", "José", "Luis", "Carmen", "Ana", "Carlos", "Yusmary", "Jesús", "Daniela", "Rafael"}
	lastNames  = []string{"Pérez", "González", "Rodríguez", "Hernández", "García", "Martínez", "López", "Díaz", "Rojas"}
	prefixes   = []string{"412", "414", "416", "422", "424", "426"}
	devices    = []struct{ tac, brand, model string }{
		{"35693803", "Samsung", "SM-A155M"}, {"35290611", "Samsung", "SM-A057M"},
		{"86453405", "Xiaomi", "Redmi 13C"}, {"35935611", "Motorola", "moto g24"},
		{"35391110", "Apple", "iPhone 12"}, {"86753003", "Huawei", "nova Y61"}, {"35412108", "ZTE", "Blade A54"},
	}
	faults = []struct{ category, description string }{
		{"no_power", "No enciende desde esta mañana, ni conectado al cargador"},
		{"no_signal", "Sin señal desde ayer; otros equipos en la misma oficina sí tienen"},
		{"no_charge", "No carga, el conector parece flojo"},
		{"audio", "El interlocutor no escucha durante las llamadas"},
		{"screen", "Pantalla con líneas verdes y el táctil no responde abajo"},
		{"keypad", "Botón de encendido hundido"},
		{"sim", "No reconoce la SIM; probada en otro equipo y funciona"},
		{"data", "Datos móviles no navegan aunque hay cobertura 4G"},
		{"software", "Se reinicia solo varias veces al día tras la actualización"},
		{"physical_damage", "Cayó al suelo, carcasa partida y cámara trasera rota"},
		{"other", "El equipo se calienta mucho durante el uso normal"},
	}
)

// referralGen makes distinct, valid referrals for one client: unique ticket numbers,
// Luhn-valid IMEIs, Venezuelan mobile numbers, a known centre.
type referralGen struct {
	r       *rand.Rand
	prefix  string
	seq     int
	centres []string
}

func newReferralGen(run string, client int, centres []string) *referralGen {
	return &referralGen{r: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(client))),
		prefix: fmt.Sprintf("CSM-%d-%s-%02d-", time.Now().Year(), run, client), centres: centres}
}

func (g *referralGen) next() []byte {
	g.seq++
	r := g.r
	var in referral
	in.TicketNumber = fmt.Sprintf("%s%07d", g.prefix, g.seq)
	in.ReportedAt = time.Now().Add(-time.Duration(1+r.IntN(240)) * time.Minute).In(caracas).Format(time.RFC3339)
	in.CentreCode = g.centres[r.IntN(len(g.centres))]
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	in.Customer.AccountNumber = fmt.Sprintf("J-%08d-%d", 30000000+r.IntN(9000000), r.IntN(10))
	in.Customer.Company = companies[r.IntN(len(companies))]
	in.Customer.ContactName = first + " " + last
	msisdn := prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%07d", r.IntN(10000000))
	if r.IntN(2) == 0 {
		in.Customer.ContactPhone = "0" + msisdn[:3] + "-" + msisdn[3:] // as people write it
	} else {
		in.Customer.ContactPhone = "+58" + msisdn
	}
	in.Customer.ContactEmail = fmt.Sprintf("%s.%s%d@example.com", ascii(first), ascii(last), r.IntN(100))
	in.Line.MSISDN = "+58" + msisdn
	d := devices[r.IntN(len(devices))]
	in.Device.IMEI = imei(d.tac, r.IntN(1000000))
	in.Device.Brand, in.Device.Model = d.brand, d.model
	f := faults[r.IntN(len(faults))]
	in.Fault.Category, in.Fault.Description = f.category, f.description
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	return b
}

// imei returns the 15-digit IMEI of a type allocation code and serial, with its Luhn
// check digit.
func imei(tac string, serial int) string {
	body := fmt.Sprintf("%s%06d", tac, serial)
	sum := 0
	for i := 0; i < 14; i++ {
		d := int(body[i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}

func ascii(s string) string {
	return strings.ToLower(strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n").Replace(s))
}
