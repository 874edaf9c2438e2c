package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/providers/mapisim"
)

func TestLoadSimPartners(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "merchant.pem"), mapisim.TestMerchantPublicKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `partners:
  - id: "2088123412341234"
    flavour: hk
    sign_type: RSA
    merchant_public_key_file: merchant.pem
    name: Test HK
  - id: "2088123412341235"
    sign_type: MD5
    md5_key: test-md5-key-DO-NOT-USE
    currencies: [USD, EUR]
`
	path := filepath.Join(dir, "partners.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, alipayKey, _, err := loadSimPartners(path)
	if err != nil {
		t.Fatal(err)
	}
	if alipayKey != "" || len(ps) != 2 || ps[0].Flavour != "hk" || !bytes.Equal(ps[0].MerchantPublicKeyPEM, mapisim.TestMerchantPublicKeyPEM) ||
		ps[1].MD5Key != "test-md5-key-DO-NOT-USE" || len(ps[1].Currencies) != 2 {
		t.Fatalf("%+v", ps)
	}
	sim := mapisim.New(mapisim.Config{})
	defer sim.Close()
	for _, p := range ps {
		if err := sim.AddPartner(p); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	printSimBanner(&out, "http://127.0.0.1:1", "", sim, false)
	if !strings.Contains(out.String(), "2088123412341234  hk") || strings.Contains(out.String(), "test-md5-key") {
		t.Fatalf("banner:\n%s", out.String())
	}

	for name, bad := range map[string]string{
		"unknown field": "partners:\n  - id: \"2088123412341234\"\n    colour: red\n",
		"empty":         "",
		"missing key":   "partners:\n  - id: \"2088123412341234\"\n    merchant_public_key_file: nope.pem\n",
	} {
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, _, _, err := loadSimPartners(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if ps, _, am, err := loadSimPartners(""); err != nil || len(am.merchants) != 1 || len(ps) != 2 || ps[0].ID != "2088000000000001" || ps[1].Flavour != mapisim.FlavourHK {
		t.Fatalf("demo partners: %+v %v", ps, err)
	}
}

// runSim serves the gateway and the control API, and saves its state at exit.
func TestRunSimServesAndSavesState(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	state := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runSim(ctx, []string{"-listen", addr, "-sftp-listen", "", "-state", state, "-quiet", "-time-scale", "1000"})
	}()
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/sim/partners")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("paymux sim did not come up:", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(body), "2088000000000001") || !strings.Contains(string(body), "2088000000000002") {
		t.Fatalf("partners: %s", body)
	}
	resp, err := http.Get("http://" + addr + "/gateway.do?service=notify_verify&partner=2088000000000001&notify_id=x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "false" {
		t.Fatalf("notify_verify: %q", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("paymux sim did not stop")
	}
	if data, err := os.ReadFile(state); err != nil || !strings.Contains(string(data), `"version": 1`) {
		t.Fatalf("state file: %v %.80s", err, data)
	}
	if err := runSim(context.Background(), []string{"-no-such-flag"}); err == nil {
		t.Fatal("bad flag accepted")
	}
}
