package alipay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

// The web channel is create_forex_trade with product_code NEW_OVERSEAS_SELLER; the QR mode is
// a per-payment choice, and the desktop cashier of the simulator takes each one.
func TestDesktopQRModes(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	gw := httptest.NewServer(e.sim.Handler())
	t.Cleanup(gw.Close)
	for i, tc := range []struct {
		extras map[string]string
		want   string // on the cashier page
	}{
		{nil, `id="desktop">desktop</dd>`},
		{map[string]string{ExtraQRPayMode: "2"}, `id="desktop">desktop</dd>`},
		{map[string]string{ExtraQRPayMode: "1"}, "QR mode 1"},
		{map[string]string{ExtraQRPayMode: "4", ExtraQRCodeWide: "230"}, "QR mode 4 (230 px)"},
	} {
		no := "web-" + string(rune('a'+i))
		res, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: no, Method: MethodID, Channel: core.ChannelWeb,
			Amount: core.Money{Value: 2500, Currency: "USD"}, Subject: "Desk", NotifyURL: e.notify, ReturnURL: "https://merchant.example/return", Extras: tc.extras})
		if err != nil {
			t.Fatalf("%v: %v", tc.extras, err)
		}
		if res.Action.Type != core.ActionRedirectURL {
			t.Fatalf("web action %+v", res.Action)
		}
		u, _ := url.Parse(res.Action.Value)
		q := u.Query()
		if q.Get("service") != ServiceWeb || q.Get("product_code") != ProductCodeWeb || q.Get("qr_pay_mode") != tc.extras[ExtraQRPayMode] ||
			q.Get("qrcode_width") != tc.extras[ExtraQRCodeWide] {
			t.Errorf("%v: redirect %s", tc.extras, res.Action.Value)
		}
		// The browser follows it to the simulator's desktop cashier.
		link := gw.URL + "/gateway.do?" + u.RawQuery
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), tc.want) || !strings.Contains(string(page), `id="qrcode"`) {
			t.Errorf("%v: cashier %d lacks %q:\n%s", tc.extras, resp.StatusCode, tc.want, page)
		}
	}
	for name, extras := range map[string]map[string]string{
		"unknown mode":     {ExtraQRPayMode: "9"},
		"width without 4":  {ExtraQRPayMode: "1", ExtraQRCodeWide: "230"},
		"4 without width":  {ExtraQRPayMode: "4"},
		"width not number": {ExtraQRPayMode: "4", ExtraQRCodeWide: "wide"},
	} {
		_, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "web-bad", Method: MethodID, Channel: core.ChannelWeb,
			Amount: core.Money{Value: 2500, Currency: "USD"}, Subject: "Desk", NotifyURL: e.notify, Extras: extras})
		if core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The QR options belong to the web channel.
	_, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "h5-qr", Method: MethodID, Channel: core.ChannelH5,
		Amount: core.Money{Value: 2500, Currency: "USD"}, Subject: "Desk", NotifyURL: e.notify, Extras: map[string]string{ExtraQRPayMode: "4"}})
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("qr_pay_mode on h5: %v", err)
	}
}
