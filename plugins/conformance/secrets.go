package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

// secretMarker is planted in probing values of secret settings.
const secretMarker = "CONFORMANCE-SECRET-MARKER"

// secrets checks that the values of settings Describe marks Secret never come back: not in the
// errors of Configure when such a value is malformed (a pasted key with a stray character is a
// classic: read as a file path, it lands in the "cannot open" message), and not in any
// notification result or error the kit has seen.
func (k *kit) secrets(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	var secret []string
	for _, s := range d.Settings {
		if s.Secret {
			secret = append(secret, s.Name)
		}
	}
	if len(secret) == 0 {
		t.Skip("Describe marks no setting secret")
	}
	probe := k.h.Account + "-secret-probe"
	for _, name := range secret {
		for _, bad := range []string{
			secretMarker + " not a key, not a file",
			"MIIB" + secretMarker + strings.Repeat("A", 120) + " !",
			"-----BEGIN PRIVATE KEY-----\n" + secretMarker + "\n-----END PRIVATE KEY-----",
		} {
			settings := map[string]string{}
			for k, v := range k.h.Settings {
				settings[k] = v
			}
			settings[name] = bad
			err := k.h.Provider.Configure(ctx, &core.ConfigureRequest{Account: probe, Settings: settings})
			if err == nil {
				continue // some secrets (passwords) take any text
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
				if strings.Contains(text, secretMarker) {
					t.Errorf("Configure with a malformed %s quotes its value: %s", name, text)
				}
			}
		}
	}

	// The values the harness configured, where long enough to be told from other text.
	var values []string
	for _, name := range secret {
		v := strings.TrimSpace(k.h.Settings[name])
		if len(v) < 16 {
			continue
		}
		values = append(values, v)
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				values = append(values, line) // a line of a PEM body
			}
		}
	}
	k.sink.mu.Lock()
	defer k.sink.mu.Unlock()
	for _, r := range k.sink.got {
		var texts []string
		if r.err != nil {
			texts = append(texts, r.err.Error())
		}
		if r.res != nil {
			texts = append(texts, r.res.RejectReason, string(r.res.Ack.Body), fmt.Sprintf("%+v", r.res.Events))
		}
		for _, text := range texts {
			for _, v := range values {
				if strings.Contains(text, v) {
					t.Errorf("a notification result or error quotes a secret setting's value: %.80s", text)
				}
			}
		}
	}
}
