-- CRLs verified once (issue 9 item 2): a CRL's signature is checked once against
-- its issuer's key and remembered by the store; every verification still compares
-- the CRL's dates with its own time and looks the certificate up. Behaviour, not
-- timing: the store's counters say how many CRL signatures clientcert verified
-- (crl_signature_checks) and how many CRL checks went to OpenSSL's own check_crl
-- (crl_openssl_checks, each of which verifies the CRL's signature again).
local clientcert = require "clientcert"
local pki = require "helpers.pki"

local T_EXPIRED = 1938038400   -- 2031-06-01: after every CRL's nextUpdate (2031-01-01)
local T_EARLY = 1843430400     -- 2028-06-01: before every CRL's lastUpdate (2029-01-01)

local function store(crls, opts)
  local paths = {}
  for i, n in ipairs(crls) do paths[i] = pki.path(n) end
  local spec = { roots = pki.path("root.pem"), crls = paths }
  if not (opts and opts.no_intermediate) then spec.intermediates = pki.path("inter.pem") end
  return assert(clientcert.store(spec))
end

local function verify(s, name, opts)
  local o = { time = pki.T, crl = "chain" }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(s:verify(clientcert.load(pki.path(name)), o))
end

local function counts(s)
  local st = s:stats()
  return st.crl_signature_checks, st.crl_openssl_checks
end

local function codes(r)
  local out = {}
  for _, p in ipairs(r.problems) do out[#out + 1] = p.code_name end
  return table.concat(out, ",")
end

describe("CRL signatures verified once", function()
  it("crl = chain: two CRLs (root.crl used twice) are verified once each, then only looked up", function()
    local s = store{ "root.crl", "inter.crl" }
    local r = verify(s, "alice.pem")
    assert.is_true(r.ok)
    local sigs, ossl = counts(s)
    assert.equals(2, sigs)
    assert.equals(0, ossl)
    for _ = 1, 5 do
      assert.is_true(verify(s, "alice.pem").ok)
      local m = verify(s, "mallory.pem")
      assert.is_false(m.ok)
      assert.equals("revoked", m.cause)
      assert.equals(0, m.problems[1].depth)
      assert.equals("keyCompromise", m.problems[1].reason)
      assert.is_number(m.problems[1].revoked_at)
    end
    assert.same({ 2, 0 }, { counts(s) })
  end)

  it("finds a revoked intermediate (root CRL) and a revoked leaf (issuing CA's CRL) with the memo", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"),
      intermediates = { pki.path("inter.pem"), pki.path("inter-revoked.pem") },
      crls = { pki.path("root.crl"), pki.path("inter.crl"), pki.path("inter-revoked.crl") } })
    for _ = 1, 3 do
      local d = verify(s, "dave.pem")
      assert.is_false(d.ok)
      assert.equals("revoked", d.cause)
      assert.equals(1, d.problems[1].depth)
      assert.equals("cACompromise", d.problems[1].reason)
      local m = verify(s, "mallory.pem")
      assert.equals("revoked", m.cause)
      assert.equals(0, m.problems[1].depth)
    end
    local sigs, ossl = counts(s)
    assert.equals(3, sigs)
    assert.equals(0, ossl)
  end)

  it("an intermediate the client sends: its CRL's signature is remembered by key, not by object", function()
    local s = store({ "root.crl", "inter.crl" }, { no_intermediate = true })
    for _ = 1, 4 do
      -- a fresh certificate object each time, as a server parsing each request would have
      local chain = { clientcert.load(pki.path("inter.pem")) }
      assert.is_true(verify(s, "alice.pem", { chain = chain }).ok)
      assert.equals("revoked", verify(s, "mallory.pem", { chain = chain }).cause)
    end
    assert.same({ 2, 0 }, { counts(s) })
  end)

  it("the memo does not freeze dates: an expired CRL is reported at a later time, valid again at T", function()
    local s = store{ "root.crl", "inter.crl" }
    assert.is_true(verify(s, "alice.pem").ok)
    local late = verify(s, "alice.pem", { time = T_EXPIRED })
    assert.is_false(late.ok)
    assert.equals("revocation_unknown", late.cause)
    assert.equals("X509_V_ERR_CRL_HAS_EXPIRED", late.problems[1].code_name)
    local early = verify(s, "alice.pem", { time = T_EARLY })
    assert.is_false(early.ok)
    assert.equals("X509_V_ERR_CRL_NOT_YET_VALID", early.problems[1].code_name)
    assert.is_true(verify(s, "alice.pem").ok)
    -- a CRL out of date is handed to OpenSSL's own check_crl: the same errors as OpenSSL
    local _, ossl = counts(s)
    assert.is_true(ossl > 0)
  end)

  it("an expired CRL is still expired after the same store verified with a valid one", function()
    local s = store{ "root.crl", "inter-stale.crl" }
    local r = verify(s, "alice.pem")
    assert.is_false(r.ok)
    assert.equals("X509_V_ERR_CRL_HAS_EXPIRED", r.problems[1].code_name)
    assert.equals(0, r.problems[1].depth)
    -- a newer CRL added later takes effect at once
    assert(s:add_crl(pki.path("inter.crl")))
    assert.is_true(verify(s, "alice.pem").ok)
    assert.equals("revoked", verify(s, "mallory.pem").cause)
    -- and with check_time = false the stale CRL's dates are not looked at, as in OpenSSL
    local s2 = store{ "root.crl", "inter-stale.crl" }
    assert.is_true(verify(s2, "alice.pem", { check_time = false }).ok)
    assert.equals("revoked", verify(s2, "mallory.pem", { check_time = false }).cause)
  end)

  it("a CRL added after verifications took place revokes at once", function()
    local s = store{ "root.crl" }
    local r = verify(s, "mallory.pem")
    assert.equals("revocation_unknown", r.cause)
    assert.is_true(verify(s, "mallory.pem", { crl_missing = "allow" }).ok)
    assert(s:add_crl(pki.path("inter.crl")))
    assert.equals("revoked", verify(s, "mallory.pem").cause)
    assert.equals("revoked", verify(s, "mallory.pem", { crl_missing = "allow" }).cause)
  end)

  it("a forged CRL added after the genuine one was remembered is still ignored", function()
    local s = store{ "root.crl", "inter.crl" }
    for _ = 1, 2 do assert.is_true(verify(s, "alice.pem").ok) end
    assert(s:add_crl(pki.path("forged-inter-alice.crl")))
    assert(s:add_crl(pki.path("forged-inter-newer.crl")))
    assert(s:add_crl(pki.path("forged-root-inter.crl")))
    for _ = 1, 3 do
      local r = verify(s, "alice.pem")
      assert.is_true(r.ok)
      -- forged issuing CA CRLs at depth 0, the forged root CRL at depths 1 and 2
      assert.equals(4, #r.ignored_crls)
      local m = verify(s, "mallory.pem")
      assert.equals("revoked", m.cause)           -- the newer forged CRL masks nothing
      assert.equals("keyCompromise", m.problems[1].reason)
    end
    -- two genuine CRLs and three forged ones, each verified once
    assert.same({ 5, 0 }, { counts(s) })
  end)

  it("outside the remembered path (extended CRL support), OpenSSL's own check_crl gives the same verdicts", function()
    local s = store{ "root.crl", "inter.crl" }
    local ext = { flags = { "extended_crl_support" } }
    local a, m = verify(s, "alice.pem", ext), verify(s, "mallory.pem", ext)
    local _, ossl = counts(s)
    assert.equals(6, ossl)                        -- three chain elements per verification
    local a2, m2 = verify(s, "alice.pem"), verify(s, "mallory.pem")
    assert.equals(6, select(2, counts(s)))        -- the usual path: none more
    assert.is_true(a.ok and a2.ok)
    assert.equals(codes(m), codes(m2))
    assert.equals("revoked", m.cause)
    assert.equals(m.problems[1].reason, m2.problems[1].reason)
  end)

  it("store:crls() uses the same remembered checks", function()
    local s = store{ "root.crl", "inter.crl", "forged-inter-alice.crl" }
    local sig = {}
    for _, c in ipairs(s:crls()) do sig[#sig + 1] = c.signature end
    table.sort(sig)
    assert.same({ "bad", "ok", "ok" }, sig)
    local before = counts(s)
    s:crls()
    assert.equals(before, (counts(s)))
    verify(s, "alice.pem")
    assert.equals(before, (counts(s)))
  end)
end)
