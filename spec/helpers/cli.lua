-- Running the clientcert command in specs: in-process through clientcert.cli.main
-- with captured streams (run), or as a real process, bin/clientcert under the
-- interpreter the specs run under (exec).
local cli = require "clientcert.cli"

local M = {}

local q = require("helpers.sh").quote
M.q = q

--- s = cli.sink(): a stream that keeps what is written to it (s.text() gives it back).
function M.sink()
  local buf = {}
  return { write = function(self, ...) for _, s in ipairs({ ... }) do buf[#buf + 1] = tostring(s) end
    return self end, text = function() return table.concat(buf) end }
end

--- code, stdout, stderr = cli.run(args...): clientcert.cli.main with captured streams.
function M.run(...)
  local out, err = M.sink(), M.sink()
  local code = cli.main({ ... }, out, err)
  return code, out.text(), err.text()
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  os.remove(path)
  return s
end

--- cmd = cli.lua_command([lpath[, env]]): the start of a shell command that runs the
-- interpreter the specs run under (CLIENTCERT_LUA, else this one) with the checkout's
-- modules: LUA_PATH lpath (default ./lua/?.lua;./lua/?/init.lua;;), LUA_CPATH this
-- process's package.cpath, and env ({ NAME = value }). A sanitizer runtime this process
-- was started with (make asan) is passed on to the interpreter only, which loads the
-- sanitized module, never to the shell, timeout or script(1) around it.
function M.lua_command(lpath, env)
  local words = { "env", "LUA_PATH=" .. q(lpath or "./lua/?.lua;./lua/?/init.lua;;"), "LUA_CPATH=" .. q(package.cpath) }
  local preload = os.getenv("LD_PRELOAD")
  if preload and preload ~= "" then words[#words + 1] = "LD_PRELOAD=" .. q(preload) end
  for k, v in pairs(env or {}) do words[#words + 1] = k .. "=" .. q(v) end
  words[#words + 1] = os.getenv("CLIENTCERT_LUA") or (jit and "luajit" or "lua5.4")
  return table.concat(words, " ")
end

--- code, output = cli.child(src[, opts]): Lua source src run in a child process by
-- the interpreter of cli.lua_command, with the checkout's modules and the spec
-- helpers; output is its stdout and stderr together. opts.seconds: time limit
-- (default 60; code 124 is a hang); opts.vlimit_kb: an address-space limit (ulimit
-- -v), not set under a sanitizer runtime, whose shadow memory reserves terabytes.
-- Codes 139 (128 + SIGSEGV) and 134 (SIGABRT) are crashes.
function M.child(src, opts)
  opts = opts or {}
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "wb"))
  f:write(src)
  f:close()
  local preload = os.getenv("LD_PRELOAD")
  local limit = ""
  if opts.vlimit_kb and not (preload and preload ~= "") then limit = ("ulimit -v %d; "):format(opts.vlimit_kb) end
  local cmd = ("%stimeout %d %s %s >%s 2>&1; echo $?"):format(limit, opts.seconds or 60,
    M.lua_command("./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;"), q(script), q(out))
  local p = assert(io.popen("exec env -u LD_PRELOAD sh -c " .. q(cmd)))
  local code = tonumber((p:read("*a") or ""):match("(%d+)%s*$"))
  p:close()
  os.remove(script)
  return code, slurp(out)
end

--- code, stdout, stderr = cli.exec(args[, opts]): bin/clientcert as a process under
-- cli.lua_command. opts.stdin: text fed on stdin (default: /dev/null); opts.env:
-- { NAME = value } added to the environment.
function M.exec(args, opts)
  opts = opts or {}
  local outp, errp, inp = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(inp, "wb"))
  f:write(opts.stdin or "")
  f:close()
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  local cmd = ("%s bin/clientcert %s <%s >%s 2>%s; echo $?"):format(M.lua_command(nil, opts.env),
    table.concat(words, " "), q(inp), q(outp), q(errp))
  local p = assert(io.popen("exec env -u LD_PRELOAD sh -c " .. q(cmd)))
  local rc = tonumber((p:read("*a") or ""):match("(%d+)%s*$"))
  p:close()
  os.remove(inp)
  return rc, slurp(outp), slurp(errp)
end

return M
