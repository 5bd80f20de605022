"""Piston's WebSocket protocol, GET /api/v2/connect (src/stream_ws.c), driven
by the npm client `ws` (tests/piston-client/ws.mjs) and by raw sockets for the
handshake.  Without node or npm the ws tests skip, except under CI=true."""

import json
import os
import socket
import subprocess
import time

import ce
import test_piston
from test_piston import CLIENT_DIR

INTERACTIVE = 'print("name?", flush=True)\nn = input()\nprint("hello " + n)'


def init(language="python", content=INTERACTIVE, **extra):
    msg = {"type": "init", "language": language, "files": [{"content": content}]}
    msg.update(extra)
    return json.dumps(msg)


def stdin(data):
    return json.dumps({"type": "data", "stream": "stdin", "data": data})


class PistonWebSocket(test_piston.NodeSetup, ce.CETestCase):
    """The npm client ws against the server."""

    def ws(self, sends=(), terminate_on=None, path="/api/v2/connect"):
        spec = {"sends": [dict(on=on, text=text, delay=delay) for on, text, delay in sends]}
        if terminate_on:
            spec["terminate_on"] = terminate_on
        r = subprocess.run([self.node, os.path.join(CLIENT_DIR, "ws.mjs"),
                            "ws://%s:%d%s" % (ce.HOST, self.server.port, path), json.dumps(spec)],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertNotIn("timeout", out, out)
        return out

    def types(self, out):
        return [m["type"] for m in out["messages"]]

    def data(self, out, stream="stdout"):
        return "".join(m["data"] for m in out["messages"] if m["type"] == "data" and m["stream"] == stream)

    def test_interactive_program_gets_stdin_sent_after_it_started(self):
        out = self.ws([("open", init(), 0), ("stage:run", stdin("world\n"), 300)])
        types = self.types(out)
        self.assertEqual((types[:2], types[-1], set(types[2:-1])), (["runtime", "stage"], "exit", {"data"}), out)
        self.assertEqual(out["messages"][0]["language"], "python")
        self.assertEqual(self.data(out), "name?\nhello world\n")
        started = next(m["t"] for m in out["messages"] if m["type"] == "stage")
        answer = next(m["t"] for m in out["messages"] if m["type"] == "data" and "hello" in m["data"])
        exit_msg = out["messages"][-1]
        self.assertEqual((exit_msg["stage"], exit_msg["code"], exit_msg["signal"]), ("run", 0, None), exit_msg)
        self.assertGreaterEqual(answer - started, 280, "the answer came before stdin was sent: %r" % out)
        self.assertEqual(out["close"], {"code": 4999, "reason": "Job Completed", "t": out["close"]["t"]})

    def test_compiled_language_has_both_stages(self):
        src = '#include <stdio.h>\nint main(void){ char b[64]; fgets(b, sizeof b, stdin); printf("got %s", b); return 2; }'
        out = self.ws([("open", init("c", src), 0), ("stage:run", stdin("line\n"), 100)])
        stages = [m["stage"] for m in out["messages"] if m["type"] == "stage"]
        self.assertEqual(stages, ["compile", "run"], out)
        exits = [(m["stage"], m["code"]) for m in out["messages"] if m["type"] == "exit"]
        self.assertEqual(exits, [("compile", 0), ("run", 2)], out)
        self.assertEqual(self.data(out), "got line\n")
        self.assertEqual(out["close"]["code"], 4999)

    def test_compile_error_skips_the_run(self):
        out = self.ws([("open", init("c", "int main(){ return nope; }"), 0)])
        stages = [m["stage"] for m in out["messages"] if m["type"] == "stage"]
        self.assertEqual(stages, ["compile"], out)
        self.assertIn("nope", self.data(out, "stderr"))
        self.assertEqual(out["messages"][-1]["code"], 1)
        self.assertEqual(out["close"]["code"], 4999)

    def test_socket_that_never_sends_init_is_closed_4001(self):
        out = self.ws()
        self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4001, "Initialization Timeout"))
        self.assertGreaterEqual(out["close"]["t"], 900)
        self.assertLess(out["close"]["t"], 10000)

    def test_bad_messages_get_piston_close_codes(self):
        out = self.ws([("open", "not json", 0)])
        self.assertEqual(self.types(out), ["error"], out)
        self.assertEqual(out["close"]["code"], 4002)
        out = self.ws([("open", stdin("x"), 0)])
        self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4003, "Not yet initialized"))
        out = self.ws([("open", json.dumps({"type": "signal", "signal": "SIGKILL"}), 0)])
        self.assertEqual(out["close"]["code"], 4003)
        sleeper = "import time\ntime.sleep(30)"
        out = self.ws([("open", init(content=sleeper), 0), ("runtime", init(content=sleeper), 0)])
        self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4000, "Already Initialized"))
        out = self.ws([("open", init(content=sleeper), 0),
                       ("stage:run", json.dumps({"type": "data", "stream": "stdout", "data": "x"}), 0)])
        self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4004, "Can only write to stdin"))
        out = self.ws([("open", init(content=sleeper), 0),
                       ("stage:run", json.dumps({"type": "signal", "signal": "SIGNOPE"}), 0)])
        self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4005, "Invalid signal"))

    def test_bad_init_is_an_error_then_4002(self):
        for msg, want in ((init("cobol"), "cobol-* runtime is unknown"),
                          (json.dumps({"type": "init", "language": "python"}), "files is required as an array"),
                          (init(run_timeout=10 ** 9), "run_timeout cannot exceed")):
            out = self.ws([("open", msg, 0)])
            self.assertEqual(self.types(out), ["error"], out)
            self.assertIn(want, out["messages"][0]["message"])
            self.assertEqual((out["close"]["code"], out["close"]["reason"]), (4002, "Notified Error"))

    def test_signal_kills_the_program(self):
        out = self.ws([("open", init(content="import time\nprint('up', flush=True)\ntime.sleep(30)"), 0),
                       ("data", json.dumps({"type": "signal", "signal": "SIGTERM"}), 0)])
        exit_msg = [m for m in out["messages"] if m["type"] == "exit"]
        self.assertEqual(len(exit_msg), 1, out)
        self.assertEqual(exit_msg[0]["signal"], "SIGKILL", out)
        self.assertIsNone(exit_msg[0]["code"])
        self.assertLess(exit_msg[0]["t"], 20000)

    def test_limits_hold(self):
        out = self.ws([("open", init(content="print('x', flush=True)\nwhile True: pass", run_timeout=800), 0)])
        exit_msg = out["messages"][-1]
        self.assertEqual((exit_msg["type"], exit_msg.get("status"), exit_msg["signal"]), ("exit", "TO", "SIGKILL"), out)
        out = self.ws([("open", init(content="import sys\nwhile True: sys.stdout.write('z' * 4096)"), 0)])
        self.assertEqual(out["messages"][-1]["status"], "OL", out["messages"][-1])
        limit = self.get_json("/version")["limits"]["output_bytes"]
        self.assertLessEqual(len(self.data(out)), limit)

    def test_client_going_away_kills_the_container(self):
        out = self.ws([("open", init(content="import time\nprint('up', flush=True)\ntime.sleep(60)"), 0)],
                      terminate_on="data")
        self.assertEqual(self.types(out)[:3], ["runtime", "stage", "data"], out)
        self.assertNotIn("exit", self.types(out), out)
        t0 = time.monotonic()
        while ce.busy_containers(self.server) and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        self.assertEqual(ce.busy_containers(self.server), [], "container still there after the client left")
        self.assert_healthy()

    def test_oversized_message_closes_1009(self):
        # a message over --max-body (1 MiB), built in the client
        out = self.ws([("open", "BIG:%d" % (2 << 20), 0)])
        self.assertEqual(out["close"]["code"], 1009, out)


class PistonWebSocketHandshake(ce.CETestCase):
    def test_plain_get_is_400(self):
        status, _, body = self.server.request_json("GET", "/api/v2/connect")
        self.assertEqual(status, 400, body)
        self.assertIn("WebSocket", body["message"])

    def test_wrong_version_is_426(self):
        status, headers, body = self.server.request_json("GET", "/api/v2/connect", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(status, 426, body)
        self.assertEqual(headers.get("Sec-WebSocket-Version"), "13")

    def test_accept_key_is_rfc6455s(self):
        with socket.create_connection((ce.HOST, self.server.port), timeout=10) as s:
            s.sendall(b"GET /api/v2/connect HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                      b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n")[0].decode()
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        # RFC 6455, section 1.3's example
        self.assertIn("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head)

    def test_post_is_405(self):
        status, _, body = self.server.request_json("POST", "/api/v2/connect", b"{}")
        self.assertEqual(status, 405, body)
