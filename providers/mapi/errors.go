package mapi

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/paymux/paymux/core"
)

// errorKinds maps the gateway's error codes (the <error> of an is_success=F answer, and
// refund_error_code) to core error kinds. Key and signature problems are the account's
// configuration; permission problems are authorisation; business refusals are declines.
var errorKinds = map[string]string{
	// our keys or account set-up are wrong
	"ILLEGAL_SIGN":             core.ECONFIG,
	"ILLEGAL_SIGN_TYPE":        core.ECONFIG,
	"ILLEGAL_PARTNER":          core.ECONFIG,
	"ILLEGAL_SERVICE":          core.ECONFIG,
	"ILLEGAL_CHARSET":          core.ECONFIG,
	"ILLEGAL_ENCODING":         core.ECONFIG,
	"ILLEGAL_DYN_MD5_KEY":      core.ECONFIG,
	"ILLEGAL_ENCRYPT":          core.ECONFIG,
	"ILLEGAL_SECURITY_PROFILE": core.ECONFIG,
	"ILLEGAL_DIGEST_TYPE":      core.ECONFIG,
	"ILLEGAL_DIGEST":           core.ECONFIG,
	"ILLEGAL_TARGET_SERVICE":   core.ECONFIG,
	"ILLEGAL_AGENT":            core.ECONFIG,
	// the account may not use this service or caller
	"ILLEGAL_PARTNER_EXTERFACE":    core.EUNAUTHORIZED,
	"ILLEGAL_EXTERFACE":            core.EUNAUTHORIZED,
	"HAS_NO_PRIVILEGE":             core.EUNAUTHORIZED,
	"HASH_NO_PRIVILEGE":            core.EUNAUTHORIZED,
	"EXTERFACE_IS_CLOSED":          core.EUNAUTHORIZED,
	"ILLEGAL_CLIENT_IP":            core.EUNAUTHORIZED,
	"ILLEGAL_EXTER_INVOKE_IP":      core.EUNAUTHORIZED,
	"ILLEGAL_REQUEST_REFERER":      core.EUNAUTHORIZED,
	"ILLEGAL_ACCESS_SWITCH_SYSTEM": core.EUNAUTHORIZED,
	"ILLEGAL_ANTI_PHISHING_KEY":    core.EUNAUTHORIZED,
	"ANTI_PHISHING_KEY_TIMEOUT":    core.EUNAUTHORIZED,
	"ACCESS_FORBIDDEN":             core.EUNAUTHORIZED,
	// the request breaks a rule
	"ILLEGAL_ARGUMENT":     core.EINVALID,
	"ILLEGAL_CURRENCY":     core.EINVALID,
	"ILLEGAL_TIMEOUT_RULE": core.EINVALID,
	"ILLEGAL_USER":         core.EINVALID,
	"ILLEGAL_FILE_FORMAT":  core.EINVALID,
	"CURRENCY_NOT_SAME":    core.EINVALID,
	// no such thing
	"TRADE_NOT_EXIST":          core.ENOTFOUND,
	"PURCHASE_TRADE_NOT_EXIST": core.ENOTFOUND,
	"REFUND_RECORD_NOT_EXIST":  core.ENOTFOUND,
	"NOT_FOUND":                core.ENOTFOUND,
	// business refusals
	"RETURN_AMOUNT_EXCEED":         core.EDECLINED,
	"REFUNDMENT_VALID_DATE_EXCEED": core.EDECLINED,
	"REFUND_INFO_NOT_SAME":         core.EDECLINED,
	"NOT_ALLOW_CANCEL_REFUND":      core.EDECLINED,
	"MERCHANT_BALANCE_NOT_ENOUGH":  core.EDECLINED,
	"TRADE_STATUS_ERROR":           core.EDECLINED,
	"TRADE_HAS_CLOSE":              core.EDECLINED,
	// the same refund number was used before: the host queries to learn which one stands
	"REPEATED_REFUNDMENT_REQUEST":              core.ECONFLICT,
	"REPEATED_REFUNDMENT_REQUEST_TO_ONE_TRADE": core.ECONFLICT,
	// Alipay could not say: the request may have taken effect
	"SYSTEM_EXCEPTION": core.EUNKNOWN,
	"SYSTEM_ERROR":     core.EUNKNOWN,
	"SESSION_TIMEOUT":  core.EUNKNOWN,
	"QUERY_FAILED":     core.EUNKNOWN,
	"UNKNOWN_ERROR":    core.EUNKNOWN,
}

// ErrorKind returns the core error kind of a gateway error code. A code nobody has catalogued is
// an unknown outcome (core.EUNKNOWN), never a decline: paymux cannot tell whether the gateway
// acted (a new system error, a code for "in progress"), and a decline would fail a refund and
// release its amount while the money may already have gone back. The host queries later; the
// code travels along for the operator. Add a code here once its meaning is known.
func ErrorKind(code string) string {
	if k, ok := errorKinds[code]; ok {
		return k
	}
	return core.EUNKNOWN
}

// GatewayError is the *core.Error for a gateway error code met while doing op (e.g.
// "forex_refund"). ProviderCode carries the code.
func GatewayError(op, code string) *core.Error {
	kind := ErrorKind(code)
	msg := op + " refused by the gateway"
	switch kind {
	case core.EUNKNOWN:
		msg = op + ": gateway could not say whether it took effect; query later"
	case core.ENOTFOUND:
		msg = op + ": the gateway knows no such trade or refund"
	case core.ECONFIG:
		msg = op + ": the gateway rejects the account's settings or keys"
	case core.EUNAUTHORIZED:
		msg = op + ": the account may not use this service"
	}
	return &core.Error{Code: kind, Message: msg, ProviderCode: code}
}

// TransportError classifies a failed HTTP exchange. A connection that was refused never reached
// the gateway (EUNAVAILABLE: nothing happened); anything later (timeouts, resets, a cancelled
// context mid-call) may have taken effect and is EUNKNOWN, never a failure.
func TransportError(op string, err error) *core.Error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return core.WrapError(core.EUNAVAILABLE, err, "%s: gateway unreachable", op)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return core.WrapError(core.EUNAVAILABLE, err, "%s: gateway host not found", op)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return core.WrapError(core.EUNKNOWN, err, "%s: gateway did not answer in time; query later", op)
	}
	return core.WrapError(core.EUNKNOWN, err, "%s: gateway exchange failed; query later", op)
}
