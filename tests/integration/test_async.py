"""Asynchronous executions in the native API (issue 18): POST /executions,
GET and DELETE /executions/{id}, Idempotency-Key, --max-jobs and
--result-ttl, sync requests beside a backlog, and the job store across a
clean restart, a kill -9 mid-job and a job given up after --job-attempts.

Outcomes only: the waits below are hang guards, never assertions on speed.
"""

import json
import os
import re
import tempfile
import threading
import time

import ce
from ce import CETestCase, code

ID = re.compile(r"[0-9a-f]{32}\Z")
JOB_KEYS = ("id", "state", "result", "attempts", "created_at", "started_at", "finished_at",
            "expires_at")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
DONE_TIMEOUT = 300.0  # hang guard for one job to end on a busy 2-core machine

SLEEPER = code("""
    import time
    print("started", flush=True)
    time.sleep(60)
    print("never")
    """)


def body(source, language="python3", **extra):
    d = {"language": language, "code": source}
    d.update(extra)
    return json.dumps(d).encode()


class AsyncCase(CETestCase):
    def submit(self, server, payload, headers=None, expect=202):
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        status, h, doc = server.request_json("POST", "/executions", payload, hdrs)
        self.assertEqual(status, expect, doc)
        if expect == 202:
            self.assertEqual(list(doc), ["id"], doc)
            self.assertRegex(doc["id"], ID)
            self.assertEqual(h["Location"], "/executions/" + doc["id"])
            return doc["id"]
        return doc

    def get(self, server, job_id, expect=200):
        status, _, doc = server.request_json("GET", "/executions/" + job_id)
        self.assertEqual(status, expect, doc)
        if expect == 200:
            self.assert_job_shape(doc)
        return doc

    def assert_job_shape(self, doc):
        self.assertEqual(tuple(doc), JOB_KEYS, doc)
        self.assertIn(doc["state"], ("queued", "running", "done"), doc)
        self.assertTrue(type(doc["attempts"]) is int, doc)
        self.assertRegex(doc["created_at"], TIMESTAMP)
        for key in ("started_at", "finished_at", "expires_at"):
            if doc[key] is not None:
                self.assertRegex(doc[key], TIMESTAMP)
        self.assertEqual(doc["result"] is None, doc["state"] != "done", doc)
        self.assertEqual(doc["finished_at"] is None, doc["state"] != "done", doc)

    def wait_state(self, server, job_id, states, timeout=DONE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            doc = self.get(server, job_id)
            if doc["state"] in states:
                return doc
            if time.monotonic() > deadline:
                self.fail("job %s still %s after %ss\n%s"
                          % (job_id, doc["state"], timeout, server.log_tail()))
            time.sleep(0.05)

    def wait_done(self, server, job_id, timeout=DONE_TIMEOUT):
        return self.wait_state(server, job_id, ("done",), timeout)

    def jobs(self, server):
        status, _, ready = server.request_json("GET", "/ready")
        self.assertEqual(status, 200, ready)
        return ready["jobs"]


class AsyncNative(AsyncCase):
    # 2 workers: asynchronous jobs may hold one of them (half, at least 1).
    server_args = ("--max-concurrent", "2")

    def test_result_is_what_execute_answers(self):
        job = self.submit(self.server, body("print('Hello, World!')"))
        doc = self.wait_done(self.server, job)
        self.assert_result_shape(doc["result"])
        self.assertEqual(doc["result"]["output"], "Hello, World!\n")
        self.assertEqual(doc["attempts"], 1)
        # The same keys in the same order as the synchronous answer.
        status, _, sync = self.server.execute("print('Hello, World!')")
        self.assertEqual(status, 200, sync)
        self.assertEqual(list(doc["result"]), list(sync))
        # Read again: the same bytes.
        _, _, a = self.server.request("GET", "/executions/" + job)
        _, _, b = self.server.request("GET", "/executions/" + job)
        self.assertEqual(a, b)

    def test_tests_and_compile(self):
        src = "#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);}\n"
        job = self.submit(self.server, body(src, "c", tests=[
            {"stdin": "1 2", "expected_output": "3"},
            {"stdin": "2 2", "expected_output": "5"}]))
        res = self.wait_done(self.server, job)["result"]
        self.assertEqual(res["verdict"], "wrong_answer", res)
        self.assertEqual([t["verdict"] for t in res["tests"]], ["accepted", "wrong_answer"])
        self.assertEqual(res["compile"]["status"], "ok", res)

    def test_a_program_that_fails_is_a_result(self):
        job = self.submit(self.server, body("import sys; print('x'); sys.exit(3)"))
        res = self.wait_done(self.server, job)["result"]
        self.assertEqual((res["exit_code"], res["status"]), (3, "runtime_error"), res)

    def test_bad_requests_are_refused_before_they_are_stored(self):
        before = self.jobs(self.server)
        for payload, code_ in ((b"{", 400), (b'{"language":"cobol","code":"x"}', 400),
                               (b'{"language":"python3"}', 400),
                               (body("x", limits={"timeout": 10 ** 6}), 400),
                               (b"[]", 400)):
            doc = self.submit(self.server, payload, expect=code_)
            self.assertIsInstance(doc.get("error"), str, doc)
        # Exactly what /execute says about the same body.
        s1, _, e1 = self.server.post_execute(b'{"language":"cobol","code":"x"}')
        s2, _, e2 = self.server.request_json("POST", "/executions",
                                             b'{"language":"cobol","code":"x"}')
        self.assertEqual((s1, e1), (s2, e2))
        # Over --max-body, chunked: counted as it is read, and never stored.
        payload = body("#" + "c" * (1 << 20))
        chunks = [payload[i:i + 65536] for i in range(0, len(payload), 65536)]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        data = self.server.raw_exchange(
            b"POST /executions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
        status, _, raw = ce.parse_raw_response(data)
        self.assertEqual(status, 413, raw)
        after = self.jobs(self.server)
        self.assertEqual(before["queued"] + before["running"] + before["done"],
                         after["queued"] + after["running"] + after["done"])

    def test_unknown_ids_and_methods(self):
        for path in ("/executions/" + "0" * 32, "/executions/nothex", "/executions/" + "A" * 32,
                     "/executions/" + "0" * 33, "/executions/../execute",
                     "/executions/%2e%2e"):
            for method in ("GET", "DELETE"):
                status, _, doc = self.server.request_json(method, path)
                self.assertEqual(status, 404, (method, path, doc))
                self.assertIn("error", doc)
        status, h, doc = self.server.request_json("GET", "/executions")
        self.assertEqual(status, 405, doc)
        self.assertEqual(h["Allow"], "POST")
        status, h, doc = self.server.request_json("PUT", "/executions/" + "0" * 32, b"{}")
        self.assertEqual(status, 405, doc)
        self.assertEqual(h["Allow"], "GET, HEAD, DELETE")
        status, _, doc = self.server.request_json("GET", "/executions/")
        self.assertEqual(status, 404, doc)

    def test_idempotency_key(self):
        key = "retry-%d-%d" % (os.getpid(), time.monotonic_ns())
        payload = body("print('once')")
        first = self.submit(self.server, payload, {"Idempotency-Key": key})
        again = self.submit(self.server, payload, {"Idempotency-Key": key})
        self.assertEqual(first, again)
        doc = self.submit(self.server, body("print('twice')"), {"Idempotency-Key": key},
                          expect=422)
        self.assertIn("Idempotency-Key", doc["error"])
        done = self.wait_done(self.server, first)
        self.assertEqual(done["result"]["output"], "once\n")
        self.assertEqual(done["attempts"], 1)
        # The same body without the key (or with another key) is a new job.
        other = self.submit(self.server, payload, {"Idempotency-Key": key + "-other"})
        self.assertNotEqual(other, first)
        self.wait_done(self.server, other)
        for bad in ("", "x" * 256, "caf\u00e9".encode("utf-8").decode("latin-1")):
            doc = self.submit(self.server, payload, {"Idempotency-Key": bad}, expect=400)
            self.assertIn("Idempotency-Key", doc["error"])

    def test_cancel_queued_and_running(self):
        # One asynchronous worker here: the first sleeper runs, the second waits.
        running = self.submit(self.server, body(SLEEPER))
        queued = self.submit(self.server, body(SLEEPER))
        self.wait_state(self.server, running, ("running",))
        self.assertEqual(self.get(self.server, queued)["state"], "queued")

        status, _, doc = self.server.request_json("DELETE", "/executions/" + queued)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["state"], "done")
        self.assertEqual(doc["result"], {"error": "the execution was cancelled",
                                         "status": "cancelled"})
        self.assertEqual(doc["attempts"], 0)

        status, _, doc = self.server.request_json("DELETE", "/executions/" + running)
        self.assertIn(status, (200, 202), doc)
        doc = self.wait_done(self.server, running, timeout=60)
        self.assertEqual(doc["result"]["status"], "cancelled", doc)
        # Done: nothing more to cancel.
        status, _, doc = self.server.request_json("DELETE", "/executions/" + running)
        self.assertEqual(status, 409, doc)
        # The container is gone (also checked by tearDown), and the worker free.
        job = self.submit(self.server, body("print(7)"))
        self.assertEqual(self.wait_done(self.server, job)["result"]["output"], "7\n")

    def test_sync_requests_beside_a_backlog(self):
        # Six sleepers queued; asynchronous jobs may hold one worker of two,
        # so a synchronous request is answered while the backlog waits.
        jobs = [self.submit(self.server, body(SLEEPER)) for _ in range(6)]
        try:
            self.wait_state(self.server, jobs[0], ("running",))
            for _ in range(3):
                status, _, res = self.server.execute("print('sync')")
                self.assertEqual(status, 200, res)
                self.assertEqual(res["output"], "sync\n")
                j = self.jobs(self.server)
                self.assertLessEqual(j["running_here"], j["max_running"], j)
                self.assertEqual(j["max_running"], 1, j)
                self.assertGreaterEqual(j["queued"], 4, j)
        finally:
            for job in jobs:
                self.server.request("DELETE", "/executions/" + job)
        for job in jobs:
            self.assertEqual(self.wait_done(self.server, job, timeout=60)["result"]["status"],
                             "cancelled")


class AsyncStore(AsyncCase):
    class_server = False

    def state(self):
        state = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-jobs-"))
        self.addCleanup(ce.force_cleanup, state)
        return state

    def test_results_survive_a_restart(self):
        state = self.state()
        first = self.start_server(state_dir=state, own_state_dir=False)
        job = self.submit(first, body("print('kept')"))
        self.wait_done(first, job)
        _, _, before = first.request("GET", "/executions/" + job)
        first.shutdown()
        self.assertTrue(os.path.exists(os.path.join(state, "jobs.db")))
        second = self.start_server(state_dir=state, own_state_dir=True)
        _, _, after = second.request("GET", "/executions/" + job)
        self.assertEqual(before, after)

    def test_kill_9_mid_job_runs_it_again(self):
        state = self.state()
        first = self.start_server("--max-concurrent", "2", state_dir=state, own_state_dir=False)
        slow = code("""
            import time
            time.sleep(3)
            print("finished")
            """)
        running = self.submit(first, body(slow))
        queued = self.submit(first, body("print('queued before the crash')"))
        self.wait_state(first, running, ("running",))
        first.kill()
        second = self.start_server("--max-concurrent", "2", state_dir=state, own_state_dir=True)
        doc = self.wait_done(second, running)
        self.assertEqual(doc["result"]["output"], "finished\n", doc)
        self.assertEqual(doc["attempts"], 2, doc)
        doc = self.wait_done(second, queued)
        self.assertEqual(doc["result"]["output"], "queued before the crash\n", doc)
        self.assertIn("queued again", second.log_text())

    def test_a_job_that_kills_its_server_is_given_up(self):
        state = self.state()
        first = self.start_server("--job-attempts", "1", state_dir=state, own_state_dir=False)
        job = self.submit(first, body(SLEEPER))
        self.wait_state(first, job, ("running",))
        first.kill()
        second = self.start_server("--job-attempts", "1", state_dir=state, own_state_dir=True)
        doc = self.wait_done(second, job)
        self.assertEqual(doc["result"]["status"], "abandoned", doc)
        self.assertIn("abandoned", doc["result"]["error"])
        self.assertEqual(doc["attempts"], 1, doc)

    def test_a_full_store_says_503_until_results_expire(self):
        # 1,000 accepted jobs fill a --max-jobs 1000 store: the next gets 503
        # with Retry-After.  Every accepted one ends (here: cancelled), and
        # once their results expire the store takes jobs again.
        server = self.start_server("--max-jobs", "1000", "--result-ttl", "2",
                                   "--async-workers", "1")
        ids = []
        payload = body(SLEEPER)

        def submit_many(n):
            conn = server.connection()
            try:
                for _ in range(n):
                    conn.request("POST", "/executions", body=payload,
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    doc = json.loads(resp.read())
                    self.assertEqual(resp.status, 202, doc)
                    ids.append(doc["id"])
            finally:
                conn.close()

        threads = [threading.Thread(target=submit_many, args=(250,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(set(ids)), 1000)
        status, h, doc = server.request_json("POST", "/executions", payload)
        self.assertEqual(status, 503, doc)
        self.assertEqual(h["Retry-After"], "5")
        j = self.jobs(server)
        self.assertEqual(j["queued"] + j["running"] + j["done"], 1000, j)
        conn = server.connection()
        try:
            for job in ids:
                conn.request("DELETE", "/executions/" + job)
                resp = conn.getresponse()
                resp.read()
                self.assertIn(resp.status, (200, 202))
        finally:
            conn.close()
        for job in ids:
            status, _, doc = server.request_json("GET", "/executions/" + job)
            if status == 200:
                self.assertIn(doc["state"], ("running", "done"), doc)
        # Results expire after --result-ttl: then room again, and the old ids are gone.
        deadline = time.monotonic() + 120
        while True:
            status, _, doc = server.request_json("POST", "/executions", body("print(1)"))
            if status == 202:
                break
            self.assertEqual(status, 503, doc)
            self.assertLess(time.monotonic(), deadline, "the store never made room")
            time.sleep(0.5)
        self.wait_done(server, doc["id"])
        # Every old one expires (the last cancelled, 2 s after it was).
        deadline = time.monotonic() + 120
        conn = server.connection()
        try:
            for job in ids:
                while True:
                    conn.request("GET", "/executions/" + job)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 404:
                        break
                    self.assertEqual(resp.status, 200)
                    self.assertLess(time.monotonic(), deadline, "job %s never expired" % job)
                    time.sleep(0.2)
        finally:
            conn.close()

    def test_max_jobs_0_turns_it_off(self):
        server = self.start_server("--max-jobs", "0")
        status, _, doc = server.request_json("POST", "/executions", body("print(1)"))
        self.assertEqual(status, 503, doc)
        self.assertIn("--max-jobs 0", doc["error"])
        status, _, ready = server.request_json("GET", "/ready")
        self.assertIsNone(ready["jobs"])
        self.assertFalse(os.path.exists(os.path.join(server.state_dir, "jobs.db")))


class Hook:
    """A callback listener on 127.0.0.1: answers each request with the next status of
    `statuses` (then 200) and keeps (headers, body) of every request."""

    def __init__(self, statuses=()):
        import http.server
        hook = self
        self.statuses = list(statuses)
        self.received = []
        self.cond = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hook.cond:
                    hook.received.append((self.command, self.path, dict(self.headers), data))
                    status = hook.statuses.pop(0) if hook.statuses else 200
                    hook.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook?x=1" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count, timeout=DONE_TIMEOUT):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError("%d callback(s) after %ss, wanted %d"
                                     % (len(self.received), timeout, count))
            return list(self.received)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AsyncCallbacks(AsyncCase):
    class_server = False
    SECRET = b"s3cret for the tests\n"

    def hook(self, statuses=()):
        h = Hook(statuses)
        self.addCleanup(h.close)
        return h

    def signed_server(self):
        fd, path = tempfile.mkstemp(prefix="ce-it-secret-")
        with os.fdopen(fd, "wb") as f:
            f.write(self.SECRET)
        self.addCleanup(os.unlink, path)
        return self.start_server("--callback-allow-loopback", "--callback-secret-file", path)

    def test_delivered_and_signed(self):
        import hashlib
        import hmac
        server = self.signed_server()
        hook = self.hook()
        job = self.submit(server, body("print('called back')", callback_url=hook.url))
        method, path, headers, data = hook.wait(1)[0]
        self.assertEqual((method, path), ("POST", "/hook?x=1"))
        self.assertEqual(headers["Content-Type"], "application/json")
        want = "sha256=" + hmac.new(self.SECRET.rstrip(b"\n"), data, hashlib.sha256).hexdigest()
        self.assertEqual(headers["X-CodeEngine-Signature"], want)
        doc = json.loads(data)
        self.assert_job_shape(doc)
        self.assertEqual((doc["id"], doc["state"]), (job, "done"))
        self.assertEqual(doc["result"]["output"], "called back\n")
        # What GET answers, byte for byte.
        _, _, got = server.request("GET", "/executions/" + job)
        self.assertEqual(got, data)

    def test_retried_after_a_500(self):
        server = self.signed_server()
        hook = self.hook([500, 503])
        self.submit(server, body("print(1)", callback_url=hook.url))
        got = hook.wait(3)
        self.assertEqual([h["X-CodeEngine-Attempt"] for _, _, h, _ in got], ["1", "2", "3"])
        self.assertEqual(len({d for _, _, _, d in got}), 1, "every attempt sends the same body")
        # The listener has the request before the sender has its answer: the
        # counters follow a moment later.
        cb = ce.poll(lambda: (lambda c: None if c["delivered"] == 1 else c)(
            server.request_json("GET", "/ready")[2]["callbacks"]), 30)
        cb = server.request_json("GET", "/ready")[2]["callbacks"]
        self.assertEqual((cb["delivered"], cb["retried"], cb["failed"]), (1, 2, 0), cb)

    def test_a_cancelled_running_job_calls_back(self):
        server = self.signed_server()
        hook = self.hook()
        job = self.submit(server, body(SLEEPER, callback_url=hook.url))
        self.wait_state(server, job, ("running",))
        server.request("DELETE", "/executions/" + job)
        doc = json.loads(hook.wait(1)[0][3])
        self.assertEqual(doc["result"]["status"], "cancelled", doc)

    def test_ssrf_and_misplaced_callbacks_are_refused(self):
        server = self.start_server()  # no --callback-allow-loopback
        hook = self.hook()
        for url in (hook.url, "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                    "http://192.168.1.1/", "http://[::1]/", "http://[::ffff:10.0.0.1]/",
                    "https://example.com/", "ftp://example.com/", "http://user@example.com/",
                    "http://2130706433/", "not a url", ""):
            doc = self.submit(server, body("print(1)", callback_url=url), expect=400)
            self.assertIn("callback_url", doc["error"], (url, doc))
        status, _, doc = server.execute("print(1)", callback_url="http://example.com/")
        self.assertEqual(status, 400, doc)
        self.assertIn("POST /executions", doc["error"])
        self.assertEqual(hook.received, [])
        self.assertEqual(self.jobs(server)["done"] + self.jobs(server)["queued"], 0)
