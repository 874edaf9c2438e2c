package storetest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testPaymentRoundTrip(t *testing.T, s store.Store) {
	c := ctx(t)
	p := &store.Payment{
		ID:          "pay_roundtrip",
		Account:     "acct-1",
		Region:      "HK",
		Method:      "alipayhk",
		Channel:     core.ChannelH5,
		OutTradeNo:  "PMX20261103000001",
		Reference:   "order-42",
		Amount:      core.Money{Value: 12345, Currency: "HKD"},
		Status:      core.PaymentPending,
		Subject:     "Tea \u8336 'quoted' \"double\"",
		Description: "line1\nline2",
		ReturnURL:   "https://shop.example/return?x=1&y=2",
		Extras:      map[string]string{"payment_inst": "ALIPAYHK", "empty": ""},
		ProviderRef: "2026110322001",
		NextAction: &core.NextAction{Type: core.ActionDeepLink, Value: "wallet://pay?a=b", AppIdentifier: "com.example.wallet",
			Fallbacks: []core.NextAction{{Type: core.ActionAppLink, Value: "https://gw.example/al?a=b"},
				{Type: core.ActionRedirectURL, Value: "https://gw.example/pay?a=b&c=\u0026"}}},
		Wallet:      "ALIPAYHK",
		FailureCode: "",
		Flags:       []string{store.FlagAmountMismatch, "other"},
		ClientResult: &store.ClientResultHint{Verified: false, Status: core.PaymentPending,
			At: base.Add(2 * time.Second)},
		ExpiresAt:   base.Add(30 * time.Minute),
		NextQueryAt: base.Add(time.Minute),
		CreatedAt:   base,
		UpdatedAt:   base.Add(time.Second),
	}
	must(t, s.InsertPayment(c, p))
	want := *p
	want.ClientResult = &store.ClientResultHint{Verified: false, Status: core.PaymentPending, At: us(base.Add(2 * time.Second))}
	want.ExpiresAt, want.NextQueryAt = us(want.ExpiresAt), us(want.NextQueryAt)
	want.CreatedAt, want.UpdatedAt = us(want.CreatedAt), us(want.UpdatedAt)
	if !reflect.DeepEqual(p, &want) {
		t.Fatalf("InsertPayment did not write back the stored values:\n got %+v\nwant %+v", p, &want)
	}
	got, err := s.GetPayment(c, p.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetPayment:\n got %+v\nwant %+v", got, &want)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	got, err = s.GetPaymentByOutTradeNo(c, "acct-1", "PMX20261103000001")
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetPaymentByOutTradeNo:\n got %+v\nwant %+v", got, &want)
	}
	if !got.HasFlag(store.FlagAmountMismatch) || got.HasFlag("nope") {
		t.Errorf("HasFlag wrong for %v", got.Flags)
	}

	// Update every mutable field, under a lock, in a transaction.
	must(t, s.InTx(c, func(tx store.Tx) error {
		q, err := tx.LockPayment(c, p.ID)
		if err != nil {
			return err
		}
		q.Status = core.PaymentSucceeded
		q.ProviderRef = "2026110322002"
		q.NextAction = nil
		q.Wallet = "ALIPAYCN"
		q.FailureCode = "X"
		q.AmountRefunded = 100
		q.AmountReserved = 300
		q.Flags = nil
		q.Extras = nil
		q.ExpiresAt = time.Time{}
		q.PaidAt = base.Add(2 * time.Minute)
		q.NextQueryAt = time.Time{}
		q.QueryAttempts = 3
		q.Reference = "order-43"
		q.ClientResult = &store.ClientResultHint{Verified: true, Status: core.PaymentSucceeded, At: base.Add(3 * time.Minute)}
		if err := tx.UpdatePayment(c, q); err != nil {
			return err
		}
		if q.UpdatedAt.Before(time.Now().Add(-time.Minute)) {
			t.Errorf("UpdatePayment did not stamp UpdatedAt: %v", q.UpdatedAt)
		}
		want = *q
		return nil
	}))
	want.PaidAt = us(want.PaidAt)
	got, err = s.GetPayment(c, p.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("after UpdatePayment:\n got %+v\nwant %+v", got, &want)
	}
	if got.CreatedAt != us(base) {
		t.Errorf("UpdatePayment changed CreatedAt to %v", got.CreatedAt)
	}
	if h := got.ClientResult; h == nil || !h.Verified || h.Status != core.PaymentSucceeded || h.At != us(base.Add(3*time.Minute)) {
		t.Errorf("client result after UpdatePayment: %+v", h)
	}
	// Clearing the hint stores NULLs, which read back as no hint.
	must(t, s.InTx(c, func(tx store.Tx) error {
		q, err := tx.LockPayment(c, p.ID)
		if err != nil {
			return err
		}
		q.ClientResult = nil
		return tx.UpdatePayment(c, q)
	}))
	if got, err = s.GetPayment(c, p.ID); err != nil || got.ClientResult != nil {
		t.Errorf("cleared client result came back: %+v %v", got, err)
	}

	// Defaults: times are set to now when zero.
	d := newPayment("acct-1", 1)
	before := time.Now().Add(-time.Second)
	must(t, s.InsertPayment(c, d))
	if d.CreatedAt.Before(before) || d.UpdatedAt != d.CreatedAt {
		t.Errorf("default times: created %v updated %v", d.CreatedAt, d.UpdatedAt)
	}
	got, err = s.GetPayment(c, d.ID)
	must(t, err)
	if got.NextAction != nil || got.Extras != nil || got.Flags != nil || got.ClientResult != nil || !got.PaidAt.IsZero() {
		t.Errorf("empty fields came back set: %+v", got)
	}
}

