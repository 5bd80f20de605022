"""Rootless mode: the server started by a normal user (run.py --rootless).

A non-root server runs rootless runc with its state under
$XDG_RUNTIME_DIR/codeengine, maps the user to uid 0 inside a user namespace
(no capabilities, no_new_privs, seccomp) and gives each container an empty
network namespace.  Without cgroup limits (cgroup v1) it falls back to
rlimits ("limit_mode": "rlimit"): RLIMIT_AS for memory (a memory bomb gets
MemoryError, never memory_limit), RLIMIT_NPROC = --pids for processes,
RLIMIT_CPU = timeout + 1 s, and the wall-clock timeout as always; there is no
CPU-share limit.  These tests check exactly that, and that nothing is left
behind (the leftover check after every test works for a normal user: runc
list under STATE/runc, STATE/exec, the server's child processes).

Every test here skips when run as root: as root the server is not rootless.
On cgroup v2 a rootless server may have real limits (systemd delegation,
"limit_mode": "cgroup"); the rlimit-only tests then skip.
"""

import errno
import os
import shutil
import signal
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

import ce
from ce import CETestCase, code
# Check mixins (plain classes: nothing here is collected twice) shared with
# the root suite's files, which the same checks run against a root server.
from test_execute import ResultChecks
from test_http import RequestChecks
from test_lifecycle import ShutdownChecks
from test_limits import OutputLimitChecks, TimeoutChecks
from test_sandbox import FilesystemChecks, IdentityChecks, MemoryChecks, NetworkChecks

IS_ROOT = os.geteuid() == 0
# Rootless runc cannot use cgroup v1 at all, so there the server must fall back
# to rlimits.  On a unified (v2) hierarchy it may have real limits through
# systemd delegation ("cgroup"); the rlimit-only tests then skip.
CGROUP_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def proc_cgroups(pid):
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            return f.read()
    except OSError:
        return None


@unittest.skipIf(IS_ROOT, "rootless tests need a non-root user (run.py --rootless as a normal user)")
class RootlessTestCase(CETestCase):
    """Every result must say the server's limit_mode ("rlimit" on cgroup v1)."""

    def limit_mode(self, server=None):
        """The server's limit_mode from GET /version; must be "rlimit" on cgroup v1."""
        version = self.get_json("/version", server)
        mode = version.get("limit_mode")
        if CGROUP_V2:
            self.assertIn(mode, ("cgroup", "rlimit"), version)
        else:
            self.assertEqual(mode, "rlimit", "rootless on cgroup v1 has no cgroup limits: %r" % (version,))
        return mode

    def require_rlimit_mode(self, server=None):
        if self.limit_mode(server) != "rlimit":
            self.skipTest("the server has cgroup limits (cgroup v2 delegation): no rlimit fallback to test")

    def run_code(self, src, server=None, **kwargs):
        body = super().run_code(src, server=server, **kwargs)
        self.assertEqual(body["limit_mode"], self.limit_mode(server),
                         "each result must say the server's limit_mode: %r" % (body,))
        return body


