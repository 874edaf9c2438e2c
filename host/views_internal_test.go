package host

import (
	"reflect"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// TestPaymentViewClientResult: the hint comes from the store's columns; flags pass through.
func TestPaymentViewClientResult(t *testing.T) {
	at := time.Date(2026, 11, 3, 1, 2, 3, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		hint      *store.ClientResultHint
		flags     []string
		want      *ClientResultHint
		wantFlags []string
	}{
		{"none", nil, []string{store.FlagAmountMismatch}, nil, []string{store.FlagAmountMismatch}},
		{"column", &store.ClientResultHint{Verified: true, Status: core.PaymentSucceeded, At: at}, nil,
			&ClientResultHint{Verified: true, Status: core.PaymentSucceeded}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := paymentView(&store.Payment{ID: "pay_1", Status: core.PaymentPending, Flags: tt.flags, ClientResult: tt.hint})
			if !reflect.DeepEqual(v.ClientResult, tt.want) || !reflect.DeepEqual(v.Flags, tt.wantFlags) {
				t.Errorf("view: client_result %+v flags %q, want %+v %q", v.ClientResult, v.Flags, tt.want, tt.wantFlags)
			}
		})
	}
}
