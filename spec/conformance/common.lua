-- Shared by the conformance runners: where the third-party suites are, JSON
-- Lines reading, file reading, and the figures recorded in the repository.
local cjson = require "cjson"

local M = {}

--- dir = common.root(): the conformance data (../shared/conformance beside the checkout,
-- or $CLIENTCERT_CONFORMANCE). Raises when it is absent: a missing suite fails, it is
-- never counted as passed.
function M.root()
  local dir = os.getenv("CLIENTCERT_CONFORMANCE") or "../shared/conformance"
  local f = io.open(dir .. "/openssl-verify/cases.jsonl", "rb")
  if not f then error("conformance data not found in " .. dir .. " (set CLIENTCERT_CONFORMANCE)") end
  f:close()
  return dir
end

--- s = common.read(path): the file's bytes, nil when it cannot be read (the specs' one reader).
M.read = require("helpers.live").read

--- list = common.jsonl(path): one decoded object per line.
function M.jsonl(path)
  local out = {}
  for line in assert(io.open(path, "rb")):lines() do
    if line:find("%S") then out[#out + 1] = cjson.decode(line) end
  end
  return out
end

function M.json(path) return cjson.decode(assert(M.read(path))) end

M.null = cjson.null

--- v = common.value(x): nil for JSON null.
function M.value(x)
  if x == cjson.null then return nil end
  return x
end

--- common.report(name, lines): prints figures as TAP comments (they show in CI logs).
function M.report(name, lines)
  for _, l in ipairs(lines) do io.stdout:write("# [", name, "] ", l, "\n") end
end

M.figures = require "conformance.figures"

return M
