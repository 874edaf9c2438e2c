package antomsim

import (
	"encoding/json"
	"testing"
)

func FuzzParseSignature(f *testing.F) {
	f.Add("algorithm=RSA256,keyVersion=1,signature=abc%2B%2Fdef%3D")
	f.Add("algorithm=RSA256, keyVersion=1, signature=abc+/=")
	f.Add("signature=%")
	f.Fuzz(func(t *testing.T, h string) { _, _ = ParseSignature(h) })
}

func FuzzAmount(f *testing.F) {
	f.Add(`{"currency":"PHP","value":"100"}`)
	f.Add(`{"currency":"PHP","value":100}`)
	f.Add(`{"currency":"PHP","value":"-1"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var a Amount
		if json.Unmarshal([]byte(s), &a) == nil && a.Value < 0 {
			t.Fatalf("negative amount accepted from %s", s)
		}
	})
}

// FuzzRequests feeds arbitrary bodies to every API of a simulator with one paid order: no
// panic, always a result.
func FuzzRequests(f *testing.F) {
	f.Add("pay", payBody("x", 100, "WAP", ""))
	f.Add("refund", `{"refundRequestId":"r","paymentId":"p","refundAmount":{"currency":"PHP","value":"1"}}`)
	f.Add("inquiryPayment", `{"paymentRequestId":"x"}`)
	f.Add("cancel", `{"paymentId":"x"}`)
	f.Add("inquiryRefund", `{"refundId":"x"}`)
	s := New(Config{})
	defer s.Close()
	if err := s.AddMerchant(Merchant{ClientID: cid, PublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, api, body string) {
		var out any
		switch api {
		case "pay":
			out = s.pay(cid, []byte(body), "http://127.0.0.1")
		case "refund":
			out = s.refund(cid, []byte(body))
		case "inquiryPayment":
			out = s.inquiryPayment(cid, []byte(body))
		case "cancel":
			out = s.cancel(cid, []byte(body))
		case "inquiryRefund":
			out = s.inquiryRefund(cid, []byte(body))
		default:
			return
		}
		if r := resultOf(out); r == "/" {
			t.Fatalf("%s answered without a result: %v", api, out)
		}
	})
}
