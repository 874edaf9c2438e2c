package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/demo"
	"github.com/paymux/paymux/providers/antomsim"
	"github.com/paymux/paymux/providers/mapisim"
)

// embeddedExample is config.example.yaml as built into this binary (make build copies it; a
// test fails when the copy is stale), so that the quickstart runs from any directory and from a
// release archive.
//
//go:embed example.yaml
var embeddedExample []byte

// embeddedExampleFiles are the files the embedded example names by relative path: the
// simulator's throw-away test keys, written under -dir when the embedded example is used.
var embeddedExampleFiles = map[string][]byte{
	"providers/mapisim/testkeys/test-merchant-private-DO-NOT-USE.pem":              mapisim.TestMerchantPrivateKeyPEM,
	"providers/mapisim/testkeys/test-merchant-public-DO-NOT-USE.pem":               mapisim.TestMerchantPublicKeyPEM,
	"providers/mapisim/testkeys/test-alipay-public-DO-NOT-USE.pem":                 mapisim.TestAlipayPublicKeyPEM,
	"providers/mapisim/testkeys/test-sftp-client-ed25519-DO-NOT-USE":               mapisim.TestSFTPClientKeyPEM,
	"providers/mapisim/testkeys/test-sftp-client-ed25519-DO-NOT-USE.pub":           mapisim.TestSFTPClientAuthorizedKey,
	"providers/antomsim/testkeys/test-antom-merchant-private-pkcs8-DO-NOT-USE.pem": antomsim.TestMerchantPrivateKeyPEM,
	"providers/antomsim/testkeys/test-antom-public-DO-NOT-USE.pem":                 antomsim.TestAntomPublicKeyPEM,
}

func init() {
	register(&command{name: "quickstart", summary: "run the simulator, paymux (SQLite) and a demo shop on this machine", run: runQuickstart})
}

// qsOptions are the quickstart's flags.
type qsOptions struct {
	example      string // an example config to start from, never modified; "" = the embedded one
	dir          string // where the generated config and the SQLite file go
	binDir       string // plugin binaries
	paymux       string // the paymux binary that runs `serve`
	apiAddr      string
	simAddr      string
	demoAddr     string
	readyTimeout time.Duration
	stopTimeout  time.Duration
}

func runQuickstart(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	o := qsOptions{}
	fs.StringVar(&o.example, "example", "", "example config to start from, copied and never modified (default: the config.example.yaml built into paymux)")
	fs.StringVar(&o.dir, "dir", ".paymux", "directory of the generated config (paymux.yaml) and the SQLite database (paymux.db)")
	fs.StringVar(&o.binDir, "bin", "", "directory of the plugin binaries (default: the directory of this paymux binary)")
	fs.StringVar(&o.paymux, "paymux", "", "paymux binary that runs serve (default: this one)")
	fs.StringVar(&o.apiAddr, "listen", "127.0.0.1:8080", "paymux REST API address (server.listen)")
	fs.StringVar(&o.simAddr, "sim-listen", "127.0.0.1:8090", "Alipay gateway simulator address (gateway_url)")
	fs.StringVar(&o.demoAddr, "demo-listen", "127.0.0.1:8081", "demo shop and webhook receiver address (webhooks.url)")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 60*time.Second, "how long paymux may take to become ready")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 15*time.Second, "how long paymux may take to stop before it and its plugins are killed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux quickstart [flags]\n\n"+
			"Generates a pinned copy of the example config under -dir, then runs the Alipay gateway\n"+
			"simulator, paymux serve (SQLite) and a demo shop until interrupted (Ctrl-C).\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating the paymux binary: %w", err)
	}
	if o.paymux == "" {
		o.paymux = exe
	}
	if o.binDir == "" {
		o.binDir = filepath.Dir(exe)
	}
	return quickstart(ctx, o, os.Stdout, os.Stderr)
}

// qsListen claims addr for one part of the quickstart, or says clearly which port is taken.
func qsListen(addr, what, flagName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var hint string
		if errors.Is(err, errAddrInUse) {
			hint = " (another program uses it: stop it, or pick another address with -" + flagName + ")"
		}
		return nil, fmt.Errorf("port %s for the %s is not available%s: %w", addr, what, hint, err)
	}
	return ln, nil
}

