-- Idempotency keys bound to their effect, with a lease; refunds that need an operator.
--
-- lease_owner and locked_until: the request that holds an in_progress key holds it until
-- locked_until. A key whose holder died (host crash) is taken over by a retry once the lease has
-- run out; NULL (keys written before this migration) counts as run out. resource_id (since 001)
-- is now set in the transaction that commits the request's first effect: a key bound to a
-- payment or refund is never released, only resumed.
ALTER TABLE idempotency_keys ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN locked_until {{TIME}};

-- needs_attention = 1: the refund's outcome could not be learned (e.g. a re-send with the same
-- out_refund_no was declined after an unknown first outcome); it stays pending with its amount
-- reserved until an operator settles it. attention_reason says why; settle_* record the
-- operator's settlement.
ALTER TABLE refunds ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN attention_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN settle_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN settled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN settled_at {{TIME}};
CREATE INDEX refunds_attention_idx ON refunds (seq) WHERE needs_attention = 1;
