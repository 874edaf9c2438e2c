package alipay

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapi"
	"github.com/paymux/paymux/providers/mapisim"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testPartner = "2088101122136241"

// fixedNow is the clock of the unit tests: 2026-11-22 10:00:00 Beijing.
var fixedNow = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

func keyFiles(t testing.TB, alipayPub []byte) (priv, pub string) {
	t.Helper()
	dir := t.TempDir()
	priv = filepath.Join(dir, "test-merchant-DO-NOT-USE.pem")
	pub = filepath.Join(dir, "test-alipay-public.pem")
	if err := os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, alipayPub, 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func baseSettings(t testing.TB, gateway string) map[string]string {
	priv, pub := keyFiles(t, mapisim.TestAlipayPublicKeyPEM)
	return map[string]string{
		"partner": testPartner, "gateway_url": gateway, "sign_type": "RSA2",
		"private_key_file": priv, "alipay_public_key_file": pub, "currency": "USD",
	}
}

func configured(t testing.TB, settings map[string]string) *Provider {
	t.Helper()
	p := New(WithClock(func() time.Time { return fixedNow }))
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "acct", Settings: settings}); err != nil {
		t.Fatal(err)
	}
	return p
}

func appRequest() *core.CreatePaymentRequest {
	return &core.CreatePaymentRequest{
		Account: "acct", PaymentID: "pay_1", OutTradeNo: "order-1001", Method: MethodID, Channel: core.ChannelApp,
		Amount: core.Money{Value: 1999, Currency: "USD"}, Subject: "Coffee beans", Description: "1 kg",
		NotifyURL: "https://merchant.example/notify/acct", ExpiresAt: fixedNow.Add(90 * time.Minute),
	}
}

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Has(core.CapClose) || !d.Has(core.CapSettlement) || !d.Has(core.CapClientResult) || !d.Has(core.CapMultipleRefund) {
		t.Errorf("capabilities = %v", d.Capabilities)
	}
	m, ok := d.Method(MethodID)
	if !ok || !m.HasChannel(core.ChannelApp) || !m.HasChannel(core.ChannelH5) {
		t.Fatalf("method = %+v", m)
	}
	for _, c := range []struct {
		m  core.Money
		ok bool
	}{
		{core.Money{Value: 1, Currency: "USD"}, true}, {core.Money{Value: 100_000_000, Currency: "USD"}, true},
		{core.Money{Value: 100_000_001, Currency: "USD"}, false}, {core.Money{Value: 1_000_000, Currency: "JPY"}, true},
		{core.Money{Value: 1_000_001, Currency: "KRW"}, false}, {core.Money{Value: 5, Currency: "CNY"}, true},
		{core.Money{Value: 5, Currency: "BRL"}, false},
	} {
		if err := m.CheckAmount(c.m); (err == nil) != c.ok {
			t.Errorf("CheckAmount(%s) = %v", c.m, err)
		}
	}
	// Only CNY (rmb_fee) is reported in the settlement currency; every other currency's
	// reported amounts stay comparable.
	for _, r := range m.AmountRules {
		if r.ReportedInSettlement != (r.Currency == "CNY") {
			t.Errorf("rule %s: ReportedInSettlement = %v", r.Currency, r.ReportedInSettlement)
		}
	}
	if d.DefaultExpiry != 30*time.Minute || len(d.QuerySchedule) == 0 {
		t.Errorf("expiry %v, schedule %v", d.DefaultExpiry, d.QuerySchedule)
	}
}

func TestConfigureErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value, mention string
	}{
		{"currency", "", "currency"}, {"currency", "CNY", "currency"}, {"currency", "BRL", "currency"},
		{"it_b_pay", "1.5h", "it_b_pay"}, {"it_b_pay", "16d", "it_b_pay"}, {"app_sign_type", "MD5", "app_sign_type"},
		{"refund_is_sync", "maybe", "refund_is_sync"}, {"h5_timeout_rule", "soon", "h5_timeout_rule"},
		{"settlement_file", "both", "settlement_file"}, {"product_code", "new wap", "product_code"},
		{"split_fund_info_quotes", "double", "split_fund_info_quotes"}, {"partner", "2099", "partner"},
		{"notify_verfy", "true", "notify_verfy"},
	} {
		s := baseSettings(t, "https://gw.example/gateway.do")
		s[tc.key] = tc.value
		err := New().Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: s})
		if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), tc.mention) {
			t.Errorf("%s=%q: %v", tc.key, tc.value, err)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: error shows key material", tc.key)
		}
	}
	if _, err := New().CreatePayment(context.Background(), appRequest()); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("unconfigured account: %v", err)
	}
}

// TestAppOrderStringGolden pins the whole order string (RSA signatures are deterministic).
func TestAppOrderStringGolden(t *testing.T) {
	p := configured(t, baseSettings(t, "https://gw.example/gateway.do"))
	req := appRequest()
	req.Extras = map[string]string{
		"trade_information": `{"business_type":"4","goods_info":"Coffee^1","total_quantity":"1"}`,
		"refer_url":         "https://merchant.example", "secondary_merchant_id": "A80001",
		"secondary_merchant_name": "Muku", "secondary_merchant_industry": "5499",
	}
	res, err := p.CreatePayment(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action.Type != core.ActionSDKOrderString {
		t.Fatalf("action type %s", res.Action.Type)
	}
	golden(t, "app-order.golden", res.Action.Value)
	fields, err := mapi.ParseOrderString(res.Action.Value)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fields {
		got[f[0]] = f[1]
	}
	for k, want := range map[string]string{
		"service": ServiceApp, "partner": testPartner, "seller_id": testPartner, "total_fee": "19.99", "currency": "USD",
		"it_b_pay": "90m", "forex_biz": "FP", "payment_type": "1", "product_code": "NEW_WAP_OVERSEAS_SELLER",
		"_input_charset": "UTF-8", "sign_type": "RSA", "secondary_merchant_industry": "5499", "body": "1 kg",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if fields[len(fields)-1][0] != "sign_type" || fields[len(fields)-2][0] != "sign" {
		t.Errorf("sign and sign_type must come last")
	}
	// The signature is over the Format A string and made with the merchant key (SHA1withRSA).
	pub, _ := signing.ParsePublicKey(mapisim.TestMerchantPublicKeyPEM)
	v, _ := signing.NewRSAVerifier(signing.RSA, pub)
	sig, _ := url.QueryUnescape(got["sign"])
	if err := v.Verify(res.Action.Value[:strings.Index(res.Action.Value, `&sign="`)], sig); err != nil {
		t.Errorf("order string signature: %v", err)
	}
}

func TestAppPricing(t *testing.T) {
	s := baseSettings(t, "https://gw.example/gateway.do")
	s["app_sign_type"] = "RSA2"
	s["it_b_pay"] = "2h"
	p := configured(t, s)
	req := appRequest()
	req.Amount = core.Money{Value: 10030, Currency: "CNY"}
	req.ExpiresAt = time.Time{}
	res, err := p.CreatePayment(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`rmb_fee="100.30"`, `currency="USD"`, `it_b_pay="2h"`, `&sign_type="RSA2"`} {
		if !strings.Contains(res.Action.Value, want) {
			t.Errorf("order string lacks %s", want)
		}
	}
	if strings.Contains(res.Action.Value, "total_fee") {
		t.Error("rmb_fee and total_fee are exclusive")
	}
	for name, mutate := range map[string]func(r *core.CreatePaymentRequest){
		"other currency": func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 100, Currency: "EUR"} },
		"over max":       func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 100_000_001, Currency: "USD"} },
		"zero":           func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 0, Currency: "USD"} },
		"unknown extra":  func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{"hb_fq_param": "x", "zz": "y"} },
		"bad trade info": func(r *core.CreatePaymentRequest) {
			r.Extras = map[string]string{"trade_information": `{"business_type":"9"}`}
		},
		"trade info json": func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{"trade_information": `not json`} },
		"bad refer":       func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{"refer_url": "merchant.example"} },
		"bad mcc":         func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{"secondary_merchant_industry": "54"} },
		"split too much": func(r *core.CreatePaymentRequest) {
			r.Extras = map[string]string{"split_fund_info": `[{"transIn":"2088101122136242","amount":"20.00","currency":"USD","desc":"fee"}]`}
		},
		"split currency": func(r *core.CreatePaymentRequest) {
			r.Extras = map[string]string{"split_fund_info": `[{"transIn":"2088101122136242","amount":"1.00","currency":"EUR"}]`}
		},
		"quote in subject": func(r *core.CreatePaymentRequest) { r.Subject = `the "best"` },
		"key in subject":   func(r *core.CreatePaymentRequest) { r.Subject = "total_fee=0.01" },
		"no subject":       func(r *core.CreatePaymentRequest) { r.Subject = "" },
		"notify query":     func(r *core.CreatePaymentRequest) { r.NotifyURL = "https://m.example/n?x=1" },
		"expiry past":      func(r *core.CreatePaymentRequest) { r.ExpiresAt = fixedNow.Add(-time.Minute) },
		"expiry far":       func(r *core.CreatePaymentRequest) { r.ExpiresAt = fixedNow.Add(16 * 24 * time.Hour) },
		"bad out_trade_no": func(r *core.CreatePaymentRequest) { r.OutTradeNo = "a b" },
		"bad channel":      func(r *core.CreatePaymentRequest) { r.Channel = "qr" },
		"bad method":       func(r *core.CreatePaymentRequest) { r.Method = "alipayhk" },
	} {
		r := appRequest()
		mutate(r)
		_, err := p.CreatePayment(context.Background(), r)
		if core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
		if name == "unknown extra" && (err == nil || !strings.Contains(err.Error(), "hb_fq_param, zz")) {
			t.Errorf("unknown extras are not named: %v", err)
		}
	}
	r := appRequest()
	r.Extras = map[string]string{"split_fund_info": `[{"transIn":"2088101122136242","amount":"1.00","currency":"USD","desc":"fee"}]`}
	if _, err := p.CreatePayment(context.Background(), r); err != nil {
		t.Errorf("valid split_fund_info: %v", err)
	}
}

