// Package metrics is paymux's Prometheus instrumentation: HTTP requests by route and status,
// plugin call latency by plugin and method, notifications by outcome, the janitor's passes and
// backlog, the outbox's pending count and lag, and plugin restarts. Everything lives in one
// Metrics value with its own registry (never the global default), which the CLI creates once
// and hands to the API, the service's provider lookup and the janitor, and serves at /metrics.
//
// Labels carry only bounded, non-secret values: route patterns (never raw paths), plugin and
// method names, status classes and outcome words.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// Metrics holds every paymux series and the registry they are registered in.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	pluginCalls   *prometheus.HistogramVec
	pluginErrors  *prometheus.CounterVec
	untrusted     *prometheus.CounterVec
	notifications *prometheus.CounterVec
	janitorItems  *prometheus.CounterVec
	janitorPasses prometheus.Counter
	deliveries    *prometheus.CounterVec
	pruned        *prometheus.CounterVec
	finals        *prometheus.CounterVec
	buildInfo     *prometheus.GaugeVec

	pluginObs sync.Map // plugin name -> *[n]prometheus.Observer
}

// New returns a Metrics with a fresh registry holding the paymux series plus the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_http_requests_total", Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "paymux_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method"})
	m.pluginCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "paymux_plugin_call_duration_seconds", Help: "Provider (plugin) call latency by plugin and method.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"plugin", "method"})
	m.pluginErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_plugin_call_errors_total", Help: "Provider (plugin) calls that returned an error, by plugin, method and core error code.",
	}, []string{"plugin", "method", "code"})
	m.untrusted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_gateway_answers_refused_total",
		Help: "Gateway answers a provider refused to apply because they were about another object (reason object_mismatch) or another merchant (foreign_merchant) than asked, by plugin and method.",
	}, []string{"plugin", "method", "reason"})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_notifications_total", Help: "Wallet notifications received, by outcome (processed, duplicate, unmatched, rejected, flagged, error).",
	}, []string{"outcome"})
	m.janitorItems = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_janitor_items_total", Help: "Janitor work by result (claimed_payment, claimed_refund, resolved, closed, rescheduled, error, needs_attention).",
	}, []string{"result"})
	m.janitorPasses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "paymux_janitor_passes_total", Help: "Janitor passes run.",
	})
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_pruned_total", Help: "Records deleted by the janitor's retention, by kind (rejected_notifications, delivered_events).",
	}, []string{"kind"})
	for _, k := range []string{"rejected_notifications", "delivered_events"} {
		m.pruned.WithLabelValues(k) // present at 0 from the start
	}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_webhook_deliveries_total", Help: "Webhook delivery attempts by endpoint name and outcome (delivered, failed, paused).",
	}, []string{"endpoint", "outcome"})
	m.finals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paymux_final_total", Help: "Payments and refunds that reached a final status, by kind (payment, refund), status and method.",
	}, []string{"kind", "status", "method"})
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "paymux_build_info", Help: "Always 1; the labels say which paymux build runs.",
	}, []string{"version", "commit", "go_version"})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.pluginCalls, m.pluginErrors, m.untrusted, m.notifications,
		m.janitorItems, m.janitorPasses, m.deliveries, m.pruned, m.finals, m.buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format (mount it at /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 10 * time.Second})
}

// ObserveNotification counts one notification by its outcome; pass it as
// httpapi.Hooks.OnNotification.
func (m *Metrics) ObserveNotification(o host.NotificationOutcome) {
	outcome := string(o.Status)
	if outcome == "" {
		outcome = "unknown"
	}
	m.notifications.WithLabelValues(outcome).Inc()
}

// SetBuildInfo sets paymux_build_info{version, commit, go_version} to 1.
func (m *Metrics) SetBuildInfo(version, commit, goVersion string) {
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version, commit, goVersion).Set(1)
}

// ObserveFinal counts a payment or refund reaching a final status; pass it as
// host.Options.OnFinal. Methods come from the config (bounded).
func (m *Metrics) ObserveFinal(kind, status, method string) {
	m.finals.WithLabelValues(kind, status, method).Inc()
}

// HealthChecker is the part of host/pluginhost.Manager the plugin-up gauge reads.
type HealthChecker interface {
	Health(ctx context.Context) map[string]error
}

// WatchPluginHealth reports paymux_plugin_up{plugin} (1 when the plugin answers a health ping,
// else 0) at every scrape.
func (m *Metrics) WatchPluginHealth(h HealthChecker) {
	m.reg.MustRegister(healthCollector{h})
}

var descUp = prometheus.NewDesc("paymux_plugin_up", "1 when the plugin answered a health ping at this scrape, else 0.", []string{"plugin"}, nil)

type healthCollector struct{ h HealthChecker }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descUp }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for plugin, err := range c.h.Health(ctx) {
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, plugin)
	}
}

// ObserveWebhookDelivery counts one delivery attempt at one endpoint; pass it as
// host.DispatcherOptions.OnDelivery. Endpoint names come from the config (bounded).
func (m *Metrics) ObserveWebhookDelivery(endpoint, outcome string) {
	m.deliveries.WithLabelValues(endpoint, outcome).Inc()
}

// ObserveJanitorPass counts one janitor pass; pass it as host.JanitorOptions.OnPass.
func (m *Metrics) ObserveJanitorPass(p host.JanitorPass) {
	m.janitorPasses.Inc()
	for result, n := range map[string]int{
		"claimed_payment": p.Payments, "claimed_refund": p.Refunds, "resolved": p.Resolved,
		"closed": p.Closed, "rescheduled": p.Rescheduled, "error": p.Errors, "needs_attention": p.Attention,
	} {
		if n > 0 {
			m.janitorItems.WithLabelValues(result).Add(float64(n))
		}
	}
}

