-- The store object (issue 8 items 2, 7, 12, 13 and locked metatables):
-- one object model, options read before anything is borrowed, one integer rule.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local pki = require "helpers.pki"

local function store()
  return assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
end

-- the error message of f(), or nil when it does not raise
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return nil end
  return tostring(err)
end

describe("store object model", function()
  it("is the userdata itself: typeof, is_store, no raw, no wrapper table", function()
    local s = store()
    assert.equals("userdata", type(s))
    assert.equals("store", clientcert.typeof(s))
    assert.is_true(clientcert.is_store(s))
    assert.is_nil(s.raw)
    assert.is_false(clientcert.is_store({}))
    assert.is_false(clientcert.is_store(clientcert.load(pki.path("alice.pem"))))
    assert.is_false(clientcert.is_store(setmetatable({}, { __index = s })))
  end)

  it("has the Lua-level methods on the C class's method table", function()
    local s = store()
    assert.equals(core.store_methods.add_root, s.add_root)
    assert.equals(core.store_methods.verify, s.verify)
    -- paths, PEM text, objects and lists, through the one object
    assert.is_true(s:add_root(pki.read("other-root.pem")))
    assert.is_true(s:add_root({ clientcert.load(pki.path("other-root.pem")) }))
    local r = assert(s:verify(pki.read("alice.pem"), { time = pki.T }))
    assert.is_true(r.ok)
    assert.is_true(s:add_crl(pki.path("inter.crl")))
    assert.equals(1, s:crl_count())
    r = assert(s:verify(pki.read("mallory.pem"), { time = pki.T, crl = "leaf" }))
    assert.equals("revoked", r.cause)
    assert.matches("^clientcert%.store", tostring(s))
  end)

  it("keeps what it knows about its roots from when they were added", function()
    local s = assert(clientcert.store{ roots = { pki.path("root.pem"), pki.path("inter.pem"),
                                                 pki.path("root.pem") } })
    local st = s:stats()
    assert.equals(2, st.roots)                 -- the duplicate root counts once
    assert.equals(1, st.roots_not_self_signed)
    local facts = core._store_facts(s)
    assert.is_true(facts.root_subjects["CN=Test Root CA,O=clientcert tests"])
    assert.equals(2, #facts.roots)
  end)

  it("reports a trust anchor's self-signature from the kept fact", function()
    local r = assert(store():verify(pki.read("alice.pem"), { time = pki.T }))
    assert.is_true(r.chain[3].trusted)
    assert.is_true(r.chain[3].self_signed)
    assert.is_false(r.chain[2].self_signed)
  end)
end)

describe("locked metatables", function()
  local objects = {
    cert = function() return clientcert.load(pki.path("alice.pem")) end,
    crl = function() return clientcert.load_crl(pki.path("inter.crl")) end,
    store = store,
  }
  for kind, make in pairs(objects) do
    it("hides the " .. kind .. " class from Lua", function()
      local obj = make()
      assert.equals("clientcert." .. kind, getmetatable(obj))
      assert.is_nil(obj.__index)
      assert.is_nil(obj.__gc)
      assert.is_nil(obj.__close)
      assert.is_nil(obj.__metatable)
      assert.is_nil(obj.__name)
      assert.has_error(function() setmetatable(obj, {}) end)
      assert.equals(kind, clientcert.typeof(obj))   -- luaL_checkudata still works
      assert.is_function(obj.close)
    end)
  end
end)

describe("store:verify options", function()
  local leaf
  before_each(function() leaf = clientcert.load(pki.path("alice.pem")) end)

  -- the C method itself, without the Lua checks in front of it
  local C_verify = core._store_c.verify

  it("reads options with raw access: an __index that closes the leaf is never run", function()
    local s = store()
    local ran = false
    local opts = setmetatable({ time = pki.T }, { __index = function()
      ran = true
      leaf:close()
    end })
    local r = assert(C_verify(s, leaf, opts))
    assert.is_false(ran)
    assert.is_true(r.ok)
    -- the Lua method copies opts without metamethods too
    local leaf2 = clientcert.load(pki.path("alice.pem"))
    local opts2 = setmetatable({ time = pki.T }, { __index = function() ran = true leaf2:close() end })
    assert.is_true(assert(s:verify(leaf2, opts2)).ok)
    assert.is_false(ran)
  end)

  it("reads the chain with raw access, and refuses a closed chain element", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem") })
    local inter = clientcert.load(pki.path("inter.pem"))
    local chain = setmetatable({ inter }, { __index = function() inter:close() end })
    local opts = setmetatable({ chain = chain, time = pki.T }, { __index = function() leaf:close() end })
    local r = assert(C_verify(s, leaf, opts))
    assert.is_true(r.ok)
    assert.is_false(tostring(inter):find("closed", 1, true) ~= nil)
    inter:close()
    -- a closed chain element is refused, not read
    assert.matches("chain%[1%] is not a certificate", raised(C_verify, s, leaf, { chain = { inter }, time = pki.T }))
  end)

  it("defaults time to now in C", function()
    local before = os.time()
    local r = assert(C_verify(store(), leaf, {}))
    assert.is_true(r.time >= before and r.time <= os.time())
    assert.is_true(r.ok)   -- the fixtures are in date now (2020 .. 2040)
  end)

  local time_msg = "clientcert.store.verify: time must be an integer between 0 and 253402300799, got "
  local bad_times = {
    { math.huge, "inf" }, { -math.huge, "-inf" }, { 2 ^ 63, "9.2233720368547758e+18" },
    { 1e300, "1.0000000000000001e+300" }, { 10.5, "10.5" }, { -1, "-1" },
    { 253402300800, "253402300800" }, { "1906502400", "string" },
  }
  for _, case in ipairs(bad_times) do
    it("refuses time = " .. tostring(case[1]) .. " with one message in Lua and in C", function()
      local s = store()
      local lua_err = raised(s.verify, s, leaf, { time = case[1] })
      local c_err = raised(C_verify, s, leaf, { time = case[1] })
      assert.is_truthy(lua_err and lua_err:find(time_msg .. case[2], 1, true), lua_err)
      assert.is_truthy(c_err and c_err:find(time_msg .. case[2], 1, true), c_err)
    end)
  end

  it("accepts the extreme times", function()
    local s = store()
    assert.equals(0, assert(s:verify(leaf, { time = 0 })).time)
    assert.equals(253402300799, assert(s:verify(leaf, { time = 253402300799 })).time)
    assert.equals(pki.T, assert(s:verify(leaf, { time = pki.T + 0.0 })).time)
  end)

  it("takes any integer max_depth >= 0 (255 as x509-limbo and nginx use, huge values clamped)", function()
    local s = store()
    for _, d in ipairs({ 2, 255, 100000, 2 ^ 40, math.maxinteger or 2 ^ 53, 2 ^ 63, 1e300 }) do
      assert.is_true(assert(s:verify(leaf, { time = pki.T, max_depth = d })).ok)
      assert.is_true(assert(C_verify(s, leaf, { time = pki.T, max_depth = d })).ok)
    end
    assert.is_false(assert(s:verify(leaf, { time = pki.T, max_depth = 0 })).ok)
  end)

  for _, case in ipairs({ { 10.5, "10.5" }, { -1, "-1" }, { math.huge, "inf" }, { 0 / 0, nil } }) do
    it("refuses max_depth = " .. tostring(case[1]) .. " in Lua and in C alike", function()
      local s = store()
      local lua_err = raised(s.verify, s, leaf, { time = pki.T, max_depth = case[1] })
      local c_err = raised(C_verify, s, leaf, { time = pki.T, max_depth = case[1] })
      local msg = "clientcert.store.verify: max_depth must be an integer 0 or more, got "
      assert.is_truthy(lua_err and lua_err:find(msg .. (case[2] or ""), 1, true), lua_err)
      assert.is_truthy(c_err and c_err:find(msg .. (case[2] or ""), 1, true), c_err)
    end)
  end

  it("takes auth_level 0..5 only", function()
    local s = store()
    assert.is_true(assert(s:verify(leaf, { time = pki.T, auth_level = 5 })).ok == false)
    assert.is_true(assert(s:verify(leaf, { time = pki.T, auth_level = 0 })).ok)
    for _, v in ipairs({ 6, -1, 1.5 }) do
      local msg = "clientcert.store.verify: auth_level must be an integer between 0 and 5, got "
      assert.is_truthy(raised(s.verify, s, leaf, { time = pki.T, auth_level = v }):find(msg, 1, true))
      assert.is_truthy(raised(C_verify, s, leaf, { time = pki.T, auth_level = v }):find(msg, 1, true))
    end
  end)

  it("refuses a non-string purpose or flag in C (no number coercion)", function()
    local s = store()
    assert.matches("purpose must be", raised(C_verify, s, leaf, { time = pki.T, purpose = 1 }))
    assert.matches("unknown flag", raised(C_verify, s, leaf, { time = pki.T, flags = { 1 } }))
  end)
end)

describe("store lists", function()
  it("refuses a keyed table or a table with holes instead of reading it as empty", function()
    for _, key in ipairs({ "roots", "intermediates", "crls" }) do
      local err = raised(clientcert.store, { [key] = { main = pki.path("root.pem") } })
      assert.matches("clientcert.store: " .. key .. " must be a list", err, 1, true)
      err = raised(clientcert.store, { [key] = { [2] = pki.path("root.pem") } })
      assert.matches("clientcert.store: " .. key .. " must be a list", err, 1, true)
    end
    local s = store()
    assert.matches("must be a list", raised(s.add_root, s, { x = pki.path("root.pem") }))
    assert.matches("must be a list", raised(s.add_crl, s, { nil, pki.path("inter.crl") }))
  end)

  it("refuses a keyed chain, and takes one string as a one-element chain", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem") })
    local leaf = clientcert.load(pki.path("alice.pem"))
    assert.matches("chain must be a list", raised(s.verify, s, leaf, { chain = { a = pki.read("inter.pem") },
                                                                         time = pki.T }))
    assert.is_true(assert(s:verify(leaf, { chain = pki.read("inter.pem"), time = pki.T })).ok)
    assert.is_true(assert(s:verify(leaf, { chain = { pki.read("inter.pem") }, time = pki.T })).ok)
    assert.is_true(assert(s:verify(leaf, { chain = pki.read("chain-alice.pem"), time = pki.T })).ok)
    assert.is_false(assert(s:verify(leaf, { time = pki.T })).ok)
  end)

  it("takes a single string where a list is expected", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.read("inter.pem"),
                                       crls = pki.path("inter.crl") })
    assert.equals(1, #s:intermediates())
    assert.equals(1, s:crl_count())
  end)
end)
