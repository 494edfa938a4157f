-- `clientcert check` run as a real process on the test PKI: every seed cause
-- diagnosed from the command line alone (--roots, no policy file), the
-- certification path tree, JSON through a decoder, PKCS#12 and bad input.
local runner = require "helpers.cli"
local cjson = require "cjson"
local pki = require "helpers.pki"
local clientcert = require "clientcert"

local P = pki.path
local T = "2030-06-01"
local unpack_ = require("clientcert.compat").unpack

-- code, out, err = check(args...): `clientcert check ARGS --time 2030-06-01` as a process.
local function check(...)
  local args = { "check", ... }
  args[#args + 1] = "--time"
  args[#args + 1] = T
  return runner.exec(args)
end

-- The numbered resolution steps of a text output, as {who, step} pairs.
local function steps(out)
  local list = {}
  for who, step in out:gmatch("\n  %d+%. %[([^%]]+)%] ([^\n]+)") do list[#list + 1] = { who, step } end
  return list
end

describe("clientcert check --roots (no policy file)", function()
  it("a valid client: 200 OK, exit 0, the path tree root first", function()
    local code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))
    assert.equals("", err)
    assert.equals(0, code)
    assert.matches("^200 OK\nCause: ok\nThe client certificate CN=alice,O=clientcert tests %(issuer ", out)
    assert.not_matches("How to fix", out, 1, true)
    local tree = out:match("Certification path %(checked at 2030%-06%-01T00:00:00Z%):\n(.*)$")
    assert.is_truthy(tree)
    assert.equals(table.concat({
      "✓ CN=Test Root CA,O=clientcert tests  (trusted root)",
      "  valid 2020-01-01T00:00:00Z .. 2040-01-01T00:00:00Z, serial 1000",
      "└─ ✓ CN=Test Issuing CA,O=clientcert tests",
      "     valid 2020-01-01T00:00:00Z .. 2040-01-01T00:00:00Z, serial 1001",
      "   └─ ✓ CN=alice,O=clientcert tests  (client)",
      "        valid 2020-01-01T00:00:00Z .. 2040-01-01T00:00:00Z, serial 1002",
      "" }, "\n"), tree)
  end)

  it("no certificate (CERT omitted): 403.7", function()
    local code, out, err = check("--roots", P("root.pem"))
    assert.equals("", err)
    assert.equals(1, code)
    assert.matches("^403%.7 Forbidden: Client certificate required\nCause: no_certificate\n", out)
    assert.matches("The client sent no certificate.", out, 1, true)
    local s = steps(out)
    assert.equals(2, #s)
    assert.same({ "client owner", "server operator" }, { s[1][1], s[2][1] })
    assert.matches("(none: there is no client certificate)", out, 1, true)
  end)

  it("untrusted root: 403.16 untrusted_root, the foreign root marked in the tree", function()
    local code, out = check(P("oscar.pem"), "--chain", P("oscar-chain.pem"), "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("^403%.16 Forbidden: Client's root CA is not trusted\nCause: untrusted_root\n", out)
    assert.matches("ends at the root CA CN=Elsewhere Root CA,O=Elsewhere Ltd", out, 1, true)
    -- worded for this command: its flags, not another server's settings
    assert.matches("1. [server operator] If clients of this CA should be accepted, give its root CA certificate "
      .. "with --roots", out, 1, true)
    assert.not_matches("IIS", out, 1, true)
    assert.matches("\n✗ CN=Elsewhere Root CA,O=Elsewhere Ltd\n", out, 1, true)
    assert.matches("\n  ✗ untrusted_root: self", out, 1, true)
  end)

  it("missing intermediate: the issuer that was not found is shown above the top of the path", function()
    local code, out = check(P("alice.pem"), "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("^403%.16 Forbidden: Intermediate CA missing\nCause: missing_intermediate\n", out)
    assert.matches("\n✗ CN=Test Issuing CA,O=clientcert tests  (not found: neither sent by the client nor "
      .. "installed on the server)\n└─ ✗ CN=alice,O=clientcert tests  (client)\n", out, 1, true)
  end)

  it("expired: 403.17, the client's element marked expired", function()
    local code, out = check(P("old.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))
    assert.equals(1, code)
    assert.matches("^403%.17 Forbidden: Certificate expired\nCause: expired\n", out)
    assert.matches("expired on 2025-01-01T00:00:00Z (checked at 2030-06-01T00:00:00Z)", out, 1, true)
    assert.same({ "client owner", "Renew the certificate with your CA and install the new one with its key." },
      steps(out)[1])
    assert.matches("   └─ ✗ CN=old,O=clientcert tests  (client)\n        valid 2020-01-01T00:00:00Z .. "
      .. "2025-01-01T00:00:00Z, serial 1006\n        ✗ expired: certificate has expired\n", out, 1, true)
  end)

  it("not yet valid: 403.17 not_yet_valid", function()
    local code, out = check(P("future.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))
    assert.equals(1, code)
    assert.matches("^403%.17 Forbidden: Certificate not yet valid\nCause: not_yet_valid\n", out)
    assert.matches("is not valid before 2035-01-01T00:00:00Z", out, 1, true)
    assert.equals("server operator", steps(out)[2][1])
  end)

  it("revoked (--crl): 403.13 with the revocation reason", function()
    local code, out = check(P("mallory.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"),
      "--crl", P("crls.pem"))
    assert.equals(1, code)
    assert.matches("^403%.13 Forbidden: Client certificate revoked\nCause: revoked\n", out)
    assert.matches("reason: keyCompromise", out, 1, true)
    assert.matches("1. [client owner] Stop using this certificate", out, 1, true)
    assert.matches("✗ revoked: certificate revoked", out, 1, true)
    -- without --crl nothing says it is revoked
    assert.equals(0, (check(P("mallory.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))))
  end)

  it("no private key (--key with a wrong key): 403.7 no_private_key, marked on the client", function()
    local code, out = check(P("alice.pem"), "--key", P("wrong.key"), "--roots", P("root.pem"),
      "--intermediates", P("inter.pem"))
    assert.equals(1, code)
    assert.matches("^403%.7 Forbidden: No private key for the client certificate\nCause: no_private_key\n", out)
    assert.matches("clientcert match-key CERT KEY", out, 1, true)
    assert.matches("(client)\n        valid 2020-01-01T00:00:00Z .. 2040-01-01T00:00:00Z, serial 1002\n"
      .. "        ✗ no_private_key: ", out, 1, true)
    -- and her own key passes
    assert.equals(0, (check(P("alice.pem"), "--key", P("alice.key"), "--roots", P("root.pem"),
      "--intermediates", P("inter.pem"))))
  end)

  it("intermediate among the roots: 403.16 intermediate_in_roots even for a valid path", function()
    local code, out = check(P("alice.pem"), "--roots", P("roots-with-inter.pem"))
    assert.equals(1, code)
    assert.matches("^403%.16 Forbidden: Intermediate CA among the trusted roots\nCause: intermediate_in_roots\n",
      out)
    assert.matches("holds the intermediate CA CN=Test Issuing CA,O=clientcert tests, which is not self-signed",
      out, 1, true)
    assert.matches("Note: clientcert's own verification accepts this client's path", out, 1, true)
    assert.same({ "server operator" }, { steps(out)[1][1] })
    assert.matches("└─ ✗ CN=Test Issuing CA,O=clientcert tests  (trusted, but not self-signed)", out, 1, true)
    -- a rejection for another cause keeps that cause and names this one in Also, with its fix
    code, out = check(P("old.pem"), "--roots", P("roots-with-inter.pem"))
    assert.equals(1, code)
    assert.matches("^403%.17 Forbidden: Certificate expired\n", out)
    assert.matches("\nAlso: intermediate_in_roots (403.16 Intermediate CA among the trusted roots)\n", out, 1, true)
    assert.matches("\n    1. [server operator] Give that certificate with --intermediates instead of --roots", out,
      1, true)
  end)

  it("an intermediate as the only root: intermediate_in_roots first, the client not asked for a chain", function()
    -- the chain reached the store's certificate, which is not self-signed: the client sent what it had to
    for _, extra in ipairs({ {}, { "--chain", P("inter.pem") } }) do
      local code, out = check(P("alice.pem"), "--roots", P("inter.pem"), unpack_(extra))
      assert.equals(1, code)
      assert.matches("^403%.16 Forbidden: Intermediate CA among the trusted roots\nCause: intermediate_in_roots\n", out)
      assert.not_matches("Also:", out, 1, true)
      assert.not_matches("Send the full chain", out, 1, true)
      assert.same({ { "server operator", "Give that certificate with --intermediates instead of --roots, and the "
        .. "self-signed root CA that issued it (CN=Test Root CA,O=clientcert tests) with --roots (in a --policy "
        .. "file: the same in its trust)." } }, steps(out))
      assert.matches("✗ CN=Test Issuing CA,O=clientcert tests  (trusted, but not self-signed)\n", out, 1, true)
    end
  end)

  it("--intermediate-in-roots warn: a valid path is accepted, the intermediate named in Also", function()
    local code, out = check(P("alice.pem"), "--roots", P("roots-with-inter.pem"), "--intermediate-in-roots", "warn")
    assert.equals(0, code)
    assert.matches("^200 OK\nCause: ok\n", out)
    assert.matches("\nAlso: intermediate_in_roots (403.16 Intermediate CA among the trusted roots)\n", out, 1, true)
    assert.not_matches("Note:", out, 1, true)
    -- reject is the default
    assert.equals(1, (check(P("alice.pem"), "--roots", P("roots-with-inter.pem"))))
    assert.equals(1, (check(P("alice.pem"), "--roots", P("roots-with-inter.pem"), "--intermediate-in-roots",
      "reject")))
  end)

  it("a tampered intermediate under the trusted root: 403.16 bad_signature, marked on the intermediate", function()
    local code, out = check(P("alice.pem"), "--chain", P("inter-tampered.pem"), "--roots", P("root.pem"))
    assert.equals(1, code)
    assert.matches("^403%.16 Forbidden: Signature in the chain does not verify\nCause: bad_signature\n", out)
    assert.matches("The signature of the intermediate CA CN=Test Issuing CA,O=clientcert tests (chain depth 1) "
      .. "does not verify", out, 1, true)
    assert.matches("└─ ✗ CN=Test Issuing CA,O=clientcert tests\n     valid 2020-01-01T00:00:00Z .. "
      .. "2040-01-01T00:00:00Z, serial 1001\n     ✗ bad_signature: certificate signature failure\n", out, 1, true)
  end)

  it("--json: one document with the verdict, resolution and chain", function()
    local code, out, err = check(P("old.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"), "--json")
    assert.equals("", err)
    assert.equals(1, code)
    assert.equals(1, select(2, out:gsub("\n", "")))
    local v = cjson.decode(out)
    assert.is_false(v.accepted)
    assert.equals("expired", v.cause)
    assert.equals("403.17", v.substatus)
    assert.equals(3, #v.resolution)
    assert.equals("client owner", v.resolution[1].who)
    assert.equals(3, #v.chain)
    assert.equals("expired", v.chain[1].status)
    assert.equals("CN=Test Root CA,O=clientcert tests", v.chain[3].subject)
    code, out = check("--roots", P("root.pem"), "--json")
    assert.equals(1, code)
    assert.equals("no_certificate", cjson.decode(out).cause)
  end)

  it("escapes certificate-derived text in the verdict and the tree", function()
    local code, out = check(P("hostile-text.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))
    assert.equals(0, code)
    assert.matches("CN=hostile\\u202e\\u009btxt,O=clientcert tests  (client)", out, 1, true)
    assert.is_nil(out:find("\27", 1, true))
    assert.is_nil(out:find("\226\128\174", 1, true)) -- U+202E raw
  end)

  it("--ascii draws the path with ASCII marks", function()
    local code, out = check(P("old.pem"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"), "--ascii")
    assert.equals(1, code)
    assert.matches("\n+ CN=Test Root CA,O=clientcert tests  (trusted root)\n", out, 1, true)
    assert.matches("\n   `- x CN=old,O=clientcert tests  (client)\n", out, 1, true)
    assert.matches("\n        x expired: certificate has expired\n", out, 1, true)
    assert.is_nil(out:find("[\128-\255]"))
  end)

  it("reads CERT as DER, from standard input ('-'), and as PKCS#12 with --password-env", function()
    local code, out = check(P("alice.der"), "--roots", P("root.pem"), "--intermediates", P("inter.pem"))
    assert.equals(0, code)
    assert.matches("^200 OK\n", out)
    code, out = runner.exec({ "check", "-", "--roots", P("root.pem"), "--intermediates", P("inter.pem"),
      "--time", T }, { stdin = pki.read("old.pem") })
    assert.equals(1, code)
    assert.matches("^403%.17 ", out)
    -- the PKCS#12 holds alice's key and her issuing CA: the chain is complete without --intermediates
    code, out = runner.exec({ "check", P("alice.p12"), "--password-env", "P12_PASS", "--roots", P("root.pem"),
      "--time", T }, { env = { P12_PASS = "secret" } })
    assert.equals(0, code)
    assert.matches("^200 OK\n", out)
    code, out = check(P("alice-nopass.p12"), "--roots", P("root.pem"))
    assert.equals(0, code)
    assert.matches("^200 OK\n", out)
    -- a --key that is not the PKCS#12's own key is still checked
    code, out = runner.exec({ "check", P("alice.p12"), "--password-env", "P12_PASS", "--key", P("wrong.key"),
      "--roots", P("root.pem"), "--time", T }, { env = { P12_PASS = "secret" } })
    assert.equals(1, code)
    assert.matches("Cause: no_private_key", out, 1, true)
  end)
end)

describe("clientcert check --policy: a rule that raises", function()
  it("is a 500 whose Error: and Rule error: lines say what failed (the terminal is the log)", function()
    local file = os.tmpname()
    require("helpers.live").write(file, ("return { trust = assert(clientcert.store{ roots = %q, "
      .. "intermediates = %q }),\n  rule = function(info) return info.subject:fnd('x') end }\n")
      :format(P("root.pem"), P("inter.pem")))
    local code, out, err = check(P("alice.pem"), "--policy", file)
    os.remove(file)
    assert.equals("", err)
    assert.equals(1, code)
    assert.matches("^500 Internal Server Error: [^\n]*\nCause: internal_error\n", out)
    assert.matches("\nError: the policy rule failed\n", out, 1, true)
    assert.matches("\nRule error: " .. file:gsub("%p", "%%%0") .. ":2: [^\n]*fnd", out)
    assert.matches("1. [server operator] The Error: and Rule error: lines above", out, 1, true)
    assert.not_matches("server log", out, 1, true)   -- no server log behind the command
  end)
end)

describe("clientcert check: usage and input errors exit 2 with one line on stderr", function()
  local function one_line_error(code, out, err, pattern)
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("^[^\n]+\n$", err)
    assert.matches(pattern or "^clientcert", err)
  end

  it("a missing file", function()
    one_line_error(check(P("none.pem"), "--roots", P("root.pem")))
    one_line_error(check(P("alice.pem"), "--roots", P("none.pem")))
    local code, out, err = check(P("none.pem"), "--roots", P("root.pem"))
    one_line_error(code, out, err, "^clientcert%.check: cannot open [^\n]*none%.pem")
  end)

  it("a PEM with garbage", function()
    one_line_error(check(P("garbage.pem"), "--roots", P("root.pem")))
    local _, _, err = check(P("garbage.pem"), "--roots", P("root.pem"))
    assert.matches("garbage.pem: ", err, 1, true)
  end)

  it("an unknown flag", function()
    local code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--bogus")
    one_line_error(code, out, err, "^clientcert: unknown option '%-%-bogus' %(see clientcert %-%-help%)\n$")
  end)

  it("a PKCS#12 with the wrong password, or none", function()
    local code, out, err = runner.exec({ "check", P("alice.p12"), "--password-env", "P12_PASS", "--roots",
      P("root.pem"), "--time", T }, { env = { P12_PASS = "not it" } })
    one_line_error(code, out, err, "alice%.p12: wrong or missing password")
    code, out, err = check(P("alice.p12"), "--roots", P("root.pem"))
    one_line_error(code, out, err, "give it with %-%-password%-env VAR\n$")
    code, out, err = check(P("alice.p12"), "--password-env", "CLIENTCERT_UNSET_VAR", "--roots", P("root.pem"))
    one_line_error(code, out, err, "CLIENTCERT_UNSET_VAR is not set")
  end)

  it("a file that is neither a certificate nor PKCS#12, and empty standard input", function()
    local code, out, err = check(P("alice.key"), "--roots", P("root.pem"))
    one_line_error(code, out, err, "^clientcert%.check: ")
    code, out, err = check(P("root.crl.der"), "--roots", P("root.pem"))
    one_line_error(code, out, err, "neither a certificate %(PEM or DER: [^)]+%) nor a PKCS#12 file\n$")
    code, out, err = runner.exec({ "check", "-", "--roots", P("root.pem"), "--time", T }, { stdin = "" })
    one_line_error(code, out, err, "^clientcert%.check: standard input: no data\n$")
  end)

  it("--roots with --policy, neither, and --param without --policy", function()
    local code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--policy",
      "examples/policies/optional-api.lua")
    one_line_error(code, out, err, "give one or the other")
    code, out, err = check(P("alice.pem"))
    one_line_error(code, out, err, "check needs %-%-roots FILE")
    code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--param", "a=b")
    one_line_error(code, out, err, "%-%-param is for a %-%-policy file")
    -- the rule for an intermediate among the roots is the policy file's own
    code, out, err = check(P("alice.pem"), "--intermediate-in-roots", "warn", "--policy",
      "examples/policies/optional-api.lua")
    one_line_error(code, out, err, "give one or the other")
    -- the revocation flags make the implicit policy too: with --policy they were ignored unseen
    for _, flag in ipairs({ { "--soft-fail" }, { "--fetch-issuers" }, { "--allow-url", "http://pki.test/" },
                            { "--timeout", "5" }, { "--revocation", "ocsp" } }) do
      code, out, err = check(P("alice.pem"), "--policy", "examples/policies/optional-api.lua", unpack_(flag))
      one_line_error(code, out, err, "give one or the other")
    end
    -- a passphrase without a key file to open was ignored
    code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--passphrase-env", "HOME")
    one_line_error(code, out, err, "^clientcert: %-%-passphrase%-env goes with %-%-key")
    code, out, err = runner.exec({ "audit-client", P("alice.pem"), "--passphrase-env", "HOME" })
    one_line_error(code, out, err, "^clientcert: %-%-passphrase%-env goes with %-%-key")
    code, out, err = runner.exec({ "probe", "127.0.0.1:1", "--passphrase-env", "HOME" })
    one_line_error(code, out, err, "^clientcert: %-%-passphrase%-env goes with %-%-key")
    code, out, err = check(P("alice.pem"), "--roots", P("root.pem"), "--intermediate-in-roots", "maybe")
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("'--intermediate-in-roots' must be one of 'reject', 'warn'", err, 1, true)
  end)
end)

describe("clientcert.parse_pkcs12", function()
  it("gives the certificate of the key, the other certificates and the key", function()
    local p12 = assert(clientcert.parse_pkcs12(pki.read("alice.p12"), "secret"))
    assert.equals("CN=alice,O=clientcert tests", p12.cert:info().subject)
    assert.equals(1, #p12.chain)
    assert.equals("CN=Test Issuing CA,O=clientcert tests", p12.chain[1]:info().subject)
    assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", p12.key)
    assert.is_true(p12.cert:matches_key(p12.key))
    -- no password needed: absent, nil and "" all open it
    assert.truthy(clientcert.parse_pkcs12(pki.read("alice-nopass.p12")))
    assert.truthy(clientcert.parse_pkcs12(pki.read("alice-nopass.p12"), ""))
  end)

  it("without a key: the certificate that is not a CA, no key", function()
    local p12 = assert(clientcert.parse_pkcs12(pki.read("alice-nokey.p12"), "secret"))
    assert.equals("CN=alice,O=clientcert tests", p12.cert:info().subject)
    assert.equals("CN=Test Issuing CA,O=clientcert tests", p12.chain[1]:info().subject)
    assert.is_nil(p12.key)
  end)

  it("refuses a wrong password, other data and a password with NUL; raises on a wrong type", function()
    local v, err = clientcert.parse_pkcs12(pki.read("alice.p12"), "wrong")
    assert.is_nil(v)
    assert.equals("clientcert.parse_pkcs12: wrong or missing password (the PKCS#12 integrity check failed)", err)
    assert.matches("wrong or missing password", select(2, clientcert.parse_pkcs12(pki.read("alice.p12"))), 1, true)
    assert.equals("clientcert.parse_pkcs12: not a PKCS#12 file",
      select(2, clientcert.parse_pkcs12(pki.read("alice.der"))))
    assert.equals("clientcert.parse_pkcs12: empty input", select(2, clientcert.parse_pkcs12("")))
    assert.equals("clientcert.parse_pkcs12: the password holds a NUL byte",
      select(2, clientcert.parse_pkcs12(pki.read("alice.p12"), "sec\0ret")))
    local data = pki.read("alice.p12")
    assert.equals("clientcert.parse_pkcs12: trailing data after the PKCS#12 structure",
      select(2, clientcert.parse_pkcs12(data .. "x", "secret")))
    -- every truncation fails cleanly (run under make asan for memory safety)
    for n = 1, #data - 1, 97 do assert.is_nil((clientcert.parse_pkcs12(data:sub(1, n), "secret"))) end
    assert.has_error(function() clientcert.parse_pkcs12(42) end)
    assert.has_error(function() clientcert.parse_pkcs12(data, 42) end)
  end)
end)

describe("docs/cli.md's examples, run on the demo PKI", function()
  local dir = os.tmpname()
  os.remove(dir)
  local ok = os.execute("env -u LD_PRELOAD bash examples/demo-pki.sh " .. runner.q(dir) .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "examples/demo-pki.sh failed")

  -- args, expected = example(name): the command of docs/cli.md block <!-- NAME: clientcert ARGS -->
  -- (file names relative to the demo directory) and the output shown under its "$ " line.
  local function example(name)
    local f = assert(io.open("docs/cli.md", "rb"))
    local readme = f:read("*a")
    f:close()
    local marker = "<!%-%- " .. name:gsub("%-", "%%-") .. ": clientcert ([^\n]-) %-%->"
    local cmd, block = readme:match(marker .. "\n```\n%$ [^\n]*\n(.-)```")
    assert(cmd, "docs/cli.md block " .. name .. " not found")
    local args = {}
    for w in cmd:gmatch("%S+") do
      if w:match("%.pem$") or w:match("%.key$") or w:match("%.p12$") then w = dir .. "/" .. w end
      args[#args + 1] = w
    end
    return args, block
  end

  it("check on the expired client prints what docs/cli.md shows", function()
    local args, expected = example("check-expired")
    local code, out, err = runner.exec(args)
    assert.equals("", err)
    assert.equals(1, code)
    assert.equals(expected, out)
  end)

  it("audit-client on alice (leaf only) prints what docs/cli.md shows", function()
    local args, expected = example("audit-client-alice")
    local code, out, err = runner.exec(args)
    assert.equals("", err)
    assert.equals(1, code)
    assert.equals(expected, out)
    -- and with her issuing CA sent, nothing is found
    code = runner.exec({ "audit-client", dir .. "/alice.pem", "--chain", dir .. "/inter.pem", "--key",
      dir .. "/alice.key", "--roots", dir .. "/root.pem", "--time", "2030-06-01" })
    assert.equals(0, code)
  end)

  it("check works on every demo client", function()
    local function demo(...) return runner.exec({ "check", ..., "--roots", dir .. "/root.pem", "--intermediates",
      dir .. "/inter.pem", "--time", "2030-06-01" }) end
    assert.equals(0, (demo(dir .. "/alice.pem")))
    local code, out = runner.exec({ "check", dir .. "/stranger.pem", "--chain", dir .. "/stranger-root.pem",
      "--roots", dir .. "/root.pem", "--time", "2030-06-01" })
    assert.equals(1, code)
    assert.matches("Cause: untrusted_root", out, 1, true)
  end)
end)

describe("an intermediate among the roots: clientcert check, policy:check and a policy file agree", function()
  -- a policy file as the gate loads it (clientcert.load_policy), its rule an option
  local file = os.tmpname()
  local f = assert(io.open(file, "wb"))
  f:write([[
local p = params
return { mode = "require", verify = { purpose = "client" }, intermediate_in_roots = p.in_roots,
         trust = assert(clientcert.store{ roots = p.roots, intermediates = p.intermediates }) }
]])
  f:close()
  teardown(function() os.remove(file) end)

  local function same(want, got, what)
    assert.same({ want.accepted, want.cause, want.status, want.substatus, want.also },
                { got.accepted, got.cause, got.status, got.substatus, got.also }, what)
  end

  for _, roots in ipairs({ "roots-with-inter.pem", "inter.pem" }) do
    for _, rule in ipairs({ "reject", "warn" }) do
      it(("--roots %s, intermediate_in_roots = %s"):format(roots, rule), function()
        local policy = clientcert.policy{ mode = "require", trust = assert(clientcert.store{ roots = P(roots) }),
                                          verify = { purpose = "client" }, intermediate_in_roots = rule }
        local loaded = assert(clientcert.load_policy(file, { roots = P(roots), in_roots = rule }))
        for _, client in ipairs({ { "alice.pem" }, { "old.pem" }, { "dave.pem", "inter-revoked.pem" },
                                  { "alice.pem", "inter.pem" } }) do
          local what = roots .. " " .. rule .. " " .. table.concat(client, "+")
          local req = { cert = pki.read(client[1]), chain = { client[2] and pki.read(client[2]) },
                        time = 1906502400, deployment = "gate" }
          local want = policy:check(req)
          same(want, loaded:check(req), what .. " (policy file, as the gate)")
          local chain = client[2] and { "--chain", P(client[2]) } or {}
          local code, out = check(P(client[1]), "--roots", P(roots), "--intermediate-in-roots", rule, "--json",
            unpack_(chain))
          assert.equals(want.accepted and 0 or 1, code, what)
          same(want, cjson.decode(out), what .. " (check --roots)")
          code, out = check(P(client[1]), "--policy", file, "--param", "roots=" .. P(roots), "--param",
            "in_roots=" .. rule, "--json", unpack_(chain))
          assert.equals(want.accepted and 0 or 1, code, what)
          same(want, cjson.decode(out), what .. " (check --policy)")
        end
      end)
    end
  end
end)
