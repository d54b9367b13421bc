package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"centros/models"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Admin sets up the organisation: business units, warehouses, centres, staff and the
// API clients of other systems. Every method needs the admin role.
type Admin struct{ Deps }

// NewAdmin returns the administration service.
func NewAdmin(d Deps) *Admin { return &Admin{d} }

func unknownRef(field, what string) error {
	return &models.Error{Kind: models.KindUnprocessable, Code: "unknown_reference",
		Message: fmt.Sprintf("%s: no %s has this code", field, what),
		Fields:  []models.FieldError{{Field: field, Rule: "exists", Message: "no " + what + " has this code"}}}
}

func lookupID(tx *gorm.DB, table, code, field, what string) (string, error) {
	var id string
	err := tx.Raw("SELECT id FROM "+table+" WHERE code = ?", code).Scan(&id).Error
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", unknownRef(field, what)
	}
	return id, nil
}

// CreateBusinessUnit creates a business unit. Errors: conflict (already_exists).
func (s *Admin) CreateBusinessUnit(ctx context.Context, p models.Principal, in models.BusinessUnitInput) (*models.BusinessUnit, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	bu := models.BusinessUnit{Code: in.Code, Name: strings.TrimSpace(in.Name), Version: 1}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&bu).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "create", "business_unit", bu.ID, nil, nil, bu)
	})
	if err != nil {
		return nil, err
	}
	return &bu, nil
}

// ListBusinessUnits lists every business unit by code.
func (s *Admin) ListBusinessUnits(ctx context.Context, p models.Principal) ([]models.BusinessUnit, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	var out []models.BusinessUnit
	return out, translate(s.DB.WithContext(ctx).Order("code").Find(&out).Error)
}

// CreateWarehouse creates a warehouse of a business unit.
// Errors: conflict (already_exists), unprocessable (unknown_reference).
func (s *Admin) CreateWarehouse(ctx context.Context, p models.Principal, in models.WarehouseInput) (*models.Warehouse, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	w := models.Warehouse{Code: in.Code, Name: strings.TrimSpace(in.Name), BusinessUnitCode: in.BusinessUnitCode, Version: 1}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var err error
		if w.BusinessUnitID, err = lookupID(tx, "business_units", in.BusinessUnitCode, "business_unit_code", "business unit"); err != nil {
			return err
		}
		if err := tx.Omit("BusinessUnit").Create(&w).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "create", "warehouse", w.ID, nil, nil, w)
	})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// ListWarehouses lists every warehouse by code.
func (s *Admin) ListWarehouses(ctx context.Context, p models.Principal) ([]models.Warehouse, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	var out []models.Warehouse
	if err := s.DB.WithContext(ctx).Preload("BusinessUnit").Order("code").Find(&out).Error; err != nil {
		return nil, translate(err)
	}
	for i := range out {
		out[i].BusinessUnitCode = out[i].BusinessUnit.Code
	}
	return out, nil
}

// calendar is a centre's calendar after its rules of consistency were checked.
type calendar struct {
	hours  []models.OpeningHours
	closed []models.ClosedDay
	stock  []models.MinStock
}

