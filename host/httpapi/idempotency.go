package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// bodyHandler handles a request whose body has been read, and returns the resource to answer
// with.
type bodyHandler func(r *http.Request, body []byte) (v any, err error)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotent wraps a POST that has an effect and answers status on success. Without an
// Idempotency-Key it simply runs. With one, scoped to the caller's API key and the route:
//   - first use: the request runs, and its answer is stored with the key in the transaction that
//     commits its effect (see host.WithCompletion), so that no crash can leave an effect
//     without its replayable answer;
//   - same key, same body, finished: the stored answer is replayed byte for byte;
//   - same key, other body: 422 idempotency_key_reused;
//   - same key while the first request still runs: 409 idempotency_key_in_use.
//
// Errors are not stored: the service has no effect when it returns an error (a refund whose
// outcome is unknown is a 201 with a pending refund), so the client may retry with the same key.
func (a *API) idempotent(status int, h bodyHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := a.readBody(w, r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			v, err := h(r, body)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			a.writeJSON(w, r, status, v)
			return
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			a.fail(w, r, core.Errorf(core.EINVALID, "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdempotencyKey))
			return
		}
		ctx := r.Context()
		st := a.svc.Store()
		scope := callerKeyID(ctx) + " " + r.Method + " " + r.URL.Path
		sum := sha256.Sum256(body)
		now := time.Now()
		k := &store.IdempotencyKey{
			Scope: scope, Key: key, RequestHash: hex.EncodeToString(sum[:]), State: store.IdempotencyInProgress,
			CreatedAt: now, ExpiresAt: now.Add(time.Duration(a.idemTTL.Load())),
		}
		stored, reserved, err := st.ReserveIdempotencyKey(ctx, k)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !reserved {
			switch {
			case stored.RequestHash != k.RequestHash:
				a.fail(w, r, apiError(codeIdempotencyReused, "this Idempotency-Key was used with a different request"))
			case stored.State != store.IdempotencyDone:
				a.fail(w, r, apiError(codeIdempotencyInUse, "a request with this Idempotency-Key is still being processed; retry later"))
			default:
				for name, vals := range stored.Response.Header {
					w.Header()[name] = vals
				}
				w.Header().Set("Idempotent-Replayed", "true")
				writeRaw(w, stored.Response.Status, "", stored.Response.Body)
			}
			return
		}
		header := http.Header{"Content-Type": {"application/json"}}
		var committed []byte // the answer stored inside the effect's transaction
		completion := func(ctx context.Context, tx store.Queries, v any) error {
			b, err := marshal(v)
			if err != nil {
				return err
			}
			if err := tx.CompleteIdempotencyKey(ctx, scope, key, store.StoredResponse{Status: status, Header: header, Body: b}); err != nil {
				return err
			}
			committed = b
			return nil
		}
		v, herr := h(r.WithContext(host.WithCompletion(ctx, completion)), body)
		if herr != nil {
			// Nothing took effect: forget the key so that the client can retry with it.
			if err := st.DeleteIdempotencyKey(context.WithoutCancel(ctx), scope, key); err != nil {
				a.log.Error("releasing an idempotency key failed", "request_id", RequestID(ctx), "error", err)
			}
			a.fail(w, r, herr)
			return
		}
		out := committed
		if out == nil {
			// The request had no effect to commit (e.g. closing a closed payment): store the
			// answer on its own.
			if out, err = marshal(v); err != nil {
				a.fail(w, r, err)
				return
			}
			resp := store.StoredResponse{Status: status, Header: header, Body: out}
			if err := st.CompleteIdempotencyKey(context.WithoutCancel(ctx), scope, key, resp); err != nil {
				a.log.Error("storing an idempotent response failed", "request_id", RequestID(ctx), "error", err)
			}
		}
		writeRaw(w, status, "application/json", out)
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
