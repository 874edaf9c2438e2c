package mapi

import (
	"context"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// Notification types the gateway posts.
const (
	NotifyTrade  = "trade_status_sync"
	NotifyRefund = "refund_status_sync"
)

// VerifyFields checks a notification's signature over every received field except sign and
// sign_type (no whitelist: fields Alipay adds later are signed too). It returns a reason when
// the notification must be rejected, "" when the signature verifies.
func VerifyFields(s *Settings, fields map[string]string) string {
	sig, st := fields["sign"], fields["sign_type"]
	if sig == "" || st == "" {
		return "notification carries no sign or sign_type"
	}
	v, err := s.Verifier(st)
	if err != nil {
		return core.ErrorMessage(err)
	}
	if err := v.Verify(signing.CanonicalB(fields), sig); err != nil {
		return "signature does not verify (" + string(v.Type()) + ")"
	}
	return ""
}

// ParseNotification is the whole intake of a mapi notification: decode the body only
// (notify.DecodeForm; the URL query is ignored by design), verify the signature (VerifyFields:
// a sign type of the account's family), bind it to the account's merchant (bindNotification)
// and map the fields to neutral events. A notification that fails is a result with Verified
// false and an ack that makes Alipay retry; one naming another merchant has the RejectReason
// core.RejectForeignMerchant. Binding that needs the gateway (notify_verify, a query) is done
// only when req.Confirm allows it; until then the result is Pending. An error means paymux
// could not decide (the gateway could not be asked) and the host answers retry. A verified
// notification is reported as such whether or not paymux knows the payment.
func (c *Client) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	contentType := ""
	for k, v := range req.Header {
		if strings.EqualFold(k, "Content-Type") && len(v) > 0 {
			contentType = v[0]
		}
	}
	res := &core.NotificationResult{Ack: notify.AckRetry}
	fields, err := notify.DecodeForm(req.Body, contentType)
	if err != nil {
		res.RejectReason = "undecodable body: " + core.ErrorMessage(err)
		return res, nil
	}
	res.DedupeKey = notify.DedupeKey(req.Account, fields)
	if reason := VerifyFields(c.S, fields); reason != "" {
		res.RejectReason = reason
		return res, nil
	}
	events, err := NotificationEvents(fields, c.DefaultCurrency)
	if err != nil {
		res.RejectReason = core.ErrorMessage(err)
		return res, nil
	}
	bound, reason, err := c.bindNotification(ctx, fields, events, req.Confirm)
	switch {
	case err != nil:
		return nil, err
	case reason != "":
		res.RejectReason = reason
		return res, nil
	case !bound:
		// Authentic but not yet bound: the host checks its dedupe first, then asks again with
		// Confirm. The events are what it means once bound; the ack is for a verified duplicate.
		res.Pending = true
		res.RejectReason = "not yet bound to the merchant: needs a gateway confirmation"
		res.Events = events
		res.Ack = c.S.Ack
		return res, nil
	}
	res.Verified = true
	res.Events = events
	res.Ack = c.S.Ack
	return res, nil
}

// bindNotification binds a notification whose signature verified to the account's merchant. It
// returns bound true, or a reason to reject it, or (without confirm) neither: the binding needs
// a gateway round trip. The rules:
//
//   - a merchant identity that is not the account's (BindMerchant) rejects it as
//     core.RejectForeignMerchant, whatever else holds;
//   - with notify_verify on (the default) the gateway must confirm notify_id for the account's
//     partner; it does so only for the partner the notification belongs to, so a false answer
//     about a notification that names no merchant is a foreign one;
//   - with notify_verify off, a notification naming the account's merchant is bound by that, one
//     signed with the merchant's own MD5 key (nobody else holds it) by the signature, and one
//     naming no merchant by a single_trade_query (alipay.acquire.refund.query for a refund) of
//     the account's partner that confirms its trade, state and amount (confirmByQuery).
//
// An error means the gateway could not be asked: nothing is decided, the wallet retries.
func (c *Client) bindNotification(ctx context.Context, fields map[string]string, events []core.NotificationEvent, confirm bool) (bound bool, reason string, err error) {
	merchant := BindMerchant(c.S, fields)
	if merchant == MerchantForeign {
		return false, core.RejectForeignMerchant, nil
	}
	if !c.S.NotifyVerify && (merchant == MerchantOurs || fields["sign_type"] == string(signing.MD5)) {
		return true, "", nil
	}
	if !confirm {
		return false, "", nil
	}
	if c.S.NotifyVerify {
		ok, err := c.NotifyVerify(ctx, fields["notify_id"])
		if err != nil {
			return false, "", core.WrapError(core.EUNAVAILABLE, err, "notify_verify could not be asked")
		}
		switch {
		case ok:
			return true, "", nil
		case merchant == MerchantUnnamed:
			return false, core.RejectForeignMerchant, nil
		}
		return false, "notify_verify did not confirm notify_id", nil
	}
	return c.confirmByQuery(ctx, events)
}

