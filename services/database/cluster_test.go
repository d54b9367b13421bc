package database_test

import (
	"context"
	"testing"

	"centros/services/database/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestFreshDatabaseIsMigrated(t *testing.T) {
	_, sqlDB := dbtest.New(t)
	var n int
	if err := sqlDB.QueryRowContext(context.Background(), "SELECT count(*) FROM tickets").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tickets", n)
	}
}
