-- The policy's verdict cache (clientcert.policy{cache = {size, ttl}}): it caches the
-- chain verification only, and never serves an entry outside its window.
local clientcert = require "clientcert"
local pki = require "helpers.pki"
local cases = require "cases"

local DAY = 86400
local T_2024_06 = 1717200000     -- 2024-06-01: "old" and "Expired Issuing CA" still valid
local T_2025_06 = 1748736000     -- 2025-06-01: both expired (2025-01-01)

local function store(t)
  return assert(clientcert.store(t))
end

local function req(name, chain, time)
  local r = { cert = pki.read(name .. ".pem"), chain = {}, time = time or pki.T }
  for _, c in ipairs(chain or {}) do r.chain[#r.chain + 1] = pki.read(c .. ".pem") end
  return r
end

local function same_decision(a, b)
  assert.are.equal(a.cause, b.cause)
  assert.are.equal(a.substatus, b.substatus)
  assert.are.equal(a.accepted, b.accepted)
  assert.are.same(a.also, b.also)
  assert.are.equal(a.message, b.message)
end

describe("the verdict cache", function()
  it("gives every case of spec/cases.lua the same verdict, cached or not", function()
    for _, case in ipairs(cases.list) do
      local opts = { trust = cases.store(clientcert, case.store), verify = case.verify }
      for k, v in pairs(case.policy or {}) do opts[k] = v end
      local plain = clientcert.policy(opts)
      opts.cache = { size = 16 }
      local cached = clientcert.policy(opts)
      local r = { time = case.time or pki.T, chain = {} }
      if case.cert then r.cert = pki.read(case.cert) end
      if case.cert_data then r.cert = case.cert_data end
      for _, n in ipairs(case.chain or {}) do r.chain[#r.chain + 1] = pki.read(n) end
      for _, d in ipairs(case.chain_data or {}) do r.chain[#r.chain + 1] = d end
      if case.key then r.key = pki.read(case.key) end
      local want = plain:check(r)
      local first, second = cached:check(r), cached:check(r)
      same_decision(want, first)
      same_decision(want, second)
      assert.is_falsy(first.cached, case.name)
    end
  end)

  it("serves the same client again from the cache, and says so", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem") }, verify = { crl = "none" },
                                 cache = { size = 8 } }
    local a = p:check(req("alice", { "inter" }))
    local b = p:check(req("alice", { "inter" }))
    assert.is_true(a.accepted)
    assert.is_falsy(a.cached)
    assert.is_true(b.cached)
    same_decision(a, b)
    local info = p:cache_info()
    assert.are.equal(1, info.hits)
    assert.are.equal(1, info.misses)
    assert.are.equal(1, info.count)
  end)

  it("is not served once the check time passes the leaf's not_after", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") },
                                 verify = { crl = "none" }, cache = { size = 8 } }
    assert.is_true(p:check(req("old", nil, T_2024_06)).accepted)
    assert.is_true(p:check(req("old", nil, T_2024_06 + DAY)).cached)
    local v = p:check(req("old", nil, T_2025_06))
    assert.is_falsy(v.cached)
    assert.are.equal("expired", v.cause)
  end)

  it("is not served once the check time passes an intermediate's not_after", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem") }, verify = { crl = "none" },
                                 cache = { size = 8 } }
    assert.is_true(p:check(req("frank", { "inter-expired" }, T_2024_06)).accepted)
    local v = p:check(req("frank", { "inter-expired" }, T_2025_06))
    assert.is_falsy(v.cached)
    assert.are.equal("expired", v.cause)
  end)

  it("is not served after a CRL revoking the client is added", function()
    local s = store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") }
    local p = clientcert.policy{ trust = s, verify = { crl = "leaf", crl_missing = "allow" }, cache = { size = 8 } }
    assert.is_true(p:check(req("mallory")).accepted)
    assert.is_true(p:check(req("mallory")).cached)
    assert(s:add_crl(pki.path("inter.crl")))
    local v = p:check(req("mallory"))
    assert.is_falsy(v.cached)
    assert.are.equal("revoked", v.cause)
  end)

  it("is not served past the next update of a CRL it consulted", function()
    local s = store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem"),
                     crls = pki.path("inter-stale.crl") }
    local p = clientcert.policy{ trust = s, verify = { crl = "leaf" }, cache = { size = 8 } }
    local at = 1861920000   -- 2029-01-01 + 0: inter-stale.crl is current until 2029-06-01
    assert.is_true(p:check(req("alice", nil, at + DAY)).accepted)
    local v = p:check(req("alice", nil, 1893456000)) -- 2030-01-01: the CRL is stale
    assert.is_falsy(v.cached)
    assert.are.equal("revocation_unknown", v.cause)
  end)

  it("keys on the chain the client sent, not only the leaf", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem") }, verify = { crl = "none" },
                                 cache = { size = 8 } }
    assert.is_true(p:check(req("alice", { "inter" })).accepted)
    local v = p:check(req("alice"))
    assert.is_falsy(v.cached)
    assert.are.equal("missing_intermediate", v.cause)
  end)

  it("is not served after the store gains a root", function()
    local s = store{ roots = pki.path("root.pem") }
    local p = clientcert.policy{ trust = s, verify = { crl = "none" }, cache = { size = 8 } }
    assert.are.equal("untrusted_root", p:check(req("oscar", { "other-inter", "other-root" })).cause)
    assert.is_true(p:check(req("oscar", { "other-inter", "other-root" })).cached)
    assert(s:add_root(pki.path("other-root.pem")))
    local v = p:check(req("oscar", { "other-inter", "other-root" }))
    assert.is_falsy(v.cached)
    assert.is_true(v.accepted)
  end)

  it("never holds more than size entries", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") },
                                 verify = { crl = "none" }, cache = { size = 2 } }
    for _, name in ipairs({ "alice", "bob", "carol", "mallory", "bmp" }) do
      assert.is_true(p:check(req(name)).accepted)
      assert.is_true(p:cache_info().count <= 2)
    end
    assert.are.equal(2, p:cache_info().count)
  end)

  it("runs allow and rule on every check, so a changed outcome is honoured on a hit", function()
    local deny = false
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") },
                                 verify = { crl = "none" }, cache = { size = 8 },
                                 rule = function() if deny then return false, "switched off" end return true end }
    assert.is_true(p:check(req("alice")).accepted)
    deny = true
    local v = p:check(req("alice"))
    assert.is_true(v.cached)
    assert.is_false(v.accepted)
    assert.are.equal("denied_by_rule", v.cause)
  end)

  it("does not cache an internal error or unparsable input", function()
    local p = clientcert.policy{ trust = store{ roots = pki.path("root.pem") }, cache = { size = 8 } }
    local v1 = p:check{ cert = "garbage", time = pki.T }
    local v2 = p:check{ cert = "garbage", time = pki.T }
    assert.are.equal("invalid_certificate", v2.cause)
    assert.is_falsy(v1.cached)
    assert.is_falsy(v2.cached)
    assert.are.equal(0, p:cache_info().count)
  end)

  it("refuses a cache option that is not {size = n >= 1[, ttl = seconds]}", function()
    local s = store{ roots = pki.path("root.pem") }
    for _, bad in ipairs({ {}, { size = 0 }, { size = 1.5 }, { size = 4, ttl = -1 }, { size = 4, other = 1 }, 5 }) do
      assert.has_error(function() clientcert.policy{ trust = s, cache = bad } end)
    end
  end)
end)
