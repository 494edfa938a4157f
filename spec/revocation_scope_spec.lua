-- core.crl_status on CRLs narrower than "every certificate of the CA, every
-- reason" (RFC 5280 5.2.5, 6.3.3): such a CRL that does not list a certificate is
-- no evidence that it is not revoked. CRLs from spec/fixtures/crlscope.sh (fixed
-- dates), checked at an explicit time.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local live = require "helpers.live"

local T = 1906502400   -- 2030-06-01

describe("core.crl_status scope", function()
  local dir, ca
  local function read(n) return assert(live.read(dir .. "/" .. n)) end
  local function cert(n) return assert(clientcert.parse(read(n .. ".pem"))) end
  local function crl(n) return assert(core.parse_crl(read(n .. ".crl"))) end
  local function status(c, leaf) return core.crl_status(crl(c), cert(leaf), ca, { time = T }) end

  setup(function()
    dir = live.tempdir("clientcert-crlscope")
    live.fixture(dir, "crlscope.sh")
    ca = cert("ca")
  end)
  teardown(function()
    if dir then live.run("rm -rf " .. live.q(dir)) end
  end)

  it("crl_status and ocsp_check check {time =, skew =} alike: integers in range, else a raise", function()
    local c, leaf = crl("plain"), cert("a")
    local req = assert(core.ocsp_request(leaf, ca))
    local calls = {
      function(o) return core.crl_status(c, leaf, ca, o) end,
      function(o) return core.ocsp_check("not a response", req, ca, o) end,
    }
    for _, call in ipairs(calls) do
      assert.has_error(function() call(nil) end)
      for _, o in ipairs({ {}, { time = -1 }, { time = 253402300800 }, { time = 1.5 } }) do
        assert.matches("time: integer Unix seconds between 0 and 253402300799 expected",
          select(2, pcall(call, o)), 1, true)
      end
      for _, skew in ipairs({ -1, 86401, 0.5, "60" }) do
        assert.matches("skew: integer seconds between 0 and 86400 expected",
          select(2, pcall(call, { time = T, skew = skew })), 1, true)
      end
      assert.is_table(call({ time = T, skew = 86400 }))
    end
  end)

  it("a partition's CRL answers for the certificates of its distribution point", function()
    local r = status("part-a", "a")
    assert.is_true(r.ok, r.detail)
    assert.equals("revoked", r.status)
    local g = status("plain", "a")
    assert.is_true(g.ok, g.detail)
    assert.equals("good", g.status)
  end)

  it("another partition's CRL (served at a's distribution point) is no evidence for b", function()
    local r = status("part-a", "b")
    assert.is_false(r.ok)
    assert.equals("scope", r.problem)
    assert.matches("distribution point", r.detail, 1, true)
    assert.is_false(status("part-b", "a").ok)
    assert.equals("revoked", status("part-b", "b").status)
  end)

  it("matches a distribution point named relative to the CA (nameRelativeToCRLIssuer)", function()
    local r = status("part-r", "r")   -- r's second distribution point
    assert.is_true(r.ok, r.detail)
    assert.equals("revoked", r.status)
    assert.equals("scope", status("part-r", "a").problem)
    assert.equals("scope", status("part-a", "r").problem)
  end)

  it("a CRL with an unknown critical extension, or entry extension, is no evidence", function()
    local r = status("crit", "a")
    assert.is_false(r.ok)
    assert.equals("scope", r.problem)
    assert.matches("critical", r.detail, 1, true)
    local e = status("critentry", "b")
    assert.is_false(e.ok)
    assert.equals("scope", e.problem)
    assert.matches("critical", e.detail, 1, true)
    assert.is_false(core._openssl_error_pending())
  end)

  it("a CRL download that is no evidence is not kept: the next fetch is made", function()
    -- an attacker on the path answers the first fetch of a's CRL with a forged CRL
    local store = assert(clientcert.store{ roots = dir .. "/ca.pem" })
    local served, fetched = { "forged", "part-a" }, 0
    local p = clientcert.policy{ trust = store, revocation = { sources = { "crl" }, failure_ttl = 1,
      fetch = function(url)
        assert.equals("http://pki.test/part-a.crl", url)
        fetched = fetched + 1
        return read(served[fetched] .. ".crl")
      end } }
    local v = p:check{ cert = read("a.pem"), time = T }
    assert.equals("revocation_unknown", v.cause)
    assert.matches("signature", v.message, 1, true)
    os.execute("sleep 2.1")   -- the failure is kept failure_ttl (1 s), wall-clock time
    local w = p:check{ cert = read("a.pem"), time = T }
    assert.equals(2, fetched)
    assert.equals("revoked", w.cause)
  end)

  it("AIA chasing keeps only a download that is a certificate", function()
    local revocation = require "clientcert.revocation"
    local o = revocation.options({ issuers = true, urls = { "http://pki.test/" } })
    local served, fetched = { "not a certificate", read("ca.pem") }, 0
    local env = { cache = revocation.memory_cache(), fetch = function(url)
      assert.equals("http://pki.test/ca.cer", url)
      fetched = fetched + 1
      return served[fetched]
    end }
    local c, err = revocation.fetch_issuer(o, env, cert("c"))
    assert.is_nil(c)
    assert.matches("not a certificate", err, 1, true)
    c = assert(revocation.fetch_issuer(o, env, cert("c")))
    assert.equals(2, fetched)
    assert.equals(ca:info().fingerprint, c:info().fingerprint)
    assert(revocation.fetch_issuer(o, env, cert("c")))
    assert.equals(2, fetched) -- the certificate is kept
  end)

  it("a downloaded CRL without nextUpdate is fresh for max_age after its thisUpdate, not forever", function()
    local store = assert(clientcert.store{ roots = dir .. "/ca.pem" })
    local p = clientcert.policy{ trust = store, revocation = { sources = { "crl" }, max_age = 86400, skew = 60,
      fetch = function() return read("nonext.crl") end } }
    local last = 1861920000    -- nonext.crl's thisUpdate, 2029-01-01
    local v = p:check{ cert = read("b.pem"), time = last + 3600 }
    assert.is_true(v.accepted, v.message)
    local w = p:check{ cert = read("b.pem"), time = T }   -- a year and a half later: cached or fetched
    assert.equals("revocation_unknown", w.cause)
    assert.matches("nextUpdate", w.message, 1, true)
  end)
end)
