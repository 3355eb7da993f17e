-- Shared by every script (spliced in by the loader at "--@include lib/common.lua").
-- TAG is the task's key prefix "taskora[:prefix]:{task}:"; job keys are TAG .. "j:" .. id.
local EVENTS_MAXLEN = 10000
local PRIORITY_SPAN = 1e13 -- priority p sorts before every job of priority < p, then by time

local function job_key(tag, id)
  return tag .. "j:" .. id
end

-- Append one transition to the task's capped event stream; extra field/value pairs may follow.
local function emit(events, event, id, ...)
  redis.call("XADD", events, "MAXLEN", "~", EVENTS_MAXLEN, "*", "event", event, "job", id, ...)
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
