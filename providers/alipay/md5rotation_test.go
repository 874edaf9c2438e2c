package alipay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapisim"
)

// gatewayTap records the requests that reach the simulator's gateway (their parameters) and
// the error code of each answer ("" for none), so that a test sees how often a call was sent,
// signed how, and what the gateway said.
type gatewayTap struct {
	mu   sync.Mutex
	reqs []tapped
}

type tapped struct {
	params url.Values
	code   string
}

type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (g *gatewayTap) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gateway.do" || r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		params, _ := url.ParseQuery(string(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		code := ""
		if _, rest, ok := strings.Cut(cw.body.String(), "<error>"); ok {
			code, _, _ = strings.Cut(rest, "</error>")
		}
		g.mu.Lock()
		g.reqs = append(g.reqs, tapped{params: params, code: code})
		g.mu.Unlock()
	})
}

// take returns the requests recorded since the last take.
func (g *gatewayTap) take() []tapped {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.reqs
	g.reqs = nil
	return out
}

func randomMD5Key(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b) // a throw-away test key
}

// TestMD5RotationResignsServerCalls: an MD5 account lists two keys while the gateway (mapisim,
// which holds one MD5 key and refuses any other signature with ILLEGAL_SIGN before doing
// anything) switches from the old to the new one. A query, refund, refund query or file
// download refused for its signature is signed again with the next listed key, with the same
// out_trade_no / out_return_no, and succeeds; the key that worked is tried first afterwards; a
// refusal for another reason is never sent again. md5_signing_key chooses the key that signs
// the payment pages. Controls: with md5_sign_refusal_codes none, or with the gateway's key not
// listed, the call fails with ILLEGAL_SIGN.
func TestMD5RotationResignsServerCalls(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	amount := core.Money{Value: 5000, Currency: "USD"}
	e.payApp(t, "md5rot-1", amount) // paid while the account is RSA2

	tap := &gatewayTap{}
	gw := httptest.NewServer(tap.wrap(e.sim.Handler()))
	t.Cleanup(gw.Close)
	oldKey, newKey, otherKey := mapisim.TestMD5Key, randomMD5Key(t), randomMD5Key(t)
	var fallbacks []string
	var fmu sync.Mutex
	configure := func(extra map[string]string) {
		t.Helper()
		s := map[string]string{"partner": testPartner, "gateway_url": gw.URL + "/gateway.do", "sign_type": "MD5",
			"currency": "USD", "timeout": "3s"}
		for k, v := range extra {
			s[k] = v
		}
		if err := e.p.Configure(ctx, &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
			t.Fatal(err)
		}
		a, err := e.p.account("acct")
		if err != nil {
			t.Fatal(err)
		}
		a.client.OnMD5Key = func(op string, refused, used int) {
			fmu.Lock()
			fallbacks = append(fallbacks, op)
			fmu.Unlock()
		}
	}
	// expect checks the gateway's answers to the requests of one call, in order.
	expect := func(what string, reqs []tapped, codes ...string) {
		t.Helper()
		var got []string
		for _, r := range reqs {
			got = append(got, r.code)
		}
		if !slices.Equal(got, codes) {
			t.Fatalf("%s: the gateway answered %q, want %q", what, got, codes)
		}
	}

	// 1. md5_key NEW,OLD, the gateway holds OLD: NEW is refused, OLD signs the same query again.
	configure(map[string]string{"md5_key": newKey + "," + oldKey})
	st, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "md5rot-1"})
	if err != nil || st.Status != core.PaymentSucceeded {
		t.Fatalf("query with the gateway's key second: %+v, %v", st, err)
	}
	reqs := tap.take()
	expect("query, first key refused", reqs, "ILLEGAL_SIGN", "")
	if reqs[0].params.Get("sign") == reqs[1].params.Get("sign") || reqs[0].params.Get("out_trade_no") != "md5rot-1" || reqs[1].params.Get("out_trade_no") != "md5rot-1" {
		t.Errorf("the retry is not the same request signed with another key: %v / %v", reqs[0], reqs[1])
	}
	// The key that worked is remembered: the next calls are sent once.
	if _, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "md5rot-1"}); err != nil {
		t.Fatal(err)
	}
	expect("query after the fallback", tap.take(), "")
	rs, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "md5rot-1", OutRefundNo: "md5rot-1-r1",
		Amount: core.Money{Value: 1000, Currency: "USD"}, PaymentAmount: amount})
	if err != nil || rs.Status != core.RefundSucceeded {
		t.Fatalf("refund with the remembered key: %+v, %v", rs, err)
	}
	expect("refund with the remembered key", tap.take(), "")

	// 2. The portal switches to NEW: the remembered OLD is refused, NEW signs the same refund
	// (same out_return_no) again, and the gateway refunds once.
	if err := e.sim.SetMD5Key(testPartner, newKey); err != nil {
		t.Fatal(err)
	}
	rs, err = e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "md5rot-1", OutRefundNo: "md5rot-1-r2",
		Amount: core.Money{Value: 700, Currency: "USD"}, PaymentAmount: amount})
	if err != nil || rs.Status != core.RefundSucceeded {
		t.Fatalf("refund after the portal switch: %+v, %v", rs, err)
	}
	reqs = tap.take()
	expect("refund after the switch", reqs, "ILLEGAL_SIGN", "")
	if reqs[0].params.Get("out_return_no") != "md5rot-1-r2" || reqs[1].params.Get("out_return_no") != "md5rot-1-r2" || reqs[0].params.Get("gmt_return") != reqs[1].params.Get("gmt_return") {
		t.Errorf("the refund was not sent again as the same request: %v / %v", reqs[0], reqs[1])
	}
	if refs := e.sim.RefundsOf(testPartner, "md5rot-1"); len(refs) != 2 || refs[1].OutReturnNo != "md5rot-1-r2" || refs[1].Amount != 700 {
		t.Fatalf("the gateway's refunds: %+v", refs)
	}
	q, err := e.p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "acct", OutTradeNo: "md5rot-1", OutRefundNo: "md5rot-1-r2"})
	if err != nil || q.Status != core.RefundSucceeded {
		t.Fatalf("refund query with the remembered key: %+v, %v", q, err)
	}
	expect("refund query with the remembered key", tap.take(), "")
	fmu.Lock()
	if len(fallbacks) != 2 || fallbacks[0] != ServiceQuery || fallbacks[1] != ServiceRefund {
		t.Errorf("OnMD5Key heard %v, want the query's and the refund's fallback", fallbacks)
	}
	fmu.Unlock()

	// 3. A refusal for any other reason is not sent again, with either key first.
	configure(map[string]string{"md5_key": oldKey + "," + newKey}) // OLD first: refused, then NEW
	_, err = e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "md5rot-1", OutRefundNo: "md5rot-1-r3",
		Amount: core.Money{Value: 9999, Currency: "USD"}, PaymentAmount: core.Money{Value: 99999, Currency: "USD"}})
	if core.ProviderCode(err) != "RETURN_AMOUNT_EXCEED" {
		t.Fatalf("refund over the amount: %v", err)
	}
	reqs = tap.take()
	expect("a refusal after the signature was accepted", reqs, "ILLEGAL_SIGN", "RETURN_AMOUNT_EXCEED")
	_, err = e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "nope", OutRefundNo: "nope-r1",
		Amount: core.Money{Value: 100, Currency: "USD"}})
	if core.ProviderCode(err) != "PURCHASE_TRADE_NOT_EXIST" {
		t.Fatalf("refund of an unknown trade: %v", err)
	}
	expect("a business refusal with the remembered key", tap.take(), "PURCHASE_TRADE_NOT_EXIST")

	// 4. A file (forex_rate_file) is fetched the same way: its refusal is an XML envelope.
	configure(map[string]string{"md5_key": oldKey + "," + newKey})
	if rates, err := e.p.FetchRates(ctx, "acct"); err != nil || len(rates) == 0 {
		t.Fatalf("rate file with the gateway's key second: %d rates, %v", len(rates), err)
	}
	expect("rate file", tap.take(), "ILLEGAL_SIGN", "")

	// 5. md5_signing_key picks the key of the payment page, which the gateway checks when the
	// buyer's browser opens it (nothing can sign it again).
	for _, c := range []struct {
		signingKey string
		ok         bool
	}{{"", false}, {"1", false}, {"2", true}} {
		configure(map[string]string{"md5_key": oldKey + "," + newKey, "md5_signing_key": c.signingKey})
		res, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "md5rot-page-" + c.signingKey + "x",
			Method: MethodID, Channel: core.ChannelH5, Amount: amount, Subject: "Tea", NotifyURL: e.notify, ReturnURL: "https://shop.example/done"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.sim.OpenH5(ctx, res.Action.Value)
		var se *mapisim.Error
		if c.ok && err != nil || !c.ok && (!errors.As(err, &se) || se.Code != "ILLEGAL_SIGN") {
			t.Errorf("page signed with md5_signing_key %q (gateway holds key 2): %v", c.signingKey, err)
		}
	}

	// Controls: the retry off, or the gateway's key not listed: the query fails, sent once per
	// tried key.
	configure(map[string]string{"md5_key": oldKey + "," + newKey, "md5_sign_refusal_codes": "none"})
	if _, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "md5rot-1"}); core.ProviderCode(err) != "ILLEGAL_SIGN" {
		t.Fatalf("control, retry off: %v", err)
	}
	expect("control, retry off", tap.take(), "ILLEGAL_SIGN")
	configure(map[string]string{"md5_key": oldKey + "," + otherKey})
	if _, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "md5rot-1"}); core.ProviderCode(err) != "ILLEGAL_SIGN" || core.ErrorCode(err) != core.ECONFIG {
		t.Fatalf("control, the gateway's key not listed: %v", err)
	}
	expect("control, the gateway's key not listed", tap.take(), "ILLEGAL_SIGN", "ILLEGAL_SIGN")
}
