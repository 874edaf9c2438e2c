package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/antomsim"
	"github.com/paymux/paymux/providers/mapisim"
)

// Names used by the stack: a simulator partner and the host account that uses it.
const (
	Partner  = "2088000000000001"
	Account  = "bench-global"
	Region   = "US"
	Method   = "alipay"
	Currency = "USD"
	// APIKey is the throw-away key of the host under test.
	APIKey = "pmx-bench-key-DO-NOT-USE"
	// PluginBinary is the Alipay plugin's executable name (make build puts it in bin/).
	PluginBinary = "paymux-provider-alipay"
)

// The Antom account of a stack started with Provider "antom": an antomsim merchant and the
// host account (GCash in the Philippines) that uses it.
const (
	ProviderAlipay = "alipay"
	ProviderAntom  = "antom"

	AntomClientID = "5X0000000000BENCH"
	AntomAccount  = "bench-antom"
	AntomRegion   = "PH"
	AntomMethod   = "gcash"
	AntomCurrency = "PHP"
	// AntomPluginBinary is the Antom plugin's executable name.
	AntomPluginBinary = "paymux-provider-antom"
)

// requireLoopback refuses any address that is not a loopback IP: the bench and the fault
// suite generate load and must never aim it at another machine.
func requireLoopback(hostport string) error {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	ip := net.ParseIP(h)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback IP (127.0.0.0/8 or ::1); refusing to send load elsewhere", hostport)
	}
	return nil
}

// RequireLoopbackURL is requireLoopback for a base URL such as http://127.0.0.1:8080.
func RequireLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: not an http(s) URL", raw)
	}
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), "80")
	}
	return requireLoopback(hp)
}

// StackOptions configure a simulator plus a paymux host on loopback.
type StackOptions struct {
	Store string // sqlite (default) or postgres
	DSN   string // postgres URL; sqlite: a file (default: in WorkDir)
	// Provider is the host account's provider: ProviderAlipay (default: the mapi simulator,
	// account Account) or ProviderAntom (the antomsim simulator, account AntomAccount).
	Provider string
	// PluginPath is the provider's plugin binary (PluginBinary or AntomPluginBinary).
	PluginPath string
	// HostArgv starts the host as a child process: argv, to which the path of a HostConfig
	// JSON file is appended; the child calls RunHost and prints ReadyPrefix. Empty runs the host
	// in this process (its memory then includes the load generator's).
	HostArgv []string
	// ServeArgv, when set, runs the real `paymux serve` instead (e.g. {"/path/paymux", "serve"}):
	// the stack writes a paymux YAML config for it and appends "-config <file>"; readiness is
	// GET /healthz. It takes precedence over HostArgv.
	ServeArgv []string
	// HostEnv is added to the child's environment.
	HostEnv []string
	// WorkDir holds the config, keys, the SQLite file and the host's log. Required.
	WorkDir string
	// BackoffMin is the plugin restart delay (default 200ms).
	BackoffMin time.Duration
	// CallTimeout bounds provider calls in the host (default 10s).
	CallTimeout time.Duration
	// SimConfig tunes the simulator (faults are set later on Stack.Sim).
	SimConfig mapisim.Config
	// AntomConfig tunes the Antom simulator (Provider "antom"; faults are set on Stack.Antom).
	AntomConfig antomsim.Config
	// Sim and SimURL, when set, make this stack use another stack's running simulator (two
	// hosts, one gateway); Close then leaves it running.
	Sim    *mapisim.Sim
	SimURL string
	// Settings override or add account settings of the plugin (e.g. a short gateway timeout).
	Settings map[string]string
	// HostCPUProfile, when set, makes the host write a pprof CPU profile there (an absolute
	// path; the serve host is asked through PAYMUX_CPUPROFILE, see cmd_serve.go).
	HostCPUProfile string
	// HostLogLevel is the host's log level (default error: the access log of every request is
	// then not written).
	HostLogLevel string
	// HostSpin makes the host burn this much CPU per request (a deliberate slowdown for the CI
	// gate's failure check; host child or in process only).
	HostSpin time.Duration
	// PluginCPUProfile, when set, makes the plugin process write a pprof CPU profile there (an
	// absolute path, passed in sdk.EnvCPUProfile).
	PluginCPUProfile string
	// HostLog receives the host child's stderr; nil writes it to WorkDir/host.log.
	HostLog io.Writer
}

