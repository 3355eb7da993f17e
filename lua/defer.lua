-- defer.lua: active -> delayed, due after a pause (a worker hands back jobs it cannot run yet:
--   dispatched at a payload version newer than its own) | cancelled (a job asked to cancel)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] active      ZSET  score = lock deadline (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[8] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] run_at_ms         when the jobs are due again (the pause lets newer workers, which
--                           claim the jobs from the waiting line meanwhile, go first, and keeps
--                           the old worker from claiming them straight back)
-- ARGV[3..] per job: id, token
-- returns one flag per job: 1 deferred, 2 cancelled, 0 the lock is no longer ours
-- Nothing is counted against the job: its attempt is given back, no stall, no error. It lets
-- go of its concurrency slot (and, cancelled, of its dedup key too).
--@include lib/common.lua
local tag, now, run_at = KEYS[8], tonumber(ARGV[1]), tonumber(ARGV[2])
local out, woke, deferred = {}, false, false
for i = 3, #ARGV - 1, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local job = job_key(tag, id)
  local held = redis.call("HMGET", job, "lock", "cancel", "holds", "conc")
  local flag = 0
  if held[1] == token then
    redis.call("ZREM", KEYS[4], id)
    redis.call("HDEL", job, "lock")
    if held[4] and release_slot(tag, KEYS[1], KEYS[2], job, held[4]) then
      woke = true
    end
    if held[2] then
      release_hold(tag, id, held[3])
      redis.call("HSET", job, "state", "cancelled", "finished", now)
      redis.call("ZADD", KEYS[7], now, id)
      emit(KEYS[5], "cancelled", id)
      flag = 2
    else
      redis.call("HINCRBY", job, "attempt", -1) -- the run that did not happen is no attempt
      redis.call("HSET", job, "state", "delayed", "run_at", run_at)
      redis.call("ZADD", KEYS[3], run_at, id)
      emit(KEYS[5], "delayed", id, "at", run_at, "reason", "too new")
      deferred = true
      flag = 1
    end
  end
  out[#out + 1] = flag
end
if woke then
  mark_work(KEYS[6], 0)
elseif deferred then
  mark_work(KEYS[6], run_at, true)
end
return out
