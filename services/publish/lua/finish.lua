-- Record an attempt's outcome: delivered | retry | failed | disable | canceled (the gate
-- refused it) | wait (the gate holds it for its embargo; not counted as an attempt).
-- A delivery an editor canceled mid-send keeps its token, so its attempt still ends here.
-- Also touches the row of the story's waiting delivery named in s:{story_id}.
-- KEYS: d:{id} s:{story_id} lease due urgent disabled st:sending st:delivered st:retrying st:failed st:canceled st:held
-- ARGV: base id token now outcome status_code error next_ms payload age_label flags_json disabled_reason refusal story_id retention_ms
local id, token, now, outcome = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local dkey = KEYS[1]
if redis.call('EXISTS', dkey) == 0 then return {'missing', {}} end
local function finish()
  local status = redis.call('HGET', dkey, 'status')
  local mine = redis.call('HGET', dkey, 'token') == token
  local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
  redis.call('ZREM', KEYS[3], id)
  if mine then clear_story_ref(sid, 'inflight', id) end
  redis.call('HSET', dkey, 'status_code', ARGV[6], 'last_error', ARGV[7])
  if ARGV[9] ~= '' then redis.call('HSET', dkey, 'payload', ARGV[9]) end
  if ARGV[11] ~= '' then redis.call('HSET', dkey, 'age_label', ARGV[10], 'flags', ARGV[11]) end
  if outcome == 'delivered' then
    unschedule(id)
    set_status(id, 'delivered', now)
    redis.call('HSET', dkey, 'sent_at', now, 'next_attempt_at', '', 'hold_reason', '')
    local version = version_of(id)
    if kind ~= 'killed' and version > tonumber(redis.call('HGET', KEYS[2], 'sent') or '-1') then
      remember(sid, 'sent', version)
    end
    redis.call('PEXPIRE', dkey, RETENTION)
    return 'delivered'
  end
  if not mine or status ~= 'sending' then return status end
  if (outcome == 'wait' or ARGV[13] ~= '') and redis.call('HGET', dkey, 'tried_before') == '0' then
    -- The gate stopped it before any byte left: the outlet was not tried after all.
    redis.call('HDEL', KEYS[2], 'tried')
  end
  if outcome == 'retry' then return requeue(id, tonumber(ARGV[8]), now, 'retrying', '') end
  if outcome == 'wait' then
    redis.call('HINCRBY', dkey, 'attempts', -1)
    return requeue(id, tonumber(ARGV[8]), now, 'held', 'embargo')
  end
  if outcome == 'canceled' then
    cancel(id, ARGV[7], ARGV[13], now)
    return 'canceled'
  end
  set_status(id, 'failed', now)
  redis.call('HSET', dkey, 'next_attempt_at', '')
  clear_story_ref(sid, 'pending', id)
  if outcome == 'disable' then redis.call('SET', KEYS[6], ARGV[12]) end
  redis.call('PEXPIRE', dkey, RETENTION)
  return 'failed'
end
local result = finish()
return {result, redis.call('HGETALL', dkey)}
