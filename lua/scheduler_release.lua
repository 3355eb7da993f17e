-- scheduler_release.lua: give the scheduler lease up (a worker stopping), so another worker
-- takes over at its next tick instead of after the lease runs out.
-- KEYS[1] lease       HASH  owner (token), until (ms)
-- ARGV[1] token             the caller's identity
-- returns 1 when the caller held the lease (now free), else 0
if redis.call("HGET", KEYS[1], "owner") == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
