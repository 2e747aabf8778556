-- Record first exposures of one shop's visitors to its experiments, a batch at once.
--
-- One call instead of one HSETNX per (visitor, experiment): a page view under ten
-- experiments would otherwise cost the service ten commands to pack and ten replies
-- to parse. HSETNX keeps the first exposure, the one that counts.
--
-- KEYS: the exposure hashes the batch touches (one per experiment phase).
-- ARGV: triples of key index (1-based), visitor id, encoded exposure.
-- Returns how many exposures were new.
local added = 0
for i = 1, #ARGV, 3 do
    added = added + redis.call('HSETNX', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
end
return added
