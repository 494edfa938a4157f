-- NIST PKITS (spec/conformance/pkits.lua): every test's path and CRLs from its
-- signed message, trust anchor TrustAnchorRootCertificate, check time 2011-04-15.
-- Five runs, each verdict recorded in pkits_expected.lua (a changed verdict fails,
-- so does a lost agreement):
--   client         store:verify with the client options, crl = "chain" (161 tests outside 4.8-4.12)
--   client_allow   the same with crl_missing = "allow"
--   openssl        OpenSSL's X509_verify_cert, CRL_CHECK | CRL_CHECK_ALL, purpose sslclient (161)
--   openssl_pkits  OpenSSL with its own PKITS settings (test/pkits-test.pl: x509_strict,
--                  policy_check, extended CRL support, deltas) and the policy settings of
--                  each 4.8-4.12 run (161 + 86 runs)
--   client_pkits   store:verify with those settings (161 + 86 runs)
-- CLIENTCERT_PKITS_RECORD=path writes the verdicts of this run there (to record a change).
local common = require "conformance.common"
local pkits = require "conformance.pkits"

local MODES = { "client", "client_allow", "openssl", "client_pkits", "openssl_pkits" }
local PKITS_FLAGS = { "x509_strict", "policy_check", "extended_crl_support", "use_deltas" }
local OSSL_NAMES = { extended_crl_support = "extended_crl" }

-- verdict = clientcert_run(anchor, m, opts): "ok", or the cause and the first problem's code.
local function clientcert_run(anchor, m, opts)
  local r, err = pkits.verify(anchor, m, opts)
  if not r then return "error " .. tostring(err) end
  if r.ok then return "ok" end
  return r.cause .. " " .. tostring(r.problems[1] and r.problems[1].code_name)
end

