-- clientcert.probe and `clientcert probe` against real nginx servers: a plain nginx
-- with ssl_verify_client on and ssl_client_certificate (nginx answers a bad or
-- missing certificate with its own 400 pages, not alerts), and the OpenResty
-- example (ssl_verify_client optional_no_ca: an empty CA list; the clientcert
-- gate's "403.x" first body line read back). Both on free 127.0.0.1 ports in
-- temporary prefixes, stopped by pid in teardown. Like nginx_spec.lua it drives
-- servers from outside, so it runs once (under lua5.4).
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local pki = require "helpers.pki"
local live = require "helpers.live"
local cli = require "helpers.cli"

local P = pki.path

describe("clientcert.probe against nginx ssl_verify_client on", function()
  local server

  setup(function()
    server = live.nginx([[
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate     @PREFIX@/probe-server.pem;
    ssl_certificate_key @PREFIX@/probe-server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate @PREFIX@/roots-with-inter.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    location / { return 200 "hello from nginx\n"; }
  }]], { P("probe-server.pem"), P("probe-server.key"), P("roots-with-inter.pem") })
  end)

  teardown(function() live.discard(server) end)

  local function probe(who, chain, tls)
    local o = { host = "127.0.0.1", port = server.port, timeout = 5, tls = tls }
    if who then o.cert, o.key, o.chain = P(who .. ".pem"), P(who .. ".key"), chain and P(chain) end
    return assert(clientcert.probe(o))
  end

  it("accepts alice: both CAs listed, 200 and the first body line", function()
    for _, tls in ipairs({ "1.2", "1.3" }) do
      local r = probe("alice", "inter.pem", tls)
      assert.is_true(r.ok, r.message)
      assert.are.same({ "CN=Test Root CA,O=clientcert tests", "CN=Test Issuing CA,O=clientcert tests" }, r.ca_names)
      assert.are.equal(200, r.http.status)
      assert.are.equal("hello from nginx", r.http.first_line)
    end
  end)

  it("a client of another CA: not on the list, and nginx's 400 certificate error", function()
    local r = probe("oscar", "other-inter.pem")
    assert.is_false(r.ok)
    assert.is_false(r.client.offered)
    assert.are.equal(400, r.http.status)
    assert.are.equal("400 The SSL certificate error", r.http.title)
    assert.are.same({ "issuer_not_listed", "http_refused" }, { r.findings[1].kind, r.findings[2].kind })
    assert.are.equal("invalid_certificate", r.findings[2].cause)
    assert.are.equal("untrusted_root", r.cause)
  end)

  it("no certificate: nginx's 400 'No required SSL certificate was sent' -> no_certificate", function()
    local r = probe(nil)
    assert.is_false(r.ok)
    assert.are.equal(400, r.http.status)
    assert.are.equal("no_certificate", r.cause)
    assert.truthy(r.message:find("No required SSL certificate was sent", 1, true), r.message)
    assert.are.equal(causes.get("no_certificate").resolution[1].step, r.resolution[1].step)
  end)

  it("clientcert probe (the command): exit 1 and the issuer named for a client not on the list", function()
    local code, out, err = cli.exec({ "probe", "127.0.0.1:" .. server.port, "--cert", P("oscar.pem"), "--key",
      P("oscar.key"), "--chain", P("other-inter.pem"), "--timeout", "5" })
    assert.are.equal(1, code, err)
    assert.truthy(out:find("Result: REFUSED (untrusted_root: Client's root CA is not trusted)", 1, true), out)
    assert.truthy(out:find("Your certificate's issuer CN=Elsewhere Issuing CA,O=Elsewhere Ltd is not among the 2 CAs",
      1, true), out)
    assert.truthy(out:find("  CN=Test Issuing CA,O=clientcert tests\n", 1, true), out)
    assert.falsy(out:find("\27", 1, true))
    code, out, err = cli.exec({ "probe", "127.0.0.1:" .. server.port, "--cert", P("alice.pem"), "--key",
      P("alice.key"), "--chain", P("inter.pem"), "--json" })
    assert.are.equal(0, code, err)
    assert.truthy(out:find('"ok":true', 1, true), out)
  end)
end)

describe("clientcert.probe against the OpenResty example (optional_no_ca, the clientcert gate)", function()
  local server

  setup(function() server = live.openresty() end)
  teardown(function() live.discard(server) end)

  local function probe(cert, key, path)
    return assert(clientcert.probe{ host = "127.0.0.1", port = server.port, servername = "localhost", timeout = 5,
      cert = cert and server.pki .. "/" .. cert, key = key and server.pki .. "/" .. key, path = path })
  end

  it("an empty CA list: any certificate is offered; the gate's welcome read back", function()
    local r = probe("alice-chain.pem", "alice.key")
    assert.is_true(r.requested)
    assert.are.equal(0, r.ca_count)
    assert.is_true(r.client.offered)
    assert.are.same({ "ca_list_empty" }, { r.warnings[1].kind })
    assert.is_true(r.ok, r.message)
    assert.truthy(r.http.first_line:find("^200 OK: welcome"), r.http.first_line)
  end)

  it("the gate's 403.16 line names the cause: a leaf sent without its intermediate", function()
    local r = probe("alice.pem", "alice.key")
    assert.is_false(r.ok)
    assert.are.equal(403, r.http.status)
    assert.are.equal("403.16 " .. causes.get("missing_intermediate").title, r.http.first_line)
    assert.are.equal("missing_intermediate", r.cause)
    assert.are.equal("http_refused", r.findings[1].kind)
  end)

  it("the gate's 403.7 line for no certificate", function()
    local r = probe(nil, nil)
    assert.are.equal(403, r.http.status)
    assert.are.equal("no_certificate", r.cause)
  end)
end)
