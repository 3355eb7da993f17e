-- Shared by every script (spliced in by the loader at "--@include lib/common.lua").
-- TAG is the task's key prefix "taskora[:prefix]:{task}:"; job keys are TAG .. "j:" .. id, and
-- TAG .. "seq" (STRING) holds the last position given in the priority bands (see queue_back).
local EVENTS_MAXLEN = 10000
local PRIORITY_SPAN = 1e13 -- priority p sorts before every job of priority < p, then by time

local function job_key(tag, id)
  return tag .. "j:" .. id
end

-- Append one transition to the task's capped event stream; extra field/value pairs may follow.
local function emit(events, event, id, ...)
  redis.call("XADD", events, "MAXLEN", "~", EVENTS_MAXLEN, "*", "event", event, "job", id, ...)
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
-- increases per task (kept in TAG .. "seq"), so jobs queued in one millisecond keep their order.
local function queue_back(tag, wait, prio_key, id, priority, now)
  if priority > 0 then
    local seq = tag .. "seq"
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
