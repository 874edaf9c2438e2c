package mapisim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered" // acknowledged with success
	DeliveryFailed    = "failed"    // the whole retry schedule ran out
)

// Delivery is one notification and every attempt to deliver it.
type Delivery struct {
	ID          int64             `json:"id"`
	Partner     string            `json:"partner"`
	NotifyType  string            `json:"notify_type"` // trade_status_sync or refund_status_sync
	URL         string            `json:"url"`
	NotifyID    string            `json:"notify_id"`
	OutTradeNo  string            `json:"out_trade_no"`
	OutReturnNo string            `json:"out_return_no,omitempty"`
	Fields      map[string]string `json:"fields"` // as last sent, sign included
	State       string            `json:"state"`
	Attempts    []Attempt         `json:"attempts"`
	Created     time.Time         `json:"created"`
}

// Attempt is one POST of a notification.
type Attempt struct {
	N         int       `json:"n"`  // 1-based delivery number (duplicates repeat the number)
	At        time.Time `json:"at"` // simulated time
	Status    int       `json:"status,omitempty"`
	Body      string    `json:"body,omitempty"` // the merchant's answer, clipped
	Err       string    `json:"error,omitempty"`
	Acked     bool      `json:"acked"`
	Duplicate bool      `json:"duplicate,omitempty"`
	WrongSign bool      `json:"wrong_sign,omitempty"`
	Dropped   bool      `json:"dropped,omitempty"` // fault: never sent
	// Delay is the simulated wait before this redelivery, counted from the answer to the one
	// before: the wallet's schedule (notify.RetrySchedule). 0 for a first or resumed delivery.
	Delay time.Duration `json:"delay_ns,omitempty"`
}

// deliveryLog keeps deliveries (bounded) and tracks outstanding work for WaitIdle.
type deliveryLog struct {
	mu      sync.Mutex
	max     int
	seq     int64
	byID    map[int64]*Delivery
	order   []int64
	busy    int // pending deliveries + processing async refunds
	changed chan struct{}
	sem     chan struct{}
	// attempted[partner] is closed (and replaced) after each attempt of that partner's
	// notifications; out_of_order holds wait on it.
	attempted map[string]chan struct{}
}

// attemptedChan returns the channel closed by the next attempt of partner's notifications.
func (l *deliveryLog) attemptedChan(partner string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.attempted[partner]
	if !ok {
		ch = make(chan struct{})
		l.attempted[partner] = ch
	}
	return ch
}

func (l *deliveryLog) signalAttempt(partner string) {
	l.mu.Lock()
	if ch, ok := l.attempted[partner]; ok {
		close(ch)
		delete(l.attempted, partner)
	}
	l.mu.Unlock()
}

func newDeliveryLog(max int) *deliveryLog {
	return &deliveryLog{max: max, byID: map[int64]*Delivery{}, changed: make(chan struct{}), sem: make(chan struct{}, 32),
		attempted: map[string]chan struct{}{}}
}

func (l *deliveryLog) wake() {
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *deliveryLog) addBusy(n int) {
	l.mu.Lock()
	l.busy += n
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Deliveries returns copies of the kept deliveries, oldest first.
func (s *Sim) Deliveries() []Delivery {
	l := s.deliveries
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Delivery, 0, len(l.order))
	for _, id := range l.order {
		if d, ok := l.byID[id]; ok {
			out = append(out, copyDelivery(d))
		}
	}
	return out
}

// DeliveriesFor returns the deliveries of one order (payment and refund notifications).
func (s *Sim) DeliveriesFor(partner, outTradeNo string) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if d.Partner == partner && d.OutTradeNo == outTradeNo {
			out = append(out, d)
		}
	}
	return out
}

func copyDelivery(d *Delivery) Delivery {
	c := *d
	c.Fields = make(map[string]string, len(d.Fields))
	for k, v := range d.Fields {
		c.Fields[k] = v
	}
	c.Attempts = slices.Clone(d.Attempts)
	return c
}

// WaitIdle blocks until no notification is waiting for delivery or retry and no asynchronous
// refund is processing, or until ctx ends. Timers of unpaid orders (it_b_pay) do not count.
func (s *Sim) WaitIdle(ctx context.Context) error {
	l := s.deliveries
	for {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return ErrClosed
		}
		l.mu.Lock()
		busy, ch := l.busy, l.changed
		l.mu.Unlock()
		if busy == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("mapisim: waiting for quiescence (%d outstanding): %w", busy, ctx.Err())
		}
	}
}

