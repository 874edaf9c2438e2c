package host

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// CreatePaymentRequest is the body of POST /v1/payments.
type CreatePaymentRequest struct {
	Region         string            `json:"region"`
	Method         string            `json:"method"`
	Amount         core.Money        `json:"amount"`
	Reference      string            `json:"reference"`
	Subject        string            `json:"subject"`
	Description    string            `json:"description"`
	Channel        core.Channel      `json:"channel"`
	ReturnURL      string            `json:"return_url"`
	ProviderExtras map[string]string `json:"provider_extras"`
	// Metadata is the merchant's own key/value pairs, stored with the payment, returned with it
	// and sent in its events (see checkMetadata for the bounds).
	Metadata map[string]string `json:"metadata"`
	// ExpiresAt, when set, is when the payment expires unpaid: it must lie at least MinExpiry
	// ahead and no further than the provider's MaxExpiry. The provider receives it
	// (core.CreatePaymentRequest.ExpiresAt) and sets the wallet's own timeout from it.
	ExpiresAt *time.Time `json:"expires_at"`
}

// defaultExpiry applies when the provider declares none.
const defaultExpiry = 2 * time.Hour

// MinExpiry is the shortest expiry a request may ask for: a wallet counts its timeout in whole
// minutes, and a buyer needs time to pay.
const MinExpiry = time.Minute

// Bounds of metadata, on payments and refunds.
const (
	MaxMetadataEntries  = 20
	MaxMetadataKeyLen   = 40
	MaxMetadataValueLen = 500
)

func checkText(field, v string, max int, required bool) error {
	param := field
	if field == "provider_extras key" {
		param = "provider_extras"
	}
	if required && strings.TrimSpace(v) == "" {
		return core.ParamErrorf(core.EINVALID, param, "%s is required", field)
	}
	if utf8.RuneCountInString(v) > max {
		return core.ParamErrorf(core.EINVALID, param, "%s is longer than %d characters", field, max)
	}
	if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") {
		return core.ParamErrorf(core.EINVALID, param, "%s contains invalid characters", field)
	}
	return nil
}

// checkMetadata bounds a metadata map: at most MaxMetadataEntries entries, keys of 1 to
// MaxMetadataKeyLen letters, digits, '_', '-' or '.', values of at most MaxMetadataValueLen
// characters of valid UTF-8 without NUL.
func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadataEntries {
		return core.ParamErrorf(core.EINVALID, "metadata", "metadata has more than %d entries", MaxMetadataEntries)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetadataKeyLen || strings.IndexFunc(k, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
		}) >= 0 {
			return core.ParamErrorf(core.EINVALID, "metadata", "metadata keys are 1 to %d letters, digits, '_', '-' or '.'", MaxMetadataKeyLen)
		}
		if utf8.RuneCountInString(v) > MaxMetadataValueLen {
			return core.ParamErrorf(core.EINVALID, "metadata."+k, "metadata.%s is longer than %d characters", k, MaxMetadataValueLen)
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return core.ParamErrorf(core.EINVALID, "metadata."+k, "metadata.%s contains invalid characters", k)
		}
	}
	return nil
}

// checkAmount validates a request's amount, naming amount.currency or amount.value at fault.
func checkAmount(m core.Money) error {
	if !core.ValidCurrency(m.Currency) {
		return withParam(m.Validate(), "amount.currency")
	}
	return withParam(m.Validate(), "amount.value")
}

// withParam names param as the field at fault of err, unless err names one already.
func withParam(err error, param string) error {
	var e *core.Error
	if errors.As(err, &e) && e.Param == "" && e.Code == core.EINVALID {
		c := *e
		c.Param = param
		return &c
	}
	return err
}

