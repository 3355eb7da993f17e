-- schedule_resume.lua: paused -> scheduled, with the next run the caller chose by the missed
-- policy (the stored one under catch-up, else the first fire time after now).
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] name
-- ARGV[2] expected_next     the next run the caller read
-- ARGV[3] next_ms           the next run from now on
-- returns 1 when resumed, 2 when it was not paused, 0 when there is no such schedule or it
-- changed since the caller read it
local h = redis.call("HMGET", KEYS[1], "next", "paused")
if not h[1] then
  return 0
end
if not h[2] then
  return 2
end
if h[1] ~= ARGV[2] then
  return 0
end
redis.call("HDEL", KEYS[1], "paused")
redis.call("HSET", KEYS[1], "next", ARGV[3])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
return 1
