-- schedule_settle.lua: fire claimed -> scheduled. The second step of a fire: its job is
-- enqueued, so it is no longer pending, and the schedule is due again at its next run.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] name
-- ARGV[2] job_id            the fire's job id
-- returns 1 when that fire was pending (now settled), else 0
local h = redis.call("HMGET", KEYS[1], "pending_id", "next", "paused")
if h[1] ~= ARGV[2] then
  return 0
end
redis.call("HDEL", KEYS[1], "pending_id", "pending")
if not h[3] then
  redis.call("ZADD", KEYS[2], h[2], ARGV[1])
end
return 1
