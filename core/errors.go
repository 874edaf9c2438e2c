package core

import (
	"errors"
	"fmt"
)

// Error codes shared by the host and every provider. They are stable: the REST API returns them
// as `error.code`, and they cross the plugin boundary unchanged. Only host/httpapi maps them to
// HTTP status codes.
const (
	EINVALID      = "invalid"              // the request is malformed or breaks a rule
	ENOTFOUND     = "not_found"            // no such payment, refund, account, ...
	ECONFLICT     = "conflict"             // the request conflicts with current state
	EUNAUTHORIZED = "unauthorized"         // missing or wrong credentials, bad signature
	EDECLINED     = "declined"             // the provider refused the operation for a business reason it knows (an unknown gateway code is EUNKNOWN)
	EUNAVAILABLE  = "provider_unavailable" // the provider could not be reached; nothing happened
	EUNKNOWN      = "outcome_unknown"      // the request may or may not have taken effect: query later
	EUNSUPPORTED  = "unsupported"          // the provider does not offer this ability
	ECONFIG       = "config"               // account settings or keys are wrong
	EINTERNAL     = "internal"             // a bug or an unexpected failure
)

// Error is the one error type that carries a code. Message is safe to show to API callers;
// Err (if any) holds internal detail for logs and is never shown.
type Error struct {
	Code         string
	Message      string
	ProviderCode string // the gateway's own code, e.g. RETURN_AMOUNT_EXCEED, when there is one
	// Param names the request field at fault (e.g. "amount.currency", "metadata.order"), when
	// one field is; the REST API returns it as the error's "param".
	Param string
	Err   error
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.ProviderCode != "" {
		s += " (" + e.ProviderCode + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, caller-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message that keeps err for logs.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err; internal errors get a generic message so
// that no detail (a path, a key, a gateway body) leaks to API callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ProviderCode returns the gateway's own error code carried by err, if any.
func ProviderCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.ProviderCode
	}
	return ""
}

// ParamErrorf is Errorf for an error about one request field, named by param.
func ParamErrorf(code, param, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Param: param}
}

// ErrorParam returns the request field the first *Error in err's chain names, if any.
func ErrorParam(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Param
	}
	return ""
}
