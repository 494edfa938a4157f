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

local function check_matcher(m, i)
  if type(m) ~= "table" then
    error(("clientcert.policy: allow[%d] must be a table"):format(i), 4)
  end
  local n = 0
  for k, v in pairs(m) do
    if not MATCH_KEYS[k] then
      error(("clientcert.policy: allow[%d]: unknown matcher '%s'"):format(i, tostring(k)), 4)
    end
    if type(v) ~= "string" then
      error(("clientcert.policy: allow[%d].%s must be a string"):format(i, k), 4)
    end
    if k:match("_pattern$") and not pcall(string.find, "", v) then
      error(("clientcert.policy: allow[%d].%s is not a valid Lua pattern"):format(i, k), 4)
    end
    n = n + 1
  end
  if n == 0 then error(("clientcert.policy: allow[%d] is empty (it would admit everyone)"):format(i), 4) end
end

--- policy = policy.new(opts): see the module header; raises on a programmer error.
function M.new(opts)
  if type(opts) ~= "table" then error("clientcert.policy: options must be a table", 3) end
  for k in pairs(opts) do
    if not POLICY_KEYS[k] then error(("clientcert.policy: unknown option '%s'"):format(tostring(k)), 3) end
  end
  local mode = opts.mode or "require"
  if not MODES[mode] then
    error("clientcert.policy: mode must be \"require\", \"optional\" or \"off\"", 3)
  end
  if mode ~= "off" and not clientcert.is_store(opts.trust) then
    error("clientcert.policy: trust must be a clientcert.store (unless mode = \"off\")", 3)
  end
  if opts.allow ~= nil and type(opts.allow) ~= "table" then
    error("clientcert.policy: allow must be a list of matchers", 3)
  end
  for i, m in ipairs(opts.allow or {}) do check_matcher(m, i) end
  if opts.rule ~= nil and type(opts.rule) ~= "function" then
    error("clientcert.policy: rule must be a function", 3)
  end
  local verify = opts.verify or {}
  if type(verify) ~= "table" then error("clientcert.policy: verify must be a table", 3) end
  for k in pairs(verify) do
    if not VERIFY_KEYS[k] then error(("clientcert.policy: unknown verify option '%s'"):format(tostring(k)), 3) end
  end
  return setmetatable({ mode = mode, trust = opts.trust, allow = opts.allow or {}, rule = opts.rule,
                        verify = verify, name = opts.name }, Policy)
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
      for _, root in ipairs(self.trust:roots()) do
        local ri = root:info()
        if ri and not ri.self_signed then
          ids[#ids + 1] = "intermediate_in_roots"
          first.intermediate_in_roots = {}
          break
        end
      end
    end
    local id = ids[1]
    local p = first[id]
    local el = p.depth and result.chain[math.min(p.depth + 1, #result.chain)] or nil
    local v = verdict(id, false, facts_for(info, el, {
      error = p.error, time = when, revoked_at = p.revoked_at, reason = p.reason or "unspecified",
    }), base)
    for i = 2, #ids do v.also[#v.also + 1] = ids[i] end
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
  local when = (opts and opts.time) or os.time()
  local roots = store:roots()
  local findings = {}
  local function add(id, info, extra)
    local el = { depth = 1, subject = info.subject, issuer = info.issuer, serial = info.serial,
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
  return { ok = #findings == 0, count = #roots, findings = findings, time = when }
end
Policy.audit = function(self, opts) return M.audit_store(self.trust, opts) end

-- The environment of a policy file: no os, io, require, load, debug or package.
local function sandbox_env(params)
  local copy = {}
  for k, v in pairs(params or {}) do copy[k] = v end
  local env = {
    params = copy,
    clientcert = clientcert, string = string, table = table, math = math,
    pairs = pairs, ipairs = ipairs, next = next, select = select, type = type, tostring = tostring,
    tonumber = tonumber, error = error, assert = assert, pcall = pcall, unpack = table.unpack or unpack,
  }
  env._G = env
  return env
end

local MAX_POLICY_SOURCE = 1024 * 1024

--- policy, err = policy.load_file(path[, params]): runs a Lua policy file in a sandbox;
-- the file returns the options table of clientcert.policy (or a policy). params (a
-- table of deployment settings such as file paths) is visible to it as `params`.
function M.load_file(path, params)
  if type(path) ~= "string" then error("clientcert.load_policy: path must be a string", 3) end
  if params ~= nil and type(params) ~= "table" then error("clientcert.load_policy: params must be a table", 3) end
  local f, oerr = io.open(path, "rb")
  if not f then return nil, "clientcert.load_policy: cannot open " .. oerr end
  local src = f:read(MAX_POLICY_SOURCE + 1)
  f:close()
  if not src then return nil, "clientcert.load_policy: " .. path .. ": empty file" end
  if #src > MAX_POLICY_SOURCE then return nil, "clientcert.load_policy: " .. path .. ": larger than 1 MiB" end
  if src:byte(1) == 27 then return nil, "clientcert.load_policy: " .. path .. ": bytecode is not accepted" end
  local env = sandbox_env(params)
  local chunk, lerr
  if setfenv then -- LuaJIT / 5.1
    chunk, lerr = loadstring(src, "@" .. path)
    if chunk then setfenv(chunk, env) end
  else
    chunk, lerr = load(src, "@" .. path, "t", env)
  end
  if not chunk then return nil, "clientcert.load_policy: " .. tostring(lerr) end
  local ok, spec = pcall(chunk)
  if not ok then return nil, "clientcert.load_policy: " .. path .. ": " .. tostring(spec) end
  if getmetatable(spec) == Policy then return spec end
  if type(spec) ~= "table" then
    return nil, "clientcert.load_policy: " .. path .. " must return the options table of clientcert.policy"
  end
  local pok, policy = pcall(M.new, spec)
  if not pok then return nil, "clientcert.load_policy: " .. path .. ": " .. tostring(policy) end
  return policy
end

--- line = policy.verdict_json(verdict): one JSON object (no newline), for logs.
function M.verdict_json(v)
  local cjson = require("cjson.safe")
  local out = {
    time = v.time, accepted = v.accepted, status = v.status, substatus = v.substatus,
    cause = v.cause, title = v.title, message = v.message, mode = v.mode,
    rule_error = v.rule_error, rule_reason = v.rule_reason,
  }
  if v.also and #v.also > 0 then out.also = v.also end
  if v.client then
    local c = v.client
    out.client = { subject = c.subject, issuer = c.issuer, serial = c.serial, fingerprint = c.fingerprint,
                   not_before = c.not_before, not_after = c.not_after }
  end
  if v.chain and #v.chain > 0 then
    out.chain = {}
    for i, el in ipairs(v.chain) do
      out.chain[i] = { depth = el.depth, subject = el.subject, serial = el.serial, status = el.status,
                       trusted = el.trusted }
    end
  end
  local s, err = cjson.encode(out)
  if not s then return '{"cause":"invalid_certificate","message":"verdict could not be encoded: '
    .. tostring(err):gsub('[%c"\\]', "") .. '"}' end
  return s
end

return M
