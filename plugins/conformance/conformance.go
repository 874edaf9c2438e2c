// Package conformance is the test kit every paymux provider plugin must pass, in the spirit of
// testing/fstest.TestFS: a provider's test builds a Harness (the provider, in process or over
// the plugin boundary, its account, and the simulator-side actions) and calls Run.
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{Provider: p, Account: "acct", Settings: s, ...})
//	}
//
// Run serves its own notify endpoint on loopback and passes its URL as notify_url, so the
// simulator's notifications reach the kit, which hands them to ParseNotification and answers
// with the provider's ack. Scenarios: describe, create, pay + notify, duplicate notify,
// tampered notify, client result, query, partial refunds up to the amount and one beyond,
// unknown outcomes under gateway faults, money rules, settlement streaming, secret settings
// that never come back in errors or results, and the trust rules (ARCHITECTURE "Trust"): a
// genuinely signed notification for another merchant is refused, a signed answer about another
// object and an unsigned answer are not applied, a declared sign type of another family is
// refused.
//
// The kit's endpoint plays the host: a Pending result (authentic, not yet bound to the
// merchant) is acknowledged only as a duplicate of a notification it processed, else asked
// again with Confirm.
package conformance

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

// FaultKind is a gateway misbehaviour the harness can switch on.
type FaultKind string

const (
	// FaultServerError makes the gateway answer HTTP 5xx.
	FaultServerError FaultKind = "server_error"
	// FaultHang makes the gateway accept the call and never answer (the provider must give up
	// at its deadline).
	FaultHang FaultKind = "hang"
	// FaultSystemError makes the gateway answer with its own "internal error, outcome unknown"
	// code (SYSTEM_EXCEPTION on mapi).
	FaultSystemError FaultKind = "system_error"
	// FaultUnsignedAnswer makes the gateway answer queries without a signature (the content
	// otherwise genuine): the provider must not apply such an answer.
	FaultUnsignedAnswer FaultKind = "unsigned_answer"
	// FaultOtherObject makes the gateway answer a query, correctly signed, about another object
	// than the one asked (a paid trade or a finished refund with other references): the
	// provider must not apply it.
	FaultOtherObject FaultKind = "other_object"
)

// Harness is what a provider's test gives Run.
type Harness struct {
	// Provider is the provider under test: an in-process value or a launched plugin's client.
	Provider core.Provider
	// Account and Settings configure it; Run calls Configure first.
	Account  string
	Settings map[string]string
	// Method and Channel are those of the payments Run creates (Method must be in Describe and
	// offer Channel).
	Method  string
	Channel core.Channel
	// Amount is the payment amount of the scenarios: a currency the account accepts, at least 3
	// minor units (refunds split it in three).
	Amount core.Money
	// Pay completes a payment as the buyer, given the NextAction CreatePayment returned, and
	// returns the wallet's synchronous client result when the channel has one (the SDK's
	// resultStatus/result/memo for an app, the signed return parameters for h5), else nil.
	// After Pay returns, the wallet posts its notification to the request's notify_url.
	Pay func(ctx context.Context, action core.NextAction) (map[string]string, error)
	// Fault switches on a gateway fault for the account's server calls and returns the function
	// that switches it off, or nil when the harness cannot inject that kind (that case is
	// skipped). A nil Fault skips the unknown-outcome scenarios.
	Fault func(kind FaultKind) (undo func())
	// Tamper changes a notification body so that its signature no longer verifies; nil means
	// the kit's default for form bodies (it changes an amount field, else the last value).
	Tamper func(body []byte) []byte
	// PayForeign plays the attack on merchant binding: another merchant of the same gateway
	// creates an order with req's out_trade_no, amount and notify_url and the buyer pays it;
	// the gateway then posts its genuinely signed notification to notify_url, that is, to this
	// account. named says whether that notification names its merchant (real ones may not).
	// Nil skips the ForeignMerchant scenario; an error skips that variant.
	PayForeign func(ctx context.Context, req *core.CreatePaymentRequest, named bool) error
	// Downgrade re-signs a genuine notification body declaring a sign type of another family
	// than the account's (MD5 on an RSA account, RSA on an MD5 one) with a key the harness
	// holds, or returns nil when it cannot. Nil skips the SignTypeDowngrade scenario.
	Downgrade func(body []byte) []byte
	// SettlementWindow is called after the payment scenarios and returns the days (inclusive)
	// whose settlement records must contain every payment and refund the kit completed; a
	// harness moves its simulator's clock past those days first. Nil: the kit reads the last
	// three days and requires no particular records.
	SettlementWindow func(ctx context.Context) (from, to time.Time)
	// Timeout bounds each scenario; 0 means 60 s.
	Timeout time.Duration
	// NotifyWait bounds the wait for one notification; 0 means 20 s.
	NotifyWait time.Duration
}

