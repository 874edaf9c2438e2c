package storetest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testNotificationRoundTrip(t *testing.T, s store.Store) {
	c := ctx(t)
	n := &store.Notification{
		ID:         "ntf_roundtrip",
		Account:    "acct-1",
		Method:     http.MethodPost,
		Header:     http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=GBK"}, "X-Multi": {"a", "b"}},
		Query:      "a=1&b=%20",
		Body:       []byte("notify_id=abc&total_fee=0.01&subject=\xb2\xe8\x00end"),
		RemoteAddr: "127.0.0.1:55555",
		ReceivedAt: base,
	}
	must(t, s.InsertNotification(c, n))
	want := *n
	want.Status = store.NotificationReceived
	want.ReceivedAt, want.UpdatedAt = us(base), us(base)
	got, err := s.GetNotification(c, n.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetNotification:\n got %+v\nwant %+v", got, &want)
	}
	got.Status = store.NotificationProcessed
	got.DedupeKey = "acct-1:abc"
	got.Reason = "ok"
	got.PaymentID = "pay_1"
	got.RefundID = "rf_1"
	must(t, s.UpdateNotification(c, got))
	g2, err := s.GetNotification(c, n.ID)
	must(t, err)
	if !reflect.DeepEqual(g2, got) {
		t.Fatalf("after UpdateNotification:\n got %+v\nwant %+v", g2, got)
	}
	wantCode(t, s.InsertNotification(c, &store.Notification{ID: n.ID, Account: "acct-1"}), core.ECONFLICT)
	wantCode(t, s.UpdateNotification(c, &store.Notification{ID: "ntf_missing", Status: store.NotificationError}), core.ENOTFOUND)
	_, err = s.GetNotification(c, "ntf_missing")
	wantCode(t, err, core.ENOTFOUND)
	must(t, s.InsertNotification(c, &store.Notification{ID: "ntf_empty", Account: "acct-1"}))
	g3, err := s.GetNotification(c, "ntf_empty")
	must(t, err)
	if len(g3.Body) != 0 || g3.Header != nil || g3.ReceivedAt.IsZero() || g3.Status != store.NotificationReceived {
		t.Errorf("empty notification: %+v", g3)
	}
}

func testNotificationDedupe(t *testing.T, s store.Store) {
	c := ctx(t)
	insert := func() *store.Notification {
		n := &store.Notification{ID: uniq("ntf_"), Account: "acct-1", Body: []byte("x")}
		must(t, s.InsertNotification(c, n))
		return n
	}
	first := insert()
	first.Status, first.DedupeKey = store.NotificationProcessed, "acct-1:n1"
	must(t, s.UpdateNotification(c, first))

	// Every effective status takes the key; others do not.
	for _, st := range []store.NotificationStatus{store.NotificationProcessed, store.NotificationUnmatched, store.NotificationFlagged} {
		second := insert()
		second.Status, second.DedupeKey = st, "acct-1:n1"
		err := s.UpdateNotification(c, second)
		wantCode(t, err, core.ECONFLICT)
		if !strings.Contains(core.ErrorMessage(err), "acct-1:n1") {
			t.Errorf("dedupe conflict message %q does not name the key", core.ErrorMessage(err))
		}
	}
	for _, st := range []store.NotificationStatus{store.NotificationDuplicate, store.NotificationRejected, store.NotificationError, store.NotificationReceived} {
		other := insert()
		other.Status, other.DedupeKey = st, "acct-1:n1"
		must(t, s.UpdateNotification(c, other))
	}
	// Another account may use the same key.
	o := &store.Notification{ID: uniq("ntf_"), Account: "acct-2", Status: store.NotificationProcessed, DedupeKey: "acct-1:n1"}
	must(t, s.InsertNotification(c, o))
	// An empty key is never unique.
	for range 2 {
		e := insert()
		e.Status = store.NotificationUnmatched
		must(t, s.UpdateNotification(c, e))
	}
	// Inserting straight into an effective status with a taken key also conflicts.
	wantCode(t, s.InsertNotification(c, &store.Notification{ID: uniq("ntf_"), Account: "acct-1",
		Status: store.NotificationFlagged, DedupeKey: "acct-1:n1"}), core.ECONFLICT)

	f, err := s.FindNotificationByDedupeKey(c, "acct-1", "acct-1:n1")
	must(t, err)
	if f.ID != first.ID {
		t.Errorf("FindNotificationByDedupeKey = %s, want %s", f.ID, first.ID)
	}
	_, err = s.FindNotificationByDedupeKey(c, "acct-1", "acct-1:none")
	wantCode(t, err, core.ENOTFOUND)
}

