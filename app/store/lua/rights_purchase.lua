-- Purchases against the visitors' rights decisions: redemptions and conversions.
--
-- A purchase within a decision's term counts once as that decision's conversion (per
-- right, and in the exploration tallies when the arm was drawn at random: the
-- randomized comparison of each right against "none", overall and per greedy arm:
-- see rights_grant.lua). A purchase that names the right it used redeems the
-- visitor's live grant of that right (once per grant, only from the minimum spend up),
-- adds the redemption's cost to the right's spend and counts towards the visitor's
-- limit; the grant is then used up.
--
-- A redemption turns the grant's reservation into what it really cost: the reserved
-- worst case is taken off and the actual cost put on (had the reservation already been
-- released, by a purchase event later than the grace, the cost alone is put on), so
-- "reserved" stays the outstanding worst cases plus the money really spent.
--
-- Each redemption is also appended to the shop's event log as a "redemption" line
-- (amount: its cost), in the same entry format as the ingested events
-- (app.store.visitors.EVENT_LOG_FIELDS), so experiments attribute the money given
-- away to their variants like any other event: in this script, so a redemption
-- counted is a redemption logged.
--
-- A purchase that converts a decision or redeems its grant also appends the outcome
-- to the audit stream (field "o": grant id, ts, order and cost in cents, whether it
-- converted, whether it redeemed), so the decision log can be joined to what came of
-- each decision by grant id: the visitor's hash keeps only the live decision.
--
-- KEYS[1] the shop's rights counters hash, KEYS[2] the outstanding grants (sorted
-- set, see rights_grant.lua), KEYS[3] the shop's event log stream, KEYS[4] the rights
-- audit stream, KEYS[4+v] visitor v's rights hash.
-- ARGV[1] N purchases, ARGV[2] the event log's max length, ARGV[3] the audit stream's
-- max length, then 8 values per purchase: visitor index (1-based), visitor id, event
-- id, ts (ms), the right it names ('' for none), its cost (cents), its minimum spend
-- (cents; -1 when the right is unknown), the order's amount (cents).
-- Returns one word per purchase: redeemed | converted | converted_before |
-- outside_term | duplicate | no_decision | not_held | expired | already_redeemed |
-- below_min_spend | unknown_right.
local stats, outstanding, log, audit = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n, maxlen, audit_maxlen = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out, logged = {}, {}
for i = 0, n - 1 do
  local b = 4 + i * 8
  local vkey = KEYS[4 + tonumber(ARGV[b])]
  local visitor, event_id, ts = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3])
  local named, cost, min_spend = ARGV[b + 4], tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
  local order = tonumber(ARGV[b + 7])
  local word
  if redis.call('HSETNX', vkey, 'p:' .. event_id, '1') == 0 then
    word = 'duplicate'
  else
    local raw = redis.call('HGET', vkey, 'current')
    if not raw then
      word = 'no_decision'
    else
      local cur = cjson.decode(raw)
      local converted, redeemed = false, false
      local arm = cur.right
      if arm == cjson.null or arm == nil then arm = 'none' end
      local within = ts >= tonumber(cur.at_ms) and ts <= tonumber(cur.until_ms)
      if not within then
        word = 'outside_term'
      elseif cur.converted then
        word = 'converted_before'
      else
        cur.converted = true
        if arm ~= 'none' then redis.call('HINCRBY', stats, arm .. ':conv', 1) end
        if cur.explore then
          redis.call('HINCRBY', stats, arm .. ':x:conv', 1)
          if type(cur.greedy) == 'string' then redis.call('HINCRBY', stats, arm .. ':xg:' .. cur.greedy .. ':conv', 1) end
        end
        word = 'converted'
        converted = true
      end
      if named ~= '' then
        if min_spend < 0 then
          word = 'unknown_right'
        elseif arm ~= named then
          word = 'not_held'
        elseif not within then
          word = 'expired'
        elseif cur.redeemed then
          word = 'already_redeemed'
        elseif order < min_spend then
          word = 'below_min_spend'
        else
          cur.redeemed = true
          cur.until_ms = ts
          redis.call('HINCRBY', stats, named .. ':redeemed', 1)
          redis.call('HINCRBY', stats, named .. ':spend', cost)
          local held = tonumber(cur.reserved or 0)
          if held > 0 and redis.call('ZREM', outstanding, named .. '|' .. held .. '|' .. cur.grant_id) == 1 then
            redis.call('HINCRBY', stats, named .. ':reserved', cost - held)
          else
            redis.call('HINCRBY', stats, named .. ':reserved', cost)
          end
          redis.call('HINCRBY', vkey, 'n:' .. named, 1)
          logged[#logged + 1] = table.concat({event_id, 'redemption', visitor, ARGV[b + 3], '', cost, ''}, '\t')
          word = 'redeemed'
          redeemed = true
        end
      end
      redis.call('HSET', vkey, 'current', cjson.encode(cur))
      if (converted or redeemed) and cur.grant_id then
        local o = '{"grant_id":' .. cjson.encode(cur.grant_id) .. ',"ts_ms":' .. string.format('%.0f', ts)
          .. ',"order_cents":' .. string.format('%.0f', order) .. ',"converted":' .. tostring(converted)
          .. ',"redeemed":' .. tostring(redeemed) .. ',"cost_cents":' .. string.format('%.0f', redeemed and cost or 0) .. '}'
        redis.call('XADD', audit, 'MAXLEN', '~', audit_maxlen, '*', 'o', o)
      end
    end
  end
  table.insert(out, word)
end
if #logged > 0 then
  redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 'events', table.concat(logged, '\n'))
end
return out
