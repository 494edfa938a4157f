-- Forged CRLs (issue 8 item 4): a CRL whose signature does not verify with its
-- issuer's key is evidence of nothing. It never revokes, never masks a genuine
-- CRL, and is named (result.ignored_crls, verdict.also, audit findings).
local clientcert = require "clientcert"
local pki = require "helpers.pki"

local INTER = "CN=Test Issuing CA,O=clientcert tests"
local ROOT = "CN=Test Root CA,O=clientcert tests"

local function store(crls)
  local paths = {}
  for i, n in ipairs(crls) do paths[i] = pki.path(n) end
  return assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem"),
                                  crls = paths })
end

local function verify(s, name, opts)
  local o = { time = pki.T, crl = "leaf" }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(s:verify(clientcert.load(pki.path(name)), o))
end

local function has(list, v)
  for _, x in ipairs(list or {}) do if x == v then return true end end
  return false
end

describe("forged CRLs", function()
  it("a forged CRL listing the client does not revoke it (CRL required: revocation_unknown)", function()
    local r = verify(store{ "forged-inter-alice.crl" }, "alice.pem")
    assert.is_false(r.ok)
    assert.equals("revocation_unknown", r.cause)
    for _, p in ipairs(r.problems) do assert.is_not.equals("revoked", p.cause) end
    assert.equals(1, #r.ignored_crls)
    local ig = r.ignored_crls[1]
    assert.equals(INTER, ig.issuer)
    assert.equals(0, ig.depth)
    assert.equals("bad_signature", ig.reason)
    assert.equals(1861920000, ig.last_update)     -- 2029-01-01
  end)

  it("a forged CRL listing the client next to the genuine CRL: the genuine one decides", function()
    local r = verify(store{ "inter.crl", "forged-inter-alice.crl" }, "alice.pem")
    assert.is_true(r.ok)
    assert.equals(1, #r.ignored_crls)
  end)

  it("with crl_missing = allow, a forged CRL alone leaves revocation unknown (the CA publishes CRLs)", function()
    local r = verify(store{ "forged-inter-alice.crl" }, "alice.pem", { crl_missing = "allow" })
    assert.is_false(r.ok)
    assert.equals("revocation_unknown", r.cause)
    assert.equals("X509_V_ERR_CRL_SIGNATURE_FAILURE", r.problems[1].code_name)
    assert.equals(1, #r.ignored_crls)
  end)

  it("a newer forged CRL does not mask a genuine revocation", function()
    local r = verify(store{ "inter.crl", "forged-inter-newer.crl" }, "mallory.pem")
    assert.is_false(r.ok)
    assert.equals("revoked", r.cause)
    assert.equals("keyCompromise", r.problems[1].reason)
    assert.equals(INTER, r.ignored_crls[1].issuer)
    local r2 = verify(store{ "forged-inter-newer.crl", "inter.crl" }, "mallory.pem")
    assert.equals("revoked", r2.cause)
  end)

  it("a forged root CRL does not revoke the intermediate (crl = chain)", function()
    local r = verify(store{ "root.crl", "inter.crl", "forged-root-inter.crl" }, "alice.pem", { crl = "chain" })
    assert.is_true(r.ok)
    assert.equals(ROOT, r.ignored_crls[1].issuer)
    assert.equals(1, r.ignored_crls[1].depth)
    local r2 = verify(store{ "inter.crl", "forged-root-inter.crl" }, "alice.pem", { crl = "chain" })
    assert.is_false(r2.ok)
    assert.equals("revocation_unknown", r2.cause)
  end)

  it("with extended CRL support (and its second pass) a forged CRL is still set aside", function()
    local ext = { flags = { "extended_crl_support" } }
    local r = verify(store{ "inter.crl", "forged-inter-alice.crl" }, "alice.pem", ext)
    assert.is_true(r.ok)
    assert.equals(1, #r.ignored_crls)
    local r2 = verify(store{ "forged-inter-alice.crl" }, "alice.pem", ext)
    assert.equals("revocation_unknown", r2.cause)
    for _, p in ipairs(r2.problems) do assert.is_not.equals("revoked", p.cause) end
    local r3 = verify(store{ "inter.crl", "forged-inter-newer.crl" }, "mallory.pem", ext)
    assert.equals("revoked", r3.cause)
    -- the default options reach the same verdicts (the second pass with extended support
    -- runs only when no CRL could be used)
    assert.equals("revocation_unknown", verify(store{ "forged-inter-alice.crl" }, "alice.pem").cause)
  end)

  it("gives the same verdicts when the store's CRL signature checks are remembered", function()
    local s = store{ "inter.crl", "forged-inter-newer.crl", "forged-inter-alice.crl" }
    for _ = 1, 3 do
      assert.equals("revoked", verify(s, "mallory.pem").cause)
      local r = verify(s, "alice.pem")
      assert.is_true(r.ok)
      assert.equals(2, #r.ignored_crls)
    end
  end)

  it("judges a CRL against an issuer the client sent (not the store's)", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"), crls = { pki.path("forged-inter-alice.crl") } })
    local leaf = clientcert.load(pki.path("alice.pem"))
    for _ = 1, 2 do
      local r = assert(s:verify(leaf, { chain = { pki.read("inter.pem") }, time = pki.T, crl = "leaf" }))
      assert.equals("revocation_unknown", r.cause)
      assert.equals(1, #r.ignored_crls)
    end
  end)

  it("genuine CRLs give no ignored_crls and the same verdicts as before", function()
    local r = verify(store{ "root.crl", "inter.crl" }, "mallory.pem", { crl = "chain" })
    assert.equals("revoked", r.cause)
    assert.is_nil(r.ignored_crls)
    assert.is_true(verify(store{ "root.crl", "inter.crl" }, "alice.pem", { crl = "chain" }).ok)
  end)

  it("the policy names the forged CRL in also, never as the primary cause", function()
    local p = clientcert.policy{ trust = store{ "forged-inter-alice.crl" }, verify = { crl = "leaf" } }
    local v = p:check{ cert = pki.read("alice.pem"), time = pki.T }
    assert.is_false(v.accepted)
    assert.equals("revocation_unknown", v.cause)
    assert.is_true(has(v.also, "crl_bad_signature"))
    local p2 = clientcert.policy{ trust = store{ "inter.crl", "forged-inter-alice.crl" }, verify = { crl = "leaf" } }
    local v2 = p2:check{ cert = pki.read("alice.pem"), time = pki.T }
    assert.is_true(v2.accepted)
    assert.is_true(has(v2.also, "crl_bad_signature"))
  end)

  it("the catalogue has crl_bad_signature, ranked just after revocation_unknown", function()
    local causes = require "clientcert.causes"
    local c = assert(causes.get("crl_bad_signature"))
    assert.equals(403, c.status)
    assert.equals("403.16", c.substatus)
    assert.equals(causes.rank("revocation_unknown") + 1, causes.rank("crl_bad_signature"))
    local text = causes.render("crl_bad_signature", { element = INTER })
    assert.matches("Test Issuing CA", text, 1, true)
  end)

  it("audit_store reports a CRL of the store that no certificate of that name signed", function()
    local report = clientcert.audit_store(store{ "inter.crl", "forged-inter-alice.crl" }, { time = pki.T })
    assert.is_false(report.ok)
    local n = 0
    for _, f in ipairs(report.findings) do
      if f.cause == "crl_bad_signature" then
        n = n + 1
        assert.equals(INTER, f.subject)
        assert.matches("Test Issuing CA", f.message, 1, true)
      end
    end
    assert.equals(1, n)
    assert.is_true(clientcert.audit_store(store{ "inter.crl", "root.crl" }, { time = pki.T }).ok)
    local crls = store{ "inter.crl", "forged-inter-alice.crl" }:crls()
    assert.equals(2, #crls)
  end)
end)