func (r *CreatePaymentRequest) validate() error {
	for _, c := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"region", r.Region, 16, true}, {"method", r.Method, 64, true}, {"reference", r.Reference, 128, false},
		{"subject", r.Subject, 256, true}, {"description", r.Description, 400, false}, {"return_url", r.ReturnURL, 1024, false},
	} {
		if err := checkText(c.field, c.v, c.max, c.required); err != nil {
			return err
		}
	}
	if err := checkAmount(r.Amount); err != nil {
		return err
	}
	switch r.Channel {
	case core.ChannelApp:
	case core.ChannelH5, core.ChannelWeb:
		if r.ReturnURL != "" && !strings.HasPrefix(r.ReturnURL, "https://") && !strings.HasPrefix(r.ReturnURL, "http://") {
			return core.ParamErrorf(core.EINVALID, "return_url", "return_url must be an http(s) URL")
		}
	case "":
		return core.ParamErrorf(core.EINVALID, "channel", "channel is required (app, h5 or web)")
	default:
		return core.ParamErrorf(core.EINVALID, "channel", "channel must be app, h5 or web")
	}
	if err := checkMetadata(r.Metadata); err != nil {
		return err
	}
	if len(r.ProviderExtras) > 32 {
		return core.ParamErrorf(core.EINVALID, "provider_extras", "provider_extras has more than 32 entries")
	}
	for k, v := range r.ProviderExtras {
		if err := checkText("provider_extras key", k, 64, true); err != nil {
			return err
		}
		if err := checkText("provider_extras."+k, v, 1024, false); err != nil {
			return err
		}
	}
	return nil
}

