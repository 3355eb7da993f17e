-- worker_beat.lua: a worker's registry record -> refreshed, its beat stamped by the server's clock
-- Liveness is judged on the server's clock alone (this stamp, and TIME again when reaping), so
-- hosts whose clocks differ never take a live worker for gone or keep a dead one; the worker's
-- own clock is kept beside it (clock_ms) to show any skew.
-- KEYS[1] worker      HASH  the worker's registry record
-- KEYS[2] workers     ZSET  worker ids; score = last beat (ms, server clock)
-- ARGV[1] id                the worker's id
-- ARGV[2] now_ms            the worker's own clock, kept as clock_ms
-- ARGV[3..] per field: name, value
-- returns the beat's time on the server's clock (ms)
local t = redis.call("TIME")
local beat = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = { "beat_ms", beat, "clock_ms", ARGV[2] }
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call("HSET", KEYS[1], unpack(fields))
redis.call("ZADD", KEYS[2], beat, ARGV[1])
return beat
