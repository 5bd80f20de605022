"""The Judge0 CE 1.13.1 compatible API under /judge0 (issue 18): its documents,
submissions through the job store, every status from a real run, Judge0's
422 texts, fields and base64_encoded, and callbacks as Judge0 sends them.

Every answer goes through judge0_client.py, which checks what the Judge0
Python SDK 0.0.8 demands (exact key sets, types, timestamps, tokens) and
Judge0's own shapes (key order, 60-column base64, decimal strings).
Outcomes only: the waits are hang guards.
"""

import base64
import json

import judge0_client as j0
from ce import CETestCase, code
from test_async import Hook

PY, C, CPP, CPP_OLD = 71, 50, 54, 52
DONE_TIMEOUT = 300


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class Judge0Case(CETestCase):
    server_args = ("--max-concurrent", "4")

    def client(self, server=None):
        server = server or self.server
        return j0.Judge0("http://127.0.0.1:%d/judge0" % server.port, timeout=60)

    def token_file(self, content):
        import os
        import tempfile
        fd, path = tempfile.mkstemp(prefix="ce-it-token-")
        with os.fdopen(fd, "w") as f:
            f.write(content)
        self.addCleanup(os.unlink, path)
        return path

    def run_submission(self, source, language_id=PY, server=None, **extra):
        c = self.client(server)
        token = c.submit(source, language_id, **extra)["token"]
        return c.wait(token, timeout=DONE_TIMEOUT)


