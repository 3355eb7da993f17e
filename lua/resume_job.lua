-- resume_job.lua: paused -> waiting | delayed | retrying (the state it was paused in)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  delayed and retrying ids; score = due time (ms)
-- KEYS[4] paused      ZSET  paused ids; score = when they were paused (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] seq         STRING the last position handed out in the priority line
-- KEYS[8] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job to resume
-- ARGV[2] now_ms
-- returns {outcome, state}: outcome "resumed", "not paused" (state says what it is) or
--   "missing" (no such job); state is the job's state after the call
-- A job paused while waiting goes to the back of its line; one paused while delayed or
-- retrying goes back to the delayed set at its due time, or now if that has passed (the next
-- claim promotes it, as any due job).
--@include lib/common.lua
local tag, id, now = KEYS[8], ARGV[1], tonumber(ARGV[2])
local job = job_key(tag, id)
local fields = redis.call("HMGET", job, "state", "paused_from", "prio", "run_at", "t")
local state = job_state(fields[1], fields[5])
if not state then
  redis.call("ZREM", KEYS[4], id)
  return { "missing", "" }
end
if state ~= "paused" then
  return { "not paused", state }
end
redis.call("ZREM", KEYS[4], id)
local back = fields[2] or "waiting"
if back == "waiting" then
  queue_back(KEYS[7], KEYS[1], KEYS[2], id, tonumber(fields[3] or "0"), now)
  mark_work(KEYS[6], 0)
else
  local due = math.max(tonumber(fields[4] or "0"), now)
  redis.call("ZADD", KEYS[3], due, id)
  mark_work(KEYS[6], due, true)
end
if back == "waiting" then
  redis.call("HDEL", job, "state", "paused_from")
else
  redis.call("HSET", job, "state", back)
  redis.call("HDEL", job, "paused_from")
end
emit(KEYS[5], back, id, "reason", "resumed")
return { "resumed", back }
