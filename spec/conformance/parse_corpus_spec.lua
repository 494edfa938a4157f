-- The parse corpus: 147 real and malformed certificates and CRLs. Every file is
-- parsed and info()'d without a raise; where the manifest records facts (serial
-- length, validity times, NUL bytes in names, non-UTF-8 string types), the values
-- must match them.
local clientcert = require "clientcert"
local cli = require "clientcert.cli"
local common = require "conformance.common"

-- Is s valid UTF-8? (LuaJIT has no utf8 library.)
local function is_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c < 0xE0) and 2 or (c >= 0xE0 and c < 0xF0) and 3
      or (c >= 0xF0 and c < 0xF5) and 4 or nil
    if not len or i + len - 1 > n then return false end
    for j = i + 1, i + len - 1 do
      local b = s:byte(j)
      if b < 0x80 or b > 0xBF then return false end
    end
    i = i + len
  end
  return true
end

-- Unix seconds of a canonical UTCTime / GeneralizedTime, or nil.
local function asn1_time(kind, v)
  local y, rest
  if kind == "UTCTime" and #v == 13 then
    y = tonumber(v:sub(1, 2))
    y = y >= 50 and 1900 + y or 2000 + y
    rest = v:sub(3)
  elseif kind == "GeneralizedTime" and #v == 15 then
    y, rest = tonumber(v:sub(1, 4)), v:sub(5)
  else
    return nil
  end
  local mo, d, h, mi, s = rest:match("^(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)Z$")
  if not mo then return nil end
  return cli.parse_time(("%04d-%s-%sT%s:%s:%sZ"):format(y, mo, d, h, mi, s))
end

-- problem = check(entry, dir): nil when the file behaves as expected, else why not.
local function check(entry, dir)
  local data = assert(common.read(dir .. "/" .. entry.file), "cannot read " .. entry.file)
  local loads = entry.openssl_3_0_22_loads
  if entry.type == "crl" then
    local crl, err = clientcert.parse_crl(data)
    if not crl then return loads and ("OpenSSL loads it, clientcert: " .. err) or nil end
    local ok, info = pcall(crl.info, crl)
    if not ok then return "crl:info() raised: " .. tostring(info) end
    return nil
  end
  local list, err = clientcert.parse_all(data)
  if not list then
    if loads then return "OpenSSL loads it, clientcert: " .. tostring(err) end
    return nil
  end
  local c = list[1]
  local ok, info, ierr = pcall(c.info, c)
  if not ok then return "info() raised: " .. tostring(info) end
  if not info then
    -- nil, err is an acceptable answer only for a certificate with unreadable dates
    for _, f in ipairs(entry.auto_findings) do if f:find("Time") then return nil end end
    return "info() failed: " .. tostring(ierr)
  end
  for _, k in ipairs({ "subject", "issuer", "serial", "fingerprint" }) do
    if type(info[k]) ~= "string" then return k .. " missing" end
  end
  local serial_len = common.value(entry.serial_len)
  if serial_len and #info.serial:gsub("^%-", "") ~= 2 * serial_len then
    return ("serial %s is not %d octets"):format(info.serial, serial_len)
  end
  for _, v in ipairs(entry.validity or {}) do
    local which, kind, text = v:match("^(%a+)=(%a+):(.+)$")
    local want = which and asn1_time(kind, text)
    local got = which == "notBefore" and info.not_before or info.not_after
    if want and got ~= want then return ("%s %s: got %s"):format(which, text, tostring(got)) end
  end
  local has_nul = false
  for _, f in ipairs(entry.auto_findings) do if f:find("NUL byte", 1, true) then has_nul = true end end
  for _, fields in ipairs({ info.subject_fields, info.issuer_fields }) do
    for _, f in ipairs(fields) do
      if not f.raw and not is_utf8(f.value) then return "field " .. f.name .. " is not UTF-8" end
    end
  end
  if info.subject:find("%z") or info.issuer:find("%z") then return "a raw NUL in an RFC 4514 string" end
  if has_nul and not (info.subject .. info.issuer):find("\\00", 1, true) then
    return "the NUL in a name is not shown as \\00"
  end
  return nil
end

describe("conformance: parse corpus", function()
  local dir = common.root() .. "/parse-corpus"
  local manifest = common.json(dir .. "/manifest.json")
  local agree, lines = 0, {}
  for _, entry in ipairs(manifest.files) do
    local ok, problem = pcall(check, entry, dir)
    if not ok then problem = "raised: " .. tostring(problem) end
    if problem == nil then agree = agree + 1
    else lines[#lines + 1] = ("disagree %s: %s"):format(entry.file, problem) end
  end
  table.insert(lines, 1, ("agree %d/%d"):format(agree, #manifest.files))
  common.report("parse-corpus", lines)

  it("reads all 147 files", function() assert.equals(147, #manifest.files) end)
  it("agrees at least as often as recorded in spec/conformance/figures.lua", function()
    assert.is_true(agree >= common.figures.parse_corpus, ("agree %d/%d, recorded %d"):format(agree,
      #manifest.files, common.figures.parse_corpus))
  end)
end)
