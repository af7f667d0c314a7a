-- wrk script: POSTs the JSON body in the file $BENCH_BODY and prints one machine-readable line.
local path = os.getenv("BENCH_BODY")
local file = assert(io.open(path, "rb"), "cannot open BENCH_BODY " .. tostring(path))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- BENCH_CACHE=off sends Cache-Control: no-store, so the proxy path is measured, not the cache.
-- BENCH_AUTH sets the Authorization header (a virtual key).
if (os.getenv("BENCH_AUTH") or "") ~= "" then
  wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
end
if os.getenv("BENCH_CACHE") == "off" then
  wrk.headers["Cache-Control"] = "no-store"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
