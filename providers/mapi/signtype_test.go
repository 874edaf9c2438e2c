package mapi

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// TestSignTypeDowngrade: an RSA2 account that also holds an MD5 key (and whose public key could
// check SHA-1 signatures) must refuse a notification or gateway answer that declares MD5 or RSA,
// even when that signature is genuine, unless accept_sign_types lists the type.
func TestSignTypeDowngrade(t *testing.T) {
	s, raw := rsaSettings(t, "https://gateway.test/gateway.do")
	md5, err := signing.NewMD5(raw[SetMD5Key])
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"notify_type": NotifyTrade, "notify_id": "nid-d", "out_trade_no": "o-1",
		"trade_no": "2026112200001", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD"}
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
		{"RSA (SHA-1) downgrade", gatewaySigner(t, signing.RSA), false},
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

	// accept_sign_types widens the set explicitly; it may only name types the account has keys for.
	wide := map[string]string{}
	for k, v := range raw {
		wide[k] = v
	}
	wide[SetAcceptSignTypes] = "RSA2, MD5"
	ws, err := ParseSettings(wide)
	if err != nil {
		t.Fatal(err)
	}
	if reason := VerifyFields(ws, signed(md5)); reason != "" {
		t.Errorf("accept_sign_types=RSA2,MD5 refuses MD5: %s", reason)
	}
	if reason := VerifyFields(ws, signed(gatewaySigner(t, signing.RSA))); reason == "" {
		t.Error("accept_sign_types=RSA2,MD5 accepts RSA")
	}
	delete(wide, SetMD5Key)
	if _, err := ParseSettings(wide); core.ErrorCode(err) != core.ECONFIG || !strings.Contains(err.Error(), SetAcceptSignTypes) {
		t.Errorf("accept_sign_types naming MD5 without md5_key: %v", err)
	}
	wide[SetAcceptSignTypes] = "SHA512"
	if _, err := ParseSettings(wide); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("accept_sign_types=SHA512: %v", err)
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
