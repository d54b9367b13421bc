// Package migrations holds the versioned SQL that owns the schema, embedded in every
// binary so the service can bring its database up to date at start.
package migrations

import "embed"

// FS holds the numbered migration files.
//
//go:embed *.sql
var FS embed.FS
