-- Create a delivery unless the per-outlet ordering refuses it. A kill marks the story
-- and cancels what waits; a withhold cancels an older version waiting.
-- Also touches the rows of the story's other deliveries named in s:{story_id}.
-- KEYS: d:{id} s:{story_id} due urgent st:queued st:held st:retrying st:canceled
-- ARGV: base id story_id version kind status due_ms now fields_json retention_ms
local id, sid, kind = ARGV[2], ARGV[3], ARGV[5]
local version, due, now = tonumber(ARGV[4]), tonumber(ARGV[7]), tonumber(ARGV[8])
local dkey = KEYS[1]
if redis.call('EXISTS', dkey) == 1 then return {'exists', redis.call('HGET', dkey, 'status') or ''} end
if redis.call('HEXISTS', KEYS[2], 'killed') == 1 then return {'skipped', 'story was killed'} end
local pending = redis.call('HGET', KEYS[2], 'pending')
local inflight = redis.call('HGET', KEYS[2], 'inflight')
local sent = tonumber(redis.call('HGET', KEYS[2], 'sent') or '-1')
if kind == 'killed' then
  remember(sid, 'killed', id)
  if pending then cancel(pending, 'story killed', 'KILLED', now) end
  local tried = redis.call('HEXISTS', KEYS[2], 'tried') == 1
  if sent < 0 and not inflight and not tried then return {'skipped', 'outlet never received the story'} end
elseif kind == 'withheld' then
  if pending and version_of(pending) < version then
    cancel(pending, 'withheld by version ' .. version, 'WITHHELD', now)
    return {'skipped', 'withheld: waiting version canceled'}
  end
  return {'skipped', 'withheld'}
else
  if sent >= version then return {'skipped', 'version ' .. sent .. ' already delivered'} end
  if inflight and version_of(inflight) >= version then
    return {'skipped', 'version ' .. version_of(inflight) .. ' is being sent'}
  end
  if pending then
    if version_of(pending) >= version then
      return {'skipped', 'version ' .. version_of(pending) .. ' is waiting'}
    end
    cancel(pending, 'superseded by version ' .. version, 'SUPERSEDED', now)
  end
  remember(sid, 'pending', id)
end
local fields = cjson.decode(ARGV[9])
for k, v in pairs(fields) do redis.call('HSET', dkey, k, v) end
redis.call('HSET', dkey, 'attempts', 0, 'round_start', 0, 'queued_at', now, 'created_at', now)
set_status(id, ARGV[6], now)
if ARGV[6] == 'held' then redis.call('HSET', dkey, 'next_attempt_at', due) end
schedule(id, due)
return {'created', ARGV[6], redis.call('HGETALL', dkey)}
