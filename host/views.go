package host

import (
	"encoding/json"
	"maps"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Payment is a payment as the API and webhooks show it.
type Payment struct {
	ID             string             `json:"id"`
	Status         core.PaymentStatus `json:"status"`
	Region         string             `json:"region"`
	Method         string             `json:"method"`
	Channel        core.Channel       `json:"channel"`
	Amount         core.Money         `json:"amount"`
	AmountRefunded core.Money         `json:"amount_refunded"`
	Reference      string             `json:"reference,omitempty"`
	Subject        string             `json:"subject,omitempty"`
	Description    string             `json:"description,omitempty"`
	ReturnURL      string             `json:"return_url,omitempty"`
	Metadata       map[string]string  `json:"metadata,omitempty"`
	OutTradeNo     string             `json:"out_trade_no"`
	ProviderRef    string             `json:"provider_ref,omitempty"`
	Wallet         string             `json:"wallet,omitempty"`
	FailureCode    string             `json:"failure_code,omitempty"`
	NextAction     *core.NextAction   `json:"next_action,omitempty"`
	Flags          []string           `json:"flags"`
	ClientResult   *ClientResultHint  `json:"client_result,omitempty"`
	ExpiresAt      *time.Time         `json:"expires_at,omitempty"`
	PaidAt         *time.Time         `json:"paid_at,omitempty"`
	CreatedAt      time.Time          `json:"created_at"`
	UpdatedAt      time.Time          `json:"updated_at"`
}

// ClientResultHint is what the wallet SDK's synchronous result suggested. It never changes the
// payment's status: only a verified notification or a query does.
type ClientResultHint struct {
	Verified bool               `json:"verified"`
	Status   core.PaymentStatus `json:"status"`
}

// WantsEarlyQuery reports whether the payment is still pending while a verified client result
// says it succeeded: then the provider is worth asking at once rather than on the janitor's
// next round (ClientResult schedules that query; the serve command wakes the janitor).
func (p *Payment) WantsEarlyQuery() bool {
	return p.Status == core.PaymentPending && p.ClientResult != nil && p.ClientResult.Verified &&
		p.ClientResult.Status == core.PaymentSucceeded
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// paymentView converts a stored payment.
func paymentView(p *store.Payment) *Payment {
	v := &Payment{
		ID: p.ID, Status: p.Status, Region: p.Region, Method: p.Method, Channel: p.Channel,
		Amount:         p.Amount,
		AmountRefunded: core.Money{Value: p.AmountRefunded, Currency: p.Amount.Currency},
		Reference:      p.Reference, Subject: p.Subject, Description: p.Description, ReturnURL: p.ReturnURL,
		Metadata:   maps.Clone(p.Metadata),
		OutTradeNo: p.OutTradeNo, ProviderRef: p.ProviderRef, Wallet: p.Wallet, FailureCode: p.FailureCode,
		NextAction: p.NextAction, Flags: []string{},
		ExpiresAt: timePtr(p.ExpiresAt), PaidAt: timePtr(p.PaidAt),
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
	if h := p.ClientResult; h != nil {
		v.ClientResult = &ClientResultHint{Verified: h.Verified, Status: h.Status}
	}
	v.Flags = append(v.Flags, p.Flags...)
	return v
}

// Refund is a refund as the API and webhooks show it.
type Refund struct {
	ID          string            `json:"id"`
	PaymentID   string            `json:"payment_id"`
	Status      core.RefundStatus `json:"status"`
	Amount      core.Money        `json:"amount"`
	Reason      string            `json:"reason,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	OutRefundNo string            `json:"out_refund_no"`
	ProviderRef string            `json:"provider_ref,omitempty"`
	FailureCode string            `json:"failure_code,omitempty"`
	// NeedsAttention: the outcome could not be learned from the gateway; the refund stays
	// pending with its amount reserved until an operator settles it.
	NeedsAttention  bool   `json:"needs_attention"`
	AttentionReason string `json:"attention_reason,omitempty"`
	// FlaggedAt: when the refund entered the attention queue; set only while NeedsAttention.
	FlaggedAt  *time.Time        `json:"flagged_at,omitempty"`
	Settlement *RefundSettlement `json:"settlement,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// RefundSettlement is an operator's settlement of a refund that needed attention.
type RefundSettlement struct {
	Reason    string    `json:"reason"`
	SettledBy string    `json:"settled_by"` // the API key's name (never the key)
	SettledAt time.Time `json:"settled_at"`
}

func refundView(r *store.Refund) *Refund {
	v := &Refund{
		ID: r.ID, PaymentID: r.PaymentID, Status: r.Status, Amount: r.Amount, Reason: r.Reason, Metadata: maps.Clone(r.Metadata),
		OutRefundNo: r.OutRefundNo, ProviderRef: r.ProviderRef, FailureCode: r.FailureCode,
		NeedsAttention: r.NeedsAttention, AttentionReason: r.AttentionReason,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.NeedsAttention && !r.FlaggedAt.IsZero() {
		at := r.FlaggedAt.UTC()
		v.FlaggedAt = &at
	}
	if r.SettleReason != "" {
		v.Settlement = &RefundSettlement{Reason: r.SettleReason, SettledBy: r.SettledBy, SettledAt: r.SettledAt.UTC()}
	}
	return v
}

// Notification is an inbox entry as the API shows it. The raw body is included because an
// operator investigating an unmatched or rejected notification needs it; it carries no secret
// of ours (only the wallet's signature).
type Notification struct {
	ID         string    `json:"id"`
	Account    string    `json:"account"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	DedupeKey  string    `json:"dedupe_key,omitempty"`
	PaymentID  string    `json:"payment_id,omitempty"`
	RefundID   string    `json:"refund_id,omitempty"`
	Body       string    `json:"body"`
	ReceivedAt time.Time `json:"received_at"`
}

func notificationView(n *store.Notification) *Notification {
	return &Notification{
		ID: n.ID, Account: n.Account, Status: string(n.Status), Reason: n.Reason, DedupeKey: n.DedupeKey,
		PaymentID: n.PaymentID, RefundID: n.RefundID, Body: strings.ToValidUTF8(string(n.Body), "\uFFFD"),
		ReceivedAt: n.ReceivedAt.UTC(),
	}
}

// Event is an outbox event as GET /v1/events shows it: the webhook body plus delivery state.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   time.Time       `json:"created_at"`
	Data        json.RawMessage `json:"data"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	LastError   string          `json:"last_error,omitempty"`
	Actor       string          `json:"actor,omitempty"`
	DeliveredTo []string        `json:"delivered_to,omitempty"`
	NextAttempt *time.Time      `json:"next_attempt_at,omitempty"`
	DeliveredAt *time.Time      `json:"delivered_at,omitempty"`
}

func eventView(e *store.Event) *Event {
	v := &Event{
		ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC(), Data: e.Payload, Status: string(e.Status),
		Attempts: e.Attempts, LastError: e.LastError, Actor: e.Actor, DeliveredTo: e.DeliveredTo, DeliveredAt: timePtr(e.DeliveredAt),
	}
	if e.Status == store.EventPending {
		v.NextAttempt = timePtr(e.NextAttemptAt)
	}
	return v
}

// Page is one page of a list.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}
