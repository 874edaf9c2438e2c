package mapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

const otherPartner = "2088999988887777"

func TestBindMerchant(t *testing.T) {
	s, _ := rsaSettings(t, "https://gateway.test/gateway.do")
	email := *s
	email.SellerID = "shop@example.com"
	for _, tc := range []struct {
		s    *Settings
		f    map[string]string
		want Merchant
	}{
		{s, map[string]string{}, MerchantUnnamed},
		{s, map[string]string{"seller_id": ""}, MerchantUnnamed},
		{s, map[string]string{"seller_id": testPartner}, MerchantOurs},
		{s, map[string]string{"partner": testPartner}, MerchantOurs},
		{s, map[string]string{"seller_id": testPartner, "partner": testPartner}, MerchantOurs},
		{s, map[string]string{"seller_id": otherPartner}, MerchantForeign},
		{s, map[string]string{"partner": otherPartner}, MerchantForeign},
		// One foreign identity is enough, whatever the other says.
		{s, map[string]string{"seller_id": testPartner, "partner": otherPartner}, MerchantForeign},
		{s, map[string]string{"seller_id": otherPartner, "partner": testPartner}, MerchantForeign},
		// An account whose seller_id is an e-mail: the message's 2088 seller id is its partner.
		{&email, map[string]string{"seller_id": "shop@example.com"}, MerchantOurs},
		{&email, map[string]string{"seller_id": testPartner}, MerchantOurs},
		{&email, map[string]string{"seller_id": otherPartner}, MerchantForeign},
	} {
		if got := BindMerchant(tc.s, tc.f); got != tc.want {
			t.Errorf("BindMerchant(seller %s, %v) = %d, want %d", tc.s.SellerID, tc.f, got, tc.want)
		}
	}
}

func TestCheckAnswerObject(t *testing.T) {
	for _, tc := range []struct {
		out, no string
		f       map[string]string
		ok      bool
	}{
		{"o-1", "", map[string]string{"out_trade_no": "o-1", "trade_no": "T1"}, true},
		{"o-1", "T1", map[string]string{"out_trade_no": "o-1", "trade_no": "T1"}, true},
		{"o-1", "T1", map[string]string{"trade_no": "T1"}, true},
		{"o-1", "T1", map[string]string{"out_trade_no": "o-1"}, true},
		{"o-1", "", map[string]string{"out_trade_no": "o-2", "trade_no": "T1"}, false},
		{"o-1", "T1", map[string]string{"out_trade_no": "o-1", "trade_no": "T2"}, false},
		{"o-1", "", map[string]string{"trade_no": "T1"}, false},
		{"o-1", "", map[string]string{"trade_status": "TRADE_FINISHED"}, false},
		{"", "T1", map[string]string{"out_trade_no": "o-9", "trade_no": "T1"}, true},
		{"", "T1", map[string]string{"out_trade_no": "o-9"}, false},
	} {
		err := CheckTradeAnswer(tc.out, tc.no, tc.f)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTradeAnswer(%q, %q, %v) = %v, want ok=%v", tc.out, tc.no, tc.f, err, tc.ok)
		}
		if err != nil && (core.ErrorCode(err) != core.EUNKNOWN || core.ProviderCode(err) != core.CodeObjectMismatch) {
			t.Errorf("mismatch error %v, want EUNKNOWN with %s", err, core.CodeObjectMismatch)
		}
	}
	for _, tc := range []struct {
		f  map[string]string
		ok bool
	}{
		{map[string]string{"out_trade_no": "o-1", "out_return_no": "r-1"}, true},
		{map[string]string{"out_return_no": "r-1"}, true},
		{map[string]string{"out_trade_no": "o-1", "out_return_no": "r-2"}, false},
		{map[string]string{"out_trade_no": "o-2", "out_return_no": "r-1"}, false},
		{map[string]string{"out_trade_no": "o-1"}, false},
	} {
		if err := CheckRefundAnswer("o-1", "r-1", tc.f); (err == nil) != tc.ok || err != nil && core.ProviderCode(err) != core.CodeObjectMismatch {
			t.Errorf("CheckRefundAnswer(%v) = %v, want ok=%v", tc.f, err, tc.ok)
		}
	}
}

