package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

// harness builds a conformance harness for p against a fresh simulator with an AlipayHK partner,
// for one of the two methods.
func harness(t *testing.T, p core.Provider, method string) conformance.Harness {
	t.Helper()
	sim := mapisim.New(mapisim.Config{TimeScale: 100000})
	t.Cleanup(sim.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: partner, Flavour: mapisim.FlavourHK, SignType: "RSA2",
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, FeeBasisPoints: 180}); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(sim.Handler())
	t.Cleanup(gw.Close)
	return conformance.Harness{
		Provider: p,
		Account:  "hk-" + method,
		Settings: map[string]string{
			"partner": partner, "gateway_url": gw.URL + "/gateway.do", "sign_type": "RSA2",
			"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
			"alipay_public_key_file": string(sim.AlipayPublicKeyPEM()),
			"timeout":                "2s",
		},
		Method:  method,
		Channel: core.ChannelApp,
		Amount:  core.Money{Value: 300_00, Currency: "HKD"},
		Pay: func(ctx context.Context, action core.NextAction) (map[string]string, error) {
			r, err := sim.PayOrderString(ctx, action.Value)
			if err != nil {
				return nil, err
			}
			return map[string]string{"resultStatus": r.ResultStatus, "result": r.Result, "memo": r.Memo}, nil
		},
		Fault: func(kind conformance.FaultKind) func() {
			f := mapisim.Fault{Partner: partner, Kind: mapisim.FaultStatus, Status: 502}
			if kind == conformance.FaultHang {
				f = mapisim.Fault{Partner: partner, Kind: mapisim.FaultHang}
			}
			id, err := sim.SetFault(f)
			if err != nil {
				t.Fatalf("SetFault: %v", err)
			}
			return func() { sim.RemoveFault(id) }
		},
	}
}

func TestConformanceInProcess(t *testing.T) {
	for _, method := range []string{alipayhk.MethodAlipayHK, alipayhk.MethodAlipay} {
		t.Run(method, func(t *testing.T) {
			conformance.Run(t, harness(t, alipayhk.New(), method))
		})
	}
}

func TestConformanceOverPluginBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	p := launch(t)
	for _, method := range []string{alipayhk.MethodAlipayHK, alipayhk.MethodAlipay} {
		t.Run(method, func(t *testing.T) {
			conformance.Run(t, harness(t, p, method))
		})
	}
}
