--- clientcert.policy: decides whether a TLS client is accepted and, when it is
-- not, which documented cause (clientcert.causes) to report.
--
--   policy = clientcert.policy{mode = "require"|"optional"|"off", trust = store,
--                              allow = {matcher, ...}, rule = function(info, verdict) end,
--                              verify = {crl=, crl_missing=, max_depth=, purpose=, ...}}
--   verdict = policy:check{cert = pem|der|cert|nil, chain = {...}, time = secs, key = pem|nil}
--
-- Fail closed: anything that goes wrong while checking (unparsable input, a
-- raising rule, an internal error) is a rejection with a cause, never a raise
-- and never an accept. Not checked: OCSP, and anything store:verify does not check.
local clientcert = require "clientcert"
local causes = require "clientcert.causes"

local M = {}

local Policy = {}
Policy.__index = Policy

local MODES = { require = true, optional = true, off = true }
local POLICY_KEYS = { mode = true, trust = true, allow = true, rule = true, verify = true, name = true }
local VERIFY_KEYS = { crl = true, crl_missing = true, max_depth = true, purpose = true, partial_chain = true,
                      check_time = true, flags = true, policies = true, auth_level = true }
-- matcher key -> how to read the value from cert:info()
local MATCH_KEYS = {
  subject_cn = true, subject = true, issuer_cn = true, issuer = true, san_email = true,
  san_dns = true, san_uri = true, fingerprint = true, serial = true,
  subject_cn_pattern = true, subject_pattern = true, issuer_cn_pattern = true, issuer_pattern = true,
  san_email_pattern = true, san_dns_pattern = true, san_uri_pattern = true,
}

local VERIFY_VALUES = {
  crl = { none = true, leaf = true, chain = true },
  crl_missing = { reject = true, allow = true },
  purpose = { client = true, server = true, any = true },
}
local VERIFY_TYPES = { max_depth = "number", partial_chain = "boolean", check_time = "boolean",
                       flags = "table", policies = "table", auth_level = "number" }

local function matcher_error(m, i)
  if type(m) ~= "table" then return ("allow[%d] must be a table"):format(i) end
  local n = 0
  for k, v in pairs(m) do
    if not MATCH_KEYS[k] then return ("allow[%d]: unknown matcher '%s'"):format(i, tostring(k)) end
    if type(v) ~= "string" then return ("allow[%d].%s must be a string"):format(i, k) end
    if k:match("_pattern$") and not pcall(string.find, "", v) then
      return ("allow[%d].%s is not a valid Lua pattern"):format(i, k)
    end
    n = n + 1
  end
  if n == 0 then return ("allow[%d] is empty (it would admit everyone)"):format(i) end
  return nil
end

local function verify_error(verify)
  if type(verify) ~= "table" then return "verify must be a table" end
  for k, v in pairs(verify) do
    if not VERIFY_KEYS[k] then return ("unknown verify option '%s'"):format(tostring(k)) end
    local values, want = VERIFY_VALUES[k], VERIFY_TYPES[k]
    if values and not values[v] then
      return ("verify.%s cannot be %s"):format(k, tostring(v))
    elseif want and type(v) ~= want then
      return ("verify.%s must be a %s, got %s"):format(k, want, type(v))
    end
  end
  if verify.max_depth ~= nil and (verify.max_depth < 0 or verify.max_depth ~= math.floor(verify.max_depth)) then
    return "verify.max_depth must be a whole number >= 0"
  end
  return nil
end

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
  local allow = {}
  for i, m in ipairs(opts.allow or {}) do
    local err = matcher_error(m, i)
    if err then return nil, err end
    local copy = {}
    for k, v in pairs(m) do copy[k] = v end
    allow[i] = copy
  end
  local n = 0
  for _ in pairs(opts.allow or {}) do n = n + 1 end
  if n ~= #allow then return nil, "allow must be a list of matchers (keys 1..n)" end
  if opts.rule ~= nil and type(opts.rule) ~= "function" then return nil, "rule must be a function" end
  if opts.name ~= nil and type(opts.name) ~= "string" then return nil, "name must be a string" end
  local verify = opts.verify or {}
  local verr = verify_error(verify)
  if verr then return nil, verr end
  local vcopy = {}
  for k, v in pairs(verify) do vcopy[k] = v end
  return setmetatable({ mode = mode, trust = opts.trust, allow = allow, rule = opts.rule,
                        verify = vcopy, name = opts.name }, Policy)
