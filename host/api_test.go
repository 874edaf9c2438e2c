package host_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

func newFakeEnv(t *testing.T) (*env, *fakeProvider) { return newFakeEnvOn(t, nil) }

// newFakeEnvOn is newFakeEnv over st (nil: a fresh store).
func newFakeEnvOn(t *testing.T, st store.Store) (*env, *fakeProvider) {
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		store:    st,
		accounts: map[string]core.Provider{"fake-hk": fp, "fake-noclose": noCloseProvider{fp}},
		regions: map[string][]host.RegionMethod{
			"HK": {
				{Method: "fakewallet", Account: "fake-hk", Limits: []core.AmountRule{{Currency: "HKD", Max: 500_000}}},
				{Method: "fakeh5", Account: "fake-hk"},
			},
			"NC": {{Method: "fakewallet", Account: "fake-noclose"}},
		},
	})
	return e, fp
}

func paymentBody(ref string, amount int64) map[string]any {
	return map[string]any{
		"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": amount, "currency": "HKD"},
		"reference": ref, "subject": "Test order", "channel": "app",
	}
}

func (e *env) createPayment(body any, hdr map[string]string) *host.Payment {
	e.t.Helper()
	r := e.call("POST", "/v1/payments", body, hdr)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("create payment: %d %s", r.Status, r.Body)
	}
	var p host.Payment
	r.decode(e.t, &p)
	return &p
}

func (e *env) getPayment(id string) *host.Payment {
	e.t.Helper()
	r := e.call("GET", "/v1/payments/"+id, nil, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("get payment: %d %s", r.Status, r.Body)
	}
	var p host.Payment
	r.decode(e.t, &p)
	return &p
}

// notifyFake posts a fake notification and returns the answer body.
func (e *env) notifyFake(account string, n fakeNote) (int, string) {
	e.t.Helper()
	b, _ := json.Marshal(n)
	req, _ := http.NewRequest("POST", e.srv.URL+"/notify/"+account, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	e.checkOpenAPI(req, b, resp, buf.Bytes())
	return resp.StatusCode, buf.String()
}

func (e *env) payFake(p *host.Payment, id string) {
	e.t.Helper()
	code, body := e.notifyFake("fake-hk", fakeNote{ID: id, Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded",
		Amount: p.Amount.Value, Currency: p.Amount.Currency, TradeNo: "T" + id})
	if code != 200 || body != "success" {
		e.t.Fatalf("notify: %d %q", code, body)
	}
}

func TestCreateAndNotify(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("order-1", 12_345), nil)
	if p.Status != core.PaymentPending || p.NextAction == nil || p.NextAction.Type != core.ActionSDKOrderString {
		t.Fatalf("created payment = %+v", p)
	}
	if !strings.Contains(p.NextAction.Value, "notify_url="+e.srv.URL+"/notify/fake-hk") {
		t.Fatalf("order string does not carry the notify URL: %s", p.NextAction.Value)
	}
	if !strings.HasPrefix(p.OutTradeNo, "pmx") || p.ExpiresAt == nil {
		t.Fatalf("out_trade_no %q expires_at %v", p.OutTradeNo, p.ExpiresAt)
	}
	e.sink.waitFor(t, "payment.created", p.ID)

	e.payFake(p, "n1")
	got := e.getPayment(p.ID)
	if got.Status != core.PaymentSucceeded || got.ProviderRef != "Tn1" || got.PaidAt == nil {
		t.Fatalf("after notification: %+v", got)
	}
	ev := e.sink.waitFor(t, "payment.succeeded", p.ID)
	if !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("event id %q", ev.ID)
	}

	// Duplicate: acknowledged, no second effect.
	e.payFake(p, "n1")
	// A different notification saying the same thing: acknowledged, no second effect either.
	e.payFake(p, "n2")
	e.waitDelivered(t, p.ID)
	if n := e.sink.count("payment.succeeded", p.ID); n != 1 {
		t.Fatalf("payment.succeeded delivered %d times", n)
	}
	r := e.call("GET", "/v1/notifications?status=duplicate", nil, nil)
	var page host.Page[*host.Notification]
	r.decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].PaymentID != "" && page.Data[0].PaymentID != p.ID {
		t.Fatalf("duplicates = %s", r.Body)
	}

	// List by reference.
	r = e.call("GET", "/v1/payments?reference=order-1", nil, nil)
	var list host.Page[*host.Payment]
	r.decode(t, &list)
	if r.Status != 200 || len(list.Data) != 1 || list.Data[0].ID != p.ID {
		t.Fatalf("list = %d %s", r.Status, r.Body)
	}
}

