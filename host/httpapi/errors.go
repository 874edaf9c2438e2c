package httpapi

import (
	"net/http"

	"github.com/paymux/paymux/core"
)

// Error codes the API adds to core's. Every code is stable API.
const (
	codeIdempotencyReused = "idempotency_key_reused" // same key, different request: 422
	codeIdempotencyInUse  = "idempotency_key_in_use" // same key, first request still running: 409
	codeTooLarge          = "request_too_large"      // body over the limit: 413
	codeMethodNotAllowed  = "method_not_allowed"     // 405
	codeForbidden         = "forbidden"              // a read-only key asked for a change: 403
)

// statusOf is the one mapping from error codes to HTTP status codes.
func statusOf(code string) int {
	switch code {
	case core.EINVALID:
		return http.StatusBadRequest
	case core.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case core.ENOTFOUND:
		return http.StatusNotFound
	case core.ECONFLICT, codeIdempotencyInUse:
		return http.StatusConflict
	case core.EDECLINED:
		return http.StatusPaymentRequired
	case core.EUNSUPPORTED, codeIdempotencyReused:
		return http.StatusUnprocessableEntity
	case core.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case core.EUNKNOWN:
		return http.StatusGatewayTimeout
	case codeTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case codeForbidden:
		return http.StatusForbidden
	default: // config, internal and anything unexpected
		return http.StatusInternalServerError
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Param        string `json:"param,omitempty"`
	ProviderCode string `json:"provider_code,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
}

// errorJSON renders err as the API's error body. Internal detail never leaves: the message comes
// from core.ErrorMessage, which hides everything but an *core.Error's Message.
func errorJSON(err error, requestID string) (int, []byte) {
	code := core.ErrorCode(err)
	msg := core.ErrorMessage(err)
	if code == core.EINTERNAL || code == core.ECONFIG {
		msg = "internal error; quote the request id to the operator"
	}
	b, merr := marshal(errorBody{Error: errorDetail{
		Code: code, Message: msg, Param: core.ErrorParam(err), ProviderCode: core.ProviderCode(err), RequestID: requestID,
	}})
	if merr != nil {
		b = []byte(`{"error":{"code":"internal","message":"internal error; quote the request id to the operator"}}` + "\n")
	}
	return statusOf(code), b
}

// apiError builds an error with one of the API's own codes.
func apiError(code, msg string) error { return &core.Error{Code: code, Message: msg} }
