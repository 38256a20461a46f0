"""One gateway, one connection, an exact number of requests: what bench/gateway/instructions.py
counts the server's instructions for.

    python3 bench/gateway/client.py GATEWAY DATABASE_URL FILE REQUESTS

Starts GATEWAY (pool of one connection, so one backend serves every request), sends REQUESTS
GETs over one keep-alive HTTP connection, cycling through FILE's lines ("path<TAB>header<TAB>
value", bench/gateway/fixtures.py), then stops the gateway with SIGTERM: its pool closes the
connection and the backend exits, which is when callgrind writes the backend's counts. Exits
non-zero on any response other than 200.
"""

import http.client
import os
import signal
import subprocess
import sys
import time

gateway, database_url, path, requests = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = [line.rstrip("\n").split("\t") for line in open(path)]
server = subprocess.Popen(
    [gateway, "--database-url", database_url, "--listen", "127.0.0.1:0", "--pool-size", "1",
     "--log-format", "text"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"})
try:
    address = None
    deadline = time.time() + 60
    while address is None and time.time() < deadline:
        line = server.stdout.readline()
        if line.startswith("boards-tenant-gateway listening on http://"):
            address = line.strip().rsplit("/", 1)[1]
    if address is None:
        sys.exit("the gateway did not start")
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port))
    for i in range(requests):
        target, header, value = lines[i % len(lines)]
        connection.request("GET", target, headers={header: value})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"{target}: {response.status} {body[:200]!r}")
    connection.close()
finally:
    server.send_signal(signal.SIGTERM)
    if server.wait(timeout=60) != 0:
        sys.exit(f"the gateway exited with {server.returncode}")
