package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymux/paymux/core"
)

// ErrChecksumMismatch is matched (errors.Is) by the error Launch returns when a binary's
// SHA-256 differs from its pin; the message names both hashes.
var ErrChecksumMismatch = errors.New("plugin binary does not match its pinned SHA-256")

// DefaultStartTimeout bounds the start of a plugin (exec, handshake, first connection) when
// the context given to Launch has no earlier deadline.
const DefaultStartTimeout = 10 * time.Second

// maxSocketDirLen keeps the unix socket path within sun_path (108 bytes on Linux) with room for
// go-plugin's "/plugin-dirNNNNNNNNNN/pluginNNNNNNNNNN" suffix (38 bytes).
const maxSocketDirLen = 68

// LaunchConfig says how to start one plugin process. Every field is copied; a config may be
// reused for any number of launches (each gets a fresh go-plugin ClientConfig, exec.Cmd and
// hash object: go-plugin's are single-use).
type LaunchConfig struct {
	// Name names the plugin in logs and errors; the binary's base name when empty.
	Name string
	// Path is the plugin binary. It is executed directly (never through a shell), so the
	// checksum covers what actually runs.
	Path string
	// SHA256 is the pinned hex SHA-256 of the binary (`paymux plugins pin`). Required.
	SHA256 string
	// Env is the plugin's whole environment beyond what the SDK sets (log level, host PID,
	// socket dir, go-plugin's handshake variables): the host's own environment is not passed.
	Env map[string]string
	// Logger receives go-plugin's messages and, under Name, the plugin's own log lines.
	// Default: a null logger.
	Logger hclog.Logger
	// RuntimeDir holds the plugin's private unix socket directory. It is created 0700 when
	// missing and must not be readable by others. Default: $TMPDIR/paymux-<uid>. Keep it short:
	// a unix socket path is limited to 108 bytes.
	RuntimeDir string
	// AutoMTLS makes go-plugin generate one-time certificates for both ends (about 40 ms more
	// per start, no measurable cost per call).
	AutoMTLS bool
	// LogLevel is the level the plugin logs at (hclog names). Default: Logger's level.
	LogLevel string
	// CallTimeout is the deadline given to calls whose context has none. Default
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// StartTimeout bounds the start when ctx has no earlier deadline. Default DefaultStartTimeout.
	StartTimeout time.Duration
}

// Plugin is one running plugin process. It cannot be restarted: launch a new one (what
// host/pluginhost does under supervision).
type Plugin struct {
	name     string
	client   *plugin.Client
	rpc      plugin.ClientProtocol
	provider *Client
	runner   *procRunner
	version  int
	mtls     bool
	// runtimeDir is where the socket directory lives (tests check it).
	runtimeDir string
}

