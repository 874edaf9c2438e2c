package host_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/httpapi"
)

const (
	shopKey     = "pmx-test-shop-hk-key-DO-NOT-USE"   // accounts: [fake-hk]
	regionKey   = "pmx-test-region-hk-key-DO-NOT-USE" // regions: [HK]
	readOnlyKey = "pmx-test-readonly-key-DO-NOT-USE"  // accounts: [fake-hk], read_only
)

// newScopedEnv is a host with two accounts in two regions (fake-hk serves HK, fake-sg serves SG)
// and four keys: the admin test key and the three above.
func newScopedEnv(t *testing.T) *env {
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": newFakeProvider(), "fake-sg": newFakeProvider()},
		regions: map[string][]host.RegionMethod{
			"HK": {{Method: "fakewallet", Account: "fake-hk"}},
			"SG": {{Method: "fakewallet", Account: "fake-sg"}},
		},
	})
	e.api.SetKeys(httpapi.ConfigKeys([]config.APIKey{
		config.PlainAPIKey(testAPIKey),
		{Name: "shop-hk", Key: config.NewSecret(shopKey), Accounts: []string{"fake-hk"}},
		{Name: "region-hk", Key: config.NewSecret(config.HashAPIKey(regionKey)), Regions: []string{"HK"}},
		{Name: "shop-hk-ro", Key: config.NewSecret(readOnlyKey), Accounts: []string{"fake-hk"}, ReadOnly: true},
	}))
	return e
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// world is what the administrator set up: one paid and refunded payment per account, with their
// notifications and events.
type world struct {
	own, other             *host.Payment
	ownRefund, otherRefund *host.Refund
	otherEvent             host.Event
}

func setUpWorld(t *testing.T, e *env) *world {
	w := &world{}
	for _, region := range []string{"HK", "SG"} {
		body := paymentBody("order-"+region, 1_000)
		body["region"] = region
		p := e.createPayment(body, nil)
		account := "fake-" + strings.ToLower(region)
		code, ack := e.notifyFake(account, fakeNote{ID: "n-" + region, Sig: "ok", OutTradeNo: p.OutTradeNo, Status: "succeeded",
			Amount: p.Amount.Value, Currency: p.Amount.Currency, TradeNo: "T" + region})
		if code != 200 || ack != "success" {
			t.Fatalf("notify %s: %d %q", account, code, ack)
		}
		r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("refund: %d %s", r.Status, r.Body)
		}
		var rf host.Refund
		r.decode(t, &rf)
		if region == "HK" {
			w.own, w.ownRefund = e.getPayment(p.ID), &rf
		} else {
			w.other, w.otherRefund = e.getPayment(p.ID), &rf
		}
	}
	e.sink.waitFor(t, "refund.succeeded", w.otherRefund.ID)
	var page host.Page[host.Event]
	e.call("GET", "/v1/events?payment_id="+w.other.ID, nil, nil).decode(t, &page)
	if len(page.Data) == 0 {
		t.Fatal("no events for the other account's payment")
	}
	w.otherEvent = page.Data[0]
	return w
}

