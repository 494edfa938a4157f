#!/usr/bin/env python3
"""Many TLS clients for the OpenResty integration spec (python3 + cryptography).

  tls_clients.py gen PKI N OUT     N client leaves signed by PKI/inter.pem's key (one shared
                                   leaf key): OUT/cNNNNN.pem = leaf + PKI/inter.pem, OUT/leaf.key
  tls_clients.py junk OUT N        N self-signed leaves, each followed by a ~50 KB chain of
                                   unrelated self-signed CA certificates: OUT/junkNN.pem, OUT/junk.key
  tls_clients.py run PORT DIR N [--first K] [--threads T] [--names PREFIX] [--full-path P]
                   [--between CMD]
                                   for clients K..N-1 of DIR (PREFIX "c", default, or "junk"): a full
                                   handshake and GET P (default /), keeping the session; then CMD (a
                                   shell command); then for each client answered 200 a resumed
                                   connection with its session and GET / (TLS 1.2 for even clients,
                                   1.3 for odd ones). Prints one JSON object: counts by outcome, and
                                   a few samples of the first lines of those not accepted.
"""
import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading

def gen(pki, n, out):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    inter_pem = open(os.path.join(pki, "inter.pem"), "rb").read()
    inter = x509.load_pem_x509_certificate(inter_pem)
    ikey = serialization.load_pem_private_key(open(os.path.join(pki, "inter.key"), "rb").read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "leaf.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.public_key())
    for i in range(n):
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "clientcert live"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "client%05d" % i)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(inter.subject)
                .public_key(key.public_key()).serial_number(10**9 + i)
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(aki, critical=False)
                .sign(ikey, hashes.SHA256()))
        with open(os.path.join(out, "c%05d.pem" % i), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM) + inter_pem)

def junk(out, n):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    os.makedirs(out, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(out, "junk.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    def selfsigned(cn, ca, pad):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if pad:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("pad%04d.junk.example" % k) for k in range(pad)]), critical=False)
        return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    for i in range(n):
        chain = b"".join(selfsigned("junk CA %d.%d" % (i, k), True, 60) for k in range(25))
        with open(os.path.join(out, "junk%02d.pem" % i), "wb") as f:
            f.write(selfsigned("junk leaf %d" % i, False, 0) + chain)

def request(port, ctx, session, path):
    """(status, body, session, reused) of one GET on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
            if b"\r\ntransfer-encoding: chunked" in head.lower():
                plain = b""
                while body:
                    size, _, rest = body.partition(b"\r\n")
                    size = int(size.split(b";")[0] or b"0", 16)
                    if size == 0:
                        break
                    plain, body = plain + rest[:size], rest[size + 2:]
                body = plain
            return status, body.decode("utf-8", "replace"), s.session, s.session_reused

def context(certfile, keyfile, tls13):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version
    ctx.load_cert_chain(certfile, keyfile)
    return ctx

def run(port, d, n, first, threads, prefix, keyname, full_path, between):
    """Full handshakes for every client (in threads), then the command between (if
    any), then a resumed connection for each client that was answered 200."""
    counts, samples, lock = {}, [], threading.Lock()
    sessions = {}

    def note(k, body):
        with lock:
            counts[k] = counts.get(k, 0) + 1
            if not k.endswith(" ok") and len(samples) < 5:
                samples.append(k + ": " + body.split("\n", 1)[0])

    def each(todo, job):
        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                try:
                    job(i)
                except Exception as e:  # noqa: BLE001 (counted: the spec reads the counts)
                    note("error " + type(e).__name__, str(e))
        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def full(i):
        name = ("%s%05d.pem" if prefix == "c" else "%s%02d.pem") % (prefix, i)
        ctx = context(os.path.join(d, name), os.path.join(d, keyname), i % 2 == 1)
        st, body, sess, _ = request(port, ctx, None, full_path)
        note("full %d %s" % (st, "ok" if st == 200 else body.split(" ", 1)[0]), body)
        if st == 200:
            with lock:
                sessions[i] = (ctx, sess)

    def resumed(i):
        ctx, sess = sessions[i]
        st, body, _, reused = request(port, ctx, sess, "/")
        cause = "ok" if st == 200 and "resumed=true" in body else body.split(" ", 1)[0]
        note("resumed %d %s %s" % (st, "reused" if reused else "not-reused", cause), body)

    each(list(range(first, n)), full)
    if between:
        subprocess.run(between, shell=True, check=False)
    each(sorted(sessions), resumed)
    print(json.dumps({"counts": counts, "samples": samples}, sort_keys=True))

def main(argv):
    if len(argv) >= 4 and argv[1] == "gen":
        gen(argv[2], int(argv[3]), argv[4])
    elif len(argv) >= 4 and argv[1] == "junk":
        junk(argv[2], int(argv[3]))
    elif len(argv) >= 5 and argv[1] == "run":
        opts = {"--first": "0", "--threads": "4", "--names": "c", "--full-path": "/", "--between": ""}
        rest = argv[5:]
        while rest:
            opts[rest[0]] = rest[1]
            rest = rest[2:]
        prefix = opts["--names"]
        run(int(argv[2]), argv[3], int(argv[4]), int(opts["--first"]), int(opts["--threads"]), prefix,
            "leaf.key" if prefix == "c" else "junk.key", opts["--full-path"], opts["--between"])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
