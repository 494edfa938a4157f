#!/usr/bin/env bash
# Builds hostile inputs for bench/hostile.lua into OUTDIR (openssl CLI only):
#   bundle-10k.pem   10,000 certificates in one PEM bundle (~7 MB)
#   bundle-10mb.pem  a 10 MB PEM bundle
#   chain100/        a chain of 100 certificates: root, 98 CAs, leaf (chain.pem = the 99 untrusted)
#   crl-1m.der       a CRL with 1,000,000 entries
#   san10k.pem       a certificate with 10,000 SAN entries
#   deepname.pem     a certificate whose subject has 2,000 RDNs
set -euo pipefail
out=${1:?usage: mkhostile.sh OUTDIR}
mkdir -p "$out"
cd "$out"
export OPENSSL_CONF=/dev/null
key() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
printf '[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[leaf]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > ext.cnf
key root
[ -f root.pem ] || openssl req -new -x509 -key root.key -subj /CN=hostile-root -days 36500 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out root.pem

if [ ! -f bundle-10k.pem ]; then
  for i in $(seq 1 10000); do cat root.pem; done > bundle-10k.pem
fi
if [ ! -f bundle-10mb.pem ]; then
  n=$(( 10 * 1024 * 1024 / $(wc -c < root.pem) + 1 ))
  for i in $(seq 1 $n); do cat root.pem; done | head -c $((10 * 1024 * 1024)) > bundle-10mb.pem
  # end on a whole certificate
  awk '/-----END CERTIFICATE-----/{last=NR} {l[NR]=$0} END{for(i=1;i<=last;i++) print l[i]}' bundle-10mb.pem > b.tmp && mv b.tmp bundle-10mb.pem
fi

if [ ! -f chain100/chain.pem ]; then
  mkdir -p chain100 && cp root.pem chain100/c0.pem && cp root.key chain100/c0.key
  for i in $(seq 1 99); do
    key chain100/c$i
    ext=ca; [ "$i" = 99 ] && ext=leaf
    openssl req -new -key chain100/c$i.key -subj "/CN=hostile-$i" -out chain100/c$i.csr
    openssl x509 -req -in chain100/c$i.csr -CA chain100/c$((i-1)).pem -CAkey chain100/c$((i-1)).key \
      -set_serial $i -days 36500 -extfile ext.cnf -extensions $ext -out chain100/c$i.pem 2>/dev/null
  done
  for i in $(seq 98 -1 1); do cat chain100/c$i.pem; done > chain100/chain.pem
fi

if [ ! -f crl-1m.der ]; then
  rm -rf crldb && mkdir crldb && echo 01 > crldb/crlnumber
  awk 'BEGIN { for (i = 1; i <= 1000000; i++) printf "R\t491231235959Z\t250101000000Z,keyCompromise\t%08X\tunknown\t/CN=x\n", i }' > crldb/index.txt
  printf '[ca]\ndefault_ca=d\n[d]\ndatabase=crldb/index.txt\ncrlnumber=crldb/crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n' > crl.cnf
  openssl ca -config crl.cnf -gencrl -cert root.pem -keyfile root.key -out crl-1m.pem 2>/dev/null
  openssl crl -in crl-1m.pem -outform DER -out crl-1m.der
  rm -rf crldb crl-1m.pem
fi

if [ ! -f san10k.pem ]; then
  key san
  { printf '[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=@alt\n[alt]\n'; for i in $(seq 1 10000); do echo "DNS.$i = host$i.example.test"; done; } > san.cnf
  openssl req -new -x509 -key san.key -subj /CN=san10k -days 36500 -config /dev/null -extensions leaf -extfile san.cnf -out san10k.pem 2>/dev/null \
    || openssl req -new -key san.key -subj /CN=san10k -out san.csr && openssl x509 -req -in san.csr -signkey san.key -days 36500 -extfile san.cnf -extensions leaf -out san10k.pem 2>/dev/null
fi

if [ ! -f deepname.pem ]; then
  key deep
  subj=$(for i in $(seq 1 2000); do printf '/OU=level%d' "$i"; done)
  openssl req -new -x509 -key deep.key -subj "$subj/CN=deep" -days 36500 -out deepname.pem
fi
echo "hostile inputs in $PWD"
