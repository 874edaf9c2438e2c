package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	NotificationUnmatched = "notification.unmatched"
)

// Event is the JSON body of every webhook delivery. ID is stable across redeliveries, so a
// merchant deduplicates on it.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Sender POSTs signed event bodies to a merchant URL.
type Sender struct {
	Client  *http.Client  // nil: a client with Timeout
	Timeout time.Duration // per delivery; 0 means 10s
	Now     func() time.Time
}

// Send POSTs body to url signed with secret. Any 2xx answer is success; anything else, a
// transport error or a timeout is an error and the dispatcher retries.
func (s *Sender) Send(ctx context.Context, url string, secret []byte, eventID string, body []byte) error {
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
	req.Header.Set(Header, Sign(secret, now(), body))
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: delivering %s: %w", eventID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: delivering %s: merchant answered %d", eventID, resp.StatusCode)
	}
	return nil
}
