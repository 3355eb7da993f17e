-- workflow_node_done.lua: nodes ready/queued -> done; their dependents whose dependencies are
--   all done -> ready (the caller enqueues them, then marks them queued: workflow_nodes_enqueued);
--   the workflow -> completed when every node is done
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] max_age_ms        retention: a completed workflow expires this long after; -1 = kept
-- ARGV[3..] per completed node: index, result (JSON)
-- returns {state, ready}: the workflow's state after the call and the flat list of
--   {index, task, data, extra, ttl_ms} of the nodes to enqueue now (under "<workflow id>.<index>").
-- Run again for the same node (the caller crashed before enqueueing them), it returns the
-- dependents still ready and changes nothing: the enqueue that follows is idempotent by job id.
-- Dependents already queued are not returned: their jobs were enqueued (and may be gone since).
--@include lib/workflow.lua
local wf, now = KEYS[1], tonumber(ARGV[1])
local head = redis.call("HMGET", wf, "state", "n", "done")
local state = head[1]
if state ~= "running" then
  return { state or "missing", {} }
end
-- Two calls per few hundred nodes (their states in one HMGET, the marks in one HSET), not two
-- a node; the nodes they make ready are read after the marks are written (a node's input is
-- its dependencies' results).
local readied, seen, marked, finished = {}, {}, {}, 0
for first = 3, #ARGV, 1000 do
  local last = math.min(first + 998, #ARGV - 1)
  local names, marks = {}, {}
  for a = first, last, 2 do
    names[#names + 1] = "s:" .. ARGV[a]
    names[#names + 1] = "d:" .. ARGV[a]
  end
  local f = redis.call("HMGET", wf, unpack(names))
  for a = first, last, 2 do
    local i, at = ARGV[a], a - first + 1
    local s, dependents = f[at], f[at + 1] and split_ints(f[at + 1]) or {}
    if marked[i] then -- named twice in this call: once is enough
    elseif s == "done" then -- a repeat: hand back the dependents it made ready
      for _, j in ipairs(dependents) do
        if not seen[j] and not marked[j] and redis.call("HGET", wf, "s:" .. j) == "ready" then
          seen[j] = true
          readied[#readied + 1] = j
        end
      end
    elseif s == "queued" or s == "ready" then
      marked[i] = true
      marks[#marks + 1] = names[at]
      marks[#marks + 1] = "done"
      marks[#marks + 1] = "r:" .. i
      marks[#marks + 1] = ARGV[a + 1]
      finished = finished + 1
      for _, j in ipairs(dependents) do
        if redis.call("HINCRBY", wf, "w:" .. j, -1) == 0 then
          redis.call("HSET", wf, "s:" .. j, "ready")
          seen[j] = true
          readied[#readied + 1] = j
        end
      end
    end
  end
  if #marks > 0 then
    redis.call("HSET", wf, unpack(marks))
  end
end
local ready = {}
for _, j in ipairs(readied) do
  ready_entry(ready, wf, j)
end
local done = tonumber(head[3]) + finished
if finished > 0 then -- moved: when it last moved on (the repair pass leaves it alone a while)
  redis.call("HSET", wf, "done", done, "moved", now)
end
if finished > 0 and done == tonumber(head[2]) then
  local out = split_ints(redis.call("HGET", wf, "out"))
  local result
  if #out == 1 then
    result = redis.call("HGET", wf, "r:" .. out[1])
  else
    result = results_list(wf, out)
  end
  redis.call("HSET", wf, "state", "completed", "finished", now, "result", result)
  retire(wf, tonumber(ARGV[2]))
  state = "completed"
end
return { state, ready }
