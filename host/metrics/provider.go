package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

// Providers wraps a host.Providers so that every provider it hands out is instrumented
// (InstrumentProvider), labelled with the provider's described name. Pass the result to
// host.Options.Providers.
func (m *Metrics) Providers(inner host.Providers) host.Providers {
	return &providers{m: m, inner: inner}
}

type providers struct {
	m     *Metrics
	inner host.Providers
}

func (p *providers) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	prov, desc, err := p.inner.Provider(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	name := "unknown"
	if desc != nil && desc.Name != "" {
		name = desc.Name
	}
	return p.m.InstrumentProvider(prov, name), desc, nil
}

// InstrumentProvider returns p with every call timed into paymux_plugin_call_duration_seconds
// and every error counted by core code. The optional abilities survive: the result implements
// core.PaymentCloser and core.SettlementFetcher exactly when p does, so the host's capability
// checks see the same provider.
func (m *Metrics) InstrumentProvider(p core.Provider, plugin string) core.Provider {
	base := &instrumented{Provider: p, m: m, plugin: plugin, obs: m.pluginObservers(plugin)}
	closer, canClose := p.(core.PaymentCloser)
	fetcher, canFetch := p.(core.SettlementFetcher)
	switch {
	case canClose && canFetch:
		return &closerFetcher{instrumented: base, closer: closer, fetcher: fetcher}
	case canClose:
		return &withCloser{instrumented: base, closer: closer}
	case canFetch:
		return &withFetcher{instrumented: base, fetcher: fetcher}
	}
	return base
}

type instrumented struct {
	core.Provider
	m      *Metrics
	plugin string
	obs    *[len(methodNames)]prometheus.Observer
}

// The provider methods, as indexes into a plugin's cached observers.
const (
	mDescribe = iota
	mConfigure
	mCreatePayment
	mVerifyClientResult
	mParseNotification
	mQueryPayment
	mRefund
	mQueryRefund
	mClose
	mFetchSettlement
)

var methodNames = [...]string{"Describe", "Configure", "CreatePayment", "VerifyClientResult", "ParseNotification",
	"QueryPayment", "Refund", "QueryRefund", "Close", "FetchSettlement"}

// pluginObservers returns the latency observers of plugin's methods, resolved once per plugin:
// a provider is wrapped on every lookup, so the label lookups must not be repeated per call.
func (m *Metrics) pluginObservers(plugin string) *[len(methodNames)]prometheus.Observer {
	if o, ok := m.pluginObs.Load(plugin); ok {
		return o.(*[len(methodNames)]prometheus.Observer)
	}
	var o [len(methodNames)]prometheus.Observer
	for i, name := range methodNames {
		o[i] = m.pluginCalls.WithLabelValues(plugin, name)
	}
	actual, _ := m.pluginObs.LoadOrStore(plugin, &o)
	return actual.(*[len(methodNames)]prometheus.Observer)
}

// observe records one call that started at start.
func (i *instrumented) observe(method int, start time.Time, err error) {
	i.obs[method].Observe(time.Since(start).Seconds())
	if err != nil {
		i.m.pluginErrors.WithLabelValues(i.plugin, methodNames[method], codeOf(err)).Inc()
		switch core.ProviderCode(err) {
		case core.CodeObjectMismatch:
			i.m.untrusted.WithLabelValues(i.plugin, methodNames[method], "object_mismatch").Inc()
		case core.CodeForeignMerchant:
			i.m.untrusted.WithLabelValues(i.plugin, methodNames[method], "foreign_merchant").Inc()
		}
	}
}

func (i *instrumented) Describe(ctx context.Context) (*core.Description, error) {
	start := time.Now()
	d, err := i.Provider.Describe(ctx)
	i.observe(mDescribe, start, err)
	return d, err
}

func (i *instrumented) Configure(ctx context.Context, req *core.ConfigureRequest) error {
	start := time.Now()
	err := i.Provider.Configure(ctx, req)
	i.observe(mConfigure, start, err)
	return err
}

func (i *instrumented) CreatePayment(ctx context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	start := time.Now()
	r, err := i.Provider.CreatePayment(ctx, req)
	i.observe(mCreatePayment, start, err)
	return r, err
}

func (i *instrumented) VerifyClientResult(ctx context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	start := time.Now()
	r, err := i.Provider.VerifyClientResult(ctx, req)
	i.observe(mVerifyClientResult, start, err)
	return r, err
}

func (i *instrumented) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	start := time.Now()
	r, err := i.Provider.ParseNotification(ctx, req)
	i.observe(mParseNotification, start, err)
	return r, err
}

func (i *instrumented) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	start := time.Now()
	r, err := i.Provider.QueryPayment(ctx, req)
	i.observe(mQueryPayment, start, err)
	return r, err
}

func (i *instrumented) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	start := time.Now()
	r, err := i.Provider.Refund(ctx, req)
	i.observe(mRefund, start, err)
	return r, err
}

func (i *instrumented) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	start := time.Now()
	r, err := i.Provider.QueryRefund(ctx, req)
	i.observe(mQueryRefund, start, err)
	return r, err
}

func (i *instrumented) close(ctx context.Context, c core.PaymentCloser, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	start := time.Now()
	r, err := c.Close(ctx, req)
	i.observe(mClose, start, err)
	return r, err
}

func (i *instrumented) fetch(ctx context.Context, f core.SettlementFetcher, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	start := time.Now()
	err := f.FetchSettlement(ctx, req, yield)
	i.observe(mFetchSettlement, start, err)
	return err
}

type withCloser struct {
	*instrumented
	closer core.PaymentCloser
}

func (w *withCloser) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	return w.close(ctx, w.closer, req)
}

type withFetcher struct {
	*instrumented
	fetcher core.SettlementFetcher
}

func (w *withFetcher) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	return w.fetch(ctx, w.fetcher, req, yield)
}

type closerFetcher struct {
	*instrumented
	closer  core.PaymentCloser
	fetcher core.SettlementFetcher
}

func (w *closerFetcher) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	return w.close(ctx, w.closer, req)
}

func (w *closerFetcher) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	return w.fetch(ctx, w.fetcher, req, yield)
}
