package alipayhk

import (
	"context"
	"net/http"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Name is the provider's name in Describe and in configuration.
const Name = "alipayhk"

// Method ids: one per checkout button the AlipayHK design guideline asks for (alipayhk.md 15).
const (
	MethodAlipayHK = "alipayhk" // the AlipayHK wallet: payment_inst=ALIPAYHK
	MethodAlipay   = "alipay"   // the mainland Alipay wallet: payment_inst=ALIPAYCN
)

// paymentInst maps a method to its payment_inst.
var paymentInst = map[string]string{
	MethodAlipayHK: "ALIPAYHK",
	MethodAlipay:   "ALIPAYCN",
}

// Amount limits per transaction in HKD minor units: 0.01 to 50,000.00 (alipayhk.md 15; the
// maximum is Antom's and Worldpay's figure, UNCONFIRMED for the legacy SDK, so a region can
// narrow it further).
const (
	MinHKD = 1
	MaxHKD = 50_000_00
)

// Version is reported by Describe; the plugin's main may set it from its build flags.
var Version = "dev"

// Provider is the AlipayHK provider. One value serves many accounts; it is safe for concurrent
// use. It implements core.Provider and core.SettlementFetcher, and deliberately not
// core.PaymentCloser: the SDK product has no close or cancel service (alipayhk.md 11).
type Provider struct {
	http *http.Client
	now  func() time.Time
	logf func(format string, args ...any)

	accounts mapi.Accounts[*account]
}

// account is one merchant account's parsed configuration.
type account struct {
	name   string
	client *mapi.Client // holds the mapi settings with the keys
	hk     *hkConfig
	sftp   *sftpConfig // nil: reconciliation not configured
}

// Option configures a Provider.
type Option func(*Provider)

// WithHTTPClient sets the client for gateway calls (default mapi.NewHTTPClient()).
func WithHTTPClient(c *http.Client) Option { return func(p *Provider) { p.http = c } }

// WithClock sets the clock used for gmt_return and it_b_pay (default time.Now).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// WithLogf receives non-fatal configuration findings (weak keys). Secrets never reach it.
func WithLogf(f func(format string, args ...any)) Option { return func(p *Provider) { p.logf = f } }

// New returns an AlipayHK provider with no accounts.
func New(opts ...Option) *Provider {
	p := &Provider{now: time.Now, logf: func(string, ...any) {}}
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

// Describe lists the two wallet methods (AlipayHK first, then Alipay), HKD limits, capabilities
// and settings.
func (p *Provider) Describe(context.Context) (*core.Description, error) {
	rules := []core.AmountRule{{Currency: "HKD", Min: MinHKD, Max: MaxHKD}}
	settings := append(append(mapi.CommonSettings(), hkSettings()...), sftpSettings()...)
	return &core.Description{
		Name:    Name,
		Version: Version,
		Methods: []core.Method{
			{ID: MethodAlipayHK, Name: "AlipayHK", Channels: []core.Channel{core.ChannelApp}, AmountRules: rules},
			{ID: MethodAlipay, Name: "Alipay", Channels: []core.Channel{core.ChannelApp}, AmountRules: rules},
		},
		Capabilities: mapi.Capabilities(),
		Settings:     settings,
		// Notifications come 2m, 10m, 10m, 1h... after a payment; the janitor asks sooner for
		// buyers who return to the app without one.
		QuerySchedule: []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour},
		DefaultExpiry: mapi.DefaultPaymentExpiry,
		MaxExpiry:     mapi.MaxItBPay,
	}, nil
}

// Configure validates an account's settings (mapi's common ones, the HK ones and the SFTP ones)
// and replaces the account's configuration. On error the previous configuration stays.
func (p *Provider) Configure(_ context.Context, req *core.ConfigureRequest) error {
	if req.Account == "" {
		return core.Errorf(core.ECONFIG, "account name is empty")
	}
	s, err := mapi.ParseSettings(req.Settings, mapi.SettingNames(hkSettings(), sftpSettings())...)
	if err != nil {
		return err
	}
	hk, err := parseHK(req.Settings)
	if err != nil {
		return err
	}
	if hk.orderSigner, err = orderSigner(req.Settings, s); err != nil {
		return err
	}
	sc, err := parseSFTP(req.Settings)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		p.logf("alipayhk: account %s: %s", req.Account, w)
	}
	client := mapi.NewClient(s, p.http)
	client.DefaultCurrency = "HKD" // HK notifications and answers often name no currency
	name := req.Account
	client.OnMD5Key = func(op string, refused, used int) {
		p.logf("alipayhk: account %s: the gateway refused md5_key %d's signature on %s; md5_key %d works and now signs server calls first (an MD5 key rotation)", name, refused, op, used)
	}
	a := &account{name: req.Account, client: client, hk: hk, sftp: sc}
	p.accounts.Set(req.Account, a)
	return nil
}

func (p *Provider) account(name string) (*account, error) {
	return p.accounts.Get(Name, name)
}

// FetchSettlement streams the account's reconciliation files from AlipayHK's SFTP server for
// the HK calendar days from..to.
func (p *Provider) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	a, err := p.account(req.Account)
	if err != nil {
		return err
	}
	if a.sftp == nil {
		return core.Errorf(core.ECONFIG, "account %q has no %s: reconciliation files are only delivered over SFTP", a.name, SetSFTPAddr)
	}
	return a.sftp.fetch(ctx, a.client.S.Partner, req.From, req.To, DefaultZipLimits, yield)
}