// Launch verifies the binary against its pin, starts it, negotiates the protocol version and
// returns the running plugin. On any error nothing is left running.
func Launch(ctx context.Context, cfg LaunchConfig) (*Plugin, error) {
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin path %q: %w", cfg.Path, err)
	}
	name := cfg.Name
	if name == "" {
		name = filepath.Base(path)
	}
	want, err := parseSHA256(cfg.SHA256)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	dir, err := runtimeDir(cfg.RuntimeDir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	level := cfg.LogLevel
	if level == "" {
		level = logger.GetLevel().String()
	}
	startTimeout := cfg.StartTimeout
	if startTimeout <= 0 {
		startTimeout = DefaultStartTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < startTimeout {
			startTimeout = left
		}
	}
	if startTimeout <= 0 {
		return nil, fmt.Errorf("plugin %s: %w", name, ctx.Err())
	}

	env := pluginEnv(cfg.Env, level, dir)
	var pr *procRunner
	conns := new(connRecorder)
	clientCfg := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: hostSets(cfg.CallTimeout),
		// go-plugin's SecureConfig cannot be used with RunnerFunc (v1.8.0 hashes the empty
		// placeholder command it builds for runners), and it checks the file and then
		// executes the path, a race. The runner checks the pin itself on the bytes it reads
		// once, and starts a private copy of exactly those bytes (pinnedExecutable).
		RunnerFunc: func(l hclog.Logger, gp *exec.Cmd, _ string) (runner.Runner, error) {
			cmd := exec.Command(path)
			// go-plugin's variables (cookie, versions, client cert, socket dir) come last
			// and win over ours; with SkipHostEnv it passes nothing else.
			cmd.Env = append(append([]string{}, env...), gp.Env...)
			var err error
			pr, err = newProcRunner(name, cmd, want, dir, l)
			return pr, err
		},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         cfg.AutoMTLS,
		SkipHostEnv:      true,
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: dir},
		StartTimeout:     startTimeout,
		Logger:           logger,
		Stderr:           io.Discard,
		SyncStdout:       warnWriter{log: logger.Named(name), stream: "stdout"},
		SyncStderr:       warnWriter{log: logger.Named(name), stream: "stderr"},
		GRPCDialOptions:  append(grpcDialOptions(), grpc.WithChainStreamInterceptor(conns.intercept)),
	}
	client := plugin.NewClient(clientCfg)
	p, err := start(ctx, name, client)
	if err != nil {
		client.Kill()
		conns.closeAll()
		return nil, err
	}
	p.runner, p.runtimeDir = pr, dir
	// With AutoMTLS go-plugin loads the certificate the plugin sent in its handshake line as
	// the only trusted root; without one there is no mutual TLS.
	p.mtls = clientCfg.TLSConfig != nil && clientCfg.TLSConfig.RootCAs != nil
	return p, nil
}

// testHookStarted, when set (tests only), runs after the process printed its handshake line
// and before the host connects to it.
var testHookStarted func(*plugin.Client)

// start is the part of Launch after the go-plugin client exists.
func start(ctx context.Context, name string, client *plugin.Client) (*Plugin, error) {
	if _, err := client.Start(); err != nil {
		if errors.Is(err, ErrChecksumMismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("plugin %s: start: %w", name, err)
	}
	if testHookStarted != nil {
		testHookStarted(client)
	}
	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: connect: %w", name, err)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: dispense: %w", name, err)
	}
	p := &Plugin{name: name, client: client, rpc: rpc, version: client.NegotiatedVersion()}
	switch p.version {
	case 1:
		c, ok := raw.(*Client)
		if !ok {
			return nil, fmt.Errorf("plugin %s: protocol 1 dispensed %T", name, raw)
		}
		p.provider = c
	default:
		return nil, fmt.Errorf("plugin %s: negotiated protocol version %d, this host speaks %d", name, p.version, ProtocolVersion)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	return p, nil
}

// Provider returns the plugin as a core.Provider (also a core.PaymentCloser and a
// core.SettlementFetcher). It stops working when the process exits.
func (p *Plugin) Provider() core.Provider { return p.provider }

// Name is the plugin's name from LaunchConfig.
func (p *Plugin) Name() string { return p.name }

// Pid is the plugin process's id.
func (p *Plugin) Pid() int { return p.runner.pid }

// MutualTLS reports whether the connection to the plugin uses mutual TLS: both ends exchanged
// one-time certificates in the handshake (LaunchConfig.AutoMTLS).
func (p *Plugin) MutualTLS() bool { return p.mtls }

// NegotiatedVersion is the protocol version agreed in the handshake.
func (p *Plugin) NegotiatedVersion() int { return p.version }

// Done is closed when the plugin process has exited (crashed, killed or stopped).
func (p *Plugin) Done() <-chan struct{} { return p.runner.done }

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool {
	select {
	case <-p.runner.done:
		return true
	default:
		return p.client.Exited()
	}
}

