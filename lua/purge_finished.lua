-- purge_finished.lua: completed | failed | cancelled | expired -> (deleted): finished jobs of
--   one state removed for good, in batches (`taskora jobs clean`)
-- KEYS[1] ended       ZSET  the finished set cleaned (completed, failed, cancelled or expired)
-- KEYS[2] events      STREAM
-- KEYS[3] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] before_ms         only jobs that ended at or before this time (ms)
-- ARGV[2..] per job: id
-- returns one flag per job: 1 deleted (hash, logs and set entry), 0 no longer in that set or
--   ended after before_ms (a job retried meanwhile is left alone)
--@include lib/common.lua
local tag, before = KEYS[3], tonumber(ARGV[1])
local out, purged = {}, {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local score = tonumber(redis.call("ZSCORE", KEYS[1], id))
  if score and score <= before then
    redis.call("ZREM", KEYS[1], id)
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
