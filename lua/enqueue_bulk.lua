-- enqueue_bulk.lua: (new) -> waiting | delayed, for many jobs in one call
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] events      STREAM
-- KEYS[5] marker      ZSET  wakes idle workers
-- KEYS[6] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[7] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2..] per job: id, data, priority, run_at_ms (0 = now), expire_at_ms (0 = never), extra, n
--   (extra: more hash fields as a JSON object, "" = none; data: the payload's first piece, and
--   the n ARGV after n its further pieces as field, piece pairs ("2", piece, ...), split by
--   the client as for one job (records.data_fields): the server splits nothing here)
-- returns one flag per job: 1 enqueued (or already enqueued by an earlier run of this very
--   call: same id, data and now_ms), 0 an id another job holds
--@include lib/common.lua
--@include lib/data.lua
local tag, now = KEYS[7], tonumber(ARGV[1])
local out, any_now, first_due, waiting = {}, false, nil, {}
local now_ids, delayed_ids = {}, {}
local i = 2
while i <= #ARGV do
  local id, data, priority, run_at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first_more, n_more = i + 7, tonumber(ARGV[i + 6])
  local last_more = first_more + n_more - 1
  local job = job_key(tag, id)
  if redis.call("EXISTS", job) == 1 then
    local whole = data
    for p = first_more + 1, last_more, 2 do
      whole = whole .. ARGV[p]
    end
    out[#out + 1] = own_job(job, whole, now) and 1 or 0
  else
    if run_at > now then
      redis.call("HSET", job, "state", "delayed", "t", now, "run_at", run_at, "1", data,
        unpack(ARGV, first_more, last_more))
      redis.call("ZADD", KEYS[3], run_at, id)
      if first_due == nil or run_at < first_due then
        first_due = run_at
      end
      delayed_ids[#delayed_ids + 1] = id
    else
      redis.call("HSET", job, "t", now, "1", data,
        unpack(ARGV, first_more, last_more))
      if priority > 0 then
        queue_back(KEYS[6], KEYS[1], KEYS[2], id, priority, now)
      else
        waiting[#waiting + 1] = id -- pushed together below, in this order
      end
      any_now = true
      now_ids[#now_ids + 1] = id
    end
    if priority > 0 then
      redis.call("HSET", job, "prio", priority)
    end
    if ARGV[i + 4] ~= "0" then
      redis.call("HSET", job, "exp", ARGV[i + 4])
    end
    if ARGV[i + 5] ~= "" then
      for name, value in pairs(cjson.decode(ARGV[i + 5])) do
        redis.call("HSET", job, name, value)
      end
    end
    out[#out + 1] = 1
  end
  i = last_more + 1
end
for i = 1, #waiting, 1000 do
  redis.call("LPUSH", KEYS[1], unpack(waiting, i, math.min(i + 999, #waiting)))
end
emit_many(KEYS[4], "waiting", now_ids)
emit_many(KEYS[4], "delayed", delayed_ids)
if any_now then
  mark_work(KEYS[5], 0)
elseif first_due then
  mark_work(KEYS[5], first_due, true)
end
return out
