// Package wallet is the provider behind the example plugin: a fake wallet that needs no
// network. CreatePayment returns a redirect URL to the account's (imaginary) cashier, and
// notifications are form bodies signed with HMAC-SHA256 over the canonical parameter string.
// It is the smallest complete core.Provider, used as the template in
// docs/writing-a-provider.md and by the plugin host's tests. The fake gateway state (payments
// and refunds) lives in memory, so it is lost when the plugin restarts.
package wallet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// Name is the provider name; MethodID its only payment method.
const (
	Name     = "example"
	MethodID = "examplepay"
)

// Version is the provider's build version, set with -ldflags by the build.
var Version = "dev"

// account is one merchant account's settings, kept in memory after Configure.
type account struct {
	cashierURL string
	key        []byte // HMAC key; never logged
}

type payment struct {
	state   core.PaymentState
	refunds map[string]*core.RefundState
}

// Provider is the fake wallet. The zero value is not usable; call New.
type Provider struct {
	mu       sync.Mutex
	accounts map[string]account
	payments map[string]*payment // by account + "/" + out_trade_no
}

var (
	_ core.Provider          = (*Provider)(nil)
	_ core.PaymentCloser     = (*Provider)(nil)
	_ core.SettlementFetcher = (*Provider)(nil)
)

// New returns a fake wallet with no accounts.
func New() *Provider {
	return &Provider{accounts: map[string]account{}, payments: map[string]*payment{}}
}

// Describe declares one method (h5 only, USD and HKD) and every optional capability.
func (p *Provider) Describe(context.Context) (*core.Description, error) {
	return &core.Description{
		Name:    Name,
		Version: Version,
		Methods: []core.Method{{
			ID: MethodID, Name: "Example Pay", Channels: []core.Channel{core.ChannelH5},
			AmountRules: []core.AmountRule{{Currency: "USD", Min: 1, Max: 1_000_000}, {Currency: "HKD", Min: 10, Max: 8_000_000}},
		}},
		Capabilities: []core.Capability{core.CapQuery, core.CapRefund, core.CapPartialRefund, core.CapMultipleRefund,
			core.CapClose, core.CapSettlement, core.CapClientResult},
		Settings: []core.Setting{
			{Name: "cashier_url", Required: true, Description: "base URL of the wallet's cashier page"},
			{Name: "hmac_key", Required: true, Secret: true, Description: "shared key for HMAC-SHA256 signatures"},
		},
		QuerySchedule: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute},
		DefaultExpiry: 30 * time.Minute,
	}, nil
}

// Configure checks and keeps an account's settings.
func (p *Provider) Configure(_ context.Context, req *core.ConfigureRequest) error {
	if req.Account == "" {
		return core.Errorf(core.ECONFIG, "account name is empty")
	}
	u, err := url.Parse(req.Settings["cashier_url"])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return core.Errorf(core.ECONFIG, "account %s: cashier_url must be an absolute http(s) URL", req.Account)
	}
	key := req.Settings["hmac_key"]
	if len(key) < 16 {
		return core.Errorf(core.ECONFIG, "account %s: hmac_key must be at least 16 characters", req.Account)
	}
	p.mu.Lock()
	p.accounts[req.Account] = account{cashierURL: u.String(), key: []byte(key)}
	p.mu.Unlock()
	return nil
}

func (p *Provider) account(name string) (account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.accounts[name]
	if !ok {
		return account{}, core.Errorf(core.ECONFIG, "account %s is not configured", name)
	}
	return a, nil
}

// Sign returns the hex HMAC-SHA256 of params' canonical string (sorted k=v pairs without sign
// and empty values) under key. The fake wallet signs redirect URLs and notifications with it;
// tests use it to forge valid notifications.
func Sign(key []byte, params map[string]string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing.CanonicalB(params)))
	return hex.EncodeToString(m.Sum(nil))
}

