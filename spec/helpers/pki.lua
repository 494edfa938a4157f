-- Test PKI for the specs: runs spec/fixtures/mkpki.sh once per process into a
-- fresh temporary directory and gives paths, file contents and the check times.
local M = {}

M.T = 1906502400            -- 2030-06-01T00:00:00Z: every fixture is in date then
M.T_2024 = 1704067200       -- 2024-01-01: before "old" expired, CRLs not yet issued
M.T_2036 = 2082758400       -- 2036-01-01: after "old" expired and after "future" started

local sh_quote = require("helpers.sh").quote

-- A fresh PKI directory for this spec file. With CLIENTCERT_TEST_PKI=DIR (spec/run,
-- make asan/valgrind: a new DIR per run) the PKI is made once, into DIR, by the first
-- spec file that needs it (busted loads this helper again for each file), and each
-- file gets its own copy (specs write into theirs); without it, it is made here.
local function build()
  local dir = os.tmpname()
  os.remove(dir)
  local log = dir .. ".log"
  local cache = os.getenv("CLIENTCERT_TEST_PKI")
  -- without any sanitizer runtime preloaded for the specs (make asan): it is for our module only
  local cmd = ("env -u LD_PRELOAD bash spec/fixtures/mkpki.sh %s > %s 2>&1"):format(sh_quote(dir), sh_quote(log))
  if cache and cache ~= "" then
    cmd = ("{ [ -f %s/.complete ] || { env -u LD_PRELOAD bash spec/fixtures/mkpki.sh %s && touch %s/.complete; }; }"
      .. " > %s 2>&1 && cp -R %s %s && rm %s/.complete"):format(sh_quote(cache), sh_quote(cache), sh_quote(cache),
      sh_quote(log), sh_quote(cache), sh_quote(dir), sh_quote(dir))
  end
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then
    local f = io.open(log, "rb")
    local text = f and f:read("*a") or "(no log)"
    if f then f:close() end
    error("spec/fixtures/mkpki.sh failed:\n" .. text)
  end
  os.remove(log)
  return dir
end

M.dir = build()

--- path = pki.path(name): a fixture file's path ("alice.pem", "inter.crl", ...).
function M.path(name) return M.dir .. "/" .. name end

--- data = pki.read(name): a fixture file's bytes.
function M.read(name)
  local f = assert(io.open(M.path(name), "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

return M
