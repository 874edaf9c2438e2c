package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

var _ store.BulkLoader = (*Store)(nil)

// BulkLoad implements store.BulkLoader with COPY (one transaction per call).
func (s *Store) BulkLoad(ctx context.Context, table string, cols []string, rows [][]any) error {
	for _, r := range rows {
		for i, v := range r {
			if t, ok := v.(time.Time); ok && t.IsZero() {
				r[i] = nil
			}
		}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: bulk load %s", table)
	}
	return nil
}

// CloseOpenPayments implements store.BulkLoader.
func (s *Store) CloseOpenPayments(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE payments SET status = 'closed', next_query_at = NULL, updated_at = $1
WHERE status = 'pending' AND created_at < $2`, dialect.T(time.Now()), dialect.T(before))
	if err != nil {
		return 0, core.WrapError(core.EINTERNAL, err, "store: close open payments")
	}
	return tag.RowsAffected(), nil
}

// CountRows implements store.BulkLoader.
func (s *Store) CountRows(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, core.WrapError(core.EINTERNAL, err, "store: count %s", table)
	}
	return n, nil
}