// Stack is a running simulator and paymux host.
type Stack struct {
	Sim    *mapisim.Sim  // the mapi simulator (Provider "alipay")
	Antom  *antomsim.Sim // the Antom simulator (Provider "antom")
	SimURL string
	// Account, Region, Method and Currency are the host account under test and the route its
	// payments take.
	Account, Region, Method, Currency string
	URL                               string // base URL of the host's API
	Client                            *Client

	opts      StackOptions
	sharedSim bool // the simulator belongs to another stack
	cfg       HostConfig
	cfgPath   string
	simSrv    *http.Server
	child     *exec.Cmd
	waited    chan struct{}
	stopIn    context.CancelFunc // in-process host
	inDone    chan error
	logFile   *os.File
}

// StartStack starts the simulator and the host and waits until the host serves.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	if o.WorkDir == "" {
		return nil, errors.New("bench: StackOptions.WorkDir is required")
	}
	// The host child may run elsewhere: every path it reads is absolute.
	wd, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return nil, err
	}
	o.WorkDir = wd
	if o.Store == "" {
		o.Store = "sqlite"
	}
	if o.DSN == "" {
		if o.Store != "sqlite" {
			return nil, fmt.Errorf("bench: store %s needs a DSN", o.Store)
		}
		o.DSN = filepath.Join(o.WorkDir, "paymux.db")
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 200 * time.Millisecond
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.PluginPath, err = filepath.Abs(o.PluginPath); err != nil {
		return nil, err
	}
	sum, err := sdk.HashFile(o.PluginPath)
	if err != nil {
		return nil, fmt.Errorf("bench: plugin binary (build it with make build): %w", err)
	}
	if o.Provider == "" {
		o.Provider = ProviderAlipay
	}
	s := &Stack{opts: o}
	if o.Provider == ProviderAntom {
		if o.Sim != nil {
			return nil, errors.New("bench: a shared simulator is for the alipay provider only")
		}
		if err := s.startAntom(ctx, sum); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	if o.Provider != ProviderAlipay {
		return nil, fmt.Errorf("bench: unknown provider %q (want %s or %s)", o.Provider, ProviderAlipay, ProviderAntom)
	}
	s.Account, s.Region, s.Method, s.Currency = Account, Region, Method, Currency
	if o.Sim != nil {
		if err := RequireLoopbackURL(o.SimURL); err != nil {
			return nil, err
		}
		s.Sim, s.SimURL, s.sharedSim = o.Sim, o.SimURL, true
	} else {
		s.Sim = mapisim.New(o.SimConfig)
		if err := s.Sim.AddPartner(mapisim.Partner{ID: Partner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM}); err != nil {
			s.Sim.Close()
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Sim.Close()
			return nil, fmt.Errorf("bench: simulator listener: %w", err)
		}
		s.simSrv = &http.Server{Handler: s.Sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.simSrv.Serve(ln) }()
		s.SimURL = "http://" + ln.Addr().String()
	}

	keyFile := filepath.Join(o.WorkDir, "test-merchant-private-DO-NOT-USE.pem")
	pubFile := filepath.Join(o.WorkDir, "test-alipay-public-DO-NOT-USE.pem")
	if err := os.WriteFile(keyFile, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	if err := os.WriteFile(pubFile, mapisim.TestAlipayPublicKeyPEM, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	rt, err := os.MkdirTemp("", "pmxb")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.cfg = HostConfig{
		Listen: "127.0.0.1:0", Store: o.Store, DSN: o.DSN, APIKey: APIKey,
		Plugin: "alipay", Command: o.PluginPath, SHA256: sum, Account: Account, Region: Region, Method: Method,
		RuntimeDir: rt, CallTimeout: o.CallTimeout, BackoffMin: o.BackoffMin, CPUProfile: o.HostCPUProfile, PluginEnv: pluginEnv(o), Spin: o.HostSpin, LogLevel: o.HostLogLevel,
		Settings: map[string]string{
			"gateway_url": s.SimURL + "/gateway.do", "sign_type": "RSA2", "app_sign_type": "RSA2",
			"private_key_file": keyFile, "alipay_public_key_file": pubFile,
			"partner": Partner, "seller_id": Partner, "currency": Currency,
			"notify_verify": "false", "it_b_pay": "30m", "timeout": "5s",
		},
	}
	for k, v := range o.Settings {
		s.cfg.Settings[k] = v
	}
	s.cfgPath = filepath.Join(o.WorkDir, "host.json")
	if err := s.startHost(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startAntom starts antomsim with the bench merchant and the host with an Antom account.
func (s *Stack) startAntom(ctx context.Context, sum string) error {
	o := s.opts
	s.Account, s.Region, s.Method, s.Currency = AntomAccount, AntomRegion, AntomMethod, AntomCurrency
	s.Antom = antomsim.New(o.AntomConfig)
	if err := s.Antom.AddMerchant(antomsim.Merchant{ClientID: AntomClientID, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM, Name: "paymux bench"}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: simulator listener: %w", err)
	}
	s.simSrv = &http.Server{Handler: s.Antom.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.simSrv.Serve(ln) }()
	s.SimURL = "http://" + ln.Addr().String()
	keyFile := filepath.Join(o.WorkDir, "test-antom-merchant-private-DO-NOT-USE.pem")
	pubFile := filepath.Join(o.WorkDir, "test-antom-public-DO-NOT-USE.pem")
	if err := os.WriteFile(keyFile, antomsim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pubFile, s.Antom.AntomPublicKeyPEM(), 0o600); err != nil {
		return err
	}
	rt, err := os.MkdirTemp("", "pmxb")
	if err != nil {
		return err
	}
	s.cfg = HostConfig{
		Listen: "127.0.0.1:0", Store: o.Store, DSN: o.DSN, APIKey: APIKey,
		Plugin: "antom", Command: o.PluginPath, SHA256: sum, Account: AntomAccount, Region: AntomRegion, Method: AntomMethod,
		RuntimeDir: rt, CallTimeout: o.CallTimeout, BackoffMin: o.BackoffMin, CPUProfile: o.HostCPUProfile, PluginEnv: pluginEnv(o), Spin: o.HostSpin, LogLevel: o.HostLogLevel,
		Settings: map[string]string{
			"client_id": AntomClientID, "gateway_url": s.SimURL,
			"private_key_file": keyFile, "antom_public_key_file": pubFile, "timeout": "5s",
		},
	}
	for k, v := range o.Settings {
		s.cfg.Settings[k] = v
	}
	s.cfgPath = filepath.Join(o.WorkDir, "host.json")
	return s.startHost(ctx)
}

// EnvServeCPUProfile names the file paymux serve writes a CPU profile of its whole run to (a
// diagnostic switch of the serve command, used by paymux bench -host-cpuprofile).
const EnvServeCPUProfile = "PAYMUX_CPUPROFILE"

// pluginEnv is the environment the bench gives the plugin process.
func pluginEnv(o StackOptions) map[string]string {
	if o.PluginCPUProfile == "" {
		return nil
	}
	return map[string]string{sdk.EnvCPUProfile: o.PluginCPUProfile}
}

// NotifyPath is the host's notification path of the account under test.
func (s *Stack) NotifyPath() string { return "/notify/" + s.Account }

// HostConfig returns the config the host runs with.
func (s *Stack) HostConfig() HostConfig { return s.cfg }

func (s *Stack) startHost(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if len(s.opts.HostArgv) == 0 && len(s.opts.ServeArgv) == 0 {
		hctx, stop := context.WithCancel(context.Background())
		readyc, done := make(chan string, 1), make(chan error, 1)
		go func() { done <- RunHost(hctx, s.cfg, func(a string) { readyc <- a }) }()
		select {
		case a := <-readyc:
			s.stopIn, s.inDone = stop, done
			return s.hostReady(a)
		case err := <-done:
			stop()
			return fmt.Errorf("bench: host: %w", err)
		case <-ctx.Done():
			stop()
			<-done
			return fmt.Errorf("bench: host did not start: %w", ctx.Err())
		}
	}
	var argv []string
	if len(s.opts.ServeArgv) > 0 {
		if s.cfg.Listen == "127.0.0.1:0" {
			// serve announces nothing: pick the port now (and keep it across restarts).
			port, err := freePort()
			if err != nil {
				return err
			}
			s.cfg.Listen = port
		}
		yml := filepath.Join(s.opts.WorkDir, "paymux.yaml")
		if err := writeServeConfig(yml, s.cfg); err != nil {
			return err
		}
		argv = append(append([]string{}, s.opts.ServeArgv...), "-config", yml)
	} else {
		if err := WriteHostConfig(s.cfgPath, s.cfg); err != nil {
			return err
		}
		argv = append(append([]string{}, s.opts.HostArgv...), s.cfgPath)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.opts.HostEnv...)
	if len(s.opts.ServeArgv) > 0 && s.cfg.CPUProfile != "" {
		cmd.Env = append(cmd.Env, EnvServeCPUProfile+"="+s.cfg.CPUProfile)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if s.opts.HostLog != nil {
		cmd.Stderr = s.opts.HostLog
	} else {
		if s.logFile == nil {
			f, err := os.OpenFile(filepath.Join(s.opts.WorkDir, "host.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			s.logFile = f
		}
		cmd.Stderr = s.logFile
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: starting host %s: %w", argv[0], err)
	}
	s.child, s.waited = cmd, make(chan struct{})
	readyc := make(chan string, 1)
	if len(s.opts.ServeArgv) > 0 {
		go func(addr string) {
			if _, err := WaitOK(ctx, "http://"+addr+"/healthz", 20*time.Millisecond, s.waited); err == nil {
				select {
				case readyc <- addr:
				default:
				}
			}
		}(s.cfg.Listen)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), ReadyPrefix+" "); ok {
				select {
				case readyc <- a:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(s.waited)
	}()
	select {
	case a := <-readyc:
		return s.hostReady(a)
	case <-s.waited:
		return fmt.Errorf("bench: host exited before serving: %v (see its log)", cmd.ProcessState)
	case <-ctx.Done():
		s.KillHost()
		return fmt.Errorf("bench: host did not start: %w", ctx.Err())
	}
}

func (s *Stack) hostReady(addr string) error {
	if err := requireLoopback(addr); err != nil {
		return err
	}
	s.URL = "http://" + addr
	if s.Client == nil {
		s.Client = NewClient(s.URL, APIKey, 64)
		s.Client.SetRoute(s.Region, s.Method, s.Currency)
		if s.Antom != nil {
			// Antom sends the buyer back there; the bench's buyer never follows it.
			s.Client.SetReturnURL("http://127.0.0.1/bench/return")
		}
	} else {
		s.Client.SetBase(s.URL)
	}
	return nil
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ErrExited is WaitOK's answer when the process it waits for exits first.
var ErrExited = errors.New("exited before it answered 200")

// WaitOK polls GET url every interval (each try bounded to 2 s) until it answers 200, exited
// closes (ErrExited) or ctx ends (ctx's error). last describes the latest answer (status and
// body start, or the transport error) for the caller's message. The one readiness poll of
// Stack's serve child and of paymux quickstart.
func WaitOK(ctx context.Context, url string, interval time.Duration, exited <-chan struct{}) (last string, err error) {
	client := &http.Client{Timeout: 2 * time.Second}
	last = "none yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return last, err
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "", nil
			}
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			return last, ErrExited
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// HostPID is the host's process id (this process when the host runs in process).
func (s *Stack) HostPID() int {
	if s.child != nil && s.child.Process != nil {
		return s.child.Process.Pid
	}
	return os.Getpid()
}

// PluginPIDs are the live plugin processes of the host.
func (s *Stack) PluginPIDs() []int { return ChildrenNamed(s.HostPID(), "paymux-provider-") }

// KillHost sends SIGKILL to a host child and waits for it (a no-op in process).
func (s *Stack) KillHost() {
	if s.child == nil {
		return
	}
	_ = s.child.Process.Kill()
	<-s.waited
	s.child = nil
}

// StopHost stops the host gracefully (SIGTERM, then SIGKILL after 10 s).
func (s *Stack) StopHost() {
	if s.stopIn != nil {
		s.stopIn()
		<-s.inDone
		s.stopIn = nil
		return
	}
	if s.child == nil {
		return
	}
	_ = s.child.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waited:
	case <-time.After(10 * time.Second):
		_ = s.child.Process.Kill()
		<-s.waited
	}
	s.child = nil
}

// RestartHost starts the host again on the same store (after KillHost or StopHost). Its
// address changes; Client follows.
func (s *Stack) RestartHost(ctx context.Context) error { return s.startHost(ctx) }

// Close stops the host and the simulator and removes the plugin socket directory.
func (s *Stack) Close() {
	s.StopHost()
	if s.simSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.simSrv.Shutdown(ctx)
		cancel()
	}
	if s.Sim != nil && !s.sharedSim {
		s.Sim.Close()
	}
	if s.Antom != nil {
		s.Antom.Close()
	}
	if s.cfg.RuntimeDir != "" {
		_ = os.RemoveAll(s.cfg.RuntimeDir)
	}
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
	if s.Client != nil {
		s.Client.Close()
	}
}
