package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paymux/paymux/host/config"
)

// qsTestRoot is the repository root (the quickstart runs there, as `make run` does).
func qsTestRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config.example.yaml")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

// qsTestBinaries returns a directory with paymux and both plugins: $PAYMUX_BIN when set (make
// test builds it), else freshly built.
func qsTestBinaries(t *testing.T, root string) string {
	t.Helper()
	if dir := os.Getenv("PAYMUX_BIN"); dir != "" {
		return dir
	}
	dir := t.TempDir()
	for out, pkg := range map[string]string{
		"paymux": "./host/cmd/paymux", "paymux-provider-alipay": "./plugins/alipay", "paymux-provider-alipayhk": "./plugins/alipayhk",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return dir
}

func qsFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestQsRewrite(t *testing.T) {
	root := qsTestRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(src)
	out, regions, err := qsRewrite(src, qsRewriteParams{
		exampleDir: root, binDir: "/opt/paymux/bin",
		apiAddr: "127.0.0.1:18080", simAddr: "127.0.0.1:18090", demoAddr: "127.0.0.1:18081", header: "generated",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, before) {
		t.Fatal("qsRewrite modified its input")
	}
	if want := []string{"SG", "HK", "PH", "KR", "TH"}; !slices.Equal(regions, want) {
		t.Errorf("regions %v, want %v (file order)", regions, want)
	}
	text := string(out)
	for _, want := range []string{
		"# generated\n",
		"listen: 127.0.0.1:18080\n",
		"public_url: http://127.0.0.1:18080\n",
		"gateway_url: http://127.0.0.1:18090/gateway.do\n",
		"url: http://127.0.0.1:18081/webhooks/paymux\n",
		"command: /opt/paymux/bin/paymux-provider-alipay\n",
		"command: /opt/paymux/bin/paymux-provider-alipayhk\n",
		"private_key_file: " + filepath.Join(root, "providers/mapisim/testkeys/test-merchant-private-DO-NOT-USE.pem") + "\n",
		"dsn: ./paymux.db\n",
		"<<: *demo-mapi\n",
		"# AlipayHK's guideline puts the AlipayHK wallet first, then the Alipay wallet.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rewritten config lacks %q", want)
		}
	}
	var values strings.Builder // the file without comments
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, "#"); i >= 0 && !strings.Contains(l[:i], "\"") {
			l = l[:i]
		}
		values.WriteString(l + "\n")
	}
	for _, bad := range []string{"!!merge", "127.0.0.1:8080", "127.0.0.1:8090", "127.0.0.1:8081"} {
		if strings.Contains(values.String(), bad) {
			t.Errorf("rewritten config still contains %q", bad)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "paymux.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("the rewritten config does not load: %v", err)
	}
	if got := cfg.Store.DSN.Value(); got != filepath.Join(dir, "paymux.db") {
		t.Errorf("store.dsn resolves to %s, want the database beside the generated config", got)
	}
	got := qsRegions(cfg, regions)
	if len(got) != 5 || got[0].Code != "SG" || !slices.Equal(got[0].Currencies, []string{"USD", "SGD"}) ||
		got[1].Code != "HK" || !slices.Equal(got[1].Currencies, []string{"HKD"}) ||
		got[2].Code != "PH" || !slices.Equal(got[2].Currencies, []string{"PHP"}) ||
		got[4].Code != "TH" || !slices.Equal(got[4].Currencies, []string{"THB"}) {
		t.Errorf("demo regions %+v", got)
	}
	curl := qsCurl(cfg, regions, "http://127.0.0.1:18080")
	if !strings.Contains(curl, `"region":"SG","method":"alipay","amount":{"value":1230,"currency":"USD"}`) {
		t.Errorf("curl line %s", curl)
	}

	// Errors name what is missing.
	if _, _, err := qsRewrite([]byte("server: {}\n"), qsRewriteParams{}); err == nil || !strings.Contains(err.Error(), "server.listen") {
		t.Errorf("missing server.listen: %v", err)
	}
	if _, _, err := qsRewrite([]byte("- a\n"), qsRewriteParams{}); err == nil {
		t.Error("a YAML list was accepted")
	}
}

// TestQuickstartPortTaken: a taken port fails before anything starts, naming the port.
func TestQuickstartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	for _, c := range []struct{ flag, what string }{
		{"sim-listen", "Alipay gateway simulator"}, {"demo-listen", "demo shop"}, {"listen", "paymux API"},
	} {
		o := qsOptions{example: "unused.yaml", dir: t.TempDir(), apiAddr: "127.0.0.1:0", simAddr: "127.0.0.1:0", demoAddr: "127.0.0.1:0"}
		switch c.flag {
		case "sim-listen":
			o.simAddr = taken
		case "demo-listen":
			o.demoAddr = taken
		case "listen":
			o.apiAddr = taken
		}
		err := quickstart(t.Context(), o, io.Discard, io.Discard)
		want := fmt.Sprintf("port %s for the %s is not available (another program uses it: stop it, or pick another address with -%s)", taken, c.what, c.flag)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-%s taken: %v\nwant %q", c.flag, err, want)
		}
	}
}