func quickstart(ctx context.Context, o qsOptions, stdout, stderr io.Writer) error {
	// Claim every port first, so that a taken one fails before anything starts.
	simLn, err := qsListen(o.simAddr, "Alipay gateway simulator", "sim-listen")
	if err != nil {
		return err
	}
	defer simLn.Close()
	demoLn, err := qsListen(o.demoAddr, "demo shop", "demo-listen")
	if err != nil {
		return err
	}
	defer demoLn.Close()
	apiLn, err := qsListen(o.apiAddr, "paymux API", "listen")
	if err != nil {
		return err
	}
	// paymux serve binds it itself; released just before it starts.
	o.apiAddr, o.simAddr, o.demoAddr = apiLn.Addr().String(), simLn.Addr().String(), demoLn.Addr().String()

	cfgFile, cfg, regionOrder, err := qsWriteConfig(o, stdout)
	if err != nil {
		apiLn.Close()
		return err
	}

	// The simulators, in process, with the demo partners the example's accounts use.
	simCfg := mapisim.Config{Seed: time.Now().UnixNano(), Logf: qsPrefixed(stderr, "sim: ")}
	sim := mapisim.New(simCfg)
	defer sim.Close()
	for _, p := range demoPartners() {
		if err := sim.AddPartner(p); err != nil {
			apiLn.Close()
			return fmt.Errorf("simulator: %w", err)
		}
	}
	// The Antom simulator on the same listener, with the demo merchant the example's
	// antom-asia account uses.
	asim := antomsim.New(antomsim.Config{Seed: simCfg.Seed, Logf: simCfg.Logf})
	defer asim.Close()
	for _, m := range demoAntomMerchants() {
		if err := asim.AddMerchant(m); err != nil {
			return fmt.Errorf("antom simulator: %w", err)
		}
	}
	simSrv := &http.Server{Handler: asim.Mount(sim.Handler()), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- qsServeErr("simulator", simSrv.Serve(simLn)) }()
	defer qsShutdown(simSrv)

	// The demo shop: its webhook receiver answers the config's webhooks.url.
	shop, demoURL, err := qsDemo(o, cfg, regionOrder, stderr)
	if err != nil {
		apiLn.Close()
		return err
	}
	demoSrv := &http.Server{Handler: shop.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- qsServeErr("demo shop", demoSrv.Serve(demoLn)) }()
	defer qsShutdown(demoSrv)

	// paymux itself, as `paymux serve` in its own process group so that stopping it can never
	// leave a plugin behind.
	apiLn.Close()
	cmd := exec.Command(o.paymux, "serve", "-config", cfgFile)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.Env = os.Environ()
	serve, err := qsStart(cmd)
	if err != nil {
		return fmt.Errorf("starting paymux serve: %w", err)
	}
	stopServe := func() error { return serve.stop(o.stopTimeout, stderr) }
	defer stopServe()

	apiURL := "http://" + o.apiAddr
	if err := qsWaitReady(ctx, apiURL, o.readyTimeout, serve.done); err != nil {
		return err
	}
	qsBanner(stdout, cfg, regionOrder, apiURL, demoURL, "http://"+o.simAddr, cfgFile)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "quickstart: stopping paymux, its plugins, the demo shop and the simulator")
	case <-serve.done:
		return fmt.Errorf("paymux serve stopped on its own: %w", serve.exitErr())
	case err := <-errc:
		return err
	}
	if err := stopServe(); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "quickstart: stopped")
	return nil
}

func qsServeErr(what string, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func qsShutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
}

// qsPrefixed returns a Logf writing one prefixed line per call.
func qsPrefixed(w io.Writer, prefix string) func(string, ...any) {
	return func(format string, a ...any) { fmt.Fprintf(w, prefix+format+"\n", a...) }
}

// qsWaitReady polls GET /readyz until paymux answers 200, serve exits, or the timeout passes.
func qsWaitReady(parent context.Context, apiURL string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	last, err := bench.WaitOK(ctx, apiURL+"/readyz", 200*time.Millisecond, exited)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bench.ErrExited):
		return errors.New("paymux serve exited before it was ready (its log is above)")
	case parent.Err() != nil:
		return errors.New("interrupted before paymux was ready")
	}
	return fmt.Errorf("paymux was not ready at %s/readyz within %s (last answer: %s)", apiURL, timeout, last)
}

