-- core.crl_status on CRLs narrower than "every certificate of the CA, every
-- reason" (RFC 5280 5.2.5, 6.3.3): such a CRL that does not list a certificate is
-- no evidence that it is not revoked. CRLs from spec/fixtures/crlscope.sh (fixed
-- dates), checked at an explicit time.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local sh_quote = require("helpers.sh").quote

local T = 1906502400   -- 2030-06-01

local function build()
  local dir = os.tmpname()
  os.remove(dir)
  local log = dir .. ".log"
  local ok = os.execute(("env -u LD_PRELOAD bash spec/fixtures/crlscope.sh %s > %s 2>&1"):format(sh_quote(dir),
    sh_quote(log)))
  if ok ~= true and ok ~= 0 then
    local f = io.open(log, "rb")
    error("spec/fixtures/crlscope.sh failed:\n" .. (f and f:read("*a") or "(no log)"))
  end
  os.remove(log)
  return dir
end

describe("core.crl_status scope", function()
  local dir, ca
  local function read(n)
    local f = assert(io.open(dir .. "/" .. n, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end
  local function cert(n) return assert(clientcert.parse(read(n .. ".pem"))) end
  local function crl(n) return assert(core.parse_crl(read(n .. ".crl"))) end
  local function status(c, leaf) return core.crl_status(crl(c), cert(leaf), ca, { time = T }) end

  setup(function()
    dir = build()
    ca = cert("ca")
  end)
  teardown(function()
    if dir then os.execute("rm -rf " .. sh_quote(dir)) end
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
end)
