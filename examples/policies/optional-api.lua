-- A public API where client certificates are optional: anonymous clients are
-- accepted (cause no_certificate, accepted = true) and rate-limited elsewhere;
-- a client that does present a certificate must present a valid one, and
-- service accounts must carry a urn:example:svc: URI SAN.
local p = params
return {
  mode = "optional",
  trust = assert(clientcert.store{ roots = p.roots or "/etc/clientcert/api/root.pem",
                                   intermediates = p.intermediates or "/etc/clientcert/api/issuing-ca.pem" }),
  verify = { crl = "none" },
  rule = function(info)
    for _, san in ipairs(info.san) do
      if san.type == "uri" and san.value:find("urn:example:svc:", 1, true) == 1 then return true end
    end
    return false, "no urn:example:svc: URI in the certificate's SAN"
  end,
}
