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
      assert.equals(accepted and 200 or require("clientcert.causes").get(e.cause).status, v.status)
      assert.is_string(v.title)
      assert.is_string(v.message)
      assert.not_matches("{", v.message)           -- every placeholder filled
      if not accepted then
        assert.is_true(#v.resolution >= 1)
        for _, step in ipairs(v.resolution) do
          assert.is_truthy(step.who == "server operator" or step.who == "client owner"
            or step.who == "certificate authority")
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

  it("words the steps for where the verdict is read (deployment), the library's by default", function()
    local function steps(v, who)
      local out = {}
      for _, r in ipairs(v.resolution) do if r.who == who then out[#out + 1] = r.step end end
      return table.concat(out, "\n")
    end
    local case = { store = "plain", cert = "oscar.pem", chain = { "other-inter.pem", "other-root.pem" } }
    local v = check_case(case)
    assert.equals("untrusted_root", v.cause)
    assert.matches("store:add_root", steps(v, "server operator"), 1, true)
    local policy = clientcert.policy{ trust = cases.store(clientcert, "plain") }
    local req = { cert = pki.read("oscar.pem"), chain = { pki.read("other-inter.pem"), pki.read("other-root.pem") },
                  time = pki.T }
    for d, want in pairs({ gate = "policy file's trust", cli = "--roots", iis = "Trusted Root Certification",
                           server = "the server's trusted root store", library = "store:add_root" }) do
      req.deployment = d
      local vd = policy:check(req)
      assert.equals("untrusted_root", vd.cause)
      assert.matches(want, steps(vd, "server operator"), 1, true)
      assert.same(require("clientcert.causes").resolution("untrusted_root", {}, d)[3], vd.resolution[3])
      assert.is_nil(vd.deployment)
    end
    -- the gate's no_certificate: its own settings, never IIS's
    req.cert, req.deployment = nil, "gate"
    local text = steps(policy:check(req), "server operator")
    assert.matches("mode = \"optional\" or \"off\" in the policy file", text, 1, true)
    assert.not_matches("IIS", text, 1, true)
    -- and an unknown deployment is a programmer error
    req.deployment = "apache"
    assert.has_error(function() policy:check(req) end,
      "clientcert.policy.check: deployment must be one of server, library, gate, cli, iis, got apache")
  end)

  it("raises for a request key it does not read (a misspelt chain was ignored, the chain not sent)", function()
    local policy = clientcert.policy{ trust = assert(clientcert.store{ roots = pki.path("root.pem") }) }
    assert.has_error(function() policy:check{ cert = pki.read("alice.pem"), chian = {} } end,
      "clientcert.policy.check: unknown request key 'chian'")
    assert.has_error(function() policy:check{ [1] = pki.read("alice.pem") } end,
      "clientcert.policy.check: unknown request key '1'")
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

  it("policy.build returns nil and what is wrong, without an origin, where clientcert.policy raises", function()
    local build = require("clientcert.policy").build
    local p, err = build{ trust = store, bogus = 1 }
    assert.is_nil(p)
    assert.equals("unknown option 'bogus'", err)
    assert.equals("revocation.sources must list \"ocsp\" and/or \"crl\", each once",
      select(2, build{ trust = store, revocation = { sources = { "foo" } } }))
    assert.equals("cache.size must be an integer between 1 and 1000000000, got 0",
      select(2, build{ trust = store, cache = { size = 0 } }))
    assert.equals("clientcert.policy (require)", tostring(assert(build{ trust = store })))
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

    it("admins: by SAN e-mail and issuer, with a floor on RSA key size", function()
      local p = load("admins.lua", { issuer = "CN=Test Issuing CA,O=clientcert tests",
                                     admins = { "alice@example.test", "bob@example.test" },
                                     crls = { pki.path("root.crl"), pki.path("inter.crl") } })
      assert.equals("ok", check(p, "alice.pem").cause)
      local bob = check(p, "bob.pem")   -- no e-mail in his SAN
      assert.equals("denied_by_rule", bob.cause)
      assert.matches("allow list", bob.message, 1, true)
      assert.equals("denied_by_rule", check(p, "carol.pem").cause)
      local allowed, reason = p.rule({ public_key = { type = "RSA", bits = 2048 } })
      assert.is_false(allowed)
      assert.matches("RSA key of 2048 bits", reason, 1, true)
      assert.is_true(p.rule({ public_key = { type = "EC", bits = 256 } }))
      assert.equals("revoked", check(p, "mallory.pem").cause)
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
      local crls = {}
      for i, n in ipairs(case.crls or {}) do crls[i] = pki.path(n) end
      local report = clientcert.audit_store(assert(clientcert.store{ roots = paths, crls = crls }),
                                            { time = case.time or pki.T })
      assert.equals(case.expect.ok, report.ok)
      local got = {}
      for _, f in ipairs(report.findings) do got[#got + 1] = f.cause end
      assert.same(case.expect.causes, got)
      assert.equals(#case.roots, report.count)
    end)
  end
end)

describe("allow matchers", function()
  local function verdict(cert, matcher)
    return check_case{ store = "with_inter", cert = cert, policy = { allow = { matcher } } }
  end

  it("never lets a pattern's anchors stop at an embedded NUL", function()
    assert.equals("denied_by_rule", verdict("nul.pem", { subject_cn_pattern = "^alice$" }).cause)
    assert.equals("denied_by_rule", verdict("nul.pem", { subject_cn = "alice\0" }).cause)
    assert.equals("ok", verdict("nul.pem", { subject_cn = "alice\0.evil.test" }).cause)
  end)

  it("compares subject strings as RFC 4514 text, control bytes escaped", function()
    assert.equals("ok", verdict("nul.pem", { subject = "CN=alice\\00.evil.test,O=clientcert tests" }).cause)
    assert.equals("denied_by_rule", verdict("nul.pem", { subject = "CN=alice,O=clientcert tests" }).cause)
  end)

  it("matches BMPString and TeletexString names by their UTF-8, exactly", function()
    assert.equals("ok", verdict("bmp.pem", { subject = "CN=Zoë 東京,O=Zoë Société" }).cause)
    assert.equals("denied_by_rule", verdict("bmp.pem", { subject_cn = "Zoe 東京" }).cause)
    assert.equals("denied_by_rule", verdict("bmp.pem", { subject_cn = "zoë 東京" }).cause)
  end)

  it("accepts a fingerprint with colons or in capitals, and a serial with its sign octet", function()
    local fp = clientcert.load(pki.path("alice.pem")):fingerprint()
    assert.equals("ok", verdict("alice.pem", { fingerprint = fp:upper():gsub("(%x%x)", "%1:"):sub(1, -2) }).cause)
    assert.equals("ok", verdict("alice.pem", { serial = "001002" }).cause)
    assert.equals("denied_by_rule", verdict("alice.pem", { serial = "1003" }).cause)
  end)

  it("requires every key of one matcher", function()
    assert.equals("denied_by_rule", verdict("alice.pem", { subject_cn = "alice", san_dns = "bob.example.test" }).cause)
  end)

  it("copies the allow list: changing the caller's table later changes nothing", function()
    local allow = { { subject_cn = "alice" } }
    local policy = clientcert.policy{ trust = cases.store(clientcert, "with_inter"), allow = allow }
    allow[1].subject_cn = "bob"
    assert.equals("ok", policy:check{ cert = pki.read("alice.pem"), time = pki.T }.cause)
  end)
end)

describe("the rule", function()
  local function with_rule(rule)
    return check_case{ store = "with_inter", cert = "alice.pem", policy = { rule = rule } }
  end

  it("gets the client's info and the verdict so far", function()
    local seen
    local v = with_rule(function(info, verdict) seen = { info.subject, verdict.cause, verdict.accepted } end)
    assert.same({ "CN=alice,O=clientcert tests", "ok", true }, seen)
    assert.is_true(v.accepted)
  end)

  it("denies when it returns nil with a reason, accepts when it returns nothing", function()
    assert.equals("denied_by_rule", with_rule(function() return nil, "no" end).cause)
    assert.equals("ok", with_rule(function() end).cause)
  end)

  it("rejects as internal_error when it raises, keeping a non-string error as text", function()
    local v = with_rule(function() error({ code = 1 }) end)
    assert.equals("internal_error", v.cause)
    assert.is_false(v.accepted)
    assert.equals("an error value of type table", v.rule_error)
    v = with_rule(function() error() end)
    assert.equals("internal_error", v.cause)
    assert.equals("an error without a message (nil)", v.rule_error)
    v = with_rule(function() error(42, 0) end)
    assert.equals("an error value 42", v.rule_error)
  end)

  it("is not asked about an invalid chain", function()
    local called = false
    local v = check_case{ store = "plain", cert = "alice.pem", policy = { rule = function() called = true end } }
    assert.equals("missing_intermediate", v.cause)
    assert.is_false(called)
  end)
end)

describe("policy:check fails closed", function()
  local store = cases.store(clientcert, "with_inter")

  -- an internal error is the server's: internal_error (500), the detail only in verdict.error
  local function assert_internal(v, detail)
    assert.is_false(v.accepted)
    assert.equals("internal_error", v.cause)
    assert.equals(500, v.status)
    assert.equals("500", v.substatus)
    assert.matches(detail, v.error, 1, true)
    local text = { v.message, v.title }
    for _, s in ipairs(v.resolution) do
      assert.equals("server operator", s.who)
      text[#text + 1] = s.step
    end
    text = table.concat(text, " ")
    assert.not_matches("%.lua", text)
    assert.not_matches("/", text)
    assert.not_matches(detail, text, 1, true)
    assert.matches("says nothing about the certificate", v.message, 1, true)
  end

  it("rejects as internal_error when verification raises inside check", function()
    local policy = clientcert.policy{ trust = store }
    assert_internal(policy:check{ cert = pki.read("alice.pem"), chain = { bad = "not a list" }, time = pki.T },
      "chain")
  end)

  it("rejects a certificate of the wrong type as internal_error rather than raising", function()
    assert_internal(clientcert.policy{ trust = store }:check{ cert = { "alice" }, time = pki.T }, "cert must be")
  end)

  it("rejects as internal_error when the trust store was closed under it", function()
    local s = cases.store(clientcert, "with_inter")
    local policy = clientcert.policy{ trust = s }
    s:close()
    assert_internal(policy:check{ cert = pki.read("alice.pem"), time = pki.T }, "object is closed")
  end)

  it("rejects as internal_error when a rule raises, the error only in rule_error", function()
    local v = clientcert.policy{ trust = store, rule = function() error("/srv/policy.lua:3: boom", 0) end }
      :check{ cert = pki.read("alice.pem"), time = pki.T }
    assert_internal(v, "the policy rule failed")
    assert.equals("/srv/policy.lua:3: boom", v.rule_error)
    assert.not_matches("boom", v.message, 1, true)
  end)

  it("rejects an unreadable key as no_private_key", function()
    local v = clientcert.policy{ trust = store }:check{ cert = pki.read("alice.pem"), key = "garbage", time = pki.T }
    assert.equals("no_private_key", v.cause)
    assert.is_false(v.accepted)
  end)

  it("raises only for programmer errors in the request", function()
    local policy = clientcert.policy{ trust = store }
    assert.has_error(function() policy:check("alice") end)
    assert.has_error(function() policy:check{ cert = pki.read("alice.pem"), time = 1.5 } end)
    assert.has_error(function() policy:check{ cert = pki.read("alice.pem"), time = "2030" } end)
  end)
end)

describe("clientcert.policy option checks", function()
  local store = cases.store(clientcert, "plain")

  it("reports a wrong option at the caller's line", function()
    local ok, err = pcall(function()
      local p = clientcert.policy{ trust = store, colour = "red" }
      return p
    end)
    assert.is_false(ok)
    assert.matches("policy_spec%.lua:%d+: clientcert%.policy: unknown option 'colour'$", err)
  end)

  it("raises for bad verify values and a trust that is not a store", function()
    assert.has_error(function() clientcert.policy{ trust = store, verify = { crl = "sometimes" } } end)
    assert.has_error(function() clientcert.policy{ trust = store, verify = { purpose = "email" } } end)
    assert.has_error(function() clientcert.policy{ trust = store, verify = { max_depth = "3" } } end)
    assert.has_error(function() clientcert.policy{ trust = store, verify = { max_depth = -1 } } end)
    assert.has_error(function() clientcert.policy{ trust = store, verify = { time = pki.T } } end)
    assert.has_error(function() clientcert.policy{ trust = pki.path("root.pem") } end)
    assert.has_error(function() clientcert.policy{ mode = "off", trust = {} } end)
    assert.has_error(function() clientcert.policy{ trust = store, allow = { bob = { subject_cn = "bob" } } } end)
    assert.has_error(function() clientcert.policy{ trust = store, allow = { { subject_cn_pattern = "[" } } } end)
  end)

  it("takes intermediate_in_roots = \"warn\" (default) or \"reject\", and shows it", function()
    assert.equals("warn", clientcert.policy{ trust = store }.intermediate_in_roots)
    assert.equals("reject", clientcert.policy{ trust = store, intermediate_in_roots = "reject" }.intermediate_in_roots)
    for _, bad in ipairs({ "deny", true, 1 }) do
      assert.has_error(function() clientcert.policy{ trust = store, intermediate_in_roots = bad } end,
        "clientcert.policy: intermediate_in_roots must be \"warn\" or \"reject\"")
    end
  end)

  it("needs no store in mode off", function()
    local v = clientcert.policy{ mode = "off" }:check{ time = pki.T }
    assert.is_true(v.accepted)
    assert.equals("ok", v.cause)
  end)
end)

describe("clientcert.load_policy sandbox", function()
  local dir = pki.dir
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end

  it("stops a policy file that loops forever", function()
    local policy, err = clientcert.load_policy(write("loop.lua", "while true do end"))
    assert.is_nil(policy)
    assert.matches("ran for more than", err, 1, true)
  end)

  it("stops a loop that catches the budget error with pcall", function()
    local policy, err = clientcert.load_policy(write("loop2.lua",
      "while true do pcall(function() while true do end end) end"))
    assert.is_nil(policy)
    assert.matches("ran for more than", err, 1, true)
  end)

  it("leaves the host's debug hook as it found it", function()
    clientcert.load_policy(write("loop3.lua", "while true do end"))
    assert.is_nil(debug.gethook())
  end)

  it("keeps the host's libraries and clientcert out of a policy file's reach", function()
    local path = write("tamper.lua", [[
      string.find = nil; string.format = nil; table.concat = nil; math.floor = nil
      assert(not pcall(function() clientcert.parse = nil end))
      assert(not pcall(function() clientcert.policy = nil end))
      return { mode = "off" }]])
    assert.is_table(clientcert.load_policy(path))
    assert.is_function(string.find)
    assert.is_function(string.format)
    assert.is_function(table.concat)
    assert.is_function(math.floor)
    assert.is_function(clientcert.parse)
    assert.is_function(clientcert.policy)
  end)

  it("offers no metatable, raw access, GC control, string.dump or randomseed", function()
    local names = { "getmetatable", "setmetatable", "rawset", "rawget", "rawequal", "collectgarbage",
                    "string.dump", "math.randomseed", "setfenv", "getfenv", "newproxy", "print" }
    for _, name in ipairs(names) do
      local path = write("probe2.lua", ("return { mode = 'off', name = tostring(%s) }"):format(name))
      assert.equals("nil", assert(clientcert.load_policy(path)).name, name)
    end
  end)

  it("keeps a policy file's rule in the sandbox at check time", function()
    local path = write("rule-os.lua", ([[
      return { trust = clientcert.store{ roots = %q, intermediates = %q },
               rule = function() os.execute("true") return true end }]]):format(pki.path("root.pem"),
      pki.path("inter.pem")))
    local v = assert(clientcert.load_policy(path)):check{ cert = pki.read("alice.pem"), time = pki.T }
    assert.equals("internal_error", v.cause)
    assert.matches("os", v.rule_error, 1, true)
  end)

  it("reports a file that raises, or returns bad options, without position noise", function()
    local _, err = clientcert.load_policy(write("raise.lua", "error('no config here', 0)"))
    assert.matches("raise.lua: no config here$", err)
    _, err = clientcert.load_policy(write("badopt.lua", "return { colour = 'red' }"))
    assert.equals("clientcert.load_policy: " .. dir .. "/badopt.lua: clientcert.policy: unknown option 'colour'", err)
  end)

  it("refuses bytecode", function()
    local path = write("bc.lua", string.dump(function() return { mode = "off" } end))
    local policy, err = clientcert.load_policy(path)
    assert.is_nil(policy)
    assert.matches("bytecode", err, 1, true)
  end)
end)

describe("verdict_json fields", function()
  local cjson = require "cjson"

  it("writes times as JSON integers", function()
    local line = clientcert.verdict_json(check_case{ store = "with_inter", cert = "alice.pem" })
    assert.matches('"time":' .. pki.T .. "[,}]", line)
    assert.not_matches("e%+", line)
  end)

  it("keeps an internal error and the chain's facts", function()
    local store = cases.store(clientcert, "with_inter")
    local v = clientcert.policy{ trust = store }:check{ cert = pki.read("alice.pem"), chain = { x = 1 }, time = pki.T }
    local back = cjson.decode(clientcert.verdict_json(v))
    assert.is_false(back.accepted)
    assert.is_string(back.error)
    local ok = cjson.decode(clientcert.verdict_json(check_case{ store = "with_inter", cert = "alice.pem" }))
    assert.is_true(ok.accepted)
    assert.equals(3, #ok.chain)
    assert.is_true(ok.chain[3].trusted)
    assert.equals("CN=Test Root CA,O=clientcert tests", ok.chain[2].issuer)
  end)

  it("raises for something that is not a verdict", function()
    assert.has_error(function() clientcert.verdict_json("ok") end)
  end)
end)

describe("audit_store arguments", function()
  it("raises for a time that is not whole seconds", function()
    local store = cases.store(clientcert, "plain")
    assert.has_error(function() clientcert.audit_store(store, { time = "now" }) end)
    assert.has_error(function() clientcert.audit_store(store, 5) end)
  end)
end)

describe("list options (allow, verify.flags, verify.policies)", function()
  local store = cases.store(clientcert, "with_inter")
  local function err_of(opts)
    opts.trust = opts.trust or store
    local ok, err = pcall(clientcert.policy, opts)
    assert.is_false(ok)
    return err
  end

  it("refuse an allow that is not a proper sequence instead of admitting everyone", function()
    local err = err_of{ allow = { admins = { subject_cn = "admin" } } }
    assert.matches("allow must be a list (keys 1..n with no holes): found key 'admins'", err, 1, true)
    -- one clean message: no source position, no doubled prefix
    assert.are.equal(1, select(2, err:gsub("clientcert%.policy:", "")))
    assert.falsy(err:find("%.lua:%d+:"), err)
    assert.matches("allow must be a list", err_of{ allow = { [2] = { subject_cn = "admin" } } }, 1, true)
    assert.matches("allow must be a list", err_of{ allow = { { subject_cn = "a" }, nil, { subject_cn = "b" } } },
      1, true)
    assert.matches("allow must be a list", err_of{ allow = { subject_cn = "admin" } }, 1, true)
  end)

  it("refuse keyed, holey or non-list verify.flags and verify.policies", function()
    assert.matches("verify.flags must be a list", err_of{ verify = { flags = { x509_strict = true } } }, 1, true)
    assert.matches("verify.flags must be a list", err_of{ verify = { flags = "x509_strict" } }, 1, true)
    assert.matches("verify.policies must be a list", err_of{ verify = { policies = { [2] = "1.2.3" } } }, 1, true)
    assert.matches("verify.flags[1]: unknown flag 'x509_strikt'", err_of{ verify = { flags = { "x509_strikt" } } },
      1, true)
    assert.matches("verify.policies[1] must be a dotted OID", err_of{ verify = { policies = { "anyPolicy" } } },
      1, true)
  end)

  it("accept every flag name store:verify takes", function()
    for _, flag in ipairs({ "x509_strict", "policy_check", "explicit_policy", "inhibit_any", "inhibit_map",
                            "allow_proxy_certs", "use_deltas", "extended_crl_support", "check_ss_signature",
                            "ignore_critical", "no_alt_chains" }) do
      local v = clientcert.policy{ trust = store, verify = { flags = { flag }, policies = { "2.5.29.32.0" } } }
        :check{ cert = pki.read("alice.pem"), time = pki.T }
      assert.not_equals("internal_error", v.cause, flag)
    end
  end)
end)

describe("configuration errors at construction", function()
  local store = cases.store(clientcert, "with_inter")
  local function err_of(opts)
    opts.trust = store
    local ok, err = pcall(clientcert.policy, opts)
    assert.is_false(ok, "accepted")
    return err
  end

  it("refuse a malformed Lua pattern even where a match would never reach the fault", function()
    for _, pat in ipairs({ "^alice%", "[a", "[%", "%b", "%bx", "%f", "%fa", "(a", "a)", "%1", "(a%1)", "%0",
                           ("()"):rep(33) }) do
      assert.matches("allow[1].subject_cn_pattern is not a valid Lua pattern",
        err_of{ allow = { { subject_cn_pattern = pat } } }, 1, true)
    end
    for _, pat in ipairs({ "^alice$", "%d+", "[%w_]+", "[]]", "[^%]]", "%bxy", "%f[%w]x", "()", "(a)%1",
                           "a*b-c?", "%%", "$", "^" }) do
      assert.is_table(clientcert.policy{ trust = store, allow = { { subject_cn_pattern = pat } } }, pat)
    end
  end)

  it("refuse each bad verify value with a clear message", function()
    assert.matches("verify.crl_missing cannot be alow", err_of{ verify = { crl_missing = "alow" } }, 1, true)
    assert.matches("verify.max_depth must be an integer 0 or more, got 10.5",
      err_of{ verify = { max_depth = 10.5 } }, 1, true)
    assert.matches("verify.max_depth must be an integer", err_of{ verify = { max_depth = math.huge } }, 1, true)
    assert.matches("verify.max_depth must be an integer", err_of{ verify = { max_depth = 0 / 0 } }, 1, true)
    assert.matches("verify.auth_level must be an integer between 0 and 5",
      err_of{ verify = { auth_level = 6 } }, 1, true)
    assert.matches("verify.partial_chain must be a boolean", err_of{ verify = { partial_chain = 1 } }, 1, true)
    assert.matches("unknown verify option 'time'", err_of{ verify = { time = pki.T } }, 1, true)
  end)

  it("accept any whole max_depth >= 0, as nginx and OpenSSL do", function()
    for _, d in ipairs({ 0, 10, 100, 255 }) do
      assert.is_table(clientcert.policy{ trust = store, verify = { max_depth = d } })
    end
  end)

  it("never rejects a client for a configuration error found only per request", function()
    -- what used to reject every client as invalid_certificate with policy.lua's error text
    local ok = pcall(clientcert.policy, { trust = store, allow = { { subject_cn_pattern = "^alice%" } } })
    assert.is_false(ok)
    ok = pcall(clientcert.policy, { trust = store, verify = { crl_missing = "alow" } })
    assert.is_false(ok)
  end)
end)

describe("multi-valued names", function()
  local store = cases.store(clientcert, "with_inter")
  local function verdict(cert, matcher)
    return clientcert.policy{ trust = store, allow = { matcher } }:check{ cert = pki.read(cert), time = pki.T }
  end

  it("never match a CN matcher with one of several CNs, and say why", function()
    for _, cert in ipairs({ "multicn.pem", "multirdn.pem" }) do
      for _, m in ipairs({ { subject_cn = "admin" }, { subject_cn = "mallory" },
                           { subject_cn_pattern = "^admin$" }, { subject_cn_pattern = "admin" },
                           { subject_cn = "admin", issuer_cn = "Test Issuing CA" } }) do
        local v = verdict(cert, m)
        assert.equals("denied_by_rule", v.cause, cert)
        assert.is_false(v.accepted)
        assert.matches("the subject has 2 CN values; a CN matcher never matches a multi-valued name",
          v.message, 1, true)
        assert.matches("the subject has 2 CN values", v.rule_reason, 1, true)
      end
    end
  end)

  it("still match the whole subject exactly, and other attributes", function()
    assert.equals("ok", verdict("multicn.pem", { subject = "CN=admin,CN=mallory,O=clientcert tests" }).cause)
    assert.equals("ok", verdict("multirdn.pem", { subject = "CN=mallory+CN=admin,O=clientcert tests" }).cause)
    assert.equals("ok", verdict("multicn.pem", { issuer_cn = "Test Issuing CA" }).cause)
    assert.equals("ok", verdict("alice.pem", { subject_cn = "alice" }).cause)
  end)

  it("keep any-value semantics for SAN matchers", function()
    assert.equals("ok", verdict("alice.pem", { san_dns = "alice.example.test" }).cause)
    assert.equals("ok", verdict("alice.pem", { san_uri = "urn:example:alice" }).cause)
    assert.equals("ok", verdict("alice.pem", { san_email_pattern = "@example%.test$" }).cause)
  end)
end)

describe("example policies take one --param value or several", function()
  it("partners: a single extra fingerprint given as a string is pinned, not ignored", function()
    local fp = clientcert.load(pki.path("alice.pem")):fingerprint()
    local p = assert(clientcert.load_policy("examples/policies/partners.lua",
      { roots = pki.path("root.pem"), intermediates = pki.path("inter.pem"), extra_fingerprints = fp }))
    assert.equals("ok", p:check{ cert = pki.read("alice.pem"), time = pki.T }.cause)
    assert.equals("denied_by_rule", p:check{ cert = pki.read("bob.pem"), time = pki.T }.cause)
  end)

  it("admins: a single admin given as a string", function()
    local p = assert(clientcert.load_policy("examples/policies/admins.lua",
      { roots = pki.path("root.pem"), intermediates = pki.path("inter.pem"), admins = "alice@example.test",
        issuer = "CN=Test Issuing CA,O=clientcert tests" }))
    assert.equals("ok", p:check{ cert = pki.read("alice.pem"), time = pki.T }.cause)
  end)

  it("a keyed params list is an error, not an empty list", function()
    local _, err = clientcert.load_policy("examples/policies/partners.lua",
      { roots = pki.path("root.pem"), extra_fingerprints = { acme = "3b5f" } })
    assert.matches("must be a list", err, 1, true)
  end)
end)
