--- clientcert.causes: the catalogue of documented causes, and the only map from
-- OpenSSL verification codes (X509_V_ERR_*) to them.
--
-- Each cause: id (stable; deprecated, never renamed), status and IIS-style
-- substatus, title (as an operator reads it in a log), message (a template
-- filled with the actual certificate's facts), resolution (ordered steps, each
-- naming who must act). Causes are listed in precedence order: when a chain
-- has several problems, the first listed is the one to fix first.
--
-- Why this order (the order a person has to work through them):
--   no_certificate, invalid_certificate, no_private_key: nothing else can be
--     judged until there is a readable certificate whose key the client holds.
--   chain_too_long, untrusted_root, missing_intermediate: the path itself; until
--     it reaches a trusted root, every finding about its elements is moot (and a
--     client under an untrusted CA needs another certificate, not a renewal).
--   bad_signature, invalid_ca, wrong_purpose: the path exists but a link is not
--     valid, or the certificate is not for this use: each needs a reissue.
--   revoked before expired / not_yet_valid: a revoked certificate must be
--     replaced, never renewed, so renewing it first would be wasted work.
--   revocation_unknown: the server's CRL upkeep; fixing it changes nothing for a
--     client that is otherwise rejected.
--   intermediate_in_roots: a store misconfiguration, named in `also` (or by an
--     audit) next to the client-visible cause it explains.
--   denied_by_rule: only meaningful for an otherwise valid client.  ok: last.
-- Not here: OCSP (its codes map to revocation_unknown but clientcert never asks).
local M = {}

local SERVER, CLIENT = "server operator", "client owner"

