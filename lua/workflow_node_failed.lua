-- workflow_node_failed.lua: node -> failed (for good: no retry left); running -> failed
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] index             the node whose job failed for good
-- ARGV[3] error             its error (JSON), kept as the workflow's error
-- ARGV[4] max_age_ms        retention: the failed workflow expires this long after; -1 = kept
-- returns the flat {index, task} of the ready and queued nodes, whose jobs the caller cancels;
--   every other node not done ends cancelled here. When the workflow was stopped already (a
--   call sent again, or another node failed too), the same nodes as when it stopped, so a caller
--   whose first reply was lost still cancels them (cancelling a job twice is harmless).
--@include lib/workflow.lua
local wf, now, i = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local state = redis.call("HGET", wf, "state")
if state ~= "running" then
  if state == "failed" or state == "cancelled" then
    return stopped_nodes(wf)
  end
  return {}
end
redis.call("HSET", wf, "s:" .. i, "failed", "error", ARGV[3], "failed_node", i)
return stop(wf, "failed", now, tonumber(ARGV[4]))
