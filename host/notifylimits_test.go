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
