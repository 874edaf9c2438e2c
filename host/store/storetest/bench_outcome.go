package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/host/store"
)

// BenchNotificationOutcome measures the intake transaction's two notification writes (claim
// the dedupe key with the final status, then record the payment it concerned), paired per
// iteration: op records the outcome with UpdateNotificationOutcome (no index touched), the
// reference with a second full UpdateNotification (what intake did before). Each side is one
// transaction with its durable commit, on a fresh notification of its own; op/full below 1 is
// the saving per intake transaction.
func BenchNotificationOutcome(b *testing.B, s store.Store) {
	c := context.Background()
	var pool []*store.Notification
	next := 0
	// Fresh notifications in batches of 500, inserted outside the paired timings.
	refill := func() error {
		if next+2 > len(pool) {
			more, err := insertNotifications(s, 500)
			if err != nil {
				return err
			}
			pool, next = more, 0
		}
		return nil
	}
	take := func() *store.Notification { n := pool[next]; next++; return n }
	intakeTx := func(outcome bool) func() error {
		return func() error {
			n := take()
			return s.InTx(c, func(tx store.Tx) error {
				m := *n
				m.Status, m.DedupeKey = store.NotificationProcessed, "acct-bench:"+n.ID
				if err := tx.UpdateNotification(c, &m); err != nil {
					return err
				}
				m.PaymentID, m.Reason = "pay_"+n.ID, ""
				if outcome {
					return tx.UpdateNotificationOutcome(c, &m)
				}
				return tx.UpdateNotification(c, &m)
			})
		}
	}
	if err := refill(); err != nil {
		b.Fatal(err)
	}
	// op and ref each take one notification; opAllocs calls op alone, after prepare.
	benchpair.RunPrepared(b, "full", refill, intakeTx(true), intakeTx(false))
}

// insertNotifications inserts n received notifications in one transaction.
func insertNotifications(s store.Store, n int) ([]*store.Notification, error) {
	c := context.Background()
	ns := make([]*store.Notification, n)
	for i := range ns {
		ns[i] = &store.Notification{ID: store.NewID("ntf_"), Account: "acct-bench", Method: "POST",
			Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:   fmt.Appendf(nil, "notify_id=%d&trade_status=TRADE_SUCCESS&total_fee=1.00&sign=%0344d", i, i)}
	}
	err := s.InTx(c, func(tx store.Tx) error {
		for _, x := range ns {
			if err := tx.InsertNotification(c, x); err != nil {
				return err
			}
		}
		return nil
	})
	return ns, err
}
