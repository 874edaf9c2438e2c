package mapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// fakeGateway answers like the mapi gateway would, checking the request's signature with the
// merchant's public key first; handle decides the answer.
func fakeGateway(t *testing.T, handle func(w http.ResponseWriter, form url.Values)) *httptest.Server {
	t.Helper()
	pub, err := signing.ParsePublicKey(readFile(t, keyPath("test-merchant-rsa2048-public.pem")))
	if err != nil {
		t.Fatal(err)
	}
	ver, _ := signing.NewRSAVerifier(signing.RSA2, pub)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		form := r.PostForm
		if form.Get("service") != "notify_verify" {
			fields := map[string]string{}
			for k := range form {
				fields[k] = form.Get(k)
			}
			if err := ver.Verify(signing.CanonicalB(fields), form.Get("sign")); err != nil {
				fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><alipay><is_success>F</is_success><error>ILLEGAL_SIGN</error></alipay>`)
				return
			}
		}
		handle(w, form)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func signedQueryXML(t testing.TB, status string) string {
	return signedXML(t, "trade", map[string]string{"out_trade_no": "o-1", "trade_no": "2026112200001", "trade_status": status, "total_fee": "10.00"})
}

// signedXML is a success envelope with fields under <response><elem>, signed RSA2 with the test
// Alipay key.
func signedXML(t testing.TB, elem string, fields map[string]string) string {
	sig, err := gatewaySigner(t, signing.RSA2).Sign(signing.CanonicalB(fields))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><alipay><is_success>T</is_success><response><` + elem + `>`)
	for k, v := range fields {
		fmt.Fprintf(&b, "<%s>%s</%s>", k, v, k)
	}
	fmt.Fprintf(&b, `</%s></response><sign>%s</sign><sign_type>RSA2</sign_type></alipay>`, elem, sig)
	return b.String()
}

func TestClientCall(t *testing.T) {
	var mode string
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) {
		switch mode {
		case "ok":
			fmt.Fprint(w, signedQueryXML(t, "TRADE_FINISHED"))
		case "tampered":
			fmt.Fprint(w, strings.Replace(signedQueryXML(t, "TRADE_FINISHED"), "10.00", "99.00", 1))
		case "notfound":
			fmt.Fprint(w, `<alipay><is_success>F</is_success><error>TRADE_NOT_EXIST</error></alipay>`)
		case "sysexc":
			fmt.Fprint(w, `<alipay><is_success>F</is_success><error>SYSTEM_EXCEPTION</error></alipay>`)
		case "500":
			http.Error(w, "boom", http.StatusBadGateway)
		case "html":
			fmt.Fprint(w, "<html>maintenance</html>")
		case "slow":
			time.Sleep(2 * time.Second)
			fmt.Fprint(w, signedQueryXML(t, "TRADE_FINISHED"))
		}
	})
	s, _ := rsaSettings(t, srv.URL+"/gateway.do")
	// Generous against a loaded machine (the handler signs with RSA); "slow" sleeps past it.
	s.Timeout = time.Second
	c := NewClient(s, nil)
	for _, tc := range []struct {
		mode, code, provider string
	}{
		{"ok", "", ""}, {"tampered", core.EUNKNOWN, ""}, {"notfound", core.ENOTFOUND, "TRADE_NOT_EXIST"},
		{"sysexc", core.EUNKNOWN, "SYSTEM_EXCEPTION"}, {"500", core.EUNKNOWN, ""}, {"html", core.EUNKNOWN, ""}, {"slow", core.EUNKNOWN, ""},
	} {
		mode = tc.mode
		r, err := c.Call(context.Background(), map[string]string{"service": "single_trade_query", "out_trade_no": "o-1"})
		if core.ErrorCode(err) != tc.code || core.ProviderCode(err) != tc.provider {
			t.Errorf("%s: err = %v, want code %q provider %q", tc.mode, err, tc.code, tc.provider)
		}
		if tc.mode == "ok" && (r == nil || r.Fields["trade_status"] != "TRADE_FINISHED") {
			t.Errorf("ok: response %+v", r)
		}
	}
	// A closed port never reached the gateway: unavailable, not unknown.
	srv.Close()
	if _, err := c.Call(context.Background(), map[string]string{"service": "single_trade_query"}); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Errorf("closed gateway: %v", err)
	}
}

