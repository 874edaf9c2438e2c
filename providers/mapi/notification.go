package mapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"

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
// (notify.DecodeForm; the URL query is ignored by design), verify the signature, call
// notify_verify when the account says so, and map the fields to neutral events. A notification
// that fails verification is a result with Verified false and an ack that makes Alipay retry; an
// error means paymux could not decide (notify_verify unreachable) and the host answers retry.
// A verified notification is reported as such whether or not paymux knows the payment.
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
	if p := fields["partner"]; p != "" && p != c.S.Partner {
		res.RejectReason = "notification is for another partner"
		return res, nil
	}
	if c.S.NotifyVerify {
		// notify_id confirms once per delivery: a copy of a notification this process already
		// confirmed (the same signed fields) is not asked again, or re-parsing it would fail.
		key := confirmedKey(fields)
		if !c.confirmed.has(key) {
			ok, err := c.NotifyVerify(ctx, fields["notify_id"])
			if err != nil {
				return nil, core.WrapError(core.EUNAVAILABLE, err, "notify_verify could not be asked")
			}
			if !ok {
				res.RejectReason = "notify_verify did not confirm notify_id"
				return res, nil
			}
			c.confirmed.add(key)
		}
	}
	events, err := NotificationEvents(fields, c.DefaultCurrency)
	if err != nil {
		res.RejectReason = core.ErrorMessage(err)
		return res, nil
	}
	res.Verified = true
	res.Events = events
	res.Ack = c.S.Ack
	return res, nil
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

// confirmedKey identifies a signed notification: its notify_id and a hash of what was signed.
func confirmedKey(fields map[string]string) string {
	h := sha256.Sum256([]byte(signing.CanonicalB(fields) + "\x00" + fields["sign"]))
	return fields["notify_id"] + ":" + hex.EncodeToString(h[:16])
}

// confirmedSet remembers the last confirmedMax confirmed notifications (FIFO).
type confirmedSet struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	order []string
}

const confirmedMax = 4096

func (s *confirmedSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[k]
	return ok
}

func (s *confirmedSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]struct{}{}
	}
	if _, ok := s.keys[k]; ok {
		return
	}
	if len(s.order) >= confirmedMax {
		delete(s.keys, s.order[0])
		s.order = s.order[1:]
	}
	s.keys[k] = struct{}{}
	s.order = append(s.order, k)
}
