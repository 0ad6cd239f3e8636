-- Shared by every queue script (prepended to each). All keys live under the outlet's
-- base `{P:outlet:NAME}`: one hash tag, so one slot on Redis Cluster. By the calling
-- convention (services/publish/scripts.py) ARGV[1] is that base and the last ARGV is
-- the retention of finished deliveries in milliseconds.
local BASE = ARGV[1]
local RETENTION = tonumber(ARGV[#ARGV])

local function story_key(sid)
  return BASE .. 's:' .. sid
end

local function row_key(id)
  return BASE .. 'd:' .. id
end

-- A story's ordering markers live as long as finished deliveries.
local function remember(sid, field, value)
  redis.call('HSET', story_key(sid), field, value)
  redis.call('PEXPIRE', story_key(sid), RETENTION)
end

local function set_status(id, new, now)
  local dkey = row_key(id)
  local old = redis.call('HGET', dkey, 'status')
  if old then redis.call('ZREM', BASE .. 'st:' .. old, id) end
  redis.call('ZADD', BASE .. 'st:' .. new, now, id)
  redis.call('HSET', dkey, 'status', new, 'updated_at', now)
end

local function add_flag(dkey, flag)
  local flags = cjson.decode(redis.call('HGET', dkey, 'flags') or '[]')
  for _, f in ipairs(flags) do if f == flag then return end end
  table.insert(flags, flag)
  redis.call('HSET', dkey, 'flags', cjson.encode(flags))
end

local function unschedule(id)
  redis.call('ZREM', BASE .. 'due', id)
  redis.call('ZREM', BASE .. 'urgent', id)
end

local function schedule(id, at)
  local queue = 'due'
  if redis.call('HGET', row_key(id), 'urgent') == '1' then queue = 'urgent' end
  redis.call('ZADD', BASE .. queue, at, id)
end

local function clear_story_ref(sid, field, id)
  if redis.call('HGET', story_key(sid), field) == id then
    redis.call('HDEL', story_key(sid), field)
  end
end

local function cancel(id, reason, flag, now)
  local dkey = row_key(id)
  unschedule(id)
  set_status(id, 'canceled', now)
  redis.call('HSET', dkey, 'hold_reason', '', 'last_error', reason, 'next_attempt_at', '')
  if flag ~= '' then add_flag(dkey, flag) end
  clear_story_ref(redis.call('HGET', dkey, 'story_id'), 'pending', id)
  redis.call('PEXPIRE', dkey, RETENTION)
end

local function version_of(id)
  return tonumber(redis.call('HGET', row_key(id), 'version') or '-1')
end

-- Waiting again (retry, lost worker, the gate's embargo): unless a newer version already waits.
local function requeue(id, at, now, status, hold_reason)
  local dkey = row_key(id)
  local sid = redis.call('HGET', dkey, 'story_id')
  if redis.call('HGET', dkey, 'kind') ~= 'killed' then
    local pending = redis.call('HGET', story_key(sid), 'pending')
    if pending and pending ~= id then
      if version_of(pending) > version_of(id) then
        cancel(id, 'superseded by version ' .. version_of(pending), 'SUPERSEDED', now)
        return 'canceled'
      end
      cancel(pending, 'superseded by version ' .. version_of(id), 'SUPERSEDED', now)
    end
    remember(sid, 'pending', id)
  end
  set_status(id, status, now)
  redis.call('HSET', dkey, 'next_attempt_at', at, 'hold_reason', hold_reason)
  schedule(id, at)
  return status
end

-- Queue it now, or hold it until `not_before` (the gate's embargo).
local function wait_or_queue(id, not_before, now)
  local dkey = row_key(id)
  if not_before > now then
    set_status(id, 'held', now)
    redis.call('HSET', dkey, 'hold_reason', 'embargo', 'next_attempt_at', not_before)
    schedule(id, not_before)
    return 'held'
  end
  set_status(id, 'queued', now)
  redis.call('HSET', dkey, 'hold_reason', '', 'next_attempt_at', '')
  schedule(id, now)
  return 'queued'
end
