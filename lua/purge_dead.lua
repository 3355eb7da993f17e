-- purge_dead.lua: failed -> (deleted): dead letters removed for good
-- KEYS[1] failed      ZSET  permanent failures (dead letters); score = finish time (ms)
-- KEYS[2] events      STREAM
-- KEYS[3] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1..] per job: id
-- returns one flag per job: 1 deleted (hash, logs and failed-set entry), 0 not a dead letter
-- Only members of the failed set are touched: a job retried meanwhile is left alone.
--@include lib/common.lua
local tag = KEYS[3]
local out, purged = {}, {}
for i = 1, #ARGV do
  local id = ARGV[i]
  if redis.call("ZREM", KEYS[1], id) == 1 then
    local job = job_key(tag, id)
    redis.call("DEL", job, job .. ":logs")
    out[#out + 1] = 1
    purged[#purged + 1] = id
  else
    out[#out + 1] = 0
  end
end
emit_many(KEYS[2], "purged", purged)
return out
