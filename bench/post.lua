-- wrk script: POST a ~180-byte order callback with a unique payload hash per request, so every
-- request is a new event (a repeated hash would only measure the duplicate path).
local counter = tonumber(os.getenv("BENCH_OFFSET") or "0")
local secret = os.getenv("BENCH_SECRET") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Bcapp-Webhook-Secret"] = secret

request = function()
  counter = counter + 1
  local body = string.format(
    '{"created_at":1763800000,"store_id":"1025646","producer":"stores/bench","scope":"store/order/created","hash":"%040d","data":{"type":"order","id":%d}}',
    counter, counter)
  return wrk.format(nil, "/webhooks", nil, body)
end