// Run runs every scenario as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil || h.Account == "" || h.Pay == nil {
		t.Fatal("conformance: Harness needs Provider, Account and Pay")
	}
	if h.Timeout == 0 {
		h.Timeout = 60 * time.Second
	}
	if h.NotifyWait == 0 {
		h.NotifyWait = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	err := h.Provider.Configure(ctx, &core.ConfigureRequest{Account: h.Account, Settings: h.Settings})
	cancel()
	if err != nil {
		t.Fatalf("conformance: Configure: %v", err)
	}
	k := &kit{h: h, sink: newSink(t, h), paidNos: map[string]core.Money{}, refunded: map[string]core.Money{}}
	k.prefix = fmt.Sprintf("cf%d", time.Now().UnixNano()%1e12)

	scenarios := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context)
	}{
		{"Describe", k.describe},
		{"MoneyRules", k.moneyRules},
		{"Create", k.create},
		{"PayNotifyQuery", k.payNotifyQuery},
		{"PartialRefunds", k.partialRefunds},
		{"UnknownOutcomes", k.unknownOutcomes},
		{"ForeignMerchant", k.foreignMerchant},
		{"UntrustedAnswers", k.untrustedAnswers},
		{"SignTypeDowngrade", k.signTypeDowngrade},
		{"Settlement", k.settlement},
		{"SecretsStayHidden", k.secrets},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			s.fn(t, ctx)
		})
	}
}

type kit struct {
	mu       sync.Mutex
	paidNos  map[string]core.Money // out_trade_no -> amount of every payment the kit completed
	refunded map[string]core.Money // out_refund_no -> amount of every refund that succeeded

	h      Harness
	sink   *sink
	prefix string
	seq    atomic.Int64
	desc   *core.Description
}

func (k *kit) nextNo(kind string) string {
	return k.prefix + kind + strconv.FormatInt(k.seq.Add(1), 10)
}

func (k *kit) description(t *testing.T, ctx context.Context) *core.Description {
	t.Helper()
	if k.desc != nil {
		return k.desc
	}
	d, err := k.h.Provider.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	k.desc = d
	return d
}

func (k *kit) createReq(amount core.Money) *core.CreatePaymentRequest {
	return &core.CreatePaymentRequest{
		Account:    k.h.Account,
		PaymentID:  k.nextNo("pay"),
		OutTradeNo: k.nextNo("o"),
		Method:     k.h.Method,
		Channel:    k.h.Channel,
		Amount:     amount,
		Subject:    "conformance order",
		ReturnURL:  k.sink.url + "/return",
		NotifyURL:  k.sink.url + "/notify",
		ExpiresAt:  time.Now().Add(30 * time.Minute),
	}
}

