package storetest

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testRefundRoundTrip(t *testing.T, s store.Store) {
	c := ctx(t)
	p := paidPayment(t, s, 1000)
	r := &store.Refund{
		ID:          "rf_roundtrip",
		PaymentID:   p.ID,
		Account:     p.Account,
		OutRefundNo: "RF0001",
		Amount:      core.Money{Value: 250, Currency: "HKD"},
		Status:      core.RefundPending,
		Reason:      "customer asked \u00e9",
		NextQueryAt: base.Add(time.Minute),
		CreatedAt:   base,
	}
	must(t, s.InsertRefund(c, r))
	want := *r
	want.NextQueryAt, want.CreatedAt, want.UpdatedAt = us(base.Add(time.Minute)), us(base), us(base)
	if !reflect.DeepEqual(r, &want) {
		t.Fatalf("InsertRefund write-back:\n got %+v\nwant %+v", r, &want)
	}
	got, err := s.GetRefund(c, r.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetRefund:\n got %+v\nwant %+v", got, &want)
	}
	got, err = s.GetRefundByOutRefundNo(c, p.Account, "RF0001")
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetRefundByOutRefundNo:\n got %+v\nwant %+v", got, &want)
	}
	must(t, s.InTx(c, func(tx store.Tx) error {
		q, err := tx.LockRefundByOutRefundNo(c, p.Account, "RF0001")
		if err != nil {
			return err
		}
		q.Status = core.RefundFailed
		q.ProviderRef = "2026-rf"
		q.FailureCode = "RETURN_AMOUNT_EXCEED"
		q.NextQueryAt = time.Time{}
		q.QueryAttempts = 2
		q.Reason = "changed"
		q.NeedsAttention, q.AttentionReason = true, "re-send declined: RETURN_AMOUNT_EXCEED"
		q.SettleReason, q.SettledBy, q.SettledAt = "gateway statement 2026-11-30 shows it refunded", "key_0123", base.Add(time.Hour)
		if err := tx.UpdateRefund(c, q); err != nil {
			return err
		}
		want = *q
		return nil
	}))
	want.SettledAt = us(want.SettledAt)
	got, err = s.GetRefund(c, r.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("after UpdateRefund:\n got %+v\nwant %+v", got, &want)
	}
	// Flagging sets flagged_at to the write's time.
	if want.FlaggedAt.IsZero() || !want.FlaggedAt.Equal(want.UpdatedAt) {
		t.Fatalf("flagged refund: flagged_at %v, updated_at %v", want.FlaggedAt, want.UpdatedAt)
	}
	// The attention queue lists only refunds that need an operator.
	rs, _, err := s.ListRefunds(c, store.RefundFilter{NeedsAttention: true})
	must(t, err)
	if len(rs) != 1 || rs[0].ID != r.ID || !rs[0].NeedsAttention {
		t.Errorf("ListRefunds needing attention: %v", idsOf(rs))
	}
	wantCode(t, s.UpdateRefund(c, &store.Refund{ID: "rf_missing"}), core.ENOTFOUND)
	_, err = s.GetRefund(c, "rf_missing")
	wantCode(t, err, core.ENOTFOUND)

	// Totals by status.
	for i, st := range []core.RefundStatus{core.RefundPending, core.RefundProcessing, core.RefundSucceeded, core.RefundSucceeded} {
		must(t, s.InsertRefund(c, &store.Refund{ID: uniq("rf_"), PaymentID: p.ID, Account: p.Account,
			OutRefundNo: uniq("RF"), Amount: core.Money{Value: int64(10 * (i + 1)), Currency: "HKD"}, Status: st}))
	}
	tot, err := s.SumRefunds(c, p.ID)
	must(t, err)
	wantTot := store.RefundTotals{Pending: 30, Succeeded: 70, Failed: 250, Count: 5, Active: 4}
	if tot != wantTot || tot.Committed() != 100 {
		t.Errorf("SumRefunds = %+v, want %+v", tot, wantTot)
	}
	tot, err = s.SumRefunds(c, "pay_none")
	must(t, err)
	if tot != (store.RefundTotals{}) {
		t.Errorf("SumRefunds of no refunds = %+v", tot)
	}
	rs, _, err = s.ListRefunds(c, store.RefundFilter{PaymentID: p.ID, Limit: 2})
	must(t, err)
	if len(rs) != 2 || rs[0].Amount.Value != 40 {
		t.Errorf("ListRefunds newest first: %v", idsOf(rs))
	}
	rs, _, err = s.ListRefunds(c, store.RefundFilter{Account: p.Account, OutRefundNos: []string{"RF0001"}})
	must(t, err)
	if len(rs) != 1 || rs[0].ID != "rf_roundtrip" {
		t.Errorf("ListRefunds by out_refund_no: %v", idsOf(rs))
	}
	rs, _, err = s.ListRefunds(c, store.RefundFilter{Account: p.Account, Status: core.RefundSucceeded, From: base.Add(-time.Hour)})
	must(t, err)
	if len(rs) != 2 {
		t.Errorf("ListRefunds by status: %v", idsOf(rs))
	}
}

