package store

import (
	"context"
	"time"
)

// BulkLoader loads many rows fast, for benchmarks that need a grown store (`paymux bench
// -preload`): COPY on PostgreSQL, large transactions of prepared inserts on SQLite. It
// bypasses every check of the Queries: the rows must be consistent on their own. Times are
// time.Time (NULL when zero), converted as the store stores them.
type BulkLoader interface {
	// BulkLoad inserts rows, each holding the values of cols in order, into table.
	BulkLoad(ctx context.Context, table string, cols []string, rows [][]any) error
	// CountRows counts the rows of table.
	CountRows(ctx context.Context, table string) (int64, error)
	// CloseOpenPayments marks every payment still pending that was created before `before`
	// closed, with no further query due, and returns how many it changed: what the janitor
	// would do once they expired. A benchmark that reuses a grown store uses it so that the
	// payments its earlier runs left open are not queried during the next measurement.
	CloseOpenPayments(ctx context.Context, before time.Time) (int64, error)
}
