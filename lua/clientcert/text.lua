--- clientcert.text: everything clientcert writes for a person or a log passes
-- here, so that no certificate-derived string can drive a terminal, forge a
-- line, or hide text (internal module; clientcert.verdict_json is the API).
--
-- * text.escape(s): terminal- and log-safe text. Shown as \xNN: C0 controls
--   (NUL, ESC, newline, ...), DEL, and each byte that is not part of valid
--   UTF-8. Shown as \uNNNN: C1 controls (U+0080..U+009F), the Unicode
--   Bidi_Control characters (U+061C, U+200E, U+200F, U+202A..U+202E,
--   U+2066..U+2069) and U+2028 / U+2029. Everything else, valid UTF-8
--   included, is kept. A backslash is kept as it is (RFC 4514 names already
--   use it), so the result is for reading, not for decoding back.
-- * text.json(v): JSON for plain Lua data. Strings are escaped as RFC 8259
--   requires, and also DEL, C1, Bidi_Control and U+2028/2029 in \u form
--   (lua-cjson passes those raw); a byte that is not valid UTF-8 becomes
--   \u00NN, that byte read as Latin-1, so no byte is lost or hidden and the
--   output is always valid UTF-8. Empty tables are [] ; objects' keys sorted.
-- * text.verdict_json(verdict): one bounded JSON log line per decision.
local M = {}

local byte, fmt, concat = string.byte, string.format, table.concat

-- Code points shown escaped although they are valid UTF-8 (besides C1).
local function hidden(cp)
  return (cp >= 0x80 and cp <= 0x9F) or cp == 0x061C or cp == 0x200E or cp == 0x200F
    or (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069) or cp == 0x2028 or cp == 0x2029
end

-- cp, len = utf8_at(s, i): the code point of the valid UTF-8 sequence starting
-- at byte i (a lead byte >= 0x80), or nil when it is not one (RFC 3629: no
-- overlong forms, no surrogates, nothing above U+10FFFF).
local function utf8_at(s, i)
  local c = byte(s, i)
  local n, cp, min
  if c >= 0xC2 and c <= 0xDF then n, cp, min = 1, c - 0xC0, 0x80
  elseif c >= 0xE0 and c <= 0xEF then n, cp, min = 2, c - 0xE0, 0x800
  elseif c >= 0xF0 and c <= 0xF4 then n, cp, min = 3, c - 0xF0, 0x10000
  else return nil end
  for k = 1, n do
    local b = byte(s, i + k)
    if not b or b < 0x80 or b > 0xBF then return nil end
    cp = cp * 64 + (b - 0x80)
  end
  if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
  return cp, n + 1
end

