-- Candidates for a related-stories query: entries sharing postings with the query,
-- most shared weight first, skipping the excluded id and embargoed entries (index.py);
-- with the document frequencies of every term and entity of the entries whose stored
-- norms are stale (weighed when the index had fewer than 1/growth of its stories now),
-- so the caller weighs them with the index's rarity of this moment.
-- KEYS: docs, embargoed, df, postings...
-- ARGV: exclude, now, per_posting, max_candidates, mode ('earlier' | 'around'), from,
--       until, growth, weight per posting...
-- Returns {{id, entry, ...}, {field, df, ...}}.
local exclude, now = ARGV[1], tonumber(ARGV[2])
local per, cap, mode = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local from, untl = ARGV[6], ARGV[7]
local growth = tonumber(ARGV[8])
local docs = tonumber(redis.call('HGET', KEYS[3], '#docs') or '0')
local FIRST_POSTING = 4
local acc, ids = {}, {}
local function add(members, w)
  for _, id in ipairs(members) do
    if acc[id] == nil then acc[id] = 0; ids[#ids + 1] = id end
    acc[id] = acc[id] + w
  end
end
for i = FIRST_POSTING, #KEYS do
  local w = tonumber(ARGV[9 + i - FIRST_POSTING])
  if mode == 'earlier' then
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, from, 'LIMIT', 0, per), w)
  else
    local half = math.ceil(per / 2)
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, '-inf', 'LIMIT', 0, half), w)
    add(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. untl, '+inf', 'LIMIT', 0, half), w)
  end
end
local function by_weight(list)
  table.sort(list, function(a, b) return acc[a] > acc[b] end)
  return list
end
-- Only the `cap` strongest are returned. Sorting every id with a Lua comparator cost
-- ~2 ms at 3,000 ids; sorting plain numbers is several times cheaper, so the weights give
-- the cut-off of the 2 * cap strongest, and only the ids at or above it (ties included)
-- are ranked; the rest only if skipped ones (embargoed, gone) leave the head short. The
-- order is the full sort's: every id of the tail weighs less than every id of the head.
local head, tail = ids, {}
if #ids > 4 * cap then
  local weights = {}
  for i, id in ipairs(ids) do weights[i] = acc[id] end
  table.sort(weights)
  local cut = weights[#weights - 2 * cap + 1]
  head = {}
  for _, id in ipairs(ids) do
    if acc[id] >= cut then head[#head + 1] = id else tail[#tail + 1] = id end
  end
end
local out, fields, seen = {}, {}, {}
local function want(field)
  if not seen[field] then seen[field] = true; fields[#fields + 1] = field end
end
local function take(list)
  for _, id in ipairs(by_weight(list)) do
    if #out >= 2 * cap then return end
    if id ~= exclude then
      local until_ts = redis.call('ZSCORE', KEYS[2], id)
      if not until_ts or tonumber(until_ts) <= now then
        local entry = redis.call('HGET', KEYS[1], id)
        if entry then
          out[#out + 1] = id; out[#out + 1] = entry
          local weighed = tonumber(string.match(entry, '"d":(%d+)') or '0')
          if weighed == 0 or docs > growth * weighed then
            local decoded = cjson.decode(entry)
            for term, _ in pairs(decoded.w) do want(term) end
            for _, e in ipairs(decoded.e) do want('e:' .. e[1]) end
          end
        end
      end
    end
  end
end
take(head)
if #out < 2 * cap and #tail > 0 then take(tail) end
local freqs = {}
local CHUNK = 500  -- unpack() is bounded by Lua's C stack
for start = 1, #fields, CHUNK do
  local chunk = {}
  for i = start, math.min(#fields, start + CHUNK - 1) do chunk[#chunk + 1] = fields[i] end
  local values = redis.call('HMGET', KEYS[3], unpack(chunk))
  for i, v in ipairs(chunk) do
    if values[i] then freqs[#freqs + 1] = v; freqs[#freqs + 1] = values[i] end
  end
end
return {out, freqs}
