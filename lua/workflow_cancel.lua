-- workflow_cancel.lua: running -> cancelled
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] reason            why (may be empty)
-- ARGV[3] max_age_ms        retention: the cancelled workflow expires this long after; -1 = kept
-- returns {state, queued}: the state before the call, and the flat {index, task} of the ready
--   and queued nodes, whose jobs the caller cancels (active ones at once, by the job cancel);
--   empty when it was not running (the repair pass cancels the jobs of a stopped workflow's
--   cancelled nodes again before it settles it: field cq)
--@include lib/workflow.lua
local wf, now = KEYS[1], tonumber(ARGV[1])
local state = redis.call("HGET", wf, "state")
if state ~= "running" then
  return { state or "missing", {} }
end
redis.call("HSET", wf, "reason", ARGV[2])
return { state, stop(wf, "cancelled", now, tonumber(ARGV[3])) }
