package host

import (
	"context"
	"maps"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// CreateRefundRequest is the body of POST /v1/payments/{id}/refunds.
type CreateRefundRequest struct {
	Amount   core.Money        `json:"amount"`
	Reason   string            `json:"reason"`
	Metadata map[string]string `json:"metadata"` // as on payments (checkMetadata)
}

// CreateRefund reserves the amount on the payment (under its row lock, so concurrent refunds
// can never exceed what was paid), then asks the provider. A declined refund fails and releases
// its reservation; an unknown outcome stays pending for the janitor to query.
func (s *Service) CreateRefund(ctx context.Context, paymentID string, req *CreateRefundRequest) (*Refund, error) {
	if err := checkText("reason", req.Reason, 256, false); err != nil {
		return nil, err
	}
	if err := checkAmount(req.Amount); err != nil {
		return nil, err
	}
	if err := checkMetadata(req.Metadata); err != nil {
		return nil, err
	}
	p, err := s.visiblePayment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	prov, desc, err := s.provider(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	if !desc.Has(core.CapRefund) {
		return nil, core.Errorf(core.EUNSUPPORTED, "the provider of method %s cannot refund", p.Method)
	}
	id := store.NewID("rf_")
	now := s.now()
	r := &store.Refund{
		ID: id, PaymentID: p.ID, Account: p.Account, OutRefundNo: "pmxr" + strings.TrimPrefix(id, "rf_"),
		Amount: req.Amount, Status: core.RefundPending, Reason: req.Reason, Metadata: maps.Clone(req.Metadata),
		CreatedAt: now, UpdatedAt: now,
		// Until the provider answers, the outcome is unknown: a host that dies now leaves the
		// refund for the janitor to query.
		NextQueryAt: now.Add(time.Minute),
	}
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, p.ID)
		if err != nil {
			return err
		}
		if cur.Status == core.PaymentSucceeded {
			if req.Amount.Currency == cur.Amount.Currency && req.Amount.Value < cur.Amount.Value && !desc.Has(core.CapPartialRefund) {
				return core.Errorf(core.EUNSUPPORTED, "the provider of method %s cannot refund part of a payment", cur.Method)
			}
			if !desc.Has(core.CapMultipleRefund) {
				totals, err := tx.SumRefunds(ctx, cur.ID)
				if err != nil {
					return err
				}
				if totals.Active > 0 {
					return core.Errorf(core.EUNSUPPORTED, "the provider of method %s allows one refund per payment", cur.Method)
				}
			}
		}
		if _, err := store.ReserveRefund(ctx, tx, r); err != nil {
			return err
		}
		// The reservation is the request's effect: its Idempotency-Key is bound to this refund
		// in the same transaction, so that a retry answers about it and never reserves (and
		// sends) another with a new out_refund_no.
		return bind(ctx, tx, r.ID)
	})
	if err != nil {
		return nil, err
	}
	// The amount is reserved: finish even if the caller hangs up, so that the refund's outcome
	// is recorded now rather than left for the janitor.
	ctx, cancelAll := context.WithTimeout(context.WithoutCancel(ctx), 2*s.callTimeout)
	defer cancelAll()

	cctx, cancel := s.callCtx(ctx)
	state, err := prov.Refund(cctx, &core.RefundRequest{
		Account: p.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef, OutRefundNo: r.OutRefundNo,
		Amount: r.Amount, PaymentAmount: p.Amount, Reason: r.Reason, NotifyURL: s.Settings().notifyURL(p.Account),
	})
	cancel()
	var fact refundFact
	code, refused := refundRefused(err)
	switch {
	case err == nil:
		fact = refundStateFact(state)
	case refused:
		// The gateway refused the first send of this out_refund_no: nothing was refunded.
		fact = refundFact{Status: core.RefundFailed, FailureCode: code}
	default:
		// Timeout, gateway fault, plugin down: maybe refunded, maybe not. Keep the reservation
		// and let the janitor query with the same out_refund_no (the gateway's idempotency key).
		s.logFor(ctx).Warn("refund outcome unknown; left pending for the janitor", "refund_id", r.ID, "code", core.ErrorCode(err), "error", err)
		fact = refundFact{Status: core.RefundPending}
	}
	var out *store.Refund
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if out, err = s.applyRefundState(ctx, tx, r.ID, fact); err != nil {
			return err
		}
		return complete(ctx, tx, refundView(out))
	})
	if err != nil {
		return nil, err
	}
	return refundView(out), nil
}

// refundRefused is the one rule that turns a provider's refund error into a failed refund: only
// a definite refusal (core.EDECLINED or core.EINVALID: the gateway answered and said no) is a
// refusal, with the gateway's code (or the core code) as the failure code. Everything else (a
// timeout, a gateway fault, an unreadable answer, a code nobody catalogued: core.EUNKNOWN, a
// plugin that died, an error code this host does not know) may have refunded and is not.
//
// A refusal proves nothing was refunded only for the first send of an out_refund_no: the
// janitor's re-send after an unknown outcome asks an operator instead (see Janitor.refund).
func refundRefused(err error) (failureCode string, refused bool) {
	if !isCode(err, core.EDECLINED, core.EINVALID) {
		return "", false
	}
	if code := core.ProviderCode(err); code != "" {
		return code, true
	}
	return core.ErrorCode(err), true
}

