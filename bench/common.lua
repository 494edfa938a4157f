-- Shared by the bench scripts, which run from the checkout (require "bench.common").
local M = {}

--- read = common.reader(dir): read(name) returns the bytes of the file dir/name
-- (raises when it cannot be read).
function M.reader(dir)
  return function(name)
    local f = assert(io.open(dir .. "/" .. name, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end
end

return M
