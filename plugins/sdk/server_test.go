package sdk

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/paymux/paymux/core"
)

// TestFailLogsDetailOnlyAtDebug: a provider error's wrapped cause (core.Error.Err) never reaches
// the info/warn log; only the code and the public message do. At debug level the full detail is
// logged for whoever runs the plugin with debugging on.
func TestFailLogsDetailOnlyAtDebug(t *testing.T) {
	const marker = "MARKER-internal-detail-7f3a"
	for _, tc := range []struct {
		name     string
		err      error
		code     string
		message  string
		wantWarn bool
	}{
		{"wrapped cause", core.WrapError(core.EUNAVAILABLE, errors.New("dial "+marker), "gateway unreachable"), core.EUNAVAILABLE, "gateway unreachable", true},
		{"internal", core.Errorf(core.EINTERNAL, "broken: %s", marker), core.EINTERNAL, "broken: " + marker, true},
		{"plain error", errors.New("panic-ish " + marker), core.EINTERNAL, "internal error", true},
		{"plain core error", core.Errorf(core.EINVALID, "bad amount"), core.EINVALID, "bad amount", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, level := range []hclog.Level{hclog.Info, hclog.Debug} {
				var buf bytes.Buffer
				s := &server{impl: &recorder{err: tc.err}, log: hclog.New(&hclog.LoggerOptions{Output: &buf, Level: level})}
				if _, err := s.Describe(context.Background(), nil); err == nil {
					t.Fatal("Describe: no error")
				}
				out := buf.String()
				if !tc.wantWarn {
					if out != "" {
						t.Errorf("%s: logged %q for an expected error", level, out)
					}
					continue
				}
				if !strings.Contains(out, "[WARN]") || !strings.Contains(out, "code="+tc.code) || !strings.Contains(out, tc.message) {
					t.Errorf("%s: warning lacks code or message: %q", level, out)
				}
				// A marker in the public message ("internal") is the provider's own choice to
				// show; a marker only in the cause or a plain error must reach only the debug line.
				warn, debug, _ := strings.Cut(out, "[DEBUG]")
				if !strings.Contains(tc.message, marker) && strings.Contains(warn, marker) {
					t.Errorf("%s: wrapped detail in the warning: %q", level, warn)
				}
				if level == hclog.Info && strings.Contains(out, "[DEBUG]") {
					t.Errorf("info logger wrote a debug line: %q", out)
				}
				if level == hclog.Debug && !strings.Contains(debug, marker) {
					t.Errorf("debug: full detail missing: %q", out)
				}
			}
		})
	}
}