// openAPIRoutes lists "METHOD /path" for every operation of the OpenAPI document.
func openAPIRoutes(t *testing.T) []string {
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(host.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	if len(out) < 15 {
		t.Fatalf("only %d operations in the OpenAPI document", len(out))
	}
	return out
}

// TestScopedKeyWalksEveryRoute walks every operation of the OpenAPI document with a key scoped
// to one account (and again with one scoped to one region) and checks that it can neither read
// nor change anything of the other account: every foreign object is 404 (never 403, never a
// hint that it exists), every list leaves the other account out, and the other account's
// objects are unchanged afterwards. Each foreign request has its control: the same request on
// the key's own objects succeeds, so the 404s come from the scope and not from a broken request.
// A route added to the document without a case here fails the test.
func TestScopedKeyWalksEveryRoute(t *testing.T) {
	e := newScopedEnv(t)
	w := setUpWorld(t, e)
	for _, key := range []string{shopKey, regionKey} {
		t.Run(map[string]string{shopKey: "accounts", regionKey: "regions"}[key], func(t *testing.T) {
			walkRoutes(t, e, w, key)
		})
	}
	// The other account's objects are as the administrator left them.
	after := e.getPayment(w.other.ID)
	if after.Status != w.other.Status || after.AmountRefunded != w.other.AmountRefunded || after.ClientResult != nil {
		t.Errorf("the other account's payment changed: before %+v after %+v", w.other, after)
	}
	var refunds host.Page[host.Refund]
	e.call("GET", "/v1/payments/"+w.other.ID+"/refunds", nil, nil).decode(t, &refunds)
	if len(refunds.Data) != 1 {
		t.Errorf("the other account's payment has %d refunds, want 1", len(refunds.Data))
	}
	var evs host.Page[host.Event]
	e.call("GET", "/v1/events?payment_id="+w.other.ID, nil, nil).decode(t, &evs)
	for _, ev := range evs.Data {
		if ev.ID == w.otherEvent.ID && ev.Attempts != w.otherEvent.Attempts && ev.Status == "pending" {
			t.Errorf("the other account's event was redelivered: %+v", ev)
		}
	}
}

func walkRoutes(t *testing.T, e *env, w *world, key string) {
	auth := bearer(key)
	regionOnly := key == regionKey
	notFound := func(r *response, what string) {
		t.Helper()
		if r.Status != http.StatusNotFound || r.errorCode(t) != "not_found" {
			t.Errorf("%s: %d %s, want 404 not_found", what, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), w.other.OutTradeNo) || strings.Contains(string(r.Body), "fake-sg") {
			t.Errorf("%s: the answer reveals the other account: %s", what, r.Body)
		}
	}
	status := func(r *response, want int, what string) {
		t.Helper()
		if r.Status != want {
			t.Errorf("%s: %d %s, want %d", what, r.Status, r.Body, want)
		}
	}
	noOther := func(r *response, what string) {
		t.Helper()
		status(r, http.StatusOK, what)
		for _, s := range []string{w.other.ID, w.otherRefund.ID, "fake-sg", w.otherEvent.ID} {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("%s lists the other account's %s", what, s)
			}
		}
	}
	otherPay, ownPay := "/v1/payments/"+w.other.ID, "/v1/payments/"+w.own.ID
	refund := map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}
	clientResult := map[string]any{"result": map[string]string{"sig": "ok", "resultStatus": "9000"}}
	sgBody := paymentBody("foreign", 1_000)
	sgBody["region"] = "SG"
	cases := map[string]func(){
		"POST /v1/payments": func() {
			r := e.call("POST", "/v1/payments", sgBody, auth)
			status(r, http.StatusBadRequest, "create in the other region")
			if strings.Contains(string(r.Body), "fake-sg") {
				t.Errorf("create in the other region names its account: %s", r.Body)
			}
			status(e.call("POST", "/v1/payments", paymentBody("own", 1_000), auth), http.StatusCreated, "control: create in own region")
		},
		"GET /v1/payments": func() {
			noOther(e.call("GET", "/v1/payments", nil, auth), "list payments")
			noOther(e.call("GET", "/v1/payments?account=fake-sg", nil, auth), "list payments of the other account")
			noOther(e.call("GET", "/v1/payments?region=SG", nil, auth), "list payments of the other region")
			if r := e.call("GET", "/v1/payments?reference=order-HK", nil, auth); !strings.Contains(string(r.Body), w.own.ID) {
				t.Errorf("control: own payment not listed: %s", r.Body)
			}
		},
		"GET /v1/payments/{id}": func() {
			notFound(e.call("GET", otherPay, nil, auth), "get")
			notFound(e.call("GET", otherPay+"?refresh=true", nil, auth), "get with refresh")
			status(e.call("GET", ownPay, nil, auth), http.StatusOK, "control: get own")
		},
		"POST /v1/payments/{id}/client-result": func() {
			notFound(e.call("POST", otherPay+"/client-result", clientResult, auth), "client-result")
			status(e.call("POST", ownPay+"/client-result", clientResult, auth), http.StatusOK, "control: own client-result")
		},
		"POST /v1/payments/{id}/close": func() {
			notFound(e.call("POST", otherPay+"/close", nil, auth), "close")
			// Control: the own payment is paid, so closing it is a conflict (it exists), not 404.
			status(e.call("POST", ownPay+"/close", nil, auth), http.StatusConflict, "control: close own paid payment")
		},
		"POST /v1/payments/{id}/refunds": func() {
			notFound(e.call("POST", otherPay+"/refunds", refund, auth), "refund")
			status(e.call("POST", ownPay+"/refunds", refund, auth), http.StatusCreated, "control: refund own")
		},
		"GET /v1/payments/{id}/refunds": func() {
			notFound(e.call("GET", otherPay+"/refunds", nil, auth), "list refunds")
			status(e.call("GET", ownPay+"/refunds", nil, auth), http.StatusOK, "control: list own refunds")
		},
		"GET /v1/payments/{id}/refunds/{rid}": func() {
			notFound(e.call("GET", otherPay+"/refunds/"+w.otherRefund.ID, nil, auth), "get refund")
			notFound(e.call("GET", ownPay+"/refunds/"+w.otherRefund.ID, nil, auth), "get the other's refund through an own payment")
			status(e.call("GET", ownPay+"/refunds/"+w.ownRefund.ID, nil, auth), http.StatusOK, "control: get own refund")
		},
		"POST /v1/payments/{id}/refunds/{rid}/settle": func() {
			settle := map[string]any{"status": "failed", "reason": "operator check"}
			notFound(e.call("POST", otherPay+"/refunds/"+w.otherRefund.ID+"/settle", settle, auth), "settle refund")
			notFound(e.call("POST", ownPay+"/refunds/"+w.otherRefund.ID+"/settle", settle, auth), "settle the other's refund through an own payment")
			// Control: the own refund exists; it needs no operator, so settling it is a conflict.
			status(e.call("POST", ownPay+"/refunds/"+w.ownRefund.ID+"/settle", settle, auth), http.StatusConflict, "control: settle own refund")
		},
		"GET /v1/refunds": func() {
			// Administrator only (the attention queue is not filtered by scope): to a scoped key
			// the route does not exist. The administrator's control is TestRefundAttentionQueueAndSettle.
			r := e.call("GET", "/v1/refunds?needs_attention=true", nil, auth)
			if r.Status != http.StatusNotFound || r.errorMessage(t) != "no such route" {
				t.Errorf("refunds across payments with a scoped key: %d %s", r.Status, r.Body)
			}
		},
		"GET /v1/methods": func() {
			status(e.call("GET", "/v1/methods?region=SG", nil, auth), http.StatusBadRequest, "methods of the other region")
			if r := e.call("GET", "/v1/methods?region=HK", nil, auth); !strings.Contains(string(r.Body), "fakewallet") {
				t.Errorf("control: own region's methods: %d %s", r.Status, r.Body)
			}
		},
		"GET /v1/notifications": func() {
			noOther(e.call("GET", "/v1/notifications", nil, auth), "notifications")
			noOther(e.call("GET", "/v1/notifications?account=fake-sg", nil, auth), "notifications of the other account")
			r := e.call("GET", "/v1/notifications?account=fake-hk", nil, auth)
			// A key limited by regions sees no inbox (it belongs to accounts); an account key sees its own.
			if own := strings.Contains(string(r.Body), `"fake-hk"`); own == regionOnly {
				t.Errorf("control: own notifications listed=%v for a key limited by regions=%v: %s", own, regionOnly, r.Body)
			}
		},
		"GET /v1/events": func() {
			noOther(e.call("GET", "/v1/events", nil, auth), "events")
			noOther(e.call("GET", "/v1/events?payment_id="+w.other.ID, nil, auth), "events of the other payment")
			if r := e.call("GET", "/v1/events?payment_id="+w.own.ID, nil, auth); !strings.Contains(string(r.Body), w.own.ID) {
				t.Errorf("control: own events: %s", r.Body)
			}
		},
		"POST /v1/events/{id}/redeliver": func() {
			notFound(e.call("POST", "/v1/events/"+w.otherEvent.ID+"/redeliver", nil, auth), "redeliver")
			var page host.Page[host.Event]
			e.call("GET", "/v1/events?payment_id="+w.own.ID, nil, auth).decode(t, &page)
			if len(page.Data) == 0 {
				t.Fatal("control: no own events")
			}
			status(e.call("POST", "/v1/events/"+page.Data[0].ID+"/redeliver", nil, auth), http.StatusAccepted, "control: redeliver own")
		},
		"POST /v1/reconciliations": func() {
			// The answer echoes the account the caller named, exactly as for one that does not exist.
			body := map[string]any{"account": "fake-sg", "from": "2026-01-01", "to": "2026-01-02"}
			r := e.call("POST", "/v1/reconciliations", body, auth)
			body["account"] = "fake-zz"
			none := e.call("POST", "/v1/reconciliations", body, auth)
			if r.Status != http.StatusNotFound || r.errorMessage(t) != strings.ReplaceAll(none.errorMessage(t), "fake-zz", "fake-sg") {
				t.Errorf("reconcile the other account: %d %s; an unknown account: %s", r.Status, r.Body, none.Body)
			}
			body["account"] = "fake-hk"
			// The fake provider offers no settlement records: 422 says the request reached it.
			want := http.StatusUnprocessableEntity
			if regionOnly {
				want = http.StatusNotFound // reconciliations belong to accounts, not regions
			}
			status(e.call("POST", "/v1/reconciliations", body, auth), want, "control: reconcile own account")
		},
		"GET /v1/plugins/{name}/shadow": func() {
			// Administrator only: to a scoped key the route does not exist (the administrator's
			// control is TestPluginShadowRoute and httpapi's TestAdminOnly; this env runs no shadow).
			r := e.call("GET", "/v1/plugins/fake/shadow", nil, auth)
			if r.Status != http.StatusNotFound || r.errorMessage(t) != "no such route" {
				t.Errorf("shadow report with a scoped key: %d %s", r.Status, r.Body)
			}
		},
		// Routes without an API key: they serve no merchant data.
		"POST /notify/{account}": func() {},
		"GET /openapi.yaml":      func() {},
		"GET /metrics":           func() {},
		"GET /healthz":           func() {},
		"GET /readyz":            func() {},
	}
	for _, route := range openAPIRoutes(t) {
		c, ok := cases[route]
		if !ok {
			t.Errorf("%s: a route of the OpenAPI document this walk does not cover; add its case", route)
			continue
		}
		c()
	}
}