func TestClientWrongKeyIsConfig(t *testing.T) {
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) { fmt.Fprint(w, signedQueryXML(t, "TRADE_FINISHED")) })
	raw := map[string]string{SetPartner: testPartner, SetGatewayURL: srv.URL, SetSignType: "RSA2",
		SetPrivateKeyFile: keyPath("test-alipay-rsa2048-DO-NOT-USE.pem"), SetPublicKeyFile: keyPath("test-alipay-rsa2048-public.pem")}
	s, err := ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClient(s, nil).Call(context.Background(), map[string]string{"service": "single_trade_query"})
	if core.ErrorCode(err) != core.ECONFIG || core.ProviderCode(err) != "ILLEGAL_SIGN" {
		t.Errorf("wrong merchant key: %v", err)
	}
}

func TestNotifyVerifyAndDownload(t *testing.T) {
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) {
		switch form.Get("service") {
		case "notify_verify":
			if form.Get("sign") != "" {
				t.Error("notify_verify was signed")
			}
			fmt.Fprint(w, map[string]string{"good": "true", "used": "false", "bad": "invalid", "odd": "maybe"}[form.Get("notify_id")])
		case ServiceCompareFile:
			if form.Get("start_date") == "20260101" {
				fmt.Fprint(w, string(readFile(t, "testdata/files/compare.txt")))
			} else {
				fmt.Fprint(w, "No balance account data in the period\r\n")
			}
		case ServiceLiquidationFile:
			fmt.Fprint(w, "File download failed:Over 10 days to Date period")
		case ServiceRateFile:
			fmt.Fprint(w, string(readFile(t, "testdata/files/rates.txt")))
		}
	})
	s, _ := rsaSettings(t, srv.URL+"/gateway.do")
	c := NewClient(s, nil)
	ctx := context.Background()
	for id, want := range map[string]bool{"good": true, "used": false, "bad": false} {
		if ok, err := c.NotifyVerify(ctx, id); err != nil || ok != want {
			t.Errorf("NotifyVerify(%s) = %v, %v", id, ok, err)
		}
	}
	if _, err := c.NotifyVerify(ctx, "odd"); err == nil {
		t.Error("odd notify_verify answer accepted")
	}
	var n int
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, Beijing)
	err := c.FetchSettlement(ctx, ServiceCompareFile, from, from.AddDate(0, 0, 24), func(*core.SettlementRecord) error { n++; return nil })
	if err != nil || n != 3 {
		t.Errorf("FetchSettlement: %d records, %v", n, err)
	}
	if err := c.FetchSettlement(ctx, ServiceLiquidationFile, from, from, func(*core.SettlementRecord) error { return nil }); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Errorf("file error text: %v", err)
	}
	rates, err := c.FetchRates(ctx)
	if err != nil || len(rates) != 3 || rates[1].Currency != "JPY" {
		t.Errorf("FetchRates = %v, %v", rates, err)
	}
}

