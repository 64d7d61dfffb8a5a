-- bearer.lua: GET <path> with a valid bearer token on each request (tokens one per line in the
-- file given after --, then the path), taken in turn from a random start.
local tokens = {}
local next_token = 1
local path = "/"

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  path = args[2]
  math.randomseed(os.time() + #tostring({}))
  next_token = math.random(#tokens)
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f\n", summary.requests, summary.errors.status + summary.errors.connect
                           + summary.errors.read + summary.errors.write + summary.errors.timeout,
                         latency:percentile(50), latency:percentile(99)))
end
