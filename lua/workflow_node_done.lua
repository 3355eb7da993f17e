-- workflow_node_done.lua: nodes ready/queued -> done; their dependents whose dependencies are
--   all done -> ready (the caller enqueues them, then marks them queued: workflow_nodes_enqueued);
--   the workflow -> completed when every node is done
-- KEYS[1] workflow    HASH  the workflow (lib/workflow.lua)
-- ARGV[1] now_ms
-- ARGV[2] max_age_ms        retention: a completed workflow expires this long after; -1 = kept
-- ARGV[3..] per completed node: index, result (JSON)
-- returns {state, ready}: the workflow's state after the call and the flat list of
--   {index, task, data, extra, ttl_ms} of the nodes to enqueue now (under "<workflow id>.<index>").
-- Run again for the same node, it returns the dependents still ready (lib/workflow.lua,
-- finish_nodes).
--@include lib/workflow.lua
local wf = KEYS[1]
local state, readied = finish_nodes(wf, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV, 3)
local ready = {}
for _, j in ipairs(readied) do
  ready_entry(ready, wf, j)
end
return { state, ready }
