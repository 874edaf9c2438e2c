package sdk

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.uber.org/goleak"
)

// TestExitDuringStartLeavesNoConnection: a plugin process that exits right after its handshake
// line, before the host connects. go-plugin's Client() then dials, its stdio stream fails
// with Canceled (the process's context is done) and go-plugin v1.8.0 drops the dialed
// *grpc.ClientConn unclosed, out of Kill's reach; Launch must close it, or its goroutines leak.
//
// Deterministic, no timing: the fake plugin (this test binary as helperExitDuringStart; a
// script cannot be one, the kernel would reopen it by path after Launch removed its private
// copy) prints a valid handshake line naming a unix socket this test listens on and exits. The
// test hook holds the connect back until go-plugin has seen the exit, and the socket accepts
// but never answers HTTP/2, so the connection stays CONNECTING and the stdio stream can only
// end by the process's context. Without the fix goleak reports grpc's goroutines.
func TestExitDuringStartLeavesNoConnection(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := runtimeDirFor(t)
	sock := filepath.Join(dir, "fake.sock")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := HashFile(self)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	}()
	sawExit := false
	testHookStarted = func(c *plugin.Client) {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if c.Exited() {
				sawExit = true
				return
			}
		}
	}
	defer func() { testHookStarted = nil }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Name: "fake", Path: self, SHA256: sum, RuntimeDir: dir, Logger: testLogger(t),
		Env: map[string]string{"PAYMUX_SDK_TEST_HELPER": "exit-during-start", "FAKE_SOCK": sock}})
	if !sawExit {
		t.Fatal("the fake plugin was still running 10 s after its handshake line")
	}
	if err == nil {
		p.Kill()
		t.Fatal("Launch of a plugin that exited during its start succeeded")
	}
	// The failure is the one under test: the connect after the handshake, not the start.
	if !strings.Contains(err.Error(), "plugin fake: connect:") {
		t.Fatalf("err = %v; want the connect step to fail", err)
	}
}

// helperExitDuringStart is the fake plugin of TestExitDuringStartLeavesNoConnection: a valid
// handshake line naming the test's socket, then exit.
func helperExitDuringStart() {
	fmt.Printf("1|%d|unix|%s|grpc\n", ProtocolVersion, os.Getenv("FAKE_SOCK"))
	os.Exit(0)
}
