package services

import (
	"context"
	"fmt"
	"time"

	"centros/models"
)

// DemoPassword is the password of every demo account. Demo data is only seeded on a
// local embedded database unless DEMO_DATA says otherwise.
const DemoPassword = "demo-centros-2026"

// DemoLogin is one demo account, printed at start.
type DemoLogin struct {
	Email, Role, Where string
}

// DemoResult says what the seeding did.
type DemoResult struct {
	// Seeded is false when the demo data was already there.
	Seeded bool
	Logins []DemoLogin
	// CSMToken is the demo CSM client's token, known only on the run that seeded it.
	CSMToken string
}

// Demo seeds a small, realistic organisation to try the service with.
type Demo struct {
	Deps
	admin     *Admin
	tickets   *Tickets
	inventory *Inventory
}

// NewDemo returns the demo seeder.
func NewDemo(d Deps, admin *Admin, tickets *Tickets, inventory *Inventory) *Demo {
	return &Demo{Deps: d, admin: admin, tickets: tickets, inventory: inventory}
}

// demoStock is the backup pool: CCS-01 a unit short of its SM-A155M minimum, so the
// stock screen has something to show, and the warehouse enough to restock.
var demoStock = []struct {
	location, brand, model string
	n                      int
}{
	{"CCS-01", "Samsung", "SM-A155M", 4}, {"CCS-01", "Motorola", "Moto G24", 2},
	{"CCS-02", "Samsung", "SM-A155M", 2},
	{"ALM-CAP", "Samsung", "SM-A155M", 6}, {"ALM-CAP", "Motorola", "Moto G24", 4},
}

var demoLogins = []struct {
	models.UserInput
	where string
}{
	{models.UserInput{Email: "taquilla@example.com", Name: "Carmen Rodríguez", Role: models.RoleCounter, CentreCode: "CCS-01"}, "CCS-01"},
	{models.UserInput{Email: "tecnico@example.com", Name: "José Gregorio Hernández", Role: models.RoleTechnician, CentreCode: "CCS-01"}, "CCS-01"},
	{models.UserInput{Email: "gerente@example.com", Name: "Luisa Fernández", Role: models.RoleCentreManager, CentreCode: "CCS-01"}, "CCS-01"},
	{models.UserInput{Email: "taquilla2@example.com", Name: "Pedro Márquez", Role: models.RoleCounter, CentreCode: "CCS-02"}, "CCS-02"},
	{models.UserInput{Email: "almacen@example.com", Name: "Rafael Guzmán", Role: models.RoleWarehouse, WarehouseCode: "ALM-CAP"}, "ALM-CAP"},
}