// checkCalendar enforces what tags cannot: intervals that open before they close and do
// not overlap on a weekday, closed days and models listed once.
func checkCalendar(hours []models.OpeningHoursInput, closed []string, stock []models.MinStockInput) (*calendar, error) {
	var fields []models.FieldError
	c := &calendar{}
	byDay := map[int][]int{}
	for i, h := range hours {
		if h.Opens >= h.Closes {
			fields = append(fields, models.FieldError{Field: fmt.Sprintf("opening_hours[%d].closes", i), Rule: "gtfield", Message: "must be after opens"})
			continue
		}
		byDay[h.Weekday] = append(byDay[h.Weekday], i)
		c.hours = append(c.hours, models.OpeningHours{Weekday: h.Weekday, Opens: h.Opens, Closes: h.Closes})
	}
	for _, idx := range byDay {
		sort.Slice(idx, func(a, b int) bool { return hours[idx[a]].Opens < hours[idx[b]].Opens })
		for k := 1; k < len(idx); k++ {
			if hours[idx[k]].Opens < hours[idx[k-1]].Closes {
				fields = append(fields, models.FieldError{Field: fmt.Sprintf("opening_hours[%d]", idx[k]), Rule: "no_overlap", Message: "overlaps another interval of the same weekday"})
			}
		}
	}
	seenDay := map[string]bool{}
	for i, d := range closed {
		if seenDay[d] {
			fields = append(fields, models.FieldError{Field: fmt.Sprintf("closed_days[%d]", i), Rule: "unique", Message: "is listed twice"})
			continue
		}
		seenDay[d] = true
		c.closed = append(c.closed, models.ClosedDay{Day: d})
	}
	seenModel := map[string]bool{}
	for i, m := range stock {
		model := strings.TrimSpace(m.Model)
		if seenModel[strings.ToLower(model)] {
			fields = append(fields, models.FieldError{Field: fmt.Sprintf("min_backup_stock[%d].model", i), Rule: "unique", Message: "is listed twice"})
			continue
		}
		seenModel[strings.ToLower(model)] = true
		c.stock = append(c.stock, models.MinStock{Model: model, Quantity: *m.Quantity})
	}
	if len(fields) > 0 {
		return nil, models.Invalid(fields...)
	}
	return c, nil
}

// save replaces the parts of a centre's calendar that an edit sends.
func (c *calendar) save(tx *gorm.DB, centreID string, hours, closed, stock bool) error {
	if hours {
		if err := replaceRows(tx, "centre_opening_hours", centreID, c.hours, func(h *models.OpeningHours) { h.CentreID = centreID }); err != nil {
			return err
		}
	}
	if closed {
		if err := replaceRows(tx, "centre_closed_days", centreID, c.closed, func(d *models.ClosedDay) { d.CentreID = centreID }); err != nil {
			return err
		}
	}
	if stock {
		return replaceRows(tx, "centre_min_stock", centreID, c.stock, func(m *models.MinStock) { m.CentreID = centreID })
	}
	return nil
}

func replaceRows[T any](tx *gorm.DB, table, centreID string, rows []T, own func(*T)) error {
	if err := tx.Exec("DELETE FROM "+table+" WHERE centre_id = ?", centreID).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	for i := range rows {
		own(&rows[i])
	}
	return tx.Create(&rows).Error
}

// CreateCentre creates a centre with its calendar.
// Errors: invalid (validation_failed), conflict (already_exists), unprocessable (unknown_reference).
func (s *Admin) CreateCentre(ctx context.Context, p models.Principal, in models.CentreInput) (*CentreView, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	cal, err := checkCalendar(in.OpeningHours, in.ClosedDays, in.MinBackupStock)
	if err != nil {
		return nil, err
	}
	if in.TimeZone == "" {
		in.TimeZone = models.DefaultTimeZone
	}
	c := models.Centre{Code: in.Code, Name: strings.TrimSpace(in.Name), Address: strings.TrimSpace(in.Address),
		TimeZone: in.TimeZone, SlotMinutes: in.SlotMinutes, Counters: in.Counters, Version: 1}
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		var err error
		if c.BusinessUnitID, err = lookupID(tx, "business_units", in.BusinessUnitCode, "business_unit_code", "business unit"); err != nil {
			return err
		}
		if err := tx.Omit("BusinessUnit", "OpeningHours", "ClosedDays", "MinBackupStock").Create(&c).Error; err != nil {
			return err
		}
		if err := cal.save(tx, c.ID, true, true, true); err != nil {
			return err
		}
		v, err := loadCentre(tx, "centres.id = ?", c.ID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, p, "create", "centre", c.ID, &c.ID, nil, v)
	})
	if err != nil {
		return nil, err
	}
	return s.GetCentre(ctx, p, c.Code)
}

// CentreView is a centre as the API shows it.
type CentreView struct {
	models.Centre
	ClosedDays []string `json:"closed_days"`
}

func loadCentre(tx *gorm.DB, where string, args ...any) (*CentreView, error) {
	cs, err := loadCentres(tx.Limit(1), where, args...)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, models.NotFound("centre")
	}
	return &cs[0], nil
}

