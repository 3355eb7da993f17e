-- workflow_node_done.lua: node queued -> done; its dependents whose dependencies are all done
--   -> queued; the workflow -> completed when every node is done
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] index             the node whose job completed
-- ARGV[3] result            its result (JSON)
-- ARGV[4] max_age_ms        retention: a completed workflow expires this long after; -1 = kept
-- returns {state, ready}: the workflow's state after the call and the flat list of
--   {index, task, data, extra} of the nodes to enqueue now (under "<workflow id>.<index>").
-- Run again for the same node (the caller crashed before enqueueing them), it returns the same
-- ready nodes and changes nothing: the enqueue that follows is idempotent by job id.
--@include lib/workflow.lua
local wf, now, i = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local state = redis.call("HGET", wf, "state")
if state ~= "running" then
  return { state or "missing", {} }
end
local f = redis.call("HMGET", wf, "s:" .. i, "d:" .. i)
local ready = {}
if f[1] == "done" then -- a repeat: hand back the dependents it made ready
  for _, j in ipairs(split_ints(f[2])) do
    if redis.call("HGET", wf, "s:" .. j) == "queued" then
      ready_entry(ready, wf, j)
    end
  end
  return { state, ready }
end
if f[1] ~= "queued" then
  return { state, {} }
end
redis.call("HSET", wf, "s:" .. i, "done", "r:" .. i, ARGV[3])
for _, j in ipairs(split_ints(f[2])) do
  if redis.call("HINCRBY", wf, "w:" .. j, -1) == 0 then
    redis.call("HSET", wf, "s:" .. j, "queued")
    ready_entry(ready, wf, j)
  end
end
local done = redis.call("HINCRBY", wf, "done", 1)
if done == tonumber(redis.call("HGET", wf, "n")) then
  local out = split_ints(redis.call("HGET", wf, "out"))
  local result
  if #out == 1 then
    result = redis.call("HGET", wf, "r:" .. out[1])
  else
    local fields = {}
    for n, o in ipairs(out) do
      fields[n] = "r:" .. o
    end
    result = "[" .. table.concat(redis.call("HMGET", wf, unpack(fields)), ",") .. "]"
  end
  redis.call("HSET", wf, "state", "completed", "finished", now, "result", result)
  retire(wf, tonumber(ARGV[4]))
  state = "completed"
end
return { state, ready }
