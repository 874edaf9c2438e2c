package antomsim

import (
	"bytes"
	"encoding/json"
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
	switch {
	case f != nil && f.Kind == FaultPendingFirst && typ == "PAYMENT_RESULT":
		s.queueLocked(clientID, to, delay, pending(), body)
	case f != nil && f.Kind == FaultStalePending && typ == "PAYMENT_RESULT":
		s.queueLocked(clientID, to, delay, body, pending())
	case f != nil && f.Kind == FaultDuplicateNotify:
		s.queueLocked(clientID, to, delay, body, body)
	default:
		s.queueLocked(clientID, to, delay, body)
	}
}

// queueLocked sends bodies in order, each on its own retry schedule, from one goroutine, so
// that an injected order (pending first, stale pending after) is the order received.
func (s *Sim) queueLocked(clientID, to string, delay time.Duration, bodies ...map[string]any) {
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
			s.deliver(idx[i], clientID, to, raw[i], delay)
			delay = 0
		}
	}()
}

// deliver posts one notification on the retry schedule (scaled) until it is acknowledged.
func (s *Sim) deliver(idx int, clientID, to string, body []byte, delay time.Duration) {
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
		acked, answer := s.post(clientID, to, body)
		s.mu.Lock()
		d := &s.deliveries[idx]
		d.Attempts++
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
	rt := s.now().Format("2006-01-02T15:04:05-07:00")
	sig, err := signB64(s.key, content(path, clientID, rt, body))
	if err != nil {
		return false, "sign: " + err.Error()
	}
	req, err := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header["client-id"] = []string{clientID}
	req.Header["request-time"] = []string{rt}
	req.Header["signature"] = []string{sigHeader(sig)}
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
