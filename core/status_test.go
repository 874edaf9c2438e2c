package core

import (
	"math"
	"testing"
)

var (
	allPayment = []PaymentStatus{PaymentPending, PaymentSucceeded, PaymentClosed, PaymentFailed}
	allRefund  = []RefundStatus{RefundPending, RefundProcessing, RefundSucceeded, RefundFailed}
)

// TestPaymentTransitions spells out the whole matrix, so that any change to the table is a
// deliberate change to this test too.
func TestPaymentTransitions(t *testing.T) {
	allowed := map[[2]PaymentStatus]bool{
		{PaymentPending, PaymentSucceeded}: true,
		{PaymentPending, PaymentClosed}:    true,
		{PaymentPending, PaymentFailed}:    true,
		{PaymentClosed, PaymentSucceeded}:  true, // money reported after a close is money held
		{PaymentFailed, PaymentSucceeded}:  true,
	}
	for _, from := range allPayment {
		for _, to := range allPayment {
			err := PaymentTransition(from, to)
			if allowed[[2]PaymentStatus{from, to}] {
				if err != nil {
					t.Errorf("%s -> %s: %v, want allowed", from, to, err)
				}
				continue
			}
			if ErrorCode(err) != ECONFLICT {
				t.Errorf("%s -> %s: err = %v, want %s", from, to, err, ECONFLICT)
			}
		}
	}
	// A succeeded payment never goes anywhere, least of all back to pending.
	for _, to := range allPayment {
		if PaymentTransition(PaymentSucceeded, to) == nil {
			t.Errorf("succeeded -> %s allowed", to)
		}
	}
	for _, from := range allPayment {
		if from != PaymentPending && PaymentTransition(from, PaymentPending) == nil {
			t.Errorf("%s -> pending allowed", from)
		}
	}
	for _, bad := range []PaymentStatus{"", "paid", "SUCCEEDED", "refunded"} {
		if bad.Valid() {
			t.Errorf("%q is Valid", bad)
		}
		if PaymentTransition(bad, PaymentSucceeded) == nil || PaymentTransition(PaymentPending, bad) == nil {
			t.Errorf("transition with unknown status %q allowed", bad)
		}
	}
	for _, s := range allPayment {
		if !s.Valid() {
			t.Errorf("%s not Valid", s)
		}
		if s.Final() != (s != PaymentPending) {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}

func TestRefundTransitions(t *testing.T) {
	allowed := map[[2]RefundStatus]bool{
		{RefundPending, RefundProcessing}:   true,
		{RefundPending, RefundSucceeded}:    true,
		{RefundPending, RefundFailed}:       true,
		{RefundProcessing, RefundSucceeded}: true,
		{RefundProcessing, RefundFailed}:    true,
	}
	for _, from := range allRefund {
		for _, to := range allRefund {
			err := RefundTransition(from, to)
			if allowed[[2]RefundStatus{from, to}] {
				if err != nil {
					t.Errorf("%s -> %s: %v, want allowed", from, to, err)
				}
				continue
			}
			if ErrorCode(err) != ECONFLICT {
				t.Errorf("%s -> %s: err = %v, want %s", from, to, err, ECONFLICT)
			}
		}
	}
	for _, bad := range []RefundStatus{"", "done", "PENDING"} {
		if bad.Valid() {
			t.Errorf("%q is Valid", bad)
		}
		if RefundTransition(bad, RefundSucceeded) == nil {
			t.Errorf("transition from unknown %q allowed", bad)
		}
	}
	for _, s := range allRefund {
		if !s.Valid() {
			t.Errorf("%s not Valid", s)
		}
		if s.Final() != (s == RefundSucceeded || s == RefundFailed) {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}

func TestCheckRefund(t *testing.T) {
	usd := func(v int64) Money { return Money{v, "USD"} }
	tests := []struct {
		name                    string
		paid, committed, amount Money
		ok                      bool
	}{
		{"full refund", usd(1000), usd(0), usd(1000), true},
		{"partial", usd(1000), usd(0), usd(1), true},
		{"exactly the rest", usd(1000), usd(600), usd(400), true},
		{"one unit over", usd(1000), usd(600), usd(401), false},
		{"over on a fresh payment", usd(1000), usd(0), usd(1001), false},
		{"nothing left", usd(1000), usd(1000), usd(1), false},
		{"zero amount", usd(1000), usd(0), usd(0), false},
		{"negative amount", usd(1000), usd(0), usd(-5), false},
		{"amount currency differs", usd(1000), usd(0), Money{5, "HKD"}, false},
		{"committed currency differs", usd(1000), Money{0, "HKD"}, usd(5), false},
		{"unknown currency", Money{1000, "usd"}, Money{0, "usd"}, Money{5, "usd"}, false},
		{"overflowing sum", usd(math.MaxInt64), usd(math.MaxInt64), usd(1), false},
		{"largest payment, full", usd(math.MaxInt64), usd(0), usd(math.MaxInt64), true},
		{"zero-decimal currency", Money{500, "JPY"}, Money{200, "JPY"}, Money{300, "JPY"}, true},
		{"three-decimal currency over by one fils", Money{1000, "KWD"}, Money{0, "KWD"}, Money{1001, "KWD"}, false},
		{"negative committed total", usd(1000), usd(-500), usd(1500), false},
	}
	for _, tt := range tests {
		err := CheckRefund(tt.paid, tt.committed, tt.amount)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckRefund = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err != nil && ErrorCode(err) != EINVALID && ErrorCode(err) != EINTERNAL {
			t.Errorf("%s: code %s, want %s", tt.name, ErrorCode(err), EINVALID)
		}
	}
	err := CheckRefund(usd(1000), usd(600), usd(500))
	if want := "refund of 5.00 exceeds the refundable 4.00"; ErrorMessage(err) != want {
		t.Errorf("message = %q, want %q", ErrorMessage(err), want)
	}
}
