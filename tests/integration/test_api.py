"""The extended API: files, stdin, args, per-request limits, the richer result
(stdout/stderr, signal, time, memory), and GET /languages, /version and /."""

import base64
import hashlib
import json
import os
import subprocess

import ce
from ce import CETestCase, code

VERSIONS_FILE = os.path.join(ce.BUNDLES, "python3", "versions.json")

DEFAULT_LIMITS = {"timeout_ms": 30000, "memory_mb": 50, "cpus": 0.5, "output_bytes": 1048576, "pids": 64}
# python3's bundle.json raises the memory to 160 MB (pandas with matplotlib
# peak near 100 MB).
PYTHON3_LIMITS = dict(DEFAULT_LIMITS, memory_mb=160)
DEFAULT_CEILINGS = {"timeout_ms": 60000, "memory_mb": 512, "cpus": 1, "output_bytes": 16777216, "pids": 256}
MINIMUMS = {"timeout_ms": 1, "memory_mb": 16, "cpus": 0.05, "output_bytes": 1, "pids": 8}

MAIN = {"name": "main.py", "content": "print('main')"}


def short(body, limit=600):
    """A result for a failure message, long strings cut to `limit` characters."""
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        if isinstance(value, str) and len(value) > limit:
            value = value[:limit] + "...(%d chars)" % len(value)
        out[key] = value
    return out


def bundle_version():
    with open(VERSIONS_FILE) as f:
        return json.load(f)["python3"]


def b64(data):
    return base64.b64encode(data).decode("ascii")


class APITestCase(CETestCase):
    """Helpers: send a JSON payload, require a result or a 400 naming a field."""

    def send(self, payload, server=None):
        server = server or self.server
        data = json.dumps(payload).encode("utf-8")
        return server.post_execute(data)

    def run_payload(self, payload, server=None):
        """POST the payload; require 200 and a well-formed result; return it."""
        status, _, body = self.send(payload, server)
        self.assertEqual(status, 200, "expected HTTP 200 for %s, got %d: %r"
                         % (json.dumps(payload)[:400], status, body))
        self.assert_result_shape(body)
        return body

    def run_files(self, files, server=None, **extra):
        payload = {"language": "python3", "files": files}
        payload.update(extra)
        return self.run_payload(payload, server)

    def run_src(self, src, server=None, **extra):
        payload = {"language": "python3", "code": src}
        payload.update(extra)
        return self.run_payload(payload, server)

    def assert_400(self, payload, *needles, server=None, regex=None):
        """400 with a JSON error that contains every needle (and matches regex)."""
        server = server or self.server
        status, headers, body = self.send(payload, server)
        self.assert_error(status, headers, body, 400)
        for needle in needles:
            self.assertIn(needle, body["error"], "the error should name %r; request %s -> %r"
                          % (needle, json.dumps(payload)[:300], body))
        if regex is not None:
            self.assertRegex(body["error"], regex, "request %s -> %r" % (json.dumps(payload)[:300], body))
        return body

    def with_file(self, bad, index=1):
        """A files payload with `bad` at position `index` (main.py first when index is 1)."""
        files = [dict(MAIN)] if index == 1 else []
        files.append(bad)
        return {"language": "python3", "files": files}


# ---------------------------------------------------------------------------
# 1. stdin

class Stdin(APITestCase):
    ECHO = "import sys; print(sys.stdin.read())"

    def test_stdin_echoed(self):
        body = self.run_src(self.ECHO, stdin="hello\nworld")
        self.assert_result(body, "ok", exit_code=0, output="hello\nworld\n")
        self.assertEqual((body["stdout"], body["stderr"]), ("hello\nworld\n", ""), body)

    def test_no_stdin_reads_empty(self):
        body = self.run_src(self.ECHO)
        self.assert_result(body, "ok", exit_code=0, output="\n")

    def test_empty_stdin_reads_empty(self):
        body = self.run_src(self.ECHO, stdin="")
        self.assert_result(body, "ok", exit_code=0, output="\n")

    def test_input_lines_and_eof(self):
        body = self.run_src(code("""
            a = input()
            b = input()
            try:
                input()
                print("MORE")
            except EOFError:
                print("EOF", a, b)
            """), stdin="first\nsecond\n")
        self.assert_result(body, "ok", exit_code=0, output="EOF first second\n")

    def test_unicode_stdin(self):
        text = "héllo ✓ 日本 🐍\n\ttab \"quote\" \\ back"
        body = self.run_src("import sys, json; print(json.dumps(sys.stdin.read()))", stdin=text)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(json.loads(body["stdout"]), text, body)

    def test_large_stdin_bigger_than_a_pipe(self):
        data = "".join("line %06d %s\n" % (i, "s" * 40) for i in range(6000))  # ~300 kB
        body = self.run_src(code("""
            import sys, hashlib
            data = sys.stdin.buffer.read()
            print(len(data), hashlib.sha256(data).hexdigest())
            """), stdin=data)
        raw = data.encode()
        self.assert_result(body, "ok", exit_code=0,
                           output="%d %s\n" % (len(raw), hashlib.sha256(raw).hexdigest()))

    def test_large_stdin_never_read(self):
        # the program exits without reading: the server must not block on the pipe
        body = self.run_src("print('did not read')", stdin="x" * 300000)
        self.assert_result(body, "ok", exit_code=0, output="did not read\n")
        self.assert_healthy()

    def test_stdin_wrong_type(self):
        for value in (5, ["a"], {"a": 1}, True):
            with self.subTest(stdin=value):
                self.assert_400({"language": "python3", "code": self.ECHO, "stdin": value}, "stdin")


