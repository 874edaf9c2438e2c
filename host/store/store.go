// Package store is the host's persistence contract: the record types the host keeps (payments,
// refunds, idempotency keys, the notification inbox, the outbox of merchant events) and the Store
// interface that host/store/sqlite and host/store/postgres implement with one migration set
// (host/store/migrations) and one test suite (host/store/storetest).
//
// The store knows no business rules: it never decides a transition, an amount or a retry
// schedule. It guarantees what only a database can: atomic transactions (a state change and its
// outbox event commit together or not at all), uniqueness (out_trade_no and out_refund_no per
// account, idempotency keys, notification dedupe keys), row locks that serialise changes to one
// payment, and leases that let several hosts on one PostgreSQL share the janitor and the outbox
// without handing one item to two workers at once.
//
// Conventions for every method:
//   - not found is core.ENOTFOUND; a unique violation is core.ECONFLICT whose message names what
//     conflicted (e.g. "payment with out_trade_no ... already exists for account ...");
//     everything else is wrapped with context and has code core.EINTERNAL;
//   - times are stored in UTC with microsecond precision (they come back truncated to the
//     microsecond, in UTC); a zero time.Time means "not set" (NULL);
//   - money is an int64 in minor units plus an ISO 4217 code;
//   - ids are chosen by the host before the insert (see NewID), never by the database;
//   - list methods return newest first (by insertion order) and an opaque cursor for the next
//     page, "" when there is none.
package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"time"

	"github.com/paymux/paymux/core"
)

// Store is one database. It is safe for concurrent use. The methods of Queries called on a
// Store run each in its own transaction that has committed durably when the call returns.
type Store interface {
	Queries

	// InTx runs fn in one transaction: it commits when fn returns nil and rolls back when fn
	// returns an error or panics (the panic is re-raised). Every state change and its outbox
	// event go through one InTx. The tx is valid only inside fn and only on fn's goroutine; fn
	// may be called more than once if the database asks for a retry (a serialisation failure),
	// so fn must have no effect outside tx. fn's error is returned unchanged.
	//
	// SQLite begins IMMEDIATE, so writers serialise and a tx never fails half way with
	// SQLITE_BUSY; PostgreSQL runs READ COMMITTED and the Lock* methods take row locks.
	//
	// Keep fn short and local: no plugin or network calls inside it (SQLite has one writer,
	// and group-commits the transactions waiting for it, so a slow fn delays every write). In
	// PostgreSQL a failed statement (e.g. an ECONFLICT) aborts the transaction: return the
	// error from fn instead of carrying on with tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	// ClaimDuePayments leases up to limit payments with status pending whose NextQueryAt is set
	// and <= now, oldest NextQueryAt first. The claim moves NextQueryAt to now+lease and adds 1
	// to QueryAttempts (the returned records carry both new values), so a host that dies
	// mid-query only delays the item by lease, and no other claimer receives the same payment
	// before the lease runs out. PostgreSQL claims with FOR UPDATE SKIP LOCKED, so concurrent
	// claimers neither block nor overlap. The janitor then queries the provider and writes the
	// outcome with UpdatePayment (setting NextQueryAt to the next scheduled time, or zero when
	// no further query is needed).
	ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*Payment, error)

	// ClaimDueRefunds is ClaimDuePayments for refunds with status pending or processing.
	ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*Refund, error)

	// ClaimDueEvents leases up to limit outbox events with status pending whose NextAttemptAt
	// <= now, oldest NextAttemptAt first. The claim moves NextAttemptAt to now+lease, adds 1 to
	// Attempts and sets LastAttemptAt to now (the returned records carry the new values), so no
	// other claimer receives the event until the lease runs out: the dispatcher must finish (or
	// give up on) a delivery well within lease, then call MarkEventDelivered, ScheduleEventRetry
	// or MarkEventFailed.
	ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*Event, error)

	// DeleteExpiredIdempotencyKeys deletes keys whose ExpiresAt <= now and returns how many.
	DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int64, error)

	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error

	// Close releases the database. Calls after Close fail.
	Close() error
}

