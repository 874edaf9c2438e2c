package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// TestInboxHeadersBounded: a notification with a large header block is stored with at most
// host.MaxNotifyHeaderBytes of headers (Content-Type kept, the number left out recorded) and
// is still processed.
func TestInboxHeadersBounded(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("order-hdr", 1000), nil)
	b, _ := json.Marshal(fakeNote{ID: "h1", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD", TradeNo: "Th1"})
	req, _ := http.NewRequest("POST", e.srv.URL+"/notify/fake-hk", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for i := range 100 {
		req.Header.Set("X-Junk-"+strconv.Itoa(i), strings.Repeat("j", 500))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("notify: %d", resp.StatusCode)
	}
	list, _, err := e.store.ListNotifications(context.Background(), store.NotificationFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("inbox: %d entries, %v", len(list), err)
	}
	n := list[0]
	size := 0
	for k, vs := range n.Header {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	if size > host.MaxNotifyHeaderBytes+64 {
		t.Errorf("the inbox entry keeps %d bytes of headers, bound %d", size, host.MaxNotifyHeaderBytes)
	}
	if n.Header.Get("Content-Type") != "application/json" || n.Header.Get(host.HeadersDroppedHeader) == "" {
		t.Errorf("kept headers lack Content-Type or the dropped count: %v", n.Header.Get(host.HeadersDroppedHeader))
	}
	if n.Status != store.NotificationProcessed {
		t.Errorf("status %s", n.Status)
	}
}

// TestNotifyRejectLimit: a client's notifications that fail verification are stored up to its
// budget (default 60 a minute); past it they are refused with 429 and not stored, while a
// verified notification from the same client is taken as always; another client is not
// affected.
func TestNotifyRejectLimit(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("order-rl", 1000), nil)
	forged := func(i int) (int, string) {
		return e.notifyFake("fake-hk", fakeNote{ID: "f" + strconv.Itoa(i), Sig: "forged", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD"})
	}
	for i := range 60 { // the default budget
		if code, body := forged(i); code != 200 || body != "fail" {
			t.Fatalf("forged #%d within the budget: %d %q", i, code, body)
		}
	}
	for i := 60; i < 70; i++ {
		if code, _ := forged(i); code != http.StatusTooManyRequests {
			t.Fatalf("forged #%d over the budget: %d, want 429", i, code)
		}
	}
	// Genuine notifications are never limited.
	e.payFake(p, "genuine-1")
	list, _, err := e.store.ListNotifications(context.Background(), store.NotificationFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[store.NotificationStatus]int{}
	for _, n := range list {
		counts[n.Status]++
	}
	if counts[store.NotificationRejected] != 60 || counts[store.NotificationProcessed] != 1 || len(list) != 61 {
		t.Fatalf("inbox: %v (%d entries), want 60 rejected and 1 processed", counts, len(list))
	}

	// A smaller budget set on reload applies afresh; -1 turns the limit off.
	e.api.SetNotifyRejectLimit(2)
	for i := 100; i < 102; i++ {
		if code, _ := forged(i); code != 200 {
			t.Fatalf("forged #%d within the new budget: %d", i, code)
		}
	}
	if code, _ := forged(102); code != http.StatusTooManyRequests {
		t.Fatalf("over the new budget: %d", code)
	}
	e.api.SetNotifyRejectLimit(-1)
	for i := 200; i < 205; i++ {
		if code, _ := forged(i); code != 200 {
			t.Fatalf("limit off: forged #%d answered %d", i, code)
		}
	}
}
