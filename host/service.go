// Package host is paymux's service logic, written once for every provider: payments, refunds,
// the notification inbox, the outbox of merchant events and its webhook dispatcher. It talks to
// providers only through core.Provider (see Providers) and to the database only through
// host/store; it knows nothing of HTTP status codes (host/httpapi maps core error codes).
package host

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// Providers hands the service the provider serving a merchant account and its description.
// host/pluginhost satisfies it in production (through a small adapter in the CLI); tests satisfy
// it in process with a real provider. Errors carry core codes: ENOTFOUND for an unknown account,
// EUNAVAILABLE when the provider's plugin is down.
type Providers interface {
	Provider(ctx context.Context, account string) (core.Provider, *core.Description, error)
}

// Settings are the parts of the config the service reads on every request. They are swapped
// atomically on reload (SetSettings).
type Settings struct {
	PublicURL string                    // base of every notify_url
	Regions   map[string][]RegionMethod // region code -> methods in checkout order
	// WebhookURL is where events are POSTed (the endpoint named "default", every event);
	// empty: that endpoint does not exist. Events are recorded but not sent while there is no
	// endpoint at all.
	WebhookURL    string
	WebhookSecret string
	// Endpoints are more webhook endpoints (config webhooks.endpoints).
	Endpoints []WebhookEndpoint
	// DemoSecrets names the settings (never their values) that hold a demo secret from
	// config.example.yaml or the simulator's test keys; /readyz reports that while non-empty.
	DemoSecrets []string
	// Retention is how long the janitor keeps rejected notifications and delivered events.
	Retention Retention
}

// WebhookEndpoint is one receiver of webhook events.
type WebhookEndpoint struct {
	Name     string
	URL      string
	Secrets  [][]byte // every one signs each delivery
	Events   []string // types or families ("payment.*"); empty: every event
	Accounts []string // empty: every account
	Regions  []string // empty: every region (events about no payment need an empty Regions)
	Paused   bool
}

// wants reports whether the endpoint takes event e: its type is selected and it lies in the
// endpoint's scope, with the meaning API keys give accounts and regions (see Caller).
func (ep *WebhookEndpoint) wants(e *store.Event) bool {
	if len(ep.Events) > 0 && !slices.ContainsFunc(ep.Events, func(p string) bool { return webhook.TypeMatches(p, e.Type) }) {
		return false
	}
	scope := &Caller{}
	if len(ep.Accounts) > 0 {
		scope.Accounts = ep.Accounts
	}
	if len(ep.Regions) > 0 {
		scope.Regions = ep.Regions
	}
	return scope.sees(e.Account, e.Region)
}

// webhookEndpoints is every endpoint: "default" (WebhookURL) first, then Endpoints.
func (s *Settings) webhookEndpoints() []WebhookEndpoint {
	if s.WebhookURL == "" {
		return s.Endpoints
	}
	return append([]WebhookEndpoint{{Name: "default", URL: s.WebhookURL, Secrets: [][]byte{[]byte(s.WebhookSecret)}}}, s.Endpoints...)
}

// RegionMethod is one method enabled in a region, through one account.
type RegionMethod struct {
	Method     string
	Account    string
	Currencies []string          // empty: any currency the provider accepts
	Limits     []core.AmountRule // the region's own limits, on top of the provider's rules
}

// notifyURL is where the wallet posts notifications for account.
func (s *Settings) notifyURL(account string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/notify/" + account
}

// notifyPath is the path of notifyURL(account): what a wallet that signs the URL it called
// (AMS) signs, whatever path a proxy in front of the host forwards to.
func (s *Settings) notifyPath(account string) string {
	u, err := url.Parse(s.notifyURL(account))
	if err != nil {
		return "/notify/" + account
	}
	return u.EscapedPath()
}

