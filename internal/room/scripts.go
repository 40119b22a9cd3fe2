package room

import "github.com/redis/go-redis/v9"

// Lua helpers shared by the scripts that tell members about file changes:
// fileList builds the "files" array of the protocol, ordered by creation.
const luaFileList = `
local function fileList(filesKey, prefix)
  local list = {}
  for _, raw in ipairs(redis.call('HVALS', filesKey)) do
    local f = cjson.decode(raw)
    f.version = tonumber(redis.call('HGET', prefix .. 'file:' .. f.id, 'v')) or 0
    list[#list + 1] = f
  end
  table.sort(list, function(a, b) return a.seq < b.seq end)
  local parts = {}
  for i, f in ipairs(list) do
    parts[i] = '{"id":' .. cjson.encode(f.id) .. ',"name":' .. cjson.encode(f.name) .. ',"version":' .. string.format('%d', f.version) .. '}'
  end
  return '[' .. table.concat(parts, ',') .. ']'
end
local function filesEvent(filesKey, prefix, op, fid, name, by)
  return '{"type":"files","files":' .. fileList(filesKey, prefix) .. ',"change":{"op":"' .. op .. '","file":' ..
    cjson.encode(fid) .. ',"name":' .. cjson.encode(name) .. ',"by":' .. cjson.encode(by) .. '}}'
end
`

// populateScript loads a shard into Redis unless its room already exists,
// so that two nodes joining at once cannot clobber each other or a room
// that already has edits.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] names
// ARGV[1] key prefix, ARGV[2] number of metadata field/value pairs (m),
// ARGV[3 .. 2+2m] the pairs, then per file 6 values: id, files JSON, name,
// version, length, text.
// Returns 1 if it populated, 0 if the room existed.
var populateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local m = tonumber(ARGV[2])
for i = 3, 2 + 2 * m, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 3 + 2 * m, #ARGV, 6 do
  local fid, v = ARGV[i], ARGV[i + 3]
  redis.call('HSET', KEYS[2], fid, ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i + 2], fid)
  redis.call('HSET', ARGV[1] .. 'file:' .. fid, 'v', v, 'len', ARGV[i + 4], 'snap', ARGV[i + 5],
    'snapv', v, 'logv', v, 'fv', v, 'nrev', 0)
end
return 1
`)

// joinScript adds a member to an existing room and announces it.
//
// KEYS[1] room, KEYS[2] members
// ARGV[1] member id, ARGV[2] member JSON, ARGV[3] member limit,
// ARGV[4] channel, ARGV[5] event JSON
// Returns 0 on success, -1 if the room is not in Redis, -2 if it is full.
var joinScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return -2 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'empty', 0)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 0
`)

// leaveScript removes a member, announces it, and stamps the room empty
// when it was the last.
//
// KEYS[1] room, KEYS[2] members
// ARGV[1] member id, ARGV[2] channel, ARGV[3] event JSON, ARGV[4] now (ms)
// Returns the number of members left, or -1 if the member was not there.
var leaveScript = redis.NewScript(`
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return -1 end
redis.call('PUBLISH', ARGV[2], ARGV[3])
local n = redis.call('HLEN', KEYS[2])
if n == 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'empty', ARGV[4]) end
return n
`)

// updateMemberScript replaces a present member's record and announces it.
//
// KEYS[1] members; ARGV[1] member id, ARGV[2] member JSON, ARGV[3] channel,
// ARGV[4] event JSON. Returns 1, or 0 if the member is not there.
var updateMemberScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

// reapScript removes the members of a dead node and announces each.
//
// KEYS[1] room, KEYS[2] members; ARGV[1] node id, ARGV[2] channel,
// ARGV[3] now (ms). Returns the number of members removed.
var reapScript = redis.NewScript(`
local removed = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local m = cjson.decode(all[i + 1])
  if m.node == ARGV[1] then
    redis.call('HDEL', KEYS[2], all[i])
    redis.call('PUBLISH', ARGV[2], '{"type":"member.left","member":' .. cjson.encode(all[i]) .. '}')
    removed = removed + 1
  end
end
if removed > 0 and redis.call('HLEN', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'empty', ARGV[3])
end
return removed
`)

