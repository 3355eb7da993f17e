-- leader_keep.lua: take or keep a leader lease (the legacy DefaultTaskManager's is_master).
-- Like the scheduler's lease, a stored deadline compared with now_ms (not a key TTL), so tests
-- move it in virtual time: the caller holds it when it already owns it, when nobody does, or
-- when the owner's deadline passed (the owner died); then the deadline moves to now_ms + lease_ms.
-- KEYS[1] lease       HASH  owner (token), until (ms)
-- ARGV[1] token             the caller's identity
-- ARGV[2] now_ms
-- ARGV[3] lease_ms          how long the lease holds without another keep
-- returns {1, token, until} for the holder, {0, owner, until} for anyone else
local token, now = ARGV[1], tonumber(ARGV[2])
local lease = redis.call("HMGET", KEYS[1], "owner", "until")
local owner, till = lease[1], tonumber(lease[2] or "0")
if owner and owner ~= token and till > now then
  return {0, owner, till}
end
till = now + tonumber(ARGV[3])
redis.call("HSET", KEYS[1], "owner", token, "until", till)
return {1, token, till}
