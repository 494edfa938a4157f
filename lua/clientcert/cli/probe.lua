--- clientcert probe HOST:PORT: a live server seen from the client's side (clientcert.probe).
-- Exit 0: the certificate given (or none) would be offered and accepted; 1: not;
-- 2: a connection or usage error. Every string from the server is escaped (put).
local clientcert = require "clientcert"
local text = require "clientcert.text"
local causes = require "clientcert.causes"
local c = require "clientcert.cli.common"
local clientcert_probe = require "clientcert.probe"
local compat = require "clientcert.compat"

local M = { name = "probe",
  summary = "Probe a live TLS server: what it asks of client certificates, and why a client is refused." }

function M.define(cmd)
  cmd:argument("target", "HOST:PORT ([IPv6]:PORT for an IPv6 address).")
  cmd:option("--servername", "Server name sent (SNI) and checked; default: HOST unless it is an address.")
  cmd:option("--cert", "Client certificate (PEM or DER); a PEM bundle's further certificates are its chain.")
  cmd:option("--key", "The certificate's private key (PEM or DER, PKCS#8 or traditional).")
  cmd:option("--chain", "Intermediate CAs sent with the certificate (PEM bundle); repeatable."):count("*")
  cmd:option("--passphrase-env", "Environment variable holding the key's passphrase.")
  cmd:option("--roots", "Trusted roots to verify the server's certificate (PEM bundle); repeatable."):count("*")
  cmd:option("--path", "Path of the HTTP GET sent after the handshake (starts with /, at most 1024 bytes).", "/")
  cmd:option("--tls", "TLS version: 1.2 or 1.3 (default: the highest both support)."):choices({ "1.2", "1.3" })
  cmd:option("--timeout", "Seconds for each step (connect, handshake, HTTP reply), 0.001 .. 3600.", "10")
  cmd:flag("--json", "Print the report as one JSON object.")
end

-- host, port = target(s): "host:port" or "[v6]:port"; nil, err otherwise.
local function target(s)
  local host, port = s:match("^%[([^%]]+)%]:(%d+)$")
  if not host then host, port = s:match("^([^:%[%]]+):(%d+)$") end
  port = port and #port <= 5 and tonumber(port)
  if not host or not port or port < 1 or port > 65535 then
    return nil, ("target must be HOST:PORT with a port 1 .. 65535, got '%s'"):format(text.escape(s))
  end
  return host, compat.tointeger(port)
end

local function yes(v) return v and "yes" or "no" end

local MAX_PRINTED = 32     -- CA names and signature algorithms printed (--json has what the report keeps)