// CreatePayment records the payment at the fake gateway and returns the signed cashier URL.
func (p *Provider) CreatePayment(_ context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.Method != MethodID || req.Channel != core.ChannelH5 {
		return nil, core.Errorf(core.EINVALID, "method %s channel %s is not offered", req.Method, req.Channel)
	}
	if req.OutTradeNo == "" {
		return nil, core.Errorf(core.EINVALID, "out_trade_no is empty")
	}
	if len(req.Extras) > 0 {
		return nil, core.ParamErrorf(core.EINVALID, "provider_extras", "provider_extras %v are not understood by %s", slices.Sorted(maps.Keys(req.Extras)), Name)
	}
	d, _ := p.Describe(context.Background())
	m, _ := d.Method(MethodID)
	if err := m.CheckAmount(req.Amount); err != nil { // never trust that the host checked
		return nil, err
	}
	params := map[string]string{
		"out_trade_no": req.OutTradeNo,
		"amount":       strconv.FormatInt(req.Amount.Value, 10),
		"currency":     req.Amount.Currency,
		"subject":      req.Subject,
		"return_url":   req.ReturnURL,
		"notify_url":   req.NotifyURL,
	}
	q := url.Values{}
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("sign", Sign(a.key, params))

	key := req.Account + "/" + req.OutTradeNo
	p.mu.Lock()
	if old, ok := p.payments[key]; ok && old.state.Amount != req.Amount {
		p.mu.Unlock()
		return nil, core.Errorf(core.ECONFLICT, "out_trade_no %s exists with another amount", req.OutTradeNo)
	}
	p.payments[key] = &payment{
		state:   core.PaymentState{Status: core.PaymentPending, ProviderRef: "ex_" + req.OutTradeNo, Amount: req.Amount, RawStatus: "WAIT_PAY"},
		refunds: map[string]*core.RefundState{},
	}
	p.mu.Unlock()
	return &core.CreatePaymentResult{
		Action: core.NextAction{Type: core.ActionRedirectURL, Value: a.cashierURL + "?" + q.Encode()},
	}, nil
}

// VerifyClientResult checks the signature the cashier put on its return: result fields
// out_trade_no, total_fee (decimal), status and sign.
func (p *Provider) VerifyClientResult(_ context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{"out_trade_no": req.Result["out_trade_no"], "total_fee": req.Result["total_fee"], "status": req.Result["status"]}
	if !hmac.Equal([]byte(Sign(a.key, fields)), []byte(req.Result["sign"])) {
		return &core.ClientResult{Verified: false, Status: core.PaymentPending, Message: "bad signature"}, nil
	}
	if fields["out_trade_no"] != req.OutTradeNo || fields["total_fee"] != req.Amount.Decimal() {
		return &core.ClientResult{Verified: false, Status: core.PaymentPending, Message: "result is for another order or amount"}, nil
	}
	st := core.PaymentPending
	if fields["status"] == "paid" {
		st = core.PaymentSucceeded
	}
	return &core.ClientResult{Verified: true, Status: st}, nil
}

