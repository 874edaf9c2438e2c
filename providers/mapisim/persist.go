package mapisim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is bumped when the saved JSON changes shape.
const stateVersion = 1

// snapshot is the saved state. Partners (and their keys) are configuration and are not saved.
type snapshot struct {
	Version     int                       `json:"version"`
	RNG         []byte                    `json:"rng"`
	Seq         int64                     `json:"seq"`
	Orders      []*Order                  `json:"orders"`
	Refunds     []*Refund                 `json:"refunds"`
	NotifyIDs   map[string]*notifyIDState `json:"notify_ids"`
	Deliveries  []*Delivery               `json:"deliveries"`
	DeliverySeq int64                     `json:"delivery_seq"`
	LastRefund  map[string]time.Time      `json:"last_refund,omitempty"`
}

// Save writes the state (orders, refunds, notify ids, deliveries and the random source) as JSON.
func (s *Sim) Save(w io.Writer) error {
	s.mu.Lock()
	snap := snapshot{Version: stateVersion, Seq: s.seq, NotifyIDs: map[string]*notifyIDState{}, LastRefund: map[string]time.Time{}}
	rng, err := s.pcg.MarshalBinary()
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mapisim: saving random state: %w", err)
	}
	snap.RNG = rng
	for _, k := range s.orderFIFO {
		if o := s.orders[k]; o != nil {
			c := copyOrder(o)
			snap.Orders = append(snap.Orders, &c)
			for _, rn := range o.Refunds {
				if r := s.refunds[orderKey{o.Partner, rn}]; r != nil {
					rc := *r
					snap.Refunds = append(snap.Refunds, &rc)
				}
			}
		}
	}
	for id, st := range s.notifyIDs {
		c := *st
		snap.NotifyIDs[id] = &c
	}
	for id, p := range s.partners {
		if !p.lastRefund.IsZero() {
			snap.LastRefund[id] = p.lastRefund
		}
	}
	s.mu.Unlock()
	l := s.deliveries
	l.mu.Lock()
	snap.DeliverySeq = l.seq
	for _, id := range l.order {
		if d := l.byID[id]; d != nil {
			c := copyDelivery(d)
			snap.Deliveries = append(snap.Deliveries, &c)
		}
	}
	l.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(snap); err != nil {
		return fmt.Errorf("mapisim: saving state: %w", err)
	}
	return nil
}

// SaveFile writes the state to path atomically (temporary file, then rename).
func (s *Sim) SaveFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mapisim-state-*")
	if err != nil {
		return fmt.Errorf("mapisim: saving state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := s.Save(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mapisim: saving state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("mapisim: saving state: %w", err)
	}
	return nil
}

// LoadFile loads the state saved at path; a missing file is not an error (nothing is loaded).
func (s *Sim) LoadFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mapisim: loading state: %w", err)
	}
	defer f.Close()
	return s.Load(f)
}

// Load replaces the state with a saved one and resumes its timers: expiry of unpaid orders,
// processing asynchronous refunds and pending notifications. Register partners first: orders of
// unknown partners are kept but cannot be notified until their partner is added.
func (s *Sim) Load(r io.Reader) error {
	var snap snapshot
	dec := json.NewDecoder(io.LimitReader(r, 1<<30))
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("mapisim: loading state: %w", err)
	}
	if snap.Version != stateVersion {
		return fmt.Errorf("mapisim: state version %d, want %d", snap.Version, stateVersion)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if len(snap.RNG) > 0 {
		if err := s.pcg.UnmarshalBinary(snap.RNG); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("mapisim: loading random state: %w", err)
		}
	}
	s.orders, s.orderFIFO, s.tradeNos = map[orderKey]*Order{}, nil, map[string]orderKey{}
	s.refunds, s.tokens, s.notifyIDs = map[orderKey]*Refund{}, map[string]orderKey{}, map[string]*notifyIDState{}
	s.seq = 0
	for _, o := range snap.Orders {
		seq := o.Seq
		s.putOrderLocked(o)
		o.Seq = seq
		if o.Token != "" {
			s.tokens[o.Token] = orderKey{o.Partner, o.OutTradeNo}
		}
		if o.Status == StatusWaitBuyerPay {
			s.scheduleExpiryLocked(o)
		}
	}
	s.seq = snap.Seq
	var processing []orderKey
	for _, r := range snap.Refunds {
		k := orderKey{r.Partner, r.OutReturnNo}
		s.refunds[k] = r
		if r.Status == RefundProcessing {
			processing = append(processing, k)
		}
	}
	for id, st := range snap.NotifyIDs {
		s.notifyIDs[id] = st
	}
	for id, t := range snap.LastRefund {
		if p := s.partners[id]; p != nil {
			p.lastRefund = t
		}
	}
	s.mu.Unlock()

	l := s.deliveries
	l.mu.Lock()
	l.byID, l.order, l.seq, l.busy = map[int64]*Delivery{}, nil, snap.DeliverySeq, 0
	var pending []*Delivery
	for _, d := range snap.Deliveries {
		l.byID[d.ID] = d
		l.order = append(l.order, d.ID)
		if d.State == DeliveryPending {
			pending = append(pending, d)
		}
	}
	l.busy = len(pending) + len(processing)
	l.mu.Unlock()
	for _, k := range processing {
		s.after(s.cfg.AsyncRefundDelay, func() { s.finishAsyncRefund(k) })
	}
	for _, d := range pending {
		id, n := d.ID, countDeliveries(d)+1
		s.after(0, func() { s.attempt(id, n, 0) })
	}
	return nil
}

// countDeliveries counts attempts that were not duplicates.
func countDeliveries(d *Delivery) int {
	n := 0
	for _, a := range d.Attempts {
		if !a.Duplicate {
			n++
		}
	}
	return n
}
