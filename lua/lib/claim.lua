-- Promote-then-claim, shared by claim.lua, ack_and_claim.lua and fail_and_claim.lua
-- (spliced in by the loader at "--@include lib/claim.lua"; needs lib/common.lua first).
--@include lib/data.lua

-- A collect flush job as it becomes due: the buffer's items become its data (one JSON array)
-- and the buffer is gone, so the next item starts a new one (see collect_push.lua).
-- `stored_items` is the buffer's name as the job's hash holds it.
local function drain_collect(tag, job, stored_items)
  local items_key = stored_key(tag, stored_items)
  local meta_key = stored_key(tag, redis.call("HGET", job, "collect_meta"))
  local items = redis.call("LRANGE", items_key, 0, -1)
  set_data(job, "[" .. table.concat(items, ",") .. "]")
  redis.call("HDEL", job, "collect", "collect_meta")
  redis.call("DEL", items_key, meta_key)
end

-- Move due delayed/retrying jobs to the waiting line in due order (earliest first).
local function promote_due(tag, seq, delayed, wait, prio_key, events, now, limit)
  local due = redis.call("ZRANGEBYSCORE", delayed, "-inf", now, "WITHSCORES", "LIMIT", 0, limit)
  local count = #due / 2
  if count == 0 then
    return
  end
  redis.call("ZREMRANGEBYRANK", delayed, 0, count - 1)
  local promoted = {}
  for i = 1, #due, 2 do
    local id, due_at = due[i], tonumber(due[i + 1])
    local job = job_key(tag, id)
    local fields = redis.call("HMGET", job, "prio", "t", "collect") -- no t: the job is gone
    if fields[2] then
      if fields[3] then
        drain_collect(tag, job, fields[3])
      end
      queue_back(seq, wait, prio_key, id, tonumber(fields[1] or "0"), due_at)
      redis.call("HDEL", job, "state")
      promoted[#promoted + 1] = id
    end
  end
  emit_many(events, "promoted", promoted)
end

-- Pop up to n waiting ids: prioritized first, then FIFO.
local function pop_waiting(wait, prio_key, n)
  local ids = {}
  if redis.call("ZCARD", prio_key) > 0 then
    local popped = redis.call("ZPOPMIN", prio_key, n)
    for i = 1, #popped, 2 do
      ids[#ids + 1] = popped[i]
    end
  end
  local rest = n - #ids
  if rest > 0 then
    local popped = redis.call("RPOP", wait, rest)
    if popped then
      for i = 1, #popped do
        ids[#ids + 1] = popped[i]
      end
    end
  end
  return ids
end

-- Take a unit of a concurrency counter for a job about to start, or park the job (at the back
-- of the counter's parked line, still "waiting") when the counter is at its limit. `stored`
-- is the counter's name as the job's hash holds it.
local function take_slot(tag, job, id, stored)
  local conc = stored_key(tag, stored)
  local limits = redis.call("HMGET", job, "conc_max", "conc_q", "conc_all")
  if tonumber(redis.call("GET", conc) or "0") >= tonumber(limits[1] or "1") then
    redis.call("LPUSH", stored_key(tag, limits[2]), id)
    if limits[3] then
      redis.call("SADD", stored_key(tag, limits[3]), id)
    end
    return false
  end
  redis.call("INCR", conc)
  return true
end

-- What a claim returns per job, flat: id, token, attempt, data, t, v (the payload version the
-- job was dispatched at: its "v" field, written only when not 1, so 1 when absent; a number,
-- so the reply holds an integer). A job dispatched inside a trace (its "tc" field, the W3C
-- trace context as JSON) has {v, tc} there instead: read in the same HMGET, so the worker
-- needs no second look, and the reply of every other job stays as it was. A job dispatched
-- with its own retry or timeout (its "limits" field, JSON) has {v, tc or nil, limits}.
local CLAIMED_ITEMS = 6

local function version_item(v, tc, limits)
  local version = tonumber(v) or 1
  if limits then
    return { version, tc or false, limits }
  end
  if tc then
    return { version, tc }
  end
  return version
end

-- Claim up to n jobs for worker; append CLAIMED_ITEMS items per job to out.
-- Two calls per job (read, write); the lock deadlines and the events go out per batch.
-- A job whose TTL ("exp") has passed is not started: it ends "expired" instead (or is deleted,
-- with on_expire "discard"). The TTL only bounds the wait for a first start, so claiming a
-- job drops it. A job whose concurrency key is full is parked, not claimed.
local function claim_into(out, tag, keys, now, lock_ttl, worker, n)
  if n <= 0 then
    return
  end
  local ids = pop_waiting(keys.wait, keys.prio, n)
  local deadline = now + lock_ttl
  local locked, claimed, attempts, expired, expired_ids, discarded, flags = {}, {}, {}, {}, {}, {}, {}
  for i = 1, #ids do
    local id = ids[i]
    local job = job_key(tag, id)
    local fields = redis.call("HMGET", job, "1", "t", "attempt", "exp", "on_expire", "holds",
      "conc", "v", "tc", "limits", "2", "3")
    if fields[4] and fields[1] and tonumber(fields[4]) <= now then
      release_hold(tag, id, fields[6])
      if fields[5] == "discard" then
        redis.call("DEL", job, job .. ":logs")
        discarded[#discarded + 1] = id
        flags[#flags + 1] = 1
      else
        redis.call("HSET", job, "state", "expired", "finished", now)
        expired[#expired + 1] = now
        expired[#expired + 1] = id
        expired_ids[#expired_ids + 1] = id
      end
    elseif fields[1] and (not fields[7] or take_slot(tag, job, id, fields[7])) then
      -- (no data: the hash is gone, deleted while queued; the stray id is dropped)
      local attempt = tonumber(fields[3] or "0") + 1
      local token = worker .. ":" .. attempt .. ":" .. now
      redis.call("HSET", job, "attempt", attempt, "state", "active", "started", now, "lock", token)
      if fields[4] then -- started in time: a retry or a hand-back later must not expire it
        redis.call("HDEL", job, "exp")
      end
      locked[#locked + 1] = deadline
      locked[#locked + 1] = id
      claimed[#claimed + 1] = id
      attempts[#attempts + 1] = attempt
      out[#out + 1] = id
      out[#out + 1] = token
      out[#out + 1] = attempt
      out[#out + 1] = joined_data(job, fields[1], fields[11], fields[12])
      out[#out + 1] = fields[2]
      out[#out + 1] = version_item(fields[8], fields[9], fields[10])
    end
  end
  zadd_many(keys.active, locked)
  emit_many(keys.events, "active", claimed, "attempt", attempts)
  zadd_many(keys.expired, expired)
  emit_many(keys.events, "expired", expired_ids)
  emit_many(keys.events, "expired", discarded, "discarded", flags)
end

-- Claims are idempotent per request: the wire sends a call again after a dropped connection,
-- though the server may have run it, and the first run's jobs would then stay locked (by
-- nobody) until the lock TTL. Each claiming call carries a request id; the worker's last one is
-- kept in its "lastclaim" hash with the ids and tokens it claimed and the rest of its reply, and
-- the same id again gets that reply instead of running twice. It is kept for the lock TTL: a
-- replay later than that would find the locks gone anyway, recovered by the stall sweep.
-- A call without the key (or with request "") is not protected.

-- The reply `request` got, as (head, claimed) when it is the worker's last one, else nil.
-- Jobs no longer locked by the stored token (settled since, or taken back) are left out.
local function replayed(key, request, tag)
  if not key or not request or request == "" then
    return nil
  end
  local stored = redis.call("HMGET", key, "req", "head", "jobs")
  if stored[1] ~= request then
    return nil
  end
  local out, jobs = {}, cjson.decode(stored[3])
  for i = 1, #jobs, 2 do
    local id, token = jobs[i], jobs[i + 1]
    local key = job_key(tag, id)
    local job = redis.call("HMGET", key, "lock", "attempt", "1", "t", "v", "tc", "limits",
      "2", "3")
    if job[1] == token then
      out[#out + 1] = id
      out[#out + 1] = token
      out[#out + 1] = tonumber(job[2])
      out[#out + 1] = joined_data(key, job[3], job[8], job[9])
      out[#out + 1] = job[4]
      out[#out + 1] = version_item(job[5], job[6], job[7])
    end
  end
  return cjson.decode(stored[2]), out
end

-- Keep `request` as the worker's last one: its head (the non-claim part of the reply) and the
-- id and token of each job it claimed (not their data: a replay reads that again).
local function remember(key, request, head, claimed, ttl)
  if not key or not request or request == "" then
    return
  end
  local jobs = {}
  for i = 1, #claimed, CLAIMED_ITEMS do
    jobs[#jobs + 1] = claimed[i]
    jobs[#jobs + 1] = claimed[i + 1]
  end
  redis.call("HSET", key, "req", request, "head", cjson.encode(head), "jobs", cjson.encode(jobs))
  redis.call("PEXPIRE", key, ttl)
end

-- Leave the marker telling idle workers when to look next: 0 = now, t = next due, none = idle.
local function rearm_marker(keys)
  if redis.call("LLEN", keys.wait) > 0 or redis.call("ZCARD", keys.prio) > 0 then
    mark_work(keys.marker, 0)
    return
  end
  local next_due = redis.call("ZRANGE", keys.delayed, 0, 0, "WITHSCORES")
  if next_due[2] then
    mark_work(keys.marker, next_due[2])
  else
    redis.call("DEL", keys.marker)
  end
end
