--- clientcert.forward: the identity of an accepted client as request headers for
-- an upstream (nginx's proxy_pass): RFC 9440's Client-Cert and Client-Cert-Chain,
-- or Envoy's x-forwarded-client-cert (XFCC). Only builds the values (internal
-- module; clientcert.nginx sets and strips the headers).
--
-- Not done here: any protection of the values themselves (no signature): the
-- upstream must be reachable only through the gate, which removes these headers
-- whenever a client sends them.
local M = {}

--- The request headers the gate owns: set for an accepted client, removed
-- whenever a client sends them itself.
M.HEADERS = { "Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert" }

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Standard base64 with padding (RFC 4648 section 4), in plain Lua: used where
-- nginx's ngx.encode_base64 is not available (the specs).
local function lua_base64(s)
  local out, n = {}, #s
  for i = 1, n, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = math.floor(v / 262144) % 64, math.floor(v / 4096) % 64
    local c3, c4 = math.floor(v / 64) % 64, v % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local ngx = rawget(_G, "ngx")
local base64 = (type(ngx) == "table" and ngx.encode_base64) or lua_base64
M.base64 = lua_base64

--- value = forward.byte_sequence(der): an RFC 8941 structured-field byte
-- sequence, ":" base64(der) ":" (RFC 9440 Client-Cert).
function M.byte_sequence(der)
  return ":" .. base64(der) .. ":"
end

--- value = forward.chain(ders): RFC 9440 Client-Cert-Chain, a list of byte
-- sequences ("," and a space between them, RFC 8941 list), or nil when empty.
function M.chain(ders)
  if not ders or #ders == 0 then return nil end
  local parts = {}
  for i, der in ipairs(ders) do parts[i] = M.byte_sequence(der) end
  return table.concat(parts, ", ")
end

-- An XFCC value that is not quoted by rule (URI, DNS): controls, DEL, '"' and
-- '\' (none valid in a URI or a DNS name) percent-encoded, so that no escape
-- remains for a parser to get wrong; quoted when it holds ',', ';' or '='
-- (Envoy's rule for those three).
local function xfcc_plain(s)
  s = s:gsub('[%c"\\]', function(c) return ("%%%02X"):format(c:byte()) end)
  if s:find("[,;=]") then return '"' .. s .. '"' end
  return s
end

-- The subject (RFC 4514, as info.subject) for XFCC's quoted Subject: RFC 4514
-- already escapes '"' as \"; written here as the equivalent hex escape \22, so
-- that no '"' is left inside the quotes (no XFCC escape needed).
local function xfcc_subject(s)
  s = s:gsub("\\(.)", function(c) if c == '"' then return "\\22" end end)
  return '"' .. s:gsub('"', "\\22") .. '"'
end

--- value = forward.xfcc(info): Envoy's x-forwarded-client-cert element for a
-- client certificate's info (cert:info()): Hash=<SHA-256 hex of the DER>;
-- Subject="<RFC 4514>";URI=<each URI SAN, or empty>;DNS=<each DNS SAN>, in
-- Envoy's order, as Envoy's SANITIZE_SET with Subject, URI and DNS writes it.
function M.xfcc(info)
  local parts = { "Hash=" .. tostring(info.fingerprint), "Subject=" .. xfcc_subject(info.subject or "") }
  local uris, dns = {}, {}
  for _, san in ipairs(info.san or {}) do
    if san.type == "uri" then uris[#uris + 1] = "URI=" .. xfcc_plain(san.value)
    elseif san.type == "dns" then dns[#dns + 1] = "DNS=" .. xfcc_plain(san.value) end
  end
  if #uris == 0 then uris[1] = "URI=" end   -- Envoy keeps the key when there is none
  for _, u in ipairs(uris) do parts[#parts + 1] = u end
  for _, d in ipairs(dns) do parts[#parts + 1] = d end
  return table.concat(parts, ";")
end

return M
