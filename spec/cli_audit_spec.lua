-- `clientcert audit-store`, `crl-status` and `scan`, run as real processes
-- (bin/clientcert) on the generated PKI (spec/fixtures/cli_audit.sh).
local exec = require("helpers.cli").exec
local cjson = require "cjson"
local pki = require "helpers.pki"

local T = "2030-06-01"

-- checks = checks_of(report): the list of finding checks, in order.
local function checks_of(report)
  local out = {}
  for _, f in ipairs(report.findings) do out[#out + 1] = f.check end
  return out
end

-- f = finding(report, check): the first finding of that check.
local function finding(report, check)
  for _, f in ipairs(report.findings) do if f.check == check then return f end end
  return nil
end

describe("clientcert audit-store", function()
  it("reports an intermediate among the roots, with the CA names list size", function()
    local code, out, err = exec{ "audit-store", "--roots", pki.path("roots-with-inter.pem"), "--time", T }
    assert.equals(1, code)
    assert.equals("", err)
    assert.matches("2 trusted certificates from 1 files checked at 2030-06-01T00:00:00Z", out, 1, true)
    assert.matches("- intermediate_in_roots: The server's trusted root store holds CN=Test Issuing CA", out, 1, true)
    assert.matches("CA names a server sends in its CertificateRequest: 2 names, ", out, 1, true)
    assert.matches("Result: PROBLEMS FOUND %(1%)\n$", out)
  end)

  it("finds expiring, duplicate, non-CA, weak-key and SHA-1 roots (text and JSON)", function()
    local code, out = exec{ "audit-store", "--roots", pki.path("audit-roots.pem"), "--time", T }
    assert.equals(1, code)
    assert.matches("- expires_soon: The trusted certificate CN=Soon Expiring Root CA,O=clientcert tests expires on "
      .. "2030-06-20T00:00:00Z", out, 1, true)
    assert.matches("- duplicate: Two trusted certificates named CN=Test Root CA,O=clientcert tests have the same key",
      out, 1, true)
    assert.matches("- not_ca: The trusted certificate CN=selfsigned-leaf", out, 1, true)
    assert.matches("- weak_key: The trusted certificate CN=Weak Key Root CA,O=clientcert tests has a 1024-bit RSA key",
      out, 1, true)
    assert.matches("- weak_signature: The trusted certificate CN=SHA1 Root CA,O=clientcert tests is signed with SHA-1",
      out, 1, true)

    local jcode, json = exec{ "audit-store", "--roots", pki.path("audit-roots.pem"), "--time", T, "--json" }
    assert.equals(1, jcode)
    local r = cjson.decode(json)
    assert.is_false(r.ok)
    assert.equals(6, r.count)
    assert.equals(30, r.warn_days)
    assert.equals(1906502400, r.time)
    local got = checks_of(r)
    table.sort(got)
    assert.same({ "duplicate", "expires_soon", "not_ca", "weak_key", "weak_signature" }, got)
    assert.equals(19, finding(r, "expires_soon").days_left)
    assert.equals(1024, finding(r, "weak_key").key_bits)
    -- 5 distinct names (the duplicate root shares root's name): 5 names, each with its 2-byte length
    assert.equals(5, r.ca_names.count)
    assert.is_false(r.ca_names.over_schannel)
  end)

  it("--warn-days moves the expiry window", function()
    local _, json = exec{ "audit-store", "--roots", pki.path("soon-root.pem"), "--time", T, "--warn-days", "10",
                          "--json" }
    assert.same({}, checks_of(cjson.decode(json)))
    local code = exec{ "audit-store", "--roots", pki.path("soon-root.pem"), "--time", T, "--warn-days", "19" }
    assert.equals(0, code)
    code = exec{ "audit-store", "--roots", pki.path("soon-root.pem"), "--time", T, "--warn-days", "20" }
    assert.equals(1, code)
    local bad, _, err = exec{ "audit-store", "--roots", pki.path("root.pem"), "--warn-days", "soon" }
    assert.equals(2, bad)
    assert.matches("--warn-days must be an integer 0 .. 36500, got 'soon'", err, 1, true)
  end)

  it("counts the CA names bytes exactly (DER subject + 2 each, each distinct name once)", function()
    -- the subject's DER size as openssl asn1parse sees it: the 6th element (d=2) of the TBS
    local function subject_size(name)
      local p = assert(io.popen("openssl asn1parse -in " .. pki.path(name)))
      local n = 0
      for line in p:lines() do
        local hl, l = line:match("d=2%s+hl=(%d+)%s+l=%s*(%d+)")
        if hl then
          n = n + 1
          if n == 6 then p:close() return tonumber(hl) + tonumber(l) end
        end
      end
      p:close()
      error("no subject in " .. name)
    end
    local _, json = exec{ "audit-store", "--roots", pki.path("root.pem"), "--roots", pki.path("other-root.pem"),
                          "--roots", pki.path("dup-root.pem"), "--time", T, "--json" }
    local r = cjson.decode(json)
    assert.equals(2, r.ca_names.count)
    assert.equals(2 + subject_size("root.pem") + 2 + subject_size("other-root.pem"), r.ca_names.bytes)
  end)

  it("says what happens over the Schannel 16 KB and the TLS 64 KB limits", function()
    local code, out = exec{ "audit-store", "--roots", pki.path("names-16k.pem"), "--time", T }
    assert.equals(1, code)
    assert.matches("over the 16384 bytes Windows (Schannel) clients accept: they send no certificate and the server "
      .. "answers 403.7", out, 1, true)
    local _, json = exec{ "audit-store", "--roots", pki.path("names-16k.pem"), "--time", T, "--json" }
    local r = cjson.decode(json)
    assert.same({ "ca_names_too_large" }, checks_of(r))
    assert.equals(4, r.ca_names.count)
    assert.is_true(r.ca_names.bytes > 16384 and r.ca_names.bytes <= 65535)
    assert.is_true(r.ca_names.over_schannel)
    assert.is_false(r.ca_names.over_tls)

    code, out = exec{ "audit-store", "--roots", pki.path("names-64k.pem"), "--time", T }
    assert.equals(1, code)
    assert.matches("over the 65535 bytes a TLS CertificateRequest can carry: the handshake cannot be completed",
      out, 1, true)
    _, json = exec{ "audit-store", "--roots", pki.path("names-64k.pem"), "--time", T, "--json" }
    r = cjson.decode(json)
    assert.equals(17, r.ca_names.count)
    assert.is_true(r.ca_names.over_tls)
  end)

  it("reads every certificate file of a directory, reporting the others", function()
    local dir = pki.path("scan/team-a")
    local code, out = exec{ "audit-store", "--roots", dir, "--time", T, "--json" }
    assert.equals(1, code)
    local r = cjson.decode(out)
    assert.equals(2, r.files)                 -- alice.pem, bob.der (deep/ is not entered)
    assert.equals(2, r.count)
    local got = checks_of(r)
    table.sort(got)
    assert.same({ "intermediate_in_roots", "intermediate_in_roots", "not_ca", "not_ca" }, got)
  end)

  it("a clean store exits 0", function()
    local code, out = exec{ "audit-store", "--roots", pki.path("root.pem"), "--roots", pki.path("other-root.pem"),
                            "--time", T }
    assert.equals(0, code)
    assert.matches("Result: OK\n$", out)
  end)

  -- The strict profile's rules as findings of the store (profile_findings): reported with what
  -- Go, rustls-webpki and Windows do, never counted in ok or the exit code.
  it("lists the strict profile's rules each root breaks and which verifiers refuse it (text and JSON)", function()
    local _, json = exec{ "audit-store", "--roots", pki.path("audit-roots.pem"), "--time", T, "--json" }
    local r = cjson.decode(json)
    local weak
    for _, f in ipairs(r.profile_findings) do
      if f.id == "STRICT_WEAK_KEY" then weak = f end
    end
    assert.is_table(weak)
    assert.equals("CN=Weak Key Root CA,O=clientcert tests", weak.subject)
    assert.equals("CA/B BR 6.1.5", weak.rule)
    assert.equals("its key is weak (RSA key of 1024 bits (under 2048))", weak.problem)
    assert.same({ "rustls-webpki" }, weak.rejected_by)
    assert.same({ "go", "webpki", "schannel" }, { weak.verifiers[1].verifier, weak.verifiers[2].verifier,
                                                  weak.verifiers[3].verifier })
    assert.equals("rejects", weak.verifiers[2].verdict)
    assert.matches("ring_algs.rs", weak.verifiers[2].source, 1, true)
    -- a self-signed SHA-1 root: a trust anchor's own signature is not checked, no finding
    for _, f in ipairs(r.profile_findings) do
      assert.not_equals("CN=SHA1 Root CA,O=clientcert tests", f.subject)
    end

    -- a root with extended key usage serverAuth only: a finding (Go enforces EKUs down the chain to
    -- the root), yet the store has no problem: exit 0
    local dir = os.tmpname()
    os.remove(dir)
    local q = require("helpers.sh").quote
    local ok = os.execute(("mkdir -p %s && cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
      .. "-nodes -keyout r.key -out r.pem -days 3650 -subj '/O=clientcert tests/CN=EKU Root' "
      .. "-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' "
      .. "-addext 'extendedKeyUsage=serverAuth' >/dev/null 2>&1"):format(q(dir), q(dir)))
    assert(ok == true or ok == 0, "openssl failed")
    local code, out = exec{ "audit-store", "--roots", dir .. "/r.pem", "--time", T }
    assert.equals(0, code, out)
    assert.matches("\n1. STRICT_EKU_IN_ROOT [CA/B BR 7.1.2.1.2] at depth 1, CN=EKU Root,O=clientcert tests: it is a "
      .. "root CA certificate with extended key usage\n   rejected by: Go crypto/x509\n", out, 1, true)
    assert.matches("Result: OK\n$", out)
    local _, j = exec{ "audit-store", "--roots", dir .. "/r.pem", "--time", T, "--json" }
    local rr = cjson.decode(j)
    assert.is_true(rr.ok)
    assert.same({}, rr.findings)
    assert.equals(1, #rr.profile_findings)
    assert.equals("STRICT_EKU_IN_ROOT", rr.profile_findings[1].id)
    assert.equals("accepts", rr.profile_findings[1].verifiers[2].verdict)
    os.execute("rm -rf " .. q(dir))
    -- a clean store: none
    local _, clean = exec{ "audit-store", "--roots", pki.path("root.pem"), "--time", T, "--json" }
    assert.same({}, cjson.decode(clean).profile_findings)
    local _, text = exec{ "audit-store", "--roots", pki.path("root.pem"), "--time", T }
    assert.is_nil(text:find("Strict profile", 1, true))
  end)

  describe("bad input (exit 2, one line on stderr)", function()
    local function bad(args, pattern)
      local code, out, err = exec(args)
      assert.equals(2, code)
      assert.equals("", out)
      assert.matches(pattern, err)
      return err
    end
    it("a missing file", function()
      local err = bad({ "audit-store", "--roots", pki.path("no-such.pem") }, "no%-such%.pem")
      assert.matches("No such file or directory\n$", err)
      assert.equals(1, select(2, err:gsub("\n", "")))
    end)
    it("a directory without certificates", function()
      bad({ "audit-store", "--roots", pki.path("scan/junk") }, "scan/junk: no certificate file in this directory")
    end)
    it("a PEM with garbage", function()
      bad({ "audit-store", "--roots", pki.path("scan/junk/garbage.pem") }, "^clientcert%.audit_store: .*garbage%.pem: ")
    end)
    it("an unknown flag", function()
      bad({ "audit-store", "--roots", pki.path("root.pem"), "--frobnicate" }, "unknown option '%-%-frobnicate'")
    end)
  end)
end)

describe("core.list_dir", function()
  local core = require "clientcert.core"
  local function by_name(list)
    local t = {}
    for _, e in ipairs(list) do t[e.name] = e end
    return t
  end

  it("lists one directory with lstat types; a link is never taken for what it points to", function()
    local list = assert(core.list_dir(pki.path("scan/team-a/deep")))
    assert.equals(2, #list)
    local e = by_name(list)
    assert.equals("file", e["old.pem"].type)
    assert.equals("link", e.up.type)
    assert.equals("dir", e.up.target)
    assert.matches("^%d+:%d+$", e["old.pem"].id)
    local top = by_name(assert(core.list_dir(pki.path("scan/team-a"))))
    assert.equals("dir", top.deep.type)
    -- the link's id is its target's: a walker can tell it is team-a itself
    assert.equals(by_name(assert(core.list_dir(pki.path("scan"))))["team-a"].id, e.up.id)
  end)

  it("fails with a reason, never raises, on what is not a listable directory", function()
    local l, err, code = core.list_dir(pki.path("root.pem"), 10, "scan")
    assert.is_nil(l)
    assert.equals("clientcert.scan: " .. pki.path("root.pem") .. ": not a directory", err)
    assert.equals("not_a_directory", code)
    l, err = core.list_dir(pki.path("nothing-here"))
    assert.is_nil(l)
    assert.matches("^clientcert%.list_dir: .*nothing%-here: No such file or directory$", err)
    l, err = core.list_dir(pki.path("scan") .. "\0/etc")
    assert.is_nil(l)
    assert.matches("NUL", err)
  end)

  it("is bounded: more entries than the limit is an error", function()
    local l, err = core.list_dir(pki.path("scan/team-b"), 3)
    assert.is_nil(l)
    assert.matches("more than 3 entries$", err)
    assert.equals(4, #assert(core.list_dir(pki.path("scan/team-b"), 4)))
    assert.has_error(function() core.list_dir(pki.path("scan"), 0) end)
  end)
end)

describe("clientcert.audit_store warn_days", function()
  local clientcert = require "clientcert"
  it("is an integer 0 .. 36500; anything else is a programmer error", function()
    local store = assert(clientcert.store{ roots = pki.path("soon-root.pem") })
    assert.equals(30, clientcert.audit_store(store, { time = pki.T }).warn_days)
    assert.is_true(clientcert.audit_store(store, { time = pki.T, warn_days = 0 }).ok)
    assert.is_true(clientcert.audit_store(store, { time = pki.T, warn_days = 19 }).ok)   -- expires in exactly 19 days
    assert.is_false(clientcert.audit_store(store, { time = pki.T, warn_days = 20 }).ok)
    for _, bad in ipairs({ -1, 1.5, "30", 36501 }) do
      assert.has_error(function() clientcert.audit_store(store, { time = pki.T, warn_days = bad }) end)
    end
  end)

  it("raises for an unknown option (a misspelt warn_days was ignored, 30 used)", function()
    local store = assert(clientcert.store{ roots = pki.path("soon-root.pem") })
    assert.has_error(function() clientcert.audit_store(store, { time = pki.T, warn_day = 0 }) end,
      "clientcert.audit_store: unknown option 'warn_day'")
    local policy = clientcert.policy{ trust = store }
    assert.has_error(function() policy:audit{ tme = pki.T } end, "clientcert.audit_store: unknown option 'tme'")
  end)
end)
