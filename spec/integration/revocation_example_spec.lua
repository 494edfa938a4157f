-- examples/openresty/revocation/run.sh as a user runs it: the responder, the CRL
-- server and nginx start, and the cases it prints answer as it says.
local live = require "helpers.live"

local q = live.q

describe("the revocation example (examples/openresty/revocation/run.sh)", function()
  local dir, port

  setup(function()
    dir = live.tempdir("clientcert-revex")
    local ok, out = live.run("env -u LD_PRELOAD timeout 120 bash examples/openresty/revocation/run.sh --quiet "
      .. q(dir))
    assert(ok, out)
    port = tonumber((live.read(dir .. "/port") or ""):match("%d+"))
    assert(port, "no port")
  end)

  teardown(function()
    if not dir then return end
    local pid = (live.read(dir .. "/logs/nginx.pid") or ""):match("%d+")
    if pid then live.stop({ pid = pid }) end
    for _, name in ipairs({ "ocsp", "http" }) do
      local p = (live.read(dir .. "/" .. name .. ".pid") or ""):match("%d+")
      if p then live.stop({ pid = p, signal = "TERM" }) end
    end
    live.run("rm -rf " .. q(dir))
  end)

  local function status(leaf)
    local _, out = live.run(("curl -s --max-time 10 --cacert %s --cert %s --key %s -o /dev/null -w '%%{http_code}' "
      .. "https://127.0.0.1:%d/"):format(q(dir .. "/pki/root.pem"), q(dir .. "/pki/" .. leaf .. ".pem"),
      q(dir .. "/pki/" .. leaf .. ".key"), port))
    return tonumber(out:match("%d+"))
  end

  it("answers each case as run.sh says", function()
    assert.equals(200, status("leaf-good"))
    assert.equals(403, status("leaf-revoked"))
    assert.equals(403, status("leaf-ocsponly"))
    assert.equals(200, status("leaf-unknown"))
    assert.equals(403, status("leaf-dead"))
    assert.matches("revocation=ocsp", live.read(dir .. "/logs/error.log") or "", 1, true)
  end)
end)
