package mapi

import (
	"bufio"
	"bytes"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

func TestParseResponseGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/xml/*.xml")
	if len(files) == 0 {
		t.Fatal("no golden XML files")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			r, err := ParseResponse(readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "xml/"+name+".golden", r)
		})
	}
}

func TestParseResponseShapes(t *testing.T) {
	r, err := ParseResponse(readFile(t, "testdata/xml/error-gbk.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Success || r.Error != "ILLEGAL_PARTNER" || r.Request["subject"] != "测试" {
		t.Errorf("GBK envelope = %+v", r)
	}
	r, err = ParseResponse(readFile(t, "testdata/xml/query-finished.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success || r.Fields["trade_status"] != "TRADE_FINISHED" || r.Signed["total_fee"] != "73.82" || r.SignType != "RSA2" {
		t.Errorf("query envelope = %+v", r)
	}
	if _, ok := r.Signed["out_trade_no"]; !ok || len(r.Signed) != 22 {
		t.Errorf("signed set has %d fields: %v", len(r.Signed), r.Signed)
	}
	for _, bad := range []string{
		``, `<html>no</html>`, `<alipay></alipay>`, `<alipay><is_success>X</is_success></alipay>`,
		`<alipay><is_success>T</is_success>`, `<alipay><is_success>T</is_success></alipay><alipay/>`,
		`<?xml version="1.0" encoding="klingon"?><alipay><is_success>T</is_success></alipay>`,
	} {
		if _, err := ParseResponse([]byte(bad)); err == nil {
			t.Errorf("ParseResponse(%q) accepted", bad)
		}
	}
	r, err = ParseResponse([]byte(`<alipay><is_success>F</is_success></alipay>`))
	if err != nil || r.Error != "UNKNOWN_ERROR" {
		t.Errorf("F without error = %+v, %v", r, err)
	}
}

func TestVerifyResponse(t *testing.T) {
	s, _ := rsaSettings(t, "https://gw.example/gateway.do")
	r, err := ParseResponse(readFile(t, "testdata/xml/query-finished.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := gatewaySigner(t, signing.RSA2).Sign(signing.CanonicalB(r.Signed))
	if err != nil {
		t.Fatal(err)
	}
	r.Sign = sig
	if err := VerifyResponse(s, r, true); err != nil {
		t.Fatalf("genuine response rejected: %v", err)
	}
	r.Signed["total_fee"] = "0.01"
	if err := VerifyResponse(s, r, true); core.ErrorCode(err) != core.EUNAUTHORIZED {
		t.Fatalf("tampered response: %v", err)
	}
	r.Sign = ""
	if err := VerifyResponse(s, r, false); err != nil {
		t.Errorf("unsigned response with required=false: %v", err)
	}
	if err := VerifyResponse(s, r, true); err == nil {
		t.Errorf("unsigned response with required=true accepted")
	}
}

func TestSettlementFileGolden(t *testing.T) {
	var recs []*core.SettlementRecord
	for _, name := range []string{"compare.txt", "empty.txt"} {
		sc := bufio.NewScanner(bytes.NewReader(readFile(t, "testdata/files/"+name)))
		for sc.Scan() {
			r, err := ParseSettlementLine(sc.Text())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if r != nil {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	if recs[1].Kind != core.EventRefund || recs[2].Amount != (core.Money{Value: 100, Currency: "JPY"}) || recs[2].Status != "P" {
		t.Errorf("records = %+v %+v", recs[1], recs[2])
	}
	golden(t, "files/compare.golden", recs)

	// A signed refund line reads as the positive refund.
	if r, err := ParseSettlementLine("r-2|-10.00|USD|20200228100000||R|-0.10|P|"); err != nil || r.Amount.Value != 1000 || r.Fee.Value != 10 || r.Kind != core.EventRefund {
		t.Errorf("signed refund line: %+v, %v", r, err)
	}

	for _, bad := range []string{
		"a|1|USD", "x|1.00|USD|20200101000000||X|0|P|", "x|1.001|USD|20200101000000||P|0|P|",
		"x|1.00|USD|2020||P|0|P|", "|1.00|USD|20200101000000||P|0|P|", "x|1.00|ZZZ|20200101000000||P|0|P|",
		"x|1.00|USD|20200101000000|bad|P|0|P|", "x|-1.00|USD|20200101000000||P|0|P|", "x|--1.00|USD|20200101000000||R|0|P|",
	} {
		if _, err := ParseSettlementLine(bad); err == nil {
			t.Errorf("ParseSettlementLine(%q) accepted", bad)
		}
	}
}

func TestRateFileGolden(t *testing.T) {
	var rates []*Rate
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "testdata/files/rates.txt")))
	for sc.Scan() {
		r, err := ParseRateLine(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		rates = append(rates, r)
	}
	golden(t, "files/rates.golden", rates)
	for _, bad := range []string{"20200227|101500|USD", "2020|101500|USD|6.9", "20200227|101500|XXX|6.9", "20200227|101500|USD|-1", "20200227|101500|USD|0.00", "20200227|101500|USD|1e3"} {
		if _, err := ParseRateLine(bad); err == nil {
			t.Errorf("ParseRateLine(%q) accepted", bad)
		}
	}
}

// TestOrderStringDocVector reproduces the order string of the protocol document (§4.6) with
// its throw-away key, byte for byte.
func TestOrderStringDocVector(t *testing.T) {
	key, err := signing.ParsePrivateKey(readFile(t, keyPath("test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem")))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := signing.NewRSASigner(signing.RSA, key)
	params := map[string]string{
		"_input_charset": "UTF-8", "appenv": "system=android^version=3.0.1.2", "body": "test", "currency": "USD",
		"forex_biz": "FP", "out_trade_no": "out_trade_no_20200109_175417", "partner": "2088021017666931",
		"payment_type": "1", "product_code": "NEW_WAP_OVERSEAS_SELLER", "seller_id": "2088021017666931",
		"service": "mobile.securitypay.pay", "subject": "Mika's coffee shop", "total_fee": "0.01",
		"trade_information": `{"business_type":"4","goods_info":"Macbook 12 inch M3 8G 256G SSD^1|Apple iPad Pro 11 inch^1","total_quantity":"2"}`,
	}
	got, err := OrderString(params, signer)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(readFile(t, "testdata/order-4.6.golden")))
	if got != want {
		t.Fatalf("order string\n got %s\nwant %s", got, want)
	}
	const tail = `"total_quantity":"2"}"&sign="n9k9a2hPt56o4crS6AmgjhCPIMIuSLBAqGySlC1vrX5Wsb5FZCmFS2JMD4YBlYAOV2yHy%2FLw7omMJXAUOx5euwEcJKecSvbyelBb%2Blde9Cr%2BDkzdsUFTrBYVgxANS1s4niASRCACN8jXHb82yN0S3OXXUBQBocmTHIrvARDlN%2BQ%3D"&sign_type="RSA"`
	if !strings.HasSuffix(got, tail) {
		t.Fatalf("order string does not end with the document's tail")
	}
	fields, err := ParseOrderString(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 16 || fields[15][0] != "sign_type" || fields[13][1] != params["trade_information"] {
		t.Errorf("round trip fields = %q", fields)
	}
	params["subject"] = `say "hi"`
	if _, err := OrderString(params, signer); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("quote in subject: %v", err)
	}
}

// sdkResult builds the SDK's synchronous result for an order string as the wallet would: the
// order fields in order, success="true", then sign_type and sign by the gateway key (RSA).
func sdkResult(t testing.TB, order string, success string) string {
	t.Helper()
	cut := strings.Index(order, `&sign="`)
	content := order[:cut] + `&success="` + success + `"`
	sig, err := gatewaySigner(t, signing.RSA).Sign(content)
	if err != nil {
		t.Fatal(err)
	}
	return content + `&sign_type="RSA"&sign="` + sig + `"`
}

func TestSDKResult(t *testing.T) {
	s, _ := rsaSettings(t, "https://gw.example/gateway.do")
	signer, _ := signing.NewRSASigner(signing.RSA, merchantKey(t))
	order, err := OrderString(map[string]string{"partner": testPartner, "out_trade_no": "o-1", "total_fee": "1.00", "currency": "USD", "service": "mobile.securitypay.pay"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	res := sdkResult(t, order, "true")
	r, err := ParseSDKResult(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(s); err != nil {
		t.Fatalf("genuine result: %v", err)
	}
	if r.Fields["success"] != "true" || r.Fields["out_trade_no"] != "o-1" {
		t.Errorf("fields = %v", r.Fields)
	}
	tampered := strings.Replace(res, `total_fee="1.00"`, `total_fee="9.00"`, 1)
	r2, err := ParseSDKResult(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Verify(s); err == nil {
		t.Error("tampered result verified")
	}
	for _, bad := range []string{"", `a="1"`, `a="1"&sign_type="RSA"`, `a=1&sign_type="RSA"&sign="x"`, `a="1&sign_type="RSA"&sign="x"`} {
		if _, err := ParseSDKResult(bad); err == nil {
			t.Errorf("ParseSDKResult(%q) accepted", bad)
		}
	}
	for code, want := range map[string]core.PaymentStatus{"9000": core.PaymentSucceeded, "4000": core.PaymentFailed, "8000": core.PaymentPending, "6001": core.PaymentPending} {
		if got := ResultStatusHint(code); got != want {
			t.Errorf("ResultStatusHint(%s) = %s", code, got)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"2.00", "JPY", 2, true}, {"2", "JPY", 2, true}, {"2.50", "JPY", 0, false}, {"0.01", "USD", 1, true},
		{"10.100", "USD", 1010, true}, {"10.101", "USD", 0, false}, {"1,000", "USD", 0, false}, {"1", "XXX", 0, false},
	} {
		m, err := ParseAmount(c.in, c.cur)
		if (err == nil) != c.ok || (c.ok && m.Value != c.want) {
			t.Errorf("ParseAmount(%q,%s) = %v, %v", c.in, c.cur, m, err)
		}
	}
}

func TestStatusMaps(t *testing.T) {
	for in, want := range map[string]core.PaymentStatus{"TRADE_FINISHED": core.PaymentSucceeded, "TRADE_SUCCESS": core.PaymentSucceeded, "TRADE_CLOSED": core.PaymentClosed, "WAIT_BUYER_PAY": core.PaymentPending} {
		if got, ok := PaymentStatus(in); !ok || got != want {
			t.Errorf("PaymentStatus(%s) = %s", in, got)
		}
	}
	if _, ok := PaymentStatus("WHATEVER"); ok {
		t.Error("unknown trade status mapped")
	}
	for in, want := range map[string]core.RefundStatus{"REFUND_SUCCESS": core.RefundSucceeded, "REFUND_FAIL": core.RefundFailed, "PROCESSING": core.RefundProcessing, "SUCCESS": core.RefundSucceeded} {
		if got, ok := RefundStatus(in); !ok || got != want {
			t.Errorf("RefundStatus(%s) = %s", in, got)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	for code, want := range map[string]string{
		"ILLEGAL_SIGN": core.ECONFIG, "ILLEGAL_PARTNER_EXTERFACE": core.EUNAUTHORIZED, "RETURN_AMOUNT_EXCEED": core.EDECLINED,
		"TRADE_NOT_EXIST": core.ENOTFOUND, "SYSTEM_EXCEPTION": core.EUNKNOWN, "ILLEGAL_ARGUMENT": core.EINVALID,
		"REPEATED_REFUNDMENT_REQUEST": core.ECONFLICT, "SOMETHING_NEW": core.EUNKNOWN, "": core.EUNKNOWN,
	} {
		err := GatewayError("forex_refund", code)
		if err.Code != want || err.ProviderCode != code || core.ProviderCode(err) != code {
			t.Errorf("%s -> %+v, want %s", code, err, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	a, err := ParseTime("2018-11-09 15:36:17")
	if err != nil || !a.Equal(time.Date(2018, 11, 9, 7, 36, 17, 0, time.UTC)) {
		t.Errorf("ParseTime = %v, %v", a, err)
	}
	b, err := ParseTime("20181109153617")
	if err != nil || !b.Equal(a) {
		t.Errorf("compact = %v, %v", b, err)
	}
}

func TestDecodeFormNotificationFields(t *testing.T) {
	// A notification body, as Alipay would post it, through the whole field mapping.
	v := url.Values{"notify_type": {"trade_status_sync"}, "notify_id": {"n1"}, "notify_time": {"2026-11-22 10:00:00"},
		"out_trade_no": {"o-1"}, "trade_no": {"2026112222001"}, "trade_status": {"TRADE_FINISHED"}, "total_fee": {"12.00"}, "currency": {"JPY"}}
	fields := map[string]string{}
	for k := range v {
		fields[k] = v.Get(k)
	}
	ev, err := NotificationEvents(fields, "")
	if err != nil || len(ev) != 1 {
		t.Fatalf("events = %v, %v", ev, err)
	}
	if ev[0].Amount != (core.Money{Value: 12, Currency: "JPY"}) || ev[0].PaymentStatus != core.PaymentSucceeded || ev[0].OccurredAt.IsZero() {
		t.Errorf("event = %+v", ev[0])
	}
	fields["notify_time"] = "22/11/2026"
	if ev, err := NotificationEvents(fields, ""); err != nil || len(ev) != 1 || !ev[0].OccurredAt.IsZero() {
		t.Errorf("odd notify_time: %+v, %v", ev, err)
	}
	fields["notify_type"] = NotifyRefund
	fields["out_return_no"] = "r-1"
	fields["refund_status"] = "REFUND_FAIL"
	fields["error_code"] = "MERCHANT_BALANCE_NOT_ENOUGH"
	ev, err = NotificationEvents(fields, "")
	if err != nil || len(ev) != 1 || ev[0].Kind != core.EventRefund || ev[0].RefundStatus != core.RefundFailed || ev[0].FailureCode != "MERCHANT_BALANCE_NOT_ENOUGH" {
		t.Fatalf("refund events = %+v, %v", ev, err)
	}
}
