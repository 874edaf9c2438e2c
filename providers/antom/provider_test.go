package antom_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/antom"
	"github.com/paymux/paymux/providers/antomsim"
)

// env is a configured provider on a fresh simulator.
type env struct {
	*simFixture
	p   *antom.Provider
	ctx context.Context
	n   int
}

func newEnv(t *testing.T, extra map[string]string) *env {
	f := newSim(t, antomsim.Config{Seed: 9})
	for k, v := range extra {
		f.settings[k] = v
	}
	e := &env{simFixture: f, p: antom.New(), ctx: context.Background()}
	if err := e.p.Configure(e.ctx, &core.ConfigureRequest{Account: "acct", Settings: f.settings}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) req(method string, ch core.Channel, m core.Money) *core.CreatePaymentRequest {
	e.n++
	return &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "pmxT" + time.Now().Format("150405.000000") + string(rune('a'+e.n%26)),
		Method: method, Channel: ch, Amount: m, Subject: "test", ReturnURL: "https://shop.example/r", ExpiresAt: time.Now().Add(10 * time.Minute)}
}

var php = core.Money{Value: 150000, Currency: "PHP"}

// paid creates a GCash payment and pays it on the wallet page.
func (e *env) paid(t *testing.T) (*core.CreatePaymentRequest, *core.CreatePaymentResult) {
	t.Helper()
	r := e.req("gcash", core.ChannelH5, php)
	res, err := e.p.CreatePayment(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.PayAction(e.ctx, res.Action, antomsim.DecisionPay); err != nil {
		t.Fatal(err)
	}
	return r, res
}

func (e *env) fault(t *testing.T, kind antomsim.FaultKind, api string) func() {
	id, err := e.sim.SetFault(antomsim.Fault{Kind: kind, API: api})
	if err != nil {
		t.Fatal(err)
	}
	return func() { e.sim.RemoveFault(id) }
}

func TestNextActionPerChannel(t *testing.T) {
	e := newEnv(t, nil)
	app, err := e.p.CreatePayment(e.ctx, e.req("kakaopay", core.ChannelApp, core.Money{Value: 5000, Currency: "KRW"}))
	if err != nil {
		t.Fatal(err)
	}
	a := app.Action
	if a.Type != core.ActionAppLink || a.AppIdentifier == "" || len(a.Fallbacks) != 2 ||
		a.Fallbacks[0].Type != core.ActionDeepLink || a.Fallbacks[1].Type != core.ActionRedirectURL || a.Fallbacks[1].AppIdentifier != "" {
		t.Errorf("app action %+v", a)
	}
	h5, err := e.p.CreatePayment(e.ctx, e.req("gcash", core.ChannelH5, php))
	if err != nil {
		t.Fatal(err)
	}
	if h5.Action.Type != core.ActionAppLink || len(h5.Action.Fallbacks) != 2 || h5.Action.Fallbacks[0].Type != core.ActionRedirectURL || h5.Action.Fallbacks[1].Type != core.ActionDeepLink {
		t.Errorf("h5 action %+v", h5.Action)
	}
	web, err := e.p.CreatePayment(e.ctx, e.req("truemoney", core.ChannelWeb, core.Money{Value: 9900, Currency: "THB"}))
	if err != nil {
		t.Fatal(err)
	}
	if web.Action.Type != core.ActionRedirectURL || len(web.Action.Fallbacks) != 1 || web.Action.Fallbacks[0].Type != core.ActionQRCode {
		t.Errorf("web action %+v", web.Action)
	}
	r := e.req("truemoney", core.ChannelWeb, core.Money{Value: 9900, Currency: "THB"})
	r.Extras = map[string]string{antom.ExtraQRFirst: "true"}
	qr, err := e.p.CreatePayment(e.ctx, r)
	if err != nil || qr.Action.Type != core.ActionQRCode || qr.Action.Fallbacks[0].Type != core.ActionRedirectURL {
		t.Errorf("web action, QR first: %+v, %v", qr, err)
	}
	for _, res := range []*core.CreatePaymentResult{app, h5, web, qr} {
		if res.ProviderRef == "" {
			t.Errorf("no paymentId: %+v", res)
		}
	}
}

// A retried create reuses the order; the same paymentRequestId with another amount is a conflict.
func TestCreateIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	r := e.req("gcash", core.ChannelH5, php)
	first, err := e.p.CreatePayment(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.p.CreatePayment(e.ctx, r)
	if err != nil || again.ProviderRef != first.ProviderRef {
		t.Errorf("retried create: %+v, %v (first %s)", again, err, first.ProviderRef)
	}
	changed := *r
	changed.Amount = core.Money{Value: 150100, Currency: "PHP"}
	_, err = e.p.CreatePayment(e.ctx, &changed)
	if core.ErrorCode(err) != core.ECONFLICT || core.ProviderCode(err) != "REPEAT_REQ_INCONSISTENT" {
		t.Errorf("same paymentRequestId, other amount: %v", err)
	}
}

// U is never a failure: an unknown answer, a lost answer after commit, an unsigned or
// badly signed answer are unknown outcomes, and the retry with the same refund number refunds once.
func TestRefundUnknownOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	r, res := e.paid(t)
	part := core.Money{Value: 50000, Currency: "PHP"}
	for i, kind := range []antomsim.FaultKind{antomsim.FaultUnknown, antomsim.FaultUnknownCommitted, antomsim.FaultLostResponse,
		antomsim.FaultUnsigned, antomsim.FaultBadSignature, antomsim.FaultStatus} {
		t.Run(string(kind), func(t *testing.T) {
			rr := &core.RefundRequest{Account: "acct", OutTradeNo: r.OutTradeNo, ProviderRef: res.ProviderRef,
				OutRefundNo: r.OutTradeNo + "r" + string(rune('0'+i)), Amount: core.Money{Value: 1000, Currency: "PHP"}, PaymentAmount: php}
			undo := e.fault(t, kind, "refund")
			_, err := e.p.Refund(e.ctx, rr)
			undo()
			if core.ErrorCode(err) != core.EUNKNOWN {
				t.Fatalf("refund under %s: %v, want %s", kind, err, core.EUNKNOWN)
			}
			st, err := e.p.Refund(e.ctx, rr)
			if err != nil || st.Status != core.RefundSucceeded {
				t.Fatalf("retry after %s: %+v, %v", kind, st, err)
			}
		})
	}
	// Six refunds of 10.00 took effect once each: 1440.00 remain, and 1440.01 is refused.
	rest := core.Money{Value: php.Value - 6*1000, Currency: "PHP"}
	over := core.Money{Value: rest.Value + 1, Currency: "PHP"}
	_, err := e.p.Refund(e.ctx, &core.RefundRequest{Account: "acct", OutTradeNo: r.OutTradeNo, ProviderRef: res.ProviderRef, OutRefundNo: r.OutTradeNo + "over", Amount: over, PaymentAmount: php})
	if core.ErrorCode(err) != core.EDECLINED || core.ProviderCode(err) != "REFUND_AMOUNT_EXCEED" {
		t.Errorf("refund beyond the rest: %v", err)
	}
	st, err := e.p.Refund(e.ctx, &core.RefundRequest{Account: "acct", OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutTradeNo + "rest", Amount: rest, PaymentAmount: php})
	if err != nil || st.Status != core.RefundSucceeded {
		t.Errorf("refund of the rest, paymentId learnt by inquiry: %+v, %v", st, err)
	}
	_ = part
	// The same refund number with another amount is a conflict.
	_, err = e.p.Refund(e.ctx, &core.RefundRequest{Account: "acct", OutTradeNo: r.OutTradeNo, ProviderRef: res.ProviderRef, OutRefundNo: r.OutTradeNo + "rest", Amount: core.Money{Value: 1, Currency: "PHP"}, PaymentAmount: php})
	if core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("refund number reused with another amount: %v", err)
	}
}

