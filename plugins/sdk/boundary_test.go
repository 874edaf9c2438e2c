package sdk

import (
	"context"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
)

// recorder is a provider that remembers the last request it got and answers with canned
// values or err.
type recorder struct {
	last any
	err  error
}

var (
	hkt     = time.FixedZone("HKT", 8*3600)
	when    = time.Date(2026, 11, 22, 9, 30, 15, 123456789, hkt)
	hkd     = core.Money{Value: 12345, Currency: "HKD"}
	paid    = &core.PaymentState{Status: core.PaymentSucceeded, ProviderRef: "2026112200001", Amount: hkd, PaidAt: when, RawStatus: "TRADE_SUCCESS"}
	refund  = &core.RefundState{Status: core.RefundProcessing, ProviderRef: "rf1", Amount: hkd, FailureCode: "", RawStatus: "REFUND_PROCESSING"}
	desc    = &core.Description{Name: "rec", Version: "1.2.3", Methods: []core.Method{{ID: "alipayhk", Name: "AlipayHK", Channels: []core.Channel{core.ChannelApp, core.ChannelH5}, AmountRules: []core.AmountRule{{Currency: "HKD", Min: 10, Max: 100}, {Currency: "CNY", Min: 1, ReportedInSettlement: true}}}}, Capabilities: []core.Capability{core.CapClose, core.CapSettlement}, Settings: []core.Setting{{Name: "key", Required: true, Secret: true, Description: "d", Loosening: []string{"false", "off"}}}, QuerySchedule: []time.Duration{time.Second, time.Minute}, DefaultExpiry: time.Hour, MaxExpiry: 15 * 24 * time.Hour}
	notifRs = &core.NotificationResult{Verified: true, Pending: true, DedupeKey: "a:1", Events: []core.NotificationEvent{{Kind: core.EventRefund, OutTradeNo: "o", ProviderRef: "p", OutRefundNo: "r", PaymentStatus: core.PaymentSucceeded, RefundStatus: core.RefundSucceeded, Amount: hkd, OccurredAt: when, Wallet: "ALIPAYHK", FailureCode: "F", RawStatus: "REFUND_SUCCESS"}}, Ack: core.Ack{Status: 200, ContentType: "text/plain", Body: []byte("success")}}
)

func (r *recorder) Describe(context.Context) (*core.Description, error) { return desc, r.err }
func (r *recorder) Configure(_ context.Context, q *core.ConfigureRequest) error {
	r.last = q
	return r.err
}
func (r *recorder) CreatePayment(_ context.Context, q *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	r.last = q
	return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionDeepLink, Value: "gcash://pay?x=1", AppIdentifier: "com.example.wallet", Fallbacks: []core.NextAction{{Type: core.ActionAppLink, Value: "https://w.example/al"}, {Type: core.ActionRedirectURL, Value: "https://w.example/h5"}}}, ProviderRef: "x"}, r.err
}
func (r *recorder) VerifyClientResult(_ context.Context, q *core.ClientResultRequest) (*core.ClientResult, error) {
	r.last = q
	return &core.ClientResult{Verified: true, Status: core.PaymentSucceeded, Message: "m"}, r.err
}
func (r *recorder) ParseNotification(_ context.Context, q *core.NotificationRequest) (*core.NotificationResult, error) {
	r.last = q
	return notifRs, r.err
}
func (r *recorder) QueryPayment(_ context.Context, q *core.QueryPaymentRequest) (*core.PaymentState, error) {
	r.last = q
	return paid, r.err
}
func (r *recorder) Refund(_ context.Context, q *core.RefundRequest) (*core.RefundState, error) {
	r.last = q
	return refund, r.err
}
func (r *recorder) QueryRefund(_ context.Context, q *core.QueryRefundRequest) (*core.RefundState, error) {
	r.last = q
	return refund, r.err
}
func (r *recorder) Close(_ context.Context, q *core.ClosePaymentRequest) (*core.PaymentState, error) {
	r.last = q
	return paid, r.err
}
func (r *recorder) FetchSettlement(_ context.Context, q *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	r.last = q
	if r.err != nil {
		return r.err
	}
	for i := 0; i < 300; i++ { // more than one batch
		if err := yield(&core.SettlementRecord{Kind: core.EventPayment, Reference: "o", Amount: hkd, Fee: core.Money{Value: 1, Currency: "HKD"}, OccurredAt: when, SettledAt: when, Status: "S"}); err != nil {
			return err
		}
	}
	return nil
}

// bootstrap serves impl over an in-memory gRPC connection and returns the SDK client.
func bootstrap(t *testing.T, impl core.Provider) *Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpcServerOptions()...)
	RegisterProvider(s, impl, nil)
	go func() { _ = s.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); s.Stop() })
	return NewClient(cc, time.Second)
}

