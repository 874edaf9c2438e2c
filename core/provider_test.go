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