// commitScript appends updates to a file's log if the push is based on the
// file's current version and covers its current length; bumps the version
// and the room's rev; and publishes the updates on the shard's channel, so
// commit order and delivery order are one and the same.
//
// KEYS[1] room, KEYS[2] file state, KEYS[3] file log
// ARGV[1] channel, ARGV[2] file id, ARGV[3] base version, ARGV[4] length
// the first update expects, ARGV[5] length after the last, ARGV[6..] each
// update's JSON.
// Returns {0, new version}, {-1, current version} on a version mismatch,
// {-2} unknown file, {-3} room not in Redis, {-4, current length} wrong length.
var commitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-3} end
local st = redis.call('HMGET', KEYS[2], 'v', 'len')
if not st[1] then return {-2} end
local v = tonumber(st[1])
if tonumber(ARGV[3]) ~= v then return {-1, v} end
if tonumber(ARGV[4]) ~= tonumber(st[2]) then return {-4, tonumber(st[2])} end
local n = #ARGV - 5
redis.call('RPUSH', KEYS[3], unpack(ARGV, 6))
redis.call('HSET', KEYS[2], 'v', v + n, 'len', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PUBLISH', ARGV[1], '{"type":"updates","file":' .. cjson.encode(ARGV[2]) .. ',"version":' .. v .. ',"updates":[' .. table.concat(ARGV, ',', 6) .. ']}')
return {0, v + n}
`)

// createFileScript adds a file.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] names
// ARGV[1] prefix, ARGV[2] channel, ARGV[3] file id, ARGV[4] name,
// ARGV[5] text, ARGV[6] length, ARGV[7] file limit, ARGV[8] member id
// Returns 0, -1 name taken, -3 room not in Redis, -4 too many files.
var createFileScript = redis.NewScript(luaFileList + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return -1 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[7]) then return -4 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local rev = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('HSET', KEYS[2], ARGV[3], cjson.encode({id = ARGV[3], name = ARGV[4], seq = seq}))
redis.call('HSET', KEYS[3], ARGV[4], ARGV[3])
redis.call('HSET', ARGV[1] .. 'file:' .. ARGV[3], 'v', 0, 'len', ARGV[6], 'snap', ARGV[5], 'snapv', 0, 'logv', 0, 'fv', -1, 'nrev', rev)
redis.call('PUBLISH', ARGV[2], filesEvent(KEYS[2], ARGV[1], 'create', ARGV[3], ARGV[4], ARGV[8]))
return 0
`)

// renameFileScript renames a file, keeping its id.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] names
// ARGV[1] prefix, ARGV[2] channel, ARGV[3] file id, ARGV[4] new name, ARGV[5] member id
// Returns 0, -1 name taken, -2 unknown file, -3 room not in Redis.
var renameFileScript = redis.NewScript(luaFileList + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
local raw = redis.call('HGET', KEYS[2], ARGV[3])
if not raw then return -2 end
local holder = redis.call('HGET', KEYS[3], ARGV[4])
if holder and holder ~= ARGV[3] then return -1 end
local f = cjson.decode(raw)
redis.call('HDEL', KEYS[3], f.name)
f.name = ARGV[4]
redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(f))
redis.call('HSET', KEYS[3], ARGV[4], ARGV[3])
local rev = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('HSET', ARGV[1] .. 'file:' .. ARGV[3], 'nrev', rev)
redis.call('PUBLISH', ARGV[2], filesEvent(KEYS[2], ARGV[1], 'rename', ARGV[3], ARGV[4], ARGV[5]))
return 0
`)

// deleteFileScript removes a file; it is remembered in gone until a flush
// has marked it deleted in the database.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] names, KEYS[4] gone
// ARGV[1] prefix, ARGV[2] channel, ARGV[3] file id, ARGV[4] member id
// Returns 0, -2 unknown file, -3 room not in Redis.
var deleteFileScript = redis.NewScript(luaFileList + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
local raw = redis.call('HGET', KEYS[2], ARGV[3])
if not raw then return -2 end
local f = cjson.decode(raw)
local fk = ARGV[1] .. 'file:' .. ARGV[3]
f.version = tonumber(redis.call('HGET', fk, 'v')) or 0
redis.call('HSET', KEYS[4], ARGV[3], cjson.encode(f))
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], f.name)
redis.call('DEL', fk, ARGV[1] .. 'log:' .. ARGV[3])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PUBLISH', ARGV[2], filesEvent(KEYS[2], ARGV[1], 'delete', ARGV[3], f.name, ARGV[4]))
return 0
`)

// readDocScript reads what a file's text is made of at its current version:
// the snapshot and the log entries after it.
//
// KEYS[1] file state, KEYS[2] file log
// Returns {version, snapshot version, snapshot, entries...}, or {} for an
// unknown file.
var readDocScript = redis.NewScript(`
local st = redis.call('HMGET', KEYS[1], 'v', 'snapv', 'snap', 'logv')
if not st[1] then return {} end
local out = {tonumber(st[1]), tonumber(st[2]), st[3]}
local from = tonumber(st[2]) - tonumber(st[4])
for _, e in ipairs(redis.call('LRANGE', KEYS[2], from, -1)) do out[#out + 1] = e end
return out
`)

// readLogScript reads the updates from version ARGV[1] up to ARGV[2]
// (exclusive; -1 for the current version).
//
// KEYS[1] file state, KEYS[2] file log
// Returns {0, current version, entries...}, {-1, oldest version kept} when
// the history before that is gone, or {-2} for an unknown file.
var readLogScript = redis.NewScript(`
local st = redis.call('HMGET', KEYS[1], 'v', 'logv')
if not st[1] then return {-2} end
local v, logv, from, to = tonumber(st[1]), tonumber(st[2]), tonumber(ARGV[1]), tonumber(ARGV[2])
if from < logv then return {-1, logv} end
if to < 0 or to > v then to = v end
local out = {0, v}
if from >= to then return out end
for _, e in ipairs(redis.call('LRANGE', KEYS[2], from - logv, to - logv - 1)) do out[#out + 1] = e end
return out
`)

