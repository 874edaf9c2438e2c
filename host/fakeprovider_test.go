package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
)

// fakeProvider is a small in-process provider for fault cases a real gateway cannot be made to
// produce on demand. Its "notifications" are JSON bodies with a "sig" field that must be "ok".
// Refund behaviour is picked by amount: 13 declines, 17 has an unknown outcome, 19 is processing.
type fakeProvider struct {
	mu      sync.Mutex
	queries map[string]core.PaymentState // out_trade_no -> what QueryPayment says
	expiry  map[string]time.Time         // out_trade_no -> the ExpiresAt CreatePayment received
	refunds int
	caps    []core.Capability
	// block, when set, holds CreatePayment calls whose extras say block=1 until it is closed.
	block   chan struct{}
	entered chan struct{}
	// notifyPaths are the NotifyPath of every notification parsed, in order.
	notifyPaths []string
	// refundHook, when set, runs first in Refund; handled makes its answer the call's.
	refundHook func(r *core.RefundRequest) (st *core.RefundState, handled bool, err error)
	// refundQueryErr, when set, is what QueryRefund answers.
	refundQueryErr error
	// refundNos are the out_refund_nos Refund was called with, in order.
	refundNos []string
}

func newFakeProvider() *fakeProvider {
	return &fakeProvider{queries: map[string]core.PaymentState{}, expiry: map[string]time.Time{}, caps: []core.Capability{
		core.CapQuery, core.CapRefund, core.CapPartialRefund, core.CapMultipleRefund, core.CapClose,
	}}
}

func (f *fakeProvider) Describe(context.Context) (*core.Description, error) {
	return &core.Description{
		Name: "fake", Version: "test",
		Methods: []core.Method{
			{ID: "fakewallet", Name: "Fake Wallet", Channels: []core.Channel{core.ChannelApp, core.ChannelH5},
				AmountRules: []core.AmountRule{{Currency: "HKD", Min: 10, Max: 1_000_000}, {Currency: "JPY", Min: 1}}},
			{ID: "fakeh5", Name: "Fake H5", Channels: []core.Channel{core.ChannelH5}},
			{ID: "fakeweb", Name: "Fake Web", Channels: []core.Channel{core.ChannelWeb, core.ChannelApp}},
		},
		Capabilities:  f.caps,
		QuerySchedule: []time.Duration{time.Minute},
		MaxExpiry:     48 * time.Hour,
	}, nil
}

func (f *fakeProvider) Configure(context.Context, *core.ConfigureRequest) error { return nil }

func (f *fakeProvider) CreatePayment(_ context.Context, r *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	if r.Extras["block"] == "1" && f.block != nil {
		f.entered <- struct{}{}
		<-f.block
	}
	f.mu.Lock()
	f.expiry[r.OutTradeNo] = r.ExpiresAt
	f.mu.Unlock()
	if r.Extras["fail"] == "unavailable" {
		return nil, core.Errorf(core.EUNAVAILABLE, "fake gateway down")
	}
	if r.Extras["fail"] == "field" { // a provider refusing one request field
		return nil, core.ParamErrorf(core.EINVALID, "provider_extras", "fake gateway does not understand fail=field")
	}
	if r.Extras["bad_action"] == "1" {
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionRedirectURL, Value: "javascript:alert(1)"}}, nil
	}
	switch {
	case r.Channel == core.ChannelWeb:
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionQRCode, Value: "https://fake.example/qr/" + r.OutTradeNo,
			Fallbacks: []core.NextAction{{Type: core.ActionRedirectURL, Value: "https://fake.example/desk?o=" + r.OutTradeNo}}}}, nil
	case r.Method == "fakeweb":
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionAppLink, Value: "https://fake.example/al/" + r.OutTradeNo,
			AppIdentifier: "com.example.fake", Fallbacks: []core.NextAction{{Type: core.ActionDeepLink, Value: "fakewallet://pay/" + r.OutTradeNo},
				{Type: core.ActionRedirectURL, Value: "https://fake.example/pay?o=" + r.OutTradeNo}}}}, nil
	}
	if r.Channel == core.ChannelH5 {
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionRedirectURL, Value: "https://fake.example/pay?o=" + r.OutTradeNo}}, nil
	}
	return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionSDKOrderString,
		Value: "out_trade_no=" + r.OutTradeNo + "&total=" + r.Amount.Decimal() + "&notify_url=" + r.NotifyURL}}, nil
}

func (f *fakeProvider) VerifyClientResult(_ context.Context, r *core.ClientResultRequest) (*core.ClientResult, error) {
	ok := r.Result["sig"] == "ok"
	st := core.PaymentPending
	if r.Result["resultStatus"] == "9000" {
		st = core.PaymentSucceeded
	}
	return &core.ClientResult{Verified: ok, Status: st}, nil
}

