package host_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// txFailStore is a store whose transactions fail while armed, as when another process holds
// SQLite's write lock past the busy timeout or PostgreSQL drops the connection at commit.
// Plain writes (the raw inbox insert, status updates) still work.
type txFailStore struct {
	store.Store
	armed  atomic.Bool
	failed atomic.Int64 // transactions refused while armed: proof that the fault happened
}

func (s *txFailStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	if s.armed.Load() {
		s.failed.Add(1)
		return core.Errorf(core.EUNAVAILABLE, "injected: database is locked")
	}
	return s.Store.InTx(ctx, fn)
}

// TestNotificationAckWaitsForCommit: a verified notification whose effect cannot be committed
// must not be acknowledged (the wallet would never deliver it again and the payment would stay
// unpaid), and its raw entry stays in the inbox; the wallet's redelivery after the store
// recovers pays the payment. The control (the same notification with the store healthy) is
// acknowledged at once.
func TestNotificationAckWaitsForCommit(t *testing.T) {
	fs := &txFailStore{Store: newTestStore(t)}
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": fp},
		regions:  map[string][]host.RegionMethod{"HK": {{Method: "fakewallet", Account: "fake-hk"}}},
		store:    fs,
	})

	// Control: the store works, the notification is acknowledged and applied.
	ctl := e.createPayment(paymentBody("commit-ctl", 1000), nil)
	e.payFake(ctl, "ctl-1")
	if got := e.getPayment(ctl.ID); got.Status != core.PaymentSucceeded {
		t.Fatalf("control: payment %s, want succeeded", got.Status)
	}

	p := e.createPayment(paymentBody("commit-1", 1000), nil)
	note := fakeNote{ID: "c-1", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD", TradeNo: "Tc-1"}
	fs.armed.Store(true)
	code, body := e.notifyFake("fake-hk", note)
	fs.armed.Store(false)
	if fs.failed.Load() == 0 {
		t.Fatal("the injected transaction failure never fired: the test proves nothing")
	}
	if code == 200 || body == "success" {
		t.Fatalf("a notification whose effect did not commit was answered %d %q; want a retry answer", code, body)
	}
	if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
		t.Fatalf("payment %s after the failed commit, want pending", got.Status)
	}
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status=error", nil, nil).decode(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("%d inbox entries in status error, want the raw notification kept (1)", len(page.Data))
	}

	// The wallet redelivers; now it commits and is acknowledged.
	code, body = e.notifyFake("fake-hk", note)
	if code != 200 || body != "success" {
		t.Fatalf("redelivery after recovery: %d %q", code, body)
	}
	if got := e.getPayment(p.ID); got.Status != core.PaymentSucceeded {
		t.Fatalf("payment %s after the redelivery, want succeeded", got.Status)
	}
}

// rolledBackStore runs a transaction's fn to the end and then rolls it back and fails, while
// armed: what a commit that fails after fn ran looks like (a serialisation failure that InTx
// retries, then fails again).
type rolledBackStore struct {
	store.Store
	armed atomic.Bool
	ran   atomic.Int64 // fns run to the end and rolled back: proof that the fault happened
}

var errRolledBackForTest = core.Errorf(core.EUNAVAILABLE, "injected: commit failed after fn ran")

func (s *rolledBackStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	if !s.armed.Load() {
		return s.Store.InTx(ctx, fn)
	}
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		s.ran.Add(1)
		return errRolledBackForTest
	})
}

// TestNotificationRolledBackRunLeavesNoLink: when the effect transaction's fn ran to the end
// but its transaction did not commit, the inbox entry recorded as an error must not carry what
// the rolled-back run decided (its payment link): the run did not happen. The control (the
// store healthy) links the entry to its payment.
func TestNotificationRolledBackRunLeavesNoLink(t *testing.T) {
	fs := &rolledBackStore{Store: newTestStore(t)}
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": fp},
		regions:  map[string][]host.RegionMethod{"HK": {{Method: "fakewallet", Account: "fake-hk"}}},
		store:    fs,
	})
	entry := func(status string) *host.Notification {
		t.Helper()
		var page host.Page[*host.Notification]
		e.call("GET", "/v1/notifications?status="+status, nil, nil).decode(t, &page)
		if len(page.Data) != 1 {
			t.Fatalf("%d inbox entries in status %s, want 1", len(page.Data), status)
		}
		return page.Data[0]
	}

	ctl := e.createPayment(paymentBody("rb-ctl", 1000), nil)
	e.payFake(ctl, "rb-ctl-1")
	if got := entry("processed"); got.PaymentID != ctl.ID {
		t.Fatalf("control: inbox entry linked to %q, want %s", got.PaymentID, ctl.ID)
	}

	p := e.createPayment(paymentBody("rb-1", 1000), nil)
	note := fakeNote{ID: "rb-1", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD", TradeNo: "Trb-1"}
	fs.armed.Store(true)
	code, body := e.notifyFake("fake-hk", note)
	fs.armed.Store(false)
	if fs.ran.Load() == 0 {
		t.Fatal("the injected rollback never fired: the test proves nothing")
	}
	if code == 200 || body == "success" {
		t.Fatalf("a notification whose effect rolled back was answered %d %q", code, body)
	}
	if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
		t.Fatalf("payment %s after the rollback, want pending", got.Status)
	}
	if got := entry("error"); got.PaymentID != "" {
		t.Fatalf("the error entry carries the rolled-back run's payment link %q", got.PaymentID)
	}
}
