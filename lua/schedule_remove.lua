-- schedule_remove.lua: any -> (absent). Jobs it already dispatched are left alone.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- KEYS[3] names       SET   every schedule's name
-- ARGV[1] name
-- returns 1 when removed, 0 when there was no such schedule
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("SREM", KEYS[3], ARGV[1])
return redis.call("DEL", KEYS[1])
