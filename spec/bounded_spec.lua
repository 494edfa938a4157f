-- Bounded code (policy files and rules, sandbox.run_bounded): nesting through C
-- functions that call back into Lua (which crashed LuaJIT with SIGSEGV), yields,
-- runs inside runs, the memory budget without full collections, and instruction
-- counts that a Lua hook could lose on Lua 5.4. Cases that could crash or hang
-- the interpreter run in a child process, so that a crash is a failure, not a
-- dead busted.
local clientcert = require "clientcert"
local sandbox = require "clientcert.sandbox"
local pki = require "helpers.pki"


local n = 0
local function write(text)
  n = n + 1
  local path = ("%s/bounded-%d.lua"):format(pki.dir, n)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- code, output = child(src): src run by this interpreter in a child process with
-- the checkout's modules; code 139 (128 + SIGSEGV) is a crash, 124 a hang.
local function child(src)
  return require("helpers.cli").child(src, { seconds = 120 })
end

-- The child's prelude: a trusting store and a check helper.
local PRELUDE = ([[
local clientcert = require "clientcert"
local store = assert(clientcert.store{ roots = %q, intermediates = %q })
local bob = assert(io.open(%q, "rb")):read("*a")
local function check(rule) return clientcert.policy{ trust = store, rule = rule }:check{ cert = bob, time = %d } end
local function file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb")) f:write(text) f:close()
  local p, err = clientcert.load_policy(path, { roots = %q })
  os.remove(path)
  return p, err
end
]]):format(pki.path("root.pem"), pki.path("inter.pem"), pki.path("bob.pem"), pki.T, pki.path("root.pem"))

local NESTED = "nested too deeply through C functions"

describe("bounded code nesting through C functions", function()
  -- each recursion below overflows LuaJIT's C stack (SIGSEGV) without the bound
  local file_cases = {
    { "string.gsub with a function, from the sandbox's string", [[
      local function r(s) return (string.gsub(s, ".", r)) end
      r("x")]] },
    { "string.gsub through the string metatable", [[
      local function r(s) return (s:gsub(".", r)) end
      r("x")]] },
    { "string.gsub, the error caught with pcall at each level", [[
      local function r(s) pcall(function() s:gsub(".", r) end) return s end
      r("x")]] },
  }
  for _, case in ipairs(file_cases) do
    it("stops a policy file recursing through " .. case[1] .. ": nil, err", function()
      local code, out = child(PRELUDE .. ("local p, err = file(%q)\nprint(p, err)"):format(case[2]
        .. "\nreturn { mode = 'off' }"))
      assert.equals(0, code, out)
      assert.matches("^nil\tclientcert.load_policy: .-: " .. NESTED, out)
      assert.matches("more than 256 KiB of C stack", out, 1, true)
    end)
  end

  local rule_cases = {
    { "string.gsub with a function", [[function() local function r(s) return (s:gsub(".", r)) end r("x") end]] },
    { "string.gsub with a table whose __index recurses", [[function()
        local t = setmetatable({}, { __index = function(t) return (("x"):gsub(".", t)) end })
        return (("x"):gsub(".", t)) end]] },
    { "coroutine.wrap", [[function() local function f() coroutine.wrap(f)() end f() end]] },
    { "table.sort's comparator", [[function()
        local function c(a, b) table.sort({ 3, 2, 1 }, c) return a < b end
        table.sort({ 3, 2, 1 }, c) end]] },
    { "__tostring", [[function()
        local mt = {}
        mt.__tostring = function() return tostring(setmetatable({}, mt)) end
        return tostring(setmetatable({}, mt)) end]] },
  }
  for _, case in ipairs(rule_cases) do
    it("rejects as internal_error a host rule recursing through " .. case[1] .. "; later checks pass", function()
      local code, out = child(PRELUDE .. ([[
        local v = check(%s)
        print(v.cause, v.accepted, v.rule_error)
        print(check(function() return true end).cause, debug.gethook() == nil)]]):format(case[2]))
      assert.equals(0, code, out)
      local cause, accepted, err, later = out:match("^(%S+)\t(%S+)\t(.-)\n(%S+)\ttrue\n$")
      assert.equals("internal_error", cause, out)
      assert.equals("false", accepted)
      -- Lua 5.4 may stop some of these first with its own limit, LuaJIT with the memory cap (a coroutine
      -- per level): still a fail-closed error
      assert.is_truthy(err:find(NESTED, 1, true) or err:find("stack overflow", 1, true)
                       or err:find("ran for more than", 1, true) or err:find("used more than 16 MiB", 1, true), err)
      assert.equals("ok", later)
    end)
  end

  it("lets a rule nest a few levels, and leaves the host's string library as it was", function()
    local gsub, mt_gsub = string.gsub, getmetatable("").__index.gsub
    local p = clientcert.policy{ trust = assert(clientcert.store{ roots = pki.path("root.pem"),
                                                                 intermediates = pki.path("inter.pem") }),
      rule = function()
        local deepest = 0
        local function level(k) -- a replacement function that nests k levels of gsub
          return function(c)
            if k > deepest then deepest = k end
            if k < 8 then ("ab"):gsub(".", level(k + 1)) end
            return c
          end
        end
        ("x"):gsub(".", level(1))
        local sorted = { 3, 1, 2 }
        table.sort(sorted, function(a, b) return tostring(a) < tostring(b) end)
        return deepest == 8 and sorted[1] == 1
      end }
    assert.equals("ok", p:check{ cert = pki.read("bob.pem"), time = pki.T }.cause)
    assert.equals(gsub, string.gsub)
    assert.equals(mt_gsub, getmetatable("").__index.gsub)
    -- outside bounded code deep nesting is the host's business: nothing limits it here
    local deepest = 0
    local function level(k)
      return function(c)
        if k > deepest then deepest = k end
        if k < 60 then ("x"):gsub(".", level(k + 1)) end
        return c
      end
    end
    ("x"):gsub(".", level(1))
    assert.equals(60, deepest)
  end)
end)

