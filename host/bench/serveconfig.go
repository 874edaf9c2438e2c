package bench

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// writeServeConfig writes the paymux YAML config (see config.example.yaml) equivalent to cfg,
// for `paymux serve`. Webhooks are off (events are recorded, not sent); the janitor and the
// dispatcher run as in production.
func writeServeConfig(path string, cfg HostConfig) error {
	level := cfg.LogLevel
	if level == "" {
		level = "error"
	}
	settings := map[string]string{}
	for k, v := range cfg.Settings {
		settings[k] = v
	}
	env := map[string]string{}
	for k, v := range cfg.PluginEnv {
		env[k] = v
	}
	doc := map[string]any{
		"server": map[string]any{
			"listen": cfg.Listen, "public_url": "http://" + cfg.Listen, "api_keys": []string{cfg.APIKey},
		},
		"store":   map[string]any{"driver": cfg.Store, "dsn": cfg.DSN},
		"plugins": map[string]any{cfg.Plugin: map[string]any{"command": cfg.Command, "sha256": cfg.SHA256, "env": env}},
		"accounts": map[string]any{cfg.Account: map[string]any{
			"plugin": cfg.Plugin, "settings": settings,
		}},
		"regions": map[string]any{cfg.Region: map[string]any{
			"methods": []map[string]any{{"method": cfg.Method, "account": cfg.Account}},
		}},
		"log": map[string]any{"level": level},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	// 0600: it holds the API key and names the key files.
	return os.WriteFile(path, b, 0o600)
}
