package antom_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/providers/antom"
	"github.com/paymux/paymux/providers/antomsim"
)

const testClientID = "SANDBOX_5X00000000000001"

// simFixture is a running simulator with one merchant and the matching account settings.
type simFixture struct {
	sim      *antomsim.Sim
	url      string
	settings map[string]string
}

func newSim(t testing.TB, cfg antomsim.Config) *simFixture {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 100 // an order lives 14 simulated minutes: 8.4 s
	}
	sim := antomsim.New(cfg)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	if err := sim.AddMerchant(antomsim.Merchant{ClientID: testClientID, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM, Name: "test shop"}); err != nil {
		t.Fatal(err)
	}
	return &simFixture{sim: sim, url: srv.URL, settings: map[string]string{
		antom.SetClientID: testClientID, antom.SetGatewayURL: srv.URL, antom.SetPrivateKey: string(antomsim.TestMerchantPrivateKeyPEM),
		antom.SetPublicKeys: string(sim.AntomPublicKeyPEM()), antom.SetTimeout: "2s",
	}}
}

// Harness is the conformance harness of the fixture for one wallet and channel.
func (f *simFixture) Harness(p core.Provider, method string, ch core.Channel, amount core.Money) conformance.Harness {
	return conformance.Harness{
		Provider: p, Account: "antom-" + method + "-" + string(ch), Settings: f.settings,
		Method: method, Channel: ch, Amount: amount,
		Pay: func(ctx context.Context, a core.NextAction) (map[string]string, error) {
			return nil, f.sim.PayAction(ctx, a, antomsim.DecisionPay)
		},
		Fault: func(kind conformance.FaultKind) func() {
			fk, ok := map[conformance.FaultKind]antomsim.FaultKind{conformance.FaultServerError: antomsim.FaultStatus,
				conformance.FaultHang: antomsim.FaultHang, conformance.FaultSystemError: antomsim.FaultUnknown}[kind]
			if !ok {
				return nil
			}
			id, err := f.sim.SetFault(antomsim.Fault{Kind: fk, ClientID: testClientID})
			if err != nil {
				panic(err)
			}
			return func() { f.sim.RemoveFault(id) }
		},
	}
}

func TestConformanceInProcess(t *testing.T) {
	for _, tc := range []struct {
		method string
		ch     core.Channel
		amount core.Money
	}{
		{"gcash", core.ChannelH5, core.Money{Value: 150000, Currency: "PHP"}},
		{"kakaopay", core.ChannelApp, core.Money{Value: 30000, Currency: "KRW"}},
		{"truemoney", core.ChannelWeb, core.Money{Value: 9900, Currency: "THB"}},
	} {
		t.Run(tc.method+"/"+string(tc.ch), func(t *testing.T) {
			f := newSim(t, antomsim.Config{Seed: 1})
			conformance.Run(t, f.Harness(antom.New(), tc.method, tc.ch, tc.amount))
		})
	}
}
