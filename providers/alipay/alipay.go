// Package alipay is the Alipay cross-border provider (method "alipay"): the APP payment
// (mobile.securitypay.pay order string for the wallet SDK) and the mobile-website payment
// (create_forex_trade_wap redirect), their notifications, single_trade_query, forex_refund,
// alipay.acquire.refund.query and the forex_compare_file / forex_liquidation_file settlement
// files. It implements core.Provider and core.SettlementFetcher on top of providers/mapi; the
// plugin binary is plugins/alipay.
//
// One Provider serves many accounts: Configure parses and keeps each account's settings; every
// call names its account.
package alipay

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Name and MethodID identify the provider and its one payment method.
const (
	Name     = "alipay"
	MethodID = "alipay"
)

// Version is the provider build version, set by the linker in release builds.
var Version = "dev"

// Provider is the Alipay cross-border provider. Create it with New.
type Provider struct {
	log   hclog.Logger
	http  *http.Client
	clock func() time.Time

	accounts mapi.Accounts[*account]
}

// Option configures a Provider.
type Option func(*Provider)

// WithLogger sets the logger (default: hclog's default logger at the time of each message, which
// sdk.Serve points at the plugin's logger).
func WithLogger(l hclog.Logger) Option { return func(p *Provider) { p.log = l } }

// WithHTTPClient sets the client for gateway calls (default: mapi.NewHTTPClient, shared by all
// accounts so that connections are reused).
func WithHTTPClient(c *http.Client) Option { return func(p *Provider) { p.http = c } }

// WithClock sets the clock used for gmt_return and it_b_pay (tests).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.clock = now } }

// New returns a provider with no accounts.
func New(opts ...Option) *Provider {
	p := &Provider{clock: time.Now}
	for _, o := range opts {
		o(p)
	}
	if p.http == nil {
		p.http = mapi.NewHTTPClient()
	}
	return p
}

var (
	_ core.Provider          = (*Provider)(nil)
	_ core.SettlementFetcher = (*Provider)(nil)
)

func (p *Provider) logger() hclog.Logger {
	if p.log != nil {
		return p.log
	}
	return hclog.Default().Named(Name)
}

// account returns a configured account or ECONFIG.
func (p *Provider) account(name string) (*account, error) {
	return p.accounts.Get(Name, name)
}

// Configure validates an account's settings and replaces its previous configuration.
func (p *Provider) Configure(_ context.Context, req *core.ConfigureRequest) error {
	if req.Account == "" {
		return core.Errorf(core.ECONFIG, "account name is empty")
	}
	a, err := parseAccount(req.Settings)
	if err != nil {
		return err
	}
	a.client = mapi.NewClient(a.mapi, p.http)
	// total_fee and return_amount are in the settlement currency even on CNY-priced payments.
	a.client.DefaultCurrency = a.currency
	account := req.Account
	a.client.OnMD5Key = func(op string, refused, used int) {
		p.logger().Info("the gateway refused an md5_key's signature; another listed key works and now signs server calls first (an MD5 key rotation)",
			"account", account, "service", op, "refused_key", refused, "used_key", used)
	}
	for _, w := range a.mapi.Warnings {
		p.logger().Warn("account setting", "account", req.Account, "warning", w)
	}
	p.accounts.Set(req.Account, a)
	return nil
}

// Describe declares the method, channels, money rules, capabilities and settings.
func (p *Provider) Describe(context.Context) (*core.Description, error) {
	return &core.Description{
		Name:    Name,
		Version: Version,
		Methods: []core.Method{{
			ID:          MethodID,
			Name:        "Alipay",
			Channels:    []core.Channel{core.ChannelApp, core.ChannelH5, core.ChannelWeb},
			AmountRules: AmountRules(),
		}},
		Capabilities:  mapi.Capabilities(),
		Settings:      settingsSchema(),
		QuerySchedule: QuerySchedule,
		DefaultExpiry: DefaultExpiry,
		MaxExpiry:     mapi.MaxItBPay,
	}, nil
}

// QuerySchedule is when the host re-queries a payment or refund still pending: soon after the
// buyer could have paid, then spaced out past the notification retry window (24h22m).
var QuerySchedule = []time.Duration{
	time.Minute, 3 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 12 * time.Hour, 25 * time.Hour,
}

// DefaultExpiry is the it_b_pay sent when neither the request nor the account sets one.
const DefaultExpiry = mapi.DefaultPaymentExpiry

// SettlementCurrencies are the foreign currencies the cross-border product settles in (the union
// of the lists in alipay-crossborder.md §13; the contract decides which one an account has).
var SettlementCurrencies = []string{
	"AUD", "CAD", "CHF", "DKK", "EUR", "GBP", "HKD", "JPY", "KRW", "MOP", "NOK", "NZD",
	"RUB", "SEK", "SGD", "THB", "USD",
}

// amountRules is AmountRules computed once, for the per-payment check.
var amountRules = AmountRules()

// AmountRules returns one rule per accepted currency (the settlement currencies and CNY, which
// is priced with rmb_fee and ReportedInSettlement): 0.01 to 1,000,000.00, or 1 to 1,000,000 for
// currencies without decimals (JPY, KRW).
func AmountRules() []core.AmountRule {
	rules := make([]core.AmountRule, 0, len(SettlementCurrencies)+1)
	for _, c := range append([]string{"CNY"}, SettlementCurrencies...) {
		exp, _ := core.CurrencyExponent(c)
		unit := int64(1)
		for range exp {
			unit *= 10
		}
		// A CNY price (rmb_fee) is settled in the account's currency, and notifications and
		// single_trade_query report only total_fee in it (alipay-h5.md §3.3).
		rules = append(rules, core.AmountRule{Currency: c, Min: 1, Max: 1_000_000 * unit, ReportedInSettlement: c == "CNY"})
	}
	return rules
}
