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
response_body, created_at, expires_at`

func scanIdem(r Rows) (*store.IdempotencyKey, int64, error) {
	var (
		k      store.IdempotencyKey
		zero   int64
		state  string
		header string
	)
	err := r.Scan(&zero, &k.Scope, &k.Key, &k.RequestHash, &state, &k.ResourceID, &k.Response.Status, &header,
		&k.Response.Body, tm(&k.CreatedAt), tm(&k.ExpiresAt))
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
	if k.Scope == "" || k.Key == "" {
		return nil, false, core.Errorf(core.EINVALID, "store: idempotency key needs scope and key")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = Now()
	}
	k.CreatedAt = norm(k.CreatedAt)
	if k.ExpiresAt.IsZero() {
		k.ExpiresAt = k.CreatedAt.Add(store.DefaultIdempotencyTTL)
	}
	k.ExpiresAt = norm(k.ExpiresAt)
	k.State = store.IdempotencyInProgress
	d := q.D
	// An expired row is taken over in the same statement, so that a key reused after its TTL
	// behaves like a new key even before the sweeper deleted the old row.
	ins := d.Q(`INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, response_status,
response_header, response_body, created_at, expires_at) VALUES (?,?,?,?,?,0,'{}',NULL,?,?)
ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state,
resource_id = excluded.resource_id, response_status = 0, response_header = '{}', response_body = NULL,
created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at
RETURNING ` + idemCols)
	for range 3 {
		got, err := all(ctx, q.C, ins, []any{k.Scope, k.Key, k.RequestHash, string(k.State), k.ResourceID,
			d.T(k.CreatedAt), d.T(k.ExpiresAt)}, scanIdem, "reserve idempotency key")
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
