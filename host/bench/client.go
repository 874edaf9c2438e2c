package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paymux/paymux/core"
)

// Client calls the REST API and /notify of a host under test.
type Client struct {
	base atomic.Pointer[string]
	key  string
	http *http.Client
	// the route of CreatePayment and the currency of CreatePayment and CreateRefund
	region, method, currency string
	returnURL                string // sent with CreatePayment when set (Antom requires one)
}

// SetRoute sets the region, method and currency of the payments CreatePayment makes (default
// Region, Method, Currency: the Alipay account).
func (c *Client) SetRoute(region, method, currency string) {
	c.region, c.method, c.currency = region, method, currency
}

// SetReturnURL sets the return_url of the payments CreatePayment makes ("" sends none).
func (c *Client) SetReturnURL(u string) { c.returnURL = u }

// NewClient returns a client keeping up to conns idle keep-alive connections.
func NewClient(base, apiKey string, conns int) *Client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	c := &Client{key: apiKey, http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		region: Region, method: Method, currency: Currency}
	c.SetBase(base)
	return c
}

// SetBase points the client at another address (a restarted host).
func (c *Client) SetBase(base string) {
	b := strings.TrimRight(base, "/")
	c.base.Store(&b)
	c.http.Transport.(*http.Transport).CloseIdleConnections()
}

// Base is the current base URL.
func (c *Client) Base() string { return *c.base.Load() }

// Close drops idle connections.
func (c *Client) Close() { c.http.Transport.(*http.Transport).CloseIdleConnections() }

// APIError is a non-2xx answer of the REST API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message) }

// Do sends a JSON request and decodes a 2xx answer into out (when not nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any, hdr map[string]string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(raw, &e)
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// Payment is the part of the API's payment the bench reads.
type Payment struct {
	ID             string             `json:"id"`
	Status         core.PaymentStatus `json:"status"`
	Amount         core.Money         `json:"amount"`
	AmountRefunded core.Money         `json:"amount_refunded"`
	OutTradeNo     string             `json:"out_trade_no"`
	ProviderRef    string             `json:"provider_ref"`
	NextAction     *core.NextAction   `json:"next_action"`
}

// Refund is the part of the API's refund the bench reads.
type Refund struct {
	ID          string            `json:"id"`
	Status      core.RefundStatus `json:"status"`
	Amount      core.Money        `json:"amount"`
	OutRefundNo string            `json:"out_refund_no"`
	ProviderRef string            `json:"provider_ref"`
	FailureCode string            `json:"failure_code"`
}

// CreatePayment creates an app payment of value minor units of the route's currency (USD by
// default).
func (c *Client) CreatePayment(ctx context.Context, ref string, value int64) (*Payment, error) {
	var p Payment
	body := map[string]any{
		"region": c.region, "method": c.method, "channel": "app", "subject": "bench " + ref, "reference": ref,
		"amount": core.Money{Value: value, Currency: c.currency},
	}
	if c.returnURL != "" {
		body["return_url"] = c.returnURL
	}
	err := c.Do(ctx, http.MethodPost, "/v1/payments", body, &p, nil)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPayment reads a payment.
func (c *Client) GetPayment(ctx context.Context, id string) (*Payment, error) {
	var p Payment
	if err := c.Do(ctx, http.MethodGet, "/v1/payments/"+id, nil, &p, nil); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreateRefund refunds value minor units of a payment.
func (c *Client) CreateRefund(ctx context.Context, paymentID string, value int64, idemKey string) (*Refund, error) {
	var r Refund
	var hdr map[string]string
	if idemKey != "" {
		hdr = map[string]string{"Idempotency-Key": idemKey}
	}
	err := c.Do(ctx, http.MethodPost, "/v1/payments/"+paymentID+"/refunds", map[string]any{
		"amount": core.Money{Value: value, Currency: c.currency}, "reason": "bench",
	}, &r, hdr)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetRefund reads a refund of a payment.
func (c *Client) GetRefund(ctx context.Context, paymentID, refundID string) (*Refund, error) {
	var r Refund
	if err := c.Do(ctx, http.MethodGet, "/v1/payments/"+paymentID+"/refunds/"+refundID, nil, &r, nil); err != nil {
		return nil, err
	}
	return &r, nil
}

// Notify POSTs a form to /notify/{account} and returns the HTTP status and body.
func (c *Client) Notify(ctx context.Context, account string, form []byte) (int, string, error) {
	return c.NotifyWith(ctx, account, http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, form)
}

// NotifyWith POSTs body with the headers hdr (a JSON notification and its signature headers,
// names kept as given) to /notify/{account} and returns the HTTP status and body.
func (c *Client) NotifyWith(ctx context.Context, account string, hdr http.Header, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base()+"/notify/"+account, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range hdr {
		req.Header[k] = append([]string(nil), v...)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), err
}