// TestRoundTripEveryField sends every request type with every field set and checks that the
// provider sees exactly what was sent, and the caller exactly what the provider answered
// (times keep their instant and zone offset).
func TestRoundTripEveryField(t *testing.T) {
	rec := &recorder{}
	c := bootstrap(t, rec)
	ctx := context.Background()
	same := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("%s:\n got %s\nwant %s", name, g, w)
		}
	}
	sameTime := func(name string, got time.Time) {
		t.Helper()
		if !got.Equal(when) || got.Format(time.RFC3339Nano) != when.Format(time.RFC3339Nano) {
			t.Errorf("%s: %v, want %v", name, got, when)
		}
	}

	d, err := c.Describe(ctx)
	same("Describe", d, desc)
	if err != nil {
		t.Fatal(err)
	}
	if rules := d.Methods[0].AmountRules; len(rules) != 2 || rules[0].ReportedInSettlement || !rules[1].ReportedInSettlement {
		t.Errorf("Describe: ReportedInSettlement did not survive the round trip: %+v", rules)
	}
	cfg := &core.ConfigureRequest{Account: "a", Settings: map[string]string{"k": "v"}}
	_ = c.Configure(ctx, cfg)
	same("Configure", rec.last, cfg)

	cr := &core.CreatePaymentRequest{Account: "a", PaymentID: "p", OutTradeNo: "o", Method: "m", Channel: core.ChannelApp, Amount: hkd, Subject: "s", Description: "d", ReturnURL: "r", NotifyURL: "n", Extras: map[string]string{"e": "f"}}
	res, _ := c.CreatePayment(ctx, cr)
	got := rec.last.(*core.CreatePaymentRequest)
	if !got.ExpiresAt.IsZero() {
		t.Errorf("zero ExpiresAt became %v", got.ExpiresAt)
	}
	same("CreatePayment", got, cr)
	same("CreatePaymentResult", res, &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionDeepLink, Value: "gcash://pay?x=1", AppIdentifier: "com.example.wallet", Fallbacks: []core.NextAction{{Type: core.ActionAppLink, Value: "https://w.example/al"}, {Type: core.ActionRedirectURL, Value: "https://w.example/h5"}}}, ProviderRef: "x"})
	cr.ExpiresAt = when
	_, _ = c.CreatePayment(ctx, cr)
	sameTime("ExpiresAt", rec.last.(*core.CreatePaymentRequest).ExpiresAt)

	vr := &core.ClientResultRequest{Account: "a", OutTradeNo: "o", Method: "m", Amount: hkd, Result: map[string]string{"resultStatus": "9000"}}
	cres, _ := c.VerifyClientResult(ctx, vr)
	same("VerifyClientResult", rec.last, vr)
	same("ClientResult", cres, &core.ClientResult{Verified: true, Status: core.PaymentSucceeded, Message: "m"})

	nr := &core.NotificationRequest{Account: "a", Method: "m", Header: map[string][]string{"X": {"1", "2"}}, Query: "q=1", Body: []byte("a=b"), NotifyPath: "/notify/a", Confirm: true}
	nres, _ := c.ParseNotification(ctx, nr)
	same("ParseNotification", rec.last, nr)
	sameTime("OccurredAt", nres.Events[0].OccurredAt)
	nres.Events[0].OccurredAt = when
	same("NotificationResult", nres, notifRs)

	qp := &core.QueryPaymentRequest{Account: "a", OutTradeNo: "o", ProviderRef: "p"}
	st, _ := c.QueryPayment(ctx, qp)
	same("QueryPayment", rec.last, qp)
	sameTime("PaidAt", st.PaidAt)
	st.PaidAt = when
	same("PaymentState", st, paid)

	rr := &core.RefundRequest{Account: "a", OutTradeNo: "o", ProviderRef: "p", OutRefundNo: "r", Amount: hkd, PaymentAmount: hkd, Reason: "x", NotifyURL: "n"}
	rs, _ := c.Refund(ctx, rr)
	same("Refund", rec.last, rr)
	same("RefundState", rs, refund)
	qr := &core.QueryRefundRequest{Account: "a", OutTradeNo: "o", OutRefundNo: "r"}
	_, _ = c.QueryRefund(ctx, qr)
	same("QueryRefund", rec.last, qr)
	cl := &core.ClosePaymentRequest{Account: "a", OutTradeNo: "o", ProviderRef: "p"}
	_, _ = c.Close(ctx, cl)
	same("Close", rec.last, cl)

	sr := &core.SettlementRequest{Account: "a", From: when, To: when.Add(24 * time.Hour)}
	n := 0
	err = c.FetchSettlement(ctx, sr, func(r *core.SettlementRecord) error {
		n++
		sameTime("SettledAt", r.SettledAt)
		return nil
	})
	if err != nil || n != 300 {
		t.Fatalf("FetchSettlement: %d records, %v", n, err)
	}
	gotSR := rec.last.(*core.SettlementRequest)
	if gotSR.From.Format("2006-01-02 MST") != "2026-11-22 HKT" {
		t.Errorf("settlement date lost its zone: %v", gotSR.From)
	}
}

