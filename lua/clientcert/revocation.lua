--- clientcert.revocation: revocation fetched the way IIS does it: the OCSP
-- responder of a certificate's Authority Information Access, the CRL of its CRL
-- Distribution Point, and (AIA chasing) a missing intermediate from its
-- caIssuers URL; answers cached until their nextUpdate, failures for a short time.
--
-- C (clientcert.core) does the mechanism: URLs, the OCSP request, the checked
-- OCSP response (signer = the issuer or its delegated responder), the checked
-- CRL. This module chooses URLs, fetches, caches and judges. Nothing is fetched
-- for a certificate whose chain has not been verified against the trust store
-- (the caller runs it after store:verify succeeded), except caIssuers URLs that
-- match the `urls` allow-list.
--
-- Transport: fetch(url, body|nil, timeout, max_bytes) -> bytes | nil, err.
-- M.blocking_fetch uses LuaSocket (Debian's lua-socket: a plain socket with
-- deadlines that works the same under Lua 5.4 and LuaJIT, and the same code as
-- the cosocket transport); M.cosocket_fetch uses ngx.socket.tcp, so a slow
-- responder never blocks an nginx worker. http:// only, no redirects.
local core = require "clientcert.core"
local util = require "clientcert.util"

local M = {}

local SOURCES = { ocsp = true, crl = true }
local KEYS = {
  sources = true, scope = true, unavailable = true, timeout = true, issuers = true, urls = true,
  max_bytes = true, max_age = true, failure_ttl = true, ocsp_ttl = true, skew = true, nonce = true,
  fetch = true,
}
M.OCSP_MAX_BYTES = 64 * 1024
M.DEFAULTS = {
  sources = { "ocsp", "crl" }, scope = "chain", unavailable = "reject", timeout = 3, issuers = false,
  max_bytes = 16 * 1024 * 1024, max_age = 86400, failure_ttl = 30, ocsp_ttl = 300, skew = 300,
  nonce = false,
}
M.MAX_ISSUER_HOPS = 4

-- What is wrong with the option, without an origin: raised as a table of BAD,
-- which options turns into nil, "revocation.<msg>".
local BAD = {}
local function bad(msg) error(setmetatable({ msg = "revocation." .. msg }, BAD), 0) end

local function number_in(t, k, lo, hi)
  local v = t[k]
  if v == nil then return M.DEFAULTS[k] end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    bad(("%s must be a number between %s and %s"):format(k, lo, hi))
  end
  return v
end

