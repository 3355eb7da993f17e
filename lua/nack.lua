-- nack.lua: active -> waiting, at the front of the line (a worker hands back jobs it will not run)
--   | cancelled (a job asked to cancel is not run again)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] active      ZSET  score = lock deadline (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[7] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2..] per job: id, token
-- returns one flag per job: 1 handed back, 2 cancelled, 0 the lock is no longer ours
-- Each job lets go of its concurrency slot; a cancelled one of its dedup key too.
--@include lib/common.lua
local tag, now = KEYS[7], tonumber(ARGV[1])
local out, any = {}, false
-- last first: each goes to the very front, so the handed-back jobs keep their order
for i = #ARGV - 1, 2, -2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local job = job_key(tag, id)
  local held = redis.call("HMGET", job, "lock", "cancel", "holds", "conc")
  if held[1] == token and held[4] and release_slot(tag, KEYS[1], KEYS[2], job, held[4]) then
    any = true
  end
  if held[1] == token and held[2] then
    release_hold(tag, id, held[3])
    redis.call("ZREM", KEYS[3], id)
    redis.call("HDEL", job, "lock")
    redis.call("HSET", job, "state", "cancelled", "finished", now)
    redis.call("ZADD", KEYS[6], now, id)
    emit(KEYS[4], "cancelled", id)
    out[i / 2] = 2
  elseif held[1] == token then
    redis.call("ZREM", KEYS[3], id)
    redis.call("HDEL", job, "lock")
    -- the interrupted run does not count as an attempt
    redis.call("HINCRBY", job, "attempt", -1)
    redis.call("HDEL", job, "state")
    local fields = redis.call("HMGET", job, "prio", "t")
    push_waiting(KEYS[1], KEYS[2], id, tonumber(fields[1] or "0"), tonumber(fields[2] or "0"), true)
    emit(KEYS[4], "waiting", id, "reason", "handed back")
    out[i / 2] = 1
    any = true
  else
    out[i / 2] = 0
  end
end
if any then
  mark_work(KEYS[5], 0)
end
return out
