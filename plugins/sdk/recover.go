package sdk

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"github.com/paymux/paymux/core"
)

// panics counts the provider calls of this process that panicked and were recovered.
var panics atomic.Uint64

// Panics returns how many provider calls in this plugin process have panicked (and were
// answered with an internal error instead of taking the process down).
func Panics() uint64 { return panics.Load() }

// recoverCall turns a panic in a provider call into an internal error for that call alone.
// Without it, gRPC lets a handler's panic kill the plugin process, and with it every call in
// flight for every account the plugin serves. It must be deferred directly by the server
// method (recover only works there), with a pointer to the method's named error result.
//
// The log line carries the stack, which holds function names and argument words but no
// string contents. The panic value itself may quote anything the provider held (a key, a
// gateway answer), so the warning names only its type, or the runtime's own message for
// runtime errors (nil dereference, index out of range); the value goes to debug level only,
// like the detail of any other provider error (fail).
func (s *server) recoverCall(method string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	n := panics.Add(1)
	what := fmt.Sprintf("%T", v)
	if re, ok := v.(runtime.Error); ok {
		what = re.Error()
	}
	s.log.Error("provider call panicked; answered with an internal error, the plugin keeps serving",
		"method", method, "panic", what, "panics_total", n, "stack", string(debug.Stack()))
	if s.log.IsDebug() {
		s.log.Debug("provider call panicked: value", "method", method, "value", fmt.Sprint(v))
	}
	*err = toStatus(core.Errorf(core.EINTERNAL, "the provider panicked in %s (see the plugin's log)", method))
}