// describe checks that the description is complete and self-consistent.
func (k *kit) describe(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	if d.Name == "" || d.Version == "" {
		t.Errorf("Describe: name %q and version %q must be set", d.Name, d.Version)
	}
	m, ok := d.Method(k.h.Method)
	if !ok {
		t.Fatalf("Describe: no method %q", k.h.Method)
	}
	if !m.HasChannel(k.h.Channel) {
		t.Errorf("Describe: method %s lacks channel %s", m.ID, k.h.Channel)
	}
	for _, c := range d.Capabilities {
		if !c.Valid() {
			t.Errorf("Describe: unknown capability %q", c)
		}
	}
	if d.Has(core.CapClose) {
		if _, ok := k.h.Provider.(core.PaymentCloser); !ok {
			t.Errorf("Describe declares close but the provider is not a core.PaymentCloser")
		}
	}
	if d.Has(core.CapSettlement) {
		if _, ok := k.h.Provider.(core.SettlementFetcher); !ok {
			t.Errorf("Describe declares settlement but the provider is not a core.SettlementFetcher")
		}
	}
	if (d.Has(core.CapPartialRefund) || d.Has(core.CapMultipleRefund)) && !d.Has(core.CapRefund) {
		t.Errorf("Describe: partial or multiple refunds without refund")
	}
	for i, s := range d.QuerySchedule {
		if s <= 0 || i > 0 && s < d.QuerySchedule[i-1] {
			t.Errorf("Describe: QuerySchedule must be positive and non-decreasing: %v", d.QuerySchedule)
			break
		}
	}
	if d.DefaultExpiry < 0 {
		t.Errorf("Describe: negative DefaultExpiry")
	}
	seen := map[string]bool{}
	for _, s := range d.Settings {
		if s.Name == "" || seen[s.Name] {
			t.Errorf("Describe: setting name %q empty or repeated", s.Name)
		}
		seen[s.Name] = true
	}
	for k := range k.h.Settings {
		if !seen[k] {
			t.Errorf("Describe: the harness's setting %q is not declared", k)
		}
	}
}

// moneyRules checks that the declared rules are sane and that the provider itself refuses what
// they forbid (the host checks first, but a provider must not trust that).
func (k *kit) moneyRules(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	m, ok := d.Method(k.h.Method)
	if !ok {
		t.Fatalf("no method %q", k.h.Method)
	}
	if err := m.CheckAmount(k.h.Amount); err != nil {
		t.Fatalf("the harness amount %s breaks the declared rules: %v", k.h.Amount, err)
	}
	var rule *core.AmountRule
	for i, r := range m.AmountRules {
		if !core.ValidCurrency(r.Currency) || r.Min < 0 || r.Max < 0 || r.Max > 0 && r.Max < r.Min {
			t.Errorf("rule %+v is not sane", r)
		}
		if r.Currency == k.h.Amount.Currency {
			rule = &m.AmountRules[i]
		}
	}
	if rule != nil && rule.Max > 0 {
		over := core.Money{Value: rule.Max + 1, Currency: rule.Currency}
		if _, err := k.h.Provider.CreatePayment(ctx, k.createReq(over)); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("CreatePayment over the declared maximum: got %v, want %s", err, core.EINVALID)
		}
	}
	if rule != nil && rule.Min > 1 {
		under := core.Money{Value: rule.Min - 1, Currency: rule.Currency}
		if _, err := k.h.Provider.CreatePayment(ctx, k.createReq(under)); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("CreatePayment under the declared minimum: got %v, want %s", err, core.EINVALID)
		}
	}
	zero := core.Money{Value: 0, Currency: k.h.Amount.Currency}
	if _, err := k.h.Provider.CreatePayment(ctx, k.createReq(zero)); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("CreatePayment of zero: got %v, want %s", err, core.EINVALID)
	}
	if len(m.AmountRules) > 0 {
		for _, c := range []string{"XAF", "BHD", "CLF", "XOF"} {
			if m.CheckAmount(core.Money{Value: 100, Currency: c}) == nil {
				continue
			}
			_, err := k.h.Provider.CreatePayment(ctx, k.createReq(core.Money{Value: 100, Currency: c}))
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("CreatePayment in undeclared currency %s: got %v, want %s", c, err, core.EINVALID)
			}
			break
		}
	}
	req := k.createReq(k.h.Amount)
	req.Extras = map[string]string{"conformance_unknown_extra": "x"}
	if _, err := k.h.Provider.CreatePayment(ctx, req); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("CreatePayment with an unknown extra: got %v, want %s", err, core.EINVALID)
	}
}

