-- Attacks on the policy sandbox where the gate runs policies: LuaJIT inside
-- nginx's workers (the OpenResty example, 2 workers). The example's policy file
-- is rewritten with a hostile rule or top level, each worker reloads it, and the
-- gate must fail closed (500 internal_error, or the previous policy stays), at
-- once, with the same workers alive and their memory bounded. Runs once (under
-- lua5.4); nginx runs the LuaJIT build.
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"

describe("the gate in a real nginx under a hostile policy", function()
  local server, dir, pki, saved

  setup(function()
    server = live.openresty()
    dir, pki = server.dir, server.pki
    saved = live.read(dir .. "/policy.lua")
  end)
  teardown(function() live.discard(server) end)

  local function workers()
    local _, out = live.run("pgrep -P " .. server.pid)
    local pids = {}
    for pid in out:gmatch("%d+") do pids[#pids + 1] = pid end
    table.sort(pids)
    return table.concat(pids, " "), pids
  end

  -- the peak resident memory of the workers, KiB
  local function peak()
    local _, pids = workers()
    local most = 0
    for _, pid in ipairs(pids) do
      local kb = tonumber(((live.read("/proc/" .. pid .. "/status") or ""):match("VmHWM:%s*(%d+)")))
      if kb and kb > most then most = kb end
    end
    return most
  end

  -- Writes the policy file and waits until each handle of each worker reloaded
  -- it (or kept the previous policy): returns the log since.
  local function swap(text)
    local conf = live.read(dir .. "/conf/nginx.conf")
    local handles = select(2, conf:gsub("gate%.load_policy%(", ""))
      * (tonumber(conf:match("worker_processes%s+(%d+)")) or 1)
    local mark = live.log_size(server)
    live.write(dir .. "/policy.lua", text)
    local log = live.wait_for(function()
      local l = live.log_since(server, mark)
      local n = select(2, l:gsub("clientcert: reloaded", ""))
        + select(2, l:gsub("failed, the previous policy stays", ""))
      return n >= handles and l
    end, 15)
    return log or live.log_since(server, mark)
  end

  local function with_rule(rule)
    local i = assert(saved:find("  rule = function(info)", 1, true), "the example's rule moved")
    return saved:sub(1, i - 1) .. "  rule = " .. rule .. ",\n}\n"
  end

  local function alice()
    local t = os.time()
    local status, body = live.curl(server, "/", { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key" })
    return status, body, os.time() - t
  end

  local rules = {
    { "an endless loop", "function() while true do end end", "ran for more than 1000000 instructions" },
    { "a pattern that backtracks", [[function() return ("a"):rep(800):find(".-.-.-b") end]],
      "the pattern match would take more than" },
    { "one table.concat of gigabytes", [[function() local s = ("x"):rep(16 * 2^20) local t = {}
      for i = 1, 1000 do t[i] = s end return #table.concat(t) > 0 end]], "used more than 16 MiB of memory" },
    { "gsub callbacks nested without end", [[function() local function r(s) return (s:gsub(".", r)) end
      return r("x") end]], "nested too deeply through C functions" },
    { "an error value that is a table", "function() error({}) end", "an error value of type table" },
  }
  for _, r in ipairs(rules) do
    it("rejects as internal_error at once, workers alive, with a rule that runs " .. r[1], function()
      local before = workers()
      local log = swap(with_rule(r[2]))
      assert.truthy(log:find("clientcert: reloaded", 1, true), log)
      local mark = live.log_size(server)
      local status, body, took = alice()
      assert.equals(500, status, body)
      assert.is_true(took <= 5, took .. " s")
      local logged = live.wait_for(function()
        local l = live.log_since(server, mark)
        return l:find(r[3], 1, true) and l
      end, 5)
      assert.truthy(logged, "no rule_error naming " .. r[3])
      assert.equals(before, (workers()))
      assert.is_true(peak() < 512 * 1024, peak() .. " KiB")
    end)
  end

  local tops = {
    { "a pattern that backtracks", [[local x = ("a"):rep(2^20):find(".-b")]],
      "the pattern match would take more than" },
    { "one table.concat of gigabytes", [[local s = ("x"):rep(16 * 2^20) local t = {}
      for i = 1, 1000 do t[i] = s end local r = table.concat(t)]], "used more than 64 MiB of memory" },
    { "gsub callbacks nested without end", [[local function r(s) return (s:gsub(".", r)) end r("x")]],
      "nested too deeply through C functions" },
  }
  for _, t in ipairs(tops) do
    it("keeps the previous policy, workers alive, when the file's top level runs " .. t[1], function()
      swap(saved)
      local before = workers()
      local log = swap(t[2] .. "\n" .. saved)
      assert.truthy(log:find("failed, the previous policy stays", 1, true), log)
      assert.truthy(log:find(t[3], 1, true), log)
      assert.equals(200, (alice()))
      assert.equals(before, (workers()))
      assert.is_true(peak() < 1024 * 1024, peak() .. " KiB")
    end)
  end

  it("serves the example's policy again once it is back", function()
    swap(saved)
    assert.equals(200, (alice()))
    local status = live.curl(server, "/", { cert = pki .. "/bob-chain.pem", key = pki .. "/bob.key" })
    assert.equals(403, status)
  end)
end)
