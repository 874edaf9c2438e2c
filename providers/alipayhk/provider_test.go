package alipayhk_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

const testPartner = "2088101122136241"

// env is a provider configured against a running simulator, with a notify endpoint that hands
// every notification to the provider and records the results.
type env struct {
	p         *alipayhk.Provider
	sim       *mapisim.Sim
	gw        *httptest.Server
	notifyURL string
	mu        sync.Mutex
	results   []*core.NotificationResult
	got       chan struct{}
}

func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	return newEnvCfg(t, mapisim.Config{TimeScale: 100000}, extra...)
}

func newEnvCfg(t *testing.T, cfg mapisim.Config, extra ...string) *env {
	t.Helper()
	sim := mapisim.New(cfg)
	t.Cleanup(sim.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: testPartner, Flavour: mapisim.FlavourHK, SignType: "RSA2",
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, MD5Key: mapisim.TestMD5Key, FeeBasisPoints: 180}); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(sim.Handler())
	t.Cleanup(gw.Close)
	e := &env{sim: sim, gw: gw, got: make(chan struct{}, 64)}
	e.p = alipayhk.New(alipayhk.WithHTTPClient(gw.Client()))
	ns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := e.p.ParseNotification(r.Context(), &core.NotificationRequest{Account: "hk1", Header: r.Header, Body: body, Confirm: true})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		e.mu.Lock()
		e.results = append(e.results, res)
		e.mu.Unlock()
		w.Header().Set("Content-Type", res.Ack.ContentType)
		w.WriteHeader(res.Ack.Status)
		_, _ = w.Write(res.Ack.Body)
		e.got <- struct{}{}
	}))
	t.Cleanup(ns.Close)
	e.notifyURL = ns.URL + "/notify/hk1"
	if err := e.p.Configure(context.Background(), &core.ConfigureRequest{Account: "hk1", Settings: e.settings(extra...)}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) settings(extra ...string) map[string]string {
	m := map[string]string{
		"partner":                testPartner,
		"gateway_url":            e.gw.URL + "/gateway.do",
		"sign_type":              "RSA2",
		"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
		"alipay_public_key_file": string(e.sim.AlipayPublicKeyPEM()),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(m, extra[i])
		} else {
			m[extra[i]] = extra[i+1]
		}
	}
	return m
}

