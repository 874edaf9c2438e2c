package pluginhost

import (
	"context"

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

// Configure is Manager.Configure: the settings are remembered and re-sent after restarts.
func (h *handle) Configure(ctx context.Context, req *core.ConfigureRequest) error {
	s, err := h.get()
	if err != nil {
		return err
	}
	return s.configure(ctx, req.Account, req.Settings)
}

// do runs one call; safe marks calls that may be repeated (no effect at the gateway).
func do[T any](h *handle, ctx context.Context, method string, safe bool, fn func(context.Context, core.Provider) (T, error)) (T, error) {
	var out T
	s, err := h.get()
	if err != nil {
		return out, err
	}
	err = s.call(ctx, method, safe, func(ctx context.Context, p core.Provider) error {
		var err error
		out, err = fn(ctx, p)
		return err
	})
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
	return do(h, ctx, "CreatePayment", local, func(ctx context.Context, p core.Provider) (*core.CreatePaymentResult, error) {
		res, err := p.CreatePayment(ctx, req)
		if local && sdk.IsBoundaryError(err) && core.ErrorCode(err) == core.EUNKNOWN {
			err = core.WrapError(core.EUNAVAILABLE, err, "plugin %s was unavailable for CreatePayment; nothing was created", h.name)
		}
		return res, err
	})
}

func (h *handle) VerifyClientResult(ctx context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	return do(h, ctx, "VerifyClientResult", true, func(ctx context.Context, p core.Provider) (*core.ClientResult, error) {
		return p.VerifyClientResult(ctx, req)
	})
}

func (h *handle) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	return do(h, ctx, "ParseNotification", true, func(ctx context.Context, p core.Provider) (*core.NotificationResult, error) {
		return p.ParseNotification(ctx, req)
	})
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
