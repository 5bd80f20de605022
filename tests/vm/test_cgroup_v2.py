#!/usr/bin/env python3
"""cgroup v2 checks, for a machine (the test VM) with the unified hierarchy.

    python3 tests/vm/test_cgroup_v2.py --server /abs/codeengine --bundles /abs/bundles [--runc runc]
    python3 tests/vm/test_cgroup_v2.py --rootless ...   (a normal user, in a systemd user session)

As root the server uses runc's cgroupfs driver: each container gets
/sys/fs/cgroup/codeengine/<id>.  As a normal user whose systemd instance has
memory and pids (and cpu) delegated, it uses runc --systemd-cgroup: each
container is the scope codeengine-<id>.scope in the user's own user.slice.
Either way the limits must be real cgroup limits, read here from the host
side while the program runs: memory.max and memory.swap.max, cpu.max (a
quota: the program is throttled even on an idle machine), pids.max; a memory
bomb must end as memory_limit (memory.events oom_kill), a fork bomb must be
refused by pids.max; memory_kb and cpu_ms must come from memory.peak and
cpu.stat; and no cgroup may be left behind, after every test (the
integration suite's leftover check, which this reuses, looks too).

It reuses tests/integration/ce.py (found next to this file's directory, as
../integration, both in the repository and in the VM's payload) and prints
"vm-cgroup-v2 (root|rootless): N passed, N failed, N skipped".  Exit codes: 0
passed, 1 failed, 77 skipped (not cgroup v2, wrong user, no runc or rootfs).
"""

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
CGROUP_ROOT = "/sys/fs/cgroup"
IS_ROOT = os.geteuid() == 0
UID = os.getuid()
CGROUP_V2 = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--runc", default="runc")
    ap.add_argument("--rootless", action="store_true", help="run as a normal user against a rootless server")
    ap.add_argument("-k", dest="patterns", action="append", default=[])
    ap.add_argument("--failfast", action="store_true")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    # ce.py reads these when it is imported.
    os.environ["CE_SERVER"] = os.path.abspath(ARGS.server)
    os.environ["CE_BUNDLES"] = os.path.abspath(ARGS.bundles)
    os.environ["CE_RUNC"] = shutil.which(ARGS.runc) or ARGS.runc
    os.environ.setdefault("CE_LOG_DIR", tempfile.mkdtemp(prefix="ce-v2-logs-"))

sys.path.insert(0, INTEGRATION)
import ce  # noqa: E402
from ce import CETestCase, code  # noqa: E402

MB = 1024 * 1024
# python3's default: its bundle.json raises the server's 50 MB to 160 MB
# (pandas with matplotlib peak near 100 MB).
DEFAULT_MEMORY = 160 * MB
DEFAULT_PIDS = 64
# The program that lets a test look at the container's cgroup while it runs.
SLEEPER = "import time; time.sleep(4); print('slept')"


def container_cgroup(cid):
    """The host path of a container's cgroup, as the server's runner names it."""
    return ce.container_cgroup_dir(cid)


def container_cgroups_now():
    """Every container cgroup of any codeengine server of this user (or root)."""
    return set(glob.glob(ce.container_cgroup_dir("ce-*")))


def request_cgroups(servers, paths):
    """paths (container cgroups) without the warm pool slots of servers
    (asked after the paths were read)."""
    pools = [s.warm_pool() for s in servers]
    return {p for p in paths if not any(pool.holds(ce.cgroup_dir_container(p)) for pool in pools)}


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "unreadable: %s" % e.strerror


def keyed(text):
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def proc_cgroup(pid):
    return read("/proc/%d/cgroup" % pid)


