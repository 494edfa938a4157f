-- Attacks on the policy sandbox and its budgets, as a careless or hostile
-- policy author would try them: each must reject (internal_error at check time,
-- nil, err at load time) and leave the process, the host and other policies as
-- they were. Cases that could hang, crash or exhaust the machine run in a child
-- process with a time limit and an address-space limit, so that a hang or a
-- crash is a failure, not a dead busted (or a dead machine).
local pki = require "helpers.pki"

local cli = require "helpers.cli"

-- code, output = child(src[, seconds]): src run by this interpreter in a child
-- process with the checkout's modules, at most `seconds` (60) of time and 4 GiB
-- of address space (no limit under ASan, whose shadow memory reserves terabytes);
-- code 124 is a hang, 139 (128 + SIGSEGV) and 134 (SIGABRT) a crash.
local function child(src, seconds)
  return cli.child(src, { seconds = seconds, vlimit_kb = 4 * 1024 * 1024 })
end

-- The child's prelude: a trusting store, a check helper for host rules, a
-- loader for policy files, and a check that the host is intact afterwards.
local PRELUDE = ([[
local clientcert = require "clientcert"
local store = assert(clientcert.store{ roots = %q, intermediates = %q })
local bob = assert(io.open(%q, "rb")):read("*a")
local T = %d
local function check(rule) return clientcert.policy{ trust = store, rule = rule }:check{ cert = bob, time = T } end
local function file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb")) f:write(text) f:close()
  local p, err = clientcert.load_policy(path, { roots = %q, inter = %q })
  os.remove(path)
  return p, err
end
local function intact()
  return check(function() return true end).cause == "ok" and debug.gethook() == nil
    and string.gsub == getmetatable("").__index.gsub
end
]]):format(pki.path("root.pem"), pki.path("inter.pem"), pki.path("bob.pem"), pki.T, pki.path("root.pem"),
  pki.path("inter.pem"))

describe("a rule's reason", function()
  it("is turned into text inside the rule's budget: a __tostring that loops rejects as internal_error", function()
    local code, out = child(PRELUDE .. [[
      local v = check(function() return false, setmetatable({}, { __tostring = function() while true do end end }) end)
      print(v.cause, v.accepted, v.rule_error)
      print(intact())]], 30)
    assert.equals(0, code, out)
    assert.matches("^internal_error\tfalse\t[^\n]*ran for more than 1000000 instructions[^\n]*\ntrue\n$", out)
  end)

  it("keeps a reason's text as its __tostring gives it", function()
    local code, out = child(PRELUDE .. [[
      local v = check(function() return false, setmetatable({}, { __tostring = function() return "not today" end }) end)
      print(v.cause, v.rule_reason, type(v.rule_reason))
      print(intact())]], 30)
    assert.equals(0, code, out)
    assert.equals("denied_by_rule\tnot today\tstring\ntrue\n", out)
  end)

  it("must be text: a __tostring that gives a table rejects as internal_error on both runtimes", function()
    local code, out = child(PRELUDE .. [[
      local v = check(function() return false, setmetatable({}, { __tostring = function() return {} end }) end)
      print(v.cause, v.accepted, type(v.rule_reason))
      print(intact())]], 30)
    assert.equals(0, code, out)
    assert.equals("internal_error\tfalse\tnil\ntrue\n", out)
  end)
end)

-- the peak resident memory of the child (VmHWM, KiB), printed last
local PEAK = [[
local f = io.open("/proc/self/status") local st = f:read("*a") f:close()
print("peak", st:match("VmHWM:%s*(%d+)"))]]

