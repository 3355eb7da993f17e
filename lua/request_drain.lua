-- request_drain.lua: a registered worker -> draining (it finishes its jobs, then exits)
-- KEYS[1] worker      HASH  the worker's registry record
-- returns 1 if the worker is registered (now asked to drain), 0 if there is no such worker
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "drain", "1")
return 1
