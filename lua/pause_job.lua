-- pause_job.lua: waiting | delayed | retrying -> paused (out of every line: no worker claims
--   it until resume_job.lua puts it back)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  delayed and retrying ids; score = due time (ms)
-- KEYS[4] paused      ZSET  paused ids; score = when they were paused (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job to pause
-- ARGV[2] now_ms
-- returns {outcome, state}: outcome "paused" (done now), "paused already", "refused" (active
--   or ended: state says which) or "missing" (no such job); state is the job's state before
-- The job keeps its run_at, priority, attempt count and any dedup key it holds; "paused_from"
-- remembers the state it left, for resume_job.lua.
--@include lib/common.lua
local tag, id, now = KEYS[6], ARGV[1], tonumber(ARGV[2])
local job = job_key(tag, id)
local fields = redis.call("HMGET", job, "state", "conc_q", "conc_all", "t")
local state = job_state(fields[1], fields[4])
if not state then
  return { "missing", "" }
end
if state == "paused" then
  return { "paused already", state }
end
if state ~= "waiting" and state ~= "delayed" and state ~= "retrying" then
  return { "refused", state }
end
if state == "waiting" then
  unqueue_waiting(tag, KEYS[1], KEYS[2], id, fields[2], fields[3])
else
  redis.call("ZREM", KEYS[3], id)
end
redis.call("HSET", job, "state", "paused", "paused_from", state)
redis.call("ZADD", KEYS[4], now, id)
emit(KEYS[5], "paused", id)
return { "paused", state }
