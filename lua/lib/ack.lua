-- Completing finished jobs: shared by ack_and_claim.lua and ack_and_advance.lua (spliced in at
-- "--@include lib/ack.lua"; needs lib/common.lua and lib/retention.lua first).

-- Settle `n` finished jobs whose id, token and result are args[first], args[first + 1] and
-- args[first + 2] (the next job `stride` values on). keys: {wait, prio, active, events,
-- completed, cancelled, counts}. Returns one flag per job (1 completed, 2 cancelled: it was
-- asked to cancel while it ran, 0 the lock was lost).
-- Trims the completed set (lib/retention.lua), deleting trimmed jobs' hashes and logs.
-- A finished job lets go of its dedup key and its concurrency slot (lib/common.lua).
local function ack_jobs(tag, keys, now, args, first, n, stride, max_age, max_items)
  local acked, done, finished, left, cancelled, stopped = {}, {}, {}, {}, {}, {}
  for i = 0, n - 1 do
    local base = first + i * stride
    local id, token, result = args[base], args[base + 1], args[base + 2]
    local job = job_key(tag, id)
    -- the one check per job cancellation costs: the "cancel" flag comes with the lock
    local held = redis.call("HMGET", job, "lock", "cancel", "holds", "conc")
    if held[1] == token then
      redis.call("HDEL", job, "lock")
      left[#left + 1] = id
      release_hold(tag, id, held[3])
      if held[4] then
        release_slot(tag, keys.wait, keys.prio, job, held[4])
      end
      if held[2] then -- asked to cancel while it ran: it ends cancelled, its result unkept
        redis.call("HSET", job, "state", "cancelled", "finished", now)
        cancelled[#cancelled + 1] = id
        stopped[#stopped + 1] = now
        stopped[#stopped + 1] = id
        acked[#acked + 1] = 2
      else
        redis.call("HSET", job, "state", "completed", "finished", now, "result", result)
        done[#done + 1] = id
        finished[#finished + 1] = now
        finished[#finished + 1] = id
        acked[#acked + 1] = 1
      end
    else
      acked[#acked + 1] = 0
    end
  end
  -- one ZREM, one ZADD and an event per batch, not one each per job
  for i = 1, #left, 1000 do
    redis.call("ZREM", keys.active, unpack(left, i, math.min(i + 999, #left)))
  end
  zadd_many(keys.completed, finished)
  emit_many(keys.events, "completed", done)
  zadd_many(keys.cancelled, stopped)
  emit_many(keys.events, "cancelled", cancelled)
  if #done > 0 then
    count_minute(keys.counts, "c", now, #done)
    trim_finished(tag, keys.completed, now, max_age, max_items, 2 * #done + TRIM_SLACK)
  end
  return acked
end
