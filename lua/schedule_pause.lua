-- schedule_pause.lua: scheduled -> paused. The next run is kept (resume decides what to do
-- with the fires it passes over); a paused schedule leaves the due set, so no tick sees it.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] name
-- ARGV[2] now_ms
-- returns 1 when paused (or already paused), 0 when there is no such schedule
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
if not redis.call("HGET", KEYS[1], "paused") then
  redis.call("HSET", KEYS[1], "paused", ARGV[2])
end
redis.call("ZREM", KEYS[2], ARGV[1])
return 1
