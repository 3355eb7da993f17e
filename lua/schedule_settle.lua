-- schedule_settle.lua: fire claimed -> scheduled. The second step of a fire: its job is
-- enqueued, so it is no longer pending.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- ARGV[1] job_id            the fire's job id
-- returns 1 when that fire was pending (now settled), else 0
if redis.call("HGET", KEYS[1], "pending_id") == ARGV[1] then
  redis.call("HDEL", KEYS[1], "pending_id", "pending")
  return 1
end
return 0
