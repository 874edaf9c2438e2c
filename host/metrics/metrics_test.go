package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/metrics"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/sqlite"
)

// fakeProvider is the smallest provider: every call answers from fields; Close exists only on
// closingProvider, FetchSettlement only on fetchingProvider.
type fakeProvider struct{ queryErr error }

func (fakeProvider) Describe(context.Context) (*core.Description, error) {
	return &core.Description{Name: "fake"}, nil
}
func (fakeProvider) Configure(context.Context, *core.ConfigureRequest) error { return nil }
func (fakeProvider) CreatePayment(context.Context, *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	return &core.CreatePaymentResult{}, nil
}
func (fakeProvider) VerifyClientResult(context.Context, *core.ClientResultRequest) (*core.ClientResult, error) {
	return &core.ClientResult{}, nil
}
func (fakeProvider) ParseNotification(context.Context, *core.NotificationRequest) (*core.NotificationResult, error) {
	return &core.NotificationResult{}, nil
}
func (f fakeProvider) QueryPayment(context.Context, *core.QueryPaymentRequest) (*core.PaymentState, error) {
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	return &core.PaymentState{Status: core.PaymentPending}, nil
}
func (fakeProvider) Refund(context.Context, *core.RefundRequest) (*core.RefundState, error) {
	return &core.RefundState{}, nil
}
func (fakeProvider) QueryRefund(context.Context, *core.QueryRefundRequest) (*core.RefundState, error) {
	return &core.RefundState{}, nil
}

type closingProvider struct{ fakeProvider }

func (closingProvider) Close(context.Context, *core.ClosePaymentRequest) (*core.PaymentState, error) {
	return &core.PaymentState{Status: core.PaymentClosed}, nil
}

type fetchingProvider struct{ fakeProvider }

func (fetchingProvider) FetchSettlement(_ context.Context, _ *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	return yield(&core.SettlementRecord{Kind: core.EventPayment, Reference: "x"})
}

type bothProvider struct{ closingProvider }

func (bothProvider) FetchSettlement(context.Context, *core.SettlementRequest, func(*core.SettlementRecord) error) error {
	return nil
}

// TestInstrumentKeepsAbilities: the wrapper implements the optional interfaces exactly when the
// wrapped provider does, so capability checks are unchanged.
func TestInstrumentKeepsAbilities(t *testing.T) {
	m := metrics.New()
	for _, tc := range []struct {
		name         string
		p            core.Provider
		close, fetch bool
	}{
		{"plain", fakeProvider{}, false, false},
		{"closer", closingProvider{}, true, false},
		{"fetcher", fetchingProvider{}, false, true},
		{"both", bothProvider{}, true, true},
	} {
		w := m.InstrumentProvider(tc.p, "fake")
		_, c := w.(core.PaymentCloser)
		_, f := w.(core.SettlementFetcher)
		if c != tc.close || f != tc.fetch {
			t.Errorf("%s: closer %v fetcher %v, want %v %v", tc.name, c, f, tc.close, tc.fetch)
		}
	}
}

type restarts map[string]int

func (r restarts) Plugins() []string {
	var out []string
	for k := range r {
		out = append(out, k)
	}
	return out
}
func (r restarts) Restarts(p string) int { return r[p] }

type health map[string]error

func (h health) Health(context.Context) map[string]error { return h }

type oneProvider struct{ p core.Provider }

