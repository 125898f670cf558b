-- pgbench script: one consume per transaction on the seeds' schema, written
-- as an application would send it: BEGIN, the conditional UPDATE, the INSERT,
-- COMMIT -- four round trips. pg_consume_fn.sql runs the same statements in one
-- call of consume_event() (pg_schema.sql).
-- Same event as the tally and Redis runs: 1 request, 100 chars, 10 tokens.
-- Variables: -D subjects=N (subjects 1..N), -D run=<tag> (differs between
-- runs on one database) and -D n=0 (a per-client counter): every event id is
-- unique, <run>-<client>-<n>.
--
-- The conditional UPDATE adds the event to each of the subject's three quota
-- rows only where it fits (the seed's checkQuota + consumeQuota, in one
-- statement, so there is no check-then-act race); the event is logged only if
-- all three fit, otherwise the transaction rolls back: all or nothing.
\set s random(1, :subjects)
\set n :n + 1
BEGIN;
WITH fit AS (
  UPDATE user_quotas
     SET quota_used = quota_used + CASE quota_type WHEN 'monthly_requests' THEN 1
                                                   WHEN 'monthly_chars' THEN 100
                                                   ELSE 10 END,
         updated_at = now()
   WHERE user_id = bench_user(:s)
     AND quota_type IN ('monthly_requests', 'monthly_chars', 'tokens')
     AND quota_used + CASE quota_type WHEN 'monthly_requests' THEN 1
                                      WHEN 'monthly_chars' THEN 100
                                      ELSE 10 END <= quota_limit
  RETURNING quota_type, quota_used, quota_limit)
SELECT count(*) AS fitting FROM fit
\gset
\if :fitting = 3
INSERT INTO usage_tracking (id, user_id, action_type, characters_processed, tokens_used,
                            feature_used, quota_consumed)
VALUES (:run || '-' || :client_id || '-' || :n, bench_user(:s), 'api', 100, 10, 'api', 1);
COMMIT;
\else
ROLLBACK;
\endif