class Basics(ResultChecks, RequestChecks, RootlessTestCase):
    def test_version_says_rootless_and_rlimit(self):
        version = self.get_json("/version")
        self.assertIs(version.get("rootless"), True, version)
        self.require_rlimit_mode()
        self.assertEqual(version.get("limit_mode"), "rlimit", version)
        self.assertEqual(self.get_json("/"), version, "GET / and GET /version should answer the same")

    def test_startup_warns_about_missing_cgroup_limits(self):
        self.require_rlimit_mode()
        self.assertIn("no cgroup limits", self.server.log_text(), self.server.log_tail())

    def test_seed_hello_world(self):
        self.check_hello_world()

    def test_seed_sum(self):
        self.check_sum()

    def test_seed_name_error(self):
        self.check_name_error()

    def test_exit_codes(self):
        self.check_sys_exit_3()
        self.check_sys_exit_0_is_ok()
        self.check_syntax_error()

    def test_killed_by_signal(self):
        self.check_killed_by_sigkill()

    def test_stdout_and_stderr(self):
        self.check_stdout_stderr_interleaved_in_order()

    def test_bad_requests_are_400(self):
        for raw in (b'{"language": "python3", "code": ', b'[]',
                    b'{"language": "python3"}',
                    b'{"language": "python3", "code": "print(1)", "bogus": 1}'):
            self.assert_rejected(raw)
        obj = self.assert_rejected(b'{"language": "cobol", "code": "print(1)"}')
        self.assertIn("python3", obj["error"], obj)
        self.assert_path_rejected("GET", "/nonexistent", 404)
        self.assert_path_rejected("GET", "/execute", 405)
        self.assert_healthy()

    def test_container_is_the_users_and_has_no_cgroup(self):
        # The user's own runc sees the container under STATE/runc; on the host
        # it runs as this user (not root) and stays in the server's cgroups.
        self.require_rlimit_mode()
        server = self.server
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.execute, "import time; time.sleep(3); print('slept')")
            cid, state = self.running_container(server, fut)
            pid = (state or {}).get("pid") or 0
            host_status = ce.proc_status(pid) if pid else {}
            cgroups = proc_cgroups(pid) if pid else None
            server_cgroups = proc_cgroups(server.proc.pid)
            cgroup_dirs = ce.container_cgroup_dirs_of(cid)
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assertTrue(state and pid, "runc state %s gave no pid: %r" % (cid, state))
        self.assertEqual(state.get("status"), "running", state)
        uid = str(os.getuid())
        self.assertEqual(host_status.get("Uid", "").split(), [uid] * 4,
                         "the container's init must run as uid %s on the host: %r" % (uid, host_status))
        self.assertEqual(cgroups, server_cgroups, "a rootless container gets no cgroup of its own")
        self.assertEqual(cgroup_dirs, [], "no codeengine cgroup may be created rootless")


class Sandbox(NetworkChecks, FilesystemChecks, IdentityChecks, RootlessTestCase):
    def test_root_and_code_read_only_tmp_writable(self):
        self.check_root_and_code_read_only()
        self.check_tmp_writable()

    def test_writes_to_root_and_code_fail(self):
        # Inside, /code/main.py belongs to uid 0 (this user outside): only the
        # read-only mount stops the program, so the error must be EROFS.
        body, results = self.write_attempts(self.CODE_APPEND, self.CODE_CREATE, self.CODE_CHMOD,
                                            self.ROOT_CREATE, self.ETC_APPEND)
        for name in ("code-append", "code-create", "code-chmod"):
            self.assertEqual(results[name], "DENIED %d" % errno.EROFS, "%s: %r" % (name, body))
        for name in ("root-create", "etc-append"):
            self.assertIn(results[name], ("DENIED %d" % errno.EROFS, "DENIED %d" % errno.EACCES),
                          "%s: %r" % (name, body))

    def test_uid_0_inside_without_privileges(self):
        body = self.run_code(code("""
            import os
            print("IDS", os.getuid(), os.geteuid(), os.getgid(), os.getegid())
            for line in open("/proc/self/status"):
                if line.startswith(("Cap", "NoNewPrivs", "Seccomp:")):
                    print(line.split()[0], line.split()[1])
            try:
                os.setuid(1000)
                print("SETUID ALLOWED")
            except OSError as e:
                print("SETUID DENIED")
            """))
        self.assert_result(body, "ok", exit_code=0)
        lines = body["output"].splitlines()
        self.assertEqual(lines[0], "IDS 0 0 0 0", body)
        fields = dict(line.split(" ", 1) for line in lines[1:-1])
        for cap in ("CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"):
            self.assertEqual(fields.get(cap), "0000000000000000", "%s %r" % (cap, body))
        self.assertEqual(fields.get("NoNewPrivs:"), "1", body)
        self.assertEqual(fields.get("Seccomp:"), "2", "seccomp filter mode expected: %r" % (body,))
        self.assertEqual(lines[-1], "SETUID DENIED", body)

    def test_only_this_user_is_mapped(self):
        body = self.run_code(code("""
            print("UID", open("/proc/self/uid_map").read().split())
            print("GID", open("/proc/self/gid_map").read().split())
            print("SETGROUPS", open("/proc/self/setgroups").read().strip())
            """))
        self.assert_result(body, "ok", exit_code=0)
        expected = ("UID ['0', '%d', '1']\nGID ['0', '%d', '1']\nSETGROUPS deny\n"
                    % (os.getuid(), os.getgid()))
        self.assertEqual(body["output"], expected, body)

    def test_server_environment_does_not_leak(self):
        env = self.container_env()
        self.assertNotIn("XDG_RUNTIME_DIR", env, env)


