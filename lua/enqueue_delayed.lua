-- enqueue_delayed.lua: (new) -> delayed
-- KEYS[1] delayed     ZSET  score = due time (ms)
-- KEYS[2] events      STREAM
-- KEYS[3] marker      ZSET  wakes idle workers
-- KEYS[4] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                the job id (client generated)
-- ARGV[2] data              the JSON payload, or its first piece (lib/data.lua)
-- ARGV[3] now_ms
-- ARGV[4] priority          integer >= 0, applied when the job becomes due
-- ARGV[5] run_at_ms         when the job becomes due
-- ARGV[6] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[7] extra             more hash fields as a JSON object (on_expire, conc, ...); "" = none
-- ARGV[8..] per further piece of the payload: field, piece ("2", "3", ...)
--   (split by the client, records.data_fields)
-- returns 1, or 0 when a job with this id already exists
--@include lib/common.lua
local tag, id, data, now = KEYS[4], ARGV[1], ARGV[2], tonumber(ARGV[3])
local priority, run_at = tonumber(ARGV[4]), tonumber(ARGV[5])
local job = job_key(tag, id)
if redis.call("EXISTS", job) == 1 then
  return 0
end
redis.call("HSET", job, "state", "delayed", "t", now, "run_at", run_at, "1", data,
  unpack(ARGV, 8))
if priority > 0 then
  redis.call("HSET", job, "prio", priority)
end
if ARGV[6] ~= "0" then
  redis.call("HSET", job, "exp", ARGV[6])
end
if ARGV[7] ~= "" then
  for name, value in pairs(cjson.decode(ARGV[7])) do
    redis.call("HSET", job, name, value)
  end
end
redis.call("ZADD", KEYS[1], run_at, id)
mark_work(KEYS[3], run_at, true)
emit(KEYS[2], "delayed", id)
return 1
