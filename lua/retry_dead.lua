-- retry_dead.lua: failed | cancelled | expired -> waiting with a fresh attempt count (jobs that
--   ended without completing run again: dead letters retried, or `taskora jobs retry`)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] ended       ZSET  the set of the state they are in (failed, cancelled or expired)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[7] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] state             the state they must be in: failed, cancelled or expired
-- ARGV[3..] per job: id
-- returns one flag per job: 1 back in the waiting line, 0 not in that state (any more)
-- Each job goes to the back of its line, in the order given. Its attempt count, error, times,
-- stall count, cancel flag and TTL are cleared (the TTL was for starting it, which it did);
-- run_at becomes now (when it was due again); the error it died with stays in its log. A
-- failed-set member whose hash is gone is dropped.
--@include lib/common.lua
local tag, now, from = KEYS[7], tonumber(ARGV[1]), ARGV[2]
local note = from == "failed" and "retried from the dead-letter queue" or ("retried after it "
  .. "was " .. from)
local reason = from == "failed" and "dlq" or "retried"
local out, retried, reasons = {}, {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local job = job_key(tag, id)
  local fields = redis.call("HMGET", job, "state", "prio", "error", "attempt", "t")
  if fields[1] == from and redis.call("ZREM", KEYS[3], id) == 1 then
    local err = fields[3]
    if not err then
      err = "null"
    elseif string.sub(err, 1, 1) ~= "{" then
      err = cjson.encode(err)
    end
    redis.call("HDEL", job, "error", "finished", "started", "stalls", "lock", "exp", "progress",
      "result", "cancel", "state")
    redis.call("HSET", job, "attempt", 0, "run_at", now)
    queue_back(KEYS[6], KEYS[1], KEYS[2], id, tonumber(fields[2] or "0"), now)
    redis.call("RPUSH", job .. ":logs", '{"ts":' .. now .. ',"level":"warning","msg":'
      .. cjson.encode(note) .. ',"fields":{"attempts":' .. (fields[4] or "0")
      .. ',"error":' .. err .. '}}')
    out[#out + 1] = 1
    retried[#retried + 1] = id
    reasons[#reasons + 1] = reason
  else
    if not job_state(fields[1], fields[5]) then
      redis.call("ZREM", KEYS[3], id)
    end
    out[#out + 1] = 0
  end
end
if #retried > 0 then
  emit_many(KEYS[4], "waiting", retried, "reason", reasons)
  mark_work(KEYS[5], 0)
end
return out
