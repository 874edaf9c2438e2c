package httpapi

import (
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

// TestDecodeErrorParam: a body refused by the strict decode is EINVALID with a message that
// says what is wrong (without echoing the value) and, where the fault is in one field, its
// path as param; malformed JSON names no field. Controls: the same documents made valid decode.
func TestDecodeErrorParam(t *testing.T) {
	type tc struct {
		name, body, param, msg string
	}
	check := func(t *testing.T, c tc, v any) {
		t.Helper()
		err := decode([]byte(c.body), v)
		if err == nil {
			t.Fatalf("%s: accepted", c.name)
		}
		if core.ErrorCode(err) != core.EINVALID || core.ErrorParam(err) != c.param || !strings.Contains(core.ErrorMessage(err), c.msg) {
			t.Errorf("%s: code %s param %q message %q; want invalid, param %q, message with %q",
				c.name, core.ErrorCode(err), core.ErrorParam(err), core.ErrorMessage(err), c.param, c.msg)
		}
		if strings.Contains(core.ErrorMessage(err), "secretvalue") {
			t.Errorf("%s: the message echoes the value: %s", c.name, core.ErrorMessage(err))
		}
		if status, _ := errorJSON(err, "r"); status != 400 {
			t.Errorf("%s: status %d", c.name, status)
		}
	}
	for _, c := range []tc{
		{"unknown top-level", `{"region":"HK","bogus":1}`, "bogus", `unknown field "bogus"`},
		{"unknown nested", `{"amount":{"value":1,"currency":"HKD","cents":2}}`, "amount.cents", `unknown field "amount.cents"`},
		{"unknown after a valid nested object", `{"amount":{"value":1},"metadata":{"a":"b"},"zzz":true}`, "zzz", `unknown field "zzz"`},
		{"wrong type top-level", `{"subject":5}`, "subject", `field "subject" must be a string, not a number`},
		{"wrong type nested", `{"amount":{"value":"secretvalue"}}`, "amount.value", `field "amount.value" must be an integer, not a string`},
		{"fraction for an integer", `{"amount":{"value":1.5}}`, "amount.value", `field "amount.value" must be an integer`},
		{"object for a string", `{"region":{"x":1}}`, "region", `must be a string, not an object`},
		{"map value of the wrong type", `{"metadata":{"order":7}}`, "metadata.order", `field "metadata.order" must be a string, not a number`},
		{"array for a map", `{"provider_extras":["a"]}`, "provider_extras", `must be an object of strings, not an array`},
		{"bad time", `{"expires_at":"secretvalue"}`, "expires_at", `field "expires_at" must be an RFC 3339 time`},
		{"time of the wrong type", `{"expires_at":12}`, "expires_at", `field "expires_at"`},
		{"first fault in document order", `{"subject":1,"bogus":2}`, "subject", `field "subject"`},
		{"duplicate key nested", `{"amount":{"value":1,"value":2}}`, "amount.value", `the key "value" more than once`},
		{"case variant nested", `{"amount":{"Value":1}}`, "amount.Value", `keys are case-sensitive`},
		{"malformed", `{"region":`, "", "unexpected end of JSON"},
		{"malformed in the middle", `{"region":"HK",,}`, "", "malformed JSON at byte"},
		{"not an object", `["HK"]`, "", "must be a JSON object, not an array"},
		{"trailing data", `{} {}`, "", "data after the JSON object"},
	} {
		var req host.CreatePaymentRequest
		check(t, c, &req)
	}
	// The other request types.
	var rr host.CreateRefundRequest
	check(t, tc{"refund reason", `{"reason":["a"]}`, "reason", `field "reason" must be a string, not an array`}, &rr)
	check(t, tc{"refund amount unknown", `{"amount":{"value":1,"currency":"HKD","fx":1}}`, "amount.fx", `unknown field "amount.fx"`}, &rr)
	var cr host.ClientResultRequest
	check(t, tc{"client result entry", `{"result":{"resultStatus":9000}}`, "result.resultStatus", `must be a string, not a number`}, &cr)
	var sr host.SettleRefundRequest
	check(t, tc{"settle status", `{"status":true,"reason":"x"}`, "status", `field "status" must be a string, not true or false`}, &sr)
	var rc host.ReconcileRequest
	check(t, tc{"reconcile day", `{"account":"a","from":20261201}`, "from", `field "from" must be a string, not a number`}, &rc)
	var none struct{}
	check(t, tc{"close with a field", `{"reason":"x"}`, "reason", `unknown field "reason"`}, &none)

	// Controls: valid documents of the same shapes decode.
	for _, body := range []string{
		`{"region":"HK","amount":{"value":1,"currency":"HKD"},"metadata":{"order":"7"},"expires_at":"2026-12-01T00:00:00Z","provider_extras":{"a":"b"}}`,
		`{"subject":"s","expires_at":null}`,
	} {
		var req host.CreatePaymentRequest
		if err := decode([]byte(body), &req); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}
