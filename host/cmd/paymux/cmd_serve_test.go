package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/webhook"
	"github.com/paymux/paymux/providers/mapisim"
)

const (
	serveTestKey     = "pmx-serve-test-key-DO-NOT-USE"
	serveTestSecret  = "whsec-serve-test-DO-NOT-USE"
	serveTestPartner = "2088101122136241"
)

// serveWorld is mapisim, a webhook sink and a config file for `paymux serve` with the real
// alipay plugin binary.
type serveWorld struct {
	sim      *mapisim.Sim
	cfgPath  string
	baseURL  string
	events   chan webhook.Event
	template string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newServeWorld(t *testing.T) *serveWorld {
	bin := checkPluginBinaries(t)
	w := &serveWorld{events: make(chan webhook.Event, 100)}
	w.sim = mapisim.New(mapisim.Config{Seed: 3, TimeScale: 1000})
	t.Cleanup(w.sim.Close)
	gw := httptest.NewServer(w.sim.Handler())
	t.Cleanup(gw.Close)
	if err := w.sim.AddPartner(mapisim.Partner{ID: serveTestPartner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM, Currencies: []string{"USD"}}); err != nil {
		t.Fatal(err)
	}
	sink := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(serveTestSecret, r.Header.Get(webhook.Header), body, 0); err != nil {
			t.Errorf("webhook signature: %v", err)
			rw.WriteHeader(400)
			return
		}
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		w.events <- e
		rw.WriteHeader(204)
	}))
	t.Cleanup(sink.Close)
	dir := t.TempDir()
	priv := filepath.Join(dir, "test-merchant-private-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-alipay-public.pem")
	must(t, os.WriteFile(priv, mapisim.TestMerchantPrivateKeyPEM, 0o600))
	must(t, os.WriteFile(pub, w.sim.AlipayPublicKeyPEM(), 0o600))
	plugin := filepath.Join(bin, "paymux-provider-alipay")
	addr := freeAddr(t)
	w.baseURL = "http://" + addr
	w.template = fmt.Sprintf(`server:
  listen: %s
  public_url: %s
  api_keys: [%q%%s]
store:
  driver: sqlite
  dsn: %s
plugins:
  alipay:
    command: %s
    sha256: %s
accounts:
  global:
    plugin: alipay
    settings:
      partner: %q
      gateway_url: %s/gateway.do
      sign_type: RSA2
      private_key_file: %s
      alipay_public_key_file: %s
      currency: USD
      timeout: 3s
      # Tests post notifications of their own (bench.Notifier), which the gateway never sent:
      # they name this merchant and are taken on their signature.
      notify_verify: "false"
regions:
  CN:
    methods:
      - method: %%s
        account: global
webhooks:
  url: %s
  secret: %q
log:
  level: warn
`, addr, w.baseURL, serveTestKey, filepath.Join(dir, "paymux.db"), plugin, pinHexSHA(checkMustRead(t, plugin)),
		serveTestPartner, gw.URL, priv, pub, sink.URL, serveTestSecret)
	w.cfgPath = filepath.Join(dir, "paymux.yaml")
	w.writeConfig(t, "", "alipay")
	return w
}

