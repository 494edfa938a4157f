-- NIST PKITS (the 2011 data of Debian's python3-cryptography-vectors): the test
-- list of the PKITS document (section numbers, titles, the policy settings of
-- the policy tests), reading a test's path and CRLs out of its signed S/MIME
-- message, and OpenSSL's own verdicts (X509_verify_cert, pkits_openssl.c).
-- A file that cannot be read raises: a missing test fails, it is never skipped.
local clientcert = require "clientcert"

local M = {}

M.TIME = 1302825600         -- 2011-04-15T00:00:00Z, the check time
M.ANY = "2.5.29.32.0"       -- anyPolicy
local function nist(n) return "2.16.840.1.101.3.2.1.48." .. n end

local DEBIAN_DIR = "/usr/lib/python3/dist-packages/cryptography_vectors/x509/PKITS_data"

local read = require("conformance.common").read

local sh_quote = require("helpers.sh").quote

local function has_data(dir)
  local f = dir and io.open(dir .. "/certs/TrustAnchorRootCertificate.crt", "rb")
  if f then f:close() end
  return f ~= nil
end

--- dir = pkits.dir(): $CLIENTCERT_PKITS, Debian's python3-cryptography-vectors
-- path, or where python3 finds cryptography_vectors. Raises when none has the data.
function M.dir()
  local env = os.getenv("CLIENTCERT_PKITS")
  if env then
    if not has_data(env) then error("PKITS data not found in $CLIENTCERT_PKITS=" .. env) end
    return env
  end
  if has_data(DEBIAN_DIR) then return DEBIAN_DIR end
  for _, py in ipairs({ "python3", "/usr/bin/python3" }) do
    local p = io.popen(py .. " -c 'import cryptography_vectors,os;print(os.path.dirname("
      .. "cryptography_vectors.__file__))' 2>/dev/null")
    local out = p and p:read("*l")
    if p then p:close() end
    if out and has_data(out .. "/x509/PKITS_data") then return out .. "/x509/PKITS_data" end
  end
  error("PKITS data not found: install python3-cryptography-vectors or set CLIENTCERT_PKITS")
end

-- The sections outside certificate policies (4.8-4.12): their titles in the
-- document's order; a test's number is its section and its position.
local SECTIONS = {
  { "4.1", { "Valid Signatures Test1", "Invalid CA Signature Test2", "Invalid EE Signature Test3",
    "Valid DSA Signatures Test4", "Valid DSA Parameter Inheritance Test5", "Invalid DSA Signature Test6" } },
  { "4.2", { "Invalid CA notBefore Date Test1", "Invalid EE notBefore Date Test2",
    "Valid pre2000 UTC notBefore Date Test3", "Valid GeneralizedTime notBefore Date Test4",
    "Invalid CA notAfter Date Test5", "Invalid EE notAfter Date Test6",
    "Invalid pre2000 UTC EE notAfter Date Test7", "Valid GeneralizedTime notAfter Date Test8" } },
  { "4.3", { "Invalid Name Chaining EE Test1", "Invalid Name Chaining Order Test2",
    "Valid Name Chaining Whitespace Test3", "Valid Name Chaining Whitespace Test4",
    "Valid Name Chaining Capitalization Test5", "Valid Name Chaining UIDs Test6",
    "Valid RFC3280 Mandatory Attribute Types Test7", "Valid RFC3280 Optional Attribute Types Test8",
    "Valid UTF8String Encoded Names Test9", "Valid Rollover from PrintableString to UTF8String Test10",
    "Valid UTF8String Case Insensitive Match Test11" } },
  { "4.4", { "Missing CRL Test1", "Invalid Revoked CA Test2", "Invalid Revoked EE Test3",
    "Invalid Bad CRL Signature Test4", "Invalid Bad CRL Issuer Name Test5", "Invalid Wrong CRL Test6",
    "Valid Two CRLs Test7", "Invalid Unknown CRL Entry Extension Test8", "Invalid Unknown CRL Extension Test9",
    "Invalid Unknown CRL Extension Test10", "Invalid Old CRL nextUpdate Test11",
    "Invalid pre2000 CRL nextUpdate Test12", "Valid GeneralizedTime CRL nextUpdate Test13",
    "Valid Negative Serial Number Test14", "Invalid Negative Serial Number Test15",
    "Valid Long Serial Number Test16", "Valid Long Serial Number Test17", "Invalid Long Serial Number Test18",
    "Valid Separate Certificate and CRL Keys Test19", "Invalid Separate Certificate and CRL Keys Test20",
    "Invalid Separate Certificate and CRL Keys Test21" } },
  { "4.5", { "Valid Basic Self-Issued Old With New Test1", "Invalid Basic Self-Issued Old With New Test2",
    "Valid Basic Self-Issued New With Old Test3", "Valid Basic Self-Issued New With Old Test4",
    "Invalid Basic Self-Issued New With Old Test5", "Valid Basic Self-Issued CRL Signing Key Test6",
    "Invalid Basic Self-Issued CRL Signing Key Test7", "Invalid Basic Self-Issued CRL Signing Key Test8" } },
  { "4.6", { "Invalid Missing basicConstraints Test1", "Invalid cA False Test2", "Invalid cA False Test3",
    "Valid basicConstraints Not Critical Test4", "Invalid pathLenConstraint Test5",
    "Invalid pathLenConstraint Test6", "Valid pathLenConstraint Test7", "Valid pathLenConstraint Test8",
    "Invalid pathLenConstraint Test9", "Invalid pathLenConstraint Test10", "Invalid pathLenConstraint Test11",
    "Invalid pathLenConstraint Test12", "Valid pathLenConstraint Test13", "Valid pathLenConstraint Test14",
    "Valid Self-Issued pathLenConstraint Test15", "Invalid Self-Issued pathLenConstraint Test16",
    "Valid Self-Issued pathLenConstraint Test17" } },
  { "4.7", { "Invalid keyUsage Critical keyCertSign False Test1",
    "Invalid keyUsage Not Critical keyCertSign False Test2", "Valid keyUsage Not Critical Test3",
    "Invalid keyUsage Critical cRLSign False Test4", "Invalid keyUsage Not Critical cRLSign False Test5" } },
  { "4.13", { "Valid DN nameConstraints Test1", "Invalid DN nameConstraints Test2",
    "Invalid DN nameConstraints Test3", "Valid DN nameConstraints Test4", "Valid DN nameConstraints Test5",
    "Valid DN nameConstraints Test6", "Invalid DN nameConstraints Test7", "Invalid DN nameConstraints Test8",
    "Invalid DN nameConstraints Test9", "Invalid DN nameConstraints Test10", "Valid DN nameConstraints Test11",
    "Invalid DN nameConstraints Test12", "Invalid DN nameConstraints Test13", "Valid DN nameConstraints Test14",
    "Invalid DN nameConstraints Test15", "Invalid DN nameConstraints Test16",
    "Invalid DN nameConstraints Test17", "Valid DN nameConstraints Test18",
    "Valid Self-Issued DN nameConstraints Test19", "Invalid Self-Issued DN nameConstraints Test20",
    "Valid RFC822 nameConstraints Test21", "Invalid RFC822 nameConstraints Test22",
    "Valid RFC822 nameConstraints Test23", "Invalid RFC822 nameConstraints Test24",
    "Valid RFC822 nameConstraints Test25", "Invalid RFC822 nameConstraints Test26",
    "Valid DN and RFC822 nameConstraints Test27", "Invalid DN and RFC822 nameConstraints Test28",
    "Invalid DN and RFC822 nameConstraints Test29", "Valid DNS nameConstraints Test30",
    "Invalid DNS nameConstraints Test31", "Valid DNS nameConstraints Test32",
    "Invalid DNS nameConstraints Test33", "Valid URI nameConstraints Test34",
    "Invalid URI nameConstraints Test35", "Valid URI nameConstraints Test36",
    "Invalid URI nameConstraints Test37", "Invalid DNS nameConstraints Test38" } },
  { "4.14", { "Valid distributionPoint Test1", "Invalid distributionPoint Test2",
    "Invalid distributionPoint Test3", "Valid distributionPoint Test4", "Valid distributionPoint Test5",
    "Invalid distributionPoint Test6", "Valid distributionPoint Test7", "Invalid distributionPoint Test8",
    "Invalid distributionPoint Test9", "Valid No issuingDistributionPoint Test10",
    "Invalid onlyContainsUserCerts CRL Test11", "Invalid onlyContainsCACerts CRL Test12",
    "Valid onlyContainsCACerts CRL Test13", "Invalid onlyContainsAttributeCerts Test14",
    "Invalid onlySomeReasons Test15", "Invalid onlySomeReasons Test16", "Invalid onlySomeReasons Test17",
    "Valid onlySomeReasons Test18", "Valid onlySomeReasons Test19", "Invalid onlySomeReasons Test20",
    "Invalid onlySomeReasons Test21", "Valid IDP with indirectCRL Test22", "Invalid IDP with indirectCRL Test23",
    "Valid IDP with indirectCRL Test24", "Valid IDP with indirectCRL Test25",
    "Invalid IDP with indirectCRL Test26", "Invalid cRLIssuer Test27", "Valid cRLIssuer Test28",
    "Valid cRLIssuer Test29", "Valid cRLIssuer Test30", "Invalid cRLIssuer Test31", "Invalid cRLIssuer Test32",
    "Valid cRLIssuer Test33", "Invalid cRLIssuer Test34", "Invalid cRLIssuer Test35" } },
  { "4.15", { "Invalid deltaCRLIndicator No Base Test1", "Valid delta-CRL Test2", "Invalid delta-CRL Test3",
    "Invalid delta-CRL Test4", "Valid delta-CRL Test5", "Invalid delta-CRL Test6", "Valid delta-CRL Test7",
    "Valid delta-CRL Test8", "Invalid delta-CRL Test9", "Invalid delta-CRL Test10" } },
  { "4.16", { "Valid Unknown Not Critical Certificate Extension Test1",
    "Invalid Unknown Critical Certificate Extension Test2" } },
}

--- pkits.TESTS: the 161 tests outside 4.8-4.12, {id =, title =, valid =}. The
-- document's verdict is in the title ("Valid ..."/"Invalid ..."; "Missing CRL
-- Test1", 4.4.1, is invalid: the document's title of its path).
M.TESTS = {}
for _, s in ipairs(SECTIONS) do
  for i, title in ipairs(s[2]) do
    M.TESTS[#M.TESTS + 1] = { id = s[1] .. "." .. i, title = title, valid = title:find("^Valid ") ~= nil }
  end
end

-- The certificate policy runs (4.8-4.12): id, title, initial policy set,
-- settings (e = initial-explicit-policy, m = initial-policy-mapping-inhibit,
-- a = initial-any-policy-inhibit), the document's verdict for those settings.
local P = {
  { "4.8.1.1", "All Certificates Same Policy Test1", { M.ANY }, "e", true },
  { "4.8.1.2", "All Certificates Same Policy Test1", { nist(1) }, "e", true },
  { "4.8.1.3", "All Certificates Same Policy Test1", { nist(2) }, "e", false },
  { "4.8.1.4", "All Certificates Same Policy Test1", { nist(1), nist(2) }, "e", true },
  { "4.8.2.1", "All Certificates No Policies Test2", { M.ANY }, "", true },
  { "4.8.2.2", "All Certificates No Policies Test2", { M.ANY }, "e", false },
  { "4.8.3.1", "Different Policies Test3", { M.ANY }, "", true },
  { "4.8.3.2", "Different Policies Test3", { M.ANY }, "e", false },
  { "4.8.3.3", "Different Policies Test3", { nist(1), nist(2) }, "e", false },
  { "4.8.4", "Different Policies Test4", { M.ANY }, "", false },
  { "4.8.5", "Different Policies Test5", { M.ANY }, "", false },
  { "4.8.6.1", "Overlapping Policies Test6", { M.ANY }, "", true },
  { "4.8.6.2", "Overlapping Policies Test6", { nist(1) }, "", true },
  { "4.8.6.3", "Overlapping Policies Test6", { nist(2) }, "", false },
  { "4.8.7", "Different Policies Test7", { M.ANY }, "", false },
  { "4.8.8", "Different Policies Test8", { M.ANY }, "", false },
  { "4.8.9", "Different Policies Test9", { M.ANY }, "", false },
  { "4.8.10.1", "All Certificates Same Policies Test10", { nist(1) }, "", true },
  { "4.8.10.2", "All Certificates Same Policies Test10", { nist(2) }, "", true },
  { "4.8.10.3", "All Certificates Same Policies Test10", { M.ANY }, "", true },
  { "4.8.11.1", "All Certificates AnyPolicy Test11", { M.ANY }, "", true },
  { "4.8.11.2", "All Certificates AnyPolicy Test11", { nist(1) }, "", true },
  { "4.8.12", "Different Policies Test12", { M.ANY }, "", false },
  { "4.8.13.1", "All Certificates Same Policies Test13", { nist(1) }, "", true },
  { "4.8.13.2", "All Certificates Same Policies Test13", { nist(2) }, "", true },
  { "4.8.13.3", "All Certificates Same Policies Test13", { nist(3) }, "", true },
  { "4.8.14.1", "AnyPolicy Test14", { nist(1) }, "", true },
  { "4.8.14.2", "AnyPolicy Test14", { nist(2) }, "", false },
  { "4.8.15", "User Notice Qualifier Test15", { M.ANY }, "", true },
  { "4.8.16", "User Notice Qualifier Test16", { M.ANY }, "", true },
  { "4.8.17", "User Notice Qualifier Test17", { M.ANY }, "", true },
  { "4.8.18.1", "User Notice Qualifier Test18", { nist(1) }, "", true },
  { "4.8.18.2", "User Notice Qualifier Test18", { nist(2) }, "", true },
  { "4.8.19", "User Notice Qualifier Test19", { M.ANY }, "", true },
  { "4.8.20", "CPS Pointer Qualifier Test20", { M.ANY }, "e", true },
  { "4.9.1", "Valid RequireExplicitPolicy Test1", { M.ANY }, "", true },
  { "4.9.2", "Valid RequireExplicitPolicy Test2", { M.ANY }, "", true },
  { "4.9.3", "Invalid RequireExplicitPolicy Test3", { M.ANY }, "", false },
  { "4.9.4", "Valid RequireExplicitPolicy Test4", { M.ANY }, "", true },
  { "4.9.5", "Invalid RequireExplicitPolicy Test5", { M.ANY }, "", false },
  { "4.9.6", "Valid Self-Issued requireExplicitPolicy Test6", { M.ANY }, "", true },
  { "4.9.7", "Invalid Self-Issued requireExplicitPolicy Test7", { M.ANY }, "", false },
  { "4.9.8", "Invalid Self-Issued requireExplicitPolicy Test8", { M.ANY }, "", false },
  { "4.10.1.1", "Valid Policy Mapping Test1", { nist(1) }, "", true },
  { "4.10.1.2", "Valid Policy Mapping Test1", { nist(2) }, "", false },
  { "4.10.1.3", "Valid Policy Mapping Test1", { M.ANY }, "m", false },
  { "4.10.2.1", "Invalid Policy Mapping Test2", { M.ANY }, "", false },
  { "4.10.2.2", "Invalid Policy Mapping Test2", { M.ANY }, "m", false },
  { "4.10.3.1", "Valid Policy Mapping Test3", { nist(1) }, "", false },
  { "4.10.3.2", "Valid Policy Mapping Test3", { nist(2) }, "", true },
  { "4.10.4", "Invalid Policy Mapping Test4", { M.ANY }, "", false },
  { "4.10.5.1", "Valid Policy Mapping Test5", { nist(1) }, "", true },
  { "4.10.5.2", "Valid Policy Mapping Test5", { nist(6) }, "", false },
  { "4.10.6.1", "Valid Policy Mapping Test6", { nist(1) }, "", true },
  { "4.10.6.2", "Valid Policy Mapping Test6", { nist(6) }, "", false },
  { "4.10.7", "Invalid Mapping From anyPolicy Test7", { M.ANY }, "", false },
  { "4.10.8", "Invalid Mapping To anyPolicy Test8", { M.ANY }, "", false },
  { "4.10.9", "Valid Policy Mapping Test9", { M.ANY }, "", true },
  { "4.10.10", "Invalid Policy Mapping Test10", { M.ANY }, "", false },
  { "4.10.11", "Valid Policy Mapping Test11", { M.ANY }, "", true },
  { "4.10.12.1", "Valid Policy Mapping Test12", { nist(1) }, "", true },
  { "4.10.12.2", "Valid Policy Mapping Test12", { nist(2) }, "", true },
  { "4.10.13", "Valid Policy Mapping Test13", { M.ANY }, "", true },
  { "4.10.14", "Valid Policy Mapping Test14", { M.ANY }, "", true },
  { "4.11.1", "Invalid inhibitPolicyMapping Test1", { M.ANY }, "", false },
  { "4.11.2", "Valid inhibitPolicyMapping Test2", { M.ANY }, "", true },
  { "4.11.3", "Invalid inhibitPolicyMapping Test3", { M.ANY }, "", false },
  { "4.11.4", "Valid inhibitPolicyMapping Test4", { M.ANY }, "", true },
  { "4.11.5", "Invalid inhibitPolicyMapping Test5", { M.ANY }, "", false },
  { "4.11.6", "Invalid inhibitPolicyMapping Test6", { M.ANY }, "", false },
  { "4.11.7", "Valid Self-Issued inhibitPolicyMapping Test7", { M.ANY }, "", true },
  { "4.11.8", "Invalid Self-Issued inhibitPolicyMapping Test8", { M.ANY }, "", false },
  { "4.11.9", "Invalid Self-Issued inhibitPolicyMapping Test9", { M.ANY }, "", false },
  { "4.11.10", "Invalid Self-Issued inhibitPolicyMapping Test10", { M.ANY }, "", false },
  { "4.11.11", "Invalid Self-Issued inhibitPolicyMapping Test11", { M.ANY }, "", false },
  { "4.12.1", "Invalid inhibitAnyPolicy Test1", { M.ANY }, "", false },
  { "4.12.2", "Valid inhibitAnyPolicy Test2", { M.ANY }, "", true },
  { "4.12.3.1", "inhibitAnyPolicy Test3", { M.ANY }, "", true },
  { "4.12.3.2", "inhibitAnyPolicy Test3", { M.ANY }, "a", false },
  { "4.12.4", "Invalid inhibitAnyPolicy Test4", { M.ANY }, "", false },
  { "4.12.5", "Invalid inhibitAnyPolicy Test5", { M.ANY }, "", false },
  { "4.12.6", "Invalid inhibitAnyPolicy Test6", { M.ANY }, "", false },
  { "4.12.7", "Valid Self-Issued inhibitAnyPolicy Test7", { M.ANY }, "", true },
  { "4.12.8", "Invalid Self-Issued inhibitAnyPolicy Test8", { M.ANY }, "", false },
  { "4.12.9", "Valid Self-Issued inhibitAnyPolicy Test9", { M.ANY }, "", true },
  { "4.12.10", "Invalid Self-Issued inhibitAnyPolicy Test10", { M.ANY }, "", false },
}

--- pkits.POLICY_TESTS: the 89 runs of 4.8-4.12, {id =, title =, valid =,
-- policies =, explicit =, inhibit_map =, inhibit_any =}.
M.POLICY_TESTS = {}
for _, p in ipairs(P) do
  M.POLICY_TESTS[#M.POLICY_TESTS + 1] = { id = p[1], title = p[2], policies = p[3], valid = p[5],
    explicit = p[4]:find("e") ~= nil, inhibit_map = p[4]:find("m") ~= nil, inhibit_any = p[4]:find("a") ~= nil }
end

--- path = pkits.message(dir, title): the test's signed message (the title without
-- spaces and hyphens, as the PKITS data names its files).
function M.message(dir, title)
  return dir .. "/smime/Signed" .. title:gsub("[ %-]", "") .. ".eml"
end

-- Base64 text to bytes (whitespace ignored), without bitwise operators.
local B64 = {}
do
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, 64 do B64[alphabet:byte(i)] = i - 1 end
end

local function unbase64(text)
  local s = text:gsub("[^%w%+/]", "")
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local n = B64[a] * 262144 + B64[b] * 4096 + (c and B64[c] or 0) * 64 + (d and B64[d] or 0)
    local x, y, z = math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    if d then out[#out + 1] = string.char(x, y, z)
    elseif c then out[#out + 1] = string.char(x, y)
    else out[#out + 1] = string.char(x) end
  end
  return table.concat(out)
end

-- tag, first, last, next = tlv(der, pos): one DER element at pos; its content is
-- der:sub(first, last), the next element starts at next.
local function tlv(der, pos)
  local tag, len = der:byte(pos, pos + 1)
  assert(tag and len, "truncated DER")
  local first = pos + 2
  if len >= 0x80 then
    local n = len - 0x80
    assert(n >= 1 and n <= 4, "bad DER length")
    len = 0
    for i = 1, n do len = len * 256 + der:byte(pos + 1 + i) end
    first = first + n
  end
  assert(first + len - 1 <= #der, "truncated DER")
  return tag, first, first + len - 1, first + len
end

-- The elements of the constructed element whose content is der:sub(first, last):
-- a list of {tag =, pos =, first =, last =}.
local function children(der, first, last)
  local out, pos = {}, first
  while pos <= last do
    local tag, f, l, nxt = tlv(der, pos)
    out[#out + 1] = { tag = tag, pos = pos, first = f, last = l, der = der:sub(pos, nxt - 1) }
    pos = nxt
  end
  return out
end

-- issuer Name DER .. serial INTEGER DER of a certificate (its IssuerAndSerialNumber).
local function cert_iasn(der)
  local _, f, l = tlv(der, 1)
  local tbs = children(der, f, l)[1]
  local fields = children(der, tbs.first, tbs.last)
  local k = fields[1].tag == 0xA0 and 2 or 1          -- [0] version is optional
  return fields[k + 2].der .. fields[k].der
end

--- t, err = pkits.read_message(path): {title =, leaf = cert, chain = {certs},
-- crls = {crls}} from a signed S/MIME message: the certificates and CRLs of its
-- SignedData; the leaf is the signer's certificate (its SignerInfo's issuer and
-- serial). nil, err when the file is missing or is not such a message.
function M.read_message(path)
  local text = read(path)
  if not text then return nil, "cannot read " .. path end
  local ok, t = pcall(function()
    local title = assert(text:match("\nSubject: ([^\r\n]+)"), "no Subject")
    local b64 = assert(text:match('filename="smime%.p7s"\r?\n\r?\n(.-)\r?\n\r?\n'), "no smime.p7s part")
    local der = unbase64(b64)
    local _, f, l = tlv(der, 1)                                   -- ContentInfo
    local ci = children(der, f, l)
    local sd = children(der, ci[2].first, ci[2].last)[1]           -- [0] EXPLICIT SignedData
    local certs, crls, signer = {}, {}, nil
    local fields = children(der, sd.first, sd.last)
    for k, el in ipairs(fields) do
      if el.tag == 0xA0 then
        for _, c in ipairs(children(der, el.first, el.last)) do certs[#certs + 1] = c.der end
      elseif el.tag == 0xA1 then
        for _, c in ipairs(children(der, el.first, el.last)) do crls[#crls + 1] = c.der end
      elseif k == #fields then                                       -- signerInfos
        local si = children(der, el.first, el.last)[1]
        local sid = children(der, si.first, si.last)[2]            -- IssuerAndSerialNumber
        local parts = children(der, sid.first, sid.last)
        signer = parts[1].der .. parts[2].der
      end
    end
    assert(signer and #certs > 0, "no signer or no certificates")
    local out = { title = title, chain = {}, crls = {} }
    for _, c in ipairs(certs) do
      local cert = assert(clientcert.parse(c))
      if cert_iasn(c) == signer and not out.leaf then out.leaf = cert
      else out.chain[#out.chain + 1] = cert end
    end
    assert(out.leaf, "the signer's certificate is not in the message")
    for _, c in ipairs(crls) do out.crls[#out.crls + 1] = assert(clientcert.parse_crl(c)) end
    return out
  end)
  if not ok then return nil, path .. ": " .. tostring(t) end
  return t
end

--- result, err, store = pkits.verify(anchor, m[, opts]): store:verify of message m's
-- leaf (pkits.read_message) with its other certificates as the chain, in a store of
-- the anchor and its CRLs, at pkits.TIME with crl = "chain" and opts added.
function M.verify(anchor, m, opts)
  local s = assert(clientcert.store{ roots = anchor, crls = m.crls })
  local o = { chain = m.chain, time = M.TIME, crl = "chain" }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r, err = s:verify(m.leaf, o)
  return r, err, s
end

--- cert = pkits.anchor(dir): TrustAnchorRootCertificate (raises when unreadable).
function M.anchor(dir)
  return assert(clientcert.load(dir .. "/certs/TrustAnchorRootCertificate.crt"))
end

--- verdicts = pkits.openssl(dir, runs): OpenSSL's own verdict on each run, by
-- X509_verify_cert in build/conformance/pkits_openssl (spec/conformance/pkits_openssl.c,
-- built here with make): the message's certificates and CRLs, its signer verified
-- against the trust anchor at pkits.TIME with purpose sslclient. runs: a list of
-- {id =, title =, flags = {names}, policies = {OIDs}}; verdicts[id] is "X509_V_OK"
-- or the verify error's name. One process runs all. Raises when a run has no verdict.
function M.openssl(dir, runs)
  -- without any sanitizer runtime preloaded for the specs (make asan): for our module only
  local ok = os.execute("env -u LD_PRELOAD make -s build/conformance/pkits_openssl >/dev/null")
  if ok ~= true and ok ~= 0 then error("cannot build build/conformance/pkits_openssl") end
  local lines = {}
  for _, r in ipairs(runs) do
    local pol = r.policies and #r.policies > 0 and table.concat(r.policies, ",") or "-"
    lines[#lines + 1] = ("%s %s %s %s"):format(r.id, M.message(dir, r.title), table.concat(r.flags, ","), pol)
  end
  local input = os.tmpname()
  local f = assert(io.open(input, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  local p = assert(io.popen(("env -u LD_PRELOAD build/conformance/pkits_openssl %s %d < %s"):format(
    sh_quote(dir .. "/certs/TrustAnchorRootCertificate.crt"), M.TIME, sh_quote(input))))
  local out = p:read("*a")
  p:close()
  os.remove(input)
  local names = require("clientcert.core").verify_code_names
  local verdicts = {}
  for id, code in out:gmatch("(%S+) (%-?%d+)\n") do
    code = tonumber(code)
    if code >= 0 then verdicts[id] = names[code] or ("code " .. code) end
  end
  for _, r in ipairs(runs) do
    if not verdicts[r.id] then error("OpenSSL gave no verdict for PKITS " .. r.id .. " (" .. r.title .. ")") end
  end
  return verdicts
end

-- The recorded verdicts (pkits_expected.lua): one line per run, its id and then
-- the verdict of each mode in this order, separated by " | "; "=" is the verdict
-- of the mode before it, "-" no run in that mode.
local RECORD_MODES = { "client", "client_allow", "client_pkits", "openssl", "openssl_pkits" }

--- text = pkits.record_lines(runs, got): the lines of the verdicts got[mode][id] of
-- runs (in their order), in the recorded form.
function M.record_lines(runs, got)
  local lines = {}
  for _, r in ipairs(runs) do
    local cells, prev = { r.id }, nil
    for i, mode in ipairs(RECORD_MODES) do
      local v = got[mode][r.id]
      cells[#cells + 1] = v == nil and "-" or (i > 1 and v == prev) and "=" or v
      prev = v
    end
    lines[#lines + 1] = table.concat(cells, " | ")
  end
  return table.concat(lines, "\n") .. "\n"
end

--- expected = pkits.recorded(text): {mode = {id = verdict}} from the recorded lines.
function M.recorded(text)
  local out = {}
  for _, mode in ipairs(RECORD_MODES) do out[mode] = {} end
  for line in text:gmatch("[^\n]+") do
    local cells = {}
    for c in (line .. " | "):gmatch("(.-) | ") do cells[#cells + 1] = c end
    assert(#cells == #RECORD_MODES + 1, "pkits_expected.lua: not a recorded line: " .. line)
    local prev
    for i, mode in ipairs(RECORD_MODES) do
      local v = cells[i + 1]
      if v == "=" then v = prev end
      if v ~= "-" then out[mode][cells[1]] = v end
      prev = v
    end
  end
  return out
end

return M