func TestParseNotification(t *testing.T) {
	verifyAnswer := "true"
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) { fmt.Fprint(w, verifyAnswer) })
	s, raw := rsaSettings(t, srv.URL)
	s.NotifyVerify = true
	// Widened as accept_sign_types=RSA2,RSA,MD5 would: this test covers every algorithm;
	// TestSignTypeDowngrade covers the default.
	s.Accepted = []signing.SignType{signing.RSA2, signing.RSA, signing.MD5}
	c := NewClient(s, nil)
	md5, _ := signing.NewMD5(raw[SetMD5Key])
	body := func(signer signing.Signer, mutate func(url.Values), nid ...string) []byte {
		id := "nid-1"
		if len(nid) > 0 {
			id = nid[0]
		}
		fields := map[string]string{"notify_type": NotifyTrade, "notify_id": id, "notify_time": "2026-11-22 10:00:00",
			"out_trade_no": "o-1", "trade_no": "2026112200001", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD", "subject": "咖啡"}
		sig, _ := signer.Sign(signing.CanonicalB(fields))
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		v.Set("sign", sig)
		v.Set("sign_type", string(signer.Type()))
		if mutate != nil {
			mutate(v)
		}
		return []byte(v.Encode())
	}
	hdr := map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	for _, tc := range []struct {
		name     string
		body     []byte
		answer   string
		verified bool
		err      bool
	}{
		{"rsa2", body(gatewaySigner(t, signing.RSA2), nil), "true", true, false},
		{"rsa", body(gatewaySigner(t, signing.RSA), nil), "true", true, false},
		{"md5", body(md5, nil), "true", true, false},
		{"tampered", body(gatewaySigner(t, signing.RSA2), func(v url.Values) { v.Set("total_fee", "0.01") }), "true", false, false},
		{"added field", body(gatewaySigner(t, signing.RSA2), func(v url.Values) { v.Set("extra", "x") }), "true", false, false},
		{"no sign", body(md5, func(v url.Values) { v.Del("sign") }), "true", false, false},
		{"notify_verify false", body(md5, nil, "nid-2"), "false", false, false},
		{"notify_verify down", body(md5, nil, "nid-3"), "", false, true},
		{"garbage", []byte("%zz=1"), "true", false, false},
	} {
		verifyAnswer = tc.answer
		if tc.name == "notify_verify down" {
			c.S.Timeout = 50 * time.Millisecond
			verifyAnswer = "odd"
		}
		// Without Confirm nothing is asked: an authentic notification is Pending.
		first, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "acct", Header: hdr, Body: tc.body})
		if err != nil || first.Verified || first.Pending != (first.DedupeKey != "" && first.RejectReason != "" && len(first.Events) == 1) {
			t.Errorf("%s: without Confirm: %+v, %v", tc.name, first, err)
		}
		res, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "acct", Header: hdr, Body: tc.body, Confirm: true})
		c.S.Timeout = DefaultTimeout
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if err != nil {
			continue
		}
		if res.Verified != tc.verified {
			t.Errorf("%s: verified = %v (%s)", tc.name, res.Verified, res.RejectReason)
		}
		if tc.verified {
			if string(res.Ack.Body) != "success" || len(res.Events) != 1 || res.Events[0].Amount.Value != 1000 || res.DedupeKey != "acct:nid-1" {
				t.Errorf("%s: result %+v", tc.name, res)
			}
		} else if string(res.Ack.Body) == "success" || res.RejectReason == "" {
			t.Errorf("%s: rejected notification acked %q, reason %q", tc.name, res.Ack.Body, res.RejectReason)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	raw := map[string]string{SetPartner: testPartner, SetGatewayURL: "https://mapi.alipaydev.com/gateway.do", SetSignType: "MD5",
		SetMD5Key: "760bdzec6y9goq7ctyx96ezkz78287de"}
	s, err := ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The H5 MD5 vector of the protocol document (alipay-h5.md §6.4), public sandbox key.
	params := map[string]string{"service": "create_forex_trade_wap", "_input_charset": "utf-8", "notify_url": "https://example.com/notify",
		"subject": "product_name", "out_trade_no": "12345", "total_fee": "350.45", "currency": "USD", "supplier": "company_name"}
	u, err := NewClient(s, nil).RedirectURL(params)
	if err != nil {
		t.Fatal(err)
	}
	const want = "https://mapi.alipaydev.com/gateway.do?_input_charset=utf-8&currency=USD&notify_url=https%3A%2F%2Fexample.com%2Fnotify&out_trade_no=12345&partner=2088101122136241&service=create_forex_trade_wap&sign=c19f42a597963f118c4f99f2fc7f716f&sign_type=MD5&subject=product_name&supplier=company_name&total_fee=350.45"
	if u != want {
		t.Errorf("redirect URL\n got %s\nwant %s", u, want)
	}
}

func TestParseSettingsErrors(t *testing.T) {
	const secret = "test-md5-key-DO-NOT-USE-0123456789"
	base := func() map[string]string {
		return map[string]string{SetPartner: testPartner, SetGatewayURL: "https://gw.example/gateway.do", SetSignType: "RSA2",
			SetPrivateKeyFile: keyPath("test-merchant-rsa2048-DO-NOT-USE.pem"), SetPublicKeyFile: keyPath("test-alipay-rsa2048-public.pem")}
	}
	for _, tc := range []struct {
		name, mention string
		edit          func(m map[string]string)
	}{
		{"partner", SetPartner, func(m map[string]string) { m[SetPartner] = "12345" }},
		{"gateway", SetGatewayURL, func(m map[string]string) { m[SetGatewayURL] = "ftp://x" }},
		{"gateway query", SetGatewayURL, func(m map[string]string) { m[SetGatewayURL] = "https://x/gateway.do?a=b" }},
		{"sign type", SetSignType, func(m map[string]string) { m[SetSignType] = "DSA" }},
		{"no sign type", SetSignType, func(m map[string]string) { delete(m, SetSignType) }},
		{"md5 missing", SetMD5Key, func(m map[string]string) { m[SetSignType] = "MD5" }},
		{"no private", SetPrivateKeyFile, func(m map[string]string) { delete(m, SetPrivateKeyFile) }},
		{"no public", SetPublicKeyFile, func(m map[string]string) { delete(m, SetPublicKeyFile) }},
		{"missing file", SetPrivateKeyFile, func(m map[string]string) { m[SetPrivateKeyFile] = "/nonexistent/key.pem" }},
		{"public as private", SetPrivateKeyFile, func(m map[string]string) { m[SetPrivateKeyFile] = keyPath("test-alipay-rsa2048-public.pem") }},
		{"private as public", SetPublicKeyFile, func(m map[string]string) { m[SetPublicKeyFile] = keyPath("test-merchant-rsa2048-DO-NOT-USE.pem") }},
		{"unknown", "privat_key_file", func(m map[string]string) { m["privat_key_file"] = "x" }},
		{"bool", SetNotifyVerify, func(m map[string]string) { m[SetNotifyVerify] = "perhaps"; m[SetMD5Key] = secret }},
		{"timeout", SetTimeout, func(m map[string]string) { m[SetTimeout] = "forever" }},
		{"charset", SetInputCharset, func(m map[string]string) { m[SetInputCharset] = "GBK" }},
		{"ack", SetAckBody, func(m map[string]string) { m[SetAckBody] = "ok" }},
	} {
		m := base()
		tc.edit(m)
		_, err := ParseSettings(m)
		if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: %v (want ECONFIG naming %s)", tc.name, err, tc.mention)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks the MD5 key", tc.name)
		}
	}
	// Key content instead of a path (the host resolved file:), and bare base64.
	m := base()
	m[SetPrivateKeyFile] = string(readFile(t, keyPath("test-merchant-rsa2048-DO-NOT-USE.pem")))
	pem := string(readFile(t, keyPath("test-alipay-rsa2048-public.pem")))
	lines := strings.Split(strings.TrimSpace(pem), "\n")
	m[SetPublicKeyFile] = strings.Join(lines[1:len(lines)-1], "")
	s, err := ParseSettings(m)
	if err != nil {
		t.Fatal(err)
	}
	if s.SellerID != testPartner || s.Timeout != DefaultTimeout || !s.NotifyVerify || !s.RequireResponseSign || len(s.Warnings) != 0 {
		t.Errorf("defaults = %+v", s)
	}
	if strings.Contains(fmt.Sprint(s), "PRIVATE") {
		t.Error("settings print key material")
	}
	// A 1024-bit key works but warns.
	m = base()
	m[SetPrivateKeyFile] = keyPath("test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem")
	if s, err := ParseSettings(m); err != nil || len(s.Warnings) != 1 {
		t.Errorf("1024-bit key: %v, warnings %v", err, s)
	}
}

