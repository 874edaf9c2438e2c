package host_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapi"
	"github.com/paymux/paymux/providers/mapisim"
)

// The attackers' partners, on the same simulated gateway as the victims (e2eGlobalPartner,
// e2eHKPartner): the simulator signs every partner's RSA notifications with its one platform
// key, as Alipay does. The second of each pair sends notifications that name no merchant.
const (
	attackerGlobal        = "2088101122139991"
	attackerGlobalUnnamed = "2088101122139992"
	attackerHK            = "2088101122139993"
	attackerHKUnnamed     = "2088101122139994"
)

var attackerPartners = []mapisim.Partner{
	{ID: attackerGlobal, SignType: "RSA", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Currencies: []string{"USD"}},
	{ID: attackerGlobalUnnamed, SignType: "RSA", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Currencies: []string{"USD"}, Unnamed: true},
	{ID: attackerHK, Flavour: mapisim.FlavourHK, SignType: "RSA", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM},
	{ID: attackerHKUnnamed, Flavour: mapisim.FlavourHK, SignType: "RSA", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Unnamed: true},
}

// Extra settings of newSimEnv beyond simEnvGlobalSettings: the HK account's, the simulator's
// further partners, and whether the victims' own notifications name no merchant.
var (
	simEnvHKSettings map[string]string
	simEnvPartners   []mapisim.Partner
	simEnvUnnamed    bool
)

// newTrustEnv is newSimEnv with the attackers' partners, the victims' notify_verify as given
// (and md5_key: an MD5 signature of their own key must still be refused on these RSA2
// accounts), their own notifications naming no merchant when unnamed, and the providers behind
// their plugin binaries.
func newTrustEnv(t *testing.T, notifyVerify string, unnamed bool) *simEnv {
	t.Helper()
	simEnvPartners = attackerPartners
	simEnvUnnamed = unnamed
	simEnvGlobalSettings = map[string]string{"notify_verify": notifyVerify, "md5_key": mapisim.TestMD5Key}
	simEnvHKSettings = map[string]string{"notify_verify": notifyVerify, "md5_key": mapisim.TestMD5Key}
	simEnvPlugins = true
	defer func() {
		simEnvPartners, simEnvUnnamed, simEnvGlobalSettings, simEnvHKSettings, simEnvPlugins = nil, false, nil, nil, false
	}()
	return newSimEnv(t, 1000, nil)
}

// victim is one side of the attack: the region, method and account of the victim's payment,
// and the provider and partner the attacker orders with.
type victim struct {
	region, method, account, currency string
	attacker                          func(named bool) (core.Provider, string)
}

func victims() []victim {
	return []victim{
		{"CN", alipay.MethodID, "global", "USD", func(named bool) (core.Provider, string) {
			if named {
				return alipay.New(), attackerGlobal
			}
			return alipay.New(), attackerGlobalUnnamed
		}},
		{"HK", alipayhk.MethodAlipayHK, "hk", "HKD", func(named bool) (core.Provider, string) {
			if named {
				return alipayhk.New(), attackerHK
			}
			return alipayhk.New(), attackerHKUnnamed
		}},
	}
}

// orderField reads one field of an SDK order string.
func orderField(t *testing.T, order, name string) string {
	t.Helper()
	fields, err := mapi.ParseOrderString(order)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("order string has no %s", name)
	return ""
}

