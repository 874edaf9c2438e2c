package mapisim

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paymux/paymux/core/signing"
)

// paid creates and pays an order of partner and returns its trade_no.
func (e *env) paid(partner, outTradeNo, amount, currency string) string {
	e.t.Helper()
	p := e.orderParams(partner, outTradeNo, amount, currency)
	res, err := e.sim.PayOrderString(context.Background(), e.orderString(p, signing.RSA))
	if err != nil || res.ResultStatus != ResultSuccess {
		e.t.Fatalf("pay %s: %+v %v", outTradeNo, res, err)
	}
	o, _ := e.sim.Order(partner, outTradeNo)
	return o.TradeNo
}

func TestGatewayErrors(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "G1", "5.00", "USD")
	base := func() map[string]string {
		return map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "G1"}
	}
	tests := []struct {
		name  string
		query func() url.Values
		code  string
	}{
		{"ok RSA2", func() url.Values { return e.signed(base(), signing.RSA2) }, ""},
		{"ok RSA", func() url.Values { return e.signed(base(), signing.RSA) }, ""},
		{"ok MD5", func() url.Values { return e.signed(base(), signing.MD5) }, ""},
		{"unknown service", func() url.Values {
			p := base()
			p["service"] = "no_such_service"
			return e.signed(p, signing.RSA2)
		}, "ILLEGAL_SERVICE"},
		{"unknown partner", func() url.Values {
			p := base()
			p["partner"] = "2088999999999999"
			return e.signed(p, signing.RSA2)
		}, "ILLEGAL_PARTNER"},
		{"bad sign type", func() url.Values {
			q := e.signed(base(), signing.RSA2)
			q.Set("sign_type", "DSA")
			return q
		}, "ILLEGAL_SIGN_TYPE"},
		{"MD5 for a partner without MD5 key", func() url.Values {
			p := base()
			p["partner"] = hkPID
			return e.signed(p, signing.MD5)
		}, "ILLEGAL_SIGN_TYPE"},
		{"bad signature", func() url.Values {
			q := e.signed(base(), signing.RSA2)
			q.Set("out_trade_no", "G2")
			return q
		}, "ILLEGAL_SIGN"},
		{"missing signature", func() url.Values {
			q := e.signed(base(), signing.RSA2)
			q.Del("sign")
			return q
		}, "ILLEGAL_SIGN"},
		{"sign_type signed along (wrong)", func() url.Values {
			p := base()
			p["sign_type"] = "RSA2"
			q := url.Values{}
			for k, v := range p {
				q.Set(k, v)
			}
			sig, _ := e.merch.Sign("_input_charset=utf-8&out_trade_no=G1&partner=" + globalPID + "&service=single_trade_query&sign_type=RSA2")
			q.Set("sign", sig)
			return q
		}, "ILLEGAL_SIGN"},
		{"bad charset", func() url.Values {
			p := base()
			p["_input_charset"] = "latin1"
			return e.signed(p, signing.RSA2)
		}, "ILLEGAL_CHARSET"},
		{"no trade id", func() url.Values {
			p := base()
			delete(p, "out_trade_no")
			return e.signed(p, signing.RSA2)
		}, "ILLEGAL_ARGUMENT"},
		{"unknown trade", func() url.Values {
			p := base()
			p["out_trade_no"] = "NOPE"
			return e.signed(p, signing.RSA2)
		}, "TRADE_NOT_EXIST"},
		{"rate file refused to HK", func() url.Values {
			return e.signed(map[string]string{"service": "forex_rate_file", "partner": hkPID, "_input_charset": "utf-8"}, signing.RSA2)
		}, "HAS_NO_PRIVILEGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				q := tc.query()
				var resp *http.Response
				var err error
				if method == "GET" {
					resp, err = http.Get(e.gw.URL + "/gateway.do?" + q.Encode())
				} else {
					// POST: _input_charset in the URL, everything else in the body.
					cs := q.Get("_input_charset")
					q.Del("_input_charset")
					resp, err = http.Post(e.gw.URL+"/gateway.do?_input_charset="+url.QueryEscape(cs), "application/x-www-form-urlencoded", strings.NewReader(q.Encode()))
				}
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				env, _ := parseEnvelope(t, string(b))
				if tc.code == "" {
					if env.IsSuccess != "T" {
						t.Fatalf("%s: %s", method, b)
					}
					continue
				}
				if env.IsSuccess != "F" || env.Error != tc.code {
					t.Fatalf("%s: got %s, want error %s", method, b, tc.code)
				}
			}
		})
	}
}