// CreatePayment validates req against the region and the provider's rules and asks the
// provider for the client action of a pending payment with a fresh out_trade_no. When the
// provider declares local_create (its CreatePayment has no effect at the gateway) the call comes
// first and the payment is stored with its client action in one transaction, so a refused call
// stores nothing. Otherwise the payment is stored before the call, so that the outcome of a call
// that reached the gateway is never lost, and a refused call leaves it failed.
func (s *Service) CreatePayment(ctx context.Context, req *CreatePaymentRequest) (*Payment, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	st := s.Settings()
	caller := CallerFrom(ctx)
	if !caller.unrestricted() && !slices.ContainsFunc(st.Regions[req.Region], func(rm RegionMethod) bool { return caller.sees(rm.Account, req.Region) }) {
		// A region none of whose methods the key may use does not exist for it.
		return nil, core.ParamErrorf(core.EINVALID, "region", "unknown region %q", req.Region)
	}
	rm, err := st.findMethod(req.Region, req.Method, req.Amount.Currency)
	if err != nil {
		return nil, err
	}
	if !caller.sees(rm.Account, req.Region) {
		// The method maps to an account outside the key's scope: as if it were not enabled.
		return nil, core.ParamErrorf(core.EINVALID, "method", "method %q is not enabled in region %s", req.Method, req.Region)
	}
	if err := rm.checkLimits(req.Amount); err != nil {
		return nil, withParam(err, "amount")
	}
	prov, desc, err := s.provider(ctx, rm.Account)
	if err != nil {
		return nil, err
	}
	method, ok := desc.Method(req.Method)
	if !ok {
		return nil, core.ParamErrorf(core.EINVALID, "method", "method %q is not offered by the provider of region %s", req.Method, req.Region)
	}
	if err := method.CheckAmount(req.Amount); err != nil {
		return nil, withParam(err, "amount")
	}
	if !method.HasChannel(req.Channel) {
		return nil, core.ParamErrorf(core.EINVALID, "channel", "method %s does not offer channel %s", req.Method, req.Channel)
	}
	now := s.now()
	expires, err := expiryFor(req.ExpiresAt, req.Method, desc, now)
	if err != nil {
		return nil, err
	}

	p, preq := newPayment(req, rm.Account, desc, st.notifyURL(rm.Account), now, expires)
	local := desc.Has(core.CapLocalCreate)
	if !local {
		// The payment row is the request's effect: its Idempotency-Key is bound to it in the
		// same transaction, so that a retry answers about this payment, never makes another.
		err := s.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			return bind(ctx, tx, p.ID)
		})
		if err != nil {
			return nil, err
		}
	}
	// From here on the payment exists (or is about to): finish even if the caller hangs up.
	ctx, cancelAll := context.WithTimeout(context.WithoutCancel(ctx), 2*s.callTimeout)
	defer cancelAll()

	cctx, cancel := s.callCtx(ctx)
	res, err := prov.CreatePayment(cctx, preq)
	cancel()
	if err == nil {
		// A client action the merchant cannot follow is the provider's bug: the buyer could
		// never pay, so it fails like any other refused create.
		if verr := res.Action.Validate(); verr != nil {
			err = core.WrapError(core.EINTERNAL, verr, "provider returned an unusable next action")
		}
	}
	if err != nil {
		if !local {
			// Building the client action failed, so the buyer can never pay this payment: fail
			// it (with its payment.failed event, like every state change) and report the error.
			s.failUnstarted(ctx, p.ID, err)
		}
		return nil, err
	}
	var out *Payment
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		cur := p
		if local {
			cur.NextAction, cur.ProviderRef = &res.Action, res.ProviderRef
			if err := tx.InsertPayment(ctx, cur); err != nil {
				return err
			}
			if err := bind(ctx, tx, cur.ID); err != nil {
				return err
			}
		} else {
			locked, err := tx.LockPayment(ctx, p.ID)
			if err != nil {
				return err
			}
			cur = locked
			cur.NextAction = &res.Action
			if res.ProviderRef != "" && cur.ProviderRef == "" {
				cur.ProviderRef = res.ProviderRef
			}
			if err := tx.UpdatePayment(ctx, cur); err != nil {
				return err
			}
		}
		out = paymentView(cur)
		if err := emit(ctx, tx, webhook.PaymentCreated, cur.Account, cur.Region, cur.ID, "", out); err != nil {
			return err
		}
		return complete(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newPayment is the pending payment req creates on account, with a fresh id and out_trade_no,
// and the provider request that asks for its client action.
func newPayment(req *CreatePaymentRequest, account string, desc *core.Description, notifyURL string, now, expires time.Time) (*store.Payment, *core.CreatePaymentRequest) {
	id := store.NewID("pay_")
	p := &store.Payment{
		ID: id, Account: account, Region: req.Region, Method: req.Method, Channel: req.Channel,
		OutTradeNo: "pmx" + strings.TrimPrefix(id, "pay_"), Reference: req.Reference, Amount: req.Amount,
		Status: core.PaymentPending, Subject: req.Subject, Description: req.Description, ReturnURL: req.ReturnURL,
		Extras: maps.Clone(req.ProviderExtras), Metadata: maps.Clone(req.Metadata), ExpiresAt: expires,
		NextQueryAt: firstQuery(desc, now, expires),
		CreatedAt:   now, UpdatedAt: now,
	}
	return p, &core.CreatePaymentRequest{
		Account: p.Account, PaymentID: p.ID, OutTradeNo: p.OutTradeNo, Method: p.Method, Channel: p.Channel,
		Amount: p.Amount, Subject: p.Subject, Description: p.Description, ReturnURL: p.ReturnURL,
		NotifyURL: notifyURL, ExpiresAt: p.ExpiresAt, Extras: p.Extras,
	}
}

// expiryFor is when a payment created at now expires: the request's expires_at, checked
// against MinExpiry and the provider's MaxExpiry, or else the provider's default expiry.
func expiryFor(requested *time.Time, method string, desc *core.Description, now time.Time) (time.Time, error) {
	if requested == nil || requested.IsZero() {
		expiry := desc.DefaultExpiry
		if expiry <= 0 {
			expiry = defaultExpiry
		}
		if desc.MaxExpiry > 0 && expiry > desc.MaxExpiry {
			expiry = desc.MaxExpiry
		}
		return now.Add(expiry).UTC().Truncate(time.Microsecond), nil
	}
	left := requested.Sub(now)
	if left < MinExpiry {
		return time.Time{}, core.ParamErrorf(core.EINVALID, "expires_at", "expires_at must be at least %s from now", MinExpiry)
	}
	if desc.MaxExpiry > 0 && left > desc.MaxExpiry {
		return time.Time{}, core.ParamErrorf(core.EINVALID, "expires_at",
			"expires_at is more than %s from now; the provider of method %s accepts at most that", fmtDuration(desc.MaxExpiry), method)
	}
	return requested.UTC().Truncate(time.Microsecond), nil
}

// fmtDuration writes d in whole days, hours or minutes when it is one ("15d", "2h", "90m").
func fmtDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// failUnstarted marks a payment whose client action could not be built as failed.
func (s *Service) failUnstarted(ctx context.Context, id string, cause error) {
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		_, err = s.applyPaymentState(ctx, tx, p, paymentFact{Status: core.PaymentFailed, FailureCode: core.ErrorCode(cause)})
		return err
	})
	if err != nil {
		s.logFor(ctx).Error("could not mark an unstarted payment failed", "payment_id", id, "error", err)
	}
}

