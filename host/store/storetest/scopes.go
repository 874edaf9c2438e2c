package storetest

import (
	"reflect"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// testScopedLists: the filters GET /v1/payments and a scoped API key use (Accounts, Regions,
// Region, Method) select exactly their rows, an empty non-nil scope selects nothing, and
// metadata, event regions and actors round-trip.
func testScopedLists(t *testing.T, s store.Store) {
	c := ctx(t)
	type row struct{ account, region, method string }
	rows := []row{
		{"acct-1", "HK", "alipayhk"}, {"acct-1", "SG", "alipay"}, {"acct-2", "HK", "alipayhk"},
		{"acct-2", "SG", "alipay"}, {"acct-3", "HK", "alipay"},
	}
	ids := map[row]string{}
	for _, r := range rows {
		p := newPayment(r.account, 100)
		p.Region, p.Method, p.Reference = r.region, r.method, "scoped"
		p.Metadata = map[string]string{"order": p.ID}
		must(t, s.InsertPayment(c, p))
		ids[r] = p.ID
		must(t, s.InsertEvent(c, &store.Event{ID: uniq("evt_"), Type: store.EventPaymentSucceeded, Account: r.account,
			Region: r.region, PaymentID: p.ID, Actor: "key-" + r.account, Payload: []byte(`{}`)}))
	}
	must(t, s.InsertEvent(c, &store.Event{ID: uniq("evt_"), Type: store.EventNotificationUnmatched, Account: "acct-1", Payload: []byte(`{}`)}))
	want := func(pred func(row) bool) []string {
		var out []string
		for i := len(rows) - 1; i >= 0; i-- {
			if pred(rows[i]) {
				out = append(out, ids[rows[i]])
			}
		}
		return out
	}
	for name, tc := range map[string]struct {
		f    store.PaymentFilter
		pred func(row) bool
	}{
		"accounts":            {store.PaymentFilter{Accounts: []string{"acct-1", "acct-3"}}, func(r row) bool { return r.account != "acct-2" }},
		"regions":             {store.PaymentFilter{Regions: []string{"SG"}}, func(r row) bool { return r.region == "SG" }},
		"accounts and region": {store.PaymentFilter{Accounts: []string{"acct-2"}, Regions: []string{"HK"}}, func(r row) bool { return r.account == "acct-2" && r.region == "HK" }},
		"region":              {store.PaymentFilter{Region: "HK"}, func(r row) bool { return r.region == "HK" }},
		"method":              {store.PaymentFilter{Method: "alipay"}, func(r row) bool { return r.method == "alipay" }},
		"empty scope":         {store.PaymentFilter{Accounts: []string{}}, func(row) bool { return false }},
		"no scope":            {store.PaymentFilter{}, func(row) bool { return true }},
	} {
		tc.f.Reference = "scoped"
		ps, _, err := s.ListPayments(c, tc.f)
		must(t, err)
		var got []string
		for _, p := range ps {
			got = append(got, p.ID)
			if p.Metadata["order"] != p.ID {
				t.Errorf("%s: payment %s metadata %v", name, p.ID, p.Metadata)
			}
		}
		if w := want(tc.pred); !reflect.DeepEqual(got, w) {
			t.Errorf("payments %s: %v, want %v", name, got, w)
		}
	}
	evs, _, err := s.ListEvents(c, store.EventFilter{Accounts: []string{"acct-1"}, Regions: []string{"HK"}})
	must(t, err)
	if len(evs) != 1 || evs[0].PaymentID != ids[rows[0]] || evs[0].Region != "HK" || evs[0].Actor != "key-acct-1" {
		t.Errorf("events of acct-1 in HK: %+v", evs)
	}
	evs, _, err = s.ListEvents(c, store.EventFilter{Accounts: []string{"acct-1"}})
	must(t, err)
	if len(evs) != 3 {
		t.Errorf("events of acct-1: %d, want 3 (two payments and the unmatched notification)", len(evs))
	}
	if evs, _, err = s.ListEvents(c, store.EventFilter{Regions: []string{}}); err != nil || len(evs) != 0 {
		t.Errorf("events of an empty scope: %d, %v", len(evs), err)
	}
	// Refund metadata round-trips; none stays none.
	p := paidPayment(t, s, 500)
	r := &store.Refund{ID: uniq("rf_"), PaymentID: p.ID, Account: p.Account, OutRefundNo: uniq("orn"),
		Amount: core.Money{Value: 100, Currency: "HKD"}, Status: core.RefundPending, Metadata: map[string]string{"ticket": "T-1"}}
	must(t, s.InsertRefund(c, r))
	got, err := s.GetRefund(c, r.ID)
	must(t, err)
	if !reflect.DeepEqual(got.Metadata, r.Metadata) {
		t.Errorf("refund metadata %v, want %v", got.Metadata, r.Metadata)
	}
	if got, err := s.GetPayment(c, p.ID); err != nil || got.Metadata != nil {
		t.Errorf("a payment without metadata reads %v (%v)", got.Metadata, err)
	}
}