func TestH5RedirectURL(t *testing.T) {
	s := baseSettings(t, "https://gw.example/gateway.do")
	s["h5_timeout_rule"] = "30m"
	s["h5_app_pay"] = "true"
	p := configured(t, s)
	req := appRequest()
	req.Channel = core.ChannelH5
	req.ReturnURL = "https://merchant.example/return"
	res, err := p.CreatePayment(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(res.Action.Value)
	if err != nil || res.Action.Type != core.ActionRedirectURL || u.Host != "gw.example" {
		t.Fatalf("action = %+v", res.Action)
	}
	q := u.Query()
	// The payment expires in 90 minutes: 30m is the account's cap; anchored at creation.
	for k, want := range map[string]string{"service": ServiceH5, "return_url": req.ReturnURL, "timeout_rule": "30m", "app_pay": "Y",
		"order_create": strconv.FormatInt(fixedNow.Unix(), 10),
		"sign_type":    "RSA2", "total_fee": "19.99", "product_code": "NEW_WAP_OVERSEAS_SELLER"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("it_b_pay") != "" {
		t.Error("it_b_pay is an app parameter")
	}
	fields := map[string]string{}
	for k := range q {
		fields[k] = q.Get(k)
	}
	pub, _ := signing.ParsePublicKey(mapisim.TestMerchantPublicKeyPEM)
	v, _ := signing.NewRSAVerifier(signing.RSA2, pub)
	if err := v.Verify(signing.CanonicalB(fields), fields["sign"]); err != nil {
		t.Errorf("redirect signature: %v", err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(string(want), "\n") != got {
		t.Errorf("%s differs:\n got %s\nwant %s", name, got, want)
	}
}

// TestRefundParameters pins what forex_refund sends: gmt_return in Beijing time, the amount
// field by pricing, the settlement currency, is_sync by setting, a reason without quotes.
func TestRefundParameters(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm
		fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><alipay><is_success>T</is_success></alipay>`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		sync   string
		amount core.Money
		field  string
		value  string
		status core.RefundStatus
	}{
		{"true", core.Money{Value: 550, Currency: "USD"}, "return_amount", "5.50", core.RefundSucceeded},
		{"false", core.Money{Value: 1000, Currency: "CNY"}, "return_rmb_amount", "10.00", core.RefundProcessing},
	} {
		s := baseSettings(t, srv.URL+"/gateway.do")
		s["refund_is_sync"] = tc.sync
		p := configured(t, s)
		st, err := p.Refund(context.Background(), &core.RefundRequest{Account: "acct", OutTradeNo: "order-1001", OutRefundNo: "refund-1",
			Amount: tc.amount, Reason: "damaged \"box\"\n", NotifyURL: "https://merchant.example/notify/acct"})
		if err != nil || st.Status != tc.status {
			t.Fatalf("refund: %+v, %v", st, err)
		}
		want := map[string]string{"service": ServiceRefund, "gmt_return": "20261122100000", "currency": "USD", tc.field: tc.value,
			"is_sync": map[string]string{"true": "Y", "false": "N"}[tc.sync], "reason": "damaged box ", "out_return_no": "refund-1",
			"product_code": "NEW_WAP_OVERSEAS_SELLER", "partner": testPartner, "sign_type": "RSA2", "notify_url": "https://merchant.example/notify/acct"}
		for k, v := range want {
			if got.Get(k) != v {
				t.Errorf("sync=%s: %s = %q, want %q", tc.sync, k, got.Get(k), v)
			}
		}
	}
}

// TestH5TimeoutFromExpiry: the wallet must close an unpaid H5 trade no later than paymux expires
// the payment: timeout_rule is the time left rounded down to whole minutes, with the anchor the
// account names.
func TestH5TimeoutFromExpiry(t *testing.T) {
	for _, tc := range []struct {
		left   time.Duration
		anchor string
		want   map[string]string
	}{
		{90*time.Minute + 59*time.Second, "", map[string]string{"timeout_rule": "90m", "order_create": strconv.FormatInt(fixedNow.Unix(), 10)}},
		{2 * time.Hour, "order_gmt_create", map[string]string{"timeout_rule": "2h", "order_gmt_create": fixedNow.In(mapi.Beijing).Format(mapi.LayoutDateTime), "order_valid_time": "7200"}},
		{24 * time.Hour, "none", map[string]string{"timeout_rule": "1d", "order_create": "", "order_gmt_create": ""}},
	} {
		s := baseSettings(t, "https://gw.example/gateway.do")
		if tc.anchor != "" {
			s["h5_timeout_anchor"] = tc.anchor
		}
		p := configured(t, s)
		req := appRequest()
		req.Channel = core.ChannelH5
		req.ExpiresAt = fixedNow.Add(tc.left)
		res, err := p.CreatePayment(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(res.Action.Value)
		for k, want := range tc.want {
			if got := u.Query().Get(k); got != want {
				t.Errorf("expiry in %s, anchor %q: %s = %q, want %q", tc.left, tc.anchor, k, got, want)
			}
		}
	}
	req := appRequest()
	req.Channel = core.ChannelH5
	req.ExpiresAt = fixedNow.Add(30 * time.Second)
	if _, err := configured(t, baseSettings(t, "https://gw.example/gateway.do")).CreatePayment(context.Background(), req); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("expiry in 30s: %v", err)
	}
}
