package core

// PaymentStatus is the neutral state of a payment.
type PaymentStatus string

const (
	PaymentPending   PaymentStatus = "pending"   // created; the buyer has not paid (yet)
	PaymentSucceeded PaymentStatus = "succeeded" // the provider confirmed the money moved
	PaymentClosed    PaymentStatus = "closed"    // expired or closed unpaid
	PaymentFailed    PaymentStatus = "failed"    // the provider declined it
)

// RefundStatus is the neutral state of a refund.
type RefundStatus string

const (
	RefundPending    RefundStatus = "pending"    // intent stored; not confirmed sent, or its outcome is unknown
	RefundProcessing RefundStatus = "processing" // the provider accepted it and will report the result
	RefundSucceeded  RefundStatus = "succeeded"
	RefundFailed     RefundStatus = "failed"
)

// paymentTransitions is the one table of allowed payment state changes. A payment that
// succeeded never goes back; one that closed or failed may still succeed, because a wallet
// that reports money taken after a close is reporting money the merchant holds.
var paymentTransitions = map[PaymentStatus][]PaymentStatus{
	PaymentPending:   {PaymentSucceeded, PaymentClosed, PaymentFailed},
	PaymentClosed:    {PaymentSucceeded},
	PaymentFailed:    {PaymentSucceeded},
	PaymentSucceeded: nil,
}

// refundTransitions is the one table of allowed refund state changes.
var refundTransitions = map[RefundStatus][]RefundStatus{
	RefundPending:    {RefundProcessing, RefundSucceeded, RefundFailed},
	RefundProcessing: {RefundSucceeded, RefundFailed},
	RefundSucceeded:  nil,
	RefundFailed:     nil,
}

// Valid reports whether s is a known payment status.
func (s PaymentStatus) Valid() bool { _, ok := paymentTransitions[s]; return ok }

// Valid reports whether s is a known refund status.
func (s RefundStatus) Valid() bool { _, ok := refundTransitions[s]; return ok }

// Final reports whether no further change is expected (a closed payment may still succeed if
// the wallet says so, but nobody waits for it).
func (s PaymentStatus) Final() bool { return s != PaymentPending }

// Final reports whether the refund has reached its end.
func (s RefundStatus) Final() bool { return s == RefundSucceeded || s == RefundFailed }

// PaymentTransition returns nil when from -> to is allowed, ECONFLICT otherwise. from == to is
// not a transition and is reported as a conflict, so that callers treat repeats as no-ops explicitly.
func PaymentTransition(from, to PaymentStatus) error {
	for _, s := range paymentTransitions[from] {
		if s == to {
			return nil
		}
	}
	return Errorf(ECONFLICT, "payment cannot go from %s to %s", from, to)
}

// RefundTransition returns nil when from -> to is allowed, ECONFLICT otherwise.
func RefundTransition(from, to RefundStatus) error {
	for _, s := range refundTransitions[from] {
		if s == to {
			return nil
		}
	}
	return Errorf(ECONFLICT, "refund cannot go from %s to %s", from, to)
}

// CheckRefund checks that a new refund of amount on a payment of paid, of which committed is
// already refunded or reserved by refunds that have not failed, stays within what was paid.
func CheckRefund(paid, committed, amount Money) error {
	if err := amount.Validate(); err != nil {
		return err
	}
	if amount.Currency != paid.Currency || committed.Currency != paid.Currency {
		return ParamErrorf(EINVALID, "amount.currency", "refund currency %s differs from the payment's %s", amount.Currency, paid.Currency)
	}
	// A negative committed total would let refunds exceed the payment; it can only be a bug.
	if committed.Value < 0 {
		return Errorf(EINTERNAL, "refunded total of the payment is negative (%d)", committed.Value)
	}
	total, err := committed.Add(amount)
	if err != nil {
		return err
	}
	if total.Value > paid.Value {
		return ParamErrorf(EINVALID, "amount", "refund of %s exceeds the refundable %s", amount.Decimal(),
			Money{paid.Value - committed.Value, paid.Currency}.Decimal())
	}
	return nil
}