class Documents(Judge0Case):
    def test_about_version_statuses_config(self):
        c = self.client()
        self.assertEqual(c.about()["version"], "1.13.1")
        r = c.raw("GET", "/version")
        self.assertEqual((r.status, r.data), (200, b"1.13.1"))
        self.assertEqual([s["id"] for s in c.statuses()], list(range(1, 15)))
        cfg = c.config_info()
        # What it announces is what this server enforces.
        status, _, version = self.server.request_json("GET", "/version")
        self.assertEqual(cfg["max_wall_time_limit"], version["ceilings"]["timeout_ms"] / 1000)
        self.assertEqual(cfg["max_memory_limit"], version["ceilings"]["memory_mb"] * 1024)
        self.assertFalse(cfg["enable_network"] or cfg["allow_enable_network"])
        for path in ("/system_info", "/workers"):
            r = c.raw("GET", path)
            self.assertEqual(r.status, 200, path)
            r.json()

    def test_languages_carry_our_versions(self):
        c = self.client()
        langs = c.languages()
        ids = [l["id"] for l in langs]
        self.assertEqual(ids, sorted(ids))
        status, _, ours = self.server.request_json("GET", "/languages")
        versions = {l["name"]: l["version"] for l in ours if l["available"]}
        by_id = {l["id"]: l["name"] for l in langs}
        self.assertEqual(by_id[PY], "Python (%s)" % versions["python3"])
        if "cpp" in versions:
            self.assertEqual(by_id[CPP], "C++ (GCC %s)" % versions["cpp"])
            self.assertEqual(by_id[CPP_OLD], by_id[CPP])
            self.assertEqual(c.language(CPP)["source_file"], "main.cpp")
        self.assertEqual(c.all_languages()[0]["is_archived"], False)
        py = c.language(PY)
        self.assertIsNone(py["compile_cmd"])
        for bad in ("9999", "abc", "0", "-1", "71x"):
            r = c.raw("GET", "/languages/" + bad)
            self.assertEqual(r.status, 404, bad)

    def test_statistics(self):
        c = self.client()
        c.wait(c.submit("print('counted')", PY)["token"], timeout=DONE_TIMEOUT)
        r = c.raw("GET", "/statistics")
        self.assertEqual(r.status, 200, r.data)
        d = r.json()
        self.assertEqual(list(d), ["created_at", "cached_until", "submissions", "languages",
                                   "statuses", "database"])
        j0.check_timestamp("created_at", d["created_at"])
        self.assertGreaterEqual(d["submissions"]["total"], 1)
        self.assertGreaterEqual(d["submissions"]["today"], 1)
        self.assertEqual(len(d["submissions"]["last_30_days"]), 30)
        self.assertIn(PY, [l["language"]["id"] for l in d["languages"]])
        self.assertIn(3, [s["status"]["id"] for s in d["statuses"]])
        self.assertGreater(d["database"]["size_in_bytes"], 0)
        # Cached, as Judge0 caches it: the same body again.
        self.assertEqual(c.raw("GET", "/statistics").data, r.data)

    def test_unknown_routes_and_methods(self):
        c = self.client()
        self.assertEqual(c.raw("GET", "/nothing").status, 404)
        # Listing and deleting need authorization, which is not configured: 403, empty.
        self.assertEqual((c.raw("GET", "/submissions").status, c.raw("GET", "/submissions").data),
                         (403, b""))
        self.assertEqual(c.raw("DELETE", "/submissions/" + "0" * 8 + "-0000-4000-8000-"
                               + "0" * 12).status, 403)
        self.assertEqual(c.raw("POST", "/authorize").status, 403)
        self.assertEqual(c.raw("PUT", "/submissions").status, 405)
        self.assertEqual(c.raw("GET", "/submissions/not-a-token").status, 404)
        self.assertEqual(c.raw("GET", "/submissions/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12).status,
                         404)


class Submissions(Judge0Case):
    def test_accepted_in_both_encodings(self):
        d = self.run_submission("print('hello, world')", expected_output="hello, world")
        self.assertEqual(d["status"], {"id": 3, "description": "Accepted"})
        self.assertEqual(j0.text(d, "stdout"), "hello, world\n")
        self.assertEqual(d["language"]["id"], PY)
        self.assertEqual(d["exit_code"], 0)
        # Plain text, the eight default fields.
        c = self.client()
        plain = c.get(d["token"], fields=None, base64_encoded=False)
        self.assertEqual(list(plain), list(j0.DEFAULT_FIELDS))
        self.assertEqual(plain["stdout"], "hello, world\n")
        # fields in any order come back in Judge0's order.
        some = c.get(d["token"], fields="token,stdout,status_id", base64_encoded=False)
        self.assertEqual(list(some), ["stdout", "status_id", "token"])

    def test_wait_true_answers_when_it_ran(self):
        c = self.client()
        d = c.submit("print(6 * 7)", PY, wait=True)
        self.assertEqual(list(d), list(j0.DEFAULT_FIELDS))
        self.assertEqual((d["status"]["id"], j0.text(d, "stdout")), (3, "42\n"))
        d = c.submit("print(input())", PY, wait=True, base64_encoded=False, stdin="x",
                     fields="stdout,status_id,token")
        self.assertEqual(list(d), ["stdout", "status_id", "token"])
        self.assertEqual((d["stdout"], d["status_id"]), ("x\n", 3))
        # The same submission reads back with GET.
        self.assertEqual(c.get(d["token"], fields="stdout", base64_encoded=False)["stdout"], "x\n")
        # Several at once: no thread of the HTTP side is held.
        import threading
        got = []

        def one(i):
            got.append(c.submit("print(%d)" % i, PY, wait=True, base64_encoded=False,
                                fields="stdout")["stdout"])
        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(got), sorted("%d\n" % i for i in range(8)))

    def test_not_base64_in(self):
        c = self.client()
        token = c.submit("print(input()[::-1])", PY, base64_encoded=False, stdin="abc")["token"]
        d = c.wait(token, timeout=DONE_TIMEOUT, base64_encoded=False)
        self.assertEqual(d["stdout"], "cba\n")
        self.assertEqual(d["stdin"], "abc")

    def test_wrong_answer_and_judge0s_whitespace_rule(self):
        d = self.run_submission("print('a  ')\nprint()\nprint('b')\nprint()",
                                expected_output="a\n\nb\n\n\n")
        self.assertEqual(d["status"]["id"], 3, d)
        d = self.run_submission("print('a')", expected_output=" a")
        self.assertEqual(d["status"]["id"], 4, d)

    def test_statuses_from_real_runs(self):
        cases = [
            (PY, "while True: pass", {"wall_time_limit": 1, "cpu_time_limit": 1}, 5),
            (PY, "import sys\nprint('x')\nsys.exit(3)", {}, 11),
            (PY, "import os\nos.kill(os.getpid(), 11)", {}, 7),
            (PY, "import os\nos.kill(os.getpid(), 8)", {}, 9),
            (PY, "import os\nos.abort()", {}, 10),
            (PY, "import os\nos.kill(os.getpid(), 15)", {}, 12),
            (PY, "s = bytearray(200 << 20)\nprint(len(s))", {"memory_limit": 32768}, 12),
            (PY, "while True: print('y' * 4096)", {"max_file_size": 16}, 8),
            (C, "int main(void) { return *(volatile int *)0; }", {}, 7),
            (C, "int main(void) { syntax error }", {}, 6),
        ]
        c = self.client()
        tokens = [(c.submit(src, lang, **extra)["token"], want, src)
                  for lang, src, extra, want in cases]
        for token, want, src in tokens:
            d = c.wait(token, timeout=DONE_TIMEOUT)
            self.assertEqual(d["status"]["id"], want, (src, d))
            if want == 6:
                self.assertIn("error", j0.text(d, "compile_output"))
                self.assertIsNone(d["time"])
            if want == 11:
                self.assertEqual((d["exit_code"], j0.text(d, "stdout")), (3, "x\n"))
            if want == 7 and "kill" in src:
                self.assertEqual(d["exit_signal"], 11)
            if want == 12 and "bytearray" in src:
                self.assertEqual(base64.b64decode(d["message"]), b"Memory limit exceeded")

    def test_compiler_options(self):
        src = "#include <stdio.h>\nint main(void){printf(\"%d %s\\n\", ANSWER, WORD);}"
        d = self.run_submission(src, C, compiler_options="-DANSWER=42 '-DWORD=\"two words\"' -O0")
        self.assertEqual((d["status"]["id"], j0.text(d, "stdout")), (3, "42 two words\n"), d)
        self.assertEqual(d["compiler_options"], "-DANSWER=42 '-DWORD=\"two words\"' -O0")
        # Options reach the compiler, nothing else: a shell's characters are deleted, as Judge0 does.
        d = self.run_submission(src, C, compiler_options="-DANSWER=1 -DWORD=\"x\"; touch /tmp/x")
        self.assertEqual(d["status"]["id"], 6, d)
        cfg = self.client().config_info()
        self.assertTrue(cfg["enable_compiler_options"])
        self.assertIn("C++", cfg["allowed_languages_for_compile_options"])
        c = self.client()
        r = c.raw("POST", "/submissions", body={"source_code": "x", "language_id": 74,
                                                 "compiler_options": "--strict"})
        if r.status == 422:  # typescript: compiled, but takes no options here
            msg = r.json()["compiler_options"][0]
            self.assertTrue(msg.startswith("setting compiler options is only allowed for "), msg)
            self.assertIn(" and ", msg)

    def test_additional_files(self):
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("data.txt", "from the zip\n")
            z.writestr("lib/helper.py", "def shout(s):\n    return s.upper()\n")
        src = ("import sys\nsys.path.insert(0, 'lib')\nimport helper\n"
               "print(helper.shout(open('data.txt').read().strip()))")
        d = self.run_submission(src, additional_files=b64(buf.getvalue()))
        self.assertEqual((d["status"]["id"], j0.text(d, "stdout")), (3, "FROM THE ZIP\n"), d)
        self.assertEqual(base64.b64decode(d["additional_files"]), buf.getvalue())

    def test_number_of_runs(self):
        d = self.run_submission("print(input())", stdin="again", expected_output="again",
                                number_of_runs=3)
        self.assertEqual((d["status"]["id"], d["number_of_runs"]), (3, 3), d)
        self.assertEqual(j0.text(d, "stdout"), "again\n")
        d = self.run_submission("import sys\nsys.exit(4)", number_of_runs=5)
        self.assertEqual((d["status"]["id"], d["exit_code"]), (11, 4), d)

    def test_compiled_with_both_cpp_ids(self):
        src = "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}"
        for lang in (CPP, CPP_OLD):
            d = self.run_submission(src, lang, stdin="2 40", expected_output="42")
            self.assertEqual(d["status"]["id"], 3, d)
            self.assertEqual(d["language"]["id"], lang)

    def test_arguments_split_as_words_never_by_a_shell(self):
        src = "import sys\nprint(sys.argv[1:])"
        d = self.run_submission(src, command_line_arguments="a 'b c' \"d e\" f\\ g $(id) `x` *")
        self.assertEqual(j0.text(d, "stdout"),
                         "['a', 'b c', 'd e', 'f g', '(id)', 'x', '*']\n")

    def test_redirect_stderr_to_stdout(self):
        src = "import sys\nprint('out', flush=True)\nprint('err', file=sys.stderr, flush=True)"
        d = self.run_submission(src, redirect_stderr_to_stdout=True)
        self.assertEqual(j0.text(d, "stdout"), "out\nerr\n")
        self.assertIsNone(d["stderr"])
        d = self.run_submission(src)
        self.assertEqual((j0.text(d, "stdout"), j0.text(d, "stderr")), ("out\n", "err\n"))

    def test_output_that_is_not_utf8(self):
        c = self.client()
        d = self.run_submission("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe')")
        self.assertEqual(base64.b64decode(d["stdout"]), b"\xff\xfe")
        r = c.raw("GET", "/submissions/" + d["token"], query={"base64_encoded": "false"})
        self.assertEqual(r.status, 400)
        self.assertIn("use base64_encoded=true", r.json()["error"])

    def test_lenient_base64_in(self):
        # Judge0 (Ruby's decode64) skips what is not base64 and needs no padding.
        body = {"source_code": b64("print(42)\n").rstrip("=") + "\n!", "language_id": PY}
        c = self.client()
        r = c.raw("POST", "/submissions", query={"base64_encoded": "true"}, body=body)
        self.assertEqual(r.status, 201, r.data)
        d = c.wait(r.json()["token"], timeout=DONE_TIMEOUT)
        self.assertEqual(j0.text(d, "stdout"), "42\n")


