package sdk

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// DefaultCallTimeout bounds a call whose context carries no deadline, so that no call across
// the boundary can wait forever on a hung plugin.
const DefaultCallTimeout = 30 * time.Second

// Client makes a plugin's gRPC service look like a core.Provider. It also implements
// core.PaymentCloser and core.SettlementFetcher; both answer EUNSUPPORTED without a round trip
// when the plugin's Describe does not declare the capability, and the plugin answers
// EUNSUPPORTED when its provider lacks the interface.
//
// Errors are always *core.Error: the provider's own error exactly as it returned it, or a
// boundary failure (EUNAVAILABLE for calls without effect, EUNKNOWN for state-changing calls
// whose outcome cannot be known, EINTERNAL for oversized messages and other faults).
type Client struct {
	rpc     pb.ProviderClient
	timeout time.Duration

	mu   sync.Mutex
	desc *core.Description
}

var (
	_ core.Provider          = (*Client)(nil)
	_ core.PaymentCloser     = (*Client)(nil)
	_ core.SettlementFetcher = (*Client)(nil)
)

// NewClient returns a Client over any gRPC connection serving the provider service (a plugin
// launched by Launch, or an in-process server from RegisterProvider in tests). callTimeout is
// the deadline added to calls whose context has none; 0 means DefaultCallTimeout.
func NewClient(cc grpc.ClientConnInterface, callTimeout time.Duration) *Client {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	return &Client{rpc: pb.NewProviderClient(cc), timeout: callTimeout}
}

func (c *Client) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// Describe asks the plugin and caches the answer for capability checks.
func (c *Client) Describe(ctx context.Context) (*core.Description, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	res, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, fail("Describe", true, nil, err)
	}
	d := descriptionFromPB(res)
	c.mu.Lock()
	c.desc = d
	c.mu.Unlock()
	return d, nil
}

// description returns the cached Describe answer, asking the plugin once if needed.
func (c *Client) description(ctx context.Context) (*core.Description, error) {
	c.mu.Lock()
	d := c.desc
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	return c.Describe(ctx)
}

func (c *Client) Configure(ctx context.Context, req *core.ConfigureRequest) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	in := &pb.ConfigureRequest{Account: req.Account, Settings: req.Settings}
	_, err := c.rpc.Configure(ctx, in)
	return fail("Configure", true, in, err)
}

func (c *Client) CreatePayment(ctx context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	in := createToPB(req)
	res, err := c.rpc.CreatePayment(ctx, in)
	if err != nil {
		return nil, fail("CreatePayment", false, in, err)
	}
	return createResultFromPB(res), nil
}

func (c *Client) VerifyClientResult(ctx context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	in := clientResultReqToPB(req)
	res, err := c.rpc.VerifyClientResult(ctx, in)
	if err != nil {
		return nil, fail("VerifyClientResult", true, in, err)
	}
	return clientResultFromPB(res), nil
}

func (c *Client) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	in := notificationReqToPB(req)
	res, err := c.rpc.ParseNotification(ctx, in)
	if err != nil {
		return nil, fail("ParseNotification", true, in, err)
	}
	return notificationResultFromPB(res), nil
}

func (c *Client) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	res, err := c.rpc.QueryPayment(ctx, &pb.QueryPaymentRequest{Account: req.Account, OutTradeNo: req.OutTradeNo, ProviderRef: req.ProviderRef})
	if err != nil {
		return nil, fail("QueryPayment", true, nil, err)
	}
	return paymentStateFromPB(res), nil
}

func (c *Client) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	in := refundReqToPB(req)
	res, err := c.rpc.Refund(ctx, in)
	if err != nil {
		return nil, fail("Refund", false, in, err)
	}
	return refundStateFromPB(res), nil
}

func (c *Client) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	res, err := c.rpc.QueryRefund(ctx, &pb.QueryRefundRequest{Account: req.Account, OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo})
	if err != nil {
		return nil, fail("QueryRefund", true, nil, err)
	}
	return refundStateFromPB(res), nil
}

// Close closes an unpaid payment, when the plugin declares CapClose.
func (c *Client) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	if err := c.require(ctx, core.CapClose); err != nil {
		return nil, err
	}
	res, err := c.rpc.Close(ctx, &pb.ClosePaymentRequest{Account: req.Account, OutTradeNo: req.OutTradeNo, ProviderRef: req.ProviderRef})
	if err != nil {
		return nil, fail("Close", false, nil, err)
	}
	return paymentStateFromPB(res), nil
}

// FetchSettlement streams settlement records to yield, when the plugin declares
// CapSettlement. An error from yield stops the stream and is returned unchanged.
func (c *Client) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	if err := c.require(ctx, core.CapSettlement); err != nil {
		return err
	}
	// Cancelling ctx on return also ends the server's stream when yield stops early.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	stream, err := c.rpc.FetchSettlement(ctx, settlementReqToPB(req))
	if err != nil {
		return fail("FetchSettlement", true, nil, err)
	}
	for {
		batch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail("FetchSettlement", true, nil, err)
		}
		for _, r := range batch.GetRecords() {
			if err := yield(settlementRecordFromPB(r)); err != nil {
				return err
			}
		}
	}
}

// fail turns a call's error into a *core.Error (fromStatus). A size refusal (ResourceExhausted)
// is the request's fault when the request itself is over the limit: it was never sent.
func fail(method string, safe bool, req proto.Message, err error) error {
	if err == nil {
		return nil
	}
	if req != nil && status.Code(err) == codes.ResourceExhausted && proto.Size(req) > MaxMessageSize {
		return core.WrapError(core.EINVALID, &boundaryError{err: err}, "plugin call %s: the request exceeds the %d MiB message limit of the plugin boundary", method, MaxMessageSize>>20)
	}
	return fromStatus(method, safe, err)
}

func (c *Client) require(ctx context.Context, capability core.Capability) error {
	d, err := c.description(ctx)
	if err != nil {
		return err
	}
	if !d.Has(capability) {
		return core.Errorf(core.EUNSUPPORTED, "provider %s does not declare capability %s", d.Name, capability)
	}
	return nil
}
