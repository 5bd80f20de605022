"""Runtime failures, shutdown, crash recovery and the command line."""

import os
import shutil
import signal
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import ce
from ce import CETestCase

WRAPPER = """#!/bin/sh
# Behaves like runc, except that creating or running a container fails (with
# CE_IT_FAIL_FLAG=FILE, only once FILE exists: the server's start-up probes
# pass, the requests after it fail).  A probe's container looks like a
# request's (a warm pool's init waits for its program), hence a flag, not a
# look at the bundle.
sub=""
skip=0
for a in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$a" in
        --root|--log|--log-format|--criu) skip=1 ;;
        -*) ;;
        *) sub="$a"; break ;;
    esac
done
case "$sub" in
    run|create)
        if [ -n "$CE_IT_FAIL_FLAG" ] && [ ! -e "$CE_IT_FAIL_FLAG" ]; then
            exec %s "$@"
        fi
        echo "simulated runtime failure" >&2; exit 1 ;;
esac
exec %s "$@"
"""


# Runs the real runc, but points run/create at a bundle that does not exist,
# so that runc itself fails in its own words.
MISDIRECTING_WRAPPER = """#!/usr/bin/python3
import os, sys
real, args = %r, sys.argv[1:]
sub, skip = None, False
for a in args:
    if skip:
        skip = False
    elif a in ("--root", "--log", "--log-format", "--criu"):
        skip = True
    elif not a.startswith("-"):
        sub = a
        break
if sub in ("run", "create"):
    for i, a in enumerate(args):
        if a in ("--bundle", "-b") and i + 1 < len(args):
            args[i + 1] = "/nonexistent-ce-it-bundle"
        elif a.startswith("--bundle="):
            args[i] = "--bundle=/nonexistent-ce-it-bundle"
os.execv(real, [real] + args)
"""


class RuntimeFailure(CETestCase):
    class_server = False

    def write_wrapper(self, text):
        tmp = tempfile.mkdtemp(prefix="ce-it-runtime-")
        self.addCleanup(shutil.rmtree, tmp, True)
        wrapper = os.path.join(tmp, "wrapped-runc")
        with open(wrapper, "w") as f:
            f.write(text)
        os.chmod(wrapper, stat.S_IRWXU)
        return wrapper

    def test_runtime_failure_is_500_internal_error(self):
        # the wrapper prints its message on stderr, as most runtimes would
        wrapper = self.write_wrapper(WRAPPER % (ce.RUNC, ce.RUNC))
        flag = os.path.join(os.path.dirname(wrapper), "fail-now")
        server = self.start_server(runtime=wrapper, env={"CE_IT_FAIL_FLAG": flag})
        with open(flag, "w"):
            pass
        status, headers, body = server.execute("print('never runs')")
        self.assert_error(status, headers, body, 500)
        self.assertEqual(body.get("status"), "internal_error", body)
        self.assertIn("simulated runtime failure", body["error"], body)
        self.assert_healthy(server)

    def test_broken_runtime_refused_at_start(self):
        # The start-up probe fails: the server says why and does not serve
        # (rather than a 500 on every request).
        wrapper = self.write_wrapper(WRAPPER % (ce.RUNC, ce.RUNC))
        args = self.cli_args()
        p = self.run_cli(*args, "--runtime", wrapper)
        text = p.stdout + p.stderr
        self.assertEqual(p.returncode, 1, text)
        self.assertIn("no language passed its start-up probe", text)
        self.assertIn("simulated runtime failure", text)
        self.assertIn("hint:", text)
        state = args[args.index("--state-dir") + 1]
        self.assertEqual(ce.runc_list(state), [], "probe container left behind")
        exec_dir = os.path.join(state, "exec")
        self.assertEqual(os.listdir(exec_dir) if os.path.isdir(exec_dir) else [], [], text)

    def test_real_runc_error_is_reported(self):
        # runc's own words, from its log: at start-up (the probe) the server
        # refuses to start with them.
        wrapper = self.write_wrapper(MISDIRECTING_WRAPPER % ce.RUNC)
        p = self.run_cli(*self.cli_args(), "--runtime", wrapper)
        text = p.stdout + p.stderr
        self.assertEqual(p.returncode, 1, text)
        self.assertIn("nonexistent-ce-it-bundle", text, "runc's own message: %r" % text)


class ShutdownChecks:
    """SIGTERM checks, a plain mixin (not a TestCase, so that discovery collects
    nothing twice): Shutdown here and test_rootless.Lifecycle run them."""

    def test_sigterm_lets_running_execution_finish(self):
        server = self.start_server()
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.execute, 'import time; time.sleep(2); print("done")')
            time.sleep(0.5)
            self.running_container(server, fut)
            server.send_signal(signal.SIGTERM)
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="done\n")
        self.assertEqual(server.wait(60), 0, server.log_tail())
        server.shutdown()  # checks: exit code 0, nothing but empty dirs in the state dir

    def check_sigterm_after_work(self):
        server = self.start_server()
        for i in range(3):
            body = self.run_code("print(%d)" % i, server=server)
            self.assert_result(body, "ok", exit_code=0, output="%d\n" % i)
        server.shutdown(signal.SIGTERM)


