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

-- {index, task, data, extra, ttl_ms} of node j, flat into `out`.
local function ready_entry(out, wf, j)
  local f = redis.call("HMGET", wf, "t:" .. j, "x:" .. j, "e:" .. j)
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
