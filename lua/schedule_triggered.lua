-- schedule_triggered.lua: record a run started by hand (``trigger``) as the last run, so the
-- overlap check of the next fire sees its job. The next run does not move.
-- KEYS[1] schedule    HASH  def, timing, rev, next, paused, last_*, pending*, skipped, created
-- ARGV[1] job_id
-- ARGV[2] task
-- ARGV[3] now_ms
-- returns 1, or 0 when there is no such schedule
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "last_run", ARGV[3], "last_job", ARGV[1], "last_task", ARGV[2],
  "last_fired", ARGV[3])
return 1