func testNotificationList(t *testing.T, s store.Store) {
	c := ctx(t)
	var unmatched []string
	for i := 0; i < 9; i++ {
		n := &store.Notification{ID: uniq("ntf_"), Account: "acct-1"}
		if i%3 == 0 {
			n.Status = store.NotificationUnmatched
			unmatched = append([]string{n.ID}, unmatched...)
		}
		must(t, s.InsertNotification(c, n))
	}
	var got []string
	cursor := ""
	for {
		ns, next, err := s.ListNotifications(c, store.NotificationFilter{Status: store.NotificationUnmatched, Limit: 2, Cursor: cursor})
		must(t, err)
		for _, n := range ns {
			got = append(got, n.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !reflect.DeepEqual(got, unmatched) {
		t.Fatalf("unmatched pages = %v, want %v", got, unmatched)
	}
	ns, _, err := s.ListNotifications(c, store.NotificationFilter{Account: "acct-1"})
	must(t, err)
	if len(ns) != 9 {
		t.Errorf("all: %d", len(ns))
	}
	ns, _, err = s.ListNotifications(c, store.NotificationFilter{Account: "acct-9"})
	must(t, err)
	if len(ns) != 0 {
		t.Errorf("other account: %d", len(ns))
	}
}

// testNotificationIntakeTx runs the intake recipe the host uses: store the raw request, then in
// one transaction take the dedupe key, apply the transition and write the event. A duplicate
// rolls back before any effect and is then recorded as duplicate.
func testNotificationIntakeTx(t *testing.T, s store.Store) {
	c := ctx(t)
	p := newPayment("acct-1", 500)
	must(t, s.InsertPayment(c, p))
	for i := 0; i < 2; i++ {
		n := &store.Notification{ID: uniq("ntf_"), Account: "acct-1", Body: []byte("notify_id=n1")}
		must(t, s.InsertNotification(c, n))
		err := applyNotification(c, s, n, p.OutTradeNo, "acct-1:n1")
		if i == 0 {
			must(t, err)
			continue
		}
		wantCode(t, err, core.ECONFLICT)
		n.Status, n.DedupeKey = store.NotificationDuplicate, "acct-1:n1"
		must(t, s.UpdateNotification(c, n))
	}
	evs, _, err := s.ListEvents(c, store.EventFilter{PaymentID: p.ID})
	must(t, err)
	if len(evs) != 1 || evs[0].Type != store.EventPaymentSucceeded {
		t.Fatalf("events after a notification and its duplicate: %d", len(evs))
	}
	got, err := s.GetPayment(c, p.ID)
	must(t, err)
	if got.Status != core.PaymentSucceeded || got.ProviderRef != "trade-1" {
		t.Errorf("payment after intake: %+v", got)
	}
	ns, _, err := s.ListNotifications(c, store.NotificationFilter{Status: store.NotificationDuplicate})
	must(t, err)
	if len(ns) != 1 {
		t.Errorf("duplicates recorded: %d", len(ns))
	}
}

// applyNotification is the host's notification transaction, as the tests and benchmarks run it.
func applyNotification(c context.Context, s store.Store, n *store.Notification, outTradeNo, dedupeKey string) error {
	return s.InTx(c, func(tx store.Tx) error {
		p, err := tx.LockPaymentByOutTradeNo(c, n.Account, outTradeNo)
		if err != nil {
			return err
		}
		n.Status, n.DedupeKey, n.PaymentID = store.NotificationProcessed, dedupeKey, p.ID
		if err := tx.UpdateNotification(c, n); err != nil {
			return err
		}
		if err := core.PaymentTransition(p.Status, core.PaymentSucceeded); err != nil {
			return err
		}
		p.Status, p.ProviderRef, p.PaidAt = core.PaymentSucceeded, "trade-1", base
		if err := tx.UpdatePayment(c, p); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"payment_id": p.ID, "amount": p.Amount})
		return tx.InsertEvent(c, &store.Event{ID: store.NewID("evt_"), Type: store.EventPaymentSucceeded,
			Account: p.Account, PaymentID: p.ID, Payload: payload})
	})
}

// testIntakeRace runs many intakes at once: 16 deliveries of one notification and 8 other
// notifications (other dedupe keys) for the same payment, 16 intakes for payments of their
// own, and 8 whose notification row does not exist, so that their last write fails
// (ENOTFOUND; on PostgreSQL a held-back write, found after fn returned). The outcome must be
// what the intakes alone give: exactly one delivery for the shared payment applies, the others
// conflict (the dedupe key, or succeeded -> succeeded); every other good intake applies with
// one event; a failing intake has no effect, and nothing else fails with it.
func testIntakeRace(t *testing.T, s store.Store) {
	c := ctx(t)
	shared := newPayment("acct-g", 500)
	must(t, s.InsertPayment(c, shared))
	type intake struct {
		p       *store.Payment
		n       *store.Notification
		key     string
		missing bool // the notification row is not stored
		err     error
	}
	var in []*intake
	add := func(p *store.Payment, key string, missing bool) {
		n := &store.Notification{ID: uniq("ntf_"), Account: "acct-g", Body: []byte("notify_id=" + key)}
		if !missing {
			must(t, s.InsertNotification(c, n))
		}
		in = append(in, &intake{p: p, n: n, key: key, missing: missing})
	}
	for i := range 16 {
		add(shared, "acct-g:same", false)
		own := newPayment("acct-g", 100)
		must(t, s.InsertPayment(c, own))
		add(own, "acct-g:own-"+m2s(i), false)
		if i%2 == 0 {
			add(shared, "acct-g:other-"+m2s(i), false)
			lost := newPayment("acct-g", 100)
			must(t, s.InsertPayment(c, lost))
			add(lost, "acct-g:lost-"+m2s(i), true)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, x := range in {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			x.err = applyNotification(c, s, x.n, x.p.OutTradeNo, x.key)
		}()
	}
	close(start)
	wg.Wait()
	sharedApplied := 0
	for _, x := range in {
		evs, _, err := s.ListEvents(c, store.EventFilter{PaymentID: x.p.ID})
		must(t, err)
		p, err := s.GetPayment(c, x.p.ID)
		must(t, err)
		switch {
		case x.missing:
			wantCode(t, x.err, core.ENOTFOUND)
			if p.Status != core.PaymentPending || len(evs) != 0 {
				t.Errorf("failed intake had an effect: payment %s, %d events", p.Status, len(evs))
			}
		case x.p == shared:
			switch core.ErrorCode(x.err) {
			case "":
				sharedApplied++
			case core.ECONFLICT:
			default:
				t.Errorf("intake for the shared payment: %v", x.err)
			}
		default:
			if x.err != nil || p.Status != core.PaymentSucceeded || len(evs) != 1 {
				t.Errorf("intake of its own payment: %v; payment %s, %d events", x.err, p.Status, len(evs))
			}
			got, err := s.GetNotification(c, x.n.ID)
			if err != nil || got.Status != store.NotificationProcessed || got.DedupeKey != x.key {
				t.Errorf("notification after intake: %+v, %v", got, err)
			}
		}
	}
	evs, _, err := s.ListEvents(c, store.EventFilter{PaymentID: shared.ID})
	must(t, err)
	if sharedApplied != 1 || len(evs) != 1 {
		t.Errorf("shared payment: %d deliveries applied, %d events; want 1 and 1", sharedApplied, len(evs))
	}
	ns, _, err := s.ListNotifications(c, store.NotificationFilter{Account: "acct-g", Status: store.NotificationProcessed, Limit: 100})
	must(t, err)
	if want := 1 + 16; len(ns) != want {
		t.Errorf("%d notifications processed, want %d", len(ns), want)
	}
}

// testDedupeRaceShared delivers one notification 20 times at once through two stores: exactly
// one delivery has an effect.
func testDedupeRaceShared(t *testing.T, a, b store.Store) {
	c := ctx(t)
	p := newPayment("acct-1", 500)
	must(t, a.InsertPayment(c, p))
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nt := &store.Notification{ID: uniq("ntf_"), Account: "acct-1", Body: []byte("notify_id=race")}
			if err := s.InsertNotification(c, nt); err != nil {
				errs[i] = err
				return
			}
			errs[i] = applyNotification(c, s, nt, p.OutTradeNo, "acct-1:race")
		}()
	}
	wg.Wait()
	applied := 0
	for _, err := range errs {
		switch core.ErrorCode(err) {
		case "":
			applied++
		case core.ECONFLICT: // the dedupe key, or succeeded -> succeeded
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	evs, _, err := a.ListEvents(c, store.EventFilter{PaymentID: p.ID})
	must(t, err)
	if applied != 1 || len(evs) != 1 {
		t.Fatalf("%d deliveries applied, %d events; want 1 and 1", applied, len(evs))
	}
}

// testConcurrentInsertsOneFails sends many raw notification inserts at once, as the intake does
// under load, some of which must fail on their own account (an id taken, a dedupe key already
// applied). Both stores may share one commit among concurrent inserts (SQLite's committer,
// PostgreSQL's group writer): a failing member gets its own error, and every other insert is
// committed with exactly its own content, neither failed nor disturbed by the failing ones.
func testConcurrentInsertsOneFails(t *testing.T, s store.Store) {
	c := ctx(t)
	taken := &store.Notification{ID: uniq("ntf_taken_"), Account: "acct-grp", Body: []byte("original")}
	must(t, s.InsertNotification(c, taken))
	applied := &store.Notification{ID: uniq("ntf_applied_"), Account: "acct-grp", Status: store.NotificationProcessed, DedupeKey: "acct-grp:k1"}
	must(t, s.InsertNotification(c, applied))

	const n = 48
	type res struct {
		n   *store.Notification
		bad bool
		err error
	}
	out := make(chan res, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		var m *store.Notification
		bad := i%8 == 3 || i%8 == 6
		switch {
		case i%8 == 3: // the id is taken
			m = &store.Notification{ID: taken.ID, Account: "acct-grp", Body: []byte("intruder")}
		case i%8 == 6: // the dedupe key was applied already
			m = &store.Notification{ID: uniq("ntf_dup_"), Account: "acct-grp", Status: store.NotificationProcessed, DedupeKey: "acct-grp:k1"}
		default:
			m = &store.Notification{ID: uniq("ntf_ok_"), Account: "acct-grp", Body: []byte("body " + m2s(i))}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out <- res{m, bad, s.InsertNotification(c, m)}
		}()
	}
	close(start)
	wg.Wait()
	close(out)
	good := 0
	for r := range out {
		if r.bad {
			wantCode(t, r.err, core.ECONFLICT)
			if r.n.ID != taken.ID {
				if _, err := s.GetNotification(c, r.n.ID); core.ErrorCode(err) != core.ENOTFOUND {
					t.Errorf("failed insert %s is stored (err %v)", r.n.ID, err)
				}
			}
			continue
		}
		if r.err != nil {
			t.Errorf("insert %s failed with its neighbours' failures: %v", r.n.ID, r.err)
			continue
		}
		got, err := s.GetNotification(c, r.n.ID)
		if err != nil || string(got.Body) != string(r.n.Body) || got.Status != store.NotificationReceived {
			t.Errorf("acknowledged insert %s: got %+v, %v", r.n.ID, got, err)
		}
		good++
	}
	if good != n-n/4 {
		t.Errorf("%d inserts acknowledged, want %d", good, n-n/4)
	}
	got, err := s.GetNotification(c, taken.ID)
	must(t, err)
	if string(got.Body) != "original" {
		t.Errorf("taken notification overwritten: %q", got.Body)
	}
}

func m2s(i int) string { return string(rune('a'+i%26)) + string(rune('a'+i/26)) }
