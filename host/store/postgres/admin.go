package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"

	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
)

// SchemaStatus reads the schema version of the database (the schema the DSN's search_path
// names) without changing anything: no migration runs.
func SchemaStatus(ctx context.Context, dsn string) (*migrations.Status, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return SchemaStatusConfig(ctx, cfg)
}

// SchemaStatusConfig is SchemaStatus with a parsed configuration (one connection of it is used).
func SchemaStatusConfig(ctx context.Context, cfg *pgxpool.Config) (*migrations.Status, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, core.WrapError(core.EINTERNAL, err, "postgres store: connect")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return sqlbase.ReadStatus(ctx, pgConn{conn}, migrations.Postgres, exists)
}
