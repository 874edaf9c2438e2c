package mapisim

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/paymux/paymux/core/signing"
)

// SDKResult is what the wallet SDK hands back to the app after payOrder/payV2
// (alipay-crossborder.md §5).
type SDKResult struct {
	ResultStatus string `json:"resultStatus"` // 9000 paid, 6001 cancelled, 4000 failed, ...
	Result       string `json:"result"`       // echo of the order + success="true" + Alipay sign (9000 only)
	Memo         string `json:"memo"`
}

// Result codes of the SDK (alipay-crossborder.md §5.2).
const (
	ResultSuccess   = "9000"
	ResultPending   = "8000"
	ResultFailed    = "4000"
	ResultDuplicate = "5000"
	ResultCancelled = "6001"
	ResultNetwork   = "6002"
	ResultUnknown   = "6004"
)

// ErrClosed is returned by wallet methods after Close.
var ErrClosed = errors.New("mapisim: simulator closed")

func failed(err error) SDKResult {
	var e *Error
	if errors.As(err, &e) {
		return SDKResult{ResultStatus: ResultFailed, Memo: e.Code + ": " + e.Detail}
	}
	return SDKResult{ResultStatus: ResultFailed, Memo: "SYSTEM_EXCEPTION"}
}

// PayOrderString plays a buyer who pays an SDK order string in the wallet: the string is
// checked like the SDK and gateway would, the trade is created (or the waiting one reused) and
// paid, the trade_status_sync notification is queued, and the synchronous result is returned.
// A rejected string gives resultStatus 4000 with the error code in memo (and a nil error); the
// error is non-nil only when the simulator cannot act (closed, ctx done).
func (s *Sim) PayOrderString(ctx context.Context, orderString string) (SDKResult, error) {
	if err := ctx.Err(); err != nil {
		return SDKResult{}, err
	}
	c, err := s.checkOrderString(orderString)
	if err != nil {
		return failed(err), nil
	}
	if err := s.applyFaultsWallet(ctx, c.partner.ID); err != nil {
		return SDKResult{}, err
	}
	o, err := s.openOrder(c, "app")
	if errors.Is(err, ErrClosed) {
		return SDKResult{}, err
	}
	if err != nil {
		return failed(err), nil
	}
	if err := s.pay(o.Partner, o.OutTradeNo); err != nil {
		if errors.Is(err, ErrClosed) {
			return SDKResult{}, err
		}
		return failed(err), nil
	}
	return s.syncResult(c.os)
}

// OpenOrderString plays a buyer who opens the wallet cashier and then leaves without paying:
// the trade exists (WAIT_BUYER_PAY, with a trade_no) and closes at its it_b_pay expiry.
func (s *Sim) OpenOrderString(ctx context.Context, orderString string) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	c, err := s.checkOrderString(orderString)
	if err != nil {
		return Order{}, err
	}
	o, err := s.openOrder(c, "app")
	if err != nil {
		return Order{}, err
	}
	return o, nil
}

// CancelOrderString plays a buyer who cancels in the cashier before entering the password:
// resultStatus 6001; no trade is created (single_trade_query keeps answering TRADE_NOT_EXIST).
func (s *Sim) CancelOrderString(ctx context.Context, orderString string) (SDKResult, error) {
	if err := ctx.Err(); err != nil {
		return SDKResult{}, err
	}
	if _, err := s.checkOrderString(orderString); err != nil {
		return failed(err), nil
	}
	return SDKResult{ResultStatus: ResultCancelled, Memo: "用户中途取消"}, nil
}

