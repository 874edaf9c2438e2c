// Command paymux-provider-alipayhk is the AlipayHK provider plugin (bin/paymux-provider-alipayhk):
// package providers/alipayhk served over the paymux plugin boundary.
package main

import (
	"fmt"

	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/alipayhk"
)

// version is set by the Makefile (-X main.version).
var version = "dev"

func main() {
	alipayhk.Version = version
	warn := func(format string, args ...any) { sdk.Logger().Warn(fmt.Sprintf(format, args...)) }
	sdk.Serve(alipayhk.New(alipayhk.WithLogf(warn)))
}