// qsWriteConfig writes <dir>/paymux.yaml: the example with this run's addresses, absolute
// paths (the copy lives elsewhere) and pinned plugins, and loads it.
func qsWriteConfig(o qsOptions, stdout io.Writer) (string, *config.Config, []string, error) {
	binDir, err := filepath.Abs(o.binDir)
	if err != nil {
		return "", nil, nil, err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return "", nil, nil, fmt.Errorf("creating %s: %w", o.dir, err)
	}
	p := qsRewriteParams{binDir: binDir, apiAddr: o.apiAddr, simAddr: o.simAddr, demoAddr: o.demoAddr}
	src, name := embeddedExample, "the built-in config.example.yaml"
	if o.example != "" {
		if src, err = os.ReadFile(o.example); err != nil {
			return "", nil, nil, fmt.Errorf("reading the example config (leave out -example to use the built-in one): %w", err)
		}
		if p.exampleDir, err = filepath.Abs(filepath.Dir(o.example)); err != nil {
			return "", nil, nil, err
		}
		name = o.example
	} else if p.files, err = qsWriteExampleFiles(o.dir); err != nil {
		return "", nil, nil, err
	}
	p.header = "Generated by paymux quickstart from " + name + " on every run; edits are overwritten."
	out, regions, err := qsRewrite(src, p)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	file := filepath.Join(o.dir, "paymux.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		return "", nil, nil, fmt.Errorf("writing %s: %w", file, err)
	}
	fmt.Fprintf(stdout, "quickstart: wrote %s from %s; pinning the plugins:\n", file, name)
	if err := pinPlugins(stdout, file, "", false); err != nil {
		return "", nil, nil, fmt.Errorf("pinning the plugins (run make build first): %w", err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		return "", nil, nil, fmt.Errorf("the generated config does not load: %w", err)
	}
	return file, cfg, regions, nil
}

// qsWriteExampleFiles writes the files the embedded example names (the simulator's test keys)
// under dir/testkeys and returns where each relative path now is.
func qsWriteExampleFiles(dir string) (map[string]string, error) {
	keys := filepath.Join(dir, "testkeys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", keys, err)
	}
	abs, err := filepath.Abs(keys)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rel, data := range embeddedExampleFiles {
		file := filepath.Join(abs, filepath.Base(rel))
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", file, err)
		}
		out[rel] = file
	}
	return out, nil
}

type qsRewriteParams struct {
	exampleDir, binDir         string
	files                      map[string]string // with the embedded example: relative path -> written file
	apiAddr, simAddr, demoAddr string
	header                     string
}

// qsRewrite edits the example's YAML tree: listen and public_url take apiAddr; every
// gateway_url's host becomes simAddr; webhooks.url's host becomes demoAddr; store.dsn is
// paymux.db beside the copy; plugin commands point into binDir; relative *_file settings
// become absolute. It returns the new file and the region codes in file order. Comments and
// anchors survive (yaml.v3 keeps them on the nodes).
func qsRewrite(src []byte, p qsRewriteParams) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a YAML mapping")
	}
	root := doc.Content[0]
	set := func(n *yaml.Node, v string) {
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", v, 0
		n.Alias, n.Content = nil, nil
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	require := func(path string, n *yaml.Node) error {
		if n == nil || n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: missing (the quickstart needs it)", path)
		}
		return nil
	}
	server := get(root, "server")
	listen, public := get(server, "listen"), get(server, "public_url")
	if err := errors.Join(require("server.listen", listen), require("server.public_url", public)); err != nil {
		return nil, nil, err
	}
	set(listen, p.apiAddr)
	set(public, "http://"+p.apiAddr)
	if dsn := get(get(root, "store"), "dsn"); dsn != nil {
		if drv := get(get(root, "store"), "driver"); drv != nil && drv.Value != "sqlite" {
			return nil, nil, fmt.Errorf("store.driver is %q; the quickstart runs on sqlite", drv.Value)
		}
		set(dsn, "./paymux.db")
	}
	wh := get(get(root, "webhooks"), "url")
	if err := require("webhooks.url", wh); err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(wh.Value)
	if err != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("webhooks.url %q is not an absolute URL", wh.Value)
	}
	u.Scheme, u.Host = "http", p.demoAddr
	set(wh, u.String())
	if plugins := get(root, "plugins"); plugins != nil && plugins.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(plugins.Content); i += 2 {
			if c := get(plugins.Content[i+1], "command"); c != nil && c.Kind == yaml.ScalarNode {
				set(c, filepath.Join(p.binDir, filepath.Base(c.Value)))
			}
		}
	}
	var walkErr error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			for _, c := range n.Content {
				walk(c)
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				walk(v)
				continue
			}
			switch {
			case k.Value == "gateway_url":
				g, err := url.Parse(v.Value)
				if err != nil || g.Host == "" {
					walkErr = fmt.Errorf("gateway_url %q is not an absolute URL", v.Value)
					continue
				}
				g.Scheme, g.Host = "http", p.simAddr
				set(v, g.String())
			case config.IsFileSetting(k.Value) && v.Value != "" && !strings.Contains(v.Value, "${") && !filepath.IsAbs(v.Value):
				if p.files == nil {
					set(v, filepath.Join(p.exampleDir, v.Value))
				} else if file, ok := p.files[v.Value]; ok {
					set(v, file)
				} else {
					walkErr = fmt.Errorf("%s %q is not a file the built-in example ships; pass -example FILE", k.Value, v.Value)
				}
			}
		}
	}
	walk(root)
	if walkErr != nil {
		return nil, nil, walkErr
	}
	var regions []string
	if rs := get(root, "regions"); rs != nil && rs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(rs.Content); i += 2 {
			regions = append(regions, rs.Content[i].Value)
		}
	}
	doc.HeadComment = "# " + p.header
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	// yaml.v3 spells the merge key with its tag; the example writes it plainly.
	out := bytes.ReplaceAll(buf.Bytes(), []byte("!!merge <<:"), []byte("<<:"))
	return out, regions, nil
}