// waitNotification waits for the next notification handled by the provider.
func (e *env) waitNotification(t *testing.T) *core.NotificationResult {
	t.Helper()
	select {
	case <-e.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.results[len(e.results)-1]
}

func hkd(v int64) core.Money { return core.Money{Value: v, Currency: "HKD"} }

func (e *env) create(t *testing.T, method, outTradeNo string, amount core.Money) string {
	t.Helper()
	res, err := e.p.CreatePayment(context.Background(), &core.CreatePaymentRequest{
		Account: "hk1", OutTradeNo: outTradeNo, Method: method, Channel: core.ChannelApp, Amount: amount,
		Subject: "Order " + outTradeNo, NotifyURL: e.notifyURL, ExpiresAt: time.Now().Add(30 * time.Minute),
	})
	if err != nil {
		t.Fatalf("CreatePayment(%s): %v", method, err)
	}
	if res.Action.Type != core.ActionSDKOrderString {
		t.Fatalf("action type %s", res.Action.Type)
	}
	return res.Action.Value
}

func TestDescribe(t *testing.T) {
	d, err := alipayhk.New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "alipayhk" || len(d.Methods) != 2 || d.Methods[0].ID != "alipayhk" || d.Methods[1].ID != "alipay" {
		t.Fatalf("methods = %+v, want alipayhk then alipay", d.Methods)
	}
	if d.Methods[0].Name != "AlipayHK" || d.Methods[1].Name != "Alipay" {
		t.Errorf("display names %q, %q", d.Methods[0].Name, d.Methods[1].Name)
	}
	for _, m := range d.Methods {
		if err := m.CheckAmount(core.Money{Value: 100, Currency: "USD"}); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s accepts USD: %v", m.ID, err)
		}
		if err := m.CheckAmount(hkd(50_000_01)); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s accepts 50,000.01 HKD: %v", m.ID, err)
		}
		if err := m.CheckAmount(hkd(1)); err != nil {
			t.Errorf("%s refuses 0.01 HKD: %v", m.ID, err)
		}
		if !m.HasChannel(core.ChannelApp) || m.HasChannel(core.ChannelH5) {
			t.Errorf("%s channels %v", m.ID, m.Channels)
		}
	}
	if d.Has(core.CapClose) || !d.Has(core.CapSettlement) || !d.Has(core.CapPartialRefund) || !d.Has(core.CapQuery) {
		t.Errorf("capabilities %v", d.Capabilities)
	}
	var p core.Provider = alipayhk.New()
	if _, ok := p.(core.PaymentCloser); ok {
		t.Error("the provider implements PaymentCloser; the SDK product has no close")
	}
	names := map[string]bool{}
	for _, s := range d.Settings {
		names[s.Name] = true
	}
	for _, n := range []string{"partner", "seller_id", "gateway_url", "sign_type", "private_key_file", "alipay_public_key_file",
		"md5_key", "notify_verify", "currency", "product_code", "it_b_pay", "gmt_return_format",
		"sftp_addr", "sftp_user", "sftp_private_key_file", "sftp_known_hosts_file", "sftp_dir"} {
		if !names[n] {
			t.Errorf("setting %s is not described", n)
		}
	}
}

func TestCreatePaymentBothMethods(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, inst string }{{"alipayhk", "ALIPAYHK"}, {"alipay", "ALIPAYCN"}} {
		t.Run(tc.method, func(t *testing.T) {
			order := e.create(t, tc.method, "HK-"+tc.method, hkd(12345))
			os, err := e.sim.CheckOrderString(order)
			if err != nil {
				t.Fatalf("simulator refuses the order string: %v", err)
			}
			p := os.Params()
			want := map[string]string{
				"service": "mobile.securitypay.pay", "partner": testPartner, "seller_id": testPartner,
				"payment_inst": tc.inst, "currency": "HKD", "total_fee": "123.45", "forex_biz": "FP",
				"product_code": "NEW_WAP_OVERSEAS_SELLER", "payment_type": "1", "it_b_pay": "30m",
				"out_trade_no": "HK-" + tc.method, "notify_url": e.notifyURL,
			}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("%s = %q, want %q", k, p[k], v)
				}
			}
			if !strings.HasSuffix(order, `&sign_type="RSA2"`) {
				t.Errorf("order string does not end with sign_type: %s", order[len(order)-30:])
			}
		})
	}
}

