-- enqueue_deduplicated.lua: (new) -> waiting | delayed, unless a job holding the dedup key is
--   in one of the blocking states (then nothing changes)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] dedup       STRING the id of the job holding the key
-- KEYS[7] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[8] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job id (client generated)
-- ARGV[2] data              the JSON payload
-- ARGV[3] now_ms
-- ARGV[4] priority          integer >= 0
-- ARGV[5] run_at_ms         when the job becomes due; 0 = now
-- ARGV[6] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[7] extra             more hash fields as a JSON object; "" = none
-- ARGV[8] blocking          the states that block, space separated ("waiting delayed active")
-- returns {1, id} enqueued (also by an earlier run of this very call: same id, data and
--   now_ms), or {0, holder id} deduplicated (the id itself when another job holds it)
-- The holder's state is read now, so a key whose holder ended (or was deleted) never blocks,
-- even if a finishing script has not released it. "retrying" blocks like "delayed": the job
-- waits in the delayed set for its next attempt.
--@include lib/common.lua
--@include lib/create.lua
local tag, id, now = KEYS[8], ARGV[1], tonumber(ARGV[3])
if own_job(job_key(tag, id), ARGV[2], now) then
  return { 1, id } -- an earlier run of this very call created it: not a duplicate of itself
end
local holder = redis.call("GET", KEYS[6])
if holder then
  local held = redis.call("HMGET", job_key(tag, holder), "state", "t")
  local state = job_state(held[1], held[2])
  if state == "retrying" then
    state = "delayed"
  end
  if state then
    for blocking in string.gmatch(ARGV[8], "%S+") do
      if blocking == state then
        return { 0, holder }
      end
    end
  end
end
if redis.call("EXISTS", job_key(tag, id)) == 1 then
  return { 0, id }
end
local k = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], events = KEYS[4], marker = KEYS[5],
  seq = KEYS[7] }
create_job(tag, k, id, ARGV[2], now, tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7])
redis.call("HSET", job_key(tag, id), "holds", KEYS[6])
redis.call("SET", KEYS[6], id)
return { 1, id }