func TestResponseSignedWithRequestSignType(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "S1", "5.00", "USD")
	for _, st := range []signing.SignType{signing.RSA, signing.RSA2, signing.MD5} {
		_, body := e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "S1"}, st)
		env, f := parseEnvelope(t, body)
		if env.SignType != string(st) {
			t.Fatalf("%s: sign_type %s", st, env.SignType)
		}
		f["sign_type"], f["sign"] = env.SignType, env.Sign
		if err := e.verifyFields(f); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		echo := map[string]string{}
		for _, p := range env.Request.Params {
			echo[p.Name] = p.Value
		}
		if echo["out_trade_no"] != "S1" || echo["service"] != "single_trade_query" || echo["sign"] != "" {
			t.Fatalf("request echo: %v", echo)
		}
	}
}

func TestQueryBeforeBuyerPays(t *testing.T) {
	e := newEnv(t, Config{TimeScale: 1}) // A1 must not reach its it_b_pay expiry
	// H5 redirect that the buyer has not completed: no trade yet.
	p := map[string]string{"service": "create_forex_trade_wap", "partner": globalPID, "_input_charset": "utf-8",
		"out_trade_no": "W1", "subject": "Shoes", "total_fee": "20.00", "currency": "USD", "notify_url": e.notifyURL(),
		"return_url": "https://merchant.example/return", "product_code": "NEW_WAP_OVERSEAS_SELLER"}
	link := e.gw.URL + "/gateway.do?" + e.signed(p, signing.RSA2).Encode()
	if _, err := e.sim.OpenH5(context.Background(), link); err != nil {
		t.Fatal(err)
	}
	_, body := e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "W1"}, signing.RSA2)
	if env, _ := parseEnvelope(t, body); env.Error != "TRADE_NOT_EXIST" {
		t.Fatalf("before payment: %s", body)
	}
	// The app flow: an opened-but-unpaid order exists as WAIT_BUYER_PAY.
	if _, err := e.sim.OpenOrderString(context.Background(), e.orderString(e.orderParams(globalPID, "A1", "1.00", "USD"), signing.RSA)); err != nil {
		t.Fatal(err)
	}
	_, body = e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "A1"}, signing.RSA2)
	if _, f := parseEnvelope(t, body); f["trade_status"] != "WAIT_BUYER_PAY" {
		t.Fatalf("opened app order: %s", body)
	}
}

