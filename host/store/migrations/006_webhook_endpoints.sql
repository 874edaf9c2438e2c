-- Several webhook endpoints (issue 17): the names of the endpoints that have acknowledged an
-- event, a JSON list, so that a retry goes only to those that have not. '[]': none yet.
ALTER TABLE events ADD COLUMN delivered_to TEXT NOT NULL DEFAULT '[]';
