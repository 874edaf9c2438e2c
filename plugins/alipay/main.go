// Command paymux-provider-alipay is the Alipay cross-border provider plugin: providers/alipay
// served over the paymux plugin boundary.
package main

import (
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/alipay"
)

// version is set by the Makefile (-X main.version).
var version = "dev"

func main() {
	alipay.Version = version
	sdk.Serve(alipay.New(alipay.WithLogger(sdk.Logger().Named("alipay"))))
}
