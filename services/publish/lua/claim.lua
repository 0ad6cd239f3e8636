-- Take up to `limit` of the most urgent due deliveries for sending (kills and flashes
-- first), unless the outlet is disabled: one call per free sending slot would be one
-- round trip per delivery. Each is claimed by the same rules, one after the other, so a
-- story never has two in flight. Which rows it reads is known only from the queues, so
-- beyond the declared keys it touches the due rows d:* and their stories' s:* (same hash tag).
-- KEYS: urgent due lease disabled st:queued st:held st:retrying st:sending st:canceled
-- ARGV: base now lease_ms token limit retention_ms
local now, lease, token, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', KEYS[4]) == 1 then return {'disabled', ''} end
local claimed = {}
for _, qkey in ipairs({KEYS[1], KEYS[2]}) do
  for _ = 1, 25 + limit do
    if #claimed >= limit then break end
    local top = redis.call('ZRANGE', qkey, 0, 0, 'WITHSCORES')
    if #top == 0 or tonumber(top[2]) > now then break end
    local id = top[1]
    local dkey = row_key(id)
    redis.call('ZREM', qkey, id)
    local status = redis.call('HGET', dkey, 'status')
    if status == 'queued' or status == 'retrying'
        or (status == 'held' and redis.call('HGET', dkey, 'hold_reason') == 'embargo') then
      local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
      local version = version_of(id)
      local inflight = redis.call('HGET', story_key(sid), 'inflight')
      local sent = tonumber(redis.call('HGET', story_key(sid), 'sent') or '-1')
      if kind ~= 'killed' and redis.call('HEXISTS', story_key(sid), 'killed') == 1 then
        cancel(id, 'story killed', 'KILLED', now)
      elseif inflight and inflight ~= id then
        redis.call('ZADD', qkey, now + 100, id)
      elseif kind ~= 'killed' and sent >= version then
        cancel(id, 'superseded: version ' .. sent .. ' already delivered', 'SUPERSEDED', now)
      elseif kind == 'killed' and sent < 0 and redis.call('HEXISTS', story_key(sid), 'tried') == 0 then
        cancel(id, 'outlet never received the story', 'NOTHING-TO-KILL', now)
      else
        remember(sid, 'inflight', id)
        if kind ~= 'killed' then
          -- Kept in the row so a claim the gate then stops (nothing sent) can be undone.
          redis.call('HSET', dkey, 'tried_before', redis.call('HEXISTS', story_key(sid), 'tried'))
          remember(sid, 'tried', '1')
        end
        clear_story_ref(sid, 'pending', id)
        set_status(id, 'sending', now)
        redis.call('HINCRBY', dkey, 'attempts', 1)
        redis.call('HSET', dkey, 'token', token, 'hold_reason', '', 'next_attempt_at', '')
        redis.call('ZADD', KEYS[3], now + lease, id)
        table.insert(claimed, redis.call('HGETALL', dkey))
      end
    end
  end
end
-- When the next falls due, also beside what was claimed: a sender given fewer than `limit`
-- sleeps until then (or until woken) instead of asking again at once.
local next_due = nil
for _, qkey in ipairs({KEYS[1], KEYS[2]}) do
  local top = redis.call('ZRANGE', qkey, 0, 0, 'WITHSCORES')
  if #top > 0 and (next_due == nil or tonumber(top[2]) < next_due) then next_due = tonumber(top[2]) end
end
next_due = next_due and tostring(next_due) or ''
if #claimed > 0 then return {'claimed', next_due, unpack(claimed)} end
return {'idle', next_due}
