--- clientcert.input: the one place that turns what a caller names (a file path,
-- PEM or DER text, an object, or a list of those) into certificate and CRL
-- objects. Files are read bounded (core.read_file, at most input.MAX bytes, the
-- C core's CC_MAX_INPUT); bundles are split by C (core.parse_bundle: a truncated
-- PEM block is an error, never a shorter list); and every file read can be
-- recorded, with the SHA-256 of the exact bytes that were parsed, for whoever
-- watches files for changes (the OpenResty gate, `clientcert check-policy`).
--
-- Not done here: fetching anything from the network; deciding what a file
-- means (trust, revocation): that is the store's and the policy's job.
local core = require "clientcert.core"
local util = require "clientcert.util"

local M = {}

--- input.MAX: the most bytes one certificate or CRL input (file or text) may hold.
M.MAX = core.MAX_INPUT

-- The active recorders (innermost last): each a list of {path, digest, limit}
-- plus an index by path.
local recorders = {}

-- The digest recorded for a read: the SHA-256 (hex) of the bytes, or "!" and
-- why the file could not be read (without the "clientcert.<where>: " prefix, so
-- that it does not depend on who read it).
local function digest_of(data, err)
  if data then return core.sha256(data) end
  return "!" .. (tostring(err):match("^clientcert%.[%w_%.]+: (.*)$") or tostring(err))
end

local function note(rec, path, digest, limit)
  local e = rec.by_path[path]
  if not e then
    e = { path = path, digest = digest, limit = limit }
    rec.by_path[path] = e
    rec[#rec + 1] = e
  elseif e.digest ~= digest then
    -- read twice with different contents: it changed during the load, so what
    -- was loaded matches no content of the file (a watcher loads it again)
    e.digest = "~changed while it was read"
  end
end

--- data, err = input.read(path, where[, limit]): the whole regular file at path,
-- at most limit bytes (default input.MAX), or nil, "clientcert.<where>: <path>:
-- <what>" (core.read_file: a directory, FIFO, device or socket is refused without
-- reading it). Raises when path is not a string. Recorded (input.recorded).
function M.read(path, where, limit)
  if type(path) ~= "string" then
    error(("clientcert.%s: path must be a string, got %s"):format(where, type(path)), 3)
  end
  limit = limit or M.MAX
  local data, err = core.read_file(path, limit, where)
  if recorders[1] then
    local digest = digest_of(data, err)
    for i = 1, #recorders do note(recorders[i], path, digest, limit) end
  end
  return data, err
end

--- digest = input.digest(path[, limit]): what input.read would record for the
-- file now (its SHA-256, or "!" and why it cannot be read): compare it with a
-- recorded digest to tell whether the file changed since it was loaded.
function M.digest(path, limit)
  return digest_of(core.read_file(path, limit or M.MAX, "input"))
end

local function finish(rec, ok, ...)
  for i = #recorders, 1, -1 do
    if recorders[i] == rec then table.remove(recorders, i) break end
  end
  local files = {}
  for i = 1, #rec do files[i] = { path = rec[i].path, digest = rec[i].digest, limit = rec[i].limit } end
  return files, ok, ...
end

