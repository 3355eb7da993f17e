-- workflow_create.lua: (new) -> running; the graph is stored once, its roots marked ready
--   (the caller marks them queued once their jobs are enqueued: workflow_nodes_enqueued)
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] name
-- ARGV[3] outputs           the nodes whose results make the workflow's result ("i,j")
-- ARGV[4] expire_at_ms      cancel it if still running then (workers' repair pass); 0 = never
-- ARGV[5] n                 how many nodes follow
-- ARGV[6..] per node: task, deps, dependents, bound, data, extra, ttl_ms
--   deps and dependents as "1,2"; bound "1" or "0"; ttl_ms: its task's job TTL, counted from
--   its job's enqueue (0 = none)
-- returns 1, or 0 when a workflow with this id already exists (a call sent again)
-- The caller enqueues the roots (nodes without dependencies) under their pre-generated ids.
local wf, now, n = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[5])
if redis.call("EXISTS", wf) == 1 then
  return 0
end
redis.call("HSET", wf, "state", "running", "name", ARGV[2], "created", now, "n", n,
  "done", 0, "out", ARGV[3])
if ARGV[4] ~= "0" then
  redis.call("HSET", wf, "exp", ARGV[4])
end
for i = 0, n - 1 do
  local base = 6 + i * 7
  local deps = ARGV[base + 1]
  local waits = 0
  for _ in string.gmatch(deps, "[^,]+") do
    waits = waits + 1
  end
  -- empty fields are left out: a root has no p:/w:, a last node no d:
  if waits == 0 then
    redis.call("HSET", wf, "t:" .. i, ARGV[base], "s:" .. i, "ready")
  else
    redis.call("HSET", wf, "t:" .. i, ARGV[base], "s:" .. i, "pending", "p:" .. i, deps,
      "w:" .. i, waits)
  end
  if ARGV[base + 2] ~= "" then
    redis.call("HSET", wf, "d:" .. i, ARGV[base + 2])
  end
  if ARGV[base + 3] == "1" then
    redis.call("HSET", wf, "b:" .. i, ARGV[base + 4])
  end
  if ARGV[base + 5] ~= "" then
    redis.call("HSET", wf, "x:" .. i, ARGV[base + 5])
  end
  if ARGV[base + 6] ~= "0" then
    redis.call("HSET", wf, "e:" .. i, ARGV[base + 6])
  end
end
return 1
