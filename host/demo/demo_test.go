package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/host/webhook"
)

const (
	testKey    = "test-api-key-DO-NOT-USE-0123456789"
	testSecret = "test-webhook-secret-DO-NOT-USE"
)

// fakePaymux records requests and answers like paymux's REST API for the routes the demo uses.
type fakePaymux struct {
	mu       sync.Mutex
	requests []recorded
	payment  map[string]any // the payment GET returns
}

type recorded struct {
	Method, Path, Query, Auth, IdemKey string
	Body                               map[string]any
}

func (f *fakePaymux) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *fakePaymux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), IdemKey: r.Header.Get("Idempotency-Key")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		json.Unmarshal(b, &rec.Body)
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	payment := f.payment
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rec.Auth != "Bearer "+testKey {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"bad key"}}`)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payments":
		action := map[string]string{"type": "redirect_url", "value": "http://sim.test/gateway.do?x=1"}
		if rec.Body["channel"] == "app" {
			action = map[string]string{"type": "sdk_order_string", "value": `partner="2088"&sign="s"`}
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": "pay_1", "status": "pending", "next_action": action})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/payments":
		json.NewEncoder(w).Encode(map[string]any{"data": []any{payment}})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/payments/pay_1":
		json.NewEncoder(w).Encode(payment)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payments/pay_1/refunds":
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": "rf_1", "status": "pending", "amount": rec.Body["amount"]})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payments/pay_1/client-result":
		json.NewEncoder(w).Encode(payment)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/methods":
		io.WriteString(w, `{"region":"HK","methods":[{"method":"alipayhk","name":"AlipayHK","channels":["app"]},{"method":"alipay","name":"Alipay","channels":["app"]}]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

func newTestShop(t *testing.T, walletURL string) (*Server, *fakePaymux, *httptest.Server) {
	t.Helper()
	fake := &fakePaymux{payment: map[string]any{
		"id": "pay_1", "status": "succeeded", "amount": map[string]any{"value": 1230, "currency": "HKD"},
		"amount_refunded": map[string]any{"value": 230, "currency": "HKD"},
		"next_action":     map[string]string{"type": "sdk_order_string", "value": `partner="2088"&sign="s"`},
	}}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	s, err := New(Options{APIURL: api.URL, APIKey: testKey, WebhookSecret: testSecret, PublicURL: "http://shop.test/",
		Regions: []Region{{Code: "HK", Currencies: []string{"HKD"}}}, WalletSimURL: walletURL, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	shop := httptest.NewServer(s.Handler())
	t.Cleanup(shop.Close)
	return s, fake, shop
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNewChecksOptions(t *testing.T) {
	ok := Options{APIURL: "http://127.0.0.1:8080", APIKey: testKey, WebhookSecret: testSecret, PublicURL: "http://127.0.0.1:8081",
		Regions: []Region{{Code: "SG", Currencies: []string{"SGD"}}}}
	for _, c := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"ok", func(*Options) {}, ""},
		{"relative API URL", func(o *Options) { o.APIURL = "/v1" }, "not an absolute http(s) URL"},
		{"no key", func(o *Options) { o.APIKey = "" }, "no API key"},
		{"no secret", func(o *Options) { o.WebhookSecret = "" }, "no webhook secret"},
		{"bad public URL", func(o *Options) { o.PublicURL = "shop" }, "public URL"},
		{"no regions", func(o *Options) { o.Regions = nil }, "no regions"},
	} {
		o := ok
		c.edit(&o)
		_, err := New(o)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCheckout(t *testing.T) {
	_, fake, shop := newTestShop(t, "http://sim.test")
	for _, c := range []struct {
		name, body string
		status     int
		want       string // in the answer
		channel    string // sent to paymux
	}{
		{"h5 to the cashier", `{"region":"HK","method":"alipay","currency":"HKD","amount":"12.30","channel":"h5"}`, 201, `"next_url":"http://sim.test/gateway.do?x=1"`, "h5"},
		{"default channel is h5", `{"region":"HK","method":"alipay","currency":"HKD","amount":"12.3"}`, 201, `"channel":"h5"`, "h5"},
		{"app to the wallet stand-in", `{"region":"HK","method":"alipayhk","currency":"HKD","amount":"12.30","channel":"app"}`, 201, `"next_url":"/app?reference=demo-order-`, "app"},
		{"bad amount", `{"region":"HK","method":"alipay","currency":"HKD","amount":"12.345"}`, 400, "more than 2 decimals", ""},
		{"bad channel", `{"region":"HK","method":"alipay","currency":"HKD","amount":"1","channel":"pos"}`, 400, "channel must be h5, web or app", ""},
		{"not JSON", `region=HK`, 400, "not a checkout request", ""},
	} {
		n := len(fake.requests)
		status, body := do(t, http.MethodPost, shop.URL+"/api/payments", c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: HTTP %d %s, want %d with %q", c.name, status, body, c.status, c.want)
		}
		if strings.Contains(body, testKey) {
			t.Errorf("%s: the answer carries the API key", c.name)
		}
		if c.channel == "" {
			if len(fake.requests) != n {
				t.Errorf("%s: paymux was called for a refused checkout", c.name)
			}
			continue
		}
		r := fake.last()
		if r.Body["channel"] != c.channel || r.IdemKey == "" || r.IdemKey != r.Body["reference"] {
			t.Errorf("%s: paymux got %+v", c.name, r)
		}
		amount, _ := r.Body["amount"].(map[string]any)
		if amount["value"] != float64(1230) || amount["currency"] != "HKD" {
			t.Errorf("%s: amount sent %v", c.name, amount)
		}
		ret, _ := r.Body["return_url"].(string)
		if c.channel == "h5" && (!strings.HasPrefix(ret, "http://shop.test/result/demo-order-") || strings.Contains(ret, "?")) {
			t.Errorf("%s: return_url %q (Alipay refuses a query string)", c.name, ret)
		}
		if c.channel == "app" && ret != "" {
			t.Errorf("%s: return_url %q sent for an app payment", c.name, ret)
		}
	}
}

func TestProxiesKeepTheKey(t *testing.T) {
	_, fake, shop := newTestShop(t, "")
	status, body := do(t, http.MethodGet, shop.URL+"/api/methods?region=HK&currency=HKD&junk=1", "")
	if status != 200 || !strings.Contains(body, `"method":"alipayhk"`) {
		t.Fatalf("methods: %d %s", status, body)
	}
	if q := fake.last().Query; q != "currency=HKD&region=HK" {
		t.Errorf("methods query forwarded as %q", q)
	}
	status, body = do(t, http.MethodGet, shop.URL+"/api/payments/demo-order-abc", "")
	if status != 200 || !strings.Contains(body, `"id":"pay_1"`) || fake.last().Query != "reference=demo-order-abc" {
		t.Errorf("payment by reference: %d %s (query %q)", status, body, fake.last().Query)
	}
	// Refund with no amount: what is left (12.30 - 2.30).
	status, body = do(t, http.MethodPost, shop.URL+"/api/payments/pay_1/refunds", `{"amount":""}`)
	if status != 201 {
		t.Fatalf("refund: %d %s", status, body)
	}
	r := fake.last()
	if a := r.Body["amount"].(map[string]any); a["value"] != float64(1000) || r.IdemKey == "" {
		t.Errorf("full refund sent %v (idempotency key %q)", a, r.IdemKey)
	}
	do(t, http.MethodPost, shop.URL+"/api/payments/pay_1/refunds", `{"amount":"1.5"}`)
	if a := fake.last().Body["amount"].(map[string]any); a["value"] != float64(150) {
		t.Errorf("partial refund sent %v", a)
	}
	// paymux's errors are relayed as they are.
	status, body = do(t, http.MethodGet, shop.URL+"/api/payments/pay_2", "")
	if status != 404 || !strings.Contains(body, "no such route") {
		t.Errorf("unknown payment: %d %s", status, body)
	}
	// Without a wallet simulator there is no app flow.
	status, _ = do(t, http.MethodPost, shop.URL+"/api/payments", `{"region":"HK","method":"alipayhk","currency":"HKD","amount":"1","channel":"app"}`)
	if status != 400 {
		t.Errorf("app checkout without a wallet: HTTP %d", status)
	}
	// Pages.
	for _, p := range []string{"/", "/result/demo-order-abc", "/app?payment=pay_1", "/static/app.js"} {
		if status, body := do(t, http.MethodGet, shop.URL+p, ""); status != 200 || strings.Contains(body, testKey) {
			t.Errorf("GET %s: HTTP %d", p, status)
		}
	}
}

func TestReturnReportedAsClientResult(t *testing.T) {
	_, fake, shop := newTestShop(t, "")
	do(t, http.MethodGet, shop.URL+"/result/demo-order-abc?out_trade_no=pmx1&trade_status=TRADE_FINISHED&sign=abc&sign_type=RSA2", "")
	r := fake.last()
	if r.Path != "/v1/payments/pay_1/client-result" {
		t.Fatalf("last call %s %s", r.Method, r.Path)
	}
	res := r.Body["result"].(map[string]any)
	if res["sign"] != "abc" || res["out_trade_no"] != "pmx1" || len(res) != 4 {
		t.Errorf("client result %v", res)
	}
	n := len(fake.requests)
	do(t, http.MethodGet, shop.URL+"/result/demo-order-abc", "")
	if len(fake.requests) != n {
		t.Error("a result page without return parameters reported a client result")
	}
}

func TestAppPay(t *testing.T) {
	var got map[string]string
	wallet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sim/pay" {
			http.NotFound(w, r)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"resultStatus":"9000","result":"partner=\"2088\"&success=\"true\"","memo":""}`)
	}))
	defer wallet.Close()
	_, fake, shop := newTestShop(t, wallet.URL)
	status, body := do(t, http.MethodPost, shop.URL+"/api/payments/pay_1/app-pay", `{}`)
	if status != 200 || !strings.Contains(body, `"result_status":"9000"`) {
		t.Fatalf("app-pay: %d %s", status, body)
	}
	if got["order_string"] != `partner="2088"&sign="s"` {
		t.Errorf("wallet got %v", got)
	}
	r := fake.last()
	if r.Path != "/v1/payments/pay_1/client-result" || r.Body["result"].(map[string]any)["resultStatus"] != "9000" {
		t.Errorf("client result call %+v", r)
	}
}

func postWebhook(t *testing.T, url, secret string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set(webhook.Header, webhook.Sign([]byte(secret), time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookReceiver(t *testing.T) {
	s, _, shop := newTestShop(t, "")
	hook := shop.URL + "/webhooks/paymux"
	paid := []byte(`{"id":"evt_1","type":"payment.succeeded","created_at":"2026-11-22T00:00:00Z","data":{"id":"pay_1","status":"succeeded"}}`)
	refund := []byte(`{"id":"evt_2","type":"refund.succeeded","created_at":"2026-11-22T00:00:01Z","data":{"id":"rf_1","payment_id":"pay_1","status":"succeeded"}}`)
	forged := []byte(`{"id":"evt_3","type":"payment.succeeded","created_at":"2026-11-22T00:00:02Z","data":{"id":"pay_9","status":"succeeded"}}`)
	for _, c := range []struct {
		body   []byte
		secret string
		status int
	}{
		{paid, testSecret, 204},
		{paid, testSecret, 204}, // redelivery
		{refund, testSecret, 204},
		{forged, "another-secret-DO-NOT-USE", 400},
		{[]byte(`not json`), testSecret, 400},
	} {
		if got := postWebhook(t, hook, c.secret, c.body); got != c.status {
			t.Errorf("%s: HTTP %d, want %d", c.body, got, c.status)
		}
	}
	ev := s.Events("")
	if len(ev) != 3 {
		t.Fatalf("events %+v", ev)
	}
	if e := ev[0]; e.ID != "evt_1" || !e.Verified || e.Deliveries != 2 || e.PaymentID != "pay_1" || e.Status != "succeeded" {
		t.Errorf("payment event %+v", e)
	}
	if e := ev[1]; e.PaymentID != "pay_1" || e.RefundID != "rf_1" || !e.Verified {
		t.Errorf("refund event %+v", e)
	}
	if e := ev[2]; e.Verified || !strings.Contains(e.VerifyError, "no signature matches") {
		t.Errorf("forged event %+v", e)
	}
	if got := s.Events("pay_1"); len(got) != 2 {
		t.Errorf("events of pay_1: %d", len(got))
	}
	status, body := do(t, http.MethodGet, shop.URL+"/api/events?payment=pay_9", "")
	if status != 200 || !strings.Contains(body, `"verified":false`) || strings.Contains(body, testSecret) {
		t.Errorf("events API: %d %s", status, body)
	}
	// Bounded: MaxEvents is 3, the oldest goes.
	postWebhook(t, hook, testSecret, []byte(`{"id":"evt_4","type":"payment.closed","data":{"id":"pay_4"}}`))
	if ev := s.Events(""); len(ev) != 3 || ev[0].ID != "evt_2" || ev[2].ID != "evt_4" {
		t.Errorf("after the bound: %+v", ev)
	}
}

// FuzzWebhook: whatever arrives, the receiver does not panic and never records an event as
// verified unless its signature verifies.
func FuzzWebhook(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"payment.succeeded","data":{"id":"pay_1","status":"succeeded"}}`), "t=1,v1=00", true)
	f.Add([]byte(`{"id":"evt_2","type":"refund.succeeded","data":{"id":"rf_1","payment_id":"pay_1"}}`), "", false)
	f.Add([]byte(`{"id":"","data":null}`), "t=,v1=", false)
	f.Add([]byte(`[]`), "garbage", false)
	s, err := New(Options{APIURL: "http://127.0.0.1:1", APIKey: testKey, WebhookSecret: testSecret, PublicURL: "http://shop.test",
		Regions: []Region{{Code: "HK"}}, MaxEvents: 10})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte, header string, sign bool) {
		if sign {
			header = webhook.Sign([]byte(testSecret), time.Now(), body)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/paymux", strings.NewReader(string(body)))
		req.Header.Set(webhook.Header, header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		verified := webhook.Verify(testSecret, header, body, 0) == nil
		if w.Code == http.StatusNoContent && !verified {
			t.Fatalf("accepted an unverified body: %q %q", body, header)
		}
		for _, e := range s.Events("") {
			if e.Verified && e.VerifyError != "" {
				t.Fatalf("event both verified and not: %+v", e)
			}
		}
	})
}
