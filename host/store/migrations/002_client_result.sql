-- The wallet SDK's synchronous result, reported by the app through
-- POST /v1/payments/{id}/client-result: a hint, never proof of payment. 001 had no column for it
-- and the host kept it among the flags as "client_result:<verified|unverified>:<status>"; the host
-- still reads such a flag when these columns are NULL and drops it on the next report, so no
-- data step is needed here. All NULL: the app never reported a result.
ALTER TABLE payments ADD COLUMN client_result_status TEXT;
ALTER TABLE payments ADD COLUMN client_result_verified INTEGER;
ALTER TABLE payments ADD COLUMN client_result_at {{TIME}};
