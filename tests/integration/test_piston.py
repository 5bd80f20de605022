"""Piston's API v2 (src/api_piston.c): /api/v2/runtimes, /api/v2/packages,
/api/v2/execute, and the unchanged npm client piston-client against them.

The node test installs tests/piston-client's packages with npm when they are
missing; without node or npm it skips, except under CI=true, where it fails.
"""

import base64
import json
import os
import shutil
import subprocess

import ce
from ce import CETestCase

CLIENT_DIR = os.path.join(ce.REPO, "tests", "piston-client")
STAGE_KEYS = ["signal", "stdout", "stderr", "code", "output", "memory", "message", "status",
              "cpu_time", "wall_time"]
# Piston's name for each language the suite needs, and one of our names among its aliases.
PISTON_NAMES = {"python": "python3", "c": "gcc", "c++": "cpp", "rust": "rs", "javascript": "js",
                "bash": "sh", "rscript": "r", "lisp": "commonlisp"}


class PistonCase(CETestCase):
    def post(self, payload, content_type=None, raw=None):
        """POST /api/v2/execute: (status, headers, json).  No Content-Type unless
        given, as piston-client sends it."""
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": content_type} if content_type else {}
        return self.server.request_json("POST", "/api/v2/execute", body, headers)

    def run_piston(self, payload, **kw):
        status, _, body = self.post(payload, **kw)
        self.assertEqual(status, 200, body)
        self.assert_piston_shape(body)
        return body

    def run_stage(self, language, src, **extra):
        payload = {"language": language, "files": [{"content": src}]}
        payload.update(extra)
        return self.run_piston(payload)

    def assert_piston_shape(self, body):
        self.assertIsInstance(body, dict, body)
        keys = ["compile", "run", "language", "version"] if "compile" in body else ["run", "language", "version"]
        self.assertEqual(list(body), keys, body)
        for stage in [k for k in ("compile", "run") if k in body]:
            s = body[stage]
            self.assertEqual(list(s), STAGE_KEYS, s)
            for key in ("stdout", "stderr", "output"):
                self.assertIsInstance(s[key], str, s)
            self.assertIn(s["status"], (None, "RE", "SG", "TO", "OL", "EL", "XX"), s)
            self.assertTrue(s["code"] is None or type(s["code"]) is int, s)
            self.assertEqual(s["code"] is None, s["signal"] is not None, "code is null exactly when killed: %r" % s)
            self.assertTrue(type(s["wall_time"]) is int and s["wall_time"] >= 0, s)
            self.assertTrue(type(s["cpu_time"]) is int and s["cpu_time"] >= 0, s)
            self.assertTrue(type(s["memory"]) is int and s["memory"] > 0, s)
            self.assertEqual(s["message"] is None, s["status"] is None, s)

    def assert_bad(self, payload=None, contains=None, expected=400, raw=None):
        status, _, body = self.post(payload, raw=raw)
        self.assertEqual(status, expected, body)
        self.assertEqual(list(body), ["message"], body)
        self.assertIsInstance(body["message"], str)
        if contains:
            self.assertIn(contains, body["message"])
        self.assert_healthy()
        return body["message"]


class PistonRuntimes(PistonCase):
    def test_runtimes_lists_piston_names_with_ours_among_the_aliases(self):
        runtimes = self.get_json("/api/v2/runtimes")
        languages = {r["language"]: r for r in runtimes}
        ours = {l["name"]: l for l in self.get_json("/languages") if l["available"]}
        self.assertEqual(len(runtimes), len(ours), runtimes)
        for r in runtimes:
            self.assertEqual(sorted(r), ["aliases", "language", "version"], r)
            self.assertNotIn(r["language"], r["aliases"], r)
        for piston_name, alias in PISTON_NAMES.items():
            if piston_name in languages:
                self.assertIn(alias, languages[piston_name]["aliases"] + [piston_name], languages[piston_name])
        self.assertIn("python", languages, runtimes)
        self.assertEqual(languages["python"]["version"], ours["python3"]["version"])
        self.assertIn("python3", languages["python"]["aliases"])
        for name in ("python3", "cpp", "r", "commonlisp"):
            self.assertNotIn(name, languages, "%s must be listed by Piston's name" % name)

    def test_packages_are_the_bundles(self):
        packages = self.get_json("/api/v2/packages")
        ours = self.get_json("/languages")
        self.assertEqual(len(packages), len(ours))
        for p in packages:
            self.assertEqual(sorted(p), ["installed", "language", "language_version"], p)
            self.assertIsInstance(p["installed"], bool, p)
        self.assertIn({"language": "python", "language_version": next(l["version"] for l in ours if l["name"] == "python3"),
                       "installed": True}, packages)

    def test_installing_packages_is_not_an_http_call(self):
        for method in ("POST", "DELETE"):
            status, _, body = self.server.request_json(method, "/api/v2/packages",
                                                       b'{"language":"python","version":"3"}',
                                                       {"Content-Type": "application/json"})
            self.assertEqual(status, 501, body)
            self.assertIn("tools/prepare-bundles", body["message"])

    def test_unknown_paths_and_methods(self):
        status, _, body = self.server.request_json("GET", "/api/v2/nope")
        self.assertEqual(status, 404, body)
        self.assertIn("message", body)
        status, headers, body = self.server.request_json("GET", "/api/v2/execute")
        self.assertEqual((status, headers.get("Allow")), (405, "POST"), body)
        status, _, body = self.server.request_json("PUT", "/api/v2/runtimes", b"{}")
        self.assertEqual(status, 405, body)


