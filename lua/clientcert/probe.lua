--- clientcert.probe: a live server seen from a client's side (internal module;
-- the API is clientcert.probe, see docs/api.md "Probing a server").
--
-- report, err = probe(opts, collect, read_file): opts as docs/api.md documents;
-- collect/read_file are clientcert's own loaders (paths, PEM/DER text, objects).
-- The TLS conversation is clientcert.core.probe (csrc/probe.c); this module
-- checks the options, loads the files and judges what the server said:
--   * did it ask for a client certificate (in the handshake, or after it);
--   * would a browser offer the certificate: is the certificate's issuer, or a
--     name in its chain (subjects and issuers of the chain given), on the
--     server's list of acceptable CA names (an empty list: any certificate);
--   * can the certificate's key sign with an algorithm the server accepts, and
--     is the certificate signed with one (judged from all of the CertificateRequest's
--     signature_algorithms; signature_algorithms_cert is not exposed by OpenSSL);
--   * the outcome: a TLS alert (its name as the C core gives it, mapped to the
--     catalogue here), or the HTTP reply.
-- Every string that came from the server is escaped before it is printed
-- (clientcert.text, clientcert.cli.common.put) and bounded here; the report keeps
-- the first MAX_SIGALGS signature algorithms (sigalg_count counts them all).
local core = require "clientcert.core"
local causes = require "clientcert.causes"
local util = require "clientcert.util"
local textlib = require "clientcert.text"

local M = {}

