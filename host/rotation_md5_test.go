package host_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestMD5KeyRotationUnderLoad rotates the md5_key of a live MD5 account while creates and
// notifications signed by the gateway run without pause: md5_key OLD, then NEW,OLD (the first
// signs, any verifies), the gateway switches to NEW, then NEW alone. Zero creates or
// notifications fail. The control signs one notification with OLD after it is no longer
// listed: refused, so the count can fail.
func TestMD5KeyRotationUnderLoad(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), time.Now())
	oldKey := mapisim.TestMD5Key
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	newKey := hex.EncodeToString(b) // throw-away test key
	configure := func(md5Key string) {
		t.Helper()
		// No gateway: notifications are taken on their signature (notify_verify off).
		s := map[string]string{"partner": simPartner, "gateway_url": "http://127.0.0.1:9/gateway.do", "sign_type": "MD5",
			"md5_key": md5Key, "currency": "USD", "timeout": "2s", "notify_verify": "false"}
		if err := w.prov.Provider.Configure(context.Background(), &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
			t.Fatalf("configure md5_key: %v", err)
		}
	}
	configure(oldKey)
	var gatewayKey atomic.Pointer[string]
	gatewayKey.Store(&oldKey)
	var seq atomic.Int64
	create := func() (*host.Payment, error) {
		return w.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
			Region: "CN", Method: alipay.MethodID, Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "Tea", Channel: core.ChannelWeb, ReturnURL: "https://shop.example/done",
		})
	}
	notify := func(p *host.Payment) host.NotificationOutcome {
		signer, err := signing.NewMD5(*gatewayKey.Load())
		if err != nil {
			t.Error(err)
			return host.NotificationOutcome{}
		}
		now := w.clock.now().In(time.FixedZone("GMT+8", 8*3600)).Format("2006-01-02 15:04:05")
		n := seq.Add(1)
		f := map[string]string{
			"notify_type": "trade_status_sync", "notify_id": fmt.Sprintf("md5rot%d", n), "notify_time": now,
			"out_trade_no": p.OutTradeNo, "trade_no": fmt.Sprintf("2026%020d", n), "trade_status": "TRADE_FINISHED",
			"total_fee": "12.34", "currency": "USD", "subject": "Tea", "seller_id": simPartner,
			"gmt_create": now, "gmt_payment": now,
		}
		sig, err := signer.Sign(signing.CanonicalB(f))
		if err != nil {
			t.Error(err)
			return host.NotificationOutcome{}
		}
		f["sign"], f["sign_type"] = sig, "MD5"
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		return w.svc.HandleNotification(context.Background(), &host.RawNotification{
			Account: "acct", Method: "POST", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			Body: []byte(v.Encode()),
		})
	}
	var creates, notes, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := create()
				creates.Add(1)
				if err != nil {
					failed.Add(1)
					t.Errorf("create during the rotation: %v", err)
					continue
				}
				notes.Add(1)
				if out := notify(p); out.Status != store.NotificationProcessed {
					failed.Add(1)
					t.Errorf("notification during the rotation: %s", out.Status)
				}
			}
		})
	}
	// Each step waits for at least 5 more notifications (bounded by 30 s; no timed assertion).
	var phases []int64
	step := func(f func()) {
		var last int64
		if len(phases) > 0 {
			last = phases[len(phases)-1]
		}
		deadline := time.Now().Add(30 * time.Second)
		for notes.Load() < last+5 && failed.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		phases = append(phases, notes.Load())
		f()
	}
	step(func() { configure(newKey + "," + oldKey) })
	step(func() { gatewayKey.Store(&newKey) })
	step(func() { configure(newKey) })
	step(func() {})
	close(stop)
	wg.Wait()
	for i := 1; i < len(phases); i++ {
		if phases[i] < phases[i-1]+5 {
			t.Errorf("fewer than 5 notifications between rotation steps %d and %d: %v", i-1, i, phases)
		}
	}
	if failed.Load() != 0 || creates.Load() < 10 {
		t.Fatalf("%d of %d creates and %d notifications failed", failed.Load(), creates.Load(), notes.Load())
	}
	t.Logf("MD5 rotation under load: %d creates, %d notifications, 0 failed", creates.Load(), notes.Load())

	// Control: a notification signed with the old key, no longer listed, is refused.
	p, err := create()
	if err != nil {
		t.Fatal(err)
	}
	gatewayKey.Store(&oldKey)
	if out := notify(p); out.Status != store.NotificationRejected {
		t.Fatalf("control: a notification signed with an unlisted MD5 key is %s, want rejected", out.Status)
	}
	gatewayKey.Store(&newKey) // and the same payment's notification with the listed key is taken
	if out := notify(p); out.Status != store.NotificationProcessed {
		t.Fatalf("control: a notification signed with the listed MD5 key is %s, want processed", out.Status)
	}
}
