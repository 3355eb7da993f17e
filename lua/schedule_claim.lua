-- schedule_claim.lua: scheduled -> fire claimed. The first of two steps of a fire: it moves the
-- next run on and records the fire as pending; the caller then enqueues the job (in the
-- task's slot, so not from here) under the fire's deterministic id, and settles it with
-- schedule_settle. A crash in between leaves the fire pending: the next tick enqueues it
-- again, which is a no-op if it was already enqueued (same id). The compare-and-set on rev and
-- next means two schedulers racing claim each fire once.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] name
-- ARGV[2] rev               the definition revision the caller planned with
-- ARGV[3] expected_next     the next run the caller planned from
-- ARGV[4] fire_ms           this fire's time
-- ARGV[5] next_ms           the next run after this fire
-- ARGV[6] job_id            the fire's job id
-- ARGV[7] task
-- ARGV[8] pending           the job to enqueue (JSON: id, task, data), kept until settled
-- ARGV[9] skipped           fire times this tick skipped (added to the count)
-- ARGV[10] now_ms
-- returns 1 when claimed, 0 when stale (moved, updated, paused, removed, or a fire pending)
local s = KEYS[1]
local h = redis.call("HMGET", s, "rev", "next", "paused", "pending_id")
if h[1] ~= ARGV[2] or h[2] ~= ARGV[3] or h[3] or h[4] then
  return 0
end
redis.call("HSET", s, "next", ARGV[5], "last_run", ARGV[4], "last_job", ARGV[6],
  "last_task", ARGV[7], "last_fired", ARGV[10], "pending_id", ARGV[6], "pending", ARGV[8])
if ARGV[9] ~= "0" then
  redis.call("HINCRBY", s, "skipped", ARGV[9])
  redis.call("HSET", s, "last_skipped", ARGV[10])
end
-- due at the fire time until settled, so a crash leaves it due: the next tick finishes it
redis.call("ZADD", KEYS[2], ARGV[4], ARGV[1])
return 1