class Batches(Judge0Case):
    def test_batch_submit_and_read(self):
        c = self.client()
        lst = c.submit_batch([
            {"source_code": "print('one')", "language_id": PY},
            {"source_code": "", "language_id": PY},
            {"source_code": "print(input())", "language_id": PY, "stdin": "two",
             "expected_output": "two"},
            {"source_code": "x", "language_id": 123456},
        ])
        self.assertEqual(lst[1], {"source_code": ["can't be blank"]})
        self.assertEqual(lst[3], {"language_id": ["language with id 123456 doesn't exist"]})
        tokens = [lst[0]["token"], lst[2]["token"]]
        for t in tokens:
            c.wait(t, timeout=DONE_TIMEOUT)
        unknown = "0" * 8 + "-0000-4000-8000-" + "0" * 12
        got = c.get_batch(tokens + [unknown], fields="stdout,status_id,token")
        subs = got["submissions"]
        self.assertEqual([j0.text(d, "stdout") for d in subs[:2]], ["one\n", "two\n"])
        self.assertEqual([d["status_id"] for d in subs[:2]], [3, 3])
        self.assertIsNone(subs[2])
        plain = c.get_batch(tokens, fields="stdout", base64_encoded=False)
        self.assertEqual([d["stdout"] for d in plain["submissions"]], ["one\n", "two\n"])

    def test_batch_limits_and_refusals(self):
        c = self.client()
        r = c.raw("POST", "/submissions/batch", body={"submissions": []})
        self.assertEqual((r.status, r.json()),
                         (400, {"error": "there should be at least one submission in a batch"}))
        r = c.raw("POST", "/submissions/batch",
                  body={"submissions": [{"source_code": "", "language_id": PY}] * 21})
        self.assertEqual((r.status, r.json()), (400, {
            "error": "number of submissions in a batch should be less than or equal to 20"}))
        # None accepted: 422, with each refusal in its place.
        r = c.raw("POST", "/submissions/batch",
                  body={"submissions": [{"source_code": "", "language_id": PY}, 7]})
        self.assertEqual(r.status, 422, r.data)
        self.assertEqual(r.json()[0], {"source_code": ["can't be blank"]})
        self.assertIn("error", r.json()[1])
        r = c.raw("GET", "/submissions/batch")
        self.assertEqual(r.status, 400)
        r = c.raw("GET", "/submissions/batch", query={"tokens": ",".join(["x"] * 21)})
        self.assertEqual(r.status, 400)
        d = c.submit("import sys\nsys.stdout.buffer.write(b'\\xff')", PY)
        c.wait(d["token"], timeout=DONE_TIMEOUT)
        r = c.raw("GET", "/submissions/batch", query={"tokens": d["token"],
                                                      "base64_encoded": "false"})
        self.assertEqual(r.status, 400)
        self.assertIn("one or more submissions", r.json()["error"])


