package host

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// DefaultQuerySchedule applies to a provider that can be queried but declares no schedule:
// offsets from the item's creation, one per attempt.
var DefaultQuerySchedule = []time.Duration{
	time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 12 * time.Hour, 25 * time.Hour,
}

// JanitorOptions configures a Janitor.
type JanitorOptions struct {
	Service *Service
	// Interval is how often the janitor looks for due work when idle; 0 means 5s.
	Interval time.Duration
	// Batch is how many payments (and as many refunds) one pass claims; 0 means 20.
	Batch int
	// Lease hides a claimed item from other hosts while it is being queried; it must exceed a
	// provider call. 0 means twice the service's call timeout, at least one minute.
	Lease time.Duration
	// Retry is how long after a failed query (timeout, gateway fault, plugin down) the item is
	// tried again; 0 means one minute. It never fails the item.
	Retry time.Duration
	// Repeat is the gap between queries once the provider's schedule is used up and a refund
	// is still not final (it holds a reservation, so the janitor never gives up); 0 means 6h.
	Repeat time.Duration
	// Concurrency bounds the provider calls of one pass; 0 means 4.
	Concurrency int
	Logger      hclog.Logger
	// OnPass, when set, receives what each pass did (metrics). It must return quickly.
	OnPass func(JanitorPass)
	// OnPrune, when set, receives what each retention run deleted (metrics; see prune.go).
	OnPrune func(PruneResult)
}

// JanitorPass is what one RunOnce did.
type JanitorPass struct {
	Payments    int // payments claimed
	Refunds     int // refunds claimed
	Resolved    int // items that reached a final status (paid, closed, failed, refunded, ...)
	Closed      int // payments closed because they expired unpaid
	Rescheduled int // items queried again later because the outcome is still open or unknown
	Errors      int // provider or store errors (each item rescheduled, never failed)
	Attention   int // refunds newly marked as needing an operator (see Janitor.refund)
}

// Janitor repairs unknown outcomes: it queries pending payments and refunds on the schedule
// their provider declares, and closes unpaid payments past their expiry after a last query.
// Every change goes through the service's apply functions, in one transaction with its outbox
// event. Several janitors (one per host) may share one store: items are claimed with a lease
// (FOR UPDATE SKIP LOCKED on PostgreSQL), so no item is queried by two at once.
type Janitor struct {
	svc         *Service
	interval    time.Duration
	batch       int
	lease       time.Duration
	retry       time.Duration
	repeat      time.Duration
	concurrency int
	log         hclog.Logger
	onPass      func(JanitorPass)
	wake        chan struct{}
	onPrune     func(PruneResult)
	lastPrune   time.Time // only Run's goroutine touches it
	// pruneWaitHook, when set (tests), replaces the pause between two prune batches.
	pruneWaitHook func(context.Context, time.Duration) error
}

// NewJanitor returns a janitor; call Run to start it.
func NewJanitor(o JanitorOptions) *Janitor {
	j := &Janitor{
		svc: o.Service, interval: o.Interval, batch: o.Batch, lease: o.Lease, retry: o.Retry, repeat: o.Repeat,
		concurrency: o.Concurrency, log: o.Logger, onPass: o.OnPass, wake: make(chan struct{}, 1),
		onPrune: o.OnPrune,
	}
	if j.interval <= 0 {
		j.interval = 5 * time.Second
	}
	if j.batch <= 0 {
		j.batch = 20
	}
	if j.lease <= 0 {
		j.lease = max(2*j.svc.callTimeout, time.Minute)
	}
	if j.retry <= 0 {
		j.retry = time.Minute
	}
	if j.repeat <= 0 {
		j.repeat = 6 * time.Hour
	}
	if j.concurrency <= 0 {
		j.concurrency = 4
	}
	if j.log == nil {
		j.log = hclog.NewNullLogger()
	}
	return j
}

// Wake asks the janitor to look for due work now rather than at its next interval.
func (j *Janitor) Wake() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx is cancelled; a pass in progress finishes its provider calls (each
// bounded by the service's call timeout) before Run returns.
func (j *Janitor) Run(ctx context.Context) {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := j.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				j.log.Error("janitor pass failed", "error", err)
			}
			if n < j.batch {
				break // nothing more due right now
			}
		}
		if ctx.Err() == nil {
			j.maybePrune(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.wake:
		}
	}
}

