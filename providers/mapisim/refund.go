package mapisim

import (
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

func moneyDec(v int64, currency string) string {
	return core.Money{Value: v, Currency: currency}.Decimal()
}

// defaultGmtReturnLayouts: the global page says YYYYMMDDHHMMSS, the HK page yyyy-MM-dd HH:mm:ss
// (alipay-crossborder.md §16 #6, alipayhk.md §17 #11); both are accepted unless configured.
var defaultGmtReturnLayouts = []string{"20060102150405", "2006-01-02 15:04:05"}

func (s *Sim) gmtReturnLayouts(flavour string) []string {
	if l, ok := s.cfg.GmtReturnLayouts[flavour]; ok && len(l) > 0 {
		return l
	}
	return defaultGmtReturnLayouts
}

// forexRefund implements forex_refund (alipay-crossborder.md §9.1, alipayhk.md §9): partial and
// multiple refunds, sync (is_sync=Y) and async modes, and the documented error codes.
func (s *Sim) forexRefund(req *gwRequest) gwResponse {
	p := req.params
	ps := req.partner
	for _, f := range []string{"out_return_no", "out_trade_no", "currency", "gmt_return"} {
		if p[f] == "" {
			return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
		}
	}
	if ps.Flavour == FlavourHK && p["reason"] == "" {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	if strings.Contains(p["reason"], `"`) || checkLengths(p) != nil {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	if (p["return_amount"] == "") == (p["return_rmb_amount"] == "") {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	okTime := false
	for _, l := range s.gmtReturnLayouts(ps.Flavour) {
		if _, err := time.ParseInLocation(l, p["gmt_return"], beijing); err == nil {
			okTime = true
			break
		}
	}
	if !okTime {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	var sync bool
	switch p["is_sync"] {
	case "Y":
		sync = true
	case "", "N":
	default:
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fingerprint := strings.Join([]string{p["out_trade_no"], p["return_amount"], p["return_rmb_amount"], p["currency"]}, "|")
	if r, ok := s.refunds[orderKey{ps.ID, p["out_return_no"]}]; ok {
		if o := s.orders[orderKey{ps.ID, r.OutTradeNo}]; req.stale && r.Status == RefundSuccess && o != nil && r.Amount > o.Amount-o.Refunded {
			// A lagging view does not find the refund it made: the repeat is checked as a new
			// refund, which what is left cannot cover.
			return gwResponse{errCode: "RETURN_AMOUNT_EXCEED"}
		}
		if r.Fingerprint != fingerprint || s.cfg.StrictRepeatedRefund {
			return gwResponse{errCode: "REPEATED_REFUNDMENT_REQUEST"}
		}
		if r.Status == RefundFailed && r.ErrorCode != "" {
			return gwResponse{errCode: r.ErrorCode}
		}
		return gwResponse{ok: true}
	}
	if s.cfg.RefundMinInterval > 0 && !ps.lastRefund.IsZero() && now.Sub(ps.lastRefund) < s.cfg.RefundMinInterval {
		return gwResponse{errCode: s.cfg.RefundIntervalError}
	}
	o := s.orders[orderKey{ps.ID, p["out_trade_no"]}]
	if o == nil || o.TradeNo == "" || o.Status == StatusWaitBuyerPay {
		return gwResponse{errCode: "PURCHASE_TRADE_NOT_EXIST"}
	}
	if o.Paid.IsZero() {
		return gwResponse{errCode: "TRADE_HAS_CLOSE"}
	}
	if p["currency"] != o.Currency || (ps.Flavour == FlavourHK && p["currency"] != "HKD") {
		return gwResponse{errCode: "CURRENCY_NOT_SAME"}
	}
	var amount int64
	if p["return_amount"] != "" {
		m, err := parseAmount(p["return_amount"], o.Currency)
		if err != nil {
			return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
		}
		amount = m.Value
	} else {
		m, _, err := s.checkAmount(ps, o.Currency, "", p["return_rmb_amount"])
		if err != nil {
			return gwResponse{errCode: codeOf(err)}
		}
		amount = m.Value
	}
	if amount > o.Amount-o.Refunded {
		return gwResponse{errCode: "RETURN_AMOUNT_EXCEED"}
	}
	var failCode string
	for _, f := range s.takeLocked(ps.ID, "forex_refund", FaultRefundFail) {
		failCode = f.Code
		if failCode == "" {
			failCode = "MERCHANT_BALANCE_NOT_ENOUGH"
		}
	}
	r := &Refund{Partner: ps.ID, OutTradeNo: o.OutTradeNo, OutReturnNo: p["out_return_no"], TradeNo: o.TradeNo,
		Amount: amount, Currency: o.Currency, Status: RefundProcessing, Sync: sync, NotifyURL: p["notify_url"],
		Reason: p["reason"], Fingerprint: fingerprint, Created: now}
	s.refunds[orderKey{ps.ID, r.OutReturnNo}] = r
	o.Refunds = append(o.Refunds, r.OutReturnNo)
	o.Refunded += amount // reserved while processing, so concurrent refunds cannot exceed the total
	ps.lastRefund = now
	if sync {
		if failCode != "" {
			s.completeRefundLocked(r, o, RefundFailed, failCode)
			return gwResponse{errCode: failCode}
		}
		s.completeRefundLocked(r, o, RefundSuccess, "")
		return gwResponse{ok: true}
	}
	r.PlannedFail = failCode
	s.deliveries.addBusy(1)
	k := orderKey{ps.ID, r.OutReturnNo}
	s.afterLocked(s.cfg.AsyncRefundDelay, func() { s.finishAsyncRefund(k) })
	return gwResponse{ok: true}
}

func (s *Sim) completeRefundLocked(r *Refund, o *Order, status, code string) {
	r.Status, r.ErrorCode, r.Done = status, code, s.now()
	if status != RefundSuccess {
		o.Refunded -= r.Amount
		return
	}
	if o.Refunded >= o.Amount {
		o.Status = StatusTradeClosed
		o.Closed = r.Done
	}
}

// finishAsyncRefund completes an is_sync=N refund and sends refund_status_sync.
func (s *Sim) finishAsyncRefund(k orderKey) {
	defer s.deliveries.addBusy(-1)
	s.mu.Lock()
	r := s.refunds[k]
	if r == nil || r.Status != RefundProcessing {
		s.mu.Unlock()
		return
	}
	o := s.orders[orderKey{r.Partner, r.OutTradeNo}]
	if o == nil {
		s.mu.Unlock()
		return
	}
	if r.PlannedFail != "" {
		s.completeRefundLocked(r, o, RefundFailed, r.PlannedFail)
	} else {
		s.completeRefundLocked(r, o, RefundSuccess, "")
	}
	snap := *r
	s.mu.Unlock()
	if snap.NotifyURL == "" {
		return
	}
	f := map[string]string{
		"notify_type":   "refund_status_sync",
		"out_trade_no":  snap.OutTradeNo,
		"out_return_no": snap.OutReturnNo,
		"trade_no":      snap.TradeNo,
		"refund_status": "REFUND_SUCCESS",
		"return_amount": moneyDec(snap.Amount, snap.Currency),
		"currency":      snap.Currency,
		"gmt_refund":    snap.Done.Format(timeLayout),
	}
	if snap.Status == RefundFailed {
		f["refund_status"] = "REFUND_FAIL"
		f["error_code"] = snap.ErrorCode
	}
	s.enqueue(snap.Partner, snap.NotifyURL, f, snap.OutTradeNo, snap.OutReturnNo)
}

// refundQuery implements alipay.acquire.refund.query. The business fields sit in
// <response><refund>…</refund></response> (the real nesting is UNCONFIRMED, alipay-crossborder.md §9.2).
func (s *Sim) refundQuery(req *gwRequest) gwResponse {
	p := req.params
	if p["out_trade_no"] == "" || p["out_return_no"] == "" {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := map[string]string{"out_trade_no": p["out_trade_no"], "out_return_no": p["out_return_no"]}
	o := s.orders[orderKey{req.partner.ID, p["out_trade_no"]}]
	r := s.refunds[orderKey{req.partner.ID, p["out_return_no"]}]
	switch {
	case o == nil || o.TradeNo == "":
		f["response_code"] = "TRADE_NOT_EXIST"
	case r == nil || r.OutTradeNo != o.OutTradeNo:
		f["response_code"] = "NOT_FOUND"
		f["trade_no"] = o.TradeNo
	default:
		f["response_code"] = "SUCCESS"
		f["trade_no"] = o.TradeNo
		f["refund_result_code"] = r.Status
		f["refund_error_code"] = r.ErrorCode
		f["return_amount"] = moneyDec(r.Amount, r.Currency)
		f["currency"] = r.Currency
		f["gmt_create"] = r.Created.Format(timeLayout)
		if !r.Done.IsZero() {
			f["gmt_refund"] = r.Done.Format(timeLayout)
		}
	}
	return gwResponse{respElem: "refund", fields: f, noEcho: true}
}

// staleRefundQuery is the answer of a refund query that lags behind (stale_query fault): the
// trade exists, the refund is not known yet.
func (s *Sim) staleRefundQuery(req *gwRequest) gwResponse {
	p := req.params
	if p["out_trade_no"] == "" || p["out_return_no"] == "" {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	f := map[string]string{"out_trade_no": p["out_trade_no"], "out_return_no": p["out_return_no"], "response_code": "NOT_FOUND"}
	s.mu.Lock()
	if o := s.orders[orderKey{req.partner.ID, p["out_trade_no"]}]; o != nil && o.TradeNo != "" {
		f["trade_no"] = o.TradeNo
	} else {
		f["response_code"] = "TRADE_NOT_EXIST"
	}
	s.mu.Unlock()
	return gwResponse{respElem: "refund", noEcho: true, fields: f}
}
