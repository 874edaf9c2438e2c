package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/host"
)

const goodCreate = `{"region":"HK","method":"alipayhk","amount":{"value":100,"currency":"HKD"},"subject":"s","channel":"app","provider_extras":{"a":"b","A":"c"}}`

// TestDecodeRefusesAmbiguousKeys: a key twice in one object (anywhere, escaped or not) or a
// key matching a field only when case is ignored is a 400 naming the key; map keys may differ
// in case but not repeat.
func TestDecodeRefusesAmbiguousKeys(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"duplicate top-level", `{"region":"HK","region":"SG"}`, `the key "region" more than once`},
		{"duplicate nested", `{"amount":{"value":100,"value":1,"currency":"HKD"}}`, `the key "value" more than once`},
		{"duplicate escaped", `{"amount":{"value":1},"amo\u0075nt":{"value":2}}`, `the key "amount" more than once`},
		{"case variant beside", `{"amount":{"value":100},"Amount":{"value":1}}`, `the key "Amount": keys are case-sensitive, the field is "amount"`},
		{"case variant alone", `{"REGION":"HK"}`, `the key "REGION": keys are case-sensitive, the field is "region"`},
		{"case variant nested", `{"amount":{"Value":100}}`, `the key "Value": keys are case-sensitive, the field is "value"`},
		{"duplicate map key", `{"provider_extras":{"a":"1","a":"2"}}`, `the key "a" more than once`},
		{"duplicate in array element", `[{"a":1,"a":2}]`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req host.CreatePaymentRequest
			err := decode([]byte(tc.body), &req)
			if tc.want == "" {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), tc.want) {
				t.Fatalf("decode = %v, want invalid naming %s", err, tc.want)
			}
			if status, _ := errorJSON(err, "r"); status != 400 {
				t.Fatalf("status %d", status)
			}
		})
	}
	for _, body := range []string{goodCreate, `{}`, ``, " {\"region\" : \"HK\" ,\n \"amount\":{\"currency\":\"HKD\",\"value\":1}} ", `{"provider_extras":{"k\"ey":"v","key":"v"}}`} {
		var req host.CreatePaymentRequest
		if err := decode([]byte(body), &req); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	// Other request types: the refund's amount, the client result's map.
	var rr host.CreateRefundRequest
	if err := decode([]byte(`{"amount":{"value":1,"currency":"HKD"},"reason":"a","Reason":"b"}`), &rr); err == nil {
		t.Error("refund with Reason and reason accepted")
	}
	var cr host.ClientResultRequest
	if err := decode([]byte(`{"result":{"resultStatus":"9000","resultStatus":"4000"}}`), &cr); err == nil {
		t.Error("client result with resultStatus twice accepted")
	}
}

// BenchmarkDecodeCreatePayment: the strict decode of a create request with and without the
// key check, paired (the check's cost is the ratio above 1).
func BenchmarkDecodeCreatePayment(b *testing.B) {
	body := []byte(goodCreate)
	plain := func() error {
		var req host.CreatePaymentRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		return dec.Decode(&req)
	}
	benchpair.Run(b, "decode-without-check", func() error {
		var req host.CreatePaymentRequest
		return decode(body, &req)
	}, plain)
}

// BenchmarkCheckKeys is the key check alone; it must not allocate.
func BenchmarkCheckKeys(b *testing.B) {
	body := []byte(goodCreate)
	typ := typeOfCreate
	b.ReportAllocs()
	for b.Loop() {
		if err := checkKeys(body, typ); err != nil {
			b.Fatal(err)
		}
	}
}

var typeOfCreate = reflect.TypeOf(&host.CreatePaymentRequest{})
