-- stall_sweep.lua: active (lock deadline passed) -> waiting (recovered) | failed (stalled too often)
--   | cancelled (it was asked to cancel: it is not run again)
-- A job is stalled only while it is still a member of `active` with a past deadline: finishing
-- removes it from `active` in the same script that finishes it, so a completed job can never be
-- taken for a stalled one (the Node engine's bug B1).
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] active      ZSET  score = lock deadline (ms)
-- KEYS[4] failed      ZSET  permanent failures; score = finish time (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] sweep       STRING the time (ms) before which no other sweep of this task runs
-- KEYS[8] completed   ZSET  score = finish time (ms)
-- KEYS[9] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[10] expired    ZSET  expired ids; score = when they ended (ms)
-- KEYS[11] counts     HASH  per-minute counts of completed and failed jobs (lib/common.lua)
-- KEYS[12] tag        PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] interval_ms       the sweep period; the first caller in each period does the work
-- ARGV[3] max_stalls        a job stalled more often than this fails for good
-- ARGV[4] limit             how many stalled jobs to handle at most
-- ARGV[5] completed_max_age_ms  retention of completed jobs (-1 = keep); see lib/retention.lua
-- ARGV[6] completed_max_items   (-1 = no limit)
-- ARGV[7] failed_max_age_ms     retention of failed jobs, and of cancelled and expired ones
--                               (-1 = keep)
-- ARGV[8] failed_max_items      (-1 = no limit; per set)
-- returns {recovered, failed}, or {-1, -1} when another worker swept this period (stalled jobs
--   that were asked to cancel end cancelled and count in neither)
-- The sweep also trims the finished sets, so jobs age out of a queue that has gone quiet;
-- it is the only trimming the cancelled and expired sets get.
-- A stalled job lets go of its concurrency slot; one that ends lets go of its dedup key.
--@include lib/common.lua
--@include lib/retention.lua
local tag, now = KEYS[12], tonumber(ARGV[1])
local max_stalls, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
if tonumber(redis.call("GET", KEYS[7]) or "0") > now then
  return { -1, -1 }
end
redis.call("SET", KEYS[7], now + tonumber(ARGV[2]))
local stalled = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. now, "LIMIT", 0, limit)
local recovered, failed, unparked = 0, 0, false
for i = 1, #stalled do
  local id = stalled[i]
  local job = job_key(tag, id)
  redis.call("ZREM", KEYS[3], id)
  local was = redis.call("HMGET", job, "state", "cancel", "holds", "conc", "attempt")
  if was[1] == "active" and was[4] and release_slot(tag, KEYS[1], KEYS[2], job, was[4]) then
    unparked = true
  end
  if was[1] == "active" and was[2] then
    release_hold(tag, id, was[3])
    redis.call("HDEL", job, "lock")
    redis.call("HSET", job, "state", "cancelled", "finished", now)
    redis.call("ZADD", KEYS[9], now, id)
    emit(KEYS[5], "cancelled", id)
  elseif was[1] == "active" then
    local stalls = redis.call("HINCRBY", job, "stalls", 1)
    redis.call("HDEL", job, "lock")
    if stalls > max_stalls then
      release_hold(tag, id, was[3])
      local err = '{"type":"StalledError","message":"the job stalled ' .. stalls
        .. ' times (its worker stopped heartbeating); giving up"}'
      redis.call("HSET", job, "state", "failed", "error", err, "finished", now)
      redis.call("ZADD", KEYS[4], now, id)
      emit(KEYS[5], "stalled", id, "action", "failed", "count", stalls)
      emit(KEYS[5], "failed", id, "attempt", was[5] or "0", "will_retry", "0")
      failed = failed + 1
    else
      -- the crashed run does not count as an attempt; the stall counter limits repeats
      redis.call("HINCRBY", job, "attempt", -1)
      redis.call("HDEL", job, "state")
      local fields = redis.call("HMGET", job, "prio", "t")
      push_waiting(KEYS[1], KEYS[2], id, tonumber(fields[1] or "0"), tonumber(fields[2] or "0"), true)
      emit(KEYS[5], "stalled", id, "action", "recovered", "count", stalls)
      recovered = recovered + 1
    end
  end
end
if failed > 0 then
  count_minute(KEYS[11], "f", now, failed)
end
if recovered > 0 or unparked then
  mark_work(KEYS[6], 0)
end
trim_finished(tag, KEYS[8], now, tonumber(ARGV[5]), tonumber(ARGV[6]), TRIM_SWEEP)
trim_finished(tag, KEYS[4], now, tonumber(ARGV[7]), tonumber(ARGV[8]), TRIM_SWEEP + 2 * failed)
trim_finished(tag, KEYS[9], now, tonumber(ARGV[7]), tonumber(ARGV[8]), TRIM_SWEEP)
trim_finished(tag, KEYS[10], now, tonumber(ARGV[7]), tonumber(ARGV[8]), TRIM_SWEEP)
return { recovered, failed }
