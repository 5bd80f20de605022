"""Time and output limits (servers started with small limits).

TimeoutChecks and OutputLimitChecks are plain mixins (not TestCases, so that
discovery collects nothing twice): Timeout and OutputLimit here and their
namesakes in test_rootless.py run them against root and rootless servers.
"""

import ce
from ce import CETestCase, code


class TimeoutChecks:
    server_args = ("--timeout", "2")

    def test_busy_loop_times_out_keeping_output(self):
        body = self.run_code(code("""
            print("started", flush=True)
            while True:
                pass
            """))
        self.assert_result(body, "timeout", exit_code=137, output="started\n", signal="SIGKILL")

    def test_sleep_times_out(self):
        body = self.run_code("import time; print('sleeping', flush=True); time.sleep(100)")
        self.assert_result(body, "timeout", exit_code=137, output="sleeping\n")


class Timeout(TimeoutChecks, CETestCase):
    def test_sigterm_ignored_still_times_out(self):
        body = self.run_code(code("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("ignoring", flush=True)
            while True:
                time.sleep(0.01)
            """))
        self.assert_result(body, "timeout", exit_code=137)
        self.assertIn("ignoring", body["output"], body)

    def test_children_holding_stdout_are_killed_on_timeout(self):
        body = self.run_code(code("""
            import os, time
            for i in range(5):
                if os.fork() == 0:
                    os.setsid()
                    while True:
                        time.sleep(0.1)
            print("forked", flush=True)
            time.sleep(100)
            """))
        self.assert_result(body, "timeout", exit_code=137)
        self.assertIn("forked", body["output"], body)

    def test_background_child_does_not_delay_result(self):
        # The execution ends when the program exits; a daemonised child must
        # neither keep it running into the timeout nor survive it.
        body = self.run_code(code("""
            import os, time
            if os.fork() == 0:
                os.setsid()
                time.sleep(100)
                os._exit(0)
            print("parent done")
            """))
        self.assert_result(body, "ok", exit_code=0, output="parent done\n")

    def test_bounded_fork_bomb_is_contained(self):
        # At most 1000 processes, so even a missing pids limit cannot hurt the
        # host; the leftover check after the test verifies they all died.
        body = self.run_code(ce.fork_program(1000, reap=False))
        self.assertIn(body["status"], ("timeout", "memory_limit"), body)
        self.assertEqual(body["exit_code"], 137, body)
        self.assert_healthy()


class OutputLimitChecks:
    LIMIT = 1000
    server_args = ("--max-output", str(LIMIT), "--timeout", "10")

    def test_exactly_at_limit_is_ok(self):
        body = self.run_code('import sys; sys.stdout.write("y" * %d)' % self.LIMIT)
        self.assert_result(body, "ok", exit_code=0, output="y" * self.LIMIT)

    def test_one_byte_over_limit(self):
        body = self.run_code('import sys; sys.stdout.write("y" * %d)' % (self.LIMIT + 1))
        self.assert_result(body, "output_limit", output="y" * self.LIMIT)


class OutputLimit(OutputLimitChecks, CETestCase):
    def test_stdout_flood(self):
        body = self.run_code('while True: print("x" * 1000)')
        self.assert_result(body, "output_limit")
        out = body["output"]
        self.assertEqual(len(out), self.LIMIT, "output must be cut at exactly the limit: %r" % body)
        self.assertLessEqual(set(out), {"x", "\n"}, body)

    def test_stderr_flood(self):
        body = self.run_code('import sys\nwhile True: print("e" * 999, file=sys.stderr)')
        self.assert_result(body, "output_limit")
        self.assertEqual(len(body["output"]), self.LIMIT, body)
        self.assertLessEqual(set(body["output"]), {"e", "\n"}, body)

    def test_killed_at_once_not_at_timeout(self):
        # over the limit, then sleeping: must end as output_limit, not timeout
        body = self.run_code(code("""
            import sys, time
            sys.stdout.write("z" * %d)
            sys.stdout.flush()
            time.sleep(100)
            """ % (self.LIMIT + 500)))
        self.assert_result(body, "output_limit", output="z" * self.LIMIT)
