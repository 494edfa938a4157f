--- clientcert.verifiers: what other well-known verifiers do with a certificate that
-- breaks a rule of the strict profile (clientcert.profile), for audits that report
-- the rules as findings without rejecting (audit-client, audit-store): Go's
-- crypto/x509, rustls-webpki and Windows (Schannel, whose chains CryptoAPI builds).
-- Only what their documentation or source states is said; everything else is
-- "not documented" -- not a claim that they accept. Sources, by key of SOURCES;
-- the table is docs/profile.md "What other verifiers do" in prose.
-- Not covered: browsers, Java, NSS, macOS; versions older than those named.
local M = {}

--- M.ORDER: the verifier ids in report order; M.NAMES: id -> display name.
M.ORDER = { "go", "webpki", "schannel" }
M.NAMES = {
  go = "Go crypto/x509",
  webpki = "rustls-webpki",
  schannel = "Windows Schannel (CryptoAPI)",
}

--- M.SOURCES: source id -> where the statement is documented.
M.SOURCES = {
  go_godebug = "https://go.dev/doc/godebug (Go 1.18 x509sha1, Go 1.23 x509negativeserial, Go 1.24 rsa1024min)",
  go_verify = "https://go.dev/src/crypto/x509/verify.go (Certificate.isValid, Certificate.Verify)",
  go_dsa = "https://go.googlesource.com/go/+/8f1c99035d7797993a5ee393704603f21bb6f10c (Go 1.16: DSA removed "
    .. "from crypto/x509)",
  go_serial_length = "https://github.com/golang/go/issues/72076 (Verify accepts serial numbers over 20 octets)",
  go_md5 = "https://github.com/golang/go/issues/41682 (crypto/x509 rejects MD5 signatures outright)",
  webpki_cert = "https://github.com/rustls/webpki/blob/main/src/cert.rs (version3, "
    .. "lenient_certificate_serial_number, remember_cert_extension)",
  webpki_verify = "https://github.com/rustls/webpki/blob/main/src/verify_cert.rs (check_basic_constraints, "
    .. "EKU check)",
  webpki_algs = "https://github.com/rustls/webpki/blob/main/src/ring_algs.rs (RSA 2048-8192 bits, ECDSA P-256/"
    .. "P-384, Ed25519; no SHA-1, MD5 or DSA)",
  ms_rsa1024 = "https://support.microsoft.com/kb/2661254 (RSA keys under 1024 bits blocked in "
    .. "CertGetCertificateChain)",
  ms_weak_hash = "https://learn.microsoft.com/security-updates/securityadvisories/2013/2862973 (MD5 blocked "
    .. "only under roots of the Microsoft Root Certificate Program; enterprise CAs not affected)",
  ms_trust_status = "https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-cert_trust_status "
    .. "(CERT_TRUST_INVALID_EXTENSION)",
}

local REJECTS, ACCEPTS, UNKNOWN = "rejects", "accepts", "not documented"

local function say(verdict, note, source) return { verdict = verdict, note = note, source = source } end
local function unknown() return say(UNKNOWN) end

-- Does the EKU list name clientAuth?
local function has_client_auth(eku)
  for _, p in ipairs(eku or {}) do
    if p == "clientAuth" or p == "1.3.6.1.5.5.7.3.2" then return true end
  end
  return false
end
local function has_any_eku(eku)
  for _, p in ipairs(eku or {}) do
    if p == "anyExtendedKeyUsage" or p == "2.5.29.37.0" then return true end
  end
  return false
end

local function weak_hash(alg)
  alg = tostring(alg or ""):lower()
  if alg:find("md5", 1, true) or alg:find("md2", 1, true) or alg:find("md4", 1, true) then return "MD5" end
  if alg:find("sha1", 1, true) or alg:find("sha-1", 1, true) then return "SHA-1" end
  return nil
end

local WEBPKI_CURVES = { prime256v1 = true, secp384r1 = true, ["P-256"] = true, ["P-384"] = true }

-- rule code_name -> function(info, el, ctx) returning {go = say, webpki = say, schannel = say}.
-- el: {depth, trusted}; ctx.name_constraints: a CA of the path has name constraints.
local RULES = {}

