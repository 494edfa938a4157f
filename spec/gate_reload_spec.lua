-- gate.load_policy / gate.reload / gate.watch outside nginx (a stand-in `ngx` that
-- records log lines and timers): a reload records the digests of the bytes it
-- loaded, so a file that changed or was finished during a load is loaded again at
-- the next check (issue 16 item 1); a truncated CRL bundle never loads as a
-- shorter one.
local core = require "clientcert.core"
local pki = require "helpers.pki"

local sh_quote = require("helpers.sh").quote
local write = require("helpers.live").write

-- A fresh stand-in for ngx and a fresh clientcert.nginx bound to it.
local function fake_gate()
  local logs, timers = {}, {}
  local ngx = {
    DEBUG = 8, INFO = 7, NOTICE = 6, WARN = 5, ERR = 4, CRIT = 3, ALERT = 2, EMERG = 1,
    shared = {}, var = {}, ctx = {}, clock = 1000,
  }
  function ngx.log(level, ...) logs[#logs + 1] = { level = level, line = table.concat({ ... }) } end
  function ngx.now() return ngx.clock end
  ngx.time = ngx.now
  ngx.timer = { every = function(interval, fn) timers[#timers + 1] = { interval = interval, fn = fn } return true end }
  local saved = rawget(_G, "ngx")
  _G.ngx = ngx
  package.loaded["clientcert.nginx"] = nil
  local gate = require "clientcert.nginx"
  package.loaded["clientcert.nginx"] = nil
  _G.ngx = saved
  return gate, ngx, logs, timers
end

describe("gate.reload", function()
  local dir, real_read_file

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. sh_quote(dir)))
    for _, f in ipairs({ "root.pem", "inter.pem" }) do write(dir .. "/" .. f, pki.read(f)) end
    -- no CRL of the issuing CA yet: under crl_missing = "allow", mallory is accepted
    write(dir .. "/crls.pem", pki.read("root.crl"))
    write(dir .. "/policy.lua", [[
      local d = params.dir
      return { mode = "require",
               trust = assert(clientcert.store{ roots = d .. "/root.pem", intermediates = d .. "/inter.pem",
                                                crls = d .. "/crls.pem" }),
               verify = { crl = "chain", crl_missing = "allow" } }
    ]])
    real_read_file = core.read_file
  end)

  after_each(function()
    core.read_file = real_read_file
    os.execute("rm -rf " .. sh_quote(dir))
  end)

  local function mallory(gate, h)
    return gate.current(h):check{ cert = pki.read("mallory.pem"), time = pki.T }
  end

  -- While armed, the next read of path by clientcert.store (during a policy load,
  -- not the gate's change check) returns `seen` and then leaves `final` on disk
  -- (the writer finishing its work).
  local function during_load(path, seen, final)
    core.read_file = function(p, limit, where)
      if p == path and where == "store" then
        core.read_file = real_read_file
        write(path, final)
        return seen
      end
      return real_read_file(p, limit, where)
    end
  end

  it("loads again a file that changed during the load", function()
    local gate = fake_gate()
    local h = assert(gate.load_policy(dir .. "/policy.lua", { dir = dir }))
    assert.is_true(mallory(gate, h).accepted)
    -- the reload reads the old CRL file; the new one (revoking mallory) lands right after
    write(dir .. "/policy.lua", real_read_file(dir .. "/policy.lua", 1e6) .. "\n-- touched\n")
    during_load(dir .. "/crls.pem", pki.read("root.crl"), pki.read("root.crl") .. pki.read("inter.crl"))
    assert.is_true(gate.reload(h))
    assert.is_true(mallory(gate, h).accepted)        -- what was read: no CRL of the issuing CA
    assert.is_true(gate.reload(h))                   -- the next check sees the CRL file changed
    local v = mallory(gate, h)
    assert.is_false(v.accepted)
    assert.equals("revoked", v.cause)
    assert.is_false(gate.reload(h))
  end)

  it("does not load a CRL bundle read half-written, and loads it once complete", function()
    local gate, _, logs = fake_gate()
    local h = assert(gate.load_policy(dir .. "/policy.lua", { dir = dir }))
    local full = pki.read("root.crl") .. pki.read("inter.crl")
    write(dir .. "/crls.pem", full:sub(1, #full - 200))
    during_load(dir .. "/crls.pem", full:sub(1, #full - 200), full)
    local ok, err = gate.reload(h)
    assert.is_nil(ok)
    assert.matches("truncated PEM block", err)
    assert.matches("failed, the previous policy stays", logs[#logs].line, 1, true)
    assert.is_true(mallory(gate, h).accepted)        -- the previous policy
    assert.is_true(gate.reload(h))                   -- complete now
    assert.equals("revoked", mallory(gate, h).cause)
  end)

  it("knows the files a policy read without any hook in clientcert", function()
    local gate = fake_gate()
    local h = assert(gate.load_policy(dir .. "/policy.lua", { dir = dir }))
    local paths = {}
    for i, f in ipairs(h.files) do paths[i] = f.path end
    assert.same({ dir .. "/policy.lua", dir .. "/root.pem", dir .. "/inter.pem", dir .. "/crls.pem" }, paths)
    assert.is_nil(rawget(require("clientcert"), "_reads"))
  end)

  -- How many times the policy file has been loaded (read by load_policy) since.
  local function count_loads()
    local n = { loads = 0 }
    core.read_file = function(p, limit, where)
      if where == "load_policy" then n.loads = n.loads + 1 end
      return real_read_file(p, limit, where)
    end
    return n
  end

  local function lines_with(logs, s)
    local n = 0
    for _, l in ipairs(logs) do if l.line:find(s, 1, true) then n = n + 1 end end
    return n
  end

  it("tries a failing policy again only when one of its files changes, and says so once", function()
    local gate, ngx, logs = fake_gate()
    local policy = dir .. "/policy.lua"
    local h = assert(gate.load_policy(policy, { dir = dir }))
    local good = real_read_file(policy, 1e6)
    write(policy, "return {mode = \"off\"\n")              -- a syntax error
    local n = count_loads()
    local ok, err = gate.reload(h)
    assert.is_nil(ok)
    assert.matches("^clientcert%.load_policy: ", err)
    assert.equals(1, n.loads)
    assert.equals(1, #logs)
    assert.equals(ngx.ERR, logs[1].level)
    assert.truthy(logs[1].line:find("failed, the previous policy stays (changed: " .. policy, 1, true), logs[1].line)
    for _ = 1, 5 do                                     -- every later check: nothing changed
      ngx.clock = ngx.clock + 5
      local changed, still = gate.reload(h)
      assert.is_false(changed)
      assert.equals(err, still)
    end
    assert.equals(1, n.loads)
    assert.equals(1, #logs)
    -- a file the failing attempt never read changes: still nothing to try
    write(dir .. "/crls.pem", pki.read("root.crl") .. pki.read("inter.crl"))
    assert.is_false(gate.reload(h))
    assert.equals(1, n.loads)
    -- five minutes on: one reminder, then quiet again
    ngx.clock = ngx.clock + 300
    assert.is_false(gate.reload(h))
    assert.is_false(gate.reload(h))
    assert.equals(2, #logs)
    assert.equals(ngx.ERR, logs[2].level)
    assert.truthy(logs[2].line:find("still fails to load", 1, true), logs[2].line)
    -- broken differently: tried (it changed) and logged again
    write(policy, "error('not yet')\n")
    assert.is_nil(gate.reload(h))
    assert.equals(2, n.loads)
    assert.equals(2, lines_with(logs, "failed, the previous policy stays"))
    assert.is_true(mallory(gate, h).accepted)           -- the first policy still decides
    write(policy, good)
    assert.is_true(gate.reload(h))
    assert.equals(3, n.loads)
    assert.equals(ngx.WARN, logs[#logs].level)
    assert.truthy(logs[#logs].line:find("clientcert: reloaded " .. policy .. " (generation 2, 4 files; changed: "
      .. policy .. ")", 1, true), logs[#logs].line)
    assert.equals("revoked", mallory(gate, h).cause)     -- with the CRL file changed meanwhile
    assert.is_false(gate.reload(h))
  end)

  it("logs a reload at the level given to watch, naming the files that changed", function()
    local gate, ngx, logs, timers = fake_gate()
    local h = assert(gate.load_policy(dir .. "/policy.lua", { dir = dir }))
    assert.is_true(gate.watch(h, { interval = 2, log_level = ngx.NOTICE, failure_log_interval = 0 }))
    assert.equals(1, #timers)
    assert.equals(2, timers[1].interval)
    timers[1].fn(false)
    assert.equals(0, #logs)
    write(dir .. "/crls.pem", pki.read("root.crl") .. pki.read("inter.crl"))
    timers[1].fn(false)
    assert.equals(1, #logs)
    assert.equals(ngx.NOTICE, logs[1].level)
    assert.truthy(logs[1].line:find("changed: " .. dir .. "/crls.pem)", 1, true), logs[1].line)
    -- failure_log_interval = 0: a failing policy is logged once, and never reminded
    write(dir .. "/crls.pem", "-----BEGIN X509 CRL-----\n")
    timers[1].fn(false)
    ngx.clock = ngx.clock + 100000
    timers[1].fn(false)
    assert.equals(2, #logs)
    assert.truthy(logs[2].line:find("truncated PEM block at byte 0", 1, true), logs[2].line)
    for _, bad in ipairs({ 0, -1, 0 / 0, math.huge, 86401 }) do
      assert.has_error(function() gate.watch(h, { interval = bad }) end,
        "clientcert.nginx.watch: interval must be a number of seconds > 0 and at most 86400")
    end
    assert.has_error(function() gate.watch(h, { log_level = 9 }) end)
    assert.has_error(function() gate.watch(h, { every = 3 }) end, "clientcert.nginx.watch: unknown option 'every'")
  end)

  it("checks the gate's options when the watch starts, and logs a wrong one at ERR", function()
    local gate, ngx, logs = fake_gate()
    ngx.shared.clientcert_chains = {}
    local h = assert(gate.load_policy(dir .. "/policy.lua", { dir = dir }))
    local ok, err
    assert.is_true(gate.check_options{ chain_dict = "clientcert_chains", var = "v", forward = "xfcc" })
    ok, err = gate.check_options{ metrics = "clientcert_metrics" }
    assert.is_nil(ok)
    assert.matches("option metrics: no lua_shared_dict named 'clientcert_metrics'", err, 1, true)
    ok, err = gate.watch(h, { options = { chain_dict = "clientcert_chain" } })
    assert.is_nil(ok)
    assert.equals("clientcert.nginx.check_options: option chain_dict: no lua_shared_dict named 'clientcert_chain' "
      .. "(declare it with lua_shared_dict in the http block)", err)
    assert.equals(ngx.ERR, logs[#logs].level)
    assert.equals("clientcert: " .. err, logs[#logs].line)
    ok, err = gate.check_options{ chain_ttl = "1d" }
    assert.is_nil(ok)
    assert.equals("clientcert.nginx.check_options: option 'chain_ttl' must be a number", err)
    ok, err = gate.check_options{ chain_dictionary = "x" }
    assert.is_nil(ok)
    assert.equals("clientcert.nginx.check_options: unknown option 'chain_dictionary'", err)
    assert.equals(4, #logs)
  end)
end)
