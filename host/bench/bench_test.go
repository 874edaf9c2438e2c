package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequireLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.9.9.9:1", true},
		{"[::1]:80", true},
		{"localhost:80", false}, // a name could resolve anywhere: only literal loopback IPs
		{"10.0.0.1:80", false},
		{"0.0.0.0:80", false},
		{"example.com:443", false},
		{"127.0.0.1", false}, // no port
	} {
		if err := requireLoopback(c.addr); (err == nil) != c.ok {
			t.Errorf("requireLoopback(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.1", true},
		{"https://[::1]:8443/x", true},
		{"http://192.168.1.2:8080", false},
		{"ftp://127.0.0.1", false},
		{"http://user@10.1.1.1", false},
	} {
		if err := RequireLoopbackURL(c.url); (err == nil) != c.ok {
			t.Errorf("RequireLoopbackURL(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
}

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, c := range []struct {
		name          string
		in            []time.Duration
		p50, p99, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"two", ms(9, 1), 1 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"hundred", ms(hundred...), 50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
	} {
		p50, p99, mx := percentiles(c.in)
		if p50 != c.p50 || p99 != c.p99 || mx != c.max {
			t.Errorf("%s: got %v %v %v, want %v %v %v", c.name, p50, p99, mx, c.p50, c.p99, c.max)
		}
	}
}

func TestRunLoadBounds(t *testing.T) {
	ctx := context.Background()
	// Count bound: exactly n operations, each index once.
	var seen [50]atomic.Int32
	r := RunLoad(ctx, 50, time.Minute, 4, func(_ context.Context, i int) error {
		seen[i].Add(1)
		return nil
	})
	if r.Ops != 50 || r.Errors != 0 {
		t.Fatalf("count bound: %+v", r)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("index %d ran %d times", i, seen[i].Load())
		}
	}
	// Time bound: a huge n stops at the duration; operations cut by it are not failures.
	start := time.Now()
	r = RunLoad(ctx, 1<<30, 150*time.Millisecond, 2, func(ctx context.Context, _ int) error {
		select {
		case <-time.After(10 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("time bound ignored: ran %s", el)
	}
	if r.Errors != 0 || r.Ops == 0 || r.Ops > 100 {
		t.Fatalf("time bound: %+v", r)
	}
	// Failures are counted and the first is kept.
	r = RunLoad(ctx, 10, time.Minute, 1, func(_ context.Context, i int) error {
		if i%2 == 1 {
			return errors.New("odd")
		}
		return nil
	})
	if r.Ops != 10 || r.Errors != 5 || r.FirstError != "odd" {
		t.Fatalf("errors: %+v", r)
	}
}

func TestMerge(t *testing.T) {
	a, la := runLoad(context.Background(), 3, time.Minute, 1, func(context.Context, int) error { return nil })
	b, lb := runLoad(context.Background(), 2, time.Minute, 1, func(context.Context, int) error { return errors.New("x") })
	m := merge([]LoadResult{a, b}, [][]time.Duration{la, lb})
	if m.Ops != 5 || m.Errors != 2 || m.FirstError != "x" || m.Elapsed != a.Elapsed+b.Elapsed {
		t.Fatalf("merge: %+v", m)
	}
}

func TestMedianOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		rs := make([]Round, len(c.in))
		for i, v := range c.in {
			rs[i].CreateVsSign = v
		}
		if got := medianOf(rs, func(r Round) float64 { return r.CreateVsSign }); got != c.want {
			t.Errorf("medianOf(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestProcMem(t *testing.T) {
	m, err := ReadProcMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.PeakRSS <= 0 || m.RSS <= 0 || m.PeakRSS < m.RSS || m.Name == "" {
		t.Fatalf("implausible memory of this process: %+v", m)
	}
	if CPUTime(os.Getpid()) < 0 {
		t.Fatal("negative CPU time")
	}
	// A child named like a plugin is found as a child; after it exits it is not alive.
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	// A copy, not a symlink: /proc/<pid>/exe resolves links, and comm is cut at 15 bytes.
	fake := filepath.Join(dir, "paymux-provider-fake")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	found := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !found; time.Sleep(10 * time.Millisecond) {
		for _, p := range ChildrenNamed(os.Getpid(), "paymux-provider-") {
			found = found || p == pid
		}
	}
	if !found || !Alive(pid, "paymux-provider-") {
		t.Fatalf("child %d not found by name", pid)
	}
	if len(DescendantsNamed(os.Getpid(), "paymux-provider-")) == 0 {
		t.Fatal("DescendantsNamed missed the child")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if Alive(pid, "paymux-provider-") {
		t.Fatalf("child %d still alive after kill and wait", pid)
	}
}

// TestRunEndToEnd runs every scenario briefly against an in-process host and a real plugin.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin")
	}
	plugin := filepath.Join(os.Getenv("PAYMUX_BIN"), PluginBinary)
	if os.Getenv("PAYMUX_BIN") == "" {
		plugin = filepath.Join(t.TempDir(), PluginBinary)
		if out, err := exec.Command("go", "build", "-o", plugin, "github.com/paymux/paymux/plugins/alipay").CombinedOutput(); err != nil {
			t.Fatalf("building the plugin: %v\n%s", err, out)
		}
	}
	for _, sc := range []string{ScenarioCreate, ScenarioNotify, ScenarioMixed} {
		t.Run(sc, func(t *testing.T) {
			r, err := Run(context.Background(), Options{
				Scenario: sc, N: 40, Duration: 30 * time.Second, Concurrency: 2, Rounds: 2,
				BaselineDuration: 50 * time.Millisecond,
				Stack:            StackOptions{PluginPath: plugin, WorkDir: t.TempDir()},
			})
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, l *LoadResult, want int) {
				if l == nil {
					t.Fatalf("%s: no result", name)
				}
				if l.Errors != 0 || l.Ops != want || l.PerSecond <= 0 || l.P50 <= 0 || l.P99 < l.P50 {
					t.Fatalf("%s: %+v", name, *l)
				}
			}
			switch sc {
			case ScenarioCreate:
				check("create", r.Create, 40)
			case ScenarioNotify:
				check("notify", r.Notify, 40)
				if r.NotifyDuplicates != 8 {
					t.Errorf("duplicates: %d, want 8 (every 5th)", r.NotifyDuplicates)
				}
			case ScenarioMixed:
				check("create", r.Create, 10)
				check("notify", r.Notify, 40)
			}
			if len(r.Rounds) != 2 || len(r.Baselines) != 3 || r.Baselines[0].SignPerSecond <= 0 {
				t.Errorf("pairing: %d rounds, %d baselines", len(r.Rounds), len(r.Baselines))
			}
			if r.Host.PeakRSS <= 0 || len(r.Plugins) != 1 || r.Plugins[0].PeakRSS <= 0 {
				t.Errorf("memory: host %+v plugins %+v", r.Host, r.Plugins)
			}
		})
	}
}

func TestRunRejects(t *testing.T) {
	for _, o := range []Options{
		{Scenario: "bogus", N: 1, Duration: time.Second},
		{Scenario: ScenarioCreate, N: 0, Duration: time.Second},
		{Scenario: ScenarioCreate, N: 1, Duration: 0},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}