// loadCentres reads centres with their calendars in one statement: booking and
// availability read them on every request.
func loadCentres(tx *gorm.DB, where string, args ...any) ([]CentreView, error) {
	var rows []struct {
		models.Centre
		BUCode                   string
		Hours, ClosedDays, Stock []byte
	}
	err := tx.Table("centres").Select(`centres.*, bu.code AS bu_code,
			(SELECT COALESCE(json_agg(json_build_object('weekday', h.weekday, 'opens', to_char(h.opens, 'HH24:MI'),
				'closes', to_char(h.closes, 'HH24:MI')) ORDER BY h.weekday, h.opens), '[]')
				FROM centre_opening_hours h WHERE h.centre_id = centres.id) AS hours,
			(SELECT COALESCE(json_agg(to_char(d.day, 'YYYY-MM-DD') ORDER BY d.day), '[]')
				FROM centre_closed_days d WHERE d.centre_id = centres.id) AS closed_days,
			(SELECT COALESCE(json_agg(json_build_object('model', m.model, 'quantity', m.quantity) ORDER BY m.model), '[]')
				FROM centre_min_stock m WHERE m.centre_id = centres.id) AS stock`).
		Joins("JOIN business_units bu ON bu.id = centres.business_unit_id").
		Where(where, args...).Order("centres.code").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]CentreView, len(rows))
	for i, r := range rows {
		v := CentreView{Centre: r.Centre}
		v.BusinessUnitCode = r.BUCode
		if err := errors.Join(json.Unmarshal(r.Hours, &v.OpeningHours), json.Unmarshal(r.ClosedDays, &v.ClosedDays),
			json.Unmarshal(r.Stock, &v.MinBackupStock)); err != nil {
			return nil, fmt.Errorf("centre calendar: %w", err)
		}
		for i := range v.OpeningHours {
			v.OpeningHours[i].CentreID = v.ID
		}
		for i := range v.MinBackupStock {
			v.MinBackupStock[i].CentreID = v.ID
		}
		out[i] = v
	}
	return out, nil
}

// GetCentre returns a centre the caller may see. Errors: not found.
func (s *Admin) GetCentre(ctx context.Context, p models.Principal, code string) (*CentreView, error) {
	if err := authorize(p, actReadCentre); err != nil {
		return nil, err
	}
	return loadCentre(s.DB.WithContext(ctx).Scopes(centreScope(p)), "centres.code = ?", code)
}

// ListCentres lists the centres the caller may see, by code.
func (s *Admin) ListCentres(ctx context.Context, p models.Principal) ([]CentreView, error) {
	if err := authorize(p, actReadCentre); err != nil {
		return nil, err
	}
	out, err := loadCentres(s.DB.WithContext(ctx).Scopes(centreScope(p)), "true")
	return out, translate(err)
}

