-- Live servers for the integration specs: the OpenResty example started by its own
-- script (examples/openresty/run.sh) in a temporary prefix on a free 127.0.0.1
-- port, curl and openssl s_client as clients with bounded waits, and a stop by
-- pid that always runs.
local M = {}

local sh_quote = require("helpers.sh").quote
M.q = sh_quote

--- ok, output = live.run(cmd): runs a shell command, returns success and its stdout+stderr.
-- Without any sanitizer runtime the specs run under (make asan): it is for our module only.
function M.run(cmd)
  local f = assert(io.popen("exec env -u LD_PRELOAD sh -c " .. sh_quote(cmd .. " 2>&1; echo \"__rc=$?\"")))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc == 0, (out:gsub("__rc=%d+%s*$", "")), rc
end

--- s = live.read(path): the file's bytes, nil when it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- path = live.write(path, data): writes the file (raises when it cannot).
function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

local function sleep(s) M.run("sleep " .. s) end
M.sleep = sleep

--- dir = live.tempdir(name): a new directory /tmp/NAME.XXXXXX (the caller removes it).
function M.tempdir(name)
  local ok, out = M.run("mktemp -d /tmp/" .. name .. ".XXXXXX")
  assert(ok, out)
  return (out:gsub("%s+$", ""))
end