// syncResult builds `result`: the order parameters in the order sent, success="true", then
// sign_type and the Alipay signature (SHA1withRSA: the docs say RSA2 cannot be used for the
// synchronous result) over everything before &sign_type=.
func (s *Sim) syncResult(os *OrderString) (SDKResult, error) {
	var b strings.Builder
	for i, p := range os.Pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Key)
		b.WriteString(`="`)
		b.WriteString(p.Value)
		b.WriteByte('"')
	}
	b.WriteString(`&success="true"`)
	content := b.String()
	sig, err := s.rsaS.Sign(content)
	if err != nil {
		return SDKResult{}, err
	}
	if s.faultNotifyWrongSign(os.Get("partner"), "pay") {
		sig = corrupt(sig)
	}
	return SDKResult{
		ResultStatus: ResultSuccess,
		Result:       content + `&sign_type="RSA"&sign="` + sig + `"`,
		Memo:         "",
	}, nil
}

// openOrder finds or creates the trade for a checked request. A second request under the same
// out_trade_no must carry the same parameters; a paid or closed trade cannot be opened again.
func (s *Sim) openOrder(c *checkedOrder, channel string) (Order, error) {
	p := c.params
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Order{}, ErrClosed
	}
	k := orderKey{c.partner.ID, p["out_trade_no"]}
	if o, ok := s.orders[k]; ok {
		if signing.CanonicalB(o.Params) != signing.CanonicalB(p) {
			return Order{}, gwErr("TRADE_DATA_MATCH_ERROR", "out_trade_no %s was used with other parameters", o.OutTradeNo)
		}
		switch o.Status {
		case StatusTradeFinished:
			return Order{}, gwErr("TRADE_HAS_SUCCESS", "trade %s is already paid", o.OutTradeNo)
		case StatusTradeClosed:
			return Order{}, gwErr("TRADE_HAS_CLOSE", "trade %s is closed", o.OutTradeNo)
		}
		if o.TradeNo == "" {
			o.TradeNo = s.tradeNoLocked()
			s.tradeNos[o.TradeNo] = k
		}
		return copyOrder(o), nil
	}
	now := s.now()
	o := &Order{
		Partner: c.partner.ID, OutTradeNo: p["out_trade_no"], Channel: channel, Status: StatusWaitBuyerPay,
		Subject: p["subject"], Body: p["body"], Currency: c.money.Currency, Amount: c.money.Value,
		RMBFee: c.rmbFee, PaymentInst: p["payment_inst"], NotifyURL: p["notify_url"], ReturnURL: p["return_url"],
		SignType: c.os.SignType, Params: p, Created: now,
	}
	if channel == "app" {
		o.TradeNo = s.tradeNoLocked()
	}
	switch {
	case c.expiry < 0: // "1c": close at 00:00 of the next day
		y, m, d := now.Date()
		o.ExpiresAt = time.Date(y, m, d+1, 0, 0, 0, 0, beijing)
	case c.expiry > 0:
		o.ExpiresAt = now.Add(c.expiry)
	case !c.deadline.IsZero():
		o.ExpiresAt = c.deadline
	}
	s.putOrderLocked(o)
	s.scheduleExpiryLocked(o)
	return copyOrder(o), nil
}

// scheduleExpiryLocked closes the order at ExpiresAt (simulated) if it is still unpaid.
func (s *Sim) scheduleExpiryLocked(o *Order) {
	if o.ExpiresAt.IsZero() {
		return
	}
	k := orderKey{o.Partner, o.OutTradeNo}
	d := max(o.ExpiresAt.Sub(s.now()), 0)
	s.afterLocked(d, func() { s.expire(k) })
}

// ExpireOrder closes an unpaid order now, as if its it_b_pay had run out (TRADE_CLOSED, with a
// notification when the trade exists). It reports whether there was an unpaid order.
func (s *Sim) ExpireOrder(partner, outTradeNo string) bool {
	s.mu.Lock()
	o, ok := s.orders[orderKey{partner, outTradeNo}]
	ok = ok && o.Status == StatusWaitBuyerPay
	s.mu.Unlock()
	if ok {
		s.expire(orderKey{partner, outTradeNo})
	}
	return ok
}