func TestCreatePaymentRefusals(t *testing.T) {
	e := newEnv(t)
	base := core.CreatePaymentRequest{Account: "hk1", OutTradeNo: "HK1", Method: "alipayhk", Amount: hkd(100), Subject: "s", NotifyURL: e.notifyURL}
	for _, tc := range []struct {
		name   string
		mut    func(*core.CreatePaymentRequest)
		code   string
		substr string
	}{
		{"USD", func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 100, Currency: "USD"} }, core.EINVALID, "HKD only"},
		{"CNY", func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 100, Currency: "CNY"} }, core.EINVALID, "HKD only"},
		{"over the maximum", func(r *core.CreatePaymentRequest) { r.Amount = hkd(50_000_01) }, core.EINVALID, "above the maximum"},
		{"zero", func(r *core.CreatePaymentRequest) { r.Amount = hkd(0) }, core.EINVALID, "positive"},
		{"unknown method", func(r *core.CreatePaymentRequest) { r.Method = "wechat" }, core.EINVALID, "not offered"},
		{"h5", func(r *core.CreatePaymentRequest) { r.Channel = core.ChannelH5 }, core.EINVALID, "app only"},
		{"quote in subject", func(r *core.CreatePaymentRequest) { r.Subject = `a "b"` }, core.EINVALID, "double quote"},
		{"field name in subject", func(r *core.CreatePaymentRequest) { r.Subject = "tea&total_fee=0.01" }, core.EINVALID, "total_fee="},
		{"field name in body", func(r *core.CreatePaymentRequest) { r.Description = "x&out_trade_no=HK2" }, core.EINVALID, "out_trade_no="},
		{"newline in body", func(r *core.CreatePaymentRequest) { r.Description = "a\nb" }, core.EINVALID, "control characters"},
		{"other parameter in body", func(r *core.CreatePaymentRequest) { r.Description = "x&it_b_pay=15d" }, core.EINVALID, "&it_b_pay="},
		// Limits are bytes: 86 CJK characters are 258 bytes, over String(256); 85 (255 bytes) pass.
		{"subject over 256 bytes", func(r *core.CreatePaymentRequest) { r.Subject = strings.Repeat("茶", 86) }, core.EINVALID, "256 bytes"},
		{"body over 400 bytes", func(r *core.CreatePaymentRequest) { r.Description = strings.Repeat("茶", 134) }, core.EINVALID, "400 bytes"},
		{"no notify url", func(r *core.CreatePaymentRequest) { r.NotifyURL = "" }, core.EINVALID, "notify_url"},
		{"expired", func(r *core.CreatePaymentRequest) { r.ExpiresAt = time.Now().Add(-time.Minute) }, core.EINVALID, "past"},
		{"unknown extra", func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{"total_fee": "1"} }, core.EINVALID, "not an AlipayHK order parameter"},
		{"unknown account", func(r *core.CreatePaymentRequest) { r.Account = "nope" }, core.ECONFIG, "not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := base
			tc.mut(&req)
			_, err := e.p.CreatePayment(context.Background(), &req)
			if core.ErrorCode(err) != tc.code || !strings.Contains(core.ErrorMessage(err), tc.substr) {
				t.Fatalf("error = %v, want %s containing %q", err, tc.code, tc.substr)
			}
		})
	}
}