// Answers that are not signed by the configured Antom key are not believed; a gateway that
// refuses our own signature is a configuration error.
func TestAnswersMustVerify(t *testing.T) {
	e := newEnv(t, nil)
	r, _ := e.paid(t)
	q := &core.QueryPaymentRequest{Account: "acct", OutTradeNo: r.OutTradeNo}
	if st, err := e.p.QueryPayment(e.ctx, q); err != nil || st.Status != core.PaymentSucceeded || st.Amount != php || st.PaidAt.IsZero() {
		t.Fatalf("query: %+v, %v", st, err)
	}
	for _, kind := range []antomsim.FaultKind{antomsim.FaultUnsigned, antomsim.FaultBadSignature} {
		undo := e.fault(t, kind, "inquiryPayment")
		_, err := e.p.QueryPayment(e.ctx, q)
		undo()
		if c := core.ErrorCode(err); c != core.EUNAVAILABLE {
			t.Errorf("query answered %s: %v", kind, err)
		}
	}
	// Another Antom key configured: every answer fails verification.
	wrong := antom.New()
	s := map[string]string{}
	for k, v := range e.settings {
		s[k] = v
	}
	s[antom.SetPublicKeys] = string(antomsim.TestMerchantPublicKeyPEM)
	if err := wrong.Configure(e.ctx, &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.QueryPayment(e.ctx, q); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Errorf("answer signed by another key: %v", err)
	}
	// Our requests signed with a key the gateway does not know: the unsigned F is a config error.
	s[antom.SetPublicKeys] = e.settings[antom.SetPublicKeys]
	s[antom.SetPrivateKey] = string(antomsim.TestAntomPrivateKeyPEM)
	if err := wrong.Configure(e.ctx, &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
		t.Fatal(err)
	}
	_, err := wrong.QueryPayment(e.ctx, q)
	if core.ErrorCode(err) != core.ECONFIG || core.ProviderCode(err) != "INVALID_SIGNATURE" {
		t.Errorf("request signed with a key Antom does not know: %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE") {
		t.Errorf("error shows key material: %v", err)
	}
}

// Close cancels an unpaid payment, and never a paid one: cancel would refund the buyer.
func TestCloseChecksFirst(t *testing.T) {
	e := newEnv(t, nil)
	r := e.req("gcash", core.ChannelH5, php)
	if _, err := e.p.CreatePayment(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	st, err := e.p.Close(e.ctx, &core.ClosePaymentRequest{Account: "acct", OutTradeNo: r.OutTradeNo})
	if err != nil || st.Status != core.PaymentClosed {
		t.Fatalf("close unpaid: %+v, %v", st, err)
	}
	if q, err := e.p.QueryPayment(e.ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: r.OutTradeNo}); err != nil || q.Status != core.PaymentClosed || q.RawStatus != "CANCELLED" {
		t.Errorf("query after close: %+v, %v", q, err)
	}
	paid, _ := e.paid(t)
	st, err = e.p.Close(e.ctx, &core.ClosePaymentRequest{Account: "acct", OutTradeNo: paid.OutTradeNo})
	if err != nil || st.Status != core.PaymentSucceeded {
		t.Fatalf("close of a paid payment: %+v, %v", st, err)
	}
	if q, err := e.p.QueryPayment(e.ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: paid.OutTradeNo}); err != nil || q.Status != core.PaymentSucceeded {
		t.Errorf("the paid payment was cancelled: %+v, %v", q, err)
	}
}

