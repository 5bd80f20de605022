#!/usr/bin/env python3
"""Time from a program's write to the client receiving it (not a test: run by hand, as root).

    python3 tests/integration/measure_latency.py --server build/codeengine --bundles bundles [-n 100]

The program (python3, in a container) prints CLOCK_MONOTONIC in ns, n times,
20 ms apart; the client subtracts it from its own CLOCK_MONOTONIC when the
line arrives (containers share the host's clock).  Three paths: a local
pipe (the program on the host, read by this process: the polling-free
baseline), NDJSON (POST /execute, Accept: application/x-ndjson) and the
WebSocket (GET /api/v2/connect, through the npm client ws).  Prints the
median and p90 of each in microseconds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = "import time\nfor _ in range(%d):\n    print(time.monotonic_ns(), flush=True)\n    time.sleep(0.02)\n"


def summary(name, lat):
    lat = sorted(lat)
    print("%-10s n=%3d  median %8.1f us  p90 %8.1f us" % (name, len(lat), statistics.median(lat),
                                                        lat[int(len(lat) * 0.9)]))


def pipe(n):
    lat = []
    p = subprocess.Popen([sys.executable, "-c", PROGRAM % n], stdout=subprocess.PIPE)
    for line in p.stdout:
        lat.append((time.monotonic_ns() - int(line)) / 1000)
    p.wait()
    return lat


def ndjson(server, n):
    lat, carry = [], ""
    conn = server.connection()
    conn.request("POST", "/execute", body=json.dumps({"language": "python3", "code": PROGRAM % n}).encode(),
                 headers={"Accept": "application/x-ndjson"})
    resp = conn.getresponse()
    for raw in resp:
        now = time.monotonic_ns()
        ev = json.loads(raw)
        if ev["type"] != "stdout":
            continue
        lines = (carry + ev["data"]).split("\n")
        carry = lines.pop()
        lat += [(now - int(l)) / 1000 for l in lines if l]
    conn.close()
    return lat


def websocket(server, n):
    client = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "piston-client", "latency.mjs")
    r = subprocess.run(["node", client, "ws://127.0.0.1:%d/api/v2/connect" % server.port, PROGRAM % n],
                       capture_output=True, text=True, timeout=120, check=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("-n", type=int, default=100)
    args = ap.parse_args()
    os.environ["CE_SERVER"], os.environ["CE_BUNDLES"] = os.path.abspath(args.server), os.path.abspath(args.bundles)
    sys.path.insert(0, HERE)
    import ce
    server = ce.Server(tag="latency")
    server.start()
    try:
        summary("pipe", pipe(args.n))
        summary("ndjson", ndjson(server, args.n))
        summary("websocket", websocket(server, args.n))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
