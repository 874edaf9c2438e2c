package alipay

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapisim"
)

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLeak configures accounts whose secrets carry markers (an MD5 key, the private
// key pasted inline), drives every error path it can reach (bad settings, gateway refusals,
// 5xx, garbage and oversized answers, timeouts, bad and downgraded notifications, bad client
// results, file errors) and checks that no marker reaches an error string, a result or the log.
func TestSecretsNeverLeak(t *testing.T) {
	const md5Marker = "md5-SECRET-MARKER-0123456789abcdef"
	pem := string(mapisim.TestMerchantPrivateKeyPEM)
	pemLines := strings.Split(strings.TrimSpace(pem), "\n")
	markers := []string{md5Marker, pemLines[1], pemLines[len(pemLines)-2]}

	var mode string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "refused":
			fmt.Fprint(w, `<alipay><is_success>F</is_success><error>ILLEGAL_SIGN</error></alipay>`)
		case "sysexc":
			fmt.Fprint(w, `<alipay><is_success>F</is_success><error>SYSTEM_EXCEPTION</error></alipay>`)
		case "5xx":
			http.Error(w, "upstream "+r.URL.RawQuery, http.StatusBadGateway)
		case "garbage":
			fmt.Fprint(w, "<html>maintenance</html>")
		case "huge":
			fmt.Fprint(w, "<alipay>"+strings.Repeat("<a>x</a>", 200_000))
		case "badsign":
			fmt.Fprint(w, `<alipay><is_success>T</is_success><response><trade><trade_status>TRADE_FINISHED</trade_status></trade></response><sign>AAAA</sign><sign_type>RSA2</sign_type></alipay>`)
		case "slow":
			time.Sleep(600 * time.Millisecond)
		case "file":
			fmt.Fprint(w, "File download failed:"+r.PostFormValue("sign"))
		}
	}))
	t.Cleanup(gw.Close)

	logs := &syncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})
	p := New(WithLogger(logger), WithClock(func() time.Time { return fixedNow }))
	ctx := context.Background()
	var errs []string
	keep := func(what string, v any, err error) {
		if err != nil {
			errs = append(errs, what+": "+err.Error(), fmt.Sprintf("%s: %+v", what, err), core.ErrorMessage(err))
		}
		if v != nil {
			errs = append(errs, fmt.Sprintf("%s: %+v", what, v))
		}
	}

	good := baseSettings(t, gw.URL+"/gateway.do")
	good["private_key_file"] = pem
	good["md5_key"] = md5Marker
	good["timeout"] = "300ms"
	// Broken settings around the secrets.
	for name, mutate := range map[string]func(map[string]string){
		"pasted key with a typo": func(m map[string]string) { m["private_key_file"] = strings.ReplaceAll(pem, "-----BEGIN", "----BEGIN") },
		"key lines only":         func(m map[string]string) { m["private_key_file"] = strings.Join(pemLines[1:len(pemLines)-1], " ") },
		"md5 with bad sign type": func(m map[string]string) { m["sign_type"] = "MD6" },
		"md5 only, bad currency": func(m map[string]string) { m["sign_type"] = "MD5"; m["currency"] = "XXX" },
		"unknown setting":        func(m map[string]string) { m["md5key"] = md5Marker },
		"public key is private":  func(m map[string]string) { m["alipay_public_key_file"] = pem },
	} {
		raw := map[string]string{}
		for k, v := range good {
			raw[k] = v
		}
		mutate(raw)
		err := p.Configure(ctx, &core.ConfigureRequest{Account: "bad", Settings: raw})
		if err == nil {
			t.Errorf("%s: configured", name)
		}
		keep("configure "+name, nil, err)
	}
	if err := p.Configure(ctx, &core.ConfigureRequest{Account: "acct", Settings: good}); err != nil {
		t.Fatal(err)
	}

	for _, m := range []string{"refused", "sysexc", "5xx", "garbage", "huge", "badsign", "slow", "file"} {
		mode = m
		st, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "o-1"})
		keep("query "+m, st, err)
		rs, err := p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "o-1", OutRefundNo: "r-1", Amount: core.Money{Value: 100, Currency: "USD"}})
		keep("refund "+m, rs, err)
		err = p.FetchSettlement(ctx, &core.SettlementRequest{Account: "acct", From: fixedNow.AddDate(0, 0, -3), To: fixedNow.AddDate(0, 0, -2)}, func(*core.SettlementRecord) error { return nil })
		keep("settlement "+m, nil, err)
	}
	mode = "refused"
	for name, body := range map[string]string{
		"unsigned":      "notify_type=trade_status_sync&out_trade_no=o-1&trade_status=TRADE_FINISHED",
		"md5 downgrade": "notify_type=trade_status_sync&out_trade_no=o-1&trade_status=TRADE_FINISHED&sign=00&sign_type=MD5",
		"bad rsa":       "notify_type=trade_status_sync&out_trade_no=o-1&trade_status=TRADE_FINISHED&sign=AAAA&sign_type=RSA2",
		"garbage":       "%zz=%%",
		"huge":          strings.Repeat("a=b&", 40000),
	} {
		res, err := p.ParseNotification(ctx, &core.NotificationRequest{Account: "acct", Body: []byte(body),
			Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}})
		if err == nil && res.Verified {
			t.Errorf("notification %s verified", name)
		}
		keep("notification "+name, res, err)
	}
	for name, result := range map[string]map[string]string{
		"bad sign": {"resultStatus": "9000", "result": `partner="` + testPartner + `"&success="true"&sign_type="RSA"&sign="AAAA"`},
		"md5":      {"resultStatus": "9000", "result": `partner="` + testPartner + `"&success="true"&sign_type="MD5"&sign="00"`},
		"garbage":  {"resultStatus": "9000", "result": `&&=="`},
		"h5":       {"out_trade_no": "o-1", "sign": "AAAA", "sign_type": "MD5"},
	} {
		res, err := p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "o-1", Amount: core.Money{Value: 100, Currency: "USD"}, Result: result})
		if err == nil && res.Verified {
			t.Errorf("client result %s verified", name)
		}
		keep("client result "+name, res, err)
	}

	all := strings.Join(errs, "\n") + "\n" + logs.String()
	for _, m := range markers {
		if strings.Contains(all, m) {
			i := strings.Index(all, m)
			t.Errorf("secret %.12s... leaked: ...%s...", m, all[max(0, i-200):i])
		}
	}
	if !strings.Contains(logs.String(), "notification rejected") {
		t.Error("the log captured nothing: the test would not see a leak")
	}
}