class Refusals(Judge0Case):
    def post(self, body, **query):
        return self.client().raw("POST", "/submissions", query=query or None, body=body)

    def test_422s_in_judge0s_words_and_order(self):
        cfg = self.client().config_info()
        r = self.post({"source_code": "  ", "wall_time_limit": cfg["max_wall_time_limit"] + 1,
                       "memory_limit": 1, "number_of_runs": 21, "enable_network": True,
                       "max_processes_and_or_threads": 0, "language_id": 150000})
        self.assertEqual(r.status, 422)
        want = {
            "source_code": ["can't be blank"],
            "number_of_runs": ["must be less than or equal to 20"],
            "wall_time_limit": ["must be less than or equal to %s" % cfg["max_wall_time_limit"]],
            "memory_limit": ["must be greater than or equal to 16384"],
            "max_processes_and_or_threads": ["must be greater than 0"],
            "language_id": ["language with id 150000 doesn't exist"],
            "enable_network": ["enabling network is not allowed"],
        }
        self.assertEqual(r.json(), want)
        self.assertEqual(list(r.json()), list(want))
        r = self.post({"source_code": "x"})
        self.assertEqual(r.json(), {"language_id": ["can't be blank",
                                                    "language with id  doesn't exist"]})
        r = self.post({"source_code": "x", "language_id": PY, "cpu_time_limit": "abc",
                       "compiler_options": "-O3", "additional_files": "UEsFBg==",
                       "enable_per_process_and_thread_time_limit": True,
                       "command_line_arguments": "x" * 513})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json(), {
            "cpu_time_limit": ["is not a number"],
            "enable_per_process_and_thread_time_limit": ["this option cannot be enabled"],
            "command_line_arguments": ["is too long (maximum is 512 characters)"],
            "compiler_options": ["setting compiler options is only allowed for compiled languages"],
            "additional_files": ["not a readable zip archive: Not a zip archive"],
        })

    def test_hostile_additional_files(self):
        import io
        import zipfile

        def archive(*entries, method=zipfile.ZIP_DEFLATED):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", method) as z:
                for name, data, mode in entries:
                    info = zipfile.ZipInfo(name)
                    info.compress_type = method
                    if mode is not None:
                        info.external_attr = mode << 16
                    z.writestr(info, data)
            return b64(buf.getvalue())

        cases = {
            "../x": archive(("../x", "x", None)),
            "absolute": archive(("/etc/passwd", "x", None)),
            "symlink": archive(("link", "/etc/passwd", 0o120777)),
            "bomb": archive(("zeros", b"\0" * (64 << 20), None)),
            "clash": archive(("main.py", "print('not yours')", None)),
            "not a zip": b64("hello"),
        }
        for what, files in cases.items():
            r = self.post({"source_code": "print(1)", "language_id": PY,
                           "additional_files": files})
            self.assertEqual(r.status, 422, (what, r.data[:300]))
            self.assertEqual(list(r.json()), ["additional_files"], (what, r.json()))

    def test_query_and_body_errors(self):
        r = self.post({"source_code": "x", "language_id": PY}, fields="stdout,nope,bad")
        self.assertEqual((r.status, r.json()), (400, {"error": "invalid fields: [nope, bad]"}))
        for raw in (b"{", b"[]", b"\"x\""):
            r = self.client().raw("POST", "/submissions", body=raw)
            self.assertEqual(r.status, 400, raw)
            self.assertIn("error", r.json())
        r = self.client().raw("GET", "/submissions/%s" % ("1" * 8 + "-1111-4111-8111-" + "1" * 12),
                              query={"fields": "foo"})
        self.assertEqual((r.status, r.json()), (400, {"error": "invalid fields: [foo]"}))


