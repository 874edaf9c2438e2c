//go:build faults

package faulttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapi"
	"github.com/paymux/paymux/providers/mapisim"
)

// attacker is a second merchant of the simulated gateway: Alipay signs every merchant's
// notifications with one platform key.
const attacker = "2088000000000009"

// notifyURL is the notify_url of an order string.
func notifyURL(t *testing.T, order string) string {
	t.Helper()
	fields, err := mapi.ParseOrderString(order)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if f[0] == "notify_url" {
			return f[1]
		}
	}
	t.Fatal("order string has no notify_url")
	return ""
}

// TestCrossMerchantNotification plays issue 13's attack against `paymux serve`: the attacker
// orders the victim's out_trade_no, amount and notify_url on their own merchant account and
// pays it, so the simulator posts a correctly signed TRADE_FINISHED naming the attacker (or,
// for an unnamed partner, no merchant at all) to the victim's /notify. It must not be
// acknowledged, the victim's payment stays pending, and a named foreign notification is in
// the inbox as rejected, "foreign merchant". Control: the victim's genuine payment in the
// wallet succeeds, before and after the attack. Proof: the simulator delivered the attacker's
// notification to the host.
func TestCrossMerchantNotification(t *testing.T) {
	for _, unnamed := range []bool{false, true} {
		t.Run(map[bool]string{false: "named", true: "unnamed"}[unnamed], func(t *testing.T) {
			f := newFixture(t, bench.StackOptions{})
			if err := f.st.Sim.AddPartner(mapisim.Partner{ID: attacker, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Unnamed: unnamed}); err != nil {
				t.Fatal(err)
			}
			ctl := f.createPayment(1500)
			f.walletPay(ctl)

			victim := f.createPayment(2500)
			prov := alipay.New()
			key := filepath.Join(t.TempDir(), "test-merchant-private-DO-NOT-USE.pem")
			if err := os.WriteFile(key, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			pub := filepath.Join(t.TempDir(), "test-alipay-public-DO-NOT-USE.pem")
			if err := os.WriteFile(pub, f.st.Sim.AlipayPublicKeyPEM(), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := prov.Configure(ctx, &core.ConfigureRequest{Account: "attacker", Settings: map[string]string{
				"partner": attacker, "gateway_url": f.st.SimURL + "/gateway.do", "sign_type": "RSA2", "currency": bench.Currency,
				"private_key_file": key, "alipay_public_key_file": pub,
			}}); err != nil {
				t.Fatalf("configuring the attacker's account: %v", err)
			}
			res, err := prov.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "attacker", OutTradeNo: victim.OutTradeNo, Method: bench.Method,
				Channel: core.ChannelApp, Amount: victim.Amount, Subject: "same order", NotifyURL: notifyURL(t, victim.NextAction.Value),
				ExpiresAt: time.Now().Add(30 * time.Minute)})
			if err != nil {
				t.Fatalf("the attacker's order: %v", err)
			}
			if r, err := f.st.Sim.PayOrderString(f.ctx(30*time.Second), res.Action.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
				t.Fatalf("paying the attacker's order: %+v %v", r, err)
			}
			var d mapisim.Delivery
			for deadline := time.Now().Add(15 * time.Second); ; {
				ds := f.st.Sim.DeliveriesFor(attacker, victim.OutTradeNo)
				if len(ds) == 1 && len(ds[0].Attempts) > 0 && ds[0].Attempts[0].Status != 0 {
					d = ds[0]
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the attacker's notification never reached the host: %+v", ds)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if d.Attempts[0].Acked {
				t.Errorf("the host acknowledged the attacker's notification (%d %q)", d.Attempts[0].Status, d.Attempts[0].Body)
			}
			if got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), victim.ID); err != nil || got.Status != core.PaymentPending {
				t.Fatalf("the victim's payment after the attack: %+v %v, want pending", got, err)
			}
			if !unnamed {
				var page struct {
					Data []struct {
						Status, Reason, Body string
					}
				}
				if err := f.st.Client.Do(f.ctx(10*time.Second), "GET", "/v1/notifications?status=rejected", nil, &page, nil); err != nil {
					t.Fatal(err)
				}
				found := false
				for _, n := range page.Data {
					if strings.Contains(n.Body, d.NotifyID) {
						found = true
						if n.Reason != core.RejectForeignMerchant {
							t.Errorf("the attacker's notification is rejected as %q, want %q", n.Reason, core.RejectForeignMerchant)
						}
					}
				}
				if !found {
					t.Errorf("the attacker's notification %s is not in the inbox as rejected", d.NotifyID)
				}
			}
			// The victim pays for real: the genuine path still works.
			f.walletPay(victim)
			f.checkInvariants()
		})
	}
}

// TestUntrustedGatewayAnswers: a payment paid at the gateway whose notification is lost is
// learnt by query only (GET ?refresh=true). An unsigned answer (its content genuine) and a
// signed answer about another trade are not applied: the payment stays pending. Control: the
// same query without the fault marks it paid. Proof: each fault's counter fired.
func TestUntrustedGatewayAnswers(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	for _, kind := range []mapisim.FaultKind{mapisim.FaultUnsigned, mapisim.FaultOtherObject} {
		t.Run(string(kind), func(t *testing.T) {
			p := f.createPayment(1700)
			f.walletPayHeld([]*bench.Payment{p})
			fid, err := f.st.Sim.SetFault(mapisim.Fault{Kind: kind, Partner: bench.Partner, Service: "single_trade_query"})
			if err != nil {
				t.Fatal(err)
			}
			var got bench.Payment
			err = f.st.Client.Do(f.ctx(30*time.Second), "GET", "/v1/payments/"+p.ID+"?refresh=true", nil, &got, nil)
			if err == nil && got.Status != core.PaymentPending {
				t.Fatalf("refresh under %s applied the answer: %s", kind, got.Status)
			}
			if fi, _ := f.st.Sim.FaultByID(fid); fi.Fired == 0 {
				t.Fatalf("the %s fault never fired: the test proves nothing", kind)
			}
			if cur, err := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID); err != nil || cur.Status != core.PaymentPending {
				t.Fatalf("after a %s answer the payment is %+v %v, want pending", kind, cur, err)
			}
			f.st.Sim.RemoveFault(fid)
			// Control: the same query, signed and about this trade, is applied.
			if err := f.st.Client.Do(f.ctx(30*time.Second), "GET", "/v1/payments/"+p.ID+"?refresh=true", nil, &got, nil); err != nil || got.Status != core.PaymentSucceeded {
				t.Fatalf("control refresh: %+v %v, want succeeded", got, err)
			}
		})
	}
	f.checkInvariants()
}
