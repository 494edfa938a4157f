-- Revocation beyond OpenSSL's defaults (issue 20), on the NIST PKITS cases: delta
-- CRLs are used, and when OpenSSL's defaults can use no CRL of a CA (indirect CRLs,
-- a cRLIssuer, onlySomeReasons, an issuing distribution point of another scope, a
-- separate CRL signing key) the verification is done again with extended CRL
-- support. A CRL whose scope does not cover the certificate or every reason is no
-- evidence that it is not revoked; any other problem still decides.
local pkits = require "conformance.pkits"

describe("CRL scope, indirect and delta CRLs (NIST PKITS)", function()
  local dir = pkits.dir()
  local anchor = pkits.anchor(dir)
  local function run(title, opts)
    local r, err, s = pkits.verify(anchor, assert(pkits.read_message(pkits.message(dir, title))), opts)
    return assert(r, err), s
  end
  local function codes(r)
    local out = {}
    for _, p in ipairs(r.problems) do out[#out + 1] = p.depth .. ":" .. p.code_name end
    return table.concat(out, ",")
  end

  local VALID = {
    "Valid Separate Certificate and CRL Keys Test19",   -- 4.4.19: a separate CRL signing key
    "Valid Basic Self-Issued New With Old Test4",       -- 4.5.4
    "Valid Basic Self-Issued CRL Signing Key Test6",    -- 4.5.6
    "Valid onlySomeReasons Test18",                     -- 4.14.18: two CRLs, each for some reasons
    "Valid onlySomeReasons Test19",
    "Valid IDP with indirectCRL Test22",
    "Valid IDP with indirectCRL Test24",                -- 4.14.24: an indirect CRL (cRLIssuer)
    "Valid IDP with indirectCRL Test25",
    "Valid cRLIssuer Test28",
    "Valid cRLIssuer Test29",
    "Valid cRLIssuer Test33",
    "Valid delta-CRL Test5",                            -- 4.15.5: the delta lifts a hold
  }
  for _, title in ipairs(VALID) do
    it("accepts " .. title .. ", with crl_missing = allow too", function()
      for _, missing in ipairs({ "reject", "allow" }) do
        local r = run(title, { crl_missing = missing })
        assert.is_true(r.ok, codes(r))
      end
    end)
  end

  local REVOKED = {
    "Invalid Separate Certificate and CRL Keys Test20", -- 4.4.20
    "Invalid Basic Self-Issued CRL Signing Key Test7",  -- 4.5.7
    "Invalid onlySomeReasons Test15",                   -- 4.14.15: revoked for a reason the CRL covers
    "Invalid onlySomeReasons Test16",
    "Invalid onlySomeReasons Test20",
    "Invalid onlySomeReasons Test21",
    "Invalid IDP with indirectCRL Test23",
    "Invalid cRLIssuer Test31",
    "Invalid cRLIssuer Test32",
    "Invalid cRLIssuer Test34",
    "Invalid delta-CRL Test4",                          -- 4.15.4: revoked on the delta CRL only
  }
  for _, title in ipairs(REVOKED) do
    it("revokes " .. title .. ", with crl_missing = allow too", function()
      for _, missing in ipairs({ "reject", "allow" }) do
        local r = run(title, { crl_missing = missing })
        assert.is_false(r.ok)
        assert.equals("revoked", r.cause, codes(r))
      end
    end)
  end

  it("4.14.17 (the CRL covers some reasons only): revocation unknown, never accepted", function()
    for _, missing in ipairs({ "reject", "allow" }) do
      local r = run("Invalid onlySomeReasons Test17", { crl_missing = missing })
      assert.is_false(r.ok)
      assert.equals("revocation_unknown", r.cause)
    end
  end)

  it("4.14.35 (the CRL's distribution point covers other certificates): revocation unknown", function()
    local r = run("Invalid cRLIssuer Test35")
    assert.equals("revocation_unknown", r.cause)
  end)

  it("4.14.27 (the cRLIssuer's CRL is not an indirect CRL): not allowed by crl_missing = allow", function()
    local r = run("Invalid cRLIssuer Test27", { crl_missing = "allow" })
    assert.is_false(r.ok)
    assert.equals("revocation_unknown", r.cause)
  end)

  it("another problem decides: the same valid path checked after the CA expired is still rejected", function()
    local r = run("Valid onlySomeReasons Test18", { time = 2000000000 })   -- 2033: after every notAfter
    assert.is_false(r.ok)
    assert.equals("expired", r.cause)
  end)

  it("keeps the CRL signature checks remembered on the usual path (no extended support needed)", function()
    local r, s = run("Valid Signatures Test1")
    assert.is_true(r.ok)
    assert.equals(0, s:stats().crl_openssl_checks)
  end)
end)
