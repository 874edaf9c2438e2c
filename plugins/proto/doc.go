// Package providerv1 is the generated Go code of provider.proto, the wire contract between the
// paymux host and provider plugins (protocol version 1). Edit provider.proto and run
// `make proto`; `make proto-check` fails when the committed code is stale.
package providerv1
