-- Ingest a batch of events atomically, counting each event id once.
--
-- Every update is commutative (sums, minima, maxima), so the profile does not depend
-- on the order events arrive in: late, historical and replayed events fold the same.
-- Events are first de-duplicated and logged one by one, then folded per visitor and
-- per product within the batch, so a visitor's behaviour hash is read and written once
-- per batch however many of its events the batch holds.
--
-- KEYS[1] spend sorted set, KEYS[2] popularity sorted set, KEYS[3] event log stream,
-- KEYS[4..6] the product engagement hashes of clicks (from a render), views, purchases,
-- KEYS[7 .. 6+D] the de-duplication sets of the D days the batch touches,
-- then for each visitor v of the batch (1-based): KEYS[6+D+2v-1] behaviour hash,
-- KEYS[6+D+2v] viewed-categories hash.
-- ARGV[1] de-duplication window (s), ARGV[2] event log max length, ARGV[3] D,
-- ARGV[4] N events, then 11 values per event: id, type, visitor index (1-based),
-- day index (1-based), ts_ms, product, category, amount_cents, popularity increment,
-- render id, price position in thousandths ('' where absent); then the batch's
-- visitor ids in index order.
local ttl, maxlen, days, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local FIXED = 6  -- keys before the day sets
local first_visitor_key = FIXED + days
local W = 11
local visitor_ids = 4 + n * W  -- ARGV[visitor_ids + vi] is visitor vi's id
local accepted, duplicates = 0, 0

local logged = {}    -- the accepted events as log lines
local fold = {}      -- visitor index -> {counters, min/max timestamps}
local views_by = {}  -- visitor index -> {category -> views}
local pop = {}       -- product -> popularity increment
-- engagement key index -> {product -> count}; the same rule as app.core.engagement.event_counter
local engaged = {[4] = {}, [5] = {}, [6] = {}}

local function lower(a, b) if a == nil or b < a then return b end return a end
local function higher(a, b) if a == nil or b > a then return b end return a end

for i = 1, n do
  local a = 4 + (i - 1) * W
  local id, etype, vi, di = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local ts, product, category, amount, inc = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  local render, price = ARGV[a + 10], ARGV[a + 11]
  if redis.call('SADD', KEYS[FIXED + di], id) == 1 then
    accepted = accepted + 1
    local f = fold[vi]
    if f == nil then
      f = {views = 0, clicks = 0, carts = 0, orders = 0, spend = 0, priced_views = 0, viewed_price_milli = 0}
      fold[vi] = f
      views_by[vi] = {}
    end
    local t = tonumber(ts)
    f.first_seen, f.last_seen = lower(f.first_seen, t), higher(f.last_seen, t)
    if etype == 'view' then
      f.views = f.views + 1
      if category ~= '' then views_by[vi][category] = (views_by[vi][category] or 0) + 1 end
      if price ~= '' then
        f.priced_views = f.priced_views + 1
        f.viewed_price_milli = f.viewed_price_milli + tonumber(price)
      end
    elseif etype == 'click' then
      f.clicks = f.clicks + 1
    elseif etype == 'add_to_cart' then
      f.carts = f.carts + 1
    elseif etype == 'purchase' then
      f.orders = f.orders + 1
      f.spend = f.spend + tonumber(amount)
      f.first_purchase_at, f.last_purchase_at = lower(f.first_purchase_at, t), higher(f.last_purchase_at, t)
    elseif etype == 'follow' then
      f.followed_at = lower(f.followed_at, t)
    end
    if product ~= '' and inc ~= '0' then pop[product] = (pop[product] or 0) + tonumber(inc) end
    if product ~= '' then
      local counter = nil
      if etype == 'click' and render ~= '' then counter = 4
      elseif etype == 'view' then counter = 5
      elseif etype == 'purchase' then counter = 6 end
      if counter then engaged[counter][product] = (engaged[counter][product] or 0) + 1 end
    end
    logged[#logged + 1] = table.concat({id, etype, ARGV[visitor_ids + vi], ts, product, amount, render}, '\t')
  else
    duplicates = duplicates + 1
  end
end

for d = 1, days do redis.call('EXPIRE', KEYS[FIXED + d], ttl) end
-- One log entry per batch: its accepted events, a line each (see
-- app.store.visitors.EVENT_LOG_FIELDS), so logging costs one append, not one per event.
if #logged > 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'events', table.concat(logged, '\n'))
end

-- Timestamps are epoch milliseconds: integers below 2^53, formatted without exponent.
local function ms(x) return string.format('%d', x) end
local MIN_FIELDS = {'first_seen', 'first_purchase_at', 'followed_at'}
local MAX_FIELDS = {'last_seen', 'last_purchase_at'}
for vi, f in pairs(fold) do
  local beh = KEYS[first_visitor_key + 2 * vi - 1]
  local cur = redis.call('HMGET', beh, 'first_seen', 'first_purchase_at', 'followed_at', 'last_seen', 'last_purchase_at')
  local set = {}
  for k, field in ipairs(MIN_FIELDS) do
    local v = f[field]
    if v ~= nil and (not cur[k] or tonumber(cur[k]) > v) then set[#set + 1] = field; set[#set + 1] = ms(v) end
  end
  for k, field in ipairs(MAX_FIELDS) do
    local v = f[field]
    if v ~= nil and (not cur[3 + k] or tonumber(cur[3 + k]) < v) then set[#set + 1] = field; set[#set + 1] = ms(v) end
  end
  if #set > 0 then redis.call('HSET', beh, unpack(set)) end
  if f.views > 0 then redis.call('HINCRBY', beh, 'views', f.views) end
  if f.priced_views > 0 then
    redis.call('HINCRBY', beh, 'priced_views', f.priced_views)
    redis.call('HINCRBY', beh, 'viewed_price_milli', f.viewed_price_milli)
  end
  if f.clicks > 0 then redis.call('HINCRBY', beh, 'clicks', f.clicks) end
  if f.carts > 0 then redis.call('HINCRBY', beh, 'carts', f.carts) end
  if f.orders > 0 then
    redis.call('HINCRBY', beh, 'orders', f.orders)
    local spend = redis.call('HINCRBY', beh, 'spend_cents', f.spend)
    redis.call('ZADD', KEYS[1], spend, ARGV[visitor_ids + vi])
  end
  local cats = KEYS[first_visitor_key + 2 * vi]
  for category, count in pairs(views_by[vi]) do redis.call('HINCRBY', cats, category, count) end
end
for product, inc in pairs(pop) do
  redis.call('ZINCRBY', KEYS[2], string.format('%.17g', inc), product)
end
for k, counts in pairs(engaged) do
  for product, count in pairs(counts) do redis.call('HINCRBY', KEYS[k], product, count) end
end
return {accepted, duplicates}
