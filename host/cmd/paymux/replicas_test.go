package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/mapisim"
)

// The two-replica test's bounds: everything it sends, and how long it may take.
const (
	replCreatesBefore = 80 // payments created before the storm
	replCreatesDuring = 80 // payments created during the storm, through the same balancer
	replDupEvery      = 4  // every 4th notification re-sends the one before byte for byte
	replConcurrency   = 8  // clients per phase
	replAttempts      = 80 // tries per request (100 ms apart) before the test gives up on acknowledging it
	replDeadline      = 90 * time.Second
)

// TestTwoReplicasBehindHAProxy runs two paymux serve replicas on one PostgreSQL schema behind
// haproxy (Debian's, on loopback), drives creates and a notification storm through the
// balancer, SIGKILLs one replica a third of the way into the storm, and checks in the database
// that nothing acknowledged is lost (every acknowledged create is stored, every payment whose
// notification was acknowledged succeeded) and no effect is doubled (one payment per
// idempotency key, one payment.succeeded event per payment). Clients retry as a merchant's
// backend and a wallet do: the same Idempotency-Key, the same notification; a key the killed
// replica held is taken over once its lease (2 s here) has passed, so every create ends
// acknowledged.
func TestTwoReplicasBehindHAProxy(t *testing.T) {
	dsn := os.Getenv("PAYMUX_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAYMUX_TEST_POSTGRES_DSN is not set: skipping the two-replica test (CI sets it)")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		for _, p := range []string{"/usr/sbin/haproxy", "/sbin/haproxy"} {
			if _, serr := os.Stat(p); serr == nil {
				haproxy, err = p, nil
			}
		}
	}
	if err != nil {
		t.Skip("SKIPPED: haproxy is not installed, so the two-replica test cannot run " +
			"(Debian: apt-get install haproxy; .ci/install-tools installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), replDeadline)
	defer cancel()
	bin := qsTestBinaries(t, qsTestRoot(t))
	dir := t.TempDir()
	schemaDSN := replSchema(t, dsn)

	// The simulator plays the gateway for the plugins' calls; notifications are signed here.
	sim := mapisim.New(mapisim.Config{Seed: 1})
	t.Cleanup(sim.Close)
	if err := sim.AddPartner(mapisim.Partner{ID: bench.Partner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	simURL := replServe(t, sim)

	lbAddr, r1Addr, r2Addr := qsFreeAddr(t), qsFreeAddr(t), qsFreeAddr(t)
	plugin := filepath.Join(bin, bench.PluginBinary)
	pin, err := sdk.HashFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "merchant.pem"), mapisim.TestMerchantPrivateKeyPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "alipay.pem"), mapisim.TestAlipayPublicKeyPEM, 0o600)
	// One config for both replicas, as an operator ships it: only the listen address differs,
	// and it comes from the environment.
	cfg := filepath.Join(dir, "paymux.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  listen: ${PAYMUX_LISTEN}
  public_url: http://%s
  api_keys: [%s]
  idempotency_lease: 2s
store:
  driver: postgres
  dsn: ${PAYMUX_TEST_REPLICA_DSN}
plugins:
  alipay: {command: %s, sha256: %s}
accounts:
  %s:
    plugin: alipay
    settings:
      gateway_url: %s/gateway.do
      sign_type: RSA2
      app_sign_type: RSA2
      private_key_file: merchant.pem
      alipay_public_key_file: alipay.pem
      partner: "%s"
      # The storm's notifications are signed here and name the partner as seller_id; the
      # simulator never issued their notify_ids, so the gateway round trip is switched off.
      notify_verify: "false"
      currency: %s
      timeout: 5s
regions:
  %s:
    methods: [{method: %s, account: %s}]
log: {level: warn}
`, lbAddr, bench.APIKey, plugin, pin, bench.Account, simURL, bench.Partner, bench.Currency, bench.Region, bench.Method, bench.Account)), 0o600); err != nil {
		t.Fatal(err)
	}
	r1 := replStart(t, filepath.Join(bin, "paymux"), cfg, r1Addr, schemaDSN, filepath.Join(dir, "r1.log"))
	r2 := replStart(t, filepath.Join(bin, "paymux"), cfg, r2Addr, schemaDSN, filepath.Join(dir, "r2.log"))
	for _, addr := range []string{r1Addr, r2Addr} {
		if _, err := bench.WaitOK(ctx, "http://"+addr+"/readyz", 50*time.Millisecond, nil); err != nil {
			replLogs(t, dir)
			t.Fatalf("replica %s not ready: %v", addr, err)
		}
	}
	replHAProxy(t, haproxy, dir, lbAddr, r1Addr, r2Addr)
	if _, err := bench.WaitOK(ctx, "http://"+lbAddr+"/readyz", 50*time.Millisecond, nil); err != nil {
		t.Fatalf("haproxy not serving: %v", err)
	}
	client := bench.NewClient("http://"+lbAddr, bench.APIKey, 2*replConcurrency)
	defer client.Close()

	// Phase 1: creates.
	var mu sync.Mutex
	acked := map[string]*bench.Payment{} // idempotency key -> the payment its acknowledgement named
	var held []string                    // keys still answering 409 when the client gave up
	var takenOver atomic.Int64           // creates acknowledged after answering 409 (a key taken over)
	create := func(key string, amount int64) error {
		var p bench.Payment
		conflict := false
		err := replRetry(ctx, func() error {
			err := client.Do(ctx, "POST", "/v1/payments", map[string]any{
				"region": bench.Region, "method": bench.Method, "channel": "app", "subject": "replica " + key, "reference": key,
				"amount": core.Money{Value: amount, Currency: bench.Currency},
			}, &p, map[string]string{"Idempotency-Key": key})
			var api *bench.APIError
			conflict = conflict || (errors.As(err, &api) && api.Status == 409)
			return err
		})
		if err == nil && conflict {
			takenOver.Add(1)
		}
		mu.Lock()
		defer mu.Unlock()
		var api *bench.APIError
		switch {
		case err == nil:
			acked[key] = &p
		case errors.As(err, &api) && api.Status == 409:
			// The key of a request that died with r1 must be taken over once its lease (2 s
			// here) has passed; a create still refused after that is a failure.
			held = append(held, key)
		}
		return err
	}
	if res := bench.RunLoad(ctx, replCreatesBefore, time.Minute, replConcurrency, func(_ context.Context, i int) error {
		return create(fmt.Sprintf("before-%03d", i), int64(100+i))
	}); res.Errors > 0 {
		t.Fatalf("creates before the storm: %d of %d failed: %v", res.Errors, replCreatesBefore, res.FirstError)
	}
	var payments []*bench.Payment
	for i := range replCreatesBefore {
		payments = append(payments, acked[fmt.Sprintf("before-%03d", i)])
	}

	// Phase 2: the storm (two distinct deliveries per payment, and after every third a
	// byte-for-byte re-send of it) and more creates, at the same time; r1 is SIGKILLed a third of the way in.
	nt, err := bench.NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	var forms [][]byte
	var formPayment []int
	for i := range 2 * len(payments) {
		k := i % len(payments)
		f, err := nt.Form(bench.TradeNotice{OutTradeNo: payments[k].OutTradeNo, TradeNo: bench.TradeNo(k), Status: mapisim.StatusTradeFinished,
			Amount: payments[k].Amount, NotifyID: fmt.Sprintf("repl-%d", i), At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		forms, formPayment = append(forms, f), append(formPayment, k)
		if i%(replDupEvery-1) == replDupEvery-2 {
			forms, formPayment = append(forms, f), append(formPayment, k) // the wallet's redelivery
		}
	}
	var notified sync.Map // payment index -> true once a notification for it was acknowledged
	var nAcked, nRetried atomic.Int64
	killAt := int64(len(forms) / 3)
	killed := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	wg.Add(2)
	var stormRes, createRes bench.LoadResult
	go func() {
		defer wg.Done()
		stormRes = bench.RunLoad(ctx, len(forms), time.Minute, replConcurrency, func(_ context.Context, i int) error {
			tries := 0
			err := replRetry(ctx, func() error {
				tries++
				status, body, err := client.Notify(ctx, bench.Account, forms[i])
				if err != nil {
					return err
				}
				if status != 200 || body != "success" {
					return &bench.APIError{Status: status, Message: body}
				}
				return nil
			})
			if tries > 1 {
				nRetried.Add(1)
			}
			if err != nil {
				return err
			}
			notified.Store(formPayment[i], true)
			if nAcked.Add(1) == killAt {
				killOnce.Do(func() {
					// A crash, not a shutdown: no request of r1 finishes, its plugin is orphaned.
					_ = syscall.Kill(r1.Process.Pid, syscall.SIGKILL)
					close(killed)
				})
			}
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		createRes = bench.RunLoad(ctx, replCreatesDuring, time.Minute, replConcurrency/2, func(_ context.Context, i int) error {
			return create(fmt.Sprintf("during-%03d", i), int64(500+i))
		})
	}()
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the storm ended before replica r1 was killed (%d of %d notifications acknowledged, first error %v); the test proved nothing",
			nAcked.Load(), len(forms), stormRes.FirstError)
	}
	if stormRes.Errors > 0 || createRes.Errors > 0 {
		replLogs(t, dir)
		t.Fatalf("not acknowledged within %d tries: %d of %d notifications (%v), %d of %d creates (%v)",
			replAttempts, stormRes.Errors, len(forms), stormRes.FirstError, createRes.Errors, replCreatesDuring, createRes.FirstError)
	}
	t.Logf("acknowledged %d notifications (%d needed a retry around the kill) and %d creates (%d after a 409: a dead request's key taken over); r1 killed after %d",
		nAcked.Load(), nRetried.Load(), len(acked), takenOver.Load(), killAt)

	// The survivor took over: it answers through the balancer.
	if _, err := client.GetPayment(ctx, payments[0].ID); err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	replCheck(ctx, t, schemaDSN, acked, held, payments, &notified)
	_ = r2
}

// replCheck reads the database directly: every acknowledged create is there once, every payment
// with an acknowledged notification succeeded with exactly one payment.succeeded event. Its
// control: a doubled event written on purpose is found by the same query.
func replCheck(ctx context.Context, t *testing.T, dsn string, acked map[string]*bench.Payment, held []string, payments []*bench.Payment, notified *sync.Map) {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.ConnectConfig(ctx, pcfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for key, p := range acked {
		var n int
		var ref string
		if err := db.QueryRow(ctx, "SELECT COUNT(*), MIN(reference) FROM payments WHERE id = $1", p.ID).Scan(&n, &ref); err != nil {
			t.Fatal(err)
		}
		if n != 1 || ref != key {
			t.Errorf("acknowledged create %s (payment %s): %d rows, reference %q", key, p.ID, n, ref)
		}
	}
	// A key held by a request that died with r1 has no effect: the payment and the key's answer
	// commit in one transaction.
	for _, key := range held {
		var n int
		var state string
		if err := db.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM payments WHERE reference = $1), (SELECT MIN(state) FROM idempotency_keys WHERE key = $1)", key).Scan(&n, &state); err != nil {
			t.Fatal(err)
		}
		// (A request still running on the live replica when the client gave up may have finished
		// since: then the key is done and its one payment exists.)
		inProgress := n == 0 && state == string(store.IdempotencyInProgress)
		done := n == 1 && state == string(store.IdempotencyDone)
		if !inProgress && !done {
			t.Errorf("key %s answered 409: %d payments and state %q (an effect without its answer, or the reverse)", key, n, state)
		}
	}
	var refs, rows int
	if err := db.QueryRow(ctx, "SELECT COUNT(DISTINCT reference), COUNT(*) FROM payments").Scan(&refs, &rows); err != nil {
		t.Fatal(err)
	}
	if refs != rows {
		t.Errorf("%d payments for %d idempotency keys: a retried create made a second payment", rows, refs)
	}
	lost := 0
	for i, p := range payments {
		if _, ok := notified.Load(i); !ok {
			t.Errorf("payment %s: no notification of it was acknowledged", p.ID)
			continue
		}
		var status string
		var events int
		if err := db.QueryRow(ctx, `SELECT p.status, (SELECT COUNT(*) FROM events e WHERE e.payment_id = p.id AND e.type = 'payment.succeeded')
			FROM payments p WHERE p.id = $1`, p.ID).Scan(&status, &events); err != nil {
			t.Fatal(err)
		}
		if status != string(core.PaymentSucceeded) || events != 1 {
			lost++
			t.Errorf("payment %s: acknowledged notification, status %s, %d payment.succeeded events (want succeeded, 1)", p.ID, status, events)
		}
	}
	doubled := func() int {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT payment_id FROM events WHERE type = 'payment.succeeded'
			GROUP BY payment_id HAVING COUNT(*) > 1) d`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := doubled(); n != 0 {
		t.Errorf("%d payments have more than one payment.succeeded event", n)
	}
	// Control: the query finds a doubled effect when there is one.
	if _, err := db.Exec(ctx, `INSERT INTO events (id, type, account, payment_id, payload, created_at, status)
		SELECT $1, type, account, payment_id, payload, created_at, 'delivered' FROM events WHERE payment_id = $2 AND type = 'payment.succeeded'`,
		store.NewID("evt_"), payments[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := doubled(); n != 1 {
		t.Errorf("control: a doubled event written on purpose was counted %d times, want 1", n)
	}
	t.Logf("checked %d acknowledged creates, %d keys held by the killed replica and %d notified payments: %d lost, 0 doubled",
		len(acked), len(held), len(payments), lost)
}

// replRetry calls f until it succeeds, as a client of a load balancer does: transport errors
// (a connection the killed replica dropped), 5xx and 409 (an idempotency key held by a request,
// also one that died with its replica until server.idempotency_lease passes) are retried after
// a short pause; other errors are final.
func replRetry(ctx context.Context, f func() error) error {
	var err error
	for range replAttempts {
		if err = f(); err == nil {
			return nil
		}
		var api *bench.APIError
		if errors.As(err, &api) && api.Status < 500 && api.Status != 409 && api.Status != 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

// replSchema creates a schema of its own in the test database and returns a DSN whose
// connections use it; the schema is dropped when the test ends.
func replSchema(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatalf("connect to PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	defer admin.Close(context.Background())
	schema := "paymux_replicas_" + store.NewID("")[:16]
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.ConnectConfig(ctx, cfg.ConnConfig); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("PAYMUX_TEST_POSTGRES_DSN must be a postgres:// URL for this test")
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

// replServe serves the simulator on a loopback port until the test ends and returns its URL.
func replServe(t *testing.T, sim *mapisim.Sim) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// replStart starts one paymux serve replica in its own process group (so that its plugin can
// be cleaned up after a SIGKILL) and stops whatever is left of the group when the test ends.
func replStart(t *testing.T, paymux, cfg, listen, dsn, logFile string) *exec.Cmd {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(paymux, "serve", "-config", cfg)
	cmd.Env = append(os.Environ(), "PAYMUX_LISTEN="+listen, "PAYMUX_TEST_REPLICA_DSN="+dsn)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: an orphaned plugin
		<-done
		log.Close()
	})
	return cmd
}

// replHAProxy runs haproxy in the foreground on lb, round robin over the two replicas, with
// health checks on /readyz every 200 ms and redispatch of connections a dead replica refuses.
// haproxy never retries a request that reached a replica: the client decides, as it must.
func replHAProxy(t *testing.T, haproxy, dir, lb, r1, r2 string) {
	t.Helper()
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend paymux
    bind %s
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
    server r1 %s check
    server r2 %s check
`, lb, r1, r2)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxy, "-db", "-f", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
}

// replLogs prints the replicas' logs (the end of each).
func replLogs(t *testing.T, dir string) {
	for _, f := range []string{"r1.log", "r2.log"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("%s:\n%s", f, strings.TrimSpace(string(b)))
	}
}
