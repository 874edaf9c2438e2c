package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// A regression gate for CI: a short bench run compares its paired ratios with figures
// recorded in a checked-in file and fails only on a gross regression, never on an absolute
// time. A ratio is paired (measured against bare RSA-2048 on the same cores in the same run), so
// a slower or busier machine moves both sides; only a change in the product's own cost per
// operation moves the ratio by a factor of two.

// GateFile is the checked-in record of the figures a gate compares with.
type GateFile struct {
	// Factor is how far a ratio may fall (higher-is-better) or rise (lower-is-better) from its
	// recorded figure before the gate fails: 2 means "below half" or "above twice".
	Factor float64     `json:"factor"`
	Ratios []GateRatio `json:"ratios"`
}

// GateRatio is one recorded paired ratio of one scenario.
type GateRatio struct {
	Scenario string `json:"scenario"`
	// Name is one of the names GateRatios reports.
	Name           string  `json:"name"`
	Recorded       float64 `json:"recorded"`
	HigherIsBetter bool    `json:"higher_is_better"`
	// Factor, when above 1, replaces the file's factor for this ratio: a throughput ratio
	// also carries what bare RSA does not (the disk's flush latency, the scheduler on a
	// loaded machine), so it needs a wider band than a CPU-per-operation ratio.
	Factor float64 `json:"factor,omitempty"`
}

// GateRatios are the paired ratios of a report that a gate can check, by name.
func GateRatios(r *Report) map[string]float64 {
	m := map[string]float64{}
	if r.Create != nil && r.Scenario == ScenarioCreate {
		m["create_vs_bare_sign"] = r.CreateVsSign
	}
	if r.Notify != nil && r.Scenario == ScenarioNotify {
		m["notify_vs_bare_verify"] = r.NotifyVsVerify
	}
	if b := r.Budget; b != nil {
		m["host_vs_bare_sign"] = b.HostVsSign
		m["plugin_vs_bare_sign"] = b.PluginVsSign
		if b.Operation == "create" {
			m["bare_sign_vs_host_plus_plugin"] = b.SignVsHostPlugin
		} else {
			m["host_vs_bare_verify"] = b.HostVsVerify
			m["plugin_vs_bare_verify"] = b.PluginVsVerify
		}
	}
	return m
}

// ReadGateFile reads and checks a gate file.
func ReadGateFile(path string) (*GateFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	var g GateFile
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("gate %s: %w", path, err)
	}
	if g.Factor <= 1 {
		return nil, fmt.Errorf("gate %s: factor must be above 1, got %v", path, g.Factor)
	}
	for _, x := range g.Ratios {
		if x.Recorded <= 0 || x.Name == "" || x.Scenario == "" {
			return nil, fmt.Errorf("gate %s: incomplete ratio %+v", path, x)
		}
		if x.Factor != 0 && x.Factor <= 1 {
			return nil, fmt.Errorf("gate %s: ratio %s: factor must be above 1, got %v", path, x.Name, x.Factor)
		}
	}
	return &g, nil
}

// GateVerdict is the outcome of one checked ratio.
type GateVerdict struct {
	GateRatio
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"` // the measured value must stay above (higher is better) or below it
	OK       bool    `json:"ok"`
}

// Check compares the report's ratios of its scenario with the recorded ones. It returns the
// verdict of every ratio recorded for the scenario and an error naming each gross regression
// (or a recorded ratio the report lacks, or a failed operation: a run with errors proves
// nothing).
func (g *GateFile) Check(r *Report) ([]GateVerdict, error) {
	got := GateRatios(r)
	var out []GateVerdict
	var bad []string
	for _, l := range []*LoadResult{r.Create, r.Notify} {
		if l != nil && l.Errors > 0 {
			bad = append(bad, fmt.Sprintf("%d operations failed (first: %s)", l.Errors, l.FirstError))
		}
	}
	for _, x := range g.Ratios {
		if x.Scenario != r.Scenario {
			continue
		}
		v := GateVerdict{GateRatio: x}
		m, ok := got[x.Name]
		if !ok || m <= 0 {
			bad = append(bad, fmt.Sprintf("%s: not measured", x.Name))
			out = append(out, v)
			continue
		}
		v.Measured = m
		f := g.Factor
		if x.Factor > 1 {
			f = x.Factor
		}
		if x.HigherIsBetter {
			v.Limit = x.Recorded / f
			v.OK = m >= v.Limit
		} else {
			v.Limit = x.Recorded * f
			v.OK = m <= v.Limit
		}
		if !v.OK {
			bad = append(bad, fmt.Sprintf("%s %.3f, recorded %.3f, limit %.3f", x.Name, m, x.Recorded, v.Limit))
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		bad = append(bad, "no ratio recorded for scenario "+r.Scenario)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("bench gate: gross regression: %s", strings.Join(bad, "; "))
	}
	return out, nil
}