class CgroupWatch(ce.ContainerWatch):
    """Poll the cgroup of a server's running container while a request runs.

    The server's warm pool slots are not it (ce.ContainerWatch).  Once runc
    says the container runs (its limits are written by then), each
    sample records the limit files, cgroup.procs and the init's host view;
    it keeps the largest pids.current, memory.current and memory.peak and
    the last memory.events, pids.events and cpu.stat, until the cgroup
    disappears or the watch stops.  It watches the run stage's container:
    a compiled language's compile container (ID-compile) is passed over,
    since its cgroup may outlive its program until the whole execution is
    deleted, and its limits are the compile stage's.
    """

    LIMIT_FILES = ("memory.max", "memory.swap.max", "cpu.max", "pids.max", "cgroup.type")
    JOIN_TIMEOUT = 30.0

    def __init__(self, server, interval=None):
        super().__init__(server, interval)
        self.given_up = set()  # containers gone before their program ran
        self._forget()

    def _forget(self):
        """Drop what was read of the container watched so far."""
        self.cid = None
        self.path = None
        self.limits = {}
        self.procs = []
        self.owner = None
        self.init_pid = None
        self.program_seen = False
        self.init_cgroup = None
        self.init_status = {}
        self.most = {"pids.current": 0, "memory.current": 0, "memory.peak": 0}
        self.last = {"memory.events": {}, "pids.events": {}, "cpu.stat": {}}
        self.first = {}  # the first reading of each of `last`'s files

    def _find(self):
        found = [cid for cid in self.containers() if not cid.endswith("-compile")
                 and cid not in self.given_up and os.path.isdir(container_cgroup(cid))]
        self.pool.see(found)
        for cid in found:
            path = container_cgroup(cid)
            if self.is_busy(cid):
                self.cid, self.path = cid, path
                try:
                    self.owner = os.stat(path).st_uid
                except OSError:
                    pass
                return

    def _sample(self):
        if not os.path.isdir(self.path):
            return False
        if self.init_pid is None:
            state = ce.runc_state(self.server.state_dir, self.cid) or {}
            if state.get("status") != "running" or not state.get("pid"):
                return True
            self.init_pid = state["pid"]
        limits = {name: read(os.path.join(self.path, name)) for name in self.LIMIT_FILES}
        if not any(v.startswith("unreadable") for v in limits.values()):
            self.limits = limits
        procs = [int(p) for p in read(os.path.join(self.path, "cgroup.procs")).split() if p.isdigit()]
        if procs:
            self.procs = procs
        if not self.program_seen and ce.child_pids(self.init_pid):
            self.program_seen = True  # init forked the program: this is the request's
        init_cgroup, init_status = proc_cgroup(self.init_pid), ce.proc_status(self.init_pid)
        if init_status and not init_cgroup.startswith("unreadable"):
            self.init_cgroup, self.init_status = init_cgroup, init_status
        for name in self.most:
            value = read(os.path.join(self.path, name))
            if value.isdigit():
                self.most[name] = max(self.most[name], int(value))
        for name in self.last:
            value = keyed(read(os.path.join(self.path, name)))
            if value:
                self.last[name] = value
                self.first.setdefault(name, value)
        return True

    def poll(self):
        if self.path is None:
            self._find()
        elif not self._sample():
            if self.program_seen:
                self.finish()  # the container's cgroup is gone
                return
            # Gone before its program ran: a warm slot the server gave up
            # on (its update failed); the request runs in new containers.
            # (A program that ends at once may also go unseen: then
            # nothing else turns up.)
            self.given_up.add(self.cid)
            self._forget()


