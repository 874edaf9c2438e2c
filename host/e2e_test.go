package host_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

const (
	e2eGlobalPartner = "2088101122136241"
	e2eHKPartner     = "2088101122136242"
)

// simEnv is a host over the real Alipay providers (in process) and mapisim: the simulator's
// notifier posts to the host's /notify/{account}, the merchant webhook sink verifies every
// delivery.
type simEnv struct {
	*env
	sim *mapisim.Sim
	gw  string // the simulator's gateway.do URL
}

// flakyNotify makes ParseNotification unavailable for the first n calls, so that /notify
// answers "retry" and the wallet's notifier must deliver again.
type flakyNotify struct {
	core.Provider
	failFirst int64
	calls     atomic.Int64
}

func (f *flakyNotify) ParseNotification(ctx context.Context, r *core.NotificationRequest) (*core.NotificationResult, error) {
	if f.calls.Add(1) <= f.failFirst {
		return nil, core.Errorf(core.EUNAVAILABLE, "test: plugin busy")
	}
	return f.Provider.ParseNotification(ctx, r)
}

func newSimEnv(t testing.TB, timeScale float64, wrap func(account string, p core.Provider) core.Provider) *simEnv {
	t.Helper()
	sim := mapisim.New(mapisim.Config{Seed: 7, TimeScale: timeScale})
	t.Cleanup(sim.Close)
	gw := httptestServer(t, sim) + "/gateway.do"
	for _, p := range append([]mapisim.Partner{
		{ID: e2eGlobalPartner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Currencies: []string{"USD"}, Unnamed: simEnvUnnamed},
		{ID: e2eHKPartner, Flavour: mapisim.FlavourHK, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Unnamed: simEnvUnnamed},
	}, simEnvPartners...) {
		if err := sim.AddPartner(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	priv := filepath.Join(dir, "test-merchant-private-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-alipay-public.pem")
	if err := os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, sim.AlipayPublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	common := func(partner string) map[string]string {
		return map[string]string{"partner": partner, "gateway_url": gw, "sign_type": "RSA2",
			"private_key_file": priv, "alipay_public_key_file": pub, "timeout": "3s"}
	}
	gs := common(e2eGlobalPartner)
	gs["currency"] = "USD"
	for k, v := range simEnvGlobalSettings {
		gs[k] = v
	}
	hs := common(e2eHKPartner)
	hs["refund_is_sync"] = "true"
	for k, v := range simEnvHKSettings {
		hs[k] = v
	}
	var accounts map[string]core.Provider
	if simEnvPlugins {
		accounts = pluginAccounts(t, map[string]map[string]string{"global": gs, "hk": hs})
	} else {
		global := alipay.New()
		if err := global.Configure(context.Background(), &core.ConfigureRequest{Account: "global", Settings: gs}); err != nil {
			t.Fatalf("configure alipay: %v", err)
		}
		hk := alipayhk.New()
		if err := hk.Configure(context.Background(), &core.ConfigureRequest{Account: "hk", Settings: hs}); err != nil {
			t.Fatalf("configure alipayhk: %v", err)
		}
		accounts = map[string]core.Provider{"global": global, "hk": hk}
	}
	if wrap != nil {
		for k, p := range accounts {
			accounts[k] = wrap(k, p)
		}
	}
	e := newEnv(t, envOptions{
		accounts: accounts,
		regions: map[string][]host.RegionMethod{
			"HK": {{Method: alipayhk.MethodAlipayHK, Account: "hk"}, {Method: alipayhk.MethodAlipay, Account: "hk"}},
			"CN": {{Method: alipay.MethodID, Account: "global"}},
		},
	})
	return &simEnv{env: e, sim: sim, gw: gw}
}

// waitStatus polls the payment until it has status want.
func (e *simEnv) waitStatus(t *testing.T, id string, want core.PaymentStatus) *host.Payment {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p := e.getPayment(id)
		if p.Status == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s is %s, want %s", id, p.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestE2EThinPath is the whole path through the real provider and the simulator: an app payment
// created over REST, paid in the simulated wallet, its notification delivered by the
// simulator's notifier to /notify/{account}, verified and stored, the payment succeeded, and
// the merchant's webhook received with a valid Paymux-Signature. Then a partial refund and an
// over-refund.
func TestE2EThinPath(t *testing.T) { thinPath(t, newSimEnv(t, 1000, nil)) }

// TestE2EThinPathPlugins is TestE2EThinPath with both providers behind their real plugin
// binaries, started and pinned by host/pluginhost.
func TestE2EThinPathPlugins(t *testing.T) {
	if testing.Short() && os.Getenv("PAYMUX_BIN") == "" {
		t.Skip("-short: not building plugin binaries (set PAYMUX_BIN)")
	}
	simEnvPlugins = true
	defer func() { simEnvPlugins = false }()
	e := newSimEnv(t, 1000, nil)
	thinPath(t, e)
	// AlipayHK through its plugin as well.
	p := e.createPayment(map[string]any{
		"region": "HK", "method": "alipayhk", "amount": map[string]any{"value": 8800, "currency": "HKD"},
		"subject": "Egg tart", "channel": "app",
	}, nil)
	if res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v %v", res, err)
	}
	e.waitStatus(t, p.ID, core.PaymentSucceeded)
	e.sink.waitFor(t, "payment.succeeded", p.ID)
}

func thinPath(t *testing.T, e *simEnv) {
	p := e.createPayment(map[string]any{
		"region": "CN", "method": "alipay", "amount": map[string]any{"value": 1234, "currency": "USD"},
		"reference": "order-e2e-1", "subject": "Green tea", "channel": "app",
	}, map[string]string{"Idempotency-Key": "e2e-1"})
	if p.NextAction == nil || p.NextAction.Type != core.ActionSDKOrderString {
		t.Fatalf("next_action = %+v", p.NextAction)
	}
	if !strings.Contains(p.NextAction.Value, "out_trade_no=\""+p.OutTradeNo+"\"") && !strings.Contains(p.NextAction.Value, p.OutTradeNo) {
		t.Fatalf("order string does not name out_trade_no %s", p.OutTradeNo)
	}
	res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value)
	if err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay in the simulator: %+v %v", res, err)
	}
	// The SDK's synchronous result is a hint only.
	r := e.call("POST", "/v1/payments/"+p.ID+"/client-result", map[string]any{"result": map[string]string{
		"resultStatus": res.ResultStatus, "result": res.Result, "memo": res.Memo}}, nil)
	var hinted host.Payment
	r.decode(t, &hinted)
	if r.Status != http.StatusOK || hinted.ClientResult == nil || !hinted.ClientResult.Verified || hinted.ClientResult.Status != core.PaymentSucceeded {
		t.Fatalf("client-result: %d %s", r.Status, r.Body)
	}
	paid := e.waitStatus(t, p.ID, core.PaymentSucceeded)
	if paid.ProviderRef == "" || paid.PaidAt == nil {
		t.Fatalf("paid payment = %+v", paid)
	}
	ev := e.sink.waitFor(t, "payment.succeeded", p.ID)
	if !strings.Contains(string(ev.Data), `"status":"succeeded"`) {
		t.Fatalf("webhook data = %s", ev.Data)
	}
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status=processed", nil, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].PaymentID != p.ID || !strings.Contains(page.Data[0].Body, "trade_status=TRADE_FINISHED") {
		t.Fatalf("inbox = %s", mustJSON(page.Data))
	}
	if err := e.sim.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds := e.sim.DeliveriesFor(e2eGlobalPartner, p.OutTradeNo)
	if len(ds) != 1 || ds[0].State != mapisim.DeliveryDelivered || len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Body != "success" {
		t.Fatalf("simulator deliveries = %+v", ds)
	}

	// Refund through the API: partial, then an over-refund refused.
	r = e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 234, "currency": "USD"}, "reason": "broken cup"}, map[string]string{"Idempotency-Key": "e2e-rf-1"})
	var rf host.Refund
	r.decode(t, &rf)
	if r.Status != http.StatusCreated || rf.Status == core.RefundFailed {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	if r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 1001, "currency": "USD"}}, nil); r.Status != 400 {
		t.Fatalf("over-refund: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, "refund.succeeded", rf.ID)
}

// TestE2EHKMethodsAndPayment lists HK's methods in config order and pays with AlipayHK.
func TestE2EHKMethodsAndPayment(t *testing.T) {
	e := newSimEnv(t, 1000, nil)
	var ml struct{ Methods []host.MethodOption }
	e.call("GET", "/v1/methods?region=HK&currency=HKD&amount=1000", nil, nil).decode(t, &ml)
	if len(ml.Methods) != 2 || ml.Methods[0].Method != "alipayhk" || ml.Methods[1].Method != "alipay" {
		t.Fatalf("HK methods = %+v, want alipayhk then alipay", ml.Methods)
	}
	e.call("GET", "/v1/methods?region=HK&currency=USD", nil, nil).decode(t, &ml)
	if len(ml.Methods) != 0 {
		t.Fatalf("HK methods for USD = %+v, want none", ml.Methods)
	}
	p := e.createPayment(map[string]any{
		"region": "HK", "method": "alipayhk", "amount": map[string]any{"value": 8800, "currency": "HKD"},
		"reference": "hk-1", "subject": "Egg tart", "channel": "app",
	}, nil)
	res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value)
	if err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v %v", res, err)
	}
	e.waitStatus(t, p.ID, core.PaymentSucceeded)
	e.sink.waitFor(t, "payment.succeeded", p.ID)
}

