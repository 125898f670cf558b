-- wrk script: POST /api/usage/track with a batch of 1,000 events a request.
-- Arguments after wrk's "--": <bearer token> <subjects> <run tag> [batch size,
-- default 1000].
--
-- Every event id is unique over the run: "<run tag>-<thread>-<request
-- counter>-<i>" (runs against one server use different tags).
-- The per-position tail of each event (subject, type, data) is built once in
-- init(); a request then costs one table.concat, whose separator carries the
-- request's id prefix, so wrk spends little CPU per 1,000 events (~85 KB body).
-- Subjects go round robin: a batch spreads over min(batch, subjects) subjects.
-- done() prints one WRKJSON line that bench/compare/tools.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local headers, tails, counter, thread_tag, batch

function init(args)
  local token = args[1] or error("wrk_track.lua: missing bearer token argument")
  local subjects = tonumber(args[2] or "1000")
  batch = tonumber(args[4] or "1000")
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  local t = thread_no or 0
  thread_tag = (args[3] or "t") .. "-" .. t .. "-"
  counter = 0
  tails = {}
  local k = (t * 7919) % subjects
  for i = 1, batch do
    -- event i of a batch: {"id":"<prefix><i>","subject":"s<k>",...}
    tails[i] = i .. '","subject":"s' .. k .. '","type":"api","data":{"chars":100,"tokens":10}}'
    k = (k + 1) % subjects
  end
end

function request()
  counter = counter + 1
  local open = '{"id":"' .. thread_tag .. counter .. '-'
  local body = '{"events":[' .. open .. table.concat(tails, ',' .. open) .. ']}'
  return wrk.format("POST", "/api/usage/track", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
