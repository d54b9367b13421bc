package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"centros/migrations"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver goose and GORM share
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Open connects to url with a pool sized for a 2-core machine serving many short
// transactions, and returns both the GORM handle services use and the pool under it.
func Open(ctx context.Context, url string, maxConns int) (*gorm.DB, *sql.DB, error) {
	sqlDB, err := sql.Open("pgx", url)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("connect to database: %w", err)
	}
	db, err := FromSQL(sqlDB)
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return db, sqlDB, nil
}

// FromSQL wraps an open pool in GORM without GORM's own logging (the service logs
// requests itself) and without its implicit transaction around single writes, which our
// services never rely on.
func FromSQL(sqlDB *sql.DB) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         false,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("gorm: %w", err)
	}
	return db, nil
}

// migrationLockID is the advisory lock that serialises replicas migrating at once.
const migrationLockID = 0x63656e74726f73 // "centros"

// Migrate applies every pending migration under a session advisory lock, so that
// several replicas starting together apply each migration exactly once.
func Migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 120))
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// MigrationsPending reports whether some migration is not yet applied; a replica is
// not ready until none is.
func MigrationsPending(ctx context.Context, db *sql.DB) (bool, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}
