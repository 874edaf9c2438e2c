package host_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// TestPrunePairsMeasure is a measurement, not a check (docs/performance.md, "Cost as the store
// grows"): it runs only with PAYMUX_PRUNE_PAIRS=1 and logs, per pair, the raw notification
// insert rate of 16 concurrent writers on SQLite without pruning (2 s, the baseline) and during
// a prune round of 10,000 delivered events older than the retention, first paced as before
// (batches of 500, no pause), then with the default pacing. It fails only on store errors.
func TestPrunePairsMeasure(t *testing.T) {
	if os.Getenv("PAYMUX_PRUNE_PAIRS") == "" {
		t.Skip("a measurement: set PAYMUX_PRUNE_PAIRS=1")
	}
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	now := time.Now()
	payload := []byte(`{"p":"` + strings.Repeat("x", 400) + `"}`)
	seq := 0
	load := func(n int) {
		for done := 0; done < n; done += 5000 {
			if err := e.store.InTx(ctx, func(tx store.Tx) error {
				for range 5000 {
					seq++
					if err := tx.InsertEvent(ctx, &store.Event{ID: fmt.Sprintf("evt_old_%07d", seq), Type: "payment.succeeded", Account: "fake-hk", Payload: payload,
						CreatedAt: now.Add(-49 * time.Hour), Status: store.EventDelivered, DeliveredAt: now.Add(-48*time.Hour + time.Duration(seq)*time.Millisecond)}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var nid atomic.Int64
	// intake runs 16 raw inserts at a time until stop; the function it returns waits for them
	// and says how many completed.
	intake := func(stop <-chan struct{}) func() int64 {
		var cnt atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					id := nid.Add(1)
					if err := e.store.InsertNotification(ctx, &store.Notification{ID: fmt.Sprintf("ntf_m_%d", id), Account: "fake-hk", Body: payload}); err != nil {
						t.Error(err)
						return
					}
					cnt.Add(1)
				}
			}()
		}
		return func() int64 { wg.Wait(); return cnt.Load() }
	}
	rate := func(d time.Duration) float64 {
		stop := make(chan struct{})
		wait := intake(stop)
		time.Sleep(d)
		close(stop)
		return float64(wait()) / d.Seconds()
	}
	for pair := 1; pair <= 2; pair++ {
		for _, old := range []bool{true, false} { // old: batches of 500, no pause (as before pacing)
			load(10000)
			j := host.NewJanitor(host.JanitorOptions{Service: e.svc})
			s := *e.svc.Settings()
			s.Retention = host.Retention{RejectedNotifications: -1, DeliveredEvents: 24 * time.Hour}
			if old {
				s.Retention.PruneBatch = 500
				host.SetPruneWait(j, func(context.Context, time.Duration) error { return nil })
			}
			e.svc.SetSettings(&s)
			base := rate(2 * time.Second)
			stop := make(chan struct{})
			wait := intake(stop)
			t0 := time.Now()
			res, err := j.Prune(ctx)
			d := time.Since(t0)
			close(stop)
			n := wait()
			if err != nil {
				t.Fatal(err)
			}
			during := float64(n) / d.Seconds()
			t.Logf("pair %d old=%v: baseline %.0f/s, during prune %.0f/s (ratio %.2f), prune %d rows in %v", pair, old, base, during, during/base, res.DeliveredEvents, d.Round(time.Millisecond))
		}
	}
}
