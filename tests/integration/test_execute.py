"""POST /execute: results, exit codes, statuses and the exact output."""

import json

from ce import CETestCase, code


class ResultChecks:
    """Results that test_rootless.Basics checks too, against a rootless server
    (a plain mixin, not a TestCase, so that discovery collects nothing twice)."""

    def check_hello_world(self):
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n", signal=None)

    def check_sum(self):
        body = self.run_code("print(sum(range(10)))")
        self.assert_result(body, "ok", exit_code=0, output="45\n")

    def check_name_error(self):
        body = self.run_code("print(undefined_variable)")
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertIn("NameError", body["output"], body)
        self.assertIn("NameError", body["stderr"], body)
        self.assertEqual(body["stdout"], "", body)

    def check_sys_exit_3(self):
        body = self.run_code("import sys; sys.exit(3)")
        self.assert_result(body, "runtime_error", exit_code=3, output="")

    def check_sys_exit_0_is_ok(self):
        body = self.run_code("import sys; print('bye'); sys.exit(0)")
        self.assert_result(body, "ok", exit_code=0, output="bye\n")

    def check_syntax_error(self):
        body = self.run_code("def broken(:\n    pass\n")
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertIn("SyntaxError", body["output"], body)

    def check_killed_by_sigkill(self):
        body = self.run_code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        self.assert_result(body, "runtime_error", exit_code=137, signal="SIGKILL")

    def check_stdout_stderr_interleaved_in_order(self):
        # stdout and stderr are two pipes: "output" keeps the order of writes
        # that are a few milliseconds apart, so the program pauses whenever it
        # switches streams.
        body = self.run_code(code("""
            import sys, time
            def out(s):
                print(s, flush=True)
                time.sleep(0.05)
            def err(s):
                print(s, file=sys.stderr, flush=True)
                time.sleep(0.05)
            out("a")
            err("b")
            out("c")
            for i in range(10):
                out("out%d" % i)
                err("err%d" % i)
            """))
        expected = "a\nb\nc\n" + "".join("out%d\nerr%d\n" % (i, i) for i in range(10))
        self.assert_result(body, "ok", exit_code=0, output=expected)
        self.assertEqual(body["stdout"], "a\nc\n" + "".join("out%d\n" % i for i in range(10)), body)
        self.assertEqual(body["stderr"], "b\n" + "".join("err%d\n" % i for i in range(10)), body)


