package services

import (
	"context"
	"strings"

	"centros/models"

	"gorm.io/gorm"
)

// Catalogue names one of the catalogues the bench picks from.
type Catalogue string

// The catalogues: the test checklist, and the corrective actions.
const (
	CatalogueTests   Catalogue = "tests"
	CatalogueActions Catalogue = "actions"
)

func (c Catalogue) table() string {
	if c == CatalogueTests {
		return "test_catalogue"
	}
	return "corrective_action_catalogue"
}

func (c Catalogue) columns() string {
	if c == CatalogueTests {
		return "code, name_es, name_en, mandatory, active, position, version, updated_at"
	}
	return "code, name_es, name_en, NULL::boolean AS mandatory, active, position, version, updated_at"
}

// ListCatalogue lists a catalogue in the order the checklist shows it, retired items
// included (active false).
func (s *Repairs) ListCatalogue(ctx context.Context, p models.Principal, c Catalogue) ([]models.CatalogueItem, error) {
	if err := authorize(p, actReadCatalogue); err != nil {
		return nil, err
	}
	var items []models.CatalogueItem
	err := s.DB.WithContext(ctx).Raw("SELECT " + c.columns() + " FROM " + c.table() + " ORDER BY position, code").Scan(&items).Error
	return items, translate(err)
}

// SaveCatalogueItem creates an item (in.Version nil) or edits one at its version. Items
// are retired with active false, never deleted: recorded results point at them.
// Errors: invalid, conflict (already_exists, version_conflict), not found.
func (s *Repairs) SaveCatalogueItem(ctx context.Context, p models.Principal, c Catalogue, code string, in models.CatalogueInput) (*models.CatalogueItem, error) {
	if err := authorize(p, actAdminister); err != nil {
		return nil, err
	}
	if !models.ValidCatalogueCode(code) {
		return nil, models.Invalid(models.FieldError{Field: "code", Rule: "catalogue_code",
			Message: "must be 2 to 40 lower-case letters, digits or '_', starting with a letter"})
	}
	if c == CatalogueActions && in.Mandatory != nil {
		return nil, models.Invalid(models.FieldError{Field: "mandatory", Rule: "tests_only", Message: "only tests can be mandatory"})
	}
	var out models.CatalogueItem
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var before *models.CatalogueItem
		set := map[string]any{"code": code, "name_es": strings.TrimSpace(in.NameES), "name_en": strings.TrimSpace(in.NameEN)}
		if in.Active != nil {
			set["active"] = *in.Active
		}
		if in.Position != nil {
			set["position"] = *in.Position
		}
		if in.Mandatory != nil {
			set["mandatory"] = *in.Mandatory
		}
		if in.Version == nil {
			if c == CatalogueTests && in.Mandatory == nil {
				return models.Invalid(models.FieldError{Field: "mandatory", Rule: "required", Message: "is required for a new test"})
			}
			if err := tx.Table(c.table()).Create(set).Error; err != nil {
				return err
			}
		} else {
			var items []models.CatalogueItem
			if err := tx.Raw("SELECT "+c.columns()+" FROM "+c.table()+" WHERE code = ? FOR UPDATE", code).Scan(&items).Error; err != nil {
				return err
			}
			if len(items) == 0 {
				return models.NotFound("catalogue item")
			}
			before = &items[0]
			if err := checkVersion("the catalogue item", before.Version, *in.Version); err != nil {
				return err
			}
			set["version"], set["updated_at"] = before.Version+1, s.now()
			if err := tx.Table(c.table()).Where("code = ?", code).Updates(set).Error; err != nil {
				return err
			}
		}
		if err := tx.Raw("SELECT "+c.columns()+" FROM "+c.table()+" WHERE code = ?", code).Scan(&out).Error; err != nil {
			return err
		}
		return audit(ctx, tx, p, "save", string(c)+"_catalogue", code, nil, before, out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
