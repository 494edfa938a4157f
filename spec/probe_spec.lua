-- clientcert.probe against real servers: `openssl s_server` on free 127.0.0.1 ports
-- (kernel-chosen), each bounded by `timeout` and stopped by pid in teardown, with
-- the test PKI (spec/fixtures/probe.sh adds the server certificate and the CA
-- fillers). A live handshake runs at the real clock: the fixtures are valid
-- 2020 .. 2040, "old" expired in 2025.
local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local pki = require "helpers.pki"
local live = require "helpers.live"

local q = live.q
local P = pki.path

-- s_server arguments: its certificate, HTTP status page (-www), and extra args.
local function server(extra)
  return live.s_server(("-cert %s -key %s -www %s"):format(q(P("probe-server.pem")),
    q(P("probe-server.key")), extra or ""))
end

-- clientcert.probe for the named client ("alice", or nil for none) against s.
local function probe(s, who, opts)
  opts = opts or {}
  local o = { host = "127.0.0.1", port = s.port, timeout = opts.timeout or 30, tls = opts.tls,
              roots = opts.roots, servername = opts.servername, path = opts.path }
  if who then
    o.cert, o.key = P(who .. ".pem"), P(who .. ".key")
    o.chain = opts.chain ~= false and P(opts.chain or "inter.pem") or nil
  end
  return clientcert.probe(o)
end

local function kinds(list)
  local out = {}
  for i, f in ipairs(list) do out[i] = f.kind end
  return out
end

