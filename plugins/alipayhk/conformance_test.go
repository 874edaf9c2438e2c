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

// The other HK merchants of the attack on merchant binding; the second one's notifications name
// no merchant.
const (
	otherNamed   = "2088101122139991"
	otherUnnamed = "2088101122139992"
)

// harness builds a conformance harness for p against a fresh simulator with an AlipayHK partner,
// for one of the two methods. notifyVerify is the account's notify_verify setting.
func harness(t *testing.T, p core.Provider, method, notifyVerify string) conformance.Harness {
	t.Helper()
	sim := mapisim.New(mapisim.Config{TimeScale: 100000})
	t.Cleanup(sim.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: partner, Flavour: mapisim.FlavourHK, SignType: "RSA2",
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, MD5Key: mapisim.TestMD5Key, FeeBasisPoints: 180}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{otherNamed, otherUnnamed} {
		if err := sim.AddPartner(mapisim.Partner{ID: id, Flavour: mapisim.FlavourHK, SignType: "RSA",
			MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Unnamed: id == otherUnnamed}); err != nil {
			t.Fatal(err)
		}
	}
	gw := httptest.NewServer(sim.Handler())
	t.Cleanup(gw.Close)
	settings := func(partner, signType string) map[string]string {
		return map[string]string{
			"partner": partner, "gateway_url": gw.URL + "/gateway.do", "sign_type": signType,
			"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
			"alipay_public_key_file": string(sim.AlipayPublicKeyPEM()),
			"timeout":                "2s",
		}
	}
	own := settings(partner, "RSA2")
	own["md5_key"] = mapisim.TestMD5Key
	own["notify_verify"] = notifyVerify
	return conformance.Harness{
		Provider: p,
		Account:  "hk-" + method,
		Settings: own,
		PayForeign: func(ctx context.Context, req *core.CreatePaymentRequest, named bool) error {
			other := otherUnnamed
			if named {
				other = otherNamed
			}
			ap := alipayhk.New()
			if err := ap.Configure(ctx, &core.ConfigureRequest{Account: "attacker", Settings: settings(other, "RSA")}); err != nil {
				return err
			}
			r := *req
			r.Account = "attacker"
			res, err := ap.CreatePayment(ctx, &r)
			if err != nil {
				return err
			}
			_, err = sim.PayOrderString(ctx, res.Action.Value)
			return err
		},
		// MD5 with the account's own MD5 key: genuine, but of the other family.
		Downgrade: func(body []byte) []byte {
			out, err := mapisim.ResignNotification(body, "MD5", mapisim.TestMD5Key)
			if err != nil {
				return nil
			}
			return out
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
			switch kind {
			case conformance.FaultHang:
				f = mapisim.Fault{Partner: partner, Kind: mapisim.FaultHang}
			case conformance.FaultUnsignedAnswer:
				f = mapisim.Fault{Partner: partner, Kind: mapisim.FaultUnsigned}
			case conformance.FaultOtherObject:
				f = mapisim.Fault{Partner: partner, Kind: mapisim.FaultOtherObject}
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
			conformance.Run(t, harness(t, alipayhk.New(), method, "true"))
		})
	}
	t.Run(alipayhk.MethodAlipayHK+"/notify_verify=false", func(t *testing.T) {
		conformance.Run(t, harness(t, alipayhk.New(), alipayhk.MethodAlipayHK, "false"))
	})
}

func TestConformanceOverPluginBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	p := launch(t)
	for _, method := range []string{alipayhk.MethodAlipayHK, alipayhk.MethodAlipay} {
		t.Run(method, func(t *testing.T) {
			conformance.Run(t, harness(t, p, method, "true"))
		})
	}
}
