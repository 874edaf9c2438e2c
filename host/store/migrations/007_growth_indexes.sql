-- Indexes for a store that has grown (issue 20): every statement the janitor, the dispatcher,
-- the pruner and the API run finds its rows through an index (checked by TestQueryPlans in
-- both stores), so its cost does not grow with the number of payments.
--
-- GET /v1/payments, /v1/refunds and /v1/events filtered by status alone walked the whole
-- table newest first, looking for a rare status (failed) among millions.
CREATE INDEX payments_status_seq_idx ON payments (status, seq);
CREATE INDEX refunds_status_seq_idx ON refunds (status, seq);
CREATE INDEX events_status_seq_idx ON events (status, seq);
-- The pruner takes the oldest delivered events and rejected inbox entries older than the
-- retention, in that time order: with these it reads only the rows it deletes, and nothing
-- when none is due (by status and seq it read every delivered event younger than the cut).
CREATE INDEX events_delivered_at_idx ON events (delivered_at) WHERE status = 'delivered';
CREATE INDEX notifications_rejected_at_idx ON notifications (received_at) WHERE status = 'rejected';
