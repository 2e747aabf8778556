-- Ingest a batch of events atomically, counting each event id once.
--
-- Every update is commutative (sums, minima, maxima), so the profile does not depend
-- on the order events arrive in: late, historical and replayed events fold the same.
--
-- KEYS[1] spend sorted set, KEYS[2] popularity sorted set, KEYS[3] event log stream,
-- then for event i (1-based): KEYS[3*i+1] seen marker, KEYS[3*i+2] behaviour hash,
-- KEYS[3*i+3] viewed-categories hash.
-- ARGV[1] de-duplication window (s), ARGV[2] event log max length,
-- then 9 values per event: id, type, visitor, ts_ms, product, category,
-- amount_cents, popularity increment, render id ('' where absent).
local ttl = ARGV[1]
local maxlen = ARGV[2]
local n = (#KEYS - 3) / 3
local accepted, duplicates = 0, 0

-- Values are compared as numbers but written back as the caller's strings, so that
-- Lua never reformats an epoch-milliseconds integer in exponent notation.
local function set_min(h, f, v)
  local cur = redis.call('HGET', h, f)
  if not cur or tonumber(cur) > tonumber(v) then redis.call('HSET', h, f, v) end
end
local function set_max(h, f, v)
  local cur = redis.call('HGET', h, f)
  if not cur or tonumber(cur) < tonumber(v) then redis.call('HSET', h, f, v) end
end

for i = 1, n do
  local a = 2 + (i - 1) * 9
  local id, etype, visitor, ts = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local product, category, amount = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
  local pop, render = ARGV[a + 8], ARGV[a + 9]
  local seen, beh, cats = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  if redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
    accepted = accepted + 1
    set_min(beh, 'first_seen', ts)
    set_max(beh, 'last_seen', ts)
    if etype == 'view' then
      redis.call('HINCRBY', beh, 'views', 1)
      if category ~= '' then redis.call('HINCRBY', cats, category, 1) end
    elseif etype == 'click' then
      redis.call('HINCRBY', beh, 'clicks', 1)
    elseif etype == 'add_to_cart' then
      redis.call('HINCRBY', beh, 'carts', 1)
    elseif etype == 'purchase' then
      redis.call('HINCRBY', beh, 'orders', 1)
      local spend = redis.call('HINCRBY', beh, 'spend_cents', amount)
      set_min(beh, 'first_purchase_at', ts)
      set_max(beh, 'last_purchase_at', ts)
      redis.call('ZADD', KEYS[1], spend, visitor)
    elseif etype == 'follow' then
      set_min(beh, 'followed_at', ts)
    end
    if product ~= '' and pop ~= '0' then
      redis.call('ZINCRBY', KEYS[2], pop, product)
    end
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*',
      'id', id, 'type', etype, 'visitor', visitor, 'ts', ts,
      'product', product, 'amount', amount, 'render', render)
  else
    duplicates = duplicates + 1
  end
end
return {accepted, duplicates}
