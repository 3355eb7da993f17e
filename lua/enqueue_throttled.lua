-- enqueue_throttled.lua: (new) -> waiting | delayed, unless the throttle key already accepted
--   its maximum within the sliding window (then nothing changes)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] throttle    ZSET  jobs accepted under the key; score = when (ms)
-- KEYS[7] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[8] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job id (client generated)
-- ARGV[2] data              the JSON payload
-- ARGV[3] now_ms
-- ARGV[4] priority          integer >= 0
-- ARGV[5] run_at_ms         when the job becomes due; 0 = now
-- ARGV[6] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[7] extra             more hash fields as a JSON object; "" = none
-- ARGV[8] max               dispatches accepted per window
-- ARGV[9] window_ms        the window's length
-- returns {1, 0} enqueued (also by an earlier run of this very call: same id, data and
--   now_ms), {0, 0} when another job holds the id, or {0, ms} throttled: ms until the oldest accepted dispatch leaves
--   the window (when the next one would be accepted)
-- A sliding window: at most max accepted in ANY window_ms span (a fixed window lets 2 * max
-- through across a boundary). Rejected dispatches do not count. The window is judged by
-- now_ms alone; the key's PEXPIRE only collects a quiet key's garbage.
--@include lib/common.lua
--@include lib/create.lua
local tag, id, now = KEYS[8], ARGV[1], tonumber(ARGV[3])
local max, window = tonumber(ARGV[8]), tonumber(ARGV[9])
if own_job(job_key(tag, id), ARGV[2], now) then
  return { 1, 0 } -- an earlier run of this very call took its place in the window
end
redis.call("ZREMRANGEBYSCORE", KEYS[6], "-inf", now - window)
if redis.call("ZCARD", KEYS[6]) >= max then
  local oldest = redis.call("ZRANGE", KEYS[6], 0, 0, "WITHSCORES")
  return { 0, math.max(1, tonumber(oldest[2]) + window - now + 1) }
end
if redis.call("EXISTS", job_key(tag, id)) == 1 then
  return { 0, 0 }
end
local k = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], events = KEYS[4], marker = KEYS[5],
  seq = KEYS[7] }
create_job(tag, k, id, ARGV[2], now, tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7])
redis.call("ZADD", KEYS[6], now, id)
redis.call("PEXPIRE", KEYS[6], 2 * window)
return { 1, 0 }
