--- clientcert crl-status --crl FILE...: each CRL's issuer, signature, dates, entries, staleness.
local clientcert = require "clientcert"
local c = require "clientcert.cli.common"
local input = require "clientcert.input"

local DAY = 86400

local M = { name = "crl-status",
            summary = "Check CRLs: issuer, signature against the issuer's key, this/next update, entries, staleness." }

function M.define(cmd)
  cmd:option("--crl", "CRL file (PEM bundle of CRLs, or one DER CRL); repeatable."):count("*")
  cmd:flag("--fetch", "Also download the CRL at each CRL distribution point (http://) named by the "
    .. "--roots/--intermediates certificates, and check it the same way.")
  cmd:option("--timeout", "With --fetch: seconds for each download (name resolution, connect and read), "
    .. "at most 600 (default: 10).")
  cmd:option("--roots", "Root certificates to find each CRL's issuer among (PEM bundle or DER); repeatable.")
    :count("*")
  cmd:option("--intermediates", "Intermediate CAs to find each CRL's issuer among; repeatable."):count("*")
  cmd:option("--warn-days", "Report CRLs going stale within N days (0 .. 36500).", "30"):convert(c.warn_days)
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the status as one JSON object.")
end

-- list = certs_of(paths, eout): every certificate of the files; nil after printing the error.
local function certs_of(paths, eout)
  local out = {}
  for _, path in ipairs(paths) do
    local list, err = c.read_certs(path, "crl_status")
    if not list then c.put(eout, "%s", err) return nil end
    for _, x in ipairs(list) do out[#out + 1] = x end
  end
  return out
end

--- entry = crl_status.status(crl, file, index, issuers, when, warn_days): one CRL's status
-- (index: its place in file, a PEM bundle of CRLs; run adds of = how many file holds):
-- {file, index, issuer, last_update, next_update, count, crl_number, signature_algorithm,
--  signature = "ok"|"bad"|"no_issuer"|"not_checked", state = "current"|"stale_soon"|"stale"|
--  "not_yet_valid"|"no_next_update", problems = {{check, message}, ...}, ok}.
-- issuers: {roots =, intermediates =} (lists of certificates) or nil when none were given.
function M.status(crl, file, index, issuers, when, warn_days)
  local info = assert(crl:info())
  local e = { file = file, index = index, issuer = info.issuer, last_update = info.last_update,
              next_update = info.next_update, count = info.count, crl_number = info.crl_number,
              signature_algorithm = info.signature_algorithm, problems = {} }
  local function problem(check, message) e.problems[#e.problems + 1] = { check = check, message = message } end
  if not issuers then
    e.signature = "not_checked"
  else
    local store = assert(clientcert.store{ roots = issuers.roots, intermediates = issuers.intermediates,
                                           crls = { crl } })
    e.signature = (store:crls()[1] or {}).signature or "no_issuer"
    if e.signature == "bad" then
      problem("bad_signature", ("The CRL claims to be issued by %s, but no certificate of that name given here "
        .. "signed it: a server ignores it (crl_bad_signature), and it revokes nothing."):format(info.issuer))
    elseif e.signature == "no_issuer" then
      problem("issuer_not_found", ("No certificate named %s is among --roots/--intermediates: the CRL's "
        .. "signature cannot be checked, and a server with these CAs has no use for it."):format(info.issuer))
    end
  end
  local lu, nu = info.last_update, info.next_update
  if lu and lu > when then
    e.state = "not_yet_valid"
    problem("not_yet_valid", ("The CRL of %s is not valid before %s (checked at %s): a server rejects clients "
      .. "of this CA until then (revocation_unknown, 403.16); check the server's clock or the CRL.")
      :format(info.issuer, c.iso(lu), c.iso(when)))
  elseif not nu then
    e.state = "no_next_update"
  elseif nu < when then
    e.state = "stale"
    problem("stale", ("The CRL of %s went stale on %s (nextUpdate; checked at %s): a server checking revocation "
      .. "rejects every client of this CA (revocation_unknown, 403.16); download the CA's current CRL.")
      :format(info.issuer, c.iso(nu), c.iso(when)))
  elseif nu < when + warn_days * DAY then
    e.state = "stale_soon"
    e.days_left = math.floor((nu - when) / DAY)
    problem("stale_soon", ("The CRL of %s goes stale on %s, within %d days of %s: from then on a server "
      .. "checking revocation rejects every client of this CA (revocation_unknown, 403.16); make sure a newer "
      .. "CRL is fetched before.") :format(info.issuer, c.iso(nu), warn_days, c.iso(when)))
  else
    e.state = "current"
  end
  e.ok = #e.problems == 0
  return e
end

local SIGNATURE_TEXT = {
  ok = "ok (verified with the issuer's key)",
  bad = "BAD (not signed by the key of any certificate of that name given)",
  no_issuer = "issuer not found among --roots/--intermediates",
  not_checked = "not checked: issuer not given (--roots/--intermediates)",
}

function M.run(a, out, eout)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local roots = certs_of(c.flat(a.roots), eout)
  if not roots then return c.EXIT_ERROR end
  local inters = certs_of(c.flat(a.intermediates), eout)
  if not inters then return c.EXIT_ERROR end
  local issuers = (#roots > 0 or #inters > 0) and { roots = roots, intermediates = inters } or nil
  local entries, ok = {}, true
  if #c.flat(a.crl) == 0 and not a.fetch then
    c.put(eout, "clientcert: crl-status needs --crl FILE or --fetch (with --roots/--intermediates)")
    return c.EXIT_ERROR
  end
  if a.timeout and not a.fetch then
    c.put(eout, "clientcert: --timeout goes with --fetch")
    return c.EXIT_ERROR
  end
  if a.fetch then
    local timeout = tonumber(a.timeout or "10")
    if not timeout or timeout <= 0 or timeout > 600 then
      c.put(eout, "clientcert: --timeout wants seconds between 0 and 600, got '%s'", a.timeout)
      return c.EXIT_ERROR
    end
    if not issuers then
      c.put(eout, "clientcert: crl-status --fetch needs the CAs whose distribution points to fetch "
        .. "(--roots/--intermediates)")
      return c.EXIT_ERROR
    end
    local revocation = require "clientcert.revocation"
    local seen = {}
    local cas = c.flat(roots)
    for _, x in ipairs(inters) do cas[#cas + 1] = x end
    for _, ca in ipairs(cas) do
      for _, url in ipairs((ca:info() or {}).crl_urls or {}) do
        if not seen[url] then
          seen[url] = true
          local bytes, ferr = revocation.blocking_fetch(url, nil, timeout, revocation.DEFAULTS.max_bytes)
          local crl, perr
          if bytes then crl, perr = clientcert.parse_crl(bytes) end
          if crl then
            local e = M.status(crl, url, 1, issuers, when, a.warn_days)
            e.of, e.url = 1, url
            ok = ok and e.ok
            entries[#entries + 1] = e
          else
            ok = false
            entries[#entries + 1] = { file = url, url = url, index = 1, of = 1, ok = false, state = "unavailable",
              signature = "not_checked", issuer = (ca:info() or {}).issuer,
              problems = { { check = "unavailable", message = bytes and ("not a CRL: " .. tostring(perr))
                or ("cannot download it: " .. tostring(ferr)) } } }
          end
        end
      end
    end
  end
  for _, path in ipairs(c.flat(a.crl)) do
    local crls, err = input.load("crl", path, "crl_status")
    if not crls then c.put(eout, "%s", err) return c.EXIT_ERROR end
    for i, crl in ipairs(crls) do
      local e = M.status(crl, path, i, issuers, when, a.warn_days)
      e.of = #crls
      ok = ok and e.ok
      entries[#entries + 1] = e
    end
  end
  if a.json then
    c.emit_json(out, { ok = ok, time = when, warn_days = a.warn_days, crls = entries })
    return ok and c.EXIT_OK or c.EXIT_REJECT
  end
  local paint = c.painter(out)
  local problems = 0
  for _, e in ipairs(entries) do
    c.put(out, "%s%s: CRL of %s", e.file, e.of > 1 and ("#" .. e.index) or "", e.issuer)
    c.put(out, "  signature:   %s", SIGNATURE_TEXT[e.signature] or e.signature)
    c.put(out, "  this update: %s", e.last_update and c.iso(e.last_update) or "(none)")
    c.put(out, "  next update: %s", e.next_update and c.iso(e.next_update) or "(none: never stale)")
    c.put(out, "  entries:     %d%s", e.count or 0, e.crl_number and (", CRL number " .. e.crl_number) or "")
    local state = ({ current = "current", stale_soon = "STALE SOON", stale = "STALE", unavailable = "UNAVAILABLE",
                     not_yet_valid = "NOT YET VALID", no_next_update = "current (no next update)" })[e.state]
    out:write("  status:      ", paint(e.state == "current" and "green" or "red", state), "\n")
    for _, p in ipairs(e.problems) do
      problems = problems + 1
      out:write(paint("yellow", "  - " .. p.check), c.escape(": " .. p.message), "\n")
    end
  end
  if ok then
    out:write(paint("green", "Result: OK"), "\n")
  else
    out:write(paint("red", ("Result: PROBLEMS FOUND (%d)"):format(problems)), "\n")
  end
  return ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
