-- handshake.lua: record the wire format on first connect; return what is stored.
-- KEYS[1] meta        HASH  the wire meta record
-- ARGV[1] wire_version      the layout version this client writes
-- ARGV[2] min_compat        the oldest layout this client can read
-- ARGV[3] written_by        who writes the record ("taskora-py <version>")
-- ARGV[4] now_ms
-- returns {wire_version, min_compat, written_by, written_at} as stored
if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("HSET", KEYS[1], "wire_version", ARGV[1], "min_compat", ARGV[2],
    "written_by", ARGV[3], "written_at", ARGV[4])
end
return redis.call("HMGET", KEYS[1], "wire_version", "min_compat", "written_by", "written_at")
