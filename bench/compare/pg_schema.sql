-- The seeds' PostgreSQL schema (003_*.txt, "Database Schema Enhancements"),
-- trimmed to what the hot path touches, plus the subjects the benchmark uses.
-- Run with psql -v subjects=N.
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
  SELECT bench_user(k), t, 2000000000, date_trunc('month', now()) + interval '1 month', 'bench'
  FROM generate_series(1, :subjects) AS k,
       unnest(ARRAY['monthly_requests', 'monthly_chars', 'tokens']) AS t;

VACUUM ANALYZE;
