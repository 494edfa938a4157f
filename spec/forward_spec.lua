-- The identity headers the OpenResty gate gives an upstream (clientcert.forward):
-- RFC 9440 byte sequences and Envoy's x-forwarded-client-cert, built without nginx.
-- The live side (set for an accepted client, stripped when a client sends them)
-- is in spec/integration/nginx_spec.lua.
local forward = require "clientcert.forward"
local clientcert = require "clientcert"
local pki = require "helpers.pki"

describe("clientcert.forward", function()
  it("encodes base64 as RFC 4648 section 10's vectors", function()
    local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=",
                      foobar = "Zm9vYmFy", ["\0\255\254"] = "AP/+" }
    for input, want in pairs(vectors) do assert.are.equal(want, forward.base64(input)) end
  end)

  it("writes Client-Cert as ':' base64(DER) ':', the same base64 as the PEM's body", function()
    local pem = pki.read("alice.pem")
    local der = assert(clientcert.parse(pem)):der()
    local body = pem:match("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-(.-)%-%-%-%-%-END"):gsub("%s", "")
    assert.are.equal(":" .. body .. ":", forward.byte_sequence(der))
  end)

  it("writes Client-Cert-Chain as a structured-field list, nil when empty", function()
    assert.are.equal(":Zm9v:, :YmFy:", forward.chain({ "foo", "bar" }))
    assert.is_nil(forward.chain({}))
    assert.is_nil(forward.chain(nil))
  end)

  it("writes XFCC in Envoy's order with an empty URI= when there is none", function()
    assert.are.equal('Hash=ab12;Subject="CN=a,O=b";URI=',
      forward.xfcc({ fingerprint = "ab12", subject = "CN=a,O=b", san = {} }))
    assert.are.equal('Hash=ab12;Subject="";URI=spiffe://x/y;DNS=a.example;DNS=b.example',
      forward.xfcc({ fingerprint = "ab12", subject = "", san = {
        { type = "dns", value = "a.example" }, { type = "uri", value = "spiffe://x/y" },
        { type = "email", value = "a@b" }, { type = "dns", value = "b.example" } } }))
  end)

  it("leaves no quote inside a quoted Subject and keeps RFC 4514's other escapes", function()
    -- RFC 4514 writes '"' as \" and '\' as \\: \" becomes \22, the rest stays
    assert.are.equal('Hash=00;Subject="CN=a \\22q\\22\\, \\\\\\22,O=x";URI=',
      forward.xfcc({ fingerprint = "00", subject = 'CN=a \\"q\\"\\, \\\\\\",O=x', san = {} }))
  end)

  it("quotes a URI or DNS value holding ',', ';' or '=' and percent-encodes what no parser agrees on", function()
    local v = forward.xfcc({ fingerprint = "00", subject = "CN=a", san = {
      { type = "uri", value = "urn:a;b=c,d" }, { type = "uri", value = 'x"y\\z' },
      { type = "dns", value = "a\r\nX-Evil: 1\0" } } })
    assert.are.equal('Hash=00;Subject="CN=a";URI="urn:a;b=c,d";URI=x%22y%5Cz;DNS=a%0D%0AX-Evil: 1%00', v)
  end)
end)
