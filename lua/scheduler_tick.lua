-- scheduler_tick.lua: take or keep the scheduler lease, and (as leader) list the due schedules.
-- The lease is a stored deadline compared with now_ms (not a key TTL), so tests move it in
-- virtual time: the caller holds it when it already owns it, or when nobody does, or when the
-- owner's deadline passed (the owner died); then the deadline moves to now_ms + lease_ms.
-- KEYS[1] lease       HASH  owner (token), until (ms)
-- KEYS[2] due         ZSET  schedule name -> next run (ms); paused schedules are not in it
-- ARGV[1] token             the caller's identity
-- ARGV[2] now_ms
-- ARGV[3] lease_ms          how long the lease holds without another tick
-- ARGV[4] limit             due names returned at most
-- returns {1, due name, ...} for the leader, {0, owner} for anyone else
local token, now, lease_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease = redis.call("HMGET", KEYS[1], "owner", "until")
local owner, till = lease[1], tonumber(lease[2] or "0")
if owner and owner ~= token and till > now then
  return {0, owner}
end
redis.call("HSET", KEYS[1], "owner", token, "until", now + lease_ms)
local due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, tonumber(ARGV[4]))
return {1, unpack(due)}
