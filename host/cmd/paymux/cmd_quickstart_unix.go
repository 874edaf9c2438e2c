//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

var errAddrInUse = syscall.EADDRINUSE

// qsChild is `paymux serve` running in its own process group.
type qsChild struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when it has exited
	err     error         // its exit status, valid after done
	stopped bool
}

// qsStart starts cmd as the leader of a new process group, so that the plugins it launches
// share the group and one kill reaches them all. On Linux it also dies with the quickstart
// (Pdeathsig): the thread that starts it stays locked until it exits, because the signal
// fires when the creating thread ends, not the process.
func qsStart(cmd *exec.Cmd) (*qsChild, error) {
	cmd.SysProcAttr = qsSysProcAttr()
	c := &qsChild{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

func (c *qsChild) exitErr() error {
	if c.err == nil {
		return errors.New("exit status 0")
	}
	return c.err
}

// stop asks paymux to stop (SIGTERM: it stops its plugins itself), kills the group after
// timeout, and finally kills whatever is left in the group (a plugin whose host died). It is
// safe to call twice.
func (c *qsChild) stop(timeout time.Duration, log io.Writer) error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	pgid := c.cmd.Process.Pid
	var err error
	select {
	case <-c.done:
	default:
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(timeout):
			fmt.Fprintf(log, "quickstart: paymux did not stop within %s; killing it and its plugins\n", timeout)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-c.done
			err = fmt.Errorf("paymux serve did not stop within %s and was killed", timeout)
		}
	}
	// Anything still in the group is a plugin its host failed to stop.
	if kerr := syscall.Kill(-pgid, syscall.SIGKILL); kerr == nil {
		fmt.Fprintln(log, "quickstart: killed processes paymux serve left behind")
	}
	return err
}
