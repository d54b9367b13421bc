package models

import (
	"context"
	"time"
)

// Role is what a user or API client may do.
type Role string

// The roles of SPEC.md.
const (
	RoleCounter       Role = "counter"
	RoleTechnician    Role = "technician"
	RoleCentreManager Role = "centre_manager"
	RoleWarehouse     Role = "warehouse"
	RoleAdmin         Role = "admin"
	RoleCSM           Role = "csm"
)

// StaffRoles are the roles a person can hold (csm is for API clients only).
var StaffRoles = []Role{RoleCounter, RoleTechnician, RoleCentreManager, RoleWarehouse, RoleAdmin}

// AtCentre reports whether the role works at one centre.
func (r Role) AtCentre() bool {
	return r == RoleCounter || r == RoleTechnician || r == RoleCentreManager
}

// ValidStaffRole reports whether r can be given to a person.
func ValidStaffRole(r Role) bool {
	for _, s := range StaffRoles {
		if s == r {
			return true
		}
	}
	return false
}

// Principal is who is calling: a staff user or an API client, with the scope of data
// they may see. Every service method takes one and is the only place that decides.
type Principal struct {
	UserID      string
	APIClientID string
	Name        string
	Email       string
	Role        Role
	// CentreID and CentreCode are set for centre roles.
	CentreID   string
	CentreCode string
	// WarehouseID, WarehouseCode and BusinessUnitID are set for the warehouse role.
	WarehouseID    string
	WarehouseCode  string
	BusinessUnitID string
	// TokenID is the credential this call came with, so that logout can revoke it.
	TokenID   string
	ExpiresAt *time.Time
	// CSRFToken is set for web sessions.
	CSRFToken string
}

// ActorKind and ActorID name the principal in the audit log.
func (p Principal) ActorKind() string {
	if p.APIClientID != "" {
		return "api_client"
	}
	if p.UserID != "" {
		return "user"
	}
	return "system"
}

// ActorID is the id of the user or API client, or "" for the system itself.
func (p Principal) ActorID() string {
	if p.APIClientID != "" {
		return p.APIClientID
	}
	return p.UserID
}

// System is the principal for work the service does by itself (start-up seeding).
var System = Principal{Name: "system", Role: RoleAdmin}

type requestIDKey struct{}

// WithRequestID returns a context that carries the id of the HTTP request it serves,
// so that the audit log can say which request made a change.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
