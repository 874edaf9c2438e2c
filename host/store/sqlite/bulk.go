package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

var _ store.BulkLoader = (*Store)(nil)

// BulkLoad implements store.BulkLoader: one transaction of one prepared INSERT per call, on the
// writer (it waits for the committer's connection, and holds it until done).
func (s *Store) BulkLoad(ctx context.Context, table string, cols []string, rows [][]any) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: bulk load %s", table)
	}
	defer func() { _ = tx.Rollback() }()
	q := `INSERT INTO "` + table + `" (` + strings.Join(cols, ", ") + `) VALUES (` +
		strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + `)`
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: bulk load %s", table)
	}
	defer st.Close()
	for _, r := range rows {
		for i, v := range r {
			if t, ok := v.(time.Time); ok {
				r[i] = dialect.T(t)
			}
		}
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return core.WrapError(core.EINTERNAL, err, "store: bulk load %s", table)
		}
	}
	if err := tx.Commit(); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: bulk load %s", table)
	}
	return nil
}

// CloseOpenPayments implements store.BulkLoader.
func (s *Store) CloseOpenPayments(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `UPDATE payments SET status = 'closed', next_query_at = NULL, updated_at = ?
WHERE status = 'pending' AND created_at < ?`, dialect.T(time.Now()), dialect.T(before))
	if err != nil {
		return 0, core.WrapError(core.EINTERNAL, err, "store: close open payments")
	}
	return res.RowsAffected()
}

// CountRows implements store.BulkLoader.
func (s *Store) CountRows(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
		return 0, core.WrapError(core.EINTERNAL, err, "store: count %s", table)
	}
	return n, nil
}
