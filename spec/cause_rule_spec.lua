-- One rule for "the" cause (issue 8 item 11): causes.primary chooses it, and
-- store:verify, policy:check, `clientcert verify` and `clientcert check` agree
-- on every case of spec/cases.lua at each of the specs' check times.
local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local cli = require "clientcert.cli"
local cjson = require "cjson"
local pki = require "helpers.pki"
local cases = require "cases"

local TIMES = { pki.T, pki.T_2024, pki.T_2036 }

-- The cases store:verify and policy:check both judge (a certificate, no policy
-- options and no key: those are policy:check's alone), with their check times.
local function each_pair(f)
  for _, case in ipairs(cases.list) do
    if case.cert and not case.policy and not case.key and not case.policy_only then
      local times = {}
      for i, t in ipairs(TIMES) do times[i] = t end
      if case.time then times[#times + 1] = case.time end
      for _, t in ipairs(times) do f(case, t) end
    end
  end
end

describe("causes.primary", function()
  it("chooses by precedence, from ids or from problems", function()
    assert.equals("revoked", causes.primary({ "revocation_unknown", "revoked", "expired" }))
    assert.equals("revoked", causes.primary({ { cause = "revocation_unknown" }, { cause = "revoked" } }))
    assert.equals("internal_error", causes.primary({ "ok", "denied_by_rule", "internal_error" }))
    assert.is_nil(causes.primary({}))
    assert.same({ "revoked", "expired", "revocation_unknown" },
      causes.order({ "revocation_unknown", "expired", "revoked", "expired" }))
  end)
end)

describe("store:verify and policy:check", function()
  it("give the same cause for every case at every check time", function()
    local n, differ = 0, {}
    each_pair(function(case, t)
      local store = cases.store(clientcert, case.store)
      local chain = {}
      for _, name in ipairs(case.chain or {}) do chain[#chain + 1] = pki.read(name) end
      local opts = { chain = chain, time = t }
      for k, v in pairs(case.verify or {}) do opts[k] = v end
      local r = assert(store:verify(pki.read(case.cert), opts))
      local v = clientcert.policy{ trust = store, verify = case.verify }
        :check{ cert = pki.read(case.cert), chain = chain, time = t }
      n = n + 1
      if r.cause ~= v.cause then differ[#differ + 1] = ("%s at %d: %s vs %s"):format(case.name, t, r.cause, v.cause) end
      if not r.ok then assert.equals(causes.primary(r.problems), r.cause, case.name) end
    end)
    assert.same({}, differ)
    assert.is_true(n > 60)
  end)

  it("report revoked, not the stale CRL OpenSSL names first, for a revoked leaf checked in 2024", function()
    local r = cases.store(clientcert, "crl"):verify(pki.read("mallory.pem"), { time = pki.T_2024 })
    assert.equals("revocation_unknown", r.problems[1].cause)  -- OpenSSL's first problem
    assert.equals("revoked", r.cause)
  end)
end)

describe("clientcert verify and clientcert check", function()
  local function run(args)
    local buf = {}
    local out = { write = function(self, ...)
      for _, s in ipairs({ ... }) do buf[#buf + 1] = tostring(s) end
      return self
    end }
    local code = cli.main(args, out)
    return code, table.concat(buf)
  end

  local policy_path = pki.dir .. "/cause-rule-policy.lua"
  local f = assert(io.open(policy_path, "wb"))
  f:write([[return { trust = assert(clientcert.store{ roots = params.roots, intermediates = params.intermediates,
                                                    crls = params.crls }) }]])
  f:close()

  it("print the same cause for every case at every check time", function()
    local n = 0
    each_pair(function(case, t)
      if case.verify then return end
      local spec = cases.STORES[case.store]
      local va = { "verify", pki.path(case.cert), "--time", tostring(t), "--json" }
      local ca = { "check", pki.path(case.cert), "--policy", policy_path, "--time", tostring(t), "--json" }
      for _, key in ipairs({ "roots", "intermediates", "crls" }) do
        for _, name in ipairs(spec[key] or {}) do
          local flag = key == "crls" and "--crl" or "--" .. key
          va[#va + 1], va[#va + 2] = flag, pki.path(name)
          ca[#ca + 1], ca[#ca + 2] = "--param", key .. "=" .. pki.path(name)
        end
      end
      for _, name in ipairs(case.chain or {}) do
        va[#va + 1], va[#va + 2] = "--chain", pki.path(name)
        ca[#ca + 1], ca[#ca + 2] = "--chain", pki.path(name)
      end
      local vcode, vout = run(va)
      local ccode, cout = run(ca)
      local vr, cr = cjson.decode(vout), cjson.decode(cout)
      assert.equals(vr.cause, cr.cause, case.name .. " at " .. t)
      assert.equals(vcode, ccode, case.name .. " at " .. t)
      n = n + 1
    end)
    assert.is_true(n > 40)
  end)
end)

describe("clientcert verify in text mode", function()
  it("gives the error of the problem behind the cause, not OpenSSL's first", function()
    local buf = {}
    local out = { write = function(self, ...)
      for _, s in ipairs({ ... }) do buf[#buf + 1] = tostring(s) end
      return self
    end }
    local code = cli.main({ "verify", pki.path("mallory.pem"), "--roots", pki.path("root.pem"), "--intermediates",
      pki.path("inter.pem"), "--crl", pki.path("crls.pem"), "--time", tostring(pki.T_2024) }, out)
    local text = table.concat(buf)
    assert.equals(1, code)
    assert.matches("Result: FAILED (revoked: certificate revoked)", text, 1, true)
  end)
end)
