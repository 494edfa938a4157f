-- One deadline for a whole fetch over nginx's cosockets, against a peer that
-- trickles its answer (a byte every 0.3 s: each read makes progress, none times
-- out). Real components: nginx with the lua module calling
-- revocation.cosocket_fetch, and a python3 peer, both stopped by pid.
local live = require "helpers.live"

local q = live.q

local HTTP = [[
  server {
    listen 127.0.0.1:@PORT@;
    location / {
      content_by_lua_block {
        local revocation = require "clientcert.revocation"
        local t0 = ngx.now()
        local body, err = revocation.cosocket_fetch("http://127.0.0.1:@PEER@/x", nil, 1, 65536)
        ngx.update_time()
        ngx.say(("%.2f %s"):format(ngx.now() - t0, tostring(body and "body" or err)))
      }
    }
  }]]

-- a peer that answers a status line at once, then one byte every 0.3 s for 20 s
local TRICKLE = [[
import socket, sys, threading, time
def serve(c):
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\r\n")
        for _ in range(66):
            time.sleep(0.3)
            c.sendall(b"X")
    except OSError:
        pass
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("ACCEPT", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
]]

describe("revocation.cosocket_fetch (nginx)", function()
  local dir, peer, nginx

  setup(function()
    dir = live.tempdir("clientcert-trickle")
    live.write(dir .. "/trickle.py", TRICKLE)
    live.tries(function()
      local port = live.free_port()
      peer = live.start{ dir = dir, name = "trickle", ready = "ACCEPT", seconds = 120,
                         cmd = ("python3 -u trickle.py %d"):format(port) }
      peer.port = port
      nginx = live.nginx(HTTP:gsub("@PEER@", tostring(port)), {}, { lua = true })
    end, function()
      live.discard(nginx)
      live.stop(peer)
    end)
  end)

  teardown(function()
    live.discard(nginx)
    live.stop(peer)
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  it("gives up on a trickling peer at the deadline (timeout 1 s), not when it stops", function()
    local _, out = live.run(("curl -s --max-time 30 http://127.0.0.1:%d/"):format(nginx.port))
    local secs, what = out:match("^([%d.]+) (.*)$")
    assert.is_not_nil(secs, out)
    assert.matches("timed out after 1 s", what, 1, true)
    assert.is_true(tonumber(secs) < 2, out)
  end)

  it("so does revocation.blocking_fetch (LuaSocket)", function()
    local socket = require "socket"
    local revocation = require "clientcert.revocation"
    local t0 = socket.gettime()
    local body, err = revocation.blocking_fetch(("http://127.0.0.1:%d/x"):format(peer.port), nil, 1, 65536)
    assert.is_nil(body)
    assert.matches("timed out after 1 s", err, 1, true)
    assert.is_true(socket.gettime() - t0 < 2)
  end)
end)