// writeConfig writes the config with extra API keys (", \"k\"" form) and the CN method.
func (w *serveWorld) writeConfig(t *testing.T, extraKeys, method string) {
	must(t, os.WriteFile(w.cfgPath, []byte(fmt.Sprintf(w.template, extraKeys, method)), 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func serveCall(t *testing.T, method, url, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// TestServeEndToEndWithPlugin runs `paymux serve` (in process, real plugin binary, SQLite) and
// drives the thin path: create over REST, pay in the simulator, notification through the
// plugin, payment succeeded, signed webhook received. Then a graceful shutdown.
func TestServeEndToEndWithPlugin(t *testing.T) {
	w := newServeWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr error
	go func() { defer close(done); serveErr = runServe(ctx, []string{"-config", w.cfgPath}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(w.baseURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("serve exited: %v", serveErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The world's merchant key is a simulator test key: /readyz says a demo secret is in use.
	if code, body := serveCall(t, "GET", w.baseURL+"/readyz", "", nil); code != 200 || !strings.Contains(string(body), "demo secrets") {
		t.Fatalf("readyz with a demo key: %d %s", code, body)
	}
	// A header block over server.max_header_bytes (default 16 KiB) is answered 431.
	big, _ := http.NewRequest("GET", w.baseURL+"/healthz", nil)
	big.Header.Set("X-Big", strings.Repeat("h", 20<<10))
	if resp, err := http.DefaultClient.Do(big); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("20 KiB of headers: %v %v, want 431", resp, err)
	} else {
		resp.Body.Close()
	}
	small, _ := http.NewRequest("GET", w.baseURL+"/healthz", nil)
	small.Header.Set("X-Big", strings.Repeat("h", 10<<10))
	if resp, err := http.DefaultClient.Do(small); err != nil || resp.StatusCode != 200 {
		t.Fatalf("10 KiB of headers: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	code, body := serveCall(t, "POST", w.baseURL+"/v1/payments", serveTestKey, map[string]any{
		"region": "CN", "method": "alipay", "amount": map[string]any{"value": 990, "currency": "USD"},
		"subject": "Oolong", "channel": "app", "reference": "serve-1"})
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var p struct {
		ID         string
		NextAction struct{ Value string } `json:"next_action"`
	}
	must(t, json.Unmarshal(body, &p))
	if res, err := w.sim.PayOrderString(ctx, p.NextAction.Value); err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v %v", res, err)
	}
	waitEvent(t, w.events, "payment.succeeded", p.ID)
	code, body = serveCall(t, "GET", w.baseURL+"/v1/payments/"+p.ID, serveTestKey, nil)
	if code != 200 || !strings.Contains(string(body), `"status":"succeeded"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	code, body = serveCall(t, "GET", w.baseURL+"/metrics", "", nil)
	if code != 200 || !strings.Contains(string(body), "paymux_") || strings.Contains(string(body), p.ID) {
		t.Fatalf("metrics: %d (ids must not be labels)\n%.2000s", code, body)
	}
	cancel()
	select {
	case <-done:
		if serveErr != nil {
			t.Fatalf("serve returned %v", serveErr)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if _, err := http.Get(w.baseURL + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func waitEvent(t *testing.T, ch chan webhook.Event, typ, id string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Type == typ && strings.Contains(string(e.Data), id) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s webhook for %s", typ, id)
		}
	}
}

// TestServeReload checks SIGHUP's reload: a good new config takes effect (a new API key), a bad
// one (a method the plugin does not declare) is refused and the old config keeps serving.
func TestServeReload(t *testing.T) {
	w := newServeWorld(t)
	cfg, err := config.Load(w.cfgPath)
	must(t, err)
	var logBuf syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &logBuf})
	ctx := context.Background()
	s, err := startServer(ctx, cfg, w.cfgPath, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	// The world's merchant key is a simulator test key: serve warns at start, naming the setting.
	if out := logBuf.String(); !strings.Contains(out, "[WARN]  demo secrets from config.example.yaml") || !strings.Contains(out, ".settings.private_key_file") {
		t.Fatalf("no demo-secret warning at start:\n%s", out)
	}
	const newKey = "pmx-serve-second-key-DO-NOT-USE"
	if code, _ := serveCall(t, "GET", w.baseURL+"/v1/methods?region=CN", newKey, nil); code != 401 {
		t.Fatalf("new key before reload: %d", code)
	}
	w.writeConfig(t, fmt.Sprintf(", %q", newKey), "alipay")
	s.reload(ctx)
	code, body := serveCall(t, "GET", w.baseURL+"/v1/methods?region=CN", newKey, nil)
	if code != 200 || !strings.Contains(string(body), `"method":"alipay"`) {
		t.Fatalf("new key after reload: %d %s\n%s", code, body, logBuf.String())
	}
	w.writeConfig(t, "", "wechat")
	s.reload(ctx)
	if !strings.Contains(logBuf.String(), "config reload refused") {
		t.Fatalf("bad reload not refused:\n%s", logBuf.String())
	}
	if code, _ := serveCall(t, "GET", w.baseURL+"/v1/methods?region=CN", newKey, nil); code != 200 {
		t.Fatalf("old config stopped serving after a refused reload: %d", code)
	}
	if strings.Contains(logBuf.String(), serveTestKey) || strings.Contains(logBuf.String(), serveTestSecret) {
		t.Fatal("a secret reached the logs")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeTLS serves the API over TLS with a throw-away certificate.
func TestServeTLS(t *testing.T) {
	w := newServeWorld(t)
	cfg, err := config.Load(w.cfgPath)
	must(t, err)
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedCert(t)
	cfg.Server.TLS = &config.TLS{CertFile: filepath.Join(dir, "test-cert.pem"), KeyFile: filepath.Join(dir, "test-key-DO-NOT-USE.pem")}
	must(t, os.WriteFile(cfg.Server.TLS.CertFile, certPEM, 0o600))
	must(t, os.WriteFile(cfg.Server.TLS.KeyFile, keyPEM, 0o600))
	s, err := startServer(context.Background(), cfg, w.cfgPath, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(strings.Replace(w.baseURL, "http://", "https://", 1) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get(w.baseURL + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS listener")
		}
	}
}

func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "paymux test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TestServeTLSReload: a reload reads the certificate files again even when the config text is
// unchanged, a broken pair is refused and the old certificate keeps serving, and new file
// paths in server.tls are applied without a restart.
func TestServeTLSReload(t *testing.T) {
	w := newServeWorld(t)
	dir := t.TempDir()
	writePair := func(name string, cert, key []byte) (certFile, keyFile string) {
		certFile, keyFile = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key-DO-NOT-USE.pem")
		must(t, os.WriteFile(certFile, cert, 0o600))
		must(t, os.WriteFile(keyFile, key, 0o600))
		return certFile, keyFile
	}
	writeTLSConfig := func(certFile, keyFile string) {
		text := fmt.Sprintf(w.template, "", "alipay")
		text = strings.Replace(text, "server:\n", fmt.Sprintf("server:\n  tls: {cert_file: %q, key_file: %q}\n", certFile, keyFile), 1)
		must(t, os.WriteFile(w.cfgPath, []byte(text), 0o600))
	}
	certA, keyA := selfSignedCert(t)
	certB, keyB := selfSignedCert(t)
	certC, keyC := selfSignedCert(t)
	derOf := func(certPEM []byte) []byte { b, _ := pem.Decode(certPEM); return b.Bytes }

	certFile, keyFile := writePair("live", certA, keyA)
	writeTLSConfig(certFile, keyFile)
	cfg, err := config.Load(w.cfgPath)
	must(t, err)
	var logBuf syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &logBuf})
	ctx := context.Background()
	s, err := startServer(ctx, cfg, w.cfgPath, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	addr := strings.TrimPrefix(w.baseURL, "http://")
	served := func() []byte {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	expect := func(step string, want []byte) {
		t.Helper()
		if !bytes.Equal(served(), want) {
			t.Fatalf("%s: the listener serves another certificate\n%s", step, logBuf.String())
		}
	}
	expect("start", derOf(certA))

	// Renewed in place: same config text, new files.
	writePair("live", certB, keyB)
	s.reload(ctx)
	expect("renewed in place", derOf(certB))
	if !strings.Contains(logBuf.String(), "TLS certificate reloaded") {
		t.Errorf("no reload log line:\n%s", logBuf.String())
	}

	// A certificate with a key that does not match is refused; B keeps serving.
	writePair("live", certC, keyA)
	s.reload(ctx)
	expect("broken pair", derOf(certB))
	if !strings.Contains(logBuf.String(), "TLS certificate reload refused") {
		t.Errorf("broken pair not refused in the log:\n%s", logBuf.String())
	}
	writePair("live", certB, keyB) // repaired, so that the config below is judged alone

	// New paths in server.tls are applied live.
	certFile2, keyFile2 := writePair("next", certC, keyC)
	writeTLSConfig(certFile2, keyFile2)
	s.reload(ctx)
	expect("new paths", derOf(certC))
	if got := s.holder.Current().Server.TLS.CertFile; got != certFile2 {
		t.Errorf("config in use has cert_file %s, want %s", got, certFile2)
	}

	// New paths that hold no pair: the whole config is refused, C keeps serving.
	writeTLSConfig(filepath.Join(dir, "missing-cert.pem"), filepath.Join(dir, "missing-key.pem"))
	s.reload(ctx)
	expect("missing files", derOf(certC))
	if got := s.holder.Current().Server.TLS.CertFile; got != certFile2 {
		t.Errorf("a config with missing TLS files was taken: cert_file %s", got)
	}
	if strings.Contains(logBuf.String(), "PRIVATE KEY") {
		t.Fatal("key material reached the logs")
	}
}

// TestServeReloadLogLevel: log.level is applied by a reload; log.format is refused until a restart.
func TestServeReloadLogLevel(t *testing.T) {
	w := newServeWorld(t)
	cfg, err := config.Load(w.cfgPath)
	must(t, err)
	var logBuf syncBuffer
	log := newServeLogger(cfg.Log)
	log = hclog.New(&hclog.LoggerOptions{Level: log.GetLevel(), Output: &logBuf})
	ctx := context.Background()
	s, err := startServer(ctx, cfg, w.cfgPath, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	if s.log.IsInfo() {
		t.Fatalf("level at start is %s, want warn", s.log.GetLevel())
	}
	text := fmt.Sprintf(w.template, "", "alipay")
	must(t, os.WriteFile(w.cfgPath, []byte(strings.Replace(text, "level: warn", "level: debug", 1)), 0o600))
	s.reload(ctx)
	if !s.log.IsDebug() {
		t.Fatalf("level after reloading log.level: debug is %s\n%s", s.log.GetLevel(), logBuf.String())
	}
	must(t, os.WriteFile(w.cfgPath, []byte(strings.Replace(text, "level: warn", "level: debug\n  format: json", 1)), 0o600))
	s.reload(ctx)
	if !strings.Contains(logBuf.String(), "needs a restart") {
		t.Errorf("a log.format change was not refused as needing a restart:\n%s", logBuf.String())
	}
}
