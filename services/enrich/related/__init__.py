"""Related-story links and near-duplicates, on a story index shared in Redis.

Pure parts (`text`, `minhash`, `features`, `scoring`) turn a story into what the
index stores and rank candidates; `index` holds the Redis side (Lua scripts over
the `{P:index}` hash tag); `linker` puts them together for enrich and the API.
"""
