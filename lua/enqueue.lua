-- enqueue.lua: (new) -> waiting
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] events      STREAM
-- KEYS[4] marker      ZSET  wakes idle workers
-- KEYS[5] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[6] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job id (client generated)
-- ARGV[2] data              the JSON payload, or its first piece (lib/data.lua)
-- ARGV[3] now_ms
-- ARGV[4] priority          integer >= 0
-- ARGV[5] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[6] extra             more hash fields as a JSON object (on_expire, conc, ...); "" = none
-- ARGV[7..] per further piece of the payload: field, piece ("2", "3", ...)
--   (split by the client, records.data_fields: this hottest script splits nothing in Lua)
-- returns 1, or 0 when a job with this id already exists
--@include lib/common.lua
local tag, id, data, now, priority = KEYS[6], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local job = job_key(tag, id)
if redis.call("EXISTS", job) == 1 then
  return 0
end
if priority > 0 then
  redis.call("HSET", job, "t", now, "1", data, "prio", priority,
    unpack(ARGV, 7))
else
  redis.call("HSET", job, "t", now, "1", data, unpack(ARGV, 7))
end
if ARGV[5] ~= "0" then
  redis.call("HSET", job, "exp", ARGV[5])
end
if ARGV[6] ~= "" then
  for name, value in pairs(cjson.decode(ARGV[6])) do
    redis.call("HSET", job, name, value)
  end
end
queue_back(KEYS[5], KEYS[1], KEYS[2], id, priority, now)
mark_work(KEYS[4], 0)
emit(KEYS[3], "waiting", id)
return 1
