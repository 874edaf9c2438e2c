// Package storetest is the one test suite every store.Store implementation must pass, run
// from the sqlite and postgres packages' tests (like testing/fstest.TestFS): round trips of
// every field, uniqueness, paging, transactions, and the races that matter for money
// (concurrent refund reservations, idempotency key races, claims that must never hand one item
// to two workers).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Run runs the suite. open must return a new, empty, migrated store for each call and close it
// when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PaymentRoundTrip", testPaymentRoundTrip},
		{"PaymentUnique", testPaymentUnique},
		{"PaymentList", testPaymentList},
		{"ScopedLists", testScopedLists},
		{"RefundRoundTrip", testRefundRoundTrip},
		{"RefundUnique", testRefundUnique},
		{"ReserveRefundRules", testReserveRefundRules},
		{"ConcurrentRefunds", testConcurrentRefunds},
		{"Idempotency", testIdempotency},
		{"IdempotencyRace", testIdempotencyRace},
		{"IdempotencyLease", testIdempotencyLease},
		{"NotificationRoundTrip", testNotificationRoundTrip},
		{"NotificationDedupe", testNotificationDedupe},
		{"NotificationList", testNotificationList},
		{"NotificationOutcome", testNotificationOutcome},
		{"ConcurrentInsertsOneFails", testConcurrentInsertsOneFails},
		{"EventLifecycle", testEventLifecycle},
		{"EventList", testEventList},
		{"ClaimPaymentsAndRefunds", testClaimPaymentsAndRefunds},
		{"Backlog", testBacklog},
		{"TxRollback", testTxRollback},
		{"NotificationIntakeTx", testNotificationIntakeTx},
		{"IntakeRace", testIntakeRace},
		{"Prune", testPrune},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// RunShared runs the tests that need two stores on one database, as two hosts on one
// PostgreSQL (or two processes on one SQLite file) would be. open must return two stores
// opened separately (their own pools) on one new, empty database, closed when t ends.
func RunShared(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	t.Run("ClaimEventsRace", func(t *testing.T) { a, b := open(t); testClaimEventsRace(t, a, b) })
	t.Run("ClaimPaymentsRace", func(t *testing.T) { a, b := open(t); testClaimPaymentsRace(t, a, b) })
	t.Run("ConcurrentRefundsTwoHosts", func(t *testing.T) { a, b := open(t); testConcurrentRefundsShared(t, a, b) })
	t.Run("IdempotencyRaceTwoHosts", func(t *testing.T) { a, b := open(t); testIdempotencyRaceShared(t, a, b) })
	t.Run("DedupeRaceTwoHosts", func(t *testing.T) { a, b := open(t); testDedupeRaceShared(t, a, b) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a fixed instant with nanoseconds, to check that times come back truncated to the
// microsecond and in UTC.
var base = time.Date(2026, 11, 3, 9, 30, 15, 123456789, time.FixedZone("HKT", 8*3600))

func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := core.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var seqN atomic.Int64

// uniq returns a readable unique string for test ids.
func uniq(prefix string) string {
	return fmt.Sprintf("%s%06d_%s", prefix, seqN.Add(1), store.NewID("")[:6])
}

func newPayment(account string, value int64) *store.Payment {
	return &store.Payment{
		ID:         uniq("pay_"),
		Account:    account,
		Region:     "HK",
		Method:     "alipayhk",
		Channel:    core.ChannelApp,
		OutTradeNo: uniq("otn"),
		Reference:  "order-1",
		Amount:     core.Money{Value: value, Currency: "HKD"},
		Status:     core.PaymentPending,
		Subject:    "Tea",
	}
}

func paidPayment(t *testing.T, s store.Store, value int64) *store.Payment {
	t.Helper()
	p := newPayment("acct-1", value)
	p.Status = core.PaymentSucceeded
	p.PaidAt = base
	must(t, s.InsertPayment(ctx(t), p))
	return p
}

var errBoom = errors.New("boom")