--- files, ok, ... = input.recorded(fn, ...): pcall(fn, ...) while recording every
-- file input.read reads (recordings nest: an outer one sees the inner's files).
-- files: in the order first read, each {path =, digest = SHA-256 hex of the bytes
-- read (what was parsed), or "!<why it could not be read>", limit =}.
function M.recorded(fn, ...)
  local rec = { by_path = {} }
  recorders[#recorders + 1] = rec
  return finish(rec, pcall(fn, ...))
end

--- yes = input.is_pem(s): does s hold a PEM armour line ("-----BEGIN ")?
function M.is_pem(s)
  return s:find("-----BEGIN ", 1, true) ~= nil
end

--- yes = input.is_der(s): does s look like DER (a SEQUENCE with a long-form
-- length) rather than a file path?
function M.is_der(s)
  local a, b = s:byte(1, 2)
  return a == 0x30 and b ~= nil and b >= 0x81 and b <= 0x84
end

--- list, err = input.parse(kind, data, where[, ctx]): every object of kind ("cert"
-- or "crl") in a PEM bundle or one DER object (core.parse_bundle); errors read
-- "clientcert.<where>: [<ctx>: ]<what>".
M.parse = core.parse_bundle

--- certs | nil, err = input.chain_text(text, i): the certificates of the text a
-- client sent as chain[i], errors worded as store:verify words them.
function M.chain_text(text, i)
  return M.parse("cert", text, "store.verify", "chain[" .. i .. "]")
end

--- certs | nil, err = input.chain(chain, where, level[, parse, arg]): the chain a
-- client sent (a list of certificate objects and PEM/DER texts, a text holding
-- one or more certificates) as a list of certificate objects, as store:verify
-- reads it; a text that cannot be parsed gives nil, "clientcert.store.verify:
-- chain[i]: <what>" (a plain list of certificate objects: that list itself, which
-- the caller does not change). parse(text, i, arg) parses a text (a cache's, for the
-- policy), default input.chain_text. A chain that is not a list or an element
-- of another type raises "clientcert.<where>: ..." at level (as util counts it).
function M.chain(chain, where, level, parse, arg)
  parse = parse or M.chain_text
  local items = util.list(chain, where, "chain", level + 1)
  -- the list of certificates: a list without a metatable (read raw, as C reads
  -- it) of certificate objects only is that list itself (no copy per check)
  local out
  if getmetatable(items) ~= nil then out = {} end
  for i = 1, #items do
    local item = items[i]
    if type(item) == "string" then
      local list, err = parse(item, i, arg)
      if not list then return nil, err end
      if not out then
        out = {}
        for j = 1, i - 1 do out[j] = items[j] end
      end
      for j = 1, #list do out[#out + 1] = list[j] end
    elseif core.typeof(item) == "cert" then
      if out then out[#out + 1] = item end
    else
      error(("clientcert.%s: chain[%d] must be a certificate or PEM/DER text"):format(where, i), level + 1)
    end
  end
  return out or items
end

--- err = input.not_pem_nor_der(err, data): a parse error of a file's data that is
-- not PEM (no "-----BEGIN") and cannot be DER (which starts with a SEQUENCE, byte
-- 0x30) says so: "invalid DER certificate: too long" alone leaves the reader of
-- a roots file that holds an HTML error page or a key wondering about DER.
function M.not_pem_nor_der(err, data)
  if type(err) ~= "string" or data:byte(1) == 0x30 or data:find("-----BEGIN", 1, true) then return err end
  local head, der = err:match("^(.-)(invalid DER .*)$")
  if not head then return err end
  return ("%sneither PEM (no \"-----BEGIN\" line) nor DER (%s)"):format(head, der)
end

--- list, err = input.load(kind, path, where): input.read, then input.parse (errors name the path).
function M.load(kind, path, where)
  local data, err = M.read(path, where)
  if not data then return nil, err end
  local list, perr = core.parse_bundle(kind, data, where, path)
  if not list then return nil, M.not_pem_nor_der(perr, data) end
  return list
end

--- ok, err = input.collect(v, kind, where, name, out, level): appends to out the
-- certificates (kind "cert") or CRLs (kind "crl") that v describes: an object,
-- PEM text, DER bytes, a file path, or a list of those (a proper sequence: a keyed
-- table or one with holes raises, util.list). name: what v is called in errors
-- ("roots" ...). Returns true, or nil, err for bad data; raises (at level, as
-- error() counts from collect) for a wrong type.
local function collect(v, kind, where, name, out, level)
  local t = type(v)
  if t == "table" then
    local list = util.list(v, where, name, level)
    for i = 1, #list do
      local ok, err = collect(list[i], kind, where, ("%s[%d]"):format(name, i), out, level + 1)
      if not ok then return nil, err end
    end
    return true
  elseif t == "userdata" then
    if core.typeof(v) ~= kind then
      error(("clientcert.%s: expected a %s object, got %s"):format(where, kind, tostring(v)), level)
    end
    out[#out + 1] = v
    return true
  elseif t ~= "string" then
    error(("clientcert.%s: expected a %s, PEM/DER text or a path, got %s"):format(where, kind, t), level)
  end
  local list, err
  if M.is_pem(v) or M.is_der(v) then
    list, err = core.parse_bundle(kind, v, where)
  else
    list, err = M.load(kind, v, where)
  end
  if not list then return nil, err end
  for i = 1, #list do out[#out + 1] = list[i] end
  return true
end
M.collect = collect

return M