--- The Windows (Schannel) limit on the CA-names list of a CertificateRequest
-- (defined with TLS's own limit in clientcert.audit).
M.SCHANNEL_LIMIT = require("clientcert.audit").SCHANNEL_LIMIT

local MAX_LINE = 512       -- bytes kept of a server-derived line or name
local input = require "clientcert.input"
local MAX_KEY = input.MAX
local MAX_SIGALGS = 64     -- signature algorithms kept in the report (all are judged)
local MAX_LISTED = 16      -- names of signature algorithms in a finding's message

-- Alert -> catalogue cause, for alerts about the client's certificate.
-- handshake_failure (40) is what TLS 1.2 servers send for a missing required
-- certificate: no_certificate only when the server asked and none was sent.
local ALERT_CAUSES = {
  unknown_ca = "untrusted_root", certificate_expired = "expired", certificate_revoked = "revoked",
  certificate_required = "no_certificate", bad_certificate = "invalid_certificate",
  unsupported_certificate = "invalid_certificate", certificate_unknown = "invalid_certificate",
  access_denied = "denied_by_rule",
}
M.ALERT_CAUSES = ALERT_CAUSES

-- TLS SignatureScheme code -> {IANA name, key type it signs with, curve (TLS 1.3 ECDSA),
-- the certificate signature algorithms (clientcert's names) it covers, tls13 = usable
-- for CertificateVerify in TLS 1.3}.
local SCHEMES = {
  [0x0201] = { "rsa_pkcs1_sha1", "RSA", nil, { "sha1WithRSAEncryption" } },
  [0x0203] = { "ecdsa_sha1", "EC", nil, { "ecdsa-with-SHA1" } },
  [0x0401] = { "rsa_pkcs1_sha256", "RSA", nil, { "sha256WithRSAEncryption" } },
  [0x0501] = { "rsa_pkcs1_sha384", "RSA", nil, { "sha384WithRSAEncryption" } },
  [0x0601] = { "rsa_pkcs1_sha512", "RSA", nil, { "sha512WithRSAEncryption" } },
  [0x0403] = { "ecdsa_secp256r1_sha256", "EC", "prime256v1", { "ecdsa-with-SHA256" }, tls13 = true },
  [0x0503] = { "ecdsa_secp384r1_sha384", "EC", "secp384r1", { "ecdsa-with-SHA384" }, tls13 = true },
  [0x0603] = { "ecdsa_secp521r1_sha512", "EC", "secp521r1", { "ecdsa-with-SHA512" }, tls13 = true },
  [0x0804] = { "rsa_pss_rsae_sha256", "RSA", nil, { "rsassaPss" }, tls13 = true },
  [0x0805] = { "rsa_pss_rsae_sha384", "RSA", nil, { "rsassaPss" }, tls13 = true },
  [0x0806] = { "rsa_pss_rsae_sha512", "RSA", nil, { "rsassaPss" }, tls13 = true },
  [0x0807] = { "ed25519", "Ed25519", nil, { "ED25519" }, tls13 = true },
  [0x0808] = { "ed448", "Ed448", nil, { "ED448" }, tls13 = true },
  [0x0809] = { "rsa_pss_pss_sha256", "RSA-PSS", nil, { "rsassaPss" }, tls13 = true },
  [0x080a] = { "rsa_pss_pss_sha384", "RSA-PSS", nil, { "rsassaPss" }, tls13 = true },
  [0x080b] = { "rsa_pss_pss_sha512", "RSA-PSS", nil, { "rsassaPss" }, tls13 = true },
  [0x081a] = { "ecdsa_brainpoolP256r1tls13_sha256", "EC", "brainpoolP256r1", {}, tls13 = true },
  [0x081b] = { "ecdsa_brainpoolP384r1tls13_sha384", "EC", "brainpoolP384r1", {}, tls13 = true },
  [0x081c] = { "ecdsa_brainpoolP512r1tls13_sha512", "EC", "brainpoolP512r1", {}, tls13 = true },
  [0x0303] = { "ecdsa_sha224", "EC", nil, { "ecdsa-with-SHA224" } },
  [0x0301] = { "rsa_pkcs1_sha224", "RSA", nil, { "sha224WithRSAEncryption" } },
  [0x0202] = { "dsa_sha1", "DSA", nil, { "dsaWithSHA1" } },
  [0x0302] = { "dsa_sha224", "DSA", nil, { "dsa_with_SHA224" } },
  [0x0402] = { "dsa_sha256", "DSA", nil, { "dsa_with_SHA256" } },
  [0x0502] = { "dsa_sha384", "DSA", nil, {} },
  [0x0602] = { "dsa_sha512", "DSA", nil, {} },
}

--- name = probe.scheme_name(code): the IANA name of a TLS SignatureScheme, or "0xNNNN".
function M.scheme_name(code)
  local s = SCHEMES[code]
  return s and s[1] or ("0x%04x"):format(code)
end

--- label = probe.alert_label(alert): "certificate_expired (45)", or "255 (unknown)"
-- for a number no RFC names (alert: {number, name} of a report).
function M.alert_label(a)
  if a.name == "unknown" then return ("%d (unknown)"):format(a.number) end
  return ("%s (%d)"):format(a.name, a.number)
end

local OPTS = {
  host = "string", port = "number", servername = "string", cert = true, key = true, chain = true,
  roots = true, path = "string", timeout = "number", tls = "string", passphrase = "string",
}

local function raise(what, level)
  error("clientcert.probe: " .. what, level + 1)
end

-- A server-derived string as kept in the report: cut at MAX_LINE bytes (the
-- printers escape it; text.json escapes it in JSON).
local function bounded(s)
  if s == nil then return nil end
  return textlib.cut(s, MAX_LINE)
end

-- The IP-literal test for the default servername (no SNI for an address, RFC 6066).
local function is_ip(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

-- Loads cert/key/chain/roots: returns the options core.probe takes, or nil, err.
local function load(opts, collect, read_file, level)
  local c = { host = opts.host, port = opts.port, path = opts.path or "/" }
  c.servername = opts.servername
  if c.servername == nil and not is_ip(opts.host) then c.servername = opts.host end
  c.timeout_ms = math.floor(opts.timeout * 1000 + 0.5)
  c.tls = opts.tls == "1.2" and 12 or opts.tls == "1.3" and 13 or 0
  if opts.cert ~= nil then
    local certs = {}
    local ok, err = collect(opts.cert, "cert", "probe", "cert", certs, level + 1)
    if not ok then return nil, err end
    if #certs == 0 then return nil, "clientcert.probe: cert: no certificate found" end
    c.cert = certs[1]
    c.chain = {}
    for i = 2, #certs do c.chain[#c.chain + 1] = certs[i] end
    if opts.chain ~= nil then
      ok, err = collect(opts.chain, "cert", "probe", "chain", c.chain, level + 1)
      if not ok then return nil, err end
    end
    local key = opts.key
    if key == nil then return nil, "clientcert.probe: cert needs its private key (key)" end
    if type(key) ~= "string" then raise("key must be a path or PEM/DER text, got " .. type(key), level) end
    if not input.is_pem(key) and not input.is_der(key) then
      local data, rerr = read_file(key, "probe")
      if not data then return nil, rerr end
      key = data
    end
    if #key > MAX_KEY then return nil, "clientcert.probe: key: too large" end
    c.key, c.pass = key, opts.passphrase
  elseif opts.key ~= nil or opts.chain ~= nil then
    raise("key and chain need cert", level)
  end
  if opts.roots ~= nil then
    c.roots = {}
    local ok, err = collect(opts.roots, "cert", "probe", "roots", c.roots, level + 1)
    if not ok then return nil, err end
  end
  return c
end

-- The key of a certificate as a person reads it ("EC prime256v1", "RSA 2048").
local function key_text(pk)
  if pk.type == "EC" then return "EC " .. (pk.curve or "?") end
  if pk.bits and pk.type ~= "Ed25519" and pk.type ~= "Ed448" then return pk.type .. " " .. pk.bits end
  return pk.type
end

-- Can a key (cert:info().public_key) sign with one of the schemes (codes) under
-- protocol? true and the first such code, or false.
local function key_accepted(pk, codes, tls13)
  for _, code in ipairs(codes) do
    local d = SCHEMES[code]
    if d and d[2] == pk.type and (not tls13 or d.tls13) and (not tls13 or not d[3] or d[3] == pk.curve) then
      return true, code
    end
  end
  return false
end

-- Is the certificate signed with one of the schemes (codes)? nil when its algorithm is unknown here.
local function signature_accepted(alg, codes)
  local known = false
  for _, d in pairs(SCHEMES) do
    for _, a in ipairs(d[4]) do if a == alg then known = true end end
  end
  if not known then return nil end
  for _, code in ipairs(codes) do
    local d = SCHEMES[code]
    if d then for _, a in ipairs(d[4]) do if a == alg then return true end end end
  end
  return false
end

-- The catalogue cause a substatus ("403.16") and title name: by both, else by a
-- substatus only one cause has; nil otherwise.
local function cause_of_substatus(sub, title)
  local only, n = nil, 0
  for _, id in ipairs(causes.list()) do
    local c = causes.get(id)
    if c.substatus == sub then
      if c.title == title then return id end
      only, n = id, n + 1
    end
  end
  return n == 1 and only or nil
end

-- nginx's own error pages for client certificates (ssl_verify_client on): their <title>.
local NGINX_TITLES = {
  ["400 No required SSL certificate was sent"] = "no_certificate",
  ["400 The SSL certificate error"] = "invalid_certificate",   -- nginx logs which error; the page hides it
}

-- The catalogue cause an HTTP refusal names: a clientcert gate's first body line
-- "403.16 <title>", nginx's client-certificate error pages, or an IIS page's
-- "HTTP Error 403.7" (by substatus); nil when the answer names none.
local function cause_of_answer(first_line, title, head)
  local sub, t = (first_line or ""):match("^(%d%d%d%.%d+) (.*)$")
  if sub then return cause_of_substatus(sub, t) end
  if title and NGINX_TITLES[title] then return NGINX_TITLES[title] end
  sub = (head or ""):match("HTTP Error (%d%d%d%.%d+)")
  return sub and cause_of_substatus(sub, nil) or nil
end

-- Builds the judged report from core.probe's raw one.
local function judge(opts, c, raw)
  local r = {
    host = opts.host, port = opts.port, servername = c.servername, path = c.path, address = raw.address,
    handshake = raw.handshake, protocol = raw.protocol, cipher = raw.cipher, error = bounded(raw.error),
    requested = (raw.requests or 0) > 0, ca_names = {}, ca_count = raw.ca_count, ca_size = raw.ca_size,
    ca_empty = raw.ca_empty, sigalgs = {}, sigalg_count = raw.sigalgs and #raw.sigalgs,
    sigalgs_incomplete = raw.sigalgs_incomplete or nil, findings = {}, warnings = {},
  }
  if raw.requested_after_handshake and not raw.requested_in_handshake then
    r.request_phase = "post_handshake"
  elseif r.requested then
    r.request_phase = "handshake"
  end
  if raw.server then
    r.server = { subject = bounded(raw.server.subject), issuer = bounded(raw.server.issuer),
                 verified = raw.server.verified, verify_error = raw.server.verify_error }
  end
  for i, n in ipairs(raw.ca_names or {}) do r.ca_names[i] = bounded(n) end
  r.ca_names_incomplete = raw.ca_names_incomplete or (r.ca_count or 0) > #r.ca_names or nil
  r.over_schannel_limit = r.requested and (r.ca_size or 0) > M.SCHANNEL_LIMIT or nil
  local codes = raw.sigalgs or {}
  for i = 1, math.min(#codes, MAX_SIGALGS) do r.sigalgs[i] = { code = codes[i], name = M.scheme_name(codes[i]) } end
  local names = {}
  for i = 1, math.min(#codes, MAX_LISTED) do names[i] = r.sigalgs[i].name end
  if #codes > MAX_LISTED then names[#names + 1] = ("and %d more"):format(#codes - MAX_LISTED) end
  -- the alert's name is the core's (RFC 8446's identifiers); "unknown" for a number no RFC names
  for field, a in pairs({ alert = raw.alert, alert_sent = raw.alert_sent }) do
    r[field] = { number = a.number, name = a.name or "unknown", level = a.level }
  end
  if raw.status_line then
    r.http = { status_line = bounded(raw.status_line), first_line = bounded(raw.first_line),
               status = tonumber(raw.status_line:match("^HTTP/%d[%.%d]* (%d%d%d)")),
               title = bounded((raw.body_head or ""):match("<[Tt][Ii][Tt][Ll][Ee]>%s*(.-)%s*</[Tt][Ii][Tt][Ll][Ee]>")) }
  end
  r.http_error = bounded(raw.http_error)
  local target = ("%s:%d%s"):format(opts.host, opts.port, c.path)
  local facts = { target = target, count = r.ca_count, size = r.ca_size, sigalgs = names,
                  status_line = r.http and r.http.status_line or r.http_error or r.error or "no HTTP reply" }
  local function add(list, kind, cause)
    list[#list + 1] = causes.client_side(kind, facts, cause)
  end

  -- the client's certificate against the request
  if c.cert then
    local info = c.cert:info()
    r.client = { subject = info.subject, issuer = info.issuer, key = key_text(info.public_key),
                 signature_algorithm = info.signature_algorithm, issuer_names = {} }
    facts.subject, facts.issuer, facts.fingerprint = info.subject, info.issuer, c.cert:fingerprint()
    facts.key, facts.signature = r.client.key, info.signature_algorithm
    for i, n in ipairs(raw.issuer_names or {}) do r.client.issuer_names[i] = { name = n.name, listed = n.listed } end
    if r.requested then
      if #r.ca_names == 0 and (r.ca_count or 0) == 0 then
        r.client.offered = true
      else
        r.client.offered = false
        for _, n in ipairs(r.client.issuer_names) do
          if n.listed then r.client.offered, r.client.offered_by = true, n.name break end
        end
      end
      if #codes > 0 then
        local ok, code = key_accepted(info.public_key, codes, r.protocol == "TLSv1.3")
        r.client.key_accepted, r.client.key_scheme = ok, code and M.scheme_name(code)
        r.client.signature_accepted = signature_accepted(info.signature_algorithm, codes)
      end
    end
    if not r.requested and r.handshake then
      add(r.findings, "not_requested")
    elseif r.client.offered == false then
      local accepted, empty = {}, r.ca_empty or 0
      for _, n in ipairs(r.ca_names) do
        if #accepted == 5 then break end
        if n ~= "" then accepted[#accepted + 1] = n end
      end
      local more = (r.ca_count or #r.ca_names) - empty - #accepted
      if more > 0 then accepted[#accepted + 1] = ("and %d more"):format(more) end
      if empty > 0 then accepted[#accepted + 1] = ("%d empty names"):format(empty) end
      facts.accepted = accepted
      add(r.findings, "issuer_not_listed")
    end
    if r.client.key_accepted == false then add(r.findings, "key_not_accepted") end
    -- a warning: OpenSSL servers accept such a certificate; clients that follow RFC 8446
    -- 4.2.3 and strict servers do not
    if r.client.signature_accepted == false then add(r.warnings, "signature_not_accepted") end
  end

  -- what the server answered
  if r.alert and r.alert.level == "fatal" then
    local cause = ALERT_CAUSES[r.alert.name]
    if r.alert.name == "handshake_failure" and r.requested and not c.cert then cause = "no_certificate" end
    facts.alert, facts.number = M.alert_label(r.alert), r.alert.number
    facts.phase = r.handshake and " after the handshake" or ""
    if cause then
      facts.title = causes.get(cause).title
      add(r.findings, "alert", cause)
    else
      add(r.findings, "alert_other")
    end
  elseif r.http and r.http.status and r.http.status >= 400 then
    facts.first_line = r.http.title or r.http.first_line or "(no body)"
    add(r.findings, "http_refused", cause_of_answer(r.http.first_line, r.http.title, raw.body_head))
  end

  -- warnings: what does not stop this client, but stops others
  if r.over_schannel_limit then add(r.warnings, "ca_list_too_large") end
  if r.requested and (r.ca_count or 0) == 0 then add(r.warnings, "ca_list_empty") end

  r.ok = r.handshake and not (r.alert and r.alert.level == "fatal") and r.http ~= nil
    and r.http.status ~= nil and r.http.status < 400 and #r.findings == 0 or false
  local first = r.findings[1]
  if r.ok then
    r.cause = "ok"
    local status = textlib.escape(r.http.status_line)
    if not c.cert then
      r.message = ("The server answered %s without a client certificate."):format(status)
    elseif r.client.offered_by then
      r.message = ("The server asked for a client certificate, lists %s among the CAs it accepts, and answered %s.")
        :format(textlib.escape(r.client.offered_by), status)
    else
      r.message = ("The server asked for a client certificate, named no CA (any certificate is offered), "
        .. "and answered %s."):format(status)
    end
    r.resolution = {}
  elseif first then
    r.cause, r.message, r.resolution = first.cause, first.message, first.resolution
  else
    r.message = r.http_error and ("No usable answer from the server: %s."):format(textlib.escape(r.http_error))
      or (r.http and ("The server answered %s."):format(textlib.escape(r.http.status_line)))
      or ("The TLS handshake failed: %s."):format(textlib.escape(r.error or "unknown error"))
    r.resolution = {}
  end
  return r
end

--- report, err = probe(opts, collect, read_file, level)
function M.probe(opts, collect, read_file, level)
  level = (level or 1) + 1
  if type(opts) ~= "table" then raise("argument must be a table", level) end
  opts = util.raw_copy(opts) -- (raw access: no metamethod of the caller's table runs)
  for k in next, opts do
    local want = OPTS[k]
    if not want then raise(("unknown option '%s'"):format(tostring(k)), level) end
    if want ~= true and type(opts[k]) ~= want then
      raise(("%s must be a %s, got %s"):format(k, want, type(opts[k])), level)
    end
  end
  if type(opts.host) ~= "string" or opts.host == "" or opts.host:find("[%z%s/]") then
    raise("host must be a host name or an IP address", level)
  end
  util.integer(opts.port, "probe", "port", 1, 65535, level)
  if opts.timeout == nil then opts.timeout = 10 end
  local t = opts.timeout
  if not (t >= 0.001 and t <= 3600) then raise("timeout must be seconds, at least 0.001 and at most 3600", level) end
  if opts.tls ~= nil and opts.tls ~= "1.2" and opts.tls ~= "1.3" then
    raise("tls must be \"1.2\", \"1.3\" or nil", level)
  end
  local path = opts.path or "/"
  if path:sub(1, 1) ~= "/" or #path > 1024 or path:find("[%z%c%s]") then
    raise("path must start with / and hold no space or control character (at most 1024 bytes)", level)
  end
  if opts.servername ~= nil and (opts.servername == "" or #opts.servername > 255
      or opts.servername:find("[%z%c%s]")) then
    raise("servername must be 1 .. 255 bytes with no space or control character", level)
  end
  local c, err = load(opts, collect, read_file, level)
  if not c then return nil, err end
  local raw, perr = core.probe(c)
  if not raw then return nil, perr end
  return judge(opts, c, raw)
end

return M
