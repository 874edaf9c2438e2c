package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/antom"
	"github.com/paymux/paymux/providers/antomsim"
)

const clientID = "SANDBOX_5X00000000000002"

// pluginBinary returns $PAYMUX_BIN/paymux-provider-antom, or builds it into a temp dir.
func pluginBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("PAYMUX_BIN"); bin != "" {
		p := filepath.Join(bin, "paymux-provider-antom")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "paymux-provider-antom")
	if out, err := exec.Command("go", "build", "-o", p, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return p
}

// TestConformanceOverPlugin runs the kit against the plugin binary and the simulator: the
// trust rules (client id, notify path, signed answers) hold across the boundary too.
func TestConformanceOverPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	path := pluginBinary(t)
	sum, err := sdk.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pmxantom")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl, err := sdk.Launch(ctx, sdk.LaunchConfig{Name: "antom", Path: path, SHA256: sum, RuntimeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.Kill)

	sim := antomsim.New(antomsim.Config{Seed: 3, TimeScale: 100})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	if err := sim.AddMerchant(antomsim.Merchant{ClientID: clientID, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{
		antom.SetClientID: clientID, antom.SetGatewayURL: srv.URL, antom.SetPrivateKey: string(antomsim.TestMerchantPrivateKeyPEM),
		antom.SetPublicKeys: string(sim.AntomPublicKeyPEM()), antom.SetTimeout: "2s",
	}
	for _, tc := range []struct {
		method string
		ch     core.Channel
		amount core.Money
	}{
		{"gcash", core.ChannelH5, core.Money{Value: 150000, Currency: "PHP"}},
		{"kakaopay", core.ChannelApp, core.Money{Value: 30000, Currency: "KRW"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			conformance.Run(t, conformance.Harness{
				Provider: pl.Provider(), Account: "antom-" + tc.method, Settings: settings,
				Method: tc.method, Channel: tc.ch, Amount: tc.amount,
				Pay: func(ctx context.Context, a core.NextAction) (map[string]string, error) {
					return nil, sim.PayAction(ctx, a, antomsim.DecisionPay)
				},
				Fault: func(kind conformance.FaultKind) func() {
					fk, ok := map[conformance.FaultKind]antomsim.FaultKind{conformance.FaultServerError: antomsim.FaultStatus,
						conformance.FaultHang: antomsim.FaultHang, conformance.FaultSystemError: antomsim.FaultUnknown}[kind]
					if !ok {
						return nil
					}
					id, err := sim.SetFault(antomsim.Fault{Kind: fk, ClientID: clientID})
					if err != nil {
						panic(err)
					}
					return func() { sim.RemoveFault(id) }
				},
			})
		})
	}
}