func TestH5CashierOverHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	p := map[string]string{"service": "create_forex_trade_wap", "partner": hkPID, "_input_charset": "UTF-8",
		"out_trade_no": "H5-1", "subject": "Milk tea", "total_fee": "38.00", "currency": "HKD", "notify_url": e.notifyURL(),
		"return_url": "https://merchant.example/return", "payment_inst": "ALIPAYHK", "product_code": "NEW_WAP_OVERSEAS_SELLER"}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := client.Get(e.gw.URL + "/gateway.do?" + e.signed(p, signing.RSA2).Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/cashier/") {
		t.Fatalf("redirect: %d %q", resp.StatusCode, loc)
	}
	resp, err = client.Get(e.gw.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Merchant " + hkPID, "Milk tea", "38.00 HKD", ">Pay</button>", ">Cancel</button>", "AlipayHK"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("cashier page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "<script") {
		t.Error("cashier page must work without JavaScript")
	}
	resp, err = client.Post(e.gw.URL+loc+"/pay", "application/x-www-form-urlencoded", strings.NewReader("action=pay"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ret, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || ret.Host != "merchant.example" {
		t.Fatalf("return redirect: %d %v", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := map[string]string{}
	for k, v := range ret.Query() {
		q[k] = v[0]
	}
	if q["trade_status"] != "TRADE_FINISHED" || q["total_fee"] != "38.00" || q["currency"] != "HKD" || q["out_trade_no"] != "H5-1" || q["trade_no"] == "" {
		t.Fatalf("return params: %v", q)
	}
	if err := e.verifyFields(q); err != nil {
		t.Fatalf("return signature: %v", err)
	}
	e.waitIdle()
	if n := e.got(); len(n) != 1 || n[0]["trade_no"] != q["trade_no"] {
		t.Fatalf("notifications: %v", n)
	}
	// A bad signature gives the HTML error page, HTTP 200, code in div.Todo.
	bad := e.signed(p, signing.RSA2)
	bad.Set("total_fee", "1.00")
	resp, err = client.Get(e.gw.URL + "/gateway.do?" + bad.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<div class="Todo">`) || !strings.Contains(string(page), "ILLEGAL_SIGN") {
		t.Fatalf("error page: %d %s", resp.StatusCode, page)
	}
	// Cancel leaves the order unpaid and links back to the merchant.
	p["out_trade_no"] = "H5-2"
	resp, _ = client.Get(e.gw.URL + "/gateway.do?" + e.signed(p, signing.RSA2).Encode())
	resp.Body.Close()
	resp, err = client.Post(e.gw.URL+resp.Header.Get("Location")+"/cancel", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if o, _ := e.sim.Order(hkPID, "H5-2"); o.Status != StatusWaitBuyerPay || !strings.Contains(string(page), "https://merchant.example/return") {
		t.Fatalf("after cancel: %+v", o)
	}
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t, Config{})
	post := func(path, ct, body string) (int, string) {
		resp, err := http.Post(e.gw.URL+path, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	os := e.orderString(e.orderParams(globalPID, "CT1", "3.00", "USD"), signing.RSA)
	if st, b := post("/sim/cancel", "text/plain", os); st != 200 || !strings.Contains(b, `"6001"`) {
		t.Fatalf("cancel: %d %s", st, b)
	}
	if st, b := post("/sim/pay", "application/json", `{"order_string":`+jsonString(os)+`}`); st != 200 || !strings.Contains(b, `"9000"`) {
		t.Fatalf("pay: %d %s", st, b)
	}
	if st, b := post("/sim/pay", "text/plain", "garbage"); st != 200 || !strings.Contains(b, `"4000"`) || !strings.Contains(b, "ILLEGAL_ARGUMENT") {
		t.Fatalf("garbage: %d %s", st, b)
	}
	if st, b := post("/sim/wait-idle?timeout=10s", "", ""); st != 200 {
		t.Fatalf("wait-idle: %d %s", st, b)
	}
	resp, err := http.Get(e.gw.URL + "/sim/deliveries?out_trade_no=CT1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"state": "delivered"`) {
		t.Fatalf("deliveries: %s", b)
	}
	if st, b := post("/sim/faults", "application/json", `{"kind":"status","service":"single_trade_query","status":502,"count":1}`); st != 201 {
		t.Fatalf("fault: %d %s", st, b)
	}
	if st, _ := e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "CT1"}, signing.RSA2); st != 502 {
		t.Fatalf("fault not applied: %d", st)
	}
	if st, _ := e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "CT1"}, signing.RSA2); st != 200 {
		t.Fatalf("count=1 fault fired twice: %d", st)
	}
	if st, b := post("/sim/faults", "application/json", `{"kind":"nope"}`); st != 400 {
		t.Fatalf("bad fault: %d %s", st, b)
	}
	resp, _ = http.Get(e.gw.URL + "/sim/alipay-public-key")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != string(e.sim.AlipayPublicKeyPEM()) {
		t.Fatal("public key endpoint")
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// A GBK request is signed over GBK bytes; the gateway decodes it and verifies over the same bytes.
func TestGBKRequest(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "G1", "1.00", "USD")
	gbk := func(s string) string { g, _ := simplifiedchinese.GBK.NewEncoder().String(s); return g }
	p := map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "gbk", "out_trade_no": "G1", "memo": "测试"}
	sig, _ := e.md5.Sign(gbk(signing.CanonicalB(p)))
	body := "partner=" + globalPID + "&service=single_trade_query&out_trade_no=G1&memo=" + url.QueryEscape(gbk("测试")) +
		"&sign_type=MD5&sign=" + sig
	resp, err := http.Post(e.gw.URL+"/gateway.do?_input_charset=gbk", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if env, _ := parseEnvelope(t, string(b)); env.IsSuccess != "T" {
		t.Fatalf("GBK request: %s", b)
	}
}

func TestErrorFaultAndMissingCharset(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "EF", "1.00", "USD")
	q := map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "EF"}
	e.sim.SetFault(Fault{Kind: FaultError, Service: "single_trade_query", Count: 1})
	if _, body := e.call(q, signing.RSA2); !strings.Contains(body, "<error>SYSTEM_EXCEPTION</error>") {
		t.Fatalf("error fault: %s", body)
	}
	if _, body := e.call(q, signing.RSA2); !strings.Contains(body, "<is_success>T</is_success>") {
		t.Fatalf("after the fault: %s", body)
	}
	delete(q, "_input_charset")
	if _, body := e.call(q, signing.RSA2); !strings.Contains(body, "<error>ILLEGAL_ARGUMENT</error>") {
		t.Fatalf("missing _input_charset: %s", body)
	}
}

func TestExpireOrderControl(t *testing.T) {
	e := newEnv(t, Config{TimeScale: 1})
	if _, err := e.sim.OpenOrderString(context.Background(), e.orderString(e.orderParams(globalPID, "X1", "1.00", "USD"), signing.RSA)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.gw.URL+"/sim/orders/"+globalPID+"/X1/expire", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if o, _ := e.sim.Order(globalPID, "X1"); o.Status != StatusTradeClosed {
		t.Fatalf("%+v", o)
	}
	if e.sim.ExpireOrder(globalPID, "X1") {
		t.Fatal("a closed order expired twice")
	}
	e.waitIdle()
	if n := e.got(); len(n) != 1 || n[0]["trade_status"] != "TRADE_CLOSED" {
		t.Fatalf("%v", n)
	}
}
