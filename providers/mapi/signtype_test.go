package mapi

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// TestSignTypeDowngrade: an RSA2 account that also holds an MD5 key must refuse a notification
// or gateway answer that declares MD5, even when that signature is genuine (never across
// families), and accept RSA and RSA2 (both verified with the Alipay public key: real
// notifications are RSA-signed even where merchants sign RSA2) unless accept_sign_types
// narrows the set.
func TestSignTypeDowngrade(t *testing.T) {
	s, raw := rsaSettings(t, "https://gateway.test/gateway.do")
	md5, err := signing.NewMD5(raw[SetMD5Key])
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"notify_type": NotifyTrade, "notify_id": "nid-d", "out_trade_no": "o-1",
		"trade_no": "2026112200001", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD",
		"seller_id": testPartner}
	signed := func(signer signing.Signer) map[string]string {
		f := map[string]string{}
		for k, v := range fields {
			f[k] = v
		}
		sig, err := signer.Sign(signing.CanonicalB(f))
		if err != nil {
			t.Fatal(err)
		}
		f["sign"], f["sign_type"] = sig, string(signer.Type())
		return f
	}
	for _, tc := range []struct {
		name   string
		signer signing.Signer
		ok     bool
	}{
		{"RSA2 (the account's type)", gatewaySigner(t, signing.RSA2), true},
		{"MD5 downgrade", md5, false},
		{"RSA (same family)", gatewaySigner(t, signing.RSA), true},
	} {
		f := signed(tc.signer)
		if reason := VerifyFields(s, f); (reason == "") != tc.ok {
			t.Errorf("%s: notification verify reason %q, want ok=%v", tc.name, reason, tc.ok)
		}
		// The same through the whole notification intake.
		body := url.Values{}
		for k, v := range f {
			body.Set(k, v)
		}
		c := NewClient(s, nil)
		c.S.NotifyVerify = false
		res, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a",
			Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(body.Encode())})
		if err != nil || res.Verified != tc.ok || (!tc.ok && len(res.Events) != 0) {
			t.Errorf("%s: ParseNotification verified=%v events=%d err=%v", tc.name, res.Verified, len(res.Events), err)
		}
		// A gateway answer signed that way.
		r := &Response{Success: true, Signed: fields, Sign: f["sign"], SignType: f["sign_type"]}
		if err := VerifyResponse(s, r, false); (err == nil) != tc.ok {
			t.Errorf("%s: VerifyResponse = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}

	// accept_sign_types narrows the family; it may not name the other family.
	narrow := map[string]string{}
	for k, v := range raw {
		narrow[k] = v
	}
	narrow[SetAcceptSignTypes] = "RSA2"
	ns, err := ParseSettings(narrow)
	if err != nil {
		t.Fatal(err)
	}
	if reason := VerifyFields(ns, signed(gatewaySigner(t, signing.RSA2))); reason != "" {
		t.Errorf("accept_sign_types=RSA2 refuses RSA2: %s", reason)
	}
	if reason := VerifyFields(ns, signed(gatewaySigner(t, signing.RSA))); reason == "" {
		t.Error("accept_sign_types=RSA2 accepts RSA")
	}
	narrow[SetAcceptSignTypes] = "RSA2, MD5"
	if _, err := ParseSettings(narrow); core.ErrorCode(err) != core.ECONFIG || !strings.Contains(err.Error(), SetAcceptSignTypes) {
		t.Errorf("accept_sign_types naming the other family: %v", err)
	}
	narrow[SetAcceptSignTypes] = "SHA512"
	if _, err := ParseSettings(narrow); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("accept_sign_types=SHA512: %v", err)
	}
	// An MD5 account accepts MD5 only.
	m := map[string]string{SetPartner: testPartner, SetGatewayURL: "https://gateway.test/gateway.do", SetSignType: "MD5",
		SetMD5Key: raw[SetMD5Key], SetPublicKeyFile: raw[SetPublicKeyFile]}
	ms, err := ParseSettings(m)
	if err != nil {
		t.Fatal(err)
	}
	if reason := VerifyFields(ms, signed(md5)); reason != "" {
		t.Errorf("MD5 account refuses MD5: %s", reason)
	}
	for _, st := range []signing.SignType{signing.RSA, signing.RSA2} {
		if reason := VerifyFields(ms, signed(gatewaySigner(t, st))); reason == "" {
			t.Errorf("MD5 account accepts %s", st)
		}
	}
}

// TestClientResultSignType: the SDK's synchronous result is RSA-signed by Alipay whatever the
// account's server sign type, but MD5 is refused unless the account accepts it.
func TestClientResultSignType(t *testing.T) {
	s, raw := rsaSettings(t, "https://gateway.test/gateway.do")
	md5, _ := signing.NewMD5(raw[SetMD5Key])
	content := `partner="` + testPartner + `"&out_trade_no="o-1"&success="true"`
	for _, tc := range []struct {
		signer signing.Signer
		ok     bool
	}{
		{gatewaySigner(t, signing.RSA), true},
		{gatewaySigner(t, signing.RSA2), true},
		{md5, false},
	} {
		sig, _ := tc.signer.Sign(content)
		r, err := ParseSDKResult(content + `&sign_type="` + string(tc.signer.Type()) + `"&sign="` + sig + `"`)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(s); (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", tc.signer.Type(), err, tc.ok)
		}
	}
}

// TestOrderStringNoFieldSmuggling: a JSON parameter may keep its quotes, but not the `"&key="`
// sequence that ends a value for any reader of the order string.
func TestOrderStringNoFieldSmuggling(t *testing.T) {
	signer := gatewaySigner(t, signing.RSA)
	base := map[string]string{"service": ServiceAppPay, "partner": testPartner, "out_trade_no": "o-1", "total_fee": "100.00", "currency": "USD"}
	for _, tc := range []struct {
		key, val string
		ok       bool
	}{
		{"split_fund_info", `[{"transIn":"2088101122136241","amount":"1.00","currency":"USD","desc":"ok"}]`, true},
		{"split_fund_info", `[{"transIn":"2088101122136241","amount":"1.00","currency":"USD","desc":"x\"&total_fee=\"0.01"}]`, false},
		{"trade_information", `{"business_type":"4","x":"\"&total_fee=\"0.01"}`, false},
		{"subject", `a"b`, false},
	} {
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		p[tc.key] = tc.val
		s, err := OrderString(p, signer)
		if (err == nil) != tc.ok {
			t.Errorf("%s=%s: %v", tc.key, tc.val, err)
			continue
		}
		if err != nil {
			continue
		}
		fields, err := ParseOrderString(s)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range fields {
			if f[0] == "total_fee" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: order string reads %d total_fee fields", tc.key, n)
		}
	}
}
