package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Event types paymux sends. They are stable API: merchants switch on them.
const (
	PaymentCreated        = "payment.created"
	PaymentSucceeded      = "payment.succeeded"
	PaymentClosed         = "payment.closed"
	PaymentFailed         = "payment.failed"
	PaymentAmountMismatch = "payment.amount_mismatch"
	RefundSucceeded       = "refund.succeeded"
	RefundFailed          = "refund.failed"
	RefundNeedsAttention  = "refund.needs_attention" // a refund's outcome is unknown and needs an operator
	NotificationUnmatched = "notification.unmatched"
)

// Types lists every event type paymux sends.
var Types = []string{PaymentCreated, PaymentSucceeded, PaymentClosed, PaymentFailed, PaymentAmountMismatch,
	RefundSucceeded, RefundFailed, RefundNeedsAttention, NotificationUnmatched}

// TypeMatches reports whether an endpoint's event pattern selects typ: an exact type, a family
// such as "payment.*", or "*".
func TypeMatches(pattern, typ string) bool {
	if pattern == "*" || pattern == typ {
		return true
	}
	family, ok := strings.CutSuffix(pattern, ".*")
	return ok && strings.HasPrefix(typ, family+".")
}

// Event is the JSON body of every webhook delivery. ID is stable across redeliveries, so a
// merchant deduplicates on it.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Sender POSTs signed event bodies to a merchant URL. It never follows a redirect: the
// signed body would otherwise be re-sent to wherever the merchant's server (or whoever took
// over its address) points, so a 3xx answer is a failed delivery like any other non-2xx.
type Sender struct {
	// Client carries the deliveries; nil: a client with Timeout. Its CheckRedirect is
	// replaced (on a copy) by one that refuses every redirect.
	Client  *http.Client
	Timeout time.Duration // per delivery; 0 means 10s
	Now     func() time.Time
}

// Send POSTs body to url signed with every one of secrets (SignAll). Any 2xx answer is success;
// anything else, a transport error or a timeout is an error and the dispatcher retries.
func (s *Sender) Send(ctx context.Context, url string, secrets [][]byte, eventID string, body []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paymux-webhook/1")
	req.Header.Set("Paymux-Event-Id", eventID)
	req.Header.Set(Header, SignAll(secrets, now(), body))
	client := http.Client{Timeout: timeout}
	if s.Client != nil {
		client = *s.Client
	}
	client.CheckRedirect = refuseRedirect
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: delivering %s: %w", eventID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return fmt.Errorf("webhook: delivering %s: merchant answered %d (a redirect; paymux does not follow redirects, configure the final URL)", eventID, resp.StatusCode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: delivering %s: merchant answered %d", eventID, resp.StatusCode)
	}
	return nil
}

// refuseRedirect makes the client hand back the 3xx answer itself instead of following it.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
