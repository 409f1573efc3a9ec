-- wrk script: POST a ~180-byte order callback with a unique payload hash per request, so every
-- request is a new event (a repeated hash would only measure the duplicate path).
--
-- The hash looks like BigCommerce's (40 hex digits of a SHA-1, differing from the first digit
-- on): the counter scrambled by odd multipliers, one-to-one for the first 2^32 requests. A
-- zero-padded counter instead shares its first 30-odd characters with every other, which
-- made each key comparison in the stores' de-duplication indexes longer than real ones.
local counter = tonumber(os.getenv("BENCH_OFFSET") or "0")
local secret = os.getenv("BENCH_SECRET") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Bcapp-Webhook-Secret"] = secret

-- (n * multiplier) mod 2^32 in halves: Lua's numbers are doubles, exact only below 2^53.
local function word(n, multiplier)
  local low = multiplier % 65536
  local high = (multiplier - low) / 65536
  return string.format("%08x", ((n * high) % 65536 * 65536 + n * low) % 4294967296)
end

local function sha1_like(n)
  return word(n, 2654435761) .. word(n, 2246822519) .. word(n, 3266489917)
    .. word(n, 668265263) .. word(n, 374761393)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"created_at":1763800000,"store_id":"1025646","producer":"stores/bench","scope":"store/order/created","hash":"%s","data":{"type":"order","id":%d}}',
    sha1_like(counter), counter)
  return wrk.format(nil, "/webhooks", nil, body)
end
