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

// resumeHandler answers a retry whose key is bound to resourceID (the payment or refund the
// first request committed) from the store: the resource as it is now, and whether that is final
// (then the answer is stored and replayed from then on).
type resumeHandler func(r *http.Request, resourceID string) (v any, final bool, err error)

// idempotent wraps a POST that has an effect and answers status on success. Without an
// Idempotency-Key it simply runs. With one, scoped to the caller's API key and the route:
//   - first use: the request holds the key for a short lease and runs; the transaction that
//     commits its first effect (a payment row, a refund reservation) binds the key to that
//     resource (host.WithBinding), and its answer is stored with the key in the transaction
//     that commits its final effect (host.WithCompletion);
//   - same key, same body, finished: the stored answer is replayed byte for byte;
//   - same key, other body: 422 idempotency_key_reused;
//   - same key while the first request still holds it: 409 idempotency_key_in_use;
//   - same key after the first request failed or died (its lease ended) with its effect
//     committed: the retry takes the key over and answers about that same resource, as the
//     store holds it now (resume; a refund whose outcome is unknown is pending), never making
//     another; nothing is sent to the provider;
//   - same key after the first request committed nothing (an error, or a host that died
//     before its first effect): the retry runs as a new request.
//
// Errors are not stored. A request that fails releases its key (releaseKey): only a key bound
// to no effect is freed.
func (a *API) idempotent(status int, h bodyHandler, resume resumeHandler) http.HandlerFunc {
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
		owner := store.NewID("lease_")
		k := &store.IdempotencyKey{
			Scope: scope, Key: key, RequestHash: hex.EncodeToString(sum[:]), State: store.IdempotencyInProgress,
			Owner: owner, CreatedAt: now, ExpiresAt: now.Add(time.Duration(a.idemTTL.Load())),
			LockedUntil: now.Add(time.Duration(a.idemLease.Load())),
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
		if stored.ResourceID != "" && resume != nil {
			a.resume(w, r, status, header, stored, owner, resume)
			return
		}
		if !stored.CreatedAt.Equal(k.CreatedAt) {
			a.log.Info("took over an idempotency key whose request committed nothing", "request_id", RequestID(ctx))
		}
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
		binding := func(ctx context.Context, tx store.Queries, resourceID string) error {
			return tx.BindIdempotencyKey(ctx, scope, key, owner, resourceID)
		}
		hctx := host.WithBinding(host.WithCompletion(ctx, completion), binding)
		v, herr := h(r.WithContext(hctx), body)
		if herr != nil {
			a.releaseKey(ctx, scope, key, owner)
			a.fail(w, r, herr)
			return
		}
		out := committed
		if out == nil {
			// The request had no effect to commit (e.g. closing a closed payment): store the
			// answer on its own.
			if out, err = marshal(v); err != nil {
				a.releaseKey(ctx, scope, key, owner)
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

// releaseKey ends this request's hold on its key after a failure. The store frees the key only
// when it is bound to no resource (store.ReleaseIdempotencyKey): a key whose request committed
// an effect is never released, only its lease ends, so that a retry resumes at once. When even
// that fails (the store is down), the lease runs out by itself.
func (a *API) releaseKey(ctx context.Context, scope, key, owner string) {
	if err := a.svc.Store().ReleaseIdempotencyKey(context.WithoutCancel(ctx), scope, key, owner); err != nil {
		a.log.Error("releasing an idempotency key failed; a retry may take it over when its lease ends",
			"request_id", RequestID(ctx), "error", err)
	}
}

// resume answers a retry that took over a key bound to a resource: the resource as the store
// holds it now. A final state is stored as the key's answer; otherwise the key's lease ends so
// that the next retry reads the resource again.
func (a *API) resume(w http.ResponseWriter, r *http.Request, status int, header http.Header, k *store.IdempotencyKey, owner string, resume resumeHandler) {
	ctx := r.Context()
	a.log.Info("answering a retry about the resource its Idempotency-Key is bound to", "request_id", RequestID(ctx),
		"resource_id", k.ResourceID)
	v, final, err := resume(r, k.ResourceID)
	if err != nil {
		a.releaseKey(ctx, k.Scope, k.Key, owner)
		a.fail(w, r, err)
		return
	}
	out, err := marshal(v)
	if err != nil {
		a.releaseKey(ctx, k.Scope, k.Key, owner)
		a.fail(w, r, err)
		return
	}
	if final {
		resp := store.StoredResponse{Status: status, Header: header, Body: out}
		if err := a.svc.Store().CompleteIdempotencyKey(context.WithoutCancel(ctx), k.Scope, k.Key, resp); err != nil {
			a.log.Error("storing an idempotent response failed", "request_id", RequestID(ctx), "error", err)
		}
	} else {
		a.releaseKey(ctx, k.Scope, k.Key, owner)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	writeRaw(w, status, "application/json", out)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
