-- clientcert.parse / parse_all / load / parse_crl and cert:info(): the contract of issue 3.
local clientcert = require "clientcert"
local pki = require "helpers.pki"

local function field(fields, name)
  for _, f in ipairs(fields) do if f.name == name then return f.value end end
end

describe("clientcert.parse", function()
  it("reads a PEM certificate", function()
    local c = assert(clientcert.parse(pki.read("alice.pem")))
    assert.equals("CN=alice,O=clientcert tests", c:info().subject)
  end)

  it("reads a DER certificate and gives the same DER back", function()
    local der = pki.read("alice.der")
    local c = assert(clientcert.parse(der))
    assert.equals(der, c:der())
    assert.equals(clientcert.parse(pki.read("alice.pem")):fingerprint(), c:fingerprint())
  end)

  it("skips a private key before the certificate in PEM text", function()
    local c = assert(clientcert.parse(pki.read("alice.key") .. pki.read("alice.pem")))
    assert.equals("CN=alice,O=clientcert tests", c:info().subject)
  end)

  local bad = {
    { "an empty string", "", "clientcert.parse: empty input" },
    { "garbage", "this is not a certificate", "clientcert.parse: invalid DER certificate" },
    { "a PEM block that is not a certificate", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      "clientcert.parse: no certificate found in input" },
  }
  for _, case in ipairs(bad) do
    it("returns nil, err for " .. case[1], function()
      local c, err = clientcert.parse(case[2])
      assert.is_nil(c)
      assert.equals(case[3], err:sub(1, #case[3]))
    end)
  end

  it("returns nil, err for truncated DER", function()
    local der = pki.read("alice.der")
    for _, n in ipairs({ 1, 2, 10, math.floor(#der / 2), #der - 1 }) do
      local c, err = clientcert.parse(der:sub(1, n))
      assert.is_nil(c)
      assert.matches("^clientcert%.parse: invalid DER certificate", err)
    end
  end)

  it("returns nil, err for DER with trailing bytes", function()
    local c, err = clientcert.parse(pki.read("alice.der") .. "\0")
    assert.is_nil(c)
    assert.equals("clientcert.parse: trailing data after DER certificate", err)
  end)

  it("returns nil, err for truncated PEM", function()
    local pem = pki.read("alice.pem")
    local c, err = clientcert.parse(pem:sub(1, #pem - 40))
    assert.is_nil(c)
    assert.matches("^clientcert%.parse: ", err)
  end)

  it("returns nil, err when a later PEM block is cut (a file still being written)", function()
    local pem = pki.read("alice.pem")
    local key = pki.read("alice.key")
    -- the first certificate is whole; the key block after it is cut anywhere
    for _, cut in ipairs({ 1, 5, 11, 40, #key - 10, #key - 2 }) do
      local c, err = clientcert.parse(pem .. key:sub(1, cut))
      assert.is_nil(c, "parsed with a block cut at byte " .. cut)
      assert.matches("^clientcert%.parse: truncated PEM block at byte " .. #pem .. " ", err)
    end
    -- whole blocks after the first are still skipped
    assert.is_not_nil(clientcert.parse(pem .. key))
  end)

  it("returns nil, err for a CRL given as a certificate", function()
    local c, err = clientcert.parse(pki.read("root.crl.der"))
    assert.is_nil(c)
    assert.matches("^clientcert%.parse: ", err)
  end)

  it("raises for a number where a string is due", function()
    assert.has_error(function() clientcert.parse(42) end)
    assert.has_error(function() clientcert.parse(nil) end)
  end)
end)

describe("clientcert.parse_all", function()
  it("returns every certificate of a bundle in order", function()
    local list = assert(clientcert.parse_all(pki.read("chain-long.pem")))
    assert.equals(4, #list)
    for i = 1, 4 do assert.equals("CN=Chain CA " .. i .. ",O=clientcert tests", list[i]:info().subject) end
  end)

  it("returns a one-element list for DER", function()
    local list = assert(clientcert.parse_all(pki.read("alice.der")))
    assert.equals(1, #list)
  end)

  it("names the bad certificate of a bundle", function()
    local text = pki.read("alice.pem") .. "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    local list, err = clientcert.parse_all(text)
    assert.is_nil(list)
    assert.matches("^clientcert%.parse_all: certificate 2: ", err)
  end)

  it("returns nil, err when there is no certificate", function()
    local list, err = clientcert.parse_all(pki.read("wrong.key"))
    assert.is_nil(list)
    assert.equals("clientcert.parse_all: no certificate found in input", err)
  end)
end)

describe("clientcert.load / load_all / load_crl", function()
  it("loads files", function()
    assert.equals("CN=alice,O=clientcert tests", assert(clientcert.load(pki.path("alice.pem"))):info().subject)
    assert.equals(2, #assert(clientcert.load_all(pki.path("chain-alice.pem"))))
    assert.equals(1, assert(clientcert.load_crl(pki.path("inter.crl"))):info().count)
  end)

  it("returns nil, err for a missing path", function()
    local c, err = clientcert.load(pki.path("no-such-file.pem"))
    assert.is_nil(c)
    assert.matches("^clientcert%.load: cannot open .*no%-such%-file%.pem", err)
  end)

  it("returns nil, err naming the file for a wrong type of file", function()
    local c, err = clientcert.load(pki.path("alice.key"))
    assert.is_nil(c)
    assert.equals("clientcert.load: " .. pki.path("alice.key") .. ": no certificate found in input", err)
    local crl, cerr = clientcert.load_crl(pki.path("alice.pem"))
    assert.is_nil(crl)
    assert.matches("^clientcert%.load_crl: .*no CRL found in input", cerr)
  end)

  it("raises for a non-string path", function()
    assert.has_error(function() clientcert.load(7) end)
  end)
end)

describe("clientcert.parse_crl", function()
  it("reads PEM and DER CRLs with their dates and entries", function()
    local crl = assert(clientcert.parse_crl(pki.read("root.crl.der")))
    local info = crl:info()
    assert.equals("CN=Test Root CA,O=clientcert tests", info.issuer)
    assert.equals(1861920000, info.last_update)   -- 2029-01-01
    assert.equals(1924992000, info.next_update)   -- 2031-01-01
    assert.equals(1, info.count)
    local rev = crl:lookup(clientcert.load(pki.path("inter-revoked.pem")))
    assert.equals("cACompromise", rev.reason)
    assert.is_false(crl:lookup(clientcert.load(pki.path("inter.pem"))))
  end)

  it("returns nil, err for garbage, empty and truncated input", function()
    for _, s in ipairs({ "", "garbage", pki.read("root.crl.der"):sub(1, 50) }) do
      local crl, err = clientcert.parse_crl(s)
      assert.is_nil(crl)
      assert.matches("^clientcert%.parse_crl: ", err)
    end
  end)
end)

describe("cert:info()", function()
  local info = assert(clientcert.load(pki.path("alice.pem")):info())

  it("gives names as RFC 4514 strings and field lists", function()
    assert.equals("CN=alice,O=clientcert tests", info.subject)
    assert.equals("CN=Test Issuing CA,O=clientcert tests", info.issuer)
    assert.equals("alice", field(info.subject_fields, "CN"))
    assert.equals("Test Issuing CA", field(info.issuer_fields, "CN"))
  end)

  it("gives SANs of every type", function()
    local got = {}
    for _, s in ipairs(info.san) do got[#got + 1] = s.type .. "=" .. s.value end
    assert.same({ "email=alice@example.test", "dns=alice.example.test", "uri=urn:example:alice",
                  "ip=192.0.2.10", "ip=2001:db8::10" }, got)
  end)

  it("gives EKU, key usage, CA flags, key and version", function()
    assert.same({ "clientAuth" }, info.eku)
    assert.same({ "digitalSignature" }, info.key_usage)
    assert.is_false(info.is_ca)
    assert.is_nil(info.path_len)
    assert.is_false(info.self_signed)
    assert.same({ type = "EC", bits = 256, curve = "prime256v1" }, info.public_key)
    assert.equals(3, info.version)
    assert.equals("ecdsa-with-SHA256", info.signature_algorithm)
    assert.equals(1577836800, info.not_before)
    assert.equals(2208988800, info.not_after)
  end)

  it("gives a SHA-256 fingerprint of 64 lowercase hex digits matching cert:fingerprint()", function()
    local c = clientcert.load(pki.path("alice.pem"))
    assert.matches("^[0-9a-f]+$", info.fingerprint)
    assert.equals(64, #info.fingerprint)
    assert.equals(info.fingerprint, c:fingerprint("sha256"))
    assert.equals(40, #c:fingerprint("sha1"))
    assert.has_error(function() c:fingerprint("no-such-digest") end)
  end)

  it("reports CA facts of a root and a pathlen-limited CA", function()
    local root = clientcert.load(pki.path("root.pem")):info()
    assert.is_true(root.is_ca)
    assert.is_true(root.self_signed)
    assert.same({ "keyCertSign", "cRLSign" }, root.key_usage)
    assert.equals(0, clientcert.load(pki.path("inter-pl0.pem")):info().path_len)
  end)

  it("gives the subject and authority key identifiers as openssl x509 shows them (lowercase hex)", function()
    -- {SKID, AKID} of a fixture as `openssl x509 -ext` prints them (colons and case removed)
    local function openssl_ids(name)
      local p = assert(io.popen("openssl x509 -noout -ext subjectKeyIdentifier,authorityKeyIdentifier -in '"
        .. pki.path(name) .. "' 2>/dev/null"))
      local out = p:read("*a")
      p:close()
      local function id(label)
        local hex = out:match(label .. " Key Identifier: *\n%s*([%x:]+)")
        return hex and hex:gsub(":", ""):lower() or nil
      end
      return id("Subject"), id("Authority")
    end
    for _, name in ipairs({ "alice.pem", "inter.pem", "root.pem", "server-only.pem", "forger.pem",
                            "forged-inter.pem" }) do
      local i = clientcert.load(pki.path(name)):info()
      local skid, akid = openssl_ids(name)
      assert.equals(skid, i.subject_key_id, name)
      assert.equals(akid, i.authority_key_id, name)
    end
    local alice, inter = info, clientcert.load(pki.path("inter.pem")):info()
    local root = clientcert.load(pki.path("root.pem")):info()
    assert.matches("^[0-9a-f]+$", alice.subject_key_id)
    assert.equals(inter.subject_key_id, alice.authority_key_id)
    assert.equals(root.subject_key_id, inter.authority_key_id)
    -- an absent extension: nil (the root has no AKID)
    assert.is_nil(root.authority_key_id)
  end)

  it("reports RSA and Ed25519 keys", function()
    assert.same({ type = "RSA", bits = 2048 }, clientcert.load(pki.path("bob.pem")):info().public_key)
    assert.equals("Ed25519", clientcert.load(pki.path("carol.pem")):info().public_key.type)
  end)

  it("keeps a NUL in a CN as a byte and escapes it in the RFC 4514 string", function()
    local nul = clientcert.load(pki.path("nul.pem")):info()
    assert.equals("alice\0.evil.test", field(nul.subject_fields, "CN"))
    assert.equals("CN=alice\\00.evil.test,O=clientcert tests", nul.subject)
  end)

  it("converts BMPString and TeletexString names to UTF-8", function()
    local bmp = clientcert.load(pki.path("bmp.pem")):info()
    assert.equals("Zoë 東京", field(bmp.subject_fields, "CN"))
    assert.equals("Zoë Société", field(bmp.subject_fields, "O"))
    assert.equals("CN=Zoë 東京,O=Zoë Société", bmp.subject)
  end)

  it("reads GeneralizedTime after 2049 and UTCTime before 2000", function()
    assert.equals(2840140800, clientcert.load(pki.path("gt2060.pem")):info().not_after)   -- 2060-01-01
    assert.equals(915148800, clientcert.load(pki.path("old1999.pem")):info().not_before)  -- 1999-01-01
  end)

  it("gives negative and 20-byte serials as encoded", function()
    assert.equals("-05", clientcert.load(pki.path("negserial.pem")):info().serial)
    assert.equals("7F0102030405060708090A0B0C0D0E0F10111213", clientcert.load(pki.path("bigserial.pem")):info().serial)
  end)

  it("gives PEM that parses back to the same certificate", function()
    local c = clientcert.load(pki.path("alice.pem"))
    assert.equals(c:der(), clientcert.parse(c:pem()):der())
  end)
end)

describe("cert:matches_key", function()
  local alice = clientcert.load(pki.path("alice.pem"))
  it("accepts the matching key in PKCS#8, traditional, DER and encrypted forms", function()
    assert.is_true(alice:matches_key(pki.read("alice.key")))
    assert.is_true(alice:matches_key(pki.read("alice-trad.key")))
    assert.is_true(alice:matches_key(pki.read("alice.key.der")))
    assert.is_true(alice:matches_key(pki.read("alice-enc.key"), "secret"))
    assert.is_true(clientcert.load(pki.path("bob.pem")):matches_key(pki.read("bob-trad.key")))
    assert.is_true(clientcert.load(pki.path("carol.pem")):matches_key(pki.read("carol.key")))
  end)
  it("returns false for another key", function()
    assert.is_false(alice:matches_key(pki.read("wrong.key")))
    assert.is_false(alice:matches_key(pki.read("bob.key")))
  end)
  it("returns nil, err for an unreadable key or a wrong passphrase", function()
    for _, args in ipairs({ { "garbage" }, { pki.read("alice-enc.key") }, { pki.read("alice-enc.key"), "nope" } }) do
      local ok, err = alice:matches_key(args[1], args[2])
      assert.is_nil(ok)
      assert.matches("^clientcert%.matches_key: cannot read private key", err)
    end
  end)
  it("names the caller and what it read in err when asked (where, ctx): built once, at the origin", function()
    local ok, err = alice:matches_key("garbage", nil, "audit_client", "k.pem")
    assert.is_nil(ok)
    assert.matches("^clientcert%.audit_client: k%.pem: cannot read private key %(", err)
    ok, err = alice:matches_key("", "x", "match_key")
    assert.is_nil(ok)
    assert.equals("clientcert.match_key: empty or oversized key input", err)
    assert.is_true(alice:matches_key(pki.read("alice.key"), nil, "audit_client", "k.pem"))
    assert.has_error(function() alice:matches_key("garbage", nil, "x", {}) end)
  end)
end)

describe("object lifetime", function()
  it("close() is idempotent and a closed object raises", function()
    local c = clientcert.load(pki.path("alice.pem"))
    c:close()
    c:close()
    assert.equals("clientcert.cert (closed)", tostring(c))
    assert.has_error(function() c:info() end, "clientcert.cert: object is closed")
  end)
  it("exposes versions", function()
    assert.is_string(clientcert.version)
    assert.matches("^OpenSSL 3", clientcert.openssl_version)
  end)
end)
