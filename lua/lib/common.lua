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

-- A job's state from its "state" and "t" fields (HMGET them together): a waiting job stores no
-- "state" (wire format 4: a queued job keeps only what it needs, the smaller hash stays in a
-- smaller allocation), every other state is written; a hash without "t" is no job (false).
local function job_state(state, t)
  return state or (t and "waiting")
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

-- Append one transition to the task's capped event stream; extra field/value pairs may follow.
-- Tell idle workers of the task there is work (score 0), or when the next delayed job is due
-- (score t; with lt, kept only if earlier than the one there). A marker that was not there
-- also rings its doorbell: a sharded pub/sub message on the channel named like the marker,
-- which a worker hears for all its tasks on one connection per master (a cluster refuses one
-- BZPOPMIN of keys in different slots). A marker that was there rang when it was made and
-- nobody has popped it since, so nobody waits for it (as nobody blocks on a non-empty ZSET).
-- pcall: a server without sharded pub/sub (before Redis 7) has workers block on the marker.
local function mark_work(marker, score, lt)
  local added
  if lt then
    added = redis.call("ZADD", marker, "LT", score, "0")
  else
    added = redis.call("ZADD", marker, score, "0")
  end
  if added == 1 then
    redis.pcall("SPUBLISH", marker, score)
  end
end

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
  local fields = redis.call("HMGET", job_key(tag, next_id), "prio", "t")
  push_waiting(wait, prio_key, next_id, tonumber(fields[1] or "0"), tonumber(fields[2] or "0"), true)
  return true
end
