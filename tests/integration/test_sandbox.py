"""What a program can and cannot do inside its container."""

import json

import ce
from ce import CETestCase, code

# python3's own default (its bundle.json: pandas with matplotlib peak near
# 100 MB), not the server's 50 MB.
MEMORY_LIMIT = 160 * 1024 * 1024


# The check mixins below are plain classes (not TestCases, so that discovery
# collects nothing twice): the classes here and test_rootless.Sandbox and
# test_rootless.Fallbacks mix them in, so the same checks run against a root
# and a rootless server.

class NetworkChecks:
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


class Network(NetworkChecks, CETestCase):
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


class FilesystemChecks:
    """Helpers: writes a program attempts, the read-only mounts, a writable /tmp."""

    ATTEMPT = code("""
        import os
        def attempt(name, fn):
            try:
                fn()
                print(name, "ALLOWED")
            except OSError as e:
                print(name, "DENIED", e.errno)
        """)
    # (name, expression) pairs for write_attempts()
    CODE_APPEND = ("code-append", 'open("/code/main.py", "a").write("# changed")')
    CODE_CREATE = ("code-create", 'open("/code/new.py", "w").write("x")')
    CODE_CHMOD = ("code-chmod", 'os.chmod("/code/main.py", 0o777)')
    ROOT_CREATE = ("root-create", 'open("/evil", "w").write("x")')
    ETC_APPEND = ("etc-append", 'open("/etc/passwd", "a").write("x")')

    def write_attempts(self, *attempts):
        """Evaluate each (name, expression) inside one program: (body, {name:
        "ALLOWED" or "DENIED <errno>"})."""
        body = self.run_code(self.ATTEMPT + "".join("attempt(%r, lambda: %s)\n" % a for a in attempts))
        self.assert_result(body, "ok", exit_code=0)
        results = dict(line.split(" ", 1) for line in body["output"].splitlines())
        self.assertEqual(set(results), {name for name, _ in attempts}, body)
        return body, results

    def check_root_and_code_read_only(self):
        body = self.run_code(code("""
            import os
            print("ROOT", bool(os.statvfs("/").f_flag & os.ST_RDONLY))
            print("CODE", bool(os.statvfs("/code").f_flag & os.ST_RDONLY))
            """))
        self.assert_result(body, "ok", exit_code=0, output="ROOT True\nCODE True\n")

    def check_tmp_writable(self):
        body = self.run_code(code("""
            import os
            with open("/tmp/t.txt", "w") as f:
                f.write("hello tmp")
            with open("/tmp/t.txt") as f:
                print("READ", f.read())
            print("RW", not (os.statvfs("/tmp").f_flag & os.ST_RDONLY))
            """))
        self.assert_result(body, "ok", exit_code=0, output="READ hello tmp\nRW True\n")


class Filesystem(FilesystemChecks, CETestCase):
    def test_cannot_write_code_file(self):
        body, results = self.write_attempts(self.CODE_APPEND)
        self.assertTrue(results["code-append"].startswith("DENIED"), body)

    def test_cannot_create_file_in_code_dir(self):
        body, results = self.write_attempts(self.CODE_CREATE)
        self.assertTrue(results["code-create"].startswith("DENIED"), body)

    def test_root_and_code_mounted_read_only(self):
        self.check_root_and_code_read_only()

    def test_tmp_is_writable(self):
        self.check_tmp_writable()

    def test_each_execution_gets_a_fresh_tmp(self):
        first = self.run_code(code("""
            with open("/tmp/persist.txt", "w") as f:
                f.write("from the first run")
            print("written")
            """))
        self.assert_result(first, "ok", exit_code=0, output="written\n")
        second = self.run_code("import os; print(os.path.exists('/tmp/persist.txt'))")
        self.assert_result(second, "ok", exit_code=0, output="False\n")


class IdentityChecks:
    def test_sees_only_its_own_processes(self):
        body = self.run_code("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
        self.assert_result(body, "ok", exit_code=0)
        pids = json.loads(body["output"])
        self.assertLessEqual(len(pids), 3, "a fresh PID namespace shows only the program: %r" % body)

    def container_env(self):
        """The program's environment: HOME=/tmp and nothing of the server's."""
        body = self.run_code("import os, json; print(json.dumps(dict(os.environ)))")
        self.assert_result(body, "ok", exit_code=0)
        env = json.loads(body["output"])
        self.assertEqual(env.get("HOME"), "/tmp", env)
        self.assertNotIn(ce.ENV_MARKER_NAME, env, "the server's environment leaked into the container")
        self.assertNotIn(ce.ENV_MARKER_VALUE, body["output"], "the server's environment leaked")
        return env


class Identity(IdentityChecks, CETestCase):
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

    def test_environment(self):
        env = self.container_env()
        self.assertIn("PATH", env)
        self.assertIn("LANG", env)
        self.assertEqual(env.get("PYTHONUNBUFFERED"), "1", env)
        allowed = ce.CONTAINER_ENV_ALLOWED
        self.assertLessEqual(set(env), allowed, "unexpected variables: %r" % sorted(set(env) - allowed))


class MemoryChecks:
    BIG_ALLOCATION = 's = b"x" * (200 * 1024 * 1024)\nprint("survived", len(s))'
    GROWING_ALLOCATION = code("""
        chunks = []
        for i in range(400):
            chunks.append(b"x" * (1024 * 1024))  # 1 MiB, pages touched
        print("survived", len(chunks))
        """)

    def test_modest_allocation_succeeds(self):
        body = self.run_code('s = b"x" * (10 * 1024 * 1024)\nprint(len(s))')
        self.assert_result(body, "ok", exit_code=0, output="10485760\n")


class Resources(MemoryChecks, CETestCase):
    def test_memory_bomb_single_allocation(self):
        body = self.run_code(self.BIG_ALLOCATION)
        self.assert_result(body, "memory_limit", exit_code=137)
        self.assertNotIn("survived", body["output"], body)

    def test_memory_bomb_growing_list(self):
        body = self.run_code(self.GROWING_ALLOCATION)
        self.assert_result(body, "memory_limit", exit_code=137)
        self.assertNotIn("survived", body["output"], body)

    def test_server_fine_after_memory_bomb(self):
        self.run_code(self.BIG_ALLOCATION)
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    def test_cgroup_limits_applied(self):
        # python3's defaults: its 160 MB, the server's half a CPU and 64 processes
        self.assert_cgroup_limits(lambda: self.server.execute("import time; time.sleep(4); print('slept')"),
                                  MEMORY_LIMIT, 0.5, 64)
