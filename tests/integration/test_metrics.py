"""GET /metrics (Prometheus), --log-format json and X-Request-ID.

The counters must move by exactly what a test did, the text must pass
Debian's `promtool check metrics` without a word, and a real Prometheus
must scrape it.  With --log-format json every line the server writes is one
JSON object; a request's line carries the X-Request-ID the client sent (or
the one the server made when it sent none worth keeping), which every
response echoes.  docs/metrics.md describes all of it.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import ce
from ce import CETestCase

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)",?')
# What the server makes when the client's X-Request-ID is missing or bad.
MADE_ID = re.compile(r"^[0-9a-f]{16}$")

HELLO = 'print("hello")'
COMPILE_ERROR = "int main( { return 0; }"
ENDLESS = "while True:\n    pass\n"


def wait_until(fn, timeout, interval=0.2):
    """Call fn until it returns a true value or timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def parse_metrics(text):
    """{(name, ((label, value), ...)): value} of a text exposition; fails on
    a line that is neither a comment nor a sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a sample line: %r" % line)
        name, labels, value = m.groups()
        pairs = tuple(sorted(LABEL.findall(labels or "")))
        out[(name, pairs)] = float(value)
    return out


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


class MetricsCase(CETestCase):
    server_args = ("--log-format", "json")

    def scrape(self, server=None):
        server = server or self.server
        status, headers, body = server.request("GET", "/metrics")
        self.assertEqual(status, 200, body[:300])
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                        headers["Content-Type"])
        text = body.decode("utf-8")
        return text, parse_metrics(text)

    def run_three(self):
        """python3 hello (ok), a C compile error, a python3 timeout."""
        status, _, obj = self.server.execute(HELLO)
        self.assertEqual((status, obj["status"]), (200, "ok"), obj)
        status, _, obj = self.server.execute(COMPILE_ERROR, language="c")
        self.assertEqual((status, obj["status"]), (200, "compile_error"), obj)
        status, _, obj = self.server.execute(ENDLESS, limits={"timeout_ms": 300})
        self.assertEqual((status, obj["status"]), (200, "timeout"), obj)


class Metrics(MetricsCase):

    def test_counters_move_by_what_was_done(self):
        _, before = self.scrape()
        self.run_three()
        _, after = self.scrape()

        def delta(k):
            return after.get(k, 0) - before.get(k, 0)

        executions = {k: delta(k) for k in set(before) | set(after)
                      if k[0] == "codeengine_executions_total" and delta(k)}
        self.assertEqual(executions, {
            key("codeengine_executions_total", language="python3", stage="run", status="ok"): 1,
            key("codeengine_executions_total", language="c", stage="compile",
                status="compile_error"): 1,
            key("codeengine_executions_total", language="python3", stage="run",
                status="timeout"): 1,
        })
        self.assertEqual(delta(key("codeengine_stage_duration_seconds_count",
                                   language="python3", stage="run")), 2)
        self.assertEqual(delta(key("codeengine_stage_duration_seconds_count",
                                   language="c", stage="compile")), 1)
        self.assertEqual(delta(key("codeengine_stage_duration_seconds_count",
                                   language="c", stage="run")), 0)
        # The timeout alone ran 0.3 s or more.
        self.assertGreaterEqual(delta(key("codeengine_stage_duration_seconds_sum",
                                          language="python3", stage="run")), 0.3)
        self.assertEqual(delta(key("codeengine_request_duration_seconds_count",
                                   language="python3")), 2)
        self.assertEqual(delta(key("codeengine_request_duration_seconds_count",
                                   language="c")), 1)
        self.assertEqual(delta(key("codeengine_queue_wait_seconds_count")), 3)
        # Every execution asked the warm pool once; the compile cache was
        # asked for the compile only.
        for lang, n in (("python3", 2), ("c", 1)):
            self.assertEqual(delta(key("codeengine_warm_pool_hits_total", language=lang))
                             + delta(key("codeengine_warm_pool_misses_total", language=lang)), n)
        self.assertEqual(delta(key("codeengine_compile_cache_misses_total", language="c")), 1)
        self.assertEqual(delta(key("codeengine_compile_cache_hits_total", language="c")), 0)
        for name in ("codeengine_container_start_failures_total",
                     "codeengine_jobs_accepted_total", "codeengine_jobs_claimed_total",
                     "codeengine_jobs_failed_total", "codeengine_job_store_errors_total"):
            self.assertEqual(delta(key(name)), 0, name)
        # The same compile error again: the cache answers, no container.
        status, _, obj = self.server.execute(COMPILE_ERROR, language="c")
        self.assertEqual((status, obj["status"]), (200, "compile_error"), obj)
        _, again = self.scrape()
        self.assertEqual(again.get(key("codeengine_compile_cache_hits_total", language="c"), 0)
                         - after.get(key("codeengine_compile_cache_hits_total", language="c"), 0),
                         1)
        k = key("codeengine_executions_total", language="c", stage="compile",
                status="compile_error")
        self.assertEqual(again[k], after[k])

    def test_histograms_are_cumulative(self):
        self.run_three()
        _, m = self.scrape()
        series = {}
        for (name, labels), value in m.items():
            if name.endswith("_bucket"):
                le = dict(labels)["le"]
                rest = tuple(p for p in labels if p[0] != "le")
                series.setdefault((name[:-len("_bucket")], rest), []).append(
                    (float("inf") if le == "+Inf" else float(le), value))
        self.assertIn(("codeengine_stage_duration_seconds",
                       (("language", "python3"), ("stage", "run"))), series)
        for (name, rest), buckets in series.items():
            buckets.sort()
            counts = [c for _, c in buckets]
            self.assertEqual(counts, sorted(counts), (name, rest))
            self.assertEqual(buckets[-1][0], float("inf"))
            self.assertEqual(buckets[-1][1], m[(name + "_count", rest)], (name, rest))

    def test_promtool_finds_no_problem(self):
        if not os.access(PROMTOOL, os.X_OK):
            self.skipTest("%s is not installed (Debian: prometheus)" % PROMTOOL)
        self.run_three()
        text, _ = self.scrape()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout.strip(), p.stderr.strip()), (0, "", ""),
                         text[:3000])

    def test_language_label_only_from_configured_languages(self):
        status, _, ready = self.server.request_json("GET", "/ready")
        self.assertEqual(status, 200)
        configured = set(ready["languages"])
        # What a client sends never becomes a label: an unknown language is
        # refused, an alias counts under the language's name.
        status, _, _ = self.server.execute(HELLO, language="no-such-lang")
        self.assertEqual(status, 400)
        status, _, obj = self.server.execute(HELLO, language="py")
        self.assertEqual((status, obj["status"]), (200, "ok"), obj)
        text, m = self.scrape()
        self.assertNotIn("no-such-lang", text)
        self.assertNotIn('language="py"', text)
        langs = {dict(labels)["language"] for (_, labels) in m if "language" in dict(labels)}
        self.assertTrue(langs, text[:2000])
        self.assertLessEqual(langs, configured)
        stages = {dict(labels)["stage"] for (_, labels) in m if "stage" in dict(labels)}
        self.assertLessEqual(stages, {"compile", "run"})
        statuses = {dict(labels)["status"] for (_, labels) in m if "status" in dict(labels)}
        self.assertLessEqual(statuses, {"ok", "runtime_error", "timeout", "memory_limit",
                                        "output_limit", "client_gone", "compile_error"})

    def test_process_and_pool_figures(self):
        _, m = self.scrape()
        self.assertGreater(m[key("process_resident_memory_bytes")], 1 << 20)
        self.assertGreater(m[key("process_open_fds")], 3)
        self.assertGreater(m[key("codeengine_process_threads")], 2)
        self.assertEqual(m[key("codeengine_workers")], 10)  # --max-concurrent's default
        self.assertEqual(m[key("codeengine_queue_capacity")], 256)
        # An execution's clean-up runs on its worker after the answer: wait it out.
        self.assertTrue(wait_until(
            lambda: self.scrape()[1][key("codeengine_executions_in_flight")] == 0, 30),
            self.scrape()[0][:2000])
        self.assertEqual(self.scrape()[1][key("codeengine_executions_queued")], 0)
        info = [labels for (name, labels) in m if name == "codeengine_info"]
        self.assertEqual(len(info), 1)
        self.assertEqual(dict(info[0])["node"], "%s:%s" % (os.uname().nodename,
                                                           self.server.state_dir))

    def test_prometheus_scrapes_it(self):
        if not os.access(PROMETHEUS, os.X_OK):
            self.skipTest("%s is not installed (Debian: prometheus)" % PROMETHEUS)
        status, _, obj = self.server.execute(HELLO)
        self.assertEqual((status, obj["status"]), (200, "ok"), obj)
        _, m = self.scrape()
        want = m[key("codeengine_executions_total", language="python3", stage="run",
                     status="ok")]
        tmp = tempfile.mkdtemp(prefix="ce-it-prometheus-")
        port = ce.free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: codeengine\n"
                    "    static_configs:\n      - targets: ['%s:%d']\n" % (ce.HOST, self.server.port))
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        proc = subprocess.Popen([PROMETHEUS, "--config.file=" + config,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=%s:%d" % (ce.HOST, port)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            query = "http://%s:%d/api/v1/query?%s" % (ce.HOST, port, urllib.parse.urlencode(
                {"query": 'codeengine_executions_total{language="python3",stage="run",'
                          'status="ok"}'}))
            found, last = None, None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and found is None:
                try:
                    with urllib.request.urlopen(query, timeout=5) as resp:
                        last = json.loads(resp.read().decode("utf-8"))
                    if last["status"] == "success" and last["data"]["result"]:
                        found = last["data"]["result"]
                except OSError:
                    pass  # not listening yet
                if found is None:
                    time.sleep(0.5)
            self.assertIsNotNone(found, "Prometheus never had the series: %r" % (last,))
            self.assertEqual(len(found), 1, found)
            self.assertEqual(float(found[0]["value"][1]), want, found)
            self.assertEqual(found[0]["metric"]["job"], "codeengine")
            # Every scrape succeeded: up is 1.
            up = "http://%s:%d/api/v1/query?%s" % (ce.HOST, port,
                                                   urllib.parse.urlencode({"query": "up"}))
            with urllib.request.urlopen(up, timeout=5) as resp:
                result = json.loads(resp.read().decode("utf-8"))["data"]["result"]
            self.assertEqual([r["value"][1] for r in result], ["1"], result)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)


class JsonLog(MetricsCase):

    def log_objects(self, server=None):
        """Every line the server wrote so far, each of which must be a JSON object."""
        server = server or self.server
        objects = []
        for line in server.log_text().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                raise AssertionError("not a JSON line: %r\n%s" % (line, server.log_tail()))
            self.assertIsInstance(obj, dict, line)
            objects.append(obj)
        return objects

    def request_line(self, request_id, server=None):
        lines = [o for o in self.log_objects(server) if o.get("request_id") == request_id]
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

    def test_every_line_is_an_object(self):
        self.run_three()
        objects = self.log_objects()
        self.assertTrue(any("listening on" in o["msg"] for o in objects))
        node = "%s:%s" % (os.uname().nodename, self.server.state_dir)
        for o in objects:
            self.assertIsInstance(o["time"], str, o)
            self.assertTrue(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["time"]), o)
            self.assertIn(o["level"], ("info", "warning", "error", "fatal"), o)
            self.assertIsInstance(o["msg"], str, o)
        # The node id is known once the state dir is: every line after it.
        self.assertEqual(objects[-1]["node"], node)

    def test_request_line_has_the_clients_id(self):
        rid = "it-" + uuid.uuid4().hex
        status, headers, obj = self.server.request_json(
            "POST", "/execute", json.dumps({"language": "python3", "code": HELLO}).encode(),
            {"Content-Type": "application/json", "X-Request-ID": rid})
        self.assertEqual((status, obj["status"]), (200, "ok"), obj)
        self.assertEqual(headers["X-Request-ID"], rid)
        line = self.request_line(rid)
        self.assertEqual((line["method"], line["path"], line["language"], line["status"],
                          line["outcome"], line["level"]),
                         ("POST", "/execute", "python3", 200, "ok", "info"), line)
        self.assertIsInstance(line["duration_ms"], int)
        self.assertGreaterEqual(line["duration_ms"], obj["time_ms"])
        self.assertEqual(line["node"], "%s:%s" % (os.uname().nodename, self.server.state_dir))

    def test_other_answers_echo_the_id(self):
        for method, path, expect in (("GET", "/health", 200), ("GET", "/no/such/path", 404),
                                     ("GET", "/execute", 405), ("GET", "/metrics", 200)):
            rid = "it-" + uuid.uuid4().hex
            status, headers, _ = self.server.request(method, path, headers={"X-Request-ID": rid})
            self.assertEqual((status, headers["X-Request-ID"]), (expect, rid), path)
            line = self.request_line(rid)
            self.assertEqual((line["path"], line["status"], line["language"]),
                             (path, expect, None), line)
        # A refused body, and a live stream.
        rid = "it-" + uuid.uuid4().hex
        status, headers, _ = self.server.request(
            "POST", "/execute", b'{"language":"python3"}',
            {"Content-Type": "application/json", "X-Request-ID": rid})
        self.assertEqual((status, headers["X-Request-ID"]), (400, rid))
        self.assertEqual(self.request_line(rid)["outcome"], "bad_request")
        rid = "it-" + uuid.uuid4().hex
        status, headers, body = self.server.request(
            "POST", "/execute", json.dumps({"language": "python3", "code": HELLO}).encode(),
            {"Content-Type": "application/json", "Accept": "application/x-ndjson",
             "X-Request-ID": rid})
        self.assertEqual((status, headers["X-Request-ID"]), (200, rid), body[:300])
        self.assertTrue(wait_until(lambda: any(o.get("request_id") == rid
                                               for o in self.log_objects()), 10))
        self.assertEqual(self.request_line(rid)["outcome"], "ok")

    def test_invalid_id_is_replaced(self):
        longest = "x" * 128
        status, headers, _ = self.server.request("GET", "/health",
                                                 headers={"X-Request-ID": longest})
        self.assertEqual(headers["X-Request-ID"], longest)
        for bad in (b"y" * 129, b"caf\xc3\xa9", b"tab\there", b""):
            raw = (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: "
                   + bad + b"\r\n\r\n")
            status, headers, _ = ce.parse_raw_response(self.server.raw_exchange(raw))
            self.assertEqual(status, 200)
            made = headers["x-request-id"]
            self.assertTrue(MADE_ID.match(made), (bad, made))
            line = self.request_line(made)
            self.assertEqual((line["path"], line["status"]), ("/health", 200), line)
        # No header at all: one is made, and each request gets its own.
        ids = {self.server.request("GET", "/health")[1]["X-Request-ID"] for _ in range(3)}
        self.assertEqual(len(ids), 3, ids)
        for made in ids:
            self.assertTrue(MADE_ID.match(made), made)
        # Two headers: the first valid one counts.
        rid = "it-" + uuid.uuid4().hex
        raw = (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: "
               + b"z" * 200 + b"\r\nx-request-id: " + rid.encode() + b"\r\n\r\n")
        status, headers, _ = ce.parse_raw_response(self.server.raw_exchange(raw))
        self.assertEqual(headers["x-request-id"], rid)
        self.request_line(rid)


class TextLog(CETestCase):
    """The default format is text; the id is the request line's first field."""

    def test_text_line_carries_the_id(self):
        rid = "it-" + uuid.uuid4().hex
        status, headers, obj = self.server.request_json(
            "POST", "/execute", json.dumps({"language": "python3", "code": HELLO}).encode(),
            {"Content-Type": "application/json", "X-Request-ID": rid})
        self.assertEqual((status, headers["X-Request-ID"]), (200, rid))
        lines = [l for l in self.server.log_text().splitlines() if rid in l]
        self.assertEqual(len(lines), 1, self.server.log_tail())
        self.assertTrue(re.match(r"^\S+Z \[%s\] POST /execute python3 200 ok \d+ms$" % rid,
                                 lines[0]), lines[0])
        self.assertFalse(any(l.startswith("{") for l in self.server.log_text().splitlines()))


if __name__ == "__main__":
    unittest.main()
