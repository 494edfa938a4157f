-- OpenSSL's own verification cases (test/recipes/25-test_verify.t of OpenSSL 3.0.22),
-- mapped onto store:verify. Reports "agree N/162" and each disagreement.
local clientcert = require "clientcert"
local common = require "conformance.common"

local FLAG_NAMES = {
  X509_STRICT = "x509_strict", POLICY_CHECK = "policy_check", EXPLICIT_POLICY = "explicit_policy",
  ALLOW_PROXY_CERTS = "allow_proxy_certs", USE_DELTAS = "use_deltas",
  EXTENDED_CRL_SUPPORT = "extended_crl_support", CHECK_SS_SIGNATURE = "check_ss_signature",
}
local PURPOSE = { sslserver = "server", sslclient = "client" }

-- verdict, detail = run(case, dir): "pass" or "fail", and what clientcert said.
local function run(case, dir)
  local function certs(stems)
    local out = {}
    for _, stem in ipairs(stems) do
      local list, err = clientcert.load_all(dir .. "/certs/" .. stem .. ".pem")
      if not list then return nil, err end
      for _, c in ipairs(list) do out[#out + 1] = c end
    end
    return out
  end
  local roots, e1 = certs(case.trusted)
  if not roots then return "fail", e1 end
  local chain, e2 = certs(case.untrusted)
  if not chain then return "fail", e2 end
  local leaf, e3 = clientcert.load(dir .. "/certs/" .. case.leaf .. ".pem")
  if not leaf then return "fail", e3 end
  local crls = {}
  for _, stem in ipairs(case.crls) do crls[#crls + 1] = dir .. "/certs/" .. stem .. ".pem" end
  local store, e4 = clientcert.store{ roots = roots, crls = crls }
  if not store then return "fail", e4 end

  local opts = { chain = chain, purpose = PURPOSE[common.value(case.purpose) or ""] or "any", crl = "none",
                 max_depth = common.value(case.verify_depth) or 100, flags = {},
                 time = common.value(case.attime) or os.time() }
  for _, f in ipairs(case.flags) do
    if f == "PARTIAL_CHAIN" then opts.partial_chain = true
    elseif f == "CRL_CHECK" then opts.crl = "leaf"
    elseif f == "NO_CHECK_TIME" then opts.check_time = false
    elseif FLAG_NAMES[f] then opts.flags[#opts.flags + 1] = FLAG_NAMES[f]
    else error("unmapped flag " .. f) end
  end
  if common.value(case.auth_level) then opts.auth_level = case.auth_level end
  if #case.policies > 0 then opts.policies = case.policies end
  local r, err = store:verify(leaf, opts)
  if not r then return "fail", err end
  return r.ok and "pass" or "fail", r.ok and "ok" or (r.cause .. ": " .. r.error .. " at depth " .. tostring(r.depth))
end

describe("conformance: OpenSSL verify cases", function()
  local dir = common.root() .. "/openssl-verify"
  local cases = common.jsonl(dir .. "/cases.jsonl")
  local agree, lines = 0, {}
  for _, case in ipairs(cases) do
    local ok, verdict, detail = pcall(run, case, dir)
    if not ok then verdict, detail = "error", tostring(verdict) end
    if verdict == case.expected then
      agree = agree + 1
    else
      lines[#lines + 1] = ("disagree %s (%s): expected %s, clientcert %s: %s"):format(case.id,
        case.description, case.expected, verdict, tostring(detail))
    end
  end
  table.insert(lines, 1, ("agree %d/%d"):format(agree, #cases))
  common.report("openssl-verify", lines)

  it("runs all 162 cases", function() assert.equals(162, #cases) end)
  it("agrees at least as often as recorded in spec/conformance/figures.lua", function()
    assert.is_true(agree >= common.figures.openssl_verify,
      ("agree %d/%d, recorded %d"):format(agree, #cases, common.figures.openssl_verify))
  end)
end)
