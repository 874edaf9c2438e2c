package host

import (
	"context"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// reportedInSettlement reports whether a provider's reported amount cannot be compared with
// expected, the amount of a payment (or refund) of method on account: the reported currency
// differs, and the provider's rule for expected's currency declares ReportedInSettlement (the
// wallet reports those amounts only in the account's settlement currency, converted at its own
// rate). The host then trusts the verified status; the reported amount is logged. Any other
// difference (same currency, or a rule without the flag) stays a mismatch. When the rule cannot
// be read the answer is false: flagging is the safe side.
func (s *Service) reportedInSettlement(ctx context.Context, account, method string, expected, reported core.Money) bool {
	if reported.Currency == "" || reported.Currency == expected.Currency {
		return false
	}
	_, desc, err := s.provider(ctx, account)
	if err != nil {
		s.logFor(ctx).Warn("cannot read the provider's amount rules; treating the reported amount as a mismatch",
			"account", account, "method", method, "error", err)
		return false
	}
	m, ok := desc.Method(method)
	if !ok {
		return false
	}
	for _, r := range m.AmountRules {
		if r.Currency == expected.Currency {
			return r.ReportedInSettlement
		}
	}
	return false
}

// refundReportedInSettlement is reportedInSettlement for refund r, whose method is its
// payment's; the payment is read only when the currencies differ.
func (s *Service) refundReportedInSettlement(ctx context.Context, tx store.Tx, r *store.Refund, reported core.Money) bool {
	if reported.Currency == "" || reported.Currency == r.Amount.Currency {
		return false
	}
	p, err := tx.GetPayment(ctx, r.PaymentID)
	if err != nil {
		s.logFor(ctx).Warn("cannot read a refund's payment; treating the reported amount as a mismatch",
			"refund_id", r.ID, "payment_id", r.PaymentID, "error", err)
		return false
	}
	if !s.reportedInSettlement(ctx, r.Account, p.Method, r.Amount, reported) {
		return false
	}
	s.logFor(ctx).Info("refund amount reported in the settlement currency; not comparable, trusting the verified status",
		"refund_id", r.ID, "expected", r.Amount.String(), "reported", reported.String())
	return true
}

// paymentReportedInSettlement is reportedInSettlement for payment p, logged at info when true.
func (s *Service) paymentReportedInSettlement(ctx context.Context, p *store.Payment, reported core.Money) bool {
	if !s.reportedInSettlement(ctx, p.Account, p.Method, p.Amount, reported) {
		return false
	}
	s.logFor(ctx).Info("payment amount reported in the settlement currency; not comparable, trusting the verified status",
		"payment_id", p.ID, "expected", p.Amount.String(), "reported", reported.String())
	return true
}
