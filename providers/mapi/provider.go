package mapi

import (
	"sync"
	"time"

	"github.com/paymux/paymux/core"
)

// DefaultPaymentExpiry is how long an unpaid payment lives when neither the request nor the
// account sets an expiry: 30m, the it_b_pay the protocol pages use throughout (alipayhk.md 5.1,
// alipay-crossborder.md 4.2). Both products declare it in Describe.
const DefaultPaymentExpiry = 30 * time.Minute

// Capabilities returns what both mapi payment products offer: query (single_trade_query),
// refunds that may be partial and repeated (forex_refund with out_return_no), settlement
// records, and a checkable SDK client result. Neither declares close: the SDK product has no
// close service (alipayhk.md 11) and the cross-border provider does not offer one. Both declare
// local_create: their CreatePayment only signs the SDK order string or the cashier URL, with no
// gateway call, so the host may store the payment and its client action in one transaction.
func Capabilities() []core.Capability {
	return []core.Capability{
		core.CapQuery, core.CapRefund, core.CapPartialRefund, core.CapMultipleRefund,
		core.CapSettlement, core.CapClientResult, core.CapLocalCreate,
	}
}

// Accounts holds a provider's configured merchant accounts, safe for concurrent use: Configure
// replaces an account whole (Set), every other call looks it up (Get) and keeps using the value
// it got, so a reconfiguration never changes settings under a call in flight. The zero value is
// ready to use.
type Accounts[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Get returns the account's configuration, or ECONFIG naming the account and the provider.
func (a *Accounts[T]) Get(provider, name string) (T, error) {
	a.mu.RLock()
	v, ok := a.m[name]
	a.mu.RUnlock()
	if !ok {
		var zero T
		return zero, core.Errorf(core.ECONFIG, "account %q is not configured for provider %s", name, provider)
	}
	return v, nil
}

// Set stores (or replaces) the account's configuration.
func (a *Accounts[T]) Set(name string, v T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]T{}
	}
	a.m[name] = v
}