// attack has the attacker's partner order the victim's out_trade_no, amount and notify_url and
// pays it; it returns once the simulator attempted the notification to the victim's endpoint.
func (e *simEnv) attack(t *testing.T, v victim, named bool, p *host.Payment) {
	t.Helper()
	ctx := context.Background()
	prov, partner := v.attacker(named)
	settings := map[string]string{"partner": partner, "gateway_url": e.gatewayURL(t), "sign_type": "RSA",
		"private_key_file": string(mapisim.TestMerchantPrivateKeyPEM), "alipay_public_key_file": string(e.sim.AlipayPublicKeyPEM())}
	if v.account == "global" {
		settings["currency"] = "USD"
	}
	if err := prov.Configure(ctx, &core.ConfigureRequest{Account: "attacker", Settings: settings}); err != nil {
		t.Fatalf("configure the attacker: %v", err)
	}
	res, err := prov.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "attacker", OutTradeNo: p.OutTradeNo, Method: v.method,
		Channel: core.ChannelApp, Amount: p.Amount, Subject: "same order", NotifyURL: orderField(t, p.NextAction.Value, "notify_url"),
		ExpiresAt: time.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatalf("the attacker's order: %v", err)
	}
	if r, err := e.sim.PayOrderString(ctx, res.Action.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("paying the attacker's order: %+v, %v", r, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ds := e.sim.DeliveriesFor(partner, p.OutTradeNo)
		if len(ds) == 1 && len(ds[0].Attempts) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the attacker's notification was never attempted: %+v", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gatewayURL is the simulator's gateway, which serves every partner.
func (e *simEnv) gatewayURL(t *testing.T) string {
	t.Helper()
	if e.gw == "" {
		t.Fatal("simEnv has no gateway URL")
	}
	return e.gw
}

// inbox lists the account's inbox entries of a status.
func (e *simEnv) inbox(t *testing.T, account, status string) []*host.Notification {
	t.Helper()
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status="+status+"&account="+account+"&limit=100", nil, nil).decode(t, &page)
	return page.Data
}

// TestAttackForeignMerchant is the attack of issue 13 end to end, through the real plugins and
// the simulator with two merchant partners per provider: a buyer issues the victim's
// out_trade_no, amount and notify_url on a merchant account of their own and pays it; the
// gateway posts a correctly signed TRADE_FINISHED to the victim's /notify/{account}. The
// victim's payment stays pending and the inbox entry is rejected as "foreign merchant", whatever
// notify_verify says and whether or not the notification names its merchant. Control, in the
// same world: the victim's own payment then succeeds, with or without a merchant field in its
// notification.
func TestAttackForeignMerchant(t *testing.T) {
	if testing.Short() {
		t.Skip("launches the plugin binaries")
	}
	for _, nv := range []string{"true", "false"} {
		for _, unnamed := range []bool{false, true} {
			name := "notify_verify=" + nv
			if unnamed {
				name += "/victim-unnamed"
			}
			t.Run(name, func(t *testing.T) {
				e := newTrustEnv(t, nv, unnamed)
				for _, v := range victims() {
					for _, named := range []bool{true, false} {
						p := e.createPayment(map[string]any{
							"region": v.region, "method": v.method, "amount": map[string]any{"value": 1234, "currency": v.currency},
							"reference": "victim-" + v.account, "subject": "Victim", "channel": "app",
						}, nil)
						before := len(e.inbox(t, v.account, "rejected"))
						e.attack(t, v, named, p)
						var rejected []*host.Notification
						deadline := time.Now().Add(10 * time.Second)
						for {
							rejected = e.inbox(t, v.account, "rejected")
							if len(rejected) > before || time.Now().After(deadline) {
								break
							}
							time.Sleep(20 * time.Millisecond)
						}
						if len(rejected) <= before {
							t.Fatalf("%s named=%v: no rejected inbox entry (processed: %d)", v.account, named, len(e.inbox(t, v.account, "processed")))
						}
						if got := rejected[0]; got.Reason != core.RejectForeignMerchant {
							t.Errorf("%s named=%v: rejected as %q, want %q", v.account, named, got.Reason, core.RejectForeignMerchant)
						}
						if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
							t.Fatalf("%s named=%v: the victim's payment is %s after the attack", v.account, named, got.Status)
						}
						// Control: the victim pays for real; the genuine notification verifies.
						if r, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
							t.Fatalf("paying the victim's order: %+v, %v", r, err)
						}
						e.waitStatus(t, p.ID, core.PaymentSucceeded)
					}
				}
			})
		}
	}
}

