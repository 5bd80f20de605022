"""What a program can and cannot do inside its container."""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import ce
from ce import CETestCase, code

MEMORY_LIMIT = 50 * 1024 * 1024


class Network(CETestCase):
    def test_only_loopback_interface(self):
        body = self.run_code(code("""
            import socket
            print("IFACES", sorted(name for _, name in socket.if_nameindex()))
            """))
        self.assert_result(body, "ok", exit_code=0, output="IFACES ['lo']\n")

    def test_cannot_reach_the_server_port(self):
        body = self.run_code(code("""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", %d))
                print("CONNECTED")
            except OSError as e:
                print("FAILED", type(e).__name__, e.errno)
            """ % self.server.port))
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("FAILED"), body)

    def test_name_resolution_fails(self):
        # The lookup is only attempted when the container has nothing but lo,
        # so that a broken sandbox can never send a query off this machine.
        body = self.run_code(code("""
            import socket
            names = sorted(name for _, name in socket.if_nameindex())
            if names != ["lo"]:
                print("NOT-ISOLATED", names)
            else:
                try:
                    print("RESOLVED", socket.getaddrinfo("example.com", 80))
                except OSError as e:
                    print("FAILED", type(e).__name__)
            """))
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("FAILED"), body)


class Filesystem(CETestCase):
    def test_cannot_write_code_file(self):
        body = self.run_code(code("""
            try:
                with open("/code/main.py", "a") as f:
                    f.write("# changed")
                print("WROTE")
            except OSError as e:
                print("DENIED", e.errno)
            """))
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("DENIED"), body)

    def test_cannot_create_file_in_code_dir(self):
        body = self.run_code(code("""
            try:
                with open("/code/x", "w") as f:
                    f.write("x")
                print("CREATED")
            except OSError as e:
                print("DENIED", e.errno)
            """))
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("DENIED"), body)

    def test_root_and_code_mounted_read_only(self):
        body = self.run_code(code("""
            import os
            print("ROOT", bool(os.statvfs("/").f_flag & os.ST_RDONLY))
            print("CODE", bool(os.statvfs("/code").f_flag & os.ST_RDONLY))
            """))
        self.assert_result(body, "ok", exit_code=0, output="ROOT True\nCODE True\n")

    def test_tmp_is_writable(self):
        body = self.run_code(code("""
            import os
            with open("/tmp/t.txt", "w") as f:
                f.write("hello tmp")
            with open("/tmp/t.txt") as f:
                print("READ", f.read())
            print("RW", not (os.statvfs("/tmp").f_flag & os.ST_RDONLY))
            """))
        self.assert_result(body, "ok", exit_code=0, output="READ hello tmp\nRW True\n")

    def test_each_execution_gets_a_fresh_tmp(self):
        first = self.run_code(code("""
            with open("/tmp/persist.txt", "w") as f:
                f.write("from the first run")
            print("written")
            """))
        self.assert_result(first, "ok", exit_code=0, output="written\n")
        second = self.run_code("import os; print(os.path.exists('/tmp/persist.txt'))")
        self.assert_result(second, "ok", exit_code=0, output="False\n")


