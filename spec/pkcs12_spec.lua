-- clientcert.parse_pkcs12 on hostile files: every key derivation the file asks
-- for (MAC, encrypted safes, shrouded key bags; PBES1, PBES2/PBKDF2) is read and
-- bounded before any runs. The files are made at test time: openssl writes a
-- file whose counts are all 1234, and spec/helpers/der.lua sets one of them to
-- a count no tool would spend the time to write (2^31-1 would take an hour).
local clientcert = require "clientcert"
local runner = require "helpers.cli"
local der = require "helpers.der"
local pki = require "helpers.pki"

local MARK = 1234

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. runner.q(dir)))

-- bytes = export(name, args): `openssl pkcs12 -export` of alice, her key and her CA, counts MARK.
local function export(name, args)
  local out = dir .. "/" .. name
  local cmd = ("env -u LD_PRELOAD openssl pkcs12 -export -in %s -inkey %s -certfile %s -iter %d %s -out %s 2>&1")
    :format(runner.q(pki.path("alice.pem")), runner.q(pki.path("alice.key")), runner.q(pki.path("inter.pem")),
      MARK, args, runner.q(out))
  local ok = os.execute(cmd .. " >/dev/null")
  assert(ok == true or ok == 0, "openssl pkcs12 -export failed: " .. cmd)
  local f = assert(io.open(out, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local FILES = {
  pbes2 = export("pbes2.p12", "-passout pass:secret"),                       -- AES-256-CBC, PBKDF2
  pbes1 = export("pbes1.p12", "-passout pass:secret -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES"),
  nopass = export("nopass.p12", "-passout pass:"),
}

-- The counts openssl writes, in encoding order: the encrypted safe of the
-- certificates, the shrouded key bag (in a plain safe), the MAC.
local SAFE, KEYBAG, MAC = 1, 2, 3

-- bytes = hostile(base, which, n): FILES[base] with count number `which` set to n
-- (a number, or a string of raw INTEGER content octets).
local function hostile(base, which, n)
  local tree = der.parse(FILES[base])
  local counts = der.find_integers(tree, MARK)
  assert(#counts == 3, "expected 3 iteration counts in " .. base)
  if type(n) == "string" then counts[which].content = n else der.set_integer(counts[which], n) end
  return der.encode(tree)
end

-- v, err, seconds = timed(data, pass): parse_pkcs12 and the CPU time it took.
local function timed(data, pass)
  local t0 = os.clock()
  local v, err = clientcert.parse_pkcs12(data, pass)
  return v, err, os.clock() - t0
end

local function refused(data, pass, expected)
  local v, err, secs = timed(data, pass)
  assert.is_nil(v)
  assert.equals("clientcert.parse_pkcs12: " .. expected, err)
  assert.is_true(secs < 10, ("took %.1f s"):format(secs))
end

describe("clientcert.parse_pkcs12 bounds every iteration count before deriving a key", function()
  it("opens the files as openssl wrote them (PBES2, PBES1, no password)", function()
    for _, base in ipairs({ "pbes2", "pbes1" }) do
      local p12 = assert(clientcert.parse_pkcs12(FILES[base], "secret"))
      assert.equals("CN=alice,O=clientcert tests", p12.cert:info().subject)
      assert.equals(1, #p12.chain)
      assert.is_true(p12.cert:matches_key(p12.key))
    end
    assert.truthy(clientcert.parse_pkcs12(FILES.nopass))
    assert.truthy(clientcert.parse_pkcs12(FILES.nopass, ""))
  end)

  it("refuses a MAC iteration count of 2^31-1 at once, with a password or without", function()
    local msg = "the MAC's iteration count 2147483647 exceeds the maximum 10000000"
    refused(hostile("pbes2", MAC, 2 ^ 31 - 1), "secret", msg)
    refused(hostile("pbes2", MAC, 2 ^ 31 - 1), nil, msg)
    refused(hostile("nopass", MAC, 2 ^ 31 - 1), nil, msg)
  end)

  it("refuses an encrypted safe's count (PBKDF2, PKCS#12 PBE)", function()
    refused(hostile("pbes2", SAFE, 2 ^ 31 - 1), "secret",
      "an encrypted safe's PBKDF2 iteration count 2147483647 exceeds the maximum 10000000")
    refused(hostile("pbes1", SAFE, 2 ^ 31 - 1), "secret",
      "an encrypted safe's PBE iteration count 2147483647 exceeds the maximum 10000000")
  end)

  it("refuses a shrouded key bag's count (PBKDF2, PKCS#12 PBE), without a password too", function()
    refused(hostile("pbes2", KEYBAG, 2 ^ 31 - 1), "secret",
      "a shrouded key bag's PBKDF2 iteration count 2147483647 exceeds the maximum 10000000")
    refused(hostile("pbes1", KEYBAG, 2 ^ 31 - 1), "secret",
      "a shrouded key bag's PBE iteration count 2147483647 exceeds the maximum 10000000")
    refused(hostile("nopass", KEYBAG, 2 ^ 31 - 1), nil,
      "a shrouded key bag's PBKDF2 iteration count 2147483647 exceeds the maximum 10000000")
  end)

  it("refuses one above the maximum, and counts beyond 64 bits", function()
    refused(hostile("pbes2", MAC, 10000001), "secret",
      "the MAC's iteration count 10000001 exceeds the maximum 10000000")
    refused(hostile("pbes2", KEYBAG, "\1" .. ("\0"):rep(9)), "secret",
      "a shrouded key bag's PBKDF2 iteration count above 2^63 exceeds the maximum 10000000")
    refused(hostile("pbes2", MAC, "\127" .. ("\255"):rep(15)), "secret",
      "the MAC's iteration count above 2^63 exceeds the maximum 10000000")
  end)

  it("refuses a file whose derivations add up to more than 40,000,000 iterations", function()
    -- five encrypted safes of 9,000,000 each: each is allowed, together they are not
    local tree = der.parse(hostile("pbes2", SAFE, 9000000))
    local safes = tree.children[2].children[2].children[1].children[1].children -- the AuthenticatedSafe
    for _ = 1, 4 do table.insert(safes, 1, safes[1]) end
    refused(der.encode(tree), "secret",
      "the key derivations of the file need more than 40000000 iterations in all (the maximum)")
  end)

  it("leaves the OpenSSL error queue empty on every refusal", function()
    local core = require "clientcert.core"
    assert.is_nil((clientcert.parse_pkcs12(hostile("pbes2", SAFE, 2 ^ 31 - 1), "secret")))
    assert.is_false(core._openssl_error_pending())
  end)
end)

describe("clientcert check and audit-client on a hostile PKCS#12", function()
  it("print the refusal on one line and exit 2, at once", function()
    local path = dir .. "/mac.p12"
    local f = assert(io.open(path, "wb"))
    f:write(hostile("pbes2", MAC, 2 ^ 31 - 1))
    f:close()
    for _, cmd in ipairs({ "check", "audit-client" }) do
      local t0 = os.time()
      local code, out, err = runner.exec({ cmd, path, "--password-env", "P12_PASS", "--roots",
        pki.path("root.pem"), "--time", "2030-06-01" }, { env = { P12_PASS = "secret" } })
      assert.is_true(os.time() - t0 < 10)
      assert.equals(2, code)
      assert.equals("", out)
      assert.matches("^[^\n]+\n$", err)
      assert.matches("mac.p12: the MAC's iteration count 2147483647 exceeds the maximum 10000000", err, 1, true)
    end
  end)
end)
