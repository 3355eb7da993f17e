-- wire_rewrite_jobs.lua: jobs of wire format 2 or 3 -> this code's job hash (format 4), for one
-- batch of one task's jobs (an operator's `taskora server migrate`, once every process of the
-- older version stopped, before wire_migrate moves the meta record on)
-- KEYS[1] tag         PREFIX the task's key prefix: job keys are built on it (lib/common.lua)
-- ARGV[1..] per job: id
-- returns how many of them it rewrote: "ts" becomes "t", "data" and "d2".."d16" become
--   "1".."16" (a format-2 payload, whole in "data", becomes a payload of one piece), and a
--   waiting job's "state" goes. A job already in format 4 is left as it is, so a migration
--   stopped half-way can run again.
--@include lib/common.lua
local rewritten = 0
for i = 1, #ARGV do
  local job = job_key(KEYS[1], ARGV[i])
  local old = redis.call("HMGET", job, "state", "ts", "data", "d2", "d3", "d4", "d5", "d6", "d7",
    "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", "d16")
  if old[2] or old[3] then
    local fields = {}
    if old[2] then
      fields[#fields + 1] = "t"
      fields[#fields + 1] = old[2]
    end
    for piece = 1, 16 do
      local value = old[piece + 2]
      if value then
        fields[#fields + 1] = tostring(piece)
        fields[#fields + 1] = value
      end
    end
    redis.call("HSET", job, unpack(fields))
    redis.call("HDEL", job, "ts", "data", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10",
      "d11", "d12", "d13", "d14", "d15", "d16")
    if old[1] == "waiting" then
      redis.call("HDEL", job, "state")
    end
    rewritten = rewritten + 1
  end
end
return rewritten
