package sdk

import (
	"bufio"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/wallet"
)

const testKey = "test-hmac-key-DO-NOT-USE"

func configure(t *testing.T, p core.Provider, account string) {
	t.Helper()
	err := p.Configure(context.Background(), &core.ConfigureRequest{Account: account, Settings: map[string]string{
		"cashier_url": "https://cashier.example.test/pay", "hmac_key": testKey,
	}})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

func createReq(no string) *core.CreatePaymentRequest {
	return &core.CreatePaymentRequest{
		Account: "acct1", PaymentID: "pay_" + no, OutTradeNo: no, Method: wallet.MethodID, Channel: core.ChannelH5,
		Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "tea", NotifyURL: "https://host.test/notify/acct1",
		ExpiresAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.FixedZone("HKT", 8*3600)),
	}
}

func signedNotification(no, status string) *core.NotificationRequest {
	f := map[string]string{"out_trade_no": no, "amount": "1234", "currency": "USD", "status": status}
	f["sign"] = wallet.Sign([]byte(testKey), f)
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	return &core.NotificationRequest{Account: "acct1", Method: wallet.MethodID,
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(v.Encode())}
}

// TestLaunchFullFlow runs every method of the contract across a real process boundary.
func TestLaunchFullFlow(t *testing.T) {
	p := launch(t, nil)
	// The socket lives in a private directory inside RuntimeDir (go-plugin notes §3.11).
	socks, _ := filepath.Glob(filepath.Join(p.runtimeDir, "plugin-dir*", "plugin*"))
	if len(socks) != 1 {
		t.Fatalf("sockets under the runtime dir: %v", socks)
	}
	if fi, err := os.Stat(filepath.Dir(socks[0])); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir mode: %v, %v", fi.Mode(), err)
	}
	if p.NegotiatedVersion() != ProtocolVersion {
		t.Fatalf("negotiated %d", p.NegotiatedVersion())
	}
	prov := p.Provider()
	ctx := context.Background()

	d, err := prov.Describe(ctx)
	if err != nil || d.Name != wallet.Name || !d.Has(core.CapClose) || len(d.Methods) != 1 || d.DefaultExpiry != 30*time.Minute {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	// An unconfigured account is ECONFIG from the provider, carried exactly.
	_, err = prov.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "nobody", OutTradeNo: "x"})
	if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), "nobody") {
		t.Fatalf("unconfigured account: %v", err)
	}
	configure(t, prov, "acct1")

	res, err := prov.CreatePayment(ctx, createReq("o1"))
	if err != nil || res.Action.Type != core.ActionRedirectURL || !strings.HasPrefix(res.Action.Value, "https://cashier.example.test/pay?") {
		t.Fatalf("CreatePayment = %+v, %v", res, err)
	}
	n, err := prov.ParseNotification(ctx, signedNotification("o1", "paid"))
	if err != nil || !n.Verified || len(n.Events) != 1 || n.Events[0].PaymentStatus != core.PaymentSucceeded ||
		string(n.Ack.Body) != "success" || n.Events[0].Amount != (core.Money{Value: 1234, Currency: "USD"}) || n.DedupeKey == "" {
		t.Fatalf("ParseNotification = %+v, %v", n, err)
	}
	bad := signedNotification("o1", "paid")
	bad.Body = append(bad.Body, "x"...)
	if n, err := prov.ParseNotification(ctx, bad); err != nil || n.Verified {
		t.Fatalf("tampered notification verified: %+v, %v", n, err)
	}
	st, err := prov.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"})
	if err != nil || st.Status != core.PaymentSucceeded || st.PaidAt.IsZero() {
		t.Fatalf("QueryPayment = %+v, %v", st, err)
	}
	r, err := prov.Refund(ctx, &core.RefundRequest{Account: "acct1", OutTradeNo: "o1", OutRefundNo: "r1", Amount: core.Money{Value: 1000, Currency: "USD"}})
	if err != nil || r.Status != core.RefundSucceeded {
		t.Fatalf("Refund = %+v, %v", r, err)
	}
	// A declined refund keeps code, message and the gateway's code across the boundary.
	_, err = prov.Refund(ctx, &core.RefundRequest{Account: "acct1", OutTradeNo: "o1", OutRefundNo: "r2", Amount: core.Money{Value: 1000, Currency: "USD"}})
	if core.ErrorCode(err) != core.EDECLINED || core.ProviderCode(err) != "REFUND_AMOUNT_EXCEED" || core.ErrorMessage(err) != "refund exceeds the paid amount" {
		t.Fatalf("over-refund: %v", err)
	}
	if r, err := prov.QueryRefund(ctx, &core.QueryRefundRequest{Account: "acct1", OutTradeNo: "o1", OutRefundNo: "r1"}); err != nil || r.Amount.Value != 1000 {
		t.Fatalf("QueryRefund = %+v, %v", r, err)
	}
	if _, err := prov.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "nope"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("missing payment: %v", err)
	}
	if _, err := prov.CreatePayment(ctx, createReq("o2")); err != nil {
		t.Fatal(err)
	}
	cl, err := prov.(core.PaymentCloser).Close(ctx, &core.ClosePaymentRequest{Account: "acct1", OutTradeNo: "o2"})
	if err != nil || cl.Status != core.PaymentClosed {
		t.Fatalf("Close = %+v, %v", cl, err)
	}
	var recs []*core.SettlementRecord
	err = prov.(core.SettlementFetcher).FetchSettlement(ctx, &core.SettlementRequest{Account: "acct1"}, func(r *core.SettlementRecord) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil || len(recs) != 2 {
		t.Fatalf("FetchSettlement = %d records, %v", len(recs), err)
	}
	// An error from yield stops the fetch and comes back unchanged.
	stop := errors.New("stop here")
	if err := prov.(core.SettlementFetcher).FetchSettlement(ctx, &core.SettlementRequest{Account: "acct1"}, func(*core.SettlementRecord) error { return stop }); err != stop {
		t.Fatalf("yield error: %v", err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if p.Exited() {
		t.Fatal("Exited before Kill")
	}
	p.Kill()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Kill")
	}
	if !p.Exited() {
		t.Fatal("not Exited after Kill")
	}
	if _, err := prov.Describe(ctx); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("call after Kill: %v", err)
	}
}

