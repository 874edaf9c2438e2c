package antomsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// retrySchedule is Antom's: up to eight deliveries within 24 h (antom.md 5.3).
var retrySchedule = []time.Duration{0, 2 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour}

// Delivery is one notification and what became of it.
type Delivery struct {
	ClientID   string `json:"client_id"`
	URL        string `json:"url"`
	NotifyType string `json:"notify_type"`
	Body       string `json:"body"`
	Attempts   int    `json:"attempts"`
	Lost       int    `json:"lost,omitempty"` // attempts lost to a lose_notify fault (not sent)
	Acked      bool   `json:"acked"`
	LastAnswer string `json:"last_answer,omitempty"`
}

// Deliveries returns every notification sent so far, oldest first.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// notifyLocked queues a notification (caller holds mu), applying the merchant's notify faults.
func (s *Sim) notifyLocked(clientID, to string, body map[string]any, delay time.Duration) {
	if to == "" {
		return
	}
	f := s.takeFaultLocked(clientID, "", onNotify)
	typ, _ := body["notifyType"].(string)
	pending := func() map[string]any {
		cp := map[string]any{}
		for k, v := range body {
			cp[k] = v
		}
		cp["notifyType"] = "PAYMENT_PENDING"
		return cp
	}
	lose := f != nil && f.Kind == FaultLoseNotify
	switch {
	case lose:
		s.queueLocked(clientID, to, delay, true, body)
	case f != nil && f.Kind == FaultPendingFirst && typ == "PAYMENT_RESULT":
		s.queueLocked(clientID, to, delay, false, pending(), body)
	case f != nil && f.Kind == FaultStalePending && typ == "PAYMENT_RESULT":
		s.queueLocked(clientID, to, delay, false, body, pending())
	case f != nil && f.Kind == FaultDuplicateNotify:
		s.queueLocked(clientID, to, delay, false, body, body)
	default:
		s.queueLocked(clientID, to, delay, false, body)
	}
}

// queueLocked sends bodies in order, each on its own retry schedule, from one goroutine, so
// that an injected order (pending first, stale pending after) is the order received.
// lose loses the first attempt of each (a lose_notify fault).
func (s *Sim) queueLocked(clientID, to string, delay time.Duration, lose bool, bodies ...map[string]any) {
	var idx []int
	var raw [][]byte
	for _, body := range bodies {
		b, err := marshal(body)
		if err != nil {
			return
		}
		typ, _ := body["notifyType"].(string)
		s.deliveries = append(s.deliveries, Delivery{ClientID: clientID, URL: to, NotifyType: typ, Body: string(b)})
		idx, raw = append(idx, len(s.deliveries)-1), append(raw, b)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := range raw {
			s.deliver(idx[i], clientID, to, raw[i], delay, lose)
			delay = 0
		}
	}()
}

// deliver posts one notification on the retry schedule (scaled) until it is acknowledged.
func (s *Sim) deliver(idx int, clientID, to string, body []byte, delay time.Duration, lose bool) {
	schedule := retrySchedule
	if s.cfg.Sandbox {
		schedule = schedule[:1]
	}
	wait := delay
	for _, step := range schedule {
		wait += step
		select {
		case <-time.After(s.real(wait)):
		case <-s.closed:
			return
		}
		wait = 0
		var acked bool
		var answer string
		if lose {
			answer, lose = lostAnswer, false
		} else {
			acked, answer = s.post(clientID, to, body)
		}
		s.mu.Lock()
		d := &s.deliveries[idx]
		d.Attempts++
		if answer == lostAnswer {
			d.Lost++
		}
		d.Acked, d.LastAnswer = acked, answer
		n := d.Attempts
		s.mu.Unlock()
		s.logf("notify %s %s attempt %d: acked %v", clientID, to, n, acked)
		if acked {
			return
		}
	}
}

func (s *Sim) post(clientID, to string, body []byte) (bool, string) {
	u, err := url.Parse(to)
	if err != nil {
		return false, "bad notify URL"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if s.cfg.SignQuery && u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	hdr, err := s.notifyHeaders(path, clientID, body)
	if err != nil {
		return false, "sign: " + err.Error()
	}
	req, err := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return false, err.Error()
	}
	req.Header = hdr
	resp, err := s.http.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	var r struct {
		Result result `json:"result"`
	}
	if json.Unmarshal(b, &r) != nil || r.Result.ResultCode != "SUCCESS" || s.cfg.RequireStatusS && r.Result.ResultStatus != "S" {
		return false, string(b)
	}
	return true, string(b)
}

const lostAnswer = "lost (lose_notify fault)"

// notifyHeaders signs body for a POST to path as the notifier does and returns the request's
// headers (lowercase names, as Antom sends them).
func (s *Sim) notifyHeaders(path, clientID string, body []byte) (http.Header, error) {
	rt := s.now().Format("2006-01-02T15:04:05-07:00")
	sig, err := signB64(s.key, content(path, clientID, rt, body))
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h["client-id"] = []string{clientID}
	h["request-time"] = []string{rt}
	h["signature"] = []string{sigHeader(sig)}
	return h, nil
}

// NotificationHeaders returns the headers the notifier would send with body to notifyURL for
// clientID, signed with the simulator's Antom key now (a test replays or forges deliveries with
// them, e.g. a notification storm prepared ahead). The signed path follows Config.SignQuery.
func (s *Sim) NotificationHeaders(clientID, notifyURL string, body []byte) (http.Header, error) {
	u, err := url.Parse(notifyURL)
	if err != nil {
		return nil, fmt.Errorf("antomsim: notify URL: %w", err)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if s.cfg.SignQuery && u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return s.notifyHeaders(path, clientID, body)
}

// PaymentInfo is a payment as the simulated gateway holds it.
type PaymentInfo struct {
	PaymentID, PaymentRequestID, Status string
	Amount                              Amount
	Refunded                            int64
	NotifyURL                           string
}

// Payment returns the payment clientID asked for with paymentRequestID.
func (s *Sim) Payment(clientID, paymentRequestID string) (PaymentInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byRequest[reqKey(clientID, paymentRequestID)]
	if p == nil {
		return PaymentInfo{}, false
	}
	return PaymentInfo{PaymentID: p.id, PaymentRequestID: p.requestID, Status: p.status, Amount: p.amount, Refunded: p.refunded, NotifyURL: p.notifyURL}, true
}
