package models

import "time"

// BusinessUnit is a region; it owns warehouses and centres.
type BusinessUnit struct {
	ID        string    `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Warehouse is a business unit's store of handsets: it receives returns and restocks
// the centres.
type Warehouse struct {
	ID               string       `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	Code             string       `json:"code"`
	Name             string       `json:"name"`
	BusinessUnitID   string       `json:"-"`
	BusinessUnit     BusinessUnit `json:"-"`
	BusinessUnitCode string       `json:"business_unit_code" gorm:"-"`
	Version          int          `json:"version"`
	CreatedAt        time.Time    `json:"created_at"`
	UpdatedAt        time.Time    `json:"updated_at"`
}

// DefaultTimeZone is where the operator's centres are unless told otherwise.
const DefaultTimeZone = "America/Caracas"

// Centre is an installation centre with its calendar.
type Centre struct {
	ID               string         `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	Code             string         `json:"code"`
	Name             string         `json:"name"`
	Address          string         `json:"address"`
	BusinessUnitID   string         `json:"-"`
	BusinessUnit     BusinessUnit   `json:"-"`
	BusinessUnitCode string         `json:"business_unit_code" gorm:"-"`
	TimeZone         string         `json:"time_zone"`
	SlotMinutes      int            `json:"slot_minutes"`
	Counters         int            `json:"counters"`
	OpeningHours     []OpeningHours `json:"opening_hours" gorm:"foreignKey:CentreID"`
	ClosedDays       []ClosedDay    `json:"-" gorm:"foreignKey:CentreID"`
	MinBackupStock   []MinStock     `json:"min_backup_stock" gorm:"foreignKey:CentreID"`
	Version          int            `json:"version"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

// TableName keeps GORM on the table the migrations create.
func (Centre) TableName() string { return "centres" }

// OpeningHours is one interval a centre is open on a weekday (1 Monday … 7 Sunday);
// a weekday may have several (a lunch break splits it in two).
type OpeningHours struct {
	CentreID string `json:"-" gorm:"primaryKey"`
	Weekday  int    `json:"weekday" gorm:"primaryKey"`
	Opens    string `json:"opens" gorm:"primaryKey"`
	Closes   string `json:"closes"`
}

// TableName keeps GORM on the table the migrations create.
func (OpeningHours) TableName() string { return "centre_opening_hours" }

// ClosedDay is a date the centre does not open (a holiday), in its own time zone.
type ClosedDay struct {
	CentreID string `gorm:"primaryKey"`
	Day      string `gorm:"primaryKey"`
}

// TableName keeps GORM on the table the migrations create.
func (ClosedDay) TableName() string { return "centre_closed_days" }

// MinStock is the least number of backup units of a model a centre should hold.
type MinStock struct {
	CentreID string `json:"-" gorm:"primaryKey"`
	Model    string `json:"model" gorm:"primaryKey"`
	Quantity int    `json:"quantity"`
}

// TableName keeps GORM on the table the migrations create.
func (MinStock) TableName() string { return "centre_min_stock" }

// User is a member of staff.
type User struct {
	ID            string     `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	PasswordHash  string     `json:"-"`
	Role          Role       `json:"role"`
	CentreID      *string    `json:"-"`
	Centre        *Centre    `json:"-"`
	WarehouseID   *string    `json:"-"`
	Warehouse     *Warehouse `json:"-"`
	CentreCode    string     `json:"centre_code,omitempty" gorm:"-"`
	WarehouseCode string     `json:"warehouse_code,omitempty" gorm:"-"`
	Active        bool       `json:"active"`
	Version       int        `json:"version"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// APIClient is another system (CSM) that calls us with its own token.
type APIClient struct {
	ID        string    `json:"id" gorm:"primaryKey;default:gen_random_uuid()"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Active    bool      `json:"active"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