// UpdateCentre edits a centre. Errors: not found, conflict (version_conflict), invalid.
func (s *Admin) UpdateCentre(ctx context.Context, p models.Principal, code string, in models.CentreUpdate) (*CentreView, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	var hours []models.OpeningHoursInput
	var closed []string
	var stock []models.MinStockInput
	if in.OpeningHours != nil {
		hours = *in.OpeningHours
	}
	if in.ClosedDays != nil {
		closed = *in.ClosedDays
	}
	if in.MinBackupStock != nil {
		stock = *in.MinBackupStock
	}
	cal, err := checkCalendar(hours, closed, stock)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		// NO KEY UPDATE, not UPDATE: bookings in flight hold the shared counters lock
		// and need the foreign-key share lock on this row to finish.
		before, err := loadCentre(tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE", Table: clause.Table{Name: "centres"}}), "centres.code = ?", code)
		if err != nil {
			return err
		}
		if err := checkVersion("centre", before.Version, *in.Version); err != nil {
			return err
		}
		set := map[string]any{"version": before.Version + 1, "updated_at": s.now()}
		if in.Name != nil {
			set["name"] = strings.TrimSpace(*in.Name)
		}
		if in.Address != nil {
			set["address"] = strings.TrimSpace(*in.Address)
		}
		if in.TimeZone != nil {
			set["time_zone"] = *in.TimeZone
		}
		if in.SlotMinutes != nil {
			set["slot_minutes"] = *in.SlotMinutes
		}
		if in.Counters != nil && *in.Counters != before.Counters {
			if err := resizeSlots(tx, before.ID, *in.Counters, s.now()); err != nil {
				return err
			}
			set["counters"] = *in.Counters
		}
		if err := tx.Table("centres").Where("id = ?", before.ID).Updates(set).Error; err != nil {
			return err
		}
		if err := cal.save(tx, before.ID, in.OpeningHours != nil, in.ClosedDays != nil, in.MinBackupStock != nil); err != nil {
			return err
		}
		after, err := loadCentre(tx, "centres.id = ?", before.ID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, p, "update", "centre", before.ID, &before.ID, before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetCentre(ctx, p, code)
}

// resizeSlots gives the slots still to come the new number of counters, refusing, with
// the slots named, to go below what any of them already holds: bookings are never
// stranded silently.
func resizeSlots(tx *gorm.DB, centreID string, counters int, now time.Time) error {
	// Wait for bookings in flight, and keep new ones out until this commits.
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?, hashtext(?))", centreCountersLock, centreID).Error; err != nil {
		return err
	}
	var over []struct {
		StartsAt time.Time
		Booked   int
	}
	if err := tx.Raw(`SELECT starts_at, booked FROM slots WHERE centre_id = ? AND ends_at > ? AND booked > ? ORDER BY starts_at LIMIT 20`,
		centreID, now, counters).Scan(&over).Error; err != nil {
		return err
	}
	if len(over) > 0 {
		names := make([]string, len(over))
		for i, o := range over {
			names[i] = fmt.Sprintf("%s (%d)", o.StartsAt.Format(time.RFC3339), o.Booked)
		}
		msg := "slots already hold more appointments than that: " + strings.Join(names, ", ")
		return &models.Error{Kind: models.KindConflict, Code: "counters_below_bookings", Message: msg,
			Fields: []models.FieldError{{Field: "counters", Rule: "min_booked", Message: msg}}}
	}
	return tx.Exec("UPDATE slots SET capacity = ? WHERE centre_id = ? AND ends_at > ?", counters, centreID, now).Error
}

// scopeIDs resolves the centre or warehouse a role needs, refusing the other one.
func scopeIDs(tx *gorm.DB, role models.Role, centreCode, warehouseCode string) (centreID, warehouseID *string, err error) {
	switch {
	case role.AtCentre():
		if warehouseCode != "" {
			return nil, nil, models.Invalid(models.FieldError{Field: "warehouse_code", Rule: "excluded", Message: "a centre role has no warehouse"})
		}
		if centreCode == "" {
			return nil, nil, models.Invalid(models.FieldError{Field: "centre_code", Rule: "required", Message: "a centre role needs its centre"})
		}
		id, err := lookupID(tx, "centres", centreCode, "centre_code", "centre")
		return &id, nil, err
	case role == models.RoleWarehouse:
		if centreCode != "" {
			return nil, nil, models.Invalid(models.FieldError{Field: "centre_code", Rule: "excluded", Message: "the warehouse role has no centre"})
		}
		if warehouseCode == "" {
			return nil, nil, models.Invalid(models.FieldError{Field: "warehouse_code", Rule: "required", Message: "the warehouse role needs its warehouse"})
		}
		id, err := lookupID(tx, "warehouses", warehouseCode, "warehouse_code", "warehouse")
		return nil, &id, err
	default:
		if centreCode != "" || warehouseCode != "" {
			return nil, nil, models.Invalid(models.FieldError{Field: "role", Rule: "scope", Message: "an admin works everywhere and has no centre or warehouse"})
		}
		return nil, nil, nil
	}
}

// CreateUser creates a member of staff.
// Errors: invalid, conflict (already_exists: the email), unprocessable (unknown_reference).
func (s *Admin) CreateUser(ctx context.Context, p models.Principal, in models.UserInput) (*models.User, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	return s.createUser(ctx, p, in)
}

