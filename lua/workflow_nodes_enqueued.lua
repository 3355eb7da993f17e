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
-- the states in one HMGET and the marks in one HSET per thousand nodes, not two calls a node
local seen = {}
for start = 1, #ARGV, 1000 do
  local names, marks = {}, {}
  for a = start, math.min(start + 999, #ARGV) do
    names[#names + 1] = "s:" .. ARGV[a]
  end
  local states = redis.call("HMGET", wf, unpack(names))
  for n, name in ipairs(names) do
    if states[n] == "ready" and not seen[name] then
      seen[name] = true
      marks[#marks + 1] = name
      marks[#marks + 1] = "queued"
    end
  end
  if #marks > 0 then
    redis.call("HSET", wf, unpack(marks))
    marked = marked + #marks / 2
  end
end
return marked
