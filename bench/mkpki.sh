#!/usr/bin/env bash
# The PKI of `make bench` (bench/bench.lua), one per key type, made at bench time
# with the openssl CLI and FIXED dates: certificates valid 2020-01-01 .. 2040-01-01,
# CRLs 2029-01-01 .. 2031-01-01; the bench checks at T = 2030-06-01 (1906502400).
#   root, inter, alice        the accepted client: alice <- inter <- root
#   root.crl, inter.crl       the 2 CRLs (root's revokes one other CA, inter's one other client)
#   inter-100k.crl            inter's CRL with 100,000 entries (alice not among them)
#   forged-root/-inter, forger  a root bearing the trusted root's name, and its chain
#   other-root/-inter, oscar  a hierarchy the server does not trust
#   pads.pem                  149 more roots (P-256): with root, the 150-root store
# *.der copies of the certificates and CRLs are there for bench/raw_openssl.c.
# usage: bash bench/mkpki.sh OUTDIR rsa|ec
set -euo pipefail
out=${1:?usage: mkpki.sh OUTDIR rsa|ec}
kt=${2:?usage: mkpki.sh OUTDIR rsa|ec}
case "$kt" in rsa|ec) ;; *) echo "mkpki.sh: key type must be rsa or ec" >&2; exit 2 ;; esac
rm -rf "$out"
mkdir -p "$out"
cd "$out"
export OPENSSL_CONF=/dev/null
mkdir -p db/newcerts && : > db/index.txt && echo 1000 > db/serial && echo 01 > db/crlnumber

cat > ca.cnf <<'CNF'
[ca]
default_ca = bench
[bench]
dir = ./db
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
policy = anything
unique_subject = no
preserve = yes
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
[dn]
[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca_noaki_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.test
[client_noaki_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF

ALL=20200101000000Z
END=20400101000000Z

key() {
  case "$2" in
    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" ;;
  esac 2>/dev/null
}

# issue NAME SUBJECT ISSUER EXT [keytype]   (ISSUER "self" for a self-signed root)
issue() {
  local name=$1 subj=$2 issuer=$3 ext=$4 k=${5:-$kt}
  key "$name" "$k"
  openssl req -config ca.cnf -new -key "$name.key" -subj "$subj" -out "$name.csr"
  if [ "$issuer" = self ]; then
    openssl ca -batch -config ca.cnf -selfsign -keyfile "$name.key" -in "$name.csr" -extensions "$ext" \
      -startdate $ALL -enddate $END -notext -preserveDN -out "$name.pem" 2>/dev/null
  else
    openssl ca -batch -config ca.cnf -cert "$issuer.pem" -keyfile "$issuer.key" -in "$name.csr" \
      -extensions "$ext" -startdate $ALL -enddate $END -notext -preserveDN -out "$name.pem" 2>/dev/null
  fi
  openssl x509 -in "$name.pem" -outform DER -out "$name.der"
  rm -f "$name.csr"
}

# crl CA OUT INDEX: a CRL of CA from the index file INDEX (openssl ca's database format)
crl() {
  local ca=$1 name=$2 index=$3 db="db-$2"
  rm -rf "$db" && mkdir -p "$db" && cp "$index" "$db/index.txt" && echo 01 > "$db/crlnumber"
  sed -e "s|^dir = ./db|dir = ./$db|" ca.cnf > "$db.cnf"
  openssl ca -config "$db.cnf" -gencrl -cert "$ca.pem" -keyfile "$ca.key" \
    -crl_lastupdate 20290101000000Z -crl_nextupdate 20310101000000Z -out "$name.crl" 2>/dev/null
  openssl crl -in "$name.crl" -outform DER -out "$name.crl.der"
  rm -rf "$db" "$db.cnf"
}

issue root         "/O=clientcert bench/CN=Bench Root CA"    self  root_ext
issue inter        "/O=clientcert bench/CN=Bench Issuing CA" root  ca_ext
issue alice        "/O=clientcert bench/CN=alice"            inter client_ext
issue forged-root  "/O=clientcert bench/CN=Bench Root CA"    self  root_ext
issue forged-inter "/O=clientcert bench/CN=Bench Issuing CA" forged-root ca_noaki_ext
issue forger       "/O=clientcert bench/CN=forger"           forged-inter client_noaki_ext
issue other-root   "/O=Elsewhere Ltd/CN=Elsewhere Root CA"   self  root_ext
issue other-inter  "/O=Elsewhere Ltd/CN=Elsewhere Issuing CA" other-root ca_ext
issue oscar        "/O=Elsewhere Ltd/CN=oscar"               other-inter client_ext

# the CRLs: one revoked entry each (serials that are not alice's or inter's), and
# inter's with 100,000 entries
rev() { awk -v n="$1" -v from="$2" 'BEGIN { for (i = 0; i < n; i++)
  printf "R\t401231235959Z\t280101000000Z,keyCompromise\t%08X\tunknown\t/CN=revoked %d\n", from + i, i }' > "$3"; }
rev 1 1879048192 one-a.idx     # 0x70000000
rev 1 1879048193 one-b.idx
rev 100000 1879048194 many.idx
crl root  root      one-a.idx
crl inter inter     one-b.idx
crl inter inter-100k many.idx
rm -f ./*.idx

# 149 more roots (P-256) for the 150-root store
for i in $(seq 1 149); do
  issue "pad-$i" "/O=clientcert bench/CN=Bench Pad Root $i" self root_ext ec
done
cat pad-*.pem > pads.pem
rm -rf db ca.cnf ./pad-*
echo "bench PKI ($kt) written to $PWD"
