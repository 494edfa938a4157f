-- Live servers for the integration specs: a temporary prefix readable by nginx's
-- workers, the live PKI (spec/fixtures/mkpki-live.sh), nginx started on a free
-- 127.0.0.1 port (retrying on "address in use"), curl and openssl s_client as
-- clients with bounded waits, and a stop by pid that always runs.
local M = {}

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.q = sh_quote

--- ok, output = live.run(cmd): runs a shell command, returns success and its stdout+stderr.
function M.run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc == 0, (out:gsub("__rc=%d+%s*$", "")), rc
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

--- dir = live.prefix(): a new temporary directory that nginx workers (nobody) can read.
function M.prefix()
  local ok, out = M.run("mktemp -d /tmp/clientcert-live.XXXXXX")
  assert(ok, out)
  local dir = out:gsub("%s+$", "")
  assert(M.run("chmod 755 " .. sh_quote(dir)))
  return dir
end

--- live.pki(dir): writes the live PKI into dir/pki (world-readable, keys included:
-- a throwaway test prefix).
function M.pki(dir)
  local ok, out = M.run(("env -u LD_PRELOAD bash spec/fixtures/mkpki-live.sh %s && chmod -R a+rX %s")
    :format(sh_quote(dir .. "/pki"), sh_quote(dir .. "/pki")))
  assert(ok, out)
  return dir .. "/pki"
end

local function sleep(s) os.execute("sleep " .. s) end
M.sleep = sleep

--- server = live.nginx(dir, conf_template): starts nginx with the template, whose
-- "@PORT@", "@PREFIX@" and "@ROOT@" are filled in, on a free port. @ROOT@ is a copy
-- of the checkout's lua/, build/luajit/ and spec/integration/ inside the prefix:
-- nginx's workers run as nobody when started by root and may not read a checkout
-- under a private home directory.
-- Returns {port, dir, pid, log = path}; raises when nginx cannot start.
function M.nginx(dir, template)
  local cwd = dir .. "/app"
  local ok0, out0 = M.run(("mkdir -p %s/build %s/spec && cp -R lua %s/ && cp -R build/luajit %s/build/ "
    .. "&& cp -R spec/integration %s/spec/ && chmod -R a+rX %s"):format(sh_quote(cwd), sh_quote(cwd),
    sh_quote(cwd), sh_quote(cwd), sh_quote(cwd), sh_quote(cwd)))
  assert(ok0, out0)
  for _, sub in ipairs({ "logs", "conf" }) do assert(M.run("mkdir -p " .. sh_quote(dir .. "/" .. sub))) end
  local last
  for attempt = 1, 20 do
    local port = 20000 + (os.time() * 7919 + attempt * 104729 + math.random(0, 9999)) % 40000
    local conf = template:gsub("@PORT@", tostring(port)):gsub("@PREFIX@", dir):gsub("@ROOT@", cwd)
    M.write(dir .. "/conf/nginx.conf", conf)
    os.remove(dir .. "/logs/error.log")
    local ok, out = M.run(("timeout 20 nginx -p %s/ -c conf/nginx.conf -e logs/error.log")
      :format(sh_quote(dir)))
    if ok then
      -- wait (bounded) for the pid file
      for _ = 1, 50 do
        local pid = M.read(dir .. "/logs/nginx.pid")
        if pid and pid:match("%d+") then
          return { port = port, dir = dir, pid = pid:match("%d+"), log = dir .. "/logs/error.log" }
        end
        sleep(0.1)
      end
      last = "nginx started but wrote no pid file"
    else
      last = out .. (M.read(dir .. "/logs/error.log") or "")
      if not last:find("Address already in use", 1, true) then break end
    end
  end
  error("cannot start nginx: " .. tostring(last))
end

--- live.stop(server): stops nginx by its pid (QUIT, then KILL after a bounded wait).
function M.stop(server)
  if not server or not server.pid then return end
  local pid = server.pid
  os.execute("kill -QUIT " .. pid .. " 2>/dev/null")
  for _ = 1, 50 do
    if not M.run("kill -0 " .. pid .. " 2>/dev/null") then break end
    sleep(0.1)
  end
  os.execute("kill -KILL " .. pid .. " 2>/dev/null; pkill -KILL -P " .. pid .. " 2>/dev/null")
  server.pid = nil
end

--- status, body = live.curl(server, path, {cert =, key =}): one HTTPS request, bounded.
function M.curl(server, path, opts)
  opts = opts or {}
  local body = os.tmpname()
  local cmd = ("curl -s -k --max-time 10 -o %s -w '%%{http_code}' "):format(sh_quote(body))
  if opts.cert then cmd = cmd .. "--cert " .. sh_quote(opts.cert) .. " " end
  if opts.key then cmd = cmd .. "--key " .. sh_quote(opts.key) .. " " end
  cmd = cmd .. sh_quote(("https://127.0.0.1:%d%s"):format(server.port, path))
  local _, out = M.run(cmd)
  local text = M.read(body) or ""
  os.remove(body)
  return tonumber(out:match("(%d%d%d)%s*$")), text
end

--- status, body = live.s_client(server, path, {cert, key, chain, sess_out, sess_in, tls}):
-- a request through openssl s_client (for session resumption), bounded.
function M.s_client(server, path, opts)
  local cmd = ("printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' | timeout 10 openssl s_client "
    .. "-quiet -ign_eof -connect 127.0.0.1:%d -servername localhost"):format(path, server.port)
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

--- text = live.log_since(server, mark): the error log after byte offset mark.
function M.log_since(server, mark)
  local s = M.read(server.log) or ""
  return s:sub((mark or 0) + 1)
end

function M.log_size(server)
  return #(M.read(server.log) or "")
end

return M