local CATALOGUE = {
  { id = "no_certificate", status = 403, substatus = "403.7", title = "Client certificate required",
    message = "The client sent no certificate.",
    resolution = {
      { who = CLIENT, step = "Install a client certificate issued by a CA this server trusts, "
        .. "and select it when the browser or tool asks for one." },
      { who = SERVER, step = "If this resource does not need client certificates, make them optional or "
        .. "switch them off (IIS: SSL Settings, Client certificates = Ignore or Accept; nginx: "
        .. "ssl_verify_client optional or off; clientcert: mode = \"optional\" or \"off\")." },
    } },
  { id = "invalid_certificate", status = 403, substatus = "403.16", title = "Client certificate is invalid",
    message = "{element} cannot be used: {error}.",
    resolution = {
      { who = CLIENT, step = "Request a new certificate from your CA: this one is malformed or uses "
        .. "an unsupported algorithm or extension." },
      { who = SERVER, step = "If the certificate is well-formed, check which OpenSSL error is reported "
        .. "and whether the verification options (strict mode, policies) are intended." },
    } },
  { id = "no_private_key", status = 403, substatus = "403.7", title = "No private key for the client certificate",
    message = "The private key given does not belong to the certificate {subject} (serial {serial}): {error}.",
    resolution = {
      { who = CLIENT, step = "Import the certificate together with its private key (a PKCS#12 / .pfx file), "
        .. "or request a new certificate from the key you hold." },
      { who = CLIENT, step = "Check that the key file and the certificate file are a pair "
        .. "(clientcert match-key CERT KEY)." },
    } },
  { id = "chain_too_long", status = 403, substatus = "403.16", title = "Certificate chain too long",
    message = "The chain of {subject} is longer than the server allows ({error}).",
    resolution = {
      { who = SERVER, step = "Raise the maximum verification depth (clientcert: verify.max_depth; "
        .. "nginx: ssl_verify_depth) if this CA hierarchy is legitimate." },
      { who = CLIENT, step = "Use a certificate from a shorter hierarchy." },
    } },
  { id = "untrusted_root", status = 403, substatus = "403.16", title = "Client's root CA is not trusted",
    message = "The chain of {subject} ends at {element}, which is not a root CA installed in the server's "
      .. "trusted roots ({error}).",
    resolution = {
      { who = SERVER, step = "If clients of this CA should be accepted, install its root CA certificate "
        .. "in the server's trusted root store (IIS: Trusted Root Certification Authorities of the "
        .. "computer account; nginx: ssl_client_certificate / ssl_trusted_certificate)." },
      { who = SERVER, step = "If the root has the name of a trusted root but another key, it is forged "
        .. "or re-keyed: compare fingerprints before trusting anything." },
      { who = CLIENT, step = "Use a certificate issued by a CA that the server trusts." },
    } },
  { id = "missing_intermediate", status = 403, substatus = "403.16", title = "Intermediate CA missing",
    message = "The issuer of {element} ({element_issuer}) was neither sent by the client nor installed on "
      .. "the server, so no path to a trusted root can be built for {subject}.",
    resolution = {
      { who = CLIENT, step = "Send the full chain: configure the client to present its intermediate CA "
        .. "certificates with its own certificate." },
      { who = SERVER, step = "Or install the intermediate CA certificate in the server's intermediate "
        .. "store (not among the trusted roots)." },
    } },
  { id = "bad_signature", status = 403, substatus = "403.16", title = "Signature in the chain does not verify",
    message = "The signature of {element} does not verify with its issuer's key ({error}).",
    resolution = {
      { who = CLIENT, step = "The certificate was altered or was not issued by the CA it names: "
        .. "obtain a fresh copy from your CA." },
      { who = SERVER, step = "Check that the CA certificate installed on the server is the right one "
        .. "(compare its fingerprint with the CA's published one)." },
    } },
  { id = "invalid_ca", status = 403, substatus = "403.16", title = "Issuer is not allowed to issue certificates",
    message = "{element} issued a certificate in the chain of {subject} but may not: {error}.",
    resolution = {
      { who = CLIENT, step = "Obtain a certificate from a real CA: a certificate without CA:TRUE, "
        .. "keyCertSign or a large enough pathLen cannot issue further certificates." },
      { who = SERVER, step = "If the CA is yours, reissue the CA certificate with basicConstraints CA:TRUE, "
        .. "keyCertSign and a pathLen that allows this depth." },
    } },
  { id = "wrong_purpose", status = 403, substatus = "403.16", title = "Certificate not valid for client authentication",
    message = "{element} is not allowed for TLS client authentication ({error}); extended key usage: {eku}.",
    resolution = {
      { who = CLIENT, step = "Request a certificate whose Extended Key Usage includes Client Authentication "
        .. "(1.3.6.1.5.5.7.3.2), issued by CAs whose own EKU (if any) allows it." },
      { who = SERVER, step = "If the certificate is meant for this use, check the required purpose "
        .. "(clientcert: verify.purpose)." },
    } },
  { id = "revoked", status = 403, substatus = "403.13", title = "Client certificate revoked",
    message = "{element} (serial {element_serial}) was revoked by its issuer on {revoked_at}, reason: {reason}.",
    resolution = {
      { who = CLIENT, step = "Stop using this certificate and request a new one from your CA." },
      { who = SERVER, step = "If the revocation is a mistake, the CA must issue a new CRL without it "
        .. "(a revoked serial cannot be un-revoked except from certificateHold)." },
    } },
  { id = "expired", status = 403, substatus = "403.17", title = "Certificate expired",
    message = "{element} expired on {element_not_after} (checked at {time}).",
    resolution = {
      { who = CLIENT, step = "Renew the certificate with your CA and install the new one with its key." },
      { who = SERVER, step = "If an intermediate or root CA expired, install its renewed certificate "
        .. "and ask clients to send the renewed chain." },
      { who = SERVER, step = "Check the server clock if the dates look right." },
    } },
  { id = "not_yet_valid", status = 403, substatus = "403.17", title = "Certificate not yet valid",
    message = "{element} is not valid before {element_not_before} (checked at {time}).",
    resolution = {
      { who = CLIENT, step = "Wait until the certificate's start date, or ask your CA why it was "
        .. "issued with a future date." },
      { who = SERVER, step = "Check the server clock (and time zone): a clock in the past rejects "
        .. "new certificates." },
    } },
  { id = "revocation_unknown", status = 403, substatus = "403.16", title = "Revocation status unknown",
    message = "The revocation status of {element} cannot be checked: {error}.",
    resolution = {
      { who = SERVER, step = "Install a current CRL for every CA in the chain, and refresh CRLs before "
        .. "their nextUpdate (a scheduled download from each CA's CRL distribution point)." },
      { who = SERVER, step = "If revocation need not be checked for this CA, set verify.crl_missing = "
        .. "\"allow\" or verify.crl = \"leaf\" / \"none\" knowingly." },
    } },
  { id = "intermediate_in_roots", status = 403, substatus = "403.16",
    title = "Intermediate CA among the trusted roots",
    message = "The server's trusted root store holds {element}, which is not self-signed: an intermediate CA "
      .. "placed among the roots (issued by {element_issuer}).",
    resolution = {
      { who = SERVER, step = "Move every certificate that is not self-signed out of the trusted root store "
        .. "into the intermediate store (on Windows: from Trusted Root Certification Authorities to "
        .. "Intermediate Certification Authorities); some servers reject every client otherwise." },
    } },
  { id = "denied_by_rule", status = 403, substatus = "403.12", title = "Client certificate denied by policy",
    message = "The certificate {subject} (issuer {issuer}) is valid but not allowed here: {rule_reason}.",
    resolution = {
      { who = SERVER, step = "If this client should be allowed, add it to the policy's allow list "
        .. "(by issuer, subject, SAN or fingerprint) or change the rule." },
      { who = CLIENT, step = "Ask the server operator for access, quoting the certificate fingerprint "
        .. "{fingerprint}." },
    } },
  { id = "ok", status = 200, substatus = "200", title = "Client certificate accepted",
    message = "The client certificate {subject} (issuer {issuer}) is accepted.",
    resolution = {} },
}

