package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	ps, alipayKey, err := loadSimPartners(path)
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
		if _, _, err := loadSimPartners(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if ps, _, err := loadSimPartners(""); err != nil || len(ps) != 2 || ps[0].ID != "2088000000000001" || ps[1].Flavour != mapisim.FlavourHK {
		t.Fatalf("demo partners: %+v %v", ps, err)
	}
}
