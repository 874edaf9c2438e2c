package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

func TestLoosenedSettings(t *testing.T) {
	src := strings.Replace(baseYAML, `g: {plugin: alipay, settings: {partner: "1"}}`,
		`g: {plugin: alipay, settings: {partner: "1", notify_verify: " False ", require_response_sign: "true", md5_key: "off"}}`, 1)
	if src == baseYAML {
		t.Fatal("baseYAML changed: the test no longer sets anything")
	}
	cfg := mustParse(t, src)
	bools := []string{"false", "no", "off", "0"}
	describe := func(p string) (*core.Description, error) {
		if p != "alipay" {
			return nil, errors.New("plugin exited")
		}
		return &core.Description{Name: "alipay", Settings: []core.Setting{
			{Name: "notify_verify", Loosening: bools},
			{Name: "require_response_sign", Loosening: bools},
			{Name: "md5_key", Secret: true, Loosening: bools},
			{Name: "partner"},
		}}, nil
	}
	got := LoosenedSettings(cfg, describe)
	want := []Loosened{{"g", "notify_verify", " False "}, {"g", "md5_key", "(secret)"}}
	if len(got) != len(want) {
		t.Fatalf("LoosenedSettings = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("LoosenedSettings[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The strict configuration loosens nothing.
	if got := LoosenedSettings(mustParse(t, baseYAML), describe); len(got) != 0 {
		t.Errorf("strict config: %+v", got)
	}
}
