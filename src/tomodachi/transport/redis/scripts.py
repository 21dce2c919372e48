"""The Lua scripts of the Redis queue backend: every step that moves an entry between keys runs
as one script, so it is atomic (and on Redis Cluster, one slot: a queue's keys share a hash tag).
"""

from __future__ import annotations

__all__ = ["DEAD", "DELAY", "PROMOTE", "RECLAIM", "RETRY", "TRIM"]

PROMOTE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local moved, nextdue = 0, -1
for i = 1, #KEYS, 2 do
  local due = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  for _, member in ipairs(due) do
    local m = cjson.decode(member)
    local fields = {'payload', m.p, 'id', m.i, 'attempt', m.a, 'enqueued', m.e}
    if type(m.h) == 'string' and m.h ~= '' then
      fields[9], fields[10] = 'h', m.h
    end
    if ARGV[2] ~= '' then
      redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
    else
      redis.call('XADD', KEYS[i + 1], '*', unpack(fields))
    end
    redis.call('ZREM', KEYS[i], member)
    moved = moved + 1
  end
  local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if first[2] then
    local wait = math.max(tonumber(first[2]) - now, 0)
    if nextdue < 0 or wait < nextdue then nextdue = wait end
  end
end
return {moved, nextdue}
"""

DELAY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
"""

# KEYS: the stream read from, the group's retry stream, its delayed set.
# ARGV: group, stream id, delay ms, payload, message id, attempt, enqueued ms, maxlen or '',
# headers (the ``h`` field) or ''.
RETRY = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local h = nil
if ARGV[9] ~= '' then h = ARGV[9] end
if tonumber(ARGV[3]) <= 0 then
  local fields = {'payload', ARGV[4], 'id', ARGV[5], 'attempt', ARGV[6], 'enqueued', ARGV[7]}
  if h then fields[9], fields[10] = 'h', h end
  if ARGV[8] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
  else
    redis.call('XADD', KEYS[2], '*', unpack(fields))
  end
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local member = cjson.encode({p = ARGV[4], i = ARGV[5], a = ARGV[6], e = ARGV[7], h = h})
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), member)
end
return 1
"""

# KEYS: the stream read from, the dead-letter stream. ARGV: group, stream id, maxlen or '', then
# the dead letter's field/value pairs.
DEAD = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
else
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
return 1
"""

# KEYS: a stream. ARGV: group, consumer, min idle ms, count. Returns {id, fields, deliveries}.
RECLAIM = """
local out, cursor, rounds, want = {}, '0-0', 0, tonumber(ARGV[4])
repeat
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', want - #out)
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    local n = 1
    if p[1] then n = p[1][4] end
    out[#out + 1] = {e[1], e[2], n}
  end
  rounds = rounds + 1
until cursor == '0-0' or #out >= want or rounds >= 10
return out
"""

# KEYS: a stream. ARGV: idle ms after which a consumer without pending entries is forgotten.
# Trims the entries below the oldest one some group still needs (pending, or not yet delivered);
# a stream without groups is left alone. Forgets the consumers of processes long gone (each
# process has its own consumer name), which never lose a message: they have nothing pending.
TRIM = """
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok or #groups == 0 then return 0 end
local min_ms, min_seq = nil, nil
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], info['name'])) do
    local consumer = {}
    for i = 1, #c, 2 do consumer[c[i]] = c[i + 1] end
    if tonumber(consumer['pending']) == 0 and tonumber(consumer['idle']) > tonumber(ARGV[1]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], info['name'], consumer['name'])
    end
  end
  local id, bump = info['last-delivered-id'], 1
  if tonumber(info['pending']) > 0 then
    id = redis.call('XPENDING', KEYS[1], info['name'])[2]
    bump = 0
  end
  local dash = string.find(id, '-', 1, true)
  local ms, seq = tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1)) + bump
  if min_ms == nil or ms < min_ms or (ms == min_ms and seq < min_seq) then min_ms, min_seq = ms, seq end
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', min_ms, min_seq))
"""
