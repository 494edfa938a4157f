-- Revocation fetched from a certificate's own URLs (clientcert.revocation),
-- against real components on 127.0.0.1: `openssl ocsp` as the responder (with a
-- delegated responder certificate), python3's http.server for the CRLs and CA
-- certificates, and spec/fixtures/listener.py for peers that hang, fail, send
-- too much, redirect, or must never be contacted. OCSP answers carry the
-- responder's current time, so each check passes the current time explicitly.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local revocation = require "clientcert.revocation"
local live = require "helpers.live"
local cli = require "helpers.cli"

local q = live.q

local function now() return os.time() end

describe("clientcert.revocation", function()
  local dir, pki, ports, servers, store

  local function pem(name) return assert(live.read(pki .. "/" .. name .. ".pem")) end
  local function cert(name) return assert(clientcert.parse(pem(name))) end

  setup(function()
    dir = live.tempdir("clientcert-revocation")
    pki = dir .. "/pki"
    -- a free port can be taken by another process before a server binds it: a
    -- failed start makes the PKI and the servers again on other ports (3 tries)
    live.tries(function()
      ports = {}
      for _, k in ipairs({ "ocsp", "http", "dead", "hang", "trap", "http500", "big", "redirect", "rogue" }) do
        ports[k] = live.free_port()
      end
      live.fixture(pki, "revocation.sh", ports.ocsp, ports.http, ports.dead, ports.hang, ports.trap)
      servers = {}
      servers.ocsp = live.start{ dir = pki, name = "ocsp", ready = "ACCEPT", cmd = ("openssl ocsp -index index.txt "
        .. "-port %d -rsigner responder.pem -rkey responder.key -CA inter.pem -nmin 60"):format(ports.ocsp) }
      servers.rogue = live.start{ dir = pki, name = "rogue", ready = "ACCEPT", cmd = ("openssl ocsp -index index.txt "
        .. "-port %d -rsigner rogue.pem -rkey rogue.key -CA inter.pem -nmin 60"):format(ports.rogue) }
      servers.http = live.start{ dir = pki, name = "http", ready = "Serving HTTP",
        cmd = ("python3 -u -m http.server --bind 127.0.0.1 %d --directory www"):format(ports.http) }
      for _, mode in ipairs({ "hang", "trap", "http500", "big", "redirect" }) do
        servers[mode] = live.listener(pki, mode, ports[mode])
      end
    end, function() for _, s in pairs(servers or {}) do live.stop(s) end end)
    store = assert(clientcert.store{ roots = pki .. "/root.pem", intermediates = pki .. "/inter.pem" })
  end)

  teardown(function()
    for _, s in pairs(servers or {}) do live.stop(s) end
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  local function check(name, rev, extra)
    local p = clientcert.policy{ trust = (extra and extra.trust) or store, revocation = rev }
    local req = { cert = pem(name), time = now() }
    for k, v in pairs(extra and extra.req or {}) do req[k] = v end
    return p:check(req), p
  end

  describe("info()", function()
    it("lists the OCSP, caIssuers and CRL distribution point URLs", function()
      local i = cert("leaf-good"):info()
      assert.same({ ("http://127.0.0.1:%d/"):format(ports.ocsp) }, i.ocsp_urls)
      assert.same({ ("http://127.0.0.1:%d/inter.cer"):format(ports.http) }, i.ca_issuers_urls)
      assert.same({ ("http://127.0.0.1:%d/inter.crl"):format(ports.http) }, i.crl_urls)
      local r = cert("root"):info()
      assert.same({}, r.ocsp_urls)
      assert.same({}, r.crl_urls)
    end)
  end)

  describe("core.ocsp_check", function()
    local function ask(leaf, issuer, nonce)
      local req = assert(core.ocsp_request(cert(leaf), cert(issuer), nonce))
      local resp = assert(revocation.blocking_fetch(("http://127.0.0.1:%d/"):format(ports.ocsp), req, 5, 65536))
      return req, resp
    end

    it("verifies a delegated responder's answer for the certificate asked about", function()
      local req, resp = ask("leaf-good", "inter", true)
      local r = core.ocsp_check(resp, req, cert("inter"), { time = now() })
      assert.is_true(r.ok)
      assert.equals("good", r.status)
      assert.equals("delegated", r.responder)
      assert.equals("ok", r.nonce)
      assert.is_number(r.next_update)
    end)

    it("reads revoked with its time and reason", function()
      local req, resp = ask("leaf-revoked", "inter")
      local r = core.ocsp_check(resp, req, cert("inter"), { time = now() })
      assert.equals("revoked", r.status)
      assert.equals("keyCompromise", r.reason)
      assert.is_number(r.revoked_at)
    end)

    it("refuses a response for another certificate", function()
      local _, resp = ask("leaf-good", "inter")
      local other = assert(core.ocsp_request(cert("leaf-revoked"), cert("inter")))
      local r = core.ocsp_check(resp, other, cert("inter"), { time = now() })
      assert.is_false(r.ok)
      assert.equals("wrong_certificate", r.problem)
    end)

    it("refuses a response past its nextUpdate (an explicit later time)", function()
      local req, resp = ask("leaf-good", "inter")
      local r = core.ocsp_check(resp, req, cert("inter"), { time = now() + 7200 })
      assert.equals("stale", r.problem)
    end)

    it("refuses a responder the issuer did not delegate to", function()
      local req = assert(core.ocsp_request(cert("leaf-good"), cert("inter")))
      local resp = assert(revocation.blocking_fetch(("http://127.0.0.1:%d/"):format(ports.rogue), req, 5, 65536))
      local r = core.ocsp_check(resp, req, cert("inter"), { time = now() })
      assert.is_false(r.ok)
      assert.equals("unauthorized_responder", r.problem)
      -- nor is the right responder's answer taken for another issuer
      local req2, resp2 = ask("leaf-good", "inter")
      assert.equals("unauthorized_responder", core.ocsp_check(resp2, req2, cert("root"), { time = now() }).problem)
    end)

    it("takes garbage as a result, never an error", function()
      local req = assert(core.ocsp_request(cert("leaf-good"), cert("inter")))
      for _, junk in ipairs({ "", "\48\3\10\1\3", ("\48"):rep(100), pem("inter") }) do
        local r = core.ocsp_check(junk, req, cert("inter"), { time = now() })
        assert.is_false(r.ok)
        assert.is_string(r.problem)
      end
      assert.has_error(function() core.ocsp_check("x", "not a request", cert("inter"), { time = now() }) end)
      assert.has_error(function() core.ocsp_check("x", req, cert("inter"), {}) end)
      assert.is_false(core._openssl_error_pending())
    end)
  end)

  describe("transport", function()
    it("gives up on a listener that never answers within timeout + 1 s", function()
      local socket = require "socket"
      local t0 = socket.gettime()
      local body, err = revocation.blocking_fetch(("http://127.0.0.1:%d/"):format(ports.hang), nil, 1, 65536)
      assert.is_nil(body)
      assert.matches("timed out after 1 s", err, 1, true)
      assert.is_true(socket.gettime() - t0 < 2)
    end)

    it("reports HTTP errors, refuses redirects and oversized answers", function()
      local _, e1 = revocation.blocking_fetch(("http://127.0.0.1:%d/x"):format(ports.http500), nil, 3, 65536)
      assert.equals("HTTP 500", e1)
      local _, e2 = revocation.blocking_fetch(("http://127.0.0.1:%d/x"):format(ports.redirect), nil, 3, 65536)
      assert.equals("HTTP 302 (redirects are not followed)", e2)
      local _, e3 = revocation.blocking_fetch(("http://127.0.0.1:%d/x"):format(ports.big), nil, 3, 65536)
      assert.matches("too large", e3, 1, true)
      local _, e4 = revocation.blocking_fetch(("http://127.0.0.1:%d/"):format(ports.dead), nil, 3, 65536)
      assert.matches("cannot connect", e4, 1, true)
    end)

    it("fetches http:// URLs only", function()
      for _, u in ipairs({ "https://127.0.0.1/", "ldap://x/", "file:///etc/passwd", "http://user@h/",
                           "http:// h/", "http://h\r\n/", "http://:80/" }) do
        assert.is_nil(revocation.parse_url(u), u)
        local body, err = revocation.blocking_fetch(u, nil, 1, 100)
        assert.is_nil(body)
        assert.is_string(err)
      end
      assert.same({ host = "127.0.0.1", port = 8080, path = "/a?b" }, revocation.parse_url("http://127.0.0.1:8080/a?b"))
    end)
  end)

  describe("policy{revocation = ...}", function()
    it("accepts a good client answered by OCSP, the intermediate by the root's CRL", function()
      local v = check("leaf-good", {})
      assert.is_true(v.accepted, v.message)
      assert.equals("ok", v.cause)
    end)

    it("rejects a client revoked at the responder and in the CRL, naming the source", function()
      local v = check("leaf-revoked", {})
      assert.equals("revoked", v.cause)
      assert.equals("403.13", v.substatus)
      assert.equals("ocsp", v.revocation.source)
      assert.equals(("http://127.0.0.1:%d/"):format(ports.ocsp), v.revocation.url)
      assert.equals("keyCompromise", v.revocation.reason)
      local c = check("leaf-revoked", { sources = { "crl" } })
      assert.equals("revoked", c.cause)
      assert.equals("crl", c.revocation.source)
      assert.equals(("http://127.0.0.1:%d/inter.crl"):format(ports.http), c.revocation.url)
      assert.is_number(c.revocation.next_update)
    end)

    it("OCSP first rejects a client revoked at the responder only; CRL only accepts it", function()
      assert.equals("revoked", check("leaf-ocsponly", { sources = { "ocsp", "crl" } }).cause)
      assert.is_true(check("leaf-ocsponly", { sources = { "crl" } }).accepted)
    end)

    it("an 'unknown' answer is not evidence: revocation_unknown when nothing else answers", function()
      local v = check("leaf-unknown", { sources = { "ocsp" } })
      assert.equals("revocation_unknown", v.cause)
      assert.matches("unknown", v.message, 1, true)
      assert.equals(("http://127.0.0.1:%d/"):format(ports.ocsp), v.revocation.url)
    end)

    it("a responder that is down: revocation_unknown naming the URL, with steps for the server and the CA", function()
      local v = check("leaf-dead", {})
      assert.equals("revocation_unknown", v.cause)
      assert.matches(("127.0.0.1:%d"):format(ports.dead), v.message, 1, true)
      assert.matches("connect", v.message, 1, true)
      local who = {}
      for _, r in ipairs(v.resolution) do who[r.who] = true end
      assert.is_true(who["server operator"])
      assert.is_true(who["certificate authority"])
    end)

    it("soft-fail accepts with revocation_unknown in also", function()
      local v = check("leaf-dead", { unavailable = "accept" })
      assert.is_true(v.accepted)
      assert.same({ "revocation_unknown" }, v.also)
      assert.matches("refused", v.revocation.error, 1, true)
    end)

    it("a listener that never answers: revocation_unknown within timeout + 1 s", function()
      local socket = require "socket"
      local t0 = socket.gettime()
      local v = check("leaf-hang", { timeout = 0.5 })
      assert.equals("revocation_unknown", v.cause)
      assert.matches("timed out", v.message, 1, true)
      -- two sources, one URL each: at most 2 x timeout, plus 1 s
      assert.is_true(socket.gettime() - t0 < 2.0)
    end)

    it("a CRL at the distribution point signed by another key is not evidence", function()
      local v = check("leaf-roguecrl", { sources = { "crl" } })
      assert.equals("revocation_unknown", v.cause)
      assert.matches("signature", v.message, 1, true)
    end)

    it("answers from its cache until nextUpdate: the responder stopped, the verdict holds", function()
      local p = clientcert.policy{ trust = store, revocation = { sources = { "ocsp" } } }
      local fetched = 0
      local p2 = clientcert.policy{ trust = store, revocation = { sources = { "ocsp" }, scope = "leaf",
        fetch = function(...)
        fetched = fetched + 1
        return revocation.blocking_fetch(...)
      end } }
      assert.equals("revoked", p:check{ cert = pem("leaf-revoked"), time = now() }.cause)
      assert.is_true(p2:check{ cert = pem("leaf-good"), time = now() }.accepted)
      assert.equals(1, fetched)
      assert.is_true(p2:check{ cert = pem("leaf-good"), time = now() }.accepted)
      assert.equals(1, fetched) -- the second check: from the cache, nothing fetched
      -- a failure is kept for failure_ttl (a dead responder is not hammered)
      local p3 = clientcert.policy{ trust = store, revocation = { sources = { "ocsp" }, scope = "leaf",
        fetch = function()
        fetched = fetched + 1
        return nil, "refused"
      end } }
      assert.equals("revocation_unknown", p3:check{ cert = pem("leaf-good"), time = now() }.cause)
      assert.equals("revocation_unknown", p3:check{ cert = pem("leaf-good"), time = now() }.cause)
      assert.equals(2, fetched)
    end)

    it("the store's own CRL files are consulted first (source \"file\")", function()
      local s = assert(clientcert.store{ roots = pki .. "/root.pem", intermediates = pki .. "/inter.pem",
                                         crls = { pki .. "/inter.crl.pem", pki .. "/root.crl.pem" } })
      local fetched = 0
      local rev = { fetch = function() fetched = fetched + 1 return nil, "no" end }
      local v = check("leaf-ocsponly", rev, { trust = s })
      assert.is_true(v.accepted, v.message)
      local r = check("leaf-revoked", rev, { trust = s })
      assert.equals("revoked", r.cause)
      assert.equals("file", r.revocation.source)
      assert.equals(0, fetched)
    end)

    it("AIA chasing fetches a missing intermediate only from an allowed URL", function()
      local roots = assert(clientcert.store{ roots = pki .. "/root.pem" })
      local allowed = ("http://127.0.0.1:%d/"):format(ports.http)
      local v = check("leaf-good", { issuers = true, urls = { allowed, ("http://127.0.0.1:%d/"):format(ports.ocsp) } },
        { trust = roots })
      assert.is_true(v.accepted, v.message)
      local n0 = select(2, (live.read(servers.http.log) or ""):gsub("GET /inter.cer", ""))
      local w = check("leaf-good", { issuers = true, urls = { "http://127.0.0.1:1/" } }, { trust = roots })
      assert.is_false(w.accepted)
      local n1 = select(2, (live.read(servers.http.log) or ""):gsub("GET /inter.cer", ""))
      assert.equals(n0, n1)
      assert.has_error(function() clientcert.policy{ trust = roots, revocation = { issuers = true } } end)
    end)

    it("a client of an unknown CA makes the server connect nowhere", function()
      local v = check("other-leaf", { issuers = true, urls = { ("http://127.0.0.1:%d/"):format(ports.http) } })
      assert.is_false(v.accepted)
      local v2 = check("other-leaf", {})
      assert.is_false(v2.accepted)
      assert.equals("listening\n", live.read(pki .. "/trap.conns"))
    end)

    it("raises at construction for unknown keys and bad values", function()
      for _, bad in ipairs({ { source = { "ocsp" } }, { sources = { "ldap" } }, { sources = {} },
                             { scope = "root" }, { unavailable = "maybe" }, { timeout = 0 },
                             { timeout = "3" }, { urls = { "ftp://x/" } }, { issuers = 1 }, { fetch = 1 } }) do
        assert.has_error(function() clientcert.policy{ trust = store, revocation = bad } end)
      end
      local ok, err = pcall(clientcert.policy, { trust = store, revocation = { scope = "root" } })
      assert.is_false(ok)
      assert.matches("clientcert.policy: revocation.scope", err, 1, true)
    end)
  end)
  describe("the command", function()
    local function p(name) return pki .. "/" .. name .. ".pem" end

    it("check --revocation rejects a client revoked at the responder, naming the source", function()
      local code, out = cli.run("check", p("leaf-ocsponly"), "--roots", p("root"), "--intermediates", p("inter"),
        "--revocation", "ocsp,crl", "--time", tostring(now()))
      assert.equals(1, code)
      assert.matches("Cause: revoked", out, 1, true)
      assert.matches(("Revocation: ocsp http://127.0.0.1:%d/"):format(ports.ocsp), out, 1, true)
      code = cli.run("check", p("leaf-ocsponly"), "--roots", p("root"), "--intermediates", p("inter"),
        "--revocation", "crl", "--time", tostring(now()))
      assert.equals(0, code)
    end)

    it("check --soft-fail accepts with revocation_unknown in Also; --fetch-issuers needs --allow-url", function()
      local code, out = cli.run("check", p("leaf-dead"), "--roots", p("root"), "--intermediates", p("inter"),
        "--revocation", "ocsp", "--soft-fail", "--timeout", "1", "--time", tostring(now()))
      assert.equals(0, code)
      assert.matches("Also: revocation_unknown", out, 1, true)
      local c2, _, err = cli.run("check", p("leaf-good"), "--roots", p("root"), "--revocation", "crl",
        "--fetch-issuers")
      assert.equals(2, c2)
      assert.matches("needs urls", err, 1, true)
      local c3, out3 = cli.run("check", p("leaf-good"), "--roots", p("root"), "--revocation", "crl", "--fetch-issuers",
        "--allow-url", ("http://127.0.0.1:%d/"):format(ports.http), "--time", tostring(now()))
      assert.equals(0, c3, out3)
      local c4, _, err4 = cli.run("check", p("leaf-good"), "--roots", p("root"), "--soft-fail")
      assert.equals(2, c4)
      assert.matches("go with --revocation", err4, 1, true)
    end)

    it("revocation prints what each URL answers, judged", function()
      local code, out = cli.run("revocation", p("leaf-revoked"), "--issuer", p("inter"), "--roots", p("root"))
      assert.equals(1, code)
      assert.matches("revoked, on ", out, 1, true)
      assert.matches("signed by a delegated responder", out, 1, true)
      assert.matches("serves the issuer", out, 1, true)
      assert.matches("Verdict: revoked", out, 1, true)
      local c2, out2 = cli.run("revocation", p("leaf-good"), "--issuer", p("inter"), "--json")
      assert.equals(0, c2, out2)
      local c3, out3 = cli.run("revocation", p("other-leaf"), "--issuer", p("other-root"), "--roots", p("root"))
      assert.equals(1, c3)
      assert.matches("nothing is fetched", out3, 1, true)
      assert.equals("listening\n", live.read(pki .. "/trap.conns"))
    end)

    it("crl-status --fetch checks the CRLs at the CAs' distribution points", function()
      local code, out = cli.run("crl-status", "--fetch", "--roots", p("root"), "--intermediates", p("inter"))
      assert.equals(0, code, out)
      assert.matches(("http://127.0.0.1:%d/root.crl: CRL of CN=Revocation Test Root"):format(ports.http), out, 1,
        true)
      assert.matches("signature:   ok", out, 1, true)
      local c2, _, err = cli.run("crl-status")
      assert.equals(2, c2)
      assert.matches("--crl FILE or --fetch", err, 1, true)
    end)
  end)
end)