// create checks the client action of a payment.
func (k *kit) create(t *testing.T, ctx context.Context) {
	res, err := k.h.Provider.CreatePayment(ctx, k.createReq(k.h.Amount))
	if err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	// What a merchant's client on each channel can follow: an app hands over to the wallet app,
	// a mobile browser follows URLs and links, a desktop browser a page or a QR code.
	allowed := map[core.Channel][]core.ActionType{
		core.ChannelApp: {core.ActionSDKOrderString, core.ActionAppLink, core.ActionDeepLink},
		core.ChannelH5:  {core.ActionRedirectURL, core.ActionAppLink, core.ActionDeepLink},
		core.ChannelWeb: {core.ActionRedirectURL, core.ActionQRCode},
	}[k.h.Channel]
	if len(allowed) > 0 && !slices.Contains(allowed, res.Action.Type) {
		t.Errorf("CreatePayment(%s) action type %q, want one of %v", k.h.Channel, res.Action.Type, allowed)
	}
	if res.Action.Value == "" {
		t.Fatal("CreatePayment: empty action value")
	}
	if err := res.Action.Validate(); err != nil {
		t.Errorf("CreatePayment: the host would refuse this next action: %v", err)
	}
	for _, a := range append([]core.NextAction{res.Action}, res.Action.Fallbacks...) {
		if a.Type == core.ActionRedirectURL || a.Type == core.ActionAppLink {
			if u, err := url.Parse(a.Value); err != nil || u.Scheme == "" || u.Host == "" {
				t.Errorf("%s %q is not absolute", a.Type, a.Value)
			}
		}
	}
	// Unconfigured accounts are configuration errors, not crashes.
	bad := k.createReq(k.h.Amount)
	bad.Account = k.h.Account + "-not-configured"
	if _, err := k.h.Provider.CreatePayment(ctx, bad); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("CreatePayment for an unconfigured account: got %v, want %s", err, core.ECONFIG)
	}
}

// settlement checks that a provider declaring settlement streams records for past days without
// error, each complete and of a known kind (records of today's payments appear only once the
// gateway publishes the day, so none are required).
func (k *kit) settlement(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	if !d.Has(core.CapSettlement) {
		t.Skip("no settlement capability")
	}
	f, ok := k.h.Provider.(core.SettlementFetcher)
	if !ok {
		t.Fatal("declares settlement but is not a core.SettlementFetcher")
	}
	now := time.Now()
	req := &core.SettlementRequest{Account: k.h.Account, From: now.AddDate(0, 0, -3), To: now.AddDate(0, 0, -1)}
	k.mu.Lock()
	wantPaid, wantRefunds := maps.Clone(k.paidNos), maps.Clone(k.refunded)
	k.mu.Unlock()
	if k.h.SettlementWindow != nil {
		req.From, req.To = k.h.SettlementWindow(ctx)
	} else {
		wantPaid, wantRefunds = nil, nil
	}
	n := 0
	err := f.FetchSettlement(ctx, req, func(r *core.SettlementRecord) error {
		n++
		if r.Reference == "" || (r.Kind != core.EventPayment && r.Kind != core.EventRefund) || r.Amount.Validate() != nil {
			t.Errorf("incomplete settlement record %+v", r)
		}
		want := wantPaid
		if r.Kind == core.EventRefund {
			want = wantRefunds
		}
		if m, ok := want[r.Reference]; ok {
			if m.Currency == r.Amount.Currency && m != r.Amount {
				t.Errorf("settlement record %s: amount %s, want %s", r.Reference, r.Amount, m)
			}
			delete(want, r.Reference)
		}
		return nil
	})
	if core.ErrorCode(err) == core.ECONFIG && n == 0 {
		// The capability is the provider's; the harness's account may not be set up for it.
		t.Skipf("the harness account has no settlement configured: %v", err)
	}
	if err != nil {
		t.Fatalf("FetchSettlement %s..%s: %v", req.From.Format(time.DateOnly), req.To.Format(time.DateOnly), err)
	}
	for no := range wantPaid {
		t.Errorf("payment %s is missing from the settlement records", no)
	}
	for no := range wantRefunds {
		t.Errorf("refund %s is missing from the settlement records", no)
	}
	t.Logf("%d settlement records", n)
	stop := core.Errorf(core.EINVALID, "stop")
	if n > 0 {
		err = f.FetchSettlement(ctx, req, func(*core.SettlementRecord) error { return stop })
		if core.ErrorCode(err) != core.EINVALID {
			t.Errorf("an error from yield must stop the fetch and come back: got %v", err)
		}
	}
}
