package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runCLI runs the dispatcher as main does, with the commands' own stdout and stderr (their -h
// output and flag errors) captured too.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	fo, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	fe, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	savedOut, savedErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = fo, fe
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	os.Stdout, os.Stderr = savedOut, savedErr
	bo, _ := os.ReadFile(fo.Name())
	be, _ := os.ReadFile(fe.Name())
	return code, out.String() + string(bo), errb.String() + string(be)
}

func TestCLIHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "serve"}, {"help", "config", "check"}, {"serve", "-h"}, {"plugins", "pin", "--help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d, want 0\n%s%s", args, code, stdout, stderr)
		}
		if !strings.Contains(stdout+stderr, "usage: paymux") {
			t.Errorf("%v: no usage printed:\n%s%s", args, stdout, stderr)
		}
	}
	// Control: no arguments at all is a wrong invocation.
	if code, _, stderr := runCLI(t); code != 2 || !strings.Contains(stderr, "usage: paymux") {
		t.Errorf("no arguments: exit %d, want 2 and the usage\n%s", code, stderr)
	}
}

func TestCLIVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
		for _, want := range []string{"paymux " + version + "\n", "commit: ", "go: go1.", "plugin protocol: 1\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, stdout)
			}
		}
	}
}

func TestCLIUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `paymux: unknown command "serv" (did you mean "serve"?)`},
		{[]string{"quikstart"}, `unknown command "quikstart" (did you mean "quickstart"?)`},
		{[]string{"config", "chek", "x.yaml"}, `unknown command "config chek" (did you mean "config check"?)`},
		{[]string{"config"}, `"config" needs a subcommand: config check`},
		{[]string{"plugins", "-h"}, `"plugins" needs a subcommand: plugins describe, plugins pin`},
		{[]string{"zzzzzzzzzz"}, `paymux: unknown command "zzzzzzzzzz"` + "\n"}, // nothing close: no suggestion
		{[]string{"help", "serv"}, `paymux help: unknown command "serv" (did you mean "serve"?)`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestCLIErrorsPrintedOnce: a flag error is printed by the flag package, and main does not add a
// second copy; a command's own error is printed once with the command's name.
func TestCLIErrorsPrintedOnce(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", "-bogus")
	if code != 2 || strings.Count(stderr, "flag provided but not defined: -bogus") != 1 {
		t.Errorf("serve -bogus: exit %d, stderr\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "extra")
	if code != 2 || strings.Count(stderr, `unexpected argument "extra"`) != 1 {
		t.Errorf("serve extra: exit %d, stderr\n%s", code, stderr)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	code, _, stderr = runCLI(t, "serve", "-config", missing)
	if code != 1 || strings.Count(stderr, "no such file") != 1 {
		t.Errorf("serve -config missing: exit %d, stderr\n%s", code, stderr)
	}
}

// TestCLIHelpHasNoBackticks: the flag package turns a backticked word in a flag's usage into
// the flag's argument name ("-paymux serve"); no help text may contain one.
func TestCLIHelpHasNoBackticks(t *testing.T) {
	for _, name := range commandNames() {
		args := append(strings.Fields(name), "-h")
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%s -h: exit %d\n%s", name, code, stderr)
		}
		if strings.Contains(stdout+stderr, "`") {
			t.Errorf("%s -h shows a backtick:\n%s%s", name, stdout, stderr)
		}
		if !strings.Contains(stdout+stderr, "usage: paymux "+name) {
			t.Errorf("%s -h: no usage line:\n%s%s", name, stdout, stderr)
		}
	}
}

// TestEmbeddedExampleIsCurrent: the quickstart's built-in example is config.example.yaml.
func TestEmbeddedExampleIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embeddedExample, want) {
		t.Fatal("host/cmd/paymux/example.yaml differs from config.example.yaml: cp config.example.yaml host/cmd/paymux/example.yaml")
	}
}

// TestHealthcheck: 0 when /readyz answers 200, 1 otherwise, the address taken from the
// config's server.listen.
func TestHealthcheck(t *testing.T) {
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cfg := filepath.Join(t.TempDir(), "paymux.yaml")
	os.WriteFile(cfg, []byte("server: {listen: \"0.0.0.0:"+port+"\", public_url: http://127.0.0.1:1, api_keys: [demo-key-0123456789]}\n"), 0o600)
	if code, out, stderr := runCLI(t, "healthcheck", "-config", cfg); code != 0 || !strings.Contains(out, "ready: http://127.0.0.1:"+port+"/readyz") {
		t.Errorf("ready: exit %d\n%s%s", code, out, stderr)
	}
	status = 503
	if code, _, stderr := runCLI(t, "healthcheck", "-config", cfg); code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("not ready: exit %d\n%s", code, stderr)
	}
	srv.Close()
	if code, _, _ := runCLI(t, "healthcheck", "-url", srv.URL+"/readyz"); code != 1 {
		t.Errorf("nothing listening: exit %d", code)
	}
}

// TestDocsStayInTheRepository: every relative link in the README and docs names a file of the
// repository, and no page sends the reader to the design folder, which is not shipped.
func TestDocsStayInTheRepository(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, f := range []string{"README.md", "CHANGELOG.md", "SECURITY.md"} {
		pages = append(pages, filepath.Join(root, f))
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		if strings.Contains(string(b), "shared/") {
			t.Errorf("%s mentions shared/, which is not part of the repository", rel)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			abs := filepath.Clean(filepath.Join(filepath.Dir(page), target))
			checked++
			if !strings.HasPrefix(abs, root+string(filepath.Separator)) {
				t.Errorf("%s links outside the repository: %s", rel, m[1])
			} else if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to a missing file: %s", rel, m[1])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d relative links found; the link pattern is broken", checked)
	}
}

// TestGitignoreCoversRuntimeFiles: what serve (SQLite beside a config in the repository root),
// the example's header (a paymux.yaml copy) and the quickstart (.paymux/) leave behind, and the
// release build's dist/, are ignored by git.
func TestGitignoreCoversRuntimeFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root, _ := filepath.Abs("../../..")
	files := []string{"paymux.db", "paymux.db-wal", "paymux.db-shm", "paymux.yaml", ".paymux/paymux.yaml", ".paymux/paymux.db", "dist/SHA256SUMS", "bin/paymux"}
	cmd := exec.Command("git", append([]string{"check-ignore", "--no-index"}, files...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Skipf("not a git checkout (%v)", err)
	}
	ignored := strings.Fields(string(out))
	for _, f := range files {
		if !slices.Contains(ignored, f) {
			t.Errorf(".gitignore does not cover %s", f)
		}
	}
	// Control: a tracked source file is not ignored.
	if err := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", "host/cmd/paymux/main.go").Run(); err == nil {
		t.Error("main.go is ignored; the check proves nothing")
	}
}