func (o oneProvider) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	d, err := o.p.Describe(ctx)
	return o.p, d, err
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// TestScrape wires every source to one Metrics and finds each series in a /metrics scrape.
func TestScrape(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paymux.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	m := metrics.New()
	m.WatchStore(st, func() time.Time { return now })
	m.WatchPlugins(restarts{"alipay": 2})
	m.WatchPluginHealth(health{"alipay": nil, "alipayhk": core.Errorf(core.EUNAVAILABLE, "down")})
	m.SetBuildInfo("v1.2.3", "abc123", "go1.25")

	// Provider calls through the wrapped lookup: one ok, one failing.
	provs := m.Providers(oneProvider{fakeProvider{queryErr: core.Errorf(core.EUNAVAILABLE, "gateway down")}})
	p, _, err := provs.Provider(ctx, "acct")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.QueryPayment(ctx, &core.QueryPaymentRequest{})
	_, _ = p.CreatePayment(ctx, &core.CreatePaymentRequest{})
	// A query answer about another trade, refused by the provider, is counted as such.
	mismatch, _, _ := m.Providers(oneProvider{fakeProvider{queryErr: &core.Error{Code: core.EUNKNOWN, Message: "other trade", ProviderCode: core.CodeObjectMismatch}}}).Provider(ctx, "acct")
	_, _ = mismatch.QueryPayment(ctx, &core.QueryPaymentRequest{})

	// Backlog: one due payment, one pending event created a minute ago.
	pay := &store.Payment{ID: store.NewID("pay_"), Account: "acct", OutTradeNo: "o1", Status: core.PaymentPending,
		Amount: core.Money{Value: 100, Currency: "USD"}, NextQueryAt: now.Add(-time.Second)}
	if err := st.InsertPayment(ctx, pay); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertEvent(ctx, &store.Event{ID: store.NewID("evt_"), Type: "payment.succeeded", Payload: []byte(`{}`), CreatedAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}

	// HTTP through the API's instrumented handler.
	svc := host.New(host.Options{Store: st, Providers: provs})
	api := httpapi.New(httpapi.Options{Service: svc, Keys: httpapi.StaticKeys([]string{"k-test-DO-NOT-USE"})})
	h := api.InstrumentedHandler(m.ObserveHTTP)
	for _, path := range []string{"/healthz", "/v1/payments/pay_unknown", "/v1/payments/pay_other", "/nope"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer k-test-DO-NOT-USE")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Invented methods collapse to OTHER: a client cannot add label values.
	for i := range 50 {
		req := httptest.NewRequest("GET", "/v1/payments/pay_"+strconv.Itoa(i), nil)
		req.Method = "X" + strconv.Itoa(i)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	m.ObserveNotification(host.NotificationOutcome{Status: store.NotificationProcessed})
	m.ObserveNotification(host.NotificationOutcome{Status: store.NotificationRejected})
	m.ObserveJanitorPass(host.JanitorPass{Payments: 3, Refunds: 1, Resolved: 2, Closed: 1, Rescheduled: 2, Errors: 1, Attention: 1})
	m.ObserveFinal("payment", "succeeded", "alipayhk")
	m.ObserveFinal("payment", "succeeded", "alipayhk")
	m.ObserveFinal("refund", "failed", "alipayhk")
	m.ObserveWebhookDelivery("erp", host.DeliveryFailed)
	m.ObserveWebhookDelivery("erp", host.DeliveryFailed)
	m.ObserveWebhookDelivery("erp", host.DeliveryDelivered)
	m.ObservePrune(host.PruneResult{RejectedNotifications: 7})

	// Serve /metrics over real HTTP as an operator would scrape it.
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := string(body)
	for _, want := range []string{
		`paymux_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`paymux_http_requests_total{code="404",method="GET",route="GET /v1/payments/{id}"} 2`,
		`paymux_http_requests_total{code="404",method="GET",route="/"} 1`,
		`paymux_http_requests_total{code="405",method="OTHER",route="/"} 50`,
		`paymux_http_request_duration_seconds_count{method="GET",route="GET /v1/payments/{id}"} 2`,
		`paymux_plugin_call_duration_seconds_count{method="QueryPayment",plugin="fake"} 2`,
		`paymux_plugin_call_duration_seconds_count{method="CreatePayment",plugin="fake"} 1`,
		`paymux_plugin_call_errors_total{code="provider_unavailable",method="QueryPayment",plugin="fake"} 1`,
		`paymux_gateway_answers_refused_total{method="QueryPayment",plugin="fake",reason="object_mismatch"} 1`,
		`paymux_notifications_total{outcome="processed"} 1`,
		`paymux_notifications_total{outcome="rejected"} 1`,
		`paymux_janitor_passes_total 1`,
		`paymux_build_info{commit="abc123",go_version="go1.25",version="v1.2.3"} 1`,
		`paymux_final_total{kind="payment",method="alipayhk",status="succeeded"} 2`,
		`paymux_final_total{kind="refund",method="alipayhk",status="failed"} 1`,
		`paymux_plugin_up{plugin="alipay"} 1`,
		`paymux_plugin_up{plugin="alipayhk"} 0`,
		`paymux_refunds_needing_attention_oldest_seconds 0`,
		`paymux_webhook_deliveries_total{endpoint="erp",outcome="failed"} 2`,
		`paymux_webhook_deliveries_total{endpoint="erp",outcome="delivered"} 1`,
		`paymux_pruned_total{kind="rejected_notifications"} 7`,
		`paymux_pruned_total{kind="delivered_events"} 0`,
		`paymux_janitor_items_total{result="claimed_payment"} 3`,
		`paymux_janitor_items_total{result="closed"} 1`,
		`paymux_janitor_items_total{result="needs_attention"} 1`,
		`paymux_refunds_needing_attention 0`,
		`paymux_janitor_backlog{kind="payment"} 1`,
		`paymux_janitor_backlog{kind="refund"} 0`,
		`paymux_janitor_open{kind="payment"} 1`,
		`paymux_outbox_pending_events 1`,
		`paymux_outbox_lag_seconds 60`,
		`paymux_store_backlog_up 1`,
		`paymux_plugin_restarts_total{plugin="alipay"} 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, "pay_unknown") {
		t.Error("a raw path (payment id) became a label value")
	}
	// The default registry is not used: a second Metrics has its own series.
	if other := scrape(t, metrics.New().Handler()); strings.Contains(other, "paymux_notifications_total{") {
		t.Error("series leaked between registries")
	}
}