func (s *Admin) createUser(ctx context.Context, p models.Principal, in models.UserInput) (*models.User, error) {
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u := models.User{Email: strings.ToLower(strings.TrimSpace(in.Email)), Name: strings.TrimSpace(in.Name),
		PasswordHash: hash, Role: in.Role, Active: true, Version: 1}
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		var err error
		if u.CentreID, u.WarehouseID, err = scopeIDs(tx, in.Role, in.CentreCode, in.WarehouseCode); err != nil {
			return err
		}
		if err := tx.Omit("Centre", "Warehouse").Create(&u).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "create", "user", u.ID, u.CentreID, nil, u)
	})
	if err != nil {
		return nil, err
	}
	return s.getUser(ctx, u.ID)
}

func (s *Admin) getUser(ctx context.Context, id string) (*models.User, error) {
	var u models.User
	if err := s.DB.WithContext(ctx).Preload("Centre").Preload("Warehouse").Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, notFoundIf(translate(err), "user")
	}
	fillUserCodes(&u)
	return &u, nil
}

func fillUserCodes(u *models.User) {
	if u.Centre != nil {
		u.CentreCode = u.Centre.Code
	}
	if u.Warehouse != nil {
		u.WarehouseCode = u.Warehouse.Code
	}
}

// GetUser returns one member of staff. Errors: not found.
func (s *Admin) GetUser(ctx context.Context, p models.Principal, id string) (*models.User, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("user")
	}
	return s.getUser(ctx, id)
}

// ListUsers lists staff by email.
func (s *Admin) ListUsers(ctx context.Context, p models.Principal) ([]models.User, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	var out []models.User
	if err := s.DB.WithContext(ctx).Preload("Centre").Preload("Warehouse").Order("email").Find(&out).Error; err != nil {
		return nil, translate(err)
	}
	for i := range out {
		fillUserCodes(&out[i])
	}
	return out, nil
}

// UpdateUser edits a member of staff. Disabling a user or changing their password,
// role or scope revokes their sessions.
// Errors: not found, conflict (version_conflict), invalid, unprocessable (unknown_reference).
func (s *Admin) UpdateUser(ctx context.Context, p models.Principal, id string, in models.UserUpdate) (*models.User, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	if !validUUID(id) {
		return nil, models.NotFound("user")
	}
	var hash string
	if in.Password != nil {
		var err error
		if hash, err = HashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var before models.User
		if err := tx.Clauses(lockForUpdate()).Preload("Centre").Preload("Warehouse").Where("id = ?", id).Take(&before).Error; err != nil {
			return notFoundIf(err, "user")
		}
		fillUserCodes(&before)
		if err := checkVersion("user", before.Version, *in.Version); err != nil {
			return err
		}
		if before.ID == p.UserID && ((in.Active != nil && !*in.Active) || (in.Role != nil && *in.Role != models.RoleAdmin)) {
			return models.Errorf(models.KindUnprocessable, "cannot_demote_self", "you cannot disable yourself or take away your own admin role")
		}
		set := map[string]any{"version": before.Version + 1, "updated_at": s.now()}
		revoke := false
		if in.Name != nil {
			set["name"] = strings.TrimSpace(*in.Name)
		}
		if in.Password != nil {
			set["password_hash"] = hash
			revoke = true
		}
		if in.Role != nil || in.CentreCode != nil || in.WarehouseCode != nil {
			role, centre, warehouse := before.Role, before.CentreCode, before.WarehouseCode
			if in.Role != nil {
				role = *in.Role
				// A new role takes only the scope sent with it.
				centre, warehouse = "", ""
			}
			if in.CentreCode != nil {
				centre = *in.CentreCode
			}
			if in.WarehouseCode != nil {
				warehouse = *in.WarehouseCode
			}
			cid, wid, err := scopeIDs(tx, role, centre, warehouse)
			if err != nil {
				return err
			}
			set["role"], set["centre_id"], set["warehouse_id"] = role, cid, wid
			revoke = true
		}
		if in.Active != nil {
			set["active"] = *in.Active
			revoke = revoke || !*in.Active
		}
		if err := tx.Table("users").Where("id = ?", id).Updates(set).Error; err != nil {
			return err
		}
		if revoke {
			if err := revokeTokens(tx, "user_id", id, s.now()); err != nil {
				return err
			}
		}
		return audit(ctx, tx, p, "update", "user", id, before.CentreID, before, redact(set))
	})
	if err != nil {
		return nil, err
	}
	return s.getUser(ctx, id)
}

