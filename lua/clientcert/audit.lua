--- clientcert.audit: the trusted-root store audit (audit_store): each root a
-- self-signed CA, in date, and beyond that: certificates expiring soon, duplicates (same name and key), non-CA
-- certificates, weak keys and signatures, and the size of the acceptable-CA names
-- list a server sends in its TLS CertificateRequest when it trusts these roots.
-- The DER parts compared and counted come from C (cert:der_part).
local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local util = require "clientcert.util"
local facts_for = require("clientcert.verdict").facts

local M = {}

local DAY = 86400

--- The limits a CertificateRequest's certificate_authorities list meets (bytes of
-- the list: each DER name with its 2-byte length). TLS (RFC 5246 7.4.4, RFC 8446
-- 4.2.4) gives the list a 2-byte length: at most 65535 bytes. Windows clients
-- (Schannel) accept a list of at most 16 KB: over that they send no certificate.
M.SCHANNEL_LIMIT = 16384
M.TLS_LIMIT = 65535

--- names = audit.ca_names(certs): the acceptable-CA names list a server trusting
-- certs sends (OpenSSL and nginx send each distinct subject name once):
-- {count, bytes, schannel_limit, tls_limit, over_schannel, over_tls}.
-- bytes = sum over names of (2 + DER length), the list's own 2-byte length excluded.
function M.ca_names(certs)
  local seen, count, bytes = {}, 0, 0
  for _, c in ipairs(certs) do
    local subj = c:der_part("subject")
    if subj and not seen[subj] then
      seen[subj] = true
      count, bytes = count + 1, bytes + 2 + #subj
    end
  end
  return { count = count, bytes = bytes, schannel_limit = M.SCHANNEL_LIMIT, tls_limit = M.TLS_LIMIT,
           over_schannel = bytes > M.SCHANNEL_LIMIT, over_tls = bytes > M.TLS_LIMIT }
end

local function weak_signature(alg)
  alg = tostring(alg or ""):lower()
  if alg:find("md5", 1, true) or alg:find("md2", 1, true) then return "MD5" end
  if alg:find("sha1", 1, true) or alg:find("sha-1", 1, true) then return "SHA-1" end
  return nil
end

