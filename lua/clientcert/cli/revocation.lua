--- clientcert revocation CERT --issuer FILE [--roots FILE]: what each revocation URL
-- of the certificate answers (AIA OCSP responders, CRL distribution points, caIssuers),
-- judged: the response's signer, CertID, dates and status, or why it is no answer.
-- Like `openssl ocsp` plus the CDP, with the cause a server would report.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local revocation = require "clientcert.revocation"
local c = require "clientcert.cli.common"

local M = { name = "revocation",
            summary = "Ask a certificate's OCSP responders and CRL distribution points what they answer, judged." }

function M.define(cmd)
  cmd:argument("cert", "The certificate to ask about (PEM or DER).")
  cmd:option("--issuer", "Its issuer's certificate (PEM or DER): signs the answers, or delegates to the responder.")
  cmd:option("--roots", "Trusted roots: the issuer's path is verified first (a server fetches nothing for a "
    .. "certificate it cannot verify); repeatable."):count("*")
  cmd:option("--intermediates", "Intermediate CAs for that verification; repeatable."):count("*")
  cmd:option("--timeout", "Seconds for each fetch (name resolution, connect and read), at most 60.", "3")
  cmd:flag("--nonce", "Send a nonce in OCSP requests (and require it back when the responder echoes one).")
  cmd:option("--time", "Judge the answers at this time instead of now.")
  cmd:flag("--json", "Print the answers as one JSON object.")
end

-- One OCSP URL: {source = "ocsp", url, ok, status?, ..., problem?, error?}.
local function ask_ocsp(cert, issuer, url, o, when)
  local e = { source = "ocsp", url = url }
  local req, rerr = core.ocsp_request(cert, issuer, o.nonce or nil)
  if not req then e.error = rerr return e end
  local bytes, ferr = revocation.blocking_fetch(url, req, o.timeout, revocation.OCSP_MAX_BYTES)
  if not bytes then e.error = ferr return e end
  local r = core.ocsp_check(bytes, req, issuer, { time = when })
  for k, v in pairs(r) do e[k] = v end
  if not r.ok then e.error = r.detail end
  return e
end

-- One CRL URL: {source = "crl", url, ok, status?, ..., problem?, error?}.
local function ask_crl(cert, issuer, url, o, when)
  local e = { source = "crl", url = url }
  local bytes, ferr = revocation.blocking_fetch(url, nil, o.timeout, revocation.DEFAULTS.max_bytes)
  if not bytes then e.error = ferr return e end
  local crl, perr = clientcert.parse_crl(bytes)
  if not crl then e.error = "not a CRL: " .. tostring(perr) return e end
  local r = core.crl_status(crl, cert, issuer, { time = when })
  for k, v in pairs(r) do e[k] = v end
  if not r.ok then e.error = r.detail end
  return e
end

-- One caIssuers URL: does it serve the issuer given?
local function ask_issuer(issuer, url, o)
  local e = { source = "ca_issuers", url = url }
  local bytes, ferr = revocation.blocking_fetch(url, nil, o.timeout, revocation.DEFAULTS.max_bytes)
  if not bytes then e.error = ferr return e end
  local got, perr = clientcert.parse(bytes)
  if not got then e.error = "not a certificate: " .. tostring(perr) return e end
  e.ok = got:fingerprint() == issuer:fingerprint()
  e.subject = (got:info() or {}).subject
  if not e.ok then e.error = "serves another certificate than --issuer" end
  return e
end