// confirmByQuery binds a notification that names no merchant by asking the gateway, as the
// account's partner, about the trade (or refund) it reports: the answer must be about that very
// trade (same out_trade_no and trade_no; for a refund, the same out_return_no) and confirm the
// reported state and amount. A gateway that knows no such trade for this partner, or answers
// about another object or merchant, makes it foreign; an answer that disagrees on state or
// amount rejects it (the wallet redelivers, and it is asked again).
func (c *Client) confirmByQuery(ctx context.Context, events []core.NotificationEvent) (bool, string, error) {
	if len(events) == 0 {
		return false, core.RejectForeignMerchant, nil
	}
	for _, ev := range events {
		switch ev.Kind {
		case core.EventPayment:
			if ev.ProviderRef == "" || ev.OutTradeNo == "" {
				return false, core.RejectForeignMerchant, nil
			}
			st, err := c.QueryTrade(ctx, ev.OutTradeNo, ev.ProviderRef)
			if r, err := queryVerdict(err); r != "" || err != nil {
				return false, r, err
			}
			if st.Status != ev.PaymentStatus || ev.Amount.Currency == st.Amount.Currency && ev.Amount != st.Amount {
				return false, "single_trade_query does not confirm the notified state or amount", nil
			}
		case core.EventRefund:
			if ev.OutRefundNo == "" || ev.OutTradeNo == "" {
				return false, core.RejectForeignMerchant, nil
			}
			st, err := c.QueryRefund(ctx, ev.OutTradeNo, ev.OutRefundNo)
			if r, err := queryVerdict(err); r != "" || err != nil {
				return false, r, err
			}
			if st.Status != ev.RefundStatus || ev.Amount.Currency == st.Amount.Currency && ev.Amount != st.Amount {
				return false, ServiceRefundQuery + " does not confirm the notified state or amount", nil
			}
		default:
			return false, core.RejectForeignMerchant, nil
		}
	}
	return true, "", nil
}

// queryVerdict reads the error of a binding query: none is no verdict; a trade or refund the
// partner does not have, or an answer about another object or merchant, is a foreign
// notification; anything else (unavailable, unknown) leaves it undecided.
func queryVerdict(err error) (string, error) {
	if err == nil {
		return "", nil
	}
	switch {
	case core.ErrorCode(err) == core.ENOTFOUND,
		core.ProviderCode(err) == core.CodeObjectMismatch,
		core.ProviderCode(err) == core.CodeForeignMerchant:
		return core.RejectForeignMerchant, nil
	}
	return "", core.WrapError(core.EUNAVAILABLE, err, "the notification could not be confirmed by a query")
}

