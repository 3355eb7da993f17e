-- cancel.lua: waiting | delayed | retrying | paused -> cancelled; active -> flagged (the worker stops it)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  delayed and retrying ids; score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[6] paused      ZSET  paused ids; score = when they were paused (ms)
-- KEYS[7] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job to cancel
-- ARGV[2] now_ms
-- ARGV[3] reason            why (may be empty); kept in the job's "cancel" field
-- ARGV[4] channel           the task's cancel channel, told the id of a flagged active job
-- returns {outcome, state}: outcome "cancelled" (done now), "flagged" (active: its worker
--   will stop it and end it cancelled), "finished" (too late: state says how it ended) or
--   "missing" (no such job); state is the job's state before the call
-- An active job keeps its lock: ack_and_claim, fail_and_claim, nack and stall_sweep end a
-- flagged job cancelled, whatever its handler did.
--@include lib/common.lua
local tag, id, now, reason = KEYS[7], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local job = job_key(tag, id)
local fields = redis.call("HMGET", job, "state", "holds", "conc_q", "conc_all", "t")
local state = job_state(fields[1], fields[5])
if not state then
  return { "missing", "" }
end
if state == "active" then
  if not redis.call("HGET", job, "cancel") then
    redis.call("HSET", job, "cancel", reason)
  end
  redis.call("PUBLISH", ARGV[4], id)
  return { "flagged", state }
end
if state ~= "waiting" and state ~= "delayed" and state ~= "retrying" and state ~= "paused" then
  return { "finished", state }
end
if state == "waiting" then
  unqueue_waiting(tag, KEYS[1], KEYS[2], id, fields[3], fields[4])
elseif state == "paused" then
  redis.call("ZREM", KEYS[6], id)
else
  redis.call("ZREM", KEYS[3], id)
end
redis.call("HSET", job, "state", "cancelled", "finished", now, "cancel", reason)
release_hold(tag, id, fields[2])
redis.call("ZADD", KEYS[5], now, id)
emit(KEYS[4], "cancelled", id)
return { "cancelled", state }
