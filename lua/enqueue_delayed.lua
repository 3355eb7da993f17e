-- enqueue_delayed.lua: (new) -> delayed
-- KEYS[1] delayed     ZSET  score = due time (ms)
-- KEYS[2] events      STREAM
-- KEYS[3] marker      ZSET  wakes idle workers
-- ARGV[1] tag               the task's key prefix
-- ARGV[2] id                the job id (client generated)
-- ARGV[3] data              the JSON payload
-- ARGV[4] now_ms
-- ARGV[5] priority          integer >= 0, applied when the job becomes due
-- ARGV[6] run_at_ms         when the job becomes due
-- ARGV[7] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[8] extra             more hash fields as a JSON object (on_expire, conc, ...); "" = none
-- returns 1, or 0 when a job with this id already exists
--@include lib/common.lua
local tag, id, data, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local priority, run_at = tonumber(ARGV[5]), tonumber(ARGV[6])
local job = job_key(tag, id)
if redis.call("EXISTS", job) == 1 then
  return 0
end
redis.call("HSET", job, "state", "delayed", "ts", now, "data", data, "run_at", run_at)
if priority > 0 then
  redis.call("HSET", job, "prio", priority)
end
if ARGV[7] ~= "0" then
  redis.call("HSET", job, "exp", ARGV[7])
end
if ARGV[8] ~= "" then
  for name, value in pairs(cjson.decode(ARGV[8])) do
    redis.call("HSET", job, name, value)
  end
end
redis.call("ZADD", KEYS[1], run_at, id)
redis.call("ZADD", KEYS[3], "LT", run_at, "0")
emit(KEYS[2], "delayed", id)
return 1
