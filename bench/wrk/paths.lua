-- wrk script: cycle through the request paths listed (one a line) in the file named by the
-- environment variable WRK_PATHS; at the end print one JSON line with the figures.
local paths = {}
local n = 0

init = function(args)
  for line in io.lines(os.getenv("WRK_PATHS")) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  n = math.random(#paths)
end

request = function()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "errors": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "bytes": %d}\n',
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.bytes))
end
