package wallet_test

import (
	"context"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/plugins/example/wallet"
)

const testKey = "test-hmac-key-DO-NOT-USE"

// Harness is the conformance harness of the fake wallet for any provider value (in process
// here, over the plugin boundary in the example plugin's own test).
func Harness(p core.Provider) conformance.Harness {
	return conformance.Harness{
		Provider: p,
		Account:  "acct1",
		Settings: map[string]string{"cashier_url": "https://cashier.example.test/pay", "hmac_key": testKey},
		Method:   wallet.MethodID,
		Channel:  core.ChannelH5,
		Amount:   core.Money{Value: 300, Currency: "USD"},
		Pay: func(ctx context.Context, action core.NextAction) (map[string]string, error) {
			return wallet.Pay(ctx, []byte(testKey), action)
		},
	}
}

func TestConformanceInProcess(t *testing.T) {
	conformance.Run(t, Harness(wallet.New()))
}
