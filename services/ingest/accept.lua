-- Accept a request's stories: charge the partner's bucket, then append each story
-- whose registry entry is still what ingest read when it decided (acceptance.py).
-- All or nothing: a rate-limited or raced request leaves nothing behind.
--
-- KEYS: registry lane priority bucket
--   the item-version registry, the partner's routine received stream (its lane), the
--   priority received stream, the partner's rate bucket (one hash tag: acceptance.py)
-- ARGV: rate_per_second burst cost (field expected entry priority payload)...
--   rate per second ('' = do not charge), burst, cost; then 5 per story: registry field,
--   expected entry ('' = none), new entry ('' = the story is not appended), priority
--   ('1' | '0'), payload (the encoded event, or '')
-- Returns {'limited', wait_ms}, {'raced', n, entry per story} (story n's entry is not the
-- one expected: nothing written; decide again on the registry's entries, '' = none) or
-- {'ok', entry id or '' per story}.
local registry, bucket = KEYS[1], KEYS[4]

local written = {}  -- a batch may carry one item twice: later stories see earlier ones
for base = 4, #ARGV, 5 do
  local field = ARGV[base]
  local current = written[field] or redis.call('HGET', registry, field) or ''
  if current ~= ARGV[base + 1] then
    local raced = {'raced', tostring((base - 4) / 5 + 1)}
    for each = 4, #ARGV, 5 do
      table.insert(raced, redis.call('HGET', registry, ARGV[each]) or '')
    end
    return raced
  end
  if ARGV[base + 2] ~= '' then written[field] = ARGV[base + 2] end
end

if ARGV[1] ~= '' then
  -- Redis' own clock, so replicas with skewed clocks share one bucket.
  local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local state = redis.call('HMGET', bucket, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  -- Every item costs a token. A batch larger than the burst passes a full bucket and
  -- leaves it in debt (tokens below zero), paid off before the partner's next request.
  local admit_at = math.min(cost, burst)
  if tokens < admit_at then
    return {'limited', string.format('%d', math.ceil((admit_at - tokens) * 1000 / rate))}
  end
  tokens = tokens - cost
  redis.call('HSET', bucket, 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', now))
  redis.call('PEXPIRE', bucket, math.ceil((burst - tokens) * 1000 / rate) + 1000)
end

local results = {'ok'}
for base = 4, #ARGV, 5 do
  local id = ''
  if ARGV[base + 2] ~= '' then
    local stream = KEYS[2]
    if ARGV[base + 3] == '1' then stream = KEYS[3] end
    id = redis.call('XADD', stream, '*', '__data__', ARGV[base + 4])
    redis.call('HSET', registry, ARGV[base], ARGV[base + 2])
  end
  table.insert(results, id)
end
return results