// TestGatewayAnswerTrust: an unsigned answer, a signed answer about another trade or refund, and
// a signed answer naming another merchant are all unknown outcomes (nothing applied), each with
// its control: the same answer, signed and about the trade asked, is applied.
func TestGatewayAnswerTrust(t *testing.T) {
	var mode string
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) {
		trade := map[string]string{"out_trade_no": form.Get("out_trade_no"), "trade_no": "T1", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "seller_id": testPartner}
		refund := map[string]string{"out_trade_no": form.Get("out_trade_no"), "out_return_no": form.Get("out_return_no"), "response_code": "SUCCESS", "refund_result_code": "SUCCESS", "return_amount": "1.00"}
		switch mode {
		case "other":
			trade["out_trade_no"], trade["trade_no"] = "o-other", "T9"
			refund["out_return_no"] = "r-other"
		case "foreign":
			trade["seller_id"] = otherPartner
			refund["partner"] = otherPartner
		}
		elem, f := "trade", trade
		if form.Get("service") == ServiceRefundQuery {
			elem, f = "refund", refund
		}
		body := signedXML(t, elem, f)
		if mode == "unsigned" {
			body = body[:strings.Index(body, "<sign>")] + "</alipay>"
		}
		fmt.Fprint(w, body)
	})
	s, _ := rsaSettings(t, srv.URL+"/gateway.do")
	c := NewClient(s, nil)
	c.DefaultCurrency = "USD"
	ctx := context.Background()
	for _, tc := range []struct {
		mode, code string
	}{
		{"ok", ""},
		{"unsigned", ""},
		{"other", core.CodeObjectMismatch},
		{"foreign", core.CodeForeignMerchant},
	} {
		mode = tc.mode
		ps, perr := c.QueryTrade(ctx, "o-1", "")
		rs, rerr := c.QueryRefund(ctx, "o-1", "r-1")
		if tc.mode == "ok" {
			if perr != nil || ps.Status != core.PaymentSucceeded || rerr != nil || rs.Status != core.RefundSucceeded {
				t.Fatalf("control: %+v %v / %+v %v", ps, perr, rs, rerr)
			}
			continue
		}
		for _, err := range []error{perr, rerr} {
			if core.ErrorCode(err) != core.EUNKNOWN || tc.code != "" && core.ProviderCode(err) != tc.code {
				t.Errorf("%s answer: %v, want %s %s", tc.mode, err, core.EUNKNOWN, tc.code)
			}
		}
	}
	// Loosened, an unsigned answer is applied (the operator's explicit choice).
	mode = "unsigned"
	c.S.RequireResponseSign = false
	if ps, err := c.QueryTrade(ctx, "o-1", ""); err != nil || ps.Status != core.PaymentSucceeded {
		t.Errorf("require_response_sign=false: %+v, %v", ps, err)
	}
}

// notifyGateway is a fake gateway for notification binding: notify_verify answers from verify
// (by partner and notify_id), single_trade_query from trades (by trade_no, for the asking
// partner only).
type notifyGateway struct {
	mu      sync.Mutex
	verify  map[string]bool              // partner+"/"+notify_id -> true
	trades  map[string]map[string]string // partner+"/"+trade_no -> <trade> fields
	queries int
	down    bool
}

func (g *notifyGateway) handle(t *testing.T) func(http.ResponseWriter, url.Values) {
	return func(w http.ResponseWriter, form url.Values) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.down {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		switch form.Get("service") {
		case "notify_verify":
			fmt.Fprint(w, g.verify[form.Get("partner")+"/"+form.Get("notify_id")])
		case ServiceQuery:
			g.queries++
			f, ok := g.trades[form.Get("partner")+"/"+form.Get("trade_no")]
			if !ok {
				fmt.Fprint(w, `<alipay><is_success>F</is_success><error>TRADE_NOT_EXIST</error></alipay>`)
				return
			}
			fmt.Fprint(w, signedXML(t, "trade", f))
		}
	}
}

