// Command paymux-provider-antom is the Antom (Alipay+) provider plugin: providers/antom served
// over the paymux plugin boundary.
package main

import (
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/antom"
)

// version is set by the Makefile (-X main.version).
var version = "dev"

func main() {
	antom.Version = version
	sdk.Serve(antom.New(antom.WithLogger(sdk.Logger().Named("antom"))))
}
