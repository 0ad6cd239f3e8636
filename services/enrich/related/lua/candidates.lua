-- Candidates for a related-stories query: entries sharing postings with the query,
-- most shared weight first, skipping the excluded id and embargoed entries (index.py).
-- KEYS: docs, embargoed, postings...
-- ARGV: exclude, now, per_posting, max_candidates, mode ('earlier' | 'around'), from,
--       until, weight per posting...
local exclude, now = ARGV[1], tonumber(ARGV[2])
local per, cap, mode = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local from, untl = ARGV[6], ARGV[7]
local acc, ids = {}, {}
local function add(members, w)
  for _, id in ipairs(members) do
    if acc[id] == nil then acc[id] = 0; ids[#ids + 1] = id end
    acc[id] = acc[id] + w
  end
end
for i = 3, #KEYS do
  local w = tonumber(ARGV[5 + i])
  if mode == 'earlier' then
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, from, 'LIMIT', 0, per), w)
  else
    local half = math.ceil(per / 2)
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, '-inf', 'LIMIT', 0, half), w)
    add(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. untl, '+inf', 'LIMIT', 0, half), w)
  end
end
table.sort(ids, function(a, b) return acc[a] > acc[b] end)
local out = {}
for _, id in ipairs(ids) do
  if #out >= 2 * cap then break end
  if id ~= exclude then
    local until_ts = redis.call('ZSCORE', KEYS[2], id)
    if not until_ts or tonumber(until_ts) <= now then
      local entry = redis.call('HGET', KEYS[1], id)
      if entry then out[#out + 1] = id; out[#out + 1] = entry end
    end
  end
end
return out
