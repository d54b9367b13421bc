package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// Listen calls wake on every NOTIFY on channel until ctx ends, on a connection of its
// own from the pool, reconnecting after errors. Notifications are hints: callers must
// also poll, since one sent while reconnecting is lost.
func Listen(ctx context.Context, db *sql.DB, channel string, wake func(), log *slog.Logger) {
	for ctx.Err() == nil {
		err := listenOnce(ctx, db, channel, wake)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listen for notifications", "channel", channel, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, db *sql.DB, channel string, wake func()) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("listen needs the pgx driver")
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, fmt.Sprintf("LISTEN %q", channel)); err != nil {
			return err
		}
		// The connection goes back to the pool afterwards: stop listening first.
		defer pc.Exec(context.WithoutCancel(ctx), "UNLISTEN *")
		wake() // whatever was sent before LISTEN took effect
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			wake()
		}
	})
}
