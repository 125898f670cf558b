-- wrk script: POST /api/quota/consume, one event a request.
-- Arguments after wrk's "--": <bearer token> <subjects> <run tag>.
--
-- Every request carries a unique event id "<run tag>-<thread>-<counter>" (so
-- none is answered from tally's dedup index; runs against one server use
-- different tags) and the next subject round robin:
--   {"id":"c-1-42","subject":"s17","type":"api","data":{"chars":100,"tokens":10}}
-- done() prints one WRKJSON line that bench/compare/tools.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local headers, subjects, counter, next_subject, id_prefix

function init(args)
  local token = args[1] or error("wrk_consume.lua: missing bearer token argument")
  subjects = tonumber(args[2] or "1000")
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  local t = thread_no or 0
  counter = 0
  next_subject = (t * 7919) % subjects   -- threads start apart, then round robin
  id_prefix = '{"id":"' .. (args[3] or "c") .. '-' .. t .. '-'
end

function request()
  counter = counter + 1
  local k = next_subject
  next_subject = (k + 1) % subjects
  local body = id_prefix .. counter .. '","subject":"s' .. k ..
      '","type":"api","data":{"chars":100,"tokens":10}}'
  return wrk.format("POST", "/api/quota/consume", headers, body)
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
