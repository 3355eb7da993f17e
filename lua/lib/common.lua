-- Shared by every script (spliced in by the loader at "--@include lib/common.lua").
-- Every key a script touches comes from its KEYS (see lua/README.md): a fixed key is a KEYS
-- entry of its own, and a key known only as the script runs (a job popped from a line) is
-- built on the task's key PREFIX, passed in KEYS as "tag" ("taskora[:prefix]:{task}:", which
-- carries the task's hash tag): job keys are tag .. "j:" .. id, their logs job .. ":logs".
-- Event stream entries: "event" (the transition), "job" (the job's id, or the ids of several
-- jobs that made it together, separated by spaces), maybe more fields (per job, likewise).
local EVENTS_MAXLEN = 10000
local PRIORITY_SPAN = 1e13 -- priority p sorts before every job of priority < p, then by time

-- Per-minute counters in one HASH: field "<kind>:<minute>" (minute = now_ms // 60000) counts
-- the jobs of that kind ("c" completed, "f" failed for good) in that minute. The first count
-- of a minute also drops fields older than COUNTS_KEEP_MINUTES, so the hash stays bounded
-- (at most 2 fields a minute for a day) at the cost of one HKEYS a minute.
local COUNTS_KEEP_MINUTES = 1440
local function count_minute(key, kind, now, n)
  local minute = math.floor(now / 60000)
  if redis.call("HINCRBY", key, kind .. ":" .. minute, n) ~= n then
    return
  end
  local stale = {}
  for _, field in ipairs(redis.call("HKEYS", key)) do
    local at = tonumber(string.match(field, ":(%d+)$"))
    if at and at <= minute - COUNTS_KEEP_MINUTES then
      stale[#stale + 1] = field
    end
  end
  if #stale > 0 then
    redis.call("HDEL", key, unpack(stale))
  end
end

local function job_key(tag, id)
  return tag .. "j:" .. id
end

-- A job's payload is kept in pieces of at most DATA_PIECE bytes: "data" holds the first and
-- "d2".."d<n>" the rest (absent when it fits in one). Each value then stays within the server's
-- default hash-max-listpack-value (64), so a waiting job's hash keeps the compact listpack
-- encoding instead of a hash table (~170 bytes less per job on a default-configured server).
-- A payload that needs more than DATA_PIECES pieces stays whole in "data": its hash is big
-- anyway, and a hash table then costs little more.
-- (No table of field names: a script runs its whole chunk on every call, and building one
-- cost every script call about a microsecond; the names are literals or made per piece.)
local DATA_PIECE, DATA_PIECES = 63, 16

-- HSET arguments for a payload ("data", piece, "d2", piece, ...), appended to `out` (or new).
-- A piece ends on a character boundary (never before a UTF-8 continuation byte): readers that
-- decode the hash (HGETALL) decode each piece on its own. (On the hot path of every dispatch:
-- no table of its own, no calls but string.byte and string.sub.)
local function data_args(data, out)
  out = out or {}
  local len, at = #data, #out
  if len > DATA_PIECE and len <= DATA_PIECE * DATA_PIECES then
    local from, n = 1, 0
    while from <= len and n < DATA_PIECES do
      local to = from + DATA_PIECE - 1
      if to >= len then
        to = len
      else
        while to > from do
          local b = string.byte(data, to + 1)
          if b < 0x80 or b >= 0xC0 then
            break
          end
          to = to - 1
        end
      end
      n = n + 1
      out[at + 2 * n - 1] = n == 1 and "data" or "d" .. n
      out[at + 2 * n] = string.sub(data, from, to)
      from = to + 1
    end
    if from > len then
      return out
    end
    for i = #out, at + 1, -1 do -- more pieces than DATA_PIECES (short ones): keep it whole
      out[i] = nil
    end
  end
  out[at + 1] = "data"
  out[at + 2] = data
  return out
end

-- The payload of `job` from its first pieces, read with the caller's HMGET ("data", "d2", "d3";
-- false when absent): a longer one reads its other pieces. false when there is none.
local function joined_data(job, first, d2, d3)
  if not d2 then
    return first
  elseif not d3 then
    return first .. d2
  end
  local parts = { first, d2, d3 }
  local rest = redis.call("HMGET", job, "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12",
    "d13", "d14", "d15", "d16")
  for i = 1, #rest do
    if not rest[i] then
      break
    end
    parts[#parts + 1] = rest[i]
  end
  return table.concat(parts)
end

-- The whole payload of `job` (false when it has none).
local function job_data(job)
  local f = redis.call("HMGET", job, "data", "d2", "d3")
  return joined_data(job, f[1], f[2], f[3])
end

-- Replace the payload of an existing job.
local function set_data(job, data)
  redis.call("HDEL", job, "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
    "d14", "d15", "d16")
  redis.call("HSET", job, unpack(data_args(data)))
end

-- A key whose name a job's hash holds (holds, conc, conc_q, conc_all, collect, collect_meta:
-- always keys of the job's own task), rebuilt on the declared prefix `tag`, so it cannot leave
-- the task's slot: a stored name outside the prefix is an error, never touched. nil stays nil.
local function stored_key(tag, name)
  if not name then
    return nil
  end
  if string.sub(name, 1, #tag) ~= tag then
    error("taskora: stored key " .. name .. " lies outside the task prefix " .. tag)
  end
  return tag .. string.sub(name, #tag + 1)
end

-- A job this very call created on an earlier run (the call was sent again after a dropped
-- connection): same payload and dispatch time. Such a rerun counts as done, changing nothing.
local function own_job(job, data, now)
  return tonumber(redis.call("HGET", job, "ts")) == now and job_data(job) == data
end

-- Append one transition to the task's capped event stream; extra field/value pairs may follow.
local function emit(events, event, id, ...)
  redis.call("XADD", events, "MAXLEN", "~", EVENTS_MAXLEN, "*", "event", event, "job", id, ...)
end

-- Append the same transition of many jobs in entries of up to EVENT_BATCH jobs each: "job"
-- holds their ids separated by spaces, and `field` (optional) their values of one more field,
-- likewise. One XADD per batch instead of one per job: per job it was a third of the server
-- time of a claim and an ack.
local EVENT_BATCH = 32
local function emit_many(events, event, ids, field, values)
  for i = 1, #ids, EVENT_BATCH do
    local last = math.min(i + EVENT_BATCH - 1, #ids)
    local job = table.concat(ids, " ", i, last)
    if field then
      redis.call("XADD", events, "MAXLEN", "~", EVENTS_MAXLEN, "*", "event", event, "job", job,
        field, table.concat(values, " ", i, last))
    else
      redis.call("XADD", events, "MAXLEN", "~", EVENTS_MAXLEN, "*", "event", event, "job", job)
    end
  end
end

-- Add many members to a sorted set: args holds score, member pairs (chunked: Lua's unpack has
-- a stack limit).
local function zadd_many(key, args)
  for i = 1, #args, 1000 do
    redis.call("ZADD", key, unpack(args, i, math.min(i + 999, #args)))
  end
end

-- Queue a job at the back of its line: the LIST for priority 0, else its band of the priority
-- ZSET. Within a band jobs are ordered by a position that starts from the time and strictly
-- increases per task (kept in `seq`, STRING), so jobs queued in one millisecond keep their order.
local function queue_back(seq, wait, prio_key, id, priority, now)
  if priority > 0 then
    local position = math.max(now, tonumber(redis.call("GET", seq) or "0") + 1)
    redis.call("SET", seq, position)
    redis.call("ZADD", prio_key, -priority * PRIORITY_SPAN + position, id)
  else
    redis.call("LPUSH", wait, id)
  end
end

-- Put a job back in the waiting line; at_front puts it where the next claim takes it.
local function push_waiting(wait, prio_key, id, priority, ts, at_front)
  if priority > 0 then
    redis.call("ZADD", prio_key, -priority * PRIORITY_SPAN + ts, id)
  elseif at_front then
    redis.call("RPUSH", wait, id)
  else
    redis.call("LPUSH", wait, id)
  end
end

-- Flow control on a job's hash (absent on plain jobs, so the scripts that read them add
-- fields to an HMGET they already make, never a call):
--   holds      the dedup or debounce key (STRING) whose value is this job's id while it holds it
--   on_expire  "discard" when an expired job is deleted instead of kept "expired"
--   conc       the concurrency counter (STRING) this job takes a unit of while active;
--   conc_max   its limit; conc_q the LIST where jobs that found it full wait their turn, and
--   conc_all   the task's SET of every parked job (for the counts)

-- Take a waiting job out of its line: the priority set, the waiting list, or the parked line
-- of a full concurrency key (conc_q, with its conc_all set), wherever it sits.
-- conc_q and conc_all are the names the job's hash holds (nil: none).
local function unqueue_waiting(tag, wait, prio_key, id, conc_q, conc_all)
  if redis.call("ZREM", prio_key, id) == 0 and redis.call("LREM", wait, 1, id) == 0
    and conc_q then
    redis.call("LREM", stored_key(tag, conc_q), 1, id)
    if conc_all then
      redis.call("SREM", stored_key(tag, conc_all), id)
    end
  end
end

-- Let go of a dedup/debounce key (`hold`: the name the job's hash holds) on a terminal
-- transition, unless another job holds it now.
local function release_hold(tag, id, hold)
  local key = stored_key(tag, hold)
  if key and redis.call("GET", key) == id then
    redis.call("DEL", key)
  end
end

-- Give back a job's unit of its concurrency counter as it leaves `active`, and move the first
-- job parked on that counter to the front of the waiting line. Returns true if one moved.
-- `stored` is the counter's name as the job's hash holds it.
local function release_slot(tag, wait, prio_key, job, stored)
  local conc = stored_key(tag, stored)
  if redis.call("DECR", conc) <= 0 then
    redis.call("DEL", conc)
  end
  local parked = redis.call("HMGET", job, "conc_q", "conc_all")
  local line, all = stored_key(tag, parked[1]), stored_key(tag, parked[2])
  local next_id = line and redis.call("RPOP", line)
  if not next_id then
    return false
  end
  if all then
    redis.call("SREM", all, next_id)
  end
  local fields = redis.call("HMGET", job_key(tag, next_id), "prio", "ts")
  push_waiting(wait, prio_key, next_id, tonumber(fields[1] or "0"), tonumber(fields[2] or "0"), true)
  return true
end
