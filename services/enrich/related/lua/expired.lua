-- Entries indexed longer ago than the ttl, a few at a time, read before a write so the
-- write can drop them with their postings (index.py computes the posting keys).
-- KEYS: docs, expiry
-- ARGV: cutoff, limit
-- Returns {id, entry or false, ...}.
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id)
end
return out
