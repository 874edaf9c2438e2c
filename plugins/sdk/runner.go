package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// maxLogLine bounds one stderr line handed to go-plugin. Longer lines are cut (and marked) so
// that go-plugin never sees a line in pieces; half of its default 64 KiB line buffer.
const maxLogLine = 32 << 10

// procRunner runs a plugin as a plain child process, like go-plugin's internal cmd runner,
// with two differences: stderr goes through sanitizeLogLine before go-plugin parses it (a
// plugin printing {"@message": 5} would otherwise panic the host, go-plugin v1.8.0
// log_entry.go), and done is closed when the process has been reaped.
type procRunner struct {
	name   string
	cmd    *exec.Cmd
	sha256 string // the pin, checked right before exec
	dir    string // the private runtime dir, where the verified copy is started from
	path   string // the configured binary (cmd.Path becomes the private copy)
	stdout io.ReadCloser
	rawErr io.ReadCloser
	errR   *io.PipeReader
	errW   *io.PipeWriter
	pid    int
	done   chan struct{}
	once   sync.Once
	log    hclog.Logger
}

var _ runner.Runner = (*procRunner)(nil)

func newProcRunner(name string, cmd *exec.Cmd, sha256, dir string, log hclog.Logger) (*procRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	return &procRunner{name: name, cmd: cmd, sha256: sha256, dir: dir, path: cmd.Path, stdout: stdout, rawErr: stderr, errR: r, errW: w, done: make(chan struct{}), log: log}, nil
}

func (r *procRunner) Start(context.Context) error {
	exe, release, err := pinnedExecutable(r.name, r.path, r.sha256, r.dir)
	if err != nil {
		_ = r.stdout.Close()
		_ = r.rawErr.Close()
		_ = r.errW.Close()
		return err
	}
	// argv[0] stays the configured path (what ps shows); the kernel runs the verified copy.
	r.cmd.Path = exe
	err = r.cmd.Start()
	release()
	if err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	go func() {
		// go-plugin reads the sanitised side to EOF before it calls Wait, so closing errW
		// after the raw pipe's EOF keeps exec's rule: read everything, then Wait.
		_ = r.errW.CloseWithError(copySanitized(r.errW, r.rawErr))
	}()
	return nil
}

func (r *procRunner) Wait(context.Context) error {
	err := r.cmd.Wait()
	r.once.Do(func() { close(r.done) })
	return err
}

func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.errR }
func (r *procRunner) Name() string          { return r.name }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return fmt.Sprintf("plugin %s (%s) did not print go-plugin's handshake line first on stdout. "+
		"Usual causes: the binary writes to stdout before sdk.Serve runs (a print in init or main, a "+
		"logger or library banner pointed at stdout: log to stderr or sdk.Logger instead), it is not "+
		"a paymux provider plugin, it was built for another OS or architecture, or it crashed on start "+
		"(see its log lines above)", r.name, r.path)
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// copySanitized copies src to dst line by line through sanitizeLogLine, cutting lines longer
// than maxLogLine.
func copySanitized(dst io.Writer, src io.Reader) error {
	br := bufio.NewReaderSize(src, 4096)
	var line []byte
	cut := false
	for {
		frag, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(line)+len(frag) > maxLogLine {
			frag = frag[:maxLogLine-len(line)]
			cut = true
		}
		line = append(line, frag...)
		if isPrefix {
			continue
		}
		out := sanitizeLogLine(line)
		if cut {
			out = append(out, " [line cut at 32 KiB by the paymux host]"...)
		}
		out = append(out, '\n')
		if _, err := dst.Write(out); err != nil {
			return err
		}
		line, cut = line[:0], false
	}
}

// sanitizeLogLine makes a plugin's stderr line safe for go-plugin's parser, which asserts that
// @message, @level and @timestamp are strings and panics the whole host otherwise. A JSON
// object with such a field of another type gets it rewritten as a string (@timestamp: dropped,
// go-plugin then uses the time of arrival). Every other line is returned unchanged.
func sanitizeLogLine(line []byte) []byte {
	if len(line) == 0 || !json.Valid(line) {
		return line
	}
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		return line
	}
	changed := false
	for _, k := range []string{"@message", "@level"} {
		if v, ok := m[k]; ok {
			if _, isString := v.(string); !isString {
				m[k] = stringify(v)
				changed = true
			}
		}
	}
	if v, ok := m["@timestamp"]; ok {
		if _, isString := v.(string); !isString {
			delete(m, "@timestamp")
			changed = true
		}
	}
	if !changed {
		return line
	}
	out, err := json.Marshal(m)
	if err != nil {
		return line
	}
	return out
}

func stringify(v any) string {
	if v == nil {
		return ""
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// warnWriter surfaces what a plugin writes to stdout or stderr after the handshake (go-plugin
// carries it over its stdio stream; it would otherwise be dropped): nothing legitimate goes
// there, so it is a warning.
type warnWriter struct {
	log    hclog.Logger
	stream string
}

func (w warnWriter) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\r\n")
	if len(s) > 1024 {
		s = s[:1024] + "..."
	}
	w.log.Warn("plugin wrote to "+w.stream+" instead of its logger", "output", s)
	return len(p), nil
}
