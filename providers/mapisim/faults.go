package mapisim

import (
	"context"
	"net/http"
	"time"
)

// FaultKind names a misbehaviour the simulator can inject.
type FaultKind string

// Faults. Where a kind applies: G = gateway responses (/gateway.do), N = notifications,
// W = wallet results (PayOrderString's result, H5 returns).
const (
	FaultLatency    FaultKind = "latency"      // G, N, W: wait Delay (real time) first
	FaultStatus     FaultKind = "status"       // G: answer HTTP Status (default 503) instead
	FaultHang       FaultKind = "hang"         // G, W: hang until the client gives up (or Close)
	FaultDrop       FaultKind = "drop"         // G: close the connection unanswered; N: lose the attempt (it is retried)
	FaultWrongSign  FaultKind = "wrong_sign"   // G, N, W: the signature is corrupted
	FaultDuplicate  FaultKind = "duplicate"    // N: every attempt is posted twice
	FaultOutOfOrder FaultKind = "out_of_order" // N: the first attempt waits until a later notification of the partner was attempted (at most Delay, default 5 s real)
	FaultError      FaultKind = "error"        // G: answer the XML error envelope with Code (default SYSTEM_EXCEPTION)
	FaultRefundFail FaultKind = "refund_fail"  // forex_refund: the refund fails with Code (default MERCHANT_BALANCE_NOT_ENOUGH): sync at once, async with REFUND_FAIL
	FaultLoseAnswer FaultKind = "lose_answer"  // G: the request is carried out (the refund is made), then the connection is closed unanswered
	FaultStaleQuery FaultKind = "stale_query"  // G: single_trade_query answers TRADE_NOT_EXIST, alipay.acquire.refund.query NOT_FOUND, and forex_refund does not know a made refund's out_return_no, whatever happened (a lagging view)
	FaultUnsigned   FaultKind = "unsigned"     // G: the answer carries no <sign> and <sign_type> (its content genuine)
	// FaultOtherObject: G: single_trade_query and alipay.acquire.refund.query answer, correctly
	// signed, about another object than the one asked: a paid trade (a finished refund) with other
	// references, whether or not the one asked exists.
	FaultOtherObject FaultKind = "other_object"
)

// Fault is one injected misbehaviour, scoped to a partner and a service.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Partner limits the fault to one partner; "" means all.
	Partner string `json:"partner,omitempty"`
	// Service limits the fault to one gateway service (single_trade_query, forex_refund, ...),
	// to "notify" (notifications), "pay" (the SDK result) or "return" (the H5 return); ""
	// means everywhere the kind applies.
	Service string `json:"service,omitempty"`
	// Delay for latency and out_of_order, in real time.
	Delay time.Duration `json:"delay,omitempty"`
	// Status for status faults (default 503).
	Status int `json:"status,omitempty"`
	// Code for error and refund_fail faults.
	Code string `json:"code,omitempty"`
	// Count is how many times the fault fires before it disappears; 0 means until removed.
	Count int `json:"count,omitempty"`
}

type faultState struct {
	ID int64 `json:"id"`
	Fault
	Fired int `json:"fired"`
}

// FaultInfo is a fault with its id and how often it fired.
type FaultInfo struct {
	ID    int64 `json:"id"`
	Fault Fault `json:"fault"`
	Fired int   `json:"fired"`
	// Active is false once the fault was removed or used up (Count); it is still reported by
	// FaultByID, so that a test can prove that a fault it installed really fired.
	Active bool `json:"active"`
}

// SetFault installs a fault and returns its id.
func (s *Sim) SetFault(f Fault) (int64, error) {
	switch f.Kind {
	case FaultLatency, FaultStatus, FaultHang, FaultDrop, FaultWrongSign, FaultDuplicate, FaultOutOfOrder, FaultError, FaultRefundFail,
		FaultLoseAnswer, FaultStaleQuery, FaultUnsigned, FaultOtherObject:
	default:
		return 0, gwErr("ILLEGAL_ARGUMENT", "unknown fault kind %q", f.Kind)
	}
	if f.Count < 0 || f.Delay < 0 {
		return 0, gwErr("ILLEGAL_ARGUMENT", "negative count or delay")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultSeq++
	fs := &faultState{ID: s.faultSeq, Fault: f}
	s.faults = append(s.faults, fs)
	if s.faultLog == nil {
		s.faultLog = map[int64]*faultState{}
	}
	s.faultLog[fs.ID] = fs
	return s.faultSeq, nil
}

// FaultByID returns a fault installed with SetFault, also after it was removed or used up,
// with how often it fired: the proof that an injected fault really happened.
func (s *Sim) FaultByID(id int64) (FaultInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faultLog[id]
	if !ok {
		return FaultInfo{}, false
	}
	active := false
	for _, a := range s.faults {
		active = active || a == f
	}
	return FaultInfo{ID: f.ID, Fault: f.Fault, Fired: f.Fired, Active: active}, true
}

// RemoveFault removes one fault; it reports whether it existed.
func (s *Sim) RemoveFault(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.ID == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Faults lists the installed faults.
func (s *Sim) Faults() []FaultInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FaultInfo, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, FaultInfo{ID: f.ID, Fault: f.Fault, Fired: f.Fired, Active: true})
	}
	return out
}

