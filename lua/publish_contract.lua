-- publish_contract.lua: tasks' contract documents -> published, unless a newer version stands
-- A worker publishes the contracts of the tasks it implements when it starts. During a rolling
-- deploy old and new workers start in any order: a document replaces the stored one when its
-- version is the same or newer, never when the stored one is newer, so the newest deployed
-- version's contract is what by-name producers see. Versions are read from the documents.
-- KEYS[1] contracts   HASH  task name -> its contract document (JSON)
-- ARGV[1..] per contract: name, document
-- returns {name, standing version, ...} for the documents kept out by a newer one
local kept = {}

local function version_of(text)
  local ok, doc = pcall(cjson.decode, text)
  if ok and type(doc) == "table" and type(doc.version) == "number" then
    return doc.version
  end
  return 1 -- an unversioned (or unreadable) document counts as the first version
end

for i = 1, #ARGV, 2 do
  local name, document = ARGV[i], ARGV[i + 1]
  local stored = redis.call("HGET", KEYS[1], name)
  local standing = stored and version_of(stored) or 0
  if standing > version_of(document) then
    kept[#kept + 1] = name
    kept[#kept + 1] = standing
  else
    redis.call("HSET", KEYS[1], name, document)
  end
end
return kept