// RunOnce claims the due payments and refunds (up to Batch of each), queries them and applies
// what the providers say. It returns how many items it claimed; err reports a failed claim
// (items it could not finish are rescheduled or come back when their lease ends).
func (j *Janitor) RunOnce(ctx context.Context) (n int, err error) {
	now := j.svc.now()
	var pass JanitorPass
	var mu sync.Mutex
	record := func(f func(*JanitorPass)) { mu.Lock(); f(&pass); mu.Unlock() }

	ps, perr := j.svc.store.ClaimDuePayments(ctx, now, j.batch, j.lease)
	rs, rerr := j.svc.store.ClaimDueRefunds(ctx, now, j.batch, j.lease)
	pass.Payments, pass.Refunds = len(ps), len(rs)

	sem := make(chan struct{}, j.concurrency)
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A claimed item is finished even when ctx ends: its outcome is committed or
			// rescheduled, never left to the lease.
			f(context.WithoutCancel(ctx))
		}()
	}
	for _, p := range ps {
		run(func(ctx context.Context) { j.payment(ctx, p, record) })
	}
	for _, r := range rs {
		run(func(ctx context.Context) { j.refund(ctx, r, record) })
	}
	wg.Wait()
	if j.onPass != nil {
		j.onPass(pass)
	}
	if perr != nil {
		return len(ps) + len(rs), perr
	}
	return len(ps) + len(rs), rerr
}

// schedule returns the provider's query schedule (or the default when it declares none).
func schedule(d *core.Description) []time.Duration {
	if d != nil && len(d.QuerySchedule) > 0 {
		return d.QuerySchedule
	}
	return DefaultQuerySchedule
}

// nextAfter is when to query an item created at created again after attempts queries: the
// schedule's next offset from creation, never sooner than now+minGap (a host that was down
// catches up one query at a time), and every repeat once the schedule is used up.
func (j *Janitor) nextAfter(d *core.Description, created, now time.Time, attempts int) time.Time {
	sch := schedule(d)
	minGap := j.retry / 4
	if attempts < len(sch) {
		return later(created.Add(sch[attempts]), now.Add(minGap))
	}
	return now.Add(j.repeat)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reschedulePayment sets a payment still pending to be queried at next.
func (j *Janitor) reschedulePayment(ctx context.Context, id string, next time.Time) error {
	return j.svc.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status != core.PaymentPending {
			return nil
		}
		cur.NextQueryAt = next
		return tx.UpdatePayment(ctx, cur)
	})
}

// payment queries one claimed payment and applies the answer; an unpaid payment past its
// expiry is closed (by the provider first, where it can) after that last query.
func (j *Janitor) payment(ctx context.Context, p *store.Payment, record func(func(*JanitorPass))) {
	now := j.svc.now()
	log := j.log.With("payment_id", p.ID, "account", p.Account, "attempt", p.QueryAttempts)
	retry := func(why string, err error) {
		record(func(s *JanitorPass) { s.Errors++; s.Rescheduled++ })
		log.Warn("janitor will query the payment again", "reason", why, "code", core.ErrorCode(err), "error", err)
		if err := j.reschedulePayment(ctx, p.ID, now.Add(j.retry)); err != nil {
			log.Error("rescheduling a payment failed; it returns when its lease ends", "error", err)
		}
	}
	prov, desc, err := j.svc.provider(ctx, p.Account)
	if err != nil {
		retry("provider unavailable", err)
		return
	}
	expired := !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt)

	var fact *paymentFact
	if desc.Has(core.CapQuery) {
		cctx, cancel := j.svc.callCtx(ctx)
		state, err := prov.QueryPayment(cctx, &core.QueryPaymentRequest{Account: p.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef})
		cancel()
		switch {
		case err == nil:
			f := paymentStateFact(state)
			fact = &f
		case isCode(err, core.ENOTFOUND):
			// The gateway has no such trade yet: the buyer never opened the wallet.
		default:
			j.svc.warnUntrusted(ctx, err, "payment_id", p.ID)
			retry("query failed", err)
			return
		}
	}
	if (fact == nil || fact.Status == core.PaymentPending) && expired {
		f, err := j.closeExpired(ctx, prov, desc, p)
		if err != nil {
			retry("close failed", err)
			return
		}
		fact = f
	}

	var out applyOutcome
	var final core.PaymentStatus
	err = j.svc.store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockPayment(ctx, p.ID)
		if err != nil {
			return err
		}
		out, final = applyNoop, cur.Status
		if cur.Status != core.PaymentPending {
			return nil // a notification or a call decided it meanwhile
		}
		f := fact // fn may run again (a serialisation retry): leave fact as it was
		if f != nil && f.Status == core.PaymentSucceeded && f.Amount.Currency != "" && f.Amount != cur.Amount && cur.HasFlag(store.FlagAmountMismatch) {
			f = nil // already flagged and reported: no second event
		}
		if f != nil {
			if out, err = j.svc.applyPaymentState(ctx, tx, cur, *f); err != nil {
				return err
			}
		}
		final = cur.Status
		if out == applyMismatch || (f == nil && cur.HasFlag(store.FlagAmountMismatch)) {
			// Paid, but not the amount asked: neither query on nor close it; a person decides.
			cur.NextQueryAt = time.Time{}
			return tx.UpdatePayment(ctx, cur)
		}
		if cur.Status == core.PaymentPending {
			next := j.nextAfter(desc, cur.CreatedAt, now, cur.QueryAttempts)
			if !cur.ExpiresAt.IsZero() && cur.ExpiresAt.Before(next) && cur.ExpiresAt.After(now) {
				next = cur.ExpiresAt // the last query comes at expiry
			}
			if !desc.Has(core.CapQuery) && cur.ExpiresAt.After(now) {
				next = cur.ExpiresAt // nothing to ask before then
			}
			cur.NextQueryAt = next
			return tx.UpdatePayment(ctx, cur)
		}
		return nil
	})
	if err != nil {
		retry("store", err)
		return
	}
	switch {
	case final == core.PaymentPending:
		record(func(s *JanitorPass) { s.Rescheduled++ })
	case out == applyChanged:
		record(func(s *JanitorPass) {
			s.Resolved++
			if final == core.PaymentClosed && expired {
				s.Closed++
			}
		})
		log.Info("janitor settled a payment", "status", final)
	}
}