-- flags, policies of a run with OpenSSL's PKITS settings (t: a test or a policy run)
local function pkits_settings(t)
  local flags = {}
  for i, fl in ipairs(PKITS_FLAGS) do flags[i] = fl end
  if t.explicit then flags[#flags + 1] = "explicit_policy" end
  if t.inhibit_map then flags[#flags + 1] = "inhibit_map" end
  if t.inhibit_any then flags[#flags + 1] = "inhibit_any" end
  return flags, t.policies or { pkits.ANY }
end

local function is_ok(verdict) return verdict == "ok" or verdict == "X509_V_OK" end

local function record(path, runs, got)
  local f = assert(io.open(path, "wb"))
  f:write("-- The verdict of every NIST PKITS run (spec/conformance/pkits_spec.lua): \"ok\" or the\n",
    "-- cause and the first problem's code for clientcert, the verify error's name for OpenSSL.\n",
    "-- Written by CLIENTCERT_PKITS_RECORD=spec/conformance/pkits_expected.lua; a change is reviewed.\n",
    "-- One line per run: id | client | client_allow | client_pkits | openssl | openssl_pkits\n",
    "-- (\"=\": the verdict of the mode before it; \"-\": no run in that mode; see pkits.recorded).\n",
    "-- luacheck: no max string line length\n",
    "return require(\"conformance.pkits\").recorded [[\n", pkits.record_lines(runs, got), "]]\n")
  f:close()
end

describe("conformance: NIST PKITS", function()
  local dir = pkits.dir()
  local anchor = pkits.anchor(dir)
  local messages, runs, got = {}, {}, {}
  for _, mode in ipairs(MODES) do got[mode] = {} end
  local function message(title)
    if not messages[title] then messages[title] = assert(pkits.read_message(pkits.message(dir, title))) end
    return messages[title]
  end

  local ossl, ossl_pkits = {}, {}
  for _, t in ipairs(pkits.TESTS) do
    local m = message(t.title)
    runs[#runs + 1] = t
    got.client[t.id] = clientcert_run(anchor, m, {})
    got.client_allow[t.id] = clientcert_run(anchor, m, { crl_missing = "allow" })
    ossl[#ossl + 1] = { id = t.id, title = t.title, flags = { "crl_check_all" } }
  end
  for _, t in ipairs(pkits.POLICY_TESTS) do runs[#runs + 1] = t end
  for _, t in ipairs(runs) do
    local flags, policies = pkits_settings(t)
    got.client_pkits[t.id] = clientcert_run(anchor, message(t.title), { flags = flags, policies = policies })
    local oflags = { "crl_check_all" }
    for _, fl in ipairs(flags) do oflags[#oflags + 1] = OSSL_NAMES[fl] or fl end
    ossl_pkits[#ossl_pkits + 1] = { id = t.id, title = t.title, flags = oflags, policies = policies }
  end
  got.openssl = pkits.openssl(dir, ossl)
  got.openssl_pkits = pkits.openssl(dir, ossl_pkits)
  local record_path = os.getenv("CLIENTCERT_PKITS_RECORD")
  if record_path then record(record_path, runs, got) end

  -- agreement with the PKITS document, per mode, over the 161 tests and the 86 policy runs
  local agree, lines = {}, {}
  for _, mode in ipairs(MODES) do
    local a, n, ap, np, bad = 0, 0, 0, 0, {}
    for _, t in ipairs(runs) do
      local v = got[mode][t.id]
      if v then
        local policy = t.policies ~= nil
        local yes = is_ok(v) == t.valid
        if policy then np = np + 1; ap = ap + (yes and 1 or 0)
        else n = n + 1; a = a + (yes and 1 or 0) end
        if not yes then bad[#bad + 1] = ("%s %s (%s): %s"):format(yes and "" or (t.valid and "stricter" or "looser"),
          t.id, t.title, v) end
      end
    end
    agree[mode] = { a, n, ap, np }
    lines[#lines + 1] = np > 0 and ("%s: agree %d/%d, policy runs (4.8-4.12) %d/%d"):format(mode, a, n, ap, np)
      or ("%s: agree %d/%d"):format(mode, a, n)
    for _, b in ipairs(bad) do lines[#lines + 1] = mode .. ": " .. b end
  end
  common.report("pkits", lines)

  it("reads all 161 tests and the 86 policy runs", function()
    assert.equals(161, #pkits.TESTS)
    assert.equals(86, #pkits.POLICY_TESTS)
    for _, t in ipairs(pkits.TESTS) do
      local m = message(t.title)
      assert.equals(t.title:gsub("[ %-]", ""):lower(), (m.title:gsub("[ %-]", ""):lower()))
    end
  end)

  it("a PKITS file that cannot be read is an error, never a skipped test", function()
    local t, err = pkits.read_message(dir .. "/smime/SignedNoSuchTest1.eml")
    assert.is_nil(t)
    assert.matches("cannot read", err, 1, true)
  end)

  local expected = require "conformance.pkits_expected"
  for _, mode in ipairs(MODES) do
    it(("gives every verdict recorded in pkits_expected.lua (%s)"):format(mode), function()
      local diffs = {}
      for _, t in ipairs(runs) do
        local want, have = expected[mode][t.id], got[mode][t.id]
        if want ~= have then
          diffs[#diffs + 1] = ("%s (%s): recorded %s, now %s"):format(t.id, t.title, tostring(want), tostring(have))
        end
      end
      assert.equals("", table.concat(diffs, "\n"))
    end)
  end

  it("agrees at least as often as recorded in figures.lua", function()
    local f = common.figures
    local a, b, c = agree.client[1], agree.client_allow[1], agree.client_pkits[1] + agree.client_pkits[3]
    assert.is_true(a >= f.pkits_client, ("client %d/161, recorded %d"):format(a, f.pkits_client))
    assert.is_true(b >= f.pkits_client_allow, ("client_allow %d/161, recorded %d"):format(b, f.pkits_client_allow))
    assert.is_true(c >= f.pkits_client_pkits, ("client_pkits %d/247, recorded %d"):format(c, f.pkits_client_pkits))
  end)

  -- crl_missing = "allow" accepts an issuer that publishes no CRL: no CRL of the store
  -- names it, its key, or the cRLIssuer of the certificate's distribution points.
  -- 4.4.1 (no CRL at all), 4.4.6 (the CA's CRL is missing, another CA's is there) and
  -- 4.14.26 (the cRLIssuer named, "indirectCRL CA1x", has no CRL) are what it is for.
  local NO_CRL = { ["4.4.1"] = true, ["4.4.6"] = true, ["4.14.26"] = true }
  for _, mode in ipairs({ "client", "client_allow" }) do
    it(("accepts no PKITS-invalid path that OpenSSL rejects (%s)"):format(mode), function()
      local bad = {}
      for _, t in ipairs(pkits.TESTS) do
        if not t.valid and got[mode][t.id] == "ok" and got.openssl[t.id] ~= "X509_V_OK"
           and not (mode == "client_allow" and NO_CRL[t.id]) then
          bad[#bad + 1] = t.id .. " " .. t.title
        end
      end
      assert.equals("", table.concat(bad, "\n"))
    end)
  end
end)