// Tx is one open transaction (see Store.InTx): the Queries, plus row locks.
type Tx interface {
	Queries

	// LockPayment reads a payment and locks its row until the transaction ends (SELECT ... FOR
	// UPDATE in PostgreSQL; SQLite's IMMEDIATE transaction already excludes other writers).
	// Every read-modify-write of a payment, and every refund reservation, starts with it.
	LockPayment(ctx context.Context, id string) (*Payment, error)
	// LockPaymentByOutTradeNo is LockPayment by (account, out_trade_no), for notifications.
	LockPaymentByOutTradeNo(ctx context.Context, account, outTradeNo string) (*Payment, error)
	// LockRefund reads a refund and locks its row until the transaction ends.
	LockRefund(ctx context.Context, id string) (*Refund, error)
	// LockRefundByOutRefundNo is LockRefund by (account, out_refund_no), for notifications.
	LockRefundByOutRefundNo(ctx context.Context, account, outRefundNo string) (*Refund, error)
}

// Queries are the reads and single-statement writes, available on a Store (each call its own
// transaction) and on a Tx (part of that transaction).
type Queries interface {
	// InsertPayment inserts p. p.ID, Account and OutTradeNo must be set; CreatedAt and UpdatedAt
	// default to now when zero, and the values stored are written back into p. ECONFLICT when
	// the id or (account, out_trade_no) exists.
	InsertPayment(ctx context.Context, p *Payment) error
	// GetPayment reads a payment by id without locking it.
	GetPayment(ctx context.Context, id string) (*Payment, error)
	// GetPaymentByOutTradeNo reads a payment by (account, out_trade_no) without locking it.
	GetPaymentByOutTradeNo(ctx context.Context, account, outTradeNo string) (*Payment, error)
	// ListPayments lists payments matching f, newest first.
	ListPayments(ctx context.Context, f PaymentFilter) ([]*Payment, string, error)
	// UpdatePayment writes every field of p except ID, Account, OutTradeNo and CreatedAt to the
	// row with p.ID, and sets UpdatedAt to now (written back into p). Callers first
	// LockPayment in the same Tx. ENOTFOUND when there is no such payment.
	UpdatePayment(ctx context.Context, p *Payment) error

	// InsertRefund inserts r (see InsertPayment for ids and times). ECONFLICT when the id or
	// (account, out_refund_no) exists; ENOTFOUND when the payment does not. It does not check
	// amounts: the caller reserves them in one Tx with LockPayment, SumRefunds,
	// core.CheckRefund, InsertRefund and UpdatePayment (ReserveRefund does exactly that).
	InsertRefund(ctx context.Context, r *Refund) error
	// GetRefund reads a refund by id without locking it.
	GetRefund(ctx context.Context, id string) (*Refund, error)
	// GetRefundByOutRefundNo reads a refund by (account, out_refund_no) without locking it.
	GetRefundByOutRefundNo(ctx context.Context, account, outRefundNo string) (*Refund, error)
	// ListRefunds lists refunds matching f, newest first.
	ListRefunds(ctx context.Context, f RefundFilter) ([]*Refund, string, error)
	// UpdateRefund writes every field of r except ID, PaymentID, Account, OutRefundNo, Amount and
	// CreatedAt, and sets UpdatedAt to now. ENOTFOUND when there is no such refund.
	UpdateRefund(ctx context.Context, r *Refund) error
	// SumRefunds totals the refunds of a payment by status. Inside a Tx after LockPayment the
	// totals cannot change until the Tx ends.
	SumRefunds(ctx context.Context, paymentID string) (RefundTotals, error)

	// ReserveIdempotencyKey inserts k (State in_progress, held by k.Owner until k.LockedUntil)
	// unless (k.Scope, k.Key) already exists and has not expired (ExpiresAt > k.CreatedAt); an
	// expired row is replaced. An in_progress row with k's RequestHash whose lease has run out
	// (LockedUntil <= k.CreatedAt or unset: its holder died or let go) is taken over: Owner and
	// LockedUntil become k's, everything else (ResourceID above all) is kept. It returns the row
	// now stored and reserved == true when this caller holds it (a new key, or a takeover: then
	// ResourceID says what the first request already committed), or the existing row and
	// reserved == false: the caller answers 422 when its RequestHash differs from k's, 409 when
	// it is in_progress, and otherwise replays its stored response. Of concurrent calls with one
	// key at most one gets reserved == true. k.CreatedAt defaults to now, k.ExpiresAt to
	// CreatedAt + DefaultIdempotencyTTL and k.LockedUntil to CreatedAt + DefaultIdempotencyLease;
	// k.Owner is required.
	ReserveIdempotencyKey(ctx context.Context, k *IdempotencyKey) (stored *IdempotencyKey, reserved bool, err error)
	// BindIdempotencyKey records that the request holding key (owner) committed an effect on
	// resource id. Call it in the Tx that commits that effect (the payment's insert, the refund's
	// reservation), so that the effect and its key commit together: a key bound to a resource
	// is never released (see ReleaseIdempotencyKey), and a retry answers about that resource.
	// ECONFLICT when owner no longer holds the key (it was taken over) or the key is bound
	// already; the caller's Tx must then roll back.
	BindIdempotencyKey(ctx context.Context, scope, key, owner, resourceID string) error
	// ReleaseIdempotencyKey ends owner's hold on a key whose request failed: a key bound to no
	// resource (the request committed nothing) is deleted, so the client may retry it as new; a
	// key bound to a resource is kept, only its lease ends, so that a retry resumes at once and
	// answers about that resource. A key owner no longer holds, or that is done, is left alone.
	ReleaseIdempotencyKey(ctx context.Context, scope, key, owner string) error
	// GetIdempotencyKey reads a key (expired or not).
	GetIdempotencyKey(ctx context.Context, scope, key string) (*IdempotencyKey, error)
	// CompleteIdempotencyKey stores the response of the request that reserved the key and sets
	// its State to done. Call it in the Tx that commits the request's effect, so that the effect
	// and its replayable response commit together. ENOTFOUND when the key does not exist.
	CompleteIdempotencyKey(ctx context.Context, scope, key string, resp StoredResponse) error
	// DeleteIdempotencyKey forgets a key whatever its state (tests, maintenance). A request that
	// failed uses ReleaseIdempotencyKey, which never forgets a key bound to an effect. Deleting
	// a missing key is not an error.
	DeleteIdempotencyKey(ctx context.Context, scope, key string) error

	// InsertNotification stores a raw notification. Called on a Store it has committed durably
	// (fsync) when it returns, before any plugin code runs. n.ID must be set; Status defaults to
	// received and ReceivedAt to now.
	InsertNotification(ctx context.Context, n *Notification) error
	// GetNotification reads a notification by id.
	GetNotification(ctx context.Context, id string) (*Notification, error)
	// FindNotificationByDedupeKey returns the notification of account with dedupeKey that had
	// an effect (status processed, unmatched or flagged), or ENOTFOUND.
	FindNotificationByDedupeKey(ctx context.Context, account, dedupeKey string) (*Notification, error)
	// UpdateNotification writes Status, DedupeKey, Reason, PaymentID, RefundID and sets
	// UpdatedAt. A dedupe key is unique per account among notifications whose status is
	// processed, unmatched or flagged: setting one of those statuses with a dedupe key another
	// such notification already has is ECONFLICT. Do it first in the Tx that applies the
	// notification's effects, so that a duplicate rolls back before any effect; then record the
	// notification as duplicate in its own call. ENOTFOUND when there is no such notification.
	UpdateNotification(ctx context.Context, n *Notification) error
	// UpdateNotificationOutcome writes Reason, PaymentID and RefundID and sets UpdatedAt,
	// leaving Status and DedupeKey as stored: the second write of an intake Tx whose first
	// UpdateNotification already claimed the dedupe key with the final status. It touches no
	// index (the full UpdateNotification rewrites the status and dedupe key index entries).
	// ENOTFOUND when there is no such notification.
	UpdateNotificationOutcome(ctx context.Context, n *Notification) error
	// ListNotifications lists notifications matching f, newest first. Bodies are included.
	ListNotifications(ctx context.Context, f NotificationFilter) ([]*Notification, string, error)

	// InsertEvent inserts an outbox event. e.ID, Type and Payload must be set; Status defaults to
	// pending, CreatedAt to now and NextAttemptAt to CreatedAt. ECONFLICT when the id exists.
	InsertEvent(ctx context.Context, e *Event) error
	// GetEvent reads an event by id.
	GetEvent(ctx context.Context, id string) (*Event, error)
	// ListEvents lists events matching f, newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// MarkEventDelivered sets status delivered, DeliveredAt = at and clears the lease.
	MarkEventDelivered(ctx context.Context, id string, at time.Time) error
	// ScheduleEventRetry records a failed attempt: LastError = lastErr, NextAttemptAt = next,
	// status stays pending. Attempts was already counted by ClaimDueEvents.
	ScheduleEventRetry(ctx context.Context, id, lastErr string, next time.Time) error
	// SetEventDeliveredTo records the names of the webhook endpoints that have acknowledged the
	// event (the whole list, replacing the previous one), so that a retry skips them.
	SetEventDeliveredTo(ctx context.Context, id string, endpoints []string) error
	// MarkEventFailed gives up on an event: status failed, LastError = lastErr. It is kept and
	// can be redelivered.
	MarkEventFailed(ctx context.Context, id, lastErr string) error
	// RedeliverEvent puts an event (in any status) back to pending, due at now, with Attempts
	// reset to 0 and DeliveredTo emptied (every endpoint gets it again), and returns it. DeliveredAt and LastError are kept for the record.
	RedeliverEvent(ctx context.Context, id string, now time.Time) (*Event, error)
}

