--- clientcert audit-client CERT: the client's side of client-certificate
-- authentication. Does the key match the certificate, does the certificate allow
-- TLS client authentication (extended key usage, key usage), is the chain the
-- client sends complete (which intermediate is missing, by its name), and when
-- does each element expire. Findings carry catalogue causes; exit 0 when there is
-- none, 1 with findings, 2 for unreadable input.
-- Not checked: revocation (see `check --crl`), and without --roots whether the
-- last issuer the chain names is a root the server trusts (reported as unknown).
local clientcert = require "clientcert"
local verdicts = require "clientcert.verdict"
local text = require "clientcert.text"
local c = require "clientcert.cli.common"

local M = { name = "audit-client",
            summary = "The client's side: its key, client-authentication usage, the chain it sends, expiry." }

local DAY = 86400

function M.define(cmd)
  cmd:argument("cert", "Client certificate: PEM (a bundle's further certificates count as the chain it sends), "
    .. "DER, PKCS#12 (.p12/.pfx: its key and certificates count too), or '-' for standard input.")
  cmd:option("--key", "The client's private key (PEM or DER), to check that it matches the certificate.")
  cmd:option("--passphrase-env", "Environment variable holding the --key file's passphrase.")
  cmd:option("--password-env", "Environment variable holding the PKCS#12 file's password.")
  cmd:option("--chain", "Further certificates the client sends (PEM bundle or DER); repeatable."):count("*")
  cmd:option("--roots", "The server's trusted roots (PEM bundle or DER; repeatable): the chain is complete "
    .. "when it reaches one of them."):count("*")
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the audit as one JSON object.")
  cmd:flag("--ascii", "Draw the chain with ASCII marks (+, x) instead of UTF-8 (✓, ✗).")
end

-- A finding: the catalogue's cause with its message and resolution for facts
-- (clientcert.verdict). The steps are worded for the server the client meets
-- (deployment "server"), not for this command: it takes no --intermediates or
-- --policy for a server operator's step to name.
local function finding(id, facts, depth)
  local f = verdicts.finding(id, facts, "server")
  f.depth = depth
  return f
end

-- An element of the path as verdicts name it: "the client certificate CN=...",
-- "the intermediate CA CN=... (chain depth 1)", "the root CA CN=... (chain depth 2)".
local function role(el)
  return verdicts.facts(nil, el).element
end

