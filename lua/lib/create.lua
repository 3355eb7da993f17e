-- Create one job, waiting or delayed: shared by the flow-control enqueue scripts (spliced in
-- at "--@include lib/create.lua"; needs lib/common.lua first). The plain enqueue scripts keep
-- their own copy of these few lines: they are the hot path and stay branch-free.
--@include lib/data.lua

-- Hash fields beyond the basics, from a JSON object ("" = none), as HSET arguments.
local function extra_fields(extra)
  local out = {}
  if extra ~= "" then
    for name, value in pairs(cjson.decode(extra)) do
      out[#out + 1] = name
      out[#out + 1] = value
    end
  end
  return out
end

-- A job's hash fields beyond state, t and its payload, as HSET arguments.
local function job_fields(priority, exp, extra)
  local fields = extra_fields(extra)
  if priority > 0 then
    fields[#fields + 1] = "prio"
    fields[#fields + 1] = priority
  end
  if exp ~= "0" then
    fields[#fields + 1] = "exp"
    fields[#fields + 1] = exp
  end
  return fields
end

-- A waiting job, queued at the back of its line; the caller rings the marker and writes the
-- "waiting" event (create_job), or does both once for many jobs (mark_work, emit_many), as
-- enqueue_bulk does. k: {wait, prio, seq, ...}; exp "0" = never.
local function create_waiting(tag, k, id, data, now, priority, exp, extra)
  redis.call("HSET", job_key(tag, id), "t", now,
    unpack(data_args(data, job_fields(priority, exp, extra))))
  queue_back(k.seq, k.wait, k.prio, id, priority, now)
end

-- k: {wait, prio, delayed, events, marker, seq}; run_at 0 = now; exp "0" = never.
local function create_job(tag, k, id, data, now, priority, run_at, exp, extra)
  if run_at > now then
    redis.call("HSET", job_key(tag, id), "state", "delayed", "t", now, "run_at", run_at,
      unpack(data_args(data, job_fields(priority, exp, extra))))
    redis.call("ZADD", k.delayed, run_at, id)
    mark_work(k.marker, run_at, true)
    emit(k.events, "delayed", id)
  else
    create_waiting(tag, k, id, data, now, priority, exp, extra)
    mark_work(k.marker, 0)
    emit(k.events, "waiting", id)
  end
end
