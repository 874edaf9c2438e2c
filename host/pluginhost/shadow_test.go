package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/wallet"
	"github.com/paymux/paymux/plugins/sdk"
)

// variantDir holds the example plugin's variant builds (TestMain's directory).
var (
	variantDir string
	variantMu  sync.Mutex
	variants   = map[string][2]string{}
)

// exampleVariant builds the example plugin with -X main.version=version and, when rounding is
// set, -X main.amountRounding=rounding (a build that differs on purpose). Builds are cached.
func exampleVariant(t testing.TB, version, rounding string) (path, sha string) {
	t.Helper()
	variantMu.Lock()
	defer variantMu.Unlock()
	key := version + "/" + rounding
	if v, ok := variants[key]; ok {
		return v[0], v[1]
	}
	path = filepath.Join(variantDir, "example-"+strconv.Itoa(len(variants)))
	ldflags := "-X main.version=" + version
	if rounding != "" {
		ldflags += " -X main.amountRounding=" + rounding
	}
	if b, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", path, "github.com/paymux/paymux/plugins/example").CombinedOutput(); err != nil {
		t.Fatalf("building example variant %s: %v\n%s", key, err, b)
	}
	sha, err := sdk.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	variants[key] = [2]string{path, sha}
	return path, sha
}

func shadowSpec(path, sha string, env map[string]string) *ShadowSpec {
	return &ShadowSpec{Command: path, SHA256: sha, Env: env}
}

// notification is a signed example-wallet notification of a payment of value (USD).
func notification(no string, value int64, status string) *core.NotificationRequest {
	f := map[string]string{"out_trade_no": no, "amount": strconv.FormatInt(value, 10), "currency": "USD", "status": status,
		"paid_at": "1764720000"}
	f["sign"] = wallet.Sign([]byte(settings["hmac_key"]), f)
	q := url.Values{}
	for k, v := range f {
		q.Set(k, v)
	}
	return &core.NotificationRequest{Account: "acct1", Method: wallet.MethodID,
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(q.Encode())}
}

func clientResult(no string, value int64, forge bool) *core.ClientResultRequest {
	amount := core.Money{Value: value, Currency: "HKD"}
	f := map[string]string{"out_trade_no": no, "total_fee": amount.Decimal(), "status": "paid"}
	f["sign"] = wallet.Sign([]byte(settings["hmac_key"]), f)
	if forge {
		f["sign"] = strings.Repeat("0", 64)
	}
	return &core.ClientResultRequest{Account: "acct1", OutTradeNo: no, Method: wallet.MethodID, Amount: amount, Result: f}
}

// calls returns the report's counts of method.
func calls(t *testing.T, m *Manager, method string) ShadowCalls {
	t.Helper()
	r, err := m.ShadowReport("example")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Calls {
		if c.Method == method {
			return c
		}
	}
	t.Fatalf("no %s in the report", method)
	return ShadowCalls{}
}

// settle waits until no shadow call is in flight (the tests send nothing meanwhile).
func settle(t *testing.T, m *Manager) {
	t.Helper()
	sh := m.shadowOf("example")
	if sh == nil {
		t.Fatal("no shadow")
	}
	done := make(chan struct{})
	go func() { sh.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("shadow calls still in flight after 20s")
	}
}

// TestShadowCatchesDifferentBuild: a candidate that rounds notification amounts down to whole
// units is caught on the first notification whose amount has cents; one with a whole amount
// (the control) compares the same, and so does Describe (the version string is ignored).
func TestShadowCatchesDifferentBuild(t *testing.T) {
	rounding, roundingSHA := exampleVariant(t, "2.0.0-rounding", "whole")
	m := newManager(t, Options{})
	sp := spec(nil)
	sp.Shadow = shadowSpec(rounding, roundingSHA, nil)
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{sp}); err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	settle(t, m)
	p, _ := m.Provider("example")
	res, err := p.ParseNotification(ctx, notification("o1", 1200, "paid"))
	if err != nil || !res.Verified || res.Events[0].Amount.Value != 1200 {
		t.Fatalf("live answer: %+v %v", res, err)
	}
	settle(t, m)
	if c := calls(t, m, MethodParseNotification); c.Same != 1 || c.Different != 0 {
		t.Fatalf("whole amount (control): %+v; want the same answer", c)
	}
	res, err = p.ParseNotification(ctx, notification("o2", 1234, "paid"))
	if err != nil || res.Events[0].Amount.Value != 1234 {
		t.Fatalf("the live answer must be the live build's: %+v %v", res, err)
	}
	settle(t, m)
	if c := calls(t, m, MethodParseNotification); c.Different != 1 {
		t.Fatalf("amount with cents: %+v; want one difference", c)
	}
	for _, m2 := range []string{MethodDescribe, MethodConfigure} {
		if c := calls(t, m, m2); c.Same != 1 || c.Different != 0 {
			t.Errorf("%s: %+v; want one same answer (the version string differs and is ignored)", m2, c)
		}
	}
	r, err := m.ShadowReport("example")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Samples) != 1 {
		t.Fatalf("samples: %+v", r.Samples)
	}
	s := r.Samples[0]
	if s.Method != MethodParseNotification || !slices.Equal(s.Fields, []string{"events[0].amount"}) ||
		s.Live["events[0].amount"] != "1234 USD" || s.Shadow["events[0].amount"] != "1200 USD" || !strings.HasPrefix(s.Request, "sha256:") {
		t.Fatalf("sample: %+v", s)
	}
	if r.Shadow.Version != "2.0.0-rounding" || r.Shadow.SHA256 != roundingSHA || r.Live.SHA256 != exampleSHA || !r.Shadow.Running {
		t.Errorf("builds: live %+v shadow %+v", r.Live, r.Shadow)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), settings["hmac_key"]) {
		t.Fatal("the report shows a secret setting")
	}
}

