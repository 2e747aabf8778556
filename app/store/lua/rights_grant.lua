-- Grant one visitor at most one right, atomically: the first candidate that its
-- per-visitor limit, total budget (count and money) and today's pacing allow.
--
-- Budgets hold because the check and the increment are one script: no two renders
-- can both see the last unit free. Money is reserved at the right's worst-case cost
-- per grant, so redemptions can never spend more than the budget.
--
-- A right's per-grant cost (a fee, printing) is paid whether or not the coupon is
-- used: it is spent when granted and never released. The rest of the reservation (the
-- worst redemption) is what a redemption settles and what a lapse gives back: an
-- unredeemed grant stops holding it once its term and a grace period for late
-- purchase events are over: each call first releases up to 50 such grants (KEYS[4]),
-- so a budget is not used up by coupons nobody can use any more. The fee also goes to
-- the shop's event log as a "grant_fee" line (amount: the fee), in this script, so
-- experiments add it to their rights cost as they add redemptions.
--
-- KEYS[1] the visitor's rights hash (field "current": the live decision as JSON;
--         "n:<right>": redemptions so far), KEYS[2] the shop's rights counters hash,
--         KEYS[3] the audit stream, KEYS[4] the outstanding grants (sorted set by
--         release time: "<right>|<reserved cents>|<grant id>"), KEYS[5] the feature
--         layouts hash (layout -> column names), KEYS[6] the shop's event log stream.
-- ARGV[1] now (ms), ARGV[2] today (local YYYYMMDD), ARGV[3] the decision as a JSON
-- object (without right, grant id, end, time, reservation and skipped, which this
-- script appends as text: cjson's decode and encode of it were half the script's
-- time), ARGV[4] how long a "none" stays decided (ms),
-- ARGV[5] grant id, ARGV[6] audit stream max length, ARGV[7] the arm the policy
-- chose ("none" or a right: counted in the exploration tallies when exploring),
-- ARGV[8] '' when not exploring, else the arm the model would have chosen ("none" or a
-- right: the exploration tallies are also kept per greedy arm, "<arm>:xg:<greedy>:n",
-- so a right's effect can be estimated on the visitors the model picks), ARGV[9] the
-- grace after a grant's end before its reservation is released (ms), ARGV[10] the candidates in order, as one JSON array
-- (one string: far cheaper for the client to send than 8 arguments a candidate) of
-- [id, grant end (ms), reserved cost (cents), count budget, money budget (cents),
-- today's count allowance, today's money allowance (cents) (-1 where unlimited),
-- how many redemptions one visitor may make, the per-grant cost (cents, part of the
-- reserved cost)].
-- ARGV[11] the visitor's id, ARGV[12] the event log's max length.
-- Only when the uplift model read the visitor's feature row: ARGV[13] that row (a JSON
-- array of numbers, null for missing), ARGV[14] its layout, ARGV[15] (optional: the
-- client sends it once per shop and layout) the layout's column names (JSON array).
-- The row goes to the audit entry only (fields "f" and "l"), never into the visitor's
-- "current" value, which every page view reads back.
-- Returns {"sticky", current JSON} | {"granted", right, decision JSON, skipped}
--         | {"none", decision JSON, skipped}; skipped: "right:why,right:why".
local vkey, stats, audit, outstanding = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, day = tonumber(ARGV[1]), ARGV[2]
local hold_none, grant_id, maxlen = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local arm, greedy = ARGV[7], ARGV[8]
local explore = greedy ~= ''
local grace = tonumber(ARGV[9])
local visitor, log_maxlen = ARGV[11], ARGV[12]
local features, layout = ARGV[13], ARGV[14]

-- the decision's audit entry: the decision, and the feature row when there is one
local function audit_add(body)
  if features then
    if ARGV[15] then redis.call('HSETNX', KEYS[5], layout, ARGV[15]) end
    redis.call('XADD', audit, 'MAXLEN', '~', maxlen, '*', 'd', body, 'f', features, 'l', layout)
  else
    redis.call('XADD', audit, 'MAXLEN', '~', maxlen, '*', 'd', body)
  end
end

local due = redis.call('ZRANGEBYSCORE', outstanding, '-inf', now, 'LIMIT', 0, 50)
for _, member in ipairs(due) do
  local right, cents = string.match(member, '^(.*)|(%d+)|[^|]*$')
  if right then
    redis.call('HINCRBY', stats, right .. ':reserved', -tonumber(cents))
    redis.call('HINCRBY', stats, right .. ':released', tonumber(cents))
  end
  redis.call('ZREM', outstanding, member)
end

