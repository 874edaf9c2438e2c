package host

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// RawNotification is a request to /notify/{account} as it arrived.
type RawNotification struct {
	Account    string
	Method     string
	Header     http.Header
	Query      string
	Body       []byte
	RemoteAddr string
}

// RetryAck is the host's own answer when it cannot take a notification (store down, provider
// down, unknown account): a 503 that every wallet treats as "deliver again later". It is never
// a provider's success ack, so nothing unstored is ever acknowledged.
var RetryAck = core.Ack{Status: http.StatusServiceUnavailable, ContentType: "text/plain; charset=utf-8", Body: []byte("retry")}

// UnknownAccountAck answers a notification for an account this host does not have.
var UnknownAccountAck = core.Ack{Status: http.StatusNotFound, ContentType: "text/plain; charset=utf-8", Body: []byte("unknown account")}

// NotificationOutcome says what became of a notification, for logs, metrics and tests.
type NotificationOutcome struct {
	ID     string                   // inbox id; "" when it could not even be stored
	Status store.NotificationStatus // processed, duplicate, unmatched, rejected, flagged, error
	Ack    core.Ack                 // the answer to send
}

// HandleNotification stores the raw request durably, then lets the provider verify and parse it,
// then applies its events, their outbox events and the inbox status in one transaction, and
// returns the ack to answer. Whatever fails, the answer asks the wallet to retry unless the
// notification's effect has committed.
func (s *Service) HandleNotification(ctx context.Context, raw *RawNotification) NotificationOutcome {
	hdr := inboxHeaders(raw.Header)
	// An account this host does not have is refused before anything is stored, so that junk
	// posted to /notify/<anything> cannot fill the inbox. The answer is not an ack: if the
	// account was only misnamed in config, the wallet delivers again after the fix.
	prov, _, provErr := s.provider(ctx, raw.Account)
	if core.ErrorCode(provErr) == core.ENOTFOUND {
		s.logFor(ctx).Warn("notification for an unknown account refused", "account", raw.Account)
		return NotificationOutcome{Status: store.NotificationRejected, Ack: UnknownAccountAck}
	}
	ntf := &store.Notification{
		ID: store.NewID("ntf_"), Account: raw.Account, Method: raw.Method, Header: hdr, Query: raw.Query,
		Body: raw.Body, RemoteAddr: raw.RemoteAddr, Status: store.NotificationReceived, ReceivedAt: s.now(),
	}
	if err := s.store.InsertNotification(ctx, ntf); err != nil {
		s.logFor(ctx).Error("could not store a notification; asking the wallet to retry", "account", raw.Account, "error", err)
		return NotificationOutcome{Status: store.NotificationError, Ack: RetryAck}
	}
	// Once stored, finish the work even if the wallet hangs up: the wallet's timeout must not
	// decide whether an effect half-happens (the transaction would roll back, but the inbox
	// entry would stay "received" with nobody to pick it up).
	ctx, cancelAll := context.WithTimeout(context.WithoutCancel(ctx), 2*s.callTimeout)
	defer cancelAll()
	out := NotificationOutcome{ID: ntf.ID}
	fail := func(status store.NotificationStatus, reason string, ack core.Ack) NotificationOutcome {
		ntf.Status, ntf.Reason = status, reason
		if err := s.store.UpdateNotification(ctx, ntf); err != nil {
			s.logFor(ctx).Error("could not record a notification's status", "notification_id", ntf.ID, "error", err)
		}
		out.Status, out.Ack = status, ack
		return out
	}

	if provErr != nil {
		return fail(store.NotificationError, "provider unavailable: "+core.ErrorMessage(provErr), RetryAck)
	}
	req := &core.NotificationRequest{Account: raw.Account, Method: raw.Method, Header: hdr, Query: raw.Query, Body: raw.Body,
		NotifyPath: s.Settings().notifyPath(raw.Account)}
	cctx, cancel := s.callCtx(ctx)
	res, err := prov.ParseNotification(cctx, req)
	cancel()
	if err != nil {
		s.logFor(ctx).Warn("provider could not decide on a notification", "notification_id", ntf.ID, "code", core.ErrorCode(err), "error", err)
		return fail(store.NotificationError, "provider error: "+core.ErrorCode(err), RetryAck)
	}
	ack := res.Ack
	if ack.Status == 0 {
		ack.Status = http.StatusOK
	}
	if !res.Verified && res.Pending {
		// Authentic, but not yet bound to the account's merchant. A copy of a notification
		// already processed is a verified duplicate: the store decides that, so any replica,
		// and a host after a restart, acknowledges a redelivery (the gateway may confirm a
		// notify_id only once). Anything else is bound now, or stays unacknowledged.
		if out, done := s.pendingDuplicate(ctx, ntf, res, ack, fail); done {
			return out
		}
		req.Confirm = true
		cctx, cancel := s.callCtx(ctx)
		res, err = prov.ParseNotification(cctx, req)
		cancel()
		if err != nil {
			s.logFor(ctx).Warn("notification not yet bound to its merchant; the wallet will deliver it again", "notification_id", ntf.ID, "code", core.ErrorCode(err), "error", err)
			return fail(store.NotificationError, "not yet bound to the merchant: "+core.ErrorCode(err), RetryAck)
		}
		if res.Pending && !res.Verified {
			return fail(store.NotificationError, "not yet bound to the merchant: the provider did not bind it", RetryAck)
		}
		ack = res.Ack
		if ack.Status == 0 {
			ack.Status = http.StatusOK
		}
	}
	if !res.Verified {
		s.logFor(ctx).Warn("notification failed verification", "notification_id", ntf.ID, "account", raw.Account, "reason", res.RejectReason)
		reason := res.RejectReason
		if reason == "" {
			reason = "not verified"
		}
		return fail(store.NotificationRejected, reason, ack)
	}

	ntf.DedupeKey = res.DedupeKey
	var status store.NotificationStatus
	// InTx may run fn more than once (a retried serialisation failure or deadlock), so every
	// run starts from the same snapshot of the notification, and ntf takes the outcome only
	// once it has committed.
	base, final := *ntf, *ntf
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		n := base
		n.Status = store.NotificationProcessed
		// Claim the dedupe key first: a duplicate conflicts here, before any effect.
		if err := tx.UpdateNotification(ctx, &n); err != nil {
			return err
		}
		var err error
		status, err = s.applyNotification(ctx, tx, &n, res.Events)
		if err != nil {
			return err
		}
		// Record the final status and the payment or refund it concerned. When the status
		// is still the one just claimed (the usual case), only the outcome columns change:
		// the narrower write leaves the status and dedupe key index entries alone.
		write := tx.UpdateNotification
		if n.Status == store.NotificationProcessed && n.DedupeKey == base.DedupeKey {
			write = tx.UpdateNotificationOutcome
		}
		if err := write(ctx, &n); err != nil {
			return err
		}
		final = n
		return nil
	})
	switch {
	case err == nil:
		*ntf = final
	case res.DedupeKey != "" && core.ErrorCode(err) == core.ECONFLICT:
		s.logFor(ctx).Info("duplicate notification acknowledged", "notification_id", ntf.ID, "dedupe_key", res.DedupeKey)
		return fail(store.NotificationDuplicate, "already processed", ack)
	default:
		s.logFor(ctx).Error("could not apply a notification; asking the wallet to retry", "notification_id", ntf.ID, "error", err)
		return fail(store.NotificationError, "store error", RetryAck)
	}
	out.Status, out.Ack = status, ack
	return out
}

