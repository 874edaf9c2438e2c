package sdk

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/wallet"
)

// Benchmarks of the plugin boundary, paired as docs/performance.md and the design's
// benchmarking.md ask: each iteration times a call across the boundary, the same call on the
// provider in process, and a raw unix-socket round trip between two processes (this test
// binary re-executed as an echo server), so that machine noise hits all three alike.

const rawMsgSize = 300 // about one small request

// echoServer starts the echo helper process and returns its socket path.
func echoServer(b *testing.B) string {
	b.Helper()
	dir := runtimeDirFor(b)
	sock := filepath.Join(dir, "echo.sock")
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PAYMUX_SDK_TEST_HELPER=echo", "PAYMUX_SDK_TEST_SOCK="+sock)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("echo helper did not start")
	return ""
}

// helperEcho serves fixed-size echo round trips on a unix socket until killed.
func helperEcho() {
	l, err := net.Listen("unix", os.Getenv("PAYMUX_SDK_TEST_SOCK"))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(0)
		}
		go func() {
			buf := make([]byte, rawMsgSize)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					c.Close()
					return
				}
				if _, err := c.Write(buf); err != nil {
					c.Close()
					return
				}
			}
		}()
	}
}

type rawConn struct {
	c   net.Conn
	buf []byte
}

func dialRaw(b *testing.B, sock string) *rawConn {
	c, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &rawConn{c: c, buf: make([]byte, rawMsgSize)}
}

func (r *rawConn) roundTrip(b *testing.B) {
	if _, err := r.c.Write(r.buf); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(r.c, r.buf); err != nil {
		b.Fatal(err)
	}
}

var benchQuery = &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"}

// benchProviders returns the plugin's provider and an in-process one, both configured and
// holding payment o1.
func benchProviders(b *testing.B, autoMTLS bool) (remote, local core.Provider) {
	return benchProvidersEnv(b, autoMTLS, nil)
}

func benchProvidersEnv(b *testing.B, autoMTLS bool, env map[string]string) (remote, local core.Provider) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{Name: "example", Path: examplePath, SHA256: exampleSHA, RuntimeDir: runtimeDirFor(b), AutoMTLS: autoMTLS, Env: env})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Kill)
	remote, local = p.Provider(), wallet.New()
	for _, pr := range []core.Provider{remote, local} {
		if err := pr.Configure(ctx, &core.ConfigureRequest{Account: "acct1", Settings: map[string]string{"cashier_url": "https://c.test/", "hmac_key": testKey}}); err != nil {
			b.Fatal(err)
		}
		if _, err := pr.CreatePayment(ctx, createReq("o1")); err != nil {
			b.Fatal(err)
		}
	}
	return remote, local
}

func timeCall(b *testing.B, p core.Provider) time.Duration {
	t0 := time.Now()
	if _, err := p.QueryPayment(context.Background(), benchQuery); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// BenchmarkBoundary is the per-call cost of QueryPayment: across the boundary vs in process
// vs a raw socket round trip, sequential and with 8 concurrent callers.
func BenchmarkBoundary(b *testing.B) {
	sock := echoServer(b)
	for _, mtls := range []bool{false, true} {
		name := "plain"
		if mtls {
			name = "automtls"
		}
		remote, local := benchProviders(b, mtls)
		b.Run("sequential/"+name, func(b *testing.B) {
			raw := dialRaw(b, sock)
			lat := make([]time.Duration, 0, b.N)
			var plugin, inproc, rawT time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					d := timeCall(b, remote)
					lat = append(lat, d)
					plugin += d
					inproc += timeCall(b, local)
					t0 := time.Now()
					raw.roundTrip(b)
					rawT += time.Since(t0)
				} else {
					t0 := time.Now()
					raw.roundTrip(b)
					rawT += time.Since(t0)
					inproc += timeCall(b, local)
					d := timeCall(b, remote)
					lat = append(lat, d)
					plugin += d
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			n := float64(b.N)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(plugin.Nanoseconds())/n/1e3, "plugin-µs")
			b.ReportMetric(float64(inproc.Nanoseconds())/n/1e3, "inproc-µs")
			b.ReportMetric(float64(rawT.Nanoseconds())/n/1e3, "raw-µs")
			b.ReportMetric(float64(plugin)/float64(rawT), "plugin/raw")
			b.ReportMetric(float64(plugin)/float64(inproc), "plugin/inproc")
		})
		b.Run("parallel8/"+name, func(b *testing.B) {
			var plugin, rawT, calls atomic.Int64
			var mu sync.Mutex
			var conns []*rawConn
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				raw := dialRaw(b, sock)
				conns = append(conns, raw)
				mu.Unlock()
				for pb.Next() {
					plugin.Add(int64(timeCall(b, remote)))
					t0 := time.Now()
					raw.roundTrip(b)
					rawT.Add(int64(time.Since(t0)))
					calls.Add(1)
				}
			})
			b.StopTimer()
			n := float64(calls.Load())
			b.ReportMetric(float64(plugin.Load())/n/1e3, "plugin-µs")
			b.ReportMetric(float64(rawT.Load())/n/1e3, "raw-µs")
			b.ReportMetric(float64(plugin.Load())/float64(rawT.Load()), "plugin/raw")
			b.ReportMetric(float64(len(conns)), "callers")
		})
	}
}

// BenchmarkStart is Launch (exec, handshake, connect) until the first answered call, with
// and without AutoMTLS, paired.
func BenchmarkStart(b *testing.B) {
	dir := runtimeDirFor(b)
	var plain, mtls time.Duration
	start := func(auto bool) time.Duration {
		t0 := time.Now()
		p, err := Launch(context.Background(), LaunchConfig{Path: examplePath, SHA256: exampleSHA, RuntimeDir: dir, AutoMTLS: auto})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Provider().Describe(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		p.Kill()
		return d
	}
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			plain += start(false)
			mtls += start(true)
		} else {
			mtls += start(true)
			plain += start(false)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(plain.Microseconds())/n/1e3, "plain-ms")
	b.ReportMetric(float64(mtls.Microseconds())/n/1e3, "automtls-ms")
	b.ReportMetric(float64(mtls)/float64(plain), "automtls/plain")
}
