-- Append one event unless its marker is in the ledger (appended within the window);
-- trims the ledger to the window on the way (streams.append_many).
-- KEYS: stream ledger
-- ARGV: marker now_ms window_ms payload
-- Returns the new entry id, or false if the marker was seen.
local seen = redis.call('ZSCORE', KEYS[2], ARGV[1])
if seen then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return redis.call('XADD', KEYS[1], '*', '__data__', ARGV[4])
