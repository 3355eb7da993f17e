-- release_worker.lua: active (held by a worker known to be dead) -> active with a passed lock
-- deadline, so the very next stall sweep recovers its jobs instead of waiting out the lock TTL.
-- The sweep then applies the usual stall rules (stall counter, max_stalls, events); this script
-- only ends the dead worker's claims early and lifts the sweep's once-per-interval guard.
-- KEYS[1] active      ZSET  score = lock deadline (ms)
-- KEYS[2] sweep       STRING the time (ms) before which no other stall sweep of this task runs
-- KEYS[3] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] worker            the dead worker's id (lock tokens start with it and ":")
-- returns how many jobs the worker held
--@include lib/common.lua
local tag, owner = KEYS[3], ARGV[1] .. ":"
local held = 0
local ids = redis.call("ZRANGE", KEYS[1], 0, -1)
for i = 1, #ids do
  local lock = redis.call("HGET", job_key(tag, ids[i]), "lock")
  if lock and string.sub(lock, 1, #owner) == owner then
    redis.call("ZADD", KEYS[1], "XX", 0, ids[i])
    held = held + 1
  end
end
if held > 0 then
  redis.call("DEL", KEYS[2])
end
return held