describe("one operation that allocates much", function()
  -- each is one C call or one instruction: the hook's memory check, every 1,000
  -- instructions, came too late, and the process grew by gigabytes (Lua 5.4
  -- filled the machine's memory; both runtimes took minutes)
  local ops = {
    { "table.concat of a long list of 16 MiB strings", [[local s = ("x"):rep(16 * 2^20)
      local t = {} for i = 1, 1000 do t[i] = s end local r = table.concat(t)]] },
    { "string.gsub with a long replacement string", [[local s = ("x"):rep(2^20) local r = s:gsub(".", s)]] },
    { "string.format of many long strings", [[local s = ("x"):rep(16 * 2^20)
      local r = ("%s"):rep(100):format(]] .. ("s, "):rep(99) .. [[s)]] },
    { "a concatenation of 150 long strings in one instruction", [[local s = ("x"):rep(16 * 2^20)
      local r = ]] .. ("s .. "):rep(149) .. "s" },
  }
  for i, op in ipairs(ops) do
    it("is refused at a hard cap in a policy file: " .. op[1], function()
      local code, out = child(PRELUDE .. ("local p, err = file(%q)\nprint(p, err)\nprint(intact())\n"):format(
        op[2] .. "\nreturn { mode = 'off' }") .. PEAK, 60)
      assert.equals(0, code, out)
      local err, peak = out:match("^nil\t([^\n]*)\ntrue\npeak\t(%d+)\n$")
      assert.is_string(err, out)
      -- LuaJIT refuses a string over 2 GiB before it allocates it
      assert.is_truthy(err:find("used more than 64 MiB of memory (one operation would have grown the heap past "
        .. "256 MiB)", 1, true) or jit and err:find("string length overflow", 1, true), err)
      assert.is_true(tonumber(peak) < 1024 * 1024, peak .. " KiB")
    end)

    it("is refused at a hard cap in a rule, also when the rule catches the error: " .. op[1], function()
      local code, out = child(PRELUDE .. ([[
        local v = check(function() pcall(function() %s end) return true end)
        print(v.cause, v.accepted, v.rule_error)
        print(intact())]]):format(op[2]) .. PEAK, 60)
      assert.equals(0, code, out)
      local cause, err, peak = out:match("^(%S+)\t%S+\t([^\n]*)\ntrue\npeak\t(%d+)\n$")
      assert.is_string(cause, out)
      if jit and i == #ops then -- LuaJIT refused the string before allocating it: the rule caught a plain error
        assert.equals("ok", cause, out)
      else
        assert.equals("internal_error", cause, out)
        assert.matches("^used more than 16 MiB of memory", err)
      end
      assert.is_true(tonumber(peak) < 1024 * 1024, peak .. " KiB")
    end)
  end
end)

describe("a pattern match that backtracks", function()
  -- one string.find call runs in C, unseen by the instruction count: ".-.-.-b"
  -- on 800 bytes took 3 minutes, ".-b" on 16 MiB would take days
  local calls = {
    { "string.find from the sandbox's string", [[string.find(("a"):rep(800), ".-.-.-b")]] },
    { "find through the string metatable", [[("a"):rep(800):find(".-.-.-b")]] },
    { "match through the string metatable", [[("a"):rep(800):match("(.-)(.-)(.-)b")]] },
    { "gmatch", [[for _ in ("a"):rep(800):gmatch(".-.-.-b") do end]] },
    { "gsub", [[("a"):rep(800):gsub(".-.-.-b", "")]] },
    { "find on a long subject with an init (Lua 5.4 reads it)", [[("a"):rep(16 * 2^20):find(".-b", 2)]] },
    { "find with a back reference to a position capture (which never matches)",
      [[("a"):rep(800):find(".-.-.-()%1")]] },
    { "find with %z repetitions on NUL bytes", [[("\0"):rep(800):find("%z*%z*%z*y")]] },
  }
  for _, c in ipairs(calls) do
    it("is refused before it runs, in a policy file: " .. c[1], function()
      local code, out = child(PRELUDE .. ("local p, err = file(%q)\nprint(p, err)\nprint(intact())"):format(
        "local x = " .. (c[2]:find("^for") and "nil " .. c[2] or c[2]) .. "\nreturn { mode = 'off' }"), 60)
      assert.equals(0, code, out)
      assert.matches("^nil\tclientcert.load_policy: [^\n]*the pattern match would take more than %d+ steps"
        .. "[^\n]*\ntrue\n$", out)
    end)

    it("is refused before it runs, in a rule (internal_error), also when the rule catches it: " .. c[1], function()
      local code, out = child(PRELUDE .. ([[
        local v = check(function() pcall(function() %s end) return true end)
        print(v.cause, v.accepted, v.rule_error)
        print(intact())]]):format(c[2]), 60)
      assert.equals(0, code, out)
      assert.matches("^internal_error\tfalse\tstring%.%a+: the pattern match would take more than %d+ steps[^\n]*\n"
        .. "true\n$", out)
    end)
  end

  -- the hook costs the call from its arguments before the function reads them:
  -- an init of NaN (0/0) became a wild subject pointer there, and "%f[a]" read
  -- the byte before it (SIGSEGV on Lua 5.4, whose hook reads init)
  it("with an init that is not a whole number raises as outside, and nothing crashes", function()
    local code, out = child(PRELUDE .. [[
      local v = check(function()
        local t = {}
        for _, f in ipairs{ string.find, string.match, string.gmatch } do
          for _, init in ipairs{ 0/0, 1/0, -1/0, 2.5, -2^63, 2^63 } do
            local ok = pcall(f, "abc", "%f[a]", init)
            local ok2 = pcall(f, ("x"):rep(100), "()%f[%w]", init)
            t[#t + 1] = tostring(ok and ok2)
          end
        end
        return true, table.concat(t, " ")
      end)
      print(v.cause, v.rule_error)
      print(intact())]], 60)
    assert.equals(0, code, out)
    assert.equals("ok\tnil\ntrue\n", out)
  end)

  it("still runs the patterns of ordinary policy code, however many", function()
    local code, out = child(PRELUDE .. [[
      local v = check(function(info)
        local n = 0
        for _ = 1, 2000 do
          if info.subject:find("^CN=([^,]+)") and info.subject:match("O=(.-)$") then n = n + 1 end
          n = n + select(2, info.subject:gsub("%w", "%0"))
          for _ in info.subject:gmatch("[^,]+") do n = n + 1 end
          if string.find(info.subject, ".", 1, true) then n = n + 1 end
        end
        return n > 0
      end)
      print(v.cause, v.rule_error)]], 60)
    assert.equals(0, code, out)
    assert.equals("ok\tnil\n", out)
  end)

  it("in an allow list's *_pattern matcher matches nothing, with the reason, instead of running for hours", function()
    local code, out = child(PRELUDE .. ([[
      local p = clientcert.policy{ trust = store, allow = { { subject_pattern = %q } } }
      local v = p:check{ cert = bob, time = T }
      print(v.cause, v.rule_reason)
      print(clientcert.policy{ trust = store, allow = { { subject_pattern = "^CN=bob," } } }:check{ cert = bob,
        time = T }.cause)]]):format("^" .. (".-"):rep(14) .. "x$"), 60)
    assert.equals(0, code, out)
    assert.equals("denied_by_rule\tno entry of the allow list matches this certificate (the subject_pattern "
      .. "matcher's pattern would take more than 1000000 steps on this certificate's value, so it matches "
      .. "nothing)\nok\n", out)
  end)
end)

describe("a huge allow list", function()
  -- each check went through every matcher, outside any budget: 100,000 pinned
  -- fingerprints (which a policy file makes within its budget) cost about 0.45 s
  -- of CPU per request
  it("admits and refuses in time independent of its exact single-key matchers, as a list would", function()
    local code, out = child(PRELUDE .. [[
      local info = clientcert.parse(bob):info()
      local p, err = file(([=[
        local allow = {}
        for i = 1, 100000 do allow[i] = { fingerprint = ("%%064x"):format(i) } end
        allow[#allow + 1] = { serial = "00" .. %q }
        for i = 1, 20000 do allow[#allow + 1] = { san_email = "user" .. i .. "@example.com" } end
        return { trust = clientcert.store{ roots = params.roots, intermediates = params.inter }, allow = allow }
      ]=]):format(info.serial))
      assert(p, err)
      local t = os.clock()
      for _ = 1, 20 do assert(p:check{ cert = bob, time = T }.cause == "ok") end
      local alice = assert(io.open(]] .. ("%q"):format(pki.path("alice.pem")) .. [[, "rb")):read("*a")
      local v = p:check{ cert = alice, time = T }
      print(v.cause, v.rule_reason)
      print(("%.3f"):format((os.clock() - t) / 21))
      -- the fingerprint written with colons and in capitals, as operators paste it
      local fp = info.fingerprint:upper():gsub("(%x%x)", "%1:"):sub(1, -2)
      local q = clientcert.policy{ trust = store, allow = { { fingerprint = fp }, { subject_cn = "nobody" } } }
      print(q:check{ cert = bob, time = T }.cause, #q.allow)]], 120)
    assert.equals(0, code, out)
    local cause, reason, per, by_fp, count = out:match("^(%S+)\t([^\n]*)\n([%d.]+)\n(%S+)\t(%d+)\n$")
    assert.equals("denied_by_rule", cause, out)
    assert.equals("no entry of the allow list matches this certificate", reason)
    assert.is_true(tonumber(per) < 0.02, per .. " s per check")
    assert.equals("ok", by_fp)
    assert.equals("2", count)
  end)
end)

describe("a loop of costly C functions", function()
  -- time inside a C function is not counted in instructions: a rule looping on
  -- clientcert.parse_all of a large bundle (0.2 s a call, a few instructions an
  -- iteration) ran for hours within its budget of 1,000,000 instructions
  it("is stopped by the wall-clock budget: a rule rejects as internal_error after it", function()
    local code, out = child(PRELUDE .. [[
      -- 10 s for a rule here (60 s by default: a backstop that valgrind's slowness must not reach)
      require("clientcert.sandbox").SECONDS_PER_STEP = 1e-5
      local pem = clientcert.parse(bob):pem():rep(2000)
      local t = os.time()
      local v = check(function()
        for _ = 1, 1e6 do clientcert.parse_all(pem) end
        return true
      end)
      print(v.cause, v.accepted, v.rule_error)
      print(os.time() - t <= 20)
      print(intact())]], 90)
    assert.equals(0, code, out)
    assert.equals("internal_error\tfalse\tran for more than 10 seconds (time inside C functions counts, such as "
      .. "clientcert.parse_all of a large bundle)\ntrue\ntrue\n", out)
  end)
end)

describe("a policy file cut short (a file still being written)", function()
  -- in a child process: 830 loads are too slow for the memory checks' interpreters
  it("fails with a clear error at every byte offset, or loads the same policy", function()
    local code, out = child(([[
      local clientcert = require "clientcert"
      local src = assert(io.open("examples/policies/employees.lua", "rb")):read("*a")
      local dir, T = %q, %d
      local function read(name) return assert(io.open(dir .. "/" .. name, "rb")):read("*a") end
      local params = { roots = dir .. "/root.pem", intermediates = dir .. "/inter.pem",
                       crls = { dir .. "/root.crl", dir .. "/inter.crl" },
                       issuer = clientcert.load(dir .. "/alice.pem"):info().issuer }
      local function outcome(p)
        local t = {}
        for i, who in ipairs{ "alice", "bob", "dave", "mallory" } do
          t[i] = p:check{ cert = read(who .. ".pem"), time = T }.cause
        end
        return table.concat(t, " ")
      end
      local want = outcome(assert(clientcert.load_policy("examples/policies/employees.lua", params)))
      local path = dir .. "/cut.lua"
      local loaded = 0
      for i = 0, #src - 1 do
        local f = assert(io.open(path, "wb"))
        f:write(src:sub(1, i))
        f:close()
        local p, err = clientcert.load_policy(path, params)
        if p then
          loaded = loaded + 1
          if outcome(p) ~= want then print("cut at " .. i .. " loads another policy: " .. outcome(p)) end
        elseif type(err) ~= "string" or err:find("clientcert.load_policy: " .. path, 1, true) ~= 1 then
          print("cut at " .. i .. ": " .. tostring(err))
        elseif not (err:find("expected", 1, true) or err:find("unfinished", 1, true)
            or err:find("unexpected symbol", 1, true) or err:find("syntax error", 1, true)
            or err:find("must return the options table", 1, true) or err:find("empty file", 1, true)) then
          print("cut at " .. i .. ": " .. err)
        end
      end
      print("loaded", loaded, want)]]):format(pki.dir, pki.T), 120)
    assert.equals(0, code, out)
    -- only the file without its last newline loads
    assert.equals("loaded\t1\tok ok missing_intermediate revoked\n", out)
  end)
end)
