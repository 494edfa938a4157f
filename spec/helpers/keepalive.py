#!/usr/bin/env python3
"""Steps on one keepalive TLS connection with a client certificate (python3's ssl only).

  keepalive.py PORT CERTFILE KEYFILE STEP...
    STEP: "GET /path"   a request on the connection (HTTP/1.1, Host: localhost, keepalive)
          "sleep S"     waits S seconds (a float)
          "run CMD"     runs a shell command (its output is not read)
  Prints one JSON object per GET, one a line: {"status", "headers" (lowercase names),
  "body"}; the connection is never reopened (a closed connection ends the run with
  {"error": ...}).
"""
import json
import socket
import ssl
import subprocess
import sys
import time


def read_response(s, buf):
    """(status, headers, body, rest of buf) of one HTTP/1.1 response."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in buf:
                buf += s.recv(65536)
            size, _, buf = buf.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            while len(buf) < n + 2:
                buf += s.recv(65536)
            body, buf = body + buf[:n], buf[n + 2:]
            if n == 0:
                break
    else:
        n = int(headers.get("content-length", "0"))
        while len(buf) < n:
            buf += s.recv(65536)
        body, buf = buf[:n], buf[n:]
    return status, headers, body.decode("utf-8", "replace"), buf


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    port, certfile, keyfile, steps = int(argv[1]), argv[2], argv[3], argv[4:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(certfile, keyfile)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            buf = b""
            for step in steps:
                verb, _, arg = step.partition(" ")
                if verb == "sleep":
                    time.sleep(float(arg))
                elif verb == "run":
                    subprocess.run(arg, shell=True, check=False, stdout=subprocess.DEVNULL)
                elif verb == "GET":
                    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % arg).encode())
                    try:
                        status, headers, body, buf = read_response(s, buf)
                    except (EOFError, OSError) as e:
                        print(json.dumps({"error": str(e)}))
                        return 1
                    print(json.dumps({"status": status, "headers": headers, "body": body}))
                    sys.stdout.flush()
                else:
                    sys.stderr.write("keepalive.py: unknown step %r\n" % step)
                    return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
