-- `clientcert audit-client` run as a real process on the test PKI: the key, client
-- authentication, the completeness of the chain the client sends, expiry; findings
-- with causes (exit 1), a clean client (exit 0), bad input (exit 2).
local runner = require "helpers.cli"
local cjson = require "cjson"
local pki = require "helpers.pki"

local P = pki.path
local T = "2030-06-01"

local function audit(...)
  local args = { "audit-client", ... }
  args[#args + 1] = "--time"
  args[#args + 1] = T
  return runner.exec(args)
end

-- The findings' cause ids of a JSON report, in order.
local function ids(report)
  local out = {}
  for i, f in ipairs(report.findings) do out[i] = f.cause end
  return out
end

describe("clientcert audit-client", function()
  it("a clean client: key, client authentication, complete chain, expiry; exit 0", function()
    local code, out, err = audit(P("alice.pem"), "--key", P("alice.key"), "--chain", P("inter.pem"),
      "--roots", P("root.pem"))
    assert.equals("", err)
    assert.equals(0, code)
    assert.matches("^Client certificate: CN=alice,O=clientcert tests %(serial 1002%)\nChecked at "
      .. "2030%-06%-01T00:00:00Z\n", out)
    assert.matches("\n✓ Private key: the --key file matches the certificate\n", out, 1, true)
    assert.matches("\n✓ Client authentication: allowed (extended key usage: clientAuth; key usage: "
      .. "digitalSignature)\n", out, 1, true)
    assert.matches("\n✓ Chain sent: complete up to the trusted root CN=Test Root CA,O=clientcert tests\n", out, 1, true)
    assert.matches("\nExpiry:\n  CN=alice,O=clientcert tests: 2040-01-01T00:00:00Z (in 3501 days)\n"
      .. "  CN=Test Issuing CA,O=clientcert tests: 2040-01-01T00:00:00Z (in 3501 days)\n"
      .. "  CN=Test Root CA,O=clientcert tests: 2040-01-01T00:00:00Z (in 3501 days), from --roots\n", out, 1, true)
    assert.matches("\nResult: OK\n$", out)
  end)

  it("names the intermediate the client does not send (missing_intermediate, exit 1)", function()
    local code, out = audit(P("alice.pem"), "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("\n✗ Chain sent: incomplete: the intermediate CA CN=Test Issuing CA,O=clientcert tests is "
      .. "missing (not sent)\n", out, 1, true)
    assert.matches("\n1. missing_intermediate (403.16 Intermediate CA missing)\n", out, 1, true)
    assert.matches("[client owner] Send the full chain", out, 1, true)
    assert.matches("\nResult: 1 finding\n$", out)
    local _, json = audit(P("alice.pem"), "--roots", P("root.pem"), "--json")
    local r = cjson.decode(json)
    assert.is_false(r.ok)
    assert.is_false(r.chain.complete)
    assert.equals("CN=Test Issuing CA,O=clientcert tests", r.chain.missing)
    assert.same({ "missing_intermediate" }, ids(r))
    assert.equals("CN=Test Issuing CA,O=clientcert tests", r.findings[1].missing)
  end)

  it("without --roots, an issuer not sent may be a root: unknown, not a finding", function()
    local code, out = audit(P("alice.pem"))
    assert.equals(0, code)
    assert.matches("\n? Chain sent: ends at CN=alice,O=clientcert tests, issued by CN=Test Issuing CA,O=clientcert "
      .. "tests, which the client does not send", out, 1, true)
    assert.matches("\n? Private key: not checked", out, 1, true)
    local _, json = audit(P("alice.pem"), "--json")
    local r = cjson.decode(json)
    assert.is_nil(r.chain.complete)
    assert.is_false(r.key.checked)
  end)

  it("a key that does not match: no_private_key", function()
    local code, out = audit(P("alice.pem"), "--key", P("wrong.key"), "--chain", P("inter.pem"),
      "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("\n✗ Private key: the --key file does NOT match the certificate\n", out, 1, true)
    assert.matches("the --key file is the key of another certificate", out, 1, true)
    assert.matches("\n1. no_private_key (403.7 No private key for the client certificate)\n", out, 1, true)
  end)

  it("a certificate not for client authentication: wrong_purpose", function()
    local code, out = audit(P("server-only.pem"), "--chain", P("inter.pem"), "--roots", P("root.pem"), "--json")
    assert.equals(1, code)
    local r = cjson.decode(out)
    assert.same({ "wrong_purpose" }, ids(r))
    assert.is_false(r.client_auth.ok)
    assert.same({ "serverAuth" }, r.client_auth.eku)
    assert.matches("does not include clientAuth", r.findings[1].message, 1, true)
  end)

  it("when each element expires: an expired client and an expired intermediate", function()
    local code, out = audit(P("old.pem"), "--chain", P("inter.pem"), "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("\n  CN=old,O=clientcert tests: 2025-01-01T00:00:00Z (expired 1977 days ago)\n", out, 1, true)
    assert.matches("\n1. expired (403.17 Certificate expired)\n", out, 1, true)
    local _, json = audit(P("frank.pem"), "--chain", P("inter-expired.pem"), "--roots", P("root.pem"), "--json")
    local r = cjson.decode(json)
    assert.same({ "expired" }, ids(r))
    assert.equals(1, r.findings[1].depth)
    assert.equals(-1977, r.chain.elements[2].days_left)
    assert.equals(3501, r.chain.elements[1].days_left)
  end)

  -- One verdict builder (clientcert.verdict): audit-client named a CA of the path
  -- without its depth ("the intermediate CA CN=..."), where `clientcert check`
  -- (the policy's verdict) says "the intermediate CA CN=... (chain depth 1)";
  -- settled on the verdict's wording. The steps stay worded for the server the
  -- client meets (check's are for its own --intermediates and --policy).
  it("names an element of the path as `clientcert check` names it (with its depth)", function()
    local function run(command)
      local _, json = runner.exec{ command, P("frank.pem"), "--chain", P("inter-expired.pem"), "--roots",
                                   P("root.pem"), "--time", T, "--json" }
      return cjson.decode(json)
    end
    local f, v = run("audit-client").findings[1], run("check")
    assert.equals("expired", f.cause)
    assert.equals("expired", v.cause)
    assert.matches("^The intermediate CA CN=[^\n]+ %(chain depth 1%) expired on ", f.message)
    assert.equals(v.message, f.message)
    local steps = {}
    for _, r in ipairs(f.resolution) do steps[#steps + 1] = r.step end
    assert.matches("Check the server clock if the dates look right.", table.concat(steps, "\n"), 1, true)
  end)

  it("a client of a CA the server does not trust: untrusted_root", function()
    local code, out = audit(P("oscar.pem"), "--chain", P("oscar-chain.pem"), "--roots", P("root.pem"), "--json")
    assert.equals(1, code)
    local r = cjson.decode(out)
    assert.same({ "untrusted_root" }, ids(r))
    assert.is_false(r.chain.complete)
  end)

  it("a PKCS#12 file: its key and certificates count", function()
    local code, out = runner.exec({ "audit-client", P("alice.p12"), "--password-env", "P12_PASS", "--roots",
      P("root.pem"), "--time", T }, { env = { P12_PASS = "secret" } })
    assert.equals(0, code, out)
    assert.matches("\n✓ Private key: the key in the PKCS#12 file matches the certificate\n", out, 1, true)
    code, out = runner.exec({ "audit-client", P("alice-nokey.p12"), "--password-env", "P12_PASS", "--roots",
      P("root.pem"), "--time", T, "--json" }, { env = { P12_PASS = "secret" } })
    assert.equals(1, code)
    assert.same({ "no_private_key" }, ids(cjson.decode(out)))
  end)

  -- A client certificate the default verification accepts but that breaks rules of the
  -- strict profile: negative serial, SHA-1 signature, anyExtendedKeyUsage, a 1024-bit
  -- RSA key. Made here (openssl), issued by the test PKI's intermediate.
  it("lists the strict profile's rules a client breaks and which verifiers refuse it, without rejecting", function()
    local sh = require("helpers.sh").quote
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. sh(dir)))
    local f = assert(io.open(dir .. "/ext.cnf", "wb"))
    f:write("[leaf]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
      .. "extendedKeyUsage = clientAuth, anyExtendedKeyUsage\nsubjectKeyIdentifier = hash\n"
      .. "authorityKeyIdentifier = keyid\n")
    f:close()
    local d = sh(dir)
    local ok = os.execute(("(cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out lax.key "
      .. "&& openssl req -new -key lax.key -subj '/O=clientcert tests/CN=lax' -out lax.csr "
      .. "&& openssl x509 -req -in lax.csr -out lax.pem -days 7300 -set_serial -5 -sha1 -CA %s -CAkey %s "
      .. "-extfile ext.cnf -extensions leaf) >/dev/null 2>&1"):format(d, sh(P("inter.pem")), sh(P("inter.key"))))
    assert(ok == true or ok == 0, "openssl failed")
    local lax = dir .. "/lax.pem"
    local code, out = audit(lax, "--key", dir .. "/lax.key", "--chain", P("inter.pem"), "--roots", P("root.pem"))
    assert.equals(0, code, out)                       -- findings of the profile reject nothing
    assert.matches("\nResult: OK\n$", out)
    assert.matches("\nStrict profile (RFC 5280 / CA/B rules of --profile strict; reported, not rejected here): "
      .. "4 findings\n", out, 1, true)
    assert.matches("\n1. STRICT_SERIAL_NEGATIVE [RFC 5280 4.1.2.2] at depth 0, CN=lax,O=clientcert tests: its serial "
      .. "number is negative (it MUST be a positive integer)\n   rejected by: Go crypto/x509\n", out, 1, true)
    assert.matches("\n   - rustls-webpki: accepts (serial numbers are read leniently", out, 1, true)
    assert.matches("\n   - Windows Schannel (CryptoAPI): not documented\n", out, 1, true)

    local _, json = audit(lax, "--chain", P("inter.pem"), "--roots", P("root.pem"), "--json")
    local r = cjson.decode(json)
    assert.is_true(r.ok)
    assert.same({}, r.findings)
    local by = {}
    for _, x in ipairs(r.profile_findings) do
      assert.equals(0, x.depth)
      assert.equals("CN=lax,O=clientcert tests", x.subject)
      assert.equals(3, #x.verifiers)
      by[x.id] = x
    end
    local got = {}
    for id in pairs(by) do got[#got + 1] = id end
    table.sort(got)
    assert.same({ "STRICT_EKU_ANY", "STRICT_SERIAL_NEGATIVE", "STRICT_WEAK_KEY", "STRICT_WEAK_SIGNATURE" }, got)
    assert.equals("RFC 5280 4.1.2.2", by.STRICT_SERIAL_NEGATIVE.rule)
    assert.same({ "Go crypto/x509" }, by.STRICT_SERIAL_NEGATIVE.rejected_by)
    local go = by.STRICT_SERIAL_NEGATIVE.verifiers[1]
    assert.equals("go", go.verifier)
    assert.equals("rejects", go.verdict)
    assert.matches("Go 1.23", go.note, 1, true)
    assert.matches("^https://go.dev/doc/godebug", go.source)
    -- anyExtendedKeyUsage next to clientAuth: none of them refuses it
    assert.same({}, by.STRICT_EKU_ANY.rejected_by)
    assert.equals("accepts", by.STRICT_EKU_ANY.verifiers[1].verdict)
    assert.equals("accepts", by.STRICT_EKU_ANY.verifiers[2].verdict)
    assert.matches("\n   rejected by: none documented\n", out, 1, true)
    -- a 1024-bit RSA key: under rustls-webpki's 2048; not under Go's or Windows' 1024
    assert.same({ "rustls-webpki" }, by.STRICT_WEAK_KEY.rejected_by)
    assert.equals("CA/B BR 6.1.5", by.STRICT_WEAK_KEY.rule)
    assert.matches("RSA key of 1024 bits", by.STRICT_WEAK_KEY.problem, 1, true)
    assert.equals("not documented", by.STRICT_WEAK_KEY.verifiers[1].verdict)
    assert.equals("not documented", by.STRICT_WEAK_KEY.verifiers[3].verdict)
    -- SHA-1: Go (1.18) and rustls-webpki; Windows documents its block for Microsoft Root Program roots only
    assert.same({ "Go crypto/x509", "rustls-webpki" }, by.STRICT_WEAK_SIGNATURE.rejected_by)
    assert.equals("not documented", by.STRICT_WEAK_SIGNATURE.verifiers[3].verdict)
    assert.matches("Microsoft Root", by.STRICT_WEAK_SIGNATURE.verifiers[3].note, 1, true)
    os.execute("rm -rf " .. d)
  end)

  it("a client that follows the strict profile has no profile finding", function()
    local _, json = audit(P("alice.pem"), "--chain", P("inter.pem"), "--roots", P("root.pem"), "--json")
    assert.same({}, cjson.decode(json).profile_findings)
    local _, out = audit(P("alice.pem"), "--chain", P("inter.pem"), "--roots", P("root.pem"))
    assert.is_nil(out:find("Strict profile", 1, true))          -- no section when there is nothing to say
  end)

  it("escapes certificate-derived text", function()
    local code, out = audit(P("hostile-text.pem"), "--chain", P("inter.pem"), "--roots", P("root.pem"))
    assert.equals(0, code)
    assert.matches("Client certificate: CN=hostile\\u202e\\u009btxt,O=clientcert tests", out, 1, true)
    assert.is_nil(out:find("\27", 1, true))
    assert.is_nil(out:find("\226\128\174", 1, true)) -- U+202E raw
  end)

  it("bad input exits 2 with one line on stderr", function()
    local function bad(code, out, err, pattern)
      assert.equals(2, code)
      assert.equals("", out)
      assert.matches("^[^\n]+\n$", err)
      assert.matches(pattern or "^clientcert", err)
    end
    local function case(pattern, ...)
      local code, out, err = audit(...)
      bad(code, out, err, pattern)
    end
    case("^clientcert%.audit_client: cannot open [^\n]*none%.pem", P("none.pem"))
    case("garbage%.pem: ", P("garbage.pem"))
    case("^clientcert: unknown option '%-%-bogus'", P("alice.pem"), "--bogus")
    case("^clientcert%.audit_client: [^\n]*alice%-enc%.key: cannot read private key %(", P("alice.pem"), "--key",
      P("alice-enc.key"))
    case("wrong or missing password", P("alice.p12"))
    case("none%.pem", P("alice.pem"), "--roots", P("none.pem"))
  end)
end)
