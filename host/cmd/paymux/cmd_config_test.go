package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/plugins/sdk"
)

func checkKeysDir() string {
	d, _ := filepath.Abs("../../../providers/mapisim/testkeys")
	return d
}

// writeCheckFixture writes a config with two fake plugin binaries (one pinned right, one
// wrong) and accounts whose key files are good, weak, of the wrong kind or missing.
func writeCheckFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	keys := checkKeysDir()
	os.WriteFile(filepath.Join(dir, "pa"), []byte("binary A"), 0o755)
	os.WriteFile(filepath.Join(dir, "pb"), []byte("binary B"), 0o755)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(weak)
	os.WriteFile(filepath.Join(dir, "test-weak-1024-DO-NOT-USE.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("not a known hosts line\n"), 0o600)
	src := `server:
  public_url: http://127.0.0.1:8080
  api_keys: [0123456789abcdef0123]
plugins:
  a: {command: pa, sha256: ` + pinHexSHA([]byte("binary A")) + `}
  b: {command: pb, sha256: ` + strings.Repeat("1", 64) + `}
  c: {command: pc, sha256: ` + strings.Repeat("0", 64) + `}
accounts:
  good:
    plugin: a
    settings:
      private_key_file: ` + keys + `/test-merchant-private-DO-NOT-USE.pem
      alipay_public_key_file: ` + keys + `/test-alipay-public-DO-NOT-USE.pem
      sftp_private_key_file: ` + keys + `/test-sftp-client-ed25519-DO-NOT-USE
  weak:
    plugin: a
    settings:
      private_key_file: test-weak-1024-DO-NOT-USE.pem
  swapped:
    plugin: a
    settings:
      private_key_file: ` + keys + `/test-alipay-public-DO-NOT-USE.pem
      alipay_public_key_file: missing.pem
      sftp_known_hosts_file: known_hosts
`
	path := filepath.Join(dir, "paymux.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	path := writeCheckFixture(t)
	dir := filepath.Dir(path)
	r := checkConfig(context.Background(), path, false)
	var got []string
	for _, p := range r.problems {
		got = append(got, p.String())
	}
	joined := strings.Join(got, "\n")
	for _, frag := range []string{
		path + ":6: plugins.b.sha256: binary " + dir + "/pb has sha256 " + pinHexSHA([]byte("binary B")) + " but the config pins " + strings.Repeat("1", 64),
		path + ":7: plugins.c.command: cannot read the plugin binary: open " + dir + "/pc: no such file or directory",
		path + ":22: accounts.swapped.settings.private_key_file: the file it names: expected a private key but found PEM type \"PUBLIC KEY\"",
		path + ":23: accounts.swapped.settings.alipay_public_key_file: cannot read the file it names: no such file or directory",
		path + ":24: accounts.swapped.settings.sftp_known_hosts_file: the file it names: not a known_hosts file: knownhosts: (the file):1: illegal base64 data",
	} {
		if !strings.Contains(joined, frag) {
			t.Errorf("problems lack %q:\n%s", frag, joined)
		}
	}
	if len(r.problems) != 5 {
		t.Errorf("want 5 problems, got %d:\n%s", len(r.problems), joined)
	}
	if strings.Contains(joined, "accounts.good") || strings.Contains(joined, "plugins.a") {
		t.Errorf("good entries reported:\n%s", joined)
	}
	if len(r.warnings) != 2 || !strings.Contains(r.warnings[1].String(), path+":18: accounts.weak.settings.private_key_file: the file it names: RSA key has 1024 bits") ||
		!strings.Contains(r.warnings[0].String(), "demo secrets from config.example.yaml or the simulator's test keys are in use") {
		t.Errorf("warnings: %v", r.warnings)
	}
	// Values of settings (here file names) are never printed.
	for _, w := range append(append([]*config.Problem{}, r.problems...), r.warnings...) {
		if strings.Contains(w.String(), "missing.pem") || strings.Contains(w.String(), "known_hosts:") && strings.Contains(w.String(), dir+"/known_hosts") {
			t.Errorf("a setting's value printed: %s", w)
		}
	}
	var out strings.Builder
	r.print(&out)
	if !strings.Contains(out.String(), "accounts.weak.settings.private_key_file: warning: ") {
		t.Errorf("printed report lacks the warning:\n%s", out.String())
	}

	// Unpinned placeholder: say so, with the hash to pin.
	os.WriteFile(filepath.Join(dir, "pc"), []byte("binary C"), 0o755)
	r = checkConfig(context.Background(), path, false)
	if s := checkProblemsText(r); !strings.Contains(s, path+":7: plugins.c.sha256: not pinned (placeholder); run `paymux plugins pin -config "+path+"` (binary sha256 is "+pinHexSHA([]byte("binary C"))+")") {
		t.Errorf("unpinned:\n%s", s)
	}
	// -plugins refuses to start anything while pins are wrong.
	r = checkConfig(context.Background(), path, true)
	if s := checkProblemsText(r); !strings.Contains(s, "-plugins: not starting plugins") {
		t.Errorf("-plugins with bad pins:\n%s", s)
	}
}

func TestConfigCheckLoadErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("server:\n  listn: x\n"), 0o600)
	r := checkConfig(context.Background(), path, false)
	if s := checkProblemsText(r); !strings.Contains(s, path+`:2: unknown key "listn" in server (did you mean "listen"?)`) {
		t.Errorf("got %s", s)
	}
	r = checkConfig(context.Background(), filepath.Join(dir, "missing.yaml"), false)
	if len(r.problems) != 1 || !strings.Contains(r.problems[0].Msg, "no such file") {
		t.Errorf("missing file: %v", r.problems)
	}
	if err := runConfigCheck(context.Background(), []string{path}); err == nil || !strings.Contains(err.Error(), "1 problem(s)") {
		t.Errorf("exit error: %v", err)
	}
	// The one -config spelling, the positional file, and $PAYMUX_CONFIG as the default.
	if err := runConfigCheck(context.Background(), []string{"-config", path}); err == nil || !strings.Contains(err.Error(), path+": 1 problem(s)") {
		t.Errorf("-config: %v", err)
	}
	t.Setenv("PAYMUX_CONFIG", path)
	if err := runConfigCheck(context.Background(), nil); err == nil || !strings.Contains(err.Error(), path+": 1 problem(s)") {
		t.Errorf("$PAYMUX_CONFIG: %v", err)
	}
	if err := runConfigCheck(context.Background(), []string{"-config", path, path}); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "not both") {
		t.Errorf("file given twice: %v", err)
	}
}

