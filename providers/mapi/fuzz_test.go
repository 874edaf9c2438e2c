package mapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for every parser of gateway output, seeded from the golden files. Each checks
// that nothing panics and that accepted input satisfies the parser's own promises.

func seedFiles(f *testing.F, glob string, lines bool) {
	files, _ := filepath.Glob(glob)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if !lines {
			f.Add(string(b))
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	seedFiles(f, "testdata/xml/*.xml", false)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResponse([]byte(s))
		if err != nil {
			return
		}
		if !r.Success && r.Error == "" {
			t.Fatal("failure without an error code")
		}
		for k := range r.Signed {
			if _, ok := r.Fields[k]; !ok {
				t.Fatalf("signed field %q missing from Fields", k)
			}
		}
	})
}

func FuzzParseSettlementLine(f *testing.F) {
	seedFiles(f, "testdata/files/*.txt", true)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseSettlementLine(s)
		if err != nil || r == nil {
			return
		}
		if r.Reference == "" || r.Amount.Validate() != nil && r.Amount.Value != 0 || r.OccurredAt.IsZero() {
			t.Fatalf("accepted an incomplete record: %+v", r)
		}
		if r.Amount.Value < 0 || r.Fee.Value < 0 {
			t.Fatalf("negative amount: %+v", r)
		}
	})
}

func FuzzParseRateLine(f *testing.F) {
	seedFiles(f, "testdata/files/rates.txt", true)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRateLine(s)
		if err != nil || r == nil {
			return
		}
		if r.Rate == "" || r.Currency == "" || r.At.IsZero() {
			t.Fatalf("accepted an incomplete rate: %+v", r)
		}
	})
}

func FuzzParseSDKResult(f *testing.F) {
	f.Add(strings.TrimSpace(string(readFile(f, "testdata/order-4.6.golden"))))
	f.Add(`partner="2088101122136241"&out_trade_no="o-1"&success="true"&sign_type="RSA"&sign="abc="`)
	f.Add(`a="{"x":"1"}"&sign_type="RSA"&sign="x"`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseSDKResult(s)
		if err != nil {
			return
		}
		if r.Sign == "" || r.SignType == "" || !strings.HasPrefix(s, r.Content) {
			t.Fatalf("inconsistent result: %+v", r)
		}
	})
}

// FuzzNotificationFields runs decoded notification fields through the event mapping.
func FuzzNotificationFields(f *testing.F) {
	f.Add("trade_status_sync", "TRADE_FINISHED", "10.00", "USD", "2026-11-22 10:00:00", "", "")
	f.Add("refund_status_sync", "", "1", "JPY", "", "REFUND_SUCCESS", "r-1")
	f.Add("", "WAIT_BUYER_PAY", "0.001", "KWD", "20261122100000", "", "")
	f.Fuzz(func(t *testing.T, typ, status, fee, cur, at, refund, ret string) {
		fields := map[string]string{"notify_type": typ, "trade_status": status, "total_fee": fee, "return_amount": fee,
			"currency": cur, "notify_time": at, "refund_status": refund, "out_return_no": ret, "out_trade_no": "o"}
		evs, err := NotificationEvents(fields, "")
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.Kind == "payment" && !e.PaymentStatus.Valid() || e.Kind == "refund" && !e.RefundStatus.Valid() {
				t.Fatalf("event with an invalid status: %+v", e)
			}
			if e.Amount.Value < 0 {
				t.Fatalf("negative amount: %+v", e)
			}
		}
	})
}