func redact(set map[string]any) map[string]any {
	if _, ok := set["password_hash"]; ok {
		set["password_hash"] = "(changed)"
	}
	return set
}

// DisableUser switches a user off and revokes their sessions; the record stays for the
// audit trail. Disabling an already disabled user changes nothing.
func (s *Admin) DisableUser(ctx context.Context, p models.Principal, id string) error {
	if err := authorize(p, actAdminister); err != nil {
		return err
	}
	if !validUUID(id) {
		return models.NotFound("user")
	}
	// The database reads ids in any case; so must this check.
	if strings.EqualFold(id, p.UserID) {
		return models.Errorf(models.KindUnprocessable, "cannot_demote_self", "you cannot disable yourself")
	}
	return s.inTx(ctx, func(tx *gorm.DB) error {
		var u models.User
		if err := tx.Clauses(lockForUpdate()).Where("id = ?", id).Take(&u).Error; err != nil {
			return notFoundIf(err, "user")
		}
		if !u.Active {
			return nil
		}
		if err := tx.Exec("UPDATE users SET active = false, version = version + 1, updated_at = ? WHERE id = ?", s.now(), id).Error; err != nil {
			return err
		}
		if err := revokeTokens(tx, "user_id", id, s.now()); err != nil {
			return err
		}
		return audit(ctx, tx, p, "disable", "user", id, u.CentreID, map[string]any{"active": true}, map[string]any{"active": false})
	})
}

// NewAPIClient is a created client with its token, shown this once.
type NewAPIClient struct {
	models.APIClient
	Token string `json:"token"`
}

// CreateAPIClient creates an integration credential; its token is returned only here.
func (s *Admin) CreateAPIClient(ctx context.Context, p models.Principal, in models.APIClientInput) (*NewAPIClient, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	token, th, err := newToken()
	if err != nil {
		return nil, err
	}
	c := models.APIClient{Name: strings.TrimSpace(in.Name), Role: in.Role, Active: true, Version: 1}
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		if err := tx.Exec("INSERT INTO auth_tokens (token_hash, kind, api_client_id, created_at) VALUES (?, 'api_client', ?, ?)", th, c.ID, s.now()).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "create", "api_client", c.ID, nil, nil, c)
	})
	if err != nil {
		return nil, err
	}
	return &NewAPIClient{APIClient: c, Token: token}, nil
}

// ListAPIClients lists integration credentials (never their tokens).
func (s *Admin) ListAPIClients(ctx context.Context, p models.Principal) ([]models.APIClient, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	var out []models.APIClient
	return out, translate(s.DB.WithContext(ctx).Order("created_at").Find(&out).Error)
}

// RevokeAPIClient disables a client and its tokens. Errors: not found.
func (s *Admin) RevokeAPIClient(ctx context.Context, p models.Principal, id string) error {
	if err := authorize(p, actAdminister); err != nil {
		return err
	}
	if !validUUID(id) {
		return models.NotFound("API client")
	}
	return s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE api_clients SET active = false, version = version + 1, updated_at = ? WHERE id = ? AND active", s.now(), id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Table("api_clients").Where("id = ?", id).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return models.NotFound("API client")
			}
			return nil
		}
		if err := revokeTokens(tx, "api_client_id", id, s.now()); err != nil {
			return err
		}
		return audit(ctx, tx, p, "revoke", "api_client", id, nil, map[string]any{"active": true}, map[string]any{"active": false})
	})
}

// EnsureAdmin creates the first admin when the service has none, and reports whether it
// did. It is how a new installation gets its first way in.
func (s *Admin) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Table("users").Where("role = 'admin' AND active").Count(&n).Error; err != nil {
		return false, translate(err)
	}
	if n > 0 {
		return false, nil
	}
	_, err := s.createUser(ctx, models.System, models.UserInput{Email: email, Name: "Administrador", Password: password, Role: models.RoleAdmin})
	if e, ok := models.AsError(err); ok && e.Code == "already_exists" {
		// Another replica created it first.
		return false, nil
	}
	return err == nil, err
}
