-- x509-limbo, the client-relevant subset (176 cases), mapped onto store:verify.
-- Reports agreement, the cause given for each rejection, and where clientcert is
-- stricter (rejects an expected success) or looser (accepts an expected failure).
local clientcert = require "clientcert"
local cli = require "clientcert.cli"
local common = require "conformance.common"

local PURPOSE = { serverAuth = "server", clientAuth = "client" }

local function rfc3339(s)
  local base = s:match("^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)")
  local t = assert(cli.parse_time(base .. "Z"), "bad time " .. s)
  local sign, hh, mm = s:match("([%+%-])(%d%d):(%d%d)$")
  if sign then
    local off = tonumber(hh) * 3600 + tonumber(mm) * 60
    t = sign == "+" and t - off or t + off
  end
  return t
end

-- verdict, cause, detail; strict: "x509" adds OpenSSL's X509_STRICT checks
-- (flags = {"x509_strict"}), "profile" the strict profile (profile = "strict")
local function run(case, strict)
  local leaf, err = clientcert.parse(case.peer_certificate)
  if not leaf then return "FAILURE", "invalid_certificate", err end
  local store, serr = clientcert.store{ roots = case.trusted_certs, crls = case.crls }
  if not store then return "FAILURE", "invalid_certificate", serr end
  local chain = {}
  for i, pem in ipairs(case.untrusted_intermediates) do chain[i] = pem end
  local eku = case.extended_key_usage[1]
  local opts = { chain = chain, purpose = eku and PURPOSE[eku] or "any",
                 crl = #case.crls > 0 and "leaf" or "none", flags = strict == "x509" and { "x509_strict" } or nil,
                 profile = strict == "profile" and "strict" or nil }
  local when = common.value(case.validation_time)
  if when then opts.time = rfc3339(when) else opts.check_time = false end
  local depth = common.value(case.max_chain_depth)
  if depth then opts.max_depth = depth end
  local r, verr = store:verify(leaf, opts)
  if not r then return "FAILURE", "invalid_certificate", verr end
  return r.ok and "SUCCESS" or "FAILURE", r.cause, r.error
end

-- agree, lines = evaluate(cases, strict)
local function evaluate(cases, strict)
  local agree, stricter, looser, causes = 0, {}, {}, {}
  for _, case in ipairs(cases) do
    local ok, verdict, cause, detail = pcall(run, case, strict)
    if not ok then verdict, cause, detail = "FAILURE", "error", tostring(verdict) end
    if verdict == "FAILURE" then causes[cause] = (causes[cause] or 0) + 1 end
    if verdict == case.expected_result then
      agree = agree + 1
    elseif verdict == "FAILURE" then
      stricter[#stricter + 1] = ("stricter %s: rejected (%s: %s)"):format(case.id, cause, tostring(detail))
    else
      looser[#looser + 1] = ("looser %s: accepted an expected failure"):format(case.id)
    end
  end
  local mode = strict == "x509" and "x509_strict" or strict == "profile" and "profile strict" or "default"
  local lines = { ("%s: agree %d/%d (stricter %d, looser %d)"):format(mode, agree, #cases, #stricter, #looser) }
  local ids = {}
  for id in pairs(causes) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do lines[#lines + 1] = ("%s: rejected with cause %s: %d"):format(mode, id, causes[id]) end
  for _, l in ipairs(stricter) do lines[#lines + 1] = mode .. ": " .. l end
  for _, l in ipairs(looser) do lines[#lines + 1] = mode .. ": " .. l end
  return agree, lines
end

describe("conformance: x509-limbo client subset", function()
  local cases = common.jsonl(common.root() .. "/limbo/limbo-client-subset.jsonl")
  local agree, lines = evaluate(cases, false)
  local agree_strict, lines_strict = evaluate(cases, "x509")
  local agree_profile, lines_profile = evaluate(cases, "profile")
  common.report("limbo", lines)
  common.report("limbo", lines_strict)
  common.report("limbo", lines_profile)

  it("runs all 176 cases", function() assert.equals(176, #cases) end)
  it("agrees at least as often as recorded, with the default options", function()
    assert.is_true(agree >= common.figures.limbo, ("agree %d/%d, recorded %d"):format(agree, #cases,
      common.figures.limbo))
  end)
  it("agrees at least as often as recorded, with x509_strict (OpenSSL's reference figure is 136)", function()
    assert.is_true(agree_strict >= common.figures.limbo_strict, ("agree %d/%d, recorded %d"):format(agree_strict,
      #cases, common.figures.limbo_strict))
  end)
  it("agrees at least as often as recorded, with profile = \"strict\"", function()
    assert.is_true(agree_profile >= common.figures.limbo_profile_strict, ("agree %d/%d, recorded %d"):format(
      agree_profile, #cases, common.figures.limbo_profile_strict))
  end)
end)
