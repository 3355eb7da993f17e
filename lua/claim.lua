-- claim.lua: delayed|retrying -> waiting (due ones), then waiting -> active (up to n)
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] active      ZSET  score = lock deadline (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] expired     ZSET  jobs whose TTL passed before a worker started them; score = when
-- KEYS[8] lastclaim   HASH  the worker's last request id and what it claimed (lib/claim.lua)
-- KEYS[9] seq         STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[10] tag        PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] lock_ttl_ms       how long a claim holds without a heartbeat
-- ARGV[3] worker            the claiming worker's id (part of each lock token)
-- ARGV[4] count             how many jobs to claim at most
-- ARGV[5] promote_limit     how many due jobs to promote at most
-- ARGV[6] request           this call's id: sent again, it returns the same jobs (lib/claim.lua)
-- returns a flat list, 6 items per claimed job: id, token, attempt, data, dispatched_at_ms,
--   version (the job's payload version; 1 when it carries none; {version, tc} when the job
--   carries a trace context, lib/claim.lua)
--@include lib/common.lua
--@include lib/claim.lua
local keys = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], active = KEYS[4],
  events = KEYS[5], marker = KEYS[6], expired = KEYS[7], seq = KEYS[9] }
local tag, now = KEYS[10], tonumber(ARGV[1])
local _, again = replayed(KEYS[8], ARGV[6], tag)
if again then
  rearm_marker(keys) -- as the first run did: the caller's waker may have taken the marker since
  return again
end
promote_due(tag, keys.seq, keys.delayed, keys.wait, keys.prio, keys.events, now, tonumber(ARGV[5]))
local out = {}
claim_into(out, tag, keys, now, tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
rearm_marker(keys)
remember(KEYS[8], ARGV[6], 0, out, tonumber(ARGV[2]))
return out
