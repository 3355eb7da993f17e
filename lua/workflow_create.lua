-- workflow_create.lua: (new) -> running; the graph is stored once, its roots marked ready
--   (the caller marks them queued once their jobs are enqueued: workflow_nodes_enqueued)
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] name
-- ARGV[3] outputs           the nodes whose results make the workflow's result ("i,j")
-- ARGV[4] expire_at_ms      cancel it if still running then (workers' repair pass); 0 = never
-- ARGV[5] n                 how many nodes follow
-- ARGV[6] tasks             JSON list of [name, extra, ttl_ms], each the nodes of a task share:
--   its extra job fields (JSON text, "" = none) and its job TTL (ms, counted from the job's
--   enqueue; 0 = none), sent once and stored per node (x:i, e:i)
-- ARGV[7..] per node: task, deps, dependents, data
--   task: its place in the tasks list (1-based); deps and dependents as "1,2"; data: its bound
--   data, or empty when it takes its dependencies' output (JSON is never empty)
-- returns 1, or 0 when a workflow with this id already exists (a call sent again)
-- The caller enqueues the roots (nodes without dependencies) under their pre-generated ids.
local wf, now, n = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[5])
if redis.call("EXISTS", wf) == 1 then
  return 0
end
local fields = { "state", "running", "name", ARGV[2], "created", now, "n", n, "done", 0,
  "out", ARGV[3] }
if ARGV[4] ~= "0" then
  fields[#fields + 1] = "exp"
  fields[#fields + 1] = ARGV[4]
end
-- one HSET per few thousand fields, not a few per node (unpack() takes ~8000 values at most)
local function put(name, value)
  fields[#fields + 1] = name
  fields[#fields + 1] = value
  if #fields >= 4000 then
    redis.call("HSET", wf, unpack(fields))
    fields = {}
  end
end
local tasks = cjson.decode(ARGV[6])
for i = 0, n - 1 do
  local base = 7 + i * 4
  local t = tasks[tonumber(ARGV[base])]
  local deps = ARGV[base + 1]
  put("t:" .. i, t[1])
  -- empty fields are left out: a root has no p:/w:, a last node no d:
  if deps == "" then
    put("s:" .. i, "ready")
  else
    local waits = 0
    for _ in string.gmatch(deps, "[^,]+") do
      waits = waits + 1
    end
    put("s:" .. i, "pending")
    put("p:" .. i, deps)
    put("w:" .. i, waits)
  end
  if ARGV[base + 2] ~= "" then
    put("d:" .. i, ARGV[base + 2])
  end
  if ARGV[base + 3] ~= "" then
    put("b:" .. i, ARGV[base + 3])
  end
  if t[2] ~= "" then
    put("x:" .. i, t[2])
  end
  if t[3] ~= 0 then
    put("e:" .. i, t[3])
  end
end
if #fields > 0 then
  redis.call("HSET", wf, unpack(fields))
end
return 1
