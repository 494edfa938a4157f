-- The clientcert command (clientcert.cli.main): outputs and exit codes.
local cli = require "clientcert.cli"
local runner = require "helpers.cli"
local run = runner.run
local cjson = require "cjson"
local pki = require "helpers.pki"
local clientcert = require "clientcert"

-- path = policy_file(src): a temporary policy file holding src.
local function policy_file(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  return path
end

describe("clientcert command", function()
  it("info prints the facts of each certificate", function()
    local code, text = run("info", pki.path("nul.pem"))
    assert.equals(0, code)
    assert.matches("subject:     CN=alice\\00.evil.test,O=clientcert tests", text, 1, true)
    -- the key identifiers (SKID, and the AKID's key identifier) as hex
    local inter = clientcert.load(pki.path("inter.pem")):info()
    assert.matches("\n  issuer key:  " .. inter.subject_key_id .. "\n", text, 1, true)
    assert.matches("\n  key id:      %x+\n", text)
    code, text = run("info", "--json", pki.path("chain-alice.pem"))
    assert.equals(0, code)
    local first = cjson.decode(text:match("^[^\n]+"))
    assert.equals("CN=alice,O=clientcert tests", first.subject)
  end)

  it("verify prints the certification path and exits 0 or 1", function()
    local code, text = run("verify", pki.path("frank.pem"), "--roots", pki.path("root.pem"),
      "--chain", pki.path("inter-expired.pem"), "--time", "2030-06-01")
    assert.equals(1, code)
    assert.matches("CN=Expired Issuing CA,O=clientcert tests", text, 1, true)
    assert.matches("Result: FAILED (expired", text, 1, true)
    code = run("verify", pki.path("chain-alice.pem"), "--roots", pki.path("root.pem"), "--time", "1906502400")
    assert.equals(0, code)
  end)

  it("verify --json gives the result table", function()
    local code, text = run("verify", pki.path("mallory.pem"), "--roots", pki.path("root.pem"), "--intermediates",
      pki.path("inter.pem"), "--crl", pki.path("crls.pem"), "--time", "2030-06-01", "--json")
    assert.equals(1, code)
    local r = cjson.decode(text)
    assert.equals("revoked", r.cause)
    assert.equals(3, #r.chain)
  end)

  it("check applies a policy file with params and prints the resolution", function()
    local code, text = run("check", pki.path("old.pem"), "--policy", "examples/policies/optional-api.lua",
      "--param", "roots=" .. pki.path("root.pem"), "--param", "intermediates=" .. pki.path("inter.pem"),
      "--time", "2030-06-01T00:00:00Z")
    assert.equals(1, code)
    assert.matches("^403%.17 Forbidden: Certificate expired\nCause: expired\n", text)
    assert.matches("How to fix:", text, 1, true)
    code, text = run("check", "--policy", "examples/policies/optional-api.lua", "--json",
      "--param", "roots=" .. pki.path("root.pem"), "--param", "intermediates=" .. pki.path("inter.pem"))
    assert.equals(0, code)
    assert.equals("no_certificate", cjson.decode(text).cause)
  end)

  it("check with --key reports a key that does not match", function()
    local code, text = run("check", pki.path("alice.pem"), "--policy", "examples/policies/optional-api.lua",
      "--param", "roots=" .. pki.path("root.pem"), "--param", "intermediates=" .. pki.path("inter.pem"),
      "--key", pki.path("wrong.key"), "--time", "2030-06-01")
    assert.equals(1, code)
    assert.matches("no_private_key", text, 1, true)
  end)

  it("audit-store finds an intermediate among the roots", function()
    local code, text = run("audit-store", "--roots", pki.path("roots-with-inter.pem"), "--time", "2030-06-01")
    assert.equals(1, code)
    assert.matches("intermediate_in_roots: ", text, 1, true)
    assert.equals(0, (run("audit-store", "--roots", pki.path("root.pem"), "--time", "2030-06-01")))
  end)

  it("match-key answers yes and no", function()
    assert.equals(0, (run("match-key", pki.path("alice.pem"), pki.path("alice.key"))))
    assert.equals(1, (run("match-key", pki.path("alice.pem"), pki.path("wrong.key"))))
    local code, text, err = run("match-key", pki.path("alice.pem"), pki.path("alice-enc.key"))
    assert.equals(2, code)
    assert.equals("", text)
    assert.matches("^clientcert%.match_key: [^\n]*alice%-enc%.key: cannot read private key %(", err)
  end)

  it("match-key reads the passphrase from --passphrase-env's variable, and refuses an unset one", function()
    local cert, key = pki.path("alice.pem"), pki.path("alice-enc.key")
    local code, out, err = runner.exec({ "match-key", cert, key, "--passphrase-env", "CLIENTCERT_KEY_PASS" },
      { env = { CLIENTCERT_KEY_PASS = "secret" } })
    assert.equals(0, code, err)
    assert.matches("the key matches", out, 1, true)
    code, out, err = run("match-key", cert, key, "--passphrase-env", "CLIENTCERT_UNSET_VAR")
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals("clientcert: environment variable CLIENTCERT_UNSET_VAR is not set\n", err)
  end)

  it("exits 2 for a missing file, a bad time or a bad command", function()
    assert.equals(2, (run("info", pki.path("none.pem"))))
    assert.equals(2, (run("verify", pki.path("alice.pem"), "--roots", pki.path("root.pem"), "--time", "soon")))
    assert.equals(2, (run("check", "--policy", pki.path("none.lua"))))
  end)

  it("prints a value the library refuses once, with the library's origin", function()
    local code, out, err = run("probe", "127.0.0.1:1", "--path", "/" .. ("a"):rep(2000))
    assert.equals(2, code)
    assert.equals("", out)
    assert.equals("clientcert.probe: path must start with / and hold no space or control character "
      .. "(at most 1024 bytes)\n", err)
  end)

  it("reads times as Unix seconds or ISO 8601 UTC", function()
    assert.equals(1906502400, cli.parse_time("2030-06-01"))
    assert.equals(1906502400, cli.parse_time("1906502400"))
    assert.equals(1906502461, cli.parse_time("2030-06-01T00:01:01Z"))
    assert.is_nil(cli.parse_time("2030-13-01"))
    assert.equals("2969-05-03T00:00:01Z", cli.iso(31536000001))   -- date -u -d 2969-05-03T00:00:01Z +%s
    assert.equals(31536000001, cli.parse_time("2969-05-03T00:00:01Z"))
  end)

  describe("check prints accepted verdicts in text mode (exit 0)", function()
    local valid = policy_file([[
      return { mode = params.mode, trust = clientcert.store{ roots = params.roots,
               intermediates = params.intermediates }, verify = { crl = "none" } }
    ]])
    local off = policy_file('return { mode = "off" }')
    local trust = { "--param", "roots=" .. pki.path("root.pem"), "--param", "intermediates=" .. pki.path("inter.pem") }
    local function check(args)
      local all = { "check" }
      for _, a in ipairs(args) do all[#all + 1] = a end
      for _, a in ipairs(trust) do all[#all + 1] = a end
      return run(require("clientcert.compat").unpack(all))
    end

    it("a valid client", function()
      local code, text, err = check({ pki.path("alice.pem"), "--policy", valid, "--param", "mode=require",
        "--time", "2030-06-01" })
      assert.equals("", err)
      assert.equals(0, code)
      assert.matches("^200 OK\nCause: ok\n", text)
      assert.matches("The client certificate CN=alice,O=clientcert tests (issuer CN=", text, 1, true)
      assert.matches("Certification path (checked at 2030-06-01T00:00:00Z):", text, 1, true)
      assert.not_matches("How to fix", text, 1, true)
    end)

    it("mode off", function()
      local code, text, err = check({ pki.path("alice.pem"), "--policy", off, "--time", "2030-06-01" })
      assert.equals("", err)
      assert.equals(0, code)
      assert.matches("^200 OK\nCause: ok\n", text)
      assert.matches("not checked here (mode \"off\")", text, 1, true)
    end)

    it("an anonymous client in optional mode", function()
      local code, text, err = check({ "--policy", valid, "--param", "mode=optional", "--time", "2030-06-01" })
      assert.equals("", err)
      assert.equals(0, code)
      assert.matches("^200 OK\nCause: no_certificate\nThe client sent no certificate; client certificates are "
        .. "optional here%.\n", text)
      -- and the same policy in require mode rejects it with the IIS substatus
      code, text = check({ "--policy", valid, "--param", "mode=require", "--time", "2030-06-01" })
      assert.equals(1, code)
      assert.matches("^403%.7 Forbidden: Client certificate required\nCause: no_certificate\n", text)
    end)
  end)
end)

describe("clientcert as a process", function()
  it("exits with the command's status and writes to stdout and stderr", function()
    local code, out, err = runner.exec({ "verify", pki.path("chain-alice.pem"), "--roots", pki.path("root.pem"),
      "--time", "2030-06-01" })
    assert.equals(0, code, err)
    assert.matches("Result: OK", out, 1, true)
    code, out, err = runner.exec({ "info", "/nonexistent/x.pem" })
    assert.equals(2, code)
    assert.equals("", out)
    assert.matches("^clientcert%.info: cannot open /nonexistent/x%.pem: [^\n]+\n$", err)
  end)

  it("colours only a terminal: piped output has no escape sequences, even with --help", function()
    local code, out = runner.exec({ "verify", pki.path("frank.pem"), "--roots", pki.path("root.pem"),
      "--time", "2030-06-01" })
    assert.equals(1, code)
    assert.is_nil(out:find("\27", 1, true))
  end)
end)

describe("clientcert.cli.common.painter", function()
  local common = require "clientcert.cli.common"
  it("leaves text alone on a stream that is not a terminal", function()
    local paint = common.painter(require("helpers.cli").sink())
    assert.equals("x", paint("red", "x"))
  end)
end)
