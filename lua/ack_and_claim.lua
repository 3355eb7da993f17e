-- ack_and_claim.lua: active -> completed (for each finished job), then claim like claim.lua
-- KEYS[1] wait        LIST  waiting ids of priority 0
-- KEYS[2] prio        ZSET  waiting ids of priority > 0
-- KEYS[3] delayed     ZSET  score = due time (ms)
-- KEYS[4] active      ZSET  score = lock deadline (ms)
-- KEYS[5] events      STREAM
-- KEYS[6] marker      ZSET  wakes idle workers
-- KEYS[7] completed   ZSET  score = finish time (ms)
-- KEYS[8] expired     ZSET  jobs whose TTL passed before a worker started them; score = when
-- KEYS[9] cancelled   ZSET  cancelled ids; score = when they ended (ms)
-- KEYS[10] counts     HASH  per-minute counts of completed and failed jobs (lib/common.lua)
-- KEYS[11] lastclaim  HASH  the worker's last request id and its reply (lib/claim.lua)
-- KEYS[12] seq        STRING the last position given in the priority bands (lib/common.lua)
-- KEYS[13] tag        PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1] now_ms
-- ARGV[2] lock_ttl_ms       for the jobs claimed next
-- ARGV[3] worker            the claiming worker's id
-- ARGV[4] count             how many jobs to claim next (0 = none)
-- ARGV[5] promote_limit     how many due jobs to promote at most
-- ARGV[6] max_age_ms        retention: completed jobs older than this are deleted; -1 = keep
-- ARGV[7] max_items         retention: completed jobs kept at most; -1 = no limit
-- ARGV[8] request           this call's id: sent again, it returns the same reply, settling
--                           and claiming nothing more (lib/claim.lua)
-- ARGV[9] acks             how many finished jobs follow
-- ARGV[10..] per finished job: id, token, result (JSON)
-- returns {acked, claimed}: acked has one flag per finished job (1 completed, 2 cancelled: it
--   was asked to cancel while it ran, 0 the lock was lost); claimed is the flat list claim.lua
--   returns
-- Trims the completed set; finished jobs let go of dedup keys and slots (lib/ack.lua).
--@include lib/common.lua
--@include lib/claim.lua
--@include lib/retention.lua
--@include lib/ack.lua
local keys = { wait = KEYS[1], prio = KEYS[2], delayed = KEYS[3], active = KEYS[4],
  events = KEYS[5], marker = KEYS[6], completed = KEYS[7], expired = KEYS[8],
  cancelled = KEYS[9], counts = KEYS[10], seq = KEYS[12] }
local tag, now = KEYS[13], tonumber(ARGV[1])
local before, again = replayed(KEYS[11], ARGV[8], tag)
if again then
  rearm_marker(keys) -- as the first run did: the caller's waker may have taken the marker since
  return { before, again }
end
local acked = ack_jobs(tag, keys, now, ARGV, 10, tonumber(ARGV[9]), 3, tonumber(ARGV[6]),
  tonumber(ARGV[7]))
promote_due(tag, keys.seq, keys.delayed, keys.wait, keys.prio, keys.events, now, tonumber(ARGV[5]))
local claimed = {}
claim_into(claimed, tag, keys, now, tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
rearm_marker(keys)
remember(KEYS[11], ARGV[8], acked, claimed, tonumber(ARGV[2]))
return { acked, claimed }
