-- collect_flush.lua: a collect buffer's delayed flush job -> due now (promotion then drains the
--   buffer into it, see lib/claim.lua), so a buffer flushes on demand (the test toolkit's flush)
-- KEYS[1] delayed     ZSET  score = due time (ms)
-- KEYS[2] marker      ZSET  wakes idle workers
-- KEYS[3] meta        HASH  count, first, last, job (the id of the buffer's delayed flush job)
-- KEYS[4] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- returns the flush job's id, or false when the buffer holds nothing (no flush job waits)
--@include lib/common.lua
local job_id = redis.call("HGET", KEYS[3], "job")
if not job_id or not redis.call("ZSCORE", KEYS[1], job_id) then
  return false
end
local now = tonumber(ARGV[1])
redis.call("ZADD", KEYS[1], now, job_id)
redis.call("HSET", job_key(KEYS[4], job_id), "run_at", now)
mark_work(KEYS[2], 0)
return job_id