// qsDescendants lists the processes below pid (Linux /proc).
func qsDescendants(t *testing.T, pid int) []int {
	t.Helper()
	children := map[int][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

func qsAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(b[bytes.LastIndexByte(b, ')')+1:])
	f := strings.Fields(rest)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

var qsCurlRe = regexp.MustCompile(`^curl -sS -X POST (\S+) -H "Authorization: Bearer ([^"]+)" -H 'Content-Type: application/json' -d '([^']+)'$`)

// TestQuickstart runs paymux quickstart as a subprocess on free ports, waits for its banner,
// makes the payment its curl line makes, then sends SIGINT and checks that paymux serve and
// both plugins are gone.
func TestQuickstart(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the process tree from /proc")
	}
	root := qsTestRoot(t)
	bin := qsTestBinaries(t, root)
	paymux := filepath.Join(bin, "paymux")
	api, sim, demoAddr := qsFreeAddr(t), qsFreeAddr(t), qsFreeAddr(t)
	dir := t.TempDir()
	// From a directory outside the repository, with the example built into paymux: what an
	// operator does with a release archive.
	cmd := exec.Command(paymux, "quickstart", "-dir", dir, "-bin", bin,
		"-listen", api, "-sim-listen", sim, "-demo-listen", demoAddr)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PAYMUX_API_KEY=", "PAYMUX_WEBHOOK_SECRET=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	go func() { exited <- cmd.Wait() }()

	var banner []string
	curl := ""
	deadline := time.After(90 * time.Second)
	for curl == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("quickstart ended before its banner:\n%s\nstderr:\n%s", strings.Join(banner, "\n"), stderr.String())
			}
			banner = append(banner, l)
			if s := strings.TrimSpace(l); strings.HasPrefix(s, "curl ") {
				curl = s
			}
		case <-deadline:
			t.Fatalf("no banner within 90 s:\n%s\nstderr:\n%s", strings.Join(banner, "\n"), stderr.String())
		}
	}
	text := strings.Join(banner, "\n")
	for _, want := range []string{"alipay: ", "alipayhk: ", "demo shop      http://" + demoAddr + "/", "paymux API     http://" + api} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}

	// The curl line, done with net/http.
	m := qsCurlRe.FindStringSubmatch(curl)
	if m == nil {
		t.Fatalf("curl line not in the expected form: %s", curl)
	}
	req, _ := http.NewRequest(http.MethodPost, m[1], strings.NewReader(m[3]))
	req.Header.Set("Authorization", "Bearer "+m[2])
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var p struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		NextAction struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"next_action"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &p) != nil || p.Status != "pending" ||
		p.NextAction.Type != "redirect_url" || !strings.HasPrefix(p.NextAction.Value, "http://"+sim+"/gateway.do?") {
		t.Fatalf("curl payment: HTTP %d %s", resp.StatusCode, body)
	}
	// The demo shop answers, and its backend reaches paymux.
	resp, err = client.Get("http://" + demoAddr + "/api/methods?region=HK&currency=HKD")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`"method":"alipayhk".*"method":"alipay"`).Match(body) {
		t.Errorf("demo methods for HK: HTTP %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), m[2]) {
		t.Error("the demo shop's answer contains the API key")
	}

	kids := qsDescendants(t, cmd.Process.Pid)
	if len(kids) < 3 {
		t.Errorf("expected paymux serve and two plugins below the quickstart, found pids %v", kids)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("quickstart exit after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("quickstart still running 40 s after SIGINT\nstderr:\n%s", stderr.String())
	}
	waitGone := time.Now().Add(5 * time.Second)
	for _, pid := range kids {
		for qsAlive(pid) && time.Now().Before(waitGone) {
			time.Sleep(50 * time.Millisecond)
		}
		if qsAlive(pid) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("process %d (%s) outlived the quickstart", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if !strings.Contains(stderr.String(), "quickstart: stopped") {
		t.Errorf("stderr lacks the stop line:\n%s", stderr.String())
	}
}

func TestQsWaitReady(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := calls.Add(1); r.URL.Path != "/readyz" || n < 3 {
			http.Error(w, `{"status":"starting"}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	never := make(chan struct{})
	if err := qsWaitReady(t.Context(), srv.URL, 10*time.Second, never); err != nil || calls.Load() != 3 {
		t.Errorf("ready after 3 calls: %v (calls %d)", err, calls.Load())
	}
	calls.Store(-1000)
	err := qsWaitReady(t.Context(), srv.URL, 500*time.Millisecond, never)
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), `HTTP 503 {"status":"starting"}`) {
		t.Errorf("timeout: %v", err)
	}
	exited := make(chan struct{})
	close(exited)
	if err := qsWaitReady(t.Context(), srv.URL, 10*time.Second, exited); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("serve exited: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := qsWaitReady(ctx, srv.URL, 10*time.Second, never); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("interrupted: %v", err)
	}
}
