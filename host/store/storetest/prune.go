package storetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/paymux/paymux/host/store"
)

// testPrune: only rejected inbox entries and delivered events older than the cut are deleted,
// at most limit per call, oldest first; everything else stays (received, processed, flagged
// entries; pending and failed events; anything newer).
func testPrune(t *testing.T, s store.Store) {
	p, ok := s.(store.Pruner)
	if !ok {
		t.Fatal("the store does not implement store.Pruner")
	}
	c := ctx(t)
	cut := base.Add(time.Hour)
	ntf := func(id string, at time.Time, status store.NotificationStatus) {
		n := &store.Notification{ID: id, Account: "acct-1", Method: http.MethodPost, Header: http.Header{}, Body: []byte("x"), ReceivedAt: at}
		must(t, s.InsertNotification(c, n))
		if status != store.NotificationReceived {
			n.Status, n.Reason = status, "test"
			must(t, s.UpdateNotification(c, n))
		}
	}
	for i := range 5 {
		ntf(fmt.Sprintf("ntf_old_rejected_%d", i), base.Add(time.Duration(i)*time.Minute), store.NotificationRejected)
	}
	ntf("ntf_new_rejected", cut.Add(time.Second), store.NotificationRejected)
	ntf("ntf_old_processed", base, store.NotificationProcessed)
	ntf("ntf_old_received", base, store.NotificationReceived)
	ntf("ntf_old_error", base, store.NotificationError)

	n, err := p.PruneRejectedNotifications(c, cut, 3)
	must(t, err)
	if n != 3 {
		t.Fatalf("first batch pruned %d notifications, want 3", n)
	}
	for i := range 3 { // oldest first
		if _, err := s.GetNotification(c, fmt.Sprintf("ntf_old_rejected_%d", i)); err == nil {
			t.Errorf("ntf_old_rejected_%d survived the first batch", i)
		}
	}
	n, err = p.PruneRejectedNotifications(c, cut, 3)
	must(t, err)
	if n != 2 {
		t.Fatalf("second batch pruned %d notifications, want 2", n)
	}
	if n, err = p.PruneRejectedNotifications(c, cut, 3); err != nil || n != 0 {
		t.Fatalf("third batch: %d, %v", n, err)
	}
	for _, id := range []string{"ntf_new_rejected", "ntf_old_processed", "ntf_old_received", "ntf_old_error"} {
		if _, err := s.GetNotification(c, id); err != nil {
			t.Errorf("%s was pruned: %v", id, err)
		}
	}

	evt := func(id string, created time.Time) {
		must(t, s.InsertEvent(c, &store.Event{ID: id, Type: store.EventPaymentSucceeded, Payload: json.RawMessage(`{}`), CreatedAt: created}))
	}
	for i := range 4 {
		id := fmt.Sprintf("evt_old_delivered_%d", i)
		evt(id, base)
		must(t, s.MarkEventDelivered(c, id, base.Add(time.Duration(i)*time.Minute)))
	}
	evt("evt_new_delivered", base)
	must(t, s.MarkEventDelivered(c, "evt_new_delivered", cut.Add(time.Second)))
	evt("evt_old_pending", base)
	evt("evt_old_failed", base)
	must(t, s.MarkEventFailed(c, "evt_old_failed", "gave up"))

	if n, err = p.PruneDeliveredEvents(c, cut, 3); err != nil || n != 3 {
		t.Fatalf("first event batch: %d, %v", n, err)
	}
	if n, err = p.PruneDeliveredEvents(c, cut, 3); err != nil || n != 1 {
		t.Fatalf("second event batch: %d, %v", n, err)
	}
	for _, id := range []string{"evt_new_delivered", "evt_old_pending", "evt_old_failed"} {
		if _, err := s.GetEvent(c, id); err != nil {
			t.Errorf("%s was pruned: %v", id, err)
		}
	}
	if _, err := s.GetEvent(c, "evt_old_delivered_3"); err == nil {
		t.Error("evt_old_delivered_3 survived")
	}
}