func TestNotificationFaults(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("order-2", 1000), nil)

	// Tampered: rejected, answered with the provider's retry ack, payment untouched.
	code, body := e.notifyFake("fake-hk", fakeNote{ID: "x1", Sig: "forged", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD"})
	if code != 200 || body != "fail" {
		t.Fatalf("tampered: %d %q", code, body)
	}
	if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
		t.Fatalf("tampered notification changed the payment: %s", got.Status)
	}

	// Amount mismatch: acknowledged, flagged, not paid.
	code, body = e.notifyFake("fake-hk", fakeNote{ID: "x2", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1, Currency: "HKD"})
	if code != 200 || body != "success" {
		t.Fatalf("mismatch: %d %q", code, body)
	}
	got := e.getPayment(p.ID)
	if got.Status != core.PaymentPending || len(got.Flags) != 1 || got.Flags[0] != "amount_mismatch" {
		t.Fatalf("after mismatch: %+v", got)
	}
	e.sink.waitFor(t, "payment.amount_mismatch", p.ID)
	// Currency mismatch as well.
	e.notifyFake("fake-hk", fakeNote{ID: "x3", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "USD"})
	if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
		t.Fatalf("currency mismatch marked paid")
	}

	// Unmatched: acknowledged, listed, event.
	code, body = e.notifyFake("fake-hk", fakeNote{ID: "x4", Sig: "ok", OutTradeNo: "nope", Status: "succeeded", Amount: 5, Currency: "HKD"})
	if code != 200 || body != "success" {
		t.Fatalf("unmatched: %d %q", code, body)
	}
	r := e.call("GET", "/v1/notifications?status=unmatched", nil, nil)
	var page host.Page[*host.Notification]
	r.decode(t, &page)
	if len(page.Data) != 1 || !strings.Contains(page.Data[0].Body, `"nope"`) {
		t.Fatalf("unmatched list = %s", r.Body)
	}
	e.sink.waitFor(t, "notification.unmatched", page.Data[0].ID)

	// Provider down: stored, answered so that the wallet retries.
	e.providers.setDown("fake-hk", true)
	code, body = e.notifyFake("fake-hk", fakeNote{ID: "x5", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD"})
	if code != 503 || body == "success" {
		t.Fatalf("provider down: %d %q", code, body)
	}
	e.providers.setDown("fake-hk", false)
	r = e.call("GET", "/v1/notifications?status=error", nil, nil)
	r.decode(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("error notifications = %s", r.Body)
	}
	// The wallet's retry of the same notification then succeeds.
	e.payFake(p, "x5")
	if got := e.getPayment(p.ID); got.Status != core.PaymentSucceeded {
		t.Fatalf("retry after outage: %s", got.Status)
	}

	// Unknown account: refused with 404 (not an ack), and not stored.
	code, body = e.notifyFake("nobody", fakeNote{ID: "x6", Sig: "ok"})
	if code != 404 || body == "success" {
		t.Fatalf("unknown account: %d %q", code, body)
	}
	r = e.call("GET", "/v1/notifications?account=nobody", nil, nil)
	r.decode(t, &page)
	if len(page.Data) != 0 {
		t.Fatalf("notification for an unknown account stored: %s", r.Body)
	}
}

func TestStoreDownNotification(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("order-sd", 1000), nil)
	e.store.Close()
	code, body := e.notifyFake("fake-hk", fakeNote{ID: "s1", Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD"})
	if code != 503 || body == "success" {
		t.Fatalf("store down: %d %q, want a retry answer", code, body)
	}
	r := e.call("GET", "/readyz", nil, nil)
	if r.Status != 503 {
		t.Fatalf("readyz with the store down = %d %s", r.Status, r.Body)
	}
}

func TestIdempotency(t *testing.T) {
	e, fp := newFakeEnv(t)
	key := map[string]string{"Idempotency-Key": "k-1"}
	first := e.call("POST", "/v1/payments", paymentBody("idem", 1000), key)
	if first.Status != 201 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	second := e.call("POST", "/v1/payments", paymentBody("idem", 1000), key)
	if second.Status != 201 || !bytes.Equal(first.Body, second.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s\nfirst %s", second.Status, second.Body, first.Body)
	}
	// The stored answer was committed with the payment (the same transaction): it is done and
	// holds exactly the bytes that were sent.
	stored, err := e.store.GetIdempotencyKey(t.Context(), "key_"+keyIDHex(testAPIKey)+" POST /v1/payments", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != store.IdempotencyDone || stored.Response.Status != 201 || !bytes.Equal(stored.Response.Body, first.Body) {
		t.Fatalf("stored key = %+v", stored)
	}
	other := e.call("POST", "/v1/payments", paymentBody("idem", 2000), key)
	if other.Status != 422 || other.errorCode(t) != "idempotency_key_reused" {
		t.Fatalf("other body: %d %s", other.Status, other.Body)
	}
	// Keys are scoped per route: the same key on a refund is a new request.
	var list host.Page[*host.Payment]
	e.call("GET", "/v1/payments?reference=idem", nil, nil).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("replays created %d payments", len(list.Data))
	}
	// An invalid request does not burn the key.
	bad := paymentBody("idem2", 1000)
	bad["channel"] = "fax"
	key2 := map[string]string{"Idempotency-Key": "k-2"}
	if r := e.call("POST", "/v1/payments", bad, key2); r.Status != 400 {
		t.Fatalf("invalid: %d", r.Status)
	}
	if r := e.call("POST", "/v1/payments", paymentBody("idem2", 1000), key2); r.Status != 201 {
		t.Fatalf("valid retry after invalid with the same key: %d %s", r.Status, r.Body)
	}

	// Concurrent: one runs, the other gets 409.
	fp.block, fp.entered = make(chan struct{}), make(chan struct{}, 1)
	body := paymentBody("idem3", 1000)
	body["provider_extras"] = map[string]string{"block": "1"}
	key3 := map[string]string{"Idempotency-Key": "k-3"}
	done := make(chan *response)
	go func() { done <- e.call("POST", "/v1/payments", body, key3) }()
	<-fp.entered
	if r := e.call("POST", "/v1/payments", body, key3); r.Status != 409 || r.errorCode(t) != "idempotency_key_in_use" {
		t.Fatalf("concurrent: %d %s", r.Status, r.Body)
	}
	close(fp.block)
	if r := <-done; r.Status != 201 {
		t.Fatalf("blocked first: %d %s", r.Status, r.Body)
	}

	// Keys expire after server.idempotency_ttl: then the key is free for a new request.
	e.api.SetLimits(0, 50*time.Millisecond)
	key4 := map[string]string{"Idempotency-Key": "k-4"}
	if r := e.call("POST", "/v1/payments", paymentBody("idem4", 1000), key4); r.Status != 201 {
		t.Fatalf("k-4: %d", r.Status)
	}
	time.Sleep(100 * time.Millisecond)
	if r := e.call("POST", "/v1/payments", paymentBody("idem4", 2000), key4); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("expired key with another body: %d %s", r.Status, r.Body)
	}
}

func TestIdempotencyScopedPerAPIKey(t *testing.T) {
	e, _ := newFakeEnv(t)
	e.api.SetKeys(httpapiKeys(testAPIKey, "pmx-second-key-DO-NOT-USE"))
	key := map[string]string{"Idempotency-Key": "shared"}
	a := e.call("POST", "/v1/payments", paymentBody("scope", 1000), key)
	b := e.call("POST", "/v1/payments", paymentBody("scope", 1000), map[string]string{"Idempotency-Key": "shared", "Authorization": "Bearer pmx-second-key-DO-NOT-USE"})
	if a.Status != 201 || b.Status != 201 || bytes.Equal(a.Body, b.Body) {
		t.Fatalf("two API keys with one idempotency key must be two payments: %d %d", a.Status, b.Status)
	}
}

func TestRefunds(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("rf", 10_000), nil)

	// Not paid yet: conflict.
	r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}, nil)
	if r.Status != 409 || r.errorCode(t) != "conflict" {
		t.Fatalf("refund of a pending payment: %d %s", r.Status, r.Body)
	}
	e.payFake(p, "rf1")

	refund := func(v int64, hdr map[string]string) *response {
		return e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": v, "currency": "HKD"}, "reason": "test"}, hdr)
	}
	r = refund(2_000, map[string]string{"Idempotency-Key": "rf-a"})
	var rf host.Refund
	r.decode(t, &rf)
	if r.Status != 201 || rf.Status != core.RefundSucceeded {
		t.Fatalf("partial refund: %d %s", r.Status, r.Body)
	}
	if again := refund(2_000, map[string]string{"Idempotency-Key": "rf-a"}); !bytes.Equal(again.Body, r.Body) {
		t.Fatalf("refund replay differs")
	}
	e.sink.waitFor(t, "refund.succeeded", rf.ID)
	if g := e.call("GET", "/v1/payments/"+p.ID+"/refunds/"+rf.ID, nil, nil); g.Status != 200 {
		t.Fatalf("get refund: %d", g.Status)
	}
	if g := e.call("GET", "/v1/payments/other/refunds/"+rf.ID, nil, nil); g.Status != 404 {
		t.Fatalf("refund under another payment: %d", g.Status)
	}
	if got := e.getPayment(p.ID); got.AmountRefunded.Value != 2_000 {
		t.Fatalf("amount_refunded = %v", got.AmountRefunded)
	}

	// Over-refund: 8000 left.
	if r := refund(8_001, nil); r.Status != 400 || r.errorCode(t) != "invalid" {
		t.Fatalf("over-refund: %d %s", r.Status, r.Body)
	}
	// Declined: failed, reservation released.
	r = refund(13, nil)
	r.decode(t, &rf)
	if r.Status != 201 || rf.Status != core.RefundFailed || rf.FailureCode != "FAKE_DECLINED" {
		t.Fatalf("declined refund: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, "refund.failed", rf.ID)
	// Unknown outcome: stays pending, reserved.
	r = refund(17, nil)
	r.decode(t, &rf)
	if rf.Status != core.RefundPending {
		t.Fatalf("unknown-outcome refund: %s", r.Body)
	}
	// Processing, then a notification finishes it.
	r = refund(19, nil)
	var proc host.Refund
	r.decode(t, &proc)
	if proc.Status != core.RefundProcessing {
		t.Fatalf("processing refund: %s", r.Body)
	}
	code, body := e.notifyFake("fake-hk", fakeNote{ID: "rfn", Sig: "ok", Kind: "refund", OutRefund: proc.OutRefundNo, Status: "succeeded", Amount: 19, Currency: "HKD"})
	if code != 200 || body != "success" {
		t.Fatalf("refund notification: %d %q", code, body)
	}
	e.sink.waitFor(t, "refund.succeeded", proc.ID)

	// 20 concurrent refunds of 500 against 10000-2000-17-19 = 7964 left: at most 15 succeed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := refund(500, map[string]string{"Idempotency-Key": fmt.Sprintf("c-%d", i)})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[201] != 15 || statuses[400] != 5 {
		t.Fatalf("concurrent refunds: %v, want 15x201 and 5x400", statuses)
	}
	totals, err := e.store.SumRefunds(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if totals.Committed() > 10_000 {
		t.Fatalf("refunds committed %d of a 10000 payment", totals.Committed())
	}
	var page host.Page[*host.Refund]
	e.call("GET", "/v1/payments/"+p.ID+"/refunds?limit=100", nil, nil).decode(t, &page)
	if len(page.Data) != 19 {
		t.Fatalf("listed %d refunds, want 19", len(page.Data))
	}
}

func TestErrorsAndAuth(t *testing.T) {
	e, _ := newFakeEnv(t)
	cases := []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		status             int
		code               string
	}{
		{"no key", "GET", "/v1/payments/x", nil, map[string]string{"Authorization": ""}, 401, "unauthorized"},
		{"wrong key", "GET", "/v1/payments/x", nil, map[string]string{"Authorization": "Bearer nope"}, 401, "unauthorized"},
		{"basic auth", "GET", "/v1/payments/x", nil, map[string]string{"Authorization": "Basic " + testAPIKey}, 401, "unauthorized"},
		{"not found", "GET", "/v1/payments/pay_nothing", nil, nil, 404, "not_found"},
		{"unknown field", "POST", "/v1/payments", `{"region":"HK","bogus":1}`, nil, 400, "invalid"},
		{"malformed", "POST", "/v1/payments", `{"region":`, nil, 400, "invalid"},
		{"trailing data", "POST", "/v1/payments", `{} {}`, nil, 400, "invalid"},
		{"unknown region", "POST", "/v1/payments", map[string]any{"region": "ZZ", "method": "fakewallet", "amount": map[string]any{"value": 100, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"method not in region", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "alipay", "amount": map[string]any{"value": 100, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"currency not accepted", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": 100, "currency": "USD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"below provider min", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": 5, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"above region max", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": 500_001, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"channel not offered", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakeh5", "amount": map[string]any{"value": 100, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"negative amount", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": -1, "currency": "HKD"}, "subject": "s", "channel": "app"}, nil, 400, "invalid"},
		{"provider unavailable", "POST", "/v1/payments", map[string]any{"region": "HK", "method": "fakewallet", "amount": map[string]any{"value": 100, "currency": "HKD"}, "subject": "s", "channel": "app", "provider_extras": map[string]string{"fail": "unavailable"}}, nil, 503, "provider_unavailable"},
		{"too large", "POST", "/v1/payments", `{"subject":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "request_too_large"},
		{"bad idempotency key", "POST", "/v1/payments", paymentBody("x", 100), map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, 400, "invalid"},
		{"bad limit", "GET", "/v1/payments?reference=x&limit=0", nil, nil, 400, "invalid"},
		{"bad created_from", "GET", "/v1/payments?created_from=yesterday", nil, nil, 400, "invalid"},
		{"bad payment status filter", "GET", "/v1/payments?status=paid", nil, nil, 400, "invalid"},
		{"bad notification status", "GET", "/v1/notifications?status=nope", nil, nil, 400, "invalid"},
		{"methods without region", "GET", "/v1/methods", nil, nil, 400, "invalid"},
		{"redeliver unknown", "POST", "/v1/events/evt_nothing/redeliver", nil, nil, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(c.method, c.path, c.body, c.hdr)
			if r.Status != c.status || r.errorCode(t) != c.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if strings.Contains(string(r.Body), testAPIKey) {
				t.Fatal("API key echoed")
			}
		})
	}
	// A known path with another method: 405 with Allow (not in the OpenAPI document, which
	// lists only the methods that exist, so it is checked here directly).
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/v1/payments/pay_x", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("DELETE /v1/payments/{id}: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/v1/nothing", nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	if resp, err = e.client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	if r := e.call("GET", "/openapi.yaml", nil, nil); r.Status != 200 || !bytes.Equal(r.Body, host.OpenAPI) {
		t.Fatalf("openapi.yaml: %d", r.Status)
	}
	r := e.call("GET", "/healthz", nil, map[string]string{"Authorization": ""})
	if r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	if r := e.call("GET", "/readyz", nil, nil); r.Status != 200 || strings.Contains(string(r.Body), "warnings") {
		t.Fatalf("readyz %d %s", r.Status, r.Body)
	}
	// While a demo secret is configured, /readyz still answers ready but says so (naming no
	// setting: the endpoint needs no key).
	demo := *e.svc.Settings()
	demo.DemoSecrets = []string{"webhooks.secret"}
	e.svc.SetSettings(&demo)
	if r := e.call("GET", "/readyz", nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"warnings":["demo secrets from config.example.yaml are in use`) ||
		strings.Contains(string(r.Body), "webhooks.secret") {
		t.Fatalf("readyz with a demo secret: %d %s", r.Status, r.Body)
	}
	r = e.call("GET", "/v1/payments/x", nil, map[string]string{"X-Request-Id": "my-req-1"})
	if r.Header.Get("X-Request-Id") != "my-req-1" {
		t.Fatalf("request id not echoed")
	}
}

func TestMethodsCloseClientResult(t *testing.T) {
	e, _ := newFakeEnv(t)
	var ml struct {
		Methods []host.MethodOption
	}
	e.call("GET", "/v1/methods?region=HK", nil, nil).decode(t, &ml)
	if len(ml.Methods) != 2 || ml.Methods[0].Method != "fakewallet" || ml.Methods[1].Method != "fakeh5" || ml.Methods[0].Name != "Fake Wallet" {
		t.Fatalf("methods = %+v", ml.Methods)
	}
	e.call("GET", "/v1/methods?region=HK&currency=USD", nil, nil).decode(t, &ml)
	if len(ml.Methods) != 1 || ml.Methods[0].Method != "fakeh5" {
		t.Fatalf("USD methods = %+v", ml.Methods)
	}
	e.call("GET", "/v1/methods?region=HK&currency=HKD&amount=600000", nil, nil).decode(t, &ml)
	if len(ml.Methods) != 1 || ml.Methods[0].Method != "fakeh5" {
		t.Fatalf("methods over the region limit = %+v", ml.Methods)
	}

	p := e.createPayment(paymentBody("cl", 1000), nil)
	r := e.call("POST", "/v1/payments/"+p.ID+"/client-result", map[string]any{"result": map[string]string{"resultStatus": "9000", "sig": "ok"}}, nil)
	var got host.Payment
	r.decode(t, &got)
	if r.Status != 200 || got.Status != core.PaymentPending || got.ClientResult == nil || !got.ClientResult.Verified || got.ClientResult.Status != core.PaymentSucceeded || len(got.Flags) != 0 {
		t.Fatalf("client result: %d %s", r.Status, r.Body)
	}
	r = e.call("POST", "/v1/payments/"+p.ID+"/close", nil, map[string]string{"Idempotency-Key": "close-1"})
	r.decode(t, &got)
	if r.Status != 200 || got.Status != core.PaymentClosed {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, "payment.closed", p.ID)

	body := paymentBody("nc", 1000)
	body["region"] = "NC"
	p2 := e.createPayment(body, nil)
	if r := e.call("POST", "/v1/payments/"+p2.ID+"/close", nil, nil); r.Status != 422 || r.errorCode(t) != "unsupported" {
		t.Fatalf("close without CapClose: %d %s", r.Status, r.Body)
	}
}

func TestRefreshQueriesProvider(t *testing.T) {
	e, fp := newFakeEnv(t)
	p := e.createPayment(paymentBody("rq", 1000), nil)
	fp.setQuery(p.OutTradeNo, core.PaymentState{Status: core.PaymentSucceeded, ProviderRef: "Q1", Amount: p.Amount})
	if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
		t.Fatalf("without refresh: %s", got.Status)
	}
	r := e.call("GET", "/v1/payments/"+p.ID+"?refresh=true", nil, nil)
	var got host.Payment
	r.decode(t, &got)
	if got.Status != core.PaymentSucceeded || got.ProviderRef != "Q1" {
		t.Fatalf("refresh: %s", r.Body)
	}
	e.sink.waitFor(t, "payment.succeeded", p.ID)
}

func TestWebhookRetryAndRedeliver(t *testing.T) {
	e, _ := newFakeEnv(t)
	e.sink.mu.Lock()
	e.sink.fail = 2
	e.sink.mu.Unlock()
	p := e.createPayment(paymentBody("wh", 1000), nil)
	ev := e.sink.waitFor(t, "payment.created", p.ID)
	var page host.Page[*host.Event]
	deadline := time.Now().Add(waitLimit)
	for {
		e.call("GET", "/v1/events?payment_id="+p.ID, nil, nil).decode(t, &page)
		if len(page.Data) == 1 && page.Data[0].Status == "delivered" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(page.Data) != 1 || page.Data[0].Attempts != 3 || page.Data[0].Status != "delivered" {
		t.Fatalf("events after two failures = %+v", page.Data)
	}
	r := e.call("POST", "/v1/events/"+ev.ID+"/redeliver", nil, nil)
	if r.Status != 202 {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	deadline = time.Now().Add(waitLimit)
	for e.sink.count("payment.created", p.ID) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	e.sink.mu.Lock()
	var bodies []string
	for _, x := range e.sink.events {
		if x.ID == ev.ID {
			b, _ := json.Marshal(x)
			bodies = append(bodies, string(b))
		}
	}
	e.sink.mu.Unlock()
	if len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Fatalf("redelivered event differs or missing: %v", bodies)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	e, _ := newFakeEnv(t)
	e.sink.mu.Lock()
	e.sink.fail = 1 << 30
	e.sink.mu.Unlock()
	p := e.createPayment(paymentBody("gu", 1000), nil)
	var page host.Page[*host.Event]
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.call("GET", "/v1/events?status=failed", nil, nil).decode(t, &page)
		if len(page.Data) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(page.Data) != 1 || page.Data[0].Attempts < 5 || !strings.Contains(page.Data[0].LastError, "500") {
		t.Fatalf("after the retry window: %+v (payment %s)", page.Data, p.ID)
	}
}

// keyIDHex is the first 6 bytes of the key's SHA-256 in hex, as httpapi.StaticKeys names keys.
func keyIDHex(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// TestOpenAPIDocumentCatchesDrift proves the response check is not vacuous: a payment without
// required fields, an undeclared status and an unknown route all fail validation.
func TestOpenAPIDocumentCatchesDrift(t *testing.T) {
	v := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("openapi.yaml is not a valid OpenAPI 3.1 document: %s: %s", e.Message, e.Reason)
		}
	}
	check := func(method, path string, status int, body string) bool {
		req, _ := http.NewRequest(method, "http://127.0.0.1:8080"+path, nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}
		ok, _ := v.ValidateHttpResponse(req, resp)
		return ok
	}
	good := `{"id":"pay_1","status":"pending","region":"HK","method":"m","channel":"app","amount":{"value":1,"currency":"HKD"},"amount_refunded":{"value":0,"currency":"HKD"},"out_trade_no":"x","flags":[],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	if !check("GET", "/v1/payments/pay_1", 200, good) {
		t.Fatal("a valid payment fails validation")
	}
	for name, c := range map[string]struct {
		method, path string
		status       int
		body         string
	}{
		"missing field":   {"GET", "/v1/payments/pay_1", 200, `{"id":"pay_1"}`},
		"bad status enum": {"GET", "/v1/payments/pay_1", 200, strings.Replace(good, `"pending"`, `"paid"`, 1)},
		"extra field":     {"GET", "/v1/payments/pay_1", 200, strings.Replace(good, `"id"`, `"secret":"x","id"`, 1)},
		"undeclared code": {"GET", "/v1/payments/pay_1", 418, `{"error":{"code":"invalid","message":"m"}}`},
		"unknown error":   {"GET", "/v1/payments/pay_1", 404, `{"error":{"code":"teapot","message":"m"}}`},
		"unknown route":   {"GET", "/v1/teapots", 200, `{}`},
	} {
		if check(c.method, c.path, c.status, c.body) {
			t.Errorf("%s: validation passed, want a failure", name)
		}
	}
	// The published document itself lets responses grow (docs/api.md, "Compatibility"): a
	// client validating against it accepts a field added later. The tests' strict copy refuses
	// the same body (above).
	doc, err := libopenapi.NewDocument(host.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	published, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/v1/payments/pay_1", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(strings.Replace(good, `"id"`, `"added_later":{"x":1},"id"`, 1))), Request: req}
	if ok, errs := published.ValidateHttpResponse(req, resp); !ok {
		t.Errorf("the published document refuses a payment with a new field: %v", errs)
	}
}

// TestAPIJSONNotHTMLEscaped: next_action.value and the events' data keep "&" as it is (Go's
// json.Marshal writes \u0026), in the create answer, GET /v1/payments/{id}, GET /v1/events and
// the webhook body, so a client can use the value byte for byte.
func TestAPIJSONNotHTMLEscaped(t *testing.T) {
	e, _ := newFakeEnv(t)
	r := e.call("POST", "/v1/payments", paymentBody("order-amp", 1_000), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var p host.Payment
	r.decode(t, &p)
	if !strings.Contains(p.NextAction.Value, "&total=") {
		t.Fatalf("the fake's order string has no '&' to test with: %s", p.NextAction.Value)
	}
	ev := e.sink.waitFor(t, "payment.created", p.ID)
	for name, body := range map[string][]byte{
		"create":               r.Body,
		"get":                  e.call("GET", "/v1/payments/"+p.ID, nil, nil).Body,
		"events":               e.call("GET", "/v1/events?payment_id="+p.ID, nil, nil).Body,
		"webhook":              ev.Data,
		"json.Marshal control": func() []byte { b, _ := json.Marshal(p); return b }(),
	} {
		escaped := bytes.Contains(body, []byte(`\u0026`))
		if name == "json.Marshal control" {
			if !escaped {
				t.Errorf("control: json.Marshal no longer escapes '&'; this test proves nothing")
			}
			continue
		}
		if escaped || !bytes.Contains(body, []byte("&total=")) {
			t.Errorf("%s: '&' escaped or missing:\n%s", name, body)
		}
	}
}