class V2Case(CETestCase):
    """A server on cgroup v2; after every test no new container cgroup may remain.

    Nothing else runs containers in the VM, so every new one is a leak."""

    def setUp(self):
        super().setUp()
        self.v2_baseline = container_cgroups_now()

    def v2_leftovers(self):
        return sorted(request_cgroups(self.servers, container_cgroups_now() - self.v2_baseline))

    def tearDown(self):
        left = ce.poll(self.v2_leftovers, max(5.0, ce.LEFTOVER_GRACE))
        if left:
            logs = "\n".join(s.log_tail(10) for s in self.servers)
            self.fail("cgroup v2 dirs left after the test: %s\n%s" % (left, logs))
        super().tearDown()

    # -- helpers ----------------------------------------------------------------

    def watch(self, send, server=None):
        """(body, CgroupWatch) of send(), a call returning (status, headers, body)."""
        server = server or self.server
        with ThreadPoolExecutor(1) as pool, CgroupWatch(server) as w:
            fut = pool.submit(send)
            status, _, body = fut.result()
            # A program that ends at once may be over before the watch looks.
            time.sleep(0.1)
        # The shape (cpu_ms, memory_kb integers) is test_results_are_complete's:
        # the other tests check their own part even when that one fails.
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body, dict, body)
        return body, w

    def execute(self, src, **extra):
        return lambda: self.server.execute(src, **extra)

    def assert_cgroup_mode(self, body):
        self.assertEqual(body["limit_mode"], "cgroup", "results must say limit_mode cgroup on v2: %r" % (body,))

    def assert_watched(self, w, body):
        self.assertIsNotNone(w.path, "never saw the container's cgroup (%s) while it ran: %r\n%s"
                             % (container_cgroup("<id>"), body, self.server.log_tail(10)))
        self.assertIsNotNone(w.init_pid, "never saw the container running in %s: %r" % (w.path, body))


