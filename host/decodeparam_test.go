package host_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDecodeErrorParamEveryRoute: on every route that takes a JSON body, an unknown field, a
// value of the wrong type (top-level and nested) and malformed JSON are 400 invalid, the first
// two with param naming the field, malformed JSON with none. Control per route: a well-formed
// body gets past the decode (whatever the route then answers, it is not a decode refusal).
func TestDecodeErrorParamEveryRoute(t *testing.T) {
	e, _ := newFakeEnv(t)
	open := e.createPayment(paymentBody("dec-open", 1_000), nil)
	paid := e.createPayment(paymentBody("dec-paid", 1_000), nil)
	e.payFake(paid, "dec-paid-n")
	rf := e.call("POST", "/v1/payments/"+paid.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}, nil)
	if rf.Status != http.StatusCreated {
		t.Fatalf("refund: %d %s", rf.Status, rf.Body)
	}
	var refund struct{ ID string }
	rf.decode(t, &refund)

	type bad struct{ body, param string }
	for _, route := range []struct {
		name, path string
		bads       []bad
		good       string
	}{
		{"create payment", "/v1/payments", []bad{
			{`{"region":"HK","bogus":1}`, "bogus"},
			{`{"region":"HK","amount":{"value":1,"currency":"HKD","cents":1}}`, "amount.cents"},
			{`{"region":7}`, "region"},
			{`{"amount":{"value":"100","currency":"HKD"}}`, "amount.value"},
			{`{"metadata":{"order":1}}`, "metadata.order"},
			{`{"expires_at":"tomorrow"}`, "expires_at"},
		}, `{"region":"HK","method":"fakewallet","amount":{"value":100,"currency":"HKD"},"subject":"s","channel":"app","reference":"dec-good"}`},
		{"client result", "/v1/payments/" + open.ID + "/client-result", []bad{
			{`{"result":{"resultStatus":"9000"},"extra":1}`, "extra"},
			{`{"result":"9000"}`, "result"},
			{`{"result":{"resultStatus":9000}}`, "result.resultStatus"},
		}, `{"result":{"resultStatus":"9000","sig":"ok"}}`},
		{"close", "/v1/payments/" + open.ID + "/close", []bad{
			{`{"reason":"x"}`, "reason"},
		}, `{}`},
		{"create refund", "/v1/payments/" + paid.ID + "/refunds", []bad{
			{`{"amount":{"value":1,"currency":"HKD"},"why":"x"}`, "why"},
			{`{"amount":{"value":true,"currency":"HKD"}}`, "amount.value"},
			{`{"amount":{"value":1,"currency":"HKD"},"reason":3}`, "reason"},
		}, `{"amount":{"value":100,"currency":"HKD"}}`},
		{"settle refund", "/v1/payments/" + paid.ID + "/refunds/" + refund.ID + "/settle", []bad{
			{`{"status":"failed","reason":"x","by":"me"}`, "by"},
			{`{"status":["failed"],"reason":"x"}`, "status"},
		}, `{"status":"failed","reason":"checked the statement"}`},
		{"reconciliation", "/v1/reconciliations", []bad{
			{`{"account":"fake-hk","from":"2026-11-01","to":"2026-11-01","tz":"UTC"}`, "tz"},
			{`{"account":"fake-hk","from":20261101,"to":"2026-11-01"}`, "from"},
		}, `{"account":"fake-hk","from":"2026-11-01","to":"2026-11-01"}`},
	} {
		t.Run(route.name, func(t *testing.T) {
			for _, b := range route.bads {
				r := e.call("POST", route.path, b.body, nil)
				if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || r.errorParam(t) != b.param ||
					!strings.Contains(string(r.Body), "request body is not valid") {
					t.Errorf("%s: %d %s, want 400 invalid with param %q", b.body, r.Status, r.Body, b.param)
				}
			}
			r := e.call("POST", route.path, `{"a":`, nil)
			if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || r.errorParam(t) != "" {
				t.Errorf("malformed JSON: %d %s, want 400 invalid without param", r.Status, r.Body)
			}
			// Control: the well-formed body is not refused by the decode.
			r = e.call("POST", route.path, route.good, nil)
			if r.Status == http.StatusBadRequest || r.Status >= 500 {
				t.Errorf("well-formed body: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestRuleErrorParam: the rules checked after the decode on the routes that had none name
// their field too (client result, settle, reconciliation, methods and list filters).
func TestRuleErrorParam(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("rule-param", 1_000), nil)
	e.payFake(p, "rule-param-n")
	rf := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}}, nil)
	var refund struct{ ID string }
	rf.decode(t, &refund)
	for _, c := range []struct {
		method, path, body, param string
	}{
		{"POST", "/v1/payments/" + p.ID + "/client-result", `{}`, "result"},
		{"POST", "/v1/payments/" + p.ID + "/refunds/" + refund.ID + "/settle", `{"status":"pending","reason":"x"}`, "status"},
		{"POST", "/v1/reconciliations", `{"from":"2026-11-01","to":"2026-11-01"}`, "account"},
		{"POST", "/v1/reconciliations", `{"account":"fake-hk","from":"Nov 1","to":"2026-11-01"}`, "from"},
		{"POST", "/v1/reconciliations", `{"account":"fake-hk","from":"2026-11-02","to":"2026-11-01"}`, "to"},
		{"POST", "/v1/reconciliations", `{"account":"fake-hk","from":"2026-11-01","to":"2026-11-01","timezone":"Mars/Base"}`, "timezone"},
		{"POST", "/v1/reconciliations?format=xml", `{"account":"fake-hk","from":"2026-11-01","to":"2026-11-01"}`, "format"},
		{"GET", "/v1/methods", "", "region"},
		{"GET", "/v1/methods?region=HK&currency=XYZ", "", "currency"},
		{"GET", "/v1/refunds?status=done", "", "status"},
		{"GET", "/v1/notifications?status=nope", "", "status"},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := e.call(c.method, c.path, body, nil)
		if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || r.errorParam(t) != c.param {
			t.Errorf("%s %s %s: %d %s, want 400 invalid with param %q", c.method, c.path, c.body, r.Status, r.Body, c.param)
		}
	}
	// Control: the valid forms are not refused as invalid.
	for _, path := range []string{"/v1/methods?region=HK&currency=HKD", "/v1/refunds?status=succeeded", "/v1/notifications?status=processed"} {
		if r := e.call("GET", path, nil, nil); r.Status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
}