local current = redis.call('HGET', vkey, 'current')
if current then
  local cur = cjson.decode(current)
  if tonumber(cur.until_ms) > now then
    return {'sticky', current}
  end
end

local function num(field)
  return tonumber(redis.call('HGET', stats, field) or '0')
end

-- a JSON string: quote, backslash and control characters escaped
local function jstr(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format('\\u%04x', string.byte(c)) end) .. '"'
end

-- the stored decision: the client's object with this grant's fields appended
local function body_with(right, until_ms, reserved, skipped_text)
  local head = string.sub(ARGV[3], 1, -2)
  return head .. (head == '{' and '' or ',') .. '"right":' .. right .. ',"grant_id":' .. jstr(grant_id)
    .. ',"until_ms":' .. string.format('%.0f', until_ms) .. ',"at_ms":' .. string.format('%.0f', now)
    .. reserved .. ',"skipped":' .. jstr(skipped_text) .. '}'
end

local skipped = {}
for _, c in ipairs(cjson.decode(ARGV[10])) do
  local id, until_ms, cost = c[1], c[2], c[3]
  local count_budget, money_budget, day_count, day_money, limit = c[4], c[5], c[6], c[7], c[8]
  local fixed = c[9] or 0  -- spent now; cost - fixed is what a redemption settles or a lapse releases
  local why = nil
  if tonumber(redis.call('HGET', vkey, 'n:' .. id) or '0') >= limit then
    why = 'visitor_limit'
  elseif count_budget >= 0 and num(id .. ':granted') + 1 > count_budget then
    why = 'budget_count'
  elseif money_budget >= 0 and num(id .. ':reserved') + cost > money_budget then
    why = 'budget_money'
  elseif day_count >= 0 and num(id .. ':d:' .. day .. ':granted') + 1 > day_count then
    why = 'pacing_count'
  elseif day_money >= 0 and num(id .. ':d:' .. day .. ':reserved') + cost > day_money then
    why = 'pacing_money'
  end
  if why == nil then
    redis.call('HINCRBY', stats, id .. ':granted', 1)
    redis.call('HINCRBY', stats, id .. ':reserved', cost)
    -- pacing reads today's counters only: the first grant of a new day drops the right's
    -- counters of its last granting day, so the hash keeps one day a right, not every day.
    -- A render dated before that day (a storefront's old timestamp) counts in no day: the
    -- day is over, and writing it back would leave fields nothing ever drops.
    local last = redis.call('HGET', stats, id .. ':d:last')
    if not last or day >= last then
      if last ~= day then
        if last then redis.call('HDEL', stats, id .. ':d:' .. last .. ':granted', id .. ':d:' .. last .. ':reserved') end
        redis.call('HSET', stats, id .. ':d:last', day)
      end
      redis.call('HINCRBY', stats, id .. ':d:' .. day .. ':granted', 1)
      redis.call('HINCRBY', stats, id .. ':d:' .. day .. ':reserved', cost)
    end
    if fixed > 0 then
      redis.call('HINCRBY', stats, id .. ':spend', fixed)
      -- the event log's line format (app.store.visitors.EVENT_LOG_FIELDS); "fee:<grant id>" its event id
      local line = table.concat({'fee:' .. grant_id, 'grant_fee', visitor, ARGV[1], '', fixed, ''}, '\t')
      redis.call('XADD', KEYS[6], 'MAXLEN', '~', log_maxlen, '*', 'events', line)
    end
    if explore then
      redis.call('HINCRBY', stats, id .. ':x:n', 1)
      redis.call('HINCRBY', stats, id .. ':xg:' .. greedy .. ':n', 1)
    end
    local held = cost - fixed
    local skipped_text = table.concat(skipped, ',')
    local money = ',"reserved":' .. string.format('%.0f', held)
    if fixed > 0 then money = money .. ',"fixed":' .. string.format('%.0f', fixed) end
    local body = body_with(jstr(id), until_ms, money, skipped_text)
    redis.call('HSET', vkey, 'current', body)
    if held > 0 then
      redis.call('ZADD', outstanding, until_ms + grace, id .. '|' .. held .. '|' .. grant_id)
    end
    audit_add(body)
    return {'granted', id, body, skipped_text}
  end
  table.insert(skipped, id .. ':' .. why)
end

local skipped_text = table.concat(skipped, ',')
if explore and arm == 'none' then
  redis.call('HINCRBY', stats, 'none:x:n', 1)
  redis.call('HINCRBY', stats, 'none:xg:' .. greedy .. ':n', 1)
end
local body = body_with('null', now + hold_none, '', skipped_text)
redis.call('HSET', vkey, 'current', body)
audit_add(body)
return {'none', body, skipped_text}