class Shutdown(ShutdownChecks, CETestCase):
    class_server = False

    def test_stops_accepting_during_shutdown(self):
        server = self.start_server()
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.execute, 'import time; time.sleep(4); print("done")')
            self.running_container(server, fut)
            server.send_signal(signal.SIGTERM)

            def still_serving():
                try:
                    status, _ = server.health(timeout=2)
                    return status == 200
                except OSError:
                    return False

            serving = ce.poll(still_serving, 3.0)
            status, _, body = fut.result()
        self.assertFalse(serving, "GET /health still answered 200 three seconds after SIGTERM")
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="done\n")
        self.assertEqual(server.wait(60), 0, server.log_tail())
        server.shutdown()

    def test_shutdown_answers_queued_requests(self):
        server = self.start_server("--max-concurrent", "1")
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(server.execute, 'import time; time.sleep(2); print("first")')
            self.running_container(server, running)
            queued = pool.submit(server.execute, 'print("second")')
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            first = running.result()
            try:
                second = queued.result()
            except Exception as e:  # noqa: BLE001
                self.fail("the queued request got no HTTP answer: %r\n%s" % (e, server.log_tail()))
        self.assertEqual(first[0], 200, first)
        self.assert_result(first[2], "ok", exit_code=0, output="first\n")
        status, headers, body = second
        if status == 200:
            self.assert_result(body, "ok", exit_code=0, output="second\n")
        else:
            self.assert_error(status, headers, body, 503)
        self.assertEqual(server.wait(60), 0, server.log_tail())
        server.shutdown()

    def test_sigint_idle_server(self):
        server = self.start_server()
        server.send_signal(signal.SIGINT)
        self.assertEqual(server.wait(60), 0, server.log_tail())
        server.shutdown()

    def test_sigterm_after_work(self):
        self.check_sigterm_after_work()


class CrashRecovery(CETestCase):
    class_server = False

    def test_restart_cleans_up_after_crash(self):
        first = self.start_server()
        state = first.state_dir
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(first.execute, "import time; time.sleep(30)")
            cid, container = self.running_container(first, fut)
            container = container or {}
            pid = container.get("pid") or 0
            proc_stat = ce.read_proc_stat(pid) if pid else None
            orphans = ce.child_pids(first.proc.pid)
            self.addCleanup(self._kill_leftovers, orphans + ([(pid, proc_stat[2])] if proc_stat else []))
            first.kill()
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - the connection dies with the server
                pass

        left_behind = ce.runc_list(state)
        # Precondition: without a leftover there is nothing to prove.
        self.assertIn(cid, left_behind, "the crashed server left no container behind")

        # The second server takes over the state dir (and its removal).
        first.owns_state_dir = False
        second = self.start_server(state_dir=state, own_state_dir=True)

        def not_clean():
            # The second server's own warm pool slots are not the first's.
            problems = []
            ids = ce.runc_list(state)
            exec_dir = os.path.join(state, "exec")
            entries = os.listdir(exec_dir) if os.path.isdir(exec_dir) else []
            pool = second.warm_pool()
            ids = [i for i in ids if not pool.holds(i)]
            if ids:
                problems.append("runc list: %s" % ids)
            entries = [e for e in entries if e not in pool.ids]
            if entries:
                problems.append("exec dir: %s" % entries)
            if proc_stat and not ce.process_is_dead(pid, proc_stat[2]):
                problems.append("the old program (pid %d) is still running" % pid)
            cgroups = ce.container_cgroup_dirs_of(cid)
            if cgroups:
                problems.append("cgroup dirs of %s: %s" % (cid, cgroups))
            return problems

        problems = ce.poll(not_clean, ce.LEFTOVER_GRACE)
        self.assertEqual(problems, [], "after restarting on the crashed server's state dir "
                         "(left behind: %s)\n%s" % (left_behind, second.log_tail()))
        self.assert_healthy(second)
        body = self.run_code("print('Hello, World!')", server=second)
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    @staticmethod
    def _kill_leftovers(procs):
        for pid, starttime in procs:
            if pid and not ce.process_is_dead(pid, starttime):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


class StateDir(CETestCase):
    class_server = False

    def test_creates_missing_state_dir(self):
        parent = tempfile.mkdtemp(prefix="ce-it-parent-")
        self.addCleanup(shutil.rmtree, parent, True)
        server = self.start_server(state_dir=os.path.join(parent, "not", "yet"), own_state_dir=True)
        body = self.run_code("print('Hello, World!')", server=server)
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")


class CommandLine(CETestCase):
    class_server = False

    def test_help(self):
        p = self.run_cli("--help")
        text = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, text)
        self.assertIn("usage", text.lower(), text)
        for flag in ("--listen", "--bundles", "--state-dir", "--runtime", "--max-concurrent",
                     "--timeout", "--memory-mb", "--cpus", "--max-output", "--max-body", "--queue"):
            self.assertIn(flag, text, "--help should document %s" % flag)

    def test_unknown_flag(self):
        p = self.run_cli(*self.cli_args(), "--bogus")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("usage", p.stderr.lower(), "usage should go to stderr: %r" % p.stderr)

    def test_bad_flag_value(self):
        p = self.run_cli(*self.cli_args(), "--max-concurrent", "notanumber")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
