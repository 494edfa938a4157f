-- Meta: every cause of the catalogue has a case, and every verify code maps to a cause.
local causes = require "clientcert.causes"
local cases = require "cases"

describe("the causes catalogue", function()
  it("has a verification or audit case for every cause", function()
    local covered = {}
    for _, c in ipairs(cases.list) do covered[c.expect.cause] = true end
    for _, a in ipairs(cases.audits) do
      for _, id in ipairs(a.expect.causes) do covered[id] = true end
    end
    for _, g in ipairs(cases.gate) do   -- gate-only causes: each names the spec that shows it
      local f = assert(io.open(g.spec, "rb"))
      local src = f:read("*a")
      f:close()
      assert.truthy(src:find('"' .. g.expect.cause .. '"', 1, true), g.spec .. " never names " .. g.expect.cause)
      covered[g.expect.cause] = true
    end
    local missing = {}
    for _, id in ipairs(causes.list()) do
      if not covered[id] then missing[#missing + 1] = id end
    end
    assert.same({}, missing)
  end)

  it("maps every verify code name the core exports to a catalogue cause, and only X509_V_OK to ok", function()
    local n = 0
    for name, code in pairs(require("clientcert.core").verify_codes) do
      n = n + 1
      local id = causes.from_code(name)
      assert.is_table(causes.get(id), name)
      assert.equals(name == "X509_V_OK", id == "ok", name)
      assert.equals(id, causes.from_code(code), name)
    end
    assert.is_true(n >= 95)
    assert.equals("invalid_certificate", causes.from_code(9999))
    assert.equals("invalid_certificate", causes.from_code("X509_V_ERR_NO_SUCH_CODE"))
  end)

  it("gives each cause a status, substatus, title, message and resolution", function()
    for _, id in ipairs(causes.list()) do
      local c = causes.get(id)
      assert.is_number(c.status)
      assert.matches("^%d%d%d", c.substatus)
      assert.is_string(c.title)
      assert.is_string(c.message)
      if id ~= "ok" then assert.is_true(#c.resolution > 0, id) end
    end
  end)

  it("expects, in every case, the substatus the catalogue gives its cause", function()
    for _, c in ipairs(cases.list) do
      local e = c.expect
      local accepted = e.accepted
      if accepted == nil then accepted = e.ok end
      local want = accepted and "200" or causes.get(e.cause).substatus
      assert.equals(want, e.substatus, c.name)
    end
  end)

  it("orders causes by a documented precedence", function()
    assert.is_true(causes.rank("untrusted_root") < causes.rank("expired"))
    assert.is_true(causes.rank("revoked") < causes.rank("expired"))
    assert.is_true(causes.rank("denied_by_rule") < causes.rank("ok"))
  end)
end)
