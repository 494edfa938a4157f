--- clientcert.sandbox: where policy code runs. Policy files run in an
-- environment of their own (an allow-listed clientcert facade, copies of string,
-- table and math, params as a deep copy), and policy files and rules run under
-- instruction, memory and C-stack budgets (run_bounded). (internal module: the
-- public entry points are clientcert.load_policy and policy.load_file)
--
--   ok, ... = sandbox.run_bounded(steps, memory, fn, ...)
--   policy | nil, err = sandbox.load_file(path, params, make)
--   policy, files | nil, err, files = sandbox.load_recorded(path, params, make)
--   text = sandbox.describe_error(e)
--
-- Not bounded: time spent inside one C function (see run_bounded).
local compat = require "clientcert.compat"
local clientcert = require "clientcert"
local util = require "clientcert.util"
local input = require "clientcert.input"

local M = {}

--- text = sandbox.describe_error(e): an error value as a string (error({}), error(nil),
-- error(5) included; never calls a __tostring).
function M.describe_error(e)
  if type(e) == "string" then return e end
  if e == nil then return "an error without a message (nil)" end
  if type(e) == "number" or type(e) == "boolean" then return "an error value " .. tostring(e) end
  return "an error value of type " .. type(e)
end
local describe_error = M.describe_error

-- Instruction and memory budgets (see run_bounded and docs/api.md "Policy files").
M.MAX_POLICY_STEPS = 10000000           -- a policy file's top level, at load
M.MAX_POLICY_MEMORY = 64 * 1024 * 1024  -- Lua heap growth while a file loads
M.MAX_RULE_STEPS = 1000000              -- one call of a rule, at check time
M.MAX_RULE_MEMORY = 16 * 1024 * 1024    -- Lua heap growth during one rule call
M.MAX_STRING = 16 * 1024 * 1024         -- the longest string.rep result in bounded code
M.MAX_C_STACK = 256 * 1024              -- C stack bounded code may grow by (nesting through C)
-- The hard cap on heap growth, as a multiple of the memory budget: checked at
-- every allocation (the budget itself is checked every HOOK_EVERY instructions,
-- so one C call or one instruction could otherwise allocate without limit)
M.MEMORY_CAP_FACTOR = 4
-- The pattern matcher steps (string.find, match, gmatch, gsub) bounded code may
-- take in all, as a multiple of its instruction budget: each call's matching is
-- costed before it runs (csrc/pattern.c), as it runs in one C call, unseen by
-- the instruction count
M.PATTERN_STEPS_FACTOR = 10
-- The wall-clock time bounded code may take, per instruction of its budget
-- (60 s for a rule, 600 s for a policy file's top level): a backstop for time
-- spent inside C functions, which the instruction count does not see (a loop
-- of clientcert.parse_all calls on a large bundle ran for hours). Ordinary
-- code takes milliseconds, and a whole budget of instructions well under a
-- second (seconds under valgrind); checked at every count event and every call.
M.SECONDS_PER_STEP = 6e-5
local HOOK_EVERY = 1000

local real_rep, real_dump = string.rep, string.dump
local real_find, real_match, real_gmatch, real_gsub = string.find, string.match, string.gmatch, string.gsub
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

--- ok, ... = sandbox.run_bounded(steps, memory, fn, ...): pcall(fn, ...) under budgets,
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
-- A pattern match (string.find, match, gmatch, gsub) is costed before it runs
-- (PATTERN_STEPS_FACTOR), and the run has a wall-clock budget (SECONDS_PER_STEP)
-- for the time spent in C functions, checked between them.
-- Not bounded: time spent inside one C function (sorting a large table), and
-- memory between two checks: one instruction or one C call can allocate much
-- (s .. s, table.concat), so the heap can overshoot `memory`, but never past
-- MEMORY_CAP_FACTOR * `memory`: the state's allocator is wrapped for the run and
-- refuses growth past that (the code is then stopped as past a budget).
local YIELD = "policy code cannot yield (coroutine.yield, ngx.sleep, a cosocket): "
local function yield_named(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == "string" and e:find("attempt to yield across", 1, true) and e:sub(1, #YIELD) ~= YIELD then
    e = YIELD .. e
  end
  return false, e
end

-- The limits table of run_c for these budgets, made once per budget pair (a
-- rule runs on every request) and again when a factor of M changed.
local LIMITS = {}
local function limits_for(steps, memory)
  local t = LIMITS[steps] and LIMITS[steps][memory]
  if t and t.memory_cap == memory * M.MEMORY_CAP_FACTOR and t.pattern_steps == steps * M.PATTERN_STEPS_FACTOR
      and t.seconds == steps * M.SECONDS_PER_STEP and t.max_string == M.MAX_STRING
      and t.max_cstack == M.MAX_C_STACK then
    return t
  end
  t = { steps = steps, memory = memory, memory_cap = memory * M.MEMORY_CAP_FACTOR,
        max_string = M.MAX_STRING, max_cstack = M.MAX_C_STACK,
        every = HOOK_EVERY, rep = real_rep, dump = real_dump, pattern_steps = steps * M.PATTERN_STEPS_FACTOR,
        seconds = steps * M.SECONDS_PER_STEP,
        find = real_find, match = real_match, gmatch = real_gmatch, gsub = real_gsub }
  if type(steps) == "number" and type(memory) == "number" and steps == steps and memory == memory then
    LIMITS[steps] = LIMITS[steps] or {}
    LIMITS[steps][memory] = t
  end
  return t
end

local function run_bounded(steps, memory, fn, ...)
  return yield_named(run_c(limits_for(steps, memory), fn, ...))
end
M.run_bounded = run_bounded

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

-- env, failed: failed() gives the error of the first clientcert.store call of the
-- file that returned nil (a policy file without assert() around it would
-- otherwise only hear "trust must be a clientcert.store", not which file failed).
local function sandbox_env(params)
  local cc, first_failure = {}, nil
  for _, k in ipairs(FACADE_NAMES) do cc[k] = clientcert[k] end
  cc.store = function(spec)
    local store, err = clientcert._store_at(spec, 3) -- a raise names the file's line, not this one
    if store == nil and first_failure == nil then first_failure = tostring(err) end
    return store, err
  end
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
  return env, function() return first_failure end
end

local MAX_POLICY_SOURCE = 1024 * 1024

--- policy | nil, err = sandbox.load_file(path, params, make): runs the Lua policy
-- file path in a sandbox; the file returns the options table of clientcert.policy
-- (or a policy), which make(returned) turns into a policy (policy | nil, err).
-- params (plain data: strings, numbers, booleans and tables of those) is visible
-- to it as a deep copy, `params`. A file that fails, exceeds its budgets
-- (M.MAX_POLICY_STEPS, M.MAX_POLICY_MEMORY) or returns bad options gives
-- nil, "clientcert.load_policy: <path>: <what>" (a caller must then refuse to serve).
-- Arguments of the wrong type raise (at the caller of clientcert.load_policy).
function M.load_file(path, params, make)
  if type(path) ~= "string" then error("clientcert.load_policy: path must be a string", 2) end
  if params ~= nil and type(params) ~= "table" then error("clientcert.load_policy: params must be a table", 2) end
  local pok, pcopy = pcall(copy_params, params or {}, "params", {})
  if not pok then error("clientcert.load_policy: " .. pcopy, 2) end
  -- a regular file of at most 1 MiB (no FIFO, device or directory: see core.read_file)
  local src, rerr = input.read(path, "load_policy", MAX_POLICY_SOURCE) -- recorded, as its roots and CRLs are
  if not src then return nil, rerr end
  if src == "" then return nil, "clientcert.load_policy: " .. path .. ": empty file" end
  if src:byte(1) == 27 then return nil, "clientcert.load_policy: " .. path .. ": bytecode is not accepted" end
  local env, store_failure = sandbox_env(pcopy)
  local chunk, lerr = compat.load(src, "@" .. path, env)
  if not chunk then return nil, "clientcert.load_policy: " .. tostring(lerr) end
  -- on LuaJIT: the chunk and every function it defines run interpreted (hooks fire)
  compat.jit_off(chunk)
  local ok, spec = run_bounded(M.MAX_POLICY_STEPS, M.MAX_POLICY_MEMORY, chunk)
  if not ok then return nil, "clientcert.load_policy: " .. path .. ": " .. describe_error(spec) end
  if type(spec) ~= "table" then
    return nil, "clientcert.load_policy: " .. path .. " must return the options table of clientcert.policy"
  end
  local policy, err = nil, file_opts_error(spec)
  if not err then policy, err = make(spec) end
  if not policy then
    local failed = store_failure()
    return nil, "clientcert.load_policy: " .. path .. ": clientcert.policy: " .. err
      .. (failed and ("; a clientcert.store call of the file returned nil: " .. failed) or "")
  end
  return policy
end

--- policy, files | nil, err, files = sandbox.load_recorded(path, params, make):
-- load_file, with every file it read recorded (clientcert.input.recorded): the
-- policy file first, then the roots, intermediates and CRLs it loads, each {path =,
-- digest = SHA-256 of the bytes that were loaded (or "!<why it could not be
-- read>"), limit =}; on failure, the files read until it failed. A raise (a
-- wrong params type) becomes nil, err.
function M.load_recorded(path, params, make)
  local files, ok, policy, err = input.recorded(M.load_file, path, params, make)
  if not ok then return nil, tostring(policy), files end
  if not policy then return nil, err, files end
  return policy, files
end

return M
