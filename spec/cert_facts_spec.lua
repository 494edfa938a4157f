-- Lean result building (issue 9 item 4): a certificate's fingerprint, subject,
-- issuer and self-signature are computed once per certificate object (the
-- store's own certificates: once per store) and reused by info(), fingerprint()
-- and every store:verify result. Behaviour, not timing: the facts are each
-- object's own, never shared between objects, never changed by a caller.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local pki = require "helpers.pki"

local ROOT = "CN=Test Root CA,O=clientcert tests"
local INTER = "CN=Test Issuing CA,O=clientcert tests"

local function summary(el)
  return { el.subject, el.issuer, el.fingerprint, el.self_signed, el.serial, el.not_before, el.not_after }
end

describe("per-certificate facts", function()
  it("are kept by each certificate object and by the store for its own certificates", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local leaf = clientcert.load(pki.path("alice.pem"))
    assert.same({}, core._cert_facts(leaf))
    local fp = leaf:fingerprint()
    assert.equals(fp, core._cert_facts(leaf).fingerprint)
    local r = assert(s:verify(leaf, { time = pki.T }))
    local f = core._cert_facts(leaf)
    assert.equals("CN=alice,O=clientcert tests", f.subject)
    assert.equals(INTER, f.issuer)
    assert.is_false(f.self_signed)
    -- the store's intermediate (computed self-signature) and root (its kept fact)
    local kept = {}
    for _, facts in pairs(core._store_facts(s).certs) do kept[facts.subject] = facts end
    assert.equals(r.chain[2].fingerprint, kept[INTER].fingerprint)
    assert.is_false(kept[INTER].self_signed)
    assert.equals(r.chain[3].fingerprint, kept[ROOT].fingerprint)
    -- a client-sent chain certificate keeps its own
    local inter = clientcert.load(pki.path("inter.pem"))
    local s2 = assert(clientcert.store{ roots = pki.path("root.pem") })
    assert(s2:verify(leaf, { chain = { inter }, time = pki.T }))
    assert.equals(INTER, core._cert_facts(inter).subject)
    assert.equals(r.chain[2].fingerprint, core._cert_facts(inter).fingerprint)
  end)

  it("verify results give each element's own fingerprint and names, the same every time", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem") })
    local leaf, inter = clientcert.load(pki.path("alice.pem")), clientcert.load(pki.path("inter.pem"))
    local root = clientcert.load(pki.path("root.pem"))
    local first = assert(s:verify(leaf, { chain = { inter }, time = pki.T }))
    assert.is_true(first.ok)
    assert.equals(leaf:fingerprint(), first.chain[1].fingerprint)
    assert.equals(inter:fingerprint(), first.chain[2].fingerprint)
    assert.equals(root:fingerprint(), first.chain[3].fingerprint)
    assert.equals(INTER, first.chain[1].issuer)
    assert.equals(INTER, first.chain[2].subject)
    assert.equals(ROOT, first.chain[3].subject)
    assert.is_false(first.chain[1].self_signed)
    assert.is_false(first.chain[2].self_signed)
    assert.is_true(first.chain[3].self_signed)
    for _ = 1, 3 do
      local r = assert(s:verify(leaf, { chain = { inter }, time = pki.T }))
      for i = 1, 3 do assert.same(summary(first.chain[i]), summary(r.chain[i])) end
    end
  end)

  it("the store's own intermediate has its facts, the same as a client-sent copy", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local inter = clientcert.load(pki.path("inter.pem"))
    for _ = 1, 2 do
      local r = assert(s:verify(pki.read("alice.pem"), { time = pki.T }))
      assert.equals(inter:fingerprint(), r.chain[2].fingerprint)
      assert.equals(INTER, r.chain[2].subject)
      assert.equals(ROOT, r.chain[2].issuer)
    end
  end)

  it("a caller changing a result or an info table changes nothing kept", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local leaf = clientcert.load(pki.path("alice.pem"))
    local fp = leaf:fingerprint()
    local r = assert(s:verify(leaf, { time = pki.T }))
    for _, el in ipairs(r.chain) do el.fingerprint, el.subject, el.issuer, el.self_signed = "x", "x", "x", "x" end
    local info = assert(leaf:info())
    info.fingerprint, info.subject = "y", "y"
    local r2 = assert(s:verify(leaf, { time = pki.T }))
    assert.equals(fp, r2.chain[1].fingerprint)
    assert.equals("CN=alice,O=clientcert tests", r2.chain[1].subject)
    assert.equals(ROOT, r2.chain[3].subject)
    assert.is_true(r2.chain[3].self_signed)
    local info2 = assert(leaf:info())
    assert.equals(fp, info2.fingerprint)
    assert.equals("CN=alice,O=clientcert tests", info2.subject)
    assert.equals(fp, leaf:fingerprint())
    assert.equals(fp, leaf:fingerprint("SHA256"))
  end)

  it("facts belong to each object: new objects over collected ones never see another's facts", function()
    local names = { "alice.pem", "bob.pem", "carol.pem", "mallory.pem", "selfsigned-leaf.pem", "alice-tampered.pem" }
    local want = {}
    for _, n in ipairs(names) do
      local c = clientcert.load(pki.path(n))
      local info = assert(c:info())
      want[n] = { fp = c:fingerprint(), subject = info.subject, ss = info.self_signed }
    end
    assert.is_true(want["selfsigned-leaf.pem"].ss)
    assert.is_false(want["alice-tampered.pem"].ss)   -- not self-issued, whatever its signature
    for round = 1, 30 do
      local n = names[(round % #names) + 1]
      local c = clientcert.parse(pki.read(n))
      if round % 2 == 0 then assert(c:info()) end     -- facts made in either order
      assert.equals(want[n].fp, c:fingerprint())
      local info = assert(c:info())
      assert.equals(want[n].subject, info.subject)
      assert.equals(want[n].ss, info.self_signed)
      c:close()
      if round % 5 == 0 then collectgarbage() end
    end
  end)

  it("a self-signed leaf's self-signature is its own fact in the verify result", function()
    local s = assert(clientcert.store{ roots = pki.path("root.pem") })
    local c = clientcert.load(pki.path("selfsigned-leaf.pem"))
    for _ = 1, 2 do
      local r = assert(s:verify(c, { time = pki.T }))
      assert.is_false(r.ok)
      assert.is_true(r.chain[1].self_signed)
      assert.equals(c:fingerprint(), r.chain[1].fingerprint)
    end
  end)

  it("util.fingerprint reads the one kept fingerprint (core._cert_facts_of), computing it once", function()
    local util = require "clientcert.util"
    local leaf = clientcert.load(pki.path("alice.pem"))
    assert.is_nil(core._cert_facts_of[leaf])
    local fp = util.fingerprint(leaf)
    assert.equals(leaf:fingerprint(), fp)
    assert.equals(fp, core._cert_facts_of[leaf].fingerprint)
    assert.equals(core._cert_facts(leaf), core._cert_facts_of[leaf])
    assert.equals(fp, util.fingerprint(leaf))
  end)
end)

describe("cert:der_part", function()
  local function sh(cmd)
    local f = assert(io.popen(cmd))
    local out = f:read("*a")
    f:close()
    return out
  end

  it("gives the DER subject and issuer names and the SubjectPublicKeyInfo", function()
    local alice, inter = clientcert.load(pki.path("alice.pem")), clientcert.load(pki.path("inter.pem"))
    local subj = alice:der_part("subject")
    assert.equals(0x30, subj:byte(1))
    assert.truthy(alice:der():find(subj, 1, true))
    assert.equals(inter:der_part("subject"), alice:der_part("issuer"))
    assert.not_equals(subj, alice:der_part("issuer"))
    local spki = sh("openssl x509 -in " .. pki.path("alice.pem")
      .. " -noout -pubkey | openssl pkey -pubin -outform DER")
    assert.equals(spki, alice:der_part("public_key"))
  end)

  it("raises for an unknown part", function()
    local alice = clientcert.load(pki.path("alice.pem"))
    assert.has_error(function() alice:der_part("serial") end)
    assert.has_error(function() alice:der_part() end)
  end)
end)