// SettingsFromConfig extracts the service's settings from a loaded config.
func SettingsFromConfig(c *config.Config) (*Settings, error) {
	s := &Settings{
		PublicURL:     c.Server.PublicURL,
		Regions:       make(map[string][]RegionMethod, len(c.Regions)),
		WebhookURL:    c.Webhooks.URL,
		WebhookSecret: c.Webhooks.Secret.Value(),
		DemoSecrets:   c.DemoSecrets(),
		Retention: Retention{
			RejectedNotifications: time.Duration(c.Retention.RejectedNotifications),
			DeliveredEvents:       time.Duration(c.Retention.DeliveredEvents),
			PruneBatch:            int(c.Retention.PruneBatch),
			PrunePause:            time.Duration(c.Retention.PrunePause),
			PruneMaxRows:          int(c.Retention.PruneMaxRows),
		},
	}
	for _, ep := range c.Webhooks.Endpoints {
		w := WebhookEndpoint{Name: ep.Name, URL: ep.URL, Events: slices.Clone(ep.Events), Accounts: slices.Clone(ep.Accounts),
			Regions: slices.Clone(ep.Regions), Paused: ep.Paused}
		for _, sec := range ep.Secrets {
			w.Secrets = append(w.Secrets, []byte(sec.Value()))
		}
		s.Endpoints = append(s.Endpoints, w)
	}
	for code, r := range c.Regions {
		for i, m := range r.Methods {
			rules, err := m.AmountRules()
			if err != nil {
				return nil, fmt.Errorf("regions.%s.methods[%d]: %w", code, i, err)
			}
			s.Regions[code] = append(s.Regions[code], RegionMethod{
				Method: m.Method, Account: m.Account, Currencies: slices.Clone(m.Currencies), Limits: rules,
			})
		}
	}
	return s, nil
}

// Options configures a Service.
type Options struct {
	Store     store.Store
	Providers Providers
	Settings  *Settings
	Logger    hclog.Logger
	// CallTimeout bounds every provider call; 0 means 30s.
	CallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFinal, when set, is told each time a payment or refund reaches a final status (kind
	// "payment" or "refund", the status and the payment's method), for the
	// paymux_payments_final_total and paymux_refunds_final_total metrics. It is called inside the
	// transaction that writes the change, so a transaction rolled back after it (rare: a failed
	// commit) has been counted. It must return quickly.
	OnFinal func(kind, status, method string)
}

// Service is the host's logic. It is safe for concurrent use.
type Service struct {
	store       store.Store
	providers   Providers
	settings    atomic.Pointer[Settings]
	log         hclog.Logger
	callTimeout time.Duration
	now         func() time.Time
	onFinal     func(kind, status, method string)
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, providers: o.Providers, log: o.Logger, callTimeout: o.CallTimeout, now: o.Now, onFinal: o.OnFinal}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.callTimeout <= 0 {
		s.callTimeout = 30 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.Settings == nil {
		o.Settings = &Settings{}
	}
	s.settings.Store(o.Settings)
	return s
}

// SetSettings swaps the settings (config reload). Requests in flight finish with the old ones.
func (s *Service) SetSettings(st *Settings) { s.settings.Store(st) }

// Settings returns the current settings. Callers must not modify them.
func (s *Service) Settings() *Settings { return s.settings.Load() }

// Store returns the service's store (for the API's idempotency keys and health checks).
func (s *Service) Store() store.Store { return s.store }

// Ready checks the store and every account's provider, for /readyz. It returns one error per
// failing dependency, keyed by a name that reveals no secret ("store", "account:<id>").
func (s *Service) Ready(ctx context.Context) map[string]error {
	problems := map[string]error{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		problems["store"] = err
	}
	seen := map[string]bool{}
	for _, methods := range s.Settings().Regions {
		for _, m := range methods {
			if seen[m.Account] {
				continue
			}
			seen[m.Account] = true
			if _, _, err := s.providers.Provider(ctx, m.Account); err != nil {
				problems["account:"+m.Account] = err
			}
		}
	}
	return problems
}

// provider returns account's provider with a call deadline applied to ctx.
func (s *Service) provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	p, d, err := s.providers.Provider(ctx, account)
	if err != nil {
		if core.ErrorCode(err) == core.EINTERNAL {
			return nil, nil, core.WrapError(core.EUNAVAILABLE, err, "the provider for this payment is unavailable")
		}
		return nil, nil, err
	}
	return p, d, nil
}

func (s *Service) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.callTimeout)
}