local BY_ID, RANK = {}, {}
for i, c in ipairs(CATALOGUE) do
  BY_ID[c.id], RANK[c.id] = c, i
end

-- X509_V_ERR_* code -> cause id (OpenSSL 3.0, x509_vfy.h). Codes absent here
-- map to invalid_certificate: never to ok.
local CODES = {
  [0] = "ok",
  [1] = "invalid_certificate",        -- UNSPECIFIED
  [2] = "missing_intermediate",       -- UNABLE_TO_GET_ISSUER_CERT
  [3] = "revocation_unknown",         -- UNABLE_TO_GET_CRL
  [4] = "bad_signature",              -- UNABLE_TO_DECRYPT_CERT_SIGNATURE
  [5] = "revocation_unknown",         -- UNABLE_TO_DECRYPT_CRL_SIGNATURE
  [6] = "bad_signature",              -- UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY
  [7] = "bad_signature",              -- CERT_SIGNATURE_FAILURE
  [8] = "revocation_unknown",         -- CRL_SIGNATURE_FAILURE
  [9] = "not_yet_valid",              -- CERT_NOT_YET_VALID
  [10] = "expired",                   -- CERT_HAS_EXPIRED
  [11] = "revocation_unknown",        -- CRL_NOT_YET_VALID
  [12] = "revocation_unknown",        -- CRL_HAS_EXPIRED
  [13] = "invalid_certificate",       -- ERROR_IN_CERT_NOT_BEFORE_FIELD
  [14] = "invalid_certificate",       -- ERROR_IN_CERT_NOT_AFTER_FIELD
  [15] = "revocation_unknown",        -- ERROR_IN_CRL_LAST_UPDATE_FIELD
  [16] = "revocation_unknown",        -- ERROR_IN_CRL_NEXT_UPDATE_FIELD
  [17] = "invalid_certificate",       -- OUT_OF_MEM
  [18] = "untrusted_root",            -- DEPTH_ZERO_SELF_SIGNED_CERT
  [19] = "untrusted_root",            -- SELF_SIGNED_CERT_IN_CHAIN
  [20] = "missing_intermediate",      -- UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  [21] = "missing_intermediate",      -- UNABLE_TO_VERIFY_LEAF_SIGNATURE
  [22] = "chain_too_long",            -- CERT_CHAIN_TOO_LONG
  [23] = "revoked",                   -- CERT_REVOKED
  [24] = "bad_signature",             -- NO_ISSUER_PUBLIC_KEY
  [25] = "invalid_ca",                -- PATH_LENGTH_EXCEEDED
  [26] = "wrong_purpose",             -- INVALID_PURPOSE
  [27] = "untrusted_root",            -- CERT_UNTRUSTED (root not trusted for this purpose)
  [28] = "untrusted_root",            -- CERT_REJECTED (root marked to reject this purpose)
  [29] = "invalid_certificate",       -- SUBJECT_ISSUER_MISMATCH
  [30] = "invalid_certificate",       -- AKID_SKID_MISMATCH
  [31] = "invalid_certificate",       -- AKID_ISSUER_SERIAL_MISMATCH
  [32] = "invalid_ca",                -- KEYUSAGE_NO_CERTSIGN
  [33] = "revocation_unknown",        -- UNABLE_TO_GET_CRL_ISSUER
  [34] = "invalid_certificate",       -- UNHANDLED_CRITICAL_EXTENSION
  [35] = "revocation_unknown",        -- KEYUSAGE_NO_CRL_SIGN
  [36] = "revocation_unknown",        -- UNHANDLED_CRITICAL_CRL_EXTENSION
  [37] = "invalid_ca",                -- INVALID_NON_CA
  [38] = "invalid_ca",                -- PROXY_PATH_LENGTH_EXCEEDED
  [39] = "wrong_purpose",             -- KEYUSAGE_NO_DIGITAL_SIGNATURE
  [40] = "invalid_certificate",       -- PROXY_CERTIFICATES_NOT_ALLOWED
  [41] = "invalid_certificate",       -- INVALID_EXTENSION
  [42] = "invalid_certificate",       -- INVALID_POLICY_EXTENSION
  [43] = "invalid_certificate",       -- NO_EXPLICIT_POLICY
  [44] = "revocation_unknown",        -- DIFFERENT_CRL_SCOPE
  [45] = "invalid_certificate",       -- UNSUPPORTED_EXTENSION_FEATURE
  [46] = "invalid_certificate",       -- UNNESTED_RESOURCE
  [47] = "invalid_ca",                -- PERMITTED_VIOLATION (name constraints)
  [48] = "invalid_ca",                -- EXCLUDED_VIOLATION
  [49] = "invalid_ca",                -- SUBTREE_MINMAX
  [50] = "invalid_certificate",       -- APPLICATION_VERIFICATION
  [51] = "invalid_ca",                -- UNSUPPORTED_CONSTRAINT_TYPE
  [52] = "invalid_ca",                -- UNSUPPORTED_CONSTRAINT_SYNTAX
  [53] = "invalid_certificate",       -- UNSUPPORTED_NAME_SYNTAX
  [54] = "revocation_unknown",        -- CRL_PATH_VALIDATION_ERROR
  [55] = "chain_too_long",            -- PATH_LOOP
  [56] = "invalid_certificate",       -- SUITE_B_INVALID_VERSION
  [57] = "invalid_certificate",       -- SUITE_B_INVALID_ALGORITHM
  [58] = "invalid_certificate",       -- SUITE_B_INVALID_CURVE
  [59] = "invalid_certificate",       -- SUITE_B_INVALID_SIGNATURE_ALGORITHM
  [60] = "invalid_certificate",       -- SUITE_B_LOS_NOT_ALLOWED
  [61] = "invalid_certificate",       -- SUITE_B_CANNOT_SIGN_P_384_WITH_P_256
  [62] = "invalid_certificate",       -- HOSTNAME_MISMATCH
  [63] = "invalid_certificate",       -- EMAIL_MISMATCH
  [64] = "invalid_certificate",       -- IP_ADDRESS_MISMATCH
  [65] = "invalid_certificate",       -- DANE_NO_MATCH
  [66] = "invalid_certificate",       -- EE_KEY_TOO_SMALL
  [67] = "invalid_ca",                -- CA_KEY_TOO_SMALL
  [68] = "bad_signature",             -- CA_MD_TOO_WEAK
  [69] = "invalid_certificate",       -- INVALID_CALL
  [70] = "invalid_certificate",       -- STORE_LOOKUP
  [71] = "invalid_certificate",       -- NO_VALID_SCTS
  [72] = "invalid_certificate",       -- PROXY_SUBJECT_NAME_VIOLATION
  [73] = "revocation_unknown",        -- OCSP_VERIFY_NEEDED
  [74] = "revocation_unknown",        -- OCSP_VERIFY_FAILED
  [75] = "revocation_unknown",        -- OCSP_CERT_UNKNOWN
  [76] = "invalid_certificate",       -- UNSUPPORTED_SIGNATURE_ALGORITHM
  [77] = "bad_signature",             -- SIGNATURE_ALGORITHM_MISMATCH
  [78] = "invalid_certificate",       -- SIGNATURE_ALGORITHM_INCONSISTENCY
  [79] = "invalid_ca",                -- INVALID_CA
  [80] = "invalid_certificate",       -- PATHLEN_INVALID_FOR_NON_CA
  [81] = "invalid_ca",                -- PATHLEN_WITHOUT_KU_KEY_CERT_SIGN
  [82] = "invalid_certificate",       -- KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA
  [83] = "invalid_certificate",       -- ISSUER_NAME_EMPTY
  [84] = "invalid_certificate",       -- SUBJECT_NAME_EMPTY
  [85] = "invalid_certificate",       -- MISSING_AUTHORITY_KEY_IDENTIFIER
  [86] = "invalid_certificate",       -- MISSING_SUBJECT_KEY_IDENTIFIER
  [87] = "invalid_certificate",       -- EMPTY_SUBJECT_ALT_NAME
  [88] = "invalid_certificate",       -- EMPTY_SUBJECT_SAN_NOT_CRITICAL
  [89] = "invalid_ca",                -- CA_BCONS_NOT_CRITICAL
  [90] = "invalid_certificate",       -- AUTHORITY_KEY_IDENTIFIER_CRITICAL
  [91] = "invalid_certificate",       -- SUBJECT_KEY_IDENTIFIER_CRITICAL
  [92] = "invalid_ca",                -- CA_CERT_MISSING_KEY_USAGE
  [93] = "invalid_certificate",       -- EXTENSIONS_REQUIRE_VERSION_3
  [94] = "invalid_certificate",       -- EC_KEY_EXPLICIT_PARAMS
}
M.CODES = CODES

