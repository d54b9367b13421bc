package services

import (
	"slices"

	"centros/models"

	"gorm.io/gorm"
)

// action is something a caller asks to do; permissions is the one table of who may.
type action string

const (
	actAdminister    action = "administer"
	actReferTickets  action = "refer_tickets"
	actReadTicket    action = "read_ticket"
	actSearchTickets action = "search_tickets"
	actReadEvents    action = "read_events"
	actReadCentre    action = "read_centre"
	actReadAudit     action = "read_audit"
	// Appointments.
	actBook             action = "book"
	actCheckIn          action = "check_in"
	actReadAppointment  action = "read_appointment"
	actReadAvailability action = "read_availability"
	actReadAgenda       action = "read_agenda"
	// Repairs.
	actReadRepair      action = "read_repair"
	actWorkRepair      action = "work_repair"
	actVoidCertificate action = "void_certificate"
	actReadCatalogue   action = "read_catalogue"
	// Inventory.
	actRegisterUnits  action = "register_units"
	actReadStock      action = "read_stock"
	actReadUnit       action = "read_unit"
	actServiceChange  action = "service_change"
	actManageReturns  action = "manage_returns"
	actReceiveReturns action = "receive_returns"
	actReadLogistics  action = "read_logistics"
	actResolveReturns action = "resolve_returns"
	actRequestRestock action = "request_restock"
	actFulfilRestock  action = "fulfil_restock"
	actReceiveRestock action = "receive_restock"
)

var (
	centreStaff = []models.Role{models.RoleCounter, models.RoleTechnician, models.RoleCentreManager}
	allStaff    = append(slices.Clone(centreStaff), models.RoleWarehouse, models.RoleAdmin)
)

var permissions = map[action][]models.Role{
	actAdminister:    {models.RoleAdmin},
	actReferTickets:  {models.RoleCSM},
	actReadTicket:    append(slices.Clone(allStaff), models.RoleCSM),
	actSearchTickets: allStaff,
	actReadEvents:    {models.RoleCSM, models.RoleAdmin},
	actReadCentre:    append(slices.Clone(allStaff), models.RoleCSM),
	actReadAudit:     {models.RoleCentreManager, models.RoleAdmin},
	// The counter books for the customer at the desk, CSM on the customer's behalf.
	actBook:             {models.RoleCounter, models.RoleCentreManager, models.RoleAdmin, models.RoleCSM},
	actCheckIn:          {models.RoleCounter, models.RoleCentreManager, models.RoleAdmin},
	actReadAppointment:  append(slices.Clone(centreStaff), models.RoleAdmin, models.RoleCSM),
	actReadAvailability: append(slices.Clone(allStaff), models.RoleCSM),
	actReadAgenda:       append(slices.Clone(centreStaff), models.RoleAdmin),
	// The counter receives the handset and prints documents; the bench is the technician's.
	actReadRepair:      append(slices.Clone(centreStaff), models.RoleAdmin),
	actWorkRepair:      {models.RoleTechnician, models.RoleCentreManager, models.RoleAdmin},
	actVoidCertificate: {models.RoleCentreManager, models.RoleAdmin},
	actReadCatalogue:   allStaff,
	// The warehouse stocks and ships; the centre swaps, returns and receives; CSM only
	// answers service changes.
	actRegisterUnits:  {models.RoleWarehouse, models.RoleAdmin},
	actReadStock:      allStaff,
	actReadUnit:       allStaff,
	actServiceChange:  {models.RoleCSM},
	actManageReturns:  {models.RoleCentreManager, models.RoleAdmin},
	actReceiveReturns: {models.RoleWarehouse, models.RoleAdmin},
	actReadLogistics:  allStaff,
	actResolveReturns: {models.RoleCentreManager, models.RoleWarehouse, models.RoleAdmin},
	actRequestRestock: {models.RoleCentreManager},
	actFulfilRestock:  {models.RoleWarehouse, models.RoleAdmin},
	actReceiveRestock: append(slices.Clone(centreStaff), models.RoleAdmin),
}

// authorize refuses a role that may not do a.
func authorize(p models.Principal, a action) error {
	if slices.Contains(permissions[a], p.Role) {
		return nil
	}
	if p.Role == "" {
		return models.Errorf(models.KindUnauthenticated, "unauthenticated", "sign in first")
	}
	return models.Forbidden()
}

// ticketScope limits a query on tickets to those p may see: its centre's (and those not
// yet assigned to any centre, which the customer may still book anywhere) for centre
// staff, its business unit's centres' for the warehouse, everything for admin and CSM.
func ticketScope(p models.Principal) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		switch {
		case p.Role.AtCentre():
			return q.Where("(tickets.centre_id = ? OR tickets.centre_id IS NULL)", p.CentreID)
		case p.Role == models.RoleWarehouse:
			return q.Where("tickets.centre_id IN (SELECT id FROM centres WHERE business_unit_id = ?)", p.BusinessUnitID)
		case p.Role == models.RoleAdmin || p.Role == models.RoleCSM:
			return q
		}
		return q.Where("false")
	}
}

// centreScope limits a query on centres to those p may see.
func centreScope(p models.Principal) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		switch {
		case p.Role.AtCentre():
			return q.Where("centres.id = ?", p.CentreID)
		case p.Role == models.RoleWarehouse:
			return q.Where("centres.business_unit_id = ?", p.BusinessUnitID)
		case p.Role == models.RoleAdmin || p.Role == models.RoleCSM:
			return q
		}
		return q.Where("false")
	}
}