func TestLaunchChecksumMismatch(t *testing.T) {
	wrong := strings.Repeat("ab", 32)
	_, err := Launch(context.Background(), LaunchConfig{Path: examplePath, SHA256: wrong, RuntimeDir: runtimeDirFor(t)})
	if !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), exampleSHA) {
		t.Fatalf("err = %v; want both hashes", err)
	}
	for _, pin := range []string{"", "xyz", strings.Repeat("a", 63)} {
		if _, err := Launch(context.Background(), LaunchConfig{Path: examplePath, SHA256: pin}); err == nil {
			t.Errorf("pin %q accepted", pin)
		}
	}
}

// TestLaunchRunsTheBytesItHashed: the binary is replaced right after its bytes passed the pin
// check and before the process starts (the check-then-exec window). What starts is still the
// pinned plugin, never the replacement; and no private copy is left behind.
func TestLaunchRunsTheBytesItHashed(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "paymux-provider-example")
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "swapped-binary-ran")
	swapped := 0
	testHookVerified = func(path string) {
		if path != bin {
			return
		}
		swapped++
		// A new file under the old name, as an attacker (or a careless deploy) would do.
		tmp := bin + ".new"
		script := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookVerified = nil }()
	rt := runtimeDirFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Name: "example", Path: bin, SHA256: exampleSHA, RuntimeDir: rt, Logger: testLogger(t)})
	if swapped != 1 {
		t.Fatalf("the hook ran %d times", swapped)
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Fatal("the binary swapped in after the pin check was executed")
	}
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	defer p.Kill()
	if d, err := p.Provider().Describe(ctx); err != nil || d.Name != wallet.Name {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	// The process is named after the plugin (ps, /proc), and its private copy is gone.
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.Pid()), "exe"))
	if err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != "paymux-provider-example" {
		t.Errorf("the plugin runs as %q", exe)
	}
	if copies, _ := filepath.Glob(filepath.Join(rt, "exe-*")); len(copies) != 0 {
		t.Errorf("private copies left behind: %v", copies)
	}
	// And the swapped file is refused at the next launch.
	if _, err := Launch(ctx, LaunchConfig{Name: "example", Path: bin, SHA256: exampleSHA, RuntimeDir: rt}); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("second launch of the swapped binary: %v", err)
	}
}

func TestLaunchRejectsOpenRuntimeDir(t *testing.T) {
	d := runtimeDirFor(t)
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Launch(context.Background(), LaunchConfig{Path: examplePath, SHA256: exampleSHA, RuntimeDir: d})
	if err == nil || !strings.Contains(err.Error(), "private") {
		t.Fatalf("err = %v", err)
	}
}