describe("bounded code that yields", function()
  local function trust()
    return assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
  end

  it("is refused: internal_error, the budget hook removed, the caller's coroutine not suspended", function()
    local p = clientcert.policy{ trust = trust(), rule = function() coroutine.yield("from the rule") return true end }
    local co = coroutine.create(function() return p:check{ cert = pki.read("bob.pem"), time = pki.T } end)
    local ok, v = coroutine.resume(co)
    assert.is_true(ok)
    assert.equals("dead", coroutine.status(co))
    assert.is_table(v)
    assert.equals("internal_error", v.cause)
    assert.matches("policy code cannot yield", v.rule_error, 1, true)
    assert.is_nil(debug.gethook())
  end)

  it("may yield inside a coroutine of its own", function()
    local p = clientcert.policy{ trust = trust(), rule = function()
      local co = coroutine.wrap(function() coroutine.yield(1) return 2 end)
      return co() + co() == 3
    end }
    assert.equals("ok", p:check{ cert = pki.read("bob.pem"), time = pki.T }.cause)
  end)
end)

describe("a run inside a run", function()
  it("shares the outer budget: a rule cannot buy fresh budgets by calling another policy's check", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local looping = clientcert.policy{ trust = store, rule = function() while true do end end }
    local calls = 0
    local outer = clientcert.policy{ trust = store, rule = function()
      for _ = 1, 5 do
        calls = calls + 1
        looping:check{ cert = pki.read("bob.pem"), time = pki.T }
      end
      return true
    end }
    local v = outer:check{ cert = pki.read("bob.pem"), time = pki.T }
    assert.equals("internal_error", v.cause)
    assert.matches("ran for more than 1000000 instructions", v.rule_error, 1, true)
    assert.equals(1, calls)
    assert.is_nil(debug.gethook())
  end)
end)

