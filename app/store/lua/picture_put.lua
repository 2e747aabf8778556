-- Store a composed picture in the bounded cache, evicting the least recently used.
--
-- KEYS[1] the LRU sorted set (name -> last use, µs), KEYS[2] the byte counter,
-- KEYS[3] the picture's key. ARGV[1] its name, ARGV[2] its bytes, ARGV[3] now (µs, strictly increasing per process),
-- ARGV[4] the budget in bytes, ARGV[5] the key prefix of pictures.
-- Evicted pictures' keys are derived from their names (one Redis, not a cluster).
-- Returns the number of pictures evicted.
local lru, total, key, name, data = KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2]
local now, budget, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]

local old = redis.call('STRLEN', key)
redis.call('SET', key, data)
redis.call('ZADD', lru, now, name)
local bytes = redis.call('INCRBY', total, string.len(data) - old)

local evicted = 0
-- never the picture just stored, even when it alone is over the budget
while bytes > budget and redis.call('ZCARD', lru) > 1 do
  local oldest = redis.call('ZRANGE', lru, 0, 0)[1]
  if oldest == name then
    oldest = redis.call('ZRANGE', lru, 1, 1)[1]
  end
  redis.call('ZREM', lru, oldest)
  local victim = prefix .. oldest
  bytes = redis.call('DECRBY', total, redis.call('STRLEN', victim))
  redis.call('DEL', victim)
  evicted = evicted + 1
end
return evicted
