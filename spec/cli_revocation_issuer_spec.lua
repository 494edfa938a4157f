-- `clientcert revocation CERT --issuer FILE --roots ...` judges the answers with
-- the key of --issuer: that must be the issuer of the path --roots verified, not
-- any certificate of the same name. Here --issuer is a forged "Revocation Test
-- Inter" (another key) and every URL answers what its key signs (an OCSP "good"
-- for a revoked certificate, an empty CRL, the forged certificate): the command
-- must not report the revoked certificate as good. The fetches are answered in
-- process (revocation.blocking_fetch replaced for the test; openssl ocsp offline).
local live = require "helpers.live"
local cli = require "helpers.cli"
local revocation = require "clientcert.revocation"

local q = live.q

describe("clientcert revocation --issuer", function()
  local dir, pki, real_fetch

  setup(function()
    dir = live.tempdir("clientcert-revissuer")
    pki = dir .. "/pki"
    live.fixture(pki, "revocation.sh", 1, 2, 3, 4, 5)
    -- the forger's responder database: every certificate good
    local ok, out = live.run(("cd %s && awk -F'\\t' 'BEGIN { OFS = \"\\t\" } { $1 = \"V\"; $3 = \"\"; print }' "
      .. "index.txt > forged-index.txt && openssl x509 -in rogue-ca.pem -outform DER -out rogue-ca.der"):format(q(pki)))
    assert(ok, out)
    -- the forger's CRL: empty, signed by the forged issuer's key
    ok, out = live.run(("cd %s && python3 -c %s"):format(q(pki), q([[
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca = x509.load_pem_x509_certificate(open("rogue-ca.pem", "rb").read())
key = serialization.load_pem_private_key(open("rogue.key", "rb").read(), None)
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
       .last_update(now - datetime.timedelta(hours=1)).next_update(now + datetime.timedelta(days=1))
       .sign(key, hashes.SHA256()))
open("forged.crl", "wb").write(crl.public_bytes(serialization.Encoding.DER))
]])))
    assert(ok, out)
    real_fetch = revocation.blocking_fetch
    revocation.blocking_fetch = function(url, body)
      if body then
        live.write(dir .. "/req.der", body)
        local rok, rout = live.run(("cd %s && openssl ocsp -index forged-index.txt -rsigner rogue-ca.pem "
          .. "-rkey rogue.key -CA rogue-ca.pem -nmin 60 -reqin ../req.der -respout ../resp.der"):format(q(pki)))
        assert(rok, rout)
        return live.read(dir .. "/resp.der")
      elseif url:find("%.crl$") then
        return live.read(pki .. "/forged.crl")
      end
      return live.read(pki .. "/rogue-ca.der")
    end
  end)
  teardown(function()
    if real_fetch then revocation.blocking_fetch = real_fetch end
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  it("refuses an --issuer that is not the issuer of the verified path, fetching nothing", function()
    local code, out = cli.run("revocation", pki .. "/leaf-revoked.pem", "--issuer", pki .. "/rogue-ca.pem",
      "--roots", pki .. "/root.pem", "--intermediates", pki .. "/inter.pem", "--time", tostring(os.time()))
    assert.is_false(out:find("Verdict: ok", 1, true) ~= nil, out)
    assert.equals(1, code, out)
    assert.matches("--issuer", out, 1, true)
    assert.matches("nothing is fetched", out, 1, true)
  end)
end)
