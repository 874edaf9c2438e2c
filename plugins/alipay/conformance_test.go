package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

const partner = "2088101122136241"

// The other merchants of the attack on merchant binding: same gateway, same platform key; the
// second one's notifications name no merchant.
const (
	otherNamed   = "2088101122139991"
	otherUnnamed = "2088101122139992"
)

// simFixture is a running simulator with one global partner and the matching account settings.
type simFixture struct {
	sim      *mapisim.Sim
	settings map[string]string
	gw       string       // gateway URL
	priv     string       // merchant private key file
	pub      string       // Alipay public key file
	offset   atomic.Int64 // the simulator's clock is real time plus offset (ns)
}

func newSim(t *testing.T, signType string) *simFixture {
	t.Helper()
	f := &simFixture{}
	// Payments happen five days ago in simulated time, so that their day's files exist once
	// SettlementWindow moves the clock on.
	f.offset.Store(int64(-5 * 24 * time.Hour))
	sim := mapisim.New(mapisim.Config{Seed: 1, TimeScale: 1000, AsyncRefundDelay: time.Second,
		Clock: func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: partner, SignType: signType, MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
		MD5Key: mapisim.TestMD5Key, Currencies: []string{"USD"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{otherNamed, otherUnnamed} {
		if err := sim.AddPartner(mapisim.Partner{ID: id, SignType: "RSA", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
			Currencies: []string{"USD"}, Unnamed: id == otherUnnamed}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	priv := filepath.Join(dir, "test-merchant-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-alipay-public.pem")
	if err := os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, sim.AlipayPublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	f.sim = sim
	f.settings = map[string]string{
		"partner": partner, "gateway_url": srv.URL + "/gateway.do", "sign_type": signType,
		"private_key_file": priv, "alipay_public_key_file": pub, "md5_key": mapisim.TestMD5Key,
		"notify_verify": "true", "currency": "USD", "timeout": "2s",
	}
	f.gw = srv.URL + "/gateway.do"
	f.priv, f.pub = priv, pub
	return f
}

// payForeign is the attack: another partner (in-process, its own account) orders req's
// out_trade_no, amount and notify_url, and the buyer pays it at the simulator.
func (f *simFixture) payForeign(ctx context.Context, req *core.CreatePaymentRequest, named bool) error {
	other := otherUnnamed
	if named {
		other = otherNamed
	}
	p := alipay.New()
	if err := p.Configure(ctx, &core.ConfigureRequest{Account: "attacker", Settings: map[string]string{
		"partner": other, "gateway_url": f.gw, "sign_type": "RSA", "private_key_file": f.priv,
		"alipay_public_key_file": f.pub, "currency": "USD"}}); err != nil {
		return err
	}
	r := *req
	r.Account = "attacker"
	res, err := p.CreatePayment(ctx, &r)
	if err != nil {
		return err
	}
	if res.Action.Type == core.ActionRedirectURL {
		_, err = f.sim.PayH5(ctx, res.Action.Value)
		return err
	}
	_, err = f.sim.PayOrderString(ctx, res.Action.Value)
	return err
}

// downgrade re-signs a notification declaring the other family: MD5 (with the account's own MD5
// key) on an RSA account, RSA (with the platform key) on an MD5 one.
func (f *simFixture) downgrade(body []byte) []byte {
	st := "MD5"
	if f.settings["sign_type"] == "MD5" {
		st = "RSA"
	}
	out, err := mapisim.ResignNotification(body, st, mapisim.TestMD5Key)
	if err != nil {
		return nil
	}
	return out
}

func (f *simFixture) harness(p core.Provider, channel core.Channel) conformance.Harness {
	return conformance.Harness{
		Provider: p,
		Account:  "acct-" + string(channel),
		Settings: f.settings,
		Method:   alipay.MethodID,
		Channel:  channel,
		Amount:   core.Money{Value: 10000, Currency: "USD"},
		Pay: func(ctx context.Context, a core.NextAction) (map[string]string, error) {
			switch a.Type {
			case core.ActionSDKOrderString:
				r, err := f.sim.PayOrderString(ctx, a.Value)
				if err != nil {
					return nil, err
				}
				if r.ResultStatus != mapisim.ResultSuccess {
					return nil, fmt.Errorf("wallet refused the order string: %s %s", r.ResultStatus, r.Memo)
				}
				return map[string]string{"resultStatus": r.ResultStatus, "result": r.Result, "memo": r.Memo}, nil
			case core.ActionRedirectURL:
				r, err := f.sim.PayH5(ctx, a.Value)
				if err != nil {
					return nil, err
				}
				return r.Params, nil // the signed return to return_url: the h5 client result
			}
			return nil, fmt.Errorf("unexpected action %q", a.Type)
		},
		PayForeign: f.payForeign,
		Downgrade:  f.downgrade,
		SettlementWindow: func(context.Context) (time.Time, time.Time) {
			day := time.Now().Add(time.Duration(f.offset.Load()))
			f.offset.Store(int64(-2 * 24 * time.Hour))
			return day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)
		},
		Fault: func(kind conformance.FaultKind) func() {
			fk, ok := map[conformance.FaultKind]mapisim.FaultKind{conformance.FaultServerError: mapisim.FaultStatus,
				conformance.FaultHang: mapisim.FaultHang, conformance.FaultSystemError: mapisim.FaultError,
				conformance.FaultUnsignedAnswer: mapisim.FaultUnsigned, conformance.FaultOtherObject: mapisim.FaultOtherObject}[kind]
			if !ok {
				return nil
			}
			id, err := f.sim.SetFault(mapisim.Fault{Kind: fk, Partner: partner, Status: 502})
			if err != nil {
				panic(err)
			}
			return func() { f.sim.RemoveFault(id) }
		},
	}
}

func TestConformanceInProcess(t *testing.T) {
	// notify_verify off: a notification is bound by the merchant it names, or else by a
	// single_trade_query of its trade (the attack's notification names none or another).
	t.Run("RSA2/app/notify_verify=false", func(t *testing.T) {
		f := newSim(t, "RSA2")
		f.settings["notify_verify"] = "false"
		conformance.Run(t, f.harness(alipay.New(), core.ChannelApp))
	})
	for _, st := range []string{"RSA2", "MD5"} {
		for _, ch := range []core.Channel{core.ChannelApp, core.ChannelH5, core.ChannelWeb} {
			t.Run(st+"/"+string(ch), func(t *testing.T) {
				f := newSim(t, st)
				if st == "MD5" {
					// Asynchronous refunds: results arrive by refund_status_sync or query.
					f.settings["refund_is_sync"] = "false"
				}
				conformance.Run(t, f.harness(alipay.New(), ch))
			})
		}
	}
}

// pluginBinary returns $PAYMUX_BIN/paymux-provider-alipay, or builds it into a temp dir.
func pluginBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("PAYMUX_BIN"); bin != "" {
		p := filepath.Join(bin, "paymux-provider-alipay")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "paymux-provider-alipay")
	cmd := exec.Command("go", "build", "-o", p, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return p
}

func launch(t testing.TB, path string) *sdk.Plugin {
	t.Helper()
	sum, err := sdk.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pmxa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl, err := sdk.Launch(ctx, sdk.LaunchConfig{Name: "alipay", Path: path, SHA256: sum, RuntimeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.Kill)
	return pl
}

func TestConformanceOverPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	pl := launch(t, pluginBinary(t))
	for _, ch := range []core.Channel{core.ChannelApp, core.ChannelH5, core.ChannelWeb} {
		t.Run(string(ch), func(t *testing.T) {
			f := newSim(t, "RSA2")
			conformance.Run(t, f.harness(pl.Provider(), ch))
		})
	}
}
