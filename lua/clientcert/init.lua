--- clientcert: parse X.509 client certificates and verify their chains with OpenSSL.
--
-- C (clientcert.core) parses, verifies and reports facts; this module turns
-- paths, PEM/DER text and lists into objects, checks options, and names the
-- documented cause of each problem (clientcert.causes).
--
-- Not checked here: OCSP, fetching CRLs or issuers from the network (CDP/AIA),
-- host names (a client certificate names a client, not a host), and anything
-- OpenSSL's X509_verify_cert does not check itself. See docs/api.md "Limits".
local core = require "clientcert.core"
local causes = require "clientcert.causes"
local options = require "clientcert.options"
local input = require "clientcert.input"
local util = require "clientcert.util"

local M = {}

M.version = core.version
M.openssl_version = core.openssl_version

-- The most a certificate or CRL file may hold (core.MAX_INPUT, as core.parse accepts at most).
M.MAX_FILE = input.MAX

-- data, err = read_file(path, where): the whole regular file, at most MAX_FILE
-- bytes, or nil, "clientcert.<where>: ..." (clientcert.input.read: recorded for
-- whoever watches the files a policy read).
local read_file = input.read

-- Replaces the "clientcert.<fn>:" prefix of a core error with "clientcert.<where>: <ctx>:".
local function reprefix(err, where, ctx)
  local rest = err:match("^clientcert%.[%w_%.]+: (.*)$") or err
  if ctx then
    return ("clientcert.%s: %s: %s"):format(where, ctx, rest)
  end
  return ("clientcert.%s: %s"):format(where, rest)
end

