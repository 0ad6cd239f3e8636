-- Index (or kill) one story version if the entry is still the one index.py read,
-- dropping a few expired entries on the way (amortised housekeeping).
-- KEYS: docs, df, embargoed, killed, expiry, old postings (n_old)..., new postings (n_new)...,
--       postings of the expired entries being dropped...
-- ARGV: id, expected sha1 of current entry ('' if none), action ('put' | 'kill'), entry,
-- first, embargo ('' if none), now, cutoff, posting_cap, ttl_ms, n_old, n_new, n_expired,
-- then per expired entry: its id and how many of the trailing KEYS are its postings,
-- then the df fields...
local docs, df, embargoed, killed, expiry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, expected, action = ARGV[1], ARGV[2], ARGV[3]
local now, cutoff = tonumber(ARGV[7]), tonumber(ARGV[8])
local posting_cap, ttl_ms = tonumber(ARGV[9]), tonumber(ARGV[10])
local n_old, n_new, n_expired = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])

local current = redis.call('HGET', docs, id)
local current_sha = ''
if current then current_sha = redis.sha1hex(current) end
if current_sha ~= expected then return 'conflict' end

-- amortised housekeeping: drop a few entries indexed longer ago than the ttl (with their
-- posting ids), old tombstones, lifted embargoes
local key_at, arg_at = 6 + n_old + n_new, 14
for _ = 1, n_expired do
  local old_id, n = ARGV[arg_at], tonumber(ARGV[arg_at + 1])
  local indexed = redis.call('ZSCORE', expiry, old_id)
  -- another replica may have dropped (or a kill removed) it since it was read
  if old_id ~= id and indexed and tonumber(indexed) <= cutoff then
    for i = key_at, key_at + n - 1 do redis.call('ZREM', KEYS[i], old_id) end
    redis.call('HDEL', docs, old_id)
    redis.call('ZREM', expiry, old_id)
  end
  key_at, arg_at = key_at + n, arg_at + 2
end
redis.call('ZREMRANGEBYSCORE', killed, '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', embargoed, '-inf', now)

if redis.call('ZSCORE', killed, id) then return 'killed' end
for i = 6, 5 + n_old do redis.call('ZREM', KEYS[i], id) end

if action == 'kill' then
  redis.call('HDEL', docs, id)
  redis.call('ZREM', expiry, id)
  redis.call('ZREM', embargoed, id)
  redis.call('ZADD', killed, now, id)
  return 'killed'
end

local first = tonumber(ARGV[5])
redis.call('HSET', docs, id, ARGV[4])
-- a new version is fresh copy: its time in the index starts again
redis.call('ZADD', expiry, now, id)
if not current then
  -- document frequencies count stories, not versions
  redis.call('HINCRBY', df, '#docs', 1)
  for i = arg_at, #ARGV do redis.call('HINCRBY', df, ARGV[i], 1) end
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) > now then
  redis.call('ZADD', embargoed, ARGV[6], id)
else
  redis.call('ZREM', embargoed, id)
end
for i = 6 + n_old, 5 + n_old + n_new do
  local key = KEYS[i]
  redis.call('ZADD', key, first, id)
  local size = redis.call('ZCARD', key)
  if size > posting_cap then redis.call('ZREMRANGEBYRANK', key, 0, size - posting_cap - 1) end
  redis.call('PEXPIRE', key, ttl_ms)
end
return 'indexed'
