package sdk

import (
	"context"
	"errors"

	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcCodes mirrors each core code onto the nearest gRPC code. The mirror is coarse on purpose:
// the exact core code always travels in the status detail (pb.Error), and only tools that do
// not know that message ever look at the gRPC code alone.
var grpcCodes = map[string]codes.Code{
	core.EINVALID:      codes.InvalidArgument,
	core.ENOTFOUND:     codes.NotFound,
	core.ECONFLICT:     codes.FailedPrecondition,
	core.EUNAUTHORIZED: codes.Unauthenticated,
	core.EDECLINED:     codes.PermissionDenied,
	core.EUNAVAILABLE:  codes.Unavailable,
	core.EUNKNOWN:      codes.Unknown,
	core.EUNSUPPORTED:  codes.Unimplemented,
	core.ECONFIG:       codes.FailedPrecondition,
	core.EINTERNAL:     codes.Internal,
}

// GRPCCode returns the gRPC status code a core error code travels under.
func GRPCCode(coreCode string) codes.Code {
	if c, ok := grpcCodes[coreCode]; ok {
		return c
	}
	return codes.Unknown
}

// toStatus turns a provider's error into a gRPC status error carrying the exact core code,
// message, provider code and param. Internal detail (core.Error.Err, or any non-core error) never
// crosses: the caller logs it on the plugin side, where it was produced.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var ce *core.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return status.FromContextError(err).Err()
		}
		ce = &core.Error{Code: core.EINTERNAL, Message: "internal error"}
	}
	st := status.New(GRPCCode(ce.Code), ce.Message)
	if withDetail, derr := st.WithDetails(&pb.Error{Code: ce.Code, Message: ce.Message, ProviderCode: ce.ProviderCode, Param: ce.Param}); derr == nil {
		st = withDetail
	}
	return st.Err()
}

// boundaryError marks a failure of the boundary itself (plugin gone, deadline, transport,
// oversized message) as opposed to an error the provider returned.
type boundaryError struct{ err error }

func (e *boundaryError) Error() string { return e.err.Error() }
func (e *boundaryError) Unwrap() error { return e.err }

// IsBoundaryError reports whether err is a failure of the plugin boundary (the plugin process
// died or hung, the transport failed, a message was too large) rather than an error the
// provider itself returned. A supervisor retries only these, and only for calls safe to repeat.
func IsBoundaryError(err error) bool {
	var b *boundaryError
	return errors.As(err, &b)
}

// fromStatus turns an error from a gRPC call into a *core.Error. A status with a pb.Error
// detail gives back the provider's error exactly. Anything else is a failure of the boundary
// itself; whether the call may have taken effect decides between EUNAVAILABLE (nothing
// happened, or the call has no effect: safe is true) and EUNKNOWN (a state-changing call that
// may have reached the gateway before the plugin died or the deadline passed).
func fromStatus(method string, safe bool, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if ok {
		for _, d := range st.Details() {
			if e, ok := d.(*pb.Error); ok {
				return &core.Error{Code: e.GetCode(), Message: e.GetMessage(), ProviderCode: e.GetProviderCode(), Param: e.GetParam()}
			}
		}
	}
	err = &boundaryError{err: err}
	if !ok {
		return core.WrapError(core.EINTERNAL, err, "plugin call %s failed", method)
	}
	transient := core.EUNKNOWN
	if safe {
		transient = core.EUNAVAILABLE
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		return core.WrapError(transient, err, "plugin call %s did not finish before its deadline", method)
	case codes.Canceled:
		return core.WrapError(transient, err, "plugin call %s was cancelled", method)
	case codes.Unavailable:
		return core.WrapError(transient, err, "plugin is unavailable (%s)", method)
	case codes.ResourceExhausted:
		// Either side refuses a message over MaxMessageSize with this code; fail tells them
		// apart by the size of the request.
		return core.WrapError(core.EINTERNAL, err, "plugin call %s: the plugin's answer exceeds the %d MiB message limit of the plugin boundary", method, MaxMessageSize>>20)
	case codes.Unimplemented:
		return core.WrapError(core.EUNSUPPORTED, err, "the plugin does not implement %s", method)
	default:
		return core.WrapError(core.EINTERNAL, err, "plugin call %s failed", method)
	}
}