// expire closes an unpaid order whose it_b_pay ran out and notifies TRADE_CLOSED (when the
// trade exists, i.e. has a trade_no).
func (s *Sim) expire(k orderKey) {
	s.mu.Lock()
	o, ok := s.orders[k]
	if !ok || o.Status != StatusWaitBuyerPay {
		s.mu.Unlock()
		return
	}
	o.Status = StatusTradeClosed
	o.Closed = s.now()
	snap := copyOrder(o)
	s.mu.Unlock()
	s.logf("mapisim: order %s/%s closed at it_b_pay expiry", k.Partner, k.No)
	if snap.TradeNo != "" {
		s.notifyTrade(snap)
	}
}

// pay marks the order paid and queues its notification.
func (s *Sim) pay(partner, outTradeNo string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	o, ok := s.orders[orderKey{partner, outTradeNo}]
	if !ok {
		s.mu.Unlock()
		return gwErr("TRADE_NOT_EXIST", "no trade %s", outTradeNo)
	}
	switch o.Status {
	case StatusTradeFinished:
		s.mu.Unlock()
		return gwErr("TRADE_HAS_SUCCESS", "trade %s is already paid", outTradeNo)
	case StatusTradeClosed:
		s.mu.Unlock()
		return gwErr("TRADE_HAS_CLOSE", "trade %s is closed", outTradeNo)
	}
	if !o.ExpiresAt.IsZero() && !s.now().Before(o.ExpiresAt) {
		s.mu.Unlock()
		s.expire(orderKey{partner, outTradeNo})
		return gwErr("TRADE_HAS_CLOSE", "trade %s expired", outTradeNo)
	}
	if o.TradeNo == "" {
		o.TradeNo = s.tradeNoLocked()
		s.tradeNos[o.TradeNo] = orderKey{partner, outTradeNo}
	}
	o.Status = StatusTradeFinished
	o.Paid = s.now()
	snap := copyOrder(o)
	s.mu.Unlock()
	s.logf("mapisim: order %s/%s paid, trade_no %s", partner, outTradeNo, snap.TradeNo)
	s.notifyTrade(snap)
	return nil
}

// tradeFields are the fields of a trade_status_sync notification (alipay-crossborder.md §6.2),
// without notify_time, notify_id, sign and sign_type (added per delivery attempt).
func tradeFields(o Order) map[string]string {
	f := map[string]string{
		"notify_type":  "trade_status_sync",
		"out_trade_no": o.OutTradeNo,
		"trade_no":     o.TradeNo,
		"trade_status": o.Status,
		"total_fee":    o.Money().Decimal(),
		"currency":     o.Currency,
		"subject":      o.Subject,
		"seller_id":    o.Partner,
	}
	if o.Params["seller_id"] != "" {
		f["seller_id"] = o.Params["seller_id"]
	}
	if !o.Paid.IsZero() {
		f["gmt_payment"] = o.Paid.Format(timeLayout)
	}
	if !o.Closed.IsZero() {
		f["gmt_close"] = o.Closed.Format(timeLayout)
	}
	f["gmt_create"] = o.Created.Format(timeLayout)
	return f
}

const timeLayout = "2006-01-02 15:04:05"

func (s *Sim) notifyTrade(o Order) {
	if o.NotifyURL == "" {
		return
	}
	f := tradeFields(o)
	s.mu.Lock()
	if ps := s.partners[o.Partner]; ps != nil && ps.Unnamed {
		delete(f, "seller_id")
	}
	s.mu.Unlock()
	s.enqueue(o.Partner, o.NotifyURL, f, o.OutTradeNo, "")
}

func corrupt(sig string) string {
	if sig == "" {
		return "x"
	}
	// The replacement must differ ignoring case: an MD5 signature is hex and verifies
	// case-insensitively, so "a..." corrupted to "A..." would still verify (one in 16).
	b := []byte(sig)
	if b[0] == 'a' || b[0] == 'A' {
		b[0] = '0'
	} else {
		b[0] = 'a'
	}
	return string(b)
}
