package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/wallet"
)

// Test-only misbehaviours, switched on by environment variables that only tests set (the host
// passes a plugin nothing but the variables its config declares). They let the host's tests
// use a real subprocess for every failure the plugin boundary must survive.
const (
	// EnvCrashAfter=N: the process exits with status 2 on call N+1 (counting every call).
	EnvCrashAfter = "PAYMUX_EXAMPLE_CRASH_AFTER"
	// EnvHang=Method[,Method] or "*": those calls block until their context ends.
	EnvHang = "PAYMUX_EXAMPLE_HANG"
	// EnvStdoutGarbage=1: print a line to stdout before serving (breaks the handshake).
	EnvStdoutGarbage = "PAYMUX_EXAMPLE_STDOUT_GARBAGE"
	// EnvStderrMalformed=1: write log lines that panic go-plugin's parser, at start and per call.
	EnvStderrMalformed = "PAYMUX_EXAMPLE_STDERR_MALFORMED"
	// EnvHugeResponse=N: CreatePayment's action value is N bytes long.
	EnvHugeResponse = "PAYMUX_EXAMPLE_HUGE_RESPONSE"
	// EnvStrayOutput=1: every call prints to os.Stdout and os.Stderr (after the handshake
	// go-plugin carries these to the host, which shows them as warnings).
	EnvStrayOutput = "PAYMUX_EXAMPLE_STRAY_OUTPUT"
	// EnvPanicAccount=acct: every call for that account panics (with a message quoting
	// panicSecret, which must never reach the host's log at info level); other accounts are
	// served as usual.
	EnvPanicAccount = "PAYMUX_EXAMPLE_PANIC_ACCOUNT"
	// EnvCrashOn=Method[,Method]: the process exits with status 3 when such a call arrives (a
	// shadow run's tests prove that effectful calls never reach the shadow).
	EnvCrashOn = "PAYMUX_EXAMPLE_CRASH_ON"
)

// panicSecret stands for a secret a provider happens to hold when it panics.
const panicSecret = "example-panic-secret-DO-NOT-LOG"

// malformedLines are hclog-looking JSON lines with non-string @message/@level/@timestamp.
var malformedLines = []string{
	`{"@message": 5, "@level": "info"}`,
	`{"@message": "x", "@level": 7}`,
	`{"@message": null, "@level": "warn", "@timestamp": 12}`,
}

// realStderr is the stderr the host parses as log lines; sdk.Serve later swaps os.Stderr for a
// pipe into go-plugin's stdio stream.
var realStderr = os.Stderr

type faulty struct {
	*wallet.Provider
	calls      atomic.Int64
	crashAfter int64
	hang       map[string]bool
	crashOn    map[string]bool
	round      bool
	malformed  bool
	stray      bool
	huge       int
	panicAcct  string
}

func withFaults(p *wallet.Provider) core.Provider {
	f := &faulty{Provider: p, hang: map[string]bool{}, crashOn: map[string]bool{}, round: amountRounding == "whole"}
	for _, m := range strings.Split(os.Getenv(EnvCrashOn), ",") {
		if m != "" {
			f.crashOn[m] = true
		}
	}
	f.crashAfter, _ = strconv.ParseInt(os.Getenv(EnvCrashAfter), 10, 64)
	for _, m := range strings.Split(os.Getenv(EnvHang), ",") {
		if m != "" {
			f.hang[m] = true
		}
	}
	f.malformed = os.Getenv(EnvStderrMalformed) == "1"
	f.huge, _ = strconv.Atoi(os.Getenv(EnvHugeResponse))
	f.stray = os.Getenv(EnvStrayOutput) == "1"
	f.panicAcct = os.Getenv(EnvPanicAccount)
	if os.Getenv(EnvStdoutGarbage) == "1" {
		fmt.Println("example plugin starting up (this line breaks the handshake)")
	}
	if f.malformed {
		f.writeMalformed()
	}
	return f
}

func (f *faulty) writeMalformed() {
	for _, l := range malformedLines {
		fmt.Fprintln(realStderr, l)
	}
}

// before runs the switched-on faults for one call. A hanging call returns its context's error
// once the host gave up, never a result (which could race the host's deadline).
func (f *faulty) before(ctx context.Context, method, account string) error {
	n := f.calls.Add(1)
	if f.crashAfter > 0 && n > f.crashAfter {
		fmt.Fprintf(realStderr, "example plugin: crashing on call %d (%s) as asked\n", n, method)
		os.Exit(2)
	}
	if f.crashOn[method] {
		fmt.Fprintf(realStderr, "example plugin: crashing on %s as asked\n", method)
		os.Exit(3)
	}
	if f.malformed {
		f.writeMalformed()
	}
	if f.stray {
		fmt.Println("stray stdout from", method)
		fmt.Fprintln(os.Stderr, "stray stderr from", method)
	}
	if f.panicAcct != "" && account == f.panicAcct {
		panic(fmt.Sprintf("example plugin: %s for %s panics as asked (holding %s)", method, account, panicSecret))
	}
	if f.hang["*"] || f.hang[method] {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *faulty) Describe(ctx context.Context) (*core.Description, error) {
	if err := f.before(ctx, "Describe", ""); err != nil {
		return nil, err
	}
	return f.Provider.Describe(ctx)
}

func (f *faulty) Configure(ctx context.Context, req *core.ConfigureRequest) error {
	if err := f.before(ctx, "Configure", req.Account); err != nil {
		return err
	}
	return f.Provider.Configure(ctx, req)
}

func (f *faulty) CreatePayment(ctx context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	if err := f.before(ctx, "CreatePayment", req.Account); err != nil {
		return nil, err
	}
	res, err := f.Provider.CreatePayment(ctx, req)
	if err == nil && f.huge > 0 {
		res.Action.Value = strings.Repeat("x", f.huge)
	}
	return res, err
}

func (f *faulty) VerifyClientResult(ctx context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	if err := f.before(ctx, "VerifyClientResult", req.Account); err != nil {
		return nil, err
	}
	return f.Provider.VerifyClientResult(ctx, req)
}

func (f *faulty) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	if err := f.before(ctx, "ParseNotification", req.Account); err != nil {
		return nil, err
	}
	res, err := f.Provider.ParseNotification(ctx, req)
	if err == nil && f.round {
		for i := range res.Events {
			if exp, ok := core.CurrencyExponent(res.Events[i].Amount.Currency); ok && exp > 0 {
				unit := int64(1)
				for range exp {
					unit *= 10
				}
				res.Events[i].Amount.Value -= res.Events[i].Amount.Value % unit
			}
		}
	}
	return res, err
}

func (f *faulty) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	if err := f.before(ctx, "QueryPayment", req.Account); err != nil {
		return nil, err
	}
	return f.Provider.QueryPayment(ctx, req)
}

func (f *faulty) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	if err := f.before(ctx, "Refund", req.Account); err != nil {
		return nil, err
	}
	return f.Provider.Refund(ctx, req)
}

func (f *faulty) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	if err := f.before(ctx, "QueryRefund", req.Account); err != nil {
		return nil, err
	}
	return f.Provider.QueryRefund(ctx, req)
}

func (f *faulty) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	if err := f.before(ctx, "Close", req.Account); err != nil {
		return nil, err
	}
	return f.Provider.Close(ctx, req)
}

func (f *faulty) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	if err := f.before(ctx, "FetchSettlement", req.Account); err != nil {
		return err
	}
	return f.Provider.FetchSettlement(ctx, req, yield)
}