// enqueue creates a delivery and schedules its first attempt now.
func (s *Sim) enqueue(partner, target string, fields map[string]string, outTradeNo, outReturnNo string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	id := s.notifyIDLocked()
	s.notifyIDs[id] = &notifyIDState{Partner: partner, Armed: true}
	hold := s.faultHoldLocked(partner)
	s.mu.Unlock()

	l := s.deliveries
	l.mu.Lock()
	l.seq++
	d := &Delivery{ID: l.seq, Partner: partner, NotifyType: fields["notify_type"], URL: target, NotifyID: id,
		OutTradeNo: outTradeNo, OutReturnNo: outReturnNo, Fields: fields, State: DeliveryPending, Created: s.now()}
	l.byID[d.ID] = d
	l.order = append(l.order, d.ID)
	l.busy++
	close(l.changed)
	l.changed = make(chan struct{})
	evicted := l.evictLocked()
	l.mu.Unlock()
	s.forgetNotifyIDs(evicted)
	if hold > 0 {
		// Out-of-order fault: held back until a later notification of the partner has been
		// attempted (at most hold, real time), so that it overtakes this one.
		overtaken := l.attemptedChan(partner)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(hold)
			defer t.Stop()
			select {
			case <-overtaken:
			case <-t.C:
			case <-s.ctx.Done():
				return
			}
			s.after(0, func() { s.attempt(d.ID, 1, 0) })
		}()
		return
	}
	s.after(0, func() { s.attempt(d.ID, 1, 0) })
}

// evictLocked drops the oldest finished deliveries beyond max and returns their notify_ids.
func (l *deliveryLog) evictLocked() []string {
	excess := len(l.byID) - l.max
	if excess <= 0 {
		return nil
	}
	var gone []string
	l.order = evictOldest(l.order, excess, func(id int64, evict bool) (present, dropped bool) {
		d := l.byID[id]
		if d == nil || !evict || d.State == DeliveryPending {
			return d != nil, false
		}
		delete(l.byID, id)
		gone = append(gone, d.NotifyID)
		return true, true
	})
	return gone
}

func (s *Sim) forgetNotifyIDs(ids []string) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	for _, id := range ids {
		delete(s.notifyIDs, id)
	}
	s.mu.Unlock()
}

// attempt performs delivery number n of delivery id, which came delay (simulated) after the
// answer to the one before, and schedules the next on failure.
func (s *Sim) attempt(id int64, n int, delay time.Duration) {
	l := s.deliveries
	l.mu.Lock()
	d := l.byID[id]
	if d == nil || d.State != DeliveryPending {
		l.mu.Unlock()
		return
	}
	target, partner := d.URL, d.Partner
	fields := make(map[string]string, len(d.Fields)+4)
	for k, v := range d.Fields {
		if k != "sign" && k != "sign_type" && k != "notify_time" {
			fields[k] = v
		}
	}
	fields["notify_id"] = d.NotifyID
	l.mu.Unlock()

	l.sem <- struct{}{}
	defer func() { <-l.sem }()

	s.mu.Lock()
	if n > 1 { // a redelivery can be verified once more
		if st := s.notifyIDs[fields["notify_id"]]; st != nil {
			st.Armed = true
		}
	}
	nf := s.notifyFaultLocked(partner)
	s.mu.Unlock()

	fields["notify_time"] = s.now().Format(timeLayout)
	if err := s.signNotification(partner, fields); err != nil {
		s.logf("mapisim: cannot sign notification %d: %v", id, err)
		s.finishDelivery(id, DeliveryFailed)
		return
	}
	at := Attempt{N: n, At: s.now(), Delay: delay}
	if nf.wrongSign {
		fields["sign"] = corrupt(fields["sign"])
		at.WrongSign = true
	}
	if nf.latency > 0 {
		select {
		case <-time.After(nf.latency):
		case <-s.ctx.Done():
		}
	}
	if nf.drop {
		at.Dropped = true
		at.Err = "dropped by fault"
	} else {
		at.Status, at.Body, at.Err = s.post(target, fields)
		at.Acked = at.Err == "" && at.Status == http.StatusOK && s.isAck(at.Body)
	}
	l.mu.Lock()
	if d := l.byID[id]; d != nil {
		d.Fields = fields
		d.Attempts = append(d.Attempts, at)
	}
	l.mu.Unlock()
	l.signalAttempt(partner)
	if nf.duplicate && !nf.drop {
		st, body, errS := s.post(target, fields)
		dup := Attempt{N: n, At: s.now(), Status: st, Body: body, Err: errS, Duplicate: true,
			Acked: errS == "" && st == http.StatusOK && s.isAck(body)}
		l.mu.Lock()
		if d := l.byID[id]; d != nil {
			d.Attempts = append(d.Attempts, dup)
		}
		l.mu.Unlock()
		at.Acked = at.Acked || dup.Acked
	}
	if at.Acked {
		s.finishDelivery(id, DeliveryDelivered)
		return
	}
	if n > len(notify.RetrySchedule) {
		s.logf("mapisim: notification %d to %s given up after %d deliveries", id, target, n)
		s.finishDelivery(id, DeliveryFailed)
		return
	}
	next := notify.RetrySchedule[n-1]
	s.after(next, func() { s.attempt(id, n+1, next) })
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.finishDelivery(id, DeliveryPending)
	}
}