// DefaultIdempotencyTTL is how long an idempotency key is kept when the caller does not say.
const DefaultIdempotencyTTL = 24 * time.Hour

// DefaultIdempotencyLease is how long a request holds its in_progress key when the caller does
// not say: a retry may take the key over after that (the holder died).
const DefaultIdempotencyLease = 10 * time.Second

// MaxPageSize bounds every list; a Limit of 0 means DefaultPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Payment is one payment as the host keeps it.
type Payment struct {
	ID          string             // "pay_..." (host-generated)
	Account     string             // the merchant account (config accounts key)
	Region      string             // e.g. "HK"
	Method      string             // e.g. "alipayhk"
	Channel     core.Channel       // app, h5 or web
	OutTradeNo  string             // host-chosen, unique per account; the provider's order key
	Reference   string             // the merchant's own reference; indexed, not unique
	Amount      core.Money         // what the buyer is asked to pay
	Status      core.PaymentStatus //
	Subject     string             //
	Description string             //
	ReturnURL   string             //
	Extras      map[string]string  // provider_extras, passed through
	Metadata    map[string]string  // the merchant's own key/value pairs; fixed at insert
	ProviderRef string             // the wallet's trade_no, once known
	NextAction  *core.NextAction   // the client action; nil until CreatePayment returned
	Wallet      string             // the wallet used, when a notification says (e.g. ALIPAYHK)
	FailureCode string             // the provider's reason when failed or closed, if any

	// AmountRefunded and AmountReserved are in minor units of Amount.Currency and maintained by
	// the host under LockPayment: Refunded sums succeeded refunds, Reserved sums refunds not
	// failed (pending, processing, succeeded). SumRefunds is the authoritative source.
	AmountRefunded int64
	AmountReserved int64
	Flags          []string // e.g. FlagAmountMismatch; order kept, duplicates are the caller's business
	// ClientResult is the latest result the app reported from the wallet SDK; nil: none yet.
	ClientResult *ClientResultHint

	ExpiresAt     time.Time // when an unpaid payment is closed; zero: never
	PaidAt        time.Time // zero until succeeded
	NextQueryAt   time.Time // when the janitor should query next; zero: not scheduled
	QueryAttempts int       // janitor queries so far (counted by ClaimDuePayments)
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ClientResultHint is what the wallet SDK's synchronous result suggested, as the provider judged
// it. It is a hint, never proof: it never changes a payment's status.
type ClientResultHint struct {
	Verified bool               // the provider verified the result (e.g. its signature)
	Status   core.PaymentStatus // the status the result suggests
	At       time.Time          // when it was reported
}

// FlagAmountMismatch marks a payment whose notification reported another amount or currency.
const FlagAmountMismatch = "amount_mismatch"

// HasFlag reports whether p carries flag.
func (p *Payment) HasFlag(flag string) bool {
	for _, f := range p.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// PaymentFilter selects payments for ListPayments. Empty fields do not filter. The time range
// is half-open on CreatedAt: From <= created_at < To. Accounts and Regions, when not nil, limit
// the list to those values (an empty, non-nil list matches nothing): an API key's scope.
type PaymentFilter struct {
	Account     string
	Accounts    []string
	Region      string
	Regions     []string
	Method      string
	Reference   string
	OutTradeNos []string // at most MaxPageSize
	Status      core.PaymentStatus
	From, To    time.Time
	Limit       int
	Cursor      string
}

// Refund is one refund of a payment.
type Refund struct {
	ID            string // "rf_..." (host-generated)
	PaymentID     string
	Account       string
	OutRefundNo   string // host-chosen, unique per account; the gateway's idempotency key
	Amount        core.Money
	Status        core.RefundStatus
	Reason        string
	Metadata      map[string]string // the merchant's own key/value pairs; fixed at insert
	ProviderRef   string
	FailureCode   string
	NextQueryAt   time.Time // when the janitor should query next; zero: not scheduled
	QueryAttempts int       // counted by ClaimDueRefunds
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// NeedsAttention marks a refund whose outcome paymux could not learn (e.g. the gateway
	// declined a re-send after an unknown first outcome): it stays pending, its amount stays
	// reserved, until an operator settles it. AttentionReason says why.
	NeedsAttention  bool
	AttentionReason string
	// FlaggedAt is when the refund entered the attention queue; zero while NeedsAttention is
	// false. The store keeps it: InsertRefund and UpdateRefund set it (to the row's UpdatedAt)
	// when NeedsAttention is true and it is zero, and clear it when NeedsAttention is false, so a
	// later write to a flagged refund keeps the time it was flagged.
	FlaggedAt time.Time
	// SettleReason, SettledBy (the API key id) and SettledAt record an operator's settlement.
	SettleReason string
	SettledBy    string
	SettledAt    time.Time
}

// RefundFilter selects refunds for ListRefunds; empty fields do not filter; From <= created_at < To.
type RefundFilter struct {
	PaymentID    string
	Account      string
	OutRefundNos []string // at most MaxPageSize
	Status       core.RefundStatus
	// NeedsAttention, when true, selects only refunds that need an operator.
	NeedsAttention bool
	From, To       time.Time
	Limit          int
	Cursor         string
}

// RefundTotals are a payment's refunds summed by status, in minor units.
type RefundTotals struct {
	Pending   int64 // pending and processing: reserved, outcome not final
	Succeeded int64
	Failed    int64
	Count     int // refunds in any status
	Active    int // refunds not failed
}

// Committed is what new refunds must leave room for: everything not failed.
func (t RefundTotals) Committed() int64 { return t.Pending + t.Succeeded }

// IdempotencyState is the state of an idempotency key.
type IdempotencyState string

const (
	IdempotencyInProgress IdempotencyState = "in_progress"
	IdempotencyDone       IdempotencyState = "done"
)

// IdempotencyKey is one Idempotency-Key as the host saw it.
type IdempotencyKey struct {
	Scope       string // who and what, e.g. api key id + " POST /v1/payments"
	Key         string // the client's Idempotency-Key header
	RequestHash string // hash of the request body (and whatever else must match)
	State       IdempotencyState
	ResourceID  string         // the payment or refund the request committed (BindIdempotencyKey)
	Owner       string         // the request holding an in_progress key (a random token)
	LockedUntil time.Time      // the holder's lease; a retry may take the key over after it
	Response    StoredResponse // set when State is done
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// StoredResponse is the response replayed byte for byte for a repeated request.
type StoredResponse struct {
	Status     int
	Header     http.Header // only the headers that must be replayed (Content-Type, Location, ...)
	Body       []byte
	ResourceID string // optional: overrides IdempotencyKey.ResourceID when set
}

// NotificationStatus is what became of an inbox entry.
type NotificationStatus string

const (
	NotificationReceived  NotificationStatus = "received"  // stored, not yet parsed (or the host died while parsing)
	NotificationProcessed NotificationStatus = "processed" // verified and applied
	NotificationDuplicate NotificationStatus = "duplicate" // verified, already applied by another entry
	NotificationUnmatched NotificationStatus = "unmatched" // verified, no such payment or refund
	NotificationRejected  NotificationStatus = "rejected"  // failed verification
	NotificationFlagged   NotificationStatus = "flagged"   // verified, but e.g. the amount differs
	NotificationError     NotificationStatus = "error"     // the host could not decide (plugin down, ...)
)

// Effective reports whether a notification in status s had an effect, so that its dedupe key
// is taken.
func (s NotificationStatus) Effective() bool {
	return s == NotificationProcessed || s == NotificationUnmatched || s == NotificationFlagged
}

// Notification is one raw request to /notify/{account} and what became of it.
type Notification struct {
	ID         string // "ntf_..." (host-generated)
	Account    string
	Method     string // HTTP method
	Header     http.Header
	Query      string // raw URL query
	Body       []byte
	RemoteAddr string
	ReceivedAt time.Time

	Status    NotificationStatus
	DedupeKey string // from the provider, once verified
	Reason    string // why rejected, flagged, unmatched or error
	PaymentID string // the payment it concerned, when matched
	RefundID  string // the refund it concerned, when matched
	UpdatedAt time.Time
}

// NotificationFilter selects notifications; empty fields do not filter. Accounts, when not nil,
// limits the list to those accounts (empty: nothing).
type NotificationFilter struct {
	Account  string
	Accounts []string
	Status   NotificationStatus
	Limit    int
	Cursor   string
}

// EventStatus is the delivery state of an outbox event.
type EventStatus string

const (
	EventPending   EventStatus = "pending"
	EventDelivered EventStatus = "delivered"
	EventFailed    EventStatus = "failed" // given up; can be redelivered
)

// Event types the host emits. The store accepts any non-empty type.
const (
	EventPaymentSucceeded      = "payment.succeeded"
	EventPaymentClosed         = "payment.closed"
	EventPaymentFailed         = "payment.failed"
	EventPaymentAmountMismatch = "payment.amount_mismatch"
	EventRefundSucceeded       = "refund.succeeded"
	EventRefundFailed          = "refund.failed"
	EventRefundNeedsAttention  = "refund.needs_attention"
	EventNotificationUnmatched = "notification.unmatched"
)

// Event is one outbox entry: a fact for the merchant's webhook, written in the transaction of
// the state change it reports.
type Event struct {
	ID        string          // "evt_..." (host-generated, stable across redeliveries)
	Type      string          // e.g. EventPaymentSucceeded
	Account   string          // optional
	Region    string          // the region of the payment it is about; optional
	Actor     string          // the name of the API key whose request caused it; optional
	PaymentID string          // optional
	RefundID  string          // optional
	Payload   json.RawMessage // the webhook body's data, valid JSON
	CreatedAt time.Time

	Status        EventStatus
	Attempts      int       // delivery attempts so far (counted by ClaimDueEvents)
	NextAttemptAt time.Time // due time while pending (a lease while claimed)
	LastAttemptAt time.Time
	LastError     string
	DeliveredAt   time.Time
	DeliveredTo   []string // webhook endpoints that acknowledged it (see SetEventDeliveredTo)
}

// EventFilter selects events; empty fields do not filter. Accounts and Regions, when not nil,
// limit the list to those values (an empty, non-nil list matches nothing).
type EventFilter struct {
	Accounts  []string
	Regions   []string
	Type      string
	PaymentID string
	Status    EventStatus
	Limit     int
	Cursor    string
}

// NewID returns prefix followed by 26 random base32 characters (130 bits), e.g.
// NewID("pay_"). Ids are lower case so they read well in URLs.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error()) // never happens on supported systems
	}
	return prefix + idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
