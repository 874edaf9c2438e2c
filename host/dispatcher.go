package host

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// RetryPolicy says when a failed webhook delivery is tried again: the n-th retry waits
// Base*2^(n-1), capped at Max, with ±20% jitter; the dispatcher gives up once the nominal
// delays add up to Window (3 days by default), and marks the event failed (it can still be
// redelivered through the API).
type RetryPolicy struct {
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// DefaultRetryPolicy retries for 3 days: 30s, 1m, 2m, ... then every 6h.
var DefaultRetryPolicy = RetryPolicy{Base: 30 * time.Second, Max: 6 * time.Hour, Window: 72 * time.Hour}

// Delay is the nominal wait after the attempt-th failed attempt (attempt >= 1).
func (p RetryPolicy) Delay(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Next returns when to try again after attempts failed attempts, or ok false when the window
// is used up. The window is counted in nominal delays, so that jitter never changes how many
// attempts an event gets.
func (p RetryPolicy) Next(now time.Time, attempts int) (time.Time, bool) {
	var spent time.Duration
	for i := 1; i <= attempts; i++ {
		spent += p.Delay(i)
	}
	if spent > p.Window {
		return time.Time{}, false
	}
	d := p.Delay(attempts)
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return now.Add(d + jitter), true
}

// DispatcherOptions configures a Dispatcher.
type DispatcherOptions struct {
	Service *Service
	Sender  *webhook.Sender // nil: a Sender with a 10s timeout
	Policy  RetryPolicy     // zero: DefaultRetryPolicy
	// Interval is how often the outbox is polled when idle; 0 means 1s.
	Interval time.Duration
	// Batch is how many events one poll claims; 0 means 20.
	Batch  int
	Logger hclog.Logger
	// OnDelivery, when set, is told the outcome of every attempt at one endpoint (Delivery*
	// constants), for the paymux_webhook_deliveries_total metric. It must return quickly.
	OnDelivery func(endpoint, outcome string)
}

// Dispatcher delivers outbox events to the merchant's webhook URL. Several dispatchers (one per
// host replica) can share one store: claims are leased, so no event is sent by two at once.
type Dispatcher struct {
	svc      *Service
	sender   *webhook.Sender
	policy   RetryPolicy
	interval time.Duration
	batch    int
	log      hclog.Logger
	wake     chan struct{}

	onDelivery func(endpoint, outcome string)
}

// NewDispatcher returns a dispatcher; call Run to start it.
func NewDispatcher(o DispatcherOptions) *Dispatcher {
	d := &Dispatcher{svc: o.Service, sender: o.Sender, policy: o.Policy, interval: o.Interval, batch: o.Batch, log: o.Logger, wake: make(chan struct{}, 1), onDelivery: o.OnDelivery}
	if d.sender == nil {
		d.sender = &webhook.Sender{}
	}
	if d.policy == (RetryPolicy{}) {
		d.policy = DefaultRetryPolicy
	}
	if d.interval <= 0 {
		d.interval = time.Second
	}
	if d.batch <= 0 {
		d.batch = 20
	}
	if d.log == nil {
		d.log = hclog.NewNullLogger()
	}
	return d
}

// Wake asks the dispatcher to poll now rather than at its next interval.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx is cancelled. In-flight deliveries finish (bounded by the
// sender's timeout) before Run returns.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil && d.RunOnce(ctx) == d.batch {
			// A full batch: there may be more due right away.
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// lease is how long a claimed event is hidden from other claimers; it must exceed a delivery.
func (d *Dispatcher) lease() time.Duration {
	l := 2 * d.sender.Timeout
	if l < time.Minute {
		l = time.Minute
	}
	return l
}

// RunOnce claims the due events and delivers them concurrently; it returns how many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) int {
	st := d.svc.Settings()
	if len(st.webhookEndpoints()) == 0 {
		return 0 // events are kept; they go out once an endpoint is configured
	}
	now := d.svc.now()
	evs, err := d.svc.store.ClaimDueEvents(ctx, now, d.batch, d.lease())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("claiming outbox events failed", "error", err)
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, e := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.deliver(context.WithoutCancel(ctx), st, e)
		}()
	}
	wg.Wait()
	return len(evs)
}

// Delivery outcomes, per endpoint, as DispatcherOptions.OnDelivery receives them.
const (
	DeliveryDelivered = "delivered" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // transport error, timeout or a non-2xx answer; retried
	DeliveryPaused    = "paused"    // the endpoint is paused; the event waits for it
)

// deliver sends e to every endpoint that wants it and has not acknowledged it yet. The event is
// delivered once all of them have; otherwise the endpoints that did are recorded, so that the
// retry goes only to the others (a paused endpoint keeps its events until it is resumed or the
// retry window ends).
func (d *Dispatcher) deliver(ctx context.Context, st *Settings, e *store.Event) {
	body, err := EventBody(e)
	now := d.svc.now()
	done := slices.Clone(e.DeliveredTo)
	var failures []string
	if err != nil {
		failures = append(failures, err.Error())
	} else {
		for _, ep := range st.webhookEndpoints() {
			if !ep.wants(e) || slices.Contains(done, ep.Name) {
				continue
			}
			if ep.Paused {
				d.observe(ep.Name, DeliveryPaused)
				failures = append(failures, ep.Name+": paused")
				continue
			}
			if err := d.sender.Send(ctx, ep.URL, ep.Secrets, e.ID, body); err != nil {
				d.observe(ep.Name, DeliveryFailed)
				d.log.Warn("webhook delivery failed", "endpoint", ep.Name, "event_id", e.ID, "type", e.Type, "attempts", e.Attempts, "error", err)
				failures = append(failures, ep.Name+": "+err.Error())
				continue
			}
			d.observe(ep.Name, DeliveryDelivered)
			done = append(done, ep.Name)
		}
	}
	if len(failures) == 0 {
		if err := d.svc.store.MarkEventDelivered(ctx, e.ID, now); err != nil {
			d.log.Error("recording a delivered event failed; it will be sent again", "event_id", e.ID, "error", err)
		}
		return
	}
	if len(done) > len(e.DeliveredTo) {
		if err := d.svc.store.SetEventDeliveredTo(ctx, e.ID, done); err != nil {
			d.log.Error("recording the endpoints that took an event failed; they will get it again", "event_id", e.ID, "error", err)
		}
	}
	msg := strings.Join(failures, "; ")
	next, ok := d.policy.Next(now, e.Attempts)
	if !ok {
		d.log.Warn("giving up on a webhook event", "event_id", e.ID, "type", e.Type, "attempts", e.Attempts, "error", msg)
		if err := d.svc.store.MarkEventFailed(ctx, e.ID, msg); err != nil {
			d.log.Error("recording a failed event failed", "event_id", e.ID, "error", err)
		}
		return
	}
	if err := d.svc.store.ScheduleEventRetry(ctx, e.ID, msg, next); err != nil {
		d.log.Error("scheduling an event retry failed", "event_id", e.ID, "error", err)
	}
}

func (d *Dispatcher) observe(endpoint, outcome string) {
	if d.onDelivery != nil {
		d.onDelivery(endpoint, outcome)
	}
}
