-- `clientcert crl-status` and `clientcert scan`, run as real processes (bin/clientcert)
-- on the generated PKI (spec/fixtures/cli_audit.sh).
local exec = require("helpers.cli").exec
local cjson = require "cjson"
local pki = require "helpers.pki"

local T = "2030-06-01"

-- bad(args, pattern): exit 2, nothing on stdout, one line on stderr matching pattern.
local function bad(args, pattern)
  local code, out, err = exec(args)
  assert.equals(2, code)
  assert.equals("", out)
  assert.matches(pattern, err)
  assert.equals(1, select(2, err:gsub("\n", "")))    -- one line
  return err
end

describe("clientcert crl-status", function()
  it("a current CRL verified by its issuer exits 0, with its dates and entries", function()
    local code, out, err = exec{ "crl-status", "--crl", pki.path("inter.crl"), "--roots", pki.path("root.pem"),
                                 "--intermediates", pki.path("inter.pem"), "--time", T }
    assert.equals(0, code)
    assert.equals("", err)
    assert.matches(pki.path("inter.crl") .. ": CRL of CN=Test Issuing CA,O=clientcert tests\n", out, 1, true)
    assert.matches("  signature:   ok (verified with the issuer's key)\n", out, 1, true)
    assert.matches("  this update: 2029-01-01T00:00:00Z\n", out, 1, true)
    assert.matches("  next update: 2031-01-01T00:00:00Z\n", out, 1, true)
    assert.matches("  entries:     1", out, 1, true)
    assert.matches("  status:      current\n", out, 1, true)
    assert.matches("Result: OK\n$", out)
  end)

  it("reports a stale CRL, one going stale within --warn-days, and a bad signature (JSON)", function()
    local code, out = exec{ "crl-status", "--crl", pki.path("inter-stale.crl"), "--crl", pki.path("inter-soon.crl"),
                            "--crl", pki.path("forged-inter-alice.crl"), "--crl", pki.path("crls.pem"),
                            "--roots", pki.path("root.pem"), "--intermediates", pki.path("inter.pem"),
                            "--time", T, "--json" }
    assert.equals(1, code)
    local r = cjson.decode(out)
    assert.is_false(r.ok)
    assert.equals(5, #r.crls)
    local stale, soon, forged, root_crl, inter_crl = r.crls[1], r.crls[2], r.crls[3], r.crls[4], r.crls[5]
    assert.equals("stale", stale.state)
    assert.equals("ok", stale.signature)
    assert.equals("stale", stale.problems[1].check)
    assert.matches("went stale on 2029-06-01T00:00:00Z", stale.problems[1].message, 1, true)
    assert.equals("stale_soon", soon.state)
    assert.equals(9, soon.days_left)
    assert.equals("bad", forged.signature)
    assert.equals("bad_signature", forged.problems[1].check)
    assert.equals("CN=Test Issuing CA,O=clientcert tests", forged.issuer)
    assert.equals(1, forged.count)
    -- a bundle: one entry per CRL, each with its index
    assert.equals(pki.path("crls.pem"), root_crl.file)
    assert.equals(1, root_crl.index)
    assert.equals(2, inter_crl.index)
    assert.equals("CN=Test Root CA,O=clientcert tests", root_crl.issuer)
    assert.is_true(root_crl.ok and inter_crl.ok)
    assert.equals(1906502400, r.time)
  end)

  it("--warn-days narrows the window; text says STALE SOON", function()
    local code, out = exec{ "crl-status", "--crl", pki.path("inter-soon.crl"), "--time", T, "--warn-days", "5" }
    assert.equals(0, code)
    assert.matches("status:      current", out, 1, true)
    code, out = exec{ "crl-status", "--crl", pki.path("inter-soon.crl"), "--time", T }
    assert.equals(1, code)
    assert.matches("status:      STALE SOON", out, 1, true)
    assert.matches("- stale_soon: The CRL of CN=Test Issuing CA,O=clientcert tests goes stale on 2030-06-10T00:00:00Z",
      out, 1, true)
  end)

  it("says when the issuer is not given, or not among the certificates given", function()
    local code, out = exec{ "crl-status", "--crl", pki.path("inter.crl"), "--time", T }
    assert.equals(0, code)
    assert.matches("signature:   not checked: issuer not given (--roots/--intermediates)", out, 1, true)
    code, out = exec{ "crl-status", "--crl", pki.path("inter.crl"), "--roots", pki.path("other-root.pem"),
                      "--time", T, "--json" }
    assert.equals(1, code)
    local e = cjson.decode(out).crls[1]
    assert.equals("no_issuer", e.signature)
    assert.equals("issuer_not_found", e.problems[1].check)
  end)

  it("bad input: a missing file, a PEM with garbage, an unknown flag", function()
    bad({ "crl-status", "--crl", pki.path("no-such.crl") }, "^clientcert%.crl_status: cannot open .*no%-such%.crl: ")
    bad({ "crl-status", "--crl", pki.path("scan/junk/garbage.pem") }, "^clientcert%.crl_status: .*garbage%.pem: ")
    bad({ "crl-status", "--crl", pki.path("inter.crl"), "--roots", pki.path("scan/junk/garbage.pem") },
      "garbage%.pem")
    bad({ "crl-status", "--crl", pki.path("inter.crl"), "--nope" }, "unknown option '%-%-nope'")
    bad({ "crl-status" }, "needs %-%-crl FILE or %-%-fetch")
    -- --timeout times downloads only: without --fetch it was ignored (even 0)
    bad({ "crl-status", "--crl", pki.path("inter.crl"), "--timeout", "0" },
      "^clientcert: %-%-timeout goes with %-%-fetch\n$")
    bad({ "crl-status", "--fetch", "--roots", pki.path("root.pem"), "--timeout", "601" },
      "^clientcert: %-%-timeout wants seconds between 0 and 600, got '601'\n$")
  end)
end)

describe("clientcert scan", function()
  local ARGS = { "scan", pki.path("scan"), "--roots", pki.path("root.pem"), "--intermediates", pki.path("inter.pem"),
                 "--crl", pki.path("crls.pem"), "--crl", pki.path("chain1.crl"), "--time", T }
  local function args(...)
    local t = {}
    for _, v in ipairs(ARGS) do t[#t + 1] = v end
    for _, v in ipairs({ ... }) do t[#t + 1] = v end
    return t
  end

  it("counts every file of the tree by cause, lists rejections, expiring certificates and garbage (JSON)", function()
    local code, out, err = exec(args("--json"))
    assert.equals(1, code)
    assert.equals("", err)                               -- no progress bar: stderr is not a terminal
    local r = cjson.decode(out)
    assert.equals(10, r.files)                            -- the link to a directory is not followed
    assert.equals(7, r.certificates)
    assert.equals(3, r.unreadable)
    local counts = {}
    for _, b in ipairs(r.by_cause) do counts[b.cause] = { b.count, b.substatus } end
    assert.same({ 3, "200" }, counts.ok)                  -- alice.pem, bob.der, soon-leaf.pem
    assert.same({ 1, "403.17" }, counts.expired)          -- old.pem
    assert.same({ 1, "403.13" }, counts.revoked)          -- mallory.pem
    assert.same({ 1, "403.16" }, counts.untrusted_root)   -- oscar.pem (with its intermediate)
    -- longleaf's bundle carries its chain, whose CAs 2-4 have no CRL
    assert.same({ 1, "403.16" }, counts.revocation_unknown)
    local total = 0
    for _, b in ipairs(r.by_cause) do total = total + b.count end
    assert.equals(7, total)
    assert.equals(r.accepted + r.rejected, 7)
    local unread = {}
    for _, u in ipairs(r.unreadable_files) do unread[#unread + 1] = u.file:match("[^/]+$") end
    assert.same({ "empty.crt", "garbage.pem", "random.bin" }, unread)
    assert.equals(1, #r.expiring)
    assert.equals(pki.path("scan/team-b/soon-leaf.pem"), r.expiring[1].file)
    assert.equals(14, r.expiring[1].days_left)
    local rej = {}
    for _, x in ipairs(r.rejected_files) do rej[x.file:match("[^/]+$")] = x.cause end
    assert.equals("revoked", rej["mallory.pem"])
    assert.equals("expired", rej["old.pem"])
    assert.is_nil(rej["alice.pem"])
  end)

  it("prints the summary table by cause with its 403.x", function()
    local code, out = exec(args())
    assert.equals(1, code)
    assert.matches("Scanned " .. pki.path("scan") .. " at 2030-06-01T00:00:00Z: 10 files, 7 certificates", out, 1, true)
    assert.matches("\n       1  403.17   expired %(", out)
    assert.matches("\n       1  403.13   revoked %(", out)
    assert.matches("\n       3  %-        unreadable %(not a certificate%)", out)
    assert.matches("Expiring within 30 days (1):\n  " .. pki.path("scan/team-b/soon-leaf.pem")
      .. ": CN=soon-leaf,O=clientcert tests expires 2030-06-15T00:00:00Z (14 days)", out, 1, true)
    assert.matches(pki.path("scan/junk/garbage.pem") .. ": ", out, 1, true)
    assert.matches("Result: PROBLEMS FOUND\n$", out)
  end)

  it("names the CRLs going stale within --warn-days and how many scanned certificates depend on them", function()
    local code, out = exec{ "scan", pki.path("scan/team-a"), "--roots", pki.path("root.pem"),
                            "--intermediates", pki.path("inter.pem"), "--crl", pki.path("root.crl"),
                            "--crl", pki.path("inter-soon.crl"), "--time", T, "--json" }
    assert.equals(1, code)
    local r = cjson.decode(out)
    assert.equals(1, #r.stale_crls)
    local s = r.stale_crls[1]
    assert.equals("CN=Test Issuing CA,O=clientcert tests", s.issuer)
    assert.is_false(s.stale)
    -- alice.pem, bob.der and old.pem (deep/) are issued by the Test Issuing CA
    assert.equals(3, s.certificates)
    local json
    code, json = exec{ "scan", pki.path("scan/team-a"), "--roots", pki.path("root.pem"), "--intermediates",
                       pki.path("inter.pem"), "--crl", pki.path("root.crl"), "--crl", pki.path("inter-soon.crl"),
                       "--time", T, "--warn-days", "5", "--json" }
    assert.equals(0, #cjson.decode(json).stale_crls)
    assert.equals(1, code)                                 -- old.pem is still expired
  end)

  it("draws a progress bar on stderr only when it is a terminal (script(1) gives it one)", function()
    local q = require("helpers.cli").q
    local inner = ("%s bin/clientcert scan %s --roots %s --time %s >/dev/null"):format(
      require("helpers.cli").lua_command(), q(pki.path("scan")), q(pki.path("root.pem")), T)
    local p = assert(io.popen("env -u LD_PRELOAD script -qec " .. q(inner) .. " /dev/null"))
    local tty = p:read("*a")
    p:close()
    assert.matches("\r%[#+%.*%] 1/10 files", tty)
    assert.matches("\r%[" .. ("#"):rep(40) .. "%] 10/10 files", tty)
    -- and the same run with stderr redirected draws nothing (the JSON test above: stderr "")
  end)

  it("a clean tree exits 0", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/a && cp " .. pki.path("alice.pem") .. " " .. dir .. "/a/"))
    local code, out = exec{ "scan", dir, "--roots", pki.path("root.pem"), "--intermediates", pki.path("inter.pem"),
                            "--time", T }
    os.execute("rm -rf " .. dir)
    assert.equals(0, code)
    assert.matches("1 accepted, 0 rejected, 0 unreadable", out, 1, true)
    assert.matches("Result: OK\n$", out)
  end)

  it("bad input: a missing directory, a directory without certificates, a file, an unknown flag", function()
    bad({ "scan", pki.path("no-such-dir"), "--roots", pki.path("root.pem") },
      "^clientcert%.scan: .*no%-such%-dir: No such file or directory\n$")
    bad({ "scan", pki.path("scan/junk"), "--roots", pki.path("root.pem") },
      "^clientcert%.scan: .*scan/junk: no certificate file under this directory %(3 files, none a certificate%)\n$")
    bad({ "scan", pki.path("alice.pem"), "--roots", pki.path("root.pem") }, "alice%.pem: not a directory\n$")
    bad({ "scan", pki.path("scan"), "--roots", pki.path("scan/junk/garbage.pem") }, "garbage%.pem")
    bad({ "scan", pki.path("scan"), "--roots", pki.path("root.pem"), "--bogus" }, "unknown option '%-%-bogus'")
  end)
end)

describe("audit-store, crl-status and scan on the demo PKI", function()
  local q = require("helpers.cli").q
  local dir = os.tmpname()
  os.remove(dir)
  local ok = os.execute("env -u LD_PRELOAD bash examples/demo-pki.sh " .. q(dir) .. " >/dev/null 2>&1"
    .. " && cat " .. q(dir .. "/root.pem") .. " " .. q(dir .. "/inter.pem") .. " > " .. q(dir .. "/store.pem"))
  assert(ok == true or ok == 0, "examples/demo-pki.sh failed")
  local function p(name) return dir .. "/" .. name end

  it("audit-store prints what docs/cli.md shows for an intermediate among the roots", function()
    local f = assert(io.open("docs/cli.md", "rb"))
    local readme = f:read("*a")
    f:close()
    local cmd, block = readme:match("<!%-%- audit%-store%-inter: clientcert ([^\n]-) %-%->\n```\n%$ [^\n]*\n(.-)```")
    assert.truthy(cmd, "docs/cli.md block audit-store-inter not found")
    local args = {}
    for w in cmd:gmatch("%S+") do args[#args + 1] = w:match("%.pem$") and p(w) or w end
    local code, out, err = exec(args)
    assert.equals("", err)
    assert.equals(1, code)
    assert.equals(block, out)
  end)

  it("audit-store on the demo root alone, crl-status on its CRL, scan of the demo directory", function()
    assert.equals(0, (exec{ "audit-store", "--roots", p("root.pem"), "--time", T }))
    local code, out = exec{ "crl-status", "--crl", p("inter.crl"), "--roots", p("root.pem"), "--intermediates",
                            p("inter.pem"), "--time", T }
    assert.equals(0, code)
    assert.matches("CRL of O=Demo Corp,CN=Demo Issuing CA", out, 1, true)
    assert.matches("signature:   ok", out, 1, true)
    local json
    code, json = exec{ "scan", dir, "--roots", p("root.pem"), "--intermediates", p("inter.pem"), "--time", T,
                       "--json" }
    assert.equals(1, code)
    local r = cjson.decode(json)
    local counts = {}
    for _, b in ipairs(r.by_cause) do counts[b.cause] = b.count end
    -- alice accepted, bob expired (each twice: the file and its copy in the CA's ca/newcerts)
    assert.equals(2, counts.expired)
    assert.is_true(counts.ok >= 1)
    assert.is_true(r.unreadable >= 7)                       -- the keys, ca.cnf, inter.crl, the CA database
  end)
end)