// ParseNotification verifies a signed form body (out_trade_no, amount, currency, status,
// optional paid_at and sign) and marks the payment paid at the fake gateway.
func (p *Provider) ParseNotification(_ context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	ct := ""
	if v := req.Header["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	fields, err := notify.DecodeForm(req.Body, ct)
	if err != nil {
		return &core.NotificationResult{Verified: false, RejectReason: "undecodable body", Ack: notify.AckRetry}, nil
	}
	if !hmac.Equal([]byte(Sign(a.key, fields)), []byte(fields["sign"])) {
		return &core.NotificationResult{Verified: false, RejectReason: "bad signature", Ack: notify.AckRetry}, nil
	}
	value, err := strconv.ParseInt(fields["amount"], 10, 64)
	if err != nil {
		return &core.NotificationResult{Verified: false, RejectReason: "bad amount", Ack: notify.AckRetry}, nil
	}
	amount := core.Money{Value: value, Currency: fields["currency"]}
	ev := core.NotificationEvent{
		Kind: core.EventPayment, OutTradeNo: fields["out_trade_no"], ProviderRef: "ex_" + fields["out_trade_no"],
		Amount: amount, RawStatus: fields["status"], Wallet: "EXAMPLE", PaymentStatus: core.PaymentPending,
	}
	if fields["status"] == "paid" {
		ev.PaymentStatus = core.PaymentSucceeded
		// paid_at (unix seconds, signed like every field) says when the buyer paid; a
		// notification without it is taken as paid when it arrived.
		ev.OccurredAt = time.Now().UTC().Truncate(time.Second)
		if sec, err := strconv.ParseInt(fields["paid_at"], 10, 64); err == nil && sec > 0 {
			ev.OccurredAt = time.Unix(sec, 0).UTC()
		}
		p.mu.Lock()
		if pay, ok := p.payments[req.Account+"/"+ev.OutTradeNo]; ok && pay.state.Status == core.PaymentPending {
			pay.state.Status, pay.state.PaidAt, pay.state.RawStatus = core.PaymentSucceeded, ev.OccurredAt, "PAID"
		}
		p.mu.Unlock()
	}
	return &core.NotificationResult{
		Verified:  true,
		DedupeKey: notify.DedupeKey(req.Account, fields),
		Events:    []core.NotificationEvent{ev},
		Ack:       notify.AckSuccess,
	}, nil
}

// payment finds a payment of a configured account (ECONFIG before ENOTFOUND, as account does);
// the caller holds p.mu.
func (p *Provider) payment(acct, outTradeNo string) (*payment, error) {
	if _, ok := p.accounts[acct]; !ok {
		return nil, core.Errorf(core.ECONFIG, "account %s is not configured", acct)
	}
	pay, ok := p.payments[acct+"/"+outTradeNo]
	if !ok {
		return nil, core.Errorf(core.ENOTFOUND, "no payment %s", outTradeNo)
	}
	return pay, nil
}

// QueryPayment reports the fake gateway's state of a payment.
func (p *Provider) QueryPayment(_ context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, err := p.payment(req.Account, req.OutTradeNo)
	if err != nil {
		return nil, err
	}
	st := pay.state
	return &st, nil
}

// Refund refunds a paid payment at once (the fake gateway has no asynchronous refunds).
func (p *Provider) Refund(_ context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, err := p.payment(req.Account, req.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if r, ok := pay.refunds[req.OutRefundNo]; ok { // the refund number is the idempotency key
		st := *r
		return &st, nil
	}
	if pay.state.Status != core.PaymentSucceeded {
		return nil, &core.Error{Code: core.EDECLINED, Message: "payment is not paid", ProviderCode: "TRADE_NOT_PAID"}
	}
	var refunded int64
	for _, r := range pay.refunds {
		refunded += r.Amount.Value
	}
	if req.Amount.Currency != pay.state.Amount.Currency || refunded+req.Amount.Value > pay.state.Amount.Value {
		return nil, &core.Error{Code: core.EDECLINED, Message: "refund exceeds the paid amount", ProviderCode: "REFUND_AMOUNT_EXCEED"}
	}
	r := &core.RefundState{Status: core.RefundSucceeded, ProviderRef: "exr_" + req.OutRefundNo, Amount: req.Amount, RawStatus: "REFUNDED"}
	pay.refunds[req.OutRefundNo] = r
	st := *r
	return &st, nil
}

// QueryRefund reports a refund's state.
func (p *Provider) QueryRefund(_ context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, err := p.payment(req.Account, req.OutTradeNo)
	if err != nil {
		return nil, err
	}
	r, ok := pay.refunds[req.OutRefundNo]
	if !ok {
		return nil, core.Errorf(core.ENOTFOUND, "no refund %s", req.OutRefundNo)
	}
	st := *r
	return &st, nil
}

// Close closes an unpaid payment.
func (p *Provider) Close(_ context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, err := p.payment(req.Account, req.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if pay.state.Status == core.PaymentSucceeded {
		return nil, &core.Error{Code: core.ECONFLICT, Message: "payment is already paid", ProviderCode: "TRADE_HAS_SUCCESS"}
	}
	pay.state.Status, pay.state.RawStatus = core.PaymentClosed, "CLOSED"
	st := pay.state
	return &st, nil
}

// FetchSettlement lists the account's paid payments and refunds; the fake gateway settles
// instantly and ignores the date range.
func (p *Provider) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	if _, err := p.account(req.Account); err != nil {
		return err
	}
	var recs []*core.SettlementRecord
	p.mu.Lock()
	prefix := req.Account + "/"
	for key, pay := range p.payments {
		if len(key) <= len(prefix) || key[:len(prefix)] != prefix || pay.state.Status != core.PaymentSucceeded {
			continue
		}
		out := key[len(prefix):]
		recs = append(recs, &core.SettlementRecord{Kind: core.EventPayment, Reference: out, ProviderRef: pay.state.ProviderRef,
			Amount: pay.state.Amount, OccurredAt: pay.state.PaidAt, SettledAt: pay.state.PaidAt, Status: "SETTLED", Wallet: "EXAMPLE"})
		for no, r := range pay.refunds {
			recs = append(recs, &core.SettlementRecord{Kind: core.EventRefund, Reference: no, OrigRef: out, ProviderRef: r.ProviderRef,
				Amount: r.Amount, Status: "SETTLED", Wallet: "EXAMPLE"})
		}
	}
	p.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return core.WrapError(core.EUNAVAILABLE, err, "settlement fetch stopped")
		}
		if err := yield(r); err != nil {
			return err
		}
	}
	return nil
}