// Ping checks that the plugin's gRPC server answers, within ctx's deadline (go-plugin's own
// Ping has none).
func (p *Plugin) Ping(ctx context.Context) error {
	g, ok := p.rpc.(*plugin.GRPCClient)
	if !ok {
		return p.rpc.Ping()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := grpc_health_v1.NewHealthClient(g.Conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return fromStatus("health check", true, err)
	}
	if res.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return core.Errorf(core.EUNAVAILABLE, "plugin %s reports %s", p.name, res.GetStatus())
	}
	return nil
}

// Kill stops the plugin: a graceful shutdown request, then SIGKILL after 2 s (go-plugin), all
// bounded by 5 s. It is safe to call more than once and on an exited plugin.
func (p *Plugin) Kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.KillContext(ctx)
}

// KillContext is Kill bounded by ctx: when ctx ends first the process is killed at once and
// ctx's error returned (go-plugin's own cleanup goes on in the background).
func (p *Plugin) KillContext(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = p.runner.Kill(context.Background())
		return fmt.Errorf("plugin %s: stop: %w", p.name, ctx.Err())
	}
}

// HashFile returns the hex SHA-256 of the file at path: the pin `paymux plugins pin` writes.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func parseSHA256(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "sha256:")))
	if s == "" {
		return "", errors.New("no SHA-256 pinned (run `paymux plugins pin`)")
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("pinned SHA-256 %q is not 64 hex digits", s)
	}
	return s, nil
}

// runtimeDir makes sure the directory for plugin sockets exists and is private.
func runtimeDir(dir string) (string, error) {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "paymux-"+strconv.Itoa(os.Getuid()))
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if len(dir) > maxSocketDirLen {
		return "", fmt.Errorf("runtime dir %s is longer than %d bytes; unix socket paths would not fit", dir, maxSocketDirLen)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("runtime dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("runtime dir: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("runtime dir %s has mode %v; it must be private (0700)", dir, fi.Mode().Perm())
	}
	return dir, nil
}

// pluginEnv is the plugin's whole environment: what the config declares, then what the SDK
// sets. PLUGIN_UNIX_SOCKET_DIR is set here too (go-plugin notes §3.11: its UnixSocketConfig is
// ignored by the default runner); with our runner go-plugin appends its own private
// subdirectory of dir, which wins, so the socket always lands inside dir.
func pluginEnv(declared map[string]string, level, dir string) []string {
	env := make([]string, 0, len(declared)+3)
	for k, v := range declared {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return append(env,
		EnvLogLevel+"="+level,
		EnvParentPID+"="+strconv.Itoa(os.Getpid()),
		"PLUGIN_UNIX_SOCKET_DIR="+dir,
	)
}

// connRecorder remembers every gRPC connection go-plugin dials to the plugin, from the first
// stream opened on it: go-plugin v1.8.0 (grpc_client.go: newGRPCClient) opens two right after
// dialing, the broker's and the stdio stream. When the stdio stream fails with anything but
// Unavailable or Unimplemented (Canceled when the process exited between its handshake line and
// the connect), Client() returns the error and forgets the connection unclosed; Client.Kill
// then calls Client() again, which dials and forgets a second one the same way. Their goroutines
// would leak for the life of the host, at every such start. Launch closes them (closeAll) when
// the start failed. Only streams are intercepted: unary calls, the hot path, are not.
type connRecorder struct {
	last  atomic.Pointer[grpc.ClientConn] // the latest recorded: the check of every later stream
	mu    sync.Mutex
	conns []*grpc.ClientConn
}

func (r *connRecorder) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if r.last.Load() != cc {
		r.record(cc)
	}
	return streamer(ctx, desc, cc, method, opts...)
}

func (r *connRecorder) record(cc *grpc.ClientConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last.Store(cc)
	for _, c := range r.conns {
		if c == cc {
			return
		}
	}
	r.conns = append(r.conns, cc)
}

// closeAll closes every recorded connection: only once the start has failed and the client is
// killed (closing one go-plugin still uses would break it).
func (r *connRecorder) closeAll() {
	r.mu.Lock()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, cc := range conns {
		_ = cc.Close()
	}
}