// closeExpired ends an unpaid payment past its expiry: with the provider's Close where it
// can (the answer may still be "paid"), else locally.
func (j *Janitor) closeExpired(ctx context.Context, prov core.Provider, desc *core.Description, p *store.Payment) (*paymentFact, error) {
	closer, ok := prov.(core.PaymentCloser)
	if !desc.Has(core.CapClose) || !ok {
		return &paymentFact{Status: core.PaymentClosed, FailureCode: "expired"}, nil
	}
	cctx, cancel := j.svc.callCtx(ctx)
	state, err := closer.Close(cctx, &core.ClosePaymentRequest{Account: p.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef})
	cancel()
	if err != nil {
		if isCode(err, core.ENOTFOUND) {
			return &paymentFact{Status: core.PaymentClosed, FailureCode: "expired"}, nil
		}
		return nil, err
	}
	if state == nil || state.Status == "" || state.Status == core.PaymentPending {
		return &paymentFact{Status: core.PaymentClosed, FailureCode: "expired"}, nil
	}
	f := paymentStateFact(state)
	if f.Status == core.PaymentClosed {
		f.FailureCode = "expired"
	}
	return &f, nil
}

// rescheduleRefund sets a refund still open to be queried at next.
func (j *Janitor) rescheduleRefund(ctx context.Context, r *store.Refund, next time.Time) error {
	return j.svc.store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.LockPayment(ctx, r.PaymentID); err != nil { // payment, then refund: the service's lock order
			return err
		}
		cur, err := tx.LockRefund(ctx, r.ID)
		if err != nil {
			return err
		}
		if cur.Status.Final() {
			return nil
		}
		cur.NextQueryAt = next
		return tx.UpdateRefund(ctx, cur)
	})
}

