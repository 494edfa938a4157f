-- store:verify: every case of spec/cases.lua that has a verification expectation.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local pki = require "helpers.pki"
local cases = require "cases"

local function certs(names)
  if not names then return nil end
  local out = {}
  for _, n in ipairs(names) do
    for _, c in ipairs(assert(clientcert.load_all(pki.path(n)))) do out[#out + 1] = c end
  end
  return out
end

describe("store:verify", function()
  for _, case in ipairs(cases.list) do
    if not case.policy_only then
      it(case.name .. " (" .. case.reason .. ")", function()
        local store = cases.store(clientcert, case.store)
        local opts = { chain = certs(case.chain), time = case.time or pki.T }
        for k, v in pairs(case.verify or {}) do opts[k] = v end
        local r = assert(store:verify(assert(clientcert.load(pki.path(case.cert))), opts))
        local e = case.expect
        assert.equals(e.ok, r.ok)
        if e.code_name then
          assert.equals(e.code_name, r.code_name)
          assert.equals(core.verify_codes[e.code_name], r.code)
          if r.problems[1] then assert.equals(e.code_name, r.problems[1].code_name) end
        end
        if e.depth then assert.equals(e.depth, r.depth) end
        assert.equals(opts.time, r.time)
        if e.ok then
          assert.equals("ok", r.cause)
          assert.same({}, r.problems)
          for _, el in ipairs(r.chain) do assert.equals("ok", el.status) end
          assert.is_true(r.chain[#r.chain].trusted)
        else
          assert.is_true(#r.problems >= 1)
          local found = {}
          for _, p in ipairs(r.problems) do found[p.cause] = true end
          assert.is_true(found[e.cause] == true, "cause " .. e.cause .. " not among the problems")
          assert.equals(r.error, r.problems[1].error)
          if e.depth and e.depth < #r.chain then
            assert.equals(r.problems[1].cause, r.chain[e.depth + 1].status)
          end
        end
      end)
    end
  end

  it("reports every element of the path, leaf first, with its facts", function()
    local store = cases.store(clientcert, "plain")
    local r = store:verify(clientcert.load(pki.path("alice.pem")),
      { chain = { pki.read("inter.pem") }, time = pki.T })
    assert.equals(3, #r.chain)
    local names = {}
    for i, el in ipairs(r.chain) do
      names[i] = el.subject
      assert.equals(i - 1, el.depth)
      assert.equals(64, #el.fingerprint)
      assert.is_number(el.not_before)
      assert.is_string(el.serial)
    end
    assert.same({ "CN=alice,O=clientcert tests", "CN=Test Issuing CA,O=clientcert tests",
                  "CN=Test Root CA,O=clientcert tests" }, names)
    assert.same({ false, false, true }, { r.chain[1].trusted, r.chain[2].trusted, r.chain[3].trusted })
    assert.same({ false, true, true }, { r.chain[1].is_ca, r.chain[2].is_ca, r.chain[3].is_ca })
    assert.is_true(r.chain[3].self_signed)
  end)

  it("gives each element's key identifiers: each AKID is its issuer's SKID on a good path", function()
    local store = cases.store(clientcert, "with_inter")
    for _, chain in ipairs({ {}, { pki.read("inter.pem") } }) do -- the store's intermediate, then the client's
      local r = assert(store:verify(clientcert.load(pki.path("alice.pem")), { chain = chain, time = pki.T }))
      assert.equals(3, #r.chain)
      for i, el in ipairs(r.chain) do
        assert.matches("^[0-9a-f]+$", el.subject_key_id)
        local info = clientcert.load(pki.path(({ "alice.pem", "inter.pem", "root.pem" })[i])):info()
        assert.equals(info.subject_key_id, el.subject_key_id)
        assert.equals(info.authority_key_id, el.authority_key_id)
        if i < 3 then assert.equals(r.chain[i + 1].subject_key_id, el.authority_key_id) end
      end
      assert.is_nil(r.chain[3].authority_key_id)
    end
    -- the tampered intermediate keeps the AKID it claims: the root's key
    local r = assert(cases.store(clientcert, "plain"):verify(clientcert.load(pki.path("alice.pem")),
      { chain = { pki.read("inter-tampered.pem") }, time = pki.T }))
    assert.equals(r.chain[3].subject_key_id, r.chain[2].authority_key_id)
    assert.equals("bad_signature", r.cause)
    assert.equals("bad_signature", r.chain[2].status)
  end)

  it("collects the problems of every element, not only the first", function()
    local store = cases.store(clientcert, "plain")
    -- at 2041 the leaf, the intermediate and the root have all expired
    local r = store:verify(clientcert.load(pki.path("alice.pem")),
      { chain = { pki.read("inter.pem") }, time = 2240611200 })
    assert.is_false(r.ok)
    local depths = {}
    for _, p in ipairs(r.problems) do
      if p.cause == "expired" then depths[#depths + 1] = p.depth end
    end
    table.sort(depths)
    assert.same({ 0, 1, 2 }, depths)
    for _, el in ipairs(r.chain) do assert.equals("expired", el.status) end
  end)

  it("gives revocation date and reason for a revoked certificate", function()
    local store = cases.store(clientcert, "crl")
    local r = store:verify(clientcert.load(pki.path("mallory.pem")), { time = pki.T })
    assert.equals("keyCompromise", r.chain[1].problems[1].reason)
    assert.is_number(r.chain[1].problems[1].revoked_at)
  end)

  it("holds as far as it got when no path can be built", function()
    local store = cases.store(clientcert, "plain")
    local r = store:verify(clientcert.load(pki.path("alice.pem")), { time = pki.T })
    assert.equals(1, #r.chain)
    assert.equals("missing_intermediate", r.chain[1].status)
  end)

  it("accepts PEM and DER text for the certificate and the chain", function()
    local store = cases.store(clientcert, "plain")
    local r = store:verify(pki.read("alice.der"), { chain = { pki.read("inter.pem") }, time = pki.T })
    assert.is_true(r.ok)
  end)

  it("defaults to checking CRLs through the chain when the store holds any", function()
    local store = cases.store(clientcert, "crl")
    assert.is_false(store:verify(clientcert.load(pki.path("mallory.pem")), { time = pki.T }).ok)
    assert.is_true(cases.store(clientcert, "with_inter"):verify(clientcert.load(pki.path("mallory.pem")),
      { time = pki.T }).ok)
  end)

  it("returns nil, err for garbage from the client", function()
    local store = cases.store(clientcert, "plain")
    local r, err = store:verify("garbage", { time = pki.T })
    assert.is_nil(r)
    assert.matches("^clientcert%.store%.verify: certificate: ", err)
    r, err = store:verify(clientcert.load(pki.path("alice.pem")), { chain = { "\48\130\1\1" }, time = pki.T })
    assert.is_nil(r)
    assert.matches("^clientcert%.store%.verify: chain%[1%]: ", err)
  end)

  it("raises for programmer errors in options", function()
    local store = cases.store(clientcert, "plain")
    local alice = clientcert.load(pki.path("alice.pem"))
    assert.has_error(function() store:verify(alice, { bogus = true }) end,
      "clientcert.store.verify: unknown option 'bogus'")
    assert.has_error(function() store:verify(alice, { purpose = "email" }) end)
    assert.has_error(function() store:verify(alice, { crl = "all" }) end)
    assert.has_error(function() store:verify(alice, { time = "now" }) end)
    assert.has_error(function() store:verify(alice, { time = 1.5 }) end)
    assert.has_error(function() store:verify(alice, { flags = { "no_such_flag" } }) end)
    assert.has_error(function() store:verify(42) end)
  end)
end)

describe("clientcert.store", function()
  it("takes paths, PEM text, objects and lists", function()
    local root = clientcert.load(pki.path("root.pem"))
    local s = assert(clientcert.store{ roots = { root, pki.read("other-root.pem") },
                                       intermediates = pki.path("inter.pem"),
                                       crls = { pki.path("crls.pem"), clientcert.load_crl(pki.path("chain1.crl")) } })
    assert.equals(2, #s:roots())
    assert.equals(1, #s:intermediates())
    assert.equals(3, s:crl_count())
  end)

  it("adds with add_root / add_intermediate / add_crl", function()
    local s = assert(clientcert.store{})
    assert.is_true(s:add_root(pki.path("root.pem")))
    assert.is_true(s:add_intermediate(pki.read("inter.pem")))
    assert.is_true(s:add_crl(pki.read("root.crl.der")))
    assert.is_true(s:verify(clientcert.load(pki.path("alice.pem")), { time = pki.T, crl = "none" }).ok)
  end)

  it("returns nil, err for a missing file or bad data", function()
    local s, err = clientcert.store{ roots = pki.path("missing.pem") }
    assert.is_nil(s)
    assert.matches("^clientcert%.store: cannot open ", err)
    s, err = clientcert.store{ crls = pki.path("alice.pem") }
    assert.is_nil(s)
    assert.matches("^clientcert%.store: .*no CRL found", err)
    local ok, aerr = assert(clientcert.store{}):add_root(pki.path("wrong.key"))
    assert.is_nil(ok)
    assert.matches("^clientcert%.store%.add_root: .*no certificate found", aerr)
  end)

  it("raises for wrong types and unknown keys", function()
    assert.has_error(function() clientcert.store{ roots = 42 } end)
    assert.has_error(function() clientcert.store{ root = pki.path("root.pem") } end)
    assert.has_error(function() clientcert.store{ roots = clientcert.load_crl(pki.path("root.crl")) } end)
  end)
end)
