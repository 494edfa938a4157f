-- The causes catalogue (clientcert.causes) on its own: the code map, the
-- refinements with chain facts, precedence, lookups and message rendering.
-- Needs no certificates; spec/meta_spec.lua ties the catalogue to the cases.
local causes = require "clientcert.causes"

local core = require "clientcert.core"

local HEADER = "/usr/include/openssl/x509_vfy.h"

-- { ["X509_V_ERR_NAME"] = code } for every X509_V_ERR_* define of OpenSSL's header, or nil.
local function header_codes()
  local f = io.open(HEADER, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  local out = {}
  for name, code in text:gmatch("#%s*define%s+(X509_V_ERR_[%w_]+)%s+(%-?%d+)") do
    out[name] = tonumber(code)
  end
  return out
end

-- What the issue 4 table says each cause is: substatus and HTTP status.
local ISSUE_TABLE = {
  no_certificate = "403.7", no_private_key = "403.7", untrusted_root = "403.16",
  missing_intermediate = "403.16", invalid_ca = "403.16", chain_too_long = "403.16",
  wrong_purpose = "403.16", bad_signature = "403.16", invalid_certificate = "403.16",
  revocation_unknown = "403.16", expired = "403.17", not_yet_valid = "403.17", revoked = "403.13",
  denied_by_rule = "403.12", intermediate_in_roots = "403.16", ok = "200", internal_error = "500",
  session_chain_unknown = "403.16", profile_violation = "403.16",
}

describe("causes.from_code", function()
  it("maps X509_V_OK (by name or number), and only it, to ok", function()
    assert.equals("ok", causes.from_code("X509_V_OK"))
    assert.equals("ok", causes.from_code(0))
    for code = 1, 200 do assert.not_equals("ok", causes.from_code(code), "code " .. code) end
    for name, id in pairs(causes.CODES) do
      assert.equals(name == "X509_V_OK", id == "ok", name)
    end
  end)

  it("keys the catalogue by X509_V_ERR_* name, every entry naming a catalogue cause", function()
    for name, id in pairs(causes.CODES) do
      assert.matches("^X509_V_", name)
      assert.is_table(causes.get(id), name)
    end
  end)

  it("maps every X509_V_ERR_* code of the OpenSSL header explicitly, and the core names it", function()
    local codes = header_codes()
    if not codes then
      pending(HEADER .. " not installed (libssl-dev)")
      return
    end
    local n = 0
    for name, code in pairs(codes) do
      n = n + 1
      assert.is_string(causes.CODES[name], name .. " (" .. code .. ") has no entry")
      assert.equals(code, core.verify_codes[name], name)
      assert.equals(name, core.verify_code_names[code], name)
      assert.equals(causes.CODES[name], causes.from_code(code), name)
    end
    assert.is_true(n >= 94)
  end)

  it("maps unknown and odd codes to invalid_certificate, never ok", function()
    for _, code in ipairs({ 1000, -1, 2147483647, -2147483648, 10.5, 0.5, 1 / 0 }) do
      assert.equals("invalid_certificate", causes.from_code(code), tostring(code))
    end
    for _, code in ipairs({ "0", "10", "X509_V_ERR_NONE_SUCH", "x509_v_ok", true, {} }) do
      assert.equals("invalid_certificate", causes.from_code(code), tostring(code))
    end
    assert.equals("invalid_certificate", causes.from_code(nil))
    assert.equals("invalid_certificate", causes.from_code(0 / 0))
  end)

  it("maps the codes of the issue's table to their causes", function()
    local want = {
      UNABLE_TO_GET_ISSUER_CERT = "missing_intermediate", UNABLE_TO_GET_CRL = "revocation_unknown",
      CERT_SIGNATURE_FAILURE = "bad_signature", CERT_NOT_YET_VALID = "not_yet_valid",
      CERT_HAS_EXPIRED = "expired", CRL_NOT_YET_VALID = "revocation_unknown",
      CRL_HAS_EXPIRED = "revocation_unknown", DEPTH_ZERO_SELF_SIGNED_CERT = "untrusted_root",
      SELF_SIGNED_CERT_IN_CHAIN = "untrusted_root", UNABLE_TO_GET_ISSUER_CERT_LOCALLY = "missing_intermediate",
      UNABLE_TO_VERIFY_LEAF_SIGNATURE = "missing_intermediate", CERT_CHAIN_TOO_LONG = "chain_too_long",
      CERT_REVOKED = "revoked", NO_ISSUER_PUBLIC_KEY = "bad_signature", PATH_LENGTH_EXCEEDED = "invalid_ca",
      INVALID_PURPOSE = "wrong_purpose", CERT_UNTRUSTED = "untrusted_root", CERT_REJECTED = "untrusted_root",
      KEYUSAGE_NO_CERTSIGN = "invalid_ca", UNHANDLED_CRITICAL_EXTENSION = "invalid_certificate",
      INVALID_NON_CA = "invalid_ca", INVALID_CA = "invalid_ca", EC_KEY_EXPLICIT_PARAMS = "invalid_certificate",
    }
    for name, id in pairs(want) do
      assert.equals(id, causes.from_code("X509_V_ERR_" .. name), name)
      assert.equals(id, causes.from_code(core.verify_codes["X509_V_ERR_" .. name]), name)
    end
  end)
end)

describe("causes.for_problem", function()
  local function el(depth, t)
    t.depth = depth
    return t
  end
  local ROOT = "CN=Test Root CA,O=clientcert tests"
  local LOCALLY = "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
  local SIGFAIL = "X509_V_ERR_CERT_SIGNATURE_FAILURE"

  it("keeps the per-code cause when no chain fact refines it", function()
    assert.equals("expired", causes.for_problem({ code_name = "X509_V_ERR_CERT_HAS_EXPIRED", depth = 0 }, {}))
    assert.equals("missing_intermediate", causes.for_problem({ code_name = LOCALLY, depth = 0 },
      { el(0, { subject = "CN=a", issuer = "CN=Issuing CA", self_signed = false }) }, { [ROOT] = true }))
  end)

  it("calls a self-signed top without issuer an untrusted root", function()
    for _, name in ipairs({ "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT", LOCALLY,
                            "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE" }) do
      assert.equals("untrusted_root", causes.for_problem({ code_name = name, depth = 1 },
        { el(0, { issuer = "CN=x" }), el(1, { subject = "CN=x", issuer = "CN=x", self_signed = true }) }))
    end
  end)

  it("calls a missing issuer that has a trusted root's name an untrusted (forged or re-keyed) root", function()
    local chain = { el(0, { issuer = "CN=Test Issuing CA" }),
                    el(1, { subject = "CN=Test Issuing CA", issuer = ROOT, self_signed = false }) }
    assert.equals("untrusted_root", causes.for_problem({ code_name = LOCALLY, depth = 1 }, chain, { [ROOT] = true }))
    assert.equals("missing_intermediate", causes.for_problem({ code_name = LOCALLY, depth = 1 }, chain, {}))
  end)

  it("calls a signature the trust anchor did not make an untrusted root", function()
    local chain = { el(0, {}), el(1, { issuer = ROOT }), el(2, { subject = ROOT, trusted = true, self_signed = true }) }
    assert.equals("untrusted_root", causes.for_problem({ code_name = SIGFAIL, depth = 1 }, chain))
    assert.equals("bad_signature", causes.for_problem({ code_name = SIGFAIL, depth = 0 }, chain))
  end)

  it("keeps bad_signature when the element names the anchor's key (altered after issue)", function()
    local chain = { el(0, {}), el(1, { issuer = ROOT, authority_key_id = "AB01" }),
                    el(2, { subject = ROOT, trusted = true, self_signed = true, subject_key_id = "AB01" }) }
    assert.equals("bad_signature", causes.for_problem({ code_name = SIGFAIL, depth = 1 }, chain))
    chain[2].authority_key_id = "CD02"
    assert.equals("untrusted_root", causes.for_problem({ code_name = SIGFAIL, depth = 1 }, chain))
  end)

  it("names a problem that carries only this OpenSSL's number, and prefers code_name", function()
    local chain = { el(0, {}), el(1, { issuer = ROOT }), el(2, { subject = ROOT, trusted = true, self_signed = true }) }
    local sigfail = core.verify_codes[SIGFAIL]
    assert.equals("untrusted_root", causes.for_problem({ code = sigfail, depth = 1 }, chain))
    assert.equals("expired", causes.for_problem({ code = sigfail, code_name = "X509_V_ERR_CERT_HAS_EXPIRED",
                                                   depth = 1 }, chain))
    assert.equals("invalid_certificate", causes.for_problem({ code_name = "X509_V_ERR_NONE_SUCH", depth = 0 }, chain))
  end)

  it("calls a missing issuer above a certificate of the trust store that is not self-signed "
    .. "intermediate_in_roots", function()
    local chain = { el(0, { issuer = "CN=Test Issuing CA" }),
                    el(1, { subject = "CN=Test Issuing CA", issuer = ROOT, self_signed = false, trusted = true }) }
    for _, name in ipairs({ "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT", LOCALLY }) do
      assert.equals("intermediate_in_roots", causes.for_problem({ code_name = name, depth = 1 }, chain, {}))
    end
    -- the same element sent by the client (not trusted): its issuer is missing
    chain[2].trusted = false
    assert.equals("missing_intermediate", causes.for_problem({ code_name = LOCALLY, depth = 1 }, chain, {}))
  end)

  it("attaches a problem past the end of the chain to the last element", function()
    local chain = { el(0, { subject = "CN=x", issuer = "CN=x", self_signed = true }) }
    assert.equals("untrusted_root", causes.for_problem({ code_name = LOCALLY, depth = 3 }, chain))
  end)
end)

describe("causes.list, causes.get, causes.rank", function()
  it("lists every cause of the issue's table once, in precedence order", function()
    local ids, seen = causes.list(), {}
    for i, id in ipairs(ids) do
      assert.is_nil(seen[id], "duplicate " .. id)
      seen[id] = true
      assert.equals(i, causes.rank(id))
    end
    for id in pairs(ISSUE_TABLE) do assert.is_true(seen[id], id) end
    assert.equals("internal_error", ids[1])
    assert.equals("ok", ids[#ids])
  end)

  it("orders causes the way a person has to fix them", function()
    local function before(a, b) assert.is_true(causes.rank(a) < causes.rank(b), a .. " before " .. b) end
    before("internal_error", "no_certificate")
    before("no_certificate", "invalid_certificate")
    before("invalid_certificate", "untrusted_root")
    before("untrusted_root", "expired")
    before("missing_intermediate", "intermediate_in_roots")
    before("intermediate_in_roots", "bad_signature")
    before("intermediate_in_roots", "expired")
    before("bad_signature", "revoked")
    before("revoked", "expired")
    before("expired", "revocation_unknown")
    before("revocation_unknown", "denied_by_rule")
    before("denied_by_rule", "ok")
    assert.equals(#causes.list() + 1, causes.rank("no_such_cause"))
  end)

  it("gives each cause its status and substatus from the issue's table", function()
    for id, sub in pairs(ISSUE_TABLE) do
      local c = causes.get(id)
      assert.equals(id, c.id)
      assert.equals(sub, c.substatus, id)
      assert.equals(id == "ok" and 200 or id == "internal_error" and 500 or 403, c.status, id)
    end
    assert.is_nil(causes.get("no_such_cause"))
  end)

  it("gives each rejection a title, a message and steps that say who must act", function()
    for _, id in ipairs(causes.list()) do
      local c = causes.get(id)
      assert.is_string(c.title)
      assert.is_string(c.message)
      if id ~= "ok" then
        assert.is_true(#c.resolution >= 1, id)
        for _, r in ipairs(c.resolution) do
          assert.is_truthy(r.who == "server operator" or r.who == "client owner"
            or r.who == "certificate authority", id)
          -- a step for every deployment, or (false) only for those that word it
          assert.is_truthy(type(r.step) == "string" or r.step == false, id)
          for k, v in pairs(r) do
            if k ~= "who" and k ~= "step" then
              assert.is_truthy(type(v) == "string" or v == false, id .. "." .. k)
              local known = false
              for _, d in ipairs(causes.DEPLOYMENTS) do if d == k then known = true end end
              assert.is_true(known, id .. ": unknown deployment " .. tostring(k))
            end
          end
        end
      end
    end
  end)

  it("tells the operator to make client certificates optional when not needed", function()
    local text = {}
    for _, r in ipairs(causes.get("no_certificate").resolution) do text[#text + 1] = r.step or nil end
    assert.matches("make them optional or switch them off", table.concat(text, " "), 1, true)
  end)
end)

describe("causes.iso", function()
  it("formats Unix seconds as ISO 8601 UTC", function()
    assert.equals("1970-01-01T00:00:00Z", causes.iso(0))
    assert.equals("1969-12-31T23:59:59Z", causes.iso(-1))
    assert.equals("2000-02-29T12:34:56Z", causes.iso(951827696))
    assert.equals("2030-06-01T00:00:00Z", causes.iso(1906502400))
    assert.equals("2060-01-01T00:00:00Z", causes.iso(2840140800))
    assert.equals("9999-12-31T23:59:59Z", causes.iso(253402300799))
    assert.equals("unknown date", causes.iso(nil))
  end)

  it("agrees with os.date over a century of instants", function()
    for i = 0, 400 do
      local t = i * 7919993 + 12345
      assert.equals(os.date("!%Y-%m-%dT%H:%M:%SZ", t), causes.iso(t))
    end
  end)
end)

describe("causes.render", function()
  local facts = {
    subject = "CN=alice,O=clientcert tests", issuer = "CN=Test Issuing CA,O=clientcert tests",
    serial = "1002", fingerprint = string.rep("ab", 32), eku = { "clientAuth" }, time = 1906502400,
    error = "certificate has expired", rule_reason = "not on the list", depth = 1,
    element = "the intermediate CA CN=Expired Issuing CA (chain depth 1)", element_issuer = "CN=Test Root CA",
    element_serial = "10AB", element_not_before = 1577836800, element_not_after = 1735689600,
    revoked_at = 1893456000, reason = "keyCompromise",
  }

  it("fills every placeholder of every cause", function()
    for _, id in ipairs(causes.list()) do
      local text = causes.render(id, facts)
      assert.not_matches("[{}]", text, id)
      assert.not_matches("(unknown)", text, 1, true)
      assert.matches("^%u", text)
    end
  end)

  it("names the element, its dates in ISO 8601 UTC and the check time", function()
    assert.equals("The intermediate CA CN=Expired Issuing CA (chain depth 1) expired on 2025-01-01T00:00:00Z "
      .. "(checked at 2030-06-01T00:00:00Z).", causes.render("expired", facts))
    assert.matches("not valid before 2020-01-01T00:00:00Z", causes.render("not_yet_valid", facts), 1, true)
  end)

  it("gives serial, date and reason of a revocation", function()
    assert.equals("The intermediate CA CN=Expired Issuing CA (chain depth 1) (serial 10AB) was revoked by its "
      .. "issuer on 2030-01-01T00:00:00Z, reason: keyCompromise.", causes.render("revoked", facts))
  end)

  it("names subject, issuer and the rule's reason for denied_by_rule", function()
    assert.equals("The certificate CN=alice,O=clientcert tests (issuer CN=Test Issuing CA,O=clientcert tests) "
      .. "is valid but not allowed here: not on the list.", causes.render("denied_by_rule", facts))
  end)

  it("says (unknown) for a missing fact and uses invalid_certificate for an unknown id", function()
    assert.equals("The client certificate (unknown) (issuer (unknown)) is accepted.", causes.render("ok", {}))
    assert.equals(causes.render("invalid_certificate", facts), causes.render("no_such_cause", facts))
  end)

  it("shows control bytes escaped, never raw", function()
    local text = causes.render("denied_by_rule", { subject = "CN=alice\0.evil\n", issuer = "x", rule_reason = "r\27" })
    assert.matches("CN=alice\\x00.evil\\x0a", text, 1, true)
    assert.not_matches("[%z\1-\31]", text)
  end)

  it("lists table facts, and says (none) for an empty one", function()
    assert.matches("extended key usage: serverAuth, codeSigning",
      causes.render("wrong_purpose", { element = "x", error = "e", eku = { "serverAuth", "codeSigning" } }), 1, true)
    assert.matches("extended key usage: (none)",
      causes.render("wrong_purpose", { element = "x", error = "e", eku = {} }), 1, true)
  end)
end)

describe("causes.resolution", function()
  local FACTS = { element = "the intermediate CA CN=x", element_issuer = "CN=Root", fingerprint = "ab12",
                  subject = "CN=a", issuer = "CN=b", error = "e" }
  -- the steps of id in deployment d as one text, and for one reader (who)
  local function text(id, d, who)
    local out = {}
    for _, r in ipairs(causes.resolution(id, FACTS, d)) do
      if not who or r.who == who then out[#out + 1] = r.step end
    end
    return table.concat(out, "\n")
  end
  local SERVER = "server operator"

  it("returns fresh steps with facts filled in", function()
    local steps = causes.resolution("denied_by_rule", { fingerprint = "ab12" })
    assert.matches("ab12", steps[#steps].step, 1, true)
    steps[1].step = "changed"
    assert.not_equals("changed", causes.get("denied_by_rule").resolution[1].step)
    assert.same({}, causes.resolution("ok"))
  end)

  it("words every rejection for each deployment: steps that read on their own, who acts", function()
    assert.same({ "server", "library", "gate", "cli", "iis" }, causes.DEPLOYMENTS)
    for _, d in ipairs(causes.DEPLOYMENTS) do
      for _, id in ipairs(causes.list()) do
        local steps = causes.resolution(id, FACTS, d)
        if id ~= "ok" then assert.is_true(#steps >= 1, id .. " in " .. d) end
        for _, r in ipairs(steps) do
          assert.is_truthy(r.who == SERVER or r.who == "client owner" or r.who == "certificate authority", id)
          assert.is_string(r.step)
          -- numbered after filtering ("1." for the client, "(1)" in the operator's log line):
          -- no step may lean on one left out
          assert.not_matches("^Or ", r.step, id .. " in " .. d)
          assert.not_matches("^Also ", r.step, id .. " in " .. d)
          assert.not_matches("{[%w_]+}", r.step, id .. " in " .. d)  -- every placeholder filled
        end
      end
    end
    assert.same(causes.resolution("expired", FACTS), causes.resolution("expired", FACTS, "server"))
  end)

  it("raises for an unknown deployment", function()
    assert.has_error(function() causes.resolution("expired", {}, "apache") end,
      "clientcert.causes.resolution: deployment must be one of server, library, gate, cli, iis, got apache")
  end)

  it("names IIS only where IIS is the subject", function()
    for _, d in ipairs({ "library", "gate", "cli" }) do
      for _, id in ipairs(causes.list()) do
        assert.not_matches("IIS", text(id, d), 1, true)
        assert.not_matches("Trusted Root Certification", text(id, d), 1, true)
        assert.not_matches("Schannel", text(id, d), 1, true)
      end
    end
    assert.matches("Trusted Root Certification Authorities", text("untrusted_root", "iis", SERVER), 1, true)
    assert.matches("Intermediate Certification Authorities", text("intermediate_in_roots", "iis"), 1, true)
    -- and the generic no_certificate step does not open with IIS's settings
    local generic = text("no_certificate", "server", SERVER)
    assert.is_true(generic:find("nginx", 1, true) < generic:find("IIS", 1, true))
  end)

  it("tells a gate operator to trust a root in the policy file, never through nginx", function()
    local gate = text("untrusted_root", "gate", SERVER)
    assert.matches("add its root CA certificate to the roots of the policy file's trust", gate, 1, true)
    assert.matches("optional_no_ca", gate, 1, true)
    assert.not_matches("nginx: ssl_client_certificate", gate, 1, true)
    assert.not_matches("install its root CA certificate in the server's", gate, 1, true)
    -- anywhere else in the gate's steps, ssl_client_certificate is only named as what not to set
    for _, id in ipairs(causes.list()) do
      for _, r in ipairs(causes.resolution(id, FACTS, "gate")) do
        local at = r.step:find("ssl_client_certificate", 1, true)
        if at then assert.matches("without ssl_client_certificate", r.step, 1, true) end
      end
    end
    -- the library and the CLI say where their roots come from
    assert.matches("store:add_root", text("untrusted_root", "library", SERVER), 1, true)
    assert.matches("--roots", text("untrusted_root", "cli", SERVER), 1, true)
  end)

  it("does not open the gate's no_certificate steps with another server's settings", function()
    local steps = causes.resolution("no_certificate", FACTS, "gate")
    local first = nil
    for _, r in ipairs(steps) do if r.who == SERVER then first = first or r.step end end
    assert.matches("^If this location does not need client certificates, make them optional or switch them off: "
      .. "mode = \"optional\" or \"off\" in the policy file", first)
    -- a step only the gate has: nginx must ask for the certificate
    assert.matches("ssl_verify_client optional_no_ca", text("no_certificate", "gate", SERVER), 1, true)
    assert.not_matches("ssl_verify_client optional_no_ca", text("no_certificate", "cli", SERVER), 1, true)
    assert.equals(1, #causes.resolution("no_certificate", FACTS, "cli") - 1)
  end)

  it("words the intermediate-among-roots fix for each deployment", function()
    assert.matches("with --intermediates instead of --roots", text("intermediate_in_roots", "cli"), 1, true)
    assert.matches("(CN=Root) with --roots", text("intermediate_in_roots", "cli"), 1, true)
    assert.matches("In the policy file's trust, load that certificate as an intermediate",
      text("intermediate_in_roots", "gate"), 1, true)
    assert.matches("store:add_intermediate", text("intermediate_in_roots", "library"), 1, true)
    -- a missing intermediate's server step stands alone once the client's is filtered out
    assert.matches("^If clients cannot send it, add the intermediate CA certificate to the intermediates of "
      .. "the policy file's trust", text("missing_intermediate", "gate", SERVER))
  end)

  it("leaves out steps that do not apply to a deployment", function()
    -- IIS has no purpose setting, no CRL switch
    assert.equals(1, #causes.resolution("wrong_purpose", FACTS, "iis"))
    assert.equals(2, #causes.resolution("wrong_purpose", FACTS, "gate"))
    -- revocation_unknown: the CRL upkeep, and the CA's own step (no clientcert option)
    assert.equals(2, #causes.resolution("revocation_unknown", FACTS, "iis"))
  end)
end)

describe("causes.client_side", function()
  it("names the one Schannel limit (clientcert.audit's) in ca_list_too_large", function()
    local limit = require("clientcert.audit").SCHANNEL_LIMIT
    assert.are.equal(16384, limit)
    local f = causes.client_side("ca_list_too_large", { size = 20000, count = 16 })
    assert.are.equal("The server's list of acceptable CAs is 20000 bytes (16 names), over the 16384 bytes that "
      .. "Windows (Schannel) clients accept: those clients send no certificate at all.", f.message)
    assert.are.equal("no_certificate", f.cause)
  end)
end)
