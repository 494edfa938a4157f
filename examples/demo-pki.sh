#!/usr/bin/env bash
# Makes a small demo PKI in DIR (default ./demo-pki) with the openssl CLI:
#   root.pem (trusted root) -> inter.pem -> alice.pem   a good client (clientAuth)
#   inter.pem -> expired.pem                             a client whose certificate expired in 2024
#   stranger-root.pem -> stranger.pem                    a client from a CA the server does not trust
#   inter.crl                                            inter's CRL (nothing revoked), 2029-01-01 .. 2031-01-01
# Dates are fixed (2020..2040) so the demo gives the same answers every year.
set -euo pipefail
dir=${1:-demo-pki}
mkdir -p "$dir"
cd "$dir"
rm -rf ca && mkdir -p ca/newcerts && : > ca/index.txt && echo 1000 > ca/serial

cat > ca.cnf <<'CNF'
[ca]
default_ca = demo
[demo]
dir = ./ca
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
# sign NAME SUBJECT ISSUER EXT START END  (ISSUER "self" for a root)
sign() {
  local name=$1 subj=$2 issuer=$3 ext=$4 start=$5 end=$6
  key "$name"
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
  if [ "$issuer" = self ]; then
    openssl ca -batch -config ca.cnf -selfsign -keyfile "$name.key" -in "$name.csr" -extensions "$ext" \
      -startdate "$start" -enddate "$end" -notext -out "$name.pem" 2>/dev/null
  else
    openssl ca -batch -config ca.cnf -cert "$issuer.pem" -keyfile "$issuer.key" -in "$name.csr" \
      -extensions "$ext" -startdate "$start" -enddate "$end" -notext -out "$name.pem" 2>/dev/null
  fi
  rm -f "$name.csr"
}

sign root          "/O=Demo Corp/CN=Demo Root CA"           self  root_ext   20200101000000Z 20400101000000Z
sign inter         "/O=Demo Corp/CN=Demo Issuing CA"         root  ca_ext     20200101000000Z 20400101000000Z
sign alice         "/O=Demo Corp/CN=alice"                   inter client_ext 20200101000000Z 20400101000000Z
sign expired       "/O=Demo Corp/CN=bob (left in 2024)"      inter client_ext 20200101000000Z 20240101000000Z
sign stranger-root "/O=Elsewhere Ltd/CN=Elsewhere Root CA"   self  root_ext   20200101000000Z 20400101000000Z
sign stranger      "/O=Elsewhere Ltd/CN=mallory"             stranger-root client_ext 20200101000000Z 20400101000000Z
openssl ca -batch -config ca.cnf -gencrl -cert inter.pem -keyfile inter.key -md sha256 \
  -crl_lastupdate 20290101000000Z -crl_nextupdate 20310101000000Z -out inter.crl 2>/dev/null
echo "demo PKI written to $PWD"
