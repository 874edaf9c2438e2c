package mapi

import (
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

func TestCheckItBPay(t *testing.T) {
	for _, v := range []string{"1m", "90m", "15d", "1c", "360h", "21600m"} {
		if err := CheckItBPay(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"0m", "1.5h", "16d", "2c", "m", "30s", "361h", "21601m", "99999m", "", " 1m", "1M"} {
		if err := CheckItBPay(v); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%q: %v, want EINVALID", v, err)
		}
	}
}

func TestParseProductSettings(t *testing.T) {
	crossBorder := []string{"EUR", "USD"}
	for _, tc := range []struct {
		name     string
		raw      map[string]string
		allowed  []string
		itBPay   string // the provider's default
		currency string
		product  string
		timeout  string
		mention  string // "": no error
	}{
		{"defaults, one currency", nil, []string{"HKD"}, "", "HKD", DefaultProductCode, "", ""},
		{"defaults, default it_b_pay", nil, []string{"HKD"}, "30m", "HKD", DefaultProductCode, "30m", ""},
		{"all set", map[string]string{"currency": " USD ", "product_code": "OVERSEAS_MBARCODE_PAY", "it_b_pay": "2h"}, crossBorder, "30m", "USD", "OVERSEAS_MBARCODE_PAY", "2h", ""},
		{"the single currency named", map[string]string{"currency": "HKD"}, []string{"HKD"}, "", "HKD", DefaultProductCode, "", ""},
		{"currency required among several", nil, crossBorder, "30m", "", "", "", "currency is required"},
		{"another currency than the only one", map[string]string{"currency": "USD"}, []string{"HKD"}, "", "", "", "", "currency must be HKD"},
		{"CNY is never a settlement currency", map[string]string{"currency": "CNY"}, crossBorder, "", "", "", "", "never CNY"},
		{"CNY where one currency is allowed", map[string]string{"currency": "CNY"}, []string{"HKD"}, "", "", "", "", "must be HKD"},
		{"currency outside the list", map[string]string{"currency": "BRL"}, crossBorder, "", "", "", "", "EUR, USD"},
		{"lower-case product code", map[string]string{"currency": "EUR", "product_code": "new wap"}, crossBorder, "", "", "", "", "product_code"},
		{"product code breaking the string", map[string]string{"currency": "EUR", "product_code": `A"&B`}, crossBorder, "", "", "", "", "product_code"},
		{"fractional it_b_pay", map[string]string{"currency": "EUR", "it_b_pay": "1.5h"}, crossBorder, "", "", "", "", "it_b_pay"},
		{"it_b_pay over 15d", map[string]string{"currency": "EUR", "it_b_pay": "16d"}, crossBorder, "", "", "", "", "longer than 15d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur, err1 := ParseCurrency(tc.raw, tc.allowed...)
			pc, err2 := ParseProductCode(tc.raw)
			itb, err3 := ParseItBPay(tc.raw, tc.itBPay)
			var err error
			for _, e := range []error{err1, err2, err3} {
				if e != nil && err == nil {
					err = e
				}
			}
			if tc.mention != "" {
				if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), tc.mention) {
					t.Fatalf("error %v, want ECONFIG mentioning %q", err, tc.mention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cur != tc.currency || pc != tc.product || itb != tc.timeout {
				t.Errorf("got %q %q %q, want %q %q %q", cur, pc, itb, tc.currency, tc.product, tc.timeout)
			}
		})
	}
}

func TestItBPayFor(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		left time.Duration // 0: no expiry
		def  string
		want string // "": EINVALID
	}{
		{0, "30m", "30m"},
		{0, "", ""},
		{time.Second, "", "1m"},
		{90 * time.Second, "", "2m"}, // rounded up: the order never closes before the host's expiry
		{59 * time.Minute, "", "59m"},
		{90 * time.Minute, "", "90m"},
		{2 * time.Hour, "", "2h"},
		{25 * time.Hour, "", "25h"},
		{48 * time.Hour, "", "2d"},
		{MaxItBPay, "", "15d"},
	} {
		var exp time.Time
		if tc.left > 0 {
			exp = now.Add(tc.left)
		}
		got, err := ItBPayFor(exp, now, tc.def)
		if err != nil || got != tc.want {
			t.Errorf("expiry in %v (default %q): %q, %v; want %q", tc.left, tc.def, got, err, tc.want)
		}
		if err == nil && got != "" {
			if err := CheckItBPay(got); err != nil {
				t.Errorf("ItBPayFor gave %q, which CheckItBPay refuses: %v", got, err)
			}
		}
	}
	for _, left := range []time.Duration{-time.Minute, 0, MaxItBPay + time.Second} {
		if _, err := ItBPayFor(now.Add(left), now, "30m"); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("expiry in %v: %v, want EINVALID", left, err)
		}
	}
}

func TestSettingNames(t *testing.T) {
	own := []core.Setting{{Name: SetCurrency}, {Name: SetItBPay}}
	got := SettingNames(own, []core.Setting{{Name: "sftp_addr"}})
	if strings.Join(got, ",") != "currency,it_b_pay,sftp_addr" {
		t.Errorf("SettingNames = %v", got)
	}
	// The names derived from a description are what ParseSettings accepts beyond its own.
	raw := map[string]string{SetPartner: testPartner, SetGatewayURL: "https://gw.example/gateway.do", SetSignType: "MD5",
		SetMD5Key: "test-md5-key-DO-NOT-USE-0123456789", SetCurrency: "HKD", "sftp_addr": "x"}
	if _, err := ParseSettings(raw, got...); err != nil {
		t.Errorf("described settings refused: %v", err)
	}
	if _, err := ParseSettings(raw, SettingNames(own)...); core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), "sftp_addr") {
		t.Errorf("undescribed setting: %v", err)
	}
}
