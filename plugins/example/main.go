// Command paymux-provider-example is the example provider plugin: the fake wallet of package
// wallet served over the paymux plugin boundary. Its main is the whole recipe a provider
// needs; faults.go adds misbehaviours that the host's tests switch on through the environment.
package main

import (
	"github.com/paymux/paymux/plugins/example/wallet"
	"github.com/paymux/paymux/plugins/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

// amountRounding makes a deliberately different build for the host's shadow-run tests:
// -ldflags "-X main.amountRounding=whole" rounds the amounts of notification events down to
// whole currency units, as a buggy new version might. Empty (every real build): no rounding.
var amountRounding = ""

func main() {
	wallet.Version = version
	sdk.Serve(withFaults(wallet.New()))
}
