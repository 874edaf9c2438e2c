-- paymux schema, version 1. One file for both databases: {{SERIAL}}, {{TIME}} and {{BYTES}} are
-- the only dialect differences (see migrations.go). Times are UTC with microsecond precision
-- (SQLite: integer microseconds since the Unix epoch). Money is BIGINT minor units + TEXT code.

CREATE TABLE payments (
    seq               {{SERIAL}},
    id                TEXT NOT NULL,
    account           TEXT NOT NULL,
    region            TEXT NOT NULL DEFAULT '',
    method            TEXT NOT NULL DEFAULT '',
    channel           TEXT NOT NULL DEFAULT '',
    out_trade_no      TEXT NOT NULL,
    reference         TEXT NOT NULL DEFAULT '',
    amount_value      BIGINT NOT NULL,
    amount_currency   TEXT NOT NULL,
    status            TEXT NOT NULL,
    subject           TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    return_url        TEXT NOT NULL DEFAULT '',
    extras            TEXT NOT NULL DEFAULT '{}',
    provider_ref      TEXT NOT NULL DEFAULT '',
    next_action_type  TEXT NOT NULL DEFAULT '',
    next_action_value TEXT NOT NULL DEFAULT '',
    wallet            TEXT NOT NULL DEFAULT '',
    failure_code      TEXT NOT NULL DEFAULT '',
    amount_refunded   BIGINT NOT NULL DEFAULT 0,
    amount_reserved   BIGINT NOT NULL DEFAULT 0,
    flags             TEXT NOT NULL DEFAULT '[]',
    expires_at        {{TIME}},
    paid_at           {{TIME}},
    next_query_at     {{TIME}},
    query_attempts    INTEGER NOT NULL DEFAULT 0,
    created_at        {{TIME}} NOT NULL,
    updated_at        {{TIME}} NOT NULL,
    CONSTRAINT payments_id_key UNIQUE (id),
    CONSTRAINT payments_account_out_trade_no_key UNIQUE (account, out_trade_no)
);
CREATE INDEX payments_reference_idx ON payments (reference, seq);
CREATE INDEX payments_account_created_idx ON payments (account, created_at);
CREATE INDEX payments_due_idx ON payments (next_query_at) WHERE status = 'pending' AND next_query_at IS NOT NULL;

CREATE TABLE refunds (
    seq             {{SERIAL}},
    id              TEXT NOT NULL,
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    account         TEXT NOT NULL,
    out_refund_no   TEXT NOT NULL,
    amount_value    BIGINT NOT NULL,
    amount_currency TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    provider_ref    TEXT NOT NULL DEFAULT '',
    failure_code    TEXT NOT NULL DEFAULT '',
    next_query_at   {{TIME}},
    query_attempts  INTEGER NOT NULL DEFAULT 0,
    created_at      {{TIME}} NOT NULL,
    updated_at      {{TIME}} NOT NULL,
    CONSTRAINT refunds_id_key UNIQUE (id),
    CONSTRAINT refunds_account_out_refund_no_key UNIQUE (account, out_refund_no)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, seq);
CREATE INDEX refunds_account_created_idx ON refunds (account, created_at);
CREATE INDEX refunds_due_idx ON refunds (next_query_at) WHERE status IN ('pending', 'processing') AND next_query_at IS NOT NULL;

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    state           TEXT NOT NULL,
    resource_id     TEXT NOT NULL DEFAULT '',
    response_status INTEGER NOT NULL DEFAULT 0,
    response_header TEXT NOT NULL DEFAULT '{}',
    response_body   {{BYTES}},
    created_at      {{TIME}} NOT NULL,
    expires_at      {{TIME}} NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE TABLE notifications (
    seq         {{SERIAL}},
    id          TEXT NOT NULL,
    account     TEXT NOT NULL,
    method      TEXT NOT NULL DEFAULT '',
    header      TEXT NOT NULL DEFAULT '{}',
    query       TEXT NOT NULL DEFAULT '',
    body        {{BYTES}},
    remote_addr TEXT NOT NULL DEFAULT '',
    received_at {{TIME}} NOT NULL,
    status      TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    payment_id  TEXT NOT NULL DEFAULT '',
    refund_id   TEXT NOT NULL DEFAULT '',
    updated_at  {{TIME}} NOT NULL,
    CONSTRAINT notifications_id_key UNIQUE (id)
);
-- A dedupe key is taken once per account by the notification that had an effect.
CREATE UNIQUE INDEX notifications_dedupe_key ON notifications (account, dedupe_key)
    WHERE status IN ('processed', 'unmatched', 'flagged') AND dedupe_key <> '';
CREATE INDEX notifications_status_idx ON notifications (status, seq);
CREATE INDEX notifications_account_idx ON notifications (account, seq);

CREATE TABLE events (
    seq             {{SERIAL}},
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    account         TEXT NOT NULL DEFAULT '',
    payment_id      TEXT NOT NULL DEFAULT '',
    refund_id       TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    created_at      {{TIME}} NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {{TIME}},
    last_attempt_at {{TIME}},
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    {{TIME}},
    CONSTRAINT events_id_key UNIQUE (id)
);
CREATE INDEX events_due_idx ON events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX events_payment_idx ON events (payment_id, seq);
CREATE INDEX events_type_idx ON events (type, seq);
