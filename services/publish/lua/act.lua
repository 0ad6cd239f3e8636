-- An editor's action. `allowed` is the statuses the action applies to, from the state
-- machine (services/publish/deliveries.py); `not_before` is the gate's embargo for retry
-- and release (0: none). Also touches the row of the story's waiting delivery.
-- KEYS: d:{id} s:{story_id} due urgent disabled st:queued st:held st:retrying st:failed st:canceled st:sending
-- ARGV: base id action allowed now not_before story_id retention_ms
local id, action, now, not_before = ARGV[2], ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[6])
local dkey = KEYS[1]
local status = redis.call('HGET', dkey, 'status')
if not status then return {'missing', ''} end
local permitted = false
for allowed in string.gmatch(ARGV[4], '%S+') do
  if allowed == status then permitted = true end
end
if not permitted then return {'not-allowed', status} end
local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
local version = version_of(id)
if action == 'hold' then
  unschedule(id)
  set_status(id, 'held', now)
  redis.call('HSET', dkey, 'hold_reason', 'editor', 'next_attempt_at', '')
  return {'ok', 'held'}
elseif action == 'release' then
  unschedule(id)
  return {'ok', wait_or_queue(id, not_before, now)}
elseif action == 'cancel' then
  -- A copy being sent keeps its lease and token: the attempt under way ends as it ends
  -- (the outlet may get it), and nothing is tried again.
  cancel(id, 'canceled by an editor', '', now)
  return {'ok', 'canceled'}
elseif action == 'retry' then
  if status == 'retrying' then
    unschedule(id)
    return {'ok', wait_or_queue(id, not_before, now)}
  end
  if redis.call('EXISTS', KEYS[5]) == 1 then
    return {'conflict', 'the outlet is disabled; enable it first'}
  end
  if redis.call('HGET', KEYS[2], 'inflight') == id then
    return {'conflict', 'its last attempt is still under way; retry when it ends'}
  end
  if kind ~= 'killed' then
    if redis.call('HEXISTS', KEYS[2], 'killed') == 1 then
      return {'conflict', 'the story was killed'}
    end
    local sent = tonumber(redis.call('HGET', KEYS[2], 'sent') or '-1')
    if sent >= version then return {'conflict', 'version ' .. sent .. ' was already delivered'} end
    local pending = redis.call('HGET', KEYS[2], 'pending')
    if pending and pending ~= id then
      return {'conflict', 'version ' .. version_of(pending) .. ' is waiting'}
    end
    local inflight = redis.call('HGET', KEYS[2], 'inflight')
    if inflight and version_of(inflight) >= version then
      return {'conflict', 'version ' .. version_of(inflight) .. ' is being sent'}
    end
    remember(sid, 'pending', id)
  end
  redis.call('PERSIST', dkey)
  redis.call('HSET', dkey, 'round_start', redis.call('HGET', dkey, 'attempts'))
  return {'ok', wait_or_queue(id, not_before, now)}
end
return {'conflict', 'unknown action'}
