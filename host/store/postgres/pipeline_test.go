package postgres

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// countingConn counts the writes pgx makes: a round trip begins with one (pgx buffers a
// batch and writes it at once).
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func testPayment(account string) *store.Payment {
	return &store.Payment{ID: store.NewID("pay_"), Account: account, OutTradeNo: store.NewID("otn_"),
		Amount: core.Money{Value: 100, Currency: "HKD"}, Status: core.PaymentPending, Channel: core.ChannelApp}
}

// hostIntake is the host's effect transaction for one notification (host/notify.go): claim the
// dedupe key, lock the payment, move it, write the outbox event, record the final status.
func hostIntake(ctx context.Context, s store.Store, n *store.Notification, outTradeNo, dedupeKey string) error {
	return s.InTx(ctx, func(tx store.Tx) error {
		m := *n
		m.Status, m.DedupeKey = store.NotificationProcessed, dedupeKey
		if err := tx.UpdateNotification(ctx, &m); err != nil {
			return err
		}
		p, err := tx.LockPaymentByOutTradeNo(ctx, m.Account, outTradeNo)
		if err != nil {
			return err
		}
		p.Status = core.PaymentSucceeded
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		if err := tx.InsertEvent(ctx, &store.Event{ID: store.NewID("evt_"), Type: store.EventPaymentSucceeded,
			Account: p.Account, PaymentID: p.ID, Payload: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		m.PaymentID = p.ID
		if err := tx.UpdateNotification(ctx, &m); err != nil {
			return err
		}
		*n = m
		return nil
	})
}

// TestPipelineRoundTrips checks what the pipelining is for: the host's notification effect
// transaction (seven statements with BEGIN and COMMIT) costs two round trips.
func TestPipelineRoundTrips(t *testing.T) {
	cfg := testSchema(t)
	var writes atomic.Int64
	dialer := &net.Dialer{}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	cfg.MaxConns = 1 // one connection, so its statement cache is warm after the first intake
	s := open(t, cfg)
	ctx := context.Background()
	for i := range 3 {
		p := testPayment("acct-rt")
		if err := s.InsertPayment(ctx, p); err != nil {
			t.Fatal(err)
		}
		n := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-rt", Body: []byte("x")}
		if err := s.InsertNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
		before := writes.Load()
		if err := hostIntake(ctx, s, n, p.OutTradeNo, "acct-rt:"+p.OutTradeNo); err != nil {
			t.Fatal(err)
		}
		got := writes.Load() - before
		if i > 0 && got != 2 { // the first intake also prepares its statements
			t.Errorf("intake %d: %d round trips, want 2", i, got)
		}
	}
}

// TestPipelineErrors checks that held-back writes fail as the unpipelined ones did: the error
// reaches fn at the next statement and InTx, nothing of the transaction commits, and the
// connection goes back to the pool usable.
func TestPipelineErrors(t *testing.T) {
	cfg := testSchema(t)
	cfg.MaxConns = 1 // every transaction reuses the connection the failed one released
	s := open(t, cfg)
	ctx := context.Background()
	p := testPayment("acct-pe")
	if err := s.InsertPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	first := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-pe", Body: []byte("1")}
	second := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-pe", Body: []byte("2")}
	for _, n := range []*store.Notification{first, second} {
		if err := s.InsertNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := hostIntake(ctx, s, first, p.OutTradeNo, "dup-key"); err != nil {
		t.Fatal(err)
	}

	t.Run("duplicate surfaces at the next read", func(t *testing.T) {
		var lockErr error
		err := s.InTx(ctx, func(tx store.Tx) error {
			m := *second
			m.Status, m.DedupeKey = store.NotificationProcessed, "dup-key"
			if err := tx.UpdateNotification(ctx, &m); err != nil {
				t.Fatalf("a held-back write returned %v", err)
			}
			_, lockErr = tx.LockPaymentByOutTradeNo(ctx, "acct-pe", p.OutTradeNo)
			return lockErr
		})
		if core.ErrorCode(lockErr) != core.ECONFLICT || core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("lock: %v; InTx: %v; want ECONFLICT for both", lockErr, err)
		}
	})

	t.Run("fn ignoring the error cannot commit", func(t *testing.T) {
		evt := store.NewID("evt_")
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.InsertEvent(ctx, &store.Event{ID: evt, Type: "t", Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			m := *second
			m.Status, m.DedupeKey = store.NotificationProcessed, "dup-key"
			_ = tx.UpdateNotification(ctx, &m)
			_, _ = tx.GetPayment(ctx, p.ID) // fails: the transaction is aborted
			return nil
		})
		if core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("InTx: %v, want the held-back write's ECONFLICT", err)
		}
		if _, err := s.GetEvent(ctx, evt); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("event of the failed transaction: %v, want ENOTFOUND", err)
		}
	})

	t.Run("rows affected checked at commit", func(t *testing.T) {
		evt := store.NewID("evt_")
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.InsertEvent(ctx, &store.Event{ID: evt, Type: "t", Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			missing := testPayment("acct-pe")
			return tx.UpdatePayment(ctx, missing) // held back: nil now, ENOTFOUND at COMMIT
		})
		if core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("InTx: %v, want ENOTFOUND", err)
		}
		if _, err := s.GetEvent(ctx, evt); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("event of the failed transaction: %v, want ENOTFOUND", err)
		}
	})

	t.Run("reads see held-back writes", func(t *testing.T) {
		q := testPayment("acct-pe")
		if err := s.InsertPayment(ctx, q); err != nil {
			t.Fatal(err)
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			q.Status = core.PaymentSucceeded
			if err := tx.UpdatePayment(ctx, q); err != nil {
				return err
			}
			got, err := tx.GetPayment(ctx, q.ID)
			if err != nil {
				return err
			}
			if got.Status != core.PaymentSucceeded {
				t.Errorf("read after a held-back update: status %s", got.Status)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fn error rolls back held-back writes", func(t *testing.T) {
		evt := store.NewID("evt_")
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetPayment(ctx, p.ID); err != nil {
				return err
			}
			if err := tx.InsertEvent(ctx, &store.Event{ID: evt, Type: "t", Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("InTx: %v, want fn's error unchanged", err)
		}
		if _, err := s.GetEvent(ctx, evt); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("event of the failed transaction: %v, want ENOTFOUND", err)
		}
	})

	// The one connection went back idle after every failure: a plain transaction still works.
	if err := s.InTx(ctx, func(tx store.Tx) error { _, err := tx.GetPayment(ctx, p.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if st := s.pool.Stat(); st.TotalConns() != 1 {
		t.Errorf("pool holds %d connections after the failures, want the one it had", st.TotalConns())
	}
}

var errBoom = core.Errorf(core.EINVALID, "boom")