class Callbacks(Judge0Case):
    server_args = ("--callback-allow-loopback",)

    def test_put_with_the_default_fields_in_base64(self):
        hook = Hook()
        self.addCleanup(hook.close)
        c = self.client()
        token = c.submit("print('cb')", PY, callback_url=hook.url)["token"]
        method, path, headers, data = hook.wait(1, timeout=DONE_TIMEOUT)[0]
        self.assertEqual(method, "PUT")
        d = json.loads(data)
        j0.check_submission(d, None, True)
        self.assertEqual((d["token"], d["status"]["id"]), (token, 3))
        self.assertEqual(j0.text(d, "stdout"), "cb\n")


class WaitAtShutdown(Judge0Case):
    class_server = False

    def test_a_waiting_submit_is_answered_and_its_job_survives_the_stop(self):
        # SIGTERM while a wait=true submit's program runs: the client gets
        # the submission as it is (Processing), the program killed by the
        # shutdown is not a result, and the next start runs it to its end.
        import os
        import signal
        import tempfile
        import threading
        import time
        import ce
        state = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-j0-"))
        self.addCleanup(ce.force_cleanup, state)
        server = self.start_server("--shutdown-grace", "1", state_dir=state, own_state_dir=False)
        c = self.client(server)
        got = []

        def wait():
            got.append(c.raw("POST", "/submissions", query={"wait": "true", "base64_encoded": "true"},
                             body=c.body("import time\ntime.sleep(4)\nprint('slept')", PY)))
        t = threading.Thread(target=wait)
        t.start()
        deadline = time.monotonic() + 60
        while not server.request_json("GET", "/ready")[2]["jobs"]["running"]:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        time.sleep(1)  # most likely in its program by now; either way it must run again
        server.send_signal(signal.SIGTERM)
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(got[0].status, 201, got[0].data)
        d = j0.check_submission(got[0].json(), None, True)
        self.assertEqual(d["status"]["id"], 2, d)
        self.assertEqual(server.wait(60), 0)
        log = server.log_text()
        self.assertTrue("interrupted by the shutdown" in log or "runs after the next start" in log,
                        server.log_tail())
        again = self.start_server(state_dir=state, own_state_dir=True)
        d = self.client(again).wait(d["token"], timeout=DONE_TIMEOUT)
        self.assertEqual((d["status"]["id"], j0.text(d, "stdout")), (3, "slept\n"), d)
        # Each API reads its own jobs only.
        status, _, _ = again.request_json("GET", "/executions/" + d["token"].replace("-", ""))
        self.assertEqual(status, 404)