--- cert, err = clientcert.parse(data): one certificate, PEM or DER.
M.parse = core.parse
--- list, err = clientcert.parse_all(data): every certificate of a PEM bundle.
M.parse_all = core.parse_all
--- crl, err = clientcert.parse_crl(data): one CRL, PEM or DER.
M.parse_crl = core.parse_crl
--- p12, err = clientcert.parse_pkcs12(data[, password]): a DER PKCS#12 (.p12/.pfx) file as
-- {cert = cert, chain = {cert, ...}, key = unencrypted PKCS#8 PEM | nil}; see docs/api.md "Parsing".
M.parse_pkcs12 = core.parse_pkcs12

--- list, err = clientcert.parse_crls(data): every CRL of a PEM bundle (or one DER CRL);
-- a truncated PEM block is an error (core.parse_bundle), as for parse_all.
M.parse_crls = core.parse_crls

-- A function(path) that reads the file and parses it; errors name the path.
local function loader(where, parse)
  return function(path)
    local data, err = read_file(path, where)
    if not data then return nil, err end
    local v, perr = parse(data)
    if not v then return nil, input.not_pem_nor_der(reprefix(perr, where, path), data) end
    return v
  end
end

--- cert, err = clientcert.load(path)
M.load = loader("load", core.parse)
--- list, err = clientcert.load_all(path)
function M.load_all(path)
  if type(path) ~= "string" then error("clientcert.load_all: path must be a string, got " .. type(path), 2) end
  return input.load("cert", path, "load_all")
end
--- crl, err = clientcert.load_crl(path)
M.load_crl = loader("load_crl", core.parse_crl)

--- kind = clientcert.typeof(v): "cert", "crl", "store" or nil.
M.typeof = core.typeof

-- Appends to out the certificates or CRLs that v describes (clientcert.input.collect).
local collect = input.collect

-- The store is the C userdata itself (class clientcert.store): its methods are
-- the C class's method table (core.store_methods), extended here with the
-- Lua-level methods below. These call the C methods kept in the locals C_*
-- (from core._store_c, so that loading this module twice cannot wrap twice).
-- What the store knows about its roots is kept in its user value by the C core
-- when each root is added (core._store_facts; see csrc/clientcert.h).
local Store = core.store_methods
local C_add_root, C_add_intermediate = core._store_c.add_root, core._store_c.add_intermediate
local C_add_crl, C_verify = core._store_c.add_crl, core._store_c.verify
local store_facts = core._store_facts

-- Adds what x describes with the C method add; where/name for errors; level:
-- where a wrong type is blamed, as error() counts from add_all.
local function add_all(store, kind, add, x, where, name, level)
  local list = {}
  local ok, err = collect(x, kind, where, name, list, level + 1)
  if not ok then return nil, err end
  for i = 1, #list do
    local added, aerr = add(store, list[i])
    if not added then return nil, aerr end
    -- every change of what the store trusts or knows is a new generation, so
    -- that anything cached from an earlier one (a policy's verdicts) is not used
    local facts = store_facts(store)
    facts.generation = (facts.generation or 0) + 1
  end
  return true
end

local function adder(kind, add, where)
  return function(self, x)
    if core.typeof(self) ~= "store" then
      error(("clientcert.%s: expected a clientcert.store, got %s"):format(where, type(self)), 2)
    end
    return add_all(self, kind, add, x, where, "argument", 3)
  end
end

--- ok, err = store:add_root(x): x is a cert, PEM/DER text, a path, or a list of those.
Store.add_root = adder("cert", C_add_root, "store.add_root")
--- ok, err = store:add_intermediate(x)
Store.add_intermediate = adder("cert", C_add_intermediate, "store.add_intermediate")
--- ok, err = store:add_crl(x): x is a crl, PEM/DER text, a path, or a list of those.
Store.add_crl = adder("crl", C_add_crl, "store.add_crl")
--- n = store:generation(): how many certificates and CRLs have been added so far
-- (it changes whenever what the store trusts or knows changes).
function Store:generation()
  if core.typeof(self) ~= "store" then error("clientcert.store.generation: expected a clientcert.store", 2) end
  return store_facts(self).generation or 0
end
-- From C: store:roots(), store:intermediates(), store:crl_count(), store:stats(),
-- store:crls(), store:close(), tostring(store).

-- store:verify's options: clientcert.options' schema, per call.
local VERIFY_CTX = {
  per_call = true, where = "store.verify",
  label = function(k) return k or "opts" end,
  unknown = function(k) return ("unknown option '%s'"):format(k) end,
}

-- Fills cause fields from the catalogue: result.cause, problem.cause, element.status.
-- root_subjects: the store's kept set of trusted root subjects.
local function annotate(result, root_subjects)
  local chain = result.chain
  for _, p in ipairs(result.problems) do p.cause = causes.for_problem(p, chain, root_subjects) end
  for i, el in ipairs(chain) do
    for _, p in ipairs(el.problems) do
      p.cause = causes.for_problem({ code = p.code, code_name = p.code_name, depth = i - 1 }, chain, root_subjects)
    end
    el.status = el.problems[1] and el.problems[1].cause or "ok"
  end
  -- "the" cause: by precedence (causes.primary), as policy:check chooses it
  result.cause = result.ok and "ok" or causes.primary(result.problems) or "invalid_certificate"
  return result
end

-- The strict profile (opts.profile = "strict"): clientcert.profile's problems of
-- the path, appended to the result's and each element's problems (cause
-- profile_violation); any of them rejects.
local function strict_profile(result)
  local extra = require("clientcert.profile").problems(result, result.certs)
  if #extra == 0 then return end
  for _, p in ipairs(extra) do
    result.problems[#result.problems + 1] = p
    local el = result.chain[p.depth + 1]
    if el then
      el.problems[#el.problems + 1] = { code_name = p.code_name, error = p.error, rule = p.rule, cause = p.cause }
      if el.status == "ok" then el.status = p.cause end
    end
  end
  if result.ok then   -- OpenSSL found nothing: the result names the first rule broken
    result.code_name, result.error, result.depth = extra[1].code_name, extra[1].error, extra[1].depth
    result.code = nil  -- no OpenSSL code says it
  end
  result.ok = false
  result.cause = causes.primary(result.problems) or "profile_violation"
end

local function has_code(result, code_name)
  for _, p in ipairs(result.problems) do
    if p.code_name == code_name then return true end
  end
  return false
end

-- The strict profile's path validation where OpenSSL departs from RFC 5280
-- (clientcert.profile): notAfter inclusive; self-issued intermediates not counted
-- against max_depth -- a path OpenSSL finds too long is built again with room for
-- them, and that result is taken when its counted intermediates fit max_depth.
-- o: the options given to C (max_depth absent: C's default, 10).
local DEFAULT_MAX_DEPTH, SELF_ISSUED_ROOM = 10, 32
local function rfc_path(store, cert, o, result)
  local profile = require "clientcert.profile"
  if has_code(result, "X509_V_ERR_CERT_CHAIN_TOO_LONG") then
    local limit = o.max_depth or DEFAULT_MAX_DEPTH
    local wider = {}
    for k, v in pairs(o) do wider[k] = v end
    wider.max_depth = math.min(limit, 1000000) + SELF_ISSUED_ROOM  -- no integer overflow near the maximum
    local again = C_verify(store, cert, wider)
    if again and not has_code(again, "X509_V_ERR_CERT_CHAIN_TOO_LONG")
        and profile.intermediates(again.chain) <= limit then
      result = again
    end
  end
  if o.check_time ~= false then profile.inclusive_not_after(result) end
  return result
end

--- result, err = store:verify(cert, opts)
-- cert: a cert object or PEM/DER text. opts: see docs/api.md "Stores and verification".
-- Returns the result table (result.ok is the verdict), or nil, err when the
-- client's data cannot be parsed (the caller must then reject). opts is read
-- once with raw access (no metamethod runs) into a fresh table given to C.
function Store:verify(cert, opts)
  if core.typeof(self) ~= "store" then
    error("clientcert.store.verify: expected a clientcert.store, got " .. type(self), 2)
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("clientcert.store.verify: opts must be a table", 2)
  end
  local o, oerr = options.check_verify(opts, VERIFY_CTX)
  if not o then error("clientcert.store.verify: " .. oerr, 2) end
  if type(cert) == "string" then
    local c, err = core.parse(cert)
    if not c then return nil, reprefix(err, "store.verify", "certificate") end
    cert = c
  elseif core.typeof(cert) ~= "cert" then
    error("clientcert.store.verify: cert must be a certificate or PEM/DER text, got " .. type(cert), 2)
  end
  if o.chain ~= nil then
    local chain, err = input.chain(o.chain, "store.verify", 2)
    if not chain then return nil, err end
    o.chain = chain
  end
  local strict = o.profile == "strict"
  o.profile = nil
  local want_certs = o.certs
  if strict then
    local flags = { "x509_strict" }
    for _, f in ipairs(o.flags or {}) do flags[#flags + 1] = f end
    o.flags, o.certs = flags, true
  end
  local result, err = C_verify(self, cert, o)
  if not result then return nil, err end
  if strict then result = rfc_path(self, cert, o, result) end
  annotate(result, store_facts(self).root_subjects)
  if strict then
    strict_profile(result)
    if not want_certs then result.certs = nil end
  end
  return result
end

local STORE_KEYS = { roots = true, intermediates = true, crls = true }

--- store, err = clientcert.store{roots = x, intermediates = x, crls = x}
-- each x is a path, PEM text, an object, or a list of those.
-- store | nil, err = M._store_at(spec, level): clientcert.store, raising at
-- `level` (2: the caller of _store_at); the policy sandbox wraps it.
function M._store_at(spec, level)
  spec = spec or {}
  if type(spec) ~= "table" then error("clientcert.store: argument must be a table", level) end
  spec = util.raw_copy(spec) -- (raw access: no metamethod of the caller's tables runs)
  for k in next, spec do
    if not STORE_KEYS[k] then error(("clientcert.store: unknown key '%s'"):format(tostring(k)), level) end
  end
  local store, rerr = core.new_store()
  if not store then return nil, rerr end
  local steps = { { "roots", "cert", C_add_root }, { "intermediates", "cert", C_add_intermediate },
                  { "crls", "crl", C_add_crl } }
  for _, s in ipairs(steps) do
    local v = spec[s[1]]
    if v ~= nil then
      local ok, err = add_all(store, s[2], s[3], v, "store", s[1], level + 1)
      if not ok then return nil, err end
    end
  end
  return store
end

function M.store(spec)
  local store, err = M._store_at(spec, 3) -- (not a tail call: the level counts this frame)
  return store, err
end

--- report = clientcert.audit_store(store[, {time = secs}]): see clientcert.audit.audit_store.
function M.audit_store(store, opts)
  return require("clientcert.audit").audit_store(store, opts)
end

--- is = clientcert.is_store(v)
function M.is_store(v)
  return core.typeof(v) == "store"
end

--- policy, err = clientcert.policy{...}: see clientcert.policy and docs/api.md "Policies".
function M.policy(opts)
  return require("clientcert.policy").new(opts)
end

--- policy, err = clientcert.load_policy(path[, params]): params is seen by the file as `params`.
function M.load_policy(path, params)
  return require("clientcert.policy").load_file(path, params)
end

--- report, err = clientcert.probe{host =, port =, ...}: a live server seen from a
-- client's side (what it asks of clients, and why a client is refused); see
-- clientcert.probe (the module) and docs/api.md "Probing a server".
function M.probe(opts)
  return require("clientcert.probe").probe(opts, collect, read_file, 2)
end

--- line = clientcert.verdict_json(verdict): one bounded JSON log line (see clientcert.text).
M.verdict_json = require("clientcert.text").verdict_json

return M
