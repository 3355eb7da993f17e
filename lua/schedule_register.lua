-- schedule_register.lua: (absent) -> scheduled, or a new definition for an existing schedule.
-- Registering again (every worker start) never resets state: an equal definition changes
-- nothing; a new one keeps the next run, last run, last job and pause unless its timing
-- (cron, zone or interval) changed, which moves the next run to first_ms.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- KEYS[3] names       SET   every schedule's name
-- ARGV[1] name
-- ARGV[2] def               the definition (JSON)
-- ARGV[3] timing            the part of the definition that decides fire times
-- ARGV[4] first_ms          the next run of a new schedule, or of one whose timing changed
-- ARGV[5] now_ms
-- ARGV[6] create_only       "1" for `schedules add`: two racing adds of one name cannot both win
-- returns "created", "updated" (same timing), "retimed", "unchanged" or "exists" (create only)
local s, name, def, timing, first = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local stored = redis.call("HMGET", s, "def", "timing", "paused")
if not stored[1] then
  redis.call("HSET", s, "def", def, "timing", timing, "rev", 1, "next", first, "created", ARGV[5])
  redis.call("SADD", KEYS[3], name)
  redis.call("ZADD", KEYS[2], first, name)
  return "created"
end
if ARGV[6] == "1" then
  return "exists"
end
if stored[1] == def then
  return "unchanged"
end
redis.call("HSET", s, "def", def)
redis.call("HINCRBY", s, "rev", 1)
if stored[2] == timing then
  return "updated"
end
redis.call("HSET", s, "timing", timing, "next", first)
if not stored[3] then
  redis.call("ZADD", KEYS[2], first, name)
end
return "retimed"
