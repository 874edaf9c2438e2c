package alipay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapisim"
)

// fuzzSettingNames is the argument order of FuzzConfigure and of testdata/settings seeds.
var fuzzSettingNames = []string{SetCurrency, SetProductCode, SetItBPay, SetAppSignType, SetRefundIsSync, SetTimeoutRule,
	SetH5AppPay, SetSettlementService, SetSplitFundQuoteMode}

// FuzzConfigure feeds the cross-border settings (config: outside input) through Configure on top
// of a valid account, seeded from testdata/settings. Configure never panics, refuses only with
// ECONFIG, and an accepted account creates app and h5 payments in its currency.
func FuzzConfigure(f *testing.F) {
	files, _ := filepath.Glob("testdata/settings/*.settings")
	if len(files) == 0 {
		f.Fatal("no seed files")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
		a := func(i int) string { return kv[fuzzSettingNames[i]] }
		f.Add(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8))
	}
	p := New()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cur, product, itb, appSign, sync, rule, appPay, settle, quotes string) {
		vals := []string{cur, product, itb, appSign, sync, rule, appPay, settle, quotes}
		settings := map[string]string{
			"partner": testPartner, "gateway_url": "https://gateway.test/gateway.do", "sign_type": "RSA2",
			"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
			"alipay_public_key_file": string(mapisim.TestAlipayPublicKeyPEM),
		}
		for i, k := range fuzzSettingNames {
			if vals[i] != "" {
				settings[k] = vals[i]
			}
		}
		err := p.Configure(ctx, &core.ConfigureRequest{Account: "fz", Settings: settings})
		if err != nil {
			if core.ErrorCode(err) != core.ECONFIG {
				t.Fatalf("error of kind %s: %v", core.ErrorCode(err), err)
			}
			return
		}
		a, err := p.account("fz")
		if err != nil {
			t.Fatal(err)
		}
		unit := int64(100)
		if exp, _ := core.CurrencyExponent(a.currency); exp == 0 {
			unit = 1
		}
		for _, ch := range []core.Channel{core.ChannelApp, core.ChannelH5} {
			_, err := p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "fz", Method: MethodID, Channel: ch, OutTradeNo: "fz-1",
				Subject: "fuzz", NotifyURL: "https://merchant.test/notify", Amount: core.Money{Value: 10 * unit, Currency: a.currency}})
			if err != nil {
				t.Fatalf("accepted settings %q cannot create a %s payment: %v", vals, ch, err)
			}
		}
	})
}
