-- The policy-file sandbox (clientcert.load_policy) and the policy object model:
-- each escape a policy file (or a rule) might try, with proof that the host and
-- a second policy are unaffected; the instruction and memory budgets at load and
-- at check time; list(), pairs/ipairs and params.
local clientcert = require "clientcert"
local pki = require "helpers.pki"

local dir = pki.dir
local n = 0
local function write(text)
  n = n + 1
  local path = ("%s/sandbox-%d.lua"):format(dir, n)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- A policy file that trusts the test PKI; body runs first, then it returns opts
-- (a Lua expression, default an allow list admitting only bob).
local function trusting(body, opts)
  return write(([[
    local store = assert(clientcert.store{ roots = %q, intermediates = %q })
    %s
    return %s]]):format(pki.path("root.pem"), pki.path("inter.pem"), body or "",
    opts or "{ trust = store, allow = { { subject_cn = 'bob' } } }"))
end

local function host_policy()
  return clientcert.policy{ trust = assert(clientcert.store{ roots = pki.path("root.pem"),
                                                            intermediates = pki.path("inter.pem") }),
                            allow = { { subject_cn = "bob" } } }
end

local function check(policy, name)
  return policy:check{ cert = pki.read(name), time = pki.T }
end

describe("a policy object", function()
  it("does not reach its class: __index.check cannot replace check for every policy", function()
    local victim = host_policy()
    assert.equals("denied_by_rule", check(victim, "alice.pem").cause)
    local path = write([[
      local p = clientcert.policy{ mode = "off" }
      p.__index.check = function() return { accepted = true, cause = "ok" } end
      return p]])
    local policy, err = clientcert.load_policy(path)
    assert.is_nil(policy)
    assert.matches("attempt to index", err, 1, true)
    -- the same from the host: there is nothing to reach
    local p = clientcert.policy{ mode = "off" }
    assert.is_nil(p.__index)
    assert.equals("clientcert.policy", getmetatable(p))
    assert.has_error(function() setmetatable(p, nil) end)
    assert.equals("denied_by_rule", check(victim, "alice.pem").cause)
    assert.equals("denied_by_rule", check(host_policy(), "alice.pem").cause)
  end)

  it("is read-only: its check, mode, allow and verify cannot be changed through it", function()
    local p = host_policy()
    assert.has_error(function() p.check = function() return { accepted = true } end end, nil)
    assert.has_error(function() p.mode = "off" end)
    assert.has_error(function() p.allow = {} end)
    local ok, err = pcall(function() p.mode = "off" end)
    assert.is_false(ok)
    assert.matches("a policy is read-only (cannot set 'mode')", err, 1, true)
    local allow = p.allow               -- a copy
    allow[1].subject_cn = "alice"
    table.remove(allow)
    local verify = p.verify
    verify.crl = "none"
    assert.equals("denied_by_rule", check(p, "alice.pem").cause)
    assert.equals("ok", check(p, "bob.pem").cause)
    assert.equals("require", p.mode)
    assert.is_true(clientcert.is_store(p.trust))
  end)

  it("keeps a rule from changing its policy, its verdict or a later check", function()
    local path = trusting([[
      local policy
      policy = clientcert.policy{ trust = store, allow = { { subject_cn = "bob" }, { subject_cn = "alice" } },
        rule = function(info, verdict)
          verdict.accepted = true
          verdict.cause = "ok"
          info.subject = "CN=changed"
          local a = policy.allow
          a[1].subject_cn = "carol"
          pcall(function() policy.allow = {} end)
          pcall(function() policy.mode = "off" end)
          return info.fingerprint ~= "x", "never"
        end }]], "policy")
    local p = assert(clientcert.load_policy(path))
    local v = check(p, "alice.pem")
    assert.equals("ok", v.cause)
    assert.equals("CN=alice,O=clientcert tests", v.client.subject)
    assert.equals("require", p.mode)
    assert.equals("bob", p.allow[1].subject_cn)
    assert.equals("ok", check(p, "bob.pem").cause)
    assert.equals("denied_by_rule", check(p, "carol.pem").cause)
  end)
  it("is collected when unreachable, even when its rule refers to it", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local p
      p = clientcert.policy{ trust = host_policy().trust, rule = function() return p ~= nil end }
      assert.equals("ok", check(p, "bob.pem").cause)
      weak[1] = p
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_nil(weak[1])
  end)
end)

