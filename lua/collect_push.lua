-- collect_push.lua: one item -> a collect buffer; (new) -> delayed flush job for the buffer, or
--   the buffer's delayed flush job moved to its new due time, or (buffer full) -> waiting job
--   holding the drained items
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] items       LIST  the buffered items (JSON), oldest first
-- KEYS[7] meta        HASH  count, first and last (ms: when the oldest / newest item came), job
--                           (the id of the delayed flush job)
-- KEYS[8] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[9] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] id                a fresh job id, used if a new flush job is needed
-- ARGV[2] item              the item (JSON)
-- ARGV[3] now_ms
-- ARGV[4] delay_ms          flush this long after the newest item (resets on every item)
-- ARGV[5] max_size          flush at once when the buffer holds this many; 0 = no limit
-- ARGV[6] max_wait_ms       flush at most this long after the oldest item; 0 = no limit
-- returns {job id, count, flushed}: the flush job the item joined, how many items the buffer
--   held with it, and 1 if it flushed (the job is waiting now) else 0
-- The flush job is a delayed job whose hash names the buffer ("collect", "collect_meta"); when
-- it becomes due, promotion (lib/claim.lua) drains the buffer into its data as one JSON array,
-- so items belong either to the buffer or to exactly one job, never both.
--@include lib/common.lua
--@include lib/create.lua
local tag, id, now = KEYS[9], ARGV[1], tonumber(ARGV[3])
local delay, max_size, max_wait = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local k = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], events = KEYS[4], marker = KEYS[5],
  seq = KEYS[8] }
redis.call("RPUSH", KEYS[6], ARGV[2])
local count = redis.call("HINCRBY", KEYS[7], "count", 1)
if count == 1 then
  redis.call("HSET", KEYS[7], "first", now)
end
redis.call("HSET", KEYS[7], "last", now)
local meta = redis.call("HMGET", KEYS[7], "first", "job")
local job_id = meta[2]
if job_id and redis.call("HGET", job_key(tag, job_id), "state") ~= "delayed" then
  job_id = false -- its job was cancelled (or is gone): the buffer gets a new one
end
if max_size > 0 and count >= max_size then
  local data = "[" .. table.concat(redis.call("LRANGE", KEYS[6], 0, -1), ",") .. "]"
  redis.call("DEL", KEYS[6], KEYS[7])
  if job_id then
    redis.call("ZREM", k.delayed, job_id)
    local job = job_key(tag, job_id)
    redis.call("HDEL", job, "collect", "collect_meta", "run_at")
    redis.call("HDEL", job, "state")
    set_data(job, data)
    queue_back(k.seq, k.wait, k.prio, job_id, 0, now)
    mark_work(k.marker, 0)
    emit(k.events, "waiting", job_id, "reason", "collect full")
  else
    job_id = id
    create_job(tag, k, job_id, data, now, 0, 0, "0", "")
  end
  return { job_id, count, 1 }
end
local due = now + delay
if max_wait > 0 then
  due = math.max(now + 1, math.min(due, tonumber(meta[1]) + max_wait)) -- delayed, so promoted
end
if job_id then
  redis.call("ZADD", k.delayed, due, job_id)
  redis.call("HSET", job_key(tag, job_id), "run_at", due)
  mark_work(k.marker, due, true)
else
  job_id = id
  create_job(tag, k, job_id, "[]", now, 0, due, "0", "")
  redis.call("HSET", job_key(tag, job_id), "collect", KEYS[6], "collect_meta", KEYS[7])
  redis.call("HSET", KEYS[7], "job", job_id)
end
return { job_id, count, 0 }
