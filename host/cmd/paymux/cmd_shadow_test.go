package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestServeShadowPromoteUnderLoad is the upgrade path of docs/operations.md end to end, on
// `paymux serve` with the real alipay plugin: a candidate build (another version string) runs as
// the shadow while three clients create payments and post signed notifications without pause;
// the shadow report shows CreatePayment (alipay is local_create) and ParseNotification compared
// with no difference; then a config change and reload (what SIGHUP runs) promote the candidate,
// keeping the old build as the shadow, and another rolls back. Not one request fails.
func TestServeShadowPromoteUnderLoad(t *testing.T) {
	w := newServeWorld(t)
	// Every paid payment sends a webhook; the world's sink queues only 100 of them.
	drained := make(chan struct{})
	t.Cleanup(func() { close(drained) })
	go func() {
		for {
			select {
			case <-w.events:
			case <-drained:
				return
			}
		}
	}()
	live := filepath.Join(checkPluginBinaries(t), "paymux-provider-alipay")
	liveSHA := pinHexSHA(checkMustRead(t, live))
	candidate := filepath.Join(t.TempDir(), "paymux-provider-alipay-candidate")
	if b, err := exec.Command("go", "build", "-ldflags", "-X main.version=2.0.0-candidate", "-o", candidate,
		"github.com/paymux/paymux/plugins/alipay").CombinedOutput(); err != nil {
		t.Fatalf("building the candidate: %v\n%s", err, b)
	}
	candidateSHA := pinHexSHA(checkMustRead(t, candidate))
	original, err := os.ReadFile(w.cfgPath)
	must(t, err)
	pinLine := fmt.Sprintf("    command: %s\n    sha256: %s\n", live, liveSHA)
	if !bytes.Contains(original, []byte(pinLine)) {
		t.Fatalf("config template changed: no %q", pinLine)
	}
	writePlugin := func(cmd, sha, shadowCmd, shadowSHA string) {
		t.Helper()
		block := fmt.Sprintf("    command: %s\n    sha256: %s\n    shadow:\n      command: %s\n      sha256: %s\n", cmd, sha, shadowCmd, shadowSHA)
		must(t, os.WriteFile(w.cfgPath, bytes.Replace(original, []byte(pinLine), []byte(block), 1), 0o600))
	}
	writePlugin(live, liveSHA, candidate, candidateSHA)
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
	liveVersion := ""
	report := func() pluginhost.ShadowReport {
		t.Helper()
		code, body := serveCall(t, "GET", w.baseURL+"/v1/plugins/alipay/shadow", serveTestKey, nil)
		if code != 200 {
			t.Fatalf("shadow report: %d %s", code, body)
		}
		var r pluginhost.ShadowReport
		must(t, json.Unmarshal(body, &r))
		return r
	}
	liveVersion = report().Live.Version
	if liveVersion == "2.0.0-candidate" || liveVersion == "" {
		t.Fatalf("live version %q", liveVersion)
	}

	notifier, err := bench.NewNotifier()
	must(t, err)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, body := serveCall(t, "POST", w.baseURL+"/v1/payments", serveTestKey, map[string]any{
					"region": "CN", "method": "alipay", "amount": map[string]any{"value": 990, "currency": "USD"},
					"subject": "Oolong", "channel": "app", "reference": fmt.Sprintf("load-%d-%d", c, i)})
				if code != 201 {
					fail(fmt.Errorf("create: %d %s", code, body))
					continue
				}
				var p struct {
					OutTradeNo string `json:"out_trade_no"`
				}
				if err := json.Unmarshal(body, &p); err != nil {
					fail(err)
					continue
				}
				form, err := notifier.Form(bench.TradeNotice{OutTradeNo: p.OutTradeNo, TradeNo: bench.TradeNo(c*100000 + i),
					Status: mapisim.StatusTradeFinished, Amount: core.Money{Value: 990, Currency: "USD"}, NotifyID: fmt.Sprintf("n%d-%d", c, i), At: time.Now(),
					SellerID: serveTestPartner})
				if err != nil {
					fail(err)
					continue
				}
				resp, err := client.Post(w.baseURL+"/notify/global", "application/x-www-form-urlencoded", bytes.NewReader(form))
				if err != nil {
					fail(err)
					continue
				}
				ack, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.TrimSpace(string(ack)) != "success" {
					fail(fmt.Errorf("notify: %d %s", resp.StatusCode, ack))
					continue
				}
				ok.Add(1)
			}
		})
	}
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // also when the test fails below
	// await waits for cond; the bound is spent only when it never comes (a loaded machine is slow).
	await := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	reload := func(name string) {
		t.Helper()
		before := ok.Load()
		time.Sleep(500 * time.Millisecond)
		s.reload(ctx)
		if strings.Contains(logBuf.String(), "config reload refused") {
			t.Fatalf("%s refused:\n%s", name, logBuf.String())
		}
		await(name+": a request succeeding around the reload", func() bool { return ok.Load() > before })
	}
	// Let the shadow see traffic (both compared calls), then promote: the candidate goes live,
	// the old build shadows it.
	var r pluginhost.ShadowReport
	await("the shadow to compare creates and notifications", func() bool {
		r = report()
		seen := 0
		for _, c := range r.Calls {
			if (c.Method == pluginhost.MethodCreatePayment || c.Method == pluginhost.MethodParseNotification) && c.Same+c.Different > 0 {
				seen++
			}
		}
		return seen == 2
	})
	for _, c := range r.Calls {
		if c.Different != 0 {
			t.Errorf("%s: %+v differs between two builds of the same code", c.Method, c)
		}
		if (c.Method == pluginhost.MethodCreatePayment || c.Method == pluginhost.MethodParseNotification) && c.Same == 0 {
			t.Errorf("%s: %+v; want compared calls", c.Method, c)
		}
	}
	writePlugin(candidate, candidateSHA, live, liveSHA)
	reload("promotion")
	if r := report(); r.Live.Version != "2.0.0-candidate" || r.Shadow.Version != liveVersion {
		t.Errorf("after promotion: live %+v, shadow %+v", r.Live, r.Shadow)
	}
	writePlugin(live, liveSHA, candidate, candidateSHA)
	reload("rollback")
	halt()
	if r := report(); r.Live.Version != liveVersion || r.Shadow.Version != "2.0.0-candidate" {
		t.Errorf("after rollback: live %+v, shadow %+v", r.Live, r.Shadow)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d of %d create+notify pairs failed across promotion and rollback; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	t.Logf("%d create+notify pairs, none failed", ok.Load())
	code, body := serveCall(t, "GET", w.baseURL+"/metrics", "", nil)
	if code != 200 || !strings.Contains(string(body), `paymux_plugin_shadow_calls_total{method="CreatePayment",outcome="same",plugin="alipay"}`) {
		t.Errorf("metrics: %d, no shadow counter\n%.3000s", code, body)
	}
}
