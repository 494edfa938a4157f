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
lib=$(cd "$(dirname "${BASH_SOURCE[0]}")/../spec/fixtures" && pwd)/pki-lib.sh
rm -rf "$out"
mkdir -p "$out"
cd "$out"
# shellcheck source=spec/fixtures/pki-lib.sh
. "$lib"  # pki_init, key, issue, crl_from_index (shared with the specs' PKI)
PKI_KEY_TYPE=$kt
pki_init
cat >> ca.cnf <<'CNF'
[bench_client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@example.test
CNF

ALL=20200101000000Z
END=20400101000000Z

# cert NAME SUBJECT ISSUER EXT [keytype]: issue with the bench's dates, and a DER copy
cert() {
  issue "$1" "$2" "$3" "$4" $ALL $END "${5:-$kt}"
  openssl x509 -in "$1.pem" -outform DER -out "$1.der"
}

# crl CA OUT INDEX: a CRL of CA from the index file INDEX, 2029-01-01 .. 2031-01-01, and a DER copy
crl() {
  crl_from_index "$1" "$2" "$3" 20290101000000Z 20310101000000Z
  openssl crl -in "$2.crl" -outform DER -out "$2.crl.der"
}

cert root         "/O=clientcert bench/CN=Bench Root CA"    self  root_ext
cert inter        "/O=clientcert bench/CN=Bench Issuing CA" root  ca_ext
cert alice        "/O=clientcert bench/CN=alice"            inter bench_client_ext
cert forged-root  "/O=clientcert bench/CN=Bench Root CA"    self  root_ext
cert forged-inter "/O=clientcert bench/CN=Bench Issuing CA" forged-root ca_noaki_ext
cert forger       "/O=clientcert bench/CN=forger"           forged-inter client_noaki_ext
cert other-root   "/O=Elsewhere Ltd/CN=Elsewhere Root CA"   self  root_ext
cert other-inter  "/O=Elsewhere Ltd/CN=Elsewhere Issuing CA" other-root ca_ext
cert oscar        "/O=Elsewhere Ltd/CN=oscar"               other-inter bench_client_ext

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
  cert "pad-$i" "/O=clientcert bench/CN=Bench Pad Root $i" self root_ext ec
done
cat pad-*.pem > pads.pem
rm -rf db ca.cnf ./pad-*
echo "bench PKI ($kt) written to $PWD"
