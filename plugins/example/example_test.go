package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/conformance"
	"github.com/paymux/paymux/plugins/example/examplebin"
	"github.com/paymux/paymux/plugins/example/wallet"
	"github.com/paymux/paymux/plugins/sdk"
)

var binPath, binSHA string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pmxex")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if binPath, err = examplebin.Path(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if binSHA, err = sdk.HashFile(binPath); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

const testKey = "test-hmac-key-DO-NOT-USE"

// TestConformanceOverTheBoundary runs the conformance kit against the real plugin binary.
func TestConformanceOverTheBoundary(t *testing.T) {
	rt, err := os.MkdirTemp("", "pmx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(rt)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pl, err := sdk.Launch(ctx, sdk.LaunchConfig{Name: "example", Path: binPath, SHA256: binSHA, RuntimeDir: rt})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Kill()
	conformance.Run(t, conformance.Harness{
		Provider: pl.Provider(),
		Account:  "acct1",
		Settings: map[string]string{"cashier_url": "https://cashier.example.test/pay", "hmac_key": testKey},
		Method:   wallet.MethodID,
		Channel:  core.ChannelH5,
		Amount:   core.Money{Value: 300, Currency: "USD"},
		Pay: func(ctx context.Context, action core.NextAction) (map[string]string, error) {
			return wallet.Pay(ctx, []byte(testKey), action)
		},
	})
}
