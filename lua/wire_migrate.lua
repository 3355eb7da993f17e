-- wire_migrate.lua: the meta record of an older layout this code takes over -> this code's
-- layout (an operator's `taskora server migrate`, once every process of the older version
-- stopped, and after wire_rewrite_jobs rewrote that layout's jobs)
-- KEYS[1] meta        HASH  the wire meta record
-- ARGV[1] wire_version      the layout version this client writes
-- ARGV[2] min_compat        the oldest layout that may share the server with this client
-- ARGV[3] migrates_from     the oldest layout this client takes over
-- ARGV[4] written_by        who writes the record ("taskora-py <version>")
-- ARGV[5] now_ms
-- returns {outcome, the stored version before ("" = no record)}: outcome "migrated", "current"
--   (no record, or one this client shares the server with: nothing to do), "unreadable" (older
--   than migrates_from) or "newer" (written by a newer taskora)
local stored = redis.call("HMGET", KEYS[1], "wire_version", "min_compat")
local version, min_compat = tonumber(stored[1]), tonumber(stored[2])
if not version then
  return { "current", "" }
end
if min_compat and min_compat > tonumber(ARGV[1]) then
  return { "newer", stored[1] }
end
if version >= tonumber(ARGV[2]) then
  return { "current", stored[1] }
end
if version < tonumber(ARGV[3]) then
  return { "unreadable", stored[1] }
end
redis.call("HSET", KEYS[1], "wire_version", ARGV[1], "min_compat", ARGV[2],
  "written_by", ARGV[4], "written_at", ARGV[5], "migrated_from", stored[1])
return { "migrated", stored[1] }