describe("the instruction budget on every loop shape", function()
  -- a Lua hook's own instructions count on Lua 5.4: a loop whose length matched
  -- the hook's lost every count event and never ended
  it("stops tail-call loops of any length", function()
    local srcs = {}
    for k = 0, 16 do
      srcs[#srcs + 1] = ("local x = 0 local function f() %s return f() end f()"):format(("x = x + 1 "):rep(k))
    end
    local code, out = child(PRELUDE .. ([[
      for _, src in ipairs(%s) do
        local p, err = file(src)
        print(p == nil and err:match("ran for more than 10000000 instructions") and "stopped" or tostring(err))
      end]]):format("{" .. table.concat((function()
        local t = {}
        for i, s in ipairs(srcs) do t[i] = ("%q"):format(s) end
        return t
      end)(), ", ") .. "}"))
    assert.equals(0, code, out)
    assert.equals(("stopped\n"):rep(#srcs), out)
  end)
end)

describe("the memory budget", function()
  it("runs no full collection on the request path, and lets a rule make garbage", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local p = clientcert.policy{ trust = store, rule = function()
      local last
      for i = 1, 4000 do last = ("g"):rep(16384) .. i end -- 64 MiB of garbage, 16 KiB live
      return #last > 0
    end }
    -- a heap with much live data: the collector starts its next cycle late, so
    -- the rule's garbage piles up past the budget before the collector runs
    local live = {}
    for i = 1, 4000 do live[i] = ("l"):rep(16384) .. i end
    collectgarbage("collect")
    local real, full = collectgarbage, 0
    _G.collectgarbage = function(opt, ...)
      if opt == nil or opt == "collect" then full = full + 1 end
      return real(opt, ...)
    end
    local ok, v = pcall(p.check, p, { cert = pki.read("bob.pem"), time = pki.T })
    _G.collectgarbage = real
    assert.is_true(ok, v)
    assert.equals("ok", v.cause, v.rule_error)
    assert.equals(0, full)
    assert.equals(4000, #live)
    live = nil -- luacheck: ignore 311
    collectgarbage("collect")
  end)

  -- a few instructions that make much garbage: no count event, only the
  -- allocator's hard cap sees it; Lua 5.4 collects in full when an allocation
  -- is refused and tries it again, and the run was stopped even when that
  -- second try went through ("used more than 16 MiB ... grown the heap past 64
  -- MiB" for a rule that never held more than 6 MiB)
  it("lets a rule make garbage past the hard cap in a few instructions when a collection makes room", function()
    local code, out = child(PRELUDE .. [[
      local live = {}
      for i = 1, 150 do live[i] = ("l"):rep(2^20) .. i end -- the collector's next cycle starts late
      collectgarbage("collect")
      for _, n in ipairs{ 10, 60 } do
        local v = check(function()
          local big = ("x"):rep(2 * 2^20)
          for i = 1, n do local s = big .. i end -- luacheck: ignore 211
          return true
        end)
        print(n, v.cause, v.rule_error)
      end
      print(#live)]])
    assert.equals(0, code, out)
    if jit then -- no collection when an allocation fails: the garbage counts
      assert.matches("^10\tok\tnil\n60\t%S+\t[^\n]*\n150\n$", out)
      assert.is_truthy(out:find("60\tok\tnil\n", 1, true) or out:find("past 64 MiB", 1, true), out)
    else
      assert.equals("10\tok\tnil\n60\tok\tnil\n150\n", out)
    end
  end)

  it("still stops a rule that keeps what it allocates", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local p = clientcert.policy{ trust = store, rule = function()
      local t = {}
      for i = 1, 1e9 do t[i] = ("k"):rep(1024) .. i end
      return #t > 0
    end }
    local v = p:check{ cert = pki.read("bob.pem"), time = pki.T }
    assert.equals("internal_error", v.cause)
    assert.matches("used more than 16 MiB of memory", v.rule_error, 1, true)
    collectgarbage("collect")
  end)
end)

describe("sandbox.run_bounded", function()
  it("returns false, err past a budget and restores the host's hook", function()
    local calls = 0
    debug.sethook(function() calls = calls + 1 end, "", 1000000)
    local hook = debug.gethook()
    local loop = function() while true do end end
    if jit then jit.off(loop) end -- as policy files and rules are: compiled code runs no hooks
    local ok, err = sandbox.run_bounded(1000, 1024 * 1024, loop)
    assert.is_false(ok)
    assert.matches("ran for more than 1000 instructions", err, 1, true)
    assert.equals(hook, debug.gethook())
    debug.sethook()
  end)
end)

describe("a policy file's clientcert facade", function()
  it("offers no network and nothing but the listed names", function()
    local p, err = clientcert.load_policy(write([[
      assert(clientcert.probe == nil, "probe")
      assert(clientcert.load_policy == nil, "load_policy")
      local names = {}
      for k in pairs(clientcert) do names[#names + 1] = k end
      table.sort(names)
      return { mode = "off", name = table.concat(names, " ") }]]))
    assert.is_table(p, err)
    assert.equals("MAX_FILE audit_store is_store load load_all load_crl openssl_version parse parse_all "
      .. "parse_crl parse_crls parse_pkcs12 policy store typeof verdict_json version", p.name)
    -- the host's clientcert keeps probe
    assert.is_function(clientcert.probe)
  end)

  it("does not hand the file the list of files a reload watches", function()
    clientcert._reads = {}
    local p, err = clientcert.load_policy(write([[
      assert(clientcert._reads == nil, "_reads")
      return { mode = "off" }]]))
    local reads = clientcert._reads
    clientcert._reads = nil
    assert.is_table(p, err)
    assert.same({}, reads)
  end)
end)

describe("a policy file's revocation option", function()
  -- a fetch function of the file's would run at check time outside any budget
  it("cannot carry a fetch function of the file's", function()
    local _, err = clientcert.load_policy(write([[
      return { mode = "require", trust = clientcert.store{ roots = params.root },
               revocation = { fetch = function() while true do end end } }]]), { root = pki.path("root.pem") })
    assert.matches("revocation.fetch cannot be set in a policy file", err, 1, true)
    _, err = clientcert.load_policy(write([[
      return clientcert.policy{ trust = clientcert.store{ roots = params.root },
                                revocation = { fetch = function() while true do end end } }]]),
      { root = pki.path("root.pem") })
    assert.matches("revocation.fetch cannot be set in a policy file", err, 1, true)
  end)

  it("may still ask for revocation with the host's transport", function()
    local p, err = clientcert.load_policy(write([[
      return { trust = clientcert.store{ roots = params.root }, revocation = { sources = { "ocsp" } } }]]),
      { root = pki.path("root.pem") })
    assert.is_table(p, err)
  end)
end)
