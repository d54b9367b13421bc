// Package dbtest gives tests a real PostgreSQL: one embedded cluster per test binary,
// started by the same launcher the service uses, and a fresh database per test cloned
// from a migrated template, so tests are independent and fast.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"

	"centros/migrations"
	"centros/services/database"

	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"
	"gorm.io/gorm"
)

var (
	once    sync.Once
	cluster *database.Cluster
	dir     string
	err     error
)

// Main runs a package's tests and stops the cluster they started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// Cluster returns the test binary's cluster, starting it on first use.
func Cluster(t testing.TB) *database.Cluster {
	t.Helper()
	once.Do(func() {
		dir, err = os.MkdirTemp("", "centros-pg-")
		if err != nil {
			return
		}
		cluster, err = database.StartCluster(context.Background(), dir, database.ClusterOptions{
			// Durability buys nothing in a throw-away test cluster and costs seconds.
			Settings: map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	if err != nil {
		t.Fatalf("embedded PostgreSQL for tests: %v", err)
	}
	return cluster
}

// URL returns the connection URL of a fresh, migrated database that is dropped when the
// test ends.
func URL(t testing.TB) string {
	t.Helper()
	c := Cluster(t)
	conf := pgtestdb.Custom(t, pgtestdb.Config{
		DriverName: "pgx",
		Host:       "127.0.0.1",
		Port:       strconv.Itoa(c.Port()),
		User:       "postgres",
		Password:   c.Password(),
		Database:   "postgres",
		Options:    "sslmode=disable",
		// Servers under test may still hold pooled connections when the test ends.
		ForceTerminateConnections: true,
	}, migrator{})
	return conf.URL()
}

// New returns a fresh, migrated database for one test, as services use it and as the
// pool under it.
func New(t testing.TB) (*gorm.DB, *sql.DB) {
	t.Helper()
	db, sqlDB, err := database.Open(context.Background(), URL(t), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db, sqlDB
}

// migrator builds pgtestdb's template with the service's own migrations.
type migrator struct{}

func (migrator) Hash() (string, error) {
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	return common.HashFiles(migrations.FS, files...)
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return database.Migrate(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
}
