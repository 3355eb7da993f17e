-- Shared by the workflow scripts (spliced in at "--@include lib/workflow.lua").
-- A workflow is one HASH under its own hash tag {w:<id>}:
--   state      running | completed | failed | cancelled
--   name, created, finished (ms), n (nodes), done (nodes done), out (output nodes, "i,j")
--   result     its result (JSON) once completed; error / reason / failed_node once stopped
--   exp        when it is cancelled if still running (ms; absent = never)
--   moved      when a node last ended done (ms; absent until one did): the repair pass reads
--              only workflows idle longer than the stall interval
--   cq         once stopped: the nodes it cancelled that were ready or queued ("i,j"), whose
--              jobs may exist (cancelling them again is harmless: see stopped_nodes)
-- and per node i:
--   t:i task   p:i the nodes it waits for ("1,2")   d:i the nodes waiting for it
--   w:i how many of its dependencies are not done yet   b:i its bound data (bound nodes only)
--   x:i its task's extra job fields (JSON)   s:i pending | ready | queued | done | failed |
--              cancelled (ready: its job is to be enqueued; queued: it was enqueued)
--   r:i its result (JSON) once done   e:i its task's job TTL (ms, counted from its enqueue)
-- Node i's job id is "<workflow id>.<i>", in its task's own slot: the scripts here touch the
-- workflow's hash only and return what the caller enqueues or cancels there.

local function split_ints(text)
  local out = {}
  if text and text ~= "" then
    for part in string.gmatch(text, "[^,]+") do
      out[#out + 1] = part
    end
  end
  return out
end

-- The JSON list of the results of `nodes` (index strings), in order; HMGET in batches, as
-- unpack() is limited to a few thousand values.
local function results_list(wf, nodes)
  local parts = {}
  for start = 1, #nodes, 1000 do
    local fields = {}
    for n = start, math.min(start + 999, #nodes) do
      fields[#fields + 1] = "r:" .. nodes[n]
    end
    parts[#parts + 1] = table.concat(redis.call("HMGET", wf, unpack(fields)), ",")
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- The input of node j: its bound data, else its dependency's result (one) or the JSON list of
-- their results in order (several); results are JSON texts, so the list is spliced as text.
local function node_input(wf, j)
  local f = redis.call("HMGET", wf, "b:" .. j, "p:" .. j)
  if f[1] then
    return f[1]
  end
  local deps = split_ints(f[2])
  if #deps == 1 then
    return redis.call("HGET", wf, "r:" .. deps[1])
  end
  return results_list(wf, deps)
end

-- {index, task, data, extra, ttl_ms} of node j, flat into `out`; `f`: its t:, x: and e:
-- fields when the caller read them already.
local function ready_entry(out, wf, j, f)
  f = f or redis.call("HMGET", wf, "t:" .. j, "x:" .. j, "e:" .. j)
  out[#out + 1] = tonumber(j)
  out[#out + 1] = f[1]
  out[#out + 1] = node_input(wf, j)
  out[#out + 1] = f[2] or ""
  out[#out + 1] = tonumber(f[3] or "0")
end

-- A finished workflow expires with the finished jobs' age limit (-1 = kept).
local function retire(wf, max_age)
  if max_age >= 0 then
    redis.call("PEXPIRE", wf, math.max(max_age, 1))
  end
end

-- The flat {index, task} of the nodes a stopped workflow cancelled that were ready or queued.
local function stopped_nodes(wf)
  local out = {}
  for _, i in ipairs(split_ints(redis.call("HGET", wf, "cq"))) do
    out[#out + 1] = tonumber(i)
    out[#out + 1] = redis.call("HGET", wf, "t:" .. i)
  end
  return out
end

-- Stop a running workflow: every node not done ends `cancelled` in the hash; returns the
-- flat {index, task} of the ready and queued ones (their jobs may exist: the caller cancels
-- them), also kept as cq for a caller that must do it again.
local function stop(wf, state, now, max_age)
  local n = tonumber(redis.call("HGET", wf, "n"))
  local queued, cq = {}, {}
  for i = 0, n - 1 do
    local s = redis.call("HGET", wf, "s:" .. i)
    if s == "queued" or s == "ready" then
      queued[#queued + 1] = i
      queued[#queued + 1] = redis.call("HGET", wf, "t:" .. i)
      cq[#cq + 1] = i
    end
    if s == "queued" or s == "ready" or s == "pending" then
      redis.call("HSET", wf, "s:" .. i, "cancelled")
    end
  end
  redis.call("HSET", wf, "state", state, "finished", now, "cq", table.concat(cq, ","))
  retire(wf, max_age)
  return queued
end

-- Mark nodes done with their results: args[first], args[first + 1] and on are index, result
-- pairs. Their dependents whose dependencies are now all done become ready, and the workflow
-- completes when every node is done (expiring with `max_age`). Returns the workflow's state
-- after the call ("missing" when there is none) and the indexes of the nodes ready now.
-- A node done already (named again by a caller that crashed before enqueueing what it made
-- ready) hands back its dependents still ready and changes nothing: the enqueue that follows
-- is idempotent by job id. Dependents already queued are not handed back: their jobs were
-- enqueued (and may be gone since).
local function finish_nodes(wf, now, max_age, args, first)
  local head = redis.call("HMGET", wf, "state", "n", "done")
  local state = head[1]
  if state ~= "running" then
    return state or "missing", {}
  end
  -- Two calls per few hundred nodes (their states in one HMGET, the marks in one HSET), not
  -- two a node; the nodes they make ready are read after the marks are written (a node's
  -- input is its dependencies' results).
  local readied, seen, marked, finished = {}, {}, {}, 0
  for from = first, #args, 1000 do
    local last = math.min(from + 998, #args - 1)
    local names, marks = {}, {}
    for a = from, last, 2 do
      names[#names + 1] = "s:" .. args[a]
      names[#names + 1] = "d:" .. args[a]
    end
    local f = redis.call("HMGET", wf, unpack(names))
    for a = from, last, 2 do
      local i, at = args[a], a - from + 1
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
        marks[#marks + 1] = args[a + 1]
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
    retire(wf, max_age)
    state = "completed"
  end
  return state, readied
end
