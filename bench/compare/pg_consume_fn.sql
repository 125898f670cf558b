-- pgbench script: one consume per transaction on the seeds' schema, in one
-- round trip: consume_event() (pg_schema.sql) runs the conditional UPDATE and
-- the INSERT of pg_consume_tx.sql server-side, and raises quota_exceeded
-- (aborting the whole transaction: all or nothing) when a meter does not fit.
-- Variables: -D subjects=N (subjects 1..N), -D run=<tag> (differs between
-- runs on one database) and -D n=0 (a per-client counter): every event id is
-- unique, <run>-<client>-<n>.
\set s random(1, :subjects)
\set n :n + 1
SELECT consume_event(:run || '-' || :client_id || '-' || :n, :s);
