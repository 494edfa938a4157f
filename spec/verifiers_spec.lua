-- clientcert.verifiers: what Go's crypto/x509, rustls-webpki and Windows do with a
-- certificate breaking a strict-profile rule (the table behind the audits' profile findings).
local verifiers = require "clientcert.verifiers"
local profile = require "clientcert.profile"

describe("clientcert.verifiers", function()
  it("has an entry for every rule of the strict profile, each verdict with a source", function()
    for code in pairs(profile.RULES) do
      assert.is_true(verifiers.covers(code), code)
      local row = verifiers.of(code, { extensions = {}, eku = {}, public_key = {} }, { depth = 0 })
      assert.equals(3, #row, code)
      for i, v in ipairs(row) do
        assert.equals(verifiers.ORDER[i], v.verifier)
        assert.is_truthy(({ rejects = true, accepts = true, ["not documented"] = true })[v.verdict], v.verdict)
        if v.verdict ~= "not documented" then assert.is_string(v.source, code .. " " .. v.verifier) end
      end
    end
  end)

  it("decides on the facts: key size, curve, hash, position in the path", function()
    local function verdicts(code, info, el, ctx)
      local out = {}
      for _, v in ipairs(verifiers.of(code, info, el, ctx)) do out[v.verifier] = v.verdict end
      return out
    end
    assert.same({ go = "rejects", webpki = "rejects", schannel = "rejects" },
      verdicts("STRICT_WEAK_KEY", { public_key = { type = "RSA", bits = 512 } }))
    assert.same({ go = "not documented", webpki = "rejects", schannel = "not documented" },
      verdicts("STRICT_WEAK_KEY", { public_key = { type = "RSA", bits = 1024 } }))
    assert.same({ go = "rejects", webpki = "rejects", schannel = "not documented" },
      verdicts("STRICT_WEAK_KEY", { public_key = { type = "DSA", bits = 2048 } }))
    assert.equals("rejects", verdicts("STRICT_WEAK_KEY", { public_key = { type = "EC", curve = "secp256k1" } }).webpki)
    assert.equals("rejects", verdicts("STRICT_WEAK_SIGNATURE", { signature_algorithm = "md5WithRSAEncryption" }).go)
    assert.equals("rejects", verdicts("STRICT_WEAK_SIGNATURE", { signature_algorithm = "sha1WithRSAEncryption" }).go)
    assert.equals("not documented", verdicts("STRICT_NOT_V3", {}, { depth = 0 }).go)
    assert.equals("rejects", verdicts("STRICT_NOT_V3", {}, { depth = 1 }).go)
    assert.equals("not documented", verdicts("STRICT_SAN_EMAIL_SYNTAX", {}, { depth = 0 }).go)
    assert.equals("rejects", verdicts("STRICT_SAN_EMAIL_SYNTAX", {}, { depth = 0 }, { name_constraints = true }).go)
    assert.equals("rejects", verdicts("STRICT_EKU_ANY", { eku = { "anyExtendedKeyUsage" } }).webpki)
    assert.equals("accepts", verdicts("STRICT_EKU_ANY", { eku = { "clientAuth", "anyExtendedKeyUsage" } }).webpki)
    assert.equals("rejects", verdicts("STRICT_EKU_IN_ROOT", { eku = { "serverAuth" } }).go)
    assert.equals("accepts", verdicts("STRICT_EKU_IN_ROOT", { eku = { "clientAuth" } }).go)
  end)

  it("backs clientcert.audit_store's profile_findings (the library's store audit), not counted in ok", function()
    local clientcert = require "clientcert"
    local pki = require "helpers.pki"
    local store = assert(clientcert.store{ roots = pki.path("audit-roots.pem") })
    local report = clientcert.audit_store(store, { time = pki.T })
    local weak
    for _, f in ipairs(report.profile_findings) do
      if f.id == "STRICT_WEAK_KEY" then weak = f end
    end
    assert.equals("CN=Weak Key Root CA,O=clientcert tests", weak.subject)
    assert.same({ "rustls-webpki" }, weak.rejected_by)
    local clean = clientcert.audit_store(assert(clientcert.store{ roots = pki.path("root.pem") }), { time = pki.T })
    assert.is_true(clean.ok)
    assert.same({}, clean.profile_findings)
  end)

  it("raises for a rule it does not know (a programmer error)", function()
    assert.has_error(function() verifiers.of("STRICT_NO_SUCH_RULE", {}) end,
      "clientcert.verifiers: no entry for STRICT_NO_SUCH_RULE")
  end)
end)