describe("clientcert.probe against openssl s_server", function()
  local servers = {}
  local function start(name, extra) servers[name] = server(extra) return servers[name] end

  teardown(function()
    for _, s in pairs(servers) do live.discard(s) end
  end)

  describe("a server that requires a certificate from root and inter (-Verify, -verify_return_error)", function()
    local s
    setup(function()
      s = start("require", ("-Verify 3 -verify_return_error -CAfile %s"):format(q(P("roots-with-inter.pem"))))
    end)

    for _, tls in ipairs({ "1.2", "1.3" }) do
      it("TLS " .. tls .. ": accepts alice, lists both CAs, and reads the HTTP reply back", function()
        local r = assert(probe(s, "alice", { tls = tls, roots = P("root.pem"), servername = "localhost" }))
        assert.is_true(r.ok)
        assert.are.equal("ok", r.cause)
        assert.are.equal("TLSv" .. tls, r.protocol)
        assert.is_true(r.requested)
        assert.are.equal("handshake", r.request_phase)
        assert.are.same({ "CN=Test Root CA,O=clientcert tests", "CN=Test Issuing CA,O=clientcert tests" },
          r.ca_names)
        assert.are.equal(2, r.ca_count)
        assert.is_true(r.client.offered)
        assert.are.equal("CN=Test Issuing CA,O=clientcert tests", r.client.offered_by)
        assert.is_true(r.client.key_accepted)
        assert.is_true(r.client.signature_accepted)
        assert.are.equal(200, r.http.status)
        assert.are.equal("HTTP/1.0 200 ok", r.http.status_line)
        assert.truthy(r.http.first_line:find("<HTML>", 1, true))
        assert.are.same({}, r.findings)
        assert.are.equal("CN=localhost,O=clientcert tests", r.server.subject)
        assert.is_true(r.server.verified)
        local names = {}
        for _, a in ipairs(r.sigalgs) do names[a.name] = true end
        assert.is_true(names.ecdsa_secp256r1_sha256)
      end)

      it("TLS " .. tls .. ": names the expired client's alert 45 as expired", function()
        local r = assert(probe(s, "old", { tls = tls }))
        assert.is_false(r.ok)
        assert.are.same({ number = 45, name = "certificate_expired", level = "fatal" }, r.alert)
        assert.are.equal("expired", r.cause)
        assert.are.same({ "alert" }, kinds(r.findings))
        assert.truthy(r.message:find("certificate_expired (45)", 1, true), r.message)
        -- TLS 1.3: the client's handshake completes before the server judges its certificate
        assert.are.equal(tls == "1.3", r.handshake)
        assert.are.equal(causes.get("expired").resolution[1].step, r.resolution[1].step)
      end)

      it("TLS " .. tls .. ": names an unknown CA (alert 48) and says the issuer is not on the list", function()
        local r = assert(probe(s, "oscar", { tls = tls, chain = "other-inter.pem" }))
        assert.is_false(r.ok)
        assert.are.equal(48, r.alert.number)
        assert.are.equal("unknown_ca", r.alert.name)
        assert.is_false(r.client.offered)
        assert.are.same({ "issuer_not_listed", "alert" }, kinds(r.findings))
        assert.are.equal("untrusted_root", r.findings[2].cause)
        assert.are.equal("untrusted_root", r.cause)
        assert.truthy(r.message:find("CN=Elsewhere Issuing CA,O=Elsewhere Ltd is not among the 2 CAs", 1, true),
          r.message)
        assert.are.equal("client owner", r.resolution[2].who)
        assert.truthy(r.resolution[2].step:find("CN=Test Root CA,O=clientcert tests", 1, true))
      end)
    end

    it("TLS 1.3 without a certificate: certificate_required (116) after the handshake -> no_certificate", function()
      local r = assert(probe(s, nil, { tls = "1.3" }))
      assert.is_false(r.ok)
      assert.is_true(r.handshake)
      assert.are.equal(116, r.alert.number)
      assert.are.equal("certificate_required", r.alert.name)
      assert.are.equal("no_certificate", r.cause)
      assert.truthy(r.message:find("after the handshake", 1, true))
    end)

    it("TLS 1.2 without a certificate: handshake_failure (40) after a request -> no_certificate", function()
      local r = assert(probe(s, nil, { tls = "1.2" }))
      assert.is_false(r.handshake)
      assert.are.equal(40, r.alert.number)
      assert.are.equal("no_certificate", r.cause)
    end)

    it("verifies the server against given roots, and says when it does not verify", function()
      local r = assert(probe(s, "alice", { roots = P("other-root.pem"), servername = "localhost" }))
      assert.is_false(r.server.verified)
      assert.is_string(r.server.verify_error)
      r = assert(probe(s, "alice", { roots = P("root.pem"), servername = "elsewhere.test" }))
      assert.is_false(r.server.verified)
      r = assert(probe(s, "alice", {}))
      assert.is_nil(r.server.verified)
    end)
  end)

  it("a list without the client's issuer: not offered (the server would accept it)", function()
    local s = start("other", ("-Verify 3 -verify_return_error -CAfile %s -verifyCAfile %s")
      :format(q(P("other-root.pem")), q(P("roots.pem"))))
    local r = assert(probe(s, "alice"))
    assert.are.same({ "CN=Elsewhere Root CA,O=Elsewhere Ltd" }, r.ca_names)
    assert.is_false(r.client.offered)
    assert.are.same({ { name = "CN=Test Issuing CA,O=clientcert tests", listed = false },
                      { name = "CN=Test Root CA,O=clientcert tests", listed = false } }, r.client.issuer_names)
    assert.is_false(r.ok)
    assert.are.equal("untrusted_root", r.cause)
    assert.are.equal("issuer_not_listed", r.findings[1].kind)
    assert.are.equal(200, r.http.status)
  end)

  it("the client's intermediate listed but not its root: offered", function()
    local s = start("inter", ("-Verify 3 -verify_return_error -CAfile %s -verifyCAfile %s")
      :format(q(P("inter.pem")), q(P("roots.pem"))))
    local r = assert(probe(s, "alice"))
    assert.are.same({ "CN=Test Issuing CA,O=clientcert tests" }, r.ca_names)
    assert.is_true(r.client.offered)
    assert.is_true(r.ok)
    -- a root-only list: the chain's own issuer (inter's issuer, root) is matched too
    local s2 = start("root", ("-Verify 3 -verify_return_error -CAfile %s"):format(q(P("roots.pem"))))
    r = assert(probe(s2, "alice"))
    assert.are.equal("CN=Test Root CA,O=clientcert tests", r.client.offered_by)
    -- without the chain only the leaf's issuer is known: not offered
    r = assert(probe(s2, "alice", { chain = false }))
    assert.is_false(r.client.offered)
  end)

  it("a CA list over 16 KB: counted, sized and flagged against the Schannel limit", function()
    local s = start("many", ("-Verify 3 -verify_return_error -CAfile %s"):format(q(P("probe-many-cas.pem"))))
    local r = assert(probe(s, "alice", { tls = "1.3" }))
    assert.are.equal(16, r.ca_count)
    assert.are.equal(16, #r.ca_names)
    assert.is_true(r.ca_size > 16384)
    -- the size counts each name's DER plus its 2-byte length: check it against the fixtures
    local total = 0
    for _, c in ipairs(assert(clientcert.load_all(P("probe-many-cas.pem")))) do
      local der = c:der()
      -- the subject is the first Name of the TBSCertificate; measure it by parsing lengths
      local function len_at(d, i)
        local b = d:byte(i + 1)
        if b < 0x80 then return b, 2 end
        local n, v = b - 0x80, 0
        for k = 1, n do v = v * 256 + d:byte(i + 1 + k) end
        return v, 2 + n
      end
      local _, h = len_at(der, 1)                        -- Certificate SEQUENCE
      local tbs = 1 + h
      local _, th = len_at(der, tbs)                     -- TBSCertificate SEQUENCE
      local p = tbs + th
      for _ = 1, 5 do                                    -- [0] version, serial, sigalg, issuer, validity
        local l, hh = len_at(der, p)
        p = p + hh + l
      end
      local l, hh = len_at(der, p)                       -- subject
      total = total + 2 + hh + l
    end
    assert.are.equal(total, r.ca_size)
    assert.is_true(r.over_schannel_limit)
    assert.is_true(r.ok)
    assert.are.same({ "ca_list_too_large" }, kinds(r.warnings))
    assert.are.equal("no_certificate", r.warnings[1].cause)
    assert.truthy(r.warnings[1].message:find(tostring(r.ca_size) .. " bytes (16 names)", 1, true))
  end)

  it("a server that does not ask: not_requested with a certificate, ok without one", function()
    local s = start("noask", "")
    local r = assert(probe(s, "alice"))
    assert.is_false(r.requested)
    assert.is_false(r.ok)
    assert.are.equal("no_certificate", r.cause)
    assert.are.equal("not_requested", r.findings[1].kind)
    assert.are.equal(200, r.http.status)
    r = assert(probe(s, nil))
    assert.is_true(r.ok)
    assert.are.same({}, r.findings)
  end)

  it("a request with an empty CA list: any certificate is offered, with a note", function()
    local s = start("empty", "-verify 3")
    local r = assert(probe(s, "oscar", { chain = "other-inter.pem" }))
    assert.is_true(r.requested)
    assert.are.equal(0, r.ca_count)
    assert.is_true(r.client.offered)
    assert.are.same({ "ca_list_empty" }, kinds(r.warnings))
    assert.is_true(r.ok)
  end)

  it("signature algorithms: a key that can make none is refused, a certificate signature not listed is a warning",
    function()
      local s = start("sigalgs", "-verify 1 -client_sigalgs ed25519")
      for _, tls in ipairs({ "1.2", "1.3" }) do
        local r = assert(probe(s, "alice", { tls = tls }))
        assert.are.same({ { code = 0x0807, name = "ed25519" } }, r.sigalgs)
        assert.is_false(r.client.key_accepted)
        assert.are.same({ "key_not_accepted" }, kinds(r.findings))
        assert.are.equal("invalid_certificate", r.cause)
        assert.is_false(r.ok)
        r = assert(probe(s, "carol", { tls = tls }))
        assert.is_true(r.client.key_accepted)
        assert.is_false(r.client.signature_accepted)
        assert.are.same({}, r.findings)
        assert.are.same({ "signature_not_accepted", "ca_list_empty" }, kinds(r.warnings))
        assert.is_true(r.ok)
      end
    end)

  it("connection refused: nil and an error (not a timeout)", function()
    local s = start("gone", "")
    local port = s.port
    live.stop(s)
    local r, err = clientcert.probe{ host = "127.0.0.1", port = port, timeout = 30 }
    assert.is_nil(r)
    assert.are.equal(("clientcert.probe: 127.0.0.1:%d: connection refused"):format(port), err)
  end)

  it("a server that accepts TCP and never answers: nil and the deadline's error, no hang", function()
    local s = start("silent", "")
    live.run("pkill -STOP -P " .. s.pid)                 -- the kernel still completes TCP connections
    local t0 = os.time()
    local r, err = clientcert.probe{ host = "127.0.0.1", port = s.port, timeout = 1 }
    local took = os.time() - t0
    live.run("pkill -CONT -P " .. s.pid)
    assert.is_nil(r)
    assert.are.equal(("clientcert.probe: 127.0.0.1:%d: TLS handshake timed out"):format(s.port), err)
    -- the deadline error is the behaviour; the bound only tells a hang from a slow run (valgrind, a busy machine)
    assert.is_true(took < 60, "took " .. took .. " s")
  end)

  it("a name that does not resolve: nil and an error", function()
    local r, err = clientcert.probe{ host = "no-such-host.invalid", port = 443, timeout = 2 }
    assert.is_nil(r)
    assert.truthy(err:find("^clientcert%.probe: no%-such%-host%.invalid:443: cannot resolve"), err)
  end)
end)