class Fallbacks(MemoryChecks, RootlessTestCase):
    """The rlimit fallback, as documented: no cgroup, so no memory_limit status."""

    def setUp(self):
        super().setUp()
        self.require_rlimit_mode()

    def test_rlimits_inside(self):
        # python3's own limits: its bundle raises the server's memory default.
        limits = next(l for l in self.get_json("/languages") if l["name"] == "python3")["limits"]
        body = self.run_code(code("""
            import resource as r
            for n in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU"):
                print(n, *r.getrlimit(getattr(r, n)))
            """))
        self.assert_result(body, "ok", exit_code=0)
        mem = limits["memory_mb"] * 1024 * 1024
        cpu = (limits["timeout_ms"] + 999) // 1000 + 1
        self.assertEqual(body["output"], "RLIMIT_AS %d %d\nRLIMIT_NPROC %d %d\nRLIMIT_CPU %d %d\n"
                         % (mem, mem, limits["pids"], limits["pids"], cpu, cpu), body)

    def test_memory_bomb_gets_memory_error(self):
        body = self.run_code(self.BIG_ALLOCATION)
        self.assertNotEqual(body["status"], "memory_limit", "rlimit mode cannot detect an OOM kill: %r" % (body,))
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertIn("MemoryError", body["output"], body)
        self.assertNotIn("survived", body["output"], body)
        self.assert_healthy()

    def test_growing_memory_gets_memory_error(self):
        body = self.run_code(self.GROWING_ALLOCATION)
        self.assert_result(body, "runtime_error", exit_code=1)
        self.assertIn("MemoryError", body["output"], body)
        self.assertNotIn("survived", body["output"], body)

    def test_fork_bomb_is_bounded_by_rlimit_nproc(self):
        # at most 200 forks, so a missing limit cannot hurt the host
        body = self.run_code(ce.fork_program(200))
        self.assert_result(body, "ok", exit_code=0)
        words = body["output"].split()
        self.assertEqual((words[0], words[2]), ("forked", "error"), body)
        self.assertEqual(words[3], "EAGAIN", "fork must fail with EAGAIN: %r" % (body,))
        self.assertGreater(int(words[1]), 0, body)
        self.assertLess(int(words[1]), 64, "RLIMIT_NPROC = --pids 64 must stop the forks: %r" % (body,))
        self.assert_healthy()
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    def test_process_limit_is_per_execution(self):
        # RLIMIT_NPROC counts per user namespace: three executions with 30
        # processes each must not share one limit of 64.
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(self.server.execute, ce.fork_program(30)) for _ in range(3)]
            results = [f.result() for f in futures]
        for status, _, body in results:
            self.assertEqual(status, 200, body)
            self.assert_result_shape(body)
            self.assert_result(body, "ok", exit_code=0, output="forked 30 error None\n")

    def test_busy_loop_is_not_cpu_limited_but_completes(self):
        # no CPU-share limit in rlimit mode; only check that it runs and reports
        body = self.run_code(code("""
            import time
            end = time.monotonic() + 1.0
            n = 0
            while time.monotonic() < end:
                n += 1
            print("spun", n > 0)
            """))
        self.assert_result(body, "ok", exit_code=0, output="spun True\n")
        self.assertIsInstance(body["time"]["cpu_ms"], int, body)
        self.assertIsInstance(body["memory_kb"], int, body)