// Money rules of the wallets the provider itself enforces.
func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t, nil)
	for name, mod := range map[string]func(r *core.CreatePaymentRequest){
		"IDR not whole": func(r *core.CreatePaymentRequest) {
			r.Method, r.Amount = "dana", core.Money{Value: 1050, Currency: "IDR"}
		},
		"wrong currency": func(r *core.CreatePaymentRequest) { r.Amount = core.Money{Value: 1000, Currency: "USD"} },
		"no return url":  func(r *core.CreatePaymentRequest) { r.ReturnURL = "" },
		"bad os type":    func(r *core.CreatePaymentRequest) { r.Extras = map[string]string{antom.ExtraOSType: "WINDOWS"} },
		"unknown wallet": func(r *core.CreatePaymentRequest) { r.Method = "paypal" },
		"bad channel":    func(r *core.CreatePaymentRequest) { r.Channel = "pos" },
	} {
		r := e.req("gcash", core.ChannelH5, php)
		mod(r)
		if _, err := e.p.CreatePayment(e.ctx, r); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConfigureErrors(t *testing.T) {
	good := newSim(t, antomsim.Config{}).settings
	for name, mod := range map[string]func(s map[string]string){
		"no client id":      func(s map[string]string) { delete(s, antom.SetClientID) },
		"region and url":    func(s map[string]string) { s[antom.SetRegion] = "asia" },
		"unknown region":    func(s map[string]string) { delete(s, antom.SetGatewayURL); s[antom.SetRegion] = "mars" },
		"url with path":     func(s map[string]string) { s[antom.SetGatewayURL] += "/ams/api" },
		"bad private key":   func(s map[string]string) { s[antom.SetPrivateKey] = strings.Repeat("A", 120) },
		"no antom key":      func(s map[string]string) { delete(s, antom.SetPublicKeys) },
		"bad sandbox":       func(s map[string]string) { s[antom.SetSandbox] = "maybe" },
		"unknown setting":   func(s map[string]string) { s["partner"] = "2088" },
		"bad timeout":       func(s map[string]string) { s[antom.SetTimeout] = "-1s" },
		"bad settlement cc": func(s map[string]string) { s[antom.SetSettlementCur] = "XXX" },
	} {
		s := map[string]string{}
		for k, v := range good {
			s[k] = v
		}
		mod(s)
		err := antom.New().Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: s})
		if core.ErrorCode(err) != core.ECONFIG {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "AAAAAAAAAA") {
			t.Errorf("%s: error echoes the key: %v", name, err)
		}
	}
	// PKCS#1 and bare base64 forms of the key are accepted too.
	s := map[string]string{}
	for k, v := range good {
		s[k] = v
	}
	var b64 []string
	for _, l := range strings.Split(string(antomsim.TestMerchantPrivateKeyPEM), "\n") {
		if !strings.HasPrefix(l, "-----") {
			b64 = append(b64, l)
		}
	}
	s[antom.SetPrivateKey] = strings.Join(b64, "")
	if err := antom.New().Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: s}); err != nil {
		t.Errorf("bare base64 PKCS#8 key: %v", err)
	}
	s[antom.SetPrivateKey] = string(antomsim.TestAntomPrivateKeyPEM) // a PKCS#1 PEM
	if err := antom.New().Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: s}); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}
}
