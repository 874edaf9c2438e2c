package sqlbase

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

const idemCols = `0, scope, key, request_hash, state, resource_id, response_status, response_header,
response_body, created_at, expires_at, lease_owner, locked_until`

func scanIdem(r Rows) (*store.IdempotencyKey, int64, error) {
	var (
		k      store.IdempotencyKey
		zero   int64
		state  string
		header string
	)
	err := r.Scan(&zero, &k.Scope, &k.Key, &k.RequestHash, &state, &k.ResourceID, &k.Response.Status, &header,
		&k.Response.Body, tm(&k.CreatedAt), tm(&k.ExpiresAt), &k.Owner, tm(&k.LockedUntil))
	if err != nil {
		return nil, 0, err
	}
	k.State = store.IdempotencyState(state)
	if header != "" && header != "{}" {
		if err := json.Unmarshal([]byte(header), &k.Response.Header); err != nil {
			return nil, 0, fmt.Errorf("idempotency key header: %w", err)
		}
	}
	return &k, 0, nil
}

// ReserveIdempotencyKey implements store.Queries.
func (q Queries) ReserveIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) (*store.IdempotencyKey, bool, error) {
	if k.Scope == "" || k.Key == "" || k.Owner == "" {
		return nil, false, core.Errorf(core.EINVALID, "store: idempotency key needs scope, key and owner")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = Now()
	}
	k.CreatedAt = norm(k.CreatedAt)
	if k.ExpiresAt.IsZero() {
		k.ExpiresAt = k.CreatedAt.Add(store.DefaultIdempotencyTTL)
	}
	k.ExpiresAt = norm(k.ExpiresAt)
	if k.LockedUntil.IsZero() {
		k.LockedUntil = k.CreatedAt.Add(store.DefaultIdempotencyLease)
	}
	k.LockedUntil = norm(k.LockedUntil)
	k.State = store.IdempotencyInProgress
	d := q.D
	// Two kinds of existing row are taken over in the same statement: an expired one (the key
	// behaves like a new key even before the sweeper deleted the old row: everything is
	// replaced), and an in_progress one for the same request whose lease has run out (its
	// holder died or let go: only the lease changes hands, what the first request committed,
	// resource_id, stays).
	ins := d.Q(`INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, response_status,
response_header, response_body, created_at, expires_at, lease_owner, locked_until) VALUES (?,?,?,?,?,0,'{}',NULL,?,?,?,?)
ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state,
resource_id = CASE WHEN idempotency_keys.expires_at <= excluded.created_at THEN excluded.resource_id
ELSE idempotency_keys.resource_id END,
response_status = 0, response_header = '{}', response_body = NULL,
created_at = CASE WHEN idempotency_keys.expires_at <= excluded.created_at THEN excluded.created_at
ELSE idempotency_keys.created_at END,
expires_at = CASE WHEN idempotency_keys.expires_at <= excluded.created_at THEN excluded.expires_at
ELSE idempotency_keys.expires_at END,
lease_owner = excluded.lease_owner, locked_until = excluded.locked_until
WHERE idempotency_keys.expires_at <= excluded.created_at
OR (idempotency_keys.state = 'in_progress' AND idempotency_keys.request_hash = excluded.request_hash
AND (idempotency_keys.locked_until IS NULL OR idempotency_keys.locked_until <= excluded.created_at))
RETURNING ` + idemCols)
	for range 3 {
		got, err := all(ctx, q.C, ins, []any{k.Scope, k.Key, k.RequestHash, string(k.State), k.ResourceID,
			d.T(k.CreatedAt), d.T(k.ExpiresAt), k.Owner, d.T(k.LockedUntil)}, scanIdem, "reserve idempotency key")
		if err != nil {
			return nil, false, err
		}
		if len(got) == 1 {
			return got[0], true, nil
		}
		existing, err := q.GetIdempotencyKey(ctx, k.Scope, k.Key)
		if core.ErrorCode(err) == core.ENOTFOUND {
			continue // deleted between the two statements: try again
		}
		if err != nil {
			return nil, false, err
		}
		return existing, false, nil
	}
	return nil, false, core.Errorf(core.ECONFLICT, "idempotency key %q is changing too fast, retry", k.Key)
}

