-- Scoped API keys and the merchant API (issue 17).
-- metadata: the merchant's own key/value pairs on a payment or refund, a JSON object of strings,
-- fixed at creation. events.region is the region of the payment an event is about ('' for events
-- about no payment), so that a key limited to regions lists only its events; events.actor names
-- the API key whose request caused the event ('' for the wallet, the janitor or the operator).
ALTER TABLE payments ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE refunds ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
UPDATE events SET region = COALESCE((SELECT p.region FROM payments p WHERE p.id = events.payment_id), '')
    WHERE payment_id <> '';
-- GET /v1/payments pages newest first (by seq) and a scoped key always filters by account; the
-- other filters (status, method, region, created range) are checked on the rows this index
-- yields. Events listed by a scoped key likewise.
CREATE INDEX payments_account_seq_idx ON payments (account, seq);
CREATE INDEX payments_created_seq_idx ON payments (created_at, seq);
CREATE INDEX events_account_seq_idx ON events (account, seq);
