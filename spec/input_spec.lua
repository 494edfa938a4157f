-- Input in one place (issue 16 item 1, issue 18 "Input"): core.parse_bundle turns a
-- PEM bundle or one DER object into a list of certificates or CRLs, and a bundle
-- cut short (a file still being written) is an error for every kind, never a
-- shorter list; clientcert.input reads files and records what it read with the
-- SHA-256 of the bytes it parsed.
local clientcert = require "clientcert"
local core = require "clientcert.core"
local input = require "clientcert.input"
local pki = require "helpers.pki"

local TRUNCATED = "truncated PEM block at byte "

describe("core.parse_bundle", function()
  it("returns every certificate or CRL of a PEM bundle, in order, and one DER object as a list", function()
    local certs = assert(core.parse_bundle("cert", pki.read("chain-long.pem")))
    assert.equals(4, #certs)
    assert.equals("CN=Chain CA 1,O=clientcert tests", certs[1]:info().subject)
    local crls = assert(core.parse_bundle("crl", pki.read("inter.crl") .. pki.read("root.crl")))
    assert.equals(2, #crls)
    assert.equals(clientcert.parse_crl(pki.read("root.crl")):info().issuer, crls[2]:info().issuer)
    assert.equals(1, #assert(core.parse_bundle("cert", pki.read("alice.der"))))
    local der = clientcert.parse_crl(pki.read("inter.crl")):der()
    assert.equals(1, #assert(core.parse_bundle("crl", der)))
  end)

  it("skips complete blocks of another kind and text outside blocks", function()
    local text = "subject=CN=alice\n" .. pki.read("alice.pem") .. pki.read("alice.key") .. pki.read("inter.crl")
      .. "the end\n"
    assert.equals(1, #assert(core.parse_bundle("cert", text)))
    assert.equals(1, #assert(core.parse_bundle("crl", text)))
  end)

  it("names where and the context in its errors", function()
    local l, err = core.parse_bundle("crl", pki.read("alice.pem"), "store", "/etc/x.pem")
    assert.is_nil(l)
    assert.equals("clientcert.store: /etc/x.pem: no CRL found in input", err)
    l, err = core.parse_bundle("cert", "")
    assert.is_nil(l)
    assert.equals("clientcert.parse_bundle: empty input", err)
    l, err = core.parse_bundle("crl", clientcert.parse_crl(pki.read("inter.crl")):der() .. "x", "load_crl")
    assert.is_nil(l)
    assert.equals("clientcert.load_crl: trailing data after DER CRL", err)
    assert.has_error(function() core.parse_bundle("key", "x") end)
    assert.has_error(function() core.parse_bundle("cert", 42) end)
  end)

  for _, kind in ipairs({ "cert", "crl" }) do
    it("refuses a " .. kind .. " bundle cut anywhere after its last complete block", function()
      local one = kind == "cert" and pki.read("inter.pem") or pki.read("inter.crl")
      local two = kind == "cert" and pki.read("root.pem") or pki.read("root.crl")
      local full = one .. two
      assert.equals(2, #assert(core.parse_bundle(kind, full)))
      -- every cut inside the second block, from its first "-" to the last "-" of its END line
      for cut = #one + 1, #full - 2 do
        local l, err = core.parse_bundle(kind, full:sub(1, cut), "store", "x.pem")
        assert.is_nil(l, "a bundle cut at byte " .. cut .. " loaded")
        assert.equals("clientcert.store: x.pem: " .. TRUNCATED .. #one
          .. ' (a "-----BEGIN" without its "-----END" line)', err)
      end
      -- a header line alone, and a lone "-----BEGIN" at the end
      assert.is_nil(core.parse_bundle(kind, one .. "-----BEGIN X509 CRL-----\n"))
      assert.is_nil(core.parse_bundle(kind, one .. "\n-----BEGIN"))
      assert.is_false(core._openssl_error_pending())
    end)
  end

  it("is what parse_all and parse_crls are", function()
    local cut = pki.read("inter.crl") .. pki.read("root.crl"):sub(1, 200)
    local l, err = clientcert.parse_crls(cut)
    assert.is_nil(l)
    assert.equals("clientcert.parse_crls: " .. TRUNCATED .. #pki.read("inter.crl")
      .. ' (a "-----BEGIN" without its "-----END" line)', err)
    l, err = clientcert.parse_all(pki.read("chain-long.pem"):sub(1, -40))
    assert.is_nil(l)
    assert.matches("^clientcert%.parse_all: truncated PEM block at byte %d+ ", err)
  end)

  it("refuses a store whose CRL file ends in a truncated CRL", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(pki.read("inter.crl") .. pki.read("root.crl"):sub(1, 300))
    f:close()
    local store, err = clientcert.store{ roots = pki.path("root.pem"), crls = path }
    os.remove(path)
    assert.is_nil(store)
    assert.equals(("clientcert.store: %s: %s%d (a \"-----BEGIN\" without its \"-----END\" line)")
      :format(path, TRUNCATED, #pki.read("inter.crl")), err)
  end)

  it("gives the SHA-256 of bytes and the one input limit", function()
    assert.equals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", core.sha256("abc"))
    assert.equals(64 * 1024 * 1024, core.MAX_INPUT)
    assert.equals(core.MAX_INPUT, input.MAX)
    assert.equals(core.MAX_INPUT, clientcert.MAX_FILE)
  end)
end)

describe("a file that is neither PEM nor DER", function()
  it("says so instead of only 'invalid DER' (an HTML error page saved as roots.pem)", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("<html><body>404 Not Found</body></html>\n")
    f:close()
    local function says(where, kind, err)
      local want = ("clientcert.%s: %s: neither PEM (no \"-----BEGIN\" line) nor DER (invalid DER %s: ")
        :format(where, path, kind)
      assert.equals(want, err:sub(1, #want))
    end
    says("store", "certificate", select(2, clientcert.store{ roots = path }))
    says("store", "CRL", select(2, clientcert.store{ crls = { path } }))
    says("load", "certificate", select(2, clientcert.load(path)))
    says("load_all", "certificate", select(2, clientcert.load_all(path)))
    says("load_crl", "CRL", select(2, clientcert.load_crl(path)))
    os.remove(path)
    -- DER of another kind keeps its own message (it starts as DER does)
    local der = clientcert.parse_crl(pki.read("inter.crl")):der()
    local _, derr = core.parse_bundle("cert", der, "store", "x.der")
    assert.equals(derr, input.not_pem_nor_der(derr, der))
  end)
end)

describe("clientcert.input", function()
  it("records every file read, with the digest of the bytes read, and nests", function()
    local files, ok, store = input.recorded(function()
      local inner = input.recorded(clientcert.load_crl, pki.path("inter.crl"))
      assert.equals(1, #inner)
      return clientcert.store{ roots = pki.path("root.pem"), crls = { pki.path("inter.crl"), "/nonexistent/x.crl" } }
    end)
    assert.is_true(ok)
    assert.is_nil(store)
    assert.equals(3, #files)
    assert.same({ pki.path("inter.crl"), pki.path("root.pem"), "/nonexistent/x.crl" },
      { files[1].path, files[2].path, files[3].path })
    assert.equals(core.sha256(pki.read("inter.crl")), files[1].digest)
    assert.equals(core.sha256(pki.read("root.pem")), files[2].digest)
    assert.matches("^!cannot open /nonexistent/x%.crl: ", files[3].digest)
    assert.equals(input.digest("/nonexistent/x.crl"), files[3].digest)
    assert.equals(input.digest(pki.path("root.pem")), files[2].digest)
  end)

  it("records the policy file and what it loads, and returns the error of a failing function", function()
    local files, ok, err = input.recorded(error, "boom", 0)
    assert.same({}, files)
    assert.is_false(ok)
    assert.equals("boom", err)
  end)

  it("marks a file read twice with different contents as changed", function()
    local path = os.tmpname()
    local function put(s) local f = assert(io.open(path, "wb")) f:write(s) f:close() end
    put(pki.read("root.pem"))
    local files = input.recorded(function()
      input.read(path, "test")
      put(pki.read("inter.pem"))
      input.read(path, "test")
    end)
    os.remove(path)
    assert.equals(1, #files)
    assert.is_not.equal(core.sha256(pki.read("root.pem")), files[1].digest)
    assert.is_not.equal(core.sha256(pki.read("inter.pem")), files[1].digest)
  end)
end)