// pendingDuplicate acknowledges a Pending notification whose dedupe key a processed notification
// of the account already has (done true). A store error answers retry (done true); no processed
// copy means done false: the caller binds it.
func (s *Service) pendingDuplicate(ctx context.Context, ntf *store.Notification, res *core.NotificationResult, ack core.Ack,
	fail func(store.NotificationStatus, string, core.Ack) NotificationOutcome) (NotificationOutcome, bool) {
	if res.DedupeKey == "" {
		return NotificationOutcome{}, false
	}
	prev, err := s.store.FindNotificationByDedupeKey(ctx, ntf.Account, res.DedupeKey)
	switch {
	case err == nil:
		s.logFor(ctx).Info("duplicate notification acknowledged", "notification_id", ntf.ID, "dedupe_key", res.DedupeKey, "first", prev.ID)
		ntf.DedupeKey = res.DedupeKey
		return fail(store.NotificationDuplicate, "already processed", ack), true
	case core.ErrorCode(err) == core.ENOTFOUND:
		return NotificationOutcome{}, false
	}
	s.logFor(ctx).Error("could not look up a notification's dedupe key; asking the wallet to retry", "notification_id", ntf.ID, "error", err)
	return fail(store.NotificationError, "store error", RetryAck), true
}

// applyNotification applies the events of one verified notification inside tx and sets n's
// final status and links. Events about unknown payments or refunds make it unmatched; an amount
// that differs from the payment makes it flagged.
func (s *Service) applyNotification(ctx context.Context, tx store.Tx, n *store.Notification, events []core.NotificationEvent) (store.NotificationStatus, error) {
	var unmatched, flagged []string
	for _, ev := range events {
		switch ev.Kind {
		case core.EventPayment:
			p, err := tx.LockPaymentByOutTradeNo(ctx, n.Account, ev.OutTradeNo)
			if core.ErrorCode(err) == core.ENOTFOUND {
				unmatched = append(unmatched, "payment "+ev.OutTradeNo)
				continue
			}
			if err != nil {
				return "", err
			}
			n.PaymentID = p.ID
			outcome, err := s.applyPaymentState(ctx, tx, p, paymentFact{
				Status: ev.PaymentStatus, ProviderRef: ev.ProviderRef, Amount: ev.Amount, At: ev.OccurredAt,
				Wallet: ev.Wallet, FailureCode: ev.FailureCode, RawStatus: ev.RawStatus,
			})
			if err != nil {
				return "", err
			}
			if outcome == applyMismatch {
				flagged = append(flagged, fmt.Sprintf("amount %s differs from the payment's %s", ev.Amount, p.Amount))
			}
		case core.EventRefund:
			r, err := tx.GetRefundByOutRefundNo(ctx, n.Account, ev.OutRefundNo)
			if core.ErrorCode(err) == core.ENOTFOUND {
				unmatched = append(unmatched, "refund "+ev.OutRefundNo)
				continue
			}
			if err != nil {
				return "", err
			}
			n.PaymentID, n.RefundID = r.PaymentID, r.ID
			if ev.Amount.Currency != "" && ev.Amount != r.Amount && !s.refundReportedInSettlement(ctx, tx, r, ev.Amount) {
				flagged = append(flagged, fmt.Sprintf("refund amount %s differs from the refund's %s", ev.Amount, r.Amount))
				continue
			}
			if _, err := s.applyRefundState(ctx, tx, r.ID, refundFact{
				Status: ev.RefundStatus, ProviderRef: ev.ProviderRef, FailureCode: ev.FailureCode, RawStatus: ev.RawStatus,
			}); err != nil {
				return "", err
			}
		default:
			unmatched = append(unmatched, "event kind "+string(ev.Kind))
		}
	}
	switch {
	case len(flagged) > 0:
		n.Status, n.Reason = store.NotificationFlagged, strings.Join(flagged, "; ")
	case len(unmatched) > 0 || len(events) == 0:
		n.Status = store.NotificationUnmatched
		n.Reason = "no match for " + strings.Join(unmatched, ", ")
		if len(events) == 0 {
			n.Reason = "no events"
		}
		data := struct {
			NotificationID string    `json:"notification_id"`
			Account        string    `json:"account"`
			Reason         string    `json:"reason"`
			ReceivedAt     time.Time `json:"received_at"`
		}{n.ID, n.Account, n.Reason, n.ReceivedAt.UTC()}
		if err := emit(ctx, tx, webhook.NotificationUnmatched, n.Account, "", n.PaymentID, n.RefundID, data); err != nil {
			return "", err
		}
	default:
		n.Status = store.NotificationProcessed
	}
	return n.Status, nil
}

// ListNotifications lists inbox entries, newest first.
func (s *Service) ListNotifications(ctx context.Context, f store.NotificationFilter) (*Page[*Notification], error) {
	switch f.Status {
	case "", store.NotificationReceived, store.NotificationProcessed, store.NotificationDuplicate, store.NotificationUnmatched,
		store.NotificationRejected, store.NotificationFlagged, store.NotificationError:
	default:
		return nil, core.ParamErrorf(core.EINVALID, "status", "unknown notification status %q", f.Status)
	}
	if f.Limit > store.MaxPageSize {
		f.Limit = store.MaxPageSize
	}
	if c := CallerFrom(ctx); !c.unrestricted() {
		if c.Regions != nil {
			// The inbox belongs to accounts, not regions (see Caller).
			return &Page[*Notification]{Data: []*Notification{}}, nil
		}
		f.Accounts = c.accountsFilter()
	}
	ns, next, err := s.store.ListNotifications(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &Page[*Notification]{Data: make([]*Notification, 0, len(ns)), NextCursor: next}
	for _, n := range ns {
		page.Data = append(page.Data, notificationView(n))
	}
	return page, nil
}
