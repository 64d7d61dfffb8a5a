-- sessions_current.lua: GET /api/v1/sessions/current, each request with a valid access token
-- (one per line in the file given after --), taken in turn from a random start.
local tokens = {}
local next_token = 1

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  math.randomseed(os.time() + #tostring({}))
  next_token = math.random(#tokens)
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/api/v1/sessions/current", { ["Authorization"] = "Bearer " .. token })
end
