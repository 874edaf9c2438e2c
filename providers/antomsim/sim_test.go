package antomsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core/signing"
)

const cid = "SANDBOX_5X00000000000000"

type fixture struct {
	sim *Sim
	srv *httptest.Server
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 100000 // Antom's first retries (2 and 10 minutes) within milliseconds
	}
	if cfg.DefaultExpiry == 0 {
		cfg.DefaultExpiry = 1000 * time.Hour // orders stay open at that scale unless a test sets an expiry
	}
	s := New(cfg)
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	if err := s.AddMerchant(Merchant{ClientID: cid, PublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: s, srv: srv}
}

// call posts a signed request as a merchant would and returns the answer.
func (f *fixture) call(t *testing.T, path string, body string, mod func(h http.Header)) (*http.Response, []byte) {
	t.Helper()
	k := mustKey(TestMerchantPrivateKeyPEM)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig, err := signB64(k, content(path, cid, ts, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Client-Id", cid)
	req.Header.Set("Request-Time", ts)
	req.Header.Set("Signature", "algorithm=RSA256, keyVersion=3, signature="+strings.ReplaceAll(sigHeader(sig)[len("algorithm=RSA256,keyVersion=1,signature="):], "%2B", "%2b"))
	if mod != nil {
		mod(req.Header)
	}
	// A recorder, not a client: Go's client canonicalises the header names the test checks.
	rec := httptest.NewRecorder()
	f.sim.Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func payBody(id string, value int64, terminal, notify string) string {
	return `{"productCode":"CASHIER_PAYMENT","paymentRequestId":"` + id + `","order":{"referenceOrderId":"` + id + `","orderDescription":"x","orderAmount":{"currency":"PHP","value":"` + strconv.FormatInt(value, 10) + `"}},` +
		`"paymentAmount":{"currency":"PHP","value":` + strconv.FormatInt(value, 10) + `},"paymentMethod":{"paymentMethodType":"GCASH"},` +
		`"paymentRedirectUrl":"https://shop.example/r","paymentNotifyUrl":"` + notify + `","env":{"terminalType":"` + terminal + `"}}`
}

// The simulator verifies the openssl-made request vector and signs exactly what openssl signed.
func TestGoldenVectors(t *testing.T) {
	dir := filepath.Join("..", "antom", "testdata", "vectors")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pub, err := signing.ParsePublicKey(TestMerchantPublicKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifySig(pub, read("request-pay.header"), []byte(read("request-pay.content"))); err != nil {
		t.Errorf("request vector: %v", err)
	}
	for _, name := range []string{"response-inquiry", "notify-payment"} {
		sig, err := signB64(mustKey(TestAntomPrivateKeyPEM), []byte(read(name+".content")))
		if err != nil {
			t.Fatal(err)
		}
		if sig != read(name+".sig") || sigHeader(sig) != read(name+".header") {
			t.Errorf("%s: simulator signature differs from openssl's", name)
		}
	}
}

func TestSignedAnswersAndPaths(t *testing.T) {
	f := newFixture(t, Config{})
	for _, path := range []string{"/ams/api/v1/payments/pay", "/ams/sandbox/api/v1/payments/pay", "/ams/api//v1/payments/pay"} {
		resp, body := f.call(t, path, payBody("r"+strconv.Itoa(len(path)), 10000, "WAP", ""), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
		}
		raw := map[string][]string(resp.Header) // as written: lower-case names on purpose
		for _, h := range []string{"client-id", "response-time", "signature"} {
			if _, ok := raw[h]; !ok {
				t.Errorf("%s: header %q not sent in lower case: %v", path, h, resp.Header)
			}
		}
		sig := raw["signature"][0]
		if !strings.HasPrefix(sig, "algorithm=RSA256,keyVersion=1,signature=") || strings.Contains(sig[40:], "=") || strings.Contains(sig, " ") {
			t.Errorf("signature header %q", sig)
		}
		pub, _ := signing.ParsePublicKey(f.sim.AntomPublicKeyPEM())
		if err := verifySig(pub, sig, content(path, cid, raw["response-time"][0], body)); err != nil {
			t.Errorf("%s: answer does not verify: %v", path, err)
		}
		var r struct {
			Result    result `json:"result"`
			NormalURL string `json:"normalUrl"`
			Applink   string `json:"applinkUrl"`
		}
		_ = json.Unmarshal(body, &r)
		if r.Result.ResultStatus != "U" || r.Result.ResultCode != "PAYMENT_IN_PROCESS" || r.NormalURL == "" || r.Applink == "" {
			t.Errorf("%s: pay answer %s", path, body)
		}
	}
	// A bad signature: HTTP 200, F, and no signature header.
	resp, body := f.call(t, "/ams/api/v1/payments/pay", payBody("bad", 1, "WEB", ""), func(h http.Header) { h.Set("Request-Time", "1") })
	if resp.StatusCode != 200 || !strings.Contains(string(body), "INVALID_SIGNATURE") || resp.Header.Get("Signature") != "" {
		t.Errorf("bad signature: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t, Config{})
	_, a := f.call(t, "/ams/api/v1/payments/pay", payBody("same", 10000, "WEB", ""), nil)
	_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("same", 10000, "WEB", ""), nil)
	if !bytes.Equal(a, b) {
		t.Errorf("repeat pay answered differently:\n%s\n%s", a, b)
	}
	_, c := f.call(t, "/ams/api/v1/payments/pay", payBody("same", 10001, "WEB", ""), nil)
	if !strings.Contains(string(c), "REPEAT_REQ_INCONSISTENT") {
		t.Errorf("changed amount: %s", c)
	}
}

// notifyServer counts deliveries and acknowledges from the ackFrom-th on.
type notifyServer struct {
	mu     sync.Mutex
	bodies []string
	paths  []string
	ackAt  int
}

func (n *notifyServer) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n.mu.Lock()
		n.bodies = append(n.bodies, string(b))
		n.paths = append(n.paths, r.URL.Path)
		k := len(n.bodies)
		n.mu.Unlock()
		if k >= n.ackAt {
			_, _ = w.Write([]byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"result":{"resultCode":"UNKNOWN_EXCEPTION","resultStatus":"U"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/notify/acct"
}

func (n *notifyServer) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.bodies)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func paymentID(t *testing.T, body []byte) string {
	var r struct {
		PaymentID string `json:"paymentId"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.PaymentID == "" {
		t.Fatalf("no paymentId in %s", body)
	}
	return r.PaymentID
}

// Notifications follow the retry schedule until acknowledged, and stop then; the sandbox
// sends once.
func TestNotificationRetries(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		f := newFixture(t, Config{Sandbox: sandbox})
		ns := &notifyServer{ackAt: 3}
		url := ns.start(t)
		_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("n1", 10000, "WAP", url), nil)
		if err := f.sim.Decide(paymentID(t, b), DecisionPay); err != nil {
			t.Fatal(err)
		}
		want := 3
		if sandbox {
			want = 1
		}
		waitFor(t, "deliveries", func() bool { return ns.count() >= want })
		time.Sleep(300 * time.Millisecond) // 30000 simulated seconds: every retry would be due
		if got := ns.count(); got != want {
			t.Errorf("sandbox %v: %d deliveries, want %d", sandbox, got, want)
		}
		d := f.sim.Deliveries()
		if len(d) != 1 || d[0].Attempts != want || d[0].Acked == sandbox {
			t.Errorf("sandbox %v: deliveries %+v", sandbox, d)
		}
		if ns.paths[0] != "/notify/acct" || !strings.Contains(ns.bodies[0], `"notifyType":"PAYMENT_RESULT"`) {
			t.Errorf("notification %s %s", ns.paths[0], ns.bodies[0])
		}
	}
}

func TestNotifyFaultsAndExpiry(t *testing.T) {
	f := newFixture(t, Config{})
	ns := &notifyServer{ackAt: 1}
	url := ns.start(t)
	if _, err := f.sim.SetFault(Fault{Kind: FaultPendingFirst, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("f1", 10000, "WEB", url), nil)
	if err := f.sim.Decide(paymentID(t, b), DecisionPay); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pending then result", func() bool { return ns.count() >= 2 })
	if !strings.Contains(ns.bodies[0], "PAYMENT_PENDING") || !strings.Contains(ns.bodies[1], "PAYMENT_RESULT") {
		t.Errorf("order: %v", ns.bodies)
	}
	// An order left alone expires into FAIL, with its notification.
	body := strings.Replace(payBody("f2", 10000, "WEB", url), `"env"`, `"paymentExpiryTime":"`+time.Now().Add(time.Minute).UTC().Format(time.RFC3339)+`","env"`, 1)
	f.call(t, "/ams/api/v1/payments/pay", body, nil)
	waitFor(t, "expiry notification", func() bool { return ns.count() >= 3 })
	if !strings.Contains(ns.bodies[2], `"resultStatus":"F"`) || !strings.Contains(ns.bodies[2], "ORDER_IS_CLOSED") {
		t.Errorf("expiry notification %s", ns.bodies[2])
	}
	_, q := f.call(t, "/ams/api/v1/payments/inquiryPayment", `{"paymentRequestId":"f2"}`, nil)
	if !strings.Contains(string(q), `"paymentStatus":"FAIL"`) {
		t.Errorf("inquiry after expiry: %s", q)
	}
}

func TestRefundsAndCancel(t *testing.T) {
	f := newFixture(t, Config{})
	_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("p1", 10000, "APP", ""), nil)
	id := paymentID(t, b)
	refund := func(no string, v int64) string {
		_, r := f.call(t, "/ams/api/v1/payments/refund", `{"refundRequestId":"`+no+`","paymentId":"`+id+`","refundAmount":{"currency":"PHP","value":"`+strconv.FormatInt(v, 10)+`"}}`, nil)
		return string(r)
	}
	if r := refund("early", 1); !strings.Contains(r, "ORDER_STATUS_INVALID") {
		t.Errorf("refund before payment: %s", r)
	}
	if err := f.sim.Decide(id, DecisionPay); err != nil {
		t.Fatal(err)
	}
	if r := refund("a", 4000); !strings.Contains(r, `"resultStatus":"S"`) {
		t.Errorf("first partial refund: %s", r)
	}
	if r := refund("b", 6001); !strings.Contains(r, "REFUND_AMOUNT_EXCEED") {
		t.Errorf("beyond: %s", r)
	}
	if r := refund("b", 6000); !strings.Contains(r, `"resultStatus":"S"`) {
		t.Errorf("second partial refund: %s", r)
	}
	if r := refund("a", 4000); !strings.Contains(r, `"resultStatus":"S"`) {
		t.Errorf("replayed refund: %s", r)
	}
	_, q := f.call(t, "/ams/api/v1/payments/inquiryRefund", `{"refundRequestId":"b"}`, nil)
	if !strings.Contains(string(q), `"refundStatus":"SUCCESS"`) {
		t.Errorf("inquiryRefund: %s", q)
	}
	_, q = f.call(t, "/ams/api/v1/payments/inquiryRefund", `{"refundRequestId":"never"}`, nil)
	if !strings.Contains(string(q), "ORDER_NOT_EXIST") {
		t.Errorf("inquiryRefund of nothing: %s", q)
	}
	_, b = f.call(t, "/ams/api/v1/payments/pay", payBody("p2", 10000, "APP", ""), nil)
	_, c := f.call(t, "/ams/api/v1/payments/cancel", `{"paymentId":"`+paymentID(t, b)+`"}`, nil)
	if !strings.Contains(string(c), `"resultStatus":"S"`) {
		t.Errorf("cancel: %s", c)
	}
	if err := f.sim.Decide(paymentID(t, b), DecisionPay); err == nil {
		t.Error("a cancelled order could still be paid")
	}
}

func TestWalletPage(t *testing.T) {
	f := newFixture(t, Config{})
	_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("w1", 10000, "WAP", ""), nil)
	id := paymentID(t, b)
	resp, err := http.Get(f.srv.URL + "/antom/applink/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"GCASH", `id="pay"`, `id="fail"`, `id="pending"`, `id="abandon"`, "100.00 PHP"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("wallet page lacks %q", want)
		}
	}
	if err := submit(context.Background(), f.srv.URL+"/antom/wallet/"+id, DecisionPending); err != nil {
		t.Fatal(err)
	}
	if err := submit(context.Background(), f.srv.URL+"/antom/wallet/"+id, DecisionFail); err != nil {
		t.Fatal(err)
	}
	_, q := f.call(t, "/ams/api/v1/payments/inquiryPayment", `{"paymentId":"`+id+`"}`, nil)
	if !strings.Contains(string(q), `"paymentStatus":"FAIL"`) {
		t.Errorf("after pending then fail: %s", q)
	}
}

// lose_notify loses each notification's first attempt (counted in Lost; nothing reaches the
// merchant), and the retry delivers it. Control: without the fault the first attempt arrives.
// NotificationHeaders signs as the notifier does: the simulator's key verifies it.
func TestLoseNotifyAndNotificationHeaders(t *testing.T) {
	f := newFixture(t, Config{TimeScale: 100})
	ns := &notifyServer{ackAt: 1}
	url := ns.start(t)
	_, b := f.call(t, "/ams/api/v1/payments/pay", payBody("l0", 10000, "WAP", url), nil)
	if err := f.sim.Decide(paymentID(t, b), DecisionPay); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "control delivery", func() bool { return ns.count() == 1 })
	id, err := f.sim.SetFault(Fault{Kind: FaultLoseNotify})
	if err != nil {
		t.Fatal(err)
	}
	_, b = f.call(t, "/ams/api/v1/payments/pay", payBody("l1", 10000, "WAP", url), nil)
	pid := paymentID(t, b)
	if err := f.sim.Decide(pid, DecisionPay); err != nil {
		t.Fatal(err)
	}
	f.sim.RemoveFault(id)
	waitFor(t, "the lost attempt", func() bool { d := f.sim.Deliveries(); return len(d) == 2 && d[1].Attempts >= 1 })
	if d := f.sim.Deliveries()[1]; d.Lost != 1 || d.Attempts != 1 || d.Acked || ns.count() != 1 {
		t.Fatalf("after the lost attempt: %+v, %d received", d, ns.count())
	}
	waitFor(t, "the retry", func() bool { return ns.count() == 2 }) // 2 simulated minutes
	if d := f.sim.Deliveries()[1]; d.Lost != 1 || d.Attempts != 2 || !d.Acked {
		t.Errorf("after the retry: %+v", d)
	}
	if g, ok := f.sim.Payment(cid, "l1"); !ok || g.PaymentID != pid || g.Status != StatusSuccess || g.Amount.Value != 10000 {
		t.Errorf("Payment: %+v %v", g, ok)
	}

	body := []byte(`{"notifyType":"PAYMENT_RESULT"}`)
	h, err := f.sim.NotificationHeaders(cid, "http://127.0.0.1:1/notify/acct?x=1", body)
	if err != nil {
		t.Fatal(err)
	}
	// Lowercase names, as Antom sends them.
	val := func(k string) string {
		for name, v := range h {
			if name == k && len(v) == 1 {
				return v[0]
			}
		}
		return ""
	}
	c := content("/notify/acct", cid, val("request-time"), body)
	if err := verifySig(&f.sim.key.PublicKey, val("signature"), c); err != nil || val("client-id") != cid {
		t.Errorf("NotificationHeaders %v: %v", h, err)
	}
	if err := verifySig(&f.sim.key.PublicKey, val("signature"), append(c, ' ')); err == nil {
		t.Error("the signature verifies another body")
	}
}
