-- clientcert check-policy FILE [--param K=V]... (issue 17, "Reloads an operator can
-- trust"): loads a policy as the OpenResty gate would, the test before a reload.
local runner = require "helpers.cli"
local pki = require "helpers.pki"
local run, exec = runner.run, runner.exec

local write = require("helpers.live").write

local POLICY = [[
local d = params.dir
return { mode = params.mode or "require",
         trust = assert(clientcert.store{ roots = d .. "/root.pem", intermediates = d .. "/inter.pem",
                                          crls = list(params.crl) }),
         verify = { crl = "chain" } }
]]

describe("clientcert check-policy", function()
  local file = os.tmpname()
  setup(function() write(file, POLICY) end)
  teardown(function() os.remove(file) end)

  it("loads a policy with its params and prints one summary line", function()
    local code, out, eout = run("check-policy", file, "--param", "dir=" .. pki.dir,
      "--param", "crl=" .. pki.path("root.crl"), "--param", "crl=" .. pki.path("inter.crl"))
    assert.equals("", eout)
    assert.equals(0, code)
    assert.equals(("clientcert check-policy: %s: ok (mode require; 1 root, 1 intermediate, 2 CRLs; 5 files read: "
      .. "%s %s %s %s %s)\n"):format(file, file, pki.path("root.pem"), pki.path("inter.pem"), pki.path("root.crl"),
      pki.path("inter.crl")), out)
  end)

  it("exits 2 with the error on one line", function()
    local code, out, eout = run("check-policy", file)
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("^clientcert%.load_policy: " .. file:gsub("%p", "%%%0") .. ": [^\n]*nil[^\n]*\n$", eout)
    local bad = write(os.tmpname(), "return {mode = \"off\"\n")
    code, out, eout = run("check-policy", bad)
    os.remove(bad)
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("^clientcert%.load_policy: [^\n]+\n$", eout)
    code, out, eout = run("check-policy", file, "--param", "dir")
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals("clientcert: --param wants KEY=VALUE, got 'dir'\n", eout)
  end)

  it("refuses what the gate refuses: a truncated CRL file, a policy over its budget", function()
    local cut = write(os.tmpname(), pki.read("root.crl") .. pki.read("inter.crl"):sub(1, 100))
    local code, out, eout = run("check-policy", file, "--param", "dir=" .. pki.dir, "--param", "crl=" .. cut)
    os.remove(cut)
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals(("clientcert.load_policy: %s: %s:3: clientcert.store: %s: truncated PEM block at byte %d "
      .. "(a \"-----BEGIN\" without its \"-----END\" line)\n"):format(file, file, cut, #pki.read("root.crl")), eout)
    local loop = write(os.tmpname(), "while true do end\n")
    code, out, eout = run("check-policy", loop)
    os.remove(loop)
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("ran for more than %d+ instructions\n$", eout)
  end)

  it("names the store that failed when the file has no assert() around clientcert.store", function()
    local noassert = write(os.tmpname(), "return { trust = clientcert.store{ roots = params.dir .. '/nope.pem' } }\n")
    local code, out, eout = run("check-policy", noassert, "--param", "dir=" .. pki.dir)
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals(("clientcert.load_policy: %s: clientcert.policy: trust must be a clientcert.store (unless mode = "
      .. "\"off\"); a clientcert.store call of the file returned nil: clientcert.store: cannot open %s/nope.pem: "
      .. "No such file or directory\n"):format(noassert, pki.dir), eout)
    -- a raise of clientcert.store still names the file's line
    write(noassert, "local x = 1\nreturn { trust = clientcert.store{ rootz = 'x' } }\n")
    code, out, eout = run("check-policy", noassert)
    os.remove(noassert)
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals(("clientcert.load_policy: %s: %s:2: clientcert.store: unknown key 'rootz'\n"):format(noassert,
      noassert), eout)
  end)

  it("runs as a real command", function()
    local code, out, eout = exec({ "check-policy", file, "--param", "dir=" .. pki.dir, "--param", "mode=optional" })
    assert.equals("", eout)
    assert.equals(0, code)
    assert.matches("^clientcert check%-policy: .*: ok %(mode optional; 1 root, 1 intermediate, 0 CRLs; 3 files read: ",
      out)
  end)
end)