// takeLocked returns the matching faults of the given kinds and counts them as fired.
func (s *Sim) takeLocked(partner, service string, kinds ...FaultKind) []Fault {
	var out []Fault
	kept := s.faults[:0]
	for _, f := range s.faults {
		match := (f.Partner == "" || f.Partner == partner) && (f.Service == "" || f.Service == service) && contains2(kinds, f.Kind)
		if match {
			f.Fired++
			out = append(out, f.Fault)
			if f.Count > 0 && f.Fired >= f.Count {
				continue
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return out
}

func contains2(kinds []FaultKind, k FaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// gatewayFault applies gateway faults for a request; it reports whether the request was
// answered (or dropped) by a fault. wrong_sign faults are taken when the response is signed.
func (s *Sim) gatewayFault(w http.ResponseWriter, r *http.Request, partner, service string) (handled bool) {
	s.mu.Lock()
	fs := s.takeLocked(partner, service, FaultLatency, FaultStatus, FaultHang, FaultDrop, FaultError)
	s.mu.Unlock()
	for _, f := range fs {
		switch f.Kind {
		case FaultLatency:
			if !s.sleep(r.Context(), f.Delay) {
				return true
			}
		case FaultError:
			code := f.Code
			if code == "" {
				code = "SYSTEM_EXCEPTION"
			}
			writeXMLError(w, code)
			return true
		case FaultStatus:
			st := f.Status
			if st == 0 {
				st = http.StatusServiceUnavailable
			}
			http.Error(w, http.StatusText(st), st)
			return true
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-s.ctx.Done():
			}
			return true
		case FaultDrop:
			dropConnection(w)
			return true
		}
	}
	return false
}

// answerFaults takes the faults that act on a gateway request after it was authenticated:
// lose_answer (carry it out, then drop the connection) and stale_query.
func (s *Sim) answerFaults(partner, service string) (lose, stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.takeLocked(partner, service, FaultLoseAnswer, FaultStaleQuery) {
		switch f.Kind {
		case FaultLoseAnswer:
			lose = true
		case FaultStaleQuery:
			stale = stale || service == "single_trade_query" || service == "alipay.acquire.refund.query" || service == "forex_refund"
		}
	}
	return lose, stale
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 or a recorder: abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

func (s *Sim) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

// applyFaultsWallet applies latency and hang faults to the wallet (service "pay").
func (s *Sim) applyFaultsWallet(ctx context.Context, partner string) error {
	s.mu.Lock()
	fs := s.takeLocked(partner, "pay", FaultLatency, FaultHang)
	s.mu.Unlock()
	for _, f := range fs {
		switch f.Kind {
		case FaultLatency:
			if !s.sleep(ctx, f.Delay) {
				return ctxErr(ctx)
			}
		case FaultHang:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.ctx.Done():
				return ErrClosed
			}
		}
	}
	return nil
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// faultNotifyWrongSign reports whether a wrong_sign fault fires for a wallet service ("pay", "return").
func (s *Sim) faultNotifyWrongSign(partner, service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.takeLocked(partner, service, FaultWrongSign)) > 0
}

type notifyFaults struct {
	latency                    time.Duration
	drop, duplicate, wrongSign bool
}

func (s *Sim) notifyFaultLocked(partner string) notifyFaults {
	var nf notifyFaults
	for _, f := range s.takeLocked(partner, "notify", FaultLatency, FaultDrop, FaultDuplicate, FaultWrongSign) {
		switch f.Kind {
		case FaultLatency:
			nf.latency += f.Delay
		case FaultDrop:
			nf.drop = true
		case FaultDuplicate:
			nf.duplicate = true
		case FaultWrongSign:
			nf.wrongSign = true
		}
	}
	return nf
}

// faultHoldLocked returns how long (real time) a new notification is held back by an
// out_of_order fault.
func (s *Sim) faultHoldLocked(partner string) time.Duration {
	var d time.Duration
	for _, f := range s.takeLocked(partner, "notify", FaultOutOfOrder) {
		if f.Delay > 0 {
			d += f.Delay
		} else {
			d += 5 * time.Second
		}
	}
	return d
}
