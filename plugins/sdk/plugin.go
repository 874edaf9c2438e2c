package sdk

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
	"google.golang.org/grpc"
)

// ProtocolVersion is the go-plugin application protocol this SDK speaks (provider.proto v1).
// A breaking v2 is added as a second entry in the version sets below, served beside v1.
const ProtocolVersion = 1

// PluginName is the name the provider service is dispensed under within a plugin set.
const PluginName = "provider"

// MaxMessageSize bounds every message across the boundary, both directions, on both sides.
// It is raised deliberately from gRPC's 4 MiB receive default so that a large notification or
// settlement batch fits, and kept far below MaxInt32 so that a faulty plugin cannot make the
// host allocate without bound.
const MaxMessageSize = 16 << 20

// Environment variables the host sets for a plugin.
const (
	// EnvLogLevel is the hclog level name ("trace" ... "error", "off") the plugin logs at.
	EnvLogLevel = "PAYMUX_PLUGIN_LOG_LEVEL"
	// EnvParentPID is the host's PID; the plugin exits when its parent is no longer that process.
	EnvParentPID = "PAYMUX_PLUGIN_PARENT_PID"
	// EnvCPUProfile, when set in a plugin's configured environment, is a file the plugin writes
	// a pprof CPU profile of its whole run to (a diagnostic: paymux bench -plugin-cpuprofile).
	EnvCPUProfile = "PAYMUX_PLUGIN_CPUPROFILE"
)

// Handshake is shared by the host and every plugin. The cookie only stops a plugin binary from
// being run by hand as if it were a program; it is not a security measure (the SHA-256 pin is).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PAYMUX_PROVIDER_PLUGIN",
	MagicCookieValue: "5a0c3f5e9b7d4e21a8f6c2d19e4b7a03",
}

// grpcPlugin is the go-plugin glue for protocol version 1: impl and log are set in the plugin
// process, timeout in the host.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl    core.Provider
	log     hclog.Logger
	timeout time.Duration
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.impl == nil {
		return fmt.Errorf("sdk: no provider to serve")
	}
	RegisterProvider(s, p.impl, p.log)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return NewClient(cc, p.timeout), nil
}

// RegisterProvider registers p as the provider service on s. Serve does this for plugins; tests
// and benchmarks use it to serve a provider over an in-process gRPC connection.
func RegisterProvider(s grpc.ServiceRegistrar, p core.Provider, logger hclog.Logger) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	pb.RegisterProviderServer(s, &server{impl: p, log: logger})
}

// serverSets is what a plugin offers; hostSets what the host accepts. Keep their keys in step.
func serverSets(p core.Provider, logger hclog.Logger) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &grpcPlugin{impl: p, log: logger}},
	}
}

func hostSets(callTimeout time.Duration) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &grpcPlugin{timeout: callTimeout}},
	}
}

// grpcServerOptions are the plugin's gRPC server settings. Only the message bounds differ
// from gRPC's defaults: static flow-control windows (which turn off the BDP estimator) and
// stream workers were measured and made no difference per call (docs/performance.md).
func grpcServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

// grpcDialOptions are the host's; they come after go-plugin's own, so these limits replace its
// MaxInt32 ones.
func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}
}