-- out = walk(s, special, ascii, byte_esc, cp_esc): s with every byte matching
-- the pattern class special handled: an ASCII one by ascii(c), an invalid
-- UTF-8 byte by byte_esc(b), a hidden code point by cp_esc(cp); valid UTF-8
-- that is not hidden is copied.
local function walk(s, special, ascii, byte_esc, cp_esc)
  local out, i, n = {}, 1, #s
  while i <= n do
    local j = s:find(special, i)
    if not j then out[#out + 1] = s:sub(i) break end
    if j > i then out[#out + 1] = s:sub(i, j - 1) end
    local c = byte(s, j)
    if c < 0x80 then
      out[#out + 1] = ascii(c)
      i = j + 1
    else
      local cp, len = utf8_at(s, j)
      if not cp then
        out[#out + 1] = byte_esc(c)
        i = j + 1
      else
        out[#out + 1] = hidden(cp) and cp_esc(cp) or s:sub(j, j + len - 1)
        i = j + len
      end
    end
  end
  return concat(out)
end

local function hex_byte(b) return fmt("\\x%02x", b) end
local function u_escape(cp) return fmt("\\u%04x", cp) end

--- s = text.escape(v): tostring(v) made safe for a terminal or a log line (see above).
function M.escape(v)
  local s = tostring(v)
  if not s:find("[%z\1-\31\127-\255]") then return s end
  return walk(s, "[%z\1-\31\127-\255]", hex_byte, hex_byte, u_escape)
end

local JSON_SHORT = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r",
                     [34] = '\\"', [92] = "\\\\" }

local function json_ascii(c) return JSON_SHORT[c] or fmt("\\u%04x", c) end

--- s = text.json_string(v): a JSON string literal for tostring(v).
local function json_string(s)
  if not s:find('[%z\1-\31"\\\127-\255]') then return '"' .. s .. '"' end
  return '"' .. walk(s, '[%z\1-\31"\\\127-\255]', json_ascii, u_escape, u_escape) .. '"'
end
M.json_string = json_string

local MAX_DEPTH = 64

local encode

local function is_sequence(t)
  local n = #t
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then return false end
    count = count + 1
  end
  return count == n
end

function encode(v, depth, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = json_string(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    elseif v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
      out[#out + 1] = fmt("%d", v)
    else
      out[#out + 1] = fmt("%.17g", v)
    end
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t == "nil" then
    out[#out + 1] = "null"
  elseif t == "table" then
    if depth >= MAX_DEPTH then error("clientcert.json: tables nested deeper than 64 (a cycle?)", 0) end
    if is_sequence(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], depth + 1, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        local kt = type(k)
        if kt ~= "string" and kt ~= "number" then
          error("clientcert.json: a table key must be a string or a number, got " .. kt, 0)
        end
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        out[#out + 1] = json_string(k)
        out[#out + 1] = ":"
        encode(val, depth + 1, out)
      end
      out[#out + 1] = "}"
    end
  else
    error("clientcert.json: cannot encode a " .. t, 0)
  end
end

--- s = text.json(v): one line of JSON for plain data (strings, numbers,
-- booleans, tables). NaN and infinities give null. Raises
-- "clientcert.json: ..." for a function, userdata, a cycle or a key that is
-- neither a string nor a number.
function M.json(v)
  local out = {}
  encode(v, 0, out)
  return concat(out)
end

--- s = text.cut(s, max): s when at most max bytes, else its first bytes (cut
-- on a UTF-8 character boundary) and a visible marker "…[cut N bytes]".
function M.cut(s, max)
  s = tostring(s)
  if #s <= max then return s end
  local keep = max
  -- do not split a UTF-8 sequence: back up over continuation bytes
  while keep > 0 and (byte(s, keep + 1) or 0) >= 0x80 and (byte(s, keep + 1) or 0) < 0xC0 do keep = keep - 1 end
  return s:sub(1, keep) .. fmt("\226\128\166[cut %d bytes]", #s - keep)
end

-- The log line's bound: nginx writes at most 2,047 bytes per error-log line,
-- its own prefix (date, level, pid, connection, "[lua] file:line:" and the
-- request context) included; 1,536 leaves room for that.
M.VERDICT_JSON_MAX = 1536
local FIELD_MAX = 200          -- a name, serial, reason or error in the line
local MESSAGE_MAX = 400        -- the rendered message

local function str(v, max)
  if v == nil then return nil end
  return M.cut(v, max or FIELD_MAX)
end

-- The JSON text of a value of a log line (a string, number, boolean or list of strings).
local function value_json(x)
  local t = type(x)
  if t == "string" then return json_string(x) end
  if t == "boolean" then return x and "true" or "false" end
  if t == "table" and x.raw then return x.raw end -- JSON text made by object()
  return M.json(x)
end

-- The JSON text of an object whose pairs are given in order in kv (key, value,
-- key, value, ...; n: the number of items, a nil value leaves its key out).
local function object(n, kv)
  local out = {}
  for i = 1, n, 2 do
    local x = kv[i + 1]
    if x ~= nil then out[#out + 1] = '"' .. kv[i] .. '":' .. value_json(x) end
  end
  return "{" .. concat(out, ",") .. "}"
end

local function int(v)
  if type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge then return v end
  return nil
end

-- The client's part of the log line: its names and dates, or its fingerprint only.
local function client_part(client, names)
  if names then
    return object(12, { "subject", str(client.subject), "issuer", str(client.issuer),
      "serial", str(client.serial, 80), "fingerprint", str(client.fingerprint, 80),
      "not_before", int(client.not_before), "not_after", int(client.not_after) })
  end
  return object(2, { "fingerprint", str(client.fingerprint, 80) })
end

-- The chain's part (nil for an empty chain); with_client: the leaf's names are in
-- the client part.
local function chain_part(chain, with_client)
  if #chain == 0 then return nil end
  local els = {}
  for i, el in ipairs(chain) do
    if type(el) ~= "table" then el = {} end
    local leaf = i == 1 and with_client
    els[i] = object(14, { "depth", int(el.depth) or i - 1,
      "subject", not leaf and str(el.subject) or nil, "issuer", not leaf and str(el.issuer) or nil,
      "serial", not leaf and str(el.serial, 80) or nil, "status", str(el.status, 64),
      "trusted", el.trusted == true, "self_signed", el.self_signed == true })
  end
  return "[" .. concat(els, ",") .. "]"
end

--- parts = text.verdict_json_parts(client, chain): the JSON text of a verdict's
-- client (a table) and chain (a list) as verdict_json writes them, for a caller
-- that logs many verdicts with the same client and chain (the verdict cache).
function M.verdict_json_parts(client, chain)
  return { client_names = client_part(client, true), client_fingerprint = client_part(client, false),
           chain = chain_part(chain, true) }
end

-- Where a revocation answer came from (verdict.revocation), as nested JSON text.
local function revocation_part(r, max_text)
  if type(r) ~= "table" then return nil end
  return { raw = object(18, { "source", str(r.source, 16), "status", str(r.status, 16),
    "url", str(r.url, max_text), "this_update", int(r.this_update), "next_update", int(r.next_update),
    "revoked_at", int(r.revoked_at), "reason", str(r.reason, 32), "error", str(r.error, max_text),
    "cached", r.cached == true or nil }) }
end

-- The verdict's own fields (max_text: a shorter cut for its texts).
local function head(v, also, max_text)
  return object(26, { "time", int(v.time), "accepted", v.accepted == true, "status", int(v.status),
    "substatus", str(v.substatus, 16), "cause", str(v.cause, 64), "title", str(v.title, max_text),
    "message", str(v.message, max_text and max_text * 2 or MESSAGE_MAX), "mode", str(v.mode, 16),
    "also", also, "rule_reason", str(v.rule_reason, max_text),
    "rule_error", str(v.rule_error, max_text), "error", str(v.error, max_text),
    "revocation", revocation_part(v.revocation, max_text) })
end

local function client_json(client, parts, names)
  if not client then return nil end
  if parts then return names and parts.client_names or parts.client_fingerprint end
  return client_part(client, names)
end

-- The line: the head's pairs, then client and chain (JSON text already), then omitted.
local function line(body, c, ch, omitted)
  local out = { body:sub(1, -2) }
  if c then out[#out + 1] = ',"client":' .. c end
  if ch then out[#out + 1] = ',"chain":' .. ch end
  if omitted and #omitted > 0 then out[#out + 1] = ',"omitted":' .. M.json(omitted) end
  return concat(out) .. "}"
end

--- line = text.verdict_json(verdict[, parts]): one JSON object (no newline) for a log,
-- at most VERDICT_JSON_MAX bytes whatever the certificate holds.
-- Keys, in this order: time, accepted, status, substatus, cause, title,
-- message, mode, also, rule_reason, rule_error, error (an internal error's
-- detail), revocation {source, status, url, this_update, next_update,
-- revoked_at, reason, error, cached} (fetched revocation), client {subject, issuer, serial, fingerprint, not_before,
-- not_after}, chain [{depth, subject, issuer, serial, status, trusted,
-- self_signed}], omitted. The client's own element of the chain (depth 0)
-- carries no subject, issuer or serial when client is there (they are in
-- client, so the subject is written at most twice: client and message). Each string is cut at 200 bytes (the
-- message at 400) with a visible "…[cut N bytes]". When the line is still too
-- long, the chain is left out, then the client's names (its fingerprint
-- stays), then the texts are cut shorter; `omitted` lists what was left out.
-- Resolution steps are not logged: the cause id names them in the catalogue.
-- parts: verdict_json_parts(verdict.client, verdict.chain) made earlier (the
-- same line, less work); only for a verdict whose client and chain hold what
-- they held then.
function M.verdict_json(v, parts)
  if type(v) ~= "table" then error("clientcert.verdict_json: verdict must be a table", 2) end
  local client = type(v.client) == "table" and v.client or nil
  local chain = type(v.chain) == "table" and v.chain or {}
  if not client then parts = nil end
  local also
  if type(v.also) == "table" and #v.also > 0 then
    also = {}
    for i = 1, math.min(#v.also, 16) do
      local x = v.also[i]
      also[i] = str(type(x) == "table" and (x.cause or x.id) or x, 64)
    end
  end

  local max = M.VERDICT_JSON_MAX
  local h = head(v, also)
  local ch
  if parts then ch = parts.chain else ch = chain_part(chain, client ~= nil) end
  local s = line(h, client_json(client, parts, true), ch)
  if #s <= max then return s end
  local omitted = #chain > 0 and { "chain" } or {}
  s = line(h, client_json(client, parts, true), nil, omitted)
  if #s <= max then return s end
  if client then omitted[#omitted + 1] = "client names" end
  s = line(h, client_json(client, parts, false), nil, omitted)
  if #s <= max then return s end
  s = line(head(v, also, 60), client_json(client, parts, false), nil, omitted)
  if #s <= max then return s end
  -- the texts themselves expand when escaped (a control byte takes 6): the bare decision
  omitted[#omitted + 1] = "texts"
  return line(object(12, { "time", int(v.time), "accepted", v.accepted == true, "status", int(v.status),
    "substatus", str(v.substatus, 16), "cause", str(v.cause, 64), "mode", str(v.mode, 16) }),
    client_json(client, parts, false), nil, omitted)
end

return M