RULES.STRICT_SERIAL_ZERO = function()
  return { go = unknown(),
           webpki = say(ACCEPTS, "serial numbers are read leniently (zero, negative, long)", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_SERIAL_NEGATIVE = function()
  return { go = say(REJECTS, "since Go 1.23 ParseCertificate refuses negative serial numbers "
             .. "(GODEBUG x509negativeserial=1 reverts)", "go_godebug"),
           webpki = say(ACCEPTS, "serial numbers are read leniently (zero, negative, long)", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_SERIAL_TOO_LONG = function()
  return { go = say(ACCEPTS, "Verify does not check the serial number's length", "go_serial_length"),
           webpki = say(ACCEPTS, "serial numbers are read leniently (zero, negative, long)", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_NOT_V3 = function(_, el)
  local go = unknown()
  if (el.depth or 0) > 0 and not el.trusted then
    go = say(REJECTS, "an intermediate without basicConstraints CA:TRUE (a v1 certificate has none) is "
      .. "NotAuthorizedToSign", "go_verify")
  end
  return { go = go, webpki = say(REJECTS, "only X.509 v3 certificates are parsed (UnsupportedCertVersion)",
             "webpki_cert"),
           schannel = unknown() }
end

local function identifiers()
  return { go = unknown(),
           webpki = say(ACCEPTS, "the key identifier extensions are not read", "webpki_cert"),
           schannel = unknown() }
end
RULES.STRICT_AKI_MISSING = identifiers
RULES.STRICT_AKI_NO_KEYID = identifiers
RULES.STRICT_SKI_MISSING = identifiers

RULES.STRICT_SAN_DNS_SYNTAX = function()
  return { go = unknown(), webpki = unknown(), schannel = unknown() }
end

RULES.STRICT_SAN_EMAIL_SYNTAX = function(_, _, ctx)
  local go = unknown()
  if ctx.name_constraints then
    go = say(REJECTS, "with name constraints on the path, an rfc822Name that is not a mailbox fails "
      .. "(\"cannot parse rfc822Name\")", "go_verify")
  end
  return { go = go, webpki = unknown(), schannel = unknown() }
end

local function nc_profile() return { go = unknown(), webpki = unknown(), schannel = unknown() } end
RULES.STRICT_NC_NOT_CA = nc_profile
RULES.STRICT_NC_NOT_CRITICAL = nc_profile
RULES.STRICT_NC_EMPTY = nc_profile
RULES.STRICT_NC_DNS_SYNTAX = nc_profile

RULES.STRICT_PC_NOT_CRITICAL = function()
  return { go = unknown(),
           webpki = say(ACCEPTS, "policy extensions are not read (assumed non-critical)", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_EKU_EMPTY = function()
  return { go = say(ACCEPTS, "an extended key usage extension with no purpose is not checked", "go_verify"),
           webpki = say(REJECTS, "an extended key usage extension must list the purpose asked for",
             "webpki_verify"),
           schannel = unknown() }
end

RULES.STRICT_EKU_ANY = function(info)
  local webpki
  if has_client_auth(info.eku) then
    webpki = say(ACCEPTS, "clientAuth is listed too", "webpki_verify")
  else
    webpki = say(REJECTS, "anyExtendedKeyUsage does not stand for clientAuth (RequiredEkuNotFound)",
      "webpki_verify")
  end
  return { go = say(ACCEPTS, "anyExtendedKeyUsage allows every purpose", "go_verify"), webpki = webpki,
           schannel = unknown() }
end

RULES.STRICT_EKU_CRITICAL = function()
  return { go = say(ACCEPTS, "only unhandled critical extensions are refused; extended key usage is handled",
             "go_verify"),
           webpki = say(ACCEPTS, "extended key usage is a handled extension, critical or not", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_EKU_IN_ROOT = function(info)
  local go
  if has_client_auth(info.eku) or has_any_eku(info.eku) then
    go = say(ACCEPTS, "its extended key usage includes clientAuth", "go_verify")
  else
    go = say(REJECTS, "extended key usages are enforced down the chain, the root's included: "
      .. "without clientAuth a client certificate is IncompatibleUsage", "go_verify")
  end
  return { go = go, webpki = say(ACCEPTS, "a trust anchor is read for its name, key and name constraints only",
             "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_CA_AS_LEAF = function()
  return { go = unknown(),
           webpki = say(REJECTS, "an end-entity certificate with basicConstraints CA:TRUE is CaUsedAsEndEntity",
             "webpki_verify"),
           schannel = unknown() }
end

RULES.STRICT_AIA_EMPTY = function()
  return { go = unknown(),
           webpki = say(ACCEPTS, "authority information access is not read", "webpki_cert"),
           schannel = unknown() }
end

RULES.STRICT_WEAK_KEY = function(info)
  local pk = info.public_key or {}
  local t, bits = tostring(pk.type or ""), pk.bits or 0
  if t == "RSA" or t == "RSA-PSS" then
    local under1024 = bits < 1024
    return {
      go = under1024 and say(REJECTS, "since Go 1.24 crypto/rsa refuses keys under 1024 bits "
          .. "(GODEBUG rsa1024min=0 reverts)", "go_godebug") or unknown(),
      webpki = bits < 2048 and say(REJECTS, "RSA signatures are verified only with keys of 2048 to 8192 bits",
          "webpki_algs") or unknown(),
      schannel = under1024 and say(REJECTS, "CryptoAPI chain building blocks RSA keys under 1024 bits",
          "ms_rsa1024") or unknown(),
    }
  elseif t == "DSA" then
    return { go = say(REJECTS, "since Go 1.16 crypto/x509 verifies no DSA signature", "go_dsa"),
             webpki = say(REJECTS, "no DSA signature algorithm", "webpki_algs"),
             schannel = unknown() }
  elseif t == "EC" then
    local curve = pk.curve
    return {
      go = unknown(),
      webpki = WEBPKI_CURVES[curve or ""] and say(ACCEPTS, "a supported curve", "webpki_algs")
        or say(REJECTS, "ECDSA is verified on P-256 and P-384 only", "webpki_algs"),
      schannel = unknown(),
    }
  end
  return { go = unknown(), webpki = unknown(), schannel = unknown() }
end

RULES.STRICT_WEAK_SIGNATURE = function(info)
  local h = weak_hash(info.signature_algorithm)
  local ms = say(UNKNOWN, "Windows documents blocking MD5 (and SHA-1) only under roots of the Microsoft Root "
    .. "Certificate Program, not for an enterprise CA", "ms_weak_hash")
  if h == "MD5" then
    return { go = say(REJECTS, "MD5 signatures are refused (InsecureAlgorithmError)", "go_md5"),
             webpki = say(REJECTS, "no MD5 signature algorithm", "webpki_algs"), schannel = ms }
  elseif h == "SHA-1" then
    return { go = say(REJECTS, "since Go 1.18 SHA-1 signatures are refused; Go 1.24 removed the x509sha1 "
               .. "GODEBUG that allowed them", "go_godebug"),
             webpki = say(REJECTS, "no SHA-1 signature algorithm", "webpki_algs"), schannel = ms }
  end
  return { go = unknown(), webpki = unknown(), schannel = unknown() }
end

RULES.STRICT_INVALID_EXTENSION = function()
  return { go = unknown(), webpki = unknown(),
           schannel = say(REJECTS, "an extension that is not valid is a chain error "
             .. "(CERT_TRUST_INVALID_EXTENSION)", "ms_trust_status") }
end

--- list = verifiers.of(code_name, info, el[, ctx]): what each verifier does with a
-- certificate breaking that rule, in M.ORDER: {{verifier, name, verdict ("rejects",
-- "accepts" or "not documented"), note, source}, ...}.
-- info: cert:info(); el: {depth, trusted}; ctx.name_constraints: a CA of the path has
-- name constraints.
function M.of(code_name, info, el, ctx)
  local rule = RULES[code_name]
  if not rule then error("clientcert.verifiers: no entry for " .. tostring(code_name), 2) end
  local row = rule(info, el or { depth = 0 }, ctx or {})
  local out = {}
  for _, id in ipairs(M.ORDER) do
    local s = row[id] or unknown()
    out[#out + 1] = { verifier = id, name = M.NAMES[id], verdict = s.verdict, note = s.note,
                      source = s.source and M.SOURCES[s.source] or nil }
  end
  return out
end

--- yes = verifiers.covers(code_name): the table has an entry for that rule.
function M.covers(code_name) return RULES[code_name] ~= nil end

return M