// TestShadowIdenticalBuilds: two builds of the same code with different version strings show no
// difference over 1,000 mixed calls, and the calls with effects never reach the shadow (it would
// crash on any of them: its restart count stays 0).
func TestShadowIdenticalBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 calls")
	}
	candidate, candidateSHA := exampleVariant(t, "2.0.0", "")
	m := newManager(t, Options{})
	sp := spec(nil)
	sp.Shadow = shadowSpec(candidate, candidateSHA, map[string]string{
		"PAYMUX_EXAMPLE_CRASH_ON": "CreatePayment,QueryPayment,Refund,QueryRefund,Close,FetchSettlement"})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{sp}); err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	settle(t, m)
	p, _ := m.Provider("example")
	sent := map[string]int{}
	for i := range 1000 {
		no := fmt.Sprintf("o%d", i/10)
		var err error
		switch i % 10 {
		case 0:
			_, err = p.CreatePayment(ctx, create(no))
		case 1, 2:
			_, err = p.ParseNotification(ctx, notification(no, int64(100+i), "paid"))
			sent[MethodParseNotification]++
		case 3:
			_, err = p.ParseNotification(ctx, notification(no, int64(i), "waiting"))
			sent[MethodParseNotification]++
		case 4: // a forged notification: both builds must reject it alike
			n := notification(no, 5, "paid")
			n.Body = append(n.Body, 'x')
			_, err = p.ParseNotification(ctx, n)
			sent[MethodParseNotification]++
		case 5, 6:
			_, err = p.VerifyClientResult(ctx, clientResult(no, 500, i%10 == 6))
			sent[MethodVerifyClientResult]++
		case 7:
			_, err = p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: no})
		case 8:
			_, err = p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "nobody", OutTradeNo: no, Amount: core.Money{Value: 1, Currency: "HKD"}})
			if core.ErrorCode(err) == core.ECONFIG {
				err = nil // both builds answer ECONFIG: compared as errors
			}
			sent[MethodVerifyClientResult]++
		case 9:
			if i%20 == 9 {
				_, err = p.(core.PaymentCloser).Close(ctx, &core.ClosePaymentRequest{Account: "acct1", OutTradeNo: no})
				if core.ErrorCode(err) == core.ECONFLICT {
					err = nil
				}
			} else {
				_, err = p.Refund(ctx, &core.RefundRequest{Account: "acct1", OutTradeNo: no, OutRefundNo: "r" + no, Amount: core.Money{Value: 1, Currency: "HKD"}})
				if core.ErrorCode(err) == core.EDECLINED {
					err = nil
				}
			}
		}
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	settle(t, m)
	r, err := m.ShadowReport("example")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Calls {
		if c.Different != 0 || c.ShadowFailed != 0 {
			t.Errorf("%s: %+v; want no difference and no shadow failure", c.Method, c)
		}
		if n := sent[c.Method]; n > 0 && (c.Same+c.Dropped != int64(n) || c.Same == 0) {
			t.Errorf("%s: %+v; %d sent", c.Method, c, n)
		}
		if c.Method == MethodCreatePayment && c.Same+c.Different+c.Dropped+c.Skipped+c.ShadowFailed != 0 {
			t.Errorf("CreatePayment of a provider without local_create reached the shadow run: %+v", c)
		}
	}
	if len(r.Samples) != 0 {
		t.Errorf("samples: %+v", r.Samples)
	}
	if n := m.shadowOf("example").sup.restartCount(); n != 0 {
		t.Fatalf("the shadow restarted %d times: a call with effect reached it", n)
	}
	if _, err := m.shadowOf("example").sup.current(); err != nil {
		t.Fatalf("the shadow is down: %v", err)
	}
}

