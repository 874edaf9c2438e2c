package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Background checkpoints. In WAL mode SQLite copies the log back into the database file (a
// checkpoint: every changed page written again plus two fsyncs) from inside whichever commit
// finds the log past wal_autocheckpoint pages, 1000 by default. With group commit that commit
// is the committer's, so every caller queued behind it waited for the checkpoint too: a stall
// of several commits every few hundred transactions, which is what the intake's p99 latency
// was made of. Here a goroutine with its own connection runs PASSIVE checkpoints (they never
// block the writer, and the writer never waits for them) while commits happen, and the
// writer's own automatic checkpoint is pushed out to backstopPages, so it only runs if the
// background one falls far behind.

// DefaultCheckpointInterval is the default Options.CheckpointInterval.
const DefaultCheckpointInterval = 100 * time.Millisecond

// backstopPages is the writer's wal_autocheckpoint with background checkpoints on (about
// 40 MB of log at 4 KiB pages).
const backstopPages = 10000

type checkpointer struct {
	db       *sql.DB
	interval time.Duration
	dirty    chan struct{} // a commit happened since the last checkpoint (capacity 1)
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	runs     atomic.Int64 // checkpoints run (for tests)
}

func newCheckpointer(db *sql.DB, interval time.Duration) *checkpointer {
	c := &checkpointer{db: db, interval: interval, dirty: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// committed tells the checkpointer that the log grew. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	t := time.NewTimer(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.dirty:
		}
		// At most one checkpoint per interval: each costs two fsyncs on the writer's disk.
		t.Reset(c.interval)
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		// A failed checkpoint costs nothing but log growth, and the writer's backstop
		// checkpoint bounds that.
		if c.checkpoint() == nil {
			c.runs.Add(1)
		}
	}
}

func (c *checkpointer) checkpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var busy, log, done int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		return fmt.Errorf("sqlite store: background checkpoint: %w", err)
	}
	return nil
}

func (c *checkpointer) close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
	return c.db.Close()
}