// TestE2ENotifierRetrySchedule runs the wallet's whole retry schedule on a fast time scale:
// /notify answers "retry" to the first seven deliveries (the plugin is "busy"), the eighth and
// last is acknowledged, and the payment succeeds exactly once.
func TestE2ENotifierRetrySchedule(t *testing.T) {
	fail := int64(len(notify.RetrySchedule)) // 7 retries after the first delivery
	const timeScale = 100000
	var flaky *flakyNotify
	e := newSimEnv(t, timeScale, func(account string, p core.Provider) core.Provider {
		if account != "global" {
			return p
		}
		flaky = &flakyNotify{Provider: p, failFirst: fail}
		return flaky
	})
	p := e.createPayment(map[string]any{
		"region": "CN", "method": "alipay", "amount": map[string]any{"value": 500, "currency": "USD"},
		"reference": "retry-1", "subject": "Retry", "channel": "app",
	}, nil)
	if res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v %v", res, err)
	}
	e.waitStatus(t, p.ID, core.PaymentSucceeded)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	ds := e.sim.DeliveriesFor(e2eGlobalPartner, p.OutTradeNo)
	if len(ds) != 1 {
		t.Fatalf("deliveries = %+v", ds)
	}
	d := ds[0]
	if d.State != mapisim.DeliveryDelivered || len(d.Attempts) != int(fail)+1 {
		t.Fatalf("delivery state %s after %d attempts, want delivered after %d", d.State, len(d.Attempts), fail+1)
	}
	for i, a := range d.Attempts {
		wantAck := i == len(d.Attempts)-1
		if a.Acked != wantAck {
			t.Fatalf("attempt %d acked=%v (status %d body %q)", i+1, a.Acked, a.Status, a.Body)
		}
		if i > 0 {
			// The wallet waited exactly its schedule's delay after the answer to the attempt
			// before, and really did: the simulator's clock is real time here, its schedule runs
			// timeScale times faster. The gap also holds the host's answer to the attempt before
			// and the machine's scheduling delays, unbounded on a loaded machine, so it has no
			// upper bound; the delay itself is checked exactly.
			if a.Delay != notify.RetrySchedule[i-1] {
				t.Errorf("attempt %d came %v (simulated) after the answer before, want %v", i+1, a.Delay, notify.RetrySchedule[i-1])
			}
			gap := a.At.Sub(d.Attempts[i-1].At)
			want := time.Duration(float64(notify.RetrySchedule[i-1]) / timeScale)
			if gap < want*9/10 {
				t.Errorf("gap before attempt %d = %v, less than the scaled %v (%v simulated)", i+1, gap, want, notify.RetrySchedule[i-1])
			}
		}
	}
	// Every notification has been answered (WaitIdle); once all of the payment's events are
	// delivered, a second payment.succeeded would be in the sink.
	e.waitDelivered(t, p.ID)
	if n := e.sink.count("payment.succeeded", p.ID); n != 1 {
		t.Fatalf("payment.succeeded delivered %d times", n)
	}
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status=error&limit=100", nil, nil).decode(t, &page)
	if len(page.Data) != int(fail) {
		t.Fatalf("%d notifications stored as error, want %d (every retry answered is kept)", len(page.Data), fail)
	}
}

