-- Queue again every delivery whose worker was lost mid-send (its lease expired). The
-- lost rows are known only from the lease set: beyond the declared keys it touches
-- those rows d:* and their stories' s:* (same hash tag).
-- KEYS: lease due urgent st:sending st:retrying st:canceled
-- ARGV: base now retention_ms
local now = tonumber(ARGV[2])
local lost = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
local recovered = {}
for _, id in ipairs(lost) do
  redis.call('ZREM', KEYS[1], id)
  local dkey = row_key(id)
  -- A copy canceled mid-send still held the story's in-flight marker.
  clear_story_ref(redis.call('HGET', dkey, 'story_id') or '', 'inflight', id)
  if redis.call('HGET', dkey, 'status') == 'sending' then
    redis.call('HSET', dkey, 'last_error', 'interrupted: the worker sending it was lost', 'token', '')
    table.insert(recovered, id .. '=' .. requeue(id, now, now, 'retrying', ''))
  end
end
return recovered