// ObservePrune counts what one retention run deleted; pass it as host.JanitorOptions.OnPrune.
func (m *Metrics) ObservePrune(r host.PruneResult) {
	m.pruned.WithLabelValues("rejected_notifications").Add(float64(r.RejectedNotifications))
	m.pruned.WithLabelValues("delivered_events").Add(float64(r.DeliveredEvents))
}

// ObserveHTTP records one request; route must be a pattern (e.g. "GET /v1/payments/{id}"),
// never a raw path, so that ids do not become label values.
//
// The method is any token a client sends; it is collapsed to one of the HTTP verbs or "OTHER",
// so that a client cannot grow the label set (and the host's memory) by inventing methods.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = methodLabel(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel is method if it is a verb of RFC 9110 (or PATCH), else "OTHER".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// WatchStore reports the store's backlog at every scrape: the janitor's due and open items and
// the outbox's pending events and lag (age of the oldest pending event). It does nothing when
// the store cannot count its backlog (store.BacklogReader). now is the clock (nil: time.Now).
func (m *Metrics) WatchStore(st store.Store, now func() time.Time) {
	br, ok := st.(store.BacklogReader)
	if !ok {
		return
	}
	if now == nil {
		now = time.Now
	}
	m.reg.MustRegister(&backlogCollector{br: br, now: now})
}

// Restarter is the part of host/pluginhost.Manager the restart metric reads.
type Restarter interface {
	Plugins() []string
	Restarts(plugin string) int
}

// WatchPlugins reports each plugin's restart count at every scrape.
func (m *Metrics) WatchPlugins(r Restarter) {
	m.reg.MustRegister(&restartCollector{r: r})
}

var (
	descDue = prometheus.NewDesc("paymux_janitor_backlog",
		"Payments and refunds whose janitor query is due now (kind=payment|refund).", []string{"kind"}, nil)
	descOpen = prometheus.NewDesc("paymux_janitor_open",
		"Payments and refunds not final that the janitor will query, due or later (kind=payment|refund).", []string{"kind"}, nil)
	descPending = prometheus.NewDesc("paymux_outbox_pending_events",
		"Outbox events not yet delivered to the merchant's webhook (and not given up).", nil, nil)
	descLag = prometheus.NewDesc("paymux_outbox_lag_seconds",
		"Age of the oldest pending outbox event; 0 when none is pending.", nil, nil)
	descAttentionAge = prometheus.NewDesc("paymux_refunds_needing_attention_oldest_seconds",
		"How long the longest-waiting refund that needs an operator has waited (since its row last changed); 0 when none.", nil, nil)
	descAttention = prometheus.NewDesc("paymux_refunds_needing_attention",
		"Refunds whose outcome paymux could not learn and that wait for an operator to settle them (amount kept reserved).", nil, nil)
	descScrapeErr = prometheus.NewDesc("paymux_store_backlog_up",
		"1 when the store answered the backlog query at this scrape, else 0.", nil, nil)
	descRestarts = prometheus.NewDesc("paymux_plugin_restarts_total",
		"Restarts of a plugin after its first start (crash recovery).", []string{"plugin"}, nil)
	descShadow = prometheus.NewDesc("paymux_plugin_shadow_calls_total",
		"Calls copied to a plugin's shadow build, by plugin, call type and outcome (same, different, dropped, skipped, shadow_failed).",
		[]string{"plugin", "method", "outcome"}, nil)
)

// ShadowTotals is host/pluginhost.Manager.ShadowTotals: every shadow outcome counted so far.
type ShadowTotals func(yield func(plugin, method, outcome string, n int64))

// WatchShadows reports the shadow runs' outcome counts at every scrape.
func (m *Metrics) WatchShadows(t ShadowTotals) {
	m.reg.MustRegister(shadowCollector{t})
}

type shadowCollector struct{ t ShadowTotals }

func (c shadowCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descShadow }

func (c shadowCollector) Collect(ch chan<- prometheus.Metric) {
	c.t(func(plugin, method, outcome string, n int64) {
		ch <- prometheus.MustNewConstMetric(descShadow, prometheus.CounterValue, float64(n), plugin, method, outcome)
	})
}

type backlogCollector struct {
	br  store.BacklogReader
	now func() time.Time
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDue, descOpen, descPending, descLag, descAttention, descAttentionAge, descScrapeErr} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.now()
	b, err := c.br.Backlog(ctx, now)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descDue, prometheus.GaugeValue, float64(b.DuePayments), "payment")
	ch <- prometheus.MustNewConstMetric(descDue, prometheus.GaugeValue, float64(b.DueRefunds), "refund")
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(b.OpenPayments), "payment")
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(b.OpenRefunds), "refund")
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(b.PendingEvents))
	ch <- prometheus.MustNewConstMetric(descAttention, prometheus.GaugeValue, float64(b.AttentionRefunds))
	age := 0.0
	if !b.OldestAttention.IsZero() {
		age = max(0, now.Sub(b.OldestAttention).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descAttentionAge, prometheus.GaugeValue, age)
	lag := 0.0
	if !b.OldestPendingEvent.IsZero() {
		lag = max(0, now.Sub(b.OldestPendingEvent).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag)
}

type restartCollector struct{ r Restarter }

func (c *restartCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descRestarts }

func (c *restartCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.r.Plugins() {
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(c.r.Restarts(p)), p)
	}
}

// codeOf is the error label of a provider call: its core code, "ok" when there was none.
func codeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return core.ErrorCode(err)
}