class Authentication(Judge0Case):
    class_server = False

    def test_x_auth_token_header_or_query(self):
        server = self.start_server("--auth-token-file", self.token_file("sekret-judge0\n"))
        anon = self.client(server)
        for p in ("/about", "/languages", "/submissions/batch"):
            r = anon.raw("GET", p)
            self.assertEqual((r.status, r.data), (401, b""), p)
        r = anon.raw("POST", "/submissions", body=anon.body("print(1)", PY))
        self.assertEqual((r.status, r.data), (401, b""))
        wrong = j0.Judge0("http://127.0.0.1:%d/judge0" % server.port, token="sekret-judge")
        self.assertEqual(wrong.raw("GET", "/about").status, 401)
        good = j0.Judge0("http://127.0.0.1:%d/judge0" % server.port, token="sekret-judge0")
        good.about()
        good.config_info()
        d = good.wait(good.submit("print(5)", PY)["token"], timeout=DONE_TIMEOUT)
        self.assertEqual(j0.text(d, "stdout"), "5\n")
        r = anon.raw("GET", "/about", query={"X-Auth-Token": "sekret-judge0"})
        self.assertEqual(r.status, 200)
        # The native API still wants its Bearer header, in its own error shape.
        status, _, body = server.request_json("GET", "/languages", headers={
            "X-Auth-Token": "sekret-judge0"})
        self.assertEqual(status, 401)
        self.assertIn("error", body)


