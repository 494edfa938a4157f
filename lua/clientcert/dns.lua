--- clientcert.dns: the host name of a revocation URL resolved within the fetch's
-- deadline, outside nginx (LuaSocket). LuaSocket's connect resolves with the
-- system's getaddrinfo, which blocks for its own timeouts (5 s x attempts x
-- nameservers with a silent DNS server), whatever deadline the fetch has. Here:
-- an IP literal is used as it is; a name is looked up in /etc/hosts, then asked
-- of the nameservers of /etc/resolv.conf (or the ones given) over UDP, each wait
-- bounded by the deadline (A records, then AAAA when there is no A).
--
-- Not done: nsswitch.conf (files, then DNS, always), DNS over TCP (a truncated
-- answer counts for the addresses it holds), DNSSEC, a cache (a fetch is rare:
-- answers are cached by the revocation layer), options other than ndots.
-- Inside nginx the cosocket transport bounds nginx's own resolver instead
-- (clientcert.revocation).
local M = {}

M.RESOLV_CONF = "/etc/resolv.conf"
M.HOSTS = "/etc/hosts"
M.MAX_ADDRESSES = 8
M.RESEND = 1 -- seconds without an answer before a query is sent again to the same server

local A, AAAA = 1, 28

--- ok = dns.is_ip(host): host is an IPv4 dotted quad or an IPv6 literal (no
-- resolution: getaddrinfo takes it as a number).
function M.is_ip(host)
  if type(host) ~= "string" then return false end
  local a, b, c, d = host:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if a then
    return tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
  end
  return host:find(":", 1, true) ~= nil and host:match("^[%x:.]+$") ~= nil
end

-- "ip", "ip:port", "[ipv6]:port" -> {host, port}, or nil.
local function server_of(s)
  if type(s) ~= "string" then return nil end
  local h, p = s:match("^%[([%x:.]+)%]:(%d+)$")
  if not h then h, p = s:match("^([%d.]+):(%d+)$") end
  if not h then h, p = s, "53" end
  p = tonumber(p)
  if not M.is_ip(h) or p < 1 or p > 65535 then return nil end
  return { host = h, port = p }
end