class V2Checks:
    """What both a root and a delegated rootless server must do on cgroup v2."""

    def test_version_says_v2_and_cgroup_limits(self):
        version = self.get_json("/version")
        self.assertEqual(version.get("cgroup"), "v2", version)
        self.assertEqual(version.get("limit_mode"), "cgroup", version)
        self.assertIs(version.get("rootless"), not IS_ROOT, version)
        startup = self.server.log_text().partition(" listening on ")[0]
        self.assertNotIn("no cgroup limits", startup, self.server.log_tail())
        self.assertNotIn("warning", startup, "a warning at start-up:\n" + startup)

    def test_results_are_complete(self):
        # cpu_ms and memory_kb are read from the container's cgroup after
        # the program ended: they must be there, whatever ended it.
        for src, status in (("print('Hello, World!')", "ok"), ("import sys; sys.exit(3)", "runtime_error"),
                            ('s = b"x" * (200 * 1024 * 1024)', "memory_limit")):
            body = self.run_code(src)
            self.assert_result(body, status)
            self.assert_cgroup_mode(body)
            self.assertGreater(body["time"]["cpu_ms"], 0, body)
            self.assertGreater(body["memory_kb"], 0, body)

    def test_container_cgroup_has_the_default_limits(self):
        body, w = self.watch(self.execute(SLEEPER))
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assert_cgroup_mode(body)
        self.assert_watched(w, body)
        self.assertEqual(w.limits["memory.max"], str(DEFAULT_MEMORY), w.limits)
        # memory+swap = memory: no swap on top
        self.assertEqual(w.limits["memory.swap.max"], "0", w.limits)
        self.assertEqual(w.limits["cpu.max"], "50000 100000", "0.5 CPU as a quota: %r" % w.limits)
        self.assertEqual(w.limits["pids.max"], str(DEFAULT_PIDS), w.limits)
        self.assertEqual(w.limits["cgroup.type"], "domain", w.limits)

    def test_container_runs_in_its_cgroup(self):
        body, w = self.watch(self.execute(code("""
            print(open("/proc/self/cgroup").read().strip())
            import time; time.sleep(3)
            """)))
        self.assert_result(body, "ok", exit_code=0)
        self.assert_watched(w, body)
        # A cgroup namespace: inside, the container's own cgroup is the root.
        self.assertEqual(body["output"], "0::/\n", body)
        self.assertIsNotNone(w.init_pid, "runc state gave no pid")
        rel = w.path[len(CGROUP_ROOT):]
        self.assertEqual(w.init_cgroup, "0::%s" % rel, "the container's init is not in %s" % rel)
        self.assertIn(w.init_pid, w.procs, "cgroup.procs of %s: %r" % (rel, w.procs))

    def test_per_request_limits_reach_the_cgroup(self):
        limits = {"memory_mb": 100, "cpus": 0.25, "pids": 16}
        body, w = self.watch(self.execute(SLEEPER, limits=limits))
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assert_watched(w, body)
        self.assertEqual(w.limits["memory.max"], str(100 * MB), w.limits)
        self.assertEqual(w.limits["memory.swap.max"], "0", w.limits)
        self.assertEqual(w.limits["cpu.max"], "25000 100000", w.limits)
        self.assertEqual(w.limits["pids.max"], "16", w.limits)

    def test_memory_bomb_is_oom_killed(self):
        body, w = self.watch(self.execute(code("""
            import mmap
            m = mmap.mmap(-1, 300 * 1024 * 1024)
            print("MAPPED", flush=True)
            for i in range(0, len(m), 4096):
                m[i] = 1
            print("SURVIVED")
            """)))
        self.assert_result(body, "memory_limit", exit_code=137, signal="SIGKILL")
        self.assertIn("MAPPED", body["output"], body)
        self.assertNotIn("SURVIVED", body["output"], body)
        # memory.peak: up to the limit, and not far below it
        self.assertLessEqual(body["memory_kb"], DEFAULT_MEMORY // 1024, body)
        self.assertGreaterEqual(body["memory_kb"], 40 * 1024, "memory.peak of an OOM-killed bomb: %r" % (body,))
        self.assert_healthy()

    def test_memory_bomb_in_a_child_is_oom_killed(self):
        body, _ = self.watch(self.execute(code("""
            import os
            pid = os.fork()
            if pid == 0:
                chunks = []
                for i in range(400):
                    chunks.append(b"x" * (1024 * 1024))
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            print("CHILD", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
            """)))
        # The parent survives to report; the cgroup's oom_kill says what happened.
        self.assertEqual(body["status"], "memory_limit", body)
        self.assertIn("CHILD %d" % signal.SIGKILL, body["output"], body)

    def test_fork_bomb_is_bounded_by_pids_max(self):
        body, w = self.watch(self.execute(ce.fork_program(200)))
        self.assert_result(body, "ok", exit_code=0)
        words = body["output"].split()
        self.assertEqual((words[0], words[2], words[3]), ("forked", "error", "EAGAIN"), body)
        self.assertLess(int(words[1]), DEFAULT_PIDS, body)
        self.assertGreater(int(words[1]), DEFAULT_PIDS // 2, "suspiciously few forks: %r" % (body,))
        self.assert_watched(w, body)
        self.assertTrue(0 < w.most["pids.current"] <= DEFAULT_PIDS, "pids.current: %r" % w.most)
        self.assertGreaterEqual(w.last["pids.events"].get("max", 0), 1,
                                "pids.events shows no refused fork: %r" % w.last)
        self.assert_healthy()

    def test_cpu_max_is_a_cap_not_a_share(self):
        # Two busy processes on an otherwise idle two-CPU machine: a share
        # (cpu.weight) would let them have both CPUs; the quota must not.
        # Measured inside, over the spinning only: cpu_ms/wall_ms would also
        # count runc's and Python's start-up, seconds under emulation.
        body, w = self.watch(self.execute(code("""
            import os, time
            start = time.monotonic()
            pids = []
            for i in range(2):
                pid = os.fork()
                if pid == 0:
                    end = start + 4
                    while time.monotonic() < end:
                        pass
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
            t = os.times()
            print("RATIO %.3f" % ((t.children_user + t.children_system) / (time.monotonic() - start)))
            """)))
        self.assert_result(body, "ok", exit_code=0)
        self.assert_watched(w, body)
        ratio = float(body["output"].split()[1])
        self.assertLessEqual(ratio, 0.6, "2 busy processes got more than 0.5 CPU: %r" % (body,))
        stat = w.last["cpu.stat"]
        self.assertGreater(stat.get("nr_throttled", 0), 0, "cpu.stat shows no throttling: %r" % stat)
        self.assertGreater(stat.get("throttled_usec", 0), 0, "cpu.stat: %r" % stat)

    def test_usage_comes_from_the_cgroup(self):
        body, w = self.watch(self.execute(code("""
            import time
            b = bytearray(30 * 1024 * 1024)
            b[::4096] = b"x" * len(b[::4096])
            while time.process_time() < 1.0:
                pass
            time.sleep(0.5)
            print("cpu", int(time.process_time() * 1000))
            """), limits={"cpus": 1.0}))
        self.assert_result(body, "ok", exit_code=0)
        self.assert_watched(w, body)
        inside_ms = int(body["output"].split()[1])
        self.assertIsInstance(body["memory_kb"], int, "no memory_kb: %r" % (body,))
        self.assertIsInstance(body["time"]["cpu_ms"], int, "no cpu_ms: %r" % (body,))
        # memory.peak: the 30 MB and the interpreter, within the 50 MB limit
        self.assertGreaterEqual(body["memory_kb"], 30 * 1024, body)
        self.assertLessEqual(body["memory_kb"], DEFAULT_MEMORY // 1024, body)
        # The host's samples may go on a little after the server's read (root:
        # until runc delete, after the answer), hence the slack.
        self.assertGreaterEqual(body["memory_kb"] * 1024 + MB, w.most["memory.peak"],
                                "memory_kb below the memory.peak seen while it ran: %r %r" % (body, w.most))
        # cpu.stat usage_usec: at least what the program measured itself and
        # what the host saw while it ran (from the first look: a warm slot's
        # cgroup also holds what making it cost, before the request)
        self.assertGreaterEqual(body["time"]["cpu_ms"], inside_ms, body)
        usage_ms = (w.last["cpu.stat"].get("usage_usec", 0)
                    - w.first.get("cpu.stat", {}).get("usage_usec", 0)) // 1000
        self.assertGreaterEqual(body["time"]["cpu_ms"] + 100, usage_ms, "cpu.stat seen: %r" % w.last)
        # one busy thread under a one-CPU quota (plus the container's start-up)
        self.assertLessEqual(body["time"]["cpu_ms"], body["time"]["wall_ms"] * 1.1 + 3000, body)

    def test_timeout_kills_and_removes_the_cgroup(self):
        body, w = self.watch(self.execute("print('spinning', flush=True)\nwhile True: pass",
                                          limits={"timeout_ms": 2000}))
        self.assert_result(body, "timeout", exit_code=137, output="spinning\n", signal="SIGKILL")
        self.assert_watched(w, body)
        self.assertFalse(ce.poll(lambda: os.path.isdir(w.path), 5.0), "%s outlived the timeout" % w.path)

    def test_concurrent_bombs_leave_nothing(self):
        quick = {"timeout_ms": 3000}
        programs = [(ce.fork_program(200, reap=False), quick),
                    ('s = b"x" * (200 * 1024 * 1024)', {}),
                    ("while True: pass", quick),
                    ("print('fine')", {})]
        with ThreadPoolExecutor(len(programs)) as pool:
            futures = [pool.submit(self.server.execute, p, limits=lim) for p, lim in programs]
            results = [f.result() for f in futures]
        statuses = [r[2].get("status") for r in results]
        self.assertEqual(statuses, ["timeout", "memory_limit", "timeout", "ok"], results)
        self.assertFalse(ce.poll(self.v2_leftovers, max(5.0, ce.LEFTOVER_GRACE)),
                         "cgroups left: %s" % self.v2_leftovers())

    def test_restart_after_a_crash_removes_the_cgroup(self):
        first = self.start_server(tag="crashing")
        state = first.state_dir
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(first.execute, "import time; time.sleep(60)")
            cid, container = self.running_container(first, fut)
            pid = (container or {}).get("pid") or 0
            path = container_cgroup(cid)
            self.assertFalse(ce.poll(lambda: not os.path.isdir(path), 10.0),
                             "the running container has no cgroup %s" % path)
            first.kill()
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - the connection dies with the server
                pass
        self.addCleanup(self._kill, pid)
        # Precondition: the crash left the container behind, and its cgroup
        # unless its init ended with the server and systemd removed the
        # emptied scope (rootless); a cgroupfs dir stays (root).
        self.assertIn(cid, ce.runc_list(state), "precondition: the crash left no container behind")
        if IS_ROOT:
            self.assertTrue(os.path.isdir(path), "precondition: the crash left %s behind" % path)
        first.owns_state_dir = False
        second = self.start_server(state_dir=state, own_state_dir=True, tag="restarted")
        self.assertFalse(ce.poll(lambda: os.path.isdir(path), 10.0),
                         "the restarted server left %s\n%s" % (path, second.log_tail()))
        body = self.run_code("print('Hello, World!')", server=second)
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    @staticmethod
    def _kill(pid):
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@unittest.skipUnless(IS_ROOT, "the root server's checks (run as root)")
class RootV2(V2Checks, V2Case):
    def test_parent_cgroup_is_not_left_busy(self):
        # /sys/fs/cgroup/codeengine holds containers only: no process of ours.
        self.run_code("print(1)")
        self.assertEqual(read("%s/codeengine/cgroup.procs" % CGROUP_ROOT), "")


@unittest.skipIf(IS_ROOT, "the rootless server's checks (run as a normal user)")
class RootlessV2(V2Checks, V2Case):
    def test_runs_in_the_users_systemd_instance(self):
        # The set-up the delegation needs: this process is in user@UID.service,
        # with a session bus, and memory and pids are delegated to it.
        own = proc_cgroup(os.getpid())
        self.assertIn("/user.slice/user-%d.slice/user@%d.service/" % (UID, UID), own)
        self.assertTrue(os.environ.get("XDG_RUNTIME_DIR"), "no XDG_RUNTIME_DIR")
        controllers = read("%s/user.slice/user-%d.slice/user@%d.service/cgroup.controllers"
                           % (CGROUP_ROOT, UID, UID)).split()
        self.assertLessEqual({"memory", "pids", "cpu"}, set(controllers), controllers)

    def test_scope_belongs_to_the_user(self):
        body, w = self.watch(self.execute(SLEEPER))
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assert_watched(w, body)
        self.assertEqual(w.owner, UID, "the scope %s is not the user's" % w.path)
        units = subprocess.run(["systemctl", "--user", "--no-legend", "--all", "list-units",
                                "codeengine-*"], capture_output=True, text=True, timeout=30)
        pool = self.server.warm_pool()  # the warm pool's slots are scopes too
        left = [line for line in units.stdout.splitlines() if line.split()
                and not pool.holds(ce.cgroup_dir_container(line.split()[0].lstrip("●")))]
        self.assertEqual(left, [], "codeengine units left in the user's manager: %r" % units)

    def test_host_sees_the_user_as_owner(self):
        body, w = self.watch(self.execute(SLEEPER))
        self.assert_result(body, "ok", exit_code=0)
        self.assert_watched(w, body)
        self.assertEqual(w.init_status.get("Uid", "").split(), [str(UID)] * 4, w.init_status)


def main():
    if not CGROUP_V2:
        print("SKIP: not a cgroup v2 machine")
        return SKIP
    if ARGS.rootless == IS_ROOT:
        print("SKIP: --rootless needs a normal user, and root runs without it")
        return SKIP
    if not os.path.isdir(os.path.join(os.environ["CE_BUNDLES"], "python3", "rootfs")):
        print("SKIP: no python3 rootfs")
        return SKIP
    loader = unittest.TestLoader()
    if ARGS.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in ARGS.patterns]
    suite = loader.loadTestsFromTestCase(RootV2 if IS_ROOT else RootlessV2)
    print("server %s, logs in %s, %s, /proc/self/cgroup %s"
          % (ce.SERVER, os.environ["CE_LOG_DIR"], "root" if IS_ROOT else "uid %d" % UID,
             proc_cgroup(os.getpid())), flush=True)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, failfast=ARGS.failfast, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    failed_tests = len({id(t) for t, _ in result.failures + result.errors if isinstance(t, unittest.TestCase)})
    skipped = len(result.skipped)
    passed = result.testsRun - failed_tests - len(result.unexpectedSuccesses) - skipped
    print("run time %.1fs" % (time.monotonic() - started))
    print("vm-cgroup-v2 (%s): %d passed, %d failed, %d skipped"
          % ("root" if IS_ROOT else "rootless", passed, failed, skipped))
    return 0 if result.wasSuccessful() and result.testsRun else 1


if __name__ == "__main__":
    sys.exit(main())