// readRoomScript reads a room's metadata, files and members in one step.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] members; ARGV[1] prefix
// Returns {room hash as a flat list, files JSON, member JSON...}, or {} when
// the room is not in Redis.
var readRoomScript = redis.NewScript(luaFileList + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local out = {redis.call('HGETALL', KEYS[1]), fileList(KEYS[2], ARGV[1])}
for _, m in ipairs(redis.call('HVALS', KEYS[3])) do out[#out + 1] = m end
return out
`)

// snapshotScript reads, in one step, everything a flush must write: the
// room's rev, and for each file changed since the last flush its text parts;
// and the deleted files not yet flushed.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] gone; ARGV[1] prefix
// Returns {} when the room is not in Redis, else
// {room hash flat list, {per changed file: {files JSON, v, snapv, snap, entries...}}, {gone JSON...}, live file count}.
var snapshotScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local frev = tonumber(redis.call('HGET', KEYS[1], 'frev')) or -1
local changed = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local fk = ARGV[1] .. 'file:' .. all[i]
  local st = redis.call('HMGET', fk, 'v', 'fv', 'nrev', 'snapv', 'snap', 'logv')
  local v, fv, nrev = tonumber(st[1]), tonumber(st[2]), tonumber(st[3])
  if v > fv or nrev > frev then
    local f = {all[i + 1], v, tonumber(st[4]), st[5]}
    local from = tonumber(st[4]) - tonumber(st[6])
    for _, e in ipairs(redis.call('LRANGE', ARGV[1] .. 'log:' .. all[i], from, -1)) do f[#f + 1] = e end
    changed[#changed + 1] = f
  end
end
return {redis.call('HGETALL', KEYS[1]), changed, redis.call('HVALS', KEYS[3]), redis.call('HLEN', KEYS[2])}
`)

// flushedScript records what a flush wrote: the rev it covered, each file's
// version, optionally a new snapshot; trims each log to the history kept;
// and forgets deleted files the database now knows.
//
// KEYS[1] room, KEYS[2] gone
// ARGV[1] prefix, ARGV[2] rev written, ARGV[3] now (ms), ARGV[4] history to
// keep, ARGV[5] number of files (n), then per file 3 values: id, version,
// snapshot text (empty string: keep the old snapshot), then the ids of
// deleted files written.
// Returns the room's current rev (greater than ARGV[2] if it changed since).
var flushedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rev = tonumber(ARGV[2])
local frev = tonumber(redis.call('HGET', KEYS[1], 'frev')) or -1
if rev > frev then redis.call('HSET', KEYS[1], 'frev', rev) end
redis.call('HSET', KEYS[1], 'lastsync', ARGV[3])
local keep, n = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 6, 5 + 3 * n, 3 do
  local fk, lk = ARGV[1] .. 'file:' .. ARGV[i], ARGV[1] .. 'log:' .. ARGV[i]
  local st = redis.call('HMGET', fk, 'fv', 'snapv', 'logv')
  if st[1] then
    local v = tonumber(ARGV[i + 1])
    if v > tonumber(st[1]) then redis.call('HSET', fk, 'fv', v) end
    local snapv, logv = tonumber(st[2]), tonumber(st[3])
    if ARGV[i + 2] ~= '' and v > snapv then
      redis.call('HSET', fk, 'snap', ARGV[i + 2], 'snapv', v)
      snapv = v
    end
    local newLogv = math.max(logv, snapv - keep)
    if newLogv > logv then
      redis.call('LTRIM', lk, newLogv - logv, -1)
      redis.call('HSET', fk, 'logv', newLogv)
    end
  end
end
for i = 6 + 3 * n, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return tonumber(redis.call('HGET', KEYS[1], 'rev'))
`)

// evictScript removes a room from Redis if it is still empty, idle for long
// enough, and everything in it is flushed: one atomic check, so a join or an
// edit that comes first always wins.
//
// KEYS[1] room, KEYS[2] files, KEYS[3] names, KEYS[4] members, KEYS[5] gone
// ARGV[1] prefix, ARGV[2] now (ms), ARGV[3] idle time required (ms)
// Returns 1 if evicted, 0 if not (busy, dirty or not idle long enough),
// -1 if there was no room.
var evictScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HLEN', KEYS[4]) > 0 or redis.call('HLEN', KEYS[5]) > 0 then return 0 end
local st = redis.call('HMGET', KEYS[1], 'rev', 'frev', 'empty')
if tonumber(st[1]) ~= tonumber(st[2]) then return 0 end
local empty = tonumber(st[3]) or 0
if empty == 0 or tonumber(ARGV[2]) - empty < tonumber(ARGV[3]) then return 0 end
for _, fid in ipairs(redis.call('HKEYS', KEYS[2])) do
  redis.call('DEL', ARGV[1] .. 'file:' .. fid, ARGV[1] .. 'log:' .. fid)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return 1
`)