// TestUntrustedGatewayAnswers: with the victim's notifications lost, the payment's outcome is
// learnt by query only. An unsigned answer and a signed answer about another trade leave it
// unchanged, on GET ?refresh=true and in the janitor; the same query without the fault
// (the control) marks it paid.
func TestUntrustedGatewayAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("launches the plugin binaries")
	}
	e := newTrustEnv(t, "true", false)
	jan := host.NewJanitor(host.JanitorOptions{Service: e.svc, Batch: 10})
	for _, v := range victims() {
		partner := map[string]string{"global": e2eGlobalPartner, "hk": e2eHKPartner}[v.account]
		for _, kind := range []mapisim.FaultKind{mapisim.FaultUnsigned, mapisim.FaultOtherObject} {
			drop, err := e.sim.SetFault(mapisim.Fault{Kind: mapisim.FaultDrop, Partner: partner, Service: "notify"})
			if err != nil {
				t.Fatal(err)
			}
			p := e.createPayment(map[string]any{
				"region": v.region, "method": v.method, "amount": map[string]any{"value": 1500, "currency": v.currency},
				"reference": "query-" + v.account, "subject": "Query", "channel": "app",
			}, nil)
			if r, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
				t.Fatalf("pay: %+v, %v", r, err)
			}
			fault, err := e.sim.SetFault(mapisim.Fault{Kind: kind, Partner: partner, Service: "single_trade_query"})
			if err != nil {
				t.Fatal(err)
			}
			resp := e.call("GET", "/v1/payments/"+p.ID+"?refresh=true", nil, nil)
			if resp.Status != http.StatusGatewayTimeout || !strings.Contains(string(resp.Body), "outcome_unknown") {
				t.Errorf("%s %s: refresh answered %d %s, want 504 outcome_unknown", v.account, kind, resp.Status, resp.Body)
			}
			if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
				t.Fatalf("%s %s: refresh applied the answer: %s", v.account, kind, got.Status)
			}
			forceDue(t, e, p.ID)
			if n, err := jan.RunOnce(context.Background()); err != nil || n == 0 {
				t.Fatalf("janitor pass: %d items, %v", n, err)
			}
			if got := e.getPayment(p.ID); got.Status != core.PaymentPending {
				t.Fatalf("%s %s: the janitor applied the answer: %s", v.account, kind, got.Status)
			}
			e.sim.RemoveFault(fault)
			e.sim.RemoveFault(drop)
			// Control: the same query, signed and about this trade, is applied.
			if got := e.call("GET", "/v1/payments/"+p.ID+"?refresh=true", nil, nil); got.Status != http.StatusOK {
				t.Fatalf("%s %s: control refresh: %d %s", v.account, kind, got.Status, got.Body)
			}
			if got := e.getPayment(p.ID); got.Status != core.PaymentSucceeded {
				t.Fatalf("%s %s: control: %s", v.account, kind, got.Status)
			}
		}
	}
}

// forceDue makes a pending payment due for the janitor now.
func forceDue(t *testing.T, e *simEnv, id string) {
	t.Helper()
	ctx := context.Background()
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		p.NextQueryAt = time.Now().Add(-time.Second)
		return tx.UpdatePayment(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNotificationSignTypes: on an RSA2 account, notifications declaring RSA or RSA2 (both
// verified with the Alipay public key) are accepted and one declaring MD5 (genuinely signed
// with the account's own MD5 key) is refused: no downgrade across families.
func TestNotificationSignTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("launches the plugin binaries")
	}
	e := newTrustEnv(t, "false", false)
	for i, tc := range []struct {
		signType string
		ok       bool
	}{{"RSA", true}, {"RSA2", true}, {"MD5", false}} {
		p := e.createPayment(map[string]any{
			"region": "CN", "method": alipay.MethodID, "amount": map[string]any{"value": 700 + i, "currency": "USD"},
			"reference": "st-" + tc.signType, "subject": "Sign types", "channel": "app",
		}, nil)
		form := url.Values{"notify_type": {"trade_status_sync"}, "notify_id": {"st-" + tc.signType}, "notify_time": {"2026-12-01 10:00:00"},
			"out_trade_no": {p.OutTradeNo}, "trade_no": {"20261201000" + tc.signType}, "trade_status": {"TRADE_FINISHED"},
			"total_fee": {p.Amount.Decimal()}, "currency": {"USD"}, "seller_id": {e2eGlobalPartner}}
		body, err := mapisim.ResignNotification([]byte(form.Encode()), tc.signType, mapisim.TestMD5Key)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.client.Post(e.srv.URL+"/notify/global", "application/x-www-form-urlencoded", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := e.getPayment(p.ID).Status
		if tc.ok && got != core.PaymentSucceeded || !tc.ok && got != core.PaymentPending {
			t.Errorf("%s-declared notification: payment %s", tc.signType, got)
		}
	}
}
