// Package core is paymux's neutral contract between the host and wallet providers: the
// Provider interface, money, statuses and error codes. It does no I/O and imports nothing of
// paymux's own.
package core

import (
	"context"
	"strings"
	"time"
)

// Provider is what every wallet provider implements, in process or behind a plugin. It is
// small on purpose (like database/sql/driver): the host owns persistence, retries, idempotency
// and the state machine. One Provider value serves many merchant accounts; every call names its
// account, whose settings were handed over by Configure.
//
// Optional abilities are separate interfaces (PaymentCloser, SettlementFetcher) that a
// provider implements only if it has them, and declares in Description.Capabilities so that the
// host checks before it calls. Nothing is stubbed with "not implemented".
type Provider interface {
	// Describe returns what the provider offers. It needs no account and is cached by the host.
	Describe(ctx context.Context) (*Description, error)
	// Configure validates an account's settings and keys and keeps them in memory. It is called
	// again, with the new settings, after a config reload. Errors have code ECONFIG and say
	// exactly which setting is wrong, never its secret value.
	Configure(ctx context.Context, req *ConfigureRequest) error
	// CreatePayment builds the signed client action (an SDK order string or a redirect URL).
	CreatePayment(ctx context.Context, req *CreatePaymentRequest) (*CreatePaymentResult, error)
	// VerifyClientResult checks the wallet SDK's synchronous result. It is a hint, never proof.
	VerifyClientResult(ctx context.Context, req *ClientResultRequest) (*ClientResult, error)
	// ParseNotification verifies a raw notification and maps it to neutral events. A
	// notification that fails verification is a result with Verified false, not an error; errors
	// mean the provider could not decide (EUNAVAILABLE: the wallet should retry).
	ParseNotification(ctx context.Context, req *NotificationRequest) (*NotificationResult, error)
	// QueryPayment asks the gateway for a payment's state.
	QueryPayment(ctx context.Context, req *QueryPaymentRequest) (*PaymentState, error)
	// Refund asks the gateway to refund. A timeout or gateway fault is EUNKNOWN, never a failure.
	Refund(ctx context.Context, req *RefundRequest) (*RefundState, error)
	// QueryRefund asks the gateway for a refund's state.
	QueryRefund(ctx context.Context, req *QueryRefundRequest) (*RefundState, error)
}

// PaymentCloser is implemented by providers that can close an unpaid payment (CapClose).
type PaymentCloser interface {
	Close(ctx context.Context, req *ClosePaymentRequest) (*PaymentState, error)
}

// SettlementFetcher is implemented by providers that can list settlement records for
// reconciliation (CapSettlement). Records are streamed to yield in file order; an error from
// yield stops the fetch and is returned.
type SettlementFetcher interface {
	FetchSettlement(ctx context.Context, req *SettlementRequest, yield func(*SettlementRecord) error) error
}

// Capability names an optional ability a provider declares in Describe.
type Capability string

const (
	CapQuery          Capability = "query"           // QueryPayment talks to the gateway
	CapRefund         Capability = "refund"          // Refund and QueryRefund
	CapPartialRefund  Capability = "partial_refund"  // refunds of less than the paid amount
	CapMultipleRefund Capability = "multiple_refund" // more than one refund per payment
	CapClose          Capability = "close"           // implements PaymentCloser
	CapSettlement     Capability = "settlement"      // implements SettlementFetcher
	CapClientResult   Capability = "client_result"   // VerifyClientResult checks a signature

	// CapLocalCreate declares that CreatePayment has no effect outside the provider: it only
	// builds (and signs) the client action, with no call to the gateway. The host may then call
	// it before storing the payment, and store the payment with its client action in one
	// transaction; when the call fails nothing is stored. A provider whose CreatePayment talks
	// to its gateway (pre-creates an order, records anything) must not declare it: the host
	// must have stored the payment before such a call, so that its outcome is never lost.
	CapLocalCreate Capability = "local_create"

	// CapCloseMovesMoney declares that Close can move money: the gateway's close of a payment
	// the buyer has just paid refunds the buyer (AMS cancel). Such a provider checks the state
	// before it closes and answers with what it found (succeeded or pending: nothing closed),
	// and the operator knows that a close racing a payment may end in a refund.
	CapCloseMovesMoney Capability = "close_moves_money"
)