-- The first MiB of a file, without the line cut there (its start could read as
-- another name or address: "127.0.0.7 cut.test" of "127.0.0.7 cut.test.example").
local MAX_READ = 1024 * 1024
local function read_bounded(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read(MAX_READ + 1)
  f:close()
  if data and #data > MAX_READ then data = data:sub(1, MAX_READ):match("^.*\n") or "" end
  return data
end

--- conf = dns.resolv_conf(path): {nameservers = {{host, port}, ...} (at most 3, as
-- glibc; 127.0.0.1 when none), search = {domain, ...}, ndots = n} of a resolv.conf.
function M.resolv_conf(path)
  local conf = { nameservers = {}, search = {}, ndots = 1 }
  for line in ((read_bounded(path or M.RESOLV_CONF) or "") .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("[#;].*$", "")
    local key, rest = line:match("^%s*(%a+)%s+(.*)$") -- (no trimming pattern: linear on long runs of spaces)
    if key == "nameserver" and #conf.nameservers < 3 then
      local s = server_of(rest:match("^(%S+)"))
      if s and not rest:find("%", 1, true) then conf.nameservers[#conf.nameservers + 1] = s end
    elseif key == "search" or key == "domain" then
      conf.search = {}
      for d in rest:gmatch("[%w%.%-]+") do conf.search[#conf.search + 1] = (d:gsub("%.$", "")) end
    elseif key == "options" then
      local n = rest:match("ndots:(%d+)")
      if n then conf.ndots = math.min(tonumber(n), 15) end
    end
  end
  if #conf.nameservers == 0 then conf.nameservers[1] = { host = "127.0.0.1", port = 53 } end
  return conf
end

--- addrs | nil = dns.hosts_lookup(path, name): the addresses of name in a hosts
-- file (IPv4 first), nil when it is not there.
function M.hosts_lookup(path, name)
  local data = read_bounded(path or M.HOSTS)
  if not data then return nil end
  name = name:lower()
  local v4, v6 = {}, {}
  for line in (data .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("#.*$", "")
    local addr, names = line:match("^%s*(%S+)%s+(.*)$")
    if addr and M.is_ip(addr) then
      for n in names:gmatch("%S+") do
        if n:lower() == name then
          local list = addr:find(":", 1, true) and v6 or v4
          list[#list + 1] = addr
          break
        end
      end
    end
  end
  for _, a in ipairs(v6) do v4[#v4 + 1] = a end
  if #v4 == 0 then return nil end
  return v4
end

-- The wire form of a name (labels of 1..63 bytes, at most 255 bytes in all), or nil.
local function wire_name(name)
  local parts = {}
  for label in (name .. "."):gmatch("([^.]*)%.") do
    if #label == 0 or #label > 63 then return nil end
    parts[#parts + 1] = string.char(#label) .. label
  end
  local w = table.concat(parts) .. "\0"
  if #w > 255 then return nil end
  return w
end

local function u16(s, i)
  local a, b = s:byte(i, i + 1)
  return a * 256 + b
end

local function query(id, qname, qtype)
  -- header: id, flags RD, one question; the question: name, type, class IN
  return string.char(math.floor(id / 256), id % 256, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0) .. qname
    .. string.char(0, qtype, 0, 1)
end

-- The index after the name at i (labels, ending with a zero byte or a
-- compression pointer, which is not followed), or nil past the end.
local function skip_name(s, i)
  local n = #s
  for _ = 1, 128 do
    if i > n then return nil end
    local len = s:byte(i)
    if len == 0 then return i + 1 end
    if len >= 192 then return i + 1 <= n and i + 2 or nil end
    if len > 63 then return nil end
    i = i + 1 + len
  end
  return nil
end

local function ipv6_text(s, i)
  local g = {}
  for k = 0, 7 do g[k + 1] = ("%x"):format(u16(s, i + 2 * k)) end
  return table.concat(g, ":")
end

--- r | nil = dns.parse(s, id, qname, qtype): a DNS response to the query (id, the
-- wire name, the type): {rcode, truncated, addrs = {text, ...}} (addresses of the
-- type asked, class IN, at most MAX_ADDRESSES); nil for bytes that are not an
-- answer to it (another id, a query, another question, garbage): ignored.
function M.parse(s, id, qname, qtype)
  if type(s) ~= "string" or #s < 12 or u16(s, 1) ~= id then return nil end
  local flags = u16(s, 3)
  if flags < 32768 or math.floor(flags / 2048) % 16 ~= 0 then return nil end -- not a response; opcode
  if u16(s, 5) ~= 1 then return nil end
  local qend = 13 + #qname
  -- the question echoed: our name (case aside: length bytes are below "A"), type, class IN
  if #s < qend + 3 or s:sub(13, qend - 1):lower() ~= qname:lower()
    or u16(s, qend) ~= qtype or u16(s, qend + 2) ~= 1 then
    return nil
  end
  local r = { rcode = flags % 16, truncated = math.floor(flags / 512) % 2 == 1, addrs = {} }
  local i = qend + 4
  for _ = 1, u16(s, 7) do
    i = skip_name(s, i)
    if not i or i + 9 > #s then break end
    local t, c, len = u16(s, i), u16(s, i + 2), u16(s, i + 8)
    local rd = i + 10
    if rd + len - 1 > #s then break end
    if t == qtype and c == 1 and #r.addrs < M.MAX_ADDRESSES then
      if t == A and len == 4 then
        r.addrs[#r.addrs + 1] = ("%d.%d.%d.%d"):format(s:byte(rd, rd + 3))
      elseif t == AAAA and len == 16 then
        r.addrs[#r.addrs + 1] = ipv6_text(s, rd)
      end
    end
    i = rd + len
  end
  return r
end

local RCODES = { [1] = "FORMERR", [2] = "SERVFAIL", [4] = "NOTIMP", [5] = "REFUSED" }

-- One question to one server until `until_t`: r (parse's) or nil, why ("timeout",
-- "refused", ...). The socket is connected: the kernel drops datagrams of others.
local function ask(socket, now, server, packet, id, qname, qtype, until_t)
  local u = socket.udp()
  if not u then return nil, "cannot create a UDP socket" end
  local ok, err = u:setpeername(server.host, server.port)
  if not ok then u:close() return nil, tostring(err) end
  local next_send = now()
  while true do
    local t = now()
    if t >= until_t then u:close() return nil, "timeout" end
    if t >= next_send then
      u:send(packet)
      next_send = t + M.RESEND
    end
    u:settimeout(math.max(0.001, math.min(until_t, next_send) - t))
    local data, rerr = u:receive()
    if data then
      local r = M.parse(data, id, qname, qtype)
      if r then u:close() return r end
    elseif rerr ~= "timeout" then
      u:close()
      return nil, tostring(rerr)
    end
  end
end

-- A query id: two bytes of /dev/urandom (else the clock). The id is not the only
-- defence: the socket is connected (the kernel's random source port, the server's
-- address) and the answer must echo the question.
local ids = 0
local function new_id(socket)
  local f = io.open("/dev/urandom", "rb")
  local b = f and f:read(2)
  if f then f:close() end
  if b and #b == 2 then return u16(b, 1) end
  ids = ids + 1
  return (math.floor(socket.gettime() * 1e6) + ids * 7919) % 65536
end

-- One name, one type, each server in turn (each gets its share of the time left):
-- r, or nil, why, timed_out.
local function lookup(socket, now, conf, name, qtype, deadline)
  local qname = wire_name(name)
  if not qname then return nil, "not a valid DNS name" end
  local servers = conf.nameservers
  local last, all_timed_out = "no nameserver", true
  for k, server in ipairs(servers) do
    local left = deadline - now()
    if left <= 0 then return nil, "timeout", true end
    local id = new_id(socket)
    local r, err = ask(socket, now, server, query(id, qname, qtype), id, qname, qtype,
                       now() + left / (#servers - k + 1))
    if r and (r.rcode == 0 or r.rcode == 3) then return r end
    if r then
      all_timed_out = false
      last = ("the nameserver %s answered %s"):format(server.host, RCODES[r.rcode] or ("RCODE " .. r.rcode))
    elseif err ~= "timeout" then
      all_timed_out = false
      last = ("nameserver %s: %s"):format(server.host, err)
    end
  end
  if all_timed_out then return nil, "timeout", true end
  return nil, last
end

--- addrs | nil, err, timed_out = dns.resolve(host, deadline[, opts]): the
-- addresses of host (IP literals as they are; then the hosts file; then DNS),
-- never waiting past deadline (socket.gettime() seconds). opts: nameservers =
-- {"ip[:port]" | "[ipv6]:port", ...} (default: resolv_conf's), hosts = path |
-- false (no hosts file), resolv_conf = path. timed_out is true when the time ran
-- out (err is then "timeout").
function M.resolve(host, deadline, opts)
  opts = opts or {}
  if M.is_ip(host) then return { host } end
  local name = host:lower():gsub("%.$", "")
  if name:match("^[%d.]+$") then return nil, "neither a dotted-quad IPv4 address nor a DNS name" end
  if opts.hosts ~= false then
    local addrs = M.hosts_lookup(opts.hosts or M.HOSTS, name)
    if addrs then return addrs end
  end
  local ok, socket = pcall(require, "socket")
  if not ok then return nil, "LuaSocket is not installed (Debian: lua-socket)" end
  local now = socket.gettime
  local conf = M.resolv_conf(opts.resolv_conf)
  if opts.nameservers then
    conf.nameservers = {}
    for i, s in ipairs(opts.nameservers) do conf.nameservers[i] = assert(server_of(s)) end
  end
  -- the names to ask: a name with fewer dots than ndots under each search domain first
  local names = {}
  local _, dots = name:gsub("%.", "")
  if dots < conf.ndots and not host:find("%.$") then
    for _, d in ipairs(conf.search) do names[#names + 1] = name .. "." .. d end
  end
  names[#names + 1] = name
  local why = "no such host"
  for _, n in ipairs(names) do
    for _, qtype in ipairs({ A, AAAA }) do
      local r, err, timed_out = lookup(socket, now, conf, n, qtype, deadline)
      if timed_out then return nil, "timeout", true end
      if r and #r.addrs > 0 then return r.addrs end
      if not r then why = err end
      if r and r.rcode == 3 then why = "no such host" break end
      if r and r.truncated then why = "the answer was truncated and held no address" end
      if r and r.rcode == 0 and qtype == AAAA and not r.truncated then why = "no address for this name" end
    end
  end
  return nil, why
end

--- err | nil = dns.check_options(opts): what is wrong with resolve's opts.
function M.check_options(opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then return "must be a table" end
  for k in pairs(opts) do
    if k ~= "nameservers" and k ~= "hosts" and k ~= "resolv_conf" then
      return ("%s: unknown key"):format(tostring(k))
    end
  end
  if opts.nameservers ~= nil then
    -- a list: keys 1..n (a hole or another key would leave servers unread: no server asked)
    local list = opts.nameservers
    local n = type(list) == "table" and require("clientcert.util").sequence_length(list) or 0
    if n == 0 then return 'nameservers must be a non-empty list of "ip[:port]" or "[ipv6]:port"' end
    for i, s in ipairs(opts.nameservers) do
      if not server_of(s) then return ('nameservers[%d] must be "ip[:port]" or "[ipv6]:port"'):format(i) end
    end
  end
  if opts.hosts ~= nil and opts.hosts ~= false and type(opts.hosts) ~= "string" then
    return "hosts must be a path or false"
  end
  if opts.resolv_conf ~= nil and type(opts.resolv_conf) ~= "string" then return "resolv_conf must be a path" end
  return nil
end

return M