// TestDownloadBounds: a file answer over Client.MaxFileBytes is an error, not a silently
// truncated file; a file of exactly the limit passes; a rate file without end is refused.
func TestDownloadBounds(t *testing.T) {
	const line = "o-1|10.00|USD|20260101120000|20260102120000|P|0.10|S|\n"
	var lines int
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) {
		if form.Get("service") == ServiceRateFile {
			for i := 0; i < MaxRateLines+5; i++ {
				fmt.Fprint(w, "20260101|120000|USD|7.1\n")
			}
			return
		}
		fmt.Fprint(w, strings.Repeat(line, lines))
	})
	s, _ := rsaSettings(t, srv.URL+"/gateway.do")
	c := NewClient(s, nil)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, Beijing)
	for _, tc := range []struct {
		lines int
		code  string
	}{{10, ""}, {11, core.EUNAVAILABLE}, {100000, core.EUNAVAILABLE}} {
		c.MaxFileBytes = int64(10*len(line)) + 5 // the 11th line is cut: it must not reach the parser
		lines = tc.lines
		n := 0
		err := c.FetchSettlement(context.Background(), ServiceCompareFile, from, from, func(*core.SettlementRecord) error { n++; return nil })
		if core.ErrorCode(err) != tc.code || (tc.code == "" && n != tc.lines) {
			t.Errorf("%d lines: %d records, err %v; want code %q", tc.lines, n, err, tc.code)
		}
	}
	c.MaxFileBytes = 0
	if rates, err := c.FetchRates(context.Background()); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Errorf("endless rate file: %d rates, err %v", len(rates), err)
	}
}

// TestUnsignedLeafIgnored: a top-level leaf beside a signed <response> is outside the signature
// and must not become a field (here it would turn a closed trade into a paid one).
func TestUnsignedLeafIgnored(t *testing.T) {
	s, _ := rsaSettings(t, "https://gateway.test/gateway.do")
	body := strings.Replace(signedQueryXML(t, "TRADE_CLOSED"), "<is_success>T</is_success>",
		"<is_success>T</is_success><gmt_payment>2026-11-20 10:00:00</gmt_payment><currency>JPY</currency>", 1)
	r, err := ParseResponse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyResponse(s, r, true); err != nil {
		t.Fatalf("genuine signature over <response>: %v", err)
	}
	if _, ok := r.Fields["gmt_payment"]; ok {
		t.Errorf("unsigned top-level leaf became a field: %v", r.Fields)
	}
	st, err := TradeState(r.Fields, "USD")
	if err != nil || st.Status != core.PaymentClosed || st.Amount.Currency != "USD" {
		t.Errorf("TradeState = %+v, %v; want closed in USD", st, err)
	}
}
