package alipayhk_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestRefundWireParams checks the exact forex_refund form the provider sends, for both
// gmt_return layouts and both is_sync modes, against a gateway that records it.
func TestRefundWireParams(t *testing.T) {
	var got url.Values
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(body))
		if r.URL.Query().Get("_input_charset") != "UTF-8" {
			t.Errorf("_input_charset missing from the URL: %s", r.URL.RawQuery)
		}
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><alipay><is_success>T</is_success></alipay>`)
	}))
	defer gw.Close()
	// 2026-11-20 02:03:04 UTC is 10:03:04 in GMT+8.
	clock := func() time.Time { return time.Date(2026, 11, 20, 2, 3, 4, 0, time.UTC) }
	for _, tc := range []struct {
		name      string
		extra     map[string]string
		gmtReturn string
		isSync    string
		status    core.RefundStatus
	}{
		{"defaults", nil, "2026-11-20 10:03:04", "N", core.RefundProcessing},
		{"compact, sync", map[string]string{"gmt_return_format": "yyyyMMddHHmmss", "refund_is_sync": "true", "refund_reason": "Customer request"}, "20261120100304", "Y", core.RefundSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := alipayhk.New(alipayhk.WithClock(clock), alipayhk.WithHTTPClient(gw.Client()))
			settings := map[string]string{
				"partner": testPartner, "gateway_url": gw.URL + "/gateway.do", "sign_type": "MD5",
				"md5_key": mapisim.TestMD5Key,
			}
			for k, v := range tc.extra {
				settings[k] = v
			}
			if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: settings}); err != nil {
				t.Fatal(err)
			}
			st, err := p.Refund(context.Background(), &core.RefundRequest{Account: "a", OutTradeNo: "T1", OutRefundNo: "T1-R1",
				Amount: hkd(12_50), PaymentAmount: hkd(100_00), NotifyURL: "https://merchant.example/notify/a"})
			if err != nil || st.Status != tc.status {
				t.Fatalf("refund: %+v, %v", st, err)
			}
			reason := "Refund"
			if r := tc.extra["refund_reason"]; r != "" {
				reason = r
			}
			notify := "https://merchant.example/notify/a"
			if tc.isSync == "Y" {
				notify = ""
			}
			want := map[string]string{
				"service": "forex_refund", "partner": testPartner, "_input_charset": "UTF-8",
				"out_trade_no": "T1", "out_return_no": "T1-R1", "return_amount": "12.50", "currency": "HKD",
				"gmt_return": tc.gmtReturn, "reason": reason, "is_sync": tc.isSync, "notify_url": notify, "sign_type": "MD5",
			}
			for k, v := range want {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
			for _, k := range []string{"return_rmb_amount", "product_code", "payment_inst"} {
				if got.Has(k) {
					t.Errorf("%s sent; the HK refund has no such parameter", k)
				}
			}
			if len(got.Get("sign")) != 32 {
				t.Errorf("sign = %q, want an MD5 hex", got.Get("sign"))
			}
		})
	}
}

func TestItBPayFromExpiry(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	gw := httptest.NewServer(http.NotFoundHandler())
	defer gw.Close()
	p := alipayhk.New(alipayhk.WithClock(func() time.Time { return now }))
	settings := map[string]string{"partner": testPartner, "gateway_url": gw.URL, "sign_type": "RSA",
		"private_key_file": string(mapisim.TestMerchantPrivateKeyPEM), "alipay_public_key_file": string(mapisim.TestAlipayPublicKeyPEM), "it_b_pay": "1d"}
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{0, "1d"}, // no expiry: the account's it_b_pay
		{90 * time.Second, "2m"},
		{90 * time.Minute, "90m"},
		{2 * time.Hour, "2h"},
		{48 * time.Hour, "2d"},
	} {
		var exp time.Time
		if tc.left > 0 {
			exp = now.Add(tc.left)
		}
		res, err := p.CreatePayment(context.Background(), &core.CreatePaymentRequest{Account: "a", OutTradeNo: "E1", Method: "alipay",
			Amount: hkd(100), Subject: "s", NotifyURL: "https://m.example/n", ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		os, err := mapisim.ParseOrderString(res.Action.Value)
		if err != nil {
			t.Fatal(err)
		}
		if got := os.Params()["it_b_pay"]; got != tc.want {
			t.Errorf("expiry in %v: it_b_pay = %q, want %q", tc.left, got, tc.want)
		}
	}
	_, err := p.CreatePayment(context.Background(), &core.CreatePaymentRequest{Account: "a", OutTradeNo: "E1", Method: "alipay",
		Amount: hkd(100), NotifyURL: "https://m.example/n", ExpiresAt: now.Add(16 * 24 * time.Hour)})
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("16 days: %v", err)
	}
}
