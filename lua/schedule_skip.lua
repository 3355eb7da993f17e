-- schedule_skip.lua: scheduled -> scheduled later, without a fire: the due fire times were
-- missed (on_missed = "skip") or the previous fire's job is still unfinished (overlap off).
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] name
-- ARGV[2] rev               the definition revision the caller planned with
-- ARGV[3] expected_next     the next run the caller planned from
-- ARGV[4] next_ms           the new next run
-- ARGV[5] skipped           fire times skipped (added to the count)
-- ARGV[6] now_ms
-- returns 1 when moved, 0 when stale (moved, updated, paused, removed, or a fire pending)
local s = KEYS[1]
local h = redis.call("HMGET", s, "rev", "next", "paused", "pending_id")
if h[1] ~= ARGV[2] or h[2] ~= ARGV[3] or h[3] or h[4] then
  return 0
end
redis.call("HSET", s, "next", ARGV[4])
if ARGV[5] ~= "0" then
  redis.call("HINCRBY", s, "skipped", ARGV[5])
  redis.call("HSET", s, "last_skipped", ARGV[6])
end
redis.call("ZADD", KEYS[2], ARGV[4], ARGV[1])
return 1
