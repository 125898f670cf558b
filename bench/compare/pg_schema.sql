-- The seeds' PostgreSQL schema (003_*.txt, "Database Schema Enhancements"),
-- trimmed to what the hot path touches, plus the subjects the benchmark uses.
-- Run with psql -v subjects=N -v quota_limit=L (L: 2000000000 in the benchmark).
--
-- Differences from the seed, each in PostgreSQL's favour or needed for a fair
-- comparison with tally:
--   * gen_random_uuid() (built in since PostgreSQL 13) instead of
--     uuid_generate_v4() from the uuid-ossp extension.
--   * usage_tracking.id is the client's event id (TEXT) instead of a
--     server-generated UUID, so a retried event hits the primary key and its
--     transaction (and the quota UPDATE in it) rolls back: the same
--     "counted once" guarantee tally and the Redis script give, with no index
--     beyond the one the seed's table already had.
--   * no secondary index on usage_tracking (a real deployment would add
--     (user_id, created_at) for history queries, which would slow inserts).

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email TEXT,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE TABLE user_quotas (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID REFERENCES users(id) ON DELETE CASCADE,
  quota_type TEXT NOT NULL, -- 'monthly_chars', 'monthly_requests', 'tokens'
  quota_limit INTEGER NOT NULL,
  quota_used INTEGER DEFAULT 0,
  quota_reset_date TIMESTAMP WITH TIME ZONE NOT NULL,
  tier TEXT DEFAULT 'free', -- 'free', 'premium', 'enterprise'
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  UNIQUE(user_id, quota_type)
);

-- The usage log: the seed extends an existing usage_tracking table with these
-- columns; the base columns are the obvious ones.
CREATE TABLE usage_tracking (
  id TEXT PRIMARY KEY,                      -- the event id (idempotency key)
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  action_type TEXT NOT NULL,
  characters_processed INTEGER,
  tokens_used INTEGER,
  metadata JSONB,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  session_id UUID,
  ip_address INET,
  user_agent TEXT,
  processing_time_ms INTEGER,
  error_code TEXT,
  feature_used TEXT,
  quota_consumed INTEGER
);

-- Subject k (1..subjects) has a fixed UUID so the pgbench script can name it.
CREATE FUNCTION bench_user(k bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(k::text, 12, '0'))::uuid $$;

INSERT INTO users (id, email)
  SELECT bench_user(k), 's' || k || '@example.com'
  FROM generate_series(1, :subjects) AS k;

-- The seed's initializeUserQuotas: one row per subject and quota type, with
-- limits high enough that nothing is denied during the run (as for tally).
INSERT INTO user_quotas (user_id, quota_type, quota_limit, quota_reset_date, tier)
  SELECT bench_user(k), t, :quota_limit, date_trunc('month', now()) + interval '1 month', 'bench'
  FROM generate_series(1, :subjects) AS k,
       unnest(ARRAY['monthly_requests', 'monthly_chars', 'tokens']) AS t;

-- One consume as one server-side call (pg_consume_fn.sql): the same conditional
-- UPDATE and INSERT as pg_consume_tx.sql without three of its four round
-- trips. A meter that does not fit raises quota_exceeded, which aborts the
-- caller's transaction: nothing is counted, nothing is logged.
CREATE FUNCTION consume_event(event_id text, k bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  fitting int;
BEGIN
  WITH fit AS (
    UPDATE user_quotas
       SET quota_used = quota_used + CASE quota_type WHEN 'monthly_requests' THEN 1
                                                     WHEN 'monthly_chars' THEN 100
                                                     ELSE 10 END,
           updated_at = now()
     WHERE user_id = bench_user(k)
       AND quota_type IN ('monthly_requests', 'monthly_chars', 'tokens')
       AND quota_used + CASE quota_type WHEN 'monthly_requests' THEN 1
                                        WHEN 'monthly_chars' THEN 100
                                        ELSE 10 END <= quota_limit
    RETURNING 1)
  SELECT count(*) INTO fitting FROM fit;
  IF fitting < 3 THEN
    RAISE EXCEPTION 'quota_exceeded' USING ERRCODE = 'P0001';
  END IF;
  INSERT INTO usage_tracking (id, user_id, action_type, characters_processed, tokens_used,
                              feature_used, quota_consumed)
  VALUES (event_id, bench_user(k), 'api', 100, 10, 'api', 1);
END $$;

VACUUM ANALYZE;