--- id = causes.from_code(code): the cause of an OpenSSL verify code (unknown -> invalid_certificate).
function M.from_code(code)
  if code == 0 then return "ok" end
  return CODES[code] or "invalid_certificate"
end

--- id = causes.for_problem(problem, chain[, root_subjects]): the cause of one problem
-- of a verify result, refining the per-code default with facts of the built path
-- (chain elements as store:verify reports them; root_subjects: set of the RFC 4514
-- subjects of the store's trusted roots):
-- * "issuer not found" (2, 20, 21) for a self-signed element: that element is a
--   root the server does not trust -> untrusted_root;
-- * "issuer not found" for an element whose issuer has the name of a trusted root:
--   a root with that name exists but did not sign it (a forged root, or the CA
--   re-keyed its root) -> untrusted_root;
-- * a signature failure (4, 7) where the issuer is the trust anchor: the chain
--   names a trusted root that did not sign it -> untrusted_root, unless both key
--   identifiers are known and equal (the element claims that very key: it was
--   altered after issue -> bad_signature). Elements carry authority_key_id /
--   subject_key_id only when the core reports them; without them a tampered CA
--   directly under a trusted root is reported as untrusted_root too.
-- Any other problem keeps its per-code cause; from_code(0) is the only "ok".
function M.for_problem(p, chain, root_subjects)
  local id = M.from_code(p.code)
  local depth = p.depth or 0
  local el = chain and chain[math.min(depth + 1, #chain)]
  if id == "bad_signature" and (p.code == 7 or p.code == 4) and chain then
    local issuer = chain[depth + 2]
    if issuer and issuer.trusted then
      local el_akid = chain[depth + 1] and chain[depth + 1].authority_key_id
      if el_akid and issuer.subject_key_id and el_akid == issuer.subject_key_id then return id end
      return "untrusted_root"
    end
  elseif id == "missing_intermediate" and el then
    if el.self_signed then return "untrusted_root" end
    if root_subjects and el.issuer and root_subjects[el.issuer] then return "untrusted_root" end
  end
  return id
end

--- cause = causes.get(id): the catalogue entry (a table; do not modify), or nil.
function M.get(id) return BY_ID[id] end

--- ids = causes.list(): every cause id, in precedence order.
function M.list()
  local out = {}
  for i, c in ipairs(CATALOGUE) do out[i] = c.id end
  return out
end

--- n = causes.rank(id): precedence (1 = fix first); unknown ids rank last.
function M.rank(id) return RANK[id] or #CATALOGUE + 1 end

-- "YYYY-MM-DDTHH:MM:SSZ" for integer Unix seconds (no os.date: it is locale- and
-- time_t-dependent, and absent from policy sandboxes).
local function iso(secs)
  if type(secs) ~= "number" then return "unknown date" end
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return ("%04d-%02d-%02dT%02d:%02d:%02dZ"):format(y, m, d, math.floor(rem / 3600),
    math.floor(rem % 3600 / 60), rem % 60)
end
M.iso = iso

-- A control byte in a name is shown escaped, never raw, in messages.
local function printable(s)
  return (tostring(s):gsub("[%z\1-\31\127]", function(c) return ("\\%02X"):format(c:byte()) end))
end

--- text = causes.render(id, facts): the cause's message with facts filled in.
-- facts: subject, issuer, serial, fingerprint, eku, time, error, rule_reason,
-- and for the failing element: element (described with its role), element_issuer,
-- element_serial, element_not_before, element_not_after, revoked_at, reason.
function M.render(id, facts)
  local c = BY_ID[id] or BY_ID.invalid_certificate
  facts = facts or {}
  local text = c.message:gsub("{([%w_]+)}", function(k)
    local v = facts[k]
    if v == nil then return "(unknown)" end
    if k == "time" or k == "revoked_at" or k:match("not_after$") or k:match("not_before$") then
      return iso(v)
    end
    if type(v) == "table" then
      return #v > 0 and table.concat(v, ", ") or "(none)"
    end
    return printable(v)
  end)
  return (text:gsub("^%l", string.upper))
end

--- steps = causes.resolution(id, facts): a fresh list of {who, step} with facts filled in.
function M.resolution(id, facts)
  local c = BY_ID[id] or BY_ID.invalid_certificate
  local out = {}
  for i, r in ipairs(c.resolution) do
    out[i] = { who = r.who, step = (r.step:gsub("{([%w_]+)}", function(k)
      return facts and facts[k] and printable(facts[k]) or "(unknown)"
    end)) }
  end
  return out
end

return M
