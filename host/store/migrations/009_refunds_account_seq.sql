-- GET /v1/refunds?account=... (and a key scoped to accounts) pages newest first by seq; the
-- (account, created_at) index of 001 found the account's refunds but not in that order, so
-- each page sorted all of them (390 ms for 35,000 refunds of one account in a store of a
-- million payments; TestQueryPlans now refuses a sort in such a page). As 004 did for
-- payments and events.
CREATE INDEX refunds_account_seq_idx ON refunds (account, seq);
