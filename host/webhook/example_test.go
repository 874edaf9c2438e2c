package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/paymux/paymux/host/webhook"
)

// A merchant's webhook handler: verify the signature over the raw body, then decode it and
// deduplicate on the event id.
func ExampleVerify() {
	const secret = "whsec-example-DO-NOT-USE"
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.Header), body, 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var e webhook.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Println("got", e.Type, e.ID)
		w.WriteHeader(http.StatusNoContent)
	})

	// What paymux sends:
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","created_at":"2026-11-22T02:56:55Z","data":{}}`)
	req := httptest.NewRequest("POST", "/webhooks/paymux", strings.NewReader(string(body)))
	req.Header.Set(webhook.Header, webhook.Sign([]byte(secret), time.Now(), body))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forged delivery:
	req = httptest.NewRequest("POST", "/webhooks/paymux", strings.NewReader(string(body)))
	req.Header.Set(webhook.Header, webhook.Sign([]byte("not-the-secret"), time.Now(), body))
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// got payment.succeeded evt_1
	// 204
	// 400
}
