package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/mapisim"
)

// The SIGHUP rotation test's bounds.
const (
	rotWorkers   = 4                // clients creating and notifying at once
	rotPerStep   = 5                // notifications acknowledged between two steps, at least
	rotMaxOps    = 3000             // iterations in all, whatever happens
	rotStepLimit = 30 * time.Second // the longest wait for one step (load or reload)
	rotDeadline  = 3 * time.Minute
)

// TestServeKeyRotationSIGHUP rotates the merchant key and the Alipay public key of a live
// account in a real `paymux serve` process (the alipay plugin built by make build), each step a
// config rewrite and a `kill -HUP`, while clients create payments and post notifications without
// pause, and counts the creates and notifications that fail: zero.
//
// The test plays the gateway. An order string counts as accepted when the simulator's own check
// (Format A signature with the merchant key it has, fields, amount) passes in one of the
// simulators that hold a merchant public key the gateway accepts at that moment (one simulator
// per merchant key); a notification is signed with the gateway's current Alipay key and must be
// acknowledged "success" (notify_verify is off for the account: these notifications were never
// issued by a gateway that could confirm them). Steps, each after the previous reload is
// observed in the log ("config reloaded") and at least rotPerStep more notifications:
//
//  1. SIGHUP: alipay_public_key_file lists OLD and NEW, next_private_key_file is loaded;
//  2. the gateway signs with NEW and also accepts the next merchant key (uploaded);
//  3. SIGHUP: signing_key: next;
//  4. the gateway drops the old merchant key;
//  5. SIGHUP: private_key_file is the new key, alipay_public_key_file lists NEW alone.
//
// Controls, on the same process afterwards, each a wrong step that must produce failures: the
// gateway signs with a key the host does not list (notifications refused), and the gateway
// accepts only a merchant key the host does not sign with (order strings refused).
func TestServeKeyRotationSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts paymux serve and the alipay plugin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), rotDeadline)
	defer cancel()
	bin := qsTestBinaries(t, qsTestRoot(t))
	dir := t.TempDir()

	oldAlipay, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	must(t, err)
	// Throw-away keys, never written to the repository.
	newAlipay, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	strayAlipay, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	newMerchant, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	pubPEM := func(k *rsa.PublicKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		must(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	oldPub := write("alipay-old.pem", pubPEM(&oldAlipay.PublicKey))
	newPub := write("alipay-new.pem", pubPEM(&newAlipay.PublicKey))
	bothPub := write("alipay-both.pem", append(pubPEM(&oldAlipay.PublicKey), pubPEM(&newAlipay.PublicKey)...))
	oldPriv := write("merchant-old-DO-NOT-USE.pem", mapisim.TestMerchantPrivateKeyPEM)
	newPriv := write("merchant-new-DO-NOT-USE.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(newMerchant)}))

	// One simulator per merchant key the gateway may hold; the first is also the gateway_url.
	newSim := func(merchantPub []byte) *mapisim.Sim {
		s := mapisim.New(mapisim.Config{Seed: 1})
		t.Cleanup(s.Close)
		must(t, s.AddPartner(mapisim.Partner{ID: bench.Partner, SignType: "RSA2", MerchantPublicKeyPEM: merchantPub}))
		return s
	}
	simOld, simNew := newSim(mapisim.TestMerchantPublicKeyPEM), newSim(pubPEM(&newMerchant.PublicKey))
	simURL := replServe(t, simOld)

	plugin := filepath.Join(bin, bench.PluginBinary)
	pin, err := sdk.HashFile(plugin)
	must(t, err)
	addr := qsFreeAddr(t)
	cfg := filepath.Join(dir, "paymux.yaml")
	writeConfig := func(keys string) {
		t.Helper()
		must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  listen: %s
  public_url: http://%s
  api_keys: [%s]
store: {driver: sqlite, dsn: %s}
plugins:
  alipay: {command: %s, sha256: %s}
accounts:
  %s:
    plugin: alipay
    settings:
      gateway_url: %s/gateway.do
      sign_type: RSA2
      app_sign_type: RSA2
      partner: "%s"
      # The test signs the notifications and names the partner as seller_id; no gateway issued
      # their notify_ids, so the gateway round trip is switched off.
      notify_verify: "false"
      currency: %s
      timeout: 5s
%s
regions:
  %s:
    methods: [{method: %s, account: %s}]
log: {level: info}
`, addr, addr, bench.APIKey, filepath.Join(dir, "paymux.db"), plugin, pin, bench.Account, simURL, bench.Partner, bench.Currency,
			keys, bench.Region, bench.Method, bench.Account)), 0o600))
	}
	keys := func(lines ...string) string { return "      " + strings.Join(lines, "\n      ") }
	writeConfig(keys("private_key_file: "+oldPriv, "alipay_public_key_file: "+oldPub))

	logPath := filepath.Join(dir, "serve.log")
	proc := replStart(t, filepath.Join(bin, "paymux"), cfg, addr, "", logPath)
	serveLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if _, err := bench.WaitOK(ctx, "http://"+addr+"/readyz", 50*time.Millisecond, nil); err != nil {
		t.Fatalf("paymux serve not ready: %v\n%s", err, serveLog())
	}
	// hup rewrites the account's keys, sends SIGHUP and waits until the reload is in the log.
	reloads := 0
	hup := func(lines ...string) {
		t.Helper()
		writeConfig(keys(lines...))
		must(t, proc.Process.Signal(syscall.SIGHUP))
		reloads++
		deadline := time.Now().Add(rotStepLimit)
		for strings.Count(serveLog(), "config reloaded") < reloads {
			if strings.Contains(serveLog(), "config reload refused") || time.Now().After(deadline) {
				t.Fatalf("reload %d (%v) not applied:\n%s", reloads, lines, serveLog())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The gateway's state: the key it signs notifications with, the merchant keys it accepts.
	var gatewayKey atomic.Pointer[rsa.PrivateKey]
	gatewayKey.Store(oldAlipay)
	var accepted atomic.Pointer[[]*mapisim.Sim]
	setAccepted := func(s ...*mapisim.Sim) { accepted.Store(&s) }
	setAccepted(simOld)

	client := bench.NewClient("http://"+addr, bench.APIKey, 2*rotWorkers)
	defer client.Close()
	var seq atomic.Int64
	type tally struct {
		creates, notes, failedCreates, failedNotes atomic.Int64
		mu                                         sync.Mutex
		first                                      []string
	}
	fail := func(tl *tally, n *atomic.Int64, format string, args ...any) {
		n.Add(1)
		tl.mu.Lock()
		if len(tl.first) < 5 {
			tl.first = append(tl.first, fmt.Sprintf(format, args...))
		}
		tl.mu.Unlock()
	}
	// one creates a payment, checks its order string at the gateway and posts its notification.
	one := func(tl *tally) {
		n := seq.Add(1)
		p, err := client.CreatePayment(ctx, fmt.Sprintf("rot-%d", n), 1234)
		tl.creates.Add(1)
		if err != nil {
			fail(tl, &tl.failedCreates, "create: %v", err)
			return
		}
		sims := *accepted.Load()
		ok := false
		var serr error
		for _, s := range sims {
			if p.NextAction == nil {
				break
			}
			if _, serr = s.CheckOrderString(p.NextAction.Value); serr == nil {
				ok = true
				break
			}
		}
		if !ok {
			fail(tl, &tl.failedCreates, "order string of %s refused by the gateway: %v", p.ID, serr)
			return
		}
		form, err := rotNotification(gatewayKey.Load(), p, n)
		if err != nil {
			t.Error(err)
			return
		}
		tl.notes.Add(1)
		status, body, err := client.Notify(ctx, bench.Account, form)
		if err != nil || status != 200 || body != "success" {
			fail(tl, &tl.failedNotes, "notification for %s: %d %q %v", p.ID, status, body, err)
		}
	}
	// run drives the load on rotWorkers clients while steps runs, each step after at least
	// rotPerStep more acknowledged notifications (no timed assertion: a slow machine only makes
	// the test longer, up to rotStepLimit per step and rotMaxOps in all).
	run := func(tl *tally, steps ...func()) {
		t.Helper()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range rotWorkers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if seq.Load() >= rotMaxOps || ctx.Err() != nil {
						return
					}
					one(tl)
				}
			})
		}
		var last int64
		for i, step := range append(steps, func() {}) {
			deadline := time.Now().Add(rotStepLimit)
			for tl.notes.Load()-tl.failedNotes.Load() < last+rotPerStep && tl.failedNotes.Load()+tl.failedCreates.Load() == 0 {
				if time.Now().After(deadline) || seq.Load() >= rotMaxOps {
					close(stop)
					wg.Wait()
					t.Fatalf("step %d: fewer than %d notifications acknowledged since the last step (%d creates, %d notifications)",
						i, rotPerStep, tl.creates.Load(), tl.notes.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
			last = tl.notes.Load() - tl.failedNotes.Load()
			step()
		}
		close(stop)
		wg.Wait()
	}

	var tl tally
	run(&tl,
		func() {
			hup("private_key_file: "+oldPriv, "next_private_key_file: "+newPriv, "alipay_public_key_file: "+bothPub)
		},
		func() { gatewayKey.Store(newAlipay); setAccepted(simOld, simNew) },
		func() {
			hup("private_key_file: "+oldPriv, "next_private_key_file: "+newPriv, "signing_key: next", "alipay_public_key_file: "+bothPub)
		},
		func() { setAccepted(simNew) },
		func() { hup("private_key_file: "+newPriv, "alipay_public_key_file: "+newPub) },
	)
	if tl.failedCreates.Load() != 0 || tl.failedNotes.Load() != 0 {
		t.Fatalf("rotation by SIGHUP: %d of %d creates and %d of %d notifications failed; first: %v\n%s",
			tl.failedCreates.Load(), tl.creates.Load(), tl.failedNotes.Load(), tl.notes.Load(), tl.first, serveLog())
	}
	t.Logf("rotation by SIGHUP under load: %d creates, %d notifications, 0 failed; %d reloads", tl.creates.Load(), tl.notes.Load(), reloads)

	// Control 1: the gateway switches to a key the host does not list: notifications fail.
	var c1 tally
	gatewayKey.Store(strayAlipay)
	run(&c1)
	if c1.failedNotes.Load() == 0 || c1.failedCreates.Load() != 0 {
		t.Fatalf("control (gateway signs with an unlisted key): %d notifications and %d creates failed, want notifications only",
			c1.failedNotes.Load(), c1.failedCreates.Load())
	}
	// Control 2: the gateway accepts only the old merchant key while the host signs with the new
	// one (signing_key switched before the key was uploaded): order strings are refused.
	var c2 tally
	gatewayKey.Store(newAlipay)
	setAccepted(simOld)
	run(&c2)
	if c2.failedCreates.Load() == 0 {
		t.Fatalf("control (gateway lacks the merchant key the host signs with): no create failed")
	}
	if strings.Contains(serveLog(), "BEGIN RSA PRIVATE KEY") || strings.Contains(serveLog(), "PRIVATE KEY-----") {
		t.Fatal("a private key reached the log")
	}
}

// rotNotification is a trade_status_sync for p signed RSA2 with key, as the gateway sends it.
func rotNotification(key *rsa.PrivateKey, p *bench.Payment, n int64) ([]byte, error) {
	signer, err := signing.NewRSASigner(signing.RSA2, key)
	if err != nil {
		return nil, err
	}
	at := time.Now().In(time.FixedZone("GMT+8", 8*3600)).Format("2006-01-02 15:04:05")
	f := map[string]string{
		"notify_type": "trade_status_sync", "notify_id": fmt.Sprintf("rot-sighup-%d", n), "notify_time": at,
		"out_trade_no": p.OutTradeNo, "trade_no": bench.TradeNo(int(n)), "trade_status": mapisim.StatusTradeFinished,
		"total_fee": p.Amount.Decimal(), "currency": p.Amount.Currency, "subject": "rotation", "seller_id": bench.Partner,
		"gmt_create": at, "gmt_payment": at,
	}
	sig, err := signer.Sign(signing.CanonicalB(f))
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	v.Set("sign", sig)
	v.Set("sign_type", "RSA2")
	return []byte(v.Encode()), nil
}