// TestE2ETamperedNotification posts a simulator notification with one field changed: it is
// rejected and answered so that the wallet retries.
func TestE2ETamperedNotification(t *testing.T) {
	e := newSimEnv(t, 1000, nil)
	p := e.createPayment(map[string]any{
		"region": "CN", "method": "alipay", "amount": map[string]any{"value": 700, "currency": "USD"},
		"reference": "tamper-1", "subject": "Tamper", "channel": "app",
	}, nil)
	if _, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, p.ID, core.PaymentSucceeded)
	if err := e.sim.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds := e.sim.DeliveriesFor(e2eGlobalPartner, p.OutTradeNo)
	fields := ds[0].Fields
	form := func(f map[string]string) string {
		var b strings.Builder
		for k, v := range f {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
		return b.String()
	}
	post := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/notify/global", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	// Replay of the genuine notification: a duplicate, acknowledged.
	if code, body := post(form(fields)); code != 200 || body != "success" {
		t.Fatalf("replay: %d %q", code, body)
	}
	tampered := map[string]string{}
	for k, v := range fields {
		tampered[k] = v
	}
	tampered["total_fee"] = "0.01"
	if code, body := post(form(tampered)); body == "success" {
		t.Fatalf("tampered notification acknowledged: %d %q", code, body)
	}
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status=rejected", nil, nil).decode(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("rejected = %+v", page.Data)
	}
	e.call("GET", "/v1/notifications?status=duplicate", nil, nil).decode(t, &page)
	if len(page.Data) != 1 {
		t.Fatalf("duplicates = %+v", page.Data)
	}
	if n := e.sink.count("payment.succeeded", p.ID); n > 1 {
		t.Fatalf("payment.succeeded sent %d times", n)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
