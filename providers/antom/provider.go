package antom

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
)

// Name is the provider's name in Describe.
const Name = "antom"

// Version is the provider build version; the plugin's main sets it.
var Version = "dev"

// Provider implements core.Provider (and core.PaymentCloser) for Antom AMS.
type Provider struct {
	http *http.Client
	now  func() time.Time
	log  hclog.Logger

	mu       sync.RWMutex
	accounts map[string]*account
}

// Option configures New.
type Option func(*Provider)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// WithLogger sets the logger.
func WithLogger(l hclog.Logger) Option { return func(p *Provider) { p.log = l } }

// WithHTTPClient sets the HTTP client of gateway calls.
func WithHTTPClient(c *http.Client) Option { return func(p *Provider) { p.http = c } }

// New returns a provider with no accounts.
func New(opts ...Option) *Provider {
	p := &Provider{http: &http.Client{}, now: time.Now, log: hclog.NewNullLogger(), accounts: map[string]*account{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Describe implements core.Provider.
func (p *Provider) Describe(context.Context) (*core.Description, error) {
	d := &core.Description{
		Name: Name, Version: Version,
		Capabilities: []core.Capability{core.CapQuery, core.CapRefund, core.CapPartialRefund, core.CapMultipleRefund,
			core.CapClose, core.CapCloseMovesMoney},
		Settings: settingsSchema(),
		// Antom's docs: inquire when no notification came within a minute; wallets expire
		// unpaid orders after about 14 minutes.
		QuerySchedule: []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour},
		DefaultExpiry: defaultMaxExpiry,
	}
	for _, w := range wallets {
		d.Methods = append(d.Methods, core.Method{ID: w.methodID(), Name: w.name,
			Channels: []core.Channel{core.ChannelApp, core.ChannelH5, core.ChannelWeb}, AmountRules: w.rules})
	}
	return d, nil
}

// Configure implements core.Provider.
func (p *Provider) Configure(_ context.Context, req *core.ConfigureRequest) error {
	if req.Account == "" {
		return core.Errorf(core.ECONFIG, "account name is empty")
	}
	a, err := parseSettings(req.Settings)
	if err != nil {
		return err
	}
	for _, w := range a.warnings {
		p.log.Warn(w, "account", req.Account)
	}
	p.mu.Lock()
	p.accounts[req.Account] = a
	p.mu.Unlock()
	return nil
}

func (p *Provider) account(name string) (*account, error) {
	p.mu.RLock()
	a := p.accounts[name]
	p.mu.RUnlock()
	if a == nil {
		return nil, core.Errorf(core.ECONFIG, "account %s is not configured", name)
	}
	return a, nil
}

// VerifyClientResult implements core.Provider. AMS wallets return the buyer to
// paymentRedirectUrl with nothing signed ("landing there proves nothing"), so there is nothing
// to verify: the result is never verified, and the status stays pending.
func (p *Provider) VerifyClientResult(_ context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	if _, err := p.account(req.Account); err != nil {
		return nil, err
	}
	return &core.ClientResult{Verified: false, Status: core.PaymentPending, Message: "Antom returns the buyer unsigned; wait for the notification"}, nil
}