// TestReadOnlyKey: a read-only key reads its own objects and is refused every change (403
// forbidden, nothing happens); the same change with a writable key of the same scope works.
func TestReadOnlyKey(t *testing.T) {
	e := newScopedEnv(t)
	w := setUpWorld(t, e)
	ro := bearer(readOnlyKey)
	if r := e.call("GET", "/v1/payments/"+w.own.ID, nil, ro); r.Status != http.StatusOK {
		t.Fatalf("read-only key cannot read: %d %s", r.Status, r.Body)
	}
	refund := map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}
	for _, c := range []struct {
		path string
		body any
	}{
		{"/v1/payments", paymentBody("ro", 1_000)},
		{"/v1/payments/" + w.own.ID + "/refunds", refund},
		{"/v1/payments/" + w.own.ID + "/close", nil},
		{"/v1/payments/" + w.own.ID + "/client-result", map[string]any{"result": map[string]string{"sig": "ok"}}},
	} {
		r := e.call("POST", c.path, c.body, ro)
		if r.Status != http.StatusForbidden || r.errorCode(t) != "forbidden" {
			t.Errorf("POST %s with a read-only key: %d %s", c.path, r.Status, r.Body)
		}
	}
	var refunds host.Page[host.Refund]
	e.call("GET", "/v1/payments/"+w.own.ID+"/refunds", nil, nil).decode(t, &refunds)
	if len(refunds.Data) != 1 {
		t.Errorf("a read-only key's refund took effect: %d refunds", len(refunds.Data))
	}
	if r := e.call("POST", "/v1/payments/"+w.own.ID+"/refunds", refund, bearer(shopKey)); r.Status != http.StatusCreated {
		t.Errorf("control: the writable key of the same scope cannot refund: %d %s", r.Status, r.Body)
	}
}

// TestEventTrailNamesKey: the events a request causes carry the name of its API key; events the
// wallet causes carry none.
func TestEventTrailNamesKey(t *testing.T) {
	e := newScopedEnv(t)
	p := e.createPayment(paymentBody("trail", 1_000), bearer(shopKey))
	var page host.Page[host.Event]
	e.call("GET", "/v1/events?payment_id="+p.ID, nil, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].Type != "payment.created" || page.Data[0].Actor != "shop-hk" {
		t.Fatalf("events of a payment created with shop-hk: %+v", page.Data)
	}
	e.payFake(p, "trail-n")
	var paid host.Page[host.Event]
	e.call("GET", "/v1/events?payment_id="+p.ID+"&type=payment.succeeded", nil, nil).decode(t, &paid)
	if len(paid.Data) != 1 || paid.Data[0].Actor != "" {
		t.Fatalf("the wallet's event names an API key: %+v", paid.Data)
	}
}