// qsDemo builds the demo shop from the loaded config: its API key, its webhook secret and path,
// and each region's currencies in config order.
func qsDemo(o qsOptions, cfg *config.Config, regionOrder []string, stderr io.Writer) (*demo.Server, string, error) {
	key := ""
	for _, k := range cfg.Server.APIKeys {
		if !strings.HasPrefix(k.Value(), "sha256:") {
			key = k.Value()
			break
		}
	}
	if key == "" {
		return nil, "", errors.New("the demo shop needs a plain API key in server.api_keys (all are sha256: digests)")
	}
	wh, err := url.Parse(cfg.Webhooks.URL)
	if err != nil {
		return nil, "", fmt.Errorf("webhooks.url: %w", err)
	}
	demoURL := "http://" + o.demoAddr
	shop, err := demo.New(demo.Options{
		APIURL: "http://" + o.apiAddr, APIKey: key, WebhookSecret: cfg.Webhooks.Secret.Value(), WebhookPath: wh.Path,
		PublicURL: demoURL, Regions: qsRegions(cfg, regionOrder), WalletSimURL: "http://" + o.simAddr,
		Logf: qsPrefixed(stderr, ""),
	})
	if err != nil {
		return nil, "", err
	}
	return shop, demoURL, nil
}

// qsRegions lists each region with the currencies its methods name, in config order.
func qsRegions(cfg *config.Config, order []string) []demo.Region {
	var out []demo.Region
	for _, code := range order {
		r := demo.Region{Code: code}
		for _, m := range cfg.Regions[code].Methods {
			for _, c := range m.Currencies {
				if !slices.Contains(r.Currencies, c) {
					r.Currencies = append(r.Currencies, c)
				}
			}
		}
		if len(r.Currencies) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// qsCurl is the banner's curl line: an H5 payment of 12.30 in the first region's first
// method and currency. The demo key from the example is printed as is; a key taken from
// PAYMUX_API_KEY is referenced, never printed.
func qsCurl(cfg *config.Config, regionOrder []string, apiURL string) string {
	region, method, currency := "", "", ""
	for _, code := range regionOrder {
		for _, m := range cfg.Regions[code].Methods {
			if len(m.Currencies) > 0 {
				region, method, currency = code, m.Method, m.Currencies[0]
				break
			}
		}
		if region != "" {
			break
		}
	}
	amount, err := core.ParseMoney("12.30", currency)
	if err != nil {
		amount = core.Money{Value: 1230, Currency: currency}
	}
	auth := "Bearer $PAYMUX_API_KEY"
	if os.Getenv("PAYMUX_API_KEY") == "" && len(cfg.Server.APIKeys) > 0 {
		auth = "Bearer " + cfg.Server.APIKeys[0].Value()
	}
	body := fmt.Sprintf(`{"region":"%s","method":"%s","amount":{"value":%d,"currency":"%s"},"channel":"h5","subject":"curl order","reference":"curl-1"}`,
		region, method, amount.Value, amount.Currency)
	return fmt.Sprintf(`curl -sS -X POST %s/v1/payments -H "Authorization: %s" -H 'Content-Type: application/json' -d '%s'`, apiURL, auth, body)
}

func qsBanner(w io.Writer, cfg *config.Config, regionOrder []string, apiURL, demoURL, simURL, cfgFile string) {
	fmt.Fprintf(w, "\npaymux quickstart is running (Ctrl-C stops everything)\n\n")
	fmt.Fprintf(w, "  demo shop      %s/\n", demoURL)
	fmt.Fprintf(w, "  paymux API     %s (OpenAPI: %s/openapi.yaml)\n", apiURL, apiURL)
	fmt.Fprintf(w, "  simulator      %s (Alipay gateway, cashier, control API /sim/)\n", simURL)
	fmt.Fprintf(w, "  config         %s (SQLite: %s)\n", cfgFile, filepath.Join(filepath.Dir(cfgFile), "paymux.db"))
	fmt.Fprintf(w, "\nCreate a payment through the REST API:\n\n  %s\n\n", qsCurl(cfg, regionOrder, apiURL))
}
