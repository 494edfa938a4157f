-- core.ocsp_check on a response that answers more than once for the certificate
-- asked about (its responder's signature good): the gravest answer counts
-- (revoked, then unknown), never merely the first. Responses made by
-- spec/fixtures/ocsp_twice.py on spec/fixtures/revocation.sh's PKI (no server);
-- checked at the current time, as their thisUpdate is the time they are made.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local live = require "helpers.live"

local q = live.q

describe("core.ocsp_check with two answers for one certificate", function()
  local dir, pki

  local function cert(n) return assert(clientcert.parse(live.read(pki .. "/" .. n .. ".pem"))) end
  local function check(first, second)
    local out = ("%s/%s-%s.der"):format(dir, first, second)
    local ok, err = live.run(("python3 %s/spec/fixtures/ocsp_twice.py %s %s %s %s"):format(q(live.checkout()),
      q(pki), first, second, q(out)))
    assert(ok, err)
    local req = assert(core.ocsp_request(cert("leaf-revoked"), cert("inter")))
    return core.ocsp_check(live.read(out), req, cert("inter"), { time = os.time() })
  end

  setup(function()
    dir = live.tempdir("clientcert-ocsptwice")
    pki = dir .. "/pki"
    live.fixture(pki, "revocation.sh", 1, 2, 3, 4, 5)
  end)
  teardown(function()
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  it("takes revoked whichever answer comes first", function()
    for _, order in ipairs({ { "good", "revoked" }, { "revoked", "good" } }) do
      local r = check(order[1], order[2])
      assert.is_true(r.ok, r.detail)
      assert.equals("revoked", r.status, order[1] .. ", " .. order[2])
      assert.equals("keyCompromise", r.reason)
      assert.is_number(r.revoked_at)
    end
  end)

  it("takes good when both answers say good", function()
    local r = check("good", "good")
    assert.is_true(r.ok, r.detail)
    assert.equals("good", r.status)
    assert.is_false(core._openssl_error_pending())
  end)
end)