func (s *Sim) finishDelivery(id int64, state string) {
	l := s.deliveries
	l.mu.Lock()
	if d := l.byID[id]; d != nil && d.State == DeliveryPending {
		d.State = state
		l.busy--
	} else if d == nil {
		l.busy--
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (s *Sim) isAck(body string) bool {
	if s.cfg.StrictAck {
		return body == "success"
	}
	return strings.EqualFold(strings.TrimSpace(body), "success")
}

// signNotification adds sign and sign_type with the partner's sign type: RSA/RSA2 with the
// Alipay key, MD5 with the partner's MD5 key.
func (s *Sim) signNotification(partner string, fields map[string]string) error {
	s.mu.Lock()
	ps := s.partners[partner]
	s.mu.Unlock()
	if ps == nil {
		return fmt.Errorf("partner %s is gone", partner)
	}
	signer, err := s.signerFor(ps, ps.SignType)
	if err != nil {
		return err
	}
	sig, err := signer.Sign(signing.CanonicalB(fields))
	if err != nil {
		return err
	}
	fields["sign"] = sig
	fields["sign_type"] = string(signer.Type())
	return nil
}

// signerFor returns the signer the simulator uses towards a partner for a sign type.
func (s *Sim) signerFor(ps *partnerState, signType string) (signing.Signer, error) {
	switch signing.SignType(signType) {
	case signing.RSA:
		return s.rsaS, nil
	case signing.RSA2:
		return s.rsa2S, nil
	case signing.MD5:
		if m := ps.md5.Load(); m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("partner %s has no MD5 key", ps.ID)
	}
	return nil, fmt.Errorf("unsupported sign type %q", signType)
}

// post sends one form POST and returns status, clipped body and an error text.
func (s *Sim) post(target string, fields map[string]string) (int, string, string) {
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", "bad notify_url: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("User-Agent", "Mozilla/4.0 (mapisim notifier)")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(body), ""
}

// ResignNotification re-signs a notification body declaring signType, as a test of sign-type
// downgrades needs: MD5 with md5Key, RSA or RSA2 with the committed test Alipay key (the key a
// Sim signs with unless Config.AlipayKey replaces it). Every field but sign and sign_type is
// kept as it was.
func ResignNotification(body []byte, signType, md5Key string) ([]byte, error) {
	fields, err := notify.DecodeForm(body, "")
	if err != nil {
		return nil, err
	}
	delete(fields, "sign")
	delete(fields, "sign_type")
	var signer signing.Signer
	switch st := signing.SignType(signType); st {
	case signing.MD5:
		if signer, err = signing.NewMD5(md5Key); err != nil {
			return nil, err
		}
	case signing.RSA, signing.RSA2:
		if signer, err = signing.NewRSASigner(st, mustKey(TestAlipayPrivateKeyPEM)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mapisim: unsupported sign type %q", signType)
	}
	sig, err := signer.Sign(signing.CanonicalB(fields))
	if err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	form.Set("sign", sig)
	form.Set("sign_type", signType)
	return []byte(form.Encode()), nil
}