// TestH5ReturnAmountRequired: a genuinely signed return that names no amount in the payment's
// pricing currency is not an echo of this payment (a CNY-priced payment needs rmb_fee).
func TestH5ReturnAmountRequired(t *testing.T) {
	p := configured(t, baseSettings(t, "https://gateway.test/gateway.do"))
	for _, tc := range []struct {
		name   string
		fields map[string]string
		amount core.Money
		ok     bool
	}{
		{"CNY with rmb_fee", map[string]string{"rmb_fee": "0.10", "total_fee": "0.02"}, core.Money{Value: 10, Currency: "CNY"}, true},
		{"CNY with rmb_fee 0.1", map[string]string{"rmb_fee": "0.1", "total_fee": "0.02"}, core.Money{Value: 10, Currency: "CNY"}, true},
		{"CNY without rmb_fee", map[string]string{"total_fee": "0.02"}, core.Money{Value: 10, Currency: "CNY"}, false},
		{"CNY, other rmb_fee", map[string]string{"rmb_fee": "0.11"}, core.Money{Value: 10, Currency: "CNY"}, false},
		{"USD", map[string]string{"total_fee": "0.10"}, core.Money{Value: 10, Currency: "USD"}, true},
		{"USD without total_fee", map[string]string{"rmb_fee": "0.10"}, core.Money{Value: 10, Currency: "USD"}, false},
	} {
		f := map[string]string{"out_trade_no": "o-1", "trade_no": "2026112200001", "trade_status": "TRADE_FINISHED", "currency": "USD"}
		for k, v := range tc.fields {
			f[k] = v
		}
		form, err := url.ParseQuery(string(signedNotification(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		result := map[string]string{}
		for k := range form {
			result[k] = form.Get(k)
		}
		res, err := p.VerifyClientResult(context.Background(), &core.ClientResultRequest{Account: "acct", OutTradeNo: "o-1", Amount: tc.amount, Result: result})
		if err != nil || res.Verified != tc.ok {
			t.Errorf("%s: verified=%v (%s), err %v; want %v", tc.name, res.Verified, res.Message, err, tc.ok)
		}
	}
}