class PistonExecute(PistonCase):
    def test_python_hello(self):
        body = self.run_stage("python", "print('Hello, World!')", version="*")
        self.assertEqual((body["language"], body["version"]), ("python", self.version_of("python3")))
        run = body["run"]
        self.assertEqual((run["stdout"], run["stderr"], run["output"], run["code"], run["signal"], run["status"],
                          run["message"]), ("Hello, World!\n", "", "Hello, World!\n", 0, None, None, None))

    def version_of(self, name):
        return next(l["version"] for l in self.get_json("/languages") if l["name"] == name)

    def test_our_names_work_too(self):
        body = self.run_stage("python3", "print(1)")
        self.assertEqual(body["language"], "python")
        self.assertEqual(body["run"]["stdout"], "1\n")

    def test_stdin_gets_a_newline_and_args_are_passed(self):
        body = self.run_stage("python", "import sys\nprint(repr(sys.stdin.read()), sys.argv[1:])",
                              stdin="abc", args=["1", "2 3", "$(id)"])
        self.assertEqual(body["run"]["stdout"], "'abc\\n' ['1', '2 3', '$(id)']\n")
        body = self.run_stage("python", "import sys\nprint(repr(sys.stdin.read()))", stdin="x\n")
        self.assertEqual(body["run"]["stdout"], "'x\\n'\n")

    def test_runtime_error_and_signal(self):
        body = self.run_stage("python", "import sys\nprint('out'); print('err', file=sys.stderr); sys.exit(3)")
        run = body["run"]
        self.assertEqual((run["code"], run["signal"], run["status"], run["stdout"], run["stderr"]),
                         (3, None, "RE", "out\n", "err\n"), run)
        self.assertEqual(run["message"], "Exited with error status 3")
        body = self.run_stage("python", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
        run = body["run"]
        self.assertEqual((run["code"], run["signal"], run["status"]), (None, "SIGSEGV", "SG"), run)

    def test_c_compiles_and_runs(self):
        src = "#include <stdio.h>\nint main(int c, char **v){ printf(\"%d %s\\n\", c, v[1]); return 0; }"
        body = self.run_stage("c", src, version=self.version_of("c"), args=["x"])
        self.assertIn("compile", body)
        self.assertEqual((body["compile"]["code"], body["compile"]["status"]), (0, None), body)
        self.assertEqual(body["run"]["stdout"], "2 x\n", body)
        self.assertEqual(body["language"], "c")

    def test_cpp_by_piston_name(self):
        body = self.run_stage("c++", "#include <iostream>\nint main(){ std::cout << 6*7 << std::endl; }")
        self.assertEqual((body["language"], body["run"]["stdout"]), ("c++", "42\n"), body)

    def test_rust(self):
        body = self.run_stage("rust", 'fn main() { println!("{}", std::env::args().count()); }', args=["a", "b"],
                              compile_timeout=self.get_json("/version")["compile_ceilings"]["timeout_ms"])
        self.assertEqual(body["run"]["stdout"], "3\n", body)
        self.assertEqual(body["compile"]["status"], None, body)

    def test_javascript(self):
        body = self.run_stage("javascript", "console.log(process.argv.slice(2).join('+'))", args=["1", "2"])
        self.assertEqual((body["language"], body["run"]["stdout"]), ("javascript", "1+2\n"), body)
        self.assertNotIn("compile", body)

    def test_compile_error_skips_the_run_and_reports_the_compile_as_run(self):
        body = self.run_stage("c", "int main(){ return undefined_thing; }")
        comp = body["compile"]
        self.assertEqual((comp["code"], comp["status"]), (1, "RE"), comp)
        self.assertIn("undefined_thing", comp["stderr"])
        self.assertEqual(body["run"], comp, "Piston reports the failed compile as the run")

    def test_files_names_and_encodings(self):
        body = self.run_piston({"language": "python", "files": [
            {"content": "import helper, os\nprint(helper.X, open('/code/data.bin','rb').read(), sorted(os.listdir('/code')))"},
            {"name": "helper.py", "content": "X = 42"},
            {"name": "data.bin", "content": base64.b64encode(b"\x00\x01\xff").decode(), "encoding": "base64"},
            {"name": "h.txt", "content": "6869", "encoding": "hex"},
            {"content": "unnamed"}]})
        self.assertEqual(body["run"]["stdout"],
                         "42 b'\\x00\\x01\\xff' ['data.bin', 'file4.code', 'h.txt', 'helper.py', 'main.py']\n", body)

    def test_named_entry_file(self):
        body = self.run_piston({"language": "python", "files": [{"name": "prog.py", "content": "print(__file__)"}]})
        self.assertEqual(body["run"]["stdout"], "/code/prog.py\n")

    def test_content_type_is_not_required(self):
        for ct in (None, "application/json", "text/plain"):
            body = self.run_piston({"language": "python", "files": [{"content": "print(2)"}]}, content_type=ct)
            self.assertEqual(body["run"]["stdout"], "2\n")

    def test_native_api_is_unchanged(self):
        body = self.run_code("print('native')")
        self.assertEqual(body["output"], "native\n")
        status, _, err = self.server.execute("x", language="cobol")
        self.assertEqual(status, 400)
        self.assertIn("error", err)


class PistonVersions(PistonCase):
    def test_version_matching(self):
        v = next(l["version"] for l in self.get_json("/languages") if l["name"] == "python3")
        major, minor = v.split(".")[:2]
        for want in (v, "*", "x", major, "%s.x" % major, "%s.%s" % (major, minor), "^%s.%s" % (major, minor),
                     "~%s.%s.0" % (major, minor), ">=%s" % major, ">=2 <99", "<99", "1.0.0 - 99.0.0",
                     "1 || %s" % major, "", None):
            payload = {"language": "python", "files": [{"content": "print(1)"}]}
            if want is not None:
                payload["version"] = want
            status, _, body = self.post(payload)
            self.assertEqual(status, 200, "version %r: %r" % (want, body))
            self.assertEqual(body["version"], v)
        for want in ("2.7", "<3", ">%s" % major, "^%d" % (int(major) + 1), "abc", "3.11.2.9.9"):
            msg = self.assert_bad({"language": "python", "version": want, "files": [{"content": "print(1)"}]},
                                  "runtime is unknown")
            self.assertTrue(msg.startswith("python-%s runtime is unknown" % want), msg)


class PistonLimits(PistonCase):
    def ceilings(self):
        return self.get_json("/version")

    def test_run_timeout(self):
        body = self.run_stage("python", "print('started', flush=True)\nwhile True: pass", run_timeout=700)
        run = body["run"]
        self.assertEqual((run["status"], run["signal"], run["code"], run["stdout"]), ("TO", "SIGKILL", None, "started\n"), run)
        self.assertGreaterEqual(run["wall_time"], 700)
        self.assertLess(run["wall_time"], 10000)

    def test_run_cpu_time_bounds_the_run(self):
        body = self.run_stage("python", "while True: pass", run_cpu_time=500, run_timeout=20000)
        self.assertEqual(body["run"]["status"], "TO", body)
        self.assertLess(body["run"]["wall_time"], 10000)

    def test_minus_one_and_zero_are_the_default(self):
        for value in (-1, 0, None):
            body = self.run_stage("python", "print(3)", run_timeout=value, run_memory_limit=value,
                                  compile_timeout=value, compile_memory_limit=value, run_cpu_time=value)
            self.assertEqual(body["run"]["stdout"], "3\n", body)

    def test_memory_limit(self):
        body = self.run_stage("python", "x = bytearray(200 * 1024 * 1024)\nprint(len(x))",
                              run_memory_limit=32 * 1024 * 1024)
        run = body["run"]
        self.assertIn(run["status"], ("SG", "RE"), run)
        self.assertNotEqual(run["stdout"], "%d\n" % (200 * 1024 * 1024))

    def test_output_limit(self):
        body = self.run_stage("python", "import sys\nwhile True: sys.stdout.write('x' * 65536)")
        run = body["run"]
        self.assertEqual((run["status"], run["signal"], run["code"]), ("OL", "SIGKILL", None), run)
        body = self.run_stage("python", "import sys\nwhile True: sys.stderr.write('x' * 65536)")
        self.assertEqual(body["run"]["status"], "EL", body["run"]["message"])

    def test_limits_are_held_to_the_ceilings(self):
        v = self.ceilings()
        run_ceiling, mem_ceiling = v["ceilings"]["timeout_ms"], v["ceilings"]["memory_mb"] * 1024 * 1024
        comp_ceiling = v["compile_ceilings"]["timeout_ms"]
        src = {"language": "python", "files": [{"content": "print(1)"}]}
        self.assert_bad(dict(src, run_timeout=run_ceiling + 1),
                        "run_timeout cannot exceed the configured limit of %d" % run_ceiling)
        self.assert_bad(dict(src, run_cpu_time=run_ceiling + 1), "run_cpu_time cannot exceed the configured limit")
        self.assert_bad(dict(src, compile_timeout=comp_ceiling + 1), "compile_timeout cannot exceed")
        self.assert_bad(dict(src, run_memory_limit=mem_ceiling + 1),
                        "run_memory_limit cannot exceed the configured limit of %d" % mem_ceiling)
        self.assert_bad(dict(src, run_memory_limit=1024), "run_memory_limit must be at least")
        self.assert_bad(dict(src, run_timeout=-5), "run_timeout must be non-negative")
        self.assert_bad(dict(src, run_timeout="1000"), "If specified, run_timeout must be a number")
        body = self.run_piston(dict(src, run_timeout=run_ceiling, run_memory_limit=mem_ceiling))
        self.assertEqual(body["run"]["stdout"], "1\n")


class PistonBadRequests(PistonCase):
    SRC = {"language": "python", "files": [{"content": "print(1)"}]}

    def test_malformed_json(self):
        self.assert_bad(raw=b'{"language":', contains="malformed JSON")
        self.assert_bad(raw=b'', contains="empty")
        self.assert_bad(raw=b'[1]', contains="must be a JSON object")
        self.assert_bad(raw=b'\xff\xfe', contains="malformed JSON")

    def test_missing_and_mistyped_fields(self):
        self.assert_bad({"files": [{"content": "x"}]}, "language is required as a string")
        self.assert_bad({"language": 5, "files": [{"content": "x"}]}, "language is required as a string")
        self.assert_bad({"language": "python", "version": 3, "files": [{"content": "x"}]},
                        "version is required as a string")
        self.assert_bad({"language": "python"}, "files is required as an array")
        self.assert_bad({"language": "python", "files": "print(1)"}, "files is required as an array")
        self.assert_bad({"language": "python", "files": []}, "at least one file")
        self.assert_bad({"language": "python", "files": [{}]}, "files[0].content is required as a string")
        self.assert_bad({"language": "python", "files": [{"content": "x"}, {"content": 5}]},
                        "files[1].content is required as a string")
        self.assert_bad({"language": "python", "files": ["x"]}, "files[0] must be an object")
        self.assert_bad(dict(self.SRC, stdin=5), "stdin must be a string")
        self.assert_bad(dict(self.SRC, args="1 2"), "args must be an array of strings")
        self.assert_bad(dict(self.SRC, args=[1]), "args[0] must be a string")

    def test_unknown_language(self):
        self.assert_bad({"language": "cobol", "version": "1.0", "files": [{"content": "x"}]},
                        "cobol-1.0 runtime is unknown")

    def test_bad_encodings(self):
        def f(**kw):
            return {"language": "python", "files": [{"content": "print(1)"}, dict({"name": "d"}, **kw)]}
        self.assert_bad(f(content="x", encoding="latin1"), "files[1].encoding must be utf8, base64 or hex")
        self.assert_bad(f(content="!!!", encoding="base64"), "files[1].content is not valid base64")
        self.assert_bad(f(content="abc", encoding="hex"), "files[1].content is not valid hex")
        self.assert_bad(f(content="zz", encoding="hex"), "files[1].content is not valid hex")
        self.assert_bad({"language": "python", "files": [{"content": "AA==", "encoding": "base64"}]},
                        "at least one utf8 encoded file")

    def test_bad_file_names(self):
        for name in ("../x", "/etc/passwd", "a//b", "a\nb"):
            self.assert_bad({"language": "python", "files": [{"name": name, "content": "x"}]}, "files[0].name")
        self.assert_bad({"language": "python", "files": [{"name": "a.py", "content": "x"},
                                                         {"name": "a.py", "content": "y"}]}, "clashes")

    def test_nul_in_a_string_is_refused_not_cut(self):
        self.assert_bad(raw=b'{"language":"python","files":[{"content":"print(1)\\u0000"}]}', contains="NUL")
        # an escaped backslash before u0000 is just text
        body = self.run_piston({"language": "python", "files": [{"content": "print('\\\\u0000')"}]})
        self.assertEqual(body["run"]["stdout"], "\\u0000\n")



class PistonBodyLimit(PistonCase):
    LIMIT = 1000
    server_args = ("--max-body", str(LIMIT))

    def test_declared_and_chunked_bodies_over_the_limit_are_413(self):
        payload = json.dumps({"language": "python", "files": [{"content": "#" * 3000}]}).encode()
        data = self.server.raw_exchange(
            b"POST /api/v2/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n"
            b"Connection: close\r\n\r\n" + b"{" * 2000)
        status, _, body = ce.parse_raw_response(data)
        self.assertEqual(status, 413, body)
        self.assertIn("message", ce.parse_json(body))
        chunks = [payload[i:i + 500] for i in range(0, len(payload), 500)]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        data = self.server.raw_exchange(
            b"POST /api/v2/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + chunked)
        status, _, body = ce.parse_raw_response(data)
        self.assertEqual(status, 413, body)
        self.assertEqual(list(ce.parse_json(body)), ["message"])
        self.assert_healthy()


class NodeSetup:
    """Mixin: node and the npm packages of tests/piston-client (installed
    when missing); skips without them, fails under CI=true."""

    def setUp(self):
        super().setUp()
        node, npm = shutil.which("node"), shutil.which("npm")
        ci = os.environ.get("CI") == "true"
        if not node or not npm:
            if ci:
                self.fail("node and npm are needed for the piston-client tests (CI=true)")
            self.skipTest("node or npm not installed")
        msg = _npm_install(npm)
        if msg:
            if ci:
                self.fail(msg)
            self.skipTest(msg)
        self.node = node


_NPM_FAILED = []  # the first npm install's failure: not tried again in this run


def _npm_install(npm):
    """None once tests/piston-client's packages are there (npm install when
    missing), else why not.  A failure is remembered: every node test then
    skips with it at once instead of waiting for npm again."""
    if _NPM_FAILED:
        return _NPM_FAILED[0]
    if all(os.path.isdir(os.path.join(CLIENT_DIR, "node_modules", m)) for m in ("piston-client", "ws")):
        return None
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=CLIENT_DIR,
                           capture_output=True, text=True, timeout=300)
        msg = None if r.returncode == 0 else "npm install failed in %s: %s" % (CLIENT_DIR, r.stderr[-2000:])
    except subprocess.TimeoutExpired:
        msg = "npm install in %s did not finish in 300 s" % CLIENT_DIR
    if msg:
        _NPM_FAILED.append(msg)
    return msg


class PistonNodeClient(NodeSetup, PistonCase):
    """The npm package piston-client, unchanged, against the server."""

    def test_piston_client_unchanged(self):
        r = subprocess.run([self.node, os.path.join(CLIENT_DIR, "client.mjs"),
                            "http://%s:%d" % (ce.HOST, self.server.port)],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertIn("python", [rt["language"] for rt in out["runtimes"]])
        self.assertEqual(out["python"]["run"]["stdout"], "hello ['1', '2', '3']\n", out["python"])
        self.assertEqual(out["python"]["language"], "python")
        self.assertEqual(out["python_stdin"]["run"]["stdout"], "cba\n", out["python_stdin"])
        self.assertEqual((out["c"]["run"]["stdout"], out["c"]["run"]["code"], out["c"]["run"]["status"]),
                         ("4 1\n", 3, "RE"), out["c"])
        self.assertEqual(out["c_error"]["compile"]["status"], "RE", out["c_error"])
        self.assertEqual(out["c_error"]["run"], out["c_error"]["compile"])
        self.assertEqual(out["javascript"]["run"]["stdout"], "1,2,3\n", out["javascript"])
        self.assertEqual(out["timeout"]["run"]["status"], "TO", out["timeout"])
        self.assertEqual(out["unknown"], {"message": "cobol-* runtime is unknown"})
