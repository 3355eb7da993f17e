-- enqueue.lua: (new) -> waiting
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] events      STREAM
-- KEYS[4] marker      ZSET  wakes idle workers
-- ARGV[1] tag               the task's key prefix
-- ARGV[2] id                the job id (client generated)
-- ARGV[3] data              the JSON payload
-- ARGV[4] now_ms
-- ARGV[5] priority          integer >= 0
-- ARGV[6] expire_at_ms      expire the job if no worker has started it by then; 0 = never
-- ARGV[7] extra             more hash fields as a JSON object (on_expire, conc, ...); "" = none
-- returns 1, or 0 when a job with this id already exists
--@include lib/common.lua
local tag, id, data, now, priority = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local job = job_key(tag, id)
if redis.call("EXISTS", job) == 1 then
  return 0
end
if priority > 0 then
  redis.call("HSET", job, "state", "waiting", "ts", now, "data", data, "prio", priority)
else
  redis.call("HSET", job, "state", "waiting", "ts", now, "data", data)
end
if ARGV[6] ~= "0" then
  redis.call("HSET", job, "exp", ARGV[6])
end
if ARGV[7] ~= "" then
  for name, value in pairs(cjson.decode(ARGV[7])) do
    redis.call("HSET", job, name, value)
  end
end
queue_back(tag, KEYS[1], KEYS[2], id, priority, now)
redis.call("ZADD", KEYS[4], 0, "0")
emit(KEYS[3], "waiting", id)
return 1