// TestPaymentLifecycle pays with each wallet in the simulator, checks the SDK result, the
// notification and the query, then refunds partially twice.
func TestPaymentLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, method := range []string{"alipayhk", "alipay"} {
		t.Run(method, func(t *testing.T) {
			out := "LC-" + method
			order := e.create(t, method, out, hkd(100_00))
			sdk, err := e.sim.PayOrderString(ctx, order)
			if err != nil || sdk.ResultStatus != mapisim.ResultSuccess {
				t.Fatalf("pay: %+v, %v", sdk, err)
			}
			cr, err := e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "hk1", OutTradeNo: out, Method: method, Amount: hkd(100_00),
				Result: map[string]string{"resultStatus": sdk.ResultStatus, "result": sdk.Result, "memo": sdk.Memo}})
			if err != nil || !cr.Verified || cr.Status != core.PaymentSucceeded {
				t.Fatalf("client result: %+v, %v", cr, err)
			}
			// The same result does not prove another amount, order or wallet.
			other := map[string]core.ClientResultRequest{
				"amount":         {Account: "hk1", OutTradeNo: out, Method: method, Amount: hkd(99_00)},
				"order":          {Account: "hk1", OutTradeNo: "other", Method: method, Amount: hkd(100_00)},
				"bogus currency": {Account: "hk1", OutTradeNo: out, Method: method, Amount: core.Money{Value: 100_00, Currency: "XXX"}},
				"wallet":         {Account: "hk1", OutTradeNo: out, Method: map[string]string{"alipay": "alipayhk", "alipayhk": "alipay"}[method], Amount: hkd(100_00)},
			}
			for name, req := range other {
				req.Result = map[string]string{"resultStatus": "9000", "result": sdk.Result}
				if cr, _ := e.p.VerifyClientResult(ctx, &req); cr == nil || cr.Verified {
					t.Errorf("%s mismatch verified: %+v", name, cr)
				}
			}
			tampered := strings.Replace(sdk.Result, `total_fee="100.00"`, `total_fee="1.00"`, 1)
			if cr, _ := e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "hk1", OutTradeNo: out, Method: method,
				Result: map[string]string{"resultStatus": "9000", "result": tampered}}); cr == nil || cr.Verified {
				t.Errorf("tampered result verified: %+v", cr)
			}

			nr := e.waitNotification(t)
			if !nr.Verified || len(nr.Events) != 1 || string(nr.Ack.Body) != "success" {
				t.Fatalf("notification: %+v", nr)
			}
			ev := nr.Events[0]
			if ev.Kind != core.EventPayment || ev.OutTradeNo != out || ev.PaymentStatus != core.PaymentSucceeded ||
				ev.Amount != hkd(100_00) || ev.ProviderRef == "" {
				t.Errorf("payment event %+v", ev)
			}

			st, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "hk1", OutTradeNo: out})
			if err != nil || st.Status != core.PaymentSucceeded || st.Amount != hkd(100_00) || st.ProviderRef != ev.ProviderRef || st.PaidAt.IsZero() {
				t.Fatalf("query: %+v, %v", st, err)
			}

			for i, amt := range []int64{30_00, 20_00} {
				ref := out + "-R" + string(rune('1'+i))
				rs, err := e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: out, OutRefundNo: ref, Amount: hkd(amt),
					PaymentAmount: hkd(100_00), Reason: "partial", NotifyURL: e.notifyURL})
				if err != nil || rs.Status != core.RefundProcessing || rs.Amount != hkd(amt) {
					t.Fatalf("refund %d: %+v, %v", i, rs, err)
				}
				rn := e.waitNotification(t)
				if !rn.Verified || len(rn.Events) != 1 || rn.Events[0].Kind != core.EventRefund || rn.Events[0].OutRefundNo != ref ||
					rn.Events[0].RefundStatus != core.RefundSucceeded || rn.Events[0].Amount != hkd(amt) {
					t.Fatalf("refund notification %+v", rn)
				}
				qs, err := e.p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "hk1", OutTradeNo: out, OutRefundNo: ref})
				if err != nil || qs.Status != core.RefundSucceeded || qs.Amount != hkd(amt) {
					t.Fatalf("refund query: %+v, %v", qs, err)
				}
			}
			// 50.00 is left: 60.00 is refused by the gateway with its own code.
			_, err = e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: out, OutRefundNo: out + "-R9", Amount: hkd(60_00), Reason: "too much"})
			if core.ErrorCode(err) != core.EDECLINED || core.ProviderCode(err) != "RETURN_AMOUNT_EXCEED" {
				t.Fatalf("over-refund: %v", err)
			}
			if o, _ := e.sim.Order(testPartner, out); o.Refunded != 50_00 || o.PaymentInst != map[string]string{"alipay": "ALIPAYCN", "alipayhk": "ALIPAYHK"}[method] {
				t.Errorf("simulator order %+v", o)
			}
		})
	}
}

func TestRefundOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  []string
		status core.RefundStatus
	}{
		{"sync, dashed gmt_return", []string{"refund_is_sync", "true"}, core.RefundSucceeded},
		{"async, compact gmt_return", []string{"gmt_return_format", "yyyyMMddHHmmss"}, core.RefundProcessing},
		{"MD5 server calls, RSA order string", []string{"sign_type", "MD5", "md5_key", mapisim.TestMD5Key, "refund_is_sync", "yes"}, core.RefundSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.extra...)
			ctx := context.Background()
			sdk, err := e.sim.PayOrderString(ctx, e.create(t, "alipayhk", "RO1", hkd(10_00)))
			if err != nil || sdk.ResultStatus != mapisim.ResultSuccess {
				t.Fatalf("pay: %+v %v", sdk, err)
			}
			e.waitNotification(t)
			rs, err := e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: "RO1", OutRefundNo: "RO1-1", Amount: hkd(10_00), NotifyURL: e.notifyURL})
			if err != nil || rs.Status != tc.status {
				t.Fatalf("refund: %+v, %v", rs, err)
			}
			r, ok := e.sim.Refund(testPartner, "RO1-1")
			if !ok || r.Reason != "Refund" || r.Sync != (tc.status == core.RefundSucceeded) {
				t.Errorf("simulator refund %+v", r)
			}
		})
	}
}

func TestRefundAndQueryRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: "X", OutRefundNo: "X-1", Amount: core.Money{Value: 100, Currency: "USD"}})
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("USD refund: %v", err)
	}
	_, err = e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: "X", OutRefundNo: "X-1", Amount: hkd(100), Reason: `say "no"`})
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("quoted reason: %v", err)
	}
	_, err = e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: "NOPE", OutRefundNo: "NOPE-1", Amount: hkd(100)})
	if core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("refund of an unknown trade: %v", err)
	}
	_, err = e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "hk1", OutTradeNo: "NOPE"})
	if core.ErrorCode(err) != core.ENOTFOUND || core.ProviderCode(err) != "TRADE_NOT_EXIST" {
		t.Errorf("query of an unknown trade: %v", err)
	}
	_, err = e.p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "hk1", OutTradeNo: "NOPE", OutRefundNo: "NOPE-1"})
	if core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("query of an unknown refund: %v", err)
	}
}

func TestNotificationRejected(t *testing.T) {
	e := newEnv(t)
	body := "notify_type=trade_status_sync&notify_id=1&notify_time=2026-11-20+10%3A00%3A00&out_trade_no=A&trade_status=TRADE_FINISHED&total_fee=1.00&sign_type=RSA2&sign=AAAA"
	res, err := e.p.ParseNotification(context.Background(), &core.NotificationRequest{Account: "hk1",
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(body)})
	if err != nil || res.Verified || string(res.Ack.Body) == "success" || res.RejectReason == "" {
		t.Fatalf("forged notification: %+v, %v", res, err)
	}
}

// TestNotificationWithoutCurrency: an HK notification may carry total_fee without currency; its
// amount is HKD.
func TestNotificationWithoutCurrency(t *testing.T) {
	// notify_verify off: an MD5-signed notification naming no merchant is bound by the key.
	e := newEnv(t, "sign_type", "MD5", "md5_key", mapisim.TestMD5Key, "notify_verify", "false")
	fields := map[string]string{"notify_type": "trade_status_sync", "notify_id": "n1", "notify_time": "2026-11-20 10:00:00",
		"out_trade_no": "A", "trade_no": "2026", "trade_status": "TRADE_SUCCESS", "total_fee": "12.30"}
	md5, err := signing.NewMD5(mapisim.TestMD5Key)
	if err != nil {
		t.Fatal(err)
	}
	fields["sign"], _ = md5.Sign(signing.CanonicalB(fields))
	fields["sign_type"] = "MD5"
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	res, err := e.p.ParseNotification(context.Background(), &core.NotificationRequest{Account: "hk1",
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(form.Encode())})
	if err != nil || !res.Verified || len(res.Events) != 1 {
		t.Fatalf("notification: %+v, %v", res, err)
	}
	if ev := res.Events[0]; ev.Amount != hkd(12_30) || ev.Wallet != "" || ev.PaymentStatus != core.PaymentSucceeded {
		t.Errorf("event %+v", ev)
	}
}

