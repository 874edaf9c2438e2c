package core

import "testing"

func TestDescriptionHelpers(t *testing.T) {
	d := &Description{
		Name:         "example",
		Capabilities: []Capability{CapQuery, CapRefund},
		Methods: []Method{
			{ID: "alipayhk", Channels: []Channel{ChannelApp}, AmountRules: []AmountRule{{Currency: "HKD", Min: 10, Max: 1000}}},
			{ID: "any", Channels: []Channel{ChannelApp, ChannelH5}},
		},
	}
	if !d.Has(CapRefund) || d.Has(CapClose) || d.Has("") {
		t.Error("Has reports wrong capabilities")
	}
	m, ok := d.Method("alipayhk")
	if !ok || m.ID != "alipayhk" {
		t.Fatalf("Method(alipayhk) = %+v, %v", m, ok)
	}
	if _, ok := d.Method("missing"); ok {
		t.Error("Method(missing) found")
	}
	if !m.HasChannel(ChannelApp) || m.HasChannel(ChannelH5) {
		t.Error("HasChannel wrong")
	}
	anyMethod, _ := d.Method("any")
	tests := []struct {
		m    Method
		amt  Money
		code string
	}{
		{m, Money{10, "HKD"}, ""},
		{m, Money{1000, "HKD"}, ""},
		{m, Money{9, "HKD"}, EINVALID},
		{m, Money{1001, "HKD"}, EINVALID},
		{m, Money{100, "USD"}, EINVALID},       // currency not listed
		{m, Money{0, "HKD"}, EINVALID},         // not positive
		{m, Money{100, "hkd"}, EINVALID},       // unknown code
		{anyMethod, Money{1, "JPY"}, ""},       // no rules: any valid currency
		{anyMethod, Money{1, "ABC"}, EINVALID}, // but still a known one
		{anyMethod, Money{-1, "USD"}, EINVALID},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.m.CheckAmount(tt.amt)); got != tt.code {
			t.Errorf("%s.CheckAmount(%+v) code %q, want %q", tt.m.ID, tt.amt, got, tt.code)
		}
	}
}

func TestCapabilityValid(t *testing.T) {
	for _, c := range []Capability{CapQuery, CapRefund, CapPartialRefund, CapMultipleRefund,
		CapClose, CapSettlement, CapClientResult, CapLocalCreate} {
		if !c.Valid() {
			t.Errorf("%s: not valid", c)
		}
	}
	for _, c := range []Capability{"", "Query", "refunds", "close "} {
		if c.Valid() {
			t.Errorf("%q: valid, want unknown", c)
		}
	}
}

func TestNextActionValidate(t *testing.T) {
	ok := []NextAction{
		{Type: ActionRedirectURL, Value: "https://wallet.example/pay?id=1"},
		{Type: ActionSDKOrderString, Value: `partner="2088"&sign="x"`},
		{Type: ActionQRCode, Value: "https://qr.example/abc"},
		{Type: ActionDeepLink, Value: "gcash://pay?id=1", AppIdentifier: "com.globe.gcash.android",
			Fallbacks: []NextAction{{Type: ActionAppLink, Value: "https://m.gcash.example/pay"}, {Type: ActionRedirectURL, Value: "http://127.0.0.1:8090/w"}}},
	}
	for _, a := range ok {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	many := NextAction{Type: ActionRedirectURL, Value: "https://a.example"}
	for i := 0; i <= MaxFallbacks; i++ {
		many.Fallbacks = append(many.Fallbacks, NextAction{Type: ActionQRCode, Value: "x"})
	}
	bad := []NextAction{
		{},
		{Type: "popup", Value: "https://a.example"},
		{Type: ActionRedirectURL},
		{Type: ActionRedirectURL, Value: "javascript:alert(1)"},
		{Type: ActionAppLink, Value: "gcash://pay"},
		{Type: ActionDeepLink, Value: "no-scheme"},
		{Type: ActionDeepLink, Value: "JavaScript:alert(1)"},
		{Type: ActionRedirectURL, Value: "https://a.example", Fallbacks: []NextAction{{Type: ActionDeepLink, Value: "x"}}},
		{Type: ActionRedirectURL, Value: "https://a.example", Fallbacks: []NextAction{{Type: ActionQRCode, Value: "x",
			Fallbacks: []NextAction{{Type: ActionQRCode, Value: "y"}}}}},
		many,
	}
	for _, a := range bad {
		if err := a.Validate(); ErrorCode(err) != EINVALID {
			t.Errorf("%+v: got %v, want %s", a, err, EINVALID)
		}
	}
}

func TestChannelValid(t *testing.T) {
	for _, c := range []Channel{ChannelApp, ChannelH5, ChannelWeb} {
		if !c.Valid() {
			t.Errorf("%s not valid", c)
		}
	}
	for _, c := range []Channel{"", "desktop", "WEB"} {
		if c.Valid() {
			t.Errorf("%q valid", c)
		}
	}
}
