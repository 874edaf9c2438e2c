package sdk

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
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

// panicker panics in every call with v.
type panicker struct {
	recorder
	v any
}

func (p *panicker) Describe(context.Context) (*core.Description, error) { panic(p.v) }
func (p *panicker) FetchSettlement(context.Context, *core.SettlementRequest, func(*core.SettlementRecord) error) error {
	panic(p.v)
}

// fakeStream is the server side of a FetchSettlement stream that nobody reads.
type fakeStream struct {
	pb.Provider_FetchSettlementServer
}

func (fakeStream) Context() context.Context { return context.Background() }

// TestRecoverCall: a panicking call (unary or streaming) becomes an internal error for that
// call, counted and logged with its stack; the panic's value reaches only the debug line,
// except a runtime error's own message, which quotes nothing of the provider's.
func TestRecoverCall(t *testing.T) {
	const marker = "MARKER-secret-in-panic-91c2"
	var nilMap map[string]int
	runtimeErr := func() (v any) {
		defer func() { v = recover() }()
		nilMap["x"] = 1
		return nil
	}()
	for _, tc := range []struct {
		name, want string
		v          any
	}{
		{"string", "panic=string", "key " + marker},
		{"error", "*errors.errorString", errors.New(marker)},
		{"runtime", "assignment to entry in nil map", runtimeErr},
	} {
		for _, level := range []hclog.Level{hclog.Info, hclog.Debug} {
			var buf bytes.Buffer
			s := &server{impl: &panicker{v: tc.v}, log: hclog.New(&hclog.LoggerOptions{Output: &buf, Level: level})}
			before := Panics()
			_, err := s.Describe(context.Background(), nil)
			ferr := s.FetchSettlement(&pb.SettlementRequest{}, fakeStream{})
			for _, e := range []error{err, ferr} {
				ce := fromStatus("x", true, e)
				if core.ErrorCode(ce) != core.EINTERNAL || IsBoundaryError(ce) || !strings.Contains(core.ErrorMessage(ce), "panicked") {
					t.Errorf("%s: answer = %v, want the provider's internal error", tc.name, ce)
				}
			}
			if got := Panics() - before; got != 2 {
				t.Errorf("%s: Panics grew by %d, want 2", tc.name, got)
			}
			out := buf.String()
			// hclog puts a multi-line value (the stack) on indented lines after its entry.
			var warn, debug string
			for _, entry := range strings.Split(out, "\n20") {
				if strings.Contains(entry, "[DEBUG]") {
					debug += entry
				} else {
					warn += entry
				}
			}
			if !strings.Contains(warn, "[ERROR]") || strings.Count(warn, tc.want) != 2 || !strings.Contains(warn, "runtime/debug.Stack") || !strings.Contains(warn, "method=FetchSettlement") {
				t.Errorf("%s %s: error line lacks the panic's kind or stack: %q", tc.name, level, warn)
			}
			if strings.Contains(warn, marker) {
				t.Errorf("%s %s: the panic's value reached the error line: %q", tc.name, level, warn)
			}
			if level == hclog.Debug && tc.name != "runtime" && !strings.Contains(debug, marker) {
				t.Errorf("%s: the debug line lacks the panic's value: %q", tc.name, out)
			}
		}
	}
}
