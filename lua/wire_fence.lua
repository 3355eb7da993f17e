-- wire_fence.lua: the meta record of an older layout this code takes over -> fenced, before
-- wire_rewrite_jobs rewrites that layout's jobs (an operator's `taskora server migrate`): its
-- min_compat rises to this code's, so the older version refuses the server from here on, and
-- none of its processes can misread a rewritten job (a migration stopped half-way included)
-- KEYS[1] meta        HASH  the wire meta record
-- ARGV[1] min_compat        the oldest layout that may share the server with this client
-- ARGV[2] migrates_from     the oldest layout this client takes over
-- returns the stored version when the record holds a layout this client takes over (now
--   fenced, or fenced already by a migration stopped half-way), else "" (no record, a layout
--   this client shares the server with, one too old, or a newer one: wire_migrate says which)
local version = tonumber(redis.call("HGET", KEYS[1], "wire_version"))
if not version or version < tonumber(ARGV[2]) or version >= tonumber(ARGV[1]) then
  return ""
end
redis.call("HSET", KEYS[1], "min_compat", ARGV[1])
return version
