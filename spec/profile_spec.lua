-- profile = "strict": each rule of clientcert.profile on a certificate made at
-- test time (openssl), verified at an explicit time; the default profile accepts
-- each of them (only the strict one names the rule), a clean chain passes both.
local clientcert = require "clientcert"
local runner = require "helpers.cli"

local T = 1906502400  -- 2030-06-01T00:00:00Z

local q = require("helpers.sh").quote
local live = require "helpers.live"

local function read(path) return assert(live.read(path)) end

local dir = live.tempdir("clientcert-profile")

-- lib(script): runs script (bash) in dir with the shell functions of the specs' PKI
-- library (spec/fixtures/pki-lib.sh: pki_init, key, issue, issue_serial), without
-- any sanitizer runtime this process may have (make asan: it is for our module only)
local function lib(script)
  local ok, out = live.run("env -u LD_PRELOAD bash -c " .. q(". spec/fixtures/pki-lib.sh && cd " .. q(dir)
    .. " && " .. script))
  assert(ok, "failed: " .. script .. "\n" .. out)
end

-- pki-lib.sh's ca.cnf (root_ext, client_ext, ca_ext, ca_pl0_ext ...) and these sections
local EXT = [[
[root_eku]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
extendedKeyUsage = clientAuth
[badsan]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:bad_name.example.com, DNS:127.0.0.1
[bademail]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:not-a-mailbox
[root_akinokeyid]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = issuer:always
[anyeku]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, anyExtendedKeyUsage
authorityKeyIdentifier = keyid
[criteku]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, clientAuth
authorityKeyIdentifier = keyid
[caleaf]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ncee]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
nameConstraints = critical, permitted;DNS:example.com
[ncnoncrit]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nameConstraints = permitted;DNS:.example.com
[pcnoncrit]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
policyConstraints = requireExplicitPolicy:0
[aia2]
basicConstraints = CA:FALSE
authorityInfoAccess = OCSP;URI:http://ocsp.test/, caIssuers;URI:http://ca.test/ca.cer
1.2.3.4 = critical, ASN1:UTF8String:x
extendedKeyUsage = critical, clientAuth
[nocrit]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash
[emptyaia]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
authorityInfoAccess = DER:3000
]]