// capabilities lists every Capability paymux knows, the one place a new one is added.
var capabilities = []Capability{
	CapQuery, CapRefund, CapPartialRefund, CapMultipleRefund, CapClose, CapSettlement,
	CapClientResult, CapLocalCreate, CapCloseMovesMoney,
}

// Valid reports whether c is a capability paymux knows.
func (c Capability) Valid() bool {
	for _, x := range capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Channel is how the buyer is sent to the wallet.
type Channel string

const (
	ChannelApp Channel = "app" // the merchant's app hands the payment to the wallet app (SDK order string, app link)
	ChannelH5  Channel = "h5"  // the buyer's mobile browser is redirected to the wallet's cashier
	ChannelWeb Channel = "web" // a desktop browser: the wallet's desktop cashier, or a QR code the buyer scans with the phone
)

// channels lists every channel paymux knows, the one place a new one is added.
var channels = []Channel{ChannelApp, ChannelH5, ChannelWeb}

// Valid reports whether c is a channel paymux knows.
func (c Channel) Valid() bool {
	for _, x := range channels {
		if x == c {
			return true
		}
	}
	return false
}

// Description is what Describe returns.
type Description struct {
	Name         string       `json:"name"`    // provider name, e.g. "alipay"
	Version      string       `json:"version"` // provider build version
	Methods      []Method     `json:"methods"`
	Capabilities []Capability `json:"capabilities"`
	Settings     []Setting    `json:"settings"` // the account settings it understands
	// QuerySchedule is how long after creation (or after an unknown outcome) the janitor should
	// query a payment or refund that is still pending, one entry per attempt.
	QuerySchedule []time.Duration `json:"query_schedule,omitempty"`
	// DefaultExpiry is how long an unpaid payment lives when the request sets no expiry.
	DefaultExpiry time.Duration `json:"default_expiry,omitempty"`
	// MaxExpiry is the longest expiry, counted from creation, the provider accepts for a
	// payment (Alipay's it_b_pay: 15 days); 0 means no limit. The host refuses a request whose
	// expires_at lies further away before it calls the provider.
	MaxExpiry time.Duration `json:"max_expiry,omitempty"`
}

// Has reports whether the description declares capability c.
func (d *Description) Has(c Capability) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Method returns the method with the given id.
func (d *Description) Method(id string) (Method, bool) {
	for _, m := range d.Methods {
		if m.ID == id {
			return m, true
		}
	}
	return Method{}, false
}

// Method is one payment method (one button at checkout) a provider offers.
type Method struct {
	ID          string       `json:"id"`   // e.g. "alipay", "alipayhk"
	Name        string       `json:"name"` // display name, e.g. "AlipayHK"
	Channels    []Channel    `json:"channels"`
	AmountRules []AmountRule `json:"amount_rules"` // one per accepted currency; none means any currency
}

// CheckAmount checks m against the method's rules: the currency must be listed (when any are)
// and the amount within that currency's limits.
func (m Method) CheckAmount(amount Money) error {
	if err := amount.Validate(); err != nil {
		return err
	}
	if len(m.AmountRules) == 0 {
		return nil
	}
	for _, r := range m.AmountRules {
		if r.Currency == amount.Currency {
			return r.Check(amount)
		}
	}
	return Errorf(EINVALID, "method %s does not accept %s", m.ID, amount.Currency)
}

// HasChannel reports whether the method offers channel c.
func (m Method) HasChannel(c Channel) bool {
	for _, x := range m.Channels {
		if x == c {
			return true
		}
	}
	return false
}

// Setting describes one account setting.
type Setting struct {
	Name        string `json:"name"`
	Required    bool   `json:"required"`
	Secret      bool   `json:"secret"` // never logged or echoed
	Description string `json:"description"`
	// Loosening lists values of this setting that switch off a strict default (say "false" for
	// a check that is on by default). The host logs a warning naming the account and the
	// setting at start and on every reload while an account keeps such a value. Compared
	// after trimming, case-insensitively.
	Loosening []string `json:"loosening,omitempty"`
}

// Loosens reports whether v is one of the setting's Loosening values.
func (s Setting) Loosens(v string) bool {
	v = strings.TrimSpace(v)
	for _, l := range s.Loosening {
		if strings.EqualFold(v, l) {
			return true
		}
	}
	return false
}

// ConfigureRequest hands an account's settings to the provider. Secret references (${ENV},
// file:) have already been resolved by the host.
type ConfigureRequest struct {
	Account  string
	Settings map[string]string
}

// CreatePaymentRequest asks for a client action for a payment the host has already stored.
type CreatePaymentRequest struct {
	Account     string
	PaymentID   string // the host's id, for logs
	OutTradeNo  string // the host-chosen merchant order number, unique per account
	Method      string
	Channel     Channel
	Amount      Money
	Subject     string
	Description string
	ReturnURL   string // h5 and web: where the wallet sends the buyer back
	NotifyURL   string // where the wallet posts notifications
	ExpiresAt   time.Time
	Extras      map[string]string // provider_extras from the API, passed through as the provider defines
}

// ActionType says what the client must do with NextAction.Value.
type ActionType string

const (
	// ActionSDKOrderString: hand Value to the wallet's app SDK.
	ActionSDKOrderString ActionType = "sdk_order_string"
	// ActionRedirectURL: send the buyer's browser to Value, an http(s) web page.
	ActionRedirectURL ActionType = "redirect_url"
	// ActionDeepLink: open Value, a URL with the wallet app's own scheme (e.g. gcash://...). It
	// opens the app only, never a web page, so it fails where the app is not installed.
	ActionDeepLink ActionType = "deep_link"
	// ActionAppLink: open Value, an https Android App Link or iOS Universal Link; the app opens
	// when installed, else the browser shows the same URL as a web page.
	ActionAppLink ActionType = "app_link"
	// ActionQRCode: render Value (the payload, not an image) as a QR code for the buyer to scan
	// with the wallet app on the phone; typical of the web (desktop) channel.
	ActionQRCode ActionType = "qr_code"
)

// actionTypes lists every ActionType paymux knows.
var actionTypes = []ActionType{ActionSDKOrderString, ActionRedirectURL, ActionDeepLink, ActionAppLink, ActionQRCode}

// MaxFallbacks bounds NextAction.Fallbacks.
const MaxFallbacks = 8

// NextAction is what the merchant's client does next.
//
// A wallet may offer several hand-offs of the same payment (open the app by deep link, else an
// app link, else its web page; or a QR code beside a desktop cashier). Type and Value are the
// provider's first choice; Fallbacks are the others, best first, for a client that cannot follow
// the first (no wallet app installed, a desktop browser). None of them is a new payment: all lead
// to the same one, and the client follows exactly one.
type NextAction struct {
	Type  ActionType `json:"type"`
	Value string     `json:"value"`
	// AppIdentifier names the app that handles a deep_link or app_link (the Android package
	// name), so that a merchant's app can check that it is installed before trying it.
	AppIdentifier string       `json:"app_identifier,omitempty"`
	Fallbacks     []NextAction `json:"fallbacks,omitempty"`
}

// Validate checks that the action is one a merchant's client can follow: a known type, a value
// of the type's form, and fallbacks that are themselves valid and have no fallbacks of their own.
func (a NextAction) Validate() error {
	if err := a.validateOne(); err != nil {
		return err
	}
	if len(a.Fallbacks) > MaxFallbacks {
		return Errorf(EINVALID, "next action has %d fallbacks, at most %d", len(a.Fallbacks), MaxFallbacks)
	}
	for i, f := range a.Fallbacks {
		if len(f.Fallbacks) > 0 {
			return Errorf(EINVALID, "fallback %d of the next action has fallbacks of its own", i+1)
		}
		if err := f.validateOne(); err != nil {
			return Errorf(EINVALID, "fallback %d: %s", i+1, ErrorMessage(err))
		}
	}
	return nil
}

func (a NextAction) validateOne() error {
	known := false
	for _, t := range actionTypes {
		known = known || t == a.Type
	}
	if !known {
		return Errorf(EINVALID, "unknown next action type %q", a.Type)
	}
	if a.Value == "" {
		return Errorf(EINVALID, "next action %s has no value", a.Type)
	}
	switch a.Type {
	case ActionRedirectURL, ActionAppLink:
		if !hasScheme(a.Value, "https") && !hasScheme(a.Value, "http") {
			return Errorf(EINVALID, "next action %s must be an http(s) URL", a.Type)
		}
	case ActionDeepLink:
		if i := strings.Index(a.Value, ":"); i <= 0 || hasScheme(a.Value, "javascript") || hasScheme(a.Value, "data") {
			return Errorf(EINVALID, "next action deep_link must be a URL with the app's scheme")
		}
	}
	return nil
}

// hasScheme reports whether u starts with scheme followed by ":" (ASCII case-insensitive).
func hasScheme(u, scheme string) bool {
	return len(u) > len(scheme) && u[len(scheme)] == ':' && strings.EqualFold(u[:len(scheme)], scheme)
}

// CreatePaymentResult is the client action for a payment.
type CreatePaymentResult struct {
	Action      NextAction
	ProviderRef string // the provider's reference, when one exists at creation (Alipay: none)
}

// ClientResultRequest carries the wallet SDK's synchronous result for checking.
type ClientResultRequest struct {
	Account    string
	OutTradeNo string
	Method     string
	Amount     Money
	Result     map[string]string // as the SDK returned it, e.g. resultStatus, result, memo
}

// ClientResult is the provider's reading of a synchronous result. Status is a hint only.
type ClientResult struct {
	Verified bool          // the signature (if any) and the echoed order match
	Status   PaymentStatus // what the result suggests: succeeded, pending, failed
	Message  string        // why not verified, or the wallet's memo
}

// NotificationRequest is the raw HTTP request a wallet sent to /notify/{account}.
type NotificationRequest struct {
	Account string
	Method  string
	// Header holds the request's headers as received (canonical names); a gateway that signs
	// in headers (AMS) reads its signature, client id and time here.
	Header map[string][]string
	Query  string // raw URL query; mapi providers ignore it by design
	Body   []byte // the exact bytes received: verify over these, never a re-serialisation
	// NotifyPath is the path of the public notify URL the wallet was given (the path of
	// CreatePaymentRequest.NotifyURL), which a gateway may sign (AMS signs "POST <path>"). It is
	// what the wallet called, not the path a proxy in front of the host forwarded to.
	NotifyPath string
	// Confirm allows the provider the gateway round trips that bind a notification to the
	// account's merchant (mapi: notify_verify, or a query of the trade). The host sets it only
	// after it stored the notification and found no processed copy of it (see
	// NotificationResult.Pending); without it such a notification comes back Pending.
	Confirm bool
}

// NotificationResult is what a provider made of a notification.
//
// Verified means all of: authentic (the signature verifies, with a sign type the account
// accepts), about this account's merchant (every merchant identity the message carries is the
// account's, and a message that names none was bound by the merchant's own key or by the
// gateway), and mapped. A verified message naming another merchant is not verified: its
// RejectReason is RejectForeignMerchant.
type NotificationResult struct {
	Verified     bool
	RejectReason string // why Verified is false, for the inbox
	DedupeKey    string // stable across redeliveries of the same notification
	Events       []NotificationEvent
	Ack          Ack // exactly what to answer the wallet
	// Pending: the signature verifies but binding the notification to the merchant needs a
	// gateway round trip that the request did not allow (Confirm false). Verified is false,
	// Events are what it would mean once bound (never to be applied before), DedupeKey is set,
	// and Ack is the answer for a verified duplicate: a copy of a notification the host already
	// processed (same DedupeKey) is acknowledged with it; anything else is asked again with
	// Confirm set.
	Pending bool
}

// RejectForeignMerchant is the RejectReason of a message that carries a merchant identity
// other than the account's, or that the gateway would not confirm for the account's merchant.
const RejectForeignMerchant = "foreign merchant"

// CodeObjectMismatch is the ProviderCode of the EUNKNOWN error a provider returns when a
// gateway answer is about another object (trade, refund) than the one asked about: nothing is
// applied and the host asks again later. The host counts these.
const CodeObjectMismatch = "OBJECT_MISMATCH"

// CodeForeignMerchant is the ProviderCode of the EUNKNOWN error a provider returns when a
// gateway answer names another merchant than the account's.
const CodeForeignMerchant = "FOREIGN_MERCHANT"

// Ack is the HTTP answer a wallet expects: its status, content type and exact body bytes (e.g.
// "success" as text, or a JSON result object), written as they are.
type Ack struct {
	Status      int
	ContentType string
	Body        []byte
}

// EventKind says what a notification event is about.
type EventKind string

const (
	EventPayment EventKind = "payment"
	EventRefund  EventKind = "refund"
)

// NotificationEvent is one neutral fact from a notification.
type NotificationEvent struct {
	Kind          EventKind
	OutTradeNo    string
	ProviderRef   string // the wallet's trade number
	OutRefundNo   string // refunds only
	PaymentStatus PaymentStatus
	RefundStatus  RefundStatus
	Amount        Money // as the wallet reports it; the host compares it with the payment
	OccurredAt    time.Time
	Wallet        string // the wallet used, when the notification says (e.g. ALIPAYHK)
	FailureCode   string
	RawStatus     string // the wallet's own status word, for logs and the inbox
}

// QueryPaymentRequest names a payment to query.
type QueryPaymentRequest struct {
	Account     string
	OutTradeNo  string
	ProviderRef string
}

// PaymentState is a payment as the gateway sees it.
type PaymentState struct {
	Status      PaymentStatus
	ProviderRef string
	Amount      Money // zero when the gateway did not say
	PaidAt      time.Time
	RawStatus   string
}

// RefundRequest asks for a refund the host has already stored and reserved.
type RefundRequest struct {
	Account       string
	OutTradeNo    string
	ProviderRef   string
	OutRefundNo   string // the host-chosen refund number: the gateway's idempotency key
	Amount        Money
	PaymentAmount Money
	Reason        string
	NotifyURL     string
}

// QueryRefundRequest names a refund to query.
type QueryRefundRequest struct {
	Account     string
	OutTradeNo  string
	OutRefundNo string
}

// RefundState is a refund as the gateway sees it.
type RefundState struct {
	Status      RefundStatus
	ProviderRef string
	Amount      Money
	FailureCode string
	RawStatus   string
}

// ClosePaymentRequest names a payment to close.
type ClosePaymentRequest struct {
	Account     string
	OutTradeNo  string
	ProviderRef string
}

// SettlementRequest asks for settlement records of an account between two dates (inclusive,
// in the provider's settlement time zone).
type SettlementRequest struct {
	Account string
	From    time.Time
	To      time.Time
}

// SettlementRecord is one line of a provider's reconciliation or settlement file.
type SettlementRecord struct {
	Kind        EventKind // payment or refund
	Reference   string    // out_trade_no for payments, out_refund_no for refunds
	OrigRef     string    // refunds: the payment's out_trade_no, when the file says
	ProviderRef string
	Amount      Money
	Fee         Money
	OccurredAt  time.Time
	SettledAt   time.Time
	Status      string // the file's own status word
	Wallet      string // e.g. ALIPAYHK, ALIPAYCN, when the file says
}
