-- flagged_at: when a refund entered the attention queue (needs_attention became 1); NULL while it
-- is not in the queue. The age of the oldest refund needing an operator is measured from it, so
-- a later write to the row (the janitor's next query, a learned provider reference) does not make
-- a long-waiting refund look young. Refunds already in the queue get their last update, the best
-- time known for them.
ALTER TABLE refunds ADD COLUMN flagged_at {{TIME}};
UPDATE refunds SET flagged_at = updated_at WHERE needs_attention = 1;
