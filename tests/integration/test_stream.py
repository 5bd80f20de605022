"""Live output: POST /execute with Accept: application/x-ndjson
(src/stream_ndjson.c): events as the program writes, the last one the exact
buffered result, every limit kept, nothing left behind."""

import json
import socket
import time

import ce
from ce import CETestCase, code

NDJSON = "application/x-ndjson"
# What differs between two runs of the same program.
# What differs from one run to the next (a second identical compile is a cache hit).
VOLATILE = ("time", "time_ms", "memory_kb", "cached")


def strip_volatile(body):
    body = {k: v for k, v in body.items() if k not in VOLATILE}
    if "compile" in body:
        body["compile"] = strip_volatile(body["compile"])
    return body


class StreamCase(CETestCase):
    def stream(self, payload, path="/execute", on_event=None, accept=NDJSON):
        """POST payload with Accept: NDJSON; returns (status, headers, [(t, event)])
        where t is the monotonic time the line arrived."""
        conn = self.server.connection()
        try:
            conn.request("POST", path, body=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/json", "Accept": accept})
            resp = conn.getresponse()
            if resp.status != 200 or resp.headers.get("Content-Type") != NDJSON:
                return resp.status, resp.headers, ce.parse_json(resp.read())
            events = []
            while True:
                line = resp.readline()
                if not line:
                    break
                self.assertTrue(line.endswith(b"\n"), line)
                ev = ce.parse_json(line)
                events.append((time.monotonic(), ev))
                if on_event:
                    on_event(ev)
            return resp.status, resp.headers, events
        finally:
            conn.close()

    def run_stream(self, src, language="python3", **extra):
        payload = {"language": language, "code": src}
        payload.update(extra)
        status, headers, events = self.stream(payload)
        self.assertEqual(status, 200, events)
        self.assertEqual(headers.get("Transfer-Encoding"), "chunked")
        self.assertTrue(events, "no events")
        kinds = [e["type"] for _, e in events]
        self.assertEqual(kinds[-1], "result", kinds)
        self.assertEqual(kinds.count("result"), 1, kinds)
        for _, e in events:
            self.assertIn(e["type"], ("stage", "stdout", "stderr", "skipped", "exit", "result"), e)
        result = events[-1][1]["result"]
        if "compile" not in result:
            self.assert_result_shape(result)
        return events, result

    def data(self, events, kind, stage="run"):
        return "".join(e["data"] for _, e in events if e["type"] == kind and e["stage"] == stage)


class StreamEvents(StreamCase):
    def test_events_arrive_while_the_program_runs(self):
        src = code("""
            import sys, time
            print("first")
            print("oops", file=sys.stderr)
            time.sleep(1)
            print("second")
            """)
        events, result = self.run_stream(src)
        kinds = [e["type"] for _, e in events]
        self.assertEqual(kinds[0], "stage")
        self.assertEqual(events[0][1], {"type": "stage", "stage": "run"})
        first = next(t for t, e in events if e["type"] == "stdout" and "first" in e["data"])
        end = events[-1][0]
        self.assertGreater(end - first, 0.7, "the first line must arrive about 1 s before the end: %r" % events)
        self.assertEqual(self.data(events, "stdout"), "first\nsecond\n")
        self.assertEqual(self.data(events, "stderr"), "oops\n")
        exits = [e for _, e in events if e["type"] == "exit"]
        self.assertEqual(exits, [{"type": "exit", "stage": "run", "status": "ok", "exit_code": 0, "signal": None}])
        self.assert_result(result, "ok", exit_code=0)
        self.assertEqual(result["stdout"], "first\nsecond\n")

    def test_result_equals_the_buffered_response(self):
        src = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(4)"
        events, streamed = self.run_stream(src, stdin="in", args=["a"])
        status, _, plain = self.server.execute(src, stdin="in", args=["a"])
        self.assertEqual(status, 200)
        self.assertEqual(list(streamed), list(plain), "same keys, same order")
        self.assertEqual(strip_volatile(streamed), strip_volatile(plain))
        self.assert_result(streamed, "runtime_error", exit_code=4)

    def test_compiled_language_streams_both_stages(self):
        src = '#include <stdio.h>\nint main(void){ puts("hi"); fflush(stdout); return 0; }'
        events, result = self.run_stream(src, language="c")
        stages = [e["stage"] for _, e in events if e["type"] == "stage"]
        self.assertEqual(stages, ["compile", "run"])
        exits = [(e["stage"], e["status"]) for _, e in events if e["type"] == "exit"]
        self.assertEqual(exits, [("compile", "ok"), ("run", "ok")])
        self.assertEqual(self.data(events, "stdout"), "hi\n")
        self.assertIn("compile", result)
        status, _, plain = self.server.execute(src, language="c")
        self.assertEqual(strip_volatile(result), strip_volatile(plain))

    def test_compile_error_streams_the_compiler_and_no_run(self):
        events, result = self.run_stream("int main(){ return nope; }", language="c")
        stages = [e["stage"] for _, e in events if e["type"] == "stage"]
        self.assertEqual(stages, ["compile"])
        self.assertIn("nope", self.data(events, "stderr", stage="compile"))
        exits = [(e["stage"], e["status"]) for _, e in events if e["type"] == "exit"]
        self.assertEqual(exits, [("compile", "compile_error")])
        self.assertEqual(result["status"], "compile_error")

    def test_utf8_cut_between_writes_is_rejoined(self):
        src = code("""
            import os, time
            for b in "é✓".encode():
                os.write(1, bytes([b]))
                time.sleep(0.05)
            """)
        events, result = self.run_stream(src)
        self.assertEqual(self.data(events, "stdout"), "é✓")
        self.assertEqual(result["stdout"], "é✓")

    def test_invalid_utf8_is_replaced(self):
        events, result = self.run_stream("import os\nos.write(1, b'a\\xffb')")
        self.assertEqual(self.data(events, "stdout"), "a\ufffdb")

    def test_without_the_header_nothing_changes(self):
        status, headers, body = self.server.request_json(
            "POST", "/execute", json.dumps({"language": "python3", "code": "print(1)"}).encode(),
            {"Content-Type": "application/json", "Accept": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        self.assert_result_shape(body)

    def test_bad_requests_are_plain_errors(self):
        status, headers, body = self.stream({"language": "cobol", "code": "x"})
        self.assert_error(status, headers, body, 400)
        status, headers, body = self.stream({"language": "python3"})
        self.assert_error(status, headers, body, 400)

    def test_piston_route_does_not_stream(self):
        status, headers, body = self.stream({"language": "python", "files": [{"content": "print(5)"}]},
                                            path="/api/v2/execute")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["run"]["stdout"], "5\n")


class StreamLimits(StreamCase):
    def test_output_limit_holds(self):
        events, result = self.run_stream("import sys\nwhile True: sys.stdout.write('x' * 4096)",
                                         limits={"output_bytes": 10000})
        self.assert_result(result, "output_limit")
        self.assertEqual(len(self.data(events, "stdout")), 10000)
        self.assertEqual(len(result["stdout"]), 10000)

    def test_timeout_holds(self):
        events, result = self.run_stream("print('started', flush=True)\nwhile True: pass",
                                         limits={"timeout_ms": 1000})
        self.assert_result(result, "timeout", signal="SIGKILL")
        self.assertEqual(self.data(events, "stdout"), "started\n")
        exits = [e for _, e in events if e["type"] == "exit"]
        self.assertEqual(exits[0]["status"], "timeout")

    def test_slow_reader_never_blocks_and_loses_only_live_chunks(self):
        total = 8 * 1024 * 1024
        src = "import sys\nfor _ in range(%d): sys.stdout.write('y' * 65536)\nsys.stdout.flush()" % (total // 65536)
        conn = self.server.connection()
        conn.request("POST", "/execute", body=json.dumps({"language": "python3", "code": src,
                                                          "limits": {"output_bytes": total}}).encode(),
                     headers={"Accept": NDJSON})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        # Do not read: the program must still finish (nobody waits for us) ...
        time.sleep(0.5)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ce.busy_containers(self.server):
            time.sleep(0.1)
        self.assertEqual(ce.busy_containers(self.server), [], "the program waited for the reader")
        # ... and every byte is either streamed or counted as skipped.
        streamed = skipped = 0
        last = None
        for line in resp:
            ev = ce.parse_json(line)
            last = ev
            if ev["type"] == "stdout":
                streamed += len(ev["data"])
            elif ev["type"] == "skipped":
                skipped += ev["bytes"]
        conn.close()
        self.assertEqual(streamed + skipped, total)
        self.assertEqual(last["type"], "result")
        self.assertEqual(len(last["result"]["stdout"]), total, "the result keeps all of the output")
        self.assert_result(last["result"], "ok")

    def test_client_hang_up_kills_the_container(self):
        s = socket.create_connection((ce.HOST, self.server.port), timeout=30)
        body = json.dumps({"language": "python3",
                           "code": "import time\nprint('up', flush=True)\ntime.sleep(60)"}).encode()
        s.sendall(b"POST /execute HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        got = b""
        while b'"data":"up' not in got:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "connection closed before the first line: %r" % got)
            got += chunk
        self.assertTrue(ce.busy_containers(self.server), "the program should still run")
        s.close()
        t0 = time.monotonic()
        while ce.busy_containers(self.server) and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        self.assertEqual(ce.busy_containers(self.server), [], "container still there after the hang-up")
        self.assert_healthy()
        self.assertIn("client_gone", self.server.log_text())


class StreamShutdown(StreamCase):
    class_server = False

    def test_sigterm_lets_a_stream_finish(self):
        import signal as sig
        from concurrent.futures import ThreadPoolExecutor

        server = self.start_server()
        self.server = server
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(self.stream, {"language": "python3",
                                            "code": "import time\nprint('a', flush=True)\ntime.sleep(2)\nprint('b')"})
            self.assertIsNotNone(ce.wait_for_container(server, done=fut.done))
            time.sleep(0.3)
            server.send_signal(sig.SIGTERM)
            status, _, events = fut.result(timeout=60)
        self.assertEqual(status, 200)
        self.assertEqual(events[-1][1]["type"], "result", events)
        self.assertEqual(events[-1][1]["result"]["stdout"], "a\nb\n")
        self.assertEqual(server.wait(60), 0)