class Timeout(TimeoutChecks, RootlessTestCase):
    def test_cpu_rlimit_is_timeout_plus_one(self):
        self.require_rlimit_mode()
        body = self.run_code("import resource as r; print(*r.getrlimit(r.RLIMIT_CPU))")
        self.assert_result(body, "ok", exit_code=0, output="3 3\n")


class OutputLimit(OutputLimitChecks, RootlessTestCase):
    def test_flood_is_cut_at_exactly_the_limit(self):
        body = self.run_code('while True: print("x" * 99)')
        self.assert_result(body, "output_limit", output=("x" * 99 + "\n") * 10)
        self.assertIs(body["truncated"], True, body)


class Lifecycle(ShutdownChecks, RootlessTestCase):
    class_server = False

    def private_dir(self, prefix):
        d = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
        os.chmod(d, 0o700)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_require_cgroups_refuses_to_start(self):
        if CGROUP_V2:
            self.skipTest("cgroup v2: the server may have delegated cgroups; see test_version_*")
        state = os.path.join(self.private_dir("ce-it-reqcg-"), "state")
        p = self.run_cli(*self.cli_args(state), "--require-cgroups")
        self.assertEqual(p.returncode, 1, "--require-cgroups must refuse to start rootless: %r" % (p,))
        self.assertIn("cgroup", p.stderr.lower(), p)

    def check_default_state_dir(self, state, env):
        server = self.start_server(state_dir=state, own_state_dir=True, pass_state_dir=False, env=env)
        self.assertNotIn("--state-dir", server.command())
        self.assertTrue(os.path.isdir(os.path.join(state, "runc")), "no %s/runc" % state)
        self.assertTrue(os.path.isdir(os.path.join(state, "exec")), "no %s/exec" % state)
        st = os.stat(state)
        self.assertEqual(st.st_uid, os.getuid(), state)
        self.assertEqual(st.st_mode & 0o077, 0, "%s must be private to the user: %o" % (state, st.st_mode))
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.execute, "import time; time.sleep(1); print('here')")
            cid, _ = self.running_container(server, fut)
            entries = os.listdir(os.path.join(state, "exec"))
            pool = server.warm_pool()
            # the request's work dir, and the warm pool's (listed or being made)
            others = [e for e in entries if e not in pool.ids and e != cid]
            self.assertIn(cid, entries)
            self.assertLessEqual(len(others), pool.unlisted, "%r, warm pool: %r" % (entries, pool))
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="here\n")
        self.assertEqual(body["limit_mode"], self.limit_mode(server), body)
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(60), 0, server.log_tail())
        self.assertEqual(ce.state_dir_residue(state), [], "%s must be emptied at shutdown" % state)
        server.shutdown()

    def test_state_dir_defaults_to_xdg_runtime_dir(self):
        xdg = self.private_dir("ce-it-xdg-")
        self.check_default_state_dir(os.path.join(xdg, "codeengine"), {"XDG_RUNTIME_DIR": xdg})

    def test_state_dir_without_xdg_runtime_dir(self):
        state = "/tmp/codeengine-%d" % os.getuid()
        if os.path.lexists(state):
            self.skipTest("%s exists (another server of this user?)" % state)
        self.addCleanup(ce.force_cleanup, state)
        self.check_default_state_dir(state, {"XDG_RUNTIME_DIR": None})

    def test_sigterm_after_work_exits_0(self):
        self.check_sigterm_after_work()


if __name__ == "__main__":
    unittest.main()
