--- clientcert.cli: the `clientcert` command (scripted audits of certificates,
-- chains, policies and trust stores). Exit codes: 0 = accepted / ok,
-- 1 = rejected / problems found, 2 = usage error or unreadable input.
-- Not checked: anything the library does not check (see README "Limits").
local argparse = require "argparse"
local clientcert = require "clientcert"

local M = {}

local EXIT_OK, EXIT_REJECT, EXIT_ERROR = 0, 1, 2

-- days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- secs, err = cli.parse_time(s): Unix seconds, or "YYYY-MM-DD[THH:MM[:SS]][Z]" (UTC).
function M.parse_time(s)
  if s:match("^%-?%d+$") then return tonumber(s) end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "time must be Unix seconds or YYYY-MM-DD[THH:MM:SSZ], got '" .. s .. "'" end
  local h, mi, sec = 0, 0, 0
  if rest ~= "" then
    local hh, mm, ss = rest:match("^[T ](%d%d):(%d%d):?(%d?%d?)Z?$")
    if not hh then return nil, "cannot read the time of day in '" .. s .. "'" end
    h, mi, sec = tonumber(hh), tonumber(mm), tonumber(ss) or 0
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then
    return nil, "time out of range: '" .. s .. "'"
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
end

--- s = cli.iso(secs): "YYYY-MM-DDTHH:MM:SSZ" (the catalogue's formatter).
M.iso = require("clientcert.causes").iso

local function json()
  local ok, cjson = pcall(require, "cjson.safe")
  if not ok then return nil end
  return cjson
end

local function emit_json(out, v)
  local cjson = json()
  if not cjson then
    out:write("clientcert: --json needs lua-cjson\n")
    return false
  end
  local s = cjson.encode(v)
  out:write(s or "null", "\n")
  return true
end

local function build_parser()
  local p = argparse("clientcert", "Audit X.509 client certificates, chains, policies and trust stores.")
    :epilog("Exit status: 0 accepted/ok, 1 rejected/problems found, 2 usage error or unreadable input.\n"
      .. "Times are Unix seconds or YYYY-MM-DD[THH:MM:SSZ] (UTC).")
  p:command_target("command")

  local info = p:command("info", "Print what a certificate says (subject, issuer, dates, SAN, EKU, ...).")
  info:argument("cert", "Certificate file (PEM or DER); every certificate of a PEM bundle is shown.")
  info:flag("--json", "One JSON object per certificate, one per line.")

  local function verify_opts(c)
    c:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable."):count("*")
    c:option("--intermediates", "Intermediate CAs the server holds; repeatable."):count("*")
    c:option("--crl", "CRL file (PEM bundle or DER); repeatable."):count("*")
    c:option("--chain", "Certificates the client sent besides its own (PEM bundle)."):count("*")
    c:option("--time", "Check time instead of now (audit: would it be accepted then?).")
    c:option("--purpose", "Required purpose: client, server or any.", "client")
      :choices({ "client", "server", "any" })
    c:option("--crl-check", "Revocation check: none, leaf or chain (default: chain when a CRL is given).")
      :choices({ "none", "leaf", "chain" })
    c:option("--crl-missing", "When an issuer has no CRL: reject or allow.", "reject")
      :choices({ "reject", "allow" })
    c:option("--max-depth", "Longest path allowed (intermediates).", "10"):convert(tonumber)
    c:flag("--partial-chain", "Accept a path that ends at a trusted intermediate.")
    c:flag("--json", "Print the result as one JSON object.")
  end

  local verify = p:command("verify", "Verify a client certificate's chain and print the certification path.")
  verify:argument("cert", "Client certificate (PEM or DER). A PEM bundle's further certificates count as its chain.")
  verify_opts(verify)

  local check = p:command("check", "Apply a policy file to a client certificate and print the verdict.")
  check:argument("cert", "Client certificate (PEM or DER); '-' means the client sent none."):args("?")
  check:option("--policy", "Policy file (Lua, see examples/policies)."):count(1)
  check:option("--param", "KEY=VALUE passed to the policy file as params.KEY; repeat a key for a list.")
    :count("*")
  check:option("--chain", "Certificates the client sent besides its own."):count("*")
  check:option("--key", "The client's private key, to check that it matches the certificate.")
  check:option("--passphrase-env", "Environment variable holding the key's passphrase.")
  check:option("--time", "Check time instead of now.")
  check:flag("--json", "Print the verdict as one JSON object (the log format).")

  local audit = p:command("audit-store", "Check a trusted-root store: every root must be a self-signed CA, in date.")
  audit:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable."):count("+")
  audit:option("--time", "Check time instead of now.")
  audit:flag("--json", "Print the findings as one JSON object.")

  local mk = p:command("match-key", "Does a private key belong to a certificate?")
  mk:argument("cert", "Certificate file.")
  mk:argument("key", "Private key file (PEM or DER, PKCS#8 or traditional, encrypted or not).")
  mk:option("--passphrase-env", "Environment variable holding the key's passphrase.")
  return p
end

local function read(path, what)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("cannot open %s %s"):format(what, err) end
  local data = f:read("*a")
  f:close()
  return data
end

local function flat(list)
  local out = {}
  for _, v in ipairs(list or {}) do out[#out + 1] = v end
  return out
end

local function print_info(out, info, idx)
  local lines = {
    { "subject", info.subject }, { "issuer", info.issuer }, { "serial", info.serial },
    { "not before", M.iso(info.not_before) }, { "not after", M.iso(info.not_after) },
    { "self-signed", tostring(info.self_signed) },
    { "CA", tostring(info.is_ca) .. (info.path_len and (" (pathlen " .. info.path_len .. ")") or "") },
    { "key", ("%s %s%s"):format(info.public_key.type, tostring(info.public_key.bits or "?"),
      info.public_key.curve and (" " .. info.public_key.curve) or "") },
    { "signature", info.signature_algorithm }, { "sha256", info.fingerprint },
  }
  if idx then out:write(("certificate %d\n"):format(idx)) end
  for _, l in ipairs(lines) do out:write(("  %-12s %s\n"):format(l[1] .. ":", tostring(l[2]))) end
  local san = {}
  for _, s in ipairs(info.san or {}) do san[#san + 1] = s.type .. ":" .. s.value end
  out:write(("  %-12s %s\n"):format("SAN:", #san > 0 and table.concat(san, ", ") or "(none)"))
  out:write(("  %-12s %s\n"):format("EKU:", #info.eku > 0 and table.concat(info.eku, ", ") or "(none: any purpose)"))
  out:write(("  %-12s %s\n"):format("key usage:",
    #info.key_usage > 0 and table.concat(info.key_usage, ", ") or "(none)"))
end

--- cli.print_path(out, result): the certification path, top (root) first, as a
-- certification-path view shows it, each element with its status.
function M.print_path(out, result)
  out:write(("Certification path (checked at %s):\n"):format(M.iso(result.time)))
  for i = #result.chain, 1, -1 do
    local el = result.chain[i]
    local role = el.trusted and " [trusted]" or ""
    local indent = string.rep("  ", #result.chain - i + 1)
    out:write(("%s%s%s\n"):format(indent, el.subject, role))
    out:write(("%s  valid %s .. %s, serial %s: %s\n"):format(indent, M.iso(el.not_before),
      M.iso(el.not_after), el.serial, el.status))
    for _, p in ipairs(el.problems) do
      out:write(("%s    - %s (%s)\n"):format(indent, p.error, p.cause))
    end
  end
end

local function cmd_info(a, out)
  local list, err = clientcert.load_all(a.cert)
  if not list then
    local c, e2 = clientcert.load(a.cert)   -- DER
    if not c then out:write(err or e2, "\n") return EXIT_ERROR end
    list = { c }
  end
  for i, c in ipairs(list) do
    local info, ierr = c:info()
    if not info then out:write(ierr, "\n") return EXIT_ERROR end
    if a.json then
      if not emit_json(out, info) then return EXIT_ERROR end
    else
      print_info(out, info, #list > 1 and i or nil)
    end
  end
  return EXIT_OK
end

local function load_time(a, out)
  if not a.time then return os.time() end
  local t, err = M.parse_time(a.time)
  if not t then out:write("clientcert: ", err, "\n") end
  return t
end

local function cmd_verify(a, out)
  local when = load_time(a, out)
  if not when then return EXIT_ERROR end
  local store, err = clientcert.store{ roots = flat(a.roots), intermediates = flat(a.intermediates),
                                       crls = flat(a.crl) }
  if not store then out:write(err, "\n") return EXIT_ERROR end
  local certs, lerr = clientcert.load_all(a.cert)
  if not certs then
    local c = clientcert.load(a.cert)
    if not c then out:write(lerr, "\n") return EXIT_ERROR end
    certs = { c }
  end
  local chain = {}
  for i = 2, #certs do chain[#chain + 1] = certs[i] end
  for _, path in ipairs(a.chain or {}) do
    local more, cerr = clientcert.load_all(path)
    if not more then out:write(cerr, "\n") return EXIT_ERROR end
    for _, c in ipairs(more) do chain[#chain + 1] = c end
  end
  local result, verr = store:verify(certs[1], {
    chain = chain, time = when, purpose = a.purpose, crl = a.crl_check,
    crl_missing = a.crl_missing, max_depth = a.max_depth, partial_chain = a.partial_chain,
  })
  if not result then out:write(verr, "\n") return EXIT_ERROR end
  if a.json then
    if not emit_json(out, result) then return EXIT_ERROR end
  else
    M.print_path(out, result)
    out:write(result.ok and "Result: OK\n" or ("Result: FAILED (%s: %s)\n"):format(result.cause, result.error))
  end
  return result.ok and EXIT_OK or EXIT_REJECT
end

local function passphrase(a, out)
  if not a.passphrase_env then return nil, true end
  local v = os.getenv(a.passphrase_env)
  if not v then out:write("clientcert: environment variable ", a.passphrase_env, " is not set\n") return nil, false end
  return v, true
end

local function cmd_check(a, out)
  local when = load_time(a, out)
  if not when then return EXIT_ERROR end
  local params = {}
  for _, kv in ipairs(a.param or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then out:write("clientcert: --param wants KEY=VALUE, got '", kv, "'\n") return EXIT_ERROR end
    local old = params[k]
    if old == nil then params[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else params[k] = { old, v } end
  end
  local policy, perr = clientcert.load_policy(a.policy, params)
  if not policy then out:write(perr, "\n") return EXIT_ERROR end
  local req = { time = when, chain = {} }
  if a.cert and a.cert ~= "-" then
    local data, err = read(a.cert, "certificate")
    if not data then out:write("clientcert: ", err, "\n") return EXIT_ERROR end
    req.cert = data
  end
  for _, path in ipairs(a.chain or {}) do
    local data, err = read(path, "chain")
    if not data then out:write("clientcert: ", err, "\n") return EXIT_ERROR end
    req.chain[#req.chain + 1] = data
  end
  if a.key then
    local data, err = read(a.key, "key")
    if not data then out:write("clientcert: ", err, "\n") return EXIT_ERROR end
    local pass, ok = passphrase(a, out)
    if not ok then return EXIT_ERROR end
    req.key, req.passphrase = data, pass
  end
  local verdict = policy:check(req)
  if a.json then
    out:write(clientcert.verdict_json(verdict), "\n")
  else
    -- the IIS-style status: "403.17" for a rejection, "200" for an acceptance
    out:write(("%s %s %s\n"):format(verdict.accepted and "ACCEPTED" or "REJECTED",
      tostring(verdict.substatus or verdict.status), verdict.cause))
    out:write(verdict.title or "", "\n", verdict.message or "", "\n")
    if verdict.resolution and #verdict.resolution > 0 and not verdict.accepted then
      out:write("How to fix:\n")
      for i, step in ipairs(verdict.resolution) do
        out:write(("  %d. %s\n"):format(i, type(step) == "table" and
          (("[%s] %s"):format(step.who or "", step.step or step.text or "")) or tostring(step)))
      end
    end
    if verdict.also and #verdict.also > 0 then
      local ids = {}
      for _, x in ipairs(verdict.also) do ids[#ids + 1] = type(x) == "table" and (x.cause or x.id) or tostring(x) end
      out:write("Also: ", table.concat(ids, ", "), "\n")
    end
    if verdict.chain and #verdict.chain > 0 then
      M.print_path(out, { chain = verdict.chain, time = when })
    end
  end
  return verdict.accepted and EXIT_OK or EXIT_REJECT
end

local function cmd_audit(a, out)
  local when = load_time(a, out)
  if not when then return EXIT_ERROR end
  local store, err = clientcert.store{ roots = flat(a.roots) }
  if not store then out:write(err, "\n") return EXIT_ERROR end
  local report = require("clientcert.policy").audit_store(store, { time = when })
  if a.json then
    if not emit_json(out, report) then return EXIT_ERROR end
  else
    out:write(("%d trusted certificates checked at %s\n"):format(report.count or 0, M.iso(when)))
    for _, f in ipairs(report.findings or {}) do
      out:write(("- %s: %s\n"):format(f.cause, f.message))
    end
    out:write(report.ok and "Result: OK\n" or "Result: PROBLEMS FOUND\n")
  end
  return report.ok and EXIT_OK or EXIT_REJECT
end

local function cmd_match_key(a, out)
  local cert, err = clientcert.load(a.cert)
  if not cert then out:write(err, "\n") return EXIT_ERROR end
  local key, kerr = read(a.key, "key")
  if not key then out:write("clientcert: ", kerr, "\n") return EXIT_ERROR end
  local pass, ok = passphrase(a, out)
  if not ok then return EXIT_ERROR end
  local match, merr = cert:matches_key(key, pass)
  if match == nil then out:write(merr, "\n") return EXIT_ERROR end
  out:write(match and "the key matches the certificate\n" or "the key does NOT match the certificate\n")
  return match and EXIT_OK or EXIT_REJECT
end

--- code = cli.main(argv[, out]): runs one command; returns the exit status.
function M.main(argv, out)
  out = out or io.stdout
  local parser = build_parser()
  local ok, a = parser:pparse(argv)
  if not ok then
    io.stderr:write(parser:get_usage(), "\n\nclientcert: ", a, "\n")
    return EXIT_ERROR
  end
  local cmds = { info = cmd_info, verify = cmd_verify, check = cmd_check,
                 ["audit-store"] = cmd_audit, ["match-key"] = cmd_match_key }
  local run_ok, code = pcall(cmds[a.command], a, out)
  if not run_ok then
    out:write("clientcert: ", tostring(code), "\n")
    return EXIT_ERROR
  end
  return code
end

return M