// Seed creates the demo organisation once; later calls find it and do nothing.
func (d *Demo) Seed(ctx context.Context) (*DemoResult, error) {
	res := &DemoResult{}
	for _, l := range demoLogins {
		res.Logins = append(res.Logins, DemoLogin{Email: l.Email, Role: string(l.Role), Where: l.where})
	}
	var n int64
	if err := d.DB.WithContext(ctx).Table("business_units").Where("code = 'CAP'").Count(&n).Error; err != nil {
		return nil, translate(err)
	}
	if n > 0 {
		return res, nil
	}
	p := models.System
	if _, err := d.admin.CreateBusinessUnit(ctx, p, models.BusinessUnitInput{Code: "CAP", Name: "Región Capital"}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if _, err := d.admin.CreateWarehouse(ctx, p, models.WarehouseInput{Code: "ALM-CAP", Name: "Almacén Región Capital (La Urbina)", BusinessUnitCode: "CAP"}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	weekdays := func(intervals ...[2]string) []models.OpeningHoursInput {
		var out []models.OpeningHoursInput
		for day := 1; day <= 5; day++ {
			for _, iv := range intervals {
				out = append(out, models.OpeningHoursInput{Weekday: day, Opens: iv[0], Closes: iv[1]})
			}
		}
		return out
	}
	two, five := 2, 5
	holidays := []string{"2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01", "2027-02-15", "2027-02-16"}
	centres := []models.CentreInput{{
		Code: "CCS-01", Name: "Centro de Instalación Chacao", Address: "Av. Francisco de Miranda, Torre Delta, PB, Chacao, Caracas",
		BusinessUnitCode: "CAP", TimeZone: models.DefaultTimeZone, SlotMinutes: 30, Counters: 3,
		OpeningHours:   append(weekdays([2]string{"08:00", "12:00"}, [2]string{"13:00", "17:00"}), models.OpeningHoursInput{Weekday: 6, Opens: "08:00", Closes: "12:00"}),
		ClosedDays:     holidays,
		MinBackupStock: []models.MinStockInput{{Model: "SM-A155M", Quantity: &five}, {Model: "Moto G24", Quantity: &two}},
	}, {
		Code: "CCS-02", Name: "Centro de Instalación Las Mercedes", Address: "Calle París con Av. Principal de Las Mercedes, Caracas",
		BusinessUnitCode: "CAP", TimeZone: models.DefaultTimeZone, SlotMinutes: 20, Counters: 2,
		OpeningHours:   weekdays([2]string{"08:30", "16:30"}),
		ClosedDays:     holidays,
		MinBackupStock: []models.MinStockInput{{Model: "SM-A155M", Quantity: &two}},
	}}
	for _, c := range centres {
		if _, err := d.admin.CreateCentre(ctx, p, c); err != nil {
			return nil, fmt.Errorf("demo: centre %s: %w", c.Code, err)
		}
	}
	for _, l := range demoLogins {
		in := l.UserInput
		in.Password = DemoPassword
		if _, err := d.admin.CreateUser(ctx, p, in); err != nil {
			return nil, fmt.Errorf("demo: user %s: %w", in.Email, err)
		}
	}
	client, err := d.admin.CreateAPIClient(ctx, p, models.APIClientInput{Name: "CSM (demo)", Role: models.RoleCSM})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	csm := models.Principal{APIClientID: client.ID, Role: models.RoleCSM, Name: client.Name}
	for i, r := range demoReferrals(d.now()) {
		if _, _, err := d.tickets.Refer(ctx, csm, r); err != nil {
			return nil, fmt.Errorf("demo: ticket %d: %w", i, err)
		}
	}
	unit := 0
	for _, st := range demoStock {
		in := models.UnitsInput{Brand: st.brand, Model: st.model, Kind: models.UnitBackup, LocationCode: st.location}
		for range st.n {
			unit++
			in.IMEIs = append(in.IMEIs, demoIMEI("35699900", unit))
		}
		if _, err := d.inventory.RegisterUnits(ctx, p, in); err != nil {
			return nil, fmt.Errorf("demo: stock: %w", err)
		}
	}
	res.Seeded, res.CSMToken = true, client.Token
	return res, nil
}

// demoReferrals are twenty faults reported over the last day, so that the list shows
// tickets on time, at risk and late.
func demoReferrals(now time.Time) []models.Referral {
	type company struct{ account, name, contact, phone, email string }
	companies := []company{
		{"J-30123456-7", "Transportes Ávila C.A.", "María Pérez", "04161234567", "mperez@transportesavila.com.ve"},
		{"J-40567890-1", "Distribuidora El Ñame, C.A.", "Andrés Gutiérrez", "04241112233", "agutierrez@elname.com.ve"},
		{"J-29876543-2", "Farmacias La Candelaria S.A.", "Yusmely Briceño", "04125550101", "ybriceno@lacandelaria.com.ve"},
		{"G-20000123-4", "Alcaldía de Baruta", "Oswaldo Chacín", "04265550199", "ochacin@baruta.gob.ve"},
		{"J-31234987-0", "Constructora Guaraira Repano C.A.", "Daniela Zambrano", "04145550123", "dzambrano@guairarepano.com"},
	}
	devices := []struct{ brand, model, imei string }{
		{"Samsung", "SM-A155M", "356938035643809"},
		{"Motorola", "Moto G24", "352099001761481"},
		{"Samsung", "SM-A055M", "490154203237518"},
		{"Xiaomi", "Redmi 13C", "353918052413007"},
		{"ZTE", "Blade A54", "861536030196001"},
	}
	faults := []struct{ category, description string }{
		{"no_signal", "Sin señal desde ayer en la oficina y en la calle."},
		{"no_charge", "No carga; el conector parece flojo."},
		{"screen", "Pantalla rota tras una caída; el táctil no responde abajo."},
		{"audio", "El auricular no se escucha durante las llamadas."},
		{"no_power", "No enciende aunque estuvo cargando toda la noche."},
		{"sim", "No reconoce la SIM; dice «Sin tarjeta SIM»."},
		{"data", "Datos móviles no funcionan; llamadas y SMS sí."},
		{"software", "Se reinicia solo varias veces al día."},
		{"keypad", "Los botones de volumen no responden."},
		{"physical_damage", "Equipo mojado; se apaga al rato de encenderlo."},
	}
	lines := []string{"04161234567", "04241112233", "04125550101", "04265550199", "04145550123",
		"04161239876", "04242223344", "04125550202", "04265550200", "04145550124"}
	var out []models.Referral
	for i := 0; i < 20; i++ {
		var r models.Referral
		co, dev, fault := companies[i%len(companies)], devices[i%len(devices)], faults[i%len(faults)]
		r.TicketNumber = fmt.Sprintf("CSM-%d-%07d", now.Year(), 4711+i)
		// Spread reports over the last 26 hours: the oldest are already late.
		r.ReportedAt = now.Add(-time.Duration(26*60-i*75) * time.Minute).Truncate(time.Minute).Format(time.RFC3339)
		switch i % 4 {
		case 0, 1:
			r.CentreCode = "CCS-01"
		case 2:
			r.CentreCode = "CCS-02"
		}
		r.Customer.AccountNumber, r.Customer.Company, r.Customer.ContactName = co.account, co.name, co.contact
		r.Customer.ContactPhone, r.Customer.ContactEmail = co.phone, co.email
		r.Line.MSISDN = lines[i%len(lines)]
		r.Device.Brand, r.Device.Model, r.Device.IMEI = dev.brand, dev.model, demoIMEI(dev.imei, i)
		r.Fault.Category, r.Fault.Description = fault.category, fault.description
		out = append(out, r)
	}
	return out
}

// demoIMEI makes a distinct valid IMEI for each demo ticket from a model's TAC.
func demoIMEI(base string, i int) string {
	return models.IMEI(fmt.Sprintf("%s%06d", base[:8], 100000+i*7919%900000))
}