// TestShadowCrashOnEffectfulControl is the control of the check above: the same crash switch
// does crash the shadow when such a call reaches it.
func TestShadowCrashOnEffectfulControl(t *testing.T) {
	candidate, candidateSHA := exampleVariant(t, "2.0.0", "")
	m := newManager(t, Options{BackoffMin: 20 * time.Millisecond})
	sp := spec(nil)
	sp.Shadow = shadowSpec(candidate, candidateSHA, map[string]string{"PAYMUX_EXAMPLE_CRASH_ON": "ParseNotification"})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{sp}); err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	settle(t, m)
	p, _ := m.Provider("example")
	if _, err := p.ParseNotification(ctx, notification("o1", 100, "paid")); err != nil {
		t.Fatal(err)
	}
	settle(t, m)
	if c := calls(t, m, MethodParseNotification); c.ShadowFailed != 1 {
		t.Fatalf("%+v; want the crash counted as shadow_failed", c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.shadowOf("example").sup.restartCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the shadow did not restart after crashing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShadowHangingOrCrashingNeverFailsLive: a shadow that hangs on every call, or crashes on
// every third, fails no live call; its calls are dropped at the in-flight bound or counted as
// failed.
func TestShadowHangingOrCrashingNeverFailsLive(t *testing.T) {
	candidate, candidateSHA := exampleVariant(t, "2.0.0", "")
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"hang", map[string]string{"PAYMUX_EXAMPLE_HANG": "VerifyClientResult,ParseNotification"}},
		{"crash", map[string]string{"PAYMUX_EXAMPLE_CRASH_AFTER": "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
			sp := spec(nil)
			sp.Shadow = shadowSpec(candidate, candidateSHA, tc.env)
			sp.Shadow.Timeout, sp.Shadow.MaxInFlight = 300*time.Millisecond, 2
			ctx := context.Background()
			if err := m.Start(ctx, []Spec{sp}); err != nil {
				t.Fatal(err)
			}
			if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
				t.Fatal(err)
			}
			p, _ := m.Provider("example")
			for i := range 60 {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				res, err := p.ParseNotification(ctx, notification(fmt.Sprint("o", i), 100, "paid"))
				cancel()
				if err != nil || !res.Verified {
					t.Fatalf("live call %d: %+v %v", i, res, err)
				}
			}
			settle(t, m)
			c := calls(t, m, MethodParseNotification)
			if c.Different != 0 || c.Same+c.Dropped+c.Skipped+c.ShadowFailed != 60 || c.ShadowFailed == 0 {
				t.Fatalf("%+v; want every call dropped, skipped or failed at the shadow, some failed", c)
			}
			if tc.name == "hang" && c.Dropped == 0 {
				t.Errorf("%+v: a hanging shadow should fill its in-flight bound", c)
			}
		})
	}
}

// TestPromoteUnderLoad promotes the shadow (the live spec becomes the candidate's, as a config
// change and SIGHUP do) while four callers create payments and send notifications without pause,
// then rolls back the same way: not one call fails, and the live version follows each step.
func TestPromoteUnderLoad(t *testing.T) {
	candidate, candidateSHA := exampleVariant(t, "2.0.0", "")
	m := newManager(t, Options{})
	ctx := context.Background()
	old := spec(nil)
	withShadow := old
	withShadow.Shadow = shadowSpec(candidate, candidateSHA, nil)
	promoted := Spec{Name: "example", Command: candidate, SHA256: candidateSHA}
	accounts := map[string]Accounts{"example": {"acct1": settings}}
	if err := m.Start(ctx, []Spec{withShadow}); err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")
	version := func() string {
		d, err := p.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Version
	}
	liveVersion := version()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				no := fmt.Sprintf("w%d-%d", w, i)
				_, err := p.CreatePayment(ctx, create(no))
				if err == nil {
					var res *core.NotificationResult
					res, err = p.ParseNotification(ctx, notification(no, 500, "paid"))
					if err == nil && !res.Verified {
						err = fmt.Errorf("notification not verified: %s", res.RejectReason)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // also when a wait below fails the test
	step := func(name string, sp Spec, want string) {
		t.Helper()
		time.Sleep(300 * time.Millisecond)
		before := ok.Load()
		if err := m.Reload(ctx, []Spec{sp}, accounts); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if v := version(); v != want {
			t.Errorf("%s: live version %q, want %q", name, v, want)
		}
		waitFor(t, name+": a call succeeding around the reload", func() bool { return ok.Load() > before })
	}
	step("promote", promoted, "2.0.0")
	rollback := Spec{Name: "example", Command: examplePath, SHA256: exampleSHA, Shadow: shadowSpec(candidate, candidateSHA, nil)}
	step("rollback", rollback, liveVersion)
	time.Sleep(100 * time.Millisecond)
	failures, succeeded, first := failed.Load(), ok.Load(), firstErr.Load()
	if m.shadowOf("example") == nil {
		t.Error("the rollback's shadow is not running")
	}
	// Control: the same load does count failures when the plugin goes away under it.
	if err := m.Reload(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A wait without end here means the load cannot see failures (waitFor fails the test).
	waitFor(t, "control: a call failing once the plugin is removed", func() bool { return failed.Load() > failures })
	halt()
	if failures != 0 {
		t.Fatalf("%d of %d calls failed across promotion and rollback; first: %v", failures, failures+succeeded, first)
	}
	t.Logf("%d create+notify pairs, none failed", succeeded)
}
