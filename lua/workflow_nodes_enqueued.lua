-- workflow_nodes_enqueued.lua: nodes ready -> queued, once the caller enqueued their jobs
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1..] per enqueued node: index
-- returns how many nodes it marked (others were not ready: done already, or stopped)
-- A queued node whose job is missing was enqueued and is gone since (deleted, expired or
-- trimmed): the repair pass fails its workflow rather than running the node again.
local wf, marked = KEYS[1], 0
if redis.call("HGET", wf, "state") ~= "running" then
  return 0
end
for _, i in ipairs(ARGV) do
  if redis.call("HGET", wf, "s:" .. i) == "ready" then
    redis.call("HSET", wf, "s:" .. i, "queued")
    marked = marked + 1
  end
end
return marked
