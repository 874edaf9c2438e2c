package config

import (
	"maps"
	"slices"

	"github.com/paymux/paymux/core"
)

// Loosened is an account setting that switches off a strict default: its value is one of the
// setting's core.Setting.Loosening values.
type Loosened struct {
	Account string
	Setting string
	Value   string
}

// LoosenedSettings lists, in account and setting order, every account setting of cfg that
// loosens a strict default of its plugin (say notify_verify: false), so that the host can warn
// about it at start and on every reload that keeps it. Plugins describe cannot be asked are
// skipped (ValidateMethods reports them). Secret settings are never listed with their value.
func LoosenedSettings(cfg *Config, describe func(plugin string) (*core.Description, error)) []Loosened {
	var out []Loosened
	descs := map[string]*core.Description{}
	for _, id := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		acct := cfg.Accounts[id]
		d, ok := descs[acct.Plugin]
		if !ok {
			var err error
			if d, err = describe(acct.Plugin); err != nil {
				d = nil
			}
			descs[acct.Plugin] = d
		}
		if d == nil {
			continue
		}
		for _, s := range d.Settings {
			v, ok := acct.Settings[s.Name]
			if !ok || !s.Loosens(v.Value()) {
				continue
			}
			l := Loosened{Account: id, Setting: s.Name, Value: v.Value()}
			if s.Secret {
				l.Value = "(secret)"
			}
			out = append(out, l)
		}
	}
	return out
}
