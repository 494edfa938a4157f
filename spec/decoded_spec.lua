-- core._from_x509_address: sharing an X509 another part of the process decoded
-- (the OpenResty gate passes nginx's), with its own reference.
local core = require "clientcert.core"
local clientcert = require "clientcert"
local pki = require "helpers.pki"

describe("certificates decoded elsewhere in the process", function()
  it("refuses anything but a positive integer address", function()
    for _, bad in ipairs({ 0, -1, 1.5, 2 ^ 60, 0 / 0, math.huge }) do
      assert.has_error(function() core._from_x509_address(bad) end)
    end
    assert.has_error(function() core._from_x509_address("0x1000") end)
  end)

  it("is not a public name: only the unsafe _from_x509_address exists", function()
    assert.is_nil(core.from_x509_address)
    assert.is_nil(require("clientcert").from_x509_address)
    assert.is_function(core._from_x509_address)
  end)

  it("reports where its libcrypto's X509_up_ref is", function()
    local a = core.x509_api_address()
    assert.is_number(a)
    assert.truthy(a > 0)
  end)

  if not jit then return end
  local ffi = require "ffi"
  pcall(ffi.cdef, [[
    void *d2i_X509(void **px, const unsigned char **in, long len);
    void X509_free(void *x);
    int X509_up_ref(void *x);
  ]])
  local crypto = ffi.load("libcrypto.so.3")

  it("shares an X509 decoded through the FFI and keeps it alive after its owner frees it", function()
    assert.are.equal(core.x509_api_address(), tonumber(ffi.cast("uintptr_t", ffi.cast("void *", crypto.X509_up_ref))))
    local der = pki.read("alice.der")
    local buf = ffi.new("unsigned char[?]", #der)
    ffi.copy(buf, der, #der)
    local p = ffi.new("const unsigned char *[1]", buf)
    local x = crypto.d2i_X509(nil, p, #der)
    assert.truthy(x ~= nil)
    local cert = core._from_x509_address(tonumber(ffi.cast("uintptr_t", x)))
    crypto.X509_free(x)                      -- the other owner lets go: our reference remains
    collectgarbage()
    assert.are.equal(clientcert.load(pki.path("alice.pem")):fingerprint(), cert:fingerprint())
    assert.are.equal(der, cert:der())
    local store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    local result = assert(store:verify(cert, { time = pki.T, crl = "none" }))
    assert.is_true(result.ok)
  end)
end)
