package mapi

import (
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

func TestSetAppOrder(t *testing.T) {
	s := &Settings{Partner: testPartner, SellerID: "2088000000000009", InputCharset: "UTF-8"}
	params := map[string]string{"out_trade_no": "o-1", "service": "overwritten"}
	SetAppOrder(params, s, DefaultProductCode, "90m")
	want := map[string]string{
		"out_trade_no": "o-1", "service": ServiceAppPay, "partner": testPartner, "seller_id": "2088000000000009",
		"_input_charset": "UTF-8", "payment_type": "1", "forex_biz": "FP", "product_code": DefaultProductCode, "it_b_pay": "90m",
	}
	if len(params) != len(want) {
		t.Errorf("params %v, want %v", params, want)
	}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("%s = %q, want %q", k, params[k], v)
		}
	}
}

func TestCheckTextAndURL(t *testing.T) {
	for _, tc := range []struct {
		name, v  string
		max      int
		required bool
		mention  string // "": valid
	}{
		{"subject", "Coffee 咖啡", 256, true, ""},
		{"body", "", 400, false, ""},
		{"subject", "", 256, true, "required"},
		{"subject", strings.Repeat("咖", 86), 256, true, "at most 256 bytes"}, // 258 bytes
		{"subject", "bad \xff", 256, true, "UTF-8"},
		{"subject", `the "best"`, 256, true, "double quotes"},
		{"body", "two\nlines", 400, false, "control"},
		{"subject", "pay total_fee=0.01", 256, true, "total_fee="},
	} {
		err := CheckText(tc.name, tc.v, tc.max, tc.required)
		if tc.mention == "" && err != nil || tc.mention != "" && (core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), tc.mention)) {
			t.Errorf("CheckText(%s, %q): %v, want %q", tc.name, tc.v, err, tc.mention)
		}
	}
	for _, tc := range []struct{ name, v, mention string }{
		{"notify_url", "https://merchant.example/notify/a", ""},
		{"refer_url", "https://shop.example/item?id=1", ""},
		{"notify_url", "", "required"},
		{"notify_url", "merchant.example/notify", "absolute"},
		{"return_url", "ftp://merchant.example/r", "absolute"},
		{"notify_url", "https://merchant.example/n?x=1", "query"},
		{"notify_url", "https://merchant.example/" + strings.Repeat("a", 200), "200 bytes"},
	} {
		err := CheckURL(tc.name, tc.v)
		if tc.mention == "" && err != nil || tc.mention != "" && (core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), tc.mention)) {
			t.Errorf("CheckURL(%s, %q): %v, want %q", tc.name, tc.v, err, tc.mention)
		}
	}
}

func TestCheckExtra(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		known   bool
		valid   bool
	}{
		{"trade_information", `{"business_type":"4","goods_info":"Coffee^2"}`, true, true},
		{"trade_information", `{"business_type":"1|5"}`, true, true},
		{"trade_information", `{"business_type":"9"}`, true, false},
		{"trade_information", `{"goods_info":"x"}`, true, false},
		{"trade_information", `not json`, true, false},
		{"trade_information", `{"business_type":"1","x":"a\"&b=1"}`, true, false},
		{"trade_information", `{"business_type":"1","x":"` + strings.Repeat("a", 6000) + `"}`, true, false},
		{"refer_url", "https://shop.example/?a=1", true, true},
		{"refer_url", "shop.example", true, false},
		{"appenv", "system=android^version=3.0.1.2", true, true},
		{"appenv", `system="x"`, true, false},
		{"secondary_merchant_id", "A80001", true, true},
		{"secondary_merchant_id", "A 80001", true, false},
		{"secondary_merchant_name", "Muku", true, true},
		{"secondary_merchant_name", "", true, false},
		{"secondary_merchant_industry", "7011", true, true},
		{"secondary_merchant_industry", "54", true, false},
		{"split_fund_info", "[]", false, true}, // the cross-border provider's own
		{"total_fee", "0.01", false, true},
	} {
		known, err := CheckExtra(tc.name, tc.v)
		if known != tc.known || (err == nil) != tc.valid {
			t.Errorf("CheckExtra(%s, %.40q) = %v, %v; want known=%v valid=%v", tc.name, tc.v, known, err, tc.known, tc.valid)
		}
		if err != nil && core.ErrorCode(err) != core.EINVALID {
			t.Errorf("CheckExtra(%s): %v is not EINVALID", tc.name, err)
		}
	}
}