// refund queries one claimed refund and applies the answer.
//
// A query that says "not found" is no proof that nothing was refunded (the gateway's query may
// lag behind a refund it has made), so a pending refund is then sent again with the same
// out_refund_no, the gateway's idempotency key: it can never be refunded twice. A refusal of
// that re-send proves nothing either (RETURN_AMOUNT_EXCEED is exactly what a first send that
// succeeded plus a lagging query produce): the refund stays pending with its amount reserved
// and is marked as needing an operator (markRefundAttention); it is never failed here. Once
// marked, the janitor only queries it (a gateway answer still settles it) and sends nothing.
func (j *Janitor) refund(ctx context.Context, r *store.Refund, record func(func(*JanitorPass))) {
	now := j.svc.now()
	log := j.log.With("refund_id", r.ID, "payment_id", r.PaymentID, "attempt", r.QueryAttempts)
	retry := func(why string, err error) {
		record(func(s *JanitorPass) { s.Errors++; s.Rescheduled++ })
		log.Warn("janitor will query the refund again", "reason", why, "code", core.ErrorCode(err), "error", err)
		if err := j.rescheduleRefund(ctx, r, now.Add(j.retry)); err != nil {
			log.Error("rescheduling a refund failed; it returns when its lease ends", "error", err)
		}
	}
	p, err := j.svc.store.GetPayment(ctx, r.PaymentID)
	if err != nil {
		retry("store", err)
		return
	}
	prov, desc, err := j.svc.provider(ctx, r.Account)
	if err != nil {
		retry("provider unavailable", err)
		return
	}
	cctx, cancel := j.svc.callCtx(ctx)
	state, err := prov.QueryRefund(cctx, &core.QueryRefundRequest{Account: r.Account, OutTradeNo: p.OutTradeNo, OutRefundNo: r.OutRefundNo})
	cancel()
	j.svc.warnUntrusted(ctx, err, "refund_id", r.ID)
	if isCode(err, core.ENOTFOUND) && r.Status == core.RefundPending && r.NeedsAttention {
		record(func(s *JanitorPass) { s.Rescheduled++ })
		if err := j.rescheduleRefund(ctx, r, j.nextAfter(desc, r.CreatedAt, now, r.QueryAttempts)); err != nil {
			log.Error("rescheduling a refund failed; it returns when its lease ends", "error", err)
		}
		return // an operator decides; the gateway may still answer a later query
	}
	if isCode(err, core.ENOTFOUND) && r.Status == core.RefundPending {
		log.Info("the gateway's query does not know the refund; sending it again with the same out_refund_no")
		cctx, cancel := j.svc.callCtx(ctx)
		state, err = prov.Refund(cctx, &core.RefundRequest{
			Account: r.Account, OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef, OutRefundNo: r.OutRefundNo,
			Amount: r.Amount, PaymentAmount: p.Amount, Reason: r.Reason, NotifyURL: j.svc.Settings().notifyURL(r.Account),
		})
		cancel()
		if code, refused := refundRefused(err); refused {
			reason := "the gateway refused a re-send after an unknown outcome (" + code + "); it may have refunded already"
			var marked bool
			err := j.svc.store.InTx(ctx, func(tx store.Tx) error {
				var err error
				marked, err = j.svc.markRefundAttention(ctx, tx, r.ID, reason, j.nextAfter(desc, r.CreatedAt, now, r.QueryAttempts))
				return err
			})
			if err != nil {
				retry("store", err)
				return
			}
			record(func(s *JanitorPass) {
				s.Rescheduled++
				if marked {
					s.Attention++
				}
			})
			return
		}
	}
	if err != nil {
		retry("query failed", err)
		return
	}
	fact := refundStateFact(state)
	var final core.RefundStatus
	changed := false
	err = j.svc.store.InTx(ctx, func(tx store.Tx) error {
		before, err := tx.GetRefund(ctx, r.ID)
		if err != nil {
			return err
		}
		if before.Status.Final() {
			final = before.Status
			return nil // a notification decided it meanwhile
		}
		cur, err := j.svc.applyRefundState(ctx, tx, r.ID, fact)
		if err != nil {
			return err
		}
		final, changed = cur.Status, cur.Status != before.Status
		if !cur.Status.Final() {
			cur.NextQueryAt = j.nextAfter(desc, cur.CreatedAt, now, cur.QueryAttempts)
			return tx.UpdateRefund(ctx, cur)
		}
		return nil
	})
	if err != nil {
		retry("store", err)
		return
	}
	if final.Final() {
		if changed {
			record(func(s *JanitorPass) { s.Resolved++ })
			log.Info("janitor settled a refund", "status", final)
		}
		return
	}
	record(func(s *JanitorPass) { s.Rescheduled++ })
}

// firstQuery is when the janitor first looks at a new payment: the provider's first scheduled
// query, or its expiry when the provider cannot be queried (so that it still closes).
func firstQuery(d *core.Description, now, expires time.Time) time.Time {
	if d != nil && d.Has(core.CapQuery) {
		if t := now.Add(schedule(d)[0]); expires.IsZero() || t.Before(expires) {
			return t
		}
	}
	return expires
}