--- audit.extend(roots, findings, when, warn_days, iso): appends to findings the
-- checks of this module on roots (a list of clientcert.cert); returns ca_names.
-- Each finding: {check =, subject =, fingerprint =, message =, ...}.
function M.extend(roots, findings, when, warn_days, iso)
  local function add(check, info, message, extra)
    local f = { check = check, subject = info.subject, fingerprint = info.fingerprint,
                not_after = info.not_after, message = message }
    for k, v in pairs(extra or {}) do f[k] = v end
    findings[#findings + 1] = f
  end
  local by_name_key = {}
  for _, c in ipairs(roots) do
    local info = c:info()
    if info then
      local na = info.not_after
      if na and na >= when and na < when + warn_days * DAY then
        add("expires_soon", info, ("The trusted certificate %s expires on %s, within %d days of %s: clients "
          .. "whose chains end at it are refused from then on (403.17); add its successor to the store now.")
          :format(info.subject, iso(na), warn_days, iso(when)), { days_left = math.floor((na - when) / DAY) })
      end
      if not info.is_ca then
        add("not_ca", info, ("The trusted certificate %s is not a CA certificate (no basicConstraints CA:TRUE): "
          .. "it cannot issue client certificates; remove it from the store."):format(info.subject))
      end
      local pk = info.public_key or {}
      local ktype = tostring(pk.type or ""):upper()
      if (ktype == "RSA" or ktype == "RSA-PSS" or ktype == "DSA") and pk.bits and pk.bits < 2048 then
        add("weak_key", info, ("The trusted certificate %s has a %d-bit %s key (less than 2048 bits): it can be "
          .. "forged, and OpenSSL at security level 2 (Debian's default) refuses it; replace the CA.")
          :format(info.subject, pk.bits, ktype), { key_bits = pk.bits, key_type = ktype })
      end
      local weak = weak_signature(info.signature_algorithm)
      if weak then
        add("weak_signature", info, ("The trusted certificate %s is signed with %s (%s): many clients and "
          .. "servers refuse %s-signed certificates; replace it with a SHA-256 one.")
          :format(info.subject, weak, info.signature_algorithm, weak),
          { signature_algorithm = info.signature_algorithm })
      end
      local subj, spki = c:der_part("subject"), c:der_part("public_key")
      if subj and spki then
        local k = subj .. "\0" .. spki
        local first = by_name_key[k]
        if first then
          add("duplicate", info, ("Two trusted certificates named %s have the same key (serial %s, until %s, and "
            .. "serial %s, until %s): which one a verifier picks is not defined; keep only the current one.")
            :format(info.subject, first.serial, iso(first.not_after), info.serial, iso(info.not_after)),
            { duplicate_of = first.fingerprint })
        else
          by_name_key[k] = info
        end
      end
    end
  end
  local names = M.ca_names(roots)
  local limit, consequence
  if names.over_tls then
    limit, consequence = M.TLS_LIMIT, "a TLS CertificateRequest can carry: the handshake cannot be completed with "
      .. "this list"
  elseif names.over_schannel then
    limit, consequence = M.SCHANNEL_LIMIT, "Windows (Schannel) clients accept: they send no certificate and the "
      .. "server answers 403.7 (client certificate required)"
  end
  if limit then
    findings[#findings + 1] = { check = "ca_names_too_large", bytes = names.bytes, count = names.count,
      message = ("The acceptable-CA names list from these %d roots is %d bytes, over the %d bytes %s; send only "
        .. "the CAs that issue client certificates (nginx: those in ssl_client_certificate, the rest in "
        .. "ssl_trusted_certificate)."):format(names.count, names.bytes, limit, consequence) }
  end
  return names
end

--- report = audit.audit_store(store[, {time = secs, warn_days = n}]) (as clientcert.audit_store):
-- checks the trusted roots the way some servers need them: each must be a self-signed CA, in date; and
-- (M.extend) none expiring within warn_days (default 30), no duplicates, no
-- non-CA, no weak key or SHA-1/MD5 signature, an acceptable-CA names list clients take.
-- report = {ok, count, time, warn_days, ca_names = {count, bytes, ...}, findings =
--   {{check, cause (the catalogue's, where one applies), subject, fingerprint, message}, ...},
--   profile_findings = M.profile_findings of the roots (not counted in ok)}.
function M.audit_store(store, opts)
  if not clientcert.is_store(store) then error("clientcert.audit_store: expected a clientcert.store", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("clientcert.audit_store: opts must be a table", 2) end
  if opts ~= nil then
    opts = util.raw_copy(opts) -- (raw access, as for every options table)
    for k in next, opts do
      if k ~= "time" and k ~= "warn_days" then
        error(("clientcert.audit_store: unknown option '%s'"):format(tostring(k)), 2)
      end
    end
  end
  local when = util.time(opts and opts.time, "audit_store", 2)
  local warn_days = 30
  if opts and opts.warn_days ~= nil then
    warn_days = util.integer(opts.warn_days, "audit_store", "warn_days", 0, 36500, 2)
  end
  local roots = store:roots()
  local findings = {}
  local function add(id, info, extra)
    local el = { subject = info.subject, issuer = info.issuer, serial = info.serial,
                 self_signed = info.self_signed, not_before = info.not_before, not_after = info.not_after }
    local f = facts_for(nil, el, extra)
    if id == "intermediate_in_roots" then f.element = info.subject end
    findings[#findings + 1] = { check = id, cause = id, subject = info.subject, fingerprint = info.fingerprint,
                                message = causes.render(id, f) }
  end
  for _, c in ipairs(roots) do
    local info = c:info()
    if not info then
      findings[#findings + 1] = { check = "invalid_certificate", cause = "invalid_certificate",
                                  message = "a trusted certificate cannot be read" }
    else
      if not info.self_signed then add("intermediate_in_roots", info) end
      if info.not_after and info.not_after < when then add("expired", info, { time = when }) end
      if info.not_before and info.not_before > when then add("not_yet_valid", info, { time = when }) end
    end
  end
  -- CRLs that certificates of the store with the CRL's issuer name did not sign
  for _, crl in ipairs(store:crls()) do
    if crl.signature == "bad" then
      local f = { element = crl.issuer }
      findings[#findings + 1] = { check = "crl_bad_signature", cause = "crl_bad_signature", subject = crl.issuer,
                                  last_update = crl.last_update,
                                  message = causes.render("crl_bad_signature", f) }
    end
  end
  local ca_names = M.extend(roots, findings, when, warn_days, causes.iso)
  -- the strict profile's rules each root breaks (M.profile_findings): reported, not counted in ok
  local items = {}
  for _, c in ipairs(roots) do
    local info = c:info()
    if info then items[#items + 1] = { info = info, depth = 1, trusted = true } end
  end
  return { ok = #findings == 0, count = #roots, findings = findings, time = when, warn_days = warn_days,
           ca_names = ca_names, profile_findings = M.profile_findings(items) }
end

local function has_name_constraints(info)
  for _, e in ipairs(info.extensions or {}) do
    if e == "nameConstraints" then return true end
  end
  return false
end

--- list = audit.profile_findings(items): the rules of the strict profile
-- (clientcert.profile, store:verify's profile = "strict") that each certificate
-- breaks, as findings that reject nothing, each with what Go's crypto/x509,
-- rustls-webpki and Windows do about it (clientcert.verifiers): an operator learns
-- which clients a stricter server would refuse.
-- items: {{info = cert:info(), depth = n, trusted = anchor?}, ...}: a path, leaf at
-- depth 0, or a store's roots (depth 1, trusted).
-- Each finding: {id (the rule's code name), rule (its RFC / CA/B section), problem,
-- depth, subject, fingerprint, rejected_by = {verifier names}, verifiers =
-- {{verifier, name, verdict, note, source}, ...}}.
function M.profile_findings(items)
  local profile = require "clientcert.profile"
  local verifiers = require "clientcert.verifiers"
  local ctx = { name_constraints = false }
  for _, it in ipairs(items) do
    if (it.depth or 0) > 0 and has_name_constraints(it.info) then ctx.name_constraints = true end
  end
  local out = {}
  for _, it in ipairs(items) do
    local el = { depth = it.depth or 0, trusted = it.trusted == true }
    for _, f in ipairs(profile.findings(it.info, el)) do
      local said = verifiers.of(f.code_name, it.info, el, ctx)
      local by = {}
      for _, v in ipairs(said) do
        if v.verdict == "rejects" then by[#by + 1] = v.name end
      end
      out[#out + 1] = { id = f.code_name, rule = f.rule, problem = f.error, depth = el.depth,
                        subject = it.info.subject, fingerprint = it.info.fingerprint, rejected_by = by,
                        verifiers = said }
    end
  end
  return out
end

return M
