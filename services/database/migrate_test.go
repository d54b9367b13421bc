package database_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"centros/migrations"
	"centros/services/database"
	"centros/services/database/dbtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// emptyDatabase creates a database with no tables on the test cluster and returns its
// URL; it is dropped when the test ends, after the pools the test registered closed.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	c := dbtest.Cluster(t)
	admin, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "migrate_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	// Registered first, so it runs last: after every pool opened below is closed.
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openPool(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func migrationFiles(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	return len(files)
}

func appliedVersions(t *testing.T, db *sql.DB) map[int64]int {
	t.Helper()
	rows, err := db.Query("SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		migrated   bool // start from the migrated template rather than an empty database
		concurrent int
	}{
		{name: "EmptyDatabase", concurrent: 1},
		{name: "AgainIsNoOp", migrated: true, concurrent: 1},
		{name: "FourReplicasAtOnce", concurrent: 4},
		{name: "FourReplicasOnMigrated", migrated: true, concurrent: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			if tc.migrated {
				url = dbtest.URL(t)
			} else {
				url = emptyDatabase(t)
			}
			check := openPool(t, url)
			pending, err := database.MigrationsPending(ctx, check)
			if err != nil {
				t.Fatal(err)
			}
			if pending == tc.migrated {
				t.Fatalf("pending = %v before migrating", pending)
			}
			before := map[int64]int{}
			if tc.migrated {
				before = appliedVersions(t, check)
			}
			// Each replica has its own pool, as separate processes would.
			pools := make([]*sql.DB, tc.concurrent)
			for i := range pools {
				pools[i] = openPool(t, url)
			}
			var wg sync.WaitGroup
			errs := make([]error, tc.concurrent)
			start := make(chan struct{})
			for i := range pools {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					errs[i] = database.Migrate(ctx, pools[i], quiet)
				}(i)
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			pending, err = database.MigrationsPending(ctx, check)
			if err != nil || pending {
				t.Fatalf("pending = %v after migrating (%v)", pending, err)
			}
			applied := appliedVersions(t, check)
			if len(applied) != migrationFiles(t) {
				t.Fatalf("%d versions applied, %d files", len(applied), migrationFiles(t))
			}
			for v, n := range applied {
				if n != 1 {
					t.Fatalf("version %d applied %d times", v, n)
				}
			}
			if tc.migrated && len(before) != len(applied) {
				t.Fatalf("migrating a migrated database changed its versions: %v → %v", before, applied)
			}
			var n int
			if err := check.QueryRow("SELECT count(*) FROM tickets").Scan(&n); err != nil {
				t.Fatalf("schema missing after migrating: %v", err)
			}
			// And once more, sequentially: nothing left to do.
			if err := database.Migrate(ctx, check, quiet); err != nil {
				t.Fatal(err)
			}
			if again := appliedVersions(t, check); len(again) != len(applied) {
				t.Fatalf("a further run applied something: %v", again)
			}
		})
	}
}
