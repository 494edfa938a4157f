--- clientcert.cli: the `clientcert` command (scripted audits of certificates,
-- chains, policies and trust stores). Exit codes: 0 = accepted / ok,
-- 1 = rejected / problems found, 2 = usage error or unreadable input.
-- Not checked: anything the library does not check (see README "Limits").
local argparse = require "argparse"
local clientcert = require "clientcert"
local core = require "clientcert.core"
local util = require "clientcert.util"
local text = require "clientcert.text"

local unpack = table.unpack or unpack

local M = {}

local EXIT_OK, EXIT_REJECT, EXIT_ERROR = 0, 1, 2

--- secs, err = cli.parse_time(s): Unix seconds (digits only, 0 .. 253402300799),
-- "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ" (core.time_parse: a real
-- calendar date, nothing rolled over). err names what is wrong.
function M.parse_time(s)
  if s:match("^%d+$") then
    local n = #s <= 12 and tonumber(s)
    if not n or n > util.MAX_TIME then
      return nil, ("time '%s': past 9999-12-31T23:59:59Z (Unix seconds 0 .. %d)"):format(s, util.MAX_TIME)
    end
    return math.tointeger and math.tointeger(n) or n
  end
  local t, err = core.time_parse(s)
  if not t then
    if not (s:match("^%d%d%d%d%-%d%d%-%d%d$") or s:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$")) then
      err = "not Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)"
    end
    return nil, ("time '%s': %s"):format(s, (err:gsub("^clientcert%.time_parse: ", "")))
  end
  return t
end

-- n, err = max_depth(s): --max-depth as an integer >= 0 (the rule of util.integer).
local function max_depth(s)
  -- digits only: "1e3", "0x10" or 2^70 are not depths a person means (and lose precision)
  local n = s:match("^%d+$") and #s <= 15 and tonumber(s)
  if not n then return nil, ("--max-depth must be an integer 0 or more, got '%s'"):format(text.escape(s)) end
  local ok, v = pcall(util.integer, n, "verify", "--max-depth", 0, nil, 1)
  if not ok then return nil, (tostring(v):gsub("^clientcert%.verify: ", "")) end
  return v
end

--- s = cli.iso(secs): "YYYY-MM-DDTHH:MM:SSZ" (the catalogue's formatter).
M.iso = require("clientcert.causes").iso

-- put(stream, fmt, ...): writes one line; every argument that is not a number
-- goes through text.escape first, so no certificate-derived string (a subject,
-- a SAN value, a message built from them) reaches the terminal raw.
local function put(stream, f, ...)
  local args = { n = select("#", ...), ... }
  for i = 1, args.n do
    if type(args[i]) ~= "number" then args[i] = text.escape(tostring(args[i])) end
  end
  stream:write(f:format(unpack(args, 1, args.n)), "\n")
end

-- One JSON line (clientcert.text.json: controls, bidi and invalid bytes escaped).
local function emit_json(out, v)
  out:write(text.json(v), "\n")
  return true
end

local function build_parser()
  local p = argparse("clientcert", "Audit X.509 client certificates, chains, policies and trust stores.")
    :epilog("Exit status: 0 accepted/ok, 1 rejected/problems found, 2 usage error or unreadable input.\n"
      .. "Times are Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), up to 9999-12-31.")
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
    c:option("--max-depth", "Longest path allowed (intermediates); an integer >= 0.", "10"):convert(max_depth)
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

-- data, err = read(path, where): a regular file of at most 64 MiB (core.read_file:
-- a directory, FIFO or device is refused with "clientcert.<where>: <path>: ...").
local function read(path, where)
  return core.read_file(path, clientcert.MAX_FILE, where)
end

-- list, err = read_certs(path, where): every certificate of a PEM bundle, or one DER certificate.
local function read_certs(path, where)
  local data, err = read(path, where)
  if not data then return nil, err end
  local list, perr
  if data:find("-----BEGIN ", 1, true) then
    list, perr = clientcert.parse_all(data)
  else
    local c
    c, perr = clientcert.parse(data)
    list = c and { c }
  end
  if not list then
    return nil, ("clientcert.%s: %s: %s"):format(where, path, (tostring(perr):gsub("^clientcert%.[%w_%.]+: ", "")))
  end
  return list
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
  if idx then put(out, "certificate %d", idx) end
  for _, l in ipairs(lines) do put(out, "  %-12s %s", l[1] .. ":", l[2]) end
  local san = {}
  for _, s in ipairs(info.san or {}) do
    san[#san + 1] = tostring(s.type) .. ":" .. (s.oid and (tostring(s.oid) .. ":") or "") .. tostring(s.value)
  end
  put(out, "  %-12s %s", "SAN:", #san > 0 and table.concat(san, ", ") or "(none)")
  put(out, "  %-12s %s", "EKU:", #info.eku > 0 and table.concat(info.eku, ", ") or "(none: any purpose)")
  put(out, "  %-12s %s", "key usage:", #info.key_usage > 0 and table.concat(info.key_usage, ", ") or "(none)")
end

--- cli.print_path(out, result): the certification path, top (root) first, as a
-- certification-path view shows it, each element with its status.
function M.print_path(out, result)
  put(out, "Certification path (checked at %s):", M.iso(result.time))
  for i = #result.chain, 1, -1 do
    local el = result.chain[i]
    local indent = string.rep("  ", #result.chain - i + 1)
    put(out, "%s%s%s", indent, el.subject, el.trusted and " [trusted]" or "")
    put(out, "%s  valid %s .. %s, serial %s: %s", indent, M.iso(el.not_before), M.iso(el.not_after), el.serial,
      el.status)
    for _, p in ipairs(el.problems or {}) do put(out, "%s    - %s (%s)", indent, p.error, p.cause) end
  end
end

local function cmd_info(a, out, eout)
  local list, err = read_certs(a.cert, "info")
  if not list then put(eout, "%s", err) return EXIT_ERROR end
  for i, c in ipairs(list) do
    local info, ierr = c:info()
    if not info then put(eout, "%s", ierr) return EXIT_ERROR end
    if a.json then
      if not emit_json(out, info) then return EXIT_ERROR end
    else
      print_info(out, info, #list > 1 and i or nil)
    end
  end
  return EXIT_OK
end

local function load_time(a, eout)
  if not a.time then return os.time() end
  local t, err = M.parse_time(a.time)
  if not t then put(eout, "clientcert: %s", err) end
  return t
end

local function cmd_verify(a, out, eout)
  local when = load_time(a, eout)
  if not when then return EXIT_ERROR end
  local store, err = clientcert.store{ roots = flat(a.roots), intermediates = flat(a.intermediates),
                                       crls = flat(a.crl) }
  if not store then put(eout, "%s", err) return EXIT_ERROR end
  local certs, lerr = read_certs(a.cert, "verify")
  if not certs then put(eout, "%s", lerr) return EXIT_ERROR end
  local chain = {}
  for i = 2, #certs do chain[#chain + 1] = certs[i] end
  for _, path in ipairs(a.chain or {}) do
    local more, cerr = read_certs(path, "verify")
    if not more then put(eout, "%s", cerr) return EXIT_ERROR end
    for _, c in ipairs(more) do chain[#chain + 1] = c end
  end
  local result, verr = store:verify(certs[1], {
    chain = chain, time = when, purpose = a.purpose, crl = a.crl_check,
    crl_missing = a.crl_missing, max_depth = a.max_depth, partial_chain = a.partial_chain,
  })
  if not result then put(eout, "%s", verr) return EXIT_ERROR end
  if a.json then
    if not emit_json(out, result) then return EXIT_ERROR end
  else
    M.print_path(out, result)
    -- the error of the problem that gave "the" cause (causes.primary), not OpenSSL's first
    local why = result.error
    for _, p in ipairs(result.problems or {}) do
      if p.cause == result.cause then why = p.error break end
    end
    if result.ok then put(out, "Result: OK") else put(out, "Result: FAILED (%s: %s)", result.cause, why) end
  end
  return result.ok and EXIT_OK or EXIT_REJECT
end

local function passphrase(a, eout)
  if not a.passphrase_env then return nil, true end
  local v = os.getenv(a.passphrase_env)
  if not v then put(eout, "clientcert: environment variable %s is not set", a.passphrase_env) return nil, false end
  return v, true
end

local function cmd_check(a, out, eout)
  local when = load_time(a, eout)
  if not when then return EXIT_ERROR end
  local params = {}
  for _, kv in ipairs(a.param or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then put(eout, "clientcert: --param wants KEY=VALUE, got '%s'", kv) return EXIT_ERROR end
    local old = params[k]
    if old == nil then params[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else params[k] = { old, v } end
  end
  local policy, perr = clientcert.load_policy(a.policy, params)
  if not policy then put(eout, "%s", perr) return EXIT_ERROR end
  local req = { time = when, chain = {} }
  if a.cert and a.cert ~= "-" then
    local data, err = read(a.cert, "check")
    if not data then put(eout, "%s", err) return EXIT_ERROR end
    req.cert = data
  end
  for _, path in ipairs(a.chain or {}) do
    local data, err = read(path, "check")
    if not data then put(eout, "%s", err) return EXIT_ERROR end
    req.chain[#req.chain + 1] = data
  end
  if a.key then
    local data, err = read(a.key, "check")
    if not data then put(eout, "%s", err) return EXIT_ERROR end
    local pass, ok = passphrase(a, eout)
    if not ok then return EXIT_ERROR end
    req.key, req.passphrase = data, pass
  end
  local verdict = policy:check(req)
  if a.json then
    out:write(clientcert.verdict_json(verdict), "\n")
  else
    -- the IIS-style status: "403.17" for a rejection, "200" for an acceptance
    put(out, "%s %s %s", verdict.accepted and "ACCEPTED" or "REJECTED", verdict.substatus or verdict.status,
      verdict.cause)
    put(out, "%s", verdict.title or "")
    put(out, "%s", verdict.message or "")
    if verdict.resolution and #verdict.resolution > 0 and not verdict.accepted then
      put(out, "How to fix:")
      for i, step in ipairs(verdict.resolution) do
        put(out, "  %d. %s", i, type(step) == "table" and
          (("[%s] %s"):format(tostring(step.who or ""), tostring(step.step or step.text or ""))) or tostring(step))
      end
    end
    if verdict.also and #verdict.also > 0 then
      local ids = {}
      for _, x in ipairs(verdict.also) do
        ids[#ids + 1] = type(x) == "table" and tostring(x.cause or x.id) or tostring(x)
      end
      put(out, "Also: %s", table.concat(ids, ", "))
    end
    if verdict.chain and #verdict.chain > 0 then
      M.print_path(out, { chain = verdict.chain, time = when })
    end
  end
  return verdict.accepted and EXIT_OK or EXIT_REJECT
end

local function cmd_audit(a, out, eout)
  local when = load_time(a, eout)
  if not when then return EXIT_ERROR end
  local store, err = clientcert.store{ roots = flat(a.roots) }
  if not store then put(eout, "%s", err) return EXIT_ERROR end
  local report = require("clientcert.policy").audit_store(store, { time = when })
  if a.json then
    if not emit_json(out, report) then return EXIT_ERROR end
  else
    put(out, "%d trusted certificates checked at %s", report.count or 0, M.iso(when))
    for _, f in ipairs(report.findings or {}) do put(out, "- %s: %s", f.cause, f.message) end
    put(out, "%s", report.ok and "Result: OK" or "Result: PROBLEMS FOUND")
  end
  return report.ok and EXIT_OK or EXIT_REJECT
end

local function cmd_match_key(a, out, eout)
  local cert, err = clientcert.load(a.cert)
  if not cert then put(eout, "%s", err) return EXIT_ERROR end
  local key, kerr = read(a.key, "match_key")
  if not key then put(eout, "%s", kerr) return EXIT_ERROR end
  local pass, ok = passphrase(a, eout)
  if not ok then return EXIT_ERROR end
  local match, merr = cert:matches_key(key, pass)
  if match == nil then put(eout, "%s", merr) return EXIT_ERROR end
  put(out, "%s", match and "the key matches the certificate" or "the key does NOT match the certificate")
  return match and EXIT_OK or EXIT_REJECT
end

--- code = cli.main(argv[, out[, err]]): runs one command; returns the exit status.
-- Results go to out (default io.stdout), errors to err (default io.stderr): one
-- line "clientcert...: <what>" for an unreadable input or a usage error (exit 2).
function M.main(argv, out, eout)
  out, eout = out or io.stdout, eout or io.stderr
  local parser = build_parser()
  local ok, a = parser:pparse(argv)
  if not ok then
    eout:write(parser:get_usage(), "\n\nclientcert: ", text.escape(a), "\n")
    return EXIT_ERROR
  end
  local cmds = { info = cmd_info, verify = cmd_verify, check = cmd_check,
                 ["audit-store"] = cmd_audit, ["match-key"] = cmd_match_key }
  local run_ok, code = pcall(cmds[a.command], a, out, eout)
  if not run_ok then
    put(eout, "clientcert: %s", code)
    return EXIT_ERROR
  end
  return code
end

return M
