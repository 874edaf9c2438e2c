package host_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/postgres"
	"github.com/paymux/paymux/host/store/sqlite"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

const simPartner = "2088101122136241"

// simClock is the one clock of a simulated world: service, provider and simulator.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func (c *simClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// countingProvider counts provider calls per reference, to prove nothing is done twice.
type countingProvider struct {
	*alipay.Provider
	mu      sync.Mutex
	queries map[string]int // out_trade_no or out_refund_no -> queries
	refunds map[string]int // out_refund_no -> Refund calls
}

func (c *countingProvider) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	c.mu.Lock()
	c.queries[req.OutTradeNo]++
	c.mu.Unlock()
	return c.Provider.QueryPayment(ctx, req)
}

func (c *countingProvider) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	c.mu.Lock()
	c.queries[req.OutRefundNo]++
	c.mu.Unlock()
	return c.Provider.QueryRefund(ctx, req)
}

func (c *countingProvider) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	c.mu.Lock()
	c.refunds[req.OutRefundNo]++
	c.mu.Unlock()
	return c.Provider.Refund(ctx, req)
}

func (c *countingProvider) count(m map[string]int, ref string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[ref]
}

// simWorld is mapisim with the in-process Alipay provider behind one account "acct" in region
// "CN", and a service over a store. Notifications go to an address nobody listens on, so only
// queries (the janitor) can learn outcomes.
type simWorld struct {
	clock *simClock
	sim   *mapisim.Sim
	prov  *countingProvider
	provs *staticProviders
	store store.Store
	svc   *host.Service
	log   hclog.Logger
}

func newSimWorld(t testing.TB, st store.Store, start time.Time) *simWorld {
	t.Helper()
	w := &simWorld{clock: &simClock{t: start}, store: st}
	w.sim = mapisim.New(mapisim.Config{Seed: 11, TimeScale: 1000, Clock: w.clock.now})
	t.Cleanup(w.sim.Close)
	gw := httptestServer(t, w.sim)
	if err := w.sim.AddPartner(mapisim.Partner{ID: simPartner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
		Currencies: []string{"USD"}, FeeBasisPoints: 180}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv := filepath.Join(dir, "test-merchant-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-alipay-public.pem")
	if err := os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, w.sim.AlipayPublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := alipay.New(alipay.WithClock(w.clock.now))
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "acct", Settings: map[string]string{
		"partner": simPartner, "gateway_url": gw + "/gateway.do", "sign_type": "RSA2",
		"private_key_file": priv, "alipay_public_key_file": pub, "currency": "USD", "timeout": "2s",
	}}); err != nil {
		t.Fatal(err)
	}
	w.prov = &countingProvider{Provider: p, queries: map[string]int{}, refunds: map[string]int{}}
	w.provs = &staticProviders{accs: map[string]core.Provider{"acct": w.prov}}
	w.log = hclog.New(&hclog.LoggerOptions{Name: "paymux", Level: hclog.Warn, Output: testWriter{t}})
	w.svc = host.New(host.Options{
		Store: st, Providers: w.provs, Logger: w.log, CallTimeout: 3 * time.Second, Now: w.clock.now,
		Settings: &host.Settings{
			PublicURL: "http://127.0.0.1:9", // discard: nobody hears the notifications
			Regions:   map[string][]host.RegionMethod{"CN": {{Method: alipay.MethodID, Account: "acct"}}},
		},
	})
	return w
}

// newTestStore is a fresh SQLite store, or a PostgreSQL one when PAYMUX_TEST_STORE=postgres
// (then PAYMUX_TEST_POSTGRES_DSN is required), so that every flow runs on both databases.
func newTestStore(t testing.TB) store.Store {
	t.Helper()
	if os.Getenv("PAYMUX_TEST_STORE") == "postgres" {
		return newPostgresStores(t, 1)[0]
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paymux.db"))
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newPostgresStores opens n stores (n hosts, each with its own pool) on one fresh schema of
// PAYMUX_TEST_POSTGRES_DSN, or skips.
func newPostgresStores(t testing.TB, n int) []store.Store {
	t.Helper()
	dsn := os.Getenv("PAYMUX_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAYMUX_TEST_POSTGRES_DSN is not set: skipping the two-hosts-on-PostgreSQL test " +
			"(e.g. PAYMUX_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	schema := "paymux_jan_" + store.NewID("")[:16]
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	admin.Close(ctx)
	var out []store.Store
	for range n {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		st, err := postgres.OpenConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		out = append(out, st)
	}
	t.Cleanup(func() {
		for _, st := range out {
			st.Close()
		}
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return out
}

// create makes a USD payment through the service.
func (w *simWorld) create(t testing.TB, cents int64, ref string) *host.Payment {
	t.Helper()
	p, err := w.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
		Region: "CN", Method: alipay.MethodID, Amount: core.Money{Value: cents, Currency: "USD"},
		Reference: ref, Subject: "Tea", Channel: core.ChannelApp,
	})
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	return p
}

// pay pays a payment at the simulated wallet.
func (w *simWorld) pay(t testing.TB, p *host.Payment) {
	t.Helper()
	r, err := w.sim.PayOrderString(context.Background(), p.NextAction.Value)
	if err != nil || r.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay %s: %+v, %v", p.ID, r, err)
	}
}

// events returns the outbox events of one type about a payment.
func (w *simWorld) events(t testing.TB, typ, paymentID string) []*store.Event {
	t.Helper()
	evs, _, err := w.store.ListEvents(context.Background(), store.EventFilter{Type: typ, PaymentID: paymentID, Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// httptestServer serves the simulator's gateway on loopback and returns its base URL.
func httptestServer(t testing.TB, sim *mapisim.Sim) string {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
