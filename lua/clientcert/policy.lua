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
local revocation = require "clientcert.revocation"
local options = require "clientcert.options"
local verdicts = require "clientcert.verdict"
local verdict_cache = require "clientcert.verdict_cache"
local input = require "clientcert.input"
local sandbox = require "clientcert.sandbox"

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
local deep_copy = util.deep_copy
local verdict, facts_for = verdicts.build, verdicts.facts
local DEPLOYMENT_OF = verdicts.DEPLOYMENT_OF -- verdict.new's side table, written inline by check
local reject_invalid, reject_internal = verdicts.invalid, verdicts.internal
local run_bounded, describe_error = sandbox.run_bounded, sandbox.describe_error
local parse_cached, cache_key, cache_serve = verdict_cache.parse, verdict_cache.key, verdict_cache.serve
local read_chain, cached_chain_text = input.chain, verdict_cache.chain_text
local decide -- v = decide(state, req, base, when) (below, the body of check)
local NO_IDS = {} -- the causes of a verification without problems (never written)

-- The budgets of policy code (clientcert.sandbox; docs/api.md "Policy files"), as read here.
M.MAX_POLICY_STEPS, M.MAX_POLICY_MEMORY = sandbox.MAX_POLICY_STEPS, sandbox.MAX_POLICY_MEMORY
M.MAX_RULE_STEPS, M.MAX_RULE_MEMORY = sandbox.MAX_RULE_STEPS, sandbox.MAX_RULE_MEMORY
M.MAX_STRING, M.MAX_C_STACK = sandbox.MAX_STRING, sandbox.MAX_C_STACK

-- state | nil: the state of policy p.
local function state_of(p)
  if IS_POLICY[p] then return p[STATE_KEY] end
  return nil
end

local MODES = { require = true, optional = true, off = true }
local POLICY_KEYS = { mode = true, trust = true, allow = true, rule = true, verify = true, name = true,
                      cache = true, intermediate_in_roots = true, revocation = true }