func testRefundUnique(t *testing.T, s store.Store) {
	c := ctx(t)
	p := paidPayment(t, s, 1000)
	r := &store.Refund{ID: uniq("rf_"), PaymentID: p.ID, Account: p.Account, OutRefundNo: "RF-1",
		Amount: core.Money{Value: 1, Currency: "HKD"}, Status: core.RefundPending}
	must(t, s.InsertRefund(c, r))
	dup := *r
	dup.ID = uniq("rf_")
	err := s.InsertRefund(c, &dup)
	wantCode(t, err, core.ECONFLICT)
	if !strings.Contains(core.ErrorMessage(err), "out_refund_no") {
		t.Errorf("conflict message %q does not name out_refund_no", core.ErrorMessage(err))
	}
	sameID := *r
	sameID.OutRefundNo = "RF-2"
	wantCode(t, s.InsertRefund(c, &sameID), core.ECONFLICT)
	orphan := &store.Refund{ID: uniq("rf_"), PaymentID: "pay_missing", Account: p.Account, OutRefundNo: "RF-3",
		Amount: core.Money{Value: 1, Currency: "HKD"}, Status: core.RefundPending}
	wantCode(t, s.InsertRefund(c, orphan), core.ENOTFOUND)
}

func testReserveRefundRules(t *testing.T, s store.Store) {
	c := ctx(t)
	pending := newPayment("acct-1", 100)
	must(t, s.InsertPayment(c, pending))
	p := paidPayment(t, s, 100)
	reserve := func(pid string, v int64, cur string) error {
		return s.InTx(c, func(tx store.Tx) error {
			_, err := store.ReserveRefund(c, tx, &store.Refund{ID: uniq("rf_"), PaymentID: pid,
				OutRefundNo: uniq("RF"), Amount: core.Money{Value: v, Currency: cur}})
			return err
		})
	}
	wantCode(t, reserve(pending.ID, 10, "HKD"), core.ECONFLICT) // not paid
	wantCode(t, reserve("pay_missing", 10, "HKD"), core.ENOTFOUND)
	wantCode(t, reserve(p.ID, 10, "USD"), core.EINVALID)
	must(t, reserve(p.ID, 60, "HKD"))
	wantCode(t, reserve(p.ID, 41, "HKD"), core.EINVALID)
	must(t, reserve(p.ID, 40, "HKD"))
	got, err := s.GetPayment(c, p.ID)
	must(t, err)
	if got.AmountReserved != 100 {
		t.Errorf("AmountReserved = %d, want 100", got.AmountReserved)
	}
	// A failed refund frees its amount.
	rs, _, err := s.ListRefunds(c, store.RefundFilter{PaymentID: p.ID})
	must(t, err)
	rs[0].Status = core.RefundFailed
	must(t, s.UpdateRefund(c, rs[0]))
	must(t, reserve(p.ID, rs[0].Amount.Value, "HKD"))
}

func testConcurrentRefunds(t *testing.T, s store.Store) {
	concurrentRefunds(t, s, s)
}

func testConcurrentRefundsShared(t *testing.T, a, b store.Store) {
	concurrentRefunds(t, a, b)
}

// concurrentRefunds reserves 100 refunds of 30 on a payment of 1000 at once, half through each
// store: exactly 33 must succeed and the rest be refused as exceeding the amount.
func concurrentRefunds(t *testing.T, a, b store.Store) {
	c := ctx(t)
	p := paidPayment(t, a, 1000)
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(c, func(tx store.Tx) error {
				_, err := store.ReserveRefund(c, tx, &store.Refund{ID: uniq("rf_"), PaymentID: p.ID,
					OutRefundNo: uniq("RF"), Amount: core.Money{Value: 30, Currency: "HKD"}})
				return err
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch core.ErrorCode(err) {
		case "":
			ok++
		case core.EINVALID:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	tot, err := a.SumRefunds(c, p.ID)
	must(t, err)
	got, err := a.GetPayment(c, p.ID)
	must(t, err)
	if ok != 33 || tot.Committed() != 990 || tot.Count != 33 || got.AmountReserved != 990 {
		t.Fatalf("%d reservations succeeded, totals %+v, AmountReserved %d; want 33, 990, 990", ok, tot, got.AmountReserved)
	}
}