// TestNotificationMerchantBinding is the attack of issue 13 at the provider: a notification
// genuinely signed with the platform key for the same out_trade_no, amount and notify_url, but
// paid to another partner, must never be verified for this account, whether or not it names its
// merchant and whether notify_verify is on or off. Its controls: the genuine notification of
// this partner, named or not, is verified in every mode.
func TestNotificationMerchantBinding(t *testing.T) {
	g := &notifyGateway{
		verify: map[string]bool{testPartner + "/nid-ours": true, otherPartner + "/nid-theirs": true},
		trades: map[string]map[string]string{
			testPartner + "/T-ours":    {"out_trade_no": "o-1", "trade_no": "T-ours", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD"},
			otherPartner + "/T-theirs": {"out_trade_no": "o-1", "trade_no": "T-theirs", "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD"},
		},
	}
	srv := fakeGateway(t, g.handle(t))
	note := func(signer signing.Signer, nid, tradeNo, seller string) []byte {
		f := map[string]string{"notify_type": NotifyTrade, "notify_id": nid, "notify_time": "2026-11-22 10:00:00",
			"out_trade_no": "o-1", "trade_no": tradeNo, "trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD"}
		if seller != "" {
			f["seller_id"] = seller
		}
		sig, _ := signer.Sign(signing.CanonicalB(f))
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		v.Set("sign", sig)
		v.Set("sign_type", string(signer.Type()))
		return []byte(v.Encode())
	}
	hdr := map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}
	platform := gatewaySigner(t, signing.RSA)
	for _, verify := range []bool{true, false} {
		s, _ := rsaSettings(t, srv.URL+"/gateway.do")
		s.NotifyVerify = verify
		c := NewClient(s, nil)
		for _, tc := range []struct {
			name string
			body []byte
			ok   bool
		}{
			{"genuine, named", note(platform, "nid-ours", "T-ours", testPartner), true},
			{"genuine, unnamed", note(platform, "nid-ours", "T-ours", ""), true},
			{"attack, named", note(platform, "nid-theirs", "T-theirs", otherPartner), false},
			{"attack, unnamed", note(platform, "nid-theirs", "T-theirs", ""), false},
		} {
			name := fmt.Sprintf("notify_verify=%v/%s", verify, tc.name)
			res, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a", Header: hdr, Body: tc.body, Confirm: true})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res.Verified != tc.ok {
				t.Errorf("%s: verified %v (%s), want %v", name, res.Verified, res.RejectReason, tc.ok)
			}
			if !tc.ok && (res.RejectReason != core.RejectForeignMerchant || string(res.Ack.Body) == "success" || len(res.Events) != 0 || res.Pending) {
				t.Errorf("%s: rejected as %q, ack %q, %d events, pending %v", name, res.RejectReason, res.Ack.Body, len(res.Events), res.Pending)
			}
		}
	}

	// Without Confirm no gateway call is made: with notify_verify on every notification is
	// Pending, with it off only one that names no merchant and is not MD5-signed.
	s, raw := rsaSettings(t, srv.URL+"/gateway.do")
	s.NotifyVerify = false
	md5, _ := signing.NewMD5(raw[SetMD5Key])
	s.Accepted = []signing.SignType{signing.MD5}
	c := NewClient(s, nil)
	g.queries = 0
	res, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a", Header: hdr, Body: note(md5, "nid-x", "T-x", "")})
	if err != nil || !res.Verified {
		t.Errorf("MD5-signed, unnamed, notify_verify off: bound by the merchant's key: %+v, %v", res, err)
	}
	s.Accepted = SignFamily(signing.RSA2)
	res, err = c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a", Header: hdr, Body: note(platform, "nid-ours", "T-ours", "")})
	if err != nil || res.Verified || !res.Pending || res.DedupeKey == "" || len(res.Events) != 1 || string(res.Ack.Body) != "success" {
		t.Errorf("RSA, unnamed, no Confirm: %+v, %v", res, err)
	}
	if g.queries != 0 {
		t.Errorf("%d queries without Confirm", g.queries)
	}
	// The gateway down while binding: undecided (the wallet retries), never verified.
	g.down = true
	s.Timeout = 200e6
	if res, err := c.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a", Header: hdr, Body: note(platform, "nid-ours", "T-ours", ""), Confirm: true}); err == nil {
		t.Errorf("gateway down while binding: %+v", res)
	}
	g.down = false
}