// NotificationEvents maps the fields of a verified notification to neutral events: a payment
// event for trade_status_sync (or any notification with trade_status), a refund event for
// refund_status_sync (or any notification with refund_status and out_return_no). A status word
// paymux does not know yields no event; the notification is still verified and kept. Amounts
// are in the notification's currency field, else in defaultCurrency (AlipayHK's notifications
// name none: HKD); with neither they stay zero.
func NotificationEvents(fields map[string]string, defaultCurrency string) ([]core.NotificationEvent, error) {
	// A timestamp in an unexpected layout leaves OccurredAt zero rather than rejecting a
	// genuine notification (which Alipay would then redeliver in vain for a day).
	at, _ := ParseTime(fields["notify_time"])
	var err error
	cur := fields["currency"]
	if cur == "" {
		cur = defaultCurrency
	}
	base := core.NotificationEvent{
		OutTradeNo:  fields["out_trade_no"],
		ProviderRef: fields["trade_no"],
		OccurredAt:  at,
		Wallet:      fields["payment_inst"],
	}
	isRefund := fields["notify_type"] == NotifyRefund ||
		(fields["notify_type"] == "" && fields["refund_status"] != "" && fields["out_return_no"] != "")
	if isRefund {
		ev := base
		ev.Kind = core.EventRefund
		ev.OutRefundNo = fields["out_return_no"]
		ev.RawStatus = fields["refund_status"]
		ev.FailureCode = fields["error_code"]
		st, ok := RefundStatus(ev.RawStatus)
		if !ok {
			return nil, nil
		}
		ev.RefundStatus = st
		if t, err := ParseTime(fields["gmt_refund"]); err == nil && !t.IsZero() {
			ev.OccurredAt = t
		}
		if amt := fields["return_rmb_amount"]; amt != "" {
			// A refund of a CNY-priced payment, when the notification echoes the CNY amount.
			if ev.Amount, err = ParseAmount(amt, "CNY"); err != nil {
				return nil, err
			}
		} else if amt := fields["return_amount"]; amt != "" && cur != "" {
			if ev.Amount, err = ParseAmount(amt, cur); err != nil {
				return nil, err
			}
		}
		return []core.NotificationEvent{ev}, nil
	}
	if fields["trade_status"] == "" {
		return nil, nil
	}
	ev := base
	ev.Kind = core.EventPayment
	ev.RawStatus = fields["trade_status"]
	st, ok := PaymentStatus(ev.RawStatus)
	if !ok {
		return nil, nil
	}
	// As in TradeState: TRADE_CLOSED on a trade that was paid (a full refund closed it) says the
	// payment succeeded. Mapped to closed, it would close a payment whose TRADE_FINISHED
	// notification the host never received, although the buyer paid.
	if st == core.PaymentClosed && paidBeforeClose(fields) {
		st = core.PaymentSucceeded
	}
	ev.PaymentStatus = st
	if amt := fields["rmb_fee"]; amt != "" {
		// A CNY-priced payment whose notification echoes the price: that is the amount the host
		// holds (total_fee is Alipay's conversion into the settlement currency).
		if ev.Amount, err = ParseAmount(amt, "CNY"); err != nil {
			return nil, err
		}
	} else if amt := fields["total_fee"]; amt != "" && cur != "" {
		if ev.Amount, err = ParseAmount(amt, cur); err != nil {
			return nil, err
		}
	}
	if p, err := ParseTime(fields["gmt_payment"]); err == nil && !p.IsZero() {
		ev.OccurredAt = p
	}
	return []core.NotificationEvent{ev}, nil
}

// paidBeforeClose reports whether the fields of a TRADE_CLOSED trade show a payment: a payment
// time or a refund.
func paidBeforeClose(f map[string]string) bool {
	return f["gmt_payment"] != "" || f["refund_fee"] != "" || f["refund_status"] != "" || f["gmt_refund"] != ""
}

// ParseAmount parses a gateway amount in currency, tolerating zero decimals beyond the
// currency's exponent: the gateway writes JPY as "2.00" although requests must send "2".
func ParseAmount(s, currency string) (core.Money, error) {
	exp, ok := core.CurrencyExponent(currency)
	if !ok {
		return core.Money{}, core.Errorf(core.EINVALID, "unknown currency %q", truncate(currency, 10))
	}
	if whole, frac, found := strings.Cut(s, "."); found && len(frac) > exp {
		extra := frac[exp:]
		if strings.Trim(extra, "0") == "" {
			s = whole
			if exp > 0 {
				s += "." + frac[:exp]
			}
		}
	}
	m, err := core.ParseMoney(s, currency)
	if err != nil {
		return core.Money{}, err
	}
	return m, nil
}

// FormatAmount formats m as the gateway wants it: the currency's decimals (2, or 0 for JPY and
// KRW).
func FormatAmount(m core.Money) string { return m.Decimal() }
