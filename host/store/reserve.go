package store

import (
	"context"

	"github.com/paymux/paymux/core"
)

// ReserveRefund inserts refund r and reserves its amount on its payment, inside tx: it locks
// the payment, requires it to have succeeded and to be in r's account, sums the refunds that
// have not failed, checks with core.CheckRefund that r fits in what was paid, inserts r and
// adds r.Amount to the payment's AmountReserved. Because the payment row stays locked until tx
// ends, concurrent reservations on one payment serialise and can never together exceed the
// paid amount. It returns the updated payment. r.PaymentID, ID, OutRefundNo and Amount must be
// set; Account defaults to the payment's and Status to pending.
func ReserveRefund(ctx context.Context, tx Tx, r *Refund) (*Payment, error) {
	p, err := tx.LockPayment(ctx, r.PaymentID)
	if err != nil {
		return nil, err
	}
	if r.Account == "" {
		r.Account = p.Account
	}
	if r.Account != p.Account {
		return nil, core.Errorf(core.EINVALID, "refund account %s differs from the payment's", r.Account)
	}
	if p.Status != core.PaymentSucceeded {
		return nil, core.Errorf(core.ECONFLICT, "payment %s is %s, only a succeeded payment can be refunded", p.ID, p.Status)
	}
	totals, err := tx.SumRefunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	committed := core.Money{Value: totals.Committed(), Currency: p.Amount.Currency}
	if err := core.CheckRefund(p.Amount, committed, r.Amount); err != nil {
		return nil, err
	}
	if r.Status == "" {
		r.Status = core.RefundPending
	}
	if err := tx.InsertRefund(ctx, r); err != nil {
		return nil, err
	}
	p.AmountReserved = committed.Value + r.Amount.Value
	if err := tx.UpdatePayment(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}