func TestConfigure(t *testing.T) {
	e := newEnv(t)
	const secret = "0bd27702fb7566abc7e2684d03ee6097"
	for _, tc := range []struct {
		name   string
		extra  []string
		substr string
	}{
		{"USD currency", []string{"currency", "USD"}, "currency must be HKD"},
		{"bad gmt_return_format", []string{"gmt_return_format", "YYYY/MM/DD"}, "gmt_return_format must be one of"},
		{"bad it_b_pay", []string{"it_b_pay", "1.5h"}, "it_b_pay"},
		{"bad is_sync", []string{"refund_is_sync", "maybe"}, "refund_is_sync"},
		{"unknown setting", []string{"paymnet_inst", "ALIPAYHK"}, "unknown setting(s): paymnet_inst"},
		{"bad partner", []string{"partner", "1234"}, "partner must be 16 digits"},
		{"MD5 order string without key", []string{"order_sign_type", "MD5"}, "md5_key is not set"},
		{"MD5 without key", []string{"sign_type", "MD5", "private_key_file", ""}, "md5_key is required"},
		{"half SFTP", []string{"sftp_user", "merchant"}, "sftp_addr is not"},
		{"SFTP without known hosts", []string{"sftp_addr", "127.0.0.1:1", "sftp_user", "u", "sftp_password", secret}, "sftp_known_hosts_file is required"},
		{"bad private key", []string{"private_key_file", "-----BEGIN PRIVATE KEY-----\n" + secret + "\n-----END PRIVATE KEY-----"}, "private_key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.p.Configure(context.Background(), &core.ConfigureRequest{Account: "hk2", Settings: e.settings(tc.extra...)})
			if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), tc.substr) {
				t.Fatalf("error = %v, want ECONFIG containing %q", err, tc.substr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
	// A failed reconfiguration keeps the previous settings.
	if err := e.p.Configure(context.Background(), &core.ConfigureRequest{Account: "hk1", Settings: e.settings("currency", "EUR")}); err == nil {
		t.Fatal("EUR accepted")
	}
	e.create(t, "alipayhk", "STILL-OK", hkd(100))
	// No SFTP settings: reconciliation says what is missing.
	err := e.p.FetchSettlement(context.Background(), &core.SettlementRequest{Account: "hk1", From: time.Now(), To: time.Now()},
		func(*core.SettlementRecord) error { return nil })
	if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), "sftp_addr") {
		t.Fatalf("FetchSettlement without SFTP: %v", err)
	}
}

// TestMD5OrderStringDuringRotation: an account whose SDK order string is MD5-signed may list
// several md5_key values (a rotation); md5_signing_key names the key that signs it, since the
// buyer's wallet carries it to the gateway and nothing can sign it again.
func TestMD5OrderStringDuringRotation(t *testing.T) {
	e := newEnv(t)
	const other = "1234567890abcdef1234567890abcdef" // a throw-away test key
	for _, c := range []struct {
		signingKey, key string
	}{{"", other}, {"1", other}, {"2", mapisim.TestMD5Key}} {
		s := e.settings("sign_type", "MD5", "md5_key", other+","+mapisim.TestMD5Key, "order_sign_type", "MD5", "md5_signing_key", c.signingKey)
		if err := e.p.Configure(context.Background(), &core.ConfigureRequest{Account: "hk1", Settings: s}); err != nil {
			t.Fatalf("md5_signing_key %q: %v", c.signingKey, err)
		}
		os := e.create(t, "alipayhk", "MD5ORDER"+c.signingKey, hkd(100))
		pre, rest, ok := strings.Cut(os, `&sign="`)
		sig, _, _ := strings.Cut(rest, `"`)
		if !ok || !strings.HasSuffix(os, `&sign_type="MD5"`) {
			t.Fatalf("order string %q", os)
		}
		sig, _ = url.QueryUnescape(sig)
		m, _ := signing.NewMD5(c.key)
		if want, _ := m.Sign(pre); sig != want {
			t.Errorf("md5_signing_key %q: the order string is not signed with key %q", c.signingKey, c.key)
		}
	}
}
