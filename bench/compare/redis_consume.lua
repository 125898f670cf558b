-- The seeds' Redis check-and-consume, as one atomic server-side script.
--
-- The seed (000_*.txt, UsageCollector) keeps one counter per subject x meter x
-- billing period, INCRBYs it and sets a 32-day EXPIRE, and checks
-- `current >= limit` before the work. Done as two round trips that is racy (two
-- clients both see room and both add); this script closes the race the way
-- DESIGN.md prescribes for the Redis backend ("each multi-meter consume one
-- atomic script"), and adds what tally guarantees and the seed lacked: all or
-- nothing across meters, and a retried event id counted once.
--
--   KEYS[1]  the subject's counters for this period, a hash meter -> used,
--            e.g. usage:{s000000000042}:2025-06
--   KEYS[2]  the event's idempotency key, e.g. evt:<event id>
--   ARGV[1]  dedup window in seconds (TTL of KEYS[2]; tally's default is 35 days)
--   ARGV[2]  the event record kept under KEYS[2] (so the event itself is stored)
--   ARGV[3..] triples: meter, amount, limit
--
-- Returns {1, "ok"}, {1, "duplicate"} (a retry: nothing counted again) or
-- {0, meter, used, limit} (denied: nothing counted).
local counters, event = KEYS[1], KEYS[2]

if redis.call('EXISTS', event) == 1 then
  return {1, 'duplicate'}
end

local n = (#ARGV - 2) / 3
local meters = {}
for i = 1, n do
  meters[i] = ARGV[3 * i]
end

-- Check every meter first: all or nothing.
local used = redis.call('HMGET', counters, unpack(meters))
for i = 1, n do
  local amount = tonumber(ARGV[3 * i + 1])
  local limit = tonumber(ARGV[3 * i + 2])
  local current = tonumber(used[i] or 0) or 0
  if current + amount > limit then
    return {0, meters[i], current, limit}
  end
end

-- Everything fits: count it and remember the event id.
local fresh = true
for i = 1, n do
  local amount = tonumber(ARGV[3 * i + 1])
  if redis.call('HINCRBY', counters, meters[i], amount) ~= amount then
    fresh = false
  end
end
if fresh then
  -- The seed's 32-day expiry, set once when the period's counters appear.
  redis.call('EXPIRE', counters, 86400 * 32)
end
redis.call('SET', event, ARGV[2], 'NX', 'EX', ARGV[1])
return {1, 'ok'}