// GetPayment returns a payment. With refresh it first asks the provider (when the provider can
// be queried) and applies what it says.
func (s *Service) GetPayment(ctx context.Context, id string, refresh bool) (*Payment, error) {
	p, err := s.visiblePayment(ctx, id)
	if err != nil {
		return nil, err
	}
	if !refresh {
		return paymentView(p), nil
	}
	prov, desc, err := s.provider(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	if !desc.Has(core.CapQuery) {
		return nil, core.Errorf(core.EUNSUPPORTED, "the provider of this payment cannot be queried")
	}
	cctx, cancel := s.callCtx(ctx)
	state, err := prov.QueryPayment(cctx, &core.QueryPaymentRequest{Account: p.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef})
	cancel()
	if err != nil {
		s.warnUntrusted(ctx, err, "payment_id", p.ID)
		return nil, err
	}
	var out *store.Payment
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		out = cur
		_, err = s.applyPaymentState(ctx, tx, cur, paymentStateFact(state))
		return err
	})
	if err != nil {
		return nil, err
	}
	return paymentView(out), nil
}

// paymentFact is what a notification or a query says about a payment.
type paymentFact struct {
	Status      core.PaymentStatus
	ProviderRef string
	Amount      core.Money // zero: not reported
	At          time.Time
	Wallet      string
	FailureCode string
	RawStatus   string
}

// paymentStateFact is what a provider's answer (query, close) says about a payment.
func paymentStateFact(st *core.PaymentState) paymentFact {
	return paymentFact{Status: st.Status, ProviderRef: st.ProviderRef, Amount: st.Amount, At: st.PaidAt, RawStatus: st.RawStatus}
}

// applyOutcome says what applying a fact did.
type applyOutcome int

const (
	applyNoop     applyOutcome = iota // already in that state, or not an allowed change
	applyChanged                      // the status changed and an event was written
	applyMismatch                     // the amount or currency differs: flagged, not applied
)