func testPaymentUnique(t *testing.T, s store.Store) {
	c := ctx(t)
	p := newPayment("acct-1", 100)
	must(t, s.InsertPayment(c, p))

	dup := newPayment("acct-1", 100)
	dup.OutTradeNo = p.OutTradeNo
	err := s.InsertPayment(c, dup)
	wantCode(t, err, core.ECONFLICT)
	if msg := core.ErrorMessage(err); !strings.Contains(msg, "out_trade_no") || !strings.Contains(msg, p.OutTradeNo) {
		t.Errorf("conflict message %q does not name the out_trade_no", msg)
	}

	other := newPayment("acct-2", 100)
	other.OutTradeNo = p.OutTradeNo
	must(t, s.InsertPayment(c, other)) // unique per account only

	sameID := newPayment("acct-1", 100)
	sameID.ID = p.ID
	err = s.InsertPayment(c, sameID)
	wantCode(t, err, core.ECONFLICT)
	if msg := core.ErrorMessage(err); !strings.Contains(msg, p.ID) {
		t.Errorf("conflict message %q does not name the id", msg)
	}

	_, err = s.GetPayment(c, "pay_missing")
	wantCode(t, err, core.ENOTFOUND)
	_, err = s.GetPaymentByOutTradeNo(c, "acct-2", "nope")
	wantCode(t, err, core.ENOTFOUND)
	err = s.UpdatePayment(c, &store.Payment{ID: "pay_missing", Status: core.PaymentClosed})
	wantCode(t, err, core.ENOTFOUND)
	err = s.InTx(c, func(tx store.Tx) error {
		_, err := tx.LockPayment(c, "pay_missing")
		return err
	})
	wantCode(t, err, core.ENOTFOUND)
	wantCode(t, s.InsertPayment(c, &store.Payment{ID: "pay_x"}), core.EINVALID)
}

func testPaymentList(t *testing.T, s store.Store) {
	c := ctx(t)
	var ids []string
	for i := 0; i < 7; i++ {
		p := newPayment("acct-1", int64(100+i))
		p.Reference = "ref-A"
		p.CreatedAt = base.Add(time.Duration(i) * time.Hour)
		if i%2 == 1 {
			p.Status = core.PaymentSucceeded
		}
		must(t, s.InsertPayment(c, p))
		ids = append(ids, p.ID)
	}
	for i := 0; i < 3; i++ {
		p := newPayment("acct-2", 1)
		p.Reference = "ref-B"
		must(t, s.InsertPayment(c, p))
	}
	// Paging, newest first.
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		ps, next, err := s.ListPayments(c, store.PaymentFilter{Reference: "ref-A", Limit: 3, Cursor: cursor})
		must(t, err)
		if len(ps) > 3 {
			t.Fatalf("page of %d > limit 3", len(ps))
		}
		for _, p := range ps {
			got = append(got, p.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := make([]string, len(ids))
	for i := range ids {
		want[i] = ids[len(ids)-1-i]
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged ids = %v, want %v", got, want)
	}
	// An exact last page has no next cursor.
	ps, next, err := s.ListPayments(c, store.PaymentFilter{Account: "acct-2", Limit: 3})
	must(t, err)
	if len(ps) != 3 || next != "" {
		t.Errorf("exact page: %d items, next %q", len(ps), next)
	}
	// Filters: status, time range (half-open), out_trade_no set.
	ps, _, err = s.ListPayments(c, store.PaymentFilter{Account: "acct-1", Status: core.PaymentSucceeded})
	must(t, err)
	if len(ps) != 3 {
		t.Errorf("status filter: %d, want 3", len(ps))
	}
	ps, _, err = s.ListPayments(c, store.PaymentFilter{Account: "acct-1", From: base.Add(2 * time.Hour), To: base.Add(5 * time.Hour)})
	must(t, err)
	if len(ps) != 3 || ps[0].ID != ids[4] || ps[2].ID != ids[2] {
		t.Errorf("time range: got %d payments %v", len(ps), idsOf(ps))
	}
	p0, err := s.GetPayment(c, ids[0])
	must(t, err)
	p3, err := s.GetPayment(c, ids[3])
	must(t, err)
	ps, _, err = s.ListPayments(c, store.PaymentFilter{Account: "acct-1", OutTradeNos: []string{p0.OutTradeNo, p3.OutTradeNo, "missing"}})
	must(t, err)
	if !reflect.DeepEqual(idsOf(ps), []string{ids[3], ids[0]}) {
		t.Errorf("out_trade_no filter: %v", idsOf(ps))
	}
	ps, _, err = s.ListPayments(c, store.PaymentFilter{OutTradeNos: []string{}})
	must(t, err)
	if len(ps) != 0 {
		t.Errorf("empty out_trade_no set matched %d", len(ps))
	}
	_, _, err = s.ListPayments(c, store.PaymentFilter{Cursor: "garbage"})
	wantCode(t, err, core.EINVALID)
}

func idsOf[T interface{ *store.Payment | *store.Refund }](xs []T) []string {
	var out []string
	for _, x := range xs {
		switch v := any(x).(type) {
		case *store.Payment:
			out = append(out, v.ID)
		case *store.Refund:
			out = append(out, v.ID)
		}
	}
	return out
}
