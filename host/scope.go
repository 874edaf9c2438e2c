package host

import (
	"context"
	"slices"

	"github.com/paymux/paymux/core"
)

// Caller is who made an API request: the API key's id and name and what it may see. A key is an
// administrator (every account, every region) or scoped:
//   - Accounts, when not nil, limits it to payments, refunds, events, inbox entries and
//     reconciliations of those accounts;
//   - Regions, when not nil, limits it to payments (and their refunds and events) in those
//     regions; both given, both apply. Records that belong to an account but to no region (the
//     notification inbox, reconciliations, notification.unmatched events) are visible only to
//     keys without Regions, since an account may serve regions the key does not cover.
//
// Whatever a scoped key may not see does not exist for it: the service answers ENOTFOUND with
// the same message as for an id that does not exist. ReadOnly is enforced by host/httpapi (any
// request other than GET and HEAD is refused).
type Caller struct {
	KeyID    string // stable and not secret: "key_<12 hex>"
	KeyName  string // the configured name, or KeyID
	Admin    bool
	Accounts []string
	Regions  []string
	ReadOnly bool
}

const ctxCaller ctxKey = 2

// WithCaller returns ctx carrying the API caller. host/httpapi sets it on every authenticated
// request; a ctx without one (the janitor, the dispatcher, the CLI) acts as an administrator.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, ctxCaller, c)
}

// CallerFrom returns the caller of ctx, nil when there is none.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(ctxCaller).(*Caller)
	return c
}

// unrestricted reports whether c sees everything.
func (c *Caller) unrestricted() bool { return c == nil || c.Admin }

// seesAccount reports whether c may see account.
func (c *Caller) seesAccount(account string) bool {
	return c.unrestricted() || c.Accounts == nil || slices.Contains(c.Accounts, account)
}

// sees reports whether c may see an object of account in region; region "" is an object of
// the account as a whole (see Caller).
func (c *Caller) sees(account, region string) bool {
	if c.unrestricted() {
		return true
	}
	if !c.seesAccount(account) {
		return false
	}
	if c.Regions == nil {
		return true
	}
	return region != "" && slices.Contains(c.Regions, region)
}

// accountLevel reports whether c may see records that belong to account but to no region.
func (c *Caller) accountLevel(account string) bool { return c.sees(account, "") }

// accountsFilter is the store filter for c's accounts: nil for every account.
func (c *Caller) accountsFilter() []string {
	if c.unrestricted() || c.Accounts == nil {
		return nil
	}
	return slices.Clone(c.Accounts)
}

// regionsFilter is the store filter for c's regions: nil for every region.
func (c *Caller) regionsFilter() []string {
	if c.unrestricted() || c.Regions == nil {
		return nil
	}
	return slices.Clone(c.Regions)
}

// actor is the name recorded on the events a request causes.
func (c *Caller) actor() string {
	if c == nil {
		return ""
	}
	return c.KeyName
}

// paymentNotFound is the answer for a payment that does not exist or that the caller may not see.
func paymentNotFound(id string) error { return core.Errorf(core.ENOTFOUND, "payment %s not found", id) }
