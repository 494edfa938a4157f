--- clientcert.profile: the strict profile (store:verify's profile = "strict"):
-- RFC 5280 and CA/Browser Forum rules that OpenSSL's X509_STRICT does not check.
-- Each rule is a named problem (code_name "STRICT_*") with its own text and the
-- section that states it. The checks read facts only (cert:info() of every
-- certificate of the verified path); they add problems. The two places where
-- OpenSSL's path validation itself departs from RFC 5280 follow the RFC instead
-- (profile.inclusive_not_after, profile.intermediates):
-- - notAfter is part of the validity period (4.1.2.5: "from notBefore through
--   notAfter, inclusive"); OpenSSL's X509_cmp_time takes a certificate whose
--   notAfter equals the check time as expired;
-- - a self-issued intermediate is not counted as a step of the path (6.1.4 (l)
--   decrements max_path_length only for certificates that are not self-issued);
--   OpenSSL counts it against the depth limit (max_depth). Its pathLenConstraint
--   check already skips self-issued certificates (EXFLAG_SI).
local M = {}

-- code_name -> {section, text}: the rules, in the order they are checked.
M.RULES = {
  STRICT_SERIAL_ZERO = { "RFC 5280 4.1.2.2", "its serial number is zero (it MUST be a positive integer)" },
  STRICT_SERIAL_NEGATIVE = { "RFC 5280 4.1.2.2", "its serial number is negative (it MUST be a positive integer)" },
  STRICT_SERIAL_TOO_LONG = { "RFC 5280 4.1.2.2", "its serial number is longer than 20 octets" },
  STRICT_NOT_V3 = { "RFC 5280 4.1.2.1, CA/B BR 7.1.1", "it is not an X.509 v3 certificate" },
  STRICT_AKI_MISSING = { "RFC 5280 4.2.1.1",
    "it has no authority key identifier (keyIdentifier), required unless self-signed" },
  STRICT_AKI_NO_KEYID = { "RFC 5280 4.2.1.1, CA/B BR 7.1.2.1.3",
    "its authority key identifier has no keyIdentifier field" },
  STRICT_SKI_MISSING = { "RFC 5280 4.2.1.2", "it is a CA certificate without a subject key identifier" },
  STRICT_SAN_DNS_SYNTAX = { "RFC 5280 4.2.1.6",
    "a subject alternative name dNSName is not in the preferred name syntax" },
  STRICT_SAN_EMAIL_SYNTAX = { "RFC 5280 4.2.1.6", "a subject alternative name rfc822Name is not a mailbox" },
  STRICT_NC_NOT_CA = { "RFC 5280 4.2.1.10", "it has name constraints but is not a CA certificate" },
  STRICT_NC_NOT_CRITICAL = { "RFC 5280 4.2.1.10", "its name constraints extension is not critical" },
  STRICT_NC_EMPTY = { "RFC 5280 4.2.1.10",
    "its name constraints have neither permitted nor excluded subtrees" },
  STRICT_NC_DNS_SYNTAX = { "RFC 5280 4.2.1.10", "a dNSName name constraint is not a DNS name" },
  STRICT_PC_NOT_CRITICAL = { "RFC 5280 4.2.1.11", "its policy constraints extension is not critical" },
  STRICT_EKU_EMPTY = { "RFC 5280 4.2.1.12", "its extended key usage extension lists no purpose" },
  STRICT_EKU_ANY = { "CA/B BR 7.1.2.7.10",
    "it is an end-entity certificate with anyExtendedKeyUsage" },
  STRICT_EKU_CRITICAL = { "CA/B BR 7.1.2.7.6", "its extended key usage extension is critical" },
  STRICT_EKU_IN_ROOT = { "CA/B BR 7.1.2.1.2", "it is a root CA certificate with extended key usage" },
  STRICT_CA_AS_LEAF = { "CA/B BR 7.1.2.7.8", "it is a CA certificate used as the end-entity certificate" },
  STRICT_AIA_EMPTY = { "RFC 5280 4.2.2.1, CA/B BR 7.1.2.7.7",
    "its authority information access extension has no access description" },
  STRICT_WEAK_KEY = { "CA/B BR 6.1.5", "its key is weak" },
  STRICT_WEAK_SIGNATURE = { "CA/B BR 7.1.3.2", "it is signed with a weak hash" },
  STRICT_INVALID_EXTENSION = { "RFC 5280 4.2", "an extension cannot be decoded" },
}

-- Whether info names extension name in list key ("extensions": present;
-- "critical_extensions": present and critical).
local function has_ext(info, name, key)
  for _, e in ipairs(info[key or "extensions"] or {}) do
    if e == name then return true end
  end
  return false
end

-- RFC 1034 preferred name syntax (letters, digits, hyphens; labels of 1-63, not
-- starting or ending with a hyphen; not an address); wildcard: "*." first label allowed.
local function is_dns_name(s, wildcard)
  if type(s) ~= "string" or #s == 0 or #s > 253 then return false end
  if wildcard and s:sub(1, 2) == "*." then s = s:sub(3) end
  local labels, all_digits = 0, true
  for label in (s .. "."):gmatch("([^.]*)%.") do
    labels = labels + 1
    if #label == 0 or #label > 63 then return false end
    if not label:match("^[%w%-]+$") or label:match("^%-") or label:match("%-$") then return false end
    if not label:match("^%d+$") then all_digits = false end
  end
  if s:sub(-1) == "." then return false end
  if all_digits then return false end             -- an IPv4 address written as a name
  return labels > 0
end
M.is_dns_name = is_dns_name

local function is_mailbox(s)
  if type(s) ~= "string" then return false end
  local lp, domain = s:match("^([^@]+)@([^@]+)$")
  if not lp or not lp:match("^[%w!#$%%&'*+/=?^_`{|}~.%-]+$") then return false end
  return is_dns_name(domain, false)
end

local WEAK_HASH = { "md2", "md4", "md5", "sha1", "sha-1" }
local GOOD_CURVES = { prime256v1 = true, secp384r1 = true, secp521r1 = true, ["P-256"] = true,
                      ["P-384"] = true, ["P-521"] = true }

local function weak_key(pk)
  if not pk then return nil end
  local t, bits = pk.type, pk.bits
  if t == "RSA" or t == "RSA-PSS" then
    if (bits or 0) < 2048 then return ("RSA key of %d bits (under 2048)"):format(bits or 0) end
    if bits % 8 ~= 0 then return ("RSA key of %d bits (not a multiple of 8)"):format(bits) end
  elseif t == "DSA" then
    return "DSA key"
  elseif t == "EC" then
    if not pk.curve or not GOOD_CURVES[pk.curve] then
      return ("EC key on curve %s (not P-256, P-384 or P-521)"):format(tostring(pk.curve))
    end
  end
  return nil
end

-- The violations of one path element: list of {code_name, detail}.
-- info: its cert:info(); el: the chain element (depth, trusted); last: is the path's top.
local function element(info, el)
  local out = {}
  local function add(code, detail) out[#out + 1] = { code, detail } end
  local depth = el.depth or 0
  local leaf, anchor = depth == 0, el.trusted == true
  -- a trust anchor is the store's own choice, not a certificate under validation (RFC 5280 6.1.1 (d))
  local serial = anchor and "01" or info.serial or ""
  if serial:sub(1, 1) == "-" then add("STRICT_SERIAL_NEGATIVE")
  elseif serial:match("^0*$") then add("STRICT_SERIAL_ZERO")
  elseif #serial > 40 then add("STRICT_SERIAL_TOO_LONG", ("%d octets"):format(math.floor(#serial / 2))) end
  if (info.version or 3) < 3 and not anchor then add("STRICT_NOT_V3", ("version %d"):format(info.version)) end
  if info.invalid_extensions then add("STRICT_INVALID_EXTENSION") end
  local aki = has_ext(info, "authorityKeyIdentifier")
  if aki and not info.authority_key_id then add("STRICT_AKI_NO_KEYID")
  elseif not aki and not info.self_signed then add("STRICT_AKI_MISSING") end
  if info.is_ca and not info.subject_key_id and not leaf then add("STRICT_SKI_MISSING") end
  for _, n in ipairs(info.san or {}) do
    if n.type == "dns" and not is_dns_name(n.value, true) then add("STRICT_SAN_DNS_SYNTAX", n.value) end
    if n.type == "email" and not is_mailbox(n.value) then add("STRICT_SAN_EMAIL_SYNTAX", n.value) end
  end
  if has_ext(info, "nameConstraints") then
    if not info.is_ca then add("STRICT_NC_NOT_CA") end
    if not has_ext(info, "nameConstraints", "critical_extensions") then add("STRICT_NC_NOT_CRITICAL") end
    local nc = info.name_constraints
    if nc then
      if #nc.permitted == 0 and #nc.excluded == 0 then add("STRICT_NC_EMPTY") end
      for _, list in ipairs({ nc.permitted, nc.excluded }) do
        for _, n in ipairs(list) do
          if n.type == "dns" and n.value ~= "" and not is_dns_name(n.value, false) then
            add("STRICT_NC_DNS_SYNTAX", n.value)
          end
        end
      end
    end
  end
  if has_ext(info, "policyConstraints") and not has_ext(info, "policyConstraints", "critical_extensions") then
    add("STRICT_PC_NOT_CRITICAL")
  end
  local ekue = has_ext(info, "extendedKeyUsage")
  if ekue and #(info.eku or {}) == 0 then add("STRICT_EKU_EMPTY") end
  if leaf then
    if ekue and has_ext(info, "extendedKeyUsage", "critical_extensions") then add("STRICT_EKU_CRITICAL") end
    for _, p in ipairs(info.eku or {}) do
      if p == "anyExtendedKeyUsage" or p == "2.5.29.37.0" then add("STRICT_EKU_ANY") end
    end
    if info.is_ca then add("STRICT_CA_AS_LEAF") end
  elseif info.self_signed and ekue then
    add("STRICT_EKU_IN_ROOT")
  end
  if info.aia_count == 0 then add("STRICT_AIA_EMPTY") end
  local wk = weak_key(info.public_key)
  if wk then add("STRICT_WEAK_KEY", wk) end
  if not (anchor and info.self_signed) then
    local alg = tostring(info.signature_algorithm or ""):lower()
    for _, h in ipairs(WEAK_HASH) do
      if alg:find(h, 1, true) then add("STRICT_WEAK_SIGNATURE", info.signature_algorithm) break end
    end
  end
  return out
end

--- list = profile.problems(result, certs): the strict profile's problems of a
-- verified path: {code_name, depth, error, rule = section, cause = "profile_violation"}.
-- result: store:verify's result (its chain); certs: the path's certificate objects.
function M.problems(result, certs)
  local out = {}
  for i, el in ipairs(result.chain or {}) do
    local c = certs and certs[i]
    local info = c and c:info()
    if info then
      for _, v in ipairs(element(info, el)) do
        local rule = M.RULES[v[1]]
        local text = rule[2] .. (v[2] and (" (" .. tostring(v[2]) .. ")") or "") .. " [" .. rule[1] .. "]"
        out[#out + 1] = { code_name = v[1], depth = i - 1, error = text, rule = rule[1],
                          cause = "profile_violation" }
      end
    end
  end
  return out
end

--- n = profile.intermediates(chain): the intermediates of a verified path that
-- count for its length (RFC 5280 6.1.4 (l)): the elements between the leaf and
-- the top (the trust anchor) that are not self-issued (subject = issuer).
function M.intermediates(chain)
  local n = 0
  for i = 2, #chain - 1 do
    local el = chain[i]
    if el.subject ~= el.issuer then n = n + 1 end
  end
  return n
end

--- profile.inclusive_not_after(result): drops OpenSSL's CERT_HAS_EXPIRED for the
-- elements whose notAfter is the check time itself (RFC 5280 4.1.2.5: inclusive);
-- the result is ok when nothing else is left. Run before causes are named.
function M.inclusive_not_after(result)
  local chain, when = result.chain or {}, result.time
  local function at_edge(p, depth)
    local el = chain[(depth or 0) + 1]
    return p.code_name == "X509_V_ERR_CERT_HAS_EXPIRED" and el ~= nil and when ~= nil and el.not_after == when
  end
  local kept, dropped = {}, false
  for _, p in ipairs(result.problems or {}) do
    if at_edge(p, p.depth) then dropped = true else kept[#kept + 1] = p end
  end
  if not dropped then return end
  for i, el in ipairs(chain) do
    local left = {}
    for _, p in ipairs(el.problems or {}) do
      if not at_edge(p, i - 1) then left[#left + 1] = p end
    end
    el.problems = left
  end
  result.problems = kept
  local first = kept[1]
  result.code, result.code_name, result.error, result.depth = nil, nil, nil, nil
  if first then
    result.code, result.code_name, result.error, result.depth = first.code, first.code_name, first.error, first.depth
  else
    result.ok = true
  end
end

--- list = profile.findings(info, el): the violations of one certificate as
-- {code_name, rule, error} without a verdict (audits).
function M.findings(info, el)
  local out = {}
  for _, v in ipairs(element(info, el or { depth = 0 })) do
    local rule = M.RULES[v[1]]
    out[#out + 1] = { code_name = v[1], rule = rule[1],
                      error = rule[2] .. (v[2] and (" (" .. tostring(v[2]) .. ")") or "") }
  end
  return out
end

return M
