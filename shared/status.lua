-- Record one status change of one story: set its status fields, append its timeline
-- entry (keeping the newest `keep`), and refresh both keys' expiry (status.record_many).
-- One call instead of five commands: a batch's records are pipelined, one call per story.
-- KEYS: status timeline
-- ARGV: ttl_seconds keep entry (field value)...
--   the keys' time to live, timeline entries kept, the timeline entry (JSON), then the
--   status fields to set, as field/value pairs
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
