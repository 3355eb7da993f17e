-- A job's payload in its hash (spliced in at "--@include lib/data.lua" by lib/create.lua,
-- lib/claim.lua and the scripts that compare or rewrite a stored payload; needs lib/common.lua
-- first). Kept out of lib/common.lua: a script runs its whole chunk on every call, and the
-- plain enqueue scripts, the hottest of all, get their payload already in pieces from the
-- client (taskora_cli/engine/records.py, data_fields) and need none of this.

-- A job's payload is kept in pieces of at most DATA_PIECE bytes: "1" holds the first and
-- "2".."16" the rest (absent when it fits in one). Each value then stays within the server's
-- default hash-max-listpack-value (64), so a waiting job's hash keeps the compact listpack
-- encoding instead of a hash table (~170 bytes less per job on a default-configured server).
-- A payload that needs more than DATA_PIECES pieces stays whole in "1": its hash is big
-- anyway, and a hash table then costs little more.
-- (No table of field names: a script runs its whole chunk on every call, and building one
-- cost every script call about a microsecond; the names are literals or made per piece.)
local DATA_PIECE, DATA_PIECES = 63, 16

-- HSET arguments for a payload ("1", piece, "2", piece, ...), appended to `out` (or new).
-- A piece ends on a character boundary (never before a UTF-8 continuation byte): readers that
-- decode the hash (HGETALL) decode each piece on its own. (On the hot path of bulk and
-- flow-controlled dispatch: no table of its own, no calls but string.byte and string.sub.)
-- records.data_fields in Python splits a payload the same way, byte for byte.
local function data_args(data, out)
  out = out or {}
  local len, at = #data, #out
  if len > DATA_PIECE and len <= DATA_PIECE * DATA_PIECES then
    local from, n = 1, 0
    while from <= len and n < DATA_PIECES do
      local to = from + DATA_PIECE - 1
      if to >= len then
        to = len
      else
        while to > from do
          local b = string.byte(data, to + 1)
          if b < 0x80 or b >= 0xC0 then
            break
          end
          to = to - 1
        end
      end
      n = n + 1
      out[at + 2 * n - 1] = tostring(n)
      out[at + 2 * n] = string.sub(data, from, to)
      from = to + 1
    end
    if from > len then
      return out
    end
    for i = #out, at + 1, -1 do -- more pieces than DATA_PIECES (short ones): keep it whole
      out[i] = nil
    end
  end
  out[at + 1] = "1"
  out[at + 2] = data
  return out
end

-- The payload of `job` from its first pieces, read with the caller's HMGET ("1", "2", "3";
-- false when absent): a longer one reads its other pieces. false when there is none.
local function joined_data(job, first, d2, d3)
  if not d2 then
    return first
  elseif not d3 then
    return first .. d2
  end
  local parts = { first, d2, d3 }
  local rest = redis.call("HMGET", job, "4", "5", "6", "7", "8", "9", "10", "11", "12",
    "13", "14", "15", "16")
  for i = 1, #rest do
    if not rest[i] then
      break
    end
    parts[#parts + 1] = rest[i]
  end
  return table.concat(parts)
end

-- The whole payload of `job` (false when it has none).
local function job_data(job)
  local f = redis.call("HMGET", job, "1", "2", "3")
  return joined_data(job, f[1], f[2], f[3])
end

-- Replace the payload of an existing job.
local function set_data(job, data)
  redis.call("HDEL", job, "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
    "14", "15", "16")
  redis.call("HSET", job, unpack(data_args(data)))
end

-- A job this very call created on an earlier run (the call was sent again after a dropped
-- connection): same payload and dispatch time. Such a rerun counts as done, changing nothing.
local function own_job(job, data, now)
  return tonumber(redis.call("HGET", job, "t")) == now and job_data(job) == data
end
