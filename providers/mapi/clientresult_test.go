package mapi

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

func TestCheckSDKResult(t *testing.T) {
	s, _ := rsaSettings(t, "https://gw.example/gateway.do")
	signer, err := signing.NewRSASigner(signing.RSA, merchantKey(t))
	if err != nil {
		t.Fatal(err)
	}
	order := func(extra ...string) string {
		p := map[string]string{"service": "mobile.securitypay.pay", "partner": testPartner, "seller_id": testPartner,
			"out_trade_no": "o-1", "total_fee": "12.50", "currency": "USD"}
		for i := 0; i+1 < len(extra); i += 2 {
			p[extra[i]] = extra[i+1]
			if extra[i+1] == "" {
				delete(p, extra[i])
			}
		}
		o, err := OrderString(p, signer)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	usd := core.Money{Value: 12_50, Currency: "USD"}
	cny := core.Money{Value: 80_00, Currency: "CNY"}
	hkd := core.Money{Value: 12_50, Currency: "HKD"}
	genuine := sdkResult(t, order(), "true")
	for _, tc := range []struct {
		name     string
		result   map[string]string
		want     Echo
		verified bool
		status   core.PaymentStatus
		message  string // substring; "" for a verified result
	}{
		{"genuine", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, true, core.PaymentSucceeded, ""},
		{"cny priced", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("total_fee", "", "rmb_fee", "80.00"), "true")},
			Echo{OutTradeNo: "o-1", Amount: cny, Currency: "USD"}, true, core.PaymentSucceeded, ""},
		{"cny amount checked in total_fee is not", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: core.Money{Value: 12_50, Currency: "CNY"}, Currency: "USD"}, false, core.PaymentSucceeded, "amount"},
		{"hk wallet", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("currency", "HKD", "payment_inst", "ALIPAYHK"), "true")},
			Echo{OutTradeNo: "o-1", Amount: hkd, Currency: "HKD", PaymentInst: "ALIPAYHK"}, true, core.PaymentSucceeded, ""},
		{"hk other wallet", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("currency", "HKD", "payment_inst", "ALIPAYHK"), "true")},
			Echo{OutTradeNo: "o-1", Amount: hkd, Currency: "HKD", PaymentInst: "ALIPAYCN"}, false, core.PaymentSucceeded, "wallet"},
		{"cancelled keeps memo", map[string]string{"resultStatus": "6001", "memo": "cancelled", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentPending, "cancelled"},
		{"failed without memo", map[string]string{"resultStatus": "4000"}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentFailed, "resultStatus 4000"},
		{"no result", map[string]string{"resultStatus": "9000"}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "result:"},
		{"tampered", map[string]string{"resultStatus": "9000", "result": strings.Replace(genuine, `"12.50"`, `"1.50"`, 1)}, Echo{OutTradeNo: "o-1", Amount: core.Money{Value: 1_50, Currency: "USD"}, Currency: "USD"}, false, core.PaymentSucceeded, "signature"},
		{"not success", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order(), "false")}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "success"},
		{"other order", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-2", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "order"},
		{"other partner", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("partner", "2088000000000001", "seller_id", ""), "true")}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "partner"},
		{"no partner", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("partner", ""), "true")}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "partner"},
		{"other seller", map[string]string{"resultStatus": "9000", "result": sdkResult(t, order("seller_id", "2088000000000001"), "true")}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "USD"}, false, core.PaymentSucceeded, "seller"},
		{"other amount", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: core.Money{Value: 12_51, Currency: "USD"}, Currency: "USD"}, false, core.PaymentSucceeded, "amount"},
		{"other currency", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: usd, Currency: "EUR"}, false, core.PaymentSucceeded, "currency"},
		{"amount in a third currency", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Amount: core.Money{Value: 12_50, Currency: "EUR"}, Currency: "USD"}, false, core.PaymentSucceeded, "amount"},
		{"no amount", map[string]string{"resultStatus": "9000", "result": genuine}, Echo{OutTradeNo: "o-1", Currency: "USD"}, false, core.PaymentSucceeded, "amount"},
		{"odd status is clipped utf-8", map[string]string{"resultStatus": "\xff\xfe9000000000000000"}, Echo{}, false, core.PaymentPending, "resultStatus ?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckSDKResult(s, tc.result, tc.want)
			if got.Verified != tc.verified || got.Status != tc.status {
				t.Fatalf("got %+v, want verified=%v status=%s", got, tc.verified, tc.status)
			}
			if !strings.Contains(got.Message, tc.message) || (tc.verified && got.Message != "") {
				t.Errorf("message %q, want %q", got.Message, tc.message)
			}
			if !utf8.ValidString(got.Message) {
				t.Errorf("message is not UTF-8: %q", got.Message)
			}
		})
	}
}

// FuzzCheckSDKResult feeds arbitrary SDK answers (seeded with a genuine signed result) through
// CheckSDKResult: it never fails, its own messages are UTF-8 (memo is passed on as given), and
// it verifies only a signed, successful echo of the payment.
func FuzzCheckSDKResult(f *testing.F) {
	s, _ := rsaSettings(f, "https://gw.example/gateway.do")
	signer, err := signing.NewRSASigner(signing.RSA, merchantKey(f))
	if err != nil {
		f.Fatal(err)
	}
	order, err := OrderString(map[string]string{"service": ServiceAppPay, "partner": testPartner, "out_trade_no": "o-1",
		"total_fee": "12.50", "currency": "HKD", "payment_inst": "ALIPAYHK"}, signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("9000", sdkResult(f, order, "true"), "")
	f.Add("6001", "", "用户取消")
	f.Add("9000", `partner="2088101122136241"&success="true"&sign_type="RSA"&sign="x"`, "")
	want := Echo{OutTradeNo: "o-1", Amount: core.Money{Value: 12_50, Currency: "HKD"}, Currency: "HKD", PaymentInst: "ALIPAYHK"}
	f.Fuzz(func(t *testing.T, status, result, memo string) {
		res := CheckSDKResult(s, map[string]string{"resultStatus": status, "result": result, "memo": memo}, want)
		if !res.Status.Valid() {
			t.Fatalf("invalid status %q", res.Status)
		}
		if memo == "" && !utf8.ValidString(res.Message) {
			t.Fatalf("message is not UTF-8: %q", res.Message)
		}
		if !res.Verified {
			return
		}
		r, err := ParseSDKResult(result)
		if err != nil || status != "9000" || res.Status != core.PaymentSucceeded {
			t.Fatalf("verified %+v from %q", res, result)
		}
		if r.Fields["success"] != "true" || r.Fields["out_trade_no"] != "o-1" || r.Fields["partner"] != testPartner || r.Fields["total_fee"] != "12.50" {
			t.Fatalf("verified a result that is not the payment's echo: %v", r.Fields)
		}
	})
}
