package config

import (
	"errors"
	"testing"

	"github.com/paymux/paymux/core"
)

func TestValidateMethods(t *testing.T) {
	hkd := []core.AmountRule{{Currency: "HKD", Min: 10, Max: 100000000}}
	descs := map[string]*core.Description{
		"alipayhk": {Name: "alipayhk", Methods: []core.Method{{ID: "alipayhk", AmountRules: hkd}, {ID: "alipay", AmountRules: hkd}}},
		"alipay":   {Name: "alipay", Methods: []core.Method{{ID: "alipay"}}}, // no rules: any currency
	}
	calls := map[string]int{}
	describe := func(p string) (*core.Description, error) {
		calls[p]++
		if d, ok := descs[p]; ok {
			return d, nil
		}
		return nil, errors.New("plugin exited")
	}
	good := mustParse(t, baseYAML)
	if err := ValidateMethods(good, describe); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if calls["alipayhk"] != 1 {
		t.Errorf("describe called %d times for one plugin", calls["alipayhk"])
	}

	bad := mustParse(t, `server:
  public_url: http://127.0.0.1:8080
  api_keys: [demo-key-0123456789]
plugins:
  alipay: {command: bin/a, sha256: `+testHash+`}
  alipayhk: {command: bin/hk, sha256: `+testHash+`}
  broken: {command: bin/b, sha256: `+testHash+`}
accounts:
  g: {plugin: alipay}
  hk: {plugin: alipayhk}
  b: {plugin: broken}
regions:
  HK:
    methods:
      - method: alipay
        account: hk
        currencies: [HKD, USD]
        limits:
          - {currency: HKD, min: "2000000"}
          - {currency: USD, max: "5"}
      - {method: alipayhk, account: hk, limits: [{currency: HKD, max: "0.05"}]}
      - {method: wechat, account: hk}
  SG:
    methods:
      - {method: alipay, account: g, currencies: [SGD]}
      - {method: x, account: b}
      - {method: y, account: b}
`)
	err := ValidateMethods(bad, describe)
	want := `config:7: plugins.broken: describe: plugin exited
config:17: regions.HK.methods[0].currencies[1]: method alipay does not accept USD (it accepts HKD)
config:19: regions.HK.methods[0].limits[0].min: min is above the provider's maximum 1000000.00
config:20: regions.HK.methods[0].limits[1].currency: method alipay does not accept USD (it accepts HKD)
config:21: regions.HK.methods[1].limits[0].max: max is below the provider's minimum 0.10
config:22: regions.HK.methods[2].method: plugin alipayhk (account hk) has no method "wechat" (it offers: alipayhk, alipay)`
	var ps Problems
	if !errors.As(err, &ps) || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
