package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

const partner = "2088101122136241"

// pluginBinary returns $PAYMUX_BIN/paymux-provider-alipayhk when PAYMUX_BIN is set, else builds
// this package into a temporary directory.
func pluginBinary(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PAYMUX_BIN"); dir != "" {
		return filepath.Join(dir, "paymux-provider-alipayhk")
	}
	out := filepath.Join(t.TempDir(), "paymux-provider-alipayhk")
	cmd := exec.Command("go", "build", "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func launch(t *testing.T) core.Provider {
	t.Helper()
	bin := pluginBinary(t)
	sum, err := sdk.HashFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := os.MkdirTemp("", "pmxhk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{Name: "alipayhk", Path: bin, SHA256: sum, RuntimeDir: rt})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(p.Kill)
	return p.Provider()
}

// simEnv is a simulator with an AlipayHK partner and a notify endpoint that feeds the provider.
type simEnv struct {
	sim       *mapisim.Sim
	gwURL     string
	notifyURL string
	results   chan *core.NotificationResult
}

func newSimEnv(t *testing.T, p core.Provider) *simEnv {
	t.Helper()
	sim := mapisim.New(mapisim.Config{TimeScale: 100000})
	t.Cleanup(sim.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: partner, Flavour: mapisim.FlavourHK, SignType: "RSA2",
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(sim.Handler())
	t.Cleanup(gw.Close)
	e := &simEnv{sim: sim, gwURL: gw.URL + "/gateway.do", results: make(chan *core.NotificationResult, 16)}
	ns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := p.ParseNotification(r.Context(), &core.NotificationRequest{Account: "hk", Header: r.Header, Body: body, Confirm: true})
		if err != nil {
			http.Error(w, "retry", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(res.Ack.Status)
		_, _ = w.Write(res.Ack.Body)
		e.results <- res
	}))
	t.Cleanup(ns.Close)
	e.notifyURL = ns.URL + "/notify/hk"
	err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "hk", Settings: map[string]string{
		"partner": partner, "gateway_url": e.gwURL, "sign_type": "RSA2",
		"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
		"alipay_public_key_file": string(sim.AlipayPublicKeyPEM()),
	}})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return e
}

func (e *simEnv) next(t *testing.T) *core.NotificationResult {
	t.Helper()
	select {
	case r := <-e.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
		return nil
	}
}

func hkd(v int64) core.Money { return core.Money{Value: v, Currency: "HKD"} }

// scenario runs create (both methods), pay, client result, notification, query, two partial
// refunds with their notifications and queries, and the refusals, against p.
func scenario(t *testing.T, p core.Provider) {
	ctx := context.Background()
	e := newSimEnv(t, p)
	d, err := p.Describe(ctx)
	if err != nil || len(d.Methods) != 2 || d.Methods[0].ID != "alipayhk" || d.Methods[1].ID != "alipay" || d.Has(core.CapClose) {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	if _, err := p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "hk", OutTradeNo: "USD1", Method: "alipayhk",
		Amount: core.Money{Value: 100, Currency: "USD"}, NotifyURL: e.notifyURL}); core.ErrorCode(err) != core.EINVALID {
		t.Fatalf("USD payment: %v", err)
	}
	for _, method := range []string{"alipayhk", "alipay"} {
		out := "SC-" + method
		res, err := p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "hk", OutTradeNo: out, Method: method, Channel: core.ChannelApp,
			Amount: hkd(88_80), Subject: "Tea set", NotifyURL: e.notifyURL, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil || res.Action.Type != core.ActionSDKOrderString {
			t.Fatalf("%s: CreatePayment = %+v, %v", method, res, err)
		}
		wantInst := map[string]string{"alipayhk": `payment_inst="ALIPAYHK"`, "alipay": `payment_inst="ALIPAYCN"`}[method]
		if !strings.Contains(res.Action.Value, wantInst) {
			t.Errorf("%s: order string lacks %s", method, wantInst)
		}
		sr, err := e.sim.PayOrderString(ctx, res.Action.Value)
		if err != nil || sr.ResultStatus != mapisim.ResultSuccess {
			t.Fatalf("%s: pay = %+v, %v", method, sr, err)
		}
		cr, err := p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "hk", OutTradeNo: out, Method: method, Amount: hkd(88_80),
			Result: map[string]string{"resultStatus": sr.ResultStatus, "result": sr.Result, "memo": sr.Memo}})
		if err != nil || !cr.Verified || cr.Status != core.PaymentSucceeded {
			t.Fatalf("%s: VerifyClientResult = %+v, %v", method, cr, err)
		}
		n := e.next(t)
		if !n.Verified || len(n.Events) != 1 || n.Events[0].PaymentStatus != core.PaymentSucceeded || n.Events[0].Amount != hkd(88_80) ||
			n.Events[0].OutTradeNo != out || n.DedupeKey == "" || string(n.Ack.Body) != "success" {
			t.Fatalf("%s: notification = %+v", method, n)
		}
		st, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "hk", OutTradeNo: out})
		if err != nil || st.Status != core.PaymentSucceeded || st.Amount != hkd(88_80) || st.ProviderRef != n.Events[0].ProviderRef {
			t.Fatalf("%s: QueryPayment = %+v, %v", method, st, err)
		}
		for i, amt := range []int64{8_80, 40_00} {
			ref := out + "-R" + string(rune('1'+i))
			rs, err := p.Refund(ctx, &core.RefundRequest{Account: "hk", OutTradeNo: out, OutRefundNo: ref, Amount: hkd(amt),
				PaymentAmount: hkd(88_80), Reason: "partial refund", NotifyURL: e.notifyURL})
			if err != nil || rs.Status != core.RefundProcessing {
				t.Fatalf("%s: Refund %s = %+v, %v", method, ref, rs, err)
			}
			rn := e.next(t)
			if !rn.Verified || len(rn.Events) != 1 || rn.Events[0].RefundStatus != core.RefundSucceeded || rn.Events[0].OutRefundNo != ref {
				t.Fatalf("%s: refund notification = %+v", method, rn)
			}
			qr, err := p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "hk", OutTradeNo: out, OutRefundNo: ref})
			if err != nil || qr.Status != core.RefundSucceeded || qr.Amount != hkd(amt) {
				t.Fatalf("%s: QueryRefund = %+v, %v", method, qr, err)
			}
		}
		_, err = p.Refund(ctx, &core.RefundRequest{Account: "hk", OutTradeNo: out, OutRefundNo: out + "-R9", Amount: hkd(40_01), Reason: "too much"})
		if core.ErrorCode(err) != core.EDECLINED || core.ProviderCode(err) != "RETURN_AMOUNT_EXCEED" {
			t.Fatalf("%s: over-refund = %v", method, err)
		}
	}
	if _, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "hk", OutTradeNo: "NONE"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("unknown trade: %v", err)
	}
	if _, ok := p.(core.SettlementFetcher); !ok {
		t.Error("provider does not implement SettlementFetcher")
	}
}

func TestScenarioInProcess(t *testing.T) { scenario(t, alipayhk.New()) }

func TestScenarioOverPluginBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	scenario(t, launch(t))
}
