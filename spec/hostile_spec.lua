-- Hostile input: every fuzz crasher kept in fuzz/crashers/, and inputs built to
-- hurt a parser. Each must give a value or nil, err: never a raise or a crash.
-- (Time and memory on large inputs are measured in bench/hostile.lua, not here.)
local clientcert = require "clientcert"
local pki = require "helpers.pki"

local function no_raise(f, ...)
  local ok, a, b = pcall(f, ...)
  assert(ok, "raised: " .. tostring(a))
  return a, b
end

describe("hostile input", function()
  it("handles every kept fuzz crasher", function()
    local p = io.popen("ls fuzz/crashers 2>/dev/null")
    local n = 0
    for name in p:lines() do
      if name ~= "README.md" then
        local f = assert(io.open("fuzz/crashers/" .. name, "rb"))
        local data = f:read("*a")
        f:close()
        no_raise(clientcert.parse, data)
        no_raise(clientcert.parse_all, data)
        no_raise(clientcert.parse_crl, data)
        n = n + 1
      end
    end
    p:close()
    assert.is_true(n >= 0)
  end)

  it("refuses input over 64 MiB without reading it as a certificate", function()
    local big = string.rep("A", 64 * 1024 * 1024 + 1)
    local c, err = no_raise(clientcert.parse, big)
    assert.is_nil(c)
    assert.equals("clientcert.parse: input larger than 64 MiB", err)
    local l, lerr = no_raise(clientcert.parse_all, big)
    assert.is_nil(l)
    assert.equals("clientcert.parse_all: input larger than 64 MiB", lerr)
  end)

  it("rejects DER that claims a 4 GiB length", function()
    local c, err = no_raise(clientcert.parse, "\48\132\255\255\255\255\48\0")
    assert.is_nil(c)
    assert.matches("^clientcert%.parse: invalid DER certificate", err)
  end)

  it("rejects 100,000 nested SEQUENCEs", function()
    local parts = {}
    for i = 1, 100000 do parts[i] = "\48\128" end          -- indefinite-length nesting
    local c, err = no_raise(clientcert.parse, "\48\130\1\0" .. table.concat(parts))
    assert.is_nil(c)
    assert.is_string(err)
  end)

  it("rejects PEM armour without an end line, and thousands of empty blocks", function()
    local c, err = no_raise(clientcert.parse, "-----BEGIN CERTIFICATE-----\n" .. string.rep("QUFB", 1000))
    assert.is_nil(c)
    assert.is_string(err)
    local blocks = string.rep("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 5000)
    local l, lerr = no_raise(clientcert.parse_all, blocks)
    assert.is_nil(l)
    assert.is_string(lerr)
  end)

  it("verifies every truncation of a good chain without raising or accepting", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem") })
    local der = pki.read("alice.der")
    for n = 1, #der - 1, 7 do
      local r, err = no_raise(store.verify, store, der:sub(1, n), { time = pki.T })
      assert.is_nil(r)
      assert.matches("^clientcert%.store%.verify: certificate: ", err)
    end
  end)

  it("survives every single-byte corruption of a certificate", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local der = pki.read("alice.der")
    local accepted = 0
    for i = 1, #der, 3 do
      local bad = der:sub(1, i - 1) .. string.char((der:byte(i) + 1) % 256) .. der:sub(i + 1)
      local c = no_raise(clientcert.parse, bad)
      if c then
        no_raise(c.info, c)
        local r = no_raise(store.verify, store, c, { time = pki.T })
        if r and r.ok then accepted = accepted + 1 end
      end
    end
    assert.equals(0, accepted)   -- a changed signed byte never verifies
  end)
end)

describe("the OpenSSL error queue", function()
  local core = require "clientcert.core"
  it("is empty after every failure path", function()
    local store = assert(clientcert.store{ roots = pki.path("root.pem") })
    local alice = clientcert.load(pki.path("alice.pem"))
    local calls = {
      function() return clientcert.parse("garbage") end,
      function() return clientcert.parse(pki.read("alice.der"):sub(1, 100)) end,
      function() return clientcert.parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") end,
      function() return clientcert.parse_all(pki.read("alice.pem") .. "-----BEGIN CERTIFICATE-----\n!!\n") end,
      function() return clientcert.parse_crl("garbage") end,
      function() return clientcert.parse_crl(pki.read("alice.pem")) end,
      function() return alice:matches_key("garbage") end,
      function() return alice:matches_key(pki.read("alice-enc.key"), "wrong") end,
      function() return store:verify(alice, { time = pki.T }) end,
      function() return store:verify(clientcert.load(pki.path("alice-tampered.pem")), { time = pki.T }) end,
      function() return clientcert.load(pki.path("invalid")) end,
    }
    for i, f in ipairs(calls) do
      f()
      assert.is_false(core._openssl_error_pending(), "call " .. i .. " left an OpenSSL error queued")
    end
  end)
end)
