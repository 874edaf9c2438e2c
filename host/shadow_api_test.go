package host_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/plugins/example/wallet"
	"github.com/paymux/paymux/plugins/sdk"
)

// TestPluginShadowRoute runs the example plugin with a shadow build that rounds notification
// amounts, makes it differ once, and reads GET /v1/plugins/{name}/shadow: the answer matches
// the OpenAPI document, shows the difference without the account's secret, and is for
// administrator keys only.
func TestPluginShadowRoute(t *testing.T) {
	live := pluginBinary(t, "example")
	candidate := filepath.Join(t.TempDir(), "paymux-provider-example-candidate")
	if b, err := exec.Command("go", "build", "-ldflags", "-X main.version=2.0.0 -X main.amountRounding=whole",
		"-o", candidate, "github.com/paymux/paymux/plugins/example").CombinedOutput(); err != nil {
		t.Fatalf("building the candidate: %v\n%s", err, b)
	}
	liveSHA, err := sdk.HashFile(live)
	if err != nil {
		t.Fatal(err)
	}
	candidateSHA, err := sdk.HashFile(candidate)
	if err != nil {
		t.Fatal(err)
	}
	runtime, err := os.MkdirTemp("", "pmxsh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	m := pluginhost.New(pluginhost.Options{RuntimeDir: runtime})
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	ctx := context.Background()
	err = m.Start(ctx, []pluginhost.Spec{
		{Name: "example", Command: live, SHA256: liveSHA, Shadow: &pluginhost.ShadowSpec{Command: candidate, SHA256: candidateSHA}},
		{Name: "plain", Command: live, SHA256: liveSHA},
	})
	if err != nil {
		t.Fatal(err)
	}
	const key = "test-hmac-key-DO-NOT-USE"
	if err := m.Configure(ctx, "example", "acct1", map[string]string{"cashier_url": "https://cashier.example.test/pay", "hmac_key": key}); err != nil {
		t.Fatal(err)
	}
	const admin, merchant = testAPIKey, "pmx-test-merchant-key-DO-NOT-USE"
	e := newEnv(t, envOptions{shadows: m})
	e.api.SetKeys(httpapi.ConfigKeys([]config.APIKey{config.PlainAPIKey(admin),
		{Name: "merchant", Key: config.NewSecret(merchant), Accounts: []string{"acct1"}}}))
	p, _ := m.Provider("example")
	f := map[string]string{"out_trade_no": "o1", "amount": "1234", "currency": "USD", "status": "paid", "paid_at": "1764720000"}
	f["sign"] = wallet.Sign([]byte(key), f)
	q := url.Values{}
	for k, v := range f {
		q.Set(k, v)
	}
	if _, err := p.ParseNotification(ctx, &core.NotificationRequest{Account: "acct1", Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(q.Encode())}); err != nil {
		t.Fatal(err)
	}
	var rep pluginhost.ShadowReport
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.call("GET", "/v1/plugins/example/shadow", nil, nil)
		if r.Status != 200 {
			t.Fatalf("shadow report: %d %s", r.Status, r.Body)
		}
		r.decode(t, &rep)
		if len(rep.Samples) > 0 {
			if strings.Contains(string(r.Body), key) {
				t.Fatal("the report shows the account's hmac_key")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no difference reported: %s", r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := rep.Samples[0]; s.Live["events[0].amount"] != "1234 USD" || s.Shadow["events[0].amount"] != "1200 USD" || rep.Shadow.Version != "2.0.0" {
		t.Fatalf("report: %+v", rep)
	}
	for _, c := range []struct {
		path, key string
		status    int
	}{
		{"/v1/plugins/plain/shadow", admin, 404},      // no shadow
		{"/v1/plugins/nope/shadow", admin, 404},       // no plugin
		{"/v1/plugins/example/shadow", merchant, 404}, // not an administrator
		{"/v1/plugins/example/shadow", "", 401},
	} {
		hdr := map[string]string{"Authorization": ""}
		if c.key != "" {
			hdr["Authorization"] = "Bearer " + c.key
		}
		if r := e.call("GET", c.path, nil, hdr); r.Status != c.status {
			t.Errorf("%s with key %q: %d %s; want %d", c.path, c.key, r.Status, r.Body, c.status)
		}
	}
}
