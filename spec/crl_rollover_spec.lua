-- CRLs of a CA that rolled its key over (issue 20, PKITS 4.5): the CA's genuine CRL
-- signed by its other key, which the path holds higher up (the self-issued
-- old-with-new certificate), is found as OpenSSL finds it; and crl_missing = "allow"
-- means "this CA publishes no CRL", not "ignore the CRLs that could not be used".
-- Chains from spec/fixtures/rollover.sh (fixed dates) and the NIST PKITS cases.
local clientcert = require "clientcert"
local pkits = require "conformance.pkits"

local T = 1906502400   -- 2030-06-01

local live = require "helpers.live"

local dir = live.tempdir("clientcert-rollover")
live.fixture(dir, "rollover.sh")
teardown(function() live.run("rm -rf " .. live.q(dir)) end)   -- after every describe of this file
local function path(n) return dir .. "/" .. n end

local function store(crls)
  local list = {}
  for i, n in ipairs(crls) do list[i] = path(n) end
  return assert(clientcert.store{ roots = path("root.pem"), crls = list })
end

-- leaf through the new key's certificate and the self-issued old-with-new (PKITS 4.5.1),
-- or through the old key's certificate and new-with-old (PKITS 4.5.3)
local OLD_LEAF_CHAIN = { "ca-new.pem", "old-with-new.pem" }
local NEW_LEAF_CHAIN = { "ca-old.pem", "new-with-old.pem" }

local function verify(s, leaf, chain, opts)
  local list = {}
  for i, n in ipairs(chain) do list[i] = clientcert.load(path(n)) end
  local o = { chain = list, time = T, crl = "chain" }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(s:verify(clientcert.load(path(leaf)), o))
end

local function codes(r)
  local out = {}
  for _, p in ipairs(r.problems) do out[#out + 1] = p.code_name end
  return table.concat(out, ",")
end

describe("key rollover: the CA's CRL signed by its other key", function()
  it("accepts a leaf of the old key whose CA's only CRL the new key signed (old-with-new in the path)", function()
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = verify(store{ "new.crl", "root.crl" }, "eve.pem", OLD_LEAF_CHAIN, { crl_missing = missing })
      assert.is_true(r.ok, codes(r))
      assert.is_nil(r.ignored_crls)
      assert.equals(4, #r.chain)
    end
  end)

  it("revokes a leaf of the old key listed on the new key's CRL, with crl_missing = allow too", function()
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = verify(store{ "new.crl", "root.crl" }, "ivan.pem", OLD_LEAF_CHAIN, { crl_missing = missing })
      assert.is_false(r.ok)
      assert.equals("revoked", r.cause)
      assert.equals(0, r.problems[1].depth)
      assert.equals("keyCompromise", r.problems[1].reason)
      assert.equals(1, #r.problems)
    end
  end)

  it("new-with-old: the new key's leaf on the new key's CRL, the self-issued certificate on the old key's", function()
    local s = store{ "new.crl", "old.crl", "root.crl" }
    local r = verify(s, "nina.pem", NEW_LEAF_CHAIN)
    assert.is_true(r.ok, codes(r))
    local r2 = verify(s, "rita.pem", NEW_LEAF_CHAIN)
    assert.equals("revoked", r2.cause)
    assert.equals(0, r2.problems[1].depth)
  end)

  it("a forged CRL with the CA's name still revokes nothing and masks nothing", function()
    -- alone: it is no evidence, and the CA's revocation is unknown (it publishes CRLs)
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = verify(store{ "forged-eve.crl", "root.crl" }, "eve.pem", OLD_LEAF_CHAIN, { crl_missing = missing })
      assert.is_false(r.ok)
      assert.equals("revocation_unknown", r.cause)
      assert.equals("X509_V_ERR_CRL_SIGNATURE_FAILURE", r.problems[1].code_name)
      assert.equals("bad_signature", r.ignored_crls[1].reason)
      assert.equals(0, r.ignored_crls[1].depth)
    end
    -- next to the genuine CRL: the genuine one decides, both ways
    assert.is_true(verify(store{ "new.crl", "forged-eve.crl", "root.crl" }, "eve.pem", OLD_LEAF_CHAIN).ok)
    local r = verify(store{ "forged-newer.crl", "new.crl", "root.crl" }, "ivan.pem", OLD_LEAF_CHAIN)
    assert.equals("revoked", r.cause)
    assert.equals(2, #r.ignored_crls)          -- the forged CRL, at depth 0 and at depth 1
  end)

  it("gives the same verdicts when the CRL signature checks are remembered", function()
    local s = store{ "new.crl", "forged-newer.crl", "root.crl" }
    for _ = 1, 3 do
      assert.is_true(verify(s, "eve.pem", OLD_LEAF_CHAIN).ok)
      assert.equals("revoked", verify(s, "ivan.pem", OLD_LEAF_CHAIN).cause)
    end
  end)
end)

describe("crl_missing = allow: only a CA that publishes no CRL", function()
  it("accepts when no CRL names the CA (the root's CRL only)", function()
    local r = verify(store{ "root.crl" }, "eve.pem", OLD_LEAF_CHAIN, { crl_missing = "allow" })
    assert.is_true(r.ok, codes(r))
    assert.equals("revocation_unknown", verify(store{ "root.crl" }, "eve.pem", OLD_LEAF_CHAIN).cause)
  end)
end)

describe("key rollover and crl_missing on the NIST PKITS cases", function()
  local pdir = pkits.dir()
  local anchor = pkits.anchor(pdir)
  local function run(title, opts)
    return assert(pkits.verify(anchor, assert(pkits.read_message(pkits.message(pdir, title))), opts))
  end

  local VALID = { "Valid Basic Self-Issued Old With New Test1", "Valid Self-Issued pathLenConstraint Test15",
                  "Valid Self-Issued pathLenConstraint Test17", "Valid Self-Issued DN nameConstraints Test19" }
  for _, title in ipairs(VALID) do
    it("accepts " .. title .. " (the CA's CRL signed by its new key)", function()
      for _, missing in ipairs({ "reject", "allow" }) do
        local r = run(title, { crl_missing = missing })
        assert.is_true(r.ok, codes(r))
      end
    end)
  end

  it("revokes 4.5.2 Invalid Basic Self-Issued Old With New Test2, with crl_missing = allow too", function()
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = run("Invalid Basic Self-Issued Old With New Test2", { crl_missing = missing })
      assert.is_false(r.ok)
      assert.equals("revoked", r.cause)
      assert.equals(0, r.problems[1].depth)
    end
  end)

  it("4.4.4 (the CA's only CRL has a bad signature): revocation unknown, with crl_missing = allow too", function()
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = run("Invalid Bad CRL Signature Test4", { crl_missing = missing })
      assert.is_false(r.ok)
      assert.equals("revocation_unknown", r.cause)
      assert.equals("X509_V_ERR_CRL_SIGNATURE_FAILURE", r.problems[1].code_name)
      assert.equals(0, r.problems[1].depth)
      assert.equals(1, #r.ignored_crls)
    end
  end)

  it("4.4.5 (the CA's CRL names another issuer, its key identifier the CA's): not allowed", function()
    local r = run("Invalid Bad CRL Issuer Name Test5", { crl_missing = "allow" })
    assert.is_false(r.ok)
    assert.equals("revocation_unknown", r.cause)
  end)

  it("4.4.1 (no CRL for the CA at all) is what crl_missing = allow accepts", function()
    assert.equals("revocation_unknown", run("Missing CRL Test1").cause)
    assert.is_true(run("Missing CRL Test1", { crl_missing = "allow" }).ok)
  end)
end)