// BindIdempotencyKey implements store.Queries.
func (q Queries) BindIdempotencyKey(ctx context.Context, scope, key, owner, resourceID string) error {
	if owner == "" || resourceID == "" {
		return core.Errorf(core.EINVALID, "store: binding an idempotency key needs its owner and a resource id")
	}
	return q.write(ctx, q.D.Q(`UPDATE idempotency_keys SET resource_id = ? WHERE scope = ? AND key = ?
AND lease_owner = ? AND state = ? AND resource_id = ''`),
		[]any{resourceID, scope, key, owner, string(store.IdempotencyInProgress)}, true,
		func(n int64, err error) error {
			if err != nil {
				return internal(err, "bind idempotency key")
			}
			if n == 0 {
				return core.Errorf(core.ECONFLICT, "idempotency key %q was taken over by another request", key)
			}
			return nil
		})
}

// ReleaseIdempotencyKey implements store.Queries. The DELETE's condition resource_id = ” is
// the rule "a key whose request committed an effect is never released": a bound key only
// loses its lease.
func (q Queries) ReleaseIdempotencyKey(ctx context.Context, scope, key, owner string) error {
	in := string(store.IdempotencyInProgress)
	n, err := q.C.Exec(ctx, q.D.Q(`DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND lease_owner = ?
AND state = ? AND resource_id = ''`), scope, key, owner, in)
	if err != nil {
		return internal(err, "release idempotency key")
	}
	if n > 0 {
		return nil
	}
	if _, err := q.C.Exec(ctx, q.D.Q(`UPDATE idempotency_keys SET locked_until = NULL WHERE scope = ? AND key = ?
AND lease_owner = ? AND state = ?`), scope, key, owner, in); err != nil {
		return internal(err, "end the lease of idempotency key")
	}
	return nil
}

// GetIdempotencyKey implements store.Queries.
func (q Queries) GetIdempotencyKey(ctx context.Context, scope, key string) (*store.IdempotencyKey, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+idemCols+" FROM idempotency_keys WHERE scope = ? AND key = ?"),
		[]any{scope, key}, scanIdem, "get idempotency key", fmt.Sprintf("idempotency key %q not found", key))
}

// CompleteIdempotencyKey implements store.Queries.
func (q Queries) CompleteIdempotencyKey(ctx context.Context, scope, key string, resp store.StoredResponse) error {
	header := "{}"
	if len(resp.Header) > 0 {
		b, err := json.Marshal(http.Header(resp.Header))
		if err != nil {
			return core.WrapError(core.EINVALID, err, "store: response header")
		}
		header = string(b)
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	return q.write(ctx, q.D.Q(`UPDATE idempotency_keys SET state = ?, response_status = ?, response_header = ?,
response_body = ?, resource_id = CASE WHEN ? = '' THEN resource_id ELSE ? END WHERE scope = ? AND key = ?`),
		[]any{string(store.IdempotencyDone), resp.Status, header, body, resp.ResourceID, resp.ResourceID, scope, key}, true,
		func(n int64, err error) error {
			if err != nil {
				return internal(err, "complete idempotency key")
			}
			if n == 0 {
				return core.Errorf(core.ENOTFOUND, "idempotency key %q not found", key)
			}
			return nil
		})
}

// DeleteIdempotencyKey implements store.Queries.
func (q Queries) DeleteIdempotencyKey(ctx context.Context, scope, key string) error {
	_, err := q.C.Exec(ctx, q.D.Q("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?"), scope, key)
	if err != nil {
		return internal(err, "delete idempotency key")
	}
	return nil
}

// DeleteExpiredIdempotencyKeys implements store.Store.
func (q Queries) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int64, error) {
	n, err := q.C.Exec(ctx, q.D.Q("DELETE FROM idempotency_keys WHERE expires_at <= ?"), q.D.T(now))
	if err != nil {
		return 0, internal(err, "delete expired idempotency keys")
	}
	return n, nil
}
