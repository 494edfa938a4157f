--- clientcert.util: the argument checks every layer shares, so that a value is
-- judged by one rule whichever function receives it, and deep_copy (internal module).
--
-- Each checker returns the normalised value, or raises
-- "clientcert.<where>: <what>" at the given level (as error() counts levels,
-- from the checker's caller: 2 = the function that called the checker).
local core = require("clientcert.core")
local compat = require("clientcert.compat")
local floor = math.floor

local M = {}

-- The latest time clientcert accepts: 9999-12-31T23:59:59Z (the last second an
-- X.509 GeneralizedTime can express), defined once in C (CC_MAX_TIME).
M.MAX_TIME = core.MAX_TIME

local function raise(where, what, level)
  error(("clientcert.%s: %s"):format(where, what), (level or 2) + 1)
end

--- n = util.integer(v, where, name, min, max[, level]): v must be a number with
-- an integral value in min..max (inclusive; max may be nil for no upper bound).
-- NaN, infinities, fractions and out-of-range values raise the same message on
-- Lua 5.4 and LuaJIT. Returns the value as an integer (compat.tointeger).
function M.integer(v, where, name, min, max, level)
  -- the check inline (every policy:check reads its time here), its message from integer_error
  local ok = type(v) == "number" and v == v and v >= min and (max == nil or v <= max)
    and v ~= math.huge and math.floor(v) == v
  if not ok then raise(where, M.integer_error(v, name, min, max), (level or 2) + 1) end
  return compat.tointeger(v)
end

--- err = util.integer_error(v, name, min, max): what util.integer would raise
-- about v (without the "clientcert.<where>: " origin), or nil when v passes.
function M.integer_error(v, name, min, max)
  local ok = type(v) == "number" and v == v and v >= min and (max == nil or v <= max)
    and v ~= math.huge and math.floor(v) == v
  if ok then return nil end
  local range = max and ("between %d and %d"):format(min, max) or ("%d or more"):format(min)
  return ("%s must be an integer %s, got %s"):format(name, range,
    type(v) == "number" and ("%.17g"):format(v) or type(v))
end

--- t = util.time(v, where[, level]): a check time: integer Unix seconds in
-- 0 .. MAX_TIME (1970 to the end of year 9999); nil gives now.
function M.time(v, where, level)
  if v == nil then return os.time() end
  -- an integral number in range at once (every check passes one): floor gives it as
  -- an integer on Lua 5.4 (compat.tointeger's result), a double on LuaJIT
  if type(v) == "number" and v >= 0 and v <= M.MAX_TIME then
    local i = floor(v)
    if i == v then return i end
  end
  return M.integer(v, where, "time", 0, M.MAX_TIME, (level or 2) + 1)
end

--- fp = util.fingerprint(cert): the SHA-256 fingerprint (lowercase hex) of a cert
-- object, as cert:fingerprint() gives it. The one cache of it is the facts table C
-- keeps per object (core._cert_facts_of), read here at table speed on the hot paths
-- (the verdict cache's key, the gate); computed and kept by C on first use.
local FACTS_OF = core._cert_facts_of
function M.fingerprint(cert)
  local facts = FACTS_OF[cert]
  local fp = facts and facts.fingerprint
  if fp then return fp end
  return assert(cert:fingerprint())
end

-- (LuaJIT: # never runs __len)
local rawlen = rawget(_G, "rawlen") or function(t) return #t end

--- n = util.sequence_length(t): n when t's keys are exactly 1..n, else nil and
-- the first offending key (a non-integer key, or an index past a hole; nil
-- when the only fault is a hole inside 1..#t). Raw access: no metamethod runs.
function M.sequence_length(t)
  local n = rawlen(t)
  local count = 0
  for k in next, t do
    if type(k) ~= "number" or k < 1 or k > n or math.floor(k) ~= k then return nil, k end
    count = count + 1
  end
  if count ~= n then return nil, nil end -- a nil inside 1..#t (a border with a hole)
  return n
end

--- list = util.list(v, where, name[, level]): v as a list. A table must be a
-- proper sequence (keys 1..n, no holes, no other keys): anything else raises,
-- so that a keyed table is never silently read as empty. nil gives {}; any other
-- single value gives a one-element list {v}. A table is read raw: one with a
-- metatable gives a plain copy (so that no metamethod of the caller's runs
-- where the list is read).
function M.list(v, where, name, level)
  if type(v) == "table" and getmetatable(v) == nil and M.sequence_length(v) then return v end -- (every check's chain)
  local list, err = M.as_list(v, name)
  if not list then raise(where, err, (level or 2) + 1) end
  return list
end

--- list | nil, err = util.as_list(v, name): util.list that returns what it
-- would raise (without the "clientcert.<where>: " origin).
function M.as_list(v, name)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  local n, bad = M.sequence_length(v)
  if not n then
    local found = bad == nil and "it has a hole"
      or ("found key %s"):format(type(bad) == "string" and ("'" .. bad .. "'") or tostring(bad))
    return nil, ("%s must be a list (keys 1..n with no holes): %s"):format(name, found)
  end
  if getmetatable(v) == nil then return v end
  local copy = {}
  for i = 1, n do copy[i] = rawget(v, i) end
  return copy
end

--- copy = util.raw_copy(t): a shallow copy of table t read with raw access (no
-- metamethod of t runs): the options a host gives, read once.
function M.raw_copy(t)
  local out = {}
  for k, v in next, t do out[k] = v end
  return out
end

--- copy = util.deep_copy(v): a deep copy of plain data (tables without
-- metatables, no cycles: cert:info() results, verdicts, options).
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end
M.deep_copy = deep_copy

return M