func TestStdoutPollution(t *testing.T) {
	_, err := Launch(context.Background(), LaunchConfig{Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(t),
		Env: map[string]string{"PAYMUX_EXAMPLE_STDOUT_GARBAGE": "1"}})
	if err == nil || !strings.Contains(err.Error(), "writes to stdout before sdk.Serve") || !strings.Contains(err.Error(), "example plugin starting up") {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedStderrDoesNotPanicHost(t *testing.T) {
	p := launch(t, map[string]string{"PAYMUX_EXAMPLE_STDERR_MALFORMED": "1"})
	for i := 0; i < 5; i++ {
		if _, err := p.Provider().Describe(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Reaching here means go-plugin parsed the lines without panicking this process.
}

func TestHangingPluginHitsDeadline(t *testing.T) {
	p := launch(t, map[string]string{"PAYMUX_EXAMPLE_HANG": "QueryPayment,Refund"})
	for _, tc := range []struct {
		name string
		call func(context.Context) error
		code string
	}{
		{"query is unavailable", func(ctx context.Context) error {
			_, err := p.Provider().QueryPayment(ctx, &core.QueryPaymentRequest{Account: "a", OutTradeNo: "o"})
			return err
		}, core.EUNAVAILABLE},
		{"refund outcome is unknown", func(ctx context.Context) error {
			_, err := p.Provider().Refund(ctx, &core.RefundRequest{Account: "a", OutTradeNo: "o", OutRefundNo: "r"})
			return err
		}, core.EUNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("returned after %v", el)
			}
			if core.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), "deadline") {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// The plugin still serves other calls.
	if _, err := p.Provider().Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(t),
		CallTimeout: 200 * time.Millisecond, Env: map[string]string{"PAYMUX_EXAMPLE_HANG": "QueryRefund"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	start := time.Now()
	_, err = p.Provider().QueryRefund(context.Background(), &core.QueryRefundRequest{Account: "a"})
	if core.ErrorCode(err) != core.EUNAVAILABLE || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestOversizedMessage(t *testing.T) {
	p := launch(t, map[string]string{"PAYMUX_EXAMPLE_HUGE_RESPONSE": strconv.Itoa(MaxMessageSize + 1)})
	configure(t, p.Provider(), "acct1")
	_, err := p.Provider().CreatePayment(context.Background(), createReq("big"))
	if core.ErrorCode(err) != core.EINTERNAL || !strings.Contains(core.ErrorMessage(err), "16 MiB") {
		t.Fatalf("huge response: %v", err)
	}
	// A request over the limit is refused before it is sent.
	req := createReq("big2")
	req.Description = strings.Repeat("y", MaxMessageSize+1)
	_, err = p.Provider().CreatePayment(context.Background(), req)
	if core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), "16 MiB") {
		t.Fatalf("huge request: %v", err)
	}
	if _, err := p.Provider().Describe(context.Background()); err != nil {
		t.Fatalf("plugin unusable after oversized messages: %v", err)
	}
}

func TestCrashIsSeen(t *testing.T) {
	p := launch(t, map[string]string{"PAYMUX_EXAMPLE_CRASH_AFTER": "1"})
	ctx := context.Background()
	if _, err := p.Provider().Describe(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := p.Provider().Refund(ctx, &core.RefundRequest{Account: "a"})
	if core.ErrorCode(err) != core.EUNKNOWN {
		t.Fatalf("refund on crash: %v (a refund cut off mid-call has an unknown outcome)", err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after crash")
	}
	if _, err := p.Provider().Describe(ctx); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("after crash: %v", err)
	}
}

// TestPluginDiesWithHost SIGKILLs a host process (this test binary re-executed as
// helperHost) and checks that its plugin is gone within 2 s.
func TestPluginDiesWithHost(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(self, "-test.run=^$")
	host.Env = append(os.Environ(), "PAYMUX_SDK_TEST_HELPER=host", "PAYMUX_SDK_TEST_PLUGIN="+examplePath,
		"PAYMUX_SDK_TEST_SHA="+exampleSHA, "PAYMUX_SDK_TEST_RUNDIR="+runtimeDirFor(t))
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "plugin-pid ")))
	if err != nil || !alive(pid) {
		t.Fatalf("helper said %q", line)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for alive(pid) {
		if time.Since(killed) > 2*time.Second {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived its SIGKILLed host by more than 2 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("plugin gone %v after the host", time.Since(killed))
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// helperHost is a host process for TestPluginDiesWithHost: it launches the plugin, prints its
// pid and waits to be killed.
func helperHost() {
	p, err := Launch(context.Background(), LaunchConfig{Path: os.Getenv("PAYMUX_SDK_TEST_PLUGIN"),
		SHA256: os.Getenv("PAYMUX_SDK_TEST_SHA"), RuntimeDir: os.Getenv("PAYMUX_SDK_TEST_RUNDIR")})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("plugin-pid " + strconv.Itoa(p.Pid()) + "\n")
	time.Sleep(time.Minute)
	os.Exit(1)
}

// lockedBuffer collects log output written from go-plugin's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStrayOutputAndLogsReachHostLog: the plugin's own log lines arrive under its name, and
// writes to stdout/stderr after the handshake are warnings.
func TestStrayOutputAndLogsReachHostLog(t *testing.T) {
	var buf lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: &buf})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Name: "example", Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(t),
		Logger: log, Env: map[string]string{"PAYMUX_EXAMPLE_STRAY_OUTPUT": "1", "PAYMUX_EXAMPLE_CRASH_AFTER": "100"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if _, err := p.Provider().Describe(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // a wait, not a bound: spent only on failure
	want := []string{
		`[INFO]  host.example: serving paymux provider plugin:`,
		`[WARN]  host.example: plugin wrote to stdout instead of its logger: output="stray stdout from Describe"`,
		`[WARN]  host.example: plugin wrote to stderr instead of its logger: output="stray stderr from Describe"`,
	}
	for {
		out := buf.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host log lacks %q:\n%s", missing, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPanicIsContainedToItsCall: a provider call that panics is answered with an internal
// error, logged with its stack (never the panic's message, which may hold a secret) and
// counted, while the same process goes on serving every other account: calls in flight and
// calls right after the panic succeed within the same second, and the process is the one that
// was launched (not dead, not restarted).
func TestPanicIsContainedToItsCall(t *testing.T) {
	var buf lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: &buf})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Name: "example", Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(t),
		Logger: log, Env: map[string]string{"PAYMUX_EXAMPLE_PANIC_ACCOUNT": "boom"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	prov := p.Provider()
	configure(t, prov, "acct1")
	configure(t, prov, "acct2")
	pid := p.Pid()

	for round := 1; round <= 3; round++ {
		// Other accounts' calls run while the panicking one is made.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acct := []string{"acct1", "acct2"}[i%2]
				req := createReq("r" + strconv.Itoa(round) + "x" + strconv.Itoa(i))
				req.Account = acct
				_, err := prov.CreatePayment(ctx, req)
				errs <- err
			}()
		}
		_, err := prov.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "boom", OutTradeNo: "o1"})
		panicked := time.Now()
		if core.ErrorCode(err) != core.EINTERNAL || !strings.Contains(core.ErrorMessage(err), "panicked in QueryPayment") || IsBoundaryError(err) {
			t.Fatalf("round %d: panicking call = %v; want the provider's internal error, not a boundary failure", round, err)
		}
		if strings.Contains(err.Error(), "DO-NOT-LOG") {
			t.Fatalf("the panic's message crossed the boundary: %v", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: another account's call failed alongside the panic: %v", round, err)
			}
		}
		// And right after it.
		for _, acct := range []string{"acct1", "acct2"} {
			if _, err := prov.QueryPayment(ctx, &core.QueryPaymentRequest{Account: acct, OutTradeNo: "r" + strconv.Itoa(round) + "x0"}); err != nil && core.ErrorCode(err) != core.ENOTFOUND {
				t.Fatalf("round %d: %s after the panic: %v", round, acct, err)
			}
		}
		if d := time.Since(panicked); d > time.Second {
			t.Fatalf("round %d: other accounts were served %v after the panic, want within the second", round, d)
		}
		if p.Exited() || p.Pid() != pid {
			t.Fatalf("round %d: plugin exited=%v pid %d (launched as %d)", round, p.Exited(), p.Pid(), pid)
		}
	}
	// The panic is in the host's log (forwarded from the plugin) with its stack and the count,
	// never with the panic's message.
	deadline := time.Now().Add(30 * time.Second) // a wait, not a bound: spent only on failure
	for {
		out := buf.String()
		if strings.Contains(out, "provider call panicked") && strings.Contains(out, "panics_total=3") &&
			strings.Contains(out, "recoverCall") && strings.Contains(out, "method=QueryPayment") {
			if strings.Contains(out, "DO-NOT-LOG") {
				t.Fatalf("the panic's message reached the host log:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host log lacks the panic with its stack and count:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMutualTLSReported: MutualTLS is true exactly when the handshake exchanged certificates.
func TestMutualTLSReported(t *testing.T) {
	for _, auto := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		p, err := Launch(ctx, LaunchConfig{Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(t), AutoMTLS: auto})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if _, err := p.Provider().Describe(ctx); err != nil {
			t.Error(err)
		}
		if p.MutualTLS() != auto {
			t.Errorf("AutoMTLS %v: MutualTLS() = %v", auto, p.MutualTLS())
		}
		p.Kill()
		cancel()
	}
}
