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

// simFixture is a running simulator with one global partner and the matching account settings.
type simFixture struct {
	sim      *mapisim.Sim
	settings map[string]string
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
	return f
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
		SettlementWindow: func(context.Context) (time.Time, time.Time) {
			day := time.Now().Add(time.Duration(f.offset.Load()))
			f.offset.Store(int64(-2 * 24 * time.Hour))
			return day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)
		},
		Fault: func(kind conformance.FaultKind) func() {
			fk, ok := map[conformance.FaultKind]mapisim.FaultKind{conformance.FaultServerError: mapisim.FaultStatus,
				conformance.FaultHang: mapisim.FaultHang, conformance.FaultSystemError: mapisim.FaultError}[kind]
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
