-- leader_release.lua: give a leader lease up (a DefaultTaskManager shutting down), so another
-- manager takes over at its next keep instead of after the lease runs out.
-- KEYS[1] lease       HASH  owner (token), until (ms)
-- ARGV[1] token             the caller's identity
-- returns 1 when the caller held the lease (now free), else 0
if redis.call("HGET", KEYS[1], "owner") ~= ARGV[1] then
  return 0
end
redis.call("DEL", KEYS[1])
return 1