type fakeNote struct {
	ID         string `json:"id"`
	Sig        string `json:"sig"`
	Kind       string `json:"kind"`
	OutTradeNo string `json:"out_trade_no"`
	OutRefund  string `json:"out_refund_no"`
	Status     string `json:"status"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	TradeNo    string `json:"trade_no"`
}

var (
	fakeAck   = core.Ack{Status: 200, ContentType: "text/plain", Body: []byte("success")}
	fakeRetry = core.Ack{Status: 200, ContentType: "text/plain", Body: []byte("fail")}
)

func (f *fakeProvider) ParseNotification(_ context.Context, r *core.NotificationRequest) (*core.NotificationResult, error) {
	f.mu.Lock()
	f.notifyPaths = append(f.notifyPaths, r.NotifyPath)
	f.mu.Unlock()
	var n fakeNote
	if err := json.Unmarshal(r.Body, &n); err != nil || n.Sig != "ok" {
		return &core.NotificationResult{Verified: false, RejectReason: "bad signature", Ack: fakeRetry}, nil
	}
	ev := core.NotificationEvent{OutTradeNo: n.OutTradeNo, ProviderRef: n.TradeNo, Amount: core.Money{Value: n.Amount, Currency: n.Currency}, RawStatus: n.Status}
	if n.Kind == "refund" {
		ev.Kind, ev.OutRefundNo, ev.RefundStatus = core.EventRefund, n.OutRefund, core.RefundStatus(n.Status)
	} else {
		ev.Kind, ev.PaymentStatus = core.EventPayment, core.PaymentStatus(n.Status)
	}
	return &core.NotificationResult{Verified: true, DedupeKey: r.Account + ":" + n.ID, Events: []core.NotificationEvent{ev}, Ack: fakeAck}, nil
}

func (f *fakeProvider) setQuery(outTradeNo string, st core.PaymentState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries[outTradeNo] = st
}

func (f *fakeProvider) QueryPayment(_ context.Context, r *core.QueryPaymentRequest) (*core.PaymentState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.queries[r.OutTradeNo]; ok {
		return &st, nil
	}
	return &core.PaymentState{Status: core.PaymentPending, RawStatus: "WAIT"}, nil
}

func (f *fakeProvider) Refund(_ context.Context, r *core.RefundRequest) (*core.RefundState, error) {
	f.mu.Lock()
	f.refunds++
	f.refundNos = append(f.refundNos, r.OutRefundNo)
	hook := f.refundHook
	f.mu.Unlock()
	if hook != nil {
		if st, handled, err := hook(r); handled {
			return st, err
		}
	}
	switch r.Amount.Value {
	case 13:
		return nil, &core.Error{Code: core.EDECLINED, Message: "refund declined", ProviderCode: "FAKE_DECLINED"}
	case 17:
		return nil, core.Errorf(core.EUNKNOWN, "gateway timed out")
	case 19:
		return &core.RefundState{Status: core.RefundProcessing, RawStatus: "PROCESSING"}, nil
	}
	return &core.RefundState{Status: core.RefundSucceeded, ProviderRef: "fr" + strconv.Itoa(int(r.Amount.Value)), Amount: r.Amount}, nil
}

func (f *fakeProvider) QueryRefund(context.Context, *core.QueryRefundRequest) (*core.RefundState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refundQueryErr != nil {
		return nil, f.refundQueryErr
	}
	return &core.RefundState{Status: core.RefundPending}, nil
}

// refundCalls returns the out_refund_nos Refund was called with so far.
func (f *fakeProvider) refundCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refundNos...)
}

func (f *fakeProvider) setRefundHook(h func(r *core.RefundRequest) (*core.RefundState, bool, error)) {
	f.mu.Lock()
	f.refundHook = h
	f.mu.Unlock()
}

func (f *fakeProvider) Close(_ context.Context, r *core.ClosePaymentRequest) (*core.PaymentState, error) {
	return &core.PaymentState{Status: core.PaymentClosed, RawStatus: "TRADE_CLOSED"}, nil
}

// noCloseProvider hides Close and CapClose.
type noCloseProvider struct{ core.Provider }

func (n noCloseProvider) Describe(ctx context.Context) (*core.Description, error) {
	d, err := n.Provider.Describe(ctx)
	if err != nil {
		return nil, err
	}
	caps := []core.Capability{}
	for _, c := range d.Capabilities {
		if c != core.CapClose {
			caps = append(caps, c)
		}
	}
	d.Capabilities = caps
	return d, nil
}

var _ = http.StatusOK
