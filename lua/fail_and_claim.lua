-- fail_and_claim.lua: active -> retrying (due later) | failed, then claim like claim.lua
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] active      ZSET  score = lock deadline (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] failed      ZSET  permanent failures (dead letters); score = finish time (ms)
-- KEYS[8] expired     ZSET  jobs whose TTL passed before a worker started them; score = when
-- KEYS[9] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[10] counts     HASH  per-minute counts of completed and failed jobs (lib/common.lua)
-- KEYS[11] lastclaim  HASH  the worker's last request id and its reply (lib/claim.lua)
-- KEYS[12] seq        STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[13] tag        PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] lock_ttl_ms       for the jobs claimed next
-- ARGV[3] worker            the claiming worker's id
-- ARGV[4] count             how many jobs to claim next (0 = none)
-- ARGV[5] promote_limit     how many due jobs to promote at most
-- ARGV[6] id                the job that failed
-- ARGV[7] token             its lock token
-- ARGV[8] error             the error as JSON {type, message, traceback}
-- ARGV[9] retry_at_ms      when to run the next attempt; -1 = fail for good
-- ARGV[10] max_age_ms       retention: failed jobs older than this are deleted; -1 = keep
-- ARGV[11] max_items        retention: failed jobs kept at most; -1 = no limit
-- ARGV[12] request          this call's id: sent again, it returns the same reply, recording
--                           and claiming nothing more (lib/claim.lua)
-- returns {status, claimed}: status 1 retrying, 2 failed, 3 cancelled (it was asked to cancel
--   while it ran: it neither retries nor fails), 0 the lock was lost;
--   claimed is the flat list claim.lua returns
-- A job that fails for good trims the failed set (lib/retention.lua). The job lets go of its
-- concurrency slot, and unless it retries, of its dedup key (lib/common.lua).
--@include lib/common.lua
--@include lib/claim.lua
--@include lib/retention.lua
local keys = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], active = KEYS[4],
  events = KEYS[5], marker = KEYS[6], expired = KEYS[8], seq = KEYS[12] }
local tag, now = KEYS[13], tonumber(ARGV[1])
local before, again = replayed(KEYS[11], ARGV[12], tag)
if again then
  rearm_marker(keys) -- as the first run did: the caller's waker may have taken the marker since
  return { before, again }
end
local id, token, err, retry_at = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
local job = job_key(tag, id)
local status = 0
local held = redis.call("HMGET", job, "lock", "cancel", "holds", "conc", "attempt")
local attempt = held[5] or ""
if held[1] == token then
  redis.call("ZREM", keys.active, id)
  redis.call("HDEL", job, "lock")
  if held[4] then
    release_slot(tag, keys.wait, keys.prio, job, held[4])
  end
  if held[2] or retry_at < 0 then
    release_hold(tag, id, held[3]) -- a retrying job keeps its dedup key: it will run again
  end
  if held[2] then
    redis.call("HSET", job, "state", "cancelled", "finished", now)
    redis.call("ZADD", KEYS[9], now, id)
    emit(keys.events, "cancelled", id)
    status = 3
  elseif retry_at >= 0 then
    redis.call("HSET", job, "state", "retrying", "error", err, "run_at", retry_at)
    redis.call("ZADD", keys.delayed, retry_at, id)
    -- every failed attempt is a "failed" event; will_retry tells a listener whether it ends here
    emit(keys.events, "failed", id, "attempt", attempt, "will_retry", "1")
    emit(keys.events, "retrying", id, "at", retry_at)
    status = 1
  else
    redis.call("HSET", job, "state", "failed", "error", err, "finished", now)
    redis.call("ZADD", KEYS[7], now, id)
    emit(keys.events, "failed", id, "attempt", attempt, "will_retry", "0")
    status = 2
    count_minute(KEYS[10], "f", now, 1)
    trim_finished(tag, KEYS[7], now, tonumber(ARGV[10]), tonumber(ARGV[11]), 2 + TRIM_SLACK)
  end
end
promote_due(tag, keys.seq, keys.delayed, keys.wait, keys.prio, keys.events, now, tonumber(ARGV[5]))
local claimed = {}
claim_into(claimed, tag, keys, now, tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
rearm_marker(keys)
remember(KEYS[11], ARGV[12], status, claimed, tonumber(ARGV[2]))
return { status, claimed }
