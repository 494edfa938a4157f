-- Bounded reads (issue 8, item 6): every file clientcert reads (certificates,
-- CRLs, store specs, policy files, the CLI's inputs) is a regular file read up
-- to a limit; a directory, FIFO or device is refused at once with its path.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local runner = require "helpers.cli"
local run = runner.run
local pki = require "helpers.pki"

local sh_quote = require("helpers.sh").quote

-- a fresh temporary directory holding a FIFO (no writer) and a subdirectory
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. sh_quote(dir .. "/sub") .. " && mkfifo " .. sh_quote(dir .. "/fifo")))
local FIFO, SUBDIR = dir .. "/fifo", dir .. "/sub"

local write_file = require("helpers.live").write

describe("bounded reads", function()
  teardown(function() os.execute("rm -rf " .. sh_quote(dir)) end)

  it("refuse a FIFO at once, naming it, for every loader", function()
    -- a writer that turns up after 20 s: a reader that blocked in open() would wait
    -- for it (a hang guard with room for slow runs such as valgrind's, not a speed test)
    os.execute(("(sleep 20; timeout 5 sh -c 'printf x > %s') >/dev/null 2>&1 &"):format(sh_quote(FIFO)))
    local t0 = os.time()
    local c, err = clientcert.load(FIFO)
    assert.is_nil(c)
    assert.equals(("clientcert.load: %s: not a regular file (a FIFO)"):format(FIFO), err)
    assert.equals(("clientcert.load_policy: %s: not a regular file (a FIFO)"):format(FIFO),
      select(2, clientcert.load_policy(FIFO)))
    assert.equals(("clientcert.load_crl: %s: not a regular file (a FIFO)"):format(FIFO),
      select(2, clientcert.load_crl(FIFO)))
    assert.equals(("clientcert.store: %s: not a regular file (a FIFO)"):format(FIFO),
      select(2, clientcert.store{ roots = { FIFO } }))
    local code, out, eout = run("info", FIFO)
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals(("clientcert.info: %s: not a regular file (a FIFO)\n"):format(FIFO), eout)
    assert.is_true(os.time() - t0 < 15, "reading a FIFO must not wait for a writer")
  end)

  it("refuse a character device (/dev/zero) instead of reading it forever", function()
    assert.equals("clientcert.load: /dev/zero: not a regular file (a character device)",
      select(2, clientcert.load("/dev/zero")))
    assert.equals("clientcert.load_all: /dev/zero: not a regular file (a character device)",
      select(2, clientcert.load_all("/dev/zero")))
    assert.equals("clientcert.load_policy: /dev/zero: not a regular file (a character device)",
      select(2, clientcert.load_policy("/dev/zero")))
    assert.equals("clientcert.store: /dev/zero: not a regular file (a character device)",
      select(2, clientcert.store{ crls = "/dev/zero" }))
    local code, _, eout = run("check", pki.path("alice.pem"), "--policy", "/dev/zero")
    assert.equals(2, code)
    assert.equals("clientcert.load_policy: /dev/zero: not a regular file (a character device)\n", eout)
    code, _, eout = run("match-key", pki.path("alice.pem"), "/dev/zero")
    assert.equals(2, code)
    assert.equals("clientcert.match_key: /dev/zero: not a regular file (a character device)\n", eout)
  end)

  it("refuse a directory with a clear error (CLI: one line on stderr, exit 2)", function()
    assert.equals(("clientcert.load: %s: not a regular file (a directory)"):format(SUBDIR),
      select(2, clientcert.load(SUBDIR)))
    assert.equals(("clientcert.load_policy: %s: not a regular file (a directory)"):format(SUBDIR),
      select(2, clientcert.load_policy(SUBDIR)))
    for _, args in ipairs({
      { "info", SUBDIR },
      { "verify", SUBDIR, "--roots", pki.path("root.pem"), "--time", "2030-06-01" },
      { "verify", pki.path("alice.pem"), "--roots", SUBDIR, "--time", "2030-06-01" },
      { "check", SUBDIR, "--policy", "examples/policies/optional-api.lua", "--param", "roots=" .. pki.path("root.pem"),
        "--param", "intermediates=" .. pki.path("inter.pem"), "--time", "2030-06-01" },
      { "check", pki.path("alice.pem"), "--policy", SUBDIR },
      { "check", pki.path("alice.pem"), "--policy", "examples/policies/optional-api.lua",
        "--param", "roots=" .. pki.path("root.pem"), "--param", "intermediates=" .. pki.path("inter.pem"),
        "--key", SUBDIR, "--time", "2030-06-01" },
      -- (audit-store --roots takes a directory: spec/cli_audit_spec.lua)
    }) do
      local code, out, eout = run(require("clientcert.compat").unpack(args))
      assert.equals(2, code, args[1])
      assert.equals("", out)
      local want = SUBDIR:gsub("%p", "%%%0") .. ": not a regular file %(a directory%)\n$"
      assert.matches("^clientcert%.[%w_.]+: [^\n]*" .. want, eout)
    end
  end)

  it("read a regular file whose size is reported as 0 (/proc), up to the limit only", function()
    local data = assert(core.read_file("/proc/self/status", 1024 * 1024, "test"))
    assert.matches("^Name:", data)
    assert.equals("clientcert.test: /proc/self/status: larger than 10 bytes",
      select(2, core.read_file("/proc/self/status", 10, "test")))
    -- a loader reads it and then finds no certificate in it
    local c, err = clientcert.load("/proc/self/status")
    assert.is_nil(c)
    assert.matches("^clientcert%.load: /proc/self/status: ", err)
    assert.not_matches("not a regular file", err, 1, true)
  end)

  it("apply the limits: 1 MiB for a policy file, the given limit exactly", function()
    local big = write_file(dir .. "/big.lua", "return {}" .. string.rep(" ", 1024 * 1024))
    assert.equals(("clientcert.load_policy: %s: larger than 1 MiB"):format(big), select(2, clientcert.load_policy(big)))
    local exact = write_file(dir .. "/exact", string.rep("x", 4096))
    assert.equals(4096, #assert(core.read_file(exact, 4096, "test")))
    assert.equals(("clientcert.test: %s: larger than 4095 bytes"):format(exact),
      select(2, core.read_file(exact, 4095, "test")))
    assert.equals(("clientcert.test: %s: larger than 1 KiB"):format(exact),
      select(2, core.read_file(exact, 1024, "test")))
  end)

  it("name a missing file, and refuse a path with a NUL byte", function()
    assert.matches("^clientcert%.load: cannot open " .. dir:gsub("%p", "%%%0") .. "/none%.pem: No such file",
      select(2, clientcert.load(dir .. "/none.pem")))
    assert.equals("clientcert.load: path contains a NUL byte",
      select(2, clientcert.load(pki.path("alice.pem") .. "\0x")))
    assert.has_error(function() clientcert.load(42) end, "clientcert.load: path must be a string, got number")
  end)
end)
