package alipayhk_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

// fuzzSettingNames is the argument order of FuzzConfigure and of testdata/settings seeds.
var fuzzSettingNames = []string{"currency", "product_code", "it_b_pay", "gmt_return_format", "refund_is_sync", "refund_reason",
	"order_sign_type", "sftp_addr", "sftp_user", "sftp_password", "sftp_known_hosts_file", "sftp_files"}

// FuzzConfigure feeds the HK and SFTP settings (config: outside input) through Configure on top
// of a valid account, seeded from testdata/settings. Configure never panics, refuses only with
// ECONFIG, never quotes the SFTP password, and an accepted account creates a payment.
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
		f.Add(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11))
	}
	p := alipayhk.New()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cur, product, itb, gmt, sync, reason, orderSign, addr, user, password, knownHosts, sftpFiles string) {
		vals := []string{cur, product, itb, gmt, sync, reason, orderSign, addr, user, password, knownHosts, sftpFiles}
		settings := map[string]string{
			"partner": "2088101122136241", "gateway_url": "https://gateway.test/gateway.do", "sign_type": "RSA2",
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
			if pw := strings.TrimSpace(password); len(pw) >= 12 && !strings.Contains(strings.Join(append(vals[:9:9], vals[10:]...), "\x00"), pw) &&
				strings.Contains(err.Error(), pw) {
				t.Fatalf("error quotes sftp_password: %v", err)
			}
			return
		}
		_, err = p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "fz", Method: alipayhk.MethodAlipayHK, Channel: core.ChannelApp,
			OutTradeNo: "fz-1", Subject: "fuzz", NotifyURL: "https://merchant.test/notify", Amount: core.Money{Value: 100, Currency: "HKD"}})
		if err != nil {
			t.Fatalf("accepted HK settings %q cannot create a payment: %v", vals[:7], err)
		}
	})
}
