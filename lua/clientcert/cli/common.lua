--- clientcert.cli.common: what every `clientcert` subcommand shares: exit codes,
-- escaped output, bounded reads, times, colour. Each subcommand is a module
-- clientcert.cli.<name> returning { name =, summary =, define = function(cmd),
-- run = function(args, out, eout) -> exit code } (see clientcert.cli).
local clientcert = require "clientcert"
local core = require "clientcert.core"
local util = require "clientcert.util"
local text = require "clientcert.text"
local input = require "clientcert.input"

local compat = require "clientcert.compat"

local M = {}

M.EXIT_OK, M.EXIT_REJECT, M.EXIT_ERROR = 0, 1, 2

--- s = common.escape(s): text.escape (controls, bidi and invalid bytes made visible).
M.escape = text.escape

--- s = common.iso(secs): "YYYY-MM-DDTHH:MM:SSZ" (the catalogue's formatter).
M.iso = require("clientcert.causes").iso

--- secs, err = common.parse_time(s): Unix seconds (digits only, 0 .. 253402300799),
-- "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ" (core.time_parse: a real
-- calendar date, nothing rolled over). err names what is wrong.
function M.parse_time(s)
  if s:match("^%d+$") then
    local n = #s <= 12 and tonumber(s)
    if not n or n > util.MAX_TIME then
      return nil, ("time '%s': past 9999-12-31T23:59:59Z (Unix seconds 0 .. %d)"):format(s, util.MAX_TIME)
    end
    return compat.tointeger(n)
  end
  local t, err = core.time_parse(s)
  if not t then
    if not (s:match("^%d%d%d%d%-%d%d%-%d%d$") or s:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$")) then
      err = "not Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)"
    end
    return nil, ("time '%s': %s"):format(text.escape(s), (err:gsub("^clientcert%.time_parse: ", "")))
  end
  return t
end

--- n, err = common.max_depth(s): --max-depth as an integer >= 0 (the rule of util.integer).
function M.max_depth(s)
  -- digits only: "1e3", "0x10" or 2^70 are not depths a person means (and lose precision)
  local n = s:match("^%d+$") and #s <= 15 and tonumber(s)
  if not n then return nil, ("--max-depth must be an integer 0 or more, got '%s'"):format(text.escape(s)) end
  local ok, v = pcall(util.integer, n, "verify", "--max-depth", 0, nil, 1)
  if not ok then return nil, (tostring(v):gsub("^clientcert%.verify: ", "")) end
  return v
end

--- common.put(stream, fmt, ...): writes one line; every argument that is not a
-- number goes through text.escape first, so no certificate-derived string (a
-- subject, a SAN value, a message built from them) reaches the terminal raw.
function M.put(stream, f, ...)
  local args = { n = select("#", ...), ... }
  for i = 1, args.n do
    if type(args[i]) ~= "number" then args[i] = text.escape(tostring(args[i])) end
  end
  stream:write(f:format(compat.unpack(args, 1, args.n)), "\n")
end

--- common.emit_json(out, v): one JSON document on one line (clientcert.text.json:
-- controls, bidi and invalid bytes escaped).
function M.emit_json(out, v)
  out:write(text.json(v), "\n")
  return true
end

--- yes = common.is_terminal(stream): io.stdout / io.stderr when that descriptor is a terminal.
function M.is_terminal(stream)
  if stream == io.stdout then return core.isatty(1) end
  if stream == io.stderr then return core.isatty(2) end
  return false
end

local SGR = { red = "31", green = "32", yellow = "33", bold = "1", dim = "2" }

--- paint = common.painter(stream): paint(colour, s) wraps s in an ANSI colour
-- (red, green, yellow, bold, dim) when stream is a terminal and NO_COLOR is unset
-- or empty (https://no-color.org); otherwise returns s unchanged. s must already be
-- escaped (text.escape); write the result with stream:write, not common.put (put
-- would escape the colour codes themselves).
function M.painter(stream)
  local no_color = os.getenv("NO_COLOR")
  if not M.is_terminal(stream) or (no_color and no_color ~= "") then
    return function(_, s) return s end
  end
  return function(colour, s)
    local code = SGR[colour]
    if not code then error("clientcert.cli: unknown colour " .. tostring(colour), 2) end
    return "\27[" .. code .. "m" .. s .. "\27[0m"
  end
end

--- data, err = common.read(path, where): a regular file of at most input.MAX bytes
-- (clientcert.input.read: a directory, FIFO or device is refused with "clientcert.<where>: <path>: ...").
function M.read(path, where)
  return input.read(path, where)
end

--- list, err = common.read_certs(path, where): every certificate of a PEM bundle, or one DER certificate.
function M.read_certs(path, where)
  return input.load("cert", path, where)
end

--- t = common.flat(list): a plain array copy of an argparse list (nil gives {}).
function M.flat(list)
  local out = {}
  for _, v in ipairs(list or {}) do out[#out + 1] = v end
  return out
end

--- store, err = common.server_store(args): the server's store from --roots,
-- --intermediates and --crl (each a list of files; absent ones are empty).
function M.server_store(a)
  return clientcert.store{ roots = M.flat(a.roots), intermediates = M.flat(a.intermediates),
                           crls = M.flat(a.crl) }
end

--- params | nil, err = common.read_params(list): --param KEY=VALUE options as the
-- params table of a policy file (a repeated key gives a list).
function M.read_params(list)
  local params = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then return nil, ("clientcert: --param wants KEY=VALUE, got '%s'"):format(kv) end
    local old = params[k]
    if old == nil then params[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else params[k] = { old, v } end
  end
  return params
end

--- secs = common.load_time(args, eout): --time, or now; nil after printing the error.
function M.load_time(a, eout)
  if not a.time then return os.time() end
  local t, err = M.parse_time(a.time)
  if not t then M.put(eout, "clientcert: %s", err) end
  return t
end

-- v, ok = env_value(var, eout): the value of the environment variable var (nil: no
-- such option given, nil, true); ok false (after printing the error) when it is not set.
local function env_value(var, eout)
  if not var then return nil, true end
  local v = os.getenv(var)
  if not v then M.put(eout, "clientcert: environment variable %s is not set", var) return nil, false end
  return v, true
end

--- ok = common.passphrase_with_key(args, eout): false (after printing the error) when
-- --passphrase-env is given without a key file for it (it would be ignored).
function M.passphrase_with_key(a, eout)
  if a.passphrase_env and not a.key then
    M.put(eout, "clientcert: --passphrase-env goes with --key (the passphrase of that key file)")
    return false
  end
  return true
end

--- pass, ok = common.passphrase(args, eout): the value of --passphrase-env's variable;
-- ok false (after printing the error) when the variable is not set or there is no key.
function M.passphrase(a, eout)
  if not M.passphrase_with_key(a, eout) then return nil, false end
  return env_value(a.passphrase_env, eout)
end

--- data, err = common.read_input(path, where): common.read, or standard input for
-- "-" (at most input.MAX bytes; empty input is an error).
function M.read_input(path, where)
  if path ~= "-" then return M.read(path, where) end
  local parts, size = {}, 0
  while true do
    local chunk = io.stdin:read(65536)
    if not chunk then break end
    size = size + #chunk
    if size > input.MAX then
      return nil, ("clientcert.%s: standard input: larger than %d bytes"):format(where, input.MAX)
    end
    parts[#parts + 1] = chunk
  end
  if size == 0 then return nil, ("clientcert.%s: standard input: no data"):format(where) end
  return table.concat(parts)
end

--- client, err = common.read_client(path, where, password): what a client presents,
-- from a file (or "-", standard input): a PEM bundle (its first certificate is the
-- client's, the others count as the chain it sends), one DER certificate, or a
-- PKCS#12 file (core.parse_pkcs12 with password, which may be nil). client =
-- {cert = cert object, chain = {cert, ...}, key = PEM | nil (from a PKCS#12),
-- format = "PEM" | "DER" | "PKCS#12"}; err names the path and what is wrong.
function M.read_client(path, where, password)
  local data, err = M.read_input(path, where)
  if not data then return nil, err end
  local name = path == "-" and "standard input" or path
  local function fail(e)
    return nil, ("clientcert.%s: %s: %s"):format(where, name, (tostring(e):gsub("^clientcert%.[%w_%.]+: ", "")))
  end
  if input.is_pem(data) then
    local list, perr = input.parse("cert", data, where, name)
    if not list then return nil, perr end
    local chain = {}
    for i = 2, #list do chain[#chain + 1] = list[i] end
    return { cert = list[1], chain = chain, format = "PEM" }
  end
  local cert, derr = clientcert.parse(data)
  if cert then return { cert = cert, chain = {}, format = "DER" } end
  local p12, perr = core.parse_pkcs12(data, password)
  if p12 then return { cert = p12.cert, chain = p12.chain, key = p12.key, format = "PKCS#12" } end
  if perr:find("not a PKCS#12 file", 1, true) then
    return fail("neither a certificate (PEM or DER: " .. derr:gsub("^clientcert%.[%w_%.]+: ", "")
      .. ") nor a PKCS#12 file")
  end
  if password == nil and perr:find("password", 1, true) then
    perr = perr .. "; give it with --password-env VAR"
  end
  return fail(perr)
end

--- pass, ok = common.password(args, eout): the value of --password-env's variable
-- (a PKCS#12 password); ok false (after printing the error) when it is not set.
function M.password(a, eout) return env_value(a.password_env, eout) end

-- The glyphs of common.path_tree: UTF-8 (the default) or ASCII (--ascii).
local GLYPHS = {
  utf8 = { ok = "✓", bad = "✗", branch = "└─ " },
  ascii = { ok = "+", bad = "x", branch = "`- " },
}

-- Display width of s: code points, not bytes (the glyphs and names are UTF-8).
local function width(s)
  local n = 0
  for _ in s:gmatch("[^\128-\191]") do n = n + 1 end
  return n
end

--- common.path_tree(out, chain, opts): the certification path as a tree, the way
-- the Windows "Certification Path" tab shows it: the root at the top, the client
-- at the bottom, each element indented under its issuer with a connector, with a
-- mark (✓ no problem, ✗ a problem), its subject, validity and serial, and under it
-- one line per problem ("<cause>: <error>"). chain: store:verify's or a verdict's
-- chain (depth 0 = the client). When the top element is neither self-signed nor
-- trusted, its issuer is shown above it as not found. opts: time (the check time,
-- for the heading), ascii (ASCII glyphs "+", "x", "`- "), paint (common.painter),
-- extra = {[depth] = {{cause =, error =}, ...}} (problems found outside the
-- verification, e.g. a key that does not match), heading (false: none),
-- missing_text (what the line of an issuer not found says in parentheses).
-- Every certificate-derived string is escaped.
function M.path_tree(out, chain, opts)
  opts = opts or {}
  local g = opts.ascii and GLYPHS.ascii or GLYPHS.utf8
  local paint = opts.paint or function(_, s) return s end
  local esc = text.escape
  if opts.heading ~= false then
    M.put(out, "Certification path (checked at %s):", M.iso(opts.time))
  end
  if not chain or #chain == 0 then
    M.put(out, "  (none: there is no client certificate)")
    return
  end
  local rows = {}
  local top = chain[#chain]
  if not top.self_signed and not top.trusted then
    rows[#rows + 1] = { missing = top.issuer }
  end
  for i = #chain, 1, -1 do rows[#rows + 1] = { el = chain[i] } end
  for k, row in ipairs(rows) do
    local head = k == 1 and "" or (string.rep(" ", 3 * (k - 2)) .. g.branch)
    local pad = string.rep(" ", width(head) + width(g.ok) + 1)
    if row.missing then
      out:write(head, paint("red", g.bad), " ", esc(tostring(row.missing)), "  (",
        esc(opts.missing_text or "not found: neither sent by the client nor installed on the server"), ")\n")
    else
      local el = row.el
      local problems = {}
      for _, p in ipairs(el.problems or {}) do problems[#problems + 1] = p end
      for _, p in ipairs((opts.extra or {})[el.depth or -1] or {}) do problems[#problems + 1] = p end
      local tag = ""
      if el.trusted and el.self_signed then tag = "  (trusted root)"
      elseif el.trusted then tag = "  (trusted, but not self-signed)"
      elseif el.depth == 0 then tag = "  (client)" end
      local mark = #problems > 0 and paint("red", g.bad) or paint("green", g.ok)
      out:write(head, mark, " ", esc(tostring(el.subject)), tag, "\n")
      out:write(pad, ("valid %s .. %s, serial %s\n"):format(M.iso(el.not_before), M.iso(el.not_after),
        esc(tostring(el.serial))))
      for _, p in ipairs(problems) do
        out:write(pad, paint("red", g.bad), " ", esc(tostring(p.cause)), ": ", esc(tostring(p.error)), "\n")
      end
    end
  end
end

--- common.status_line(verdict): "200 OK", or "<substatus> Forbidden: <title>"
-- ("403.17 Forbidden: Certificate expired"; 500 for an internal error).
function M.status_line(v)
  if v.accepted then return "200 OK" end
  local phrase = tostring(v.status) == "500" and "Internal Server Error" or "Forbidden"
  return ("%s %s: %s"):format(tostring(v.substatus or v.status), phrase, tostring(v.title))
end

--- common.print_steps(out, steps, indent): numbered resolution steps "1. [who] step".
function M.print_steps(out, steps, indent)
  for i, step in ipairs(steps or {}) do
    if type(step) == "table" then
      M.put(out, "%s%d. [%s] %s", indent or "  ", i, step.who or "", step.step or "")
    else
      M.put(out, "%s%d. %s", indent or "  ", i, step)
    end
  end
end

--- common.print_path(out, result): the certification path, top (root) first, as a
-- certification-path view shows it, each element with its status.
function M.print_path(out, result)
  M.put(out, "Certification path (checked at %s):", M.iso(result.time))
  for i = #result.chain, 1, -1 do
    local el = result.chain[i]
    local indent = string.rep("  ", #result.chain - i + 1)
    M.put(out, "%s%s%s", indent, el.subject, el.trusted and " [trusted]" or "")
    M.put(out, "%s  valid %s .. %s, serial %s: %s", indent, M.iso(el.not_before), M.iso(el.not_after), el.serial,
      el.status)
    for _, p in ipairs(el.problems or {}) do M.put(out, "%s    - %s (%s)", indent, p.error, p.cause) end
  end
end

--- n, err = common.warn_days(s): --warn-days as an integer 0 .. 36500 (digits only).
function M.warn_days(s)
  local n = s:match("^%d+$") and #s <= 5 and tonumber(s)
  if not n or n > 36500 then
    return nil, ("--warn-days must be an integer 0 .. 36500, got '%s'"):format(text.escape(s))
  end
  return compat.tointeger(n)
end

local function join(dir, name)
  return dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name
end

-- The limit of entries per directory a walk accepts.
M.MAX_DIR_ENTRIES = 1048576

--- ok, err = common.walk(dir, visit[, opts]): calls visit(path) for every regular file
-- in dir (and, with opts.recursive, in its subdirectories, depth first, names in byte
-- order), one directory listing in memory at a time. A symbolic link to a file is
-- visited (once per file: a file reached twice, as by c_rehash's hash links, is
-- visited the first time only); a link to a directory is never followed, and a
-- directory is entered once (no loop). A subdirectory that cannot be listed goes to
-- opts.on_error(path, err) (default: ignored); dir itself not being a listable
-- directory gives nil, err, code (code "not_a_directory" when it is something else,
-- see core.list_dir). Returns true, {files =, dirs =, skipped =}.
function M.walk(dir, visit, opts)
  opts = opts or {}
  local where = opts.where or "cli"
  local top, err, code = core.list_dir(dir, M.MAX_DIR_ENTRIES, where)
  if not top then return nil, err, code end
  local seen_file, seen_dir = {}, {}
  local stats = { files = 0, dirs = 1, skipped = 0 }
  local stack = { { dir, top } }
  while #stack > 0 do
    local item = table.remove(stack)
    local path, list = item[1], item[2]
    if not list then
      list, err = core.list_dir(path, M.MAX_DIR_ENTRIES, where)
      if not list then
        stats.skipped = stats.skipped + 1
        if opts.on_error then opts.on_error(path, err) end
      else
        stats.dirs = stats.dirs + 1
      end
    end
    if list then
      table.sort(list, function(a, b) return a.name < b.name end)
      local subdirs = {}
      for _, e in ipairs(list) do
        local p = join(path, e.name)
        local is_file = e.type == "file" or (e.type == "link" and e.target == "file")
        if is_file and not (e.id and seen_file[e.id]) then
          if e.id then seen_file[e.id] = true end
          stats.files = stats.files + 1
          visit(p)
        elseif e.type == "dir" and opts.recursive and not (e.id and seen_dir[e.id]) then
          if e.id then seen_dir[e.id] = true end
          subdirs[#subdirs + 1] = p
        elseif not is_file then
          stats.skipped = stats.skipped + 1
        end
      end
      for i = #subdirs, 1, -1 do stack[#stack + 1] = { subdirs[i] } end
    end
  end
  return true, stats
end

--- common.print_profile_findings(out, list, paint): the strict profile's findings of
-- an audit (clientcert.audit.profile_findings): each rule broken, where, its section,
-- and what Go, rustls-webpki and Windows do with it. They reject nothing here.
-- Nothing is printed when there is none (the JSON output has the empty list).
function M.print_profile_findings(out, list, paint)
  if #list == 0 then return end
  M.put(out, "Strict profile (RFC 5280 / CA/B rules of --profile strict; reported, not rejected here): "
    .. "%d finding%s", #list, #list == 1 and "" or "s")
  for i, f in ipairs(list) do
    out:write(paint("yellow", ("%d. %s"):format(i, f.id)))
    M.put(out, " [%s] at depth %d, %s: %s", f.rule, f.depth, f.subject, f.problem)
    M.put(out, "   rejected by: %s", #f.rejected_by > 0 and table.concat(f.rejected_by, ", ")
      or "none documented")
    for _, v in ipairs(f.verifiers) do
      M.put(out, "   - %s: %s%s", v.name, v.verdict, v.note and (" (" .. v.note .. ")") or "")
    end
  end
end

return M
