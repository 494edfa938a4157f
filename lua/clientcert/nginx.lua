--- clientcert.nginx: a clientcert policy as the client-certificate gate of an
-- OpenResty (nginx + lua-nginx-module) server.
--
--   local gate = require "clientcert.nginx"
--   access_by_lua_block { gate.enforce(policy) }              -- every gated location
--   location @clientcert { content_by_lua_block { gate.enforce(policy) } }
--   error_page 495 496 = @clientcert;                          -- at server level
--
-- gate.enforce answers a rejected client itself (403 and a plain-text body whose
-- first line is "403.<n> <title>") and returns for an accepted one; gate.verdict
-- only decides. Both leave the verdict in ngx.ctx.clientcert.
--
-- Where the certificates come from: the request's SSL object (through the
-- ngx_http_lua_ffi_get_req_ssl_pointer symbol the lua module exports, and
-- nginx's own libssl): the leaf and every certificate the client sent. Without
-- that symbol, $ssl_client_raw_cert (the leaf only); the verdict says which
-- (verdict.tls.source). On a resumed TLS session OpenSSL keeps the leaf but not
-- the chain the client sent: the chain is rebuilt from the intermediates that
-- accepted clients proved in full handshakes, learned per worker and, with a
-- lua_shared_dict (opts.chain_dict), shared by the workers (one entry per CA).
--
-- Identity to the upstream: enforce's forward option sets RFC 9440's Client-Cert
-- and Client-Cert-Chain (or Envoy's x-forwarded-client-cert) for an accepted
-- client; enforce always removes those headers when a client sends them.
-- Metrics: enforce's metrics option counts into a lua_shared_dict (clientcert.metrics),
-- gate.metrics writes them in Prometheus's text format. sni = "match": 421 for a
-- request whose host is not the TLS server name.
--
-- Not done here: TLS itself (nginx's ssl_* directives), OCSP, and any check the
-- policy does not make.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local lru = require "clientcert.lru"
local text = require "clientcert.text"
local forward = require "clientcert.forward"
local metrics = require "clientcert.metrics"
local policy_mod = require "clientcert.policy"
local verdict_cache = require "clientcert.verdict_cache"
local verdicts = require "clientcert.verdict"
local input = require "clientcert.input"

local ngx = ngx
local M = {}

local ffi_ok, ffi = pcall(require, "ffi")
local C = ffi_ok and ffi.C or nil
-- the C types cast on the request path, parsed once (a type given as a string is
-- parsed again on each call the JIT compiler has not compiled)
local uintptr_t = ffi_ok and ffi.typeof("uintptr_t") or nil
local voidp = ffi_ok and ffi.typeof("void *") or nil

-- Declares one C function for the FFI unless something declared it already.
local function declare(decl)
  pcall(ffi.cdef, decl)
end

-- The FFI functions the gate needs, or nil and why not.
local ssl_api, ssl_api_err
do
  if not ffi_ok then
    ssl_api_err = "no FFI (not LuaJIT)"
  else
    declare("void *ngx_http_lua_ffi_get_req_ssl_pointer(void *r);")
    declare("void *SSL_get0_peer_certificate(const void *ssl);")
    declare("void *SSL_get_peer_cert_chain(const void *ssl);")
    declare("int SSL_session_reused(const void *ssl);")
    declare("int OPENSSL_sk_num(const void *sk);")
    declare("void *OPENSSL_sk_value(const void *sk, int i);")
    declare("int i2d_X509(const void *x, unsigned char **out);")
    declare("int X509_up_ref(void *x);")
    declare("const char *SSL_get_servername(const void *ssl, const int type);")
    local ok, err = pcall(function()
      return C.ngx_http_lua_ffi_get_req_ssl_pointer, C.SSL_get0_peer_certificate,
        C.SSL_get_peer_cert_chain, C.SSL_session_reused, C.OPENSSL_sk_num, C.OPENSSL_sk_value, C.i2d_X509,
        C.SSL_get_servername
    end)
    if ok then
      local bok, base = pcall(require, "resty.core.base")
      if bok and base.get_request then
        -- nginx's X509 objects can be shared (no re-parse) only when nginx and this
        -- module use one libcrypto: compare where each resolves X509_up_ref
        local rok, addr = pcall(function()
          return tonumber(ffi.cast("uintptr_t", ffi.cast("void *", C.X509_up_ref)))
        end)
        ssl_api = { get_request = base.get_request, shared = rok and addr == core.x509_api_address() }
      else
        ssl_api_err = "resty.core.base is not available"
      end
    else
      ssl_api_err = "symbol not found: " .. tostring(err)
    end
  end
end

--- M.ffi_available(): true and whether nginx's decoded certificates are shared
-- (true) or re-parsed from DER (false); or false and why the gate falls back to
-- $ssl_client_raw_cert.
function M.ffi_available()
  if ssl_api then return true, ssl_api.shared end
  return false, ssl_api_err
end

-- DER bytes of an X509 * (nil when it cannot be encoded).
local function x509_der(x)
  local n = C.i2d_X509(x, nil)
  if n <= 0 then return nil end
  local buf = ffi.new("unsigned char[?]", n)
  local p = ffi.new("unsigned char *[1]", buf)
  if C.i2d_X509(x, p) ~= n then return nil end
  return ffi.string(buf, n)
end

-- nginx's X509 objects adopted lately, by address -> the clientcert.cert. The
-- cert holds a reference to its X509, so while an entry lives that X509 cannot be
-- freed and its address cannot be reused by another certificate: an address
-- found here is the same X509. So the keepalive requests of a connection (and
-- resumed sessions, which keep the leaf) get the same cert object again: no new
-- object, and the verdict cache's key (the certificates' SHA-256, remembered per
-- cert object) is not computed again.
local adopted = lru.new(1000)

-- A clientcert.cert for an X509 * of nginx's: the same object with its own
-- reference when the libcrypto is shared, else parsed again from its DER.
local function adopt(x)
  if ssl_api.shared then
    local addr = tonumber(ffi.cast(uintptr_t, x))
    local c = adopted:get(addr)
    if not c then
      c = core._from_x509_address(addr)           -- unsafe: addr is a live X509 * of ours
      adopted:set(addr, c)
    end
    return c
  end
  local der = x509_der(x)
  return der and clientcert.parse(der)
end

-- The SHA-256 fingerprint of a cert object (kept by C, once per object).
local fingerprint_of = require("clientcert.util").fingerprint

-- Reads what the client sent through the SSL object: {leaf = cert|nil,
-- chain = {cert, ...}|nil, resumed = bool}, or nil, err.
local function peer_from_ssl()
  local r = ssl_api.get_request()
  if r == nil then return nil, "no request (called outside a request phase?)" end
  local ssl = C.ngx_http_lua_ffi_get_req_ssl_pointer(r)
  if ssl == nil then return nil, "the connection is not TLS" end
  local peer = { resumed = C.SSL_session_reused(ssl) == 1 }
  local leaf = C.SSL_get0_peer_certificate(ssl)
  if leaf == nil then return peer end
  peer.leaf = adopt(leaf)
  if not peer.leaf then return nil, "cannot read the client's certificate" end
  local sk = C.SSL_get_peer_cert_chain(ssl)   -- server side: without the leaf; NULL once resumed
  if sk ~= nil then
    local chain = {}
    for i = 0, C.OPENSSL_sk_num(sk) - 1 do
      local c = adopt(C.OPENSSL_sk_value(sk, i))
      if not c then return nil, "cannot read a certificate of the client's chain" end
      chain[#chain + 1] = c
    end
    peer.chain = chain
  end
  return peer
end

-- The leaf from $ssl_client_raw_cert (no chain): the fallback without the FFI symbol.
local function peer_from_variable()
  local pem = ngx.var.ssl_client_raw_cert
  return { leaf = (pem ~= nil and pem ~= "") and pem or nil, resumed = ngx.var.ssl_session_reused == "r" }
end

-- What each verdict was made of (the request given to the policy: the leaf and
-- the chain, as cert objects or bytes), for enforce's forwarding; weak.
local sent = setmetatable({}, { __mode = "k" })

-- A list of DER certificates as one lua_shared_dict value: "<len>:<der>" repeated.
local function pack_chain(chain)
  local parts = {}
  for i, der in ipairs(chain) do parts[i] = #der .. ":" .. der end
  return table.concat(parts)
end

local function unpack_chain(s)
  local chain, pos = {}, 1
  while pos <= #s do
    local colon = s:find(":", pos, true)
    local n = colon and tonumber(s:sub(pos, colon - 1))
    if not n or colon + n > #s then return nil end
    chain[#chain + 1] = s:sub(colon + 1, colon + n)
    pos = colon + n + 1
  end
  return chain
end

-- Intermediates learned from full handshakes ---------------------------------
-- An accepted client's full handshake proves its CA certificates: the path the
-- policy verified runs from its leaf through the intermediates it sent up to a
-- trusted root. Those intermediates (never a leaf, never a trusted certificate,
-- never anything of a client that was not accepted) are kept by subject name, at
-- most LEARN_PER_SUBJECT per name: in this worker (an LRU of LEARN_SUBJECTS
-- names) and, with opts.chain_dict, in a lua_shared_dict for every worker (one
-- entry per name, "ca:" .. md5(subject), "<len>:<der>" repeated, at most
-- LEARN_PER_SUBJECT * LEARN_MAX_DER bytes). A resumed session carries the leaf
-- but not the chain the client sent: its chain is rebuilt from them by
-- following issuer names up from the leaf. Memory is bounded by the number of
-- CAs, not of clients; what a refused handshake sent is never written.
local LEARN_PER_SUBJECT = 4      -- certificates kept under one name (re-keyed or cross-signed CAs)
local LEARN_MAX_DER = 16 * 1024  -- a larger CA certificate is not kept
local LEARN_SUBJECTS = 256       -- names kept per worker
local LEARN_MAX_DEPTH = 8        -- issuer names followed from the leaf
local learned = lru.new(LEARN_SUBJECTS)               -- subject -> {cert, ...}, most recent first
-- SHA-256 of a CA certificate -> when this worker last wrote it (each new connection brings
-- new certificate objects: by content, so that they are not written again)
local learned_at = lru.new(LEARN_SUBJECTS * LEARN_PER_SUBJECT)
local issuer_of = setmetatable({}, { __mode = "k" })  -- cert object -> its issuer name
local subject_of = setmetatable({}, { __mode = "k" }) -- cert object -> its subject name

local function names_of(c)
  local iss = issuer_of[c]
  if iss == nil then
    local info = c:info()
    if not info then return nil, nil end
    iss = info.issuer or false
    issuer_of[c], subject_of[c] = iss, info.subject or false
  end
  return subject_of[c] or nil, iss or nil
end

local function learn_key(subject) return "ca:" .. ngx.md5(subject) end

-- The certificates learned under subject: this worker's, else the dict's (fresh:
-- the dict's even when this worker has some, which another worker may have added to).
local function known(dict, subject, fresh)
  local list = not fresh and learned:get(subject)
  if list or not dict then return list or nil end
  local packed = dict:get(learn_key(subject))
  local ders = type(packed) == "string" and unpack_chain(packed)
  if not ders then return nil end
  list = {}
  for _, der in ipairs(ders) do
    local c = clientcert.parse(der)
    if c and select(1, names_of(c)) == subject then list[#list + 1] = c end
  end
  if #list == 0 then return nil end
  learned:set(subject, list)
  return list
end

-- Keeps CA certificate c under subject, in this worker and in dict.
local function keep_ca(dict, subject, c, ttl)
  local der = c:der()
  if not der or #der > LEARN_MAX_DER then return end
  local fp = fingerprint_of(c)
  local list = { c }
  for _, o in ipairs(learned:get(subject) or {}) do
    if #list < LEARN_PER_SUBJECT and fingerprint_of(o) ~= fp then list[#list + 1] = o end
  end
  learned:set(subject, list)
  if dict then
    local key = learn_key(subject)
    local ders = { der }
    local packed = dict:get(key)
    for _, d in ipairs(type(packed) == "string" and unpack_chain(packed) or {}) do
      if #ders < LEARN_PER_SUBJECT and d ~= der then ders[#ders + 1] = d end
    end
    local ok, err = dict:set(key, pack_chain(ders), ttl)
    if not ok then ngx.log(ngx.WARN, "clientcert: cannot keep a CA certificate in chain_dict: ", err) end
  end
end

-- After verdict v on a full handshake whose client sent chain: learns the
-- intermediates of the verified path, when v accepts a client whose path
-- reaches a trusted certificate. Each CA certificate (by its SHA-256) is written
-- again only once half of ttl has passed (the next clients of that CA skip it).
local function learn(dict, v, chain, ttl)
  if not (v.accepted and v.cause == "ok") then return end
  local path = v.chain
  if type(path) ~= "table" or #path < 2 or type(path[#path]) ~= "table" or not path[#path].trusted then return end
  local now = ngx.now()
  for i = 2, #path do
    local el = path[i]
    if type(el) == "table" and not el.trusted and el.fingerprint and el.depth and el.depth > 0 then
      local at = learned_at:get(el.fingerprint)
      if not at or now - at >= ttl / 2 then
        for j = 1, #chain do
          local c = chain[j]
          if fingerprint_of(c) == el.fingerprint then
            local subject = names_of(c)
            if subject then
              keep_ca(dict, subject, c, ttl)
              learned_at:set(el.fingerprint, now)
            end
            break
          end
        end
      end
    end
  end
end

local function same_fingerprints(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if fingerprint_of(a[i]) ~= fingerprint_of(b[i]) then return false end end
  return true
end

-- The chain of a resumed session rebuilt from the learned intermediates:
-- {cert, ...} (possibly empty), following issuer names up from leaf.
local function rebuild_chain(dict, leaf, fresh)
  local chain, seen = {}, {}
  local _, issuer = names_of(leaf)
  local names = { issuer }
  for _ = 1, LEARN_MAX_DEPTH do
    local next_names = {}
    for _, subject in ipairs(names) do
      for _, c in ipairs(known(dict, subject, fresh) or {}) do
        local fp = fingerprint_of(c)
        if not seen[fp] then
          seen[fp] = true
          chain[#chain + 1] = c
          local s, i = names_of(c)
          if i and i ~= s and not seen[i] then
            seen[i] = true
            next_names[#next_names + 1] = i
          end
        end
      end
    end
    if #next_names == 0 then break end
    names = next_names
  end
  return chain
end

-- The verdict for a resumed session whose chain could not be rebuilt: v (a
-- missing_intermediate) turned into session_chain_unknown, keeping its facts.
local function session_chain_unknown(v)
  local also = { "missing_intermediate" }
  for _, id in ipairs(v.also or {}) do if id ~= "missing_intermediate" then also[#also + 1] = id end end
  v = verdicts.build("session_chain_unknown", false, verdicts.facts(v.client, nil, {}), verdicts.new(v, "gate"))
  v.also = also
  return v
end

local OPTS = { chain_dict = "string", chain_ttl = "number", log_accepted = "boolean",
               nginx_refused = "boolean", var = "string", time = "number", source = "string",
               forward = "string", metrics = "string", sni = "string", short_var = "string",
               revocation_dict = "string" }
-- Options whose value is one of a closed set (enforce's own).
local CHOICES = { forward = { rfc9440 = true, xfcc = true }, sni = { match = true } }
local CHOICE_TEXT = { forward = '"rfc9440" or "xfcc"', sni = '"match"' }
-- Options only enforce takes (gate.verdict does not answer or forward).
local ENFORCE_ONLY = { forward = true, metrics = true, sni = true, short_var = true }

-- The revocation services of a policy checked in this worker, per lua_shared_dict
-- name: answers shared by all workers (cache), fetched over cosockets (a slow
-- responder never blocks the worker), waits for another request's fetch of the
-- same answer with ngx.sleep.
local revocation_envs = {}
local function revocation_env(name)
  local env = revocation_envs[name]
  if env then return env end
  local dict = ngx.shared[name]
  if not dict then return nil, ("clientcert.nginx: no lua_shared_dict named '%s' (revocation_dict)"):format(name) end
  local revocation = require "clientcert.revocation"
  env = { cache = revocation.dict_cache(dict), fetch = revocation.cosocket_fetch, sleep = ngx.sleep }
  revocation_envs[name] = env
  return env
end

-- The option names, as a list (check_opts' fast path reads them with a numeric loop).
local OPT_NAMES = {}
for k in pairs(OPTS) do OPT_NAMES[#OPT_NAMES + 1] = k end
table.sort(OPT_NAMES)
local nkeys_ok, nkeys = pcall(require, "table.nkeys") -- OpenResty's LuaJIT: the number of keys of a table
-- enforce's check of its options on every request, where table.nkeys exists:
-- true when each option named is of its type (and choices) and there is no other
-- key. One straight-line function (made once from OPTS) rather than a loop, so
-- that LuaJIT compiles it into the request's trace.
local opts_fine = nkeys_ok and (function()
  local src = { "local CHOICES, nkeys, type = ... return function(o) local n, v = 0, nil" }
  for _, k in ipairs(OPT_NAMES) do
    src[#src + 1] = ("v = o.%s if v ~= nil then if type(v) ~= %q%s then return false end n = n + 1 end")
      :format(k, OPTS[k], CHOICES[k] and (" or not CHOICES.%s[v]"):format(k) or "")
  end
  src[#src + 1] = "return n == nkeys(o) end"
  return assert(load(table.concat(src, "\n"), "=clientcert.nginx.opts"))(CHOICES, nkeys, type)
end)()

local function check_opts(opts, where)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("clientcert.nginx.%s: opts must be a table"):format(where), 3) end
  if opts_fine and where == "enforce" and opts_fine(opts) then return opts end
  for k, v in pairs(opts) do
    local want = OPTS[k]
    if not want then error(("clientcert.nginx.%s: unknown option '%s'"):format(where, tostring(k)), 3) end
    if type(v) ~= want then
      error(("clientcert.nginx.%s: option '%s' must be a %s"):format(where, k, want), 3)
    end
    if ENFORCE_ONLY[k] and where ~= "enforce" and where ~= "check_options" then
      error(("clientcert.nginx.%s: option '%s' is for gate.enforce"):format(where, k), 3)
    end
    local choices = CHOICES[k]
    if choices and not choices[v] then
      error(("clientcert.nginx.%s: option '%s' must be %s, got '%s'"):format(where, k, CHOICE_TEXT[k], v), 3)
    end
  end
  return opts
end

-- The policy a handle holds now (gate.current, below).
local function current_policy(p)
  if getmetatable(p) == "clientcert.nginx.handle" then return rawget(p, "policy") end
  return p
end

-- ngx.ctx.clientcert = v: through resty.core's get_ctx_table (what ngx.ctx
-- returns, without ngx's metatable in between) where there is one.
local get_ctx_table -- (nil: not looked up yet; false: none)
local function keep_verdict(v)
  if get_ctx_table == nil then
    local m = package.loaded["resty.core.ctx"]
    get_ctx_table = type(m) == "table" and type(m.get_ctx_table) == "function" and m.get_ctx_table or false
  end
  if get_ctx_table then get_ctx_table().clientcert = v else ngx.ctx.clientcert = v end
end

-- A verdict for a failure of the gate itself (never an accept).
local function gate_failure(detail, base)
  return verdicts.internal(verdicts.new(base, "gate"), detail)
end

-- The verdicts of this second, per connection ----------------------------------
-- The keepalive requests (and HTTP/2 streams) of one TLS connection carry the
-- same client certificate. The verdict that accepted the connection's client is
-- served again to its later requests of the same second (ngx.time()) without a
-- new check: the check's inputs (the certificates, the policy, the time, which
-- verdicts and the rule see in whole seconds) are then the same. The
-- connection is told by a number of this worker's that the gate writes into its
-- SSL object (SSL_set_ex_data: a new connection's SSL object starts without one,
-- even at the address of a closed one), with the SSL object's and the leaf's
-- addresses. Served only for the same policy object (a reload or a gate.watch
-- swap makes a new one: the next request is checked again), the same verdict
-- options, a request nginx's check did not turn into an error page, and never
-- for a refused or anonymous client, a verdict with a revocation note
-- (soft-fail), a given opts.time or the $ssl_client_raw_cert fallback. All of it
-- is dropped when the second changes: it holds at most the connections of one
-- second. The connection's later requests of that second get one copy of the
-- verdict (its tls table with memo = true, cached = true), the same table for
-- each, sharing the tables inside (client, chain, also, resolution) with the
-- first: read it, do not change it.
local memo, memo_second, memo_serial = {}, nil, 0
-- served verdict -> {req = what it was made of, json =, short = its texts, once made}
local memo_of = setmetatable({}, { __mode = "k" })
local ex_index -- this worker's SSL ex_data index (false: none, no memo)

local function memo_index()
  if ex_index == nil then
    ex_index = false
    declare("int CRYPTO_get_ex_new_index(int class_index, long argl, void *argp, void *new_func, "
      .. "void *dup_func, void *free_func);")
    declare("int SSL_set_ex_data(void *ssl, int idx, void *data);")
    declare("void *SSL_get_ex_data(const void *ssl, int idx);")
    local ok, idx = pcall(function() return C.CRYPTO_get_ex_new_index(0, 0, nil, nil, nil, nil) end) -- 0: SSL
    if ok and idx >= 0 then ex_index = idx end
  end
  return ex_index
end

-- This request's SSL object and leaf X509 (nil when there is none).
local function connection_objects()
  local r = ssl_api.get_request()
  if r == nil then return nil end
  local ssl = C.ngx_http_lua_ffi_get_req_ssl_pointer(r)
  if ssl == nil then return nil end
  local leaf = C.SSL_get0_peer_certificate(ssl)
  if leaf == nil then return nil end
  return ssl, leaf
end

-- A copy of the memo record's verdict for this request, or nil.
local function memo_get(policy, opts, now)
  if memo_second ~= now then memo, memo_second = {}, now return nil end
  local idx = ex_index
  if not idx then return nil end
  local ssl, leaf = connection_objects()
  if not ssl then return nil end
  local rec = memo[tonumber(ffi.cast(uintptr_t, C.SSL_get_ex_data(ssl, idx)))]
  if not rec or rec.policy ~= policy or rec.ssl ~= tonumber(ffi.cast(uintptr_t, ssl))
      or rec.leaf ~= tonumber(ffi.cast(uintptr_t, leaf)) or rec.chain_dict ~= opts.chain_dict
      or rec.revocation_dict ~= opts.revocation_dict then
    return nil
  end
  return rec.served
end

-- Keeps verdict v (made at second now for this request's connection) for the
-- connection's next requests, when it may be (see above).
local function memo_put(policy, opts, now, v, req)
  if not (v.accepted and v.cause == "ok" and v.revocation == nil and v.error == nil and v.time == now)
      or req.cert == nil or type(req.cert) == "string" then
    return
  end
  local idx = memo_index()
  if not idx then return end
  local ssl, leaf = connection_objects()
  if not ssl then return end
  if memo_second ~= now then memo, memo_second = {}, now end
  memo_serial = memo_serial + 1
  if C.SSL_set_ex_data(ssl, idx, ffi.cast(voidp, memo_serial)) ~= 1 then return end
  -- what the next requests get: one copy of v, served to each of them
  local served, tls = {}, {}
  for k, x in pairs(v) do served[k] = x end
  for k, x in pairs(v.tls) do tls[k] = x end
  tls.memo = true
  served.tls, served.cached = tls, true
  -- (memo_of's value must not refer to its key: LuaJIT's weak tables are not
  -- ephemerons, the entry would never go)
  local texts = { req = req }
  memo_of[served] = texts
  memo[memo_serial] = { served = served, policy = policy, chain_dict = opts.chain_dict,
    revocation_dict = opts.revocation_dict, ssl = tonumber(ffi.cast(uintptr_t, ssl)),
    leaf = tonumber(ffi.cast(uintptr_t, leaf)) }
end

--- verdict = gate.verdict(policy[, opts]): the policy's verdict on this request's
-- client, with verdict.tls = {source, resumed, chain_from, nginx_verify,
-- nginx_refused}. Never answers the request. opts: chain_dict (name of a
-- lua_shared_dict sharing the learned intermediates between workers), chain_ttl
-- (seconds a learned intermediate is kept after it was last proved, default
-- 86400), time (the
-- check time, default ngx.time()), nginx_refused (override the detection of a
-- request that nginx's certificate check turned into a 495/496 error page),
-- source ("ssl_client_raw_cert" reads only $ssl_client_raw_cert, as without the
-- FFI symbol; default "ssl" when available).
local verdict_of -- (below: the verdict of checked options)
function M.verdict(policy, opts)
  return verdict_of(policy, check_opts(opts, "verdict"))
end

verdict_of = function(policy, opts)
  policy = current_policy(policy)
  if type(policy) ~= "table" then
    error(("clientcert.nginx: no policy (got %s): give a gate.load_policy handle or a clientcert.policy; "
      .. "is the name read here (package.loaded.<name>) the one init_by_lua set?"):format(type(policy)), 2)
  end
  -- was this request turned into an error page by nginx's own certificate check
  -- (495/496, error_page at server level into a named location)?
  local refused = opts.nginx_refused
  if refused == nil then refused = ngx.get_phase() == "content" and ngx.req.is_internal() end
  -- the connection's accepted client, already checked this second (see memo above)
  local memo_now = ssl_api and opts.source ~= "ssl_client_raw_cert" and opts.time == nil and not refused
    and ngx.time()
  if memo_now then
    local v = memo_get(policy, opts, memo_now)
    if v then
      keep_verdict(v)
      return v
    end
  end
  local tls = { nginx_verify = ngx.var.ssl_client_verify, nginx_refused = refused }
  if opts.source ~= nil and opts.source ~= "ssl" and opts.source ~= "ssl_client_raw_cert" then
    error("clientcert.nginx.verdict: source must be \"ssl\" or \"ssl_client_raw_cert\"", 2)
  end
  local peer, err
  if ssl_api and opts.source ~= "ssl_client_raw_cert" then
    tls.source = "ssl"
    tls.shared = ssl_api.shared   -- nginx's decoded X509 objects used as they are
    peer, err = peer_from_ssl()
  else
    tls.source = "ssl_client_raw_cert"
    tls.fallback_reason = ssl_api and "asked for (opts.source)" or ssl_api_err
    peer = peer_from_variable()
  end
  local v
  if not peer then
    v = gate_failure("clientcert.nginx: " .. tostring(err), { tls = tls })
  else
    tls.resumed = peer.resumed
    -- deployment: resolution steps say what fixes it with the gate (the policy file, nginx)
    local req = { cert = peer.leaf, chain = peer.chain, time = opts.time or memo_now or ngx.time(),
                  deployment = "gate" }
    tls.chain_from = peer.chain and "handshake" or "none"
    local dict = opts.chain_dict and ngx.shared[opts.chain_dict]
    local ttl = opts.chain_ttl or 86400
    local learning = type(peer.leaf) ~= "string" and peer.leaf
    if opts.chain_dict and not dict then
      v = gate_failure(("clientcert.nginx: no lua_shared_dict named '%s'"):format(opts.chain_dict), { tls = tls })
    end
    if not v and opts.revocation_dict then
      local env, rerr = revocation_env(opts.revocation_dict)
      if not env then v = gate_failure(rerr, { tls = tls }) end
      req._revocation = env
    end
    if not v and learning and not peer.chain and peer.resumed then
      -- a resumed session: the chain from the intermediates learned from accepted clients
      req.chain = rebuild_chain(dict, peer.leaf)
      if #req.chain > 0 then tls.chain_from = "learned" end
      v = policy:check(req)
      if v.cause == "missing_intermediate" and dict then
        -- another worker may have learned what this one lacks
        local again = rebuild_chain(dict, peer.leaf, true)
        if not same_fingerprints(again, req.chain) then
          req.chain, tls.chain_from = again, "learned"
          v = policy:check(req)
        end
      end
      if v.cause == "missing_intermediate" then v = session_chain_unknown(v) end
      -- did the gate know the chain of the resumed session?
      metrics.incr(v.cause == "session_chain_unknown" and "clientcert_resumption_chain_misses_total"
        or "clientcert_resumption_chain_hits_total")
    end
    v = v or policy:check(req)
    if learning and peer.chain and not peer.resumed and v.accepted then learn(dict, v, peer.chain, ttl) end
    v.tls = tls
    sent[v] = req
    if memo_now then memo_put(policy, opts, memo_now, v, req) end
  end
  keep_verdict(v)
  return v
end

-- The client-facing body: "403.<n> <title>", the message, the client owner's steps.
local function body_for(v)
  local lines = { ("%s %s"):format(v.substatus or tostring(v.status), v.title or ""), "", v.message or "" }
  local n = 0
  for _, step in ipairs(v.resolution or {}) do
    if step.who ~= "server operator" then
      n = n + 1
      if n == 1 then lines[#lines + 1] = "" lines[#lines + 1] = "What you can do:" end
      lines[#lines + 1] = ("%d. %s"):format(n, step.step)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Operator-side steps, numbered, on one line (for the error log).
local function operator_steps(v)
  local out = {}
  for _, step in ipairs(v.resolution or {}) do
    if step.who == "server operator" then out[#out + 1] = ("(%d) %s"):format(#out + 1, step.step) end
  end
  return table.concat(out, " ")
end

local MAX_LOG = 1900 -- nginx cuts error-log lines at 2,047 bytes, its own prefix included

--- gate.log(verdict[, level]): one error-log line for the decision: the cause id
-- and substatus first, where the certificates came from (tls=source,chain_from
-- [,resumed][,nginx-refused]), the internal error if any, the verdict JSON, then
-- the steps the server operator must take; at most MAX_LOG bytes. (json: the
-- verdict JSON when already built; parts: verdict_cache.json_parts of the verdict, for
-- enforce.)
-- The error_log level of this request's server (nil when unknown): a line above
-- it is never written, so it is not built either.
local errlog_ok, errlog = pcall(require, "ngx.errlog")
local function log_level()
  if not errlog_ok then return nil end
  local ok, lvl = pcall(errlog.get_sys_filter_level)
  return ok and lvl or nil
end

function M.log(v, level, json, parts)
  level = level or (v.accepted and ngx.INFO or ngx.WARN)
  local sys = log_level()
  if sys and level > sys then return end
  -- short enough that prefix + error + the verdict JSON (at most 1,536 bytes, cut by
  -- its own encoder) stay under MAX_LOG: the JSON itself is never cut here
  local err = type(v.error) == "string" and (" error=" .. text.escape(v.error:sub(1, 250))) or ""
  local tls = type(v.tls) == "table" and v.tls or {}
  -- where the certificates came from: source, chain, resumed or not (fallbacks show here)
  local from = (" tls=%s,%s%s%s"):format(tostring(tls.source or "none"), tostring(tls.chain_from or "none"),
    tls.resumed and ",resumed" or "", tls.nginx_refused and ",nginx-refused" or "")
  local rv = type(v.revocation) == "table" and v.revocation or nil
  if rv then -- where the revocation answer (or its absence) came from
    err = err .. (" revocation=%s,%s"):format(text.escape(tostring(rv.source)), text.escape(tostring(rv.url or "-")))
  end
  local line = ("clientcert: %s %s%s%s %s"):format(v.cause or "?", v.substatus or "?", from, err,
    json or text.verdict_json(v, parts))
  local steps = operator_steps(v)
  if steps ~= "" and #line + #steps + 16 <= MAX_LOG then line = line .. " operator: " .. steps end
  if #line > MAX_LOG then line = line:sub(1, MAX_LOG - 12) .. "...[cut]" end
  ngx.log(level, line)
end

-- DER bytes of a certificate as the policy got it: a cert object, DER, or PEM
-- (the $ssl_client_raw_cert fallback); nil when it cannot be read.
local function der_of(x)
  if type(x) ~= "string" then return x:der() end
  if x:find("-----BEGIN", 1, true) then
    local c = clientcert.parse(x)
    return c and c:der()
  end
  return x
end

-- Sets the identity headers of an accepted client for the upstream (opts.forward).
-- Returns nil, err when a certificate cannot be encoded (the caller fails closed).
local function forward_identity(v, mode)
  local req = sent[v] or memo_of[v] and memo_of[v].req
  if not req or req.cert == nil or req.cert == "" or not v.client then return true end -- anonymous
  if mode == "xfcc" then
    ngx.req.set_header("X-Forwarded-Client-Cert", forward.xfcc(v.client))
    return true
  end
  local leaf = der_of(req.cert)
  if not leaf then return nil, "cannot encode the client's certificate for Client-Cert" end
  local ders = {}
  for i, c in ipairs(req.chain or {}) do
    ders[i] = der_of(c)
    if not ders[i] then return nil, "cannot encode the client's chain for Client-Cert-Chain" end
  end
  ngx.req.set_header("Client-Cert", forward.byte_sequence(leaf))
  local chain = forward.chain(ders)
  if chain then ngx.req.set_header("Client-Cert-Chain", chain) end
  return true
end

-- Seconds from a monotonic clock (CLOCK_MONOTONIC through the FFI; else nginx's
-- clock, updated first), for the decision-time histogram.
local clock
if ffi_ok then
  pcall(ffi.cdef, "struct clientcert_timespec { long sec; long nsec; };"
    .. "int clock_gettime(int clk, struct clientcert_timespec *tp);")
  pcall(function()
    local ts = ffi.new("struct clientcert_timespec")
    assert(C.clock_gettime(1, ts) == 0)                 -- 1: CLOCK_MONOTONIC (Linux)
    clock = function()
      C.clock_gettime(1, ts)
      return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
    end
  end)
end
clock = clock or function() ngx.update_time() return ngx.now() end

-- Whether a policy has a verdict cache (for the cache-miss counter), by policy.
local has_cache = setmetatable({}, { __mode = "k" })

-- Whether policy has a verdict cache (so a verdict not served from it is a miss).
local function has_verdict_cache(policy)
  local c = has_cache[policy]
  if c == nil then
    local ok, info = pcall(policy.cache_info, policy)
    c = ok and info ~= nil
    has_cache[policy] = c
  end
  return c
end

local metrics_use, metrics_decided = metrics.use, metrics.decided

-- opts.sni = "match": the TLS server name and the name the request is for
-- ($host: the request line's or the Host header's, lowercase, without port or
-- final dot: the name nginx chose the server by) when they differ; nil when they
-- agree, or when the request names no server (nginx then serves it from the
-- server the TLS handshake chose). Without SNI (a client connecting to an IP
-- address sends none, RFC 6066) only an IP address literal is accepted as the name.
local sni_norm, sni_count = {}, 0 -- server name as sent -> lowercase, no final dot (emptied past 1,000)
local ip_host, ip_count = {}, 0   -- $host -> whether it is an IP address literal (emptied past 1,000)

-- $ssl_server_name: read from the SSL object through the FFI where the gate has it
-- (the same SSL_get_servername nginx reads; "" without SNI, nil without TLS),
-- else from the variable.
local function server_name()
  if not ssl_api then return ngx.var.ssl_server_name end
  local r = ssl_api.get_request()
  local ssl = r ~= nil and C.ngx_http_lua_ffi_get_req_ssl_pointer(r) or nil
  if ssl == nil then return nil end
  local name = C.SSL_get_servername(ssl, 0)           -- 0: TLSEXT_NAMETYPE_host_name
  return name ~= nil and ffi.string(name) or ""
end

local function misdirected()
  local host = ngx.var.host or ""
  local sni = server_name()
  if sni and sni ~= "" then
    local norm = sni_norm[sni]
    if not norm then
      norm = sni:lower():gsub("%.$", "")
      if sni_count >= 1000 then sni_norm, sni_count = {}, 0 end
      sni_norm[sni], sni_count = norm, sni_count + 1
    end
    sni = norm
    if host == sni then return nil end -- (the request's name is the server name: whatever named it)
  else
    local ip = ip_host[host]
    if ip == nil then
      ip = (host:find("^%d+%.%d+%.%d+%.%d+$") or host:find("^%[[%x:.]+%]$")) and true or false
      if ip_count >= 1000 then ip_host, ip_count = {}, 0 end
      ip_host[host], ip_count = ip, ip_count + 1
    end
    if ip then return nil end -- (no server name: an IP address literal is accepted, whatever named it)
  end
  if ngx.var.http_host == nil and not (ngx.var.request or ""):find("^%S+%s+%a[%w+.-]*://") then return nil end
  if sni and sni ~= "" then return sni, host end
  return "", host
end

-- The verdict of a misdirected request (verdict.misdirected: 421, sni_mismatch).
local function misdirected_verdict(sni, host)
  return verdicts.misdirected({ time = ngx.time(), tls = { source = "none", chain_from = "none" } }, sni, host)
end

local function set_var(name, value) ngx.var[name] = value end

--- gate.enforce(policy[, opts]): decides, logs, and answers a rejected client
-- (exits the request); returns the verdict for an accepted one. opts as for
-- gate.verdict, and: var (an nginx variable, declared with `set`, that receives
-- the compact verdict JSON for the access log), log_accepted (default true),
-- forward ("rfc9440": Client-Cert and Client-Cert-Chain request headers for an
-- accepted client; "xfcc": x-forwarded-client-cert), metrics (a lua_shared_dict
-- name: counts the decision, its time, the verdict cache; gate.metrics shows
-- them), sni ("match": 421 Misdirected Request when the request is for another
-- name than the TLS server name), short_var (an nginx variable that receives
-- "<cause> <status> <SHA-256 fingerprint or ->", for a short access log).
-- Whatever the options, the request headers Client-Cert, Client-Cert-Chain and
-- X-Forwarded-Client-Cert a client sent are removed.
local HEADER1, HEADER2, HEADER3 = forward.HEADERS[1], forward.HEADERS[2], forward.HEADERS[3]
local clear_header -- ngx.req.clear_header (resty.core's), looked up at the first request
assert(#forward.HEADERS == 3 and HEADER3)

function M.enforce(policy, opts)
  -- (the usual case, options of the right names and types, without check_opts' call)
  if not (opts_fine and type(opts) == "table" and opts_fine(opts)) then opts = check_opts(opts, "enforce") end
  -- never let a client's own identity headers reach an upstream (three calls, not a
  -- loop: a loop would end LuaJIT's trace of enforce here)
  local clear = clear_header
  if not clear then clear = ngx.req.clear_header clear_header = clear end
  clear(HEADER1) clear(HEADER2) clear(HEADER3)
  local t0, merr
  if opts.metrics then
    -- a dict that is not there (a misspelled name: logged at ERR by gate.watch's
    -- check) fails the request closed as chain_dict's does: internal_error, 500
    local mok
    mok, merr = metrics_use(opts.metrics)
    if mok then t0 = clock() end
  end
  policy = current_policy(policy)
  local ok, v
  local sni, host
  if opts.sni and not merr then sni, host = misdirected() end
  if merr then
    ok, v = false, "clientcert.nginx: option 'metrics': " .. merr
  elseif sni then
    ok, v = true, misdirected_verdict(sni, host)
    keep_verdict(v)
  else
    ok, v = pcall(verdict_of, policy, opts) -- (the options only enforce takes are not read there)
  end
  if not ok then v = gate_failure(tostring(v), { tls = {} }) keep_verdict(v) end
  local tls = v.tls or {}
  if v.accepted and tls.nginx_refused then
    -- the policy accepts a client that nginx's own check refused: a configuration
    -- mismatch (ssl_verify_depth below the policy's depth, CRLs or trust given to
    -- nginx that the policy does not have, ...). Fail closed and say so.
    local why = ("nginx refused the client certificate (%s) but the policy accepts it: nginx's "
      .. "ssl_verify_depth, ssl_client_certificate/ssl_trusted_certificate or ssl_crl disagree with "
      .. "the policy; use ssl_verify_client optional_no_ca and a depth at least the policy's max_depth")
      :format(tostring(tls.nginx_verify))
    v = gate_failure("clientcert.nginx: misconfiguration: " .. why, { tls = tls, client = v.client, chain = v.chain })
    keep_verdict(v)
  end
  if v.accepted and opts.forward then
    local fok, ferr = forward_identity(v, opts.forward)
    if not fok then
      v = gate_failure("clientcert.nginx: " .. ferr, { tls = tls, client = v.client, chain = v.chain })
      keep_verdict(v)
    end
  end
  if t0 then
    -- counts the decision (opts.metrics): cause and status, time, verdict cache hit or miss
    local cached = v.cached and true or nil
    if not cached and v.client and type(policy) == "table" and has_verdict_cache(policy) then cached = false end
    metrics_decided(v.cause, v.substatus, clock() - t0, cached)
  end
  -- a verdict served from the verdict cache: the client and chain parts of its
  -- JSON are built once per cache entry (parts: asked for only when a text is made)
  local parts, json
  local rec = memo_of[v] -- a verdict served again on its connection: its texts made once
  if opts.var then
    json = rec and rec.json
    if not json then
      parts = verdict_cache.json_parts(v)
      json = text.verdict_json(v, parts)
      if rec then rec.json = json end
    end
    local sok, serr = pcall(set_var, opts.var, json)
    if not sok then ngx.log(ngx.ERR, "clientcert: cannot set $", opts.var, ": ", serr) end
  end
  if opts.short_var then
    -- "<cause> <status> <SHA-256 of the client's certificate, or ->" for a short access log
    local short = rec and rec.short
    if not short then
      short = ("%s %s %s"):format(v.cause or "-", v.substatus or "-",
        type(v.client) == "table" and v.client.fingerprint or "-")
      if rec then rec.short = short end
    end
    local sok, serr = pcall(set_var, opts.short_var, short)
    if not sok then ngx.log(ngx.ERR, "clientcert: cannot set $", opts.short_var, ": ", serr) end
  end
  if not v.accepted or opts.log_accepted ~= false then
    M.log(v, nil, json, json == nil and verdict_cache.json_parts(v) or nil)
  end
  if v.accepted then return v end
  ngx.status = v.status or 403
  ngx.header["Content-Type"] = "text/plain; charset=utf-8"
  ngx.header["Cache-Control"] = "no-store"
  ngx.print(body_for(v))
  return ngx.exit(ngx.status)
end

--- gate.metrics(dict_name): in content_by_lua*, answers with the counts in that
-- lua_shared_dict (every worker's; the one given to enforce's metrics option) in
-- Prometheus's text format: clientcert_decisions_total{cause,status}, the
-- clientcert_decision_seconds histogram, verdict-cache hits and misses, policy
-- reloads and reload failures, resumed sessions whose chain was known or not.
function M.metrics(name)
  if type(name) ~= "string" then error("clientcert.nginx.metrics: expected a lua_shared_dict name", 2) end
  if not ngx.shared[name] then
    error(("clientcert.nginx.metrics: no lua_shared_dict named '%s'"):format(name), 2)
  end
  metrics.settle(name) -- every worker's counts of the decisions made so far written (at most a second)
  local body = metrics.render(name)
  ngx.header["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
  ngx.header["Cache-Control"] = "no-store"
  ngx.print(body)
end

-- Policies loaded from files, re-loaded when one of their files changes ----------

local Handle = {}
Handle.__index = Handle
Handle.__metatable = "clientcert.nginx.handle"

-- The paths of files whose content is no longer what was recorded when they were
-- loaded (policy.load_recorded: the digest of the bytes loaded, not of what the
-- file held after the load, so a file finished during a load counts as changed).
-- Content, not mtime, so that a rewrite within the same second is seen.
local function changed_files(files)
  local out = {}
  for _, f in ipairs(files) do
    if input.digest(f.path, f.limit) ~= f.digest then out[#out + 1] = f.path end
  end
  return out
end

-- "a, b and 3 more": at most n paths of a list, for one log line.
local function some_paths(list, n)
  local out = {}
  for i = 1, math.min(#list, n) do out[i] = list[i] end
  local s = table.concat(out, ", ")
  if #list > n then s = s .. (" and %d more"):format(#list - n) end
  return s
end

-- Defaults of what gate.watch sets per handle (see gate.watch).
local RELOAD_LOG_LEVEL = ngx and ngx.WARN or 5
local FAILURE_LOG_INTERVAL = 300

--- handle, err = gate.load_policy(path[, params]): clientcert.load_policy, kept
-- with the files it read (and the SHA-256 of the bytes it loaded from each) so
-- that gate.watch / gate.reload can load it again when one changes. Give the
-- handle wherever a policy is expected.
function M.load_policy(path, params)
  local policy, files = policy_mod.load_recorded(path, params)
  if not policy then return nil, files end
  return setmetatable({ path = path, params = params, policy = policy, files = files, generation = 1,
                        log_level = RELOAD_LOG_LEVEL, failure_log_interval = FAILURE_LOG_INTERVAL }, Handle)
end

--- policy = gate.current(policy_or_handle): the policy a handle holds now.
function M.current(p)
  return current_policy(p)
end

-- Logs that the handle's policy still fails to load, at most once per
-- failure_log_interval seconds (0: never again after the first line).
local function remind(h)
  local f, every = h.failed, h.failure_log_interval
  local now = ngx.now()
  if every <= 0 or now - f.logged_at < every then return end
  f.logged_at = now
  ngx.log(ngx.ERR, "clientcert: ", h.path, " still fails to load (for ", math.floor(now - f.since),
    " s), the previous policy stays: ", f.err)
end

--- changed, err = gate.reload(handle[, force]): loads the policy file again when
-- one of its files changed since it was loaded (or always, with force) and swaps
-- it in for this worker (the verdict cache goes with the old policy); logs it at
-- the handle's log level (gate.watch's log_level, default WARN), naming the files
-- that changed. A policy that fails to load is not swapped in: the old one keeps
-- serving, the error is logged at ERR once and returned (nil, err), and the load
-- is tried again only when one of the files it read changes again (until then:
-- false, err, and a reminder in the log at most every failure_log_interval
-- seconds). Returns true when a new policy is in place, false when nothing changed.
function M.reload(h, force)
  if getmetatable(h) ~= "clientcert.nginx.handle" then
    error("clientcert.nginx.reload: expected a handle from gate.load_policy", 2)
  end
  local changed = changed_files(h.failed and h.failed.files or h.files)
  if not force and #changed == 0 then
    if h.failed then
      remind(h)
      return false, h.failed.err
    end
    return false
  end
  local policy, files, read = policy_mod.load_recorded(h.path, h.params)
  if not policy then
    metrics.incr("clientcert_reload_failures_total")
    -- retried when one of the files this attempt read changes (the policy file at least)
    if #read == 0 then read = { { path = h.path, digest = input.digest(h.path), limit = nil } } end
    local now = ngx.now()
    h.failed = { files = read, err = files, since = h.failed and h.failed.since or now, logged_at = now }
    ngx.log(ngx.ERR, "clientcert: reload of ", h.path, " failed, the previous policy stays (",
      #changed > 0 and ("changed: " .. some_paths(changed, 3)) or "forced", "; tried again when one of the ",
      #read, " files it read changes): ", files)
    return nil, files
  end
  metrics.incr("clientcert_reloads_total")
  h.policy, h.files, h.generation, h.failed = policy, files, h.generation + 1, nil
  ngx.log(h.log_level, "clientcert: reloaded ", h.path, " (generation ", h.generation, ", ", #files, " files; ",
    #changed > 0 and ("changed: " .. some_paths(changed, 5)) or "forced", ")")
  return true
end

-- The gate's options that name a lua_shared_dict, which must exist.
local DICT_OPTS = { chain_dict = true, metrics = true, revocation_dict = true }

--- ok, err = gate.check_options(opts): checks options of gate.enforce /
-- gate.verdict ahead of any request (in init_worker_by_lua*): names, types, and
-- that every lua_shared_dict they name exists. A problem is logged at ERR and
-- returned as nil, err (a request would otherwise fail closed with a 500 each).
function M.check_options(opts)
  -- (check_opts raises at its caller's caller: here pcall, so no position is added)
  local ok, err = pcall(function() check_opts(opts, "check_options") end)
  if ok and opts ~= nil then
    for k in pairs(DICT_OPTS) do
      local name = opts[k]
      if name ~= nil and not (ngx.shared and ngx.shared[name]) then
        ok, err = false, ("clientcert.nginx.check_options: option %s: no lua_shared_dict named '%s' "
          .. "(declare it with lua_shared_dict in the http block)"):format(k, name)
      end
    end
    if ok and opts.source ~= nil and opts.source ~= "ssl" and opts.source ~= "ssl_client_raw_cert" then
      ok, err = false, "clientcert.nginx.check_options: source must be \"ssl\" or \"ssl_client_raw_cert\""
    end
  end
  if ok then return true end
  err = tostring(err)
  ngx.log(ngx.ERR, "clientcert: ", err)
  return nil, err
end

local WATCH_OPTS = { interval = "number", log_level = "number", failure_log_interval = "number",
                     options = "table" }

--- ok, err = gate.watch(handle[, interval | opts]): in init_worker_by_lua*,
-- checks the handle's files every interval seconds (default 5) in this worker and
-- reloads on change (gate.reload). opts: interval; log_level (an ngx level such
-- as ngx.NOTICE for a successful reload; default ngx.WARN); failure_log_interval
-- (seconds between reminders that the policy still fails to load, default 300;
-- 0 for none); options (the options given to gate.enforce with this policy,
-- checked now by gate.check_options: nil, err when they are wrong; the watch
-- starts anyway).
function M.watch(h, opts)
  if getmetatable(h) ~= "clientcert.nginx.handle" then
    error("clientcert.nginx.watch: expected a handle from gate.load_policy", 2)
  end
  if type(opts) ~= "table" then opts = { interval = opts } end
  for k, v in pairs(opts) do
    if not WATCH_OPTS[k] then error(("clientcert.nginx.watch: unknown option '%s'"):format(tostring(k)), 2) end
    if type(v) ~= WATCH_OPTS[k] then
      error(("clientcert.nginx.watch: option '%s' must be a %s"):format(k, WATCH_OPTS[k]), 2)
    end
  end
  local interval = opts.interval or 5
  if not (interval > 0 and interval <= 86400) then  -- (also NaN; inf: no timer)
    error("clientcert.nginx.watch: interval must be a number of seconds > 0 and at most 86400", 2)
  end
  local level = opts.log_level
  if level ~= nil and (level ~= math.floor(level) or level < 1 or level > 8) then
    error("clientcert.nginx.watch: log_level must be an ngx log level (ngx.WARN, ngx.NOTICE, ...)", 2)
  end
  local every = opts.failure_log_interval
  if every ~= nil and (every ~= every or every < 0) then
    error("clientcert.nginx.watch: failure_log_interval must be a number of seconds >= 0", 2)
  end
  h.log_level = level or h.log_level
  h.failure_log_interval = every or h.failure_log_interval
  local ok, err = ngx.timer.every(interval, function(premature)
    if premature then return end
    local rok, rerr = pcall(M.reload, h)
    if not rok then ngx.log(ngx.ERR, "clientcert: reload check failed: ", rerr) end
  end)
  if not ok then error("clientcert.nginx.watch: cannot start the timer: " .. tostring(err), 2) end
  if opts.options ~= nil then return M.check_options(opts.options) end
  return true
end

return M
