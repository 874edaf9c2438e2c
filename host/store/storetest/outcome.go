package storetest

import (
	"net/http"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// testNotificationOutcome checks UpdateNotificationOutcome: it writes the reason, payment and
// refund and leaves the status and dedupe key as they are, inside an intake Tx and alone.
func testNotificationOutcome(t *testing.T, s store.Store) {
	c := ctx(t)
	n := &store.Notification{ID: "ntf_outcome", Account: "acct-1", Method: http.MethodPost, Body: []byte("a=1"), ReceivedAt: base}
	must(t, s.InsertNotification(c, n))
	must(t, s.InTx(c, func(tx store.Tx) error {
		m := *n
		m.Status, m.DedupeKey = store.NotificationProcessed, "acct-1:outcome"
		if err := tx.UpdateNotification(c, &m); err != nil {
			return err
		}
		// Status and dedupe key are not written: these values must not reach the row.
		m.Status, m.DedupeKey = store.NotificationError, "other"
		m.Reason, m.PaymentID, m.RefundID = "applied", "pay_outcome", "rf_outcome"
		return tx.UpdateNotificationOutcome(c, &m)
	}))
	got, err := s.GetNotification(c, n.ID)
	must(t, err)
	if got.Status != store.NotificationProcessed || got.DedupeKey != "acct-1:outcome" || got.Reason != "applied" ||
		got.PaymentID != "pay_outcome" || got.RefundID != "rf_outcome" || got.UpdatedAt.Before(got.ReceivedAt) {
		t.Fatalf("after the intake Tx: %+v", got)
	}
	// The claimed key still conflicts: the outcome write kept the row in the dedupe index.
	dup := &store.Notification{ID: "ntf_outcome_dup", Account: "acct-1", ReceivedAt: base}
	must(t, s.InsertNotification(c, dup))
	dup.Status, dup.DedupeKey = store.NotificationProcessed, "acct-1:outcome"
	wantCode(t, s.UpdateNotification(c, dup), core.ECONFLICT)
	// Alone, on the Store.
	got.Reason = "again"
	must(t, s.UpdateNotificationOutcome(c, got))
	if g2, err := s.GetNotification(c, n.ID); err != nil || g2.Reason != "again" || g2.Status != store.NotificationProcessed {
		t.Fatalf("after UpdateNotificationOutcome on the store: %+v, %v", g2, err)
	}
	wantCode(t, s.UpdateNotificationOutcome(c, &store.Notification{ID: "ntf_missing"}), core.ENOTFOUND)
}