--- live.fixture(out, script, ...): runs the fixture script spec/fixtures/SCRIPT of the
-- checkout with the directory out and the other arguments (`bash SCRIPT OUT ...`),
-- without any sanitizer runtime; raises with its output when it fails.
function M.fixture(out, script, ...)
  local words = { "bash", sh_quote(M.checkout() .. "/spec/fixtures/" .. script), sh_quote(out) }
  for _, a in ipairs({ ... }) do words[#words + 1] = sh_quote(a) end
  local ok, text = M.run(table.concat(words, " "))
  if not ok then error("spec/fixtures/" .. script .. " failed:\n" .. text, 2) end
end

--- dir = live.checkout(): the checkout's directory (the specs run in it).
function M.checkout()
  local _, out = M.run("pwd")
  return (out:gsub("%s+$", ""))
end

--- port = live.free_port(): a 127.0.0.1 TCP port the kernel calls free now (another
-- process can take it before a server binds it: callers start again on other ports).
function M.free_port()
  local ok, out = M.run("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
    .. "print(s.getsockname()[1])'")
  assert(ok, out)
  return assert(tonumber(out:match("%d+")))
end

--- server = live.start{dir =, name =, cmd =, ready = text | ready_file = path[, seconds =]}:
-- runs the shell command cmd in dir under `timeout seconds` (default 300), its output
-- in dir/NAME.log and the pid (of timeout) in dir/NAME.pid, and waits (at most 10 s,
-- never connecting to it) until its log holds the text ready, or until the file
-- ready_file is not empty. Returns {dir, log, pid, signal = "TERM"} for live.stop;
-- raises, after stopping it, when it did not get ready (naming o.what, else name).
function M.start(o)
  local server = { dir = o.dir, signal = "TERM", log = o.dir .. "/" .. o.name .. ".log" }
  local pidfile = o.dir .. "/" .. o.name .. ".pid"
  local check = o.ready_file and ("[ -s %s ]"):format(sh_quote(o.ready_file))
    or ("grep -q -F -- %s %s"):format(sh_quote(o.ready), sh_quote(server.log))
  M.run(("cd %s && (timeout %d %s > %s 2>&1 < /dev/null & echo $! > %s); "
    .. "for i in $(seq 1 200); do %s && break; sleep 0.05; done")
    :format(sh_quote(o.dir), o.seconds or 300, o.cmd, sh_quote(server.log), sh_quote(pidfile), check))
  server.pid = (M.read(pidfile) or ""):match("%d+")
  local ready
  if o.ready_file then ready = (M.read(o.ready_file) or "") ~= ""
  else ready = (M.read(server.log) or ""):find(o.ready, 1, true) ~= nil end
  if not (server.pid and ready) then
    local log = M.read(server.log) or "(no log)"
    M.stop(server)
    error((o.what or o.name) .. " did not start: " .. log, 2)
  end
  return server
end

--- live.tries(start, stop[, n]): calls start() until it returns without raising, at
-- most n times (default 3), calling stop() after each try that raised; raises the last
-- try's error. For servers on ports from live.free_port: another process can take a
-- port before the server binds it, and each try picks new ones.
function M.tries(start, stop, n)
  n = n or 3
  for attempt = 1, n do
    local ok, err = pcall(start)
    if ok then return end
    stop()
    if attempt == n then error(err, 0) end
  end
end

--- server = live.listener(dir, mode, port[, seconds]): spec/fixtures/listener.py MODE
-- (hang, trap, http500, big, redirect: see there) on 127.0.0.1:port, started with
-- live.start in dir; it is ready when it writes its first line to dir/MODE.conns
-- (no probe connection: a trap must see none). server.port is port.
function M.listener(dir, mode, port, seconds)
  local conns = dir .. "/" .. mode .. ".conns"
  local server = M.start{ dir = dir, name = mode, ready_file = conns, seconds = seconds,
    cmd = ("python3 -u %s %s %d %s"):format(sh_quote(M.checkout() .. "/spec/fixtures/listener.py"), mode, port,
      sh_quote(conns)) }
  server.port = port
  return server
end

--- server = live.fake_dns(dir[, seconds]): spec/fixtures/fake_dns.py (a nameserver
-- on a 127.0.0.1 UDP port of its choosing, server.port; the names it answers are
-- listed there), logging each query to server.queries (dir/queries.log).
function M.fake_dns(dir, seconds)
  local queries = dir .. "/queries.log"
  local server = M.start{ dir = dir, name = "dns", ready = "READY", seconds = seconds,
    cmd = ("python3 -u %s %s"):format(sh_quote(M.checkout() .. "/spec/fixtures/fake_dns.py"), sh_quote(queries)) }
  server.port = assert(tonumber((M.read(server.log) or ""):match("READY 127%.0%.0%.1:(%d+)")), "fake_dns: no port")
  server.queries = queries
  return server
end

--- live.discard(server): live.stop(server), then removes server.dir (nil: nothing).
function M.discard(server)
  if not server then return end
  M.stop(server)
  if server.dir then M.run("rm -rf " .. sh_quote(server.dir)) end
end

--- server = live.openresty([{workers = n}]): starts the OpenResty example
-- (examples/openresty/run.sh --quiet: demo PKI, policy, nginx.conf with the gate)
-- in a new temporary prefix on a free 127.0.0.1 port, running the checkout's
-- LuaJIT build (with n worker processes; default the example's).
-- Returns {port, dir, pki, pid, log}; raises when nginx cannot start.
function M.openresty(opts)
  opts = opts or {}
  local dir = M.tempdir("clientcert-live")
  local ok, out = M.run("env -u LD_PRELOAD timeout 60 bash examples/openresty/run.sh --quiet "
    .. (opts.workers and ("--workers=%d "):format(opts.workers) or "") .. sh_quote(dir))
  local pid = (M.read(dir .. "/logs/nginx.pid") or ""):match("%d+")
  local port = tonumber((M.read(dir .. "/port") or ""):match("%d+"))
  local server = { dir = dir, pki = dir .. "/pki", pid = pid, port = port, log = dir .. "/logs/error.log" }
  if not ok or not pid or not port then
    M.stop(server)
    error("cannot start the OpenResty example: " .. out)
  end
  return server
end


-- A server command that prints "ACCEPT 127.0.0.1:PORT" when it listens, started
-- by live.start in a new temporary directory (its working directory) with its life
-- bounded by `timeout 120`. Returns {port, dir, pid (of timeout), log, signal = "TERM"}
-- for live.stop; raises (after stopping it) when it does not listen within 10 s.
local function listener(what, cmd)
  local server = M.start{ dir = M.tempdir("clientcert-sserver"), name = "out", cmd = cmd, ready = "ACCEPT",
                          seconds = 120, what = what }
  server.port = tonumber((M.read(server.log) or ""):match("ACCEPT 127%.0%.0%.1:(%d+)"))
  if not server.port then
    local log = M.read(server.log) or "(no log)"
    M.stop(server)
    error(what .. " did not start: " .. log)
  end
  return server
end

--- server = live.s_server(args): `openssl s_server -accept 127.0.0.1:0 <args>` (the
-- kernel picks a free port; read back from its ACCEPT line) in a new temporary
-- directory, its life bounded by `timeout 120`. args: the other s_server arguments,
-- already quoted. Returns {port, dir, pid (of timeout), log, signal = "TERM"} for
-- live.stop; raises (after stopping it) when it does not listen within 10 s.
function M.s_server(args)
  return listener("openssl s_server", "openssl s_server -accept 127.0.0.1:0 " .. args)
end

--- server = live.tls12_server(cert_der, sigalgs, empty_names, alert[, listed_der]): the
-- scripted TLS 1.2 server of spec/fixtures/tls12_server.lua (under luajit) on a free
-- 127.0.0.1 port, like live.s_server; its log (server.log) says, per connection,
-- which scheme the client signed its CertificateVerify with.
function M.tls12_server(cert_der, sigalgs, empty_names, alert, listed_der)
  local script = M.checkout() .. "/spec/fixtures/tls12_server.lua"   -- the server runs in its own directory
  return listener("spec/fixtures/tls12_server.lua", ("luajit %s %s %s %d %d %s"):format(sh_quote(script),
    sh_quote(cert_der), sh_quote(sigalgs), empty_names, alert, listed_der and sh_quote(listed_der) or ""))
end

--- ok = live.wait_for(f[, seconds]): calls f every 50 ms until it returns a true
-- value or seconds (default 10) have passed; returns f's last value.
function M.wait_for(f, seconds)
  local tries = math.floor((seconds or 10) / 0.05)
  local v = f()
  for _ = 1, tries do
    if v then return v end
    M.sleep(0.05)
    v = f()
  end
  return v
end

--- text = live.nginx_conf(body[, {lua =, workers =}]): the nginx.conf of live.nginx
-- around the http block's body: the main context (pid, error log at info, events)
-- and the http block's settings (no access log, temporary files in tmp/, relative
-- to the prefix). With lua = true: the ndk and lua modules loaded, workers worker
-- processes (default 1) and the checkout's modules first on the Lua paths (its
-- LuaJIT build: nginx's lua module runs LuaJIT).
function M.nginx_conf(body, opts)
  opts = opts or {}
  local conf = {}
  if opts.lua then
    local checkout = M.checkout()
    conf = { "load_module /usr/lib/nginx/modules/ndk_http_module.so;",
      "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;", ("worker_processes %d;"):format(opts.workers or 1) }
    body = ('  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";\n  lua_package_cpath "%s/build/luajit/?.so;;";\n')
      :format(checkout, checkout, checkout) .. body
  end
  for _, line in ipairs({ "pid logs/nginx.pid;", "error_log logs/error.log info;", "events { worker_connections 64; }",
    "http {", "  access_log off;", "  client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;",
    "  uwsgi_temp_path tmp; scgi_temp_path tmp;", body, "}", "" }) do conf[#conf + 1] = line end
  return table.concat(conf, "\n")
end

--- server = live.nginx(http_conf, files[, opts]): an nginx whose http block is
-- http_conf (@PREFIX@ and @PORT@ replaced) in live.nginx_conf (opts: {lua =,
-- workers =}; by default a plain nginx, no Lua module), in a new temporary prefix
-- holding copies of files (paths; readable by nginx's workers) on a free
-- 127.0.0.1 port (random ports tried until one is free, as run.sh does).
-- Returns {port, dir, pid, log}; raises (after stopping it) when nginx does not start.
function M.nginx(http_conf, files, opts)
  local dir = M.tempdir("clientcert-nginx")
  local server = { dir = dir, log = dir .. "/logs/error.log" }
  local copy = {}
  for i, f in ipairs(files or {}) do copy[i] = sh_quote(f) end
  M.run(("mkdir -p %s/logs %s/conf %s/tmp%s && chmod -R a+rX %s"):format(sh_quote(dir), sh_quote(dir),
    sh_quote(dir), #copy > 0 and (" && cp " .. table.concat(copy, " ") .. " " .. sh_quote(dir)) or "", sh_quote(dir)))
  local ok, last
  for _ = 1, 20 do
    local port = math.random(20000, 59999)
    local body = http_conf:gsub("@PREFIX@", dir):gsub("@PORT@", tostring(port))
    M.write(dir .. "/conf/nginx.conf", M.nginx_conf(body, opts))
    ok, last = M.run(("cd %s && timeout 20 nginx -p %s/ -c conf/nginx.conf -e logs/error.log")
      :format(sh_quote(dir), sh_quote(dir)))
    if ok then
      M.run(("for i in $(seq 1 50); do [ -s %s/logs/nginx.pid ] && break; sleep 0.1; done"):format(sh_quote(dir)))
      server.pid = (M.read(dir .. "/logs/nginx.pid") or ""):match("%d+")
      server.port = port
      break
    end
    if not last:find("Address already in use", 1, true) then break end
  end
  if not server.pid then
    M.stop(server)
    error("nginx did not start: " .. tostring(last))
  end
  return server
end

--- live.stop(server): stops the server by its pid (server.signal or QUIT, then KILL
-- of it and its children after a bounded wait). The caller removes server.dir.
function M.stop(server)
  if not server or not server.pid then return end
  local pid = server.pid
  -- one shell: the signal, a bounded wait (5 s) for the process to go (gone, or a
  -- zombie its new parent has not reaped yet), then KILL
  M.run(("kill -%s %s; for i in $(seq 1 100); do case \"$(ps -o stat= -p %s)\" in ''|Z*) break;; esac; "
    .. "sleep 0.05; done; pkill -KILL -P %s; kill -KILL %s"):format(server.signal or "QUIT", pid, pid, pid, pid))
  server.pid = nil
end

--- status, body = live.curl(server, path, {cert =, key =, headers = {"Name: value", ...}}):
-- one HTTPS request, bounded.
function M.curl(server, path, opts)
  opts = opts or {}
  local body = os.tmpname()
  local cmd = ("curl -s -k --max-time 10 -o %s -w '%%{http_code}' "):format(sh_quote(body))
  if opts.cert then cmd = cmd .. "--cert " .. sh_quote(opts.cert) .. " " end
  if opts.key then cmd = cmd .. "--key " .. sh_quote(opts.key) .. " " end
  for _, h in ipairs(opts.headers or {}) do cmd = cmd .. "-H " .. sh_quote(h) .. " " end
  cmd = cmd .. sh_quote(("https://127.0.0.1:%d%s"):format(server.port, path))
  local _, out = M.run(cmd)
  local text = M.read(body) or ""
  os.remove(body)
  return tonumber(out:match("(%d%d%d)%s*$")), text
end

--- status, body = live.s_client(server, path, {cert, key, chain, sess_out, sess_in, tls,
-- servername (TLS SNI, default "localhost"; false: none), host (the Host header,
-- default "localhost"; false: none)}): a request through openssl s_client (for
-- session resumption, SNI), bounded.
function M.s_client(server, path, opts)
  local host = opts.host == nil and "localhost" or opts.host
  local sni = opts.servername == nil and "localhost" or opts.servername
  local cmd = ("printf 'GET %s HTTP/1.0\\r\\n%s\\r\\n' | timeout 10 openssl s_client "
    .. "-quiet -ign_eof -connect 127.0.0.1:%d %s"):format(path, host and ("Host: " .. host .. "\\r\\n") or "",
    server.port, sni and ("-servername " .. sh_quote(sni)) or "-noservername")
  if opts.tls then cmd = cmd .. " -tls" .. opts.tls:gsub("%.", "_") end
  if opts.cert then cmd = cmd .. " -cert " .. sh_quote(opts.cert) .. " -key " .. sh_quote(opts.key) end
  if opts.chain then cmd = cmd .. " -cert_chain " .. sh_quote(opts.chain) end
  if opts.sess_out then cmd = cmd .. " -sess_out " .. sh_quote(opts.sess_out) end
  if opts.sess_in then cmd = cmd .. " -sess_in " .. sh_quote(opts.sess_in) end
  local _, out = M.run(cmd)
  local status = tonumber(out:match("HTTP/1%.%d (%d%d%d)"))
  local body = out:match("\r\n\r\n(.*)$") or ""
  return status, body, out
end

--- pids = live.workers(server): the pids of the server's worker processes.
function M.workers(server)
  local out = select(2, M.run("pgrep -P " .. server.pid))
  local pids = {}
  for pid in out:gmatch("%d+") do pids[#pids + 1] = pid end
  return pids
end

--- live.reload(server): HUP (nginx reads its configuration again), then waits
-- (at most 5 s) until every old worker has gone and a new one runs.
function M.reload(server)
  local before = M.workers(server)
  M.run("kill -HUP " .. server.pid)
  for _ = 1, 50 do
    sleep(0.1)
    local now = M.workers(server)
    local old_left = false
    for _, pid in ipairs(before) do
      for _, p in ipairs(now) do if p == pid then old_left = true end end
    end
    if not old_left and #now > 0 then return end
  end
  error("nginx did not reload within 5 s")
end

--- live.reconfigure(server, f): rewrites the server's conf/nginx.conf with f (its text
-- in, the new text out) and reloads nginx (live.reload).
function M.reconfigure(server, f)
  local conf = server.dir .. "/conf/nginx.conf"
  M.write(conf, f(M.read(conf)))
  M.reload(server)
end

--- live.add_locations(server, text): live.reconfigure of the OpenResty example
-- (live.openresty) with the location blocks text put before its catch-all
-- `location / {`; raises when the example has none.
function M.add_locations(server, text)
  M.reconfigure(server, function(c)
    local i = assert(c:find("\n    location / {", 1, true), "the example's nginx.conf has no `location / {`")
    return c:sub(1, i) .. text .. c:sub(i + 1)
  end)
end

--- text = live.log_since(server, mark): the error log after byte offset mark.
function M.log_since(server, mark)
  local s = M.read(server.log) or ""
  return s:sub((mark or 0) + 1)
end

function M.log_size(server)
  return #(M.read(server.log) or "")
end

return M