class SeedExamples(ResultChecks, CETestCase):
    def test_hello_world(self):
        self.check_hello_world()

    def test_hello_world_raw_body_starts_with_output(self):
        status, _, data = self.server.request(
            "POST", "/execute", json.dumps({"language": "python3", "code": "print('Hello, World!')"}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        self.assertRegex(data, rb'^\{\s*"output"\s*:\s*"Hello, World!\\n"\s*,',
                         "body should start with the output field")

    def test_sum(self):
        self.check_sum()

    def test_name_error(self):
        self.check_name_error()


class ExitCodes(ResultChecks, CETestCase):
    def test_sys_exit_3(self):
        self.check_sys_exit_3()

    def test_sys_exit_0_is_ok(self):
        self.check_sys_exit_0_is_ok()

    def test_killed_by_sigkill(self):
        self.check_killed_by_sigkill()

    def test_killed_by_sigterm(self):
        body = self.run_code(code("""
            import os, signal
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            """))
        self.assert_result(body, "runtime_error", exit_code=128 + 15)

    def test_syntax_error(self):
        self.check_syntax_error()

    def test_time_ms_covers_the_run(self):
        # a lower bound only: a program sleeping 0.5 s cannot take less than 500 ms
        body = self.run_code("import time; time.sleep(0.5); print('x')")
        self.assert_result(body, "ok", exit_code=0, output="x\n")
        self.assertGreaterEqual(body["time_ms"], 500, body)


class Output(ResultChecks, CETestCase):
    def test_stdout_stderr_interleaved_in_order(self):
        self.check_stdout_stderr_interleaved_in_order()

    def test_unicode_exact(self):
        body = self.run_code('print("héllo ✓ 日本 🐍")')
        self.assert_result(body, "ok", exit_code=0, output="héllo ✓ 日本 🐍\n")

    def test_unicode_code_sent_as_raw_utf8(self):
        # same program, but the request carries raw UTF-8 instead of \\u escapes
        body = self.run_code('print("héllo ✓ 日本 🐍")', ensure_ascii=False)
        self.assert_result(body, "ok", exit_code=0, output="héllo ✓ 日本 🐍\n")

    def test_invalid_utf8_is_replaced(self):
        # the response must stay strict UTF-8 JSON (ce.parse_json checks that)
        body = self.run_code('import sys; sys.stdout.buffer.write(b"ok\\xff\\xfe!\\n")')
        self.assert_result(body, "ok", exit_code=0)
        out = body["output"]
        self.assertIn("ok", out, body)
        self.assertIn("\ufffd", out, body)
        self.assertIn("!", out, body)
        self.assertTrue(out.startswith("ok\ufffd") and out.endswith("!\n"), body)

    def test_truncated_multibyte_sequence_at_end(self):
        body = self.run_code('import sys; sys.stdout.buffer.write("x日".encode()[:-1])')
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("x"), body)
        self.assertIn("\ufffd", body["output"], body)

    def test_control_characters_escaped(self):
        body = self.run_code('import sys; sys.stdout.write("".join(chr(i) for i in range(1, 32)) + "\\x7f\\"\\\\/")')
        expected = "".join(chr(i) for i in range(1, 32)) + "\x7f\"\\/"
        self.assert_result(body, "ok", exit_code=0, output=expected)

    def test_nul_byte_in_output(self):
        body = self.run_code('import sys; sys.stdout.write("a\\x00b\\n")')
        self.assert_result(body, "ok", exit_code=0, output="a\x00b\n")

    def test_no_trailing_newline(self):
        body = self.run_code('import sys; sys.stdout.write("no newline")')
        self.assert_result(body, "ok", exit_code=0, output="no newline")

    def test_empty_output(self):
        body = self.run_code("pass")
        self.assert_result(body, "ok", exit_code=0, output="")

    def test_empty_code(self):
        body = self.run_code("")
        self.assert_result(body, "ok", exit_code=0, output="")

    def test_large_output_below_limit(self):
        # 600 kB in 1000-byte lines: well below the default 1 MiB limit
        body = self.run_code('for i in range(600): print("%04d" % i + "y" * 995)')
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(len(body["output"]), 600 * 1000, "output length")
        self.assertEqual(body["output"], "".join("%04d" % i + "y" * 995 + "\n" for i in range(600)))

    def test_large_code(self):
        src = "# " + "z" * 500000 + "\nprint('big code ran')\n"
        body = self.run_code(src)
        self.assert_result(body, "ok", exit_code=0, output="big code ran\n")

    def test_code_with_quotes_backslashes_and_tabs(self):
        body = self.run_code('print("tab\\there \\"quoted\\" back\\\\slash \'single\'")')
        self.assert_result(body, "ok", exit_code=0, output="tab\there \"quoted\" back\\slash 'single'\n")

    def test_stdin_is_empty(self):
        # stdin must not be something that blocks (that would end in a timeout)
        body = self.run_code("x = input()")
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertTrue("EOFError" in body["output"] or "lost sys.stdin" in body["output"], body)

    def test_code_is_at_code_main_py(self):
        body = self.run_code("import os; print(os.path.abspath(__file__))")
        self.assert_result(body, "ok", exit_code=0, output="/code/main.py\n")

    def test_keep_alive_two_requests_on_one_connection(self):
        conn = self.server.connection()
        try:
            for n in (1, 2):
                conn.request("POST", "/execute", json.dumps({"language": "python3", "code": "print(%d)" % n}),
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                self.assertEqual(resp.status, 200, data)
                self.assertEqual(json.loads(data)["output"], "%d\n" % n, data)
        finally:
            conn.close()