local function describe(e)
  if e.error then return ("no answer: %s%s"):format(e.error, e.problem and (" (" .. e.problem .. ")") or "") end
  if e.source == "ca_issuers" then return "serves the issuer" end
  local parts = { e.status }
  if e.status == "revoked" then
    parts[#parts + 1] = ("on %s, reason %s"):format(e.revoked_at and c.iso(e.revoked_at) or "?", e.reason or "?")
  end
  if e.responder then
    parts[#parts + 1] = e.responder == "issuer" and "signed by the issuer" or "signed by a delegated responder"
  end
  if e.this_update then parts[#parts + 1] = "this update " .. c.iso(e.this_update) end
  if e.next_update then parts[#parts + 1] = "next update " .. c.iso(e.next_update) end
  return table.concat(parts, ", ")
end

function M.run(a, out, eout)
  local put = c.put
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  if not a.issuer then put(eout, "clientcert: revocation needs --issuer FILE") return c.EXIT_ERROR end
  local timeout = tonumber(a.timeout)
  if not timeout or timeout <= 0 or timeout > 60 then
    put(eout, "clientcert: --timeout wants seconds between 0 and 60, got '%s'", a.timeout)
    return c.EXIT_ERROR
  end
  local certs, err = c.read_certs(a.cert, "revocation")
  if not certs then put(eout, "%s", err) return c.EXIT_ERROR end
  local issuers, ierr = c.read_certs(a.issuer, "revocation")
  if not issuers then put(eout, "%s", ierr) return c.EXIT_ERROR end
  local cert, issuer = certs[1], issuers[1]
  local roots = c.flat(a.roots)
  local report = { certificate = (cert:info() or {}).subject, issuer = (issuer:info() or {}).subject,
                   time = when, answers = {} }
  if #roots > 0 then
    a.roots, a.intermediates, a.crl = roots, c.flat(a.intermediates), {}
    local store, serr = c.server_store(a)
    if not store then put(eout, "%s", serr) return c.EXIT_ERROR end
    local r = store:verify(cert, { chain = { issuer }, time = when, crl = "none" })
    report.path = r and r.cause or "invalid_certificate"
    -- the answers are judged with --issuer's key: it must be the issuer on the verified path
    local above = r and r.ok and r.chain[2]
    if r and r.ok and not (above and above.fingerprint == issuer:fingerprint()) then
      report.path = "issuer_mismatch"
      r = nil
    end
    if not (r and r.ok) then
      report.ok = false
      report.error = ("the certificate's path does not verify against --roots (%s): nothing is fetched"):format(
        report.path)
      if report.path == "issuer_mismatch" then
        report.error = "--issuer is not the certificate's issuer on the path verified against --roots (another "
          .. "certificate of that name, or of another key): nothing is fetched"
      end
      if a.json then c.emit_json(out, report) else put(out, "%s", report.error) end
      return c.EXIT_REJECT
    end
  end
  local info = cert:info() or {}
  local o = { timeout = timeout, nonce = a.nonce }
  local answers = report.answers
  for _, url in ipairs(info.ocsp_urls or {}) do answers[#answers + 1] = ask_ocsp(cert, issuer, url, o, when) end
  for _, url in ipairs(info.crl_urls or {}) do answers[#answers + 1] = ask_crl(cert, issuer, url, o, when) end
  for _, url in ipairs(info.ca_issuers_urls or {}) do answers[#answers + 1] = ask_issuer(issuer, url, o) end
  -- the verdict: revoked if any source says so; good if one answered and none failed
  local revoked, good, failed = false, false, false
  for _, e in ipairs(report.answers) do
    if e.status == "revoked" and not e.error then revoked = true
    elseif e.source ~= "ca_issuers" and e.status == "good" and not e.error then good = true
    elseif e.error then failed = true end
  end
  report.cause = revoked and "revoked" or good and "ok" or "revocation_unknown"
  report.ok = not revoked and good and not failed
  if a.json then
    c.emit_json(out, report)
  else
    put(out, "Certificate: %s", report.certificate)
    put(out, "Issuer: %s", report.issuer)
    if #report.answers == 0 then put(out, "It names no OCSP responder, CRL distribution point or caIssuers URL.") end
    for _, e in ipairs(report.answers) do
      put(out, "%-10s %s", e.source == "ca_issuers" and "caIssuers" or e.source:upper(), e.url)
      put(out, "           %s", describe(e))
    end
    put(out, "Verdict: %s", report.cause)
  end
  return report.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
