#!/usr/bin/env python3
"""What hostile clients cost the server (not a test: run by hand, as root).

    /usr/bin/python3 tests/integration/measure_clients.py --server build/codeengine --bundles bundles

Starts the server on a free loopback port with its own state dir, then:
- its RSS idle, at its peak while four WebSocket clients (receive buffer
  4 KiB) read nothing of a program that writes one byte per write, and
  after they closed;
- its RSS after a 16 MiB result;
- how many of five requests with args of 100, 200, 400 and 510 KiB (in
  1, 2, 4 and 4 args) run, on POST /execute and on Piston's API.
Needs Debian's python3-websocket.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import websocket  # python3-websocket

FLOOD = "import os\nwhile True: os.write(1, b'x')"
ARGS_SRC = "import sys\nprint(sum(map(len, sys.argv[1:])))"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--flood-seconds", type=float, default=15)
    args = ap.parse_args()
    port = free_port()
    state = tempfile.mkdtemp(prefix="ce-measure-")
    proc = subprocess.Popen([os.path.abspath(args.server), "--listen", "127.0.0.1:%d" % port,
                             "--bundles", os.path.abspath(args.bundles), "--state-dir",
                             os.path.join(state, "state")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rss_kb():
        with open("/proc/%d/status" % proc.pid) as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

    def post(path, body):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    try:
        for _ in range(300):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        post("/execute", {"language": "python3", "code": "print(1)"})
        time.sleep(2)
        idle = rss_kb()
        clients = []
        for _ in range(4):
            ws = websocket.create_connection("ws://127.0.0.1:%d/api/v2/connect" % port,
                                             sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
            ws.send(json.dumps({"type": "init", "language": "python", "files": [{"content": FLOOD}]}))
            clients.append(ws)
        peak, deadline = idle, time.monotonic() + args.flood_seconds
        while time.monotonic() < deadline:
            peak = max(peak, rss_kb())
            time.sleep(0.25)
        for ws in clients:
            ws.sock.close()
        time.sleep(3)
        after_flood = rss_kb()
        status = post("/execute", {"language": "python3", "code": "import sys\nsys.stdout.write('y' * (16 << 20))",
                                   "limits": {"output_bytes": 16 << 20}})
        time.sleep(3)
        after_burst = rss_kb()
        print("RSS idle %d kB; 4 WebSocket clients reading nothing: peak %d kB (+%d kB), %d kB after they "
              "closed; after a 16 MiB result (HTTP %d): %d kB" % (idle, peak, peak - idle, after_flood, status,
                                                                 after_burst))
        for kib, n in ((100, 1), (200, 2), (400, 4), (510, 4)):
            each = ["e" * (kib * 1024 // n)] * n
            native = [post("/execute", {"language": "python3", "code": ARGS_SRC, "args": each}) for _ in range(5)]
            piston = [post("/api/v2/execute", {"language": "python", "version": "*",
                                               "files": [{"content": ARGS_SRC}], "args": each}) for _ in range(5)]
            print("args %3d KiB in %d: native %d/5 ran (%s), Piston %d/5 ran (%s)"
                  % (kib, n, native.count(200), native, piston.count(200), piston))
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
