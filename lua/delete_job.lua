-- delete_job.lua: waiting | delayed | retrying | paused | completed | failed | cancelled | expired ->
--   (deleted): one job removed for good, whatever line or set holds it; an active job is refused
-- KEYS[1] job         HASH  the job
-- KEYS[2] logs        LIST  the job's log lines
-- KEYS[3] wait        LIST  waiting ids of priority 0
-- KEYS[4] prio        ZSET  waiting ids of priority > 0
-- KEYS[5] delayed     ZSET  delayed and retrying ids; score = due time (ms)
-- KEYS[6] completed   ZSET  completed ids; score = finish time (ms)
-- KEYS[7] failed      ZSET  permanent failures; score = finish time (ms)
-- KEYS[8] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[9] expired     ZSET  expired ids; score = when they expired (ms)
-- KEYS[10] events     STREAM
-- KEYS[11] paused     ZSET  paused ids; score = when they were paused (ms)
-- KEYS[12] tag        PREFIX the task's key prefix: held keys are rebuilt on it (lib/common.lua)
-- ARGV[1] id                the job to delete
-- returns {outcome, state}: outcome "deleted", "active" (refused: cancel it first, or wait for
--   it to end) or "missing" (no such job); state is the job's state before the call
-- A job parked on a full concurrency key leaves its parked line (the LIST named in its hash,
-- under the same hash tag) and the task's parked set; a dedup/debounce key it holds is freed.
--@include lib/common.lua
local id, tag = ARGV[1], KEYS[12]
local fields = redis.call("HMGET", KEYS[1], "state", "holds", "conc_q", "conc_all", "t")
local state = job_state(fields[1], fields[5])
if not state then
  return { "missing", "" }
end
if state == "active" then
  return { "active", state }
end
if state == "waiting" then
  unqueue_waiting(tag, KEYS[3], KEYS[4], id, fields[3], fields[4])
  release_hold(tag, id, fields[2])
elseif state == "delayed" or state == "retrying" then
  redis.call("ZREM", KEYS[5], id)
  release_hold(tag, id, fields[2])
elseif state == "paused" then
  redis.call("ZREM", KEYS[11], id)
  release_hold(tag, id, fields[2])
else
  for i = 6, 9 do
    redis.call("ZREM", KEYS[i], id)
  end
end
redis.call("DEL", KEYS[1], KEYS[2])
emit(KEYS[10], "purged", id)
return { "deleted", state }
