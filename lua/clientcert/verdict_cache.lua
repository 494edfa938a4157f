--- clientcert.verdict_cache: the verdict cache of a policy (opts.cache = {size =
-- n[, ttl = seconds]}). It holds the outcome of the chain verification only,
-- keyed by the SHA-256 of the leaf and of each chain certificate in the order
-- sent, and the store's generation; allow and rule run on every check. An entry
-- serves a check time only inside its window (latest not_before of the path ..
-- earliest not_after of the path and next update of the store's CRLs) and only
-- for ttl seconds of real time. A parse cache beside it maps the bytes a client
-- sent to the certificate objects. (internal module, for clientcert.policy and
-- the OpenResty gate)
--
--   cache | nil, err = verdict_cache.new(opts.cache)
--   cert(s) | nil, err = verdict_cache.parse(cache, kind, bytes, parse[, i])
--   certs | nil, err = verdict_cache.chain_text(text, i, cache)   (input.chain's parse)
--   key, chain_key = verdict_cache.key(cert, chain, store[, cache])
--   entry, info, chain, problems, ignored, message | nil = verdict_cache.serve(cache, key, chain_key, when, verdict)
--   verdict_cache.remember(cache, key, chain_key, info, result, when, store, crl_mode)
--   info, chain, problems = verdict_cache.copy(entry)
--   parts = verdict_cache.json_parts(verdict)
local compat = require "clientcert.compat"
local util = require "clientcert.util"
local lru = require "clientcert.lru"
local deep_copy, fingerprint = util.deep_copy, util.fingerprint
local input = require "clientcert.input"
local text = require "clientcert.text"

local M = {}

-- The verdict last served from a verdict cache entry, that entry, and the client
-- and chain tables the verdict was served with (for M.json_parts; one slot: the
-- gate asks right after the check)
local served_v, served_entry, served_client, served_chain

local CACHE_KEYS = { size = true, ttl = true }

--- cache | nil, err = verdict_cache.new(c): the cache for a policy's option
-- cache (nil, nil when it is absent).
function M.new(c)
  if c == nil then return nil, nil end
  if type(c) ~= "table" then return nil, "cache must be a table {size = n[, ttl = seconds]}" end
  c = util.raw_copy(c) -- (raw access: no metamethod of the caller's table runs)
  for k in next, c do
    if not CACHE_KEYS[k] then return nil, ("unknown cache option '%s'"):format(tostring(k)) end
  end
  local serr = util.integer_error(c.size, "cache.size", 1, 1e9)
  if serr then return nil, serr end
  if c.ttl ~= nil and (type(c.ttl) ~= "number" or c.ttl ~= c.ttl or c.ttl < 0 or c.ttl == math.huge) then
    return nil, "cache.ttl must be a number of seconds >= 0"
  end
  local size = compat.tointeger(c.size)
  -- the parse cache: one map per kind, keyed by the bytes themselves (a string
  -- a caller passes again is then found without being hashed or copied again)
  return { verdicts = lru.new(size, c.ttl), parsed = { ["1"] = lru.new(size * 2), ["*"] = lru.new(size * 2) },
           hits = 0, misses = 0, size = size,
           ttl = c.ttl, key_generation = false, key_chain = false, chain_key = false }
end

--- info = verdict_cache.info(cache): {size, ttl, count, hits, misses}.
function M.info(c)
  return { size = c.size, ttl = c.ttl, count = c.verdicts:len(), hits = c.hits, misses = c.misses }
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
local ENTRY_BASE = 7 -- entry slots before the values (see make_entry)
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
-- multi: v is a list {a, b, ...} and chunk(K) returns fresh copies of a, b, ...
-- (no table for the list itself); multi == "closure": chunk(K) returns a
-- function that returns a fresh copy of v (one call per copy).
local function template_chunk(v, vals, first, shared, multi)
  local src = { multi == "closure" and "local K = ... return function() return " or "local K = ... return " }
  local count = { 0, first }
  if multi == "closure" then
    if not template_source(v, src, vals, 0, count, shared) then return nil end
    src[#src + 1] = " end"
  elseif multi then
    for i = 1, #v do
      if i > 1 then src[#src + 1] = "," end
      if not template_source(v[i], src, vals, 1, count, shared, i) then return nil end
    end
  elseif not template_source(v, src, vals, 0, count, shared) then
    return nil
  end
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

--- copier = verdict_cache.template_copier(v): a function returning a fresh deep copy of v as it
-- is now (plain data without cycles; later changes to v are not seen).
local function template_copier(v)
  local vals = {}
  local chunk = template_chunk(v, vals, 0)
  if chunk then return function() return chunk(vals) end end
  local copy = deep_copy(v)
  return function() return deep_copy(copy) end
end
M.template_copier = template_copier

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

-- The copier of v, shared by every entry whose data holds the same as v; nil
-- when v holds at most one value that is not written into its constructor (a
-- key type, one key usage): copied by the entry's own constructor then, which
-- holds that value in the one slot a shared copier would take.
local function shared_copier(v)
  local vals = {}
  local chunk, code = template_chunk(v, vals, 0, nil, "closure")
  if not chunk then return template_copier(v) end
  if #vals <= 1 then return nil end
  local key = { code }
  for i = 1, #vals do key[i + 1] = value_text(vals[i]) end
  key = table.concat(key, "\0")
  local copier = SHARED:get(key)
  if not copier then
    copier = chunk(vals)
    SHARED:set(key, copier)
  end
  return copier
end

-- The subtables of a cache entry's data {info, chain, problems} that clients of
-- the same CAs hold alike: shared[t] = its shared copier.
local SHARED_INFO = { "issuer_fields", "public_key", "key_usage", "eku" }
local function shared_parts(data)
  local shared = {}
  for _, k in ipairs(SHARED_INFO) do
    local t = data[1][k]
    if type(t) == "table" then shared[t] = shared_copier(t) end -- (nil: not shared)
  end
  local chain = data[2]
  if type(chain) == "table" then
    for i = 2, #chain do
      if type(chain[i]) == "table" then shared[chain[i]] = shared_copier(chain[i]) end -- (nil: not shared)
    end
  end
  return shared
end

-- A verdict cache entry is one array. Slots: [1] the chunk that copies its data
-- {info, chain, problems} (the client's info, the verified path and its
-- problems; the chunk returns fresh copies of the three, no table for the list;
-- false: [6] holds a plain copy instead), [2] the rendered message of an
-- acceptance (once one was served), [3] the JSON of the client's names (once
-- asked for), [4] the chain key (the store's generation and the chain's SHA-256s,
-- which the cache key, the leaf's SHA-256, does not hold), [5] the chain's JSON
-- (once asked for), [6] a plain copy of the data (when there is no chunk), [7]
-- whether the verification ignored CRLs (a bad signature); then the data's values.
local E_CHUNK, E_MESSAGE, E_CLIENT_JSON, E_CHAIN_KEY, E_CHAIN_JSON, E_PLAIN, E_IGNORED = 1, 2, 3, 4, 5, 6, 7

local function make_entry(data, chain_key, ignored)
  local e = { false, false, false, chain_key, false, false, ignored }
  local chunk = template_chunk(data, e, ENTRY_BASE, shared_parts(data), true)
  if chunk then
    e[E_CHUNK] = chunk
  else
    for i = #e, ENTRY_BASE + 1, -1 do e[i] = nil end
    e[E_PLAIN] = deep_copy(data)
  end
  return e
end

-- info, chain, problems = entry_copy(e): fresh tables of entry e's data.
local function entry_copy(e)
  local chunk = e[E_CHUNK]
  if chunk then return chunk(e) end
  local data = deep_copy(e[E_PLAIN])
  return data[1], data[2], data[3]
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


--- v, err = verdict_cache.parse(cache, kind, bytes, parse[, ctx]): the
-- certificate(s) for bytes a client sent, from the parse cache when it holds
-- them (kind "1": parse, "*": every certificate of a PEM bundle), else
-- parse(bytes, ctx) (a failure is not kept). cache nil: no parse cache.
function M.parse(cache, kind, bytes, parse, ctx)
  if not cache then return parse(bytes, ctx) end
  local map = cache.parsed[kind]
  local v = map:get(bytes)
  if v then return v end
  local err
  v, err = parse(bytes, ctx)
  if v then map:set(bytes, v) end
  return v, err
end
local parse_cached = M.parse

--- certs | nil, err = verdict_cache.chain_text(text, i, cache): the certificates of
-- the text a client sent as chain[i], from the parse cache when it holds them;
-- input.chain's parse (worded as store:verify words it, so that the verdict does
-- not depend on the cache).
function M.chain_text(item, i, cache)
  return parse_cached(cache, "*", item, input.chain_text, i)
end

--- key, chain_key = verdict_cache.key(cert, chain, store[, cache]): the cache key,
-- the SHA-256 of the leaf (the string object kept for the cert object: no new
-- string per check); and what the entry must hold besides, the store's generation
-- and the SHA-256 of each chain certificate in the order sent. A chain of at most
-- one certificate: the chain key last made for cache is given again when it is
-- the same (clients of one intermediate: no new string per check).
function M.key(cert, chain, store, cache)
  local n = #chain
  local fp = fingerprint(cert)
  if n <= 1 then
    local gen, cfp = store:generation(), n == 1 and fingerprint(chain[1]) or ""
    if cache and cache.key_generation == gen and cache.key_chain == cfp then return fp, cache.chain_key end
    local chain_key = intern(gen .. ":" .. cfp)
    if cache then cache.key_generation, cache.key_chain, cache.chain_key = gen, cfp, chain_key end
    return fp, chain_key
  end
  local parts = { store:generation() }
  for i = 1, n do parts[#parts + 1] = fingerprint(chain[i]) end
  return fp, table.concat(parts, ":")
end

-- lo, hi: the check times for which a verification result stays what it is:
-- from the latest not_before of the path to the earliest not_after, and within
-- the validity (this/next update) of the store's CRLs when CRLs are checked.
local function window(cache, result, store, crl_mode)
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


--- verdict_cache.remember(cache, key, chain_key, info, result, when, store, crl_mode):
-- counts a miss, and keeps the verification's info and result (as they are now)
-- for the check times their window holds when holds. Of the result, only what a
-- hit reads is kept: its chain and problems, and whether it ignored CRLs.
function M.remember(cache, key, chain_key, info, result, when, store, crl_mode)
  cache.misses = cache.misses + 1
  local lo, hi = window(cache, result, store, crl_mode)
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
    local ignored = result.ignored_crls ~= nil and #result.ignored_crls > 0
    cache.verdicts:set(key, make_entry({ info, result.chain, result.problems }, intern(chain_key), ignored),
      lo, hi, os.time())
  end
end

--- entry, info, chain, problems, ignored, message | nil = verdict_cache.serve(cache,
-- key, chain_key, when, verdict): the entry that serves check time when for this
-- leaf (key) and chain (chain_key), counted as a hit; fresh tables of its data for
-- verdict (the client's info, the verified path and its problems; json_parts then
-- knows verdict as served from the entry); whether the verification ignored CRLs;
-- and the message of an acceptance kept with keep_message, or nil. nil when there
-- is no such entry.
function M.serve(cache, key, chain_key, when, v)
  local e = cache.verdicts:get(key, when, os.time())
  if not e or e[E_CHAIN_KEY] ~= chain_key then return nil end -- (the same leaf with another chain)
  cache.hits = cache.hits + 1
  local chunk = e[E_CHUNK]
  local info, chain, problems
  if chunk then info, chain, problems = chunk(e) else info, chain, problems = entry_copy(e) end
  served_v, served_entry, served_client, served_chain = v, e, info, chain
  return e, info, chain, problems, e[E_IGNORED], e[E_MESSAGE] or nil
end

--- verdict_cache.keep_message(entry, message): the rendered message of an
-- acceptance served from entry (it depends on the certificate only).
function M.keep_message(e, message)
  e[E_MESSAGE] = message
end

--- info, chain, problems = verdict_cache.copy(entry): fresh tables of the entry's data (as serve).
M.copy = entry_copy

-- A verdict's parts as json_parts hands them out: client_fingerprint is made
-- only when asked for (verdict_json needs it only for a line too long).
local PARTS = { __index = function(t, k)
  if k == "client_fingerprint" then
    local v = text.verdict_json_parts({ fingerprint = rawget(t, 1) }, {}).client_fingerprint
    rawset(t, k, v)
    return v
  end
end }

--- parts = verdict_cache.json_parts(verdict): for a verdict served from the verdict cache
-- that still holds the client and chain tables it was served with, the JSON text
-- of those, as clientcert.text.verdict_json(verdict, parts) takes them (built once
-- per cache entry, from the entry's data); nil for any other verdict, and for
-- any but the last verdict served from a cache. For the OpenResty gate, which
-- changes neither table between check and log: a caller that changes what is
-- inside them must not pass these parts.
function M.json_parts(v)
  if v == nil or v ~= served_v or v.client ~= served_client or v.chain ~= served_chain then return nil end
  local e = served_entry
  if not e[E_CLIENT_JSON] then
    local info, chain = entry_copy(e)
    local parts = text.verdict_json_parts(info, chain)
    e[E_CLIENT_JSON], e[E_CHAIN_JSON] = parts.client_names, intern(parts.chain) or false
  end
  return setmetatable({ served_client.fingerprint, client_names = e[E_CLIENT_JSON],
                        chain = e[E_CHAIN_JSON] or nil }, PARTS)
end

return M