class Authorization(Judge0Case):
    class_server = False

    def test_x_auth_user_lists_and_nothing_else_deletes(self):
        server = self.start_server("--authz-token-file", self.token_file("the-user-token\n"))
        c = self.client(server)
        user = {"X-Auth-User": "the-user-token"}
        tokens = [c.submit("print(%d)" % i, PY)["token"] for i in range(3)]
        for t in tokens:
            c.wait(t, timeout=DONE_TIMEOUT)
        # Without it, or with a wrong one: 403, empty.
        for h in ({}, {"X-Auth-User": "nope"}):
            r = c.raw("GET", "/submissions", headers=h)
            self.assertEqual((r.status, r.data), (403, b""))
            self.assertEqual(c.raw("POST", "/authorize", headers=h).status, 403)
            self.assertEqual(c.raw("DELETE", "/submissions/" + tokens[0], headers=h).status, 403)
        self.assertEqual(c.raw("POST", "/authorize", headers=user).status, 200)
        r = c.raw("GET", "/submissions", query={"per_page": "2", "fields": "token,status_id"},
                  headers=user)
        self.assertEqual(r.status, 200, r.data)
        d = r.json()
        self.assertEqual([s["token"] for s in d["submissions"]], tokens[::-1][:2])
        self.assertEqual(d["meta"], {"current_page": 1, "next_page": 2, "prev_page": None,
                                     "total_pages": 2, "total_count": 3})
        for s in d["submissions"]:
            j0.check_submission(s, "token,status_id", False)
        r = c.raw("GET", "/submissions", query={"per_page": "2", "page": "2"}, headers=user)
        d = r.json()
        self.assertEqual(len(d["submissions"]), 1)
        self.assertEqual(d["meta"]["prev_page"], 1)
        self.assertIsNone(d["meta"]["next_page"])
        for bad, msg in ((("page", "0"), "invalid page: 0"), (("per_page", "-1"),
                                                              "invalid per_page: -1")):
            r = c.raw("GET", "/submissions", query=dict([bad]), headers=user)
            self.assertEqual((r.status, r.json()), (400, {"error": msg}))
        # Authorized, a delete is still Judge0's default refusal.
        r = c.raw("DELETE", "/submissions/" + tokens[0], headers=user)
        self.assertEqual((r.status, r.json()), (400, {"error": "delete not allowed"}))
        c.get(tokens[0])
