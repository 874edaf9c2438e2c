package main

import (
	"context"
	"fmt"
)

// version is set by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register(&command{name: "version", summary: "print the version", run: func(context.Context, []string) error {
		fmt.Println("paymux", version)
		return nil
	}})
}
