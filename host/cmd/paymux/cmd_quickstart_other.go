//go:build !unix

package main

import (
	"errors"
	"io"
	"os/exec"
	"syscall"
	"time"
)

var errAddrInUse = syscall.EADDRINUSE

// qsChild is a stand-in: the quickstart supervises `paymux serve` with process groups, which
// exist only on unix systems.
type qsChild struct{ done chan struct{} }

func qsStart(*exec.Cmd) (*qsChild, error) {
	return nil, errors.New("the quickstart runs on Linux and other unix systems only")
}

func (c *qsChild) exitErr() error                      { return nil }
func (c *qsChild) stop(time.Duration, io.Writer) error { return nil }
