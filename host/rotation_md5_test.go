package host_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestMD5KeyRotationUnderLoad rotates the md5_key of a live MD5 account against a real gateway
// (mapisim, which holds one MD5 key, refuses any other request signature with ILLEGAL_SIGN and
// signs its notifications with its key) while payments are created, paid at the wallet,
// notified by the gateway, queried and refunded without pause, in the documented order:
// md5_key OLD; OLD,NEW (OLD signs); the gateway switches to NEW (the merchant portal);
// md5_signing_key 2 (NEW signs pages); NEW alone. Zero queries, refunds or notifications fail:
// a server call refused for its signature is signed again with the other listed key. Payment
// pages opened by the buyer's browser cannot be signed again: one is refused only if it was
// signed before the md5_signing_key switch and opened after the gateway's; the test checks
// that and logs how many. Controls: with the retry off (md5_sign_refusal_codes none) the
// old key's query and refund fail; a notification signed with a key no longer listed is refused.
func TestMD5KeyRotationUnderLoad(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), time.Now())
	ctx := context.Background()
	oldKey := mapisim.TestMD5Key
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	newKey := hex.EncodeToString(b) // throw-away test key
	// The gateway's partner is an MD5 account; the app order string stays RSA-signed.
	if err := w.sim.AddPartner(mapisim.Partner{ID: simPartner, SignType: "MD5", MD5Key: oldKey,
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Currencies: []string{"USD"}}); err != nil {
		t.Fatal(err)
	}
	gw := httptestServer(t, w.sim)
	priv := filepath.Join(t.TempDir(), "test-merchant-DO-NOT-USE.pem")
	if err := os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	configure := func(extra ...string) {
		t.Helper()
		s := map[string]string{"partner": simPartner, "gateway_url": gw + "/gateway.do", "sign_type": "MD5",
			"private_key_file": priv, "currency": "USD", "timeout": "2s"}
		for i := 0; i+1 < len(extra); i += 2 {
			s[extra[i]] = extra[i+1]
		}
		if err := w.prov.Provider.Configure(ctx, &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
			t.Fatalf("configure %v: %v", extra, err)
		}
	}
	configure("md5_key", oldKey)

	// The gateway's notifications reach the service through this endpoint.
	var notes, failedNotes atomic.Int64
	ns := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out := w.svc.HandleNotification(r.Context(), &host.RawNotification{Account: "acct", Method: r.Method, Header: r.Header, Body: body})
		notes.Add(1)
		if out.Status != store.NotificationProcessed && out.Status != store.NotificationDuplicate {
			failedNotes.Add(1)
			t.Errorf("a notification during the rotation is %s", out.Status)
		}
		rw.WriteHeader(out.Ack.Status)
		_, _ = rw.Write(out.Ack.Body)
	}))
	t.Cleanup(ns.Close)
	st := *w.svc.Settings()
	st.PublicURL = ns.URL
	w.svc.SetSettings(&st)

	// phase counts the completed rotation steps; switched is set just before the gateway's.
	var phase atomic.Int32
	var switched atomic.Bool
	var rounds, failed, pagesRefused atomic.Int64
	var seq atomic.Int64
	fail := func(format string, args ...any) {
		failed.Add(1)
		t.Errorf(format, args...)
	}
	round := func() {
		n := seq.Add(1)
		p, err := w.svc.CreatePayment(ctx, &host.CreatePaymentRequest{Region: "CN", Method: alipay.MethodID,
			Amount: core.Money{Value: 1234, Currency: "USD"}, Reference: fmt.Sprintf("md5rot-%d", n), Subject: "Tea", Channel: core.ChannelApp})
		if err != nil {
			fail("create: %v", err)
			return
		}
		if r, err := w.sim.PayOrderString(ctx, p.NextAction.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
			fail("pay at the wallet: %+v, %v", r, err)
			return
		}
		// The query (single_trade_query, MD5-signed) learns the payment whatever the
		// notification's progress.
		q, err := w.svc.GetPayment(ctx, p.ID, true)
		if err != nil || q.Status != core.PaymentSucceeded {
			fail("query during the rotation: %v (status %v)", err, q)
			return
		}
		rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 234, Currency: "USD"}, Reason: "rotation"})
		if err != nil || rf.Status != core.RefundSucceeded {
			fail("refund during the rotation: %v (%+v)", err, rf)
			return
		}
		// A payment page, signed with md5_signing_key's key and opened at once.
		created := phase.Load()
		pg, err := w.svc.CreatePayment(ctx, &host.CreatePaymentRequest{Region: "CN", Method: alipay.MethodID,
			Amount: core.Money{Value: 1234, Currency: "USD"}, Reference: fmt.Sprintf("md5rot-page-%d", n), Subject: "Tea",
			Channel: core.ChannelH5, ReturnURL: "https://shop.example/done"})
		if err != nil {
			fail("create a page: %v", err)
			return
		}
		_, err = w.sim.OpenH5(ctx, pg.NextAction.Value)
		var se *mapisim.Error
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code == "ILLEGAL_SIGN" && created < 3 && switched.Load():
			pagesRefused.Add(1) // the unavoidable window: signed with OLD, opened after the switch
		default:
			fail("a page created in phase %d (switched %v) is refused: %v", created, switched.Load(), err)
		}
		rounds.Add(1)
	}
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
				round()
			}
		})
	}
	// Each step waits for at least 5 more rounds (bounded by 30 s; no timed assertion).
	var marks []int64
	step := func(f func()) {
		var last int64
		if len(marks) > 0 {
			last = marks[len(marks)-1]
		}
		deadline := time.Now().Add(30 * time.Second)
		for rounds.Load() < last+5 && failed.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		marks = append(marks, rounds.Load())
		f()
		phase.Add(1)
	}
	step(func() { configure("md5_key", oldKey+","+newKey) })
	step(func() {
		switched.Store(true)
		if err := w.sim.SetMD5Key(simPartner, newKey); err != nil {
			t.Fatal(err)
		}
	})
	step(func() { configure("md5_key", oldKey+","+newKey, "md5_signing_key", "2") })
	step(func() { configure("md5_key", newKey) })
	step(func() {})
	close(stop)
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.sim.WaitIdle(wctx); err != nil {
		t.Fatalf("the gateway's notifications: %v", err)
	}
	for i := 1; i < len(marks); i++ {
		if marks[i] < marks[i-1]+5 {
			t.Errorf("fewer than 5 rounds between rotation steps %d and %d: %v", i-1, i, marks)
		}
	}
	if failed.Load() != 0 || failedNotes.Load() != 0 || rounds.Load() < 25 || notes.Load() < rounds.Load() {
		t.Fatalf("%d of %d rounds (create, pay, query, refund) and %d of %d notifications failed", failed.Load(), rounds.Load(), failedNotes.Load(), notes.Load())
	}
	t.Logf("MD5 rotation under load: %d rounds (payment, wallet, query, refund, page), %d notifications, 0 failed; %d pages signed with the old key and opened after the gateway's switch were refused",
		rounds.Load(), notes.Load(), pagesRefused.Load())

	// Control: the retry off, the old key first, the gateway on NEW: the query and the refund fail.
	p, err := w.svc.CreatePayment(ctx, &host.CreatePaymentRequest{Region: "CN", Method: alipay.MethodID,
		Amount: core.Money{Value: 1234, Currency: "USD"}, Reference: "md5rot-control", Subject: "Tea", Channel: core.ChannelApp})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.sim.PayOrderString(ctx, p.NextAction.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v, %v", r, err)
	}
	if err := w.sim.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	configure("md5_key", oldKey+","+newKey, "md5_sign_refusal_codes", "none")
	if _, err := w.svc.GetPayment(ctx, p.ID, true); core.ProviderCode(err) != "ILLEGAL_SIGN" {
		t.Fatalf("control: a query signed with the old key, retry off: %v, want ILLEGAL_SIGN", err)
	}
	if rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 100, Currency: "USD"}}); err != nil || rf.Status == core.RefundSucceeded {
		t.Fatalf("control: a refund signed with the old key, retry off: %+v, %v; want not succeeded", rf, err)
	}
	// The same account with the retry: the query works.
	configure("md5_key", oldKey+","+newKey)
	q, err := w.svc.GetPayment(ctx, p.ID, true)
	if err != nil || q.Status != core.PaymentSucceeded {
		t.Fatalf("the query with the retry: %v", err)
	}

	// Control: a notification signed with the old key, no longer listed, is refused; the same
	// notification signed with the listed key is taken (notify_verify off: the gateway would
	// not know the made-up notify_id).
	configure("md5_key", newKey, "notify_verify", "false")
	notify := func(key string) host.NotificationOutcome {
		signer, err := signing.NewMD5(key)
		if err != nil {
			t.Fatal(err)
		}
		now := w.clock.now().In(time.FixedZone("GMT+8", 8*3600)).Format("2006-01-02 15:04:05")
		f := map[string]string{
			"notify_type": "trade_status_sync", "notify_id": "md5rot-control", "notify_time": now,
			"out_trade_no": q.OutTradeNo, "trade_no": q.ProviderRef, "trade_status": "TRADE_FINISHED",
			"total_fee": "12.34", "currency": "USD", "subject": "Tea", "seller_id": simPartner,
			"gmt_create": now, "gmt_payment": now,
		}
		sig, err := signer.Sign(signing.CanonicalB(f))
		if err != nil {
			t.Fatal(err)
		}
		f["sign"], f["sign_type"] = sig, "MD5"
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		return w.svc.HandleNotification(ctx, &host.RawNotification{
			Account: "acct", Method: "POST", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			Body: []byte(v.Encode()),
		})
	}
	if out := notify(oldKey); out.Status != store.NotificationRejected {
		t.Fatalf("control: a notification signed with an unlisted MD5 key is %s, want rejected", out.Status)
	}
	if out := notify(newKey); out.Status != store.NotificationProcessed && out.Status != store.NotificationDuplicate {
		t.Fatalf("control: a notification signed with the listed MD5 key is %s", out.Status)
	}
}