// findMethod returns the first entry of region that offers method for currency.
func (st *Settings) findMethod(region, method, currency string) (RegionMethod, error) {
	methods, ok := st.Regions[region]
	if !ok {
		return RegionMethod{}, core.ParamErrorf(core.EINVALID, "region", "unknown region %q", region)
	}
	found := false
	for _, m := range methods {
		if m.Method != method {
			continue
		}
		found = true
		if len(m.Currencies) == 0 || slices.Contains(m.Currencies, currency) {
			return m, nil
		}
	}
	if found {
		return RegionMethod{}, core.ParamErrorf(core.EINVALID, "amount.currency", "method %s does not accept %s in region %s", method, currency, region)
	}
	return RegionMethod{}, core.ParamErrorf(core.EINVALID, "method", "method %q is not enabled in region %s", method, region)
}

// checkLimits applies the region's own limits for amount's currency, if any.
func (m RegionMethod) checkLimits(amount core.Money) error {
	for _, r := range m.Limits {
		if r.Currency == amount.Currency {
			return r.Check(amount)
		}
	}
	return nil
}

type ctxKey int

const ctxRequestID ctxKey = 0

// WithRequestID returns ctx carrying the API request id, so that the service's log lines name
// the request that caused them (host/httpapi sets it for every request).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxRequestID, id)
}

// logFor returns the service logger with the request id of ctx, if any.
func (s *Service) logFor(ctx context.Context) hclog.Logger {
	if id, ok := ctx.Value(ctxRequestID).(string); ok && id != "" {
		return s.log.With("request_id", id)
	}
	return s.log
}

// Completion is handed the resource a request will answer with, inside the transaction that
// commits the request's final effect. host/httpapi uses it to store an idempotent response in
// that same transaction, so that an effect and its replayable answer commit together or not at
// all. It may be called more than once if the store retries the transaction.
type Completion func(ctx context.Context, tx store.Queries, resource any) error

const ctxCompletion ctxKey = 1

// WithCompletion returns ctx carrying c for the service's next effectful call.
func WithCompletion(ctx context.Context, c Completion) context.Context {
	return context.WithValue(ctx, ctxCompletion, c)
}

// complete calls the request's completion, if any, inside tx.
func complete(ctx context.Context, tx store.Queries, resource any) error {
	if c, ok := ctx.Value(ctxCompletion).(Completion); ok && c != nil {
		return c(ctx, tx, resource)
	}
	return nil
}

// Binding is handed the id of the payment or refund a request creates, inside the transaction
// that commits it (the request's first effect). host/httpapi uses it to bind the request's
// Idempotency-Key to that resource in the same transaction (store.BindIdempotencyKey): once the
// effect has committed, the key can never be released, so a retry answers about this resource
// instead of creating another. An error rolls the effect back. It may be called more than once
// if the store retries the transaction.
type Binding func(ctx context.Context, tx store.Queries, resourceID string) error

const ctxBinding ctxKey = 3

// WithBinding returns ctx carrying b for the service's next creating call.
func WithBinding(ctx context.Context, b Binding) context.Context {
	return context.WithValue(ctx, ctxBinding, b)
}

// bind calls the request's binding, if any, inside the tx that commits resourceID.
func bind(ctx context.Context, tx store.Queries, resourceID string) error {
	if b, ok := ctx.Value(ctxBinding).(Binding); ok && b != nil {
		return b(ctx, tx, resourceID)
	}
	return nil
}

// final reports a payment or refund that reached a final status to OnFinal.
func (s *Service) final(kind, status, method string) {
	if s.onFinal != nil {
		s.onFinal(kind, status, method)
	}
}

// warnUntrusted logs a warning when a query answer was refused as being about another object or
// another merchant (the provider returned EUNKNOWN with core.CodeObjectMismatch or
// core.CodeForeignMerchant): nothing was applied and the janitor asks again later. The metrics
// wrapper counts these answers.
func (s *Service) warnUntrusted(ctx context.Context, err error, key, id string) {
	switch core.ProviderCode(err) {
	case core.CodeObjectMismatch, core.CodeForeignMerchant:
		s.logFor(ctx).Warn("gateway answer refused: not about the object or merchant asked; nothing applied", key, id, "code", core.ProviderCode(err), "error", err)
	}
}