// TestErrorsCrossExactly: every core code, message, provider code and param arrives unchanged, under
// a sensible gRPC code; internal detail never crosses.
func TestErrorsCrossExactly(t *testing.T) {
	codes := []string{core.EINVALID, core.ENOTFOUND, core.ECONFLICT, core.EUNAUTHORIZED, core.EDECLINED,
		core.EUNAVAILABLE, core.EUNKNOWN, core.EUNSUPPORTED, core.ECONFIG, core.EINTERNAL, "custom_code"}
	rec := &recorder{}
	c := bootstrap(t, rec)
	for _, code := range codes {
		t.Run(code, func(t *testing.T) {
			rec.err = &core.Error{Code: code, Message: "msg " + code, ProviderCode: "PC_" + code, Param: "param_" + code, Err: errSecret}
			_, err := c.Refund(context.Background(), &core.RefundRequest{})
			var ce *core.Error
			if !asCore(err, &ce) || ce.Code != code || ce.Message != "msg "+code || ce.ProviderCode != "PC_"+code || ce.Param != "param_"+code {
				t.Fatalf("got %#v", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("internal detail crossed: %v", err)
			}
			if IsBoundaryError(err) {
				t.Fatal("a provider error is marked as a boundary error")
			}
			st := status.Convert(toStatus(rec.err))
			if st.Code() != GRPCCode(code) {
				t.Fatalf("gRPC code %v", st.Code())
			}
		})
	}
	rec.err = errSecret // a plain error is EINTERNAL with a generic message
	err := c.Configure(context.Background(), &core.ConfigureRequest{})
	if core.ErrorCode(err) != core.EINTERNAL || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("plain error: %v", err)
	}
	// Capabilities are checked from the cached description before any call.
	rec.err = nil
	c2 := bootstrap(t, &recorder{})
	c2.desc = &core.Description{Name: "rec"}
	if _, err := c2.Close(context.Background(), &core.ClosePaymentRequest{}); core.ErrorCode(err) != core.EUNSUPPORTED {
		t.Fatalf("Close without capability: %v", err)
	}
}

func TestOptionalInterfaceMissing(t *testing.T) {
	type onlyProvider struct{ core.Provider }
	c := bootstrap(t, onlyProvider{&recorder{}})
	_, err := c.Close(context.Background(), &core.ClosePaymentRequest{}) // declared in desc, not implemented
	if core.ErrorCode(err) != core.EUNSUPPORTED {
		t.Fatalf("Close: %v", err)
	}
	err = c.FetchSettlement(context.Background(), &core.SettlementRequest{}, func(*core.SettlementRecord) error { return nil })
	if core.ErrorCode(err) != core.EUNSUPPORTED {
		t.Fatalf("FetchSettlement: %v", err)
	}
}

func TestGRPCCodesWithoutDetail(t *testing.T) {
	for _, tc := range []struct {
		err        error
		safe       bool
		code       string
		isBoundary bool
	}{
		{status.Error(14, "conn refused"), true, core.EUNAVAILABLE, true},
		{status.Error(14, "conn refused"), false, core.EUNKNOWN, true},
		{status.Error(4, "deadline"), true, core.EUNAVAILABLE, true},
		{status.Error(4, "deadline"), false, core.EUNKNOWN, true},
		{status.Error(12, "unimplemented"), true, core.EUNSUPPORTED, true},
		{status.Error(8, "received message larger than max"), true, core.EINTERNAL, true},
		{status.Error(13, "boom"), true, core.EINTERNAL, true},
		{toStatus(core.Errorf(core.EDECLINED, "no")), false, core.EDECLINED, false},
	} {
		err := fromStatus("M", tc.safe, tc.err)
		if core.ErrorCode(err) != tc.code || IsBoundaryError(err) != tc.isBoundary {
			t.Errorf("%v safe=%v: %v (boundary %v)", tc.err, tc.safe, err, IsBoundaryError(err))
		}
	}
}

var errSecret = &secretErr{}

type secretErr struct{}

func (*secretErr) Error() string { return "key s3cr3t leaked" }

func asCore(err error, ce **core.Error) bool {
	e, ok := err.(*core.Error)
	*ce = e
	return ok
}

// The proto package must stay importable under its short name.
var _ = pb.Error{}