describe("clientcert.probe against a scripted TLS 1.2 server (spec/fixtures/tls12_server.lua)", function()
  local cli = require "helpers.cli"
  local servers, files = {}, {}

  -- a DER copy of a fixture certificate, in a temporary file
  local function der(name)
    local path = os.tmpname()
    files[#files + 1] = path
    live.write(path, assert(clientcert.load_all(P(name)))[1]:der())
    return path
  end

  -- a server (bob's RSA certificate: RSA key exchange) whose CertificateRequest lists
  -- sigalgs (TLS codes) and empty_names empty CA names, then listed's subject; it ends
  -- each connection with a fatal alert of number alert
  local function scripted(sigalgs, empty_names, alert, listed)
    local hex = {}
    for i, code in ipairs(sigalgs) do hex[i] = ("%04x"):format(code) end
    local s = live.tls12_server(der("bob.pem"), table.concat(hex), empty_names, alert, listed and der(listed))
    servers[#servers + 1] = s
    return s
  end

  -- n signature algorithms no RFC defines (0xfe00 + i), then the codes given
  local function unknown_then(n, ...)
    local list = {}
    for i = 1, n do list[i] = 0xfe00 + i end
    for _, code in ipairs({ ... }) do list[#list + 1] = code end
    return list
  end

  -- the scheme the client signed its last CertificateVerify with, as the server saw it
  local function signed_with(s)
    local log = live.wait_for(function()
      local l = live.read(s.log) or ""
      return l:find("CertificateVerify", 1, true) and l
    end)
    return (log or ""):match(".*\n([^\n]*CertificateVerify[^\n]*)")
  end

  local function alice(s)
    return assert(clientcert.probe{ host = "127.0.0.1", port = s.port, timeout = 30, tls = "1.2",
      cert = P("alice.pem"), key = P("alice.key"), chain = P("inter.pem") })
  end

  teardown(function()
    for _, s in ipairs(servers) do live.discard(s) end
    for _, f in ipairs(files) do os.remove(f) end
  end)

  it("judges the key from every signature algorithm: the scheme OpenSSL signs with is the 101st", function()
    local s = scripted(unknown_then(100, 0x0403), 0, 40)
    local r = alice(s)
    assert.are.equal("CertificateVerify 0x0403", signed_with(s))
    assert.are.equal(101, r.sigalg_count)
    assert.are.equal(64, #r.sigalgs)                      -- the report keeps a bounded list
    assert.are.same({ code = 0xfe01, name = "0xfe01" }, r.sigalgs[1])
    assert.is_true(r.client.key_accepted)
    assert.are.equal("ecdsa_secp256r1_sha256", r.client.key_scheme)
    assert.are.same({ "alert_other" }, kinds(r.findings))  -- handshake_failure, and no key_not_accepted
  end)

  it("a key that can make none of 101 algorithms: key_not_accepted, a bounded list in the message", function()
    local s = scripted(unknown_then(100, 0x0807), 0, 40)   -- ed25519 last; alice's key is P-256
    local r = alice(s)
    assert.are.equal("no CertificateVerify", signed_with(s))   -- OpenSSL sends no certificate
    assert.is_false(r.client.key_accepted)
    assert.is_nil(r.client.key_scheme)
    assert.are.equal("key_not_accepted", r.findings[1].kind)
    assert.truthy(r.findings[1].message:find("0xfe10, and 85 more)", 1, true), r.findings[1].message)
    assert.is_true(#r.findings[1].message < 600, r.findings[1].message)
  end)

  it("names an alert no RFC defines by its number: 255 (unknown)", function()
    local s = scripted({ 0x0403 }, 0, 255)
    local r = alice(s)
    assert.are.same({ number = 255, name = "unknown", level = "fatal" }, r.alert)
    assert.are.equal("alert_other", r.findings[1].kind)
    assert.truthy(r.message:find("TLS alert 255 (unknown), which", 1, true), r.message)
    local code, out, err = cli.exec({ "probe", "127.0.0.1:" .. s.port, "--tls", "1.2", "--timeout", "30" })
    assert.are.equal(1, code, err)
    assert.truthy(out:find("\nServer's answer: TLS alert 255 (unknown), fatal\n", 1, true), out)
    assert.falsy(out:find("alert alert", 1, true), out)
  end)

  it("16,383 empty CA names: all counted, the empty ones summarized in one line", function()
    local s = scripted({ 0x0403 }, 16383, 40)
    local r = alice(s)
    assert.are.equal(16383, r.ca_count)
    assert.are.equal(16383, r.ca_empty)
    assert.are.equal(16383 * 4, r.ca_size)
    assert.are.equal(4096, #r.ca_names)                  -- the names kept
    assert.is_true(r.ca_names_incomplete)
    assert.is_false(r.client.offered)
    assert.truthy(r.resolution[2].step:find("one of: 16383 empty names.", 1, true), r.resolution[2].step)
    local code, out, err = cli.exec({ "probe", "127.0.0.1:" .. s.port, "--tls", "1.2", "--timeout", "30",
      "--cert", P("alice.pem"), "--key", P("alice.key") })
    assert.are.equal(1, code, err)
    assert.truthy(out:find("Acceptable CA names: 16383 (16383 empty), 65532 bytes", 1, true), out)
    assert.truthy(out:find("\n  (16383 empty, with no attribute: not printed)\n", 1, true), out)
    local lines = select(2, out:gsub("\n", ""))
    assert.is_true(lines < 30, lines .. " lines:\n" .. out)
  end)

  it("the client's issuer listed after 5,000 other names (more than are kept): offered", function()
    local s = scripted({ 0x0403 }, 5000, 40, "inter.pem")
    local r = alice(s)
    assert.are.equal(5001, r.ca_count)
    assert.are.equal(4096, #r.ca_names)
    assert.is_true(r.client.offered)
    assert.are.equal("CN=Test Issuing CA,O=clientcert tests", r.client.offered_by)
    local code, out = cli.exec({ "probe", "127.0.0.1:" .. s.port, "--tls", "1.2", "--timeout", "30",
      "--cert", P("alice.pem"), "--key", P("alice.key") })
    assert.are.equal(1, code)
    assert.truthy(out:find("\n  ... and 1 more (--json lists the first 4096 of all 5001)\n", 1, true), out)
    assert.truthy(out:find("\n  (5000 empty, with no attribute: not printed)\n", 1, true), out)
  end)
end)

describe("clientcert probe (the command) against openssl s_server", function()
  local cli = require "helpers.cli"
  local s, hostile

  setup(function()
    s = server(("-Verify 3 -verify_return_error -CAfile %s"):format(q(P("roots-with-inter.pem"))))
    -- -HTTP: the reply is a file of the server's directory, status line included
    hostile = live.s_server(("-cert %s -key %s -HTTP -verify 1 -CAfile %s"):format(q(P("probe-server.pem")),
      q(P("probe-server.key")), q(P("hostile-text.pem"))))
    live.write(hostile.dir .. "/evil.txt", "HTTP/1.0 403 \27[2J\27]8;;http://evil.test/\27\\click\226\128\174"
      .. string.rep("A", 5000) .. "\r\nX: y\r\n\r\n\27[31mResult: OK\194\155 forged\nsecond line\n")
  end)

  teardown(function()
    live.discard(s)
    live.discard(hostile)
  end)

  local function args(who, ...)
    local a = { "probe", "127.0.0.1:" .. s.port, "--timeout", "30" }
    if who then
      for _, v in ipairs({ "--cert", P(who .. ".pem"), "--key", P(who .. ".key"), "--chain", P("inter.pem") }) do
        a[#a + 1] = v
      end
    end
    for _, v in ipairs({ ... }) do a[#a + 1] = v end
    return a
  end

  it("exits 0 for a certificate offered and accepted, 1 for a refused one", function()
    local code, out, err = cli.exec(args("alice", "--tls", "1.2"))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("Client certificate requested: yes (in the handshake)", 1, true), out)
    assert.truthy(out:find("on the server's list: yes (CN=Test Issuing CA,O=clientcert tests)", 1, true), out)
    assert.truthy(out:find("\nResult: OK\n", 1, true), out)
    code, out, err = cli.exec(args("old", "--tls", "1.3"))
    assert.are.equal(1, code, err)
    assert.truthy(out:find("Server's answer: TLS alert certificate_expired (45), fatal, after the handshake", 1, true),
      out)
    assert.truthy(out:find("Result: REFUSED (expired: Certificate expired)", 1, true), out)
    assert.truthy(out:find("  - client owner: Renew the certificate", 1, true), out)
    code, out = cli.exec(args(nil, "--json"))
    assert.are.equal(1, code)
    assert.truthy(out:find('"cause":"no_certificate"', 1, true), out)
  end)

  it("a --timeout below a millisecond is a usage error: exit 2, one line", function()
    for _, t in ipairs({ "0.0001", "0.0004" }) do
      local code, out, err = cli.exec({ "probe", "127.0.0.1:" .. s.port, "--timeout", t })
      assert.are.equal(2, code, err)
      assert.are.equal("", out)
      assert.are.equal(("clientcert: --timeout must be seconds, at least 0.001 and at most 3600, got '%s'\n")
        :format(t), err)
    end
    local ok, err = pcall(clientcert.probe, { host = "127.0.0.1", port = s.port, timeout = 0.0001 })
    assert.is_false(ok)
    assert.truthy(err:find("clientcert.probe: timeout must be seconds, at least 0.001", 1, true), err)
    assert.falsy(err:find("timeout_ms", 1, true), err)
  end)

  it("exits 2 for a connection error or a usage error", function()
    local gone = server("")
    local port = gone.port
    live.discard(gone)
    local code, out, err = cli.exec({ "probe", "127.0.0.1:" .. port })
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.are.equal(("clientcert.probe: 127.0.0.1:%d: connection refused\n"):format(port), err)
    for _, bad in ipairs({ { "probe", "localhost" }, { "probe", "h:0" }, { "probe", "h:65536" },
                           { "probe", "[::1:443" }, { "probe", "h:1", "--timeout", "x" },
                           { "probe", "h:1", "--timeout", "0" }, { "probe", "h:1", "--key", P("alice.key") },
                           { "probe", "h:1", "--cert", P("alice.pem") }, { "probe", "h:1", "--path", "x" },
                           { "probe", "h:1", "--tls", "1.1" } }) do
      code, out, err = cli.run(table.unpack and table.unpack(bad) or unpack(bad))
      assert.are.equal(2, code, table.concat(bad, " ") .. ": " .. err)
      assert.are.equal("", out)
      assert.truthy(err:find("clientcert", 1, true), err)
    end
  end)

  it("escapes and bounds every string the server sends (CA names, status line, body line)", function()
    local a = { "probe", "127.0.0.1:" .. hostile.port, "--path", "/evil.txt", "--timeout", "30" }
    local code, out, err = cli.exec(a)
    assert.are.equal(1, code, err)
    for _, o in ipairs({ out, (select(2, cli.exec(a, { env = { NO_COLOR = "" } }))) }) do
      assert.falsy(o:find("\27", 1, true), o)
      assert.falsy(o:find("\226\128\174", 1, true), o)            -- U+202E
      assert.falsy(o:find("\194\155", 1, true), o)                 -- U+009B
      assert.falsy(o:find("\nResult: OK", 1, true), o)
    end
    assert.truthy(out:find("\\x1b[2J", 1, true), out)
    assert.truthy(out:find("\\u202e", 1, true), out)
    local r = assert(clientcert.probe{ host = "127.0.0.1", port = hostile.port, path = "/evil.txt", timeout = 30 })
    assert.is_true(#r.http.status_line <= 600, #r.http.status_line)
    assert.are.equal(403, r.http.status)
    assert.are.equal("\27[31mResult: OK\194\155 forged", r.http.first_line)   -- raw in the report, escaped in output
    code, out = cli.exec({ "probe", "127.0.0.1:" .. hostile.port, "--path", "/evil.txt", "--json" })
    assert.are.equal(1, code)
    assert.falsy(out:find("\27", 1, true))
    assert.falsy(out:find("\226\128\174", 1, true))
  end)
end)

describe("clientcert.probe options", function()
  it("raises for a programmer error", function()
    local bad = {
      { {}, "host must be" }, { { host = "h" }, "port must be an integer between 1 and 65535" },
      { { host = "h", port = 0 }, "port must be" },
      { { host = "h", port = 1, bogus = 1 }, "unknown option 'bogus'" },
      { { host = "h", port = 1, tls = "1.1" }, "tls must be" }, { { host = "h", port = 1, timeout = 0 }, "timeout" },
      { { host = "h", port = 1, timeout = 0 / 0 }, "timeout" },
      { { host = "h", port = 1, path = "x" }, "path must" },
      { { host = "h", port = 1, path = "/a b" }, "path must" },
      { { host = "h", port = 1, path = "/\r\n" }, "path must" },
      { { host = "a b", port = 1 }, "host must" }, { { host = "h", port = 1, servername = "" }, "servername" },
      { { host = "h", port = 1, key = "k" }, "key and chain need cert" },
      { { host = "h", port = 1, cert = 5 }, "expected" },
    }
    for _, case in ipairs(bad) do
      local ok, err = pcall(clientcert.probe, case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find("clientcert.probe: " .. case[2], 1, true), tostring(err))
    end
  end)

  it("returns nil, err for unreadable inputs", function()
    local r, err = clientcert.probe{ host = "127.0.0.1", port = 1, cert = P("alice.pem") }
    assert.is_nil(r)
    assert.are.equal("clientcert.probe: cert needs its private key (key)", err)
    r, err = clientcert.probe{ host = "127.0.0.1", port = 1, cert = P("alice.pem"), key = P("bob.key") }
    assert.is_nil(r)
    assert.are.equal("clientcert.probe: the private key does not belong to the certificate", err)
    r, err = clientcert.probe{ host = "127.0.0.1", port = 1, cert = P("alice.pem"), key = "/nonexistent/key" }
    assert.is_nil(r)
    assert.truthy(err:find("^clientcert%.probe: cannot open /nonexistent/key"), err)
    r, err = clientcert.probe{ host = "127.0.0.1", port = 1, cert = "/nonexistent.pem", key = P("alice.key") }
    assert.is_nil(r)
    assert.truthy(err:find("^clientcert%.probe: cannot open /nonexistent.pem"), err)
    assert.is_false(require("clientcert.core")._openssl_error_pending())
  end)
end)
