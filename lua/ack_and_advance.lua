-- ack_and_advance.lua: active -> completed (for each finished job, as ack_and_claim.lua); the
--   completed nodes of one workflow -> done (as workflow_node_done.lua); the first 1,000 nodes
--   of this task they made ready -> waiting (as "<workflow id>.<index>", marked queued); then
--   claim like claim.lua, so a chain step of one task is claimed in the call that ended the
--   step before it. One slot: the workflow's id was chosen so its hash tag {w:<id>} falls in
--   the task's slot (taskora_cli/engine/slots.py); the engine sends this call only then.
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] active      ZSET  score = lock deadline (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] completed   ZSET  score = finish time (ms)
-- KEYS[8] expired     ZSET  jobs whose TTL passed before a worker started them; score = when
-- KEYS[9] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[10] counts     HASH  per-minute counts of completed and failed jobs (lib/common.lua)
-- KEYS[11] lastclaim  HASH  the worker's last request id and its reply (lib/claim.lua)
-- KEYS[12] seq        STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[13] tag        PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- KEYS[14] workflow   HASH  the workflow whose nodes are among the finished jobs (same slot)
-- ARGV[1] now_ms
-- ARGV[2] lock_ttl_ms       for the jobs claimed next
-- ARGV[3] worker            the claiming worker's id
-- ARGV[4] count             how many jobs to claim next (0 = none)
-- ARGV[5] promote_limit     how many due jobs to promote at most
-- ARGV[6] max_age_ms        retention: completed jobs (and a completed workflow) older than this
--                           are deleted; -1 = keep
-- ARGV[7] max_items         retention: completed jobs kept at most; -1 = no limit
-- ARGV[8] request           this call's id: sent again, it returns the same reply, settling
--                           and claiming nothing more (lib/claim.lua)
-- ARGV[9] task              this task's name: ready nodes of another task are left to the caller
-- ARGV[10] workflow_id      the workflow of KEYS[14]: finished jobs "<workflow_id>.<index>"
--                           are its nodes
-- ARGV[11] acks             how many finished jobs follow
-- ARGV[12..] per finished job: id, token, result (JSON)
-- returns {acked, claimed, {state, ready}}: acked and claimed as ack_and_claim.lua, state the
--   workflow's after the call and ready the flat list of {index, task, data, extra, ttl_ms} of
--   its nodes of other tasks (and of its own beyond the first 1,000) to enqueue now (as
--   workflow_node_done.lua returns them); a call
--   sent again returns {acked, claimed} alone (the workflow part is then the caller's to redo
--   with workflow_node_done, which repeats nothing).
--@include lib/common.lua
--@include lib/create.lua
--@include lib/claim.lua
--@include lib/retention.lua
--@include lib/ack.lua
--@include lib/workflow.lua
local keys = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], active = KEYS[4],
  events = KEYS[5], marker = KEYS[6], completed = KEYS[7], expired = KEYS[8],
  cancelled = KEYS[9], counts = KEYS[10], seq = KEYS[12] }
-- the same keys again, as `k`: the key checker (tests/lua/keys_declared.py) follows a table's
-- fields by the table's name, and lib/create.lua reads `k` where lib/claim.lua reads `keys`
local k = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], events = KEYS[5],
  marker = KEYS[6], seq = KEYS[12] }
local tag, wf, now, max_age = KEYS[13], KEYS[14], tonumber(ARGV[1]), tonumber(ARGV[6])
local OWN_NODES = 1000
local before, again = replayed(KEYS[11], ARGV[8], tag)
if again then
  rearm_marker(keys) -- as the first run did: the caller's waker may have taken the marker since
  return { before, again }
end
local acked = ack_jobs(tag, keys, now, ARGV, 12, tonumber(ARGV[11]), 3, max_age,
  tonumber(ARGV[7]))
-- the completed jobs that are this workflow's nodes: index, result pairs
local node_prefix = ARGV[10] .. "."
local results = {}
for n, flag in ipairs(acked) do
  local a = 12 + (n - 1) * 3
  if flag == 1 and string.sub(ARGV[a], 1, #node_prefix) == node_prefix then
    results[#results + 1] = string.sub(ARGV[a], #node_prefix + 1)
    results[#results + 1] = ARGV[a + 2]
  end
end
-- due delayed jobs and retries go first, as in ack_and_claim: they were due before the nodes
promote_due(tag, keys.seq, keys.delayed, keys.wait, keys.prio, keys.events, now, tonumber(ARGV[5]))
local state, others = "running", {}
if #results > 0 then
  local readied
  state, readied = finish_nodes(wf, now, max_age, results, 1)
  local queued, created = {}, {}
  for _, j in ipairs(readied) do
    local f = redis.call("HMGET", wf, "t:" .. j, "x:" .. j, "e:" .. j)
    -- beyond OWN_NODES this call hands them back too: the caller's bulk enqueue keeps a big
    -- fan-out out of one long script
    if f[1] == ARGV[9] and #created < OWN_NODES then
      local id = node_prefix .. j
      if redis.call("EXISTS", job_key(tag, id)) == 0 then
        local ttl = tonumber(f[3] or "0")
        local exp = ttl > 0 and string.format("%.0f", now + ttl) or "0"
        create_waiting(tag, k, id, node_input(wf, j), now, 0, exp, f[2] or "")
        created[#created + 1] = id
      end
      queued[#queued + 1] = "s:" .. j
      queued[#queued + 1] = "queued"
      if #queued >= 2000 then -- one HSET per thousand marks (unpack() has a stack limit)
        redis.call("HSET", wf, unpack(queued))
        queued = {}
      end
    else
      ready_entry(others, wf, j, f)
    end
  end
  if #queued > 0 then
    redis.call("HSET", wf, unpack(queued))
  end
  if #created > 0 then -- (the marker: rearm_marker below, if the claim leaves them waiting)
    emit_many(k.events, "waiting", created)
  end
end
local claimed = {}
claim_into(claimed, tag, keys, now, tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
rearm_marker(keys)
remember(KEYS[11], ARGV[8], acked, claimed, tonumber(ARGV[2]))
return { acked, claimed, { state, others } }
