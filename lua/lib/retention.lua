-- Retention: trim a set of finished jobs (completed or failed; score = finish time) by age and
-- by count, deleting each trimmed job's hash and logs. Spliced in by the loader at
-- "--@include lib/retention.lua"; needs lib/common.lua first.
--
-- Each call does a bounded amount of work, oldest jobs first: the finishing scripts pass a
-- budget of about twice the jobs they just added, so under sustained load the set shrinks
-- towards its limits while no single call runs long (the Node engine trimmed at most 200 per
-- set per stall interval, ~7 jobs/s: its bug B7). The stall sweep passes a fixed budget, so
-- jobs age out of an idle queue too.
local TRIM_SLACK = 10 -- added to the finishing scripts' budget: a backlog drains as well
local TRIM_SWEEP = 1000 -- the stall sweep's budget per set

-- Delete up to `budget` jobs of `set` that finished before now - max_age, or that exceed
-- max_items (oldest first); max_age / max_items -1 = no limit. Returns how many went.
local function trim_finished(tag, set, now, max_age, max_items, budget)
  local gone = {}
  if max_age >= 0 then
    gone = redis.call("ZRANGEBYSCORE", set, "-inf", "(" .. (now - max_age), "LIMIT", 0, budget)
  end
  if max_items >= 0 and #gone < budget then
    -- the age-trimmed jobs are the oldest, ranks 0 .. #gone - 1: count past them
    local excess = redis.call("ZCARD", set) - #gone - max_items
    if excess > 0 then
      local more = redis.call("ZRANGE", set, #gone, #gone + math.min(excess, budget - #gone) - 1)
      for i = 1, #more do
        gone[#gone + 1] = more[i]
      end
    end
  end
  for i = 1, #gone, 500 do
    local last = math.min(i + 499, #gone)
    local doomed = {}
    for j = i, last do
      local job = job_key(tag, gone[j])
      doomed[#doomed + 1] = job
      doomed[#doomed + 1] = job .. ":logs"
    end
    redis.call("ZREM", set, unpack(gone, i, last))
    redis.call("DEL", unpack(doomed))
  end
  return #gone
end
