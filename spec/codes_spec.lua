-- Verify codes by name (issue 8, item 15): clientcert.core exports the
-- X509_V_ERR_* names the build's OpenSSL headers define, problems carry the
-- name, and every code the running OpenSSL knows has a name and a catalogue
-- entry. A code added by a later OpenSSL shows up here by number, instead of
-- silently becoming invalid_certificate.
local core = require "clientcert.core"
local causes = require "clientcert.causes"
local clientcert = require "clientcert"
local pki = require "helpers.pki"

-- What X509_verify_cert_error_string gives for a code it does not know.
local UNKNOWN = core.verify_error_string(-1)

describe("verify codes by name", function()
  it("exports name -> number and number -> name as inverses", function()
    local n = 0
    for name, code in pairs(core.verify_codes) do
      n = n + 1
      assert.matches("^X509_V_", name)
      assert.equals(math.type and "integer" or "number", math.type and math.type(code) or type(code))
      assert.equals(name, core.verify_code_names[code])
    end
    for code, name in pairs(core.verify_code_names) do assert.equals(code, core.verify_codes[name]) end
    assert.is_true(n >= 95)
    assert.equals(0, core.verify_codes.X509_V_OK)
  end)

  it("finds the running OpenSSL's codes by their description, and none unknown to the catalogue", function()
    assert.is_string(UNKNOWN)
    assert.not_equals(UNKNOWN, core.verify_error_string(0))
    local unmapped, known = {}, 0
    for code = 0, 1000 do
      local text = core.verify_error_string(code)
      if text ~= UNKNOWN then
        known = known + 1
        local name = core.verify_code_names[code]
        if not name then
          unmapped[#unmapped + 1] = code .. " (" .. text .. "): no name exported by clientcert.core"
        elseif not causes.CODES[name] then
          unmapped[#unmapped + 1] = code .. " " .. name .. " (" .. text .. "): no entry in causes.lua"
        end
      end
    end
    assert.is_true(known >= 95, "only " .. known .. " codes found")
    assert.same({}, unmapped)
    assert.same({}, causes.unmapped())
  end)

  it("rejects a non-integer code to verify_error_string", function()
    for _, bad in ipairs({ 1.5, "7", 2 ^ 40, 0 / 0, 1 / 0 }) do
      local ok, err = pcall(core.verify_error_string, bad)
      assert.is_false(ok)
      assert.matches("clientcert.verify_error_string: code must be an integer", err, 1, true)
    end
  end)

  it("gives each problem of a verify result its code_name", function()
    local store = assert(clientcert.store{ roots = { pki.path("root.pem") } })
    local r = assert(store:verify(assert(clientcert.load(pki.path("alice.pem"))), { time = pki.T }))
    assert.is_false(r.ok)
    assert.equals("X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY", r.code_name)
    assert.equals(core.verify_codes[r.code_name], r.code)
    for _, p in ipairs(r.problems) do
      assert.equals(core.verify_code_names[p.code], p.code_name)
    end
    r = assert(store:verify(assert(clientcert.load(pki.path("alice.pem"))),
      { time = pki.T, chain = { assert(clientcert.load(pki.path("inter.pem"))) } }))
    assert.is_true(r.ok)
    assert.equals("X509_V_OK", r.code_name)
  end)
end)
