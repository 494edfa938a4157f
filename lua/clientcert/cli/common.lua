--- clientcert.cli.common: what every `clientcert` subcommand shares: exit codes,
-- escaped output, bounded reads, times, colour. Each subcommand is a module
-- clientcert.cli.<name> returning { name =, summary =, define = function(cmd),
-- run = function(args, out, eout) -> exit code } (see clientcert.cli).
local clientcert = require "clientcert"
local core = require "clientcert.core"
local util = require "clientcert.util"
local text = require "clientcert.text"

local unpack = table.unpack or unpack

local M = {}

M.EXIT_OK, M.EXIT_REJECT, M.EXIT_ERROR = 0, 1, 2

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
    return math.tointeger and math.tointeger(n) or n
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
  stream:write(f:format(unpack(args, 1, args.n)), "\n")
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

--- data, err = common.read(path, where): a regular file of at most clientcert.MAX_FILE
-- (core.read_file: a directory, FIFO or device is refused with "clientcert.<where>: <path>: ...").
function M.read(path, where)
  return core.read_file(path, clientcert.MAX_FILE, where)
end

--- list, err = common.read_certs(path, where): every certificate of a PEM bundle, or one DER certificate.
function M.read_certs(path, where)
  local data, err = M.read(path, where)
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

--- t = common.flat(list): a plain array copy of an argparse list (nil gives {}).
function M.flat(list)
  local out = {}
  for _, v in ipairs(list or {}) do out[#out + 1] = v end
  return out
end

--- secs = common.load_time(args, eout): --time, or now; nil after printing the error.
function M.load_time(a, eout)
  if not a.time then return os.time() end
  local t, err = M.parse_time(a.time)
  if not t then M.put(eout, "clientcert: %s", err) end
  return t
end

--- pass, ok = common.passphrase(args, eout): the value of --passphrase-env's variable;
-- ok false (after printing the error) when the variable is not set.
function M.passphrase(a, eout)
  if not a.passphrase_env then return nil, true end
  local v = os.getenv(a.passphrase_env)
  if not v then M.put(eout, "clientcert: environment variable %s is not set", a.passphrase_env) return nil, false end
  return v, true
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

return M
