package host

import (
	"context"
	"time"
)

// SetPruneWait replaces the pause between two of j's prune batches with f (tests act there,
// between two transactions of a round, instead of sleeping).
func SetPruneWait(j *Janitor, f func(context.Context, time.Duration) error) { j.pruneWaitHook = f }
