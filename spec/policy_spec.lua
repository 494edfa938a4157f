-- policy:check over every case of spec/cases.lua, plus modes, files and JSON.
local clientcert = require "clientcert"
local pki = require "helpers.pki"
local cases = require "cases"

local function check_case(case)
  local opts = { trust = cases.store(clientcert, case.store), verify = case.verify }
  for k, v in pairs(case.policy or {}) do opts[k] = v end
  local policy = clientcert.policy(opts)
  local req = { time = case.time or pki.T, chain = {} }
  if case.cert then req.cert = pki.read(case.cert) end
  if case.cert_data then req.cert = case.cert_data end
  for _, n in ipairs(case.chain or {}) do req.chain[#req.chain + 1] = pki.read(n) end
  for _, d in ipairs(case.chain_data or {}) do req.chain[#req.chain + 1] = d end
  if case.key then req.key = pki.read(case.key) end
  return policy:check(req)
end

describe("policy:check", function()
  for _, case in ipairs(cases.list) do
    it(case.name .. " -> " .. case.expect.cause .. " (" .. case.reason .. ")", function()
      local v = check_case(case)
      local e = case.expect
      local accepted = e.accepted
      if accepted == nil then accepted = e.ok end
      assert.equals(e.cause, v.cause)
      assert.equals(e.substatus, v.substatus)
      assert.equals(accepted, v.accepted)
      assert.equals(accepted and 200 or 403, v.status)
      assert.is_string(v.title)
      assert.is_string(v.message)
      assert.not_matches("{", v.message)           -- every placeholder filled
      if not accepted then
        assert.is_true(#v.resolution >= 1)
        for _, step in ipairs(v.resolution) do
          assert.is_truthy(step.who == "server operator" or step.who == "client owner")
          assert.is_string(step.step)
        end
      end
      if e.also then assert.same(e.also, v.also) end
      if e.message then assert.matches(e.message, v.message, 1, true) end
      if e.rule_error then assert.matches(e.rule_error, v.rule_error, 1, true) end
      if case.cert and v.cause ~= "no_certificate" and case.policy and case.policy.mode ~= "off" or
         case.cert and not case.policy then
        assert.is_table(v.client)
      end
    end)
  end

  it("names the actual certificate in the message", function()
    local v = check_case{ store = "with_inter", cert = "old.pem" }
    assert.matches("CN=old,O=clientcert tests", v.message, 1, true)
    assert.matches("2025-01-01T00:00:00Z", v.message, 1, true)
    assert.matches("2030-06-01T00:00:00Z", v.message, 1, true)
  end)

  it("says which element expired", function()
    local v = check_case{ store = "plain", cert = "frank.pem", chain = { "inter-expired.pem" } }
    assert.matches("intermediate CA CN=Expired Issuing CA", v.message, 1, true)
  end)

  it("gives serial, date and reason of a revocation", function()
    local v = check_case{ store = "crl", cert = "mallory.pem" }
    assert.matches("keyCompromise", v.message, 1, true)
    assert.matches(clientcert.load(pki.path("mallory.pem")):info().serial, v.message, 1, true)
  end)

  it("tells the operator to make client certificates optional when not needed", function()
    local v = check_case{ store = "with_inter" }
    local text = {}
    for _, s in ipairs(v.resolution) do text[#text + 1] = s.step end
    assert.matches("make them optional or switch them off", table.concat(text, " "), 1, true)
  end)

  it("shows a NUL in a name escaped in messages", function()
    local v = check_case{ store = "with_inter", cert = "nul.pem", policy = { allow = { { subject_cn = "x" } } } }
    assert.matches("alice\\00.evil.test", v.message, 1, true)
    assert.not_matches("%z", v.message)
  end)

  it("rejects with a cause when the chain has a problem and a rule would accept", function()
    local v = check_case{ store = "with_inter", cert = "old.pem", policy = { rule = function() return true end } }
    assert.equals("expired", v.cause)
  end)
end)

describe("clientcert.policy options", function()
  local store = cases.store(clientcert, "plain")
  it("raises for programmer errors", function()
    assert.has_error(function() clientcert.policy{ trust = store, mode = "sometimes" } end)
    assert.has_error(function() clientcert.policy{ mode = "require" } end)
    assert.has_error(function() clientcert.policy{ trust = store, bogus = 1 } end)
    assert.has_error(function() clientcert.policy{ trust = store, allow = { { subject_cn = 5 } } } end)
    assert.has_error(function() clientcert.policy{ trust = store, allow = { { nickname = "x" } } } end)
    assert.has_error(function() clientcert.policy{ trust = store, allow = { {} } } end)
    assert.has_error(function() clientcert.policy{ trust = store, verify = { depth = 3 } } end)
    assert.has_error(function() clientcert.policy{ trust = store, rule = "deny" } end)
  end)
end)

describe("clientcert.load_policy", function()
  local dir = pki.dir
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end

  it("loads a policy file that builds its own trust store", function()
    local path = write("p1.lua", ([[
      return { mode = "require",
               trust = clientcert.store{ roots = %q, intermediates = %q },
               allow = { { issuer_cn = "Test Issuing CA" } } }]]):format(pki.path("root.pem"), pki.path("inter.pem")))
    local policy = assert(clientcert.load_policy(path))
    assert.is_true(policy:check{ cert = pki.read("alice.pem"), time = pki.T }.accepted)
  end)

  it("refuses a policy file that reaches for os.execute", function()
    local marker = dir .. "/pwned"
    local path = write("evil.lua", ("os.execute('touch %s') return {mode = 'off'}"):format(marker))
    local policy, err = clientcert.load_policy(path)
    assert.is_nil(policy)
    assert.matches("attempt to index", err, 1, true)
    assert.matches("os", err, 1, true)
    assert.is_nil(io.open(marker))
  end)

  it("offers no io, require, load or debug to policy files", function()
    for _, name in ipairs({ "io", "require", "load", "loadstring", "dofile", "debug", "package", "os" }) do
      local path = write("probe.lua", ("return { mode = 'off', name = tostring(%s) }"):format(name))
      local policy = assert(clientcert.load_policy(path))
      assert.equals("nil", policy.name)
    end
  end)

  it("returns nil, err for a missing file, a syntax error, or a bad table", function()
    assert.matches("^clientcert%.load_policy: cannot open", select(2, clientcert.load_policy(dir .. "/none.lua")))
    assert.matches("^clientcert%.load_policy: ", select(2, clientcert.load_policy(write("bad.lua", "return {"))))
    assert.matches("unknown option", select(2, clientcert.load_policy(write("bad2.lua", "return {color = 1}"))))
    assert.matches("must return", select(2, clientcert.load_policy(write("bad3.lua", "return 5"))))
  end)

  describe("example policies", function()
    local base = { roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") }
    local function load(name, extra)
      local params = {}
      for k, v in pairs(base) do params[k] = v end
      for k, v in pairs(extra or {}) do params[k] = v end
      return assert(clientcert.load_policy("examples/policies/" .. name, params))
    end
    local function check(policy, cert)
      return policy:check{ cert = cert and pki.read(cert), time = pki.T }
    end

    it("employees: admits the issuing CA's clients, rejects revoked and foreign ones", function()
      local p = load("employees.lua", { crls = { pki.path("root.crl"), pki.path("inter.crl") },
                                        issuer = "CN=Test Issuing CA,O=clientcert tests" })
      assert.equals("ok", check(p, "alice.pem").cause)
      assert.equals("revoked", check(p, "mallory.pem").cause)
      assert.equals("no_certificate", check(p, nil).cause)
    end)

    it("partners: admits only pinned fingerprints", function()
      local alice = clientcert.load(pki.path("alice.pem")):fingerprint()
      local p = load("partners.lua", { extra_fingerprints = { alice } })
      assert.equals("ok", check(p, "alice.pem").cause)
      assert.equals("denied_by_rule", check(p, "bob.pem").cause)
    end)

    it("optional-api: anonymous accepted, service accounts need their URI", function()
      local p = load("optional-api.lua")
      local anon = check(p, nil)
      assert.is_true(anon.accepted)
      assert.equals("no_certificate", anon.cause)
      assert.equals("denied_by_rule", check(p, "bob.pem").cause)
      assert.equals("expired", check(p, "old.pem").cause)
    end)

    it("a missing trust file is an error, not an accept", function()
      local policy, err = clientcert.load_policy("examples/policies/employees.lua", { roots = "/nonexistent.pem" })
      assert.is_nil(policy)
      assert.matches("cannot open /nonexistent.pem", err, 1, true)
    end)
  end)
end)

describe("clientcert.verdict_json", function()
  local cjson = require "cjson"
  it("gives one JSON object per decision", function()
    local v = check_case{ store = "crl", cert = "mallory.pem" }
    local line = clientcert.verdict_json(v)
    assert.not_matches("\n", line)
    local back = cjson.decode(line)
    assert.equals("revoked", back.cause)
    assert.equals("403.13", back.substatus)
    assert.equals(pki.T, back.time)
    assert.equals("CN=mallory,O=clientcert tests", back.client.subject)
    assert.equals("revoked", back.chain[1].status)
  end)
  it("keeps a NUL byte escaped in JSON", function()
    local v = check_case{ store = "with_inter", cert = "nul.pem" }
    local back = cjson.decode(clientcert.verdict_json(v))
    assert.equals("CN=alice\\00.evil.test,O=clientcert tests", back.client.subject)
  end)
end)

describe("clientcert.audit_store", function()
  for _, case in ipairs(cases.audits) do
    it(case.name, function()
      local paths = {}
      for i, n in ipairs(case.roots) do paths[i] = pki.path(n) end
      local report = clientcert.audit_store(assert(clientcert.store{ roots = paths }), { time = case.time or pki.T })
      assert.equals(case.expect.ok, report.ok)
      local got = {}
      for _, f in ipairs(report.findings) do got[#got + 1] = f.cause end
      assert.same(case.expect.causes, got)
      assert.equals(#case.roots, report.count)
    end)
  end
end)