class Identity(CETestCase):
    def test_runs_as_uid_65534(self):
        body = self.run_code("import os; print(os.getuid(), os.geteuid())")
        self.assert_result(body, "ok", exit_code=0, output="65534 65534\n")

    def test_no_effective_capabilities(self):
        body = self.run_code(code("""
            for line in open("/proc/self/status"):
                if line.startswith(("CapEff", "CapPrm")):
                    print(line.split()[0], line.split()[1])
            """))
        self.assert_result(body, "ok", exit_code=0,
                           output="CapPrm: 0000000000000000\nCapEff: 0000000000000000\n")

    def test_sees_only_its_own_processes(self):
        body = self.run_code("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
        self.assert_result(body, "ok", exit_code=0)
        pids = json.loads(body["output"])
        self.assertLessEqual(len(pids), 3, "a fresh PID namespace shows only the program: %r" % body)

    def test_environment(self):
        body = self.run_code("import os, json; print(json.dumps(dict(os.environ)))")
        self.assert_result(body, "ok", exit_code=0)
        env = json.loads(body["output"])
        self.assertEqual(env.get("HOME"), "/tmp", env)
        self.assertIn("PATH", env)
        self.assertIn("LANG", env)
        self.assertEqual(env.get("PYTHONUNBUFFERED"), "1", env)
        self.assertNotIn(ce.ENV_MARKER_NAME, env, "the server's environment leaked into the container")
        self.assertNotIn(ce.ENV_MARKER_VALUE, body["output"], "the server's environment leaked")
        # LC_CTYPE may come from Python's locale coercion, PYTHON* from the bundle
        allowed = {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE"}
        self.assertLessEqual(set(env), allowed, "unexpected variables: %r" % sorted(set(env) - allowed))


class Resources(CETestCase):
    def test_memory_bomb_single_allocation(self):
        body = self.run_code('s = b"x" * (200 * 1024 * 1024)\nprint("survived", len(s))')
        self.assert_result(body, "memory_limit", exit_code=137)
        self.assertNotIn("survived", body["output"], body)

    def test_memory_bomb_growing_list(self):
        body = self.run_code(code("""
            chunks = []
            for i in range(400):
                chunks.append(b"x" * (1024 * 1024))  # 1 MiB, pages touched
            print("survived", len(chunks))
            """))
        self.assert_result(body, "memory_limit", exit_code=137)
        self.assertNotIn("survived", body["output"], body)

    def test_modest_allocation_succeeds(self):
        body = self.run_code('s = b"x" * (10 * 1024 * 1024)\nprint(len(s))')
        self.assert_result(body, "ok", exit_code=0, output="10485760\n")

    def test_server_fine_after_memory_bomb(self):
        self.run_code('s = b"x" * (200 * 1024 * 1024)')
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    def test_cgroup_limits_applied(self):
        # read the running container's cgroup v1 files from the host
        state = self.server.state_dir
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(self.server.execute, "import time; time.sleep(4); print('slept')")
            cid, deadline = None, time.monotonic() + 30
            while cid is None and time.monotonic() < deadline and not fut.done():
                for c in ce.runc_list(state):
                    if os.path.isdir("/sys/fs/cgroup/memory/codeengine/%s" % c):
                        cid = c
                        break
                else:
                    time.sleep(0.05)
            limits = {}
            if cid is not None:
                limits = self._read_limits(cid)
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assertIsNotNone(cid, "never saw the container's cgroup under "
                             "/sys/fs/cgroup/memory/codeengine while it ran")
        self.assertEqual(limits.get("memory.limit_in_bytes"), MEMORY_LIMIT, limits)
        if os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
            self.assertEqual(limits.get("memory.memsw.limit_in_bytes"), MEMORY_LIMIT,
                             "memory+swap limit: %r" % limits)
        quota, period = limits.get("cpu.cfs_quota_us"), limits.get("cpu.cfs_period_us")
        self.assertTrue(quota and period and quota > 0 and abs(quota / period - 0.5) < 0.01,
                        "expected a CPU quota of 0.5 core: %r" % limits)
        self.assertIsInstance(limits.get("pids.max"), int, "expected a pids limit: %r" % limits)

    @staticmethod
    def _read_limits(cid):
        files = {
            "memory.limit_in_bytes": "memory",
            "memory.memsw.limit_in_bytes": "memory",
            "cpu.cfs_quota_us": "cpu",
            "cpu.cfs_period_us": "cpu",
            "pids.max": "pids",
        }
        limits = {}
        for name, controller in files.items():
            try:
                with open("/sys/fs/cgroup/%s/codeengine/%s/%s" % (controller, cid, name)) as f:
                    value = f.read().strip()
            except OSError as e:
                value = "unreadable: %s" % e
            limits[name] = int(value) if value.lstrip("-").isdigit() else value
        return limits
