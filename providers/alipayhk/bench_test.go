package alipayhk_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

// The benchmarks pair each operation with a reference (core/benchpair,
// shared/design/benchmarking.md).

// benchProvider returns a provider with account "a": RSA2-2048, the simulator's test keys.
// benchProvider is an RSA2 account. Its notifications name their merchant and are not confirmed
// with a gateway (notify_verify off), so BenchmarkParseNotification measures the verify and the
// parse, not the confirmation call the host makes separately.
func benchProvider(b *testing.B) *alipayhk.Provider {
	p := alipayhk.New()
	err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: map[string]string{
		"partner": testPartner, "gateway_url": "https://intlmapi.alipay.com/gateway.do", "sign_type": "RSA2",
		"private_key_file":       string(mapisim.TestMerchantPrivateKeyPEM),
		"alipay_public_key_file": string(mapisim.TestAlipayPublicKeyPEM),
		"notify_verify":          "false",
	}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkCreatePayment is the whole create path of one AlipayHK payment with an RSA2-2048
// account (checks, parameters, Format A, signature, assembly), paired with a bare
// rsa.SignPKCS1v15 (SHA-256 over 400 bytes, hash included) with the same key.
func BenchmarkCreatePayment(b *testing.B) {
	p := benchProvider(b)
	key, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	req := &core.CreatePaymentRequest{Account: "a", OutTradeNo: "HK20261120000001", Method: "alipayhk", Channel: core.ChannelApp,
		Amount: hkd(123_45), Subject: "Order HK20261120000001", Description: "2 items",
		NotifyURL: "https://merchant.example/notify/a", ExpiresAt: time.Now().Add(time.Hour)}
	op := func() error { _, err := p.CreatePayment(context.Background(), req); return err }
	b.ReportAllocs()
	benchpair.Run(b, "rsa-sign", op, benchpair.BareSign(key))
}

// benchFile builds an n-row transaction file; gbk encodes it as GBK with Chinese remarks.
func benchFile(b *testing.B, n int, gbk bool) []byte {
	var sb strings.Builder
	sb.WriteString("Partner_transaction_id,Transaction_id,Amount,Fee,,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,original_partner_transaction_ID\r\n")
	for i := 0; i < n; i++ {
		remark := ""
		if gbk && i%4 == 0 {
			remark = "測試訂單"
		}
		fmt.Fprintf(&sb, "HK2026112%07d     ,20261120220013%014d,%d.%02d,1.80,,98.20,HKD,2026-11-20 10:15:02,2026-11-21 09:12:40,ALIPAYHK,Cross_wap,P,L,%s,\r\n",
			i, i, 100+i%900, i%100, remark)
	}
	if !gbk {
		return []byte(sb.String())
	}
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkReadTransactionFile measures the reader's throughput (op-MB/s, op-rows/s: the
// reader's own time) on a 2,000-row file, paired with a bare encoding/csv pass over the same
// bytes (the floor any CSV reader pays).
func BenchmarkReadTransactionFile(b *testing.B) {
	const rows = 2000
	for _, enc := range []string{"utf8", "gbk"} {
		data := benchFile(b, rows, enc == "gbk")
		b.Run(enc, func(b *testing.B) {
			op := func() error {
				n := 0
				err := alipayhk.ReadTransactionFile(bytes.NewReader(data), func(*core.SettlementRecord) error { n++; return nil })
				if err == nil && n != rows {
					err = fmt.Errorf("%d rows", n)
				}
				return err
			}
			ref := func() error {
				r := csv.NewReader(bytes.NewReader(data))
				r.ReuseRecord = true
				r.FieldsPerRecord = -1
				for {
					if _, err := r.Read(); err == io.EOF {
						return nil
					} else if err != nil {
						return err
					}
				}
			}
			per := benchpair.Run(b, "csv", op, ref)
			if per > 0 {
				b.ReportMetric(float64(len(data))/per.Seconds()/1e6, "op-MB/s")
				b.ReportMetric(float64(rows)/per.Seconds(), "op-rows/s")
			}
		})
	}
}

// BenchmarkParseNotification is the whole ParseNotification of an RSA2 payment notification as
// AlipayHK sends it (no currency field: the amount is HKD by default; notify_verify off, it is a
// network call), paired with one bare rsa.VerifyPKCS1v15 (SHA-256 over 400 bytes, hash included).
func BenchmarkParseNotification(b *testing.B) {
	p := benchProvider(b)
	alipayKey, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signing.NewRSASigner(signing.RSA2, alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]string{
		"notify_type": "trade_status_sync", "notify_id": "5b89a773c60af059d96b1693dd3b3d6nc1", "notify_time": "2026-11-22 10:00:00",
		"out_trade_no": "HK20261120000001", "trade_no": "2026112222001332950500389138", "trade_status": "TRADE_FINISHED",
		"total_fee": "123.45", "subject": "Order HK20261120000001", "body": "2 items", "buyer_id": "2088102122524333",
		"seller_id": testPartner, "gmt_create": "2026-11-22 09:59:00", "gmt_payment": "2026-11-22 10:00:00", "payment_type": "1",
	}
	sig, err := signer.Sign(signing.CanonicalB(fields))
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	form.Set("sign", sig)
	form.Set("sign_type", "RSA2")
	req := &core.NotificationRequest{Account: "a", Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, Body: []byte(form.Encode())}
	ref, err := benchpair.BareVerify(alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	op := func() error {
		res, err := p.ParseNotification(ctx, req)
		if err == nil && (!res.Verified || len(res.Events) != 1 || res.Events[0].Amount != hkd(123_45)) {
			b.Fatalf("notification: %+v", res)
		}
		return err
	}
	b.ReportAllocs()
	benchpair.Run(b, "rsa-verify", op, ref)
}