func TestSmuggledParameters(t *testing.T) {
	for _, v := range []string{"a&total_fee=1", "x&NOTIFY_URL=http://e", "&seller_id=2088", "y&it_b_pay=15d", "z&rmb_fee=0.01"} {
		if err := CheckText("subject", v, 256, true); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("CheckText(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"Tea & cake", "a&b=c", "fish&chips"} {
		if err := CheckText("subject", v, 256, true); err != nil {
			t.Errorf("CheckText(%q) = %v", v, err)
		}
	}
}

func TestGatewayTransport(t *testing.T) {
	base := func(u string) map[string]string {
		return map[string]string{SetPartner: testPartner, SetGatewayURL: u, SetSignType: "MD5", SetMD5Key: "test-md5-key-DO-NOT-USE-0123456789"}
	}
	for _, tc := range []struct {
		url, allow string
		ok         bool
	}{
		{"https://intlmapi.alipay.com/gateway.do", "", true},
		{"http://127.0.0.1:8080/gateway.do", "", true},
		{"http://[::1]:8080/gateway.do", "", true},
		{"http://localhost/gateway.do", "", true},
		{"http://sim.internal:8080/gateway.do", "", false},
		{"http://10.0.0.5/gateway.do", "", false},
		{"http://sim.internal:8080/gateway.do", "true", true},
	} {
		raw := base(tc.url)
		if tc.allow != "" {
			raw[SetAllowInsecure] = tc.allow
		}
		s, err := ParseSettings(raw)
		if (err == nil) != tc.ok {
			t.Errorf("%s allow=%q: %v", tc.url, tc.allow, err)
		}
		if err != nil && (!strings.Contains(err.Error(), SetAllowInsecure) || !strings.Contains(err.Error(), SetGatewayURL)) {
			t.Errorf("%s: error does not say why and how: %v", tc.url, err)
		}
		if err == nil && tc.allow != "" && len(s.Warnings) == 0 {
			t.Errorf("%s: allow_insecure_gateway without a warning", tc.url)
		}
	}
}

// TestLoosenedDefaultsWarn: the strict defaults need no setting; switching one off is allowed
// and leaves a warning, and the settings schema marks the loosening values for the host.
func TestLoosenedDefaultsWarn(t *testing.T) {
	_, raw := rsaSettings(t, "https://gateway.test/gateway.do")
	for _, name := range []string{SetNotifyVerify, SetRequireRespSign} {
		m := map[string]string{}
		for k, v := range raw {
			m[k] = v
		}
		m[name] = "false"
		s, err := ParseSettings(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], name) {
			t.Errorf("%s=false: warnings %q", name, s.Warnings)
		}
		found := false
		for _, d := range CommonSettings() {
			if d.Name == name {
				found = d.Loosens(" False ") && !d.Loosens("true")
			}
		}
		if !found {
			t.Errorf("%s: the schema does not mark false as loosening", name)
		}
	}
}

func TestSDKResultSignOrder(t *testing.T) {
	s, _ := rsaSettings(t, "https://gateway.test/gateway.do")
	content := `partner="` + testPartner + `"&out_trade_no="o-1"&success="true"`
	sig, _ := gatewaySigner(t, signing.RSA).Sign(content)
	for _, tail := range []string{
		`&sign_type="RSA"&sign="` + sig + `"`,
		`&sign="` + sig + `"&sign_type="RSA"`,
	} {
		r, err := ParseSDKResult(content + tail)
		if err != nil {
			t.Fatalf("%s: %v", tail[:10], err)
		}
		if r.Content != content || r.Verify(s) != nil {
			t.Errorf("%s: content %q, verify %v", tail[:10], r.Content, r.Verify(s))
		}
	}
	if _, err := ParseSDKResult(content + `&sign="` + sig + `"&sign_type="RSA"&memo="x"`); err == nil {
		t.Error("a field after sign and sign_type accepted")
	}
}
