package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGateCheck(t *testing.T) {
	g := &GateFile{Factor: 2, Ratios: []GateRatio{
		{Scenario: ScenarioCreate, Name: "create_vs_bare_sign", Recorded: 0.8, HigherIsBetter: true},
		{Scenario: ScenarioCreate, Name: "host_vs_bare_sign", Recorded: 0.5},
		{Scenario: ScenarioNotify, Name: "notify_vs_bare_verify", Recorded: 0.2, HigherIsBetter: true},
	}}
	report := func(vsSign, hostVsSign float64, errs int) *Report {
		return &Report{Scenario: ScenarioCreate, Create: &LoadResult{Ops: 10, Errors: errs}, CreateVsSign: vsSign,
			Budget: &Budget{Operation: "create", HostVsSign: hostVsSign}}
	}
	// Control: within a factor of two either way passes (including a figure at the limit).
	for _, r := range []*Report{report(0.8, 0.5, 0), report(0.41, 0.99, 0), report(0.4, 1.0, 0), report(1.6, 0.1, 0)} {
		v, err := g.Check(r)
		if err != nil || len(v) != 2 || !v[0].OK || !v[1].OK {
			t.Errorf("CreateVsSign %v, HostVsSign %v: %+v, %v; want a pass", r.CreateVsSign, r.Budget.HostVsSign, v, err)
		}
	}
	for _, c := range []struct {
		r    *Report
		want string
	}{
		{report(0.39, 0.5, 0), "create_vs_bare_sign 0.390"},
		{report(0.8, 1.01, 0), "host_vs_bare_sign 1.010"},
		{report(0.8, 0.5, 1), "1 operations failed"},
		{&Report{Scenario: ScenarioCreate, Create: &LoadResult{Ops: 1}, CreateVsSign: 0.8}, "host_vs_bare_sign: not measured"},
		{&Report{Scenario: ScenarioMixed}, "no ratio recorded"},
	} {
		if _, err := g.Check(c.r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.r, err, c.want)
		}
	}
}

// A ratio's own factor replaces the file's: a throughput ratio with factor 4 passes at a third of
// its recorded figure and fails below a quarter, while a CPU ratio keeps the file's factor 2.
func TestGateCheckRatioFactor(t *testing.T) {
	g := &GateFile{Factor: 2, Ratios: []GateRatio{
		{Scenario: ScenarioNotify, Name: "notify_vs_bare_verify", Recorded: 0.12, HigherIsBetter: true, Factor: 4},
		{Scenario: ScenarioNotify, Name: "host_vs_bare_verify", Recorded: 10},
	}}
	report := func(vsVerify, hostVsVerify float64) *Report {
		return &Report{Scenario: ScenarioNotify, Notify: &LoadResult{Ops: 10}, NotifyVsVerify: vsVerify,
			Budget: &Budget{Operation: "notify", HostVsVerify: hostVsVerify}}
	}
	if v, err := g.Check(report(0.04, 19)); err != nil || v[0].Limit != 0.03 || v[1].Limit != 20 {
		t.Errorf("a third of the recorded throughput ratio: %+v, %v; want a pass with limits 0.03 and 20", v, err)
	}
	if _, err := g.Check(report(0.029, 10)); err == nil || !strings.Contains(err.Error(), "notify_vs_bare_verify 0.029") {
		t.Errorf("below a quarter: %v, want a regression", err)
	}
	if _, err := g.Check(report(0.12, 21)); err == nil || !strings.Contains(err.Error(), "host_vs_bare_verify 21.000") {
		t.Errorf("CPU ratio above twice: %v, want a regression", err)
	}
}

func TestReadGateFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"ok":          `{"factor": 2, "ratios": [{"scenario": "create", "name": "create_vs_bare_sign", "recorded": 0.8, "higher_is_better": true}]}`,
		"factor":      `{"factor": 1, "ratios": []}`,
		"recorded":    `{"factor": 2, "ratios": [{"scenario": "create", "name": "x", "recorded": 0}]}`,
		"malformed":   `{`,
		"ratiofactor": `{"factor": 2, "ratios": [{"scenario": "create", "name": "x", "recorded": 1, "factor": 0.5}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadGateFile(p)
		if (err == nil) != (name == "ok") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The checked-in gate file must parse and name only ratios a report can have.
	g, err := ReadGateFile(filepath.Join("..", "..", ".ci", "bench-gate.json"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, r := range []*Report{
		{Scenario: ScenarioCreate, Create: &LoadResult{}, Budget: &Budget{Operation: "create"}},
		{Scenario: ScenarioNotify, Notify: &LoadResult{}, Budget: &Budget{Operation: "notification"}},
	} {
		for k := range GateRatios(r) {
			known[r.Scenario+"/"+k] = true
		}
	}
	for _, x := range g.Ratios {
		if !known[x.Scenario+"/"+x.Name] {
			t.Errorf("gate file names %s/%s, which no report has", x.Scenario, x.Name)
		}
	}
}

func TestBudget(t *testing.T) {
	ms := time.Millisecond
	rounds := []Round{
		{HostCPU: ms / 2, PluginCPU: ms, SignCPU: ms, VerifyCPU: ms / 20},
		{HostCPU: ms, PluginCPU: ms, SignCPU: ms, VerifyCPU: ms / 20},
		{HostCPU: ms / 4, PluginCPU: 3 * ms / 4, SignCPU: ms, VerifyCPU: ms / 20},
	}
	base := []Baseline{{SignCPU: ms, VerifyCPU: ms / 20}, {SignCPU: 2 * ms}, {SignCPU: ms}}
	b := budget(ScenarioCreate, 100, CPUSplit{Host: 50 * ms, Plugins: 100 * ms, Generator: 10 * ms}, rounds, base)
	if b == nil || b.Operation != "create" || b.HostCPU != ms/2 || b.PluginCPU != ms || b.GeneratorCPU != ms/10 || b.SignCPU != ms {
		t.Fatalf("%+v", b)
	}
	if b.HostVsSign != 0.5 || b.PluginVsSign != 1 || b.SignVsHostPlugin != 1/1.5 || b.HostVsVerify != 10 {
		t.Errorf("ratios %+v", b)
	}
	if budget(ScenarioMixed, 100, CPUSplit{}, rounds, base) != nil || budget(ScenarioNotify, 0, CPUSplit{}, rounds, base) != nil {
		t.Error("a budget for mixed or for no operations")
	}
}

func TestSpinBurnsCPU(t *testing.T) {
	if _, ok := threadCPU(); !ok {
		t.Skip("no thread CPU clock")
	}
	p0 := CPUTime(os.Getpid())
	Spin(60 * time.Millisecond)
	if used := CPUTime(os.Getpid()) - p0; used < 40*time.Millisecond {
		t.Errorf("Spin(60ms) used %v of process CPU", used)
	}
}