describe("a policy file", function()
  it("changes only its own copies of string, table and math", function()
    local lower, insert, floor = string.lower, table.insert, math.floor
    local path = trusting([[
      string.lower = function() return "bob" end
      string.find = nil
      table.insert = nil
      math.floor = nil
      assert(string.lower("ALICE") == "bob")]])
    local p = assert(clientcert.load_policy(path))
    assert.equals(lower, string.lower)
    assert.equals(insert, table.insert)
    assert.equals(floor, math.floor)
    assert.equals("alice", ("ALICE"):lower())
    -- the tampering file's policy still decides by the real names
    assert.equals("denied_by_rule", check(p, "alice.pem").cause)
    -- and a second file sees the untouched libraries
    local second = assert(clientcert.load_policy(trusting([[
      assert(string.lower("ALICE") == "alice")
      assert(type(string.find) == "function" and type(table.insert) == "function")]])))
    assert.equals("ok", check(second, "bob.pem").cause)
  end)

  it("sees clientcert as a read-only facade", function()
    local parse = clientcert.parse
    local path = trusting([[
      local ok, err = pcall(function() clientcert.parse = function() return nil end end)
      assert(not ok and err:find("clientcert is read-only in a policy file (cannot set 'parse')", 1, true), err)
      ok = pcall(function() clientcert.store = nil end)
      assert(not ok)
      assert(clientcert.load_policy == nil, "no load_policy in a policy file")
      local names = {}
      for k in pairs(clientcert) do names[#names + 1] = k end
      assert(#names > 5, "pairs lists the facade")
      assert(clientcert.__index == nil)]])
    assert.is_table(assert(clientcert.load_policy(path)))
    assert.equals(parse, clientcert.parse)
    assert.is_function(clientcert.load_policy)
  end)

  it("cannot reach a certificate's class", function()
    local path = write(([[
      local c = assert(clientcert.parse(%q))
      assert(c.__index == nil, "cert.__index")
      return { mode = "off" }]]):format(pki.read("alice.pem")))
    local p, err = clientcert.load_policy(path)
    assert.is_table(p, err)
  end)

  it("cannot reach a store's class", function()
    local path = trusting([[
      assert(store.__index == nil, "store.__index")
      assert(store.raw == nil, "store.raw")]])
    local p, err = clientcert.load_policy(path)
    assert.is_table(p, err)
  end)

  it("has no string.dump, however it is reached", function()
    local _, err = clientcert.load_policy(write([[return { mode = "off", name = tostring(("").dump(print)) }]]))
    assert.matches("string.dump is not available to policy code", err, 1, true)
    _, err = clientcert.load_policy(write([[return { mode = "off", name = string.dump(function() end) }]]))
    assert.matches("attempt to call", err, 1, true)
  end)

  it("cannot make one gigantic string with string.rep, however it is reached", function()
    for _, expr in ipairs({ [[string.rep("x", 2^31)]], [[("x"):rep(2^31)]], [[("ab"):rep(2^30, ",")]],
                            [[string.rep("x", 1e300)]] }) do
      -- refused before anything is allocated: the error names the size it would have had
      local _, err = clientcert.load_policy(write("local s = " .. expr .. " return { mode = 'off' }"))
      assert.matches("string.rep: the result would be", err, 1, true)
    end
    assert.is_table(clientcert.load_policy(write([[
      assert(("ab"):rep(3, "-") == "ab-ab-ab" and string.rep("x", 4) == "xxxx")
      return { mode = "off" }]])))
  end)

  it("turns a non-string error into text", function()
    local _, err = clientcert.load_policy(write("error({ code = 1 })"))
    assert.matches(": an error value of type table$", err)
    _, err = clientcert.load_policy(write("error(nil)"))
    assert.matches(": an error without a message %(nil%)$", err)
    _, err = clientcert.load_policy(write("error(false)"))
    assert.matches(": an error value false$", err)
  end)

  it("gets pairs and ipairs that refuse a non-table instead of iterating nothing", function()
    local _, err = clientcert.load_policy(write([[for _ in ipairs("3b5f") do end return { mode = "off" }]]))
    assert.matches("bad argument #1 to 'ipairs' (table expected, got string)", err, 1, true)
    _, err = clientcert.load_policy(write([[for _ in pairs(nil) do end return { mode = "off" }]]))
    assert.matches("bad argument #1 to 'pairs' (table expected, got nil)", err, 1, true)
  end)

  it("gets list(): nil, one value or a proper sequence, never a keyed or holey table", function()
    assert.is_table(clientcert.load_policy(write([[
      assert(#list(nil) == 0)
      local one = list("fp")
      assert(#one == 1 and one[1] == "fp")
      local t = { "a", "b" }
      assert(list(t) == t)
      return { mode = "off" }]])))
    local _, err = clientcert.load_policy(write([[list({ admins = { "x" } }) return { mode = "off" }]]))
    assert.matches("must be a list (keys 1..n with no holes): found key 'admins'", err, 1, true)
    _, err = clientcert.load_policy(write([[list({ [2] = "x" }) return { mode = "off" }]]))
    assert.matches("must be a list", err, 1, true)
  end)

  it("gets params as a deep copy of plain data, and refuses anything else", function()
    local params = { crls = { "a.crl" }, nested = { x = { y = "z" } } }
    local p = assert(clientcert.load_policy(write([[
      params.crls[1] = "evil.crl"; params.nested.x.y = "w"; params.added = true
      return { mode = "off" }]]), params))
    assert.is_table(p)
    assert.same({ crls = { "a.crl" }, nested = { x = { y = "z" } } }, params)
    assert.has_error(function() clientcert.load_policy(write("return {}"), { f = print }) end,
      "clientcert.load_policy: params.f must be a string, number, boolean or a table of those, got function")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() clientcert.load_policy(write("return {}"), { c = cyc }) end)
  end)
end)

-- Behaviour, not timing (specs also run under valgrind): each loop below would
-- never end without the budget, so returning with the budget's error is the proof.
describe("the instruction budget", function()
  it("stops a policy file that loops, also inside pcall", function()
    for _, src in ipairs({ "while true do end",
                           "while true do pcall(function() while true do end end) end",
                           "local function f() return f() end f()",
                           "local t = {} for i = 1, 1e12 do t[i % 10 + 1] = i end" }) do
      local policy, err = clientcert.load_policy(write(src))
      assert.is_nil(policy, src)
      assert.matches("ran for more than 10000000 instructions", err, 1, true)
    end
  end)

  it("stops a rule that loops at check time: internal_error, later checks unaffected", function()
    local p = assert(clientcert.load_policy(trusting(nil, [[{ trust = store,
      rule = function(info) if info.subject:find("alice", 1, true) then while true do end end return true end }]])))
    local v = check(p, "alice.pem")
    assert.equals("internal_error", v.cause)
    assert.is_false(v.accepted)
    assert.matches("ran for more than 1000000 instructions", v.rule_error, 1, true)
    assert.equals("ok", check(p, "bob.pem").cause)
  end)

  it("bounds a host's rule as well", function()
    local policy = clientcert.policy{ trust = host_policy().trust, rule = function()
      pcall(function() while true do end end)
      while true do end
    end }
    local v = check(policy, "bob.pem")
    assert.equals("internal_error", v.cause)
    assert.matches("ran for more than", v.rule_error, 1, true)
  end)

  it("restores the host's own debug hook", function()
    local calls = 0
    local function mine() calls = calls + 1 end
    debug.sethook(mine, "", 1000000)
    clientcert.load_policy(write("while true do end"))
    check(clientcert.policy{ trust = host_policy().trust, rule = function() return true end }, "bob.pem")
    local h, mask, count = debug.gethook()
    debug.sethook()
    assert.equals(mine, h)
    assert.equals("", mask)
    assert.equals(1000000, count)
  end)
end)

describe("the memory budget", function()
  it("stops a policy file whose Lua heap grows past the limit", function()
    local policy, err = clientcert.load_policy(write([[
      local t = {}
      for i = 1, 1e9 do t[i] = ("x"):rep(4096) .. i end]]))
    assert.is_nil(policy)
    assert.matches("used more than 64 MiB of memory", err, 1, true)
    collectgarbage("collect")
  end)

  it("stops a rule whose heap grows past the limit", function()
    local p = assert(clientcert.load_policy(trusting(nil, [[{ trust = store,
      rule = function() local t = {} for i = 1, 1e9 do t[i] = ("y"):rep(1024) .. i end end }]])))
    local v = check(p, "bob.pem")
    assert.equals("internal_error", v.cause)
    assert.matches("used more than 16 MiB of memory", v.rule_error, 1, true)
    collectgarbage("collect")
  end)
end)
