package mapisim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paymux/paymux/core/signing"
)

func TestPayOrderStringNotifiesAndQueries(t *testing.T) {
	e := newEnv(t, Config{Seed: 1})
	os := e.orderString(e.orderParams(globalPID, "T1", "12.30", "USD"), signing.RSA)
	res, err := e.sim.PayOrderString(context.Background(), os)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResultStatus != ResultSuccess {
		t.Fatalf("resultStatus %s memo %s", res.ResultStatus, res.Memo)
	}
	// The sync result: content before &sign_type= verifies with the Alipay key (SHA1withRSA).
	i := strings.Index(res.Result, `&sign_type="`)
	if i < 0 || !strings.Contains(res.Result[:i], `&success="true"`) {
		t.Fatalf("result shape: %s", res.Result)
	}
	sig := strings.TrimSuffix(res.Result[strings.Index(res.Result, `&sign="`)+7:], `"`)
	if err := e.alipayRSA.Verify(res.Result[:i], sig); err != nil {
		t.Fatalf("sync result signature: %v", err)
	}
	if !strings.HasPrefix(res.Result, `_input_charset="UTF-8"&currency="USD"`) {
		t.Fatalf("result does not echo the order in sent order: %.60s", res.Result)
	}
	e.waitIdle()
	got := e.got()
	if len(got) != 1 {
		t.Fatalf("want 1 notification, got %d", len(got))
	}
	n := got[0]
	if err := e.verifyFields(n); err != nil {
		t.Fatalf("notification signature: %v", err)
	}
	for k, want := range map[string]string{"notify_type": "trade_status_sync", "trade_status": "TRADE_FINISHED",
		"out_trade_no": "T1", "total_fee": "12.30", "currency": "USD", "sign_type": "RSA2"} {
		if n[k] != want {
			t.Errorf("%s = %q, want %q", k, n[k], want)
		}
	}
	if len(n["trade_no"]) != 28 || len(n["notify_id"]) != 34 {
		t.Errorf("trade_no %q notify_id %q", n["trade_no"], n["notify_id"])
	}
	// notify_verify: true once, then false; invalid for unknown partner.
	for i, want := range []string{"true", "false"} {
		resp, err := http.Get(e.gw.URL + "/gateway.do?service=notify_verify&partner=" + globalPID + "&notify_id=" + n["notify_id"])
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 64)
		k, _ := resp.Body.Read(buf)
		b.Write(buf[:k])
		resp.Body.Close()
		if b.String() != want {
			t.Fatalf("notify_verify #%d = %q, want %q", i, b.String(), want)
		}
	}
	if got := e.sim.VerifyNotifyID("2088999999999999", n["notify_id"]); got != "invalid" {
		t.Fatalf("unknown partner: %s", got)
	}
	// single_trade_query answers the paid trade, signed over <trade> children.
	st, body := e.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "T1"}, signing.RSA2)
	if st != 200 {
		t.Fatal(st)
	}
	env, f := parseEnvelope(t, body)
	if env.IsSuccess != "T" || f["trade_status"] != "TRADE_FINISHED" || f["trade_no"] != n["trade_no"] || env.SignType != "RSA2" {
		t.Fatalf("query: %s", body)
	}
	if err := e.alipayRSA2.Verify(signing.CanonicalB(f), env.Sign); err != nil {
		t.Fatalf("response signature: %v", err)
	}
}

func TestControlAPIPay(t *testing.T) {
	e := newEnv(t, Config{})
	os := e.orderString(e.orderParams(globalPID, "C1", "1.00", "USD"), signing.RSA)
	resp, err := http.PostForm(e.gw.URL+"/sim/pay", url.Values{"order_string": {os}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res SDKResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || res.ResultStatus != "9000" || !strings.Contains(res.Result, `success="true"`) {
		t.Fatalf("%d %+v", resp.StatusCode, res)
	}
	e.waitIdle()
	if len(e.got()) != 1 {
		t.Fatal("no notification")
	}
}