local function print_report(out, r)
  local paint = c.painter(out)
  c.put(out, "Probed %s:%d%s (address %s, server name %s)", r.host, r.port, r.path, r.address or "?",
    r.servername or "none")
  if r.protocol then c.put(out, "TLS: %s, %s", r.protocol, r.cipher or "?") end
  if r.server then
    local v = r.server.verified == nil and "not checked (no --roots)"
      or r.server.verified and "verified" or ("NOT verified: " .. (r.server.verify_error or "?"))
    c.put(out, "Server certificate: %s (issuer %s), %s", r.server.subject, r.server.issuer, v)
  end
  if not r.requested then
    c.put(out, "Client certificate requested: no")
  else
    c.put(out, "Client certificate requested: yes (%s)", r.request_phase == "post_handshake"
      and "after the handshake" or "in the handshake")
    local count = r.ca_count or 0
    c.put(out, "Acceptable CA names: %d%s, %d bytes encoded (each name's DER + 2)%s", count,
      (r.ca_empty or 0) > 0 and (" (%d empty)"):format(r.ca_empty) or "", r.ca_size or 0,
      r.over_schannel_limit and (", OVER the %d-byte Schannel limit"):format(clientcert_probe.SCHANNEL_LIMIT) or "")
    -- the first MAX_PRINTED names with an attribute; the rest and the empty ones counted
    local shown, empty = 0, r.ca_empty or 0
    for _, name in ipairs(r.ca_names) do
      if shown == MAX_PRINTED then break end
      if name ~= "" then c.put(out, "  %s", name) shown = shown + 1 end
    end
    if count - empty > shown then
      c.put(out, "  ... and %d more%s", count - empty - shown, #r.ca_names > MAX_PRINTED
        and (" (--json lists the first %d of all %d)"):format(#r.ca_names, count) or "")
    end
    if empty > 0 then c.put(out, "  (%d empty, with no attribute: not printed)", empty) end
    local names, n = {}, r.sigalg_count or #r.sigalgs
    for i = 1, math.min(#r.sigalgs, MAX_PRINTED) do names[i] = r.sigalgs[i].name end
    if n > #names then names[#names + 1] = ("... and %d more"):format(n - #names) end
    c.put(out, "Signature algorithms accepted: %s", #names > 0 and table.concat(names, ", ") or "(none sent)")
  end
  if r.client then
    local cl = r.client
    c.put(out, "Your certificate: %s (issuer %s)", cl.subject, cl.issuer)
    if cl.offered ~= nil then
      c.put(out, "  on the server's list: %s%s", yes(cl.offered),
        cl.offered_by and (" (" .. cl.offered_by .. ")") or "")
    end
    if cl.key_accepted ~= nil then
      c.put(out, "  key %s accepted: %s%s", cl.key, yes(cl.key_accepted),
        cl.key_scheme and (" (" .. cl.key_scheme .. ")") or "")
    end
    if cl.signature_accepted ~= nil then
      c.put(out, "  signature %s accepted: %s", cl.signature_algorithm, yes(cl.signature_accepted))
    end
  end
  if r.alert then
    c.put(out, "Server's answer: TLS alert %s, %s%s", clientcert_probe.alert_label(r.alert), r.alert.level,
      r.handshake and ", after the handshake" or "")
  elseif r.http then
    c.put(out, "Server's answer: %s", r.http.status_line)
    if r.http.first_line then c.put(out, "  %s", r.http.first_line) end
    if r.http.title then c.put(out, "  (page title: %s)", r.http.title) end
  elseif r.http_error then
    c.put(out, "Server's answer: none (%s)", r.http_error)
  end
  if r.ok then
    out:write(paint("green", "Result: OK"), "\n")
  else
    local head = r.cause and ("Result: REFUSED (%s: %s)"):format(r.cause, causes.get(r.cause).title)
      or "Result: REFUSED"
    out:write(paint("red", text.escape(head)), "\n")
  end
  c.put(out, "  %s", r.message)
  for _, f in ipairs(r.findings) do
    if f.message ~= r.message then c.put(out, "  Also: %s", f.message) end
  end
  for _, s in ipairs(r.resolution or {}) do c.put(out, "  - %s: %s", s.who, s.step) end
  for _, w in ipairs(r.warnings) do
    out:write(paint("yellow", "Warning: " .. text.escape(w.message)), "\n")
    for _, s in ipairs(w.resolution) do c.put(out, "  - %s: %s", s.who, s.step) end
  end
end

function M.run(a, out, eout)
  local host, port = target(a.target)
  if not host then c.put(eout, "clientcert: %s", port) return c.EXIT_ERROR end
  local timeout = a.timeout:match("^%d+%.?%d*$") and tonumber(a.timeout)
  if not timeout or timeout < 0.001 or timeout > 3600 then
    c.put(eout, "clientcert: --timeout must be seconds, at least 0.001 and at most 3600, got '%s'", a.timeout)
    return c.EXIT_ERROR
  end
  if (a.key or #(a.chain or {}) > 0) and not a.cert then
    c.put(eout, "clientcert: --key and --chain need --cert") return c.EXIT_ERROR
  end
  if a.cert and not a.key then c.put(eout, "clientcert: --cert needs --key") return c.EXIT_ERROR end
  local pass, ok = c.passphrase(a, eout)
  if not ok then return c.EXIT_ERROR end
  local path = a.path
  if path:sub(1, 1) ~= "/" or path:find("[%z%c%s]") then
    c.put(eout, "clientcert: --path must start with / and hold no space or control character")
    return c.EXIT_ERROR
  end
  local roots = c.flat(a.roots)
  local report, err = clientcert.probe{
    host = host, port = port, servername = a.servername, cert = a.cert, key = a.key,
    chain = #(a.chain or {}) > 0 and c.flat(a.chain) or nil, passphrase = pass,
    roots = #roots > 0 and roots or nil, path = path, timeout = timeout, tls = a.tls,
  }
  if not report then c.put(eout, "%s", err) return c.EXIT_ERROR end
  if a.json then c.emit_json(out, report) else print_report(out, report) end
  return report.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
