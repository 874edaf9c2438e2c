package host_test

import (
	"reflect"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/config"
)

func TestSettingsFromConfig(t *testing.T) {
	t.Setenv("PMX_TEST_WEBHOOK_SECRET", "whsec-from-env-DO-NOT-USE")
	cfg, err := config.Parse([]byte(`
server:
  public_url: https://pay.example/
  api_keys: ["pmx-settings-test-key-DO-NOT-USE"]
plugins:
  alipayhk:
    command: /bin/true
    sha256: "1111111111111111111111111111111111111111111111111111111111111111"
accounts:
  hk:
    plugin: alipayhk
    settings: {partner: "2088101122136242"}
regions:
  HK:
    methods:
      - method: alipayhk
        account: hk
        currencies: [HKD]
        limits: [{currency: HKD, min: "0.10", max: "50000"}]
      - method: alipay
        account: hk
webhooks:
  url: https://shop.example/webhooks
  secret: ${PMX_TEST_WEBHOOK_SECRET}
`), t.TempDir())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	s, err := host.SettingsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []host.RegionMethod{
		{Method: "alipayhk", Account: "hk", Currencies: []string{"HKD"}, Limits: []core.AmountRule{{Currency: "HKD", Min: 10, Max: 5_000_000}}},
		{Method: "alipay", Account: "hk", Limits: []core.AmountRule{}},
	}
	if !reflect.DeepEqual(s.Regions["HK"], want) {
		t.Fatalf("HK = %+v\nwant %+v", s.Regions["HK"], want)
	}
	if s.PublicURL != "https://pay.example/" || s.WebhookURL != "https://shop.example/webhooks" || s.WebhookSecret != "whsec-from-env-DO-NOT-USE" {
		t.Fatalf("settings = %+v", s)
	}
}
