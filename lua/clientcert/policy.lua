--- clientcert.policy: decides whether a TLS client is accepted and, when it is
-- not, which documented cause (clientcert.causes) to report.
--
--   policy = clientcert.policy{mode = "require"|"optional"|"off", trust = store,
--                              allow = {matcher, ...}, rule = function(info, verdict) end,
--                              verify = {crl=, crl_missing=, max_depth=, purpose=, ...},
--                              intermediate_in_roots = "warn"|"reject"}
--   verdict = policy:check{cert = pem|der|cert|nil, chain = {...}, time = secs, key = pem|nil,
--                          deployment = "library"|"gate"|"cli"|"server"|"iis"}
--
-- Fail closed: anything that goes wrong while checking (unparsable input, a
-- raising rule, an internal error) is a rejection with a cause, never a raise
-- and never an accept. Not checked: OCSP, and anything store:verify does not check.
local compat = require "clientcert.compat"
local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local util = require "clientcert.util"
local lru = require "clientcert.lru"
local revocation = require "clientcert.revocation"
local options = require "clientcert.options"
local input = require "clientcert.input"

local M = {}

-- A policy object is an empty proxy: its state is held by its own (locked)
-- metatable's __index closure, which hands it out only for the private key
-- STATE_KEY, out of reach of anything holding the object; the methods table has
-- no __index key. So no code that gets a policy (a policy file, a rule, a
-- caller) can change its mode, trust, allow list or verify options, or replace
-- check for every policy of the process. (No side table maps policies to their
-- state: a rule that refers to its own policy would keep it alive for ever
-- under LuaJIT's weak tables, which are not ephemerons.)
local STATE_KEY = {}
local IS_POLICY = setmetatable({}, { __mode = "k" }) -- policy -> true
local methods = {}
local cache_new, parse_cached, chain_certs, cache_key, cache_window -- below, with the verdict cache
local revocation_env, effective_crl_mode -- below, before decide
-- The verdict last served from a verdict cache entry, that entry, and the client
-- and chain tables the verdict was served with (for M.json_parts; one slot: the
-- gate asks right after the check)
local served_v, served_entry, served_client, served_chain

-- state | nil: the state of policy p.
local function state_of(p)
  if IS_POLICY[p] then return p[STATE_KEY] end
  return nil
end

local MODES = { require = true, optional = true, off = true }
local POLICY_KEYS = { mode = true, trust = true, allow = true, rule = true, verify = true, name = true,
                      cache = true, intermediate_in_roots = true, revocation = true }
local IN_ROOTS = { warn = true, reject = true }
local DEPLOYMENTS = {} -- the deployments causes.resolution words steps for
for _, d in ipairs(causes.DEPLOYMENTS) do DEPLOYMENTS[d] = true end
-- verdict table -> the deployment its steps are worded for (set by check; a
-- side table, so that no verdict carries a field it did not have before)
local DEPLOYMENT_OF = setmetatable({}, { __mode = "k" })
-- matcher key -> how to read the value from cert:info()
local MATCH_KEYS = {
  subject_cn = true, subject = true, issuer_cn = true, issuer = true, san_email = true,
  san_dns = true, san_uri = true, fingerprint = true, serial = true,
  subject_cn_pattern = true, subject_pattern = true, issuer_cn_pattern = true, issuer_pattern = true,
  san_email_pattern = true, san_dns_pattern = true, san_uri_pattern = true,
}

-- err = pattern_error(p): what is wrong with Lua pattern p, or nil. A static
-- check of the whole pattern, as lstrlib.c reads it: a malformed part is found
-- even where matching a given subject would never reach it ("^alice%").
local function pattern_error(p)
  local n, i = #p, 1
  local open, done, count = {}, {}, 0 -- open: stack of capture numbers; done[k]: capture k closed
  local function class_end(j) -- j at '[': the index after the closing ']', or nil
    j = j + 1
    if p:sub(j, j) == "^" then j = j + 1 end
    repeat
      if j > n then return nil end
      local c = p:sub(j, j)
      j = j + 1
      if c == "%" then
        if j > n then return nil end
        j = j + 1
      end
    until p:sub(j, j) == "]"
    return j + 1
  end
  if p:sub(1, 1) == "^" then i = 2 end
  while i <= n do
    local c = p:sub(i, i)
    if c == "%" then
      local d = p:sub(i + 1, i + 1)
      if d == "" then return "malformed pattern (ends with '%')" end
      if d == "b" then
        if i + 3 > n then return "missing arguments to '%b'" end
        i = i + 4
      elseif d == "f" then
        if p:sub(i + 2, i + 2) ~= "[" then return "missing '[' after '%f' in pattern" end
        i = class_end(i + 2)
        if not i then return "malformed pattern (missing ']')" end
      elseif d:match("%d") then
        local k = tonumber(d)
        if k == 0 or not done[k] then return "invalid capture index %" .. d end
        i = i + 2
      else
        i = i + 2
      end
    elseif c == "[" then
      i = class_end(i)
      if not i then return "malformed pattern (missing ']')" end
    elseif c == "(" then
      count = count + 1
      if count > 32 then return "too many captures" end
      if p:sub(i + 1, i + 1) == ")" then -- position capture
        done[count] = true
        i = i + 2
      else
        open[#open + 1] = count
        i = i + 1
      end
    elseif c == ")" then
      if #open == 0 then return "invalid pattern capture" end
      done[open[#open]] = true
      open[#open] = nil
      i = i + 1
    else
      i = i + 1
    end
  end
  if #open > 0 then return "unfinished capture" end
  local ok, err = pcall(string.find, "", p) -- and whatever this reader might have missed
  if not ok then return tostring(err) end
  return nil
end

local function matcher_error(m, i)
  if type(m) ~= "table" then return ("allow[%d] must be a table"):format(i) end
  local n = 0
  for k, v in pairs(m) do
    if not MATCH_KEYS[k] then return ("allow[%d]: unknown matcher '%s'"):format(i, tostring(k)) end
    if type(v) ~= "string" then return ("allow[%d].%s must be a string"):format(i, k) end
    if k:match("_pattern$") then
      local perr = pattern_error(v)
      if perr then return ("allow[%d].%s is not a valid Lua pattern: %s"):format(i, k, perr) end
    end
    n = n + 1
  end
  if n == 0 then return ("allow[%d] is empty (it would admit everyone)"):format(i) end
  return nil
end

-- A checker that raises "clientcert.policy: ..." (util's checkers) as err.
local function checked(f, ...)
  local ok, v = pcall(f, ...)
  if ok then return v end
  -- the bare message: no "file:line:" position (error levels count from the
  -- checker), no "clientcert.policy:" prefix (the caller adds its own)
  local msg = tostring(v):gsub("^[^\n]-:%d+: ", "")
  return nil, (msg:gsub("^clientcert%.policy: ", ""))
end

-- copy | nil, err: the verify options, each value checked, as a fresh table.
local VERIFY_CTX = {
  where = "policy",
  label = function(k) return k and ("verify." .. k) or "verify" end,
  unknown = function(k) return ("unknown verify option '%s'"):format(k) end,
}
local function verify_copy(verify)
  return options.check_verify(verify, VERIFY_CTX)
end

-- The verdict cache (opts.cache = {size = n[, ttl = seconds]}): it holds the
-- outcome of the chain verification only, keyed by the SHA-256 of the leaf and of
-- each chain certificate in the order sent, and the store's generation; allow and
-- rule run on every check. An entry serves a check time only inside its window
-- (latest not_before of the path .. earliest not_after of the path and next
-- update of the store's CRLs) and only for ttl seconds of real time. A parse
-- cache beside it maps the bytes a client sent to the certificate objects.
local CACHE_KEYS = { size = true, ttl = true }

-- cache | nil, err (nil, nil when opts.cache is absent)
function cache_new(c)
  if c == nil then return nil, nil end
  if type(c) ~= "table" then return nil, "cache must be a table {size = n[, ttl = seconds]}" end
  for k in pairs(c) do
    if not CACHE_KEYS[k] then return nil, ("unknown cache option '%s'"):format(tostring(k)) end
  end
  local size, serr = checked(util.integer, c.size, "policy", "cache.size", 1, 1e9)
  if not size then return nil, serr end
  if c.ttl ~= nil and (type(c.ttl) ~= "number" or c.ttl ~= c.ttl or c.ttl < 0 or c.ttl == math.huge) then
    return nil, "cache.ttl must be a number of seconds >= 0"
  end
  -- the parse cache: one map per kind, keyed by the bytes themselves (a string
  -- a caller passes again is then found without being hashed or copied again)
  return { verdicts = lru.new(size, c.ttl), parsed = { ["1"] = lru.new(size * 2), ["*"] = lru.new(size * 2) },
           hits = 0, misses = 0, size = size,
           ttl = c.ttl }
end

local new_policy -- policy = new_policy(state) (below, with the methods)

-- policy | nil, err: the policy object for opts, or what is wrong with opts.
local function build(opts)
  if type(opts) ~= "table" then return nil, "options must be a table" end
  for k in pairs(opts) do
    if not POLICY_KEYS[k] then return nil, ("unknown option '%s'"):format(tostring(k)) end
  end
  local mode = opts.mode
  if mode == nil then mode = "require" end
  if not MODES[mode] then return nil, "mode must be \"require\", \"optional\" or \"off\"" end
  if mode ~= "off" and not clientcert.is_store(opts.trust) then
    return nil, "trust must be a clientcert.store (unless mode = \"off\")"
  end
  if opts.trust ~= nil and not clientcert.is_store(opts.trust) then return nil, "trust must be a clientcert.store" end
  if opts.allow ~= nil and type(opts.allow) ~= "table" then return nil, "allow must be a list of matchers" end
  local list, lerr = checked(util.list, opts.allow, "policy", "allow")
  if not list then return nil, lerr end
  local allow = {}
  for i, m in ipairs(list) do
    local err = matcher_error(m, i)
    if err then return nil, err end
    local copy = {}
    for k, v in pairs(m) do copy[k] = v end
    allow[i] = copy
  end
  if opts.rule ~= nil and type(opts.rule) ~= "function" then return nil, "rule must be a function" end
  if opts.name ~= nil and type(opts.name) ~= "string" then return nil, "name must be a string" end
  local verify, verr = verify_copy(opts.verify or {})
  if not verify then return nil, verr end
  local cache, cerr = cache_new(opts.cache)
  if cerr then return nil, cerr end
  local in_roots = opts.intermediate_in_roots
  if in_roots == nil then in_roots = "warn" end
  if not IN_ROOTS[in_roots] then return nil, "intermediate_in_roots must be \"warn\" or \"reject\"" end
  local rev
  if opts.revocation ~= nil then
    local rok, r = pcall(revocation.options, opts.revocation, "policy")
    if not rok then return nil, (tostring(r):gsub("^.-clientcert%.policy: ", "")) end
    rev = r
    rev.cache = revocation.memory_cache(cache and cache.size or 10000)
    rev.envs = {}
  end
  -- on LuaJIT a rule runs interpreted, so that its instruction budget is enforced
  if opts.rule then compat.jit_off(opts.rule) end
  return new_policy{ mode = mode, trust = opts.trust, allow = allow, rule = opts.rule,
                     verify = verify, name = opts.name, cache = cache, intermediate_in_roots = in_roots,
                     revocation = rev }
end

--- policy = policy.new(opts): see the module header. A wrong option is a
-- programmer error and raises (at the caller of clientcert.policy, which
-- tail-calls this). The matchers and verify options are copied and checked
-- here, so that no option can fail per request; changing the caller's tables
-- later does not change the policy.
function M.new(opts)
  local policy, err = build(opts)
  if not policy then error("clientcert.policy: " .. err, 2) end
  return policy
end

-- A deep copy of plain data (tables without metatables, no cycles: cert:info()
-- results, verdicts, options).
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

-- Copies of a verdict cache entry's data, for its hits. Each hit hands out tables
-- of its own (a caller or a rule may change them; the entry must not change), and
-- copying cert:info() and the verification result with deep_copy was most of a
-- hit's time. So an entry's data is copied by a constructor compiled for its
-- shape: one table-constructor expression, sized at compile time, that reads the
-- entry's scalars from an array. Entries of the same shape (the same keys and
-- nesting; not the same values) share one compiled function, kept in a small LRU.
-- Data with more than TEMPLATE_MAX_NODES values or nested deeper than
-- TEMPLATE_MAX_DEPTH (a certificate with thousands of SANs), or whose constructor
-- the compiler refuses, is copied with deep_copy instead, so that no client can
-- make a hit compile a large function.
-- Memory: the entry is that array of scalars itself (no closure, no copy of the
-- tables), and the parts that many clients have in common (their CA elements of
-- the chain, the issuer's name fields, the key type, the key usages) are one
-- shared copier each, found by content (SHARED), held in one slot.
local TEMPLATE_MAX_NODES, TEMPLATE_MAX_DEPTH = 600, 12
local templates = lru.new(64) -- constructor source -> chunk(K) -> a fresh copy
local RESERVED = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do RESERVED[w] = true end
local ENTRY_BASE = 6 -- entry slots before the values (see make_entry)
local KREF, KKEY, KCALL = {}, {}, {} -- i -> "K[i]", "[K[i]]=", "K[i]()"
for i = 1, TEMPLATE_MAX_NODES + ENTRY_BASE do
  KREF[i], KKEY[i], KCALL[i] = "K[" .. i .. "]", "[K[" .. i .. "]]=", "K[" .. i .. "]()"
end
-- string key -> its constructor text ("name=") or false (not a Lua name: given as [K[i]]=);
-- emptied when it holds more than 1,000 keys
local KEY_TEXT, key_count = {}, 0
local function key_text(k)
  local t = KEY_TEXT[k]
  if t == nil then
    t = type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not RESERVED[k] and (k .. "=") or false
    if key_count >= 1000 then KEY_TEXT, key_count = {}, 0 end
    KEY_TEXT[k], key_count = t, key_count + 1
  end
  return t
end

-- Keys whose values are few and shared by many certificates and verification
-- results (an attribute or SAN type, a status, a code, an algorithm, a depth):
-- such a value (a short string, a small integer) is written into the constructor
-- itself rather than held by each entry, as booleans are.
local LITERAL_KEYS = { name = true, type = true, status = true, code_name = true, cause = true, error = true,
                       code = true, version = true, signature_algorithm = true, depth = true, curve = true,
                       bits = true }
local function literal(k, v)
  local t = type(v)
  if t == "boolean" then return v and "true" or "false" end
  if not LITERAL_KEYS[k] then return nil end
  if t == "string" and #v <= 40 and not v:find("[^%w _%-%.:,/]") then return '"' .. v .. '"' end
  if t == "number" and v == math.floor(v) and v >= 0 and v < 1e6 then return ("%d"):format(v) end
  return nil
end

-- Appends the constructor source of v (the value of key `key` in its table) to src
-- and its values to vals; false when v has more than TEMPLATE_MAX_NODES tables,
-- keys and values together (count[1] counts them; count[2] is the index of the
-- last value in vals), is nested too deep, or has a hole in its sequence (a nil
-- at i <= #v). A table t with shared[t] is one value: the copier shared[t],
-- called ("K[i]()").
local function template_source(v, src, vals, depth, count, shared, key)
  count[1] = count[1] + 1
  if count[1] > TEMPLATE_MAX_NODES then return false end
  if type(v) ~= "table" then
    local lit = literal(key, v)
    if lit then
      src[#src + 1] = lit
      return true
    end
    local i = count[2] + 1
    count[2], vals[i] = i, v
    src[#src + 1] = KREF[i]
    return true
  end
  if shared and shared[v] then
    local i = count[2] + 1
    count[2], vals[i] = i, shared[v]
    src[#src + 1] = KCALL[i]
    return true
  end
  if depth > TEMPLATE_MAX_DEPTH then return false end
  src[#src + 1] = "{"
  local n = #v
  for i = 1, n do
    if v[i] == nil then return false end
    if not template_source(v[i], src, vals, depth + 1, count, shared, i) then return false end
    src[#src + 1] = ","
  end
  for k, x in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then
      local t = key_text(k)
      if t then
        src[#src + 1] = t
      else
        count[1] = count[1] + 1
        local i = count[2] + 1
        count[2], vals[i] = i, k
        src[#src + 1] = KKEY[i]
      end
      if not template_source(x, src, vals, depth + 1, count, shared, k) then return false end
      src[#src + 1] = ","
    end
  end
  src[#src + 1] = "}"
  return true
end

-- chunk, code | nil: the compiled constructor for v's shape (chunk(K) returns a
-- fresh copy of v reading its values from K[first + 1], ...; they are put there
-- in vals), or nil when v cannot have one. code: the constructor's source.
local function template_chunk(v, vals, first, shared)
  local src = { "local K = ... return " }
  if not template_source(v, src, vals, 0, { 0, first }, shared) then return nil end
  local code = table.concat(src)
  local chunk = templates:get(code)
  if chunk == nil then
    chunk = compat.load(code, "=clientcert.template", {})
    chunk = chunk or false -- a refused constructor (too many registers): never tried again
    templates:set(code, chunk)
  end
  if not chunk then return nil end
  return chunk, code
end

-- copier = template_copier(v): a function returning a fresh deep copy of v as it
-- is now (plain data without cycles; later changes to v are not seen).
local function template_copier(v)
  local vals = {}
  local chunk = template_chunk(v, vals, 0)
  if chunk then return function() return chunk(vals) end end
  local copy = deep_copy(v)
  return function() return deep_copy(copy) end
end
M.template_copier = template_copier -- (internal; for the specs)

-- Copiers of data that many cache entries hold alike (a CA's element of the
-- chain, an issuer's name fields), by content: constructor source and values.
local SHARED = lru.new(512)

-- A number, string or boolean as text that tells it from any other value.
local function value_text(x)
  if type(x) == "number" then
    return (compat.math_type(x) or "n") .. ("%.17g"):format(x)
  end
  local s = tostring(x)
  return type(x):sub(1, 1) .. #s .. ":" .. s
end

-- The copier of v, shared by every entry whose data holds the same as v.
local function shared_copier(v)
  local vals = {}
  local chunk, code = template_chunk(v, vals, 0)
  if not chunk then return template_copier(v) end
  local key = { code }
  for i = 1, #vals do key[i + 1] = value_text(vals[i]) end
  key = table.concat(key, "\0")
  local copier = SHARED:get(key)
  if not copier then
    copier = function() return chunk(vals) end
    SHARED:set(key, copier)
  end
  return copier
end

-- The subtables of a cache entry's data {info, result} that clients of the same
-- CAs hold alike: shared[t] = its shared copier.
local SHARED_INFO = { "issuer_fields", "public_key", "key_usage", "eku" }
local function shared_parts(data)
  local shared = {}
  for _, k in ipairs(SHARED_INFO) do
    local t = data.info[k]
    if type(t) == "table" then shared[t] = shared_copier(t) end
  end
  local chain = data.result.chain
  if type(chain) == "table" then
    for i = 2, #chain do
      if type(chain[i]) == "table" then shared[chain[i]] = shared_copier(chain[i]) end
    end
  end
  return shared
end

-- A verdict cache entry is one array. Slots: [1] the chunk that copies its data
-- (false: [6] holds a plain copy instead), [2] the rendered message of an
-- acceptance (once one was served), [3] the JSON of the client's names (once
-- asked for), [4] the chain key (the store's generation and the chain's SHA-256s,
-- which the cache key, the leaf's SHA-256, does not hold), [5] the chain's JSON
-- (once asked for), [6] a plain copy of the data (when there is no chunk); then
-- the data's values.
local E_CHUNK, E_MESSAGE, E_CLIENT_JSON, E_CHAIN_KEY, E_CHAIN_JSON, E_PLAIN = 1, 2, 3, 4, 5, 6

local function make_entry(data, chain_key)
  local e = { false, false, false, chain_key, false, false }
  local chunk = template_chunk(data, e, ENTRY_BASE, shared_parts(data))
  if chunk then
    e[E_CHUNK] = chunk
  else
    for i = #e, ENTRY_BASE + 1, -1 do e[i] = nil end
    e[E_PLAIN] = deep_copy(data)
  end
  return e
end

-- data = entry_copy(e): fresh tables {info, result} of entry e.
local function entry_copy(e)
  local chunk = e[E_CHUNK]
  if chunk then return chunk(e) end
  return deep_copy(e[E_PLAIN])
end

-- Strings many entries hold alike (chain keys, chain JSON, issuer names): one
-- object each, by content; emptied when it holds more than 1,000.
local INTERNED, interned_count = {}, 0
local function intern(s)
  if type(s) ~= "string" then return s end
  local t = INTERNED[s]
  if t then return t end
  if interned_count >= 1000 then INTERNED, interned_count = {}, 0 end
  INTERNED[s], interned_count = s, interned_count + 1
  return s
end

-- Matchers on one attribute of a name: key -> info field, attribute, which name.
local NAME_ATTRS = {
  subject_cn = { "subject_fields", "CN", "subject" },
  issuer_cn = { "issuer_fields", "CN", "issuer" },
}

-- Values of one matcher key in the client's info (a list of strings), or nil
-- and why no value may be compared: a name with more than one value for the
-- attribute (CN=mallory, CN=admin; or CN=a+CN=b) matches no one-attribute
-- matcher, since either value may be the one its CA checked.
local function values(info, key)
  local attr = NAME_ATTRS[key]
  if attr then
    local out = {}
    for _, f in ipairs(info[attr[1]] or {}) do
      if f.name == attr[2] then out[#out + 1] = f.value end
    end
    if #out > 1 then
      return nil, ("the %s has %d %s values; a %s matcher never matches a multi-valued name")
        :format(attr[3], #out, attr[2], attr[2])
    end
    return out
  end
  local function san(kind)
    local out = {}
    for _, s in ipairs(info.san or {}) do if s.type == kind then out[#out + 1] = s.value end end
    return out
  end
  if key == "subject" then return { info.subject } end
  if key == "issuer" then return { info.issuer } end
  if key == "san_email" then return san("email") end
  if key == "san_dns" then return san("dns") end
  if key == "san_uri" then return san("uri") end
  if key == "fingerprint" then return { info.fingerprint } end
  if key == "serial" then return { info.serial } end
  return {}
end

local function norm(key, v)
  -- fingerprints are compared case-insensitively without colons; serials without colons, uppercase
  if key == "fingerprint" then return (v:lower():gsub(":", "")) end
  if key == "serial" then   -- "00A1..." and "A1...": the sign octet is optional in a matcher
    local hex = v:upper():gsub(":", "")
    return (hex:gsub("^00(%x%x)", "%1"))
  end
  return v
end

-- true | false[, why]: does every key of matcher m hold for info? Exact byte
-- comparison unless *_pattern; a SAN matcher holds when any value of that SAN
-- type does (SANs are lists by design), a name-attribute matcher only for a
-- name with exactly one value of the attribute (why says so otherwise).
local function matches(m, info)
  local all, why = true, nil
  for k, want in pairs(m) do
    local base = k:match("^(.-)_pattern$")
    local have, w = values(info, base or k)
    local ok = false
    if w and (not why or w < why) then why = w end
    for _, h in ipairs(have or {}) do
      if base then
        -- a pattern is anchored by its author; a NUL in a value never passes as a terminator
        ok = h:find(want) ~= nil
      else
        ok = norm(k, h) == norm(k, want)
      end
      if ok then break end
    end
    if not ok then all = false end
  end
  if all then return true end
  return false, why
end

-- Facts for message templates, from the client's info and the failing element.
local function facts_for(info, el, extra)
  local f = {}
  if info then
    f.subject, f.issuer, f.serial = info.subject, info.issuer, info.serial
    f.fingerprint, f.eku = info.fingerprint, info.eku
  end
  if el then
    local role
    if el.depth == 0 then role = "the client certificate"
    elseif el.self_signed then role = "the root CA"
    else role = "the intermediate CA" end
    f.element = ("%s %s"):format(role, el.subject or "?")
    if el.depth and el.depth > 0 then f.element = ("%s (chain depth %d)"):format(f.element, el.depth) end
    f.depth = el.depth
    f.element_issuer, f.element_serial = el.issuer, el.serial
    f.element_not_before, f.element_not_after = el.not_before, el.not_after
  else
    f.element = info and ("the client certificate " .. tostring(info.subject)) or "the client certificate"
  end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

-- Builds the verdict table for cause id (message: the rendered message when the
-- caller has it already).
local function verdict(id, accepted, facts, base, message)
  local c = causes.get(id) or causes.get("invalid_certificate")
  local v = base or {}
  v.accepted = accepted
  v.cause = id
  v.status = accepted and 200 or c.status
  v.substatus = accepted and "200" or c.substatus
  v.title = c.title
  v.message = message or causes.render(id, facts)
  v.resolution = accepted and {} or causes.resolution(id, facts, DEPLOYMENT_OF[v] or "library")
  v.also = v.also or {}
  return v
end

local function reject_invalid(base, info, err)
  return verdict("invalid_certificate", false, facts_for(info, nil, { error = err }), base)
end

-- A rejection for a check that could not be completed (a bug, a closed store, a
-- raising rule): cause internal_error; detail (which may hold file paths and Lua
-- error text) goes to verdict.error for the server's log, never into message.
local function reject_internal(base, detail)
  base.error = detail
  return verdict("internal_error", false, {}, base)
end

--- text = describe_error(e): an error value as a string (error({}), error(nil),
-- error(5) included; never calls a __tostring).
local function describe_error(e)
  if type(e) == "string" then return e end
  if e == nil then return "an error without a message (nil)" end
  if type(e) == "number" or type(e) == "boolean" then return "an error value " .. tostring(e) end
  return "an error value of type " .. type(e)
end

-- The problems of a verify result as causes: the primary one (causes.primary)
-- first, then the others by precedence; seen[id] = the first problem with id.
local function classify(result)
  local seen, list = {}, {}
  for _, p in ipairs(result.problems) do
    local id = p.cause
    if not seen[id] then
      seen[id] = p
      list[#list + 1] = id
    end
  end
  return causes.order(list), seen
end

-- Instruction and memory budgets (see run_bounded and README "Policies").
M.MAX_POLICY_STEPS = 10000000           -- a policy file's top level, at load
M.MAX_POLICY_MEMORY = 64 * 1024 * 1024  -- Lua heap growth while a file loads
M.MAX_RULE_STEPS = 1000000              -- one call of a rule, at check time
M.MAX_RULE_MEMORY = 16 * 1024 * 1024    -- Lua heap growth during one rule call
M.MAX_STRING = 16 * 1024 * 1024         -- the longest string.rep result in bounded code
M.MAX_C_STACK = 256 * 1024              -- C stack bounded code may grow by (nesting through C)
local HOOK_EVERY = 1000

local real_rep, real_dump = string.rep, string.dump
local run_c = require("clientcert.core")._run_bounded
local unpack_ = compat.unpack

-- The length of string.rep(s, n, sep), or nil when those are not rep's arguments.
local function rep_size(s, n, sep)
  if type(s) == "number" then s = tostring(s) end
  if type(sep) == "number" then sep = tostring(sep) end
  n = tonumber(n)
  if type(s) ~= "string" or not n then return nil end
  if n <= 0 then return 0 end
  return #s * n + (type(sep) == "string" and #sep or 0) * (n - 1)
end

local function rep_error(size)
  return ("string.rep: the result would be %.0f bytes; policy code may make at most %d"):format(size, M.MAX_STRING)
end

-- string.rep for policy code: refuses a result longer than M.MAX_STRING.
local function bounded_rep(s, n, sep)
  local size = rep_size(s, n, sep)
  if size and size > M.MAX_STRING then error(rep_error(size), 2) end
  return real_rep(s, n, sep)
end

--- ok, ... = run_bounded(steps, memory, fn, ...): pcall(fn, ...) under budgets,
-- enforced by a C debug hook (csrc/bounded.c). A count event every HOOK_EVERY
-- instructions stops fn once it has run `steps` VM instructions or the Lua
-- heap has grown by more than `memory` bytes since the start; from then on the
-- hook raises at every instruction and call, so code that catches the error
-- with pcall cannot keep running. The heap is measured, never collected in
-- full (a full collection takes time in proportion to the whole heap, on the
-- request path): when it is over, the collector gets incremental steps worth
-- at most 2 * `memory` bytes of allocation, and fn is stopped if the heap is
-- still over once those are used or two collection cycles have ended.
-- At each call the hook refuses string.dump and a string.rep longer than
-- M.MAX_STRING however they are reached (("x"):rep(n) uses the host's string
-- table), and stops fn once the C stack has grown by M.MAX_C_STACK bytes: each
-- nesting through a C function that calls back into Lua (a string.gsub
-- replacement function or table, a table.sort comparator, a metamethod,
-- coroutine.wrap) costs C stack, which LuaJIT does not bound (the process
-- dies of SIGSEGV) and Lua 5.4 bounds at about 200 levels.
-- fn runs through a C call boundary, so it cannot yield (coroutine.yield,
-- ngx.sleep, a cosocket raise "attempt to yield across a C-call boundary"): on
-- LuaJIT the hook is global to the VM and must not stay armed while other code
-- (another request) runs. A run inside a run (a rule calling a policy's check)
-- shares the outer run's budgets. The host's hook (a Lua hook, or a C one: a
-- debugger, a profiler) is suspended during the run and restored after.
-- On LuaJIT compiled code runs no hooks: policy files and rules are kept out of
-- the JIT compiler (jit.off), but a host function they call may still be
-- compiled. On Lua 5.4 hooks belong to a coroutine: one created before the run
-- and resumed inside it runs without budgets (policy files have no coroutine).
-- Not bounded: time spent inside one C function (a pattern match on a long
-- string, sorting a large table), and memory between two checks: one
-- instruction can allocate much (s .. s), so the heap can overshoot `memory`
-- by what HOOK_EVERY instructions allocate before the check stops it.
local YIELD = "policy code cannot yield (coroutine.yield, ngx.sleep, a cosocket): "
local function yield_named(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == "string" and e:find("attempt to yield across", 1, true) and e:sub(1, #YIELD) ~= YIELD then
    e = YIELD .. e
  end
  return false, e
end

local function run_bounded(steps, memory, fn, ...)
  return yield_named(run_c({ steps = steps, memory = memory, max_string = M.MAX_STRING, max_cstack = M.MAX_C_STACK,
                 every = HOOK_EVERY, rep = real_rep, dump = real_dump }, fn, ...))
end
M.run_bounded = run_bounded

--- verdict = policy:check{cert = pem|der|cert|nil, chain = {...}, time = secs, key = pem|nil,
--                        passphrase = string|nil, deployment = string|nil}
-- Returns {accepted, status, substatus, cause, title, message, resolution, also,
-- client = info (when parsed), chain = per-element report, time, rule_error?,
-- rule_reason?, error? (an internal error's detail, for logs), note?}.
-- deployment: where the verdict is read, which words its resolution steps
-- (causes.resolution): "library" (default), "gate", "cli", "server" or "iis".
function methods.check(self, req)
  local st = state_of(self)
  if not st then error("clientcert.policy.check: expected a policy (policy:check{...})", 2) end
  req = req or {}
  if type(req) ~= "table" then error("clientcert.policy.check: request must be a table", 2) end
  local when = util.time(req.time, "policy.check", 2)
  local deployment = req.deployment
  if deployment ~= nil and not DEPLOYMENTS[deployment] then
    error(("clientcert.policy.check: deployment must be one of %s, got %s")
      :format(table.concat(causes.DEPLOYMENTS, ", "), tostring(deployment)), 2)
  end
  local base = { time = when, mode = st.mode, also = {}, chain = {} }
  DEPLOYMENT_OF[base] = deployment
  if st.mode == "off" then
    local v = verdict("ok", true, {}, base)
    v.message = "Client certificates are not checked here (mode \"off\")."
    return v
  end
  local ok, v = pcall(M.decide, st, req, base, when)
  if ok then return v end
  -- an internal error: reject, keep the error for the log only
  return reject_internal(base, describe_error(v))
end

-- The certificate(s) for bytes a client sent, from the parse cache when it holds
-- them (kind "1": parse, "*": every certificate of a PEM bundle).
function parse_cached(cache, kind, bytes, parse)
  if not cache then return parse(bytes) end
  local map = cache.parsed[kind]
  local v = map:get(bytes)
  if v then return v end
  local err
  v, err = parse(bytes)
  if v then map:set(bytes, v) end
  return v, err
end

local function parse_item(item)
  return input.parse("cert", item, "store.verify")
end

-- The chain a client sent as certificate objects (as store:verify reads it).
function chain_certs(cache, chain)
  local out = {}
  local items = util.list(chain, "policy.check", "chain", 2)
  for i = 1, #items do
    local item = items[i]
    if type(item) == "string" then
      local list, err = parse_cached(cache, "*", item, parse_item)
      if not list then -- worded as store:verify words it, so that the verdict does not depend on the cache
        local rest = tostring(err):match("^clientcert%.[%w_%.]+: (.*)$") or tostring(err)
        return nil, ("clientcert.store.verify: chain[%d]: %s"):format(i, rest)
      end
      for j = 1, #list do out[#out + 1] = list[j] end
    elseif clientcert.typeof(item) == "cert" then
      out[#out + 1] = item
    else
      error(("clientcert.policy.check: chain[%d] must be a certificate or PEM/DER text"):format(i), 2)
    end
  end
  return out
end

local fingerprint = util.fingerprint -- SHA-256 of a cert object (kept by C, once per object)

-- key, chain_key: the cache key, the SHA-256 of the leaf (the string object
-- kept for the cert object: no new string per check); and what the entry must
-- hold besides, the store's generation and the SHA-256 of each chain
-- certificate in the order sent.
function cache_key(cert, chain, store)
  local n = #chain
  local fp = fingerprint(cert)
  if n == 0 then return fp, store:generation() .. ":" end
  if n == 1 then return fp, store:generation() .. ":" .. fingerprint(chain[1]) end
  local parts = { store:generation() }
  for i = 1, n do parts[#parts + 1] = fingerprint(chain[i]) end
  return fp, table.concat(parts, ":")
end

-- lo, hi: the check times for which a verification result stays what it is:
-- from the latest not_before of the path to the earliest not_after, and within
-- the validity (this/next update) of the store's CRLs when CRLs are checked.
function cache_window(cache, result, store, crl_mode)
  local lo, hi = -math.huge, math.huge
  for _, el in ipairs(result.chain or {}) do
    if el.not_before and el.not_before > lo then lo = el.not_before end
    if el.not_after and el.not_after < hi then hi = el.not_after end
  end
  if crl_mode ~= "none" and (crl_mode ~= nil or store:crl_count() > 0) then
    local gen = store:generation()
    if cache.crl_generation ~= gen then
      local clo, chi = -math.huge, math.huge
      for _, c in ipairs(store:crls()) do
        if c.last_update and c.last_update > clo then clo = c.last_update end
        if c.next_update and c.next_update < chi then chi = c.next_update end
        if not c.next_update and not c.last_update then chi = -math.huge end -- unreadable dates: never cache
      end
      cache.crl_generation, cache.crl_lo, cache.crl_hi = gen, clo, chi
    end
    if cache.crl_lo > lo then lo = cache.crl_lo end
    if cache.crl_hi < hi then hi = cache.crl_hi end
  end
  return lo, hi
end

-- el | nil: the first certificate among store's roots that is not self-signed,
-- as a chain element without depth (facts_for calls it "the intermediate CA").
local function root_not_self_signed(store)
  for _, r in ipairs(store:roots()) do
    local info = r:info()
    if info and not info.self_signed then
      return { subject = info.subject, issuer = info.issuer, serial = info.serial, self_signed = false,
               not_before = info.not_before, not_after = info.not_after }
    end
  end
  return nil
end

-- The services revocation fetching uses for one check: the policy's own fetch,
-- else the caller's (the gate: cosockets and its shared dict), else the default
-- (cosockets where nginx allows them, else LuaSocket); the policy's cache unless
-- the caller brings one.
function revocation_env(self, req)
  local env = req._revocation
  if type(env) ~= "table" then -- the policy's own services (one table per transport)
    local fetch = self.revocation.fetch or revocation.default_fetch()
    local own = self.revocation.envs[fetch]
    if not own then
      own = { fetch = fetch, cache = self.revocation.cache }
      self.revocation.envs[fetch] = own
    end
    return own
  end
  return { fetch = self.revocation.fetch or env.fetch or revocation.default_fetch(),
           cache = env.cache or self.revocation.cache, sleep = env.sleep }
end

-- The verification's CRL mode: the verify option, else "chain" when the store holds CRLs.
function effective_crl_mode(self)
  if self.verify.crl then return self.verify.crl end
  return next(revocation.crl_issuers(self.trust)) and "chain" or "none"
end

-- decide(self = the policy's state, req, base, when): the verdict of check.
function M.decide(self, req, base, when)
  local revocation_certs -- the verified path's objects, when revocation needs them
  local cert = req.cert
  if cert == nil or cert == "" or cert == false then
    local v = verdict("no_certificate", self.mode == "optional", {}, base)
    if v.accepted then
      v.title = "No client certificate (optional here)"
      v.message = "The client sent no certificate; client certificates are optional here."
    end
    return v
  end
  local cache = self.cache
  if type(cert) == "string" then
    local c, err = parse_cached(cache, "1", cert, clientcert.parse)
    if not c then return reject_invalid(base, nil, err) end
    cert = c
  elseif clientcert.typeof(cert) ~= "cert" then
    return reject_internal(base, "clientcert.policy.check: cert must be PEM/DER text or a certificate, got "
      .. type(cert))
  end
  local chain, key, chain_key, hit = req.chain, nil, nil, nil
  if cache then
    local list, err = chain_certs(cache, chain)
    if not list then
      base.client = cert:info()
      return reject_invalid(base, base.client, err)
    end
    chain = list
    key, chain_key = cache_key(cert, list, self.trust)
    hit = cache.verdicts:get(key, when, os.time())
    if hit and hit[E_CHAIN_KEY] ~= chain_key then hit = nil end -- the same leaf with another chain
  end
  local info, result
  if hit then
    cache.hits = cache.hits + 1
    local fresh = entry_copy(hit) -- tables of this verdict's own
    info, result = fresh.info, fresh.result
    base.cached = true
    base.client = info
    served_v, served_entry, served_client, served_chain = base, hit, info, result.chain
  else
    local ierr
    info, ierr = cert:info()
    if not info then return reject_invalid(base, nil, ierr) end
    base.client = info
    -- the path's objects only for AIA chasing; revocation asks for them on a cache miss
    local vopts = { chain = chain, time = when, certs = self.revocation and self.revocation.issuers or nil }
    for k, val in pairs(self.verify) do vopts[k] = val end
    local verr
    result, verr = self.trust:verify(cert, vopts)
    if not result then return reject_invalid(base, info, verr) end
    if self.revocation and self.revocation.issuers and not result.ok then
      -- AIA chasing: a missing intermediate fetched from an allowed caIssuers URL
      result = revocation.chase(self.revocation, revocation_env(self, req), self.trust, cert, vopts, result)
    end
    revocation_certs, result.certs = result.certs, nil -- objects never enter the verdict cache
    if cache then
      cache.misses = cache.misses + 1
      local lo, hi = cache_window(cache, result, self.trust, self.verify.crl)
      if when >= lo and when <= hi then
        -- the entry holds the values as they are now; strings that the leaf's info
        -- and chain element repeat (or that many clients share) are made one object
        if info.fingerprint == key then info.fingerprint = key end
        info.issuer = intern(info.issuer)
        local el = type(result.chain) == "table" and result.chain[1]
        if type(el) == "table" then
          for k, x in pairs(el) do
            if type(x) == "string" and info[k] == x then el[k] = info[k] end
          end
        end
        cache.verdicts:set(key, make_entry({ info = info, result = result }, intern(chain_key)), lo, hi, os.time())
      end
    end
  end
  base.chain, base.problems = result.chain, result.problems
  -- a CRL whose signature did not verify was ignored by the verification: named
  -- in also (in precedence order), never the primary cause
  if result.ignored_crls and #result.ignored_crls > 0 then base.also = { "crl_bad_signature" } end

  local ids, first
  if #result.problems == 0 then ids, first = {}, {} else ids, first = classify(result) end
  if req.key ~= nil then
    local match, kerr = cert:matches_key(req.key, req.passphrase)
    if not match then
      ids[#ids + 1] = "no_private_key"
      first.no_private_key = { error = kerr or "the key is for another certificate" }
      ids = causes.order(ids)
    end
  end
  if #ids > 0 then
    -- a certificate that is not self-signed among the trusted roots, which this
    -- client's path did not stop at (that is the cause itself, from causes.for_problem):
    -- named in also for an issuer problem, and for every rejection when the policy
    -- rejects on it (looked at only on this rejection path)
    if not first.intermediate_in_roots and (self.intermediate_in_roots == "reject"
        or ids[1] == "untrusted_root" or ids[1] == "missing_intermediate") then
      -- counted by the store when each root was added: no certificate is read here
      if self.trust:stats().roots_not_self_signed > 0 then
        ids[#ids + 1] = "intermediate_in_roots"
        first.intermediate_in_roots = {}
      end
    end
    local id = ids[1]
    local p = first[id]
    local el = p.depth and result.chain[math.min(p.depth + 1, #result.chain)] or nil
    local facts = facts_for(info, el, {
      error = p.error, time = when, revoked_at = p.revoked_at, reason = p.reason or "unspecified",
    })
    -- a certificate of the store: named as the store holds it, not by its place in this path
    if id == "intermediate_in_roots" and el then facts.element = "the intermediate CA " .. tostring(el.subject) end
    local v = verdict(id, false, facts, base)
    if id == "revoked" then -- said by a CRL file of the store
      v.revocation = { source = "file", status = "revoked", revoked_at = p.revoked_at, reason = p.reason }
    end
    for i = 2, #ids do v.also[#v.also + 1] = ids[i] end
    v.also = causes.order(v.also) -- crl_bad_signature and intermediate_in_roots at their ranks
    return v
  end

  -- a valid chain through a certificate of the trust store that is not
  -- self-signed (warn: named in also), or a store that holds one (reject: servers
  -- such as IIS refuse every client then, and so does this policy)
  local in_roots
  for _, el in ipairs(result.chain) do
    if el.trusted and el.self_signed == false then in_roots = el break end
  end
  if self.intermediate_in_roots == "reject" and (in_roots or self.trust:stats().roots_not_self_signed > 0) then
    local el = in_roots or root_not_self_signed(self.trust)
    local facts = facts_for(info, el, {})
    if el then facts.element = "the intermediate CA " .. tostring(el.subject) end
    local v = verdict("intermediate_in_roots", false, facts, base)
    v.note = "clientcert's own verification accepts this client's path; this policy (intermediate_in_roots = "
      .. "\"reject\") refuses every client while a certificate that is not self-signed is among its trusted "
      .. "roots, as servers such as IIS (Schannel) do."
    return v
  elseif in_roots then
    base.also[#base.also + 1] = "intermediate_in_roots"
    base.also = causes.order(base.also)
  end

  -- a valid chain: its revocation (fetched), then the allow list, then the rule
  local soft
  if self.revocation then
    local out = revocation.judge(self.revocation, revocation_env(self, req), self.trust, {
      chain = result.chain, certs = revocation_certs }, effective_crl_mode(self), function()
        local vopts = { chain = chain, time = when, certs = true }
        for k, val in pairs(self.verify) do vopts[k] = val end
        local r = self.trust:verify(cert, vopts)
        return r and r.ok and r.certs or nil
      end, when)
    if out.status == "revoked" then
      local a = out.answer
      local v = verdict("revoked", false, facts_for(info, result.chain[out.depth + 1], {
        time = when, revoked_at = a.revoked_at, reason = a.reason or "unspecified" }), base)
      v.revocation = revocation.report(a)
      return v
    elseif out.status == "unknown" then
      if self.revocation.unavailable == "reject" then
        local v = verdict("revocation_unknown", false, facts_for(info, result.chain[out.depth + 1], {
          time = when, error = revocation.why(out.answer) }), base)
        v.revocation = revocation.report(out.answer)
        return v
      end
      soft = out
    end
  end
  if #self.allow > 0 then
    local admitted, why = false, nil
    for _, m in ipairs(self.allow) do
      local ok, w = matches(m, info)
      if ok then admitted = true break end
      if w and not why then why = w end
    end
    if not admitted then
      local reason = "no entry of the allow list matches this certificate"
      if why then reason = reason .. " (" .. why .. ")" end
      local v = verdict("denied_by_rule", false, facts_for(info, nil, { rule_reason = reason }), base)
      v.rule_reason = reason
      return v
    end
  end
  -- the message of an acceptance depends on the certificate only: rendered once per cache entry
  local message = hit and hit[E_MESSAGE]
  if not message then
    message = causes.render("ok", facts_for(info, nil, {}))
    if hit then hit[E_MESSAGE] = message end
  end
  local v = verdict("ok", true, nil, base, message)
  if soft then -- soft-fail: accepted, the unknown revocation named in also and in the log
    v.also[#v.also + 1] = "revocation_unknown"
    v.also = causes.order(v.also)
    v.revocation = revocation.report(soft.answer)
  end
  if self.rule then
    -- the rule sees copies: nothing it changes reaches this verdict or a later check
    local rinfo, rv
    if hit then -- copies made by the entry's copier, the rest of the verdict copied here
      local a, b = entry_copy(hit), entry_copy(hit)
      rinfo, rv = a.info, {}
      for k, x in pairs(v) do
        if k ~= "client" and k ~= "chain" and k ~= "problems" then rv[k] = deep_copy(x) end
      end
      rv.client, rv.chain, rv.problems = b.info, b.result.chain, b.result.problems
    else
      rinfo, rv = deep_copy(info), deep_copy(v)
    end
    local rok, allowed, reason = run_bounded(M.MAX_RULE_STEPS, M.MAX_RULE_MEMORY, self.rule, rinfo, rv)
    if not rok then
      v = reject_internal(base, "the policy rule failed")
      v.rule_error = describe_error(allowed)
      return v
    end
    if allowed == false or allowed == nil and reason ~= nil then
      local why = reason ~= nil and tostring(reason) or "the policy rule refused it"
      v = verdict("denied_by_rule", false, facts_for(info, nil, { rule_reason = why }), base)
      v.rule_reason = reason ~= nil and tostring(reason) or nil
      return v
    end
  end
  return v
end

--- report = policy.audit_store(store[, {time = secs, warn_days = n}]): checks the trusted
-- roots the way some servers need them: each must be a self-signed CA, in date; and
-- (clientcert.audit) none expiring within warn_days (default 30), no duplicates, no
-- non-CA, no weak key or SHA-1/MD5 signature, an acceptable-CA names list clients take.
-- report = {ok, count, time, warn_days, ca_names = {count, bytes, ...}, findings =
--   {{check, cause (the catalogue's, where one applies), subject, fingerprint, message}, ...}}.
function M.audit_store(store, opts)
  if not clientcert.is_store(store) then error("clientcert.audit_store: expected a clientcert.store", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("clientcert.audit_store: opts must be a table", 2) end
  local when = util.time(opts and opts.time, "audit_store", 2)
  local warn_days = 30
  if opts and opts.warn_days ~= nil then
    warn_days = util.integer(opts.warn_days, "audit_store", "warn_days", 0, 36500, 2)
  end
  local roots = store:roots()
  local findings = {}
  local function add(id, info, extra)
    local el = { subject = info.subject, issuer = info.issuer, serial = info.serial,
                 self_signed = info.self_signed, not_before = info.not_before, not_after = info.not_after }
    local f = facts_for(nil, el, extra)
    if id == "intermediate_in_roots" then f.element = info.subject end
    findings[#findings + 1] = { check = id, cause = id, subject = info.subject, fingerprint = info.fingerprint,
                                message = causes.render(id, f) }
  end
  for _, c in ipairs(roots) do
    local info = c:info()
    if not info then
      findings[#findings + 1] = { check = "invalid_certificate", cause = "invalid_certificate",
                                  message = "a trusted certificate cannot be read" }
    else
      if not info.self_signed then add("intermediate_in_roots", info) end
      if info.not_after and info.not_after < when then add("expired", info, { time = when }) end
      if info.not_before and info.not_before > when then add("not_yet_valid", info, { time = when }) end
    end
  end
  -- CRLs that certificates of the store with the CRL's issuer name did not sign
  for _, crl in ipairs(store:crls()) do
    if crl.signature == "bad" then
      local f = { element = crl.issuer }
      findings[#findings + 1] = { check = "crl_bad_signature", cause = "crl_bad_signature", subject = crl.issuer,
                                  last_update = crl.last_update,
                                  message = causes.render("crl_bad_signature", f) }
    end
  end
  local ca_names = require("clientcert.audit").extend(roots, findings, when, warn_days, causes.iso)
  return { ok = #findings == 0, count = #roots, findings = findings, time = when, warn_days = warn_days,
           ca_names = ca_names }
end

--- report = policy:audit([{time = secs}]): audit_store of the policy's trust store.
function methods.audit(self, opts)
  local st = state_of(self)
  if not st then error("clientcert.policy.audit: expected a policy (policy:audit())", 2) end
  return M.audit_store(st.trust, opts)
end

-- Fields a policy shows (read-only; allow and verify as fresh copies).
local FIELDS = { mode = true, name = true, trust = true, rule = true, intermediate_in_roots = true }
--- info = policy:cache_info(): {size, ttl, count, hits, misses} of the verdict
-- cache, or nil when the policy has none.
function methods.cache_info(self)
  local st = state_of(self)
  if not st then error("clientcert.policy.cache_info: expected a policy", 2) end
  local c = st.cache
  if not c then return nil end
  return { size = c.size, ttl = c.ttl, count = c.verdicts:len(), hits = c.hits, misses = c.misses }
end


local function read_only(_, k)
  error(("clientcert.policy: a policy is read-only (cannot set '%s')"):format(tostring(k)), 2)
end

new_policy = function(state)
  local p = setmetatable({}, {
    __index = function(_, k)
      if k == STATE_KEY then return state end
      local m = methods[k]
      if m ~= nil then return m end
      if FIELDS[k] then return state[k] end
      if k == "allow" or k == "verify" then return deep_copy(state[k]) end
      return nil
    end,
    __newindex = read_only,
    __tostring = function() return ("clientcert.policy (%s)"):format(state.name or state.mode) end,
    __metatable = "clientcert.policy",
  })
  IS_POLICY[p] = true
  return p
end

-- Read-only proxies a policy file sees (clientcert); FACADE[proxy] = its contents.
local FACADE = setmetatable({}, { __mode = "k" })

local function readonly(name, contents)
  local proxy = setmetatable({}, {
    __index = contents,
    __newindex = function(_, k)
      error(("%s is read-only in a policy file (cannot set '%s')"):format(name, tostring(k)), 2)
    end,
    __metatable = name,
  })
  FACADE[proxy] = contents
  return proxy
end

-- A shallow copy of a library table without the keys in drop.
local function copy_lib(lib, drop)
  local out = {}
  for k, v in pairs(lib) do
    if not (drop and drop[k]) then out[k] = v end
  end
  return out
end

-- A deep copy of params: strings, numbers, booleans and tables of those (no
-- cycles); anything else (a function, an object) raises.
local function copy_params(v, path, seen)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  if t ~= "table" then
    error(("%s must be a string, number, boolean or a table of those, got %s"):format(path, t), 0)
  end
  if seen[v] then error(path .. " is part of a cycle", 0) end
  seen[v] = true
  local out = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" and type(k) ~= "number" then
      error(("%s has a key of type %s"):format(path, type(k)), 0)
    end
    out[k] = copy_params(x, ("%s.%s"):format(path, tostring(k)), seen)
  end
  seen[v] = nil
  return out
end

local function sandbox_pairs(t)
  if type(t) ~= "table" then error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2) end
  local contents = FACADE[t]
  if contents then return next, copy_lib(contents), nil end
  return next, t, nil
end

local function sandbox_ipairs(t)
  if type(t) ~= "table" then error("bad argument #1 to 'ipairs' (table expected, got " .. type(t) .. ")", 2) end
  return ipairs(t)
end

-- list(v) for policy files: nil -> {}, a single value -> {v}, a proper sequence
-- -> itself, a keyed or holey table -> error (clientcert.util.list). For params
-- that may hold one value or several (the CLI gives one --param as a string).
local function sandbox_list(v)
  return util.list(v, "policy file", "the argument of list()", 2)
end

-- What the clientcert facade of a policy file holds: parsing, loading
-- certificates and CRLs from files, stores, policies and formatting. Nothing
-- that reaches the network (probe) or loads policies; a name added to
-- clientcert later is not offered until it is listed here.
local FACADE_NAMES = {
  "version", "openssl_version", "MAX_FILE", "parse", "parse_all", "parse_crl", "parse_crls", "parse_pkcs12",
  "load", "load_all", "load_crl", "typeof", "store", "is_store", "policy", "audit_store", "verdict_json",
}

-- The environment of a policy file: its own copies of string (no dump; a
-- bounded rep), table and math (no randomseed); clientcert as a read-only
-- facade (FACADE_NAMES only); params as a deep copy; list(); pairs/ipairs
-- that refuse a non-table. No os, io, require, load, loadstring, dofile,
-- debug, package, getmetatable/setmetatable, rawget/rawset/rawequal,
-- collectgarbage, coroutine or print.
-- err | nil: what a policy file may not set in the options of a policy: a
-- revocation.fetch function of the file's would run at check time outside any
-- budget (the host's transport is used instead).
local function file_opts_error(opts)
  if type(opts) == "table" and type(opts.revocation) == "table" and opts.revocation.fetch ~= nil then
    return "revocation.fetch cannot be set in a policy file (the host's transport is used)"
  end
  return nil
end

local function sandbox_env(params)
  local cc = {}
  for _, k in ipairs(FACADE_NAMES) do cc[k] = clientcert[k] end
  cc.policy = function(opts)
    local err = file_opts_error(opts)
    if err then error("clientcert.policy: " .. err, 2) end
    return clientcert.policy(opts)
  end
  local str = copy_lib(string, { dump = true })
  str.rep = bounded_rep
  local env = {
    params = params,
    clientcert = readonly("clientcert", cc),
    string = str, table = copy_lib(table), math = copy_lib(math, { randomseed = true }),
    pairs = sandbox_pairs, ipairs = sandbox_ipairs, list = sandbox_list,
    next = next, select = select, type = type, tostring = tostring,
    tonumber = tonumber, error = error, assert = assert, pcall = pcall, unpack = unpack_,
  }
  env._G = env
  return env
end

local MAX_POLICY_SOURCE = 1024 * 1024

--- policy, err = policy.load_file(path[, params]): runs a Lua policy file in a sandbox;
-- the file returns the options table of clientcert.policy (or a policy). params (plain
-- data: strings, numbers, booleans and tables of those) is visible to it as a deep
-- copy, `params`. A file that fails, exceeds its budgets (M.MAX_POLICY_STEPS,
-- M.MAX_POLICY_MEMORY) or returns bad options gives
-- nil, "clientcert.load_policy: <path>: <what>" (a caller must then refuse to serve).
function M.load_file(path, params)
  if type(path) ~= "string" then error("clientcert.load_policy: path must be a string", 2) end
  if params ~= nil and type(params) ~= "table" then error("clientcert.load_policy: params must be a table", 2) end
  local pok, pcopy = pcall(copy_params, params or {}, "params", {})
  if not pok then error("clientcert.load_policy: " .. pcopy, 2) end
  -- a regular file of at most 1 MiB (no FIFO, device or directory: see core.read_file)
  local src, rerr = input.read(path, "load_policy", MAX_POLICY_SOURCE) -- recorded, as its roots and CRLs are
  if not src then return nil, rerr end
  if src == "" then return nil, "clientcert.load_policy: " .. path .. ": empty file" end
  if src:byte(1) == 27 then return nil, "clientcert.load_policy: " .. path .. ": bytecode is not accepted" end
  local chunk, lerr = compat.load(src, "@" .. path, sandbox_env(pcopy))
  if not chunk then return nil, "clientcert.load_policy: " .. tostring(lerr) end
  -- on LuaJIT: the chunk and every function it defines run interpreted (hooks fire)
  compat.jit_off(chunk)
  local ok, spec = run_bounded(M.MAX_POLICY_STEPS, M.MAX_POLICY_MEMORY, chunk)
  if not ok then return nil, "clientcert.load_policy: " .. path .. ": " .. describe_error(spec) end
  if IS_POLICY[spec] then return spec end
  if type(spec) ~= "table" then
    return nil, "clientcert.load_policy: " .. path .. " must return the options table of clientcert.policy"
  end
  local policy, err = nil, file_opts_error(spec)
  if not err then policy, err = build(spec) end
  if not policy then return nil, "clientcert.load_policy: " .. path .. ": clientcert.policy: " .. err end
  return policy
end

--- policy, files | nil, err, files = policy.load_recorded(path[, params]): load_file,
-- with every file it read recorded (clientcert.input.recorded): the policy file
-- first, then the roots, intermediates and CRLs it loads, each {path =, digest =
-- SHA-256 of the bytes that were loaded (or "!<why it could not be read>"), limit =};
-- on failure, the files read until it failed. How the OpenResty gate and
-- `clientcert check-policy` load a policy file. A raise (a wrong params type)
-- becomes nil, err.
function M.load_recorded(path, params)
  local files, ok, policy, err = input.recorded(M.load_file, path, params)
  if not ok then return nil, tostring(policy), files end
  if not policy then return nil, err, files end
  return policy, files
end

--- line = policy.verdict_json(verdict): see clientcert.text.verdict_json.
local text = require "clientcert.text"
M.verdict_json = text.verdict_json

--- parts = policy.json_parts(verdict): for a verdict served from the verdict cache
-- that still holds the client and chain tables it was served with, the JSON text
-- of those, as clientcert.text.verdict_json(verdict, parts) takes them (built once
-- per cache entry, from the entry's data); nil for any other verdict, and for
-- any but the last verdict served from a cache. For the OpenResty gate, which
-- changes neither table between check and log: a caller that changes what is
-- inside them must not pass these parts.
-- A verdict's parts as json_parts hands them out: client_fingerprint is made
-- only when asked for (verdict_json needs it only for a line too long).
local PARTS = { __index = function(t, k)
  if k == "client_fingerprint" then
    local v = text.verdict_json_parts({ fingerprint = rawget(t, 1) }, {}).client_fingerprint
    rawset(t, k, v)
    return v
  end
end }

function M.json_parts(v)
  if v == nil or v ~= served_v or v.client ~= served_client or v.chain ~= served_chain then return nil end
  local e = served_entry
  if not e[E_CLIENT_JSON] then
    local fresh = entry_copy(e)
    local parts = text.verdict_json_parts(fresh.info, fresh.result.chain)
    e[E_CLIENT_JSON], e[E_CHAIN_JSON] = parts.client_names, intern(parts.chain) or false
  end
  return setmetatable({ served_client.fingerprint, client_names = e[E_CLIENT_JSON],
                        chain = e[E_CHAIN_JSON] or nil }, PARTS)
end

return M
