package host_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

func newNextActionEnv(t *testing.T) (*env, *fakeProvider) {
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": fp},
		regions:  map[string][]host.RegionMethod{"HK": {{Method: "fakeweb", Account: "fake-hk"}, {Method: "fakewallet", Account: "fake-hk"}}},
	})
	return e, fp
}

// A next action with fallbacks and an app identifier is answered, stored and read back whole,
// in the shape host/openapi.yaml describes (env.call validates every answer against it).
func TestNextActionFallbacksStored(t *testing.T) {
	e, _ := newNextActionEnv(t)
	for _, tc := range []struct {
		channel string
		want    core.NextAction
	}{
		{"web", core.NextAction{Type: core.ActionQRCode, Value: "https://fake.example/qr/{o}",
			Fallbacks: []core.NextAction{{Type: core.ActionRedirectURL, Value: "https://fake.example/desk?o={o}"}}}},
		{"app", core.NextAction{Type: core.ActionAppLink, Value: "https://fake.example/al/{o}", AppIdentifier: "com.example.fake",
			Fallbacks: []core.NextAction{{Type: core.ActionDeepLink, Value: "fakewallet://pay/{o}"}, {Type: core.ActionRedirectURL, Value: "https://fake.example/pay?o={o}"}}}},
	} {
		t.Run(tc.channel, func(t *testing.T) {
			body := paymentBody("na-"+tc.channel, 1000)
			body["method"], body["channel"] = "fakeweb", tc.channel
			p := e.createPayment(body, nil)
			fill := func(a core.NextAction) core.NextAction {
				a.Value = strings.ReplaceAll(a.Value, "{o}", p.OutTradeNo)
				return a
			}
			want := fill(tc.want)
			want.Fallbacks = nil
			for _, f := range tc.want.Fallbacks {
				want.Fallbacks = append(want.Fallbacks, fill(f))
			}
			if p.NextAction == nil || !reflect.DeepEqual(*p.NextAction, want) {
				t.Fatalf("create answered next_action %+v, want %+v", p.NextAction, want)
			}
			if got := e.getPayment(p.ID); got.NextAction == nil || !reflect.DeepEqual(*got.NextAction, want) {
				t.Fatalf("read back next_action %+v, want %+v", got.NextAction, want)
			}
		})
	}
}

// A method that does not offer web refuses it; an unknown channel is refused with the list.
func TestChannelWebChecked(t *testing.T) {
	e, _ := newNextActionEnv(t)
	body := paymentBody("na-web-refused", 1000)
	body["channel"] = "web" // fakewallet offers app and h5 only
	if r := e.call("POST", "/v1/payments", body, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "does not offer channel web") {
		t.Errorf("web on an app/h5 method: %d %s", r.Status, r.Body)
	}
	body["channel"] = "desktop"
	if r := e.call("POST", "/v1/payments", body, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "app, h5 or web") {
		t.Errorf("unknown channel: %d %s", r.Status, r.Body)
	}
}

// A provider's next action that a merchant could not follow safely fails the payment instead
// of reaching the merchant.
func TestUnusableNextActionRefused(t *testing.T) {
	e, _ := newNextActionEnv(t)
	body := paymentBody("na-bad", 1000)
	body["provider_extras"] = map[string]string{"bad_action": "1"}
	r := e.call("POST", "/v1/payments", body, nil)
	if r.Status != http.StatusInternalServerError || strings.Contains(string(r.Body), "javascript") {
		t.Fatalf("unusable next action: %d %s", r.Status, r.Body)
	}
	list := e.call("GET", "/v1/payments?reference=na-bad", nil, nil)
	if !strings.Contains(string(list.Body), `"status":"failed"`) {
		t.Errorf("the payment was not failed: %s", list.Body)
	}
}

// The provider gets the path of the public notify URL, not whatever path reached the host.
func TestNotifyPathHandedToProvider(t *testing.T) {
	e, fp := newNextActionEnv(t)
	p := e.createPayment(paymentBody("na-notify", 1000), nil)
	e.payFake(p, "np1")
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.notifyPaths) != 1 || fp.notifyPaths[0] != "/notify/fake-hk" {
		t.Errorf("NotifyPath = %q, want [/notify/fake-hk]", fp.notifyPaths)
	}
}