# ---------------------------------------------------------------------------
# 2. args

class Args(APITestCase):
    PRINT_ARGS = "import sys, json; print(json.dumps(sys.argv[1:]))"

    def test_args_arrive_literally(self):
        args = ["a", "b", "with space", "  leading and trailing  ", "héllo ✓ 日本", "$(id)", "`id`",
                "; echo pwned", "a && b || c", "$HOME", "*", "'single'", "\"double\"", "back\\slash",
                "new\nline", "--flag", "-x", ""]
        body = self.run_src(self.PRINT_ARGS, args=args)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(json.loads(body["stdout"]), args, body)

    def test_argv0_is_the_entry_file(self):
        body = self.run_src("import sys; print(sys.argv)", args=["x"])
        self.assert_result(body, "ok", exit_code=0, output="['/code/main.py', 'x']\n")

    def test_argv_is_the_run_command_expanded(self):
        # ce.stage_argv is the one copy of the server's placeholder rules
        # outside it (tools/bench builds its bare runs with it): the
        # program's whole command line must be what it says, for "code" and
        # for files whose entry is in a directory.
        with open(os.path.join(ce.BUNDLES, "python3", "bundle.json")) as f:
            decl = next(d for d in json.load(f)["languages"] if d["name"] == "python3")
        command, sources = decl["run"]["command"], decl.get("sources", ())
        show = "import json; print(json.dumps(open('/proc/self/cmdline', 'rb').read().decode().split('\\0')[:-1]))"
        args = ["x", "two words", ""]
        body = self.run_src(show, args=args)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(json.loads(body["stdout"]), ce.stage_argv(command, [decl["entry_file"]], sources, args),
                         body)
        body = self.run_files([{"name": "app/run.py", "content": show}, {"name": "helper.py", "content": ""}],
                              args=args)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(json.loads(body["stdout"]), ce.stage_argv(command, ["app/run.py", "helper.py"], sources, args),
                         body)

    def test_no_args(self):
        body = self.run_src(self.PRINT_ARGS)
        self.assert_result(body, "ok", exit_code=0, output="[]\n")
        body = self.run_src(self.PRINT_ARGS, args=[])
        self.assert_result(body, "ok", exit_code=0, output="[]\n")

    def test_256_args_accepted(self):
        args = ["arg%d" % i for i in range(256)]
        body = self.run_src(self.PRINT_ARGS, args=args)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(json.loads(body["stdout"]), args, body)

    def test_257_args_rejected(self):
        self.assert_400({"language": "python3", "code": "pass", "args": ["a"] * 257}, "args")

    def test_nul_in_arg_rejected(self):
        self.assert_400({"language": "python3", "code": "pass", "args": ["ok", "x\u0000y"]}, "args[1]")

    def test_non_string_arg_rejected(self):
        for value in (5, None, ["a"], {"a": "b"}, True):
            with self.subTest(arg=value):
                self.assert_400({"language": "python3", "code": "pass", "args": [value]}, "args[0]")

    def test_arg_longer_than_execve_allows(self):
        # Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN) in
        # execve.  The request is valid and within --max-body: the server may
        # refuse it (400 naming the argument) or run it, but must not answer
        # as if the program had run and been killed.
        arg = "a" * 200000
        status, headers, body = self.send({"language": "python3", "code": "import sys; print(len(sys.argv[1]))",
                                           "args": [arg]})
        if status == 400:
            self.assert_error(status, headers, body, 400)
            self.assertIn("args[0]", body["error"], body)
            return
        self.assertEqual(status, 200, body)
        self.assert_result_shape(body)
        self.assert_result(body, "ok", exit_code=0, output="200000\n")

    def test_args_not_an_array(self):
        for value in ("a b", 5, {"0": "a"}):
            with self.subTest(args=value):
                self.assert_400({"language": "python3", "code": "pass", "args": value}, "args")


# ---------------------------------------------------------------------------
# 3./4. files

