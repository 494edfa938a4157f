-- An OCSP answer without nextUpdate ("newer information is always available",
-- RFC 6960 4.2.2.1) is fresh for ocsp_ttl after its thisUpdate, not forever:
-- else an old "good" answer replayed on the plain-HTTP path after the
-- certificate was revoked would still be taken. The answers come from `openssl
-- ocsp` run offline on each request (no -nmin: no nextUpdate, thisUpdate = now),
-- through the policy's fetch; the checks pass explicit times.
local clientcert = require "clientcert"
local live = require "helpers.live"

local q = live.q

describe("revocation freshness without nextUpdate", function()
  local dir, store, fetched

  setup(function()
    dir = live.tempdir("clientcert-revfresh")
    live.fixture(dir .. "/pki", "revocation.sh", 1, 2, 3, 4, 5)
    store = assert(clientcert.store{ roots = dir .. "/pki/root.pem", intermediates = dir .. "/pki/inter.pem" })
  end)
  teardown(function()
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  -- the responder, offline: one answer (no nextUpdate) per request body
  local function responder(url, body)
    fetched = fetched + 1
    assert.is_string(body, url)
    live.write(dir .. "/req.der", body)
    local ok, out = live.run(("cd %s/pki && openssl ocsp -index index.txt -rsigner responder.pem -rkey responder.key "
      .. "-CA inter.pem -reqin ../req.der -respout ../resp.der"):format(q(dir)))
    assert(ok, out)
    return live.read(dir .. "/resp.der")
  end

  local function policy()
    return clientcert.policy{ trust = store, revocation = { sources = { "ocsp" }, scope = "leaf",
      ocsp_ttl = 300, skew = 60, fetch = responder } }
  end

  it("takes an answer without nextUpdate within ocsp_ttl of its thisUpdate", function()
    fetched = 0
    local v = policy():check{ cert = live.read(dir .. "/pki/leaf-good.pem"), time = os.time() }
    assert.is_true(v.accepted, v.message)
    assert.is_nil(v.revocation and v.revocation.next_update)
    assert.equals(1, fetched)
  end)

  it("refuses it as stale when it is older than ocsp_ttl (+ skew) at the check time", function()
    fetched = 0
    local v = policy():check{ cert = live.read(dir .. "/pki/leaf-good.pem"), time = os.time() + 3600 }
    assert.equals("revocation_unknown", v.cause)
    assert.matches("nextUpdate", v.message, 1, true)
    -- nor is such an answer, once cached, used at a later check time
    local p = policy()
    local t = os.time()
    assert.is_true(p:check{ cert = live.read(dir .. "/pki/leaf-good.pem"), time = t }.accepted)
    local w = p:check{ cert = live.read(dir .. "/pki/leaf-good.pem"), time = t + 3600 }
    assert.equals("revocation_unknown", w.cause)
  end)
end)
