-- wrk script for the purchasegraph benchmark: POSTs bodies from a file (one JSON body per line,
-- taken round-robin per thread), counts non-2xx answers and answers that carry GraphQL errors,
-- and prints one JSON line with throughput, latency percentiles and those error counts.
-- Usage: wrk -t2 -c32 -d10s -s bench/load.lua URL -- BODIES_FILE [AUTHORIZATION]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(bodies, line) end
  end
  authorization = args[2]
  index = 0
  non_2xx = 0
  graphql_errors = 0
  first_error = ""
end

function request()
  index = index % #bodies + 1
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
  if authorization and #authorization > 0 then headers["Authorization"] = authorization end
  return wrk.format("POST", nil, headers, bodies[index])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if first_error == "" then first_error = status .. " " .. string.sub(body, 1, 300) end
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
    if first_error == "" then first_error = string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad, errors, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non_2xx")
    errors = errors + thread:get("graphql_errors")
    local e = thread:get("first_error")
    if sample == "" and e and #e > 0 then sample = e end
  end
  sample = string.gsub(sample, '\\', '\\\\')
  sample = string.gsub(sample, '"', '\\"')
  sample = string.gsub(sample, '[%c]', ' ')
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "non_2xx": %d, ' ..
    '"graphql_errors": %d, "socket_errors": %d, "first_error": "%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), bad, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, sample))
end