class Files(APITestCase):
    def test_two_files_import(self):
        body = self.run_files([
            {"name": "main.py", "content": "import helper; print(helper.f())"},
            {"name": "helper.py", "content": "def f():\n    return 'from helper'\n"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="from helper\n")

    def test_package_in_subdirectory(self):
        body = self.run_files([
            {"name": "main.py", "content": "from pkg.util import g\nfrom pkg import NAME\nprint(g(), NAME)"},
            {"name": "pkg/__init__.py", "content": "NAME = 'pkg'\n"},
            {"name": "pkg/util.py", "content": "def g():\n    return 'util'\n"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="util pkg\n")

    def test_files_at_code_paths(self):
        body = self.run_files([
            {"name": "main.py", "content": code("""
                import os
                for root, dirs, files in sorted(os.walk("/code")):
                    for f in sorted(files):
                        p = os.path.join(root, f)
                        print(p, repr(open(p).read()))
                """)},
            {"name": "a/b/c/deep.txt", "content": "deep"},
            {"name": "empty.txt", "content": ""},
            {"name": "uni ✓.txt", "content": "日本"},
        ])
        self.assert_result(body, "ok", exit_code=0)
        lines = body["stdout"].splitlines()
        for expected in ("/code/a/b/c/deep.txt 'deep'", "/code/empty.txt ''", "/code/uni ✓.txt '日本'"):
            self.assertIn(expected, lines, body)
        self.assertTrue(any(line.startswith("/code/main.py ") for line in lines), body)

    def test_code_dir_read_only_with_files(self):
        body = self.run_files([
            {"name": "main.py", "content": code("""
                for path in ("/code/helper.py", "/code/new.txt", "/code/sub/new.txt"):
                    try:
                        with open(path, "a") as f:
                            f.write("x")
                        print("WROTE", path)
                    except OSError as e:
                        print("DENIED", path)
                """)},
            {"name": "helper.py", "content": "x = 1"},
            {"name": "sub/s.py", "content": "y = 2"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="DENIED /code/helper.py\nDENIED /code/new.txt\n"
                                                          "DENIED /code/sub/new.txt\n")

    def test_first_file_is_the_entry_point(self):
        body = self.run_files([
            {"name": "app.py", "content": "import os; print('app', os.path.abspath(__file__))"},
            {"name": "main.py", "content": "print('main')"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="app /code/app.py\n")

    def test_explicit_utf8_encoding(self):
        body = self.run_files([{"name": "main.py", "content": "print('ütf8 ✓')", "encoding": "utf8"}])
        self.assert_result(body, "ok", exit_code=0, output="ütf8 ✓\n")

    def test_base64_binary_file(self):
        data = bytes(range(256)) * 8
        body = self.run_files([
            {"name": "main.py", "content": code("""
                import hashlib
                data = open("/code/data.bin", "rb").read()
                print(len(data), hashlib.sha256(data).hexdigest())
                """)},
            {"name": "data.bin", "content": b64(data), "encoding": "base64"},
        ])
        self.assert_result(body, "ok", exit_code=0,
                           output="%d %s\n" % (len(data), hashlib.sha256(data).hexdigest()))

    def test_base64_entry_file_and_empty_file(self):
        body = self.run_files([
            {"name": "main.py", "content": b64("print('from base64 ✓', len(open('/code/e').read()))".encode()),
             "encoding": "base64"},
            {"name": "e", "content": "", "encoding": "base64"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="from base64 ✓ 0\n")

    def test_64_files_accepted(self):
        files = [{"name": "main.py", "content": "import os; print(len(os.listdir('/code/d')))"}]
        files += [{"name": "d/f%02d.txt" % i, "content": str(i)} for i in range(63)]
        body = self.run_files(files)
        self.assert_result(body, "ok", exit_code=0, output="63\n")

    def test_name_of_255_bytes_accepted(self):
        name = "d/" + "n" * 253
        self.assertEqual(len(name.encode()), 255)
        body = self.run_files([
            {"name": "main.py", "content": "import os; print(sorted(os.listdir('/code/d')) == [%r])" % name[2:]},
            {"name": name, "content": "x"},
        ])
        self.assert_result(body, "ok", exit_code=0, output="True\n")

    def test_files_with_stdin_and_args(self):
        body = self.run_files([
            {"name": "main.py", "content": "import sys, helper; print(helper.up(sys.stdin.read()), sys.argv[1:])"},
            {"name": "helper.py", "content": "def up(s):\n    return s.upper()\n"},
        ], stdin="abc", args=["--x", "y"])
        self.assert_result(body, "ok", exit_code=0, output="ABC ['--x', 'y']\n")


class FileRejections(APITestCase):
    def test_bad_names(self):
        bad_names = ["../x", "/etc/x", "a/../../b", "x\u0000y", "", "a//b", "./a", "a/./b", "a/", "/",
                     ".", "..", "a/..", "x\ny", "tab\there", "esc\u001b", "del\u007f",
                     "d/" + "n" * 254]  # 256 bytes
        for name in bad_names:
            with self.subTest(name=name):
                self.assert_400(self.with_file({"name": name, "content": "x"}), "files[1].name")

    def test_bad_entry_name_at_index_0(self):
        self.assert_400({"language": "python3", "files": [{"name": "../main.py", "content": "x"}]},
                        "files[0].name")

    def test_duplicate_names(self):
        files = [dict(MAIN), {"name": "helper.py", "content": "a"}, {"name": "helper.py", "content": "b"}]
        self.assert_400({"language": "python3", "files": files}, regex=r"files\[[12]\]\.name")

    def test_file_and_directory_with_the_same_name(self):
        for second, third in (("a", "a/b"), ("a/b", "a"), ("x/y", "x/y/z")):
            with self.subTest(names=(second, third)):
                files = [dict(MAIN), {"name": second, "content": "1"}, {"name": third, "content": "2"}]
                self.assert_400({"language": "python3", "files": files}, regex=r"files\[[12]\]\.name")

    def test_65_files(self):
        files = [dict(MAIN)] + [{"name": "f%02d.txt" % i, "content": ""} for i in range(64)]
        self.assertEqual(len(files), 65)
        self.assert_400({"language": "python3", "files": files}, "files")

    def test_empty_files_array(self):
        self.assert_400({"language": "python3", "files": []}, "files")

    def test_files_not_an_array(self):
        for value in ("main.py", 5, {"name": "main.py", "content": "x"}, None):
            with self.subTest(files=value):
                self.assert_400({"language": "python3", "files": value}, "files")

    def test_bad_encoding(self):
        for value in ("utf16", "base32", "", "BASE64x", 5, None):
            with self.subTest(encoding=value):
                self.assert_400(self.with_file({"name": "x", "content": "eA==", "encoding": value}),
                                "files[1].encoding")

    def test_bad_base64(self):
        for value in ("!!!not base64!!!", "eA=", "e", "eA==eA=="[:5], "\u00e9\u00e9\u00e9\u00e9"):
            with self.subTest(content=value):
                self.assert_400(self.with_file({"name": "x", "content": value, "encoding": "base64"}),
                                regex=r"files\[1\]\.(content|encoding)")

    def test_file_not_an_object(self):
        for value in ("main.py", 5, ["main.py", "x"], None):
            with self.subTest(file=value):
                self.assert_400(self.with_file(value), "files[1]")

    def test_missing_name_or_content(self):
        self.assert_400(self.with_file({"content": "x"}), "files[1].name")
        self.assert_400(self.with_file({"name": "x"}), "files[1].content")
        self.assert_400(self.with_file({"name": "x", "encoding": "utf8"}), "files[1].content")

    def test_name_or_content_wrong_type(self):
        self.assert_400(self.with_file({"name": 5, "content": "x"}), "files[1].name")
        self.assert_400(self.with_file({"name": "x", "content": 5}), "files[1].content")
        self.assert_400(self.with_file({"name": "x", "content": None}), "files[1].content")

    def test_unknown_file_key(self):
        self.assert_400(self.with_file({"name": "x", "content": "y", "mode": "0755"}), "files[1]", "mode")

    def test_duplicate_key_in_file_object(self):
        raw = (b'{"language":"python3","files":[{"name":"main.py","content":"print(1)"},'
               b'{"name":"a.txt","content":"x","name":"b.txt"}]}')
        status, headers, body = self.server.post_execute(raw)
        self.assert_error(status, headers, body, 400)
        self.assertIn("files[1].name", body["error"], body)

    def test_code_and_files(self):
        self.assert_400({"language": "python3", "code": "print(1)", "files": [dict(MAIN)]}, "code", "files")

    def test_neither_code_nor_files(self):
        self.assert_400({"language": "python3"}, "code", "files")
        self.assert_400({"language": "python3", "stdin": "x", "args": ["a"]}, "code", "files")

    def test_zz_still_serving(self):
        self.assert_healthy()
        body = self.run_files([dict(MAIN)])
        self.assert_result(body, "ok", exit_code=0, output="main\n")


# ---------------------------------------------------------------------------
# 6. limits

FLOOD = 'while True: print("x" * 1000)'
LOOP = "while True: pass"


class Limits(APITestCase):
    def test_lower_timeout(self):
        body = self.run_src('print("started", flush=True)\n' + LOOP, limits={"timeout_ms": 1000})
        self.assert_result(body, "timeout", exit_code=137, signal="SIGKILL")
        self.assertIn("started", body["stdout"], body)
        self.assertLess(body["time"]["wall_ms"], 30000, "the 1 s timeout was not applied: %r" % (body,))

    def test_lower_output_bytes(self):
        body = self.run_src(FLOOD, limits={"output_bytes": 100})
        self.assert_result(body, "output_limit")
        self.assertIs(body["truncated"], True, body)
        self.assertEqual(len(body["output"]), 100, body)
        self.assertLessEqual(set(body["output"]), {"x", "\n"}, body)

    def test_output_exactly_at_lowered_limit(self):
        body = self.run_src('import sys; sys.stdout.write("y" * 100)', limits={"output_bytes": 100})
        self.assert_result(body, "ok", exit_code=0, output="y" * 100)
        self.assertIs(body["truncated"], False, body)

    def test_raised_output_bytes(self):
        # 1.5 MB is over the default 1 MiB and under the raised 2 MiB
        size = 1500 * 1000
        body = self.run_src('for i in range(1500): print("o" * 999)', limits={"output_bytes": 2 * 1048576})
        self.assertEqual((body["status"], body["exit_code"], body["truncated"]), ("ok", 0, False), short(body))
        self.assertEqual(len(body["output"]), size, short(body))
        self.assertTrue(body["output"] == "".join("o" * 999 + "\n" for _ in range(1500)), short(body))

    def test_raised_timeout_accepted(self):
        body = self.run_src("print('quick')", limits={"timeout_ms": 35000})
        self.assert_result(body, "ok", exit_code=0, output="quick\n")

    def test_all_ceilings_accepted(self):
        body = self.run_src("print('at the ceilings')", limits=dict(DEFAULT_CEILINGS))
        self.assert_result(body, "ok", exit_code=0, output="at the ceilings\n")

    def test_all_minimums_accepted(self):
        # the program may or may not manage to run with 16 MB and 8 pids: only the request is checked
        status, _, body = self.send({"language": "python3", "code": "pass", "limits": dict(MINIMUMS)})
        self.assertEqual(status, 200, body)
        self.assert_result_shape(body)

    def test_raised_memory(self):
        # past python3's 160 MB default
        alloc = 'b = b"x" * (200 * 1024 * 1024)\nprint("allocated", len(b))'
        default = self.run_src(alloc)
        self.assert_result(default, "memory_limit", exit_code=137)
        raised = self.run_src(alloc, limits={"memory_mb": 300})
        self.assert_result(raised, "ok", exit_code=0, output="allocated 209715200\n")
        self.assertGreaterEqual(raised["memory_kb"], 200 * 1024, raised)

    def test_lowered_memory(self):
        alloc = 'b = b"x" * (20 * 1024 * 1024)\nprint("allocated", len(b))'
        default = self.run_src(alloc)
        self.assert_result(default, "ok", exit_code=0, output="allocated 20971520\n")
        lowered = self.run_src(alloc, limits={"memory_mb": 20})
        self.assert_result(lowered, "memory_limit", exit_code=137, signal="SIGKILL")

    def test_lowered_pids(self):
        forker = ce.fork_program(20)
        default = self.run_src(forker)
        self.assert_result(default, "ok", exit_code=0, output="forked 20 error None\n")
        lowered = self.run_src(forker, limits={"pids": 8})
        self.assert_result(lowered, "ok", exit_code=0)
        self.assertRegex(lowered["output"], r"^forked [0-7] error EAGAIN\n$", lowered)

    def test_above_ceiling_rejected(self):
        for key, value, maximum in (("timeout_ms", 60001, "60000"), ("memory_mb", 513, "512"),
                                    ("cpus", 1.5, "1"), ("output_bytes", 16777217, "16777216"),
                                    ("pids", 257, "256")):
            with self.subTest(key=key):
                self.assert_400({"language": "python3", "code": "pass", "limits": {key: value}},
                                "limits." + key, "at most " + maximum)

    def test_below_minimum_rejected(self):
        for key, value in (("timeout_ms", 0), ("timeout_ms", -1), ("memory_mb", 15), ("memory_mb", 0),
                           ("cpus", 0.04), ("cpus", 0), ("cpus", -0.5), ("output_bytes", 0),
                           ("output_bytes", -100), ("pids", 7), ("pids", 0)):
            with self.subTest(key=key, value=value):
                self.assert_400({"language": "python3", "code": "pass", "limits": {key: value}}, "limits." + key)

    def test_wrong_types_rejected(self):
        for key in ("timeout_ms", "memory_mb", "output_bytes", "pids"):
            for value in (1.5, 100.25, "1000", True, [1000], {"v": 1}):
                with self.subTest(key=key, value=value):
                    self.assert_400({"language": "python3", "code": "pass", "limits": {key: value}},
                                    "limits." + key)
        for value in ("0.5", True, [0.5]):
            with self.subTest(key="cpus", value=value):
                self.assert_400({"language": "python3", "code": "pass", "limits": {"cpus": value}}, "limits.cpus")

    def test_huge_integer_rejected(self):
        for value in (10 ** 12, 10 ** 30):
            with self.subTest(value=value):
                status, headers, body = self.send({"language": "python3", "code": "pass",
                                                   "limits": {"timeout_ms": value}})
                self.assert_error(status, headers, body, 400)

    def test_integer_cpus_accepted(self):
        body = self.run_src("print('one cpu')", limits={"cpus": 1})
        self.assert_result(body, "ok", exit_code=0, output="one cpu\n")

    def test_duplicate_limit_key(self):
        raw = b'{"language":"python3","code":"pass","limits":{"pids":16,"pids":32}}'
        status, headers, body = self.server.post_execute(raw)
        self.assert_error(status, headers, body, 400)
        self.assertIn("limits.pids", body["error"], body)

    def test_limits_applied_to_the_container_cgroup(self):
        limits = {"memory_mb": 64, "cpus": 0.25, "pids": 32}
        self.assert_cgroup_limits(lambda: self.send({"language": "python3", "limits": limits,
                                                     "code": "import time; time.sleep(3); print('slept')"}),
                                  64 * 1024 * 1024, 0.25, 32)

    def test_unknown_limit_rejected(self):
        self.assert_400({"language": "python3", "code": "pass", "limits": {"memory": 64}}, "limits", "memory")
        self.assert_400({"language": "python3", "code": "pass", "limits": {"timeout_ms": 1000, "disk_mb": 1}},
                        "limits", "disk_mb")

    def test_limits_not_an_object(self):
        for value in ([], [1000], 5, "timeout_ms=1000", None):
            with self.subTest(limits=value):
                self.assert_400({"language": "python3", "code": "pass", "limits": value}, "limits")

    def test_compile_limits_checked(self):
        # Typed like every limit, for every language...
        self.assert_400({"language": "python3", "code": "pass", "limits": {"compile_timeout_ms": "5"}},
                        "limits.compile_timeout_ms", "must be a number")
        raw = b'{"language":"python3","code":"pass","limits":{"compile_pids":16,"compile_pids":32}}'
        status, headers, body = self.server.post_execute(raw)
        self.assert_error(status, headers, body, 400)
        self.assertIn("limits.compile_pids", body["error"], body)
        # ...ignored by an interpreted one...
        body = self.run_src("print('no compile')", limits={"compile_timeout_ms": 10 ** 9})
        self.assert_result(body, "ok", exit_code=0, output="no compile\n")
        self.assertNotIn("compile", body, body)
        # ...and held to the compile ceilings for a compiled one.
        compiled = [e["name"] for e in self.get_json("/languages") if e["compiled"] and e["available"]]
        if not compiled:
            self.skipTest("no compiled language is prepared on this server")
        for key, value, maximum in (("compile_timeout_ms", 60001, "60000"), ("compile_memory_mb", 1025, "1024"),
                                    ("compile_memory_mb", 15, "1024"), ("compile_pids", 257, "256")):
            with self.subTest(key=key, value=value):
                self.assert_400({"language": compiled[0], "code": "x", "limits": {key: value}},
                                "limits." + key, "at most " + maximum)

    def test_empty_limits_use_defaults(self):
        body = self.run_src("print('defaults')", limits={})
        self.assert_result(body, "ok", exit_code=0, output="defaults\n")

    def test_zz_still_serving(self):
        self.assert_healthy()
        body = self.run_src("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")


class LimitCeilingFlags(APITestCase):
    class_server = False

    def test_max_timeout_flag(self):
        server = self.start_server("--timeout", "3", "--max-timeout", "5")
        self.assert_400({"language": "python3", "code": "pass", "limits": {"timeout_ms": 6000}},
                        "limits.timeout_ms", "at most 5000", server=server)
        self.assert_400({"language": "python3", "code": "pass", "limits": {"timeout_ms": 5001}},
                        "limits.timeout_ms", "at most 5000", server=server)
        body = self.run_src("print('ok')", server=server, limits={"timeout_ms": 5000})
        self.assert_result(body, "ok", exit_code=0, output="ok\n")
        info = self.get_json("/version", server)
        self.assertEqual(info.get("ceilings", {}).get("timeout_ms"), 5000, info)
        self.assertEqual(info.get("limits", {}).get("timeout_ms"), 3000, info)

    def test_other_ceiling_flags(self):
        server = self.start_server("--max-memory-mb", "100", "--max-cpus", "0.75", "--max-pids", "100",
                                   "--max-output", "1000", "--max-output-bytes", "5000")
        info = self.get_json("/version", server)
        self.assertEqual(info.get("ceilings"), {"timeout_ms": 60000, "memory_mb": 100, "cpus": 0.75,
                                                "output_bytes": 5000, "pids": 100}, info)
        for key, value, maximum in (("memory_mb", 101, "100"), ("cpus", 0.8, "0.75"),
                                    ("pids", 101, "100"), ("output_bytes", 5001, "5000")):
            with self.subTest(key=key):
                self.assert_400({"language": "python3", "code": "pass", "limits": {key: value}},
                                "limits." + key, "at most " + maximum, server=server)
        body = self.run_src('import sys; sys.stdout.write("w" * 5000)', server=server,
                            limits={"memory_mb": 100, "cpus": 0.75, "pids": 100, "output_bytes": 5000})
        self.assert_result(body, "ok", exit_code=0, output="w" * 5000)

    def test_help_and_bad_values(self):
        p = self.run_cli("--help")
        text = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, text)
        for flag in ("--max-timeout", "--max-memory-mb", "--max-cpus", "--max-pids", "--max-output-bytes"):
            self.assertIn(flag, text, "--help should document %s" % flag)
        for flag in ("--max-timeout", "--max-memory-mb", "--max-cpus", "--max-pids", "--max-output-bytes"):
            with self.subTest(flag=flag):
                p = self.run_cli(*self.cli_args(), flag, "notanumber")
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)


# ---------------------------------------------------------------------------
# 7./8. memory and cpu accounting

class Accounting(APITestCase):
    def test_memory_kb_grows_with_allocation(self):
        small = self.run_src("pass")
        self.assert_result(small, "ok", exit_code=0)
        big = self.run_src(code("""
            b = bytearray(30 * 1024 * 1024)
            b[::4096] = b"x" * len(b[::4096])
            print("touched", len(b))
            """))
        self.assert_result(big, "ok", exit_code=0, output="touched 31457280\n")
        self.assertGreater(small["memory_kb"], 0, small)
        self.assertGreaterEqual(big["memory_kb"], 30 * 1024, big)
        self.assertLessEqual(big["memory_kb"], 50 * 1024, big)
        self.assertLess(small["memory_kb"], 20 * 1024, small)
        self.assertGreaterEqual(big["memory_kb"] - small["memory_kb"], 25 * 1024,
                                "trivial %r vs 30 MiB %r" % (small, big))

    def test_sleep_uses_almost_no_cpu(self):
        body = self.run_src("import time; time.sleep(1)")
        self.assert_result(body, "ok", exit_code=0)
        # wall_ms starts when `runc run --detach` has returned, which is a
        # little after the program started (tens of ms under ASan: 993 was seen).
        self.assertGreaterEqual(body["time"]["wall_ms"], 900, body)
        self.assertLess(body["time"]["cpu_ms"], 300, body)

    BUSY = "import time\nt = time.time()\nwhile time.time() - t < 2: pass\n"

    def test_busy_loop_cpu_follows_the_quota(self):
        # The quota is a cap: a busy loop gets at most its share of a core, the
        # default 0.5 or what the request asks.  How much it gets below the cap
        # depends on the machine's load, so that is never asserted.  (One
        # thread cannot pass 1.0 anyway: the caps below 1 are what is tested.)
        for cpus, cap in ((None, 0.5), (0.25, 0.25), (1.0, 1.0)):
            with self.subTest(cpus=cpus):
                extra = {} if cpus is None else {"limits": {"cpus": cpus}}
                body = self.run_src(self.BUSY, **extra)
                self.assert_result(body, "ok", exit_code=0)
                wall, cpu = body["time"]["wall_ms"], body["time"]["cpu_ms"]
                self.assertGreaterEqual(wall, 2000, body)
                self.assertGreater(cpu, 0, body)
                # + 0.1: the container's start-up is charged too, before the quota period settles
                self.assertLessEqual(cpu / wall, cap + 0.1, "cap %s CPU: cpu/wall %.2f: %r" % (cap, cpu / wall, body))


# ---------------------------------------------------------------------------
# 9./10. signals, stdout/stderr

class Signals(APITestCase):
    def test_sigterm(self):
        body = self.run_src(code("""
            import os, signal
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            """))
        self.assert_result(body, "runtime_error", exit_code=143, signal="SIGTERM")

    def test_sigsegv(self):
        body = self.run_src("import ctypes; ctypes.string_at(0)")
        self.assert_result(body, "runtime_error", exit_code=139, signal="SIGSEGV")

    def test_sigkill_self(self):
        body = self.run_src("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        self.assert_result(body, "runtime_error", exit_code=137, signal="SIGKILL")

    def test_abort(self):
        body = self.run_src("import os; os.abort()")
        self.assert_result(body, "runtime_error", exit_code=134, signal="SIGABRT")

    def test_normal_exit_has_no_signal(self):
        for src, status, exit_code in (("print(1)", "ok", 0), ("import sys; sys.exit(3)", "runtime_error", 3),
                                       ("raise SystemExit(1)", "runtime_error", 1)):
            with self.subTest(src=src):
                body = self.run_src(src)
                self.assert_result(body, status, exit_code=exit_code, signal=None)

    def test_exit_137_is_not_a_signal(self):
        body = self.run_src("import sys; sys.exit(137)")
        self.assert_result(body, "runtime_error", exit_code=137)
        self.assertIsNone(body["signal"], "a plain exit(137) is not a SIGKILL: %r" % (body,))

    def test_timeout_reports_sigkill(self):
        body = self.run_src("import time; time.sleep(100)", limits={"timeout_ms": 1000})
        self.assert_result(body, "timeout", exit_code=137, signal="SIGKILL")


class Streams(APITestCase):
    def test_separated_and_merged_in_order(self):
        body = self.run_src(code("""
            import sys, time
            for i in range(5):
                print("out%d" % i, flush=True)
                time.sleep(0.05)
                sys.stderr.write("err%d\\n" % i)
                sys.stderr.flush()
                time.sleep(0.05)
            """))
        self.assert_result(body, "ok", exit_code=0,
                           output="".join("out%d\nerr%d\n" % (i, i) for i in range(5)))
        self.assertEqual(body["stdout"], "".join("out%d\n" % i for i in range(5)), body)
        self.assertEqual(body["stderr"], "".join("err%d\n" % i for i in range(5)), body)

    def test_only_stderr(self):
        body = self.run_src("import sys; sys.stderr.write('only err'); sys.exit(2)")
        self.assert_result(body, "runtime_error", exit_code=2, output="only err")
        self.assertEqual((body["stdout"], body["stderr"]), ("", "only err"), body)

    def test_traceback_goes_to_stderr(self):
        body = self.run_src("print('before')\nraise ValueError('boom')")
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertEqual(body["stdout"], "before\n", body)
        self.assertIn("ValueError: boom", body["stderr"], body)
        self.assertTrue(body["output"].startswith("before\n"), body)

    def test_both_streams_large_without_pauses(self):
        # both pipes fill up at once: nothing may be lost or deadlock
        body = self.run_src(code("""
            import sys
            for i in range(3000):
                sys.stdout.write("o%05d%s\\n" % (i, "O" * 60))
                sys.stderr.write("e%05d%s\\n" % (i, "E" * 60))
            """))
        self.assertEqual((body["status"], body["exit_code"]), ("ok", 0), short(body))
        out = "".join("o%05d%s\n" % (i, "O" * 60) for i in range(3000))
        err = "".join("e%05d%s\n" % (i, "E" * 60) for i in range(3000))
        self.assertTrue(body["stdout"] == out, "stdout differs: %r" % (short(body),))
        self.assertTrue(body["stderr"] == err, "stderr differs: %r" % (short(body),))
        lines = body["output"].splitlines(keepends=True)
        self.assertTrue("".join(l for l in lines if l.startswith("o")) == out, "stdout lines in output: %r" % (short(body),))
        self.assertTrue("".join(l for l in lines if l.startswith("e")) == err, "stderr lines in output: %r" % (short(body),))

    def test_stdout_and_stderr_share_output_limit(self):
        body = self.run_src(code("""
            import sys
            sys.stdout.write("o" * 60)
            sys.stdout.flush()
            sys.stderr.write("e" * 60)
            sys.stderr.flush()
            """), limits={"output_bytes": 100})
        self.assert_result(body, "output_limit")
        self.assertEqual(len(body["output"]), 100, body)
        self.assertLessEqual(len(body["stdout"]) + len(body["stderr"]), 120, body)


# ---------------------------------------------------------------------------
# 11./12./13. languages, discovery, the seed request

class Discovery(APITestCase):
    def test_languages(self):
        body = self.get_json("/languages")
        self.assertIsInstance(body, list, body)
        python = [entry for entry in body if entry.get("name") == "python3"]
        self.assertEqual(python, [{"name": "python3", "version": bundle_version(),
                                   "aliases": ["python", "py", "py3"], "entry_file": "main.py",
                                   "compiled": False, "limits": PYTHON3_LIMITS, "available": True}], body)
        names = [entry["name"] for entry in body]
        self.assertEqual(names, sorted(names), "sorted by name")
        for entry in body:
            with self.subTest(language=entry.get("name")):
                self.assertEqual("compile_limits" in entry, entry["compiled"], entry)
                self.assertEqual("reason" in entry, not entry["available"], entry)

    def test_response_language_matches_languages(self):
        langs = {entry["name"]: entry for entry in self.get_json("/languages")}
        for alias in ("python3", "python", "py"):
            with self.subTest(language=alias):
                body = self.run_payload({"language": alias, "code": "print('hi')"})
                self.assert_result(body, "ok", exit_code=0, output="hi\n")
                self.assertEqual(body["language"], "python3", body)
                self.assertIn(body["language"], langs, body)
                self.assertEqual(body["version"], langs["python3"]["version"], body)
                self.assertEqual(body["version"], bundle_version(), body)

    def test_alias_with_files(self):
        body = self.run_payload({"language": "py", "files": [dict(MAIN)]})
        self.assert_result(body, "ok", exit_code=0, output="main\n")
        self.assertEqual(body["language"], "python3", body)

    def test_unknown_language_with_files(self):
        self.assert_400({"language": "cobol", "files": [dict(MAIN)]}, "python3")

    def test_version_and_root(self):
        runc_line = subprocess.run([ce.RUNC, "--version"], capture_output=True, text=True,
                                   timeout=30).stdout.splitlines()[0].strip()
        cgroup = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"
        version = self.get_json("/version")
        root = self.get_json("/")
        self.assertEqual(root, version, "GET / and GET /version should answer the same")
        self.assertEqual(sorted(version), sorted(["name", "version", "runtime", "cgroup", "max_concurrent", "queue",
                                                  "max_body", "limits", "ceilings", "limit_mode",
                                                  "rootless", "compile_limits", "compile_ceilings"]), version)
        # The suite runs as root: real cgroup limits.
        self.assertEqual(version["limit_mode"], "cgroup", version)
        self.assertIs(version["rootless"], False, version)
        self.assertEqual(version["name"], "codeengine", version)
        self.assertIsInstance(version["version"], str, version)
        self.assertRegex(version["version"], r"^\d+\.\d+", version)
        # "runc version 1.1.5+ds1", "crun version 1.8.1": whichever runtime the suite runs on.
        self.assertRegex(version["runtime"], r"^[a-z]+ version \S", version)
        self.assertIn(runc_line, version["runtime"], version)
        self.assertEqual(version["cgroup"], cgroup, version)
        self.assertEqual((version["max_concurrent"], version["queue"], version["max_body"]), (10, 256, 1048576),
                         version)
        self.assertEqual(version["limits"], DEFAULT_LIMITS, version)
        self.assertEqual(version["ceilings"], DEFAULT_CEILINGS, version)
        self.assertEqual(version["compile_limits"], {"timeout_ms": 10000, "memory_mb": 256, "cpus": 1.0,
                                                     "output_bytes": 1048576, "pids": 128}, version)
        self.assertEqual(version["compile_ceilings"], {"timeout_ms": 60000, "memory_mb": 1024, "cpus": 1.0,
                                                       "output_bytes": 16777216, "pids": 256}, version)
        for key in ("timeout_ms", "memory_mb", "output_bytes", "pids"):
            self.assertTrue(type(version["limits"][key]) is int and type(version["ceilings"][key]) is int, version)

    def test_post_is_405(self):
        for path in ("/languages", "/version", "/"):
            with self.subTest(path=path):
                status, headers, body = self.server.request_json("POST", path, b"{}",
                                                                 {"Content-Type": "application/json"})
                self.assert_error(status, headers, body, 405)
                self.assertIn("GET", headers.get("Allow", ""), "Allow header: %r" % dict(headers))

    def test_seed_request_unchanged(self):
        status, _, data = self.server.request(
            "POST", "/execute", json.dumps({"language": "python3", "code": "print('Hello, World!')"}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        self.assertRegex(data, rb'^\{\s*"output"\s*:\s*"Hello, World!\\n"\s*,', "body should start with output")
        body = ce.parse_json(data)
        self.assert_result_shape(body)
        seed = {key: body[key] for key in ce.SEED_RESULT_KEYS}
        self.assertTrue(type(seed["time_ms"]) is int, body)
        seed.pop("time_ms")
        self.assertEqual(seed, {"output": "Hello, World!\n", "exit_code": 0, "status": "ok"}, body)
        self.assertEqual((body["stdout"], body["stderr"], body["signal"], body["truncated"]),
                         ("Hello, World!\n", "", None, False), body)

    def test_seed_examples(self):
        body = self.run_payload({"language": "python3", "code": "print(sum(range(10)))"})
        self.assert_result(body, "ok", exit_code=0, output="45\n")
        body = self.run_payload({"language": "python3", "code": "print(undefined_variable)"})
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertIn("NameError", body["output"], body)
        self.assertEqual(body["output"], body["stderr"], body)


class DiscoveryFlags(APITestCase):
    class_server = False

    def test_limits_reflect_flags(self):
        server = self.start_server("--timeout", "7", "--memory-mb", "64", "--cpus", "0.25", "--pids", "32",
                                   "--max-output", "5000", "--max-concurrent", "3", "--queue", "7",
                                   "--max-body", "50000")
        info = self.get_json("/version", server)
        self.assertEqual(info.get("limits"), {"timeout_ms": 7000, "memory_mb": 64, "cpus": 0.25,
                                              "output_bytes": 5000, "pids": 32}, info)
        self.assertEqual(info.get("ceilings"), DEFAULT_CEILINGS, info)
        self.assertEqual((info.get("max_concurrent"), info.get("queue"), info.get("max_body")), (3, 7, 50000), info)
        # and the defaults apply to a request without limits
        body = self.run_src('import sys; sys.stdout.write("v" * 6000)', server=server)
        self.assert_result(body, "output_limit", output="v" * 5000)