local IN_ROOTS = { warn = true, reject = true }
-- what policy:check reads of its request (_revocation: the gate's shared revocation cache)
local REQUEST_KEYS = { cert = true, chain = true, time = true, key = true, passphrase = true, deployment = true,
                       _revocation = true }
local DEPLOYMENTS = {} -- the deployments causes.resolution words steps for
for _, d in ipairs(causes.DEPLOYMENTS) do DEPLOYMENTS[d] = true end
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
  for k, v in next, m do
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

-- copy | nil, err: the verify options, each value checked, as a fresh table.
local VERIFY_CTX = {
  where = "policy",
  label = function(k) return k and ("verify." .. k) or "verify" end,
  unknown = function(k) return ("unknown verify option '%s'"):format(k) end,
}
local function verify_copy(verify)
  return options.check_verify(verify, VERIFY_CTX)
end

local new_policy -- policy = new_policy(state) (below, with the methods)
local index_allow -- index, rest = index_allow(allow) (below, with the matching)

-- policy | nil, err: the policy object for opts, or what is wrong with opts.
local function build(opts)
  if type(opts) ~= "table" then return nil, "options must be a table" end
  opts = util.raw_copy(opts) -- (raw access: no metamethod of the caller's tables runs)
  for k in next, opts do
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
  local list, lerr = util.as_list(opts.allow, "allow")
  if not list then return nil, lerr end
  local allow = {}
  for i, m in ipairs(list) do
    local err = matcher_error(m, i)
    if err then return nil, err end
    allow[i] = util.raw_copy(m)
  end
  if opts.rule ~= nil and type(opts.rule) ~= "function" then return nil, "rule must be a function" end
  if opts.name ~= nil and type(opts.name) ~= "string" then return nil, "name must be a string" end
  local verify, verr = verify_copy(opts.verify or {})
  if not verify then return nil, verr end
  local cache, cerr = verdict_cache.new(opts.cache)
  if cerr then return nil, cerr end
  local in_roots = opts.intermediate_in_roots
  if in_roots == nil then in_roots = "warn" end
  if not IN_ROOTS[in_roots] then return nil, "intermediate_in_roots must be \"warn\" or \"reject\"" end
  local rev
  if opts.revocation ~= nil then
    local rerr
    rev, rerr = revocation.options(opts.revocation)
    if not rev then return nil, rerr end
    rev.cache = revocation.memory_cache(cache and cache.size or 10000)
    rev.envs = {}
  end
  -- on LuaJIT a rule runs interpreted, so that its instruction budget is enforced
  if opts.rule then compat.jit_off(opts.rule) end
  local allow_index, allow_rest = index_allow(allow)
  return new_policy{ mode = mode, trust = opts.trust, allow = allow, rule = opts.rule,
                     allow_index = allow_index, allow_rest = allow_rest,
                     verify = verify, name = opts.name, cache = cache, intermediate_in_roots = in_roots,
                     revocation = rev }
end

--- policy | nil, err = policy.build(opts): policy.new that returns what is wrong
-- with opts (err, without an origin: "unknown option 'x'") instead of raising;
-- for a caller whose errors name their own origin (the CLI).
M.build = build

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

-- The keys of matchers that index_allow puts in the allow list's index: exact
-- comparisons of values for which values() never gives a reason (not the
-- one-attribute name matchers, which refuse a multi-valued name and say so).
local INDEXED = { subject = true, issuer = true, san_email = true, san_dns = true, san_uri = true,
                  fingerprint = true, serial = true }

-- index, rest = index_allow(allow): the matchers of one indexed key, as
-- index[key][norm(key, value)] = true (nil when there are none), and the other
-- matchers in list order; any one matcher admits, so a check looks each value of
-- an indexed key up once instead of going through every matcher (a list of
-- 100,000 pinned fingerprints took 0.5 s of CPU per request).
function index_allow(allow)
  local index, rest = nil, {}
  for _, m in ipairs(allow) do
    local key, n = nil, 0
    for k in pairs(m) do key, n = k, n + 1 end
    if n == 1 and INDEXED[key] then
      index = index or {}
      index[key] = index[key] or {}
      index[key][norm(key, m[key])] = true
    else
      rest[#rest + 1] = m
    end
  end
  return index, rest
end

-- The matcher steps one *_pattern matcher may take on one value (csrc/pattern.c
-- costs the search before it runs): a pattern that backtracks ("^.-.-.-x$") on
-- a long name would otherwise keep a request handler busy for hours.
M.MAX_MATCHER_STEPS = 1000000
local pattern_cost = require("clientcert.core")._pattern_cost

-- true | false[, why]: does every key of matcher m hold for info? Exact byte
-- comparison unless *_pattern (a pattern whose search would take more than
-- MAX_MATCHER_STEPS on a value matches nothing, and why says so); a SAN
-- matcher holds when any value of that SAN type does (SANs are lists by
-- design), a name-attribute matcher only for a name with exactly one value of
-- the attribute (why says so otherwise).
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
        if pattern_cost("find", h, want, 1, false, M.MAX_MATCHER_STEPS) then
          ok = h:find(want) ~= nil
        else
          w = ("the %s matcher's pattern would take more than %d steps on this certificate's value, "
            .. "so it matches nothing"):format(k, M.MAX_MATCHER_STEPS)
          if not why or w < why then why = w end
        end
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

-- The problems of a verify result as causes: the primary one (causes.primary)
-- first, then the others by precedence; seen[id] = the first problem with id.
local function classify(problems)
  local seen, list = {}, {}
  for _, p in ipairs(problems) do
    local id = p.cause
    if not seen[id] then
      seen[id] = p
      list[#list + 1] = id
    end
  end
  return causes.order(list), seen
end

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
  for k in next, req do
    if not REQUEST_KEYS[k] then error(("clientcert.policy.check: unknown request key '%s'"):format(tostring(k)), 2) end
  end
  local when = util.time(req.time, "policy.check", 2)
  local deployment = req.deployment
  if deployment ~= nil and not DEPLOYMENTS[deployment] then
    error(("clientcert.policy.check: deployment must be one of %s, got %s")
      :format(table.concat(causes.DEPLOYMENTS, ", "), tostring(deployment)), 2)
  end
  -- sized for the fields a check sets (no rehash while they are set): the
  -- placeholders are set to nil at once, and are no fields of the verdict; chain
  -- is the verified path's (a verdict made before a verification: {}, below)
  local base = { time = when, mode = st.mode, also = {}, chain = false, cached = false, client = false,
                 problems = false, accepted = false, cause = false, status = false, substatus = false,
                 title = false, message = false, resolution = false }
  base.chain, base.cached, base.client, base.problems, base.accepted = nil, nil, nil, nil, nil
  base.cause, base.status, base.substatus, base.title, base.message, base.resolution = nil, nil, nil, nil, nil, nil
  DEPLOYMENT_OF[base] = deployment -- (verdict.new, without the call)
  if st.mode == "off" then
    base.chain = {}
    local v = verdict("ok", true, {}, base)
    v.message = "Client certificates are not checked here (mode \"off\")."
    return v
  end
  local ok, v = pcall(decide, st, req, base, when)
  -- an internal error: reject, keep the error for the log only
  if not ok then v = reject_internal(base, describe_error(v)) end
  if v.chain == nil then v.chain = {} end
  return v
end

-- The services revocation fetching uses for one check: the policy's own fetch,
-- else the caller's (the gate: cosockets and its shared dict), else the default
-- (cosockets where nginx allows them, else LuaSocket); the policy's cache unless
-- the caller brings one.
local function revocation_env(self, req)
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
local function effective_crl_mode(self)
  if self.verify.crl then return self.verify.crl end
  return next(revocation.crl_issuers(self.trust)) and "chain" or "none"
end

-- fn: fn() gives the objects of the path cert and chain verify to at when (a
-- verification again), or nil; for revocation.judge after a cache hit. (Made
-- here: a function that creates a closure ends each of its traces at a return
-- on LuaJIT, NYI UCLO, and decide is the hit path.)
local function path_objects(self, cert, chain, when)
  return function()
    local vopts = { chain = chain, time = when, certs = true }
    for k, val in pairs(self.verify) do vopts[k] = val end
    local r = self.trust:verify(cert, vopts)
    return r and r.ok and r.certs or nil
  end
end

-- allowed, reason = call_rule(rule, info, verdict): the rule's answer, its
-- reason as text (nil when it gave none), made inside the rule's budgets: a
-- reason's __tostring is the rule author's code too.
local function call_rule(rule, info, v)
  local allowed, reason = rule(info, v)
  if reason ~= nil then
    reason = tostring(reason)
    -- LuaJIT's tostring passes on whatever a __tostring returns
    if type(reason) ~= "string" then error("the rule's reason has a __tostring that gave a " .. type(reason), 0) end
  end
  return allowed, reason
end
compat.jit_off(call_rule)

-- decide(self = the policy's state, req, base, when): the verdict of check.
function decide(self, req, base, when)
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
  local chain, key, chain_key, hit, message = req.chain, nil, nil, nil, nil
  if cache then
    -- the chain as store:verify reads it (and words its errors), texts from the parse cache
    local list, err = read_chain(chain, "policy.check", 1, cached_chain_text, cache)
    if not list then
      base.client = cert:info()
      return reject_invalid(base, base.client, err)
    end
    chain = list
    key, chain_key = cache_key(cert, list, self.trust, cache)
  end
  -- the client's info, the verified path, its problems, and whether CRLs were ignored
  local info, path, problems, ignored
  if cache then -- an entry for this leaf and chain at this time: tables of this verdict's own
    hit, info, path, problems, ignored, message = cache_serve(cache, key, chain_key, when, base)
  end
  if hit then
    base.cached = true
    base.client = info
  else
    local ierr
    info, ierr = cert:info()
    if not info then return reject_invalid(base, nil, ierr) end
    base.client = info
    -- the path's objects only for AIA chasing; revocation asks for them on a cache miss
    local vopts = { chain = chain, time = when, certs = self.revocation and self.revocation.issuers or nil }
    for k, val in pairs(self.verify) do vopts[k] = val end
    local result, verr = self.trust:verify(cert, vopts)
    if not result then return reject_invalid(base, info, verr) end
    if self.revocation and self.revocation.issuers and not result.ok then
      -- AIA chasing: a missing intermediate fetched from an allowed caIssuers URL
      result = revocation.chase(self.revocation, revocation_env(self, req), self.trust, cert, vopts, result)
    end
    revocation_certs, result.certs = result.certs, nil -- objects never enter the verdict cache
    if cache then
      verdict_cache.remember(cache, key, chain_key, info, result, when, self.trust, self.verify.crl)
    end
    path, problems, ignored = result.chain, result.problems, result.ignored_crls and #result.ignored_crls > 0
  end
  base.chain, base.problems = path, problems
  -- a CRL whose signature did not verify was ignored by the verification: named
  -- in also (in precedence order), never the primary cause
  if ignored then base.also = { "crl_bad_signature" } end

  local ids, first = NO_IDS, nil
  if #problems > 0 then ids, first = classify(problems) end
  if req.key ~= nil then
    local match, kerr = cert:matches_key(req.key, req.passphrase)
    if not match then
      if ids == NO_IDS then ids, first = {}, {} end
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
    local el = p.depth and path[math.min(p.depth + 1, #path)] or nil
    local extra = { error = p.error, time = when, revoked_at = p.revoked_at, reason = p.reason or "unspecified" }
    local facts
    if id == "intermediate_in_roots" then facts = verdicts.in_roots_facts(info, el, extra)
    else facts = facts_for(info, el, extra) end
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
  for _, el in ipairs(path) do
    if el.trusted and el.self_signed == false then in_roots = el break end
  end
  if self.intermediate_in_roots == "reject" and (in_roots or self.trust:stats().roots_not_self_signed > 0) then
    local el = verdicts.in_roots_element(path, self.trust)
    local v = verdict("intermediate_in_roots", false, verdicts.in_roots_facts(info, el), base)
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
      chain = path, certs = revocation_certs }, effective_crl_mode(self), path_objects(self, cert, chain, when), when)
    if out.status == "revoked" then
      local a = out.answer
      local v = verdict("revoked", false, facts_for(info, path[out.depth + 1], {
        time = when, revoked_at = a.revoked_at, reason = a.reason or "unspecified" }), base)
      v.revocation = revocation.report(a)
      return v
    elseif out.status == "unknown" then
      if self.revocation.unavailable == "reject" then
        local v = verdict("revocation_unknown", false, facts_for(info, path[out.depth + 1], {
          time = when, error = revocation.why(out.answer) }), base)
        v.revocation = revocation.report(out.answer)
        return v
      end
      soft = out
    end
  end
  if #self.allow > 0 then
    local admitted, why = false, nil
    if self.allow_index then -- exact single-key matchers: a lookup per value
      for k, set in pairs(self.allow_index) do
        for _, h in ipairs(values(info, k)) do
          if set[norm(k, h)] then admitted = true break end
        end
        if admitted then break end
      end
    end
    if not admitted then
      for _, m in ipairs(self.allow_rest) do
        local ok, w = matches(m, info)
        if ok then admitted = true break end
        if w and not why then why = w end
      end
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
  if not message then
    message = causes.render("ok", facts_for(info, nil, {}))
    if hit then verdict_cache.keep_message(hit, message) end
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
      local binfo, bpath, bproblems
      rinfo = verdict_cache.copy(hit)
      binfo, bpath, bproblems = verdict_cache.copy(hit)
      rv = {}
      for k, x in pairs(v) do
        if k ~= "client" and k ~= "chain" and k ~= "problems" then rv[k] = deep_copy(x) end
      end
      rv.client, rv.chain, rv.problems = binfo, bpath, bproblems
    else
      rinfo, rv = deep_copy(info), deep_copy(v)
    end
    local rok, allowed, reason = run_bounded(sandbox.MAX_RULE_STEPS, sandbox.MAX_RULE_MEMORY, call_rule,
      self.rule, rinfo, rv)
    if not rok then
      v = reject_internal(base, "the policy rule failed")
      v.rule_error = describe_error(allowed)
      return v
    end
    if allowed == false or allowed == nil and reason ~= nil then
      local why = reason or "the policy rule refused it"
      v = verdict("denied_by_rule", false, facts_for(info, nil, { rule_reason = why }), base)
      v.rule_reason = reason
      return v
    end
  end
  return v
end

--- report = policy:audit([{time = secs}]): audit_store of the policy's trust store.
function methods.audit(self, opts)
  local st = state_of(self)
  if not st then error("clientcert.policy.audit: expected a policy (policy:audit())", 2) end
  return require("clientcert.audit").audit_store(st.trust, opts)
end

-- Fields a policy shows (read-only; allow and verify as fresh copies).
local FIELDS = { mode = true, name = true, trust = true, rule = true, intermediate_in_roots = true }
--- info = policy:cache_info(): {size, ttl, count, hits, misses} of the verdict
-- cache, or nil when the policy has none.
function methods.cache_info(self)
  local st = state_of(self)
  if not st then error("clientcert.policy.cache_info: expected a policy", 2) end
  if not st.cache then return nil end
  return verdict_cache.info(st.cache)
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

-- policy | nil, err: what a policy file returned (options, or a policy) as a policy.
local function from_file(spec)
  if IS_POLICY[spec] then return spec end
  return build(spec)
end

--- policy, err = policy.load_file(path[, params]): runs a Lua policy file in a sandbox
-- (clientcert.sandbox); the file returns the options table of clientcert.policy (or a
-- policy). params (plain data: strings, numbers, booleans and tables of those) is
-- visible to it as a deep copy, `params`. A file that fails, exceeds its budgets
-- (M.MAX_POLICY_STEPS, M.MAX_POLICY_MEMORY) or returns bad options gives
-- nil, "clientcert.load_policy: <path>: <what>" (a caller must then refuse to serve).
function M.load_file(path, params)
  return sandbox.load_file(path, params, from_file)
end

--- policy, files | nil, err, files = policy.load_recorded(path[, params]): load_file,
-- with every file it read recorded (clientcert.input.recorded): the policy file
-- first, then the roots, intermediates and CRLs it loads, each {path =, digest =
-- SHA-256 of the bytes that were loaded (or "!<why it could not be read>"), limit =};
-- on failure, the files read until it failed. How the OpenResty gate and
-- `clientcert check-policy` load a policy file. A raise (a wrong params type)
-- becomes nil, err.
function M.load_recorded(path, params)
  return sandbox.load_recorded(path, params, from_file)
end

return M