-- The checked copy of t (raises bad(...)).
local function checked_options(t)
  if type(t) ~= "table" then error(setmetatable({ msg = "revocation must be a table" }, BAD), 0) end
  -- raw access: no metamethod of the caller's tables runs; the lists must be
  -- lists (a hole or another key would drop a source or a URL prefix unseen)
  t = util.raw_copy(t)
  for _, k in ipairs({ "sources", "urls" }) do
    if type(t[k]) == "table" then
      local list, err = util.as_list(t[k], k)
      if not list then bad(err) end
      t[k] = list
    end
  end
  for k in next, t do
    if not KEYS[k] then bad(("%s: unknown key"):format(tostring(k))) end
  end
  local o = {}
  local src = t.sources or M.DEFAULTS.sources
  if type(src) ~= "table" or #src == 0 then bad('sources must be a non-empty list of "ocsp", "crl"') end
  o.sources = {}
  local seen = {}
  for i = 1, #src do
    local s = src[i]
    if not SOURCES[s] or seen[s] then bad('sources must list "ocsp" and/or "crl", each once') end
    seen[s] = true
    o.sources[i] = s
  end
  o.scope = t.scope or M.DEFAULTS.scope
  if o.scope ~= "chain" and o.scope ~= "leaf" then bad('scope must be "chain" or "leaf"') end
  o.unavailable = t.unavailable or M.DEFAULTS.unavailable
  if o.unavailable ~= "reject" and o.unavailable ~= "accept" then
    bad('unavailable must be "reject" or "accept"')
  end
  o.timeout = number_in(t, "timeout", 0.001, 60)
  o.max_bytes = number_in(t, "max_bytes", 1024, 256 * 1024 * 1024)
  o.max_age = number_in(t, "max_age", 1, 30 * 86400)
  o.failure_ttl = number_in(t, "failure_ttl", 1, 3600)
  o.ocsp_ttl = number_in(t, "ocsp_ttl", 1, 86400)
  o.skew = math.floor(number_in(t, "skew", 0, 86400))
  for _, k in ipairs({ "issuers", "nonce" }) do
    if t[k] ~= nil and type(t[k]) ~= "boolean" then bad(k .. " must be a boolean") end
    o[k] = t[k] == true
  end
  if t.urls ~= nil then
    if type(t.urls) ~= "table" then bad("urls must be a list of URL prefixes") end
    o.urls = {}
    for i = 1, #t.urls do
      local u = t.urls[i]
      if type(u) ~= "string" or not M.parse_url(u) then
        bad(("urls[%d] must be an http:// URL prefix with a host"):format(i))
      end
      o.urls[i] = u
    end
  end
  if o.issuers and not (o.urls and #o.urls > 0) then
    bad("issuers = true needs urls, the allow-list of caIssuers URL prefixes")
  end
  if t.fetch ~= nil and type(t.fetch) ~= "function" then bad("fetch must be a function") end
  o.fetch = t.fetch
  return o
end

--- opts | nil, err = revocation.options(t): the checked copy of a policy's
-- revocation option, or what is wrong with it ("revocation.<key> ...", without
-- an origin: the policy adds its own) for any unknown key or bad value.
function M.options(t)
  local ok, o = pcall(checked_options, t)
  if ok then return o end
  if getmetatable(o) == BAD then return nil, o.msg end
  return nil, tostring(o) -- (a raise of t's own, a metamethod's)
end

--- u = revocation.parse_url(url): {host, port, path} for an http:// URL, or nil, why.
-- Refused: other schemes, user info, control bytes, spaces, a missing host.
function M.parse_url(url)
  if type(url) ~= "string" or #url > 2048 then return nil, "not a URL" end
  if url:find("[%z\1-\32\127-\255]") then return nil, "the URL holds spaces or control bytes" end
  local rest = url:match("^[hH][tT][tT][pP]://(.*)$")
  if not rest then return nil, "only http:// URLs are fetched" end
  local authority, path = rest:match("^([^/?#]*)(.*)$")
  if authority:find("@", 1, true) then return nil, "user information in a URL is refused" end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([%w%.%-]+):?(%d*)$") end
  if not host or host == "" then return nil, "the URL has no host" end
  port = port ~= "" and tonumber(port) or 80
  if port < 1 or port > 65535 then return nil, "the URL's port is out of range" end
  path = path:gsub("#.*$", "")
  if path == "" then path = "/" end
  return { host = host, port = port, path = path }
end

--- ok = revocation.allowed(url, prefixes): no allow-list, or url starts with one of them.
function M.allowed(url, prefixes)
  if not prefixes then return true end
  for i = 1, #prefixes do
    if url:sub(1, #prefixes[i]) == prefixes[i] then return true end
  end
  return false
end

-- HTTP/1.0 over a socket object with LuaSocket's and ngx.socket's common methods
-- (connect, send, receive(n), close) and settimeout_s(seconds); now() in seconds.
local function http(sock, now, url, body, timeout, max_bytes)
  local u, uerr = M.parse_url(url)
  if not u then return nil, uerr end
  local deadline = now() + timeout
  local function left()
    local l = deadline - now()
    if l <= 0 then return nil end
    sock:settimeout_s(l)
    return l
  end
  local function timed_out() return ("timed out after %g s"):format(timeout) end
  -- (no time left: the socket has no deadline to resolve or connect under)
  if not left() then return nil, timed_out() end
  -- connect resolves a host name within the time left; its third value says when
  -- the failure was in the name's resolution ("resolve"), or in it or the connect
  -- ("resolve_connect": the cosocket transport cannot tell)
  local ok, err, phase = sock:connect(u.host, u.port)
  if not ok then
    sock:close()
    if phase == "resolve_connect" and err == "timeout" then
      return nil, ("%s resolving or connecting to %s"):format(timed_out(), u.host)
    end
    if phase == "resolve" then
      if err == "timeout" then return nil, ("%s resolving %s"):format(timed_out(), u.host) end
      return nil, ("cannot resolve %s: %s"):format(u.host, tostring(err))
    end
    if err == "timeout" then return nil, timed_out() end
    return nil, "cannot connect: " .. tostring(err)
  end
  local host = u.host:find(":", 1, true) and ("[" .. u.host .. "]") or u.host
  if u.port ~= 80 then host = host .. ":" .. u.port end
  local head = { (body and "POST " or "GET ") .. u.path .. " HTTP/1.0", "Host: " .. host,
                 "User-Agent: clientcert", "Accept: */*", "Connection: close" }
  if body then
    head[#head + 1] = "Content-Type: application/ocsp-request"
    head[#head + 1] = "Content-Length: " .. #body
  end
  if not left() then sock:close() return nil, timed_out() end
  ok, err = sock:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. (body or ""))
  if not ok then
    sock:close()
    return nil, err == "timeout" and timed_out() or ("cannot send the request: " .. tostring(err))
  end
  local parts, n, cap = {}, 0, max_bytes + 16384 -- the body's cap plus room for the headers
  while true do
    if not left() then sock:close() return nil, timed_out() end
    local data, rerr, partial = sock:receive(8192)
    data = data or partial
    if data and #data > 0 then
      n = n + #data
      if n > cap then sock:close() return nil, ("response too large (over %d bytes)"):format(max_bytes) end
      parts[#parts + 1] = data
    end
    if rerr == "closed" then break end
    if rerr == "timeout" then sock:close() return nil, timed_out() end
    if rerr then sock:close() return nil, "cannot read the response: " .. tostring(rerr) end
  end
  sock:close()
  local raw = table.concat(parts)
  local hend = raw:find("\r\n\r\n", 1, true)
  if not hend then return nil, "malformed HTTP response (no end of headers)" end
  local headers, payload = raw:sub(1, hend - 1), raw:sub(hend + 4)
  local code = headers:match("^HTTP/1%.[01] (%d%d%d)")
  if not code then return nil, "malformed HTTP response (status line)" end
  code = tonumber(code)
  if code >= 300 and code < 400 then return nil, ("HTTP %d (redirects are not followed)"):format(code) end
  if code ~= 200 then return nil, ("HTTP %d"):format(code) end
  local lower = headers:lower()
  if lower:find("\r\ntransfer%-encoding:%s*chunked") then
    return nil, "chunked transfer encoding is not supported (HTTP/1.0 asked)"
  end
  local len = lower:match("\r\ncontent%-length:%s*(%d+)")
  if len and tonumber(len) ~= #payload then return nil, "truncated HTTP response" end
  if #payload > max_bytes then return nil, ("response too large (over %d bytes)"):format(max_bytes) end
  return payload
end
M._http = http -- (for the specs)

--- fetch = revocation.blocking_fetcher([opts]): a blocking HTTP/1.0 GET (body nil)
-- or POST (an OCSP request) with LuaSocket, whose deadline bounds the resolution
-- of the URL's host name too (clientcert.dns: the hosts file, then the
-- nameservers over UDP; never getaddrinfo, which waits for its own timeouts).
-- opts = {nameservers = {"ip[:port]" | "[ipv6]:port", ...} (default: those of
-- /etc/resolv.conf), hosts = path | false (default /etc/hosts), resolv_conf = path}.
function M.blocking_fetcher(opts)
  local dns = require "clientcert.dns"
  local oerr = dns.check_options(opts)
  if oerr then error("clientcert.revocation.blocking_fetcher: " .. oerr, 2) end
  local dopts = {}
  for k, v in pairs(opts or {}) do dopts[k] = v end
  return function(url, body, timeout, max_bytes)
    local ok, socket = pcall(require, "socket")
    if not ok then return nil, "LuaSocket is not installed (Debian: lua-socket)" end
    local s, deadline
    local sock = {
      -- each address in turn while time is left, a new socket for each
      connect = function(_, h, p)
        local addrs, rerr = dns.resolve(h, deadline, dopts)
        if not addrs then return nil, rerr, "resolve" end
        local cerr = "no address"
        for _, a in ipairs(addrs) do
          local l = deadline - socket.gettime()
          if l <= 0 then return nil, "timeout" end
          if s then s:close() end
          s = socket.tcp()
          if not s then return nil, "cannot create a socket" end
          s:settimeout(l)
          local done
          done, cerr = s:connect(a, p)
          if done then return done end
        end
        return nil, cerr
      end,
      send = function(_, d) return s:send(d) end,
      receive = function(_, n) return s:receive(n) end,
      close = function() if s then s:close() end end,
      settimeout_s = function(_, t)
        deadline = socket.gettime() + t
        if s then s:settimeout(t) end
      end,
    }
    return http(sock, socket.gettime, url, body, timeout, max_bytes)
  end
end

--- bytes, err = revocation.blocking_fetch(url, body|nil, timeout, max_bytes):
-- blocking_fetcher()'s fetch: the system's /etc/hosts and /etc/resolv.conf.
M.blocking_fetch = M.blocking_fetcher()

--- bytes, err = revocation.cosocket_fetch(url, body|nil, timeout, max_bytes):
-- the same over ngx.socket.tcp (rewrite, access, content, timer phases): the
-- worker serves other requests while it waits. Host names need nginx's `resolver`;
-- nginx resolves them under its resolver_timeout, not the fetch's deadline: the
-- connect then runs in a light thread, abandoned (killed) at the deadline.
function M.cosocket_fetch(url, body, timeout, max_bytes)
  local s = ngx.socket.tcp() -- luacheck: ignore (ngx: OpenResty's global)
  local budget = timeout
  local sock = {
    connect = function(_, h, p)
      local thread = ngx.thread -- luacheck: ignore
      if require("clientcert.dns").is_ip(h) or not (thread and thread.spawn) then return s:connect(h, p) end
      local DEADLINE = {}
      local spawned, conn = pcall(thread.spawn, function() return s:connect(h, p) end)
      if not spawned then return s:connect(h, p) end -- (a context without light threads)
      local timer = thread.spawn(function() ngx.sleep(budget) return DEADLINE end) -- luacheck: ignore
      local ok, a, b = thread.wait(conn, timer)
      if a == DEADLINE then
        thread.kill(conn) -- its pending resolution or connect is cleaned up by nginx
        return nil, "timeout", "resolve_connect"
      end
      thread.kill(timer)
      if not ok then return nil, tostring(a) end
      return a, b
    end,
    send = function(_, d) return s:send(d) end,
    -- receiveany: returns what has come. receive(n) waits for all n bytes, and
    -- nginx restarts its read timer on every byte: a peer trickling its answer
    -- would hold the fetch past the deadline, checked between two reads only.
    receive = function(_, n)
      if s.receiveany then return s:receiveany(n) end
      return s:receive(n)
    end,
    close = function() s:close() end,
    settimeout_s = function(_, t)
      budget = t
      s:settimeout(math.max(1, math.floor(t * 1000)))
    end,
  }
  local function now() ngx.update_time() return ngx.now() end -- luacheck: ignore
  return http(sock, now, url, body, timeout, max_bytes)
end

--- fetch = revocation.default_fetch(): cosockets where the nginx phase allows
-- them, else LuaSocket.
function M.default_fetch()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.socket and ngx.get_phase then
    local phase = ngx.get_phase()
    if phase == "rewrite" or phase == "access" or phase == "content" or phase == "timer"
      or phase == "ssl_cert" or phase == "ssl_session_fetch" then
      return M.cosocket_fetch
    end
  end
  return M.blocking_fetch
end

-- Answer records, as kept in a cache: "status|source|url|this|next|revoked_at|reason|error".
local FIELDS = { "status", "source", "url", "this_update", "next_update", "revoked_at", "reason", "error" }
local NUMERIC = { this_update = true, next_update = true, revoked_at = true }

local function esc(s) return (tostring(s):gsub("[%%|]", function(c) return ("%%%02X"):format(c:byte()) end)) end
local function unesc(s) return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)) end

function M.encode(a)
  local out = {}
  for i, k in ipairs(FIELDS) do out[i] = a[k] ~= nil and esc(a[k]) or "" end
  return table.concat(out, "|")
end

function M.decode(s)
  if type(s) ~= "string" then return nil end
  local a, i = {}, 0
  for part in (s .. "|"):gmatch("([^|]*)|") do
    i = i + 1
    local k = FIELDS[i]
    if not k then return nil end
    if part ~= "" then
      local v = unesc(part)
      if NUMERIC[k] then v = tonumber(v) end
      a[k] = v
    end
  end
  if i ~= #FIELDS or not a.status then return nil end
  return a
end

--- cache = revocation.memory_cache(size): a per-process cache with the shared
-- dict's interface: get(key) -> string|nil, set(key, string, ttl_seconds).
function M.memory_cache(size, now)
  size = size or 10000
  now = now or os.time
  local map, keys, n = {}, {}, 0
  local c = {}
  function c.get(_, k)
    local e = map[k]
    if not e then return nil end
    -- expired: left in place (set replaces it, eviction drops it): removed here, its
    -- key would stay in the eviction order and later evict the entry set again
    if e.expires <= now() then return nil end
    return e.value
  end
  function c.set(_, k, v, ttl)
    if not map[k] then
      n = n + 1
      keys[n] = k
      if n > size then -- drop the oldest inserted keys (bounded)
        local drop = keys[1]
        table.remove(keys, 1)
        map[drop] = nil
        n = n - 1
      end
    end
    map[k] = { value = v, expires = now() + ttl }
    return true
  end
  return c
end

--- cache = revocation.dict_cache(shared_dict): a lua_shared_dict as the cache
-- (all workers share the answers).
function M.dict_cache(dict)
  return {
    get = function(_, k) return (dict:get(k)) end,
    set = function(_, k, v, ttl)
      -- safe_set: a full dict evicts nothing; the answer is then just not kept
      local ok = dict:safe_set(k, v, ttl)
      return ok
    end,
    lock = function(_, k, ttl) return (dict:add("lock|" .. k, true, ttl)) end,
    unlock = function(_, k) dict:delete("lock|" .. k) end,
  }
end

-- The per-process memo of downloaded CRLs: url -> {crl, expires, sig = {[issuer fp] = true}}.
local crl_memo = {}
local crl_memo_n = 0
M.CRL_MEMO_MAX = 64

local function remember_crl(url, crl, expires)
  if not crl_memo[url] then
    crl_memo_n = crl_memo_n + 1
    if crl_memo_n > M.CRL_MEMO_MAX then
      for k in pairs(crl_memo) do crl_memo[k] = nil end
      crl_memo_n = 1
    end
  end
  local e = { crl = crl, expires = expires, sig = {} }
  crl_memo[url] = e
  return e
end

-- forget_crl(url, e): takes e out of the memo (fetched again next time), unless
-- another download has taken its place meanwhile.
local function forget_crl(url, e)
  if crl_memo[url] == e then
    crl_memo[url] = nil
    crl_memo_n = crl_memo_n - 1
  end
end

local function wall() return os.time() end

-- a = answer_of(source, url, r): the answer of an OCSP response or a CRL (r: what
-- core.ocsp_check or core.crl_status found) as ask_ocsp and ask_crl give it.
local function answer_of(source, url, r)
  return { status = r.status, source = source, url = url, this_update = r.this_update,
           next_update = r.next_update, revoked_at = r.revoked_at, reason = r.reason }
end

-- One source for one certificate: an answer {status = good|revoked, ...} or nil, why.
local function ask_ocsp(o, env, cert, issuer, url, when)
  local req, rerr = core.ocsp_request(cert, issuer, o.nonce or nil)
  if not req then return nil, rerr end
  local bytes, ferr = env.fetch(url, req, o.timeout, M.OCSP_MAX_BYTES)
  if not bytes then return nil, ferr end
  local r = core.ocsp_check(bytes, req, issuer, { time = when, skew = o.skew })
  if not r.ok then
    if r.response_status and r.response_status ~= "successful" then
      return nil, ("the responder answered %s"):format(r.response_status)
    end
    return nil, r.detail .. " (" .. r.problem .. ")"
  end
  if r.status == "unknown" then return nil, "the responder answered \"unknown\" for this certificate" end
  if not r.next_update and r.this_update < when - o.ocsp_ttl - o.skew then
    return nil, ("the response has no nextUpdate and its thisUpdate is more than ocsp_ttl (%d s) before the "
      .. "check time (stale)"):format(o.ocsp_ttl)
  end
  return answer_of("ocsp", url, r)
end

local function ask_crl(o, env, cert, issuer, issuer_fp, url, when)
  local e = crl_memo[url]
  if not e or e.expires <= wall() then
    local bytes, ferr = env.fetch(url, nil, o.timeout, o.max_bytes)
    if not bytes then return nil, ferr end
    local crl, perr = core.parse_crl(bytes)
    if not crl then return nil, "not a CRL: " .. tostring(perr) end
    local ci = crl:info()
    local expires = wall() + o.max_age
    if ci and ci.next_update then expires = math.min(expires, math.max(wall() + 1, ci.next_update)) end
    e = remember_crl(url, crl, expires)
  end
  local r = core.crl_status(e.crl, cert, issuer, { time = when, skew = o.skew, signature_verified = e.sig[issuer_fp] })
  if not r.ok then
    -- a download that was never evidence (forged, out of date, of another scope)
    -- is not kept: the next ask fetches again (after failure_ttl), not after max_age
    if next(e.sig) == nil then forget_crl(url, e) end
    return nil, r.detail .. " (" .. r.problem .. ")"
  end
  e.sig[issuer_fp] = true
  if not r.next_update and r.this_update < when - o.max_age - o.skew then
    forget_crl(url, e) -- fetched again next time: the CA may have published a newer one
    return nil, ("the CRL has no nextUpdate and its thisUpdate is more than max_age (%d s) before the check "
      .. "time (stale)"):format(o.max_age)
  end
  return answer_of("crl", url, r)
end

local function ttl_of(o, a, now)
  if a.status == "unknown" then return o.failure_ttl end
  local ttl = a.source == "ocsp" and not a.next_update and o.ocsp_ttl or o.max_age
  if a.next_update then ttl = math.min(ttl, a.next_update - now) end
  return math.max(1, math.floor(ttl))
end

-- Is a cached answer usable at verification time when?
local function usable(o, a, when)
  if a.status == "unknown" then return true end
  if a.this_update and a.this_update > when + o.skew then return false end
  if a.next_update and a.next_update < when - o.skew then return false end
  -- an answer without nextUpdate is fresh for ocsp_ttl (OCSP) or max_age (a CRL)
  -- after its thisUpdate
  if not a.next_update and a.this_update
    and a.this_update < when - (a.source == "ocsp" and o.ocsp_ttl or o.max_age) - o.skew then
    return false
  end
  return true
end

-- Decoded cache records, by their text (an answer is read on every check; its
-- text is the same until it is replaced): bounded, emptied when full. Records
-- are shared: callers copy what they hand out (M.report).
local decoded, ndecoded = {}, 0
local function cached_answer(s)
  if s == nil then return nil end
  local a = decoded[s]
  if a then return a end
  a = M.decode(s)
  if not a then return nil end
  a.cached = true
  if ndecoded >= 1024 then decoded, ndecoded = {}, 0 end
  decoded[s], ndecoded = a, ndecoded + 1
  return a
end

-- The answer for one certificate: cached, else asked of each source in order.
local function element_answer(o, env, path, i, when)
  local fp, issuer_fp = path[i].fingerprint, path[i + 1].fingerprint
  local key = "rev|" .. fp .. "|" .. issuer_fp
  local cached = cached_answer(env.cache:get(key))
  if cached and usable(o, cached, when) then return cached end
  local lock = env.cache.lock and env.cache:lock(key, o.timeout * #o.sources + 1)
  if env.cache.lock and not lock and env.sleep then
    -- another check fetches this very answer: wait for it (bounded)
    local waited, step = 0, 0.01
    while waited < o.timeout * #o.sources + 1 do
      env.sleep(step)
      waited = waited + step
      cached = cached_answer(env.cache:get(key))
      if cached and usable(o, cached, when) then return cached end
      if env.cache:lock(key, o.timeout * #o.sources + 1) then lock = true break end
    end
  end
  if not path[i].cert and path.load then path.load() end
  local cert, issuer = path[i].cert, path[i + 1].cert
  if not cert or not issuer then
    if lock and env.cache.unlock then env.cache:unlock(key) end
    return { status = "unknown", error = "the verified path's certificates are not available" }
  end
  local info = cert:info() or {}
  local tried = {}
  local answer
  for _, src in ipairs(o.sources) do
    local urls = src == "ocsp" and info.ocsp_urls or info.crl_urls
    for _, url in ipairs(urls or {}) do
      local why
      if not M.parse_url(url) then
        why = select(2, M.parse_url(url))
      elseif not M.allowed(url, o.urls) then
        why = "not in the urls allow-list"
      elseif src == "ocsp" then
        answer, why = ask_ocsp(o, env, cert, issuer, url, when)
      else
        answer, why = ask_crl(o, env, cert, issuer, issuer_fp, url, when)
      end
      if answer then break end
      tried[#tried + 1] = { source = src, url = url, error = why }
    end
    if answer then break end
  end
  if not answer then
    local first = tried[1]
    answer = { status = "unknown", source = first and first.source, url = first and first.url,
               error = first and first.error or "the certificate names no OCSP responder or CRL distribution point" }
    if #tried > 1 then
      local parts = {}
      for j, t in ipairs(tried) do parts[j] = ("%s %s: %s"):format(t.source, t.url, t.error) end
      answer.error = table.concat(parts, "; ")
    end
  end
  env.cache:set(key, M.encode(answer), ttl_of(o, answer, wall()))
  if lock and env.cache.unlock then env.cache:unlock(key) end
  return answer
end

--- outcome = revocation.check(o, env, path, when)
-- o: revocation.options(...); env = {fetch, cache, sleep?}; path = {{cert =,
-- fingerprint =, file_checked = bool}, ..., load = function filling the certs
-- when they are not there} from the leaf to the trust anchor (verified against
-- the trust store: the caller's duty). Returns
-- {status = "good"|"revoked"|"unknown", depth (0-based, of the deciding element),
--  answer (the deciding element's), answers = {[i] = answer}}.
function M.check(o, env, path, when)
  local last = o.scope == "leaf" and 1 or #path - 1
  local out = { status = "good", answers = {} }
  for i = 1, math.min(last, #path - 1) do
    local el = path[i]
    local a
    if el.file_checked then
      a = { status = "good", source = "file" }
    else
      a = element_answer(o, env, path, i, when)
    end
    out.answers[i] = a
    if a.status == "revoked" then
      out.status, out.depth, out.answer = "revoked", i - 1, a
      return out
    end
    if a.status == "unknown" and out.status == "good" then
      out.status, out.depth, out.answer = "unknown", i - 1, a
    end
  end
  return out
end

-- The CRL issuers of the store's own CRL files: {[RFC 4514 issuer] = true}, kept per store generation.
local store_crl_issuers = setmetatable({}, { __mode = "k" })
function M.crl_issuers(trust)
  local gen = trust:generation()
  local e = store_crl_issuers[trust]
  if e and e.gen == gen then return e.set end
  local set = {}
  for _, c in ipairs(trust:crls() or {}) do -- only CRLs the store's own CA certificates signed
    if c.signature == "ok" and c.issuer then set[c.issuer] = true end
  end
  store_crl_issuers[trust] = { gen = gen, set = set }
  return set
end

--- outcome = revocation.judge(o, env, trust, result, crl_mode, reverify, when):
-- revocation of a path store:verify accepted. result.chain gives the
-- fingerprints; result.certs (verify's certs = true) the objects, else
-- reverify() -> certs is called when an answer must be fetched. An element whose
-- issuer has a CRL file in the store that the verification consulted (crl_mode
-- "chain", or "leaf" for the leaf) is answered by that file (source "file").
function M.judge(o, env, trust, result, crl_mode, reverify, when)
  local chain = result.chain
  local issuers = (crl_mode == "chain" or crl_mode == "leaf") and M.crl_issuers(trust) or {}
  -- the common case first: every answer needed is "good", from a file or the cache
  local all_good = true
  for i = 1, math.min(o.scope == "leaf" and 1 or #chain - 1, #chain - 1) do
    local el = chain[i]
    if not ((crl_mode == "chain" or i == 1) and issuers[el.issuer]) then
      local a = cached_answer(env.cache:get("rev|" .. el.fingerprint .. "|" .. chain[i + 1].fingerprint))
      if not (a and a.status == "good" and usable(o, a, when)) then all_good = false break end
    end
  end
  if all_good then return { status = "good" } end
  local path = {}
  for i, el in ipairs(chain) do
    path[i] = { fingerprint = el.fingerprint, cert = result.certs and result.certs[i],
                file_checked = (crl_mode == "chain" or i == 1) and issuers[el.issuer] == true }
  end
  path.load = function()
    local certs = reverify()
    for i = 1, #path do path[i].cert = certs and certs[i] end
  end
  return M.check(o, env, path, when)
end

--- cert, err = revocation.fetch_issuer(o, env, cert): the first certificate served
-- at one of cert's caIssuers URLs that match the allow-list (DER or PEM).
function M.fetch_issuer(o, env, cert)
  local info = cert:info() or {}
  local why = "the certificate names no caIssuers URL in the allow-list"
  for _, url in ipairs(info.ca_issuers_urls or {}) do
    if M.parse_url(url) and o.urls and M.allowed(url, o.urls) then
      local key = "iss|" .. url
      local bytes = env.cache:get(key)
      local ferr, fresh
      if not bytes then
        bytes, ferr = env.fetch(url, nil, o.timeout, o.max_bytes)
        fresh = bytes ~= nil
      end
      if bytes then
        local c, perr = core.parse(bytes)
        -- only a certificate is kept: a bad download is fetched again next time
        if c and fresh then env.cache:set(key, bytes, o.max_age) end
        if c then return c, url end
        why = ("%s: not a certificate (%s)"):format(url, tostring(perr))
      else
        why = ("%s: %s"):format(url, ferr)
      end
    end
  end
  return nil, why
end

--- t = revocation.report(answer): the verdict's revocation field:
-- {source = "ocsp"|"crl"|"file", url, this_update, next_update, revoked_at, reason, error, cached}.
function M.report(a)
  local t = {}
  for _, k in ipairs(FIELDS) do if k ~= "status" then t[k] = a[k] end end
  t.status = a.status
  t.cached = a.cached
  return t
end

--- text = revocation.why(answer): why no source answered, with the URL.
function M.why(a)
  if a.url and not (a.error or ""):find(a.url, 1, true) then
    return ("%s (%s)"):format(a.error or "no answer", a.url)
  end
  return a.error or "no OCSP responder or CRL distribution point answered"
end

local UNABLE_TO_GET_ISSUER = { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = true,
                               X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = true }

--- result = revocation.chase(o, env, trust, cert, vopts, result): AIA chasing. While
-- the verification stops at a certificate whose issuer is missing, fetch that
-- issuer from the certificate's caIssuers URLs that match o.urls (at most
-- MAX_ISSUER_HOPS) and verify again with it in the chain. Returns the last result
-- (with fetched_issuers = {url, ...} when something was fetched).
function M.chase(o, env, trust, cert, vopts, result)
  local fetched = {}
  local chain = {}
  for i, c in ipairs(vopts.chain or {}) do chain[i] = c end
  for _ = 1, M.MAX_ISSUER_HOPS do
    local p = result.problems[1]
    if result.ok or not p or not UNABLE_TO_GET_ISSUER[p.code_name] then break end
    local top = result.certs and result.certs[#result.certs]
    if not top then break end
    local issuer, url = M.fetch_issuer(o, env, top)
    if not issuer then
      result.chase_error = url
      break
    end
    chain[#chain + 1] = issuer
    fetched[#fetched + 1] = url
    local again = {}
    for k, v in pairs(vopts) do again[k] = v end
    again.chain = chain
    local r = trust:verify(cert, again)
    if not r then break end
    result = r
  end
  if #fetched > 0 then result.fetched_issuers = fetched end
  return result
end

return M