// refundFact is what the provider (or an operator) said about a refund.
type refundFact struct {
	Status      core.RefundStatus
	ProviderRef string
	FailureCode string
	RawStatus   string
	// Settlement, when set, is an operator's settlement of a refund that needed attention.
	Settlement *refundSettlement
}

// refundSettlement records who settled a refund by hand, and why.
type refundSettlement struct {
	Reason string
	By     string
	At     time.Time
}

// refundStateFact is what a provider's answer (refund, query) says about a refund.
func refundStateFact(st *core.RefundState) refundFact {
	return refundFact{Status: st.Status, ProviderRef: st.ProviderRef, FailureCode: st.FailureCode, RawStatus: st.RawStatus}
}

// applyRefundState applies a fact to refund id inside tx: it locks the payment then the refund
// (always in that order, so that two transactions never wait on each other), follows the
// transition table, moves the payment's refunded and reserved totals, and writes the event.
func (s *Service) applyRefundState(ctx context.Context, tx store.Tx, id string, f refundFact) (*store.Refund, error) {
	r0, err := tx.GetRefund(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := tx.LockPayment(ctx, r0.PaymentID)
	if err != nil {
		return nil, err
	}
	r, err := tx.LockRefund(ctx, id)
	if err != nil {
		return nil, err
	}
	learnedRef := f.ProviderRef != "" && r.ProviderRef == ""
	if learnedRef {
		r.ProviderRef = f.ProviderRef
	}
	if f.Status == r.Status || core.RefundTransition(r.Status, f.Status) != nil {
		if f.Status != r.Status && f.Status.Valid() {
			s.logFor(ctx).Info("ignoring a refund state the transition table does not allow", "refund_id", r.ID, "from", r.Status, "to", f.Status, "raw_status", f.RawStatus)
		}
		if !learnedRef {
			return r, nil // nothing to write (as applyPaymentState): a repeated answer costs no UPDATE
		}
		return r, tx.UpdateRefund(ctx, r)
	}
	r.Status = f.Status
	r.FailureCode = f.FailureCode
	if st := f.Settlement; st != nil {
		r.SettleReason, r.SettledBy, r.SettledAt = st.Reason, st.By, st.At
	}
	if r.Status.Final() {
		r.NextQueryAt = time.Time{}
		r.NeedsAttention = false // settled (by the gateway or an operator); AttentionReason stays as history
	} else if r.NextQueryAt.IsZero() {
		r.NextQueryAt = s.now().Add(time.Minute)
	}
	if err := tx.UpdateRefund(ctx, r); err != nil {
		return nil, err
	}
	switch r.Status {
	case core.RefundSucceeded:
		p.AmountRefunded += r.Amount.Value
	case core.RefundFailed:
		p.AmountReserved -= r.Amount.Value
		if p.AmountReserved < 0 {
			p.AmountReserved = 0
		}
	}
	if r.Status.Final() {
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return nil, err
		}
		s.final("refund", string(r.Status), p.Method)
	}
	if typ := refundEventType(r.Status); typ != "" {
		if err := emit(ctx, tx, typ, r.Account, p.Region, r.PaymentID, r.ID, refundView(r)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// GetRefund returns a refund of a payment.
func (s *Service) GetRefund(ctx context.Context, paymentID, refundID string) (*Refund, error) {
	if _, err := s.visiblePayment(ctx, paymentID); err != nil {
		return nil, err
	}
	r, err := s.store.GetRefund(ctx, refundID)
	if err != nil {
		return nil, err
	}
	if r.PaymentID != paymentID {
		return nil, core.Errorf(core.ENOTFOUND, "no refund %s on payment %s", refundID, paymentID)
	}
	return refundView(r), nil
}

// ListRefunds lists a payment's refunds, newest first.
func (s *Service) ListRefunds(ctx context.Context, paymentID string, limit int, cursor string) (*Page[*Refund], error) {
	if _, err := s.visiblePayment(ctx, paymentID); err != nil {
		return nil, err
	}
	if limit > store.MaxPageSize {
		limit = store.MaxPageSize
	}
	rs, next, err := s.store.ListRefunds(ctx, store.RefundFilter{PaymentID: paymentID, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, err
	}
	page := &Page[*Refund]{Data: make([]*Refund, 0, len(rs)), NextCursor: next}
	for _, r := range rs {
		page.Data = append(page.Data, refundView(r))
	}
	return page, nil
}

// markRefundAttention records that refund id needs an operator, inside tx: it stays pending, its
// amount stays reserved, and the janitor keeps querying it at next (a later answer from the
// gateway still settles it). The first mark writes a refund.needs_attention event. It returns
// whether this call marked it (false: already marked, or final meanwhile).
func (s *Service) markRefundAttention(ctx context.Context, tx store.Tx, id, reason string, next time.Time) (bool, error) {
	r0, err := tx.GetRefund(ctx, id)
	if err != nil {
		return false, err
	}
	p, err := tx.LockPayment(ctx, r0.PaymentID) // payment, then refund: the lock order
	if err != nil {
		return false, err
	}
	r, err := tx.LockRefund(ctx, id)
	if err != nil {
		return false, err
	}
	if r.Status.Final() {
		return false, nil
	}
	r.NextQueryAt = next
	marked := !r.NeedsAttention
	if marked {
		r.NeedsAttention, r.AttentionReason = true, reason
	}
	if err := tx.UpdateRefund(ctx, r); err != nil {
		return false, err
	}
	if !marked {
		return false, nil
	}
	s.logFor(ctx).Warn("refund needs an operator: its outcome cannot be learned from the gateway", "refund_id", r.ID,
		"payment_id", r.PaymentID, "reason", reason)
	return true, emit(ctx, tx, webhook.RefundNeedsAttention, r.Account, p.Region, r.PaymentID, r.ID, refundView(r))
}

// SettleRefundRequest is the body of POST /v1/payments/{id}/refunds/{rid}/settle.
type SettleRefundRequest struct {
	Status core.RefundStatus `json:"status"` // succeeded or failed
	Reason string            `json:"reason"` // why, e.g. what the gateway's statement shows
}

// SettleRefund lets an operator decide a refund that needs attention (Refund.NeedsAttention):
// succeeded (the money went back: it counts as refunded) or failed (nothing was refunded: the
// reservation is released). The reason and the caller (the API key's name) are recorded on the
// refund, and the change writes its refund.succeeded or refund.failed event like any other. A
// refund that does not need attention is ECONFLICT: the gateway decides those.
func (s *Service) SettleRefund(ctx context.Context, paymentID, refundID string, req *SettleRefundRequest) (*Refund, error) {
	if req.Status != core.RefundSucceeded && req.Status != core.RefundFailed {
		return nil, core.ParamErrorf(core.EINVALID, "status", "status must be succeeded or failed")
	}
	if err := checkText("reason", req.Reason, 500, true); err != nil {
		return nil, err
	}
	if _, err := s.visiblePayment(ctx, paymentID); err != nil {
		return nil, err
	}
	by := CallerFrom(ctx).actor()
	if by == "" {
		by = "operator" // no API caller: the CLI or a test, acting as an administrator
	}
	fact := refundFact{Status: req.Status, Settlement: &refundSettlement{Reason: req.Reason, By: by, At: s.now()}}
	if req.Status == core.RefundFailed {
		fact.FailureCode = "settled_by_operator"
	}
	var out *store.Refund
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		r0, err := tx.GetRefund(ctx, refundID)
		if err != nil {
			return err
		}
		if r0.PaymentID != paymentID {
			return core.Errorf(core.ENOTFOUND, "no refund %s on payment %s", refundID, paymentID)
		}
		if _, err := tx.LockPayment(ctx, paymentID); err != nil { // payment, then refund: the lock order
			return err
		}
		cur, err := tx.LockRefund(ctx, refundID)
		if err != nil {
			return err
		}
		if !cur.NeedsAttention || cur.Status.Final() {
			return core.Errorf(core.ECONFLICT, "refund %s is %s and does not need an operator", refundID, cur.Status)
		}
		if out, err = s.applyRefundState(ctx, tx, refundID, fact); err != nil {
			return err
		}
		if out.Status != req.Status {
			return core.Errorf(core.ECONFLICT, "refund %s cannot become %s", refundID, req.Status)
		}
		return complete(ctx, tx, refundView(out))
	})
	if err != nil {
		return nil, err
	}
	s.logFor(ctx).Info("an operator settled a refund", "refund_id", refundID, "status", req.Status, "by", by)
	return refundView(out), nil
}

// ListAllRefunds lists refunds across payments, newest first: with f.NeedsAttention, the
// attention queue of refunds waiting for an operator. It is an administrator's view: host/httpapi
// serves it to administrator keys only, since it is not filtered by a key's scope.
func (s *Service) ListAllRefunds(ctx context.Context, f store.RefundFilter) (*Page[*Refund], error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, core.ParamErrorf(core.EINVALID, "status", "status must be pending, processing, succeeded or failed")
	}
	if f.Limit > store.MaxPageSize {
		f.Limit = store.MaxPageSize
	}
	rs, next, err := s.store.ListRefunds(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &Page[*Refund]{Data: make([]*Refund, 0, len(rs)), NextCursor: next}
	for _, r := range rs {
		page.Data = append(page.Data, refundView(r))
	}
	return page, nil
}