end

--- policy = policy.new(opts): see the module header. A wrong option is a
-- programmer error and raises (at the caller of clientcert.policy, which
-- tail-calls this). The matchers and verify options are copied: changing the
-- caller's tables later does not change the policy.
function M.new(opts)
  local policy, err = build(opts)
  if not policy then error("clientcert.policy: " .. err, 2) end
  return policy
end

-- Values of one matcher key in the client's info (a list of strings).
local function values(info, key)
  local function field(fields, name)
    local out = {}
    for _, f in ipairs(fields or {}) do if f.name == name then out[#out + 1] = f.value end end
    return out
  end
  local function san(kind)
    local out = {}
    for _, s in ipairs(info.san or {}) do if s.type == kind then out[#out + 1] = s.value end end
    return out
  end
  if key == "subject_cn" then return field(info.subject_fields, "CN") end
  if key == "issuer_cn" then return field(info.issuer_fields, "CN") end
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

-- Does every key of matcher m hold for info? Exact byte comparison unless *_pattern.
local function matches(m, info)
  for k, want in pairs(m) do
    local base = k:match("^(.-)_pattern$")
    local ok = false
    for _, have in ipairs(values(info, base or k)) do
      if base then
        -- a pattern is anchored by its author; a NUL in a value never passes as a terminator
        ok = have:find(want) ~= nil
      else
        ok = norm(k, have) == norm(k, want)
      end
      if ok then break end
    end
    if not ok then return false end
  end
  return true
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

-- Builds the verdict table for cause id.
local function verdict(id, accepted, facts, base)
  local c = causes.get(id) or causes.get("invalid_certificate")
  local v = base or {}
  v.accepted = accepted
  v.cause = id
  v.status = accepted and 200 or c.status
  v.substatus = accepted and "200" or c.substatus
  v.title = c.title
  v.message = causes.render(id, facts)
  v.resolution = accepted and {} or causes.resolution(id, facts)
  v.also = v.also or {}
  return v
end

local function reject_invalid(base, info, err)
  return verdict("invalid_certificate", false, facts_for(info, nil, { error = err }), base)
end

-- The problems of a verify result as causes: the primary one (by precedence) and the rest.
local function classify(result)
  local seen, list = {}, {}
  for _, p in ipairs(result.problems) do
    local id = p.cause
    if not seen[id] then
      seen[id] = p
      list[#list + 1] = id
    end
  end
  table.sort(list, function(a, b) return causes.rank(a) < causes.rank(b) end)
  return list, seen
end

local function check_time(t)
  if t == nil then return os.time() end
  if type(t) ~= "number" or t ~= math.floor(t) then
    error("clientcert.policy.check: time must be whole Unix seconds", 3)
  end
  return t
end

--- verdict = policy:check{cert = pem|der|cert|nil, chain = {...}, time = secs, key = pem|nil,
--                        passphrase = string|nil}
-- Returns {accepted, status, substatus, cause, title, message, resolution, also,
-- client = info (when parsed), chain = per-element report, time, rule_error?}.
function Policy:check(req)
  req = req or {}
  if type(req) ~= "table" then error("clientcert.policy.check: request must be a table", 2) end
  local when = check_time(req.time)
  local base = { time = when, mode = self.mode, also = {}, chain = {} }
  if self.mode == "off" then
    local v = verdict("ok", true, {}, base)
    v.message = "Client certificates are not checked here (mode \"off\")."
    return v
  end
  local ok, v = pcall(self.decide, self, req, base, when)
  if ok then return v end
  -- an internal error: reject, keep the error
  base.error = tostring(v)
  return reject_invalid(base, nil, "internal error while checking: " .. tostring(v))
end

function Policy:decide(req, base, when)
  local cert = req.cert
  if cert == nil or cert == "" or cert == false then
    local v = verdict("no_certificate", self.mode == "optional", {}, base)
    if v.accepted then
      v.title = "No client certificate (optional here)"
      v.message = "The client sent no certificate; client certificates are optional here."
    end
    return v
  end
  if type(cert) == "string" then
    local c, err = clientcert.parse(cert)
    if not c then return reject_invalid(base, nil, err) end
    cert = c
  elseif clientcert.typeof(cert) ~= "cert" then
    return reject_invalid(base, nil, "clientcert.policy.check: cert must be PEM/DER text or a certificate")
  end
  local info, ierr = cert:info()
  if not info then return reject_invalid(base, nil, ierr) end
  base.client = info

  local vopts = { chain = req.chain, time = when }
  for k, val in pairs(self.verify) do vopts[k] = val end
  local result, verr = self.trust:verify(cert, vopts)
  if not result then return reject_invalid(base, info, verr) end
  base.chain, base.problems = result.chain, result.problems
  -- a CRL whose signature did not verify was ignored by the verification: named
  -- in also (in precedence order), never the primary cause
  if result.ignored_crls and #result.ignored_crls > 0 then base.also = { "crl_bad_signature" } end

  local ids, first = classify(result)
  if req.key ~= nil then
    local match, kerr = cert:matches_key(req.key, req.passphrase)
    if not match then
      ids[#ids + 1] = "no_private_key"
      first.no_private_key = { error = kerr or "the key is for another certificate" }
      table.sort(ids, function(a, b) return causes.rank(a) < causes.rank(b) end)
    end
  end
  if #ids > 0 then
    -- an issuer problem with a non-self-signed certificate among the trusted roots:
    -- name that misconfiguration too (looked at only on this rejection path)
    if (ids[1] == "untrusted_root" or ids[1] == "missing_intermediate") and not first.intermediate_in_roots then
      -- counted by the store when each root was added: no certificate is read here
      if self.trust:stats().roots_not_self_signed > 0 then
        ids[#ids + 1] = "intermediate_in_roots"
        first.intermediate_in_roots = {}
      end
    end
    local id = ids[1]
    local p = first[id]
    local el = p.depth and result.chain[math.min(p.depth + 1, #result.chain)] or nil
    local v = verdict(id, false, facts_for(info, el, {
      error = p.error, time = when, revoked_at = p.revoked_at, reason = p.reason or "unspecified",
    }), base)
    for i = 2, #ids do v.also[#v.also + 1] = ids[i] end
    if v.also[1] == "crl_bad_signature" then -- move it to its rank among the others
      local j = 1
      while v.also[j + 1] and causes.rank(v.also[j + 1]) <= causes.rank("crl_bad_signature") do
        v.also[j], v.also[j + 1] = v.also[j + 1], v.also[j]
        j = j + 1
      end
    end
    return v
  end

  -- a valid chain: allow list, then the rule
  if #self.allow > 0 then
    local admitted = false
    for _, m in ipairs(self.allow) do
      if matches(m, info) then admitted = true break end
    end
    if not admitted then
      return verdict("denied_by_rule", false, facts_for(info, nil, {
        rule_reason = "no entry of the allow list matches this certificate" }), base)
    end
  end
  local v = verdict("ok", true, facts_for(info, nil, {}), base)
  if self.rule then
    local rok, allowed, reason = pcall(self.rule, info, v)
    if not rok then
      v = verdict("denied_by_rule", false, facts_for(info, nil, {
        rule_reason = "the policy rule failed: " .. tostring(allowed) }), base)
      v.rule_error = tostring(allowed)
      return v
    end
    if allowed == false or allowed == nil and reason ~= nil then
      v = verdict("denied_by_rule", false, facts_for(info, nil, {
        rule_reason = reason ~= nil and tostring(reason) or "the policy rule refused it" }), base)
      v.rule_reason = reason ~= nil and tostring(reason) or nil
      return v
    end
  end
  return v
end

--- report = policy.audit_store(store[, {time = secs}]): checks the trusted roots the
-- way some servers need them: each must be a self-signed CA, in date.
-- report = {ok, count, findings = {{cause, subject, fingerprint, message}, ...}}.
function M.audit_store(store, opts)
  if not clientcert.is_store(store) then error("clientcert.audit_store: expected a clientcert.store", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("clientcert.audit_store: opts must be a table", 2) end
  local when = opts and opts.time
  if when == nil then when = os.time() end
  if type(when) ~= "number" or when ~= math.floor(when) then
    error("clientcert.audit_store: time must be whole Unix seconds", 2)
  end
  local roots = store:roots()
  local findings = {}
  local function add(id, info, extra)
    local el = { subject = info.subject, issuer = info.issuer, serial = info.serial,
                 self_signed = info.self_signed, not_before = info.not_before, not_after = info.not_after }
    local f = facts_for(nil, el, extra)
    if id == "intermediate_in_roots" then f.element = info.subject end
    findings[#findings + 1] = { cause = id, subject = info.subject, fingerprint = info.fingerprint,
                                message = causes.render(id, f) }
  end
  for _, c in ipairs(roots) do
    local info = c:info()
    if not info then
      findings[#findings + 1] = { cause = "invalid_certificate", message = "a trusted certificate cannot be read" }
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
      findings[#findings + 1] = { cause = "crl_bad_signature", subject = crl.issuer,
                                  last_update = crl.last_update,
                                  message = causes.render("crl_bad_signature", f) }
    end
  end
  return { ok = #findings == 0, count = #roots, findings = findings, time = when }
end
Policy.audit = function(self, opts) return M.audit_store(self.trust, opts) end

-- A shallow copy of a library table without the keys in drop: a policy file
-- may change its copy, never the host's string, table, math or clientcert.
local function copy_lib(lib, drop)
  local out = {}
  for k, v in pairs(lib) do
    if not (drop and drop[k]) then out[k] = v end
  end
  return out
end

-- The environment of a policy file: no os, io, require, load, loadstring,
-- dofile, debug, package, getmetatable/setmetatable, rawset, collectgarbage,
-- string.dump or math.randomseed; copies of the libraries it does get.
local function sandbox_env(params)
  local env = {
    params = copy_lib(params or {}),
    clientcert = copy_lib(clientcert), string = copy_lib(string, { dump = true }),
    table = copy_lib(table), math = copy_lib(math, { randomseed = true }),
    pairs = pairs, ipairs = ipairs, next = next, select = select, type = type, tostring = tostring,
    tonumber = tonumber, error = error, assert = assert, pcall = pcall, unpack = table.unpack or unpack,
  }
  env._G = env
  return env
end

-- chunk, err = load_text(src, name, env): a text chunk bound to env, on Lua 5.4
-- (load with an env) and LuaJIT / 5.1 (loadstring + setfenv). The one place
-- this module depends on the Lua version.
local function load_text(src, name, env)
  if setfenv and loadstring then
    local chunk, err = loadstring(src, name)
    if chunk then setfenv(chunk, env) end
    return chunk, err
  end
  return load(src, name, "t", env)
end

local MAX_POLICY_SOURCE = 1024 * 1024
-- VM instructions a policy file's top level may run (building a store and a few
-- tables takes a few thousand). It bounds a file that loops forever.
M.MAX_POLICY_STEPS = 10000000
local HOOK_EVERY = 1000

-- ok, value = run_bounded(chunk, source): pcall(chunk) under an instruction
-- budget. A count hook raises once the budget is spent, and from then on at
-- every instruction of the policy file (source: its chunk name), so a policy
-- that catches the error with pcall still cannot keep running; code outside the
-- file (clientcert, this function) is never interrupted. On LuaJIT the chunk and
-- its functions are kept out of the JIT compiler (count hooks do not fire in
-- compiled code). An existing Lua hook is restored after; a hook set from C
-- cannot be restored, so then the budget is not applied.
-- Not bounded: time spent inside one C function (string.rep of a huge string),
-- memory, and rule functions at check time (they run in request handlers).
local function run_bounded(chunk, source)
  local dbg = debug
  local old, mask, count
  if dbg and dbg.sethook then old, mask, count = dbg.gethook() end
  if not (dbg and dbg.sethook) or (old ~= nil and type(old) ~= "function") then return pcall(chunk) end
  if jit and jit.off then jit.off(chunk, true) end
  local ticks, limit = 0, math.floor(M.MAX_POLICY_STEPS / HOOK_EVERY)
  local function budget()
    ticks = ticks + 1
    if ticks <= limit then return end
    if ticks == limit + 1 then dbg.sethook(budget, "", 1) end
    local where = dbg.getinfo(2, "S")
    if where and where.source == source then
      error(("ran for more than %d instructions"):format(M.MAX_POLICY_STEPS), 0)
    end
  end
  dbg.sethook(budget, "", HOOK_EVERY)
  local ok, value = pcall(chunk)
  if old then dbg.sethook(old, mask, count) else dbg.sethook() end
  return ok, value
end

--- policy, err = policy.load_file(path[, params]): runs a Lua policy file in a sandbox;
-- the file returns the options table of clientcert.policy (or a policy). params (a
-- table of deployment settings such as file paths) is visible to it as `params`.
-- A file that fails, loops past M.MAX_POLICY_STEPS or returns bad options gives
-- nil, "clientcert.load_policy: <path>: <what>" (a caller must then refuse to serve).
function M.load_file(path, params)
  if type(path) ~= "string" then error("clientcert.load_policy: path must be a string", 2) end
  if params ~= nil and type(params) ~= "table" then error("clientcert.load_policy: params must be a table", 2) end
  -- a regular file of at most 1 MiB (no FIFO, device or directory: see core.read_file)
  local src, rerr = require("clientcert.core").read_file(path, MAX_POLICY_SOURCE, "load_policy")
  if not src then return nil, rerr end
  if src == "" then return nil, "clientcert.load_policy: " .. path .. ": empty file" end
  if src:byte(1) == 27 then return nil, "clientcert.load_policy: " .. path .. ": bytecode is not accepted" end
  local chunk, lerr = load_text(src, "@" .. path, sandbox_env(params))
  if not chunk then return nil, "clientcert.load_policy: " .. tostring(lerr) end
  local ok, spec = run_bounded(chunk, "@" .. path)
  if not ok then return nil, "clientcert.load_policy: " .. path .. ": " .. tostring(spec) end
  if getmetatable(spec) == Policy then return spec end
  if type(spec) ~= "table" then
    return nil, "clientcert.load_policy: " .. path .. " must return the options table of clientcert.policy"
  end
  local policy, err = build(spec)
  if not policy then return nil, "clientcert.load_policy: " .. path .. ": clientcert.policy: " .. err end
  return policy
end

local json -- a private lua-cjson instance: other code's settings cannot change our lines

-- A copy of list with the given fields of each element.
local function pick_list(list, fields)
  local out = {}
  for i, el in ipairs(list) do
    local e = {}
    for _, k in ipairs(fields) do e[k] = el[k] end
    out[i] = e
  end
  return out
end

--- line = policy.verdict_json(verdict): one JSON object (no newline), for logs.
-- Fields: time, accepted, status, substatus, cause, title, message, mode, also,
-- rule_error, rule_reason, error (an internal error), client (subject, issuer,
-- serial, fingerprint, not_before, not_after), chain (depth, subject, issuer,
-- serial, status, trusted, self_signed). Times are integer Unix seconds. The
-- resolution steps are not logged: the cause id names them in the catalogue.
function M.verdict_json(v)
  if type(v) ~= "table" then error("clientcert.verdict_json: verdict must be a table", 2) end
  if not json then json = require("cjson.safe").new() end
  local out = {
    time = v.time, accepted = v.accepted == true, status = v.status, substatus = v.substatus,
    cause = v.cause, title = v.title, message = v.message, mode = v.mode,
    rule_error = v.rule_error, rule_reason = v.rule_reason, error = v.error,
  }
  if type(v.also) == "table" and #v.also > 0 then out.also = v.also end
  if type(v.client) == "table" then
    out.client = pick_list({ v.client }, { "subject", "issuer", "serial", "fingerprint",
                                           "not_before", "not_after" })[1]
  end
  if type(v.chain) == "table" and #v.chain > 0 then
    out.chain = pick_list(v.chain, { "depth", "subject", "issuer", "serial", "status", "trusted", "self_signed" })
  end
  local s, err = json.encode(out)
  if s then return s end
  -- still one object per decision, with what can be said safely
  return json.encode({ time = type(v.time) == "number" and v.time or nil, accepted = v.accepted == true,
                       cause = type(v.cause) == "string" and v.cause or "invalid_certificate",
                       error = "verdict could not be encoded: " .. tostring(err) })
    or ('{"accepted":%s,"error":"verdict could not be encoded"}'):format(tostring(v.accepted == true))
end

return M
