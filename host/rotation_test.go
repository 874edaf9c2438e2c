package host_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

// writePEM writes a PEM file and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeyRotationUnderLoad rotates Alipay's public key and the merchant key of a live account
// while creates and genuine signed notifications run without pause, and counts every create
// that fails and every notification that is not processed: zero. The keys change as a reload
// changes them, through the provider's Configure with the new settings (what pluginhost's
// Reload calls for a changed account on SIGHUP). Steps: both Alipay keys listed and the next
// merchant key loaded; the gateway switches to its new key; signing_key next; the old keys
// dropped. The control configures the old Alipay key alone while the gateway signs with the new
// one: notifications are then refused, so the count can fail.
func TestKeyRotationUnderLoad(t *testing.T) {
	t.Run("in process", func(t *testing.T) { testKeyRotationUnderLoad(t, false) })
	// Through the plugin boundary, the keys changed by pluginhost.Manager.Reload: what a SIGHUP
	// that changes an account's settings runs.
	t.Run("plugin reload", func(t *testing.T) { testKeyRotationUnderLoad(t, true) })
}

func testKeyRotationUnderLoad(t *testing.T, viaPlugin bool) {
	w := newSimWorld(t, newTestStore(t), time.Now())
	dir := t.TempDir()
	oldAlipay, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	newAlipay, err := rsa.GenerateKey(rand.Reader, 2048) // throw-away, never written to the repository
	if err != nil {
		t.Fatal(err)
	}
	nextMerchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER := func(k *rsa.PrivateKey) []byte {
		b, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oldPub := writePEM(t, dir, "alipay-old-public.pem", "PUBLIC KEY", pubDER(oldAlipay))
	newPub := writePEM(t, dir, "alipay-new-public.pem", "PUBLIC KEY", pubDER(newAlipay))
	bothPub := filepath.Join(dir, "alipay-both-public.pem")
	if err := os.WriteFile(bothPub, append(readFileT(t, oldPub), readFileT(t, newPub)...), 0o600); err != nil {
		t.Fatal(err)
	}
	oldPriv := filepath.Join(dir, "merchant-old-DO-NOT-USE.pem")
	if err := os.WriteFile(oldPriv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	nextPriv := writePEM(t, dir, "merchant-next-DO-NOT-USE.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(nextMerchant))
	var m *pluginhost.Manager
	var specs []pluginhost.Spec
	if viaPlugin {
		runtime, err := os.MkdirTemp("", "pmxrot") // short: plugin socket paths are length-limited
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(runtime) })
		m = pluginhost.New(pluginhost.Options{RuntimeDir: runtime})
		t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
		bin := pluginBinary(t, "alipay")
		sum := sha256.Sum256(readFileT(t, bin))
		specs = []pluginhost.Spec{{Name: "alipay", Command: bin, SHA256: hex.EncodeToString(sum[:])}}
		if err := m.Start(context.Background(), specs); err != nil {
			t.Fatal(err)
		}
	}
	configure := func(extra map[string]string) {
		t.Helper()
		// No gateway here: the notifications name this merchant and are taken on their signature
		// (notify_verify off; with it on, each would wait for a gateway confirmation).
		s := map[string]string{"partner": simPartner, "gateway_url": "http://127.0.0.1:9/gateway.do", "sign_type": "RSA2",
			"currency": "USD", "timeout": "2s", "notify_verify": "false"}
		for k, v := range extra {
			s[k] = v
		}
		var err error
		if viaPlugin {
			err = m.Reload(context.Background(), specs, map[string]pluginhost.Accounts{"alipay": {"acct": s}})
		} else {
			err = w.prov.Provider.Configure(context.Background(), &core.ConfigureRequest{Account: "acct", Settings: s})
		}
		if err != nil {
			t.Fatalf("configure %v: %v", extra, err)
		}
	}
	configure(map[string]string{"private_key_file": oldPriv, "alipay_public_key_file": oldPub})
	if viaPlugin {
		p, err := m.Provider("alipay")
		if err != nil {
			t.Fatal(err)
		}
		w.provs.mu.Lock()
		w.provs.accs["acct"] = p
		w.provs.mu.Unlock()
	}

	var gatewayKey atomic.Pointer[rsa.PrivateKey]
	gatewayKey.Store(oldAlipay)
	var seq atomic.Int64
	notify := func(p *host.Payment) host.NotificationOutcome {
		signer, err := signing.NewRSASigner(signing.RSA2, gatewayKey.Load())
		if err != nil {
			t.Error(err)
			return host.NotificationOutcome{}
		}
		now := w.clock.now().In(time.FixedZone("GMT+8", 8*3600)).Format("2006-01-02 15:04:05")
		n := seq.Add(1)
		f := map[string]string{
			"notify_type": "trade_status_sync", "notify_id": fmt.Sprintf("rot%d", n), "notify_time": now,
			"out_trade_no": p.OutTradeNo, "trade_no": fmt.Sprintf("2026%020d", n), "trade_status": "TRADE_FINISHED",
			"total_fee": "12.34", "currency": "USD", "subject": "Tea", "seller_id": simPartner,
			"gmt_create": now, "gmt_payment": now,
		}
		sig, err := signer.Sign(signing.CanonicalB(f))
		if err != nil {
			t.Error(err)
			return host.NotificationOutcome{}
		}
		f["sign"], f["sign_type"] = sig, "RSA2"
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		return w.svc.HandleNotification(context.Background(), &host.RawNotification{
			Account: "acct", Method: "POST", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			Body: []byte(v.Encode()),
		})
	}
	// load runs creates and notifications on 4 workers until stop, counting both and the failures.
	type tally struct{ creates, notes, failed atomic.Int64 }
	load := func(tl *tally, stop <-chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					p, err := w.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
						Region: "CN", Method: alipay.MethodID, Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "Tea", Channel: core.ChannelApp,
					})
					tl.creates.Add(1)
					if err != nil {
						tl.failed.Add(1)
						t.Errorf("create during the rotation: %v", err)
						continue
					}
					tl.notes.Add(1)
					if out := notify(p); out.Status != store.NotificationProcessed {
						tl.failed.Add(1)
						t.Errorf("notification during the rotation: %s", out.Status)
					}
				}
			})
		}
		return &wg
	}
	var tl tally
	stop := make(chan struct{})
	wg := load(&tl, stop)
	// Each step waits for at least 5 more notifications than the previous one (no timed
	// assertion: a slow machine only makes the test longer), bounded by 30 s.
	var phases []int64
	step := func(f func()) {
		t.Helper()
		var last int64
		if len(phases) > 0 {
			last = phases[len(phases)-1]
		}
		deadline := time.Now().Add(30 * time.Second)
		for tl.notes.Load() < last+5 {
			if time.Now().After(deadline) || tl.failed.Load() > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		phases = append(phases, tl.notes.Load())
		f()
	}
	step(func() {
		configure(map[string]string{"private_key_file": oldPriv, "next_private_key_file": nextPriv, "alipay_public_key_file": bothPub})
	})
	step(func() { gatewayKey.Store(newAlipay) })
	step(func() {
		configure(map[string]string{"private_key_file": oldPriv, "next_private_key_file": nextPriv, "signing_key": "next",
			"alipay_public_key_file": bothPub})
	})
	step(func() { configure(map[string]string{"private_key_file": nextPriv, "alipay_public_key_file": newPub}) })
	step(func() {})
	close(stop)
	wg.Wait()
	for i := 1; i < len(phases); i++ {
		if phases[i] < phases[i-1]+5 {
			t.Errorf("fewer than 5 notifications between rotation steps %d and %d: %v", i-1, i, phases)
		}
	}
	if tl.failed.Load() != 0 || tl.creates.Load() < 10 {
		t.Fatalf("%d of %d creates and %d notifications failed", tl.failed.Load(), tl.creates.Load(), tl.notes.Load())
	}
	t.Logf("rotation under load: %d creates, %d notifications, 0 failed", tl.creates.Load(), tl.notes.Load())

	// Control: the old Alipay key alone while the gateway signs with the new one: refused.
	configure(map[string]string{"private_key_file": nextPriv, "alipay_public_key_file": oldPub})
	p, err := w.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
		Region: "CN", Method: alipay.MethodID, Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "Tea", Channel: core.ChannelApp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := notify(p); out.Status != store.NotificationRejected {
		t.Fatalf("control: a notification signed with an unlisted key is %s, want rejected", out.Status)
	}
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