-- The path the client's certificates make, by issuer name: the leaf, then for
-- each element the first unused certificate sent (or, at the top, a root given)
-- whose subject is that element's issuer. Returns the elements (depth 0 = leaf,
-- each {info fields..., sent, trusted}), the certificates sent but not used, and
-- the issuer name that was found nowhere (nil when the path ends at a self-signed
-- certificate or a given root).
local function build_path(leaf, sent, roots)
  local function element(info, depth, how)
    return { subject = info.subject, issuer = info.issuer, serial = info.serial, not_before = info.not_before,
             not_after = info.not_after, self_signed = info.self_signed, is_ca = info.is_ca, depth = depth,
             sent = how == "sent", trusted = how == "root", problems = {}, info = info }
  end
  local path = { element(leaf, 0, "sent") }
  local used = {}
  local missing
  while true do
    local top = path[#path]
    if top.self_signed or top.trusted or #path > 32 then break end
    local found
    for i, s in ipairs(sent) do
      if not used[i] and s.subject == top.issuer then found, used[i] = s, true break end
    end
    if found then
      path[#path + 1] = element(found, #path, "sent")
    else
      for _, r in ipairs(roots) do
        if r.subject == top.issuer then found = r break end
      end
      if found then path[#path + 1] = element(found, #path, "root")
      else missing = top.issuer break end
    end
  end
  local unused = {}
  for i, s in ipairs(sent) do if not used[i] then unused[#unused + 1] = s.subject end end
  return path, unused, missing
end

-- infos | nil, err: info() of each certificate object.
local function infos(list)
  local out = {}
  for i, x in ipairs(list) do
    local info, err = x:info()
    if not info then return nil, err end
    out[i] = info
  end
  return out
end

-- The strict profile's rules each element of the path breaks (clientcert.audit):
-- findings that reject nothing (report.ok and the exit code do not count them).
-- The top of the path is a trust anchor when it comes from --roots or is self-signed.
local function profile_findings(path)
  local items = {}
  for i, el in ipairs(path) do
    items[i] = { info = el.info, depth = el.depth,
                 trusted = el.trusted or (i == #path and i > 1 and el.self_signed) or false }
  end
  return require("clientcert.audit").profile_findings(items)
end

-- report | nil, err: the audit (see docs/cli.md "clientcert audit-client").
local function audit(a, client, key, pass, when)
  local leaf, lerr = client.cert:info()
  if not leaf then return nil, lerr end
  local sent_certs = {}
  for _, x in ipairs(client.chain) do sent_certs[#sent_certs + 1] = x end
  for _, path in ipairs(a.chain) do
    local more, err = c.read_certs(path, "audit_client")
    if not more then return nil, err end
    for _, x in ipairs(more) do sent_certs[#sent_certs + 1] = x end
  end
  local sent, serr = infos(sent_certs)
  if not sent then return nil, serr end
  local store, roots = nil, {}
  if #a.roots > 0 then
    local err
    store, err = clientcert.store{ roots = c.flat(a.roots) }
    if not store then return nil, err end
    roots, err = infos(store:roots())
    if not roots then return nil, err end
  end

  local findings = {}
  local report = { time = when, client = { subject = leaf.subject, issuer = leaf.issuer, serial = leaf.serial,
                                           fingerprint = leaf.fingerprint } }

  -- 1. the private key
  report.key = { checked = false }
  if key then
    local match, kerr = client.cert:matches_key(key.data, pass, "audit_client", key.path or "the PKCS#12 file's key")
    if match == nil then return nil, kerr end
    report.key = { checked = true, matches = match, source = key.source }
    if not match then
      findings[#findings + 1] = finding("no_private_key", { subject = leaf.subject, serial = leaf.serial,
        error = key.source == "--key" and "the --key file is the key of another certificate"
          or "the key is for another certificate" }, 0)
    end
  elseif client.format == "PKCS#12" then
    report.key = { checked = true, matches = false, source = "the PKCS#12 file" }
    findings[#findings + 1] = finding("no_private_key", { subject = leaf.subject, serial = leaf.serial,
      error = "the PKCS#12 file holds no private key" }, 0)
  end

  -- 2. may it authenticate a TLS client?
  local eku_ok = #leaf.eku == 0
  for _, u in ipairs(leaf.eku) do
    if u == "clientAuth" or u == "anyExtendedKeyUsage" then eku_ok = true end
  end
  local ku_ok = #leaf.key_usage == 0
  for _, u in ipairs(leaf.key_usage) do if u == "digitalSignature" then ku_ok = true end end
  report.client_auth = { ok = eku_ok and ku_ok, eku = leaf.eku, key_usage = leaf.key_usage }
  local element = "the client certificate " .. leaf.subject
  if not eku_ok then
    findings[#findings + 1] = finding("wrong_purpose", { element = element, eku = leaf.eku,
      error = "its extended key usage does not include clientAuth" }, 0)
  elseif not ku_ok then
    findings[#findings + 1] = finding("wrong_purpose", { element = element, eku = leaf.eku,
      error = "its key usage does not include digitalSignature" }, 0)
  end

  -- 3. the chain the client sends, and 4. when each element expires
  local path, unused, missing = build_path(leaf, sent, roots)
  local top = path[#path]
  -- complete: true, false, or nil (unknown: without roots, the issuer not sent may be a root)
  local complete = true
  if missing then
    if store then complete = false else complete = nil end
  elseif store and not top.trusted then
    complete = false -- a self-signed root the client sends that the server does not trust
  end
  report.chain = { complete = complete, missing = missing, unused = unused, elements = {} }
  if missing and store then
    local f = finding("missing_intermediate", { element = role(top), element_issuer = missing,
      subject = leaf.subject }, top.depth)
    f.missing = missing
    findings[#findings + 1] = f
    table.insert(top.problems, { cause = "missing_intermediate", error = "its issuer " .. missing
      .. " is not sent by the client" })
  elseif store and top.self_signed and not top.trusted then
    findings[#findings + 1] = finding("untrusted_root", { element = role(top), subject = leaf.subject,
      error = "the server's roots do not include it" }, top.depth)
    table.insert(top.problems, { cause = "untrusted_root", error = "not among the given roots" })
  end
  for _, el in ipairs(path) do
    local days = math.floor((el.not_after - when) / DAY)
    report.chain.elements[#report.chain.elements + 1] = {
      depth = el.depth, subject = el.subject, issuer = el.issuer, serial = el.serial,
      not_before = el.not_before, not_after = el.not_after, days_left = days, sent = el.sent,
      from_roots = el.trusted, self_signed = el.self_signed,
    }
    local facts = { element = role(el), element_not_after = el.not_after, element_not_before = el.not_before,
                    time = when }
    if el.not_after < when then
      findings[#findings + 1] = finding("expired", facts, el.depth)
      table.insert(el.problems, { cause = "expired", error = ("expired %d days ago"):format(-days) })
    elseif el.not_before > when then
      findings[#findings + 1] = finding("not_yet_valid", facts, el.depth)
      table.insert(el.problems, { cause = "not_yet_valid", error = "not valid before " .. c.iso(el.not_before) })
    end
  end
  for _, f in ipairs(findings) do
    if f.cause == "wrong_purpose" then
      table.insert(path[1].problems, { cause = "wrong_purpose", error = "not allowed for client authentication" })
    elseif f.cause == "no_private_key" then
      table.insert(path[1].problems, { cause = "no_private_key", error = "no matching private key" })
    end
  end

  -- with roots: anything else the verification finds on the path the client sends
  -- (signatures, CA constraints, purposes of the CAs) that the checks above did not
  if store then
    local result = store:verify(client.cert, { chain = sent_certs, time = when, purpose = "client", crl = "none" })
    local seen = {}
    for _, f in ipairs(findings) do seen[f.cause] = true end
    seen.untrusted_root = seen.untrusted_root or seen.missing_intermediate
    seen.missing_intermediate = seen.untrusted_root
    for _, p in ipairs(result and result.problems or {}) do
      if not seen[p.cause] then
        seen[p.cause] = true
        local el = result.chain[math.min((p.depth or 0) + 1, #result.chain)]
        findings[#findings + 1] = finding(p.cause, { element = el and role(el) or element, subject = leaf.subject,
          error = p.error, eku = leaf.eku, element_issuer = el and el.issuer, element_serial = el and el.serial,
          time = when }, p.depth)
        local on = path[(p.depth or 0) + 1]
        if on then table.insert(on.problems, { cause = p.cause, error = p.error }) end
      end
    end
  end
  report.findings = findings
  report.ok = #findings == 0
  report.profile_findings = profile_findings(path)
  return report, path
end

-- The key to check: --key FILE, or the PKCS#12 file's own key. nil, err for an unreadable file.
local function load_key(a, client)
  if a.key then
    local data, err = c.read(a.key, "audit_client")
    if not data then return nil, err end
    return { data = data, source = "--key", path = a.key }
  end
  if client.key then return { data = client.key, source = "the PKCS#12 file" } end
  return false
end

local function print_text(out, report, path, a)
  local paint = c.painter(out)
  local esc = text.escape
  local g = a.ascii and { ok = "+", bad = "x", unknown = "?" } or { ok = "✓", bad = "✗", unknown = "?" }
  local function line(state, label, what)
    local mark = state == true and paint("green", g.ok) or state == false and paint("red", g.bad)
      or paint("yellow", g.unknown)
    out:write(mark, " ", label, ": ", esc(what), "\n")
  end
  c.put(out, "Client certificate: %s (serial %s)", report.client.subject, report.client.serial)
  c.put(out, "Checked at %s", c.iso(report.time))
  out:write("\n")
  local k = report.key
  if not k.checked then
    line(nil, "Private key", "not checked (give --key FILE, or a PKCS#12 file with its key)")
  elseif k.matches then
    line(true, "Private key", (k.source == "--key" and "the --key file" or "the key in " .. k.source)
      .. " matches the certificate")
  else
    line(false, "Private key", k.source == "the PKCS#12 file" and "the PKCS#12 file holds no private key"
      or "the --key file does NOT match the certificate")
  end
  local ca = report.client_auth
  local usage = ("extended key usage: %s; key usage: %s"):format(
    #ca.eku > 0 and table.concat(ca.eku, ", ") or "(none: any purpose)",
    #ca.key_usage > 0 and table.concat(ca.key_usage, ", ") or "(none)")
  line(ca.ok, "Client authentication", (ca.ok and "allowed (" or "NOT allowed (") .. usage .. ")")
  local ch = report.chain
  if ch.complete == true then
    local top = ch.elements[#ch.elements]
    line(true, "Chain sent", top.from_roots and ("complete up to the trusted root " .. top.subject)
      or top.self_signed and ("complete up to the root " .. top.subject .. " (sent by the client)")
      or "complete")
  elseif ch.missing and ch.complete == false then
    line(false, "Chain sent", "incomplete: the intermediate CA " .. ch.missing .. " is missing (not sent)")
  elseif ch.complete == false then
    line(false, "Chain sent", "ends at a root the server does not trust: " .. ch.elements[#ch.elements].subject)
  else
    line(nil, "Chain sent", "ends at " .. ch.elements[#ch.elements].subject .. ", issued by " .. tostring(ch.missing)
      .. ", which the client does not send: complete only if that is a root the server trusts "
      .. "(give --roots to check)")
  end
  if #ch.unused > 0 then
    line(nil, "Also sent", "not part of the path: " .. table.concat(ch.unused, "; "))
  end
  out:write("\n")
  local tree_opts = { heading = false, ascii = a.ascii, paint = paint,
                      missing_text = ch.complete == nil and "not sent by the client: a root the server trusts?"
                        or "not sent by the client" }
  c.put(out, "Chain the client sends (root at the top):")
  c.path_tree(out, path, tree_opts)
  out:write("\n")
  c.put(out, "Expiry:")
  for _, el in ipairs(ch.elements) do
    local when
    if el.days_left < 0 then when = ("expired %d days ago"):format(-el.days_left)
    else when = ("in %d days"):format(el.days_left) end
    c.put(out, "  %s: %s (%s)%s", el.subject, c.iso(el.not_after), when, el.from_roots and ", from --roots" or "")
  end
  out:write("\n")
  if #report.profile_findings > 0 then
    c.print_profile_findings(out, report.profile_findings, paint)
    out:write("\n")
  end
  if report.ok then
    out:write(paint("green", "Result: OK"), "\n")
    return
  end
  c.put(out, "Findings:")
  for i, f in ipairs(report.findings) do
    c.put(out, "%d. %s (%s %s)", i, f.cause, f.substatus, f.title)
    c.put(out, "   %s", f.message)
    c.print_steps(out, f.resolution, "   ")
  end
  out:write(paint("red", ("Result: %d finding%s"):format(#report.findings, #report.findings == 1 and "" or "s")),
    "\n")
end

function M.run(a, out, eout)
  a.chain, a.roots = c.flat(a.chain), c.flat(a.roots)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  if not c.passphrase_with_key(a, eout) then return c.EXIT_ERROR end
  local password, pok = c.password(a, eout)
  if not pok then return c.EXIT_ERROR end
  local client, err = c.read_client(a.cert, "audit_client", password)
  if not client then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local key, kerr = load_key(a, client)
  if key == nil then c.put(eout, "%s", kerr) return c.EXIT_ERROR end
  local pass, ok = c.passphrase(a, eout)
  if not ok then return c.EXIT_ERROR end
  local report, path = audit(a, client, key or nil, pass, when)
  if not report then c.put(eout, "%s", path) return c.EXIT_ERROR end
  if a.json then
    c.emit_json(out, report)
  else
    print_text(out, report, path, a)
  end
  return report.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