-- issue{name, ext, issuer (nil: self-signed), serial, kind, md, v1, cn (default: name)}: the
-- PEM path. pki-lib.sh's issue (openssl ca, valid 2025-01-01 .. 2045-01-01); with a serial
-- its issue_serial (openssl x509 -req: a negative serial too; valid from now for 20 years).
-- kind: ec (default), rsa1024, rsa2047, dsa; md: the digest (default sha256); v1: no extensions.
local function issue(o)
  local words = { o.name, q("/CN=" .. (o.cn or o.name)), o.issuer or "self", o.v1 and "none" or o.ext }
  if o.serial then
    words[#words + 1] = q(o.serial)
  else
    words[#words + 1], words[#words + 2] = "20250101000000Z", "20450101000000Z"
  end
  words[#words + 1] = o.kind or "ec"
  lib(("%s%s %s && [ -s %s.pem ]"):format(o.md and ("PKI_MD=" .. o.md .. " ") or "",
    o.serial and "issue_serial" or "issue", table.concat(words, " "), o.name))
  return dir .. "/" .. o.name .. ".pem"
end

lib("pki_init && cat >> ca.cnf <<'EOF'\n" .. EXT .. "EOF")

local root = issue{ name = "root", ext = "root_ext" }
local store = assert(clientcert.store{ roots = { root } })

local function verify(leaf, opts)
  opts = opts or {}
  opts.time = T
  return assert(store:verify(read(leaf), opts))
end

-- the STRICT_* code names of a strict result
local function codes(r)
  local out = {}
  for _, p in ipairs(r.problems) do
    if p.cause == "profile_violation" then out[#out + 1] = p.code_name end
  end
  return out
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

describe('store:verify{profile = "strict"}', function()
  teardown(function() live.run("rm -rf " .. q(dir)) end)

  local good = issue{ name = "good", ext = "client_ext", issuer = "root" }

  it("accepts a clean certificate with both profiles", function()
    assert.is_true(verify(good).ok)
    local r = verify(good, { profile = "strict" })
    assert.is_true(r.ok, tostring(r.error))
    assert.equals("ok", r.cause)
    assert.is_nil(r.certs)
  end)

  it("raises for an unknown profile, in store:verify and in a policy", function()
    assert.has_error(function() store:verify(read(good), { profile = "paranoid", time = T }) end,
      'clientcert.store.verify: profile cannot be paranoid ("default" or "strict")')
    assert.has_error(function() clientcert.policy{ trust = store, verify = { profile = "paranoid" } } end)
  end)

  -- name, issue options, expected code name, depth
  local RULES = {
    { "serial zero", { ext = "client_ext", serial = "0" }, "STRICT_SERIAL_ZERO" },
    { "negative serial", { ext = "client_ext", serial = "-5" }, "STRICT_SERIAL_NEGATIVE" },
    { "serial over 20 octets", { ext = "client_ext", serial = "0x0102030405060708090A0B0C0D0E0F101112131415" },
      "STRICT_SERIAL_TOO_LONG" },
    { "a v1 leaf", { v1 = true }, "STRICT_NOT_V3" },
    { "SAN dNSName with an underscore and an IP address", { ext = "badsan" }, "STRICT_SAN_DNS_SYNTAX" },
    { "SAN rfc822Name that is not a mailbox", { ext = "bademail" }, "STRICT_SAN_EMAIL_SYNTAX" },
    { "anyExtendedKeyUsage in the leaf", { ext = "anyeku" }, "STRICT_EKU_ANY" },
    { "critical EKU in the leaf", { ext = "criteku" }, "STRICT_EKU_CRITICAL" },
    { "a CA certificate as the leaf", { ext = "caleaf" }, "STRICT_CA_AS_LEAF" },
    { "name constraints in an end entity", { ext = "ncee" }, "STRICT_NC_NOT_CA" },
    { "an AIA without access description", { ext = "emptyaia" }, "STRICT_AIA_EMPTY" },
    { "an RSA 1024 key", { ext = "client_ext", kind = "rsa1024" }, "STRICT_WEAK_KEY" },
    { "an RSA key of 2047 bits", { ext = "client_ext", kind = "rsa2047" }, "STRICT_WEAK_KEY" },
    { "a DSA key", { ext = "client_ext", kind = "dsa" }, "STRICT_WEAK_KEY" },
    { "a SHA-1 signature", { ext = "client_ext", md = "sha1" }, "STRICT_WEAK_SIGNATURE" },
  }
  for i, rule in ipairs(RULES) do
    it("names " .. rule[3] .. " for " .. rule[1] .. " (the default profile accepts it)", function()
      local o = rule[2]
      o.name, o.issuer = "rule" .. i, "root"
      local leaf = issue(o)
      assert.is_true(verify(leaf).ok, rule[1])
      local r = verify(leaf, { profile = "strict" })
      assert.is_false(r.ok)
      assert.equals("profile_violation", r.cause)
      assert.is_true(has(codes(r), rule[3]), rule[1] .. ": " .. table.concat(codes(r), ","))
      assert.equals(codes(r)[1], r.code_name)             -- OpenSSL found nothing: the first rule names it
      assert.matches("%[[^%]]*%d%]$", r.error)            -- ends with the section: [RFC 5280 4.1.2.2]
      assert.equals("profile_violation", r.chain[1].status)
    end)
  end

  it("names the rule of an intermediate: non-critical name constraints and policy constraints", function()
    local nc = issue{ name = "ncica", ext = "ncnoncrit", issuer = "root" }
    local pc = issue{ name = "pcica", ext = "pcnoncrit", issuer = "root" }
    local l1 = issue{ name = "ncleaf", ext = "badsan", issuer = "ncica" }
    local l2 = issue{ name = "pcleaf", ext = "client_ext", issuer = "pcica" }
    local r = verify(l2, { profile = "strict", chain = { read(pc) } })
    assert.is_false(r.ok)
    assert.is_true(has(codes(r), "STRICT_PC_NOT_CRITICAL"))
    for _, p in ipairs(r.problems) do
      if p.code_name == "STRICT_PC_NOT_CRITICAL" then assert.equals(1, p.depth) end
    end
    assert.matches("RFC 5280 4.2.1.11", r.chain[2].problems[1].error, 1, true)
    r = verify(l1, { profile = "strict", chain = { read(nc) } })
    assert.is_true(has(codes(r), "STRICT_NC_NOT_CRITICAL"))
  end)

  it("names a root whose AKI has no keyIdentifier (x509_strict does not)", function()
    local aroot = issue{ name = "akiroot", ext = "root_akinokeyid" }
    local leaf = issue{ name = "akileaf", ext = "client_ext", issuer = "akiroot" }
    local s = assert(clientcert.store{ roots = { aroot } })
    local r = assert(s:verify(read(leaf), { profile = "strict", time = T }))
    assert.same({ "STRICT_AKI_NO_KEYID" }, codes(r))
    assert.equals("profile_violation", r.cause)
    assert.is_true(assert(s:verify(read(leaf), { time = T, flags = { "x509_strict" } })).ok)
  end)

  it("names a root with EKU", function()
    local eroot = issue{ name = "ekuroot", ext = "root_eku" }
    local leaf = issue{ name = "ekuleaf", ext = "client_ext", issuer = "ekuroot" }
    local s = assert(clientcert.store{ roots = { eroot } })
    local r = assert(s:verify(read(leaf), { profile = "strict", time = T }))
    assert.is_true(has(codes(r), "STRICT_EKU_IN_ROOT"))
    assert.is_true(assert(s:verify(read(leaf), { time = T })).ok)
  end)

  it("applies in a policy (verify = {profile = \"strict\"}): cause profile_violation, 403.16", function()
    local weak = issue{ name = "pweak", ext = "client_ext", kind = "rsa1024", issuer = "root" }
    local p = assert(clientcert.policy{ trust = store, verify = { profile = "strict" } })
    local v = p:check{ cert = read(weak), time = T }
    assert.is_false(v.accepted)
    assert.equals("profile_violation", v.cause)
    assert.equals("403.16", v.substatus)
    assert.matches("RSA key of 1024 bits", v.message, 1, true)
    assert.matches("CA/B BR 6.1.5", v.message, 1, true)
    local d = assert(clientcert.policy{ trust = store })
    assert.is_true(d:check{ cert = read(weak), time = T }.accepted)
  end)

  -- RFC 5280 4.1.2.5: "from notBefore through notAfter, inclusive"; OpenSSL's
  -- X509_cmp_time takes notAfter == the check time as expired (the default keeps that).
  -- old.pem (spec/fixtures/mkpki.sh) ends at 2025-01-01T00:00:00Z exactly.
  it("takes notAfter as inclusive (RFC 5280 4.1.2.5): valid at notAfter, expired one second later", function()
    local pki = require "helpers.pki"
    local s = assert(clientcert.store{ roots = pki.path("root.pem") })
    local cert = assert(clientcert.parse(pki.read("old.pem")))
    local NA = 1735689600
    assert.equals(NA, cert:info().not_after)
    local function at(t, profile, purpose)
      return assert(s:verify(cert, { time = t, profile = profile, chain = { pki.read("inter.pem") },
                                     purpose = purpose or "client" }))
    end
    local r = at(NA, "strict")
    assert.is_true(r.ok, tostring(r.error))
    assert.equals("ok", r.cause)
    assert.same({}, r.problems)
    assert.equals("ok", r.chain[1].status)
    assert.is_nil(r.code_name)
    r = at(NA + 1, "strict")
    assert.is_false(r.ok)
    assert.equals("expired", r.cause)
    assert.equals("X509_V_ERR_CERT_HAS_EXPIRED", r.code_name)
    assert.equals(0, r.depth)
    -- the default profile is OpenSSL's: expired at notAfter itself
    r = at(NA, nil)
    assert.is_false(r.ok)
    assert.equals("expired", r.cause)
    assert.is_true(at(NA - 1, nil).ok)
    -- other problems stay: at notAfter for a server purpose, the purpose is still wrong
    r = at(NA, "strict", "server")
    assert.is_false(r.ok)
    assert.equals("wrong_purpose", r.cause)
    assert.equals(1, #r.problems)
    assert.equals("X509_V_ERR_INVALID_PURPOSE", r.code_name)
    assert.equals("wrong_purpose", r.chain[1].status)
  end)

  -- RFC 5280 6.1.4 (l): max_path_length is decremented only for certificates that are
  -- not self-issued. Path: root -> Sub CA (pathlen:0) -> Sub CA' (self-issued: same
  -- name, new key) -> leaf.
  it("does not count a self-issued intermediate (RFC 5280 6.1.4 (l)) for pathLenConstraint or max_depth", function()
    local sub = issue{ name = "sub", cn = "Sub CA", ext = "ca_pl0_ext", issuer = "root" }
    local sub2 = issue{ name = "sub2", cn = "Sub CA", ext = "ca_ext", issuer = "sub" }
    local leaf = issue{ name = "subleaf", ext = "client_ext", issuer = "sub2" }
    local info = assert(clientcert.parse(read(sub2))):info()
    assert.equals(info.subject, info.issuer)                 -- self-issued
    assert.is_false(info.self_signed)                        -- but not self-signed
    local chain = { read(sub2), read(sub) }
    -- pathLenConstraint 0 of Sub CA: both profiles skip the self-issued Sub CA' (OpenSSL's EXFLAG_SI)
    local r = verify(leaf, { chain = chain, profile = "strict" })
    assert.is_true(r.ok, tostring(r.error))
    assert.equals(4, #r.chain)
    assert.is_true(verify(leaf, { chain = chain }).ok)
    -- max_depth 1: one intermediate counts; OpenSSL counts two
    r = verify(leaf, { chain = chain, max_depth = 1 })
    assert.is_false(r.ok)
    assert.equals("chain_too_long", r.cause)
    r = verify(leaf, { chain = chain, max_depth = 1, profile = "strict" })
    assert.is_true(r.ok, tostring(r.error))
    assert.equals(4, #r.chain)
    -- max_depth 0: still too long under the strict profile (Sub CA counts)
    r = verify(leaf, { chain = chain, max_depth = 0, profile = "strict" })
    assert.is_false(r.ok)
    assert.equals("chain_too_long", r.cause)
    -- a chain of two intermediates that are not self-issued is too long for max_depth 1 either way
    local ca1 = issue{ name = "ca1", ext = "ca_ext", issuer = "root" }
    local ca2 = issue{ name = "ca2", ext = "ca_ext", issuer = "ca1" }
    local leaf2 = issue{ name = "ca2leaf", ext = "client_ext", issuer = "ca2" }
    r = verify(leaf2, { chain = { read(ca2), read(ca1) }, max_depth = 1, profile = "strict" })
    assert.is_false(r.ok)
    assert.equals("chain_too_long", r.cause)
  end)

  it("clientcert check --profile strict rejects, without it accepts", function()
    local weak = issue{ name = "cweak", ext = "client_ext", md = "sha1", issuer = "root" }
    local code, out = runner.exec({ "check", weak, "--roots", root, "--profile", "strict", "--time", "2030-06-01" })
    assert.equals(1, code)
    assert.matches("Cause: profile_violation", out, 1, true)
    assert.matches("signed with a weak hash", out, 1, true)
    code = runner.exec({ "check", weak, "--roots", root, "--time", "2030-06-01" })
    assert.equals(0, code)
    local bad
    code, bad = runner.exec({ "check", weak, "--roots", root, "--profile", "paranoid", "--time", "2030-06-01" })
    assert.not_equals(0, code)
    local _, _, err = runner.exec({ "check", weak, "--roots", root, "--profile", "paranoid" })
    assert.matches("--profile", err, 1, true)
    assert.is_string(bad)
  end)

  it("cert:info() gives the extension names, the critical ones and the AIA's count (what the rules read)", function()
    local i = clientcert.load(issue{ name = "aia2", ext = "aia2", issuer = "root" }):info()
    assert.same({ "basicConstraints", "authorityInfoAccess", "1.2.3.4", "extendedKeyUsage", "subjectKeyIdentifier",
                  "authorityKeyIdentifier" }, i.extensions) -- (openssl adds the key identifiers)
    assert.same({ "1.2.3.4", "extendedKeyUsage" }, i.critical_extensions)
    assert.equals(2, i.aia_count)
    assert.is_true(i.extensions_unsupported_critical)
    i = clientcert.load(issue{ name = "emptyaia", ext = "emptyaia", issuer = "root" }):info()
    assert.same({ "keyUsage" }, i.critical_extensions)
    assert.equals(0, i.aia_count)
    -- no critical extension, no AIA: both absent
    i = clientcert.load(issue{ name = "nocrit", ext = "nocrit" }):info()
    assert.same({ "basicConstraints", "subjectKeyIdentifier" }, i.extensions)
    assert.is_nil(i.critical_extensions)
    assert.is_nil(i.aia_count)
  end)
end)
