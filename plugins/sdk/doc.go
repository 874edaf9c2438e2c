// Package sdk is both sides of the paymux plugin boundary.
//
// Plugin authors call Serve with their core.Provider; that is the whole main package of a
// plugin. The host (host/pluginhost) and provider tests call Launch, which starts a pinned
// plugin binary and hands back a core.Provider that talks to it over gRPC (go-plugin,
// protocol version ProtocolVersion). Core errors keep their exact code, message and provider
// code across the boundary, every call carries a deadline, and messages are bounded by
// MaxMessageSize in both directions.
package sdk
