package config

import (
	"maps"
	"slices"
	"strings"
)

// demoMarker is in the name of every throw-away secret paymux ships (config.example.yaml's
// defaults, the simulator's test keys): a value or key file name holding it is a demo secret.
const demoMarker = "DO-NOT-USE"

// demoValues are the shipped demo secrets that do not carry demoMarker.
var demoValues = map[string]bool{
	"0bd27702fb7566abc7e2684d03ee6097": true, // config.example.yaml's md5_key default (the simulator's)
	// The stored-hash form of config.example.yaml's default API key.
	"sha256:bf86470d9837a40c96427ed7065efc4f3766c92347054fae0b5d11dea549a4a8": true,
}

// DemoSecrets returns, sorted, the names (never the values) of the settings that hold a demo
// secret from config.example.yaml or the simulator's test keys: an API key, the webhook
// secret, an account setting, or a key file of the simulator's. Anyone can read those in the
// repository, so a host using one must not take real money; serve warns and /readyz says so.
func (c *Config) DemoSecrets() []string {
	found := map[string]bool{}
	isDemo := func(v string) bool {
		v = strings.TrimSpace(v)
		return v != "" && (strings.Contains(v, demoMarker) || demoValues[v])
	}
	for _, k := range c.Server.APIKeys {
		if isDemo(k.Value()) {
			found["server.api_keys"] = true
		}
	}
	if isDemo(c.Webhooks.Secret.Value()) {
		found["webhooks.secret"] = true
	}
	for id, a := range c.Accounts {
		for k, v := range a.Settings {
			if isDemo(v.Value()) {
				found["accounts."+id+".settings."+k] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(found))
}
