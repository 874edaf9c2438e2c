package pluginhost

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/sdk"
)

// handle is what Manager.Provider hands out. It names its plugin rather than holding a
// process, so it stays valid across restarts and Reload.
type handle struct {
	m    *Manager
	name string
}

var (
	_ core.Provider          = (*handle)(nil)
	_ core.PaymentCloser     = (*handle)(nil)
	_ core.SettlementFetcher = (*handle)(nil)
)

func (h *handle) get() (*supervised, error) {
	s, err := h.m.get(h.name)
	if err != nil {
		return nil, core.Errorf(core.EUNAVAILABLE, "provider plugin %s is not configured", h.name)
	}
	return s, nil
}

// Describe returns the description cached at the plugin's last start.
func (h *handle) Describe(ctx context.Context) (*core.Description, error) {
	s, err := h.get()
	if err != nil {
		return nil, err
	}
	return s.describe(ctx)
}

// Configure is Manager.Configure: the settings are remembered and re-sent after restarts (and
// handed to the shadow, when there is one).
func (h *handle) Configure(ctx context.Context, req *core.ConfigureRequest) error {
	if _, err := h.get(); err != nil {
		return err
	}
	return h.m.Configure(ctx, h.name, req.Account, req.Settings)
}

// do runs one call; safe marks calls that may be repeated (no effect at the gateway). A call
// refused by a generation that a reload just retired (nothing was sent) goes to the next one.
func do[T any](h *handle, ctx context.Context, method string, safe bool, fn func(context.Context, core.Provider) (T, error)) (T, error) {
	var out T
	var err error
	for range maxGenerations {
		var s *supervised
		if s, err = h.get(); err != nil {
			return out, err
		}
		err = s.call(ctx, method, safe, func(ctx context.Context, p core.Provider) error {
			var err error
			out, err = fn(ctx, p)
			return err
		})
		if !errors.Is(err, errRetired) {
			break
		}
	}
	return out, err
}

// CreatePayment may create an order at the gateway, so in general it is never retried and a
// boundary failure is an unknown outcome. A provider that declares core.CapLocalCreate only
// signs locally: then a call cut off by the plugin's death had no effect anywhere, so it is
// provider_unavailable (not outcome_unknown) and safe to repeat once.
func (h *handle) CreatePayment(ctx context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	local := false
	if d, err := h.Describe(ctx); err == nil {
		local = d.Has(core.CapLocalCreate)
	}
	res, err := do(h, ctx, "CreatePayment", local, func(ctx context.Context, p core.Provider) (*core.CreatePaymentResult, error) {
		res, err := p.CreatePayment(ctx, req)
		if local && sdk.IsBoundaryError(err) && core.ErrorCode(err) == core.EUNKNOWN {
			err = core.WrapError(core.EUNAVAILABLE, err, "plugin %s was unavailable for CreatePayment; nothing was created", h.name)
		}
		return res, err
	})
	// Only a local_create provider's CreatePayment is without effect at the gateway; any other
	// would create a second order there, so it never goes to a shadow.
	if sh := h.m.shadowOf(h.name); sh != nil && local {
		sh.mirror(MethodCreatePayment, req.Account, err, func() shadowCall {
			r := *req
			return shadowCall{req: &r, live: liveAnswer(res, err, createAnswer), call: func(ctx context.Context, p core.Provider) (answer, error) {
				res, err := p.CreatePayment(ctx, &r)
				if err != nil {
					return nil, err
				}
				return createAnswer(res), nil
			}}
		})
	}
	return res, err
}

func (h *handle) VerifyClientResult(ctx context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	res, err := do(h, ctx, "VerifyClientResult", true, func(ctx context.Context, p core.Provider) (*core.ClientResult, error) {
		return p.VerifyClientResult(ctx, req)
	})
	if sh := h.m.shadowOf(h.name); sh != nil {
		sh.mirror(MethodVerifyClientResult, req.Account, err, func() shadowCall {
			r := *req
			r.Result = maps.Clone(req.Result)
			return shadowCall{req: &r, live: liveAnswer(res, err, clientResultAnswer), call: func(ctx context.Context, p core.Provider) (answer, error) {
				res, err := p.VerifyClientResult(ctx, &r)
				if err != nil {
					return nil, err
				}
				return clientResultAnswer(res), nil
			}}
		})
	}
	return res, err
}

func (h *handle) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	res, err := do(h, ctx, "ParseNotification", true, func(ctx context.Context, p core.Provider) (*core.NotificationResult, error) {
		return p.ParseNotification(ctx, req)
	})
	// A call with Confirm may ask the gateway (notify_verify confirms a notification once): it
	// never goes to a shadow, which sees the first, gateway-free call of every notification.
	if sh := h.m.shadowOf(h.name); sh != nil && !req.Confirm {
		sh.mirror(MethodParseNotification, req.Account, err, func() shadowCall {
			// The body is copied: the caller may reuse its buffer once it has the live answer.
			r := *req
			r.Body = slices.Clone(req.Body)
			return shadowCall{req: &r, live: liveAnswer(res, err, notificationAnswer), call: func(ctx context.Context, p core.Provider) (answer, error) {
				res, err := p.ParseNotification(ctx, &r)
				if err != nil {
					return nil, err
				}
				return notificationAnswer(res), nil
			}}
		})
	}
	return res, err
}

func (h *handle) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	return do(h, ctx, "QueryPayment", true, func(ctx context.Context, p core.Provider) (*core.PaymentState, error) {
		return p.QueryPayment(ctx, req)
	})
}

// Refund is never retried: the host's janitor queries an unknown outcome instead.
func (h *handle) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	return do(h, ctx, "Refund", false, func(ctx context.Context, p core.Provider) (*core.RefundState, error) {
		return p.Refund(ctx, req)
	})
}

func (h *handle) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	return do(h, ctx, "QueryRefund", true, func(ctx context.Context, p core.Provider) (*core.RefundState, error) {
		return p.QueryRefund(ctx, req)
	})
}

// Close is never retried. It answers EUNSUPPORTED at once when the plugin does not declare
// CapClose.
func (h *handle) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	if err := h.require(ctx, core.CapClose); err != nil {
		return nil, err
	}
	return do(h, ctx, "Close", false, func(ctx context.Context, p core.Provider) (*core.PaymentState, error) {
		c, ok := p.(core.PaymentCloser)
		if !ok {
			return nil, core.Errorf(core.EUNSUPPORTED, "provider plugin %s cannot close payments", h.name)
		}
		return c.Close(ctx, req)
	})
}

// FetchSettlement is not retried (yield may already have seen records). It answers
// EUNSUPPORTED at once when the plugin does not declare CapSettlement.
func (h *handle) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	if err := h.require(ctx, core.CapSettlement); err != nil {
		return err
	}
	_, err := do(h, ctx, "FetchSettlement", false, func(ctx context.Context, p core.Provider) (struct{}, error) {
		f, ok := p.(core.SettlementFetcher)
		if !ok {
			return struct{}{}, core.Errorf(core.EUNSUPPORTED, "provider plugin %s cannot fetch settlements", h.name)
		}
		return struct{}{}, f.FetchSettlement(ctx, req, yield)
	})
	return err
}

func (h *handle) require(ctx context.Context, c core.Capability) error {
	d, err := h.Describe(ctx)
	if err != nil {
		return err
	}
	if !d.Has(c) {
		return core.Errorf(core.EUNSUPPORTED, "provider %s does not declare capability %s", d.Name, c)
	}
	return nil
}
