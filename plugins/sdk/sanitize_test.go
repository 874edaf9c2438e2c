package sdk

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestSanitizeLogLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"@message": 5, "@level": "info"}`, `{"@level":"info","@message":"5"}`},
		{`{"@message":"x","@level":7}`, `{"@level":"7","@message":"x"}`},
		{`{"@message":null,"@level":"warn","@timestamp":12}`, `{"@level":"warn","@message":""}`},
		{`{"@message":{"a":1},"@level":["x"]}`, `{"@level":"[\"x\"]","@message":"{\"a\":1}"}`},
		{`{"@message":"ok","@level":"info","@timestamp":"2026-11-22T01:02:03.000000Z","k":5}`, `{"@message":"ok","@level":"info","@timestamp":"2026-11-22T01:02:03.000000Z","k":5}`},
		{`plain text line`, `plain text line`},
		{`[INFO] bracketed`, `[INFO] bracketed`},
		{`{"truncated": `, `{"truncated": `},
		{`5`, `5`},
		{`[1,2]`, `[1,2]`},
		{``, ``},
	} {
		if got := string(sanitizeLogLine([]byte(tc.in))); got != tc.want {
			t.Errorf("sanitize(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCopySanitizedCutsLongLines(t *testing.T) {
	in := strings.Repeat("a", 100<<10) + "\n" + `{"@message":1}` + "\nlast"
	var out bytes.Buffer
	if err := copySanitized(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || len(lines[0]) > maxLogLine+100 || !strings.Contains(lines[0], "cut at 32 KiB") ||
		lines[1] != `{"@message":"1"}` || lines[2] != "last" {
		t.Fatalf("got %d lines: %.80q / %q / %q", len(lines), lines[0], lines[1], lines[len(lines)-1])
	}
}

// parseLikeGoPlugin repeats the type assertions of go-plugin v1.8.0 log_entry.go parseJSON,
// which panic on anything but strings.
func parseLikeGoPlugin(line []byte) {
	var raw map[string]any
	if json.Unmarshal(line, &raw) != nil {
		return
	}
	for _, k := range []string{"@message", "@level", "@timestamp"} {
		if v, ok := raw[k]; ok {
			_ = v.(string)
		}
	}
}

func FuzzSanitizeLogLine(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "stderr", "*.txt"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"@message": 5, "@level": "info"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		out := sanitizeLogLine(line)
		parseLikeGoPlugin(out) // must not panic
		if json.Valid(line) == false && !bytes.Equal(out, line) {
			t.Fatalf("non-JSON line changed: %q -> %q", line, out)
		}
	})
}

func TestWatchParent(t *testing.T) {
	var mu sync.Mutex
	ppid, exits := 100, 0
	getppid := func() int { mu.Lock(); defer mu.Unlock(); return ppid }
	exit := func() { mu.Lock(); exits++; mu.Unlock() }
	l := hclog.NewNullLogger()

	watchParent(l, "", getppid, exit, time.Millisecond) // no pid: no watchdog
	watchParent(l, "abc", getppid, exit, time.Millisecond)
	watchParent(l, "99", getppid, exit, time.Millisecond) // parent already gone at start
	mu.Lock()
	if exits != 1 {
		t.Fatalf("exits = %d after a start under the wrong parent", exits)
	}
	mu.Unlock()

	watchParent(l, "100", getppid, exit, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if exits != 1 {
		t.Fatalf("exited with the parent alive")
	}
	ppid = 1 // re-parented to init: the host is gone
	mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := exits
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watchdog did not fire")
		}
		time.Sleep(time.Millisecond)
	}
}