// applyPaymentState applies a provider fact to p, which the caller has locked in tx: it checks
// the amount, follows the core transition table, updates the row and writes the event.
func (s *Service) applyPaymentState(ctx context.Context, tx store.Tx, p *store.Payment, f paymentFact) (applyOutcome, error) {
	if f.Status == core.PaymentSucceeded && f.Amount.Currency != "" && f.Amount != p.Amount &&
		!s.paymentReportedInSettlement(ctx, p, f.Amount) {
		// Never mark paid what was not paid in full and in the right currency (unless the
		// provider declares this currency's amounts reported in another: reported.go).
		if !p.HasFlag(store.FlagAmountMismatch) {
			p.Flags = append(p.Flags, store.FlagAmountMismatch)
		}
		if f.ProviderRef != "" && p.ProviderRef == "" {
			p.ProviderRef = f.ProviderRef
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return applyNoop, err
		}
		data := struct {
			Payment  *Payment   `json:"payment"`
			Reported core.Money `json:"reported_amount"`
		}{paymentView(p), f.Amount}
		s.logFor(ctx).Warn("payment amount mismatch", "payment_id", p.ID, "expected", p.Amount.String(), "reported", f.Amount.String())
		return applyMismatch, emit(ctx, tx, webhook.PaymentAmountMismatch, p.Account, p.Region, p.ID, "", data)
	}
	if !f.Status.Valid() || core.PaymentTransition(p.Status, f.Status) != nil {
		if f.Status != p.Status && f.Status.Valid() {
			s.logFor(ctx).Info("ignoring a payment state the transition table does not allow",
				"payment_id", p.ID, "from", p.Status, "to", f.Status, "raw_status", f.RawStatus)
		}
		if p.ProviderRef == "" && f.ProviderRef != "" {
			p.ProviderRef = f.ProviderRef
			return applyNoop, tx.UpdatePayment(ctx, p)
		}
		return applyNoop, nil
	}
	p.Status = f.Status
	if f.ProviderRef != "" {
		p.ProviderRef = f.ProviderRef
	}
	if f.Wallet != "" {
		p.Wallet = f.Wallet
	}
	switch f.Status {
	case core.PaymentSucceeded:
		p.PaidAt = f.At
		if p.PaidAt.IsZero() {
			p.PaidAt = s.now()
		}
		p.FailureCode = ""
	default:
		p.FailureCode = f.FailureCode
	}
	p.NextQueryAt = time.Time{}
	if err := tx.UpdatePayment(ctx, p); err != nil {
		return applyNoop, err
	}
	if p.Status.Final() {
		s.final("payment", string(p.Status), p.Method)
	}
	return applyChanged, emit(ctx, tx, paymentEventType(p.Status), p.Account, p.Region, p.ID, "", paymentView(p))
}

// ListPaymentsRequest is the query of GET /v1/payments. Every field is an optional filter;
// the created range is half-open: CreatedFrom <= created_at < CreatedTo.
type ListPaymentsRequest struct {
	Reference   string
	Status      core.PaymentStatus
	Method      string
	Region      string
	Account     string
	CreatedFrom time.Time
	CreatedTo   time.Time
	Limit       int
	Cursor      string
}

// ListPayments lists the payments matching req that the caller may see, newest first.
func (s *Service) ListPayments(ctx context.Context, req ListPaymentsRequest) (*Page[*Payment], error) {
	if req.Status != "" && !req.Status.Valid() {
		return nil, core.ParamErrorf(core.EINVALID, "status", "unknown payment status %q", req.Status)
	}
	if !req.CreatedFrom.IsZero() && !req.CreatedTo.IsZero() && !req.CreatedFrom.Before(req.CreatedTo) {
		return nil, core.ParamErrorf(core.EINVALID, "created_to", "created_to must be after created_from")
	}
	if req.Limit > store.MaxPageSize {
		req.Limit = store.MaxPageSize
	}
	caller := CallerFrom(ctx)
	ps, next, err := s.store.ListPayments(ctx, store.PaymentFilter{
		Reference: req.Reference, Status: req.Status, Method: req.Method, Region: req.Region, Account: req.Account,
		From: req.CreatedFrom, To: req.CreatedTo, Limit: req.Limit, Cursor: req.Cursor,
		Accounts: caller.accountsFilter(), Regions: caller.regionsFilter(),
	})
	if err != nil {
		return nil, err
	}
	page := &Page[*Payment]{Data: make([]*Payment, 0, len(ps)), NextCursor: next}
	for _, p := range ps {
		page.Data = append(page.Data, paymentView(p))
	}
	return page, nil
}

// ClientResultRequest is the body of POST /v1/payments/{id}/client-result: the wallet SDK's
// synchronous result as the app received it.
type ClientResultRequest struct {
	Result map[string]string `json:"result"`
}

