-- cli_poll.lua: POST /api/v1/auth/cli/poll with the polling codes of waiting login attempts
-- (one per line in the file given after --), taken in turn from a random start.
local codes = {}
local next_code = 1

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then codes[#codes + 1] = line end
  end
  math.randomseed(os.time() + #tostring({}))
  next_code = math.random(#codes)
end

function request()
  local code = codes[next_code]
  next_code = next_code % #codes + 1
  return wrk.format("POST", "/api/v1/auth/cli/poll", { ["Content-Type"] = "application/json" },
    '{"polling_code":"' .. code .. '"}')
end
