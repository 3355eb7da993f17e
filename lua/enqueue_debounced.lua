-- enqueue_debounced.lua: (new) -> delayed, replacing the job the debounce key points at if it
--   is still delayed (that job -> cancelled, reason "debounced")
-- KEYS[1] wait        LIST  waiting ids of priority 0 (unused: a debounced job always waits)
-- KEYS[2] prio        ZSET  waiting ids of priority > 0 (unused, likewise)
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] debounce    STRING the id of the delayed job the next dispatch replaces
-- KEYS[7] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[8] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[9] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job id (client generated)
-- ARGV[2] data              the JSON payload
-- ARGV[3] now_ms
-- ARGV[4] priority          integer >= 0
-- ARGV[5] run_at_ms         now + the debounce delay
-- ARGV[6] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[7] extra             more hash fields as a JSON object; "" = none
-- returns {1, replaced id or ""}, or {0, ""} when a job with this id already exists
-- The replaced job ends cancelled (so its result waiters settle, and retention trims it)
-- with the reason "debounced: replaced by <id>". A job already promoted or running is left
-- alone: the new one runs after it.
--@include lib/common.lua
--@include lib/create.lua
local tag, id, now = KEYS[9], ARGV[1], tonumber(ARGV[3])
if redis.call("EXISTS", job_key(tag, id)) == 1 then
  return { 0, "" }
end
local replaced = ""
local pending = redis.call("GET", KEYS[6])
if pending and redis.call("HGET", job_key(tag, pending), "state") == "delayed" then
  redis.call("ZREM", KEYS[3], pending) -- (a "retrying" job sits in delayed too: not replaced)
  redis.call("HSET", job_key(tag, pending), "state", "cancelled", "finished", now,
    "cancel", "debounced: replaced by " .. id)
  redis.call("HDEL", job_key(tag, pending), "holds")
  redis.call("ZADD", KEYS[7], now, pending)
  emit(KEYS[4], "cancelled", pending, "reason", "debounced", "by", id)
  replaced = pending
end
local k = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], events = KEYS[4], marker = KEYS[5],
  seq = KEYS[8] }
create_job(tag, k, id, ARGV[2], now, tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7])
redis.call("HSET", job_key(tag, id), "holds", KEYS[6])
redis.call("SET", KEYS[6], id)
return { 1, replaced }