// ClientResult checks the SDK's synchronous result with the provider and keeps it as a hint on
// the payment. It never marks a payment paid: only a verified notification or a query does.
func (s *Service) ClientResult(ctx context.Context, id string, req *ClientResultRequest) (*Payment, error) {
	if len(req.Result) == 0 {
		return nil, core.ParamErrorf(core.EINVALID, "result", "result is required")
	}
	if len(req.Result) > 32 {
		return nil, core.ParamErrorf(core.EINVALID, "result", "result has more than 32 entries")
	}
	p, err := s.visiblePayment(ctx, id)
	if err != nil {
		return nil, err
	}
	prov, _, err := s.provider(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	cctx, cancel := s.callCtx(ctx)
	res, err := prov.VerifyClientResult(cctx, &core.ClientResultRequest{
		Account: p.Account, OutTradeNo: p.OutTradeNo, Method: p.Method, Amount: p.Amount, Result: req.Result,
	})
	cancel()
	if err != nil {
		return nil, err
	}
	status := res.Status
	if !status.Valid() {
		status = core.PaymentPending
	}
	hint := &store.ClientResultHint{Verified: res.Verified, Status: status, At: s.now()}
	var out *store.Payment
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		// The hint has its own columns now; a hint that an older paymux kept among the flags
		// is superseded by this one and dropped.
		cur.ClientResult = hint
		if res.Verified && status == core.PaymentSucceeded && cur.Status == core.PaymentPending {
			// A verified success hint is worth an early query: ask the janitor to look now.
			cur.NextQueryAt = s.now()
		}
		out = cur
		return tx.UpdatePayment(ctx, cur)
	})
	if err != nil {
		return nil, err
	}
	return paymentView(out), nil
}

// ClosePayment closes an unpaid payment where the provider can (core.CapClose).
func (s *Service) ClosePayment(ctx context.Context, id string) (*Payment, error) {
	p, err := s.visiblePayment(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status != core.PaymentPending {
		if p.Status == core.PaymentClosed {
			return paymentView(p), nil
		}
		return nil, core.Errorf(core.ECONFLICT, "payment %s is %s and cannot be closed", p.ID, p.Status)
	}
	prov, desc, err := s.provider(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	closer, ok := prov.(core.PaymentCloser)
	if !desc.Has(core.CapClose) || !ok {
		return nil, core.Errorf(core.EUNSUPPORTED, "the provider of method %s cannot close payments; an unpaid payment expires at its expires_at", p.Method)
	}
	cctx, cancel := s.callCtx(ctx)
	state, err := closer.Close(cctx, &core.ClosePaymentRequest{Account: p.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef})
	cancel()
	if err != nil {
		return nil, err
	}
	if state == nil || state.Status == "" {
		state = &core.PaymentState{Status: core.PaymentClosed}
	}
	var out *store.Payment
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		out = cur
		if _, err = s.applyPaymentState(ctx, tx, cur, paymentStateFact(state)); err != nil {
			return err
		}
		if cur.Status == core.PaymentSucceeded {
			return nil // answered with a conflict below: nothing to replay
		}
		return complete(ctx, tx, paymentView(cur))
	})
	if err != nil {
		return nil, err
	}
	if out.Status == core.PaymentSucceeded {
		return nil, core.Errorf(core.ECONFLICT, "payment %s was paid before it could be closed", id)
	}
	return paymentView(out), nil
}

// visiblePayment reads a payment that the caller of ctx may see; any other is ENOTFOUND with
// the store's own message, so that a scoped key learns nothing of other accounts' payments.
func (s *Service) visiblePayment(ctx context.Context, id string) (*store.Payment, error) {
	p, err := s.store.GetPayment(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CallerFrom(ctx).sees(p.Account, p.Region) {
		return nil, paymentNotFound(id)
	}
	return p, nil
}

// isCode reports whether err carries one of codes.
func isCode(err error, codes ...string) bool {
	var e *core.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}