func checkProblemsText(r *checkReport) string {
	var s []string
	for _, p := range r.problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "\n")
}

// checkPluginBinaries returns the alipay and alipayhk plugin binaries: from $PAYMUX_BIN, or built
// into a temporary directory.
func checkPluginBinaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PAYMUX_BIN"); dir != "" {
		return dir
	}
	if testing.Short() {
		t.Skip("-short: not building plugin binaries (set PAYMUX_BIN)")
	}
	dir := t.TempDir()
	for _, name := range []string{"alipay", "alipayhk", "antom"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "paymux-provider-"+name), "github.com/paymux/paymux/plugins/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building plugin %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// TestConfigCheckExampleWithPlugins runs the whole check, plugins included, on
// config.example.yaml with its binaries pinned: the example must be correct as shipped.
func TestConfigCheckExampleWithPlugins(t *testing.T) {
	bin := checkPluginBinaries(t)
	cfg, err := config.Load("../../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{}
	for name, p := range cfg.Plugins {
		p.Command = filepath.Join(bin, filepath.Base(p.Command))
		p.SHA256 = pinHexSHA(checkMustRead(t, p.Command))
		cfg.Plugins[name] = p
		pins[name] = p.SHA256
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// -plugins starts each plugin as serve does: with mutual TLS.
	var launched, mtls int
	launchPlugin = func(ctx context.Context, c sdk.LaunchConfig) (*sdk.Plugin, error) {
		p, err := sdk.Launch(ctx, c)
		if err == nil {
			launched++
			if p.MutualTLS() {
				mtls++
			}
		}
		return p, err
	}
	defer func() { launchPlugin = sdk.Launch }()
	r := &checkReport{}
	checkLoaded(ctx, cfg, true, r)
	// The only warning: the example's demo secrets.
	if len(r.problems) > 0 || len(r.warnings) != 1 || !strings.Contains(r.warnings[0].Msg, "demo secrets") {
		t.Fatalf("config.example.yaml has problems:\n%s\nwarnings: %v", checkProblemsText(r), r.warnings)
	}
	if launched != 3 || mtls != launched {
		t.Errorf("-plugins launched %d plugins, %d with mutual TLS", launched, mtls)
	}
	if !strings.Contains(r.summary, "plugins started") {
		t.Errorf("summary %q", r.summary)
	}

	// A region method the plugin does not declare, and settings the plugin refuses.
	hk := cfg.Regions["HK"]
	hk.Methods[0].Method = "wechat"
	cfg.Regions["HK"] = hk
	acct := cfg.Accounts["alipay-global-sgd"]
	acct.Settings["currency"] = config.NewSecret("XYZ")
	r = &checkReport{}
	checkLoaded(ctx, cfg, true, r)
	s := checkProblemsText(r)
	for _, frag := range []string{
		`regions.HK.methods[0].method: plugin alipayhk (account alipayhk-main) has no method "wechat" (it offers: alipayhk, alipay)`,
		`accounts.alipay-global-sgd.settings: plugin alipay refused the settings: setting currency "XYZ" is not a settlement currency of the product`,
	} {
		if !strings.Contains(s, frag) {
			t.Errorf("problems lack %q:\n%s", frag, s)
		}
	}
}

func checkMustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConfigCheckNeverPrintsSettingValues: a secret pasted where a file name belongs is reported
// by the setting's name and line only, whether it looks like a key (then blanks around it do
// not make it a file name) or not; and private key files open to group or others are warned
// about (demo keys aside: they are public anyway).
func TestConfigCheckNeverPrintsSettingValues(t *testing.T) {
	dir := t.TempDir()
	const md5Secret = "mD5-live-secret-4f1b2c3d4e5f6a7b"
	b64 := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 7) // base64, not a valid key
	t.Setenv("PMX_CHECK_PASTED_KEY", b64+" \n")
	keys := checkKeysDir()
	open := filepath.Join(dir, "merchant.pem")
	private := filepath.Join(dir, "merchant-private.pem")
	pemKey := checkMustRead(t, keys+"/test-merchant-private-DO-NOT-USE.pem")
	os.WriteFile(open, pemKey, 0o644)
	os.WriteFile(private, pemKey, 0o600)
	src := `server:
  public_url: http://127.0.0.1:8080
  api_keys: [0123456789abcdef0123]
plugins:
  a: {command: pa, sha256: ` + pinHexSHA([]byte("binary A")) + `}
accounts:
  pasted:
    plugin: a
    settings:
      private_key_file: "` + md5Secret + `"
      alipay_public_key_file: ${PMX_CHECK_PASTED_KEY}
  open:
    plugin: a
    settings:
      private_key_file: merchant.pem
  closed:
    plugin: a
    settings:
      private_key_file: merchant-private.pem
`
	os.WriteFile(filepath.Join(dir, "pa"), []byte("binary A"), 0o755)
	path := filepath.Join(dir, "paymux.yaml")
	os.WriteFile(path, []byte(src), 0o600)
	r := checkConfig(context.Background(), path, false)
	var out strings.Builder
	r.print(&out)
	got := out.String()
	for _, secret := range []string{md5Secret, b64[:40]} {
		if strings.Contains(got, secret) {
			t.Errorf("config check printed a setting's value:\n%s", got)
		}
	}
	for _, frag := range []string{
		path + ":10: accounts.pasted.settings.private_key_file: cannot read the file it names: no such file or directory",
		path + ":11: accounts.pasted.settings.alipay_public_key_file: the inline key: ",
		path + ":15: accounts.open.settings.private_key_file: warning: the key file is readable by group or others (mode 0644); make it private: chmod 600",
	} {
		if !strings.Contains(got, frag) {
			t.Errorf("report lacks %q:\n%s", frag, got)
		}
	}
	if strings.Contains(got, "accounts.closed") {
		t.Errorf("a private (0600) key file reported:\n%s", got)
	}
}
