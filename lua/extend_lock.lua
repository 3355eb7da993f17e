-- extend_lock.lua: active -> active with a later lock deadline (the heartbeat), for many jobs
-- KEYS[1] active      ZSET  score = lock deadline (ms)
-- KEYS[2] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] lock_ttl_ms       the new deadline is now + lock_ttl
-- ARGV[3..] per job: id, token
-- returns one flag per job: 1 extended, 2 extended but the job was asked to cancel (the
--   worker's fallback when it missed the cancel channel), 0 the lock is no longer ours
--@include lib/common.lua
local tag, deadline = KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local held = redis.call("HMGET", job_key(tag, id), "lock", "cancel")
  if held[1] == token then
    redis.call("ZADD", KEYS[1], "XX", deadline, id)
    out[#out + 1] = held[2] and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
