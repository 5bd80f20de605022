"""Adversarial programs: what the sandbox does to them, and a clean host afterwards.

Every test asserts the verdict (errno inside, status, limits seen from the
host) and, through adversary.AdversarialCase, that the host is clean: the
CETestCase leftover check (containers, work dirs, cgroups, mounts, children
of the server), no process a program renamed with mark(), no zombie under the
server, the server's fd count back at its baseline after every test, and over
each class flat fds and VmRSS (see adversary.py).

Network probes only ever target 127.0.0.1, 169.254.169.254 and 10.0.0.1 from
INSIDE the container (an empty network namespace), with short timeouts, and
only after checking that the container has nothing but lo.
"""

import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import ce
from adversary import (CLONE, CONTAINER_UID, DENIED_WRITE, MEMORY_LIMIT_KB, NOFILE, NR, PIDS_LIMIT,
                       SHM_BYTES, SHM_INODES, SIGCHLD, TMP_BYTES, TMP_INODES, AdversarialCase,
                       CgroupMonitor, fd_targets, live_marked_processes, parse_lines,
                       processes_in_cgroups, program, server_fds)

X86_64 = platform.machine() == "x86_64"
needs_x86_64 = unittest.skipUnless(X86_64, "raw syscall numbers are x86_64's")

ONLY_LO = '''
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        say("NOT-ISOLATED", names)
        sys.exit(3)

    def tcp_connect(address):
        """oserr() of a TCP connect with a 3 s timeout."""
        s = socket.socket()
        s.settimeout(3)
        return oserr(s.connect, address)
'''


# ---------------------------------------------------------------------------

class AdversarialProcesses(AdversarialCase):
    """Process, thread, memory, CPU and fd abuse on a default server (30 s timeout)."""

    def test_thread_bomb_stopped_by_pids_limit(self):
        with CgroupMonitor(self.server) as mon:
            body, lines = self.run_program("""
                import threading, time
                mark("threads")
                stop = threading.Event()
                threads, error = [], None
                while len(threads) < 5000:
                    t = threading.Thread(target=stop.wait)
                    try:
                        t.start()
                    except RuntimeError as e:
                        error = str(e)
                        break
                    threads.append(t)
                say("THREADS", len(threads))
                say("ERROR", error)
                time.sleep(0.5)  # let the host see the full cgroup
                stop.set()
                """)
        self.assert_result(body, "ok", exit_code=0)
        self.assertLessEqual(int(lines["THREADS"]), PIDS_LIMIT - 1, body)
        self.assertGreaterEqual(int(lines["THREADS"]), PIDS_LIMIT // 2, "suspiciously few threads: %r" % body)
        self.assertEqual(lines["ERROR"], "can't start new thread", body)
        most, refused = mon.largest()
        self.assertTrue(0 < most <= PIDS_LIMIT, "pids seen by the host: %d (%r)" % (most, mon.seen))
        self.assertGreater(refused, 0, "pids.events shows no refused fork: %r" % mon.seen)
        self.assert_healthy()

    def test_memory_bomb_touching_pages(self):
        body, lines = self.run_program("""
            import mmap
            m = mmap.mmap(-1, 300 * 1024 * 1024)
            say("MAPPED")
            for i in range(0, len(m), 4096):
                m[i] = 1
            say("SURVIVED")
            """)
        self.assert_result(body, "memory_limit", exit_code=137, signal="SIGKILL")
        self.assertIn("MAPPED", lines, body)
        self.assertNotIn("SURVIVED", lines, body)
        self.assertLessEqual(body["memory_kb"], MEMORY_LIMIT_KB, body)
        self.assert_healthy()

    def test_memory_bomb_in_a_child(self):
        body, lines = self.run_program("""
            pid = os.fork()
            if pid == 0:
                mark("membomb")
                chunks = []
                for i in range(400):
                    chunks.append(b"x" * (1024 * 1024))
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            say("CHILD", "signal", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
            """)
        self.assertEqual(body["status"], "memory_limit", body)
        self.assert_line(lines, "CHILD", "signal %d" % signal.SIGKILL, body)
        self.assertLessEqual(body["memory_kb"], MEMORY_LIMIT_KB, body)

    def test_shm_pages_count_toward_the_memory_limit(self):
        # tmpfs pages are charged to the memory cgroup: 15 MB in /dev/shm plus
        # 45 MB of anonymous memory cannot fit in 50 MB (asked for: python3's
        # default is larger, /dev/shm's 16 MB could not fill it).
        body, lines = self.run_program("""
            with open("/dev/shm/big", "wb") as f:
                for i in range(15):
                    f.write(b"s" * (1024 * 1024))
            say("SHM-FILLED")
            chunks = []
            for i in range(45):
                chunks.append(b"x" * (1024 * 1024))
            say("SURVIVED")
            """, limits={"memory_mb": 50})
        self.assert_result(body, "memory_limit", exit_code=137, signal="SIGKILL")
        self.assertIn("SHM-FILLED", lines, body)
        self.assertNotIn("SURVIVED", lines, body)

    def test_busy_processes_share_half_a_cpu(self):
        body, lines = self.run_program("""
            import time
            start = time.monotonic()
            pids = []
            for i in range(4):
                pid = os.fork()
                if pid == 0:
                    mark("spin")
                    end = time.monotonic() + 2
                    while time.monotonic() < end:
                        pass
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
            t = os.times()
            say("RATIO", (t.children_user + t.children_system) / (time.monotonic() - start))
            """)
        self.assert_result(body, "ok", exit_code=0)
        wall, cpu = body["time"]["wall_ms"], body["time"]["cpu_ms"]
        self.assertGreater(wall, 0, body)
        self.assertGreater(cpu, 0, body)
        self.assertLessEqual(cpu / wall, 0.6, "4 spinning processes got more than 0.5 CPU: %r" % body)
        self.assertLessEqual(float(lines["RATIO"]), 0.6, "ratio measured inside: %r" % body)

    def test_kill_minus_one_stays_inside(self):
        # A host process with the container's uid: kill(-1) from inside must not reach it.
        sentinel = subprocess.Popen(["sleep", "120"], user=CONTAINER_UID, group=CONTAINER_UID,
                                    stdin=subprocess.DEVNULL)
        try:
            body, lines = self.run_program("""
                import signal, time
                kids = []
                for i in range(3):
                    pid = os.fork()
                    if pid == 0:
                        mark("victim")
                        time.sleep(100)
                        os._exit(0)
                    kids.append(pid)
                say("KILL-ALL", oserr(os.kill, -1, signal.SIGKILL))
                say("KILL-INIT", oserr(os.kill, 1, signal.SIGKILL))
                time.sleep(0.2)
                say("KIDS", sorted(os.WTERMSIG(os.waitpid(k, 0)[1]) for k in kids))
                say("SURVIVOR", os.getpid() in [int(p) for p in os.listdir("/proc") if p.isdigit()])
                """)
            self.assertIsNone(sentinel.poll(), "kill(-1) inside the container killed a host process")
        finally:
            sentinel.kill()
            sentinel.wait()
        self.assert_result(body, "ok", exit_code=0)
        self.assert_line(lines, "KILL-ALL", "OK", body)
        self.assert_line(lines, "KIDS", "[9, 9, 9]", body)
        self.assert_line(lines, "SURVIVOR", "True", body)
        self.assertTrue(self.server.alive(), "the server died")
        self.assert_healthy()

    def test_daemon_holding_stdout_dies_with_the_program(self):
        with CgroupMonitor(self.server) as mon:  # learns the container id
            body, lines = self.run_program("""
                import time
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        mark("daemon")
                        while True:  # keeps stdout open and busy forever
                            print("daemon alive", flush=True)
                            time.sleep(0.05)
                    os._exit(0)
                os.wait()
                time.sleep(0.3)
                say("MAIN-DONE")
                """)
        # Checked at once, without the leftover check's grace period.  The
        # server answers before it runs `runc delete` (by design), so a runc
        # child may still be there (or a spawn of it that has not exec'd
        # yet: the server's own binary), and so may the warm pool's slots (a
        # refill starts as the request ends); any other child would be the
        # program's.
        left = live_marked_processes()
        cgroup_procs = processes_in_cgroups(mon.seen)
        runtime = os.path.basename(ce.RUNC)[:15]
        server_exe = os.path.realpath(ce.SERVER)
        kids = [(pid, k) for pid, k in ce.child_pids_and_descriptions(self.server.proc.pid)
                if " comm %s " % runtime not in k and ce.proc_exe(pid) != server_exe]
        pool = self.server.warm_pool()
        kids = [k for pid, k in kids if not pool.owns_process(pid)]
        self.assert_result(body, "ok", exit_code=0)
        self.assertIn("MAIN-DONE", lines, body)
        self.assertIn("daemon alive", body["output"], body)
        self.assertEqual(len(mon.seen), 1, "containers seen: %r" % mon.seen)
        self.assertEqual(left, [], "the daemon outlived the response")
        self.assertEqual(cgroup_procs, [], "processes still in the container's cgroups")
        self.assertEqual(kids, [], "children of the server right after the response")

    def test_zombies_are_not_left_on_the_host(self):
        body, lines = self.run_program("""
            import time
            for i in range(20):
                if os.fork() == 0:
                    mark("zombie")
                    os._exit(0)
            time.sleep(0.3)
            states = [open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[0]
                      for p in os.listdir("/proc") if p.isdigit()]
            say("ZOMBIES", states.count("Z"))
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assert_line(lines, "ZOMBIES", "20", body)
        # tearDown: no zombie under the server, no marked process anywhere

    def test_fd_exhaustion_hits_emfile(self):
        before = server_fds(self.server)
        body, lines = self.run_program("""
            fds = []
            try:
                while len(fds) < 100000:
                    fds.append(os.open("/dev/null", os.O_RDONLY))
                say("OPENED", len(fds), "NOLIMIT")
            except OSError as e:
                say("OPENED", len(fds), ename(e))
            r = oserr(os.pipe)
            say("PIPE", r)
            """)
        self.assert_result(body, "ok", exit_code=0)
        count, err = lines["OPENED"].split()
        self.assertEqual(err, "EMFILE", body)
        self.assertLessEqual(int(count), NOFILE, body)
        self.assertGreaterEqual(int(count), NOFILE - 16, body)
        self.assert_line(lines, "PIPE", "EMFILE", body)
        changed = ce.poll(lambda: server_fds(self.server) != before, self.FD_GRACE)
        self.assertFalse(changed, "server fd count (warm pool slots' not counted) changed: %d -> %d: %s"
                         % (before, server_fds(self.server), fd_targets(self.server.proc.pid)))

    def test_client_disconnect_kills_the_container(self):
        payload = json.dumps({"language": "python3",
                              "code": "import time\nprint('sleeping', flush=True)\ntime.sleep(30)"}).encode()
        sock = socket.create_connection((ce.HOST, self.server.port), timeout=30)
        try:
            sock.sendall(b"POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
            cid = ce.wait_for_container(self.server, timeout=30)
            self.assertIsNotNone(cid, "the container never showed up")
            time.sleep(1)
        finally:
            sock.close()

        def running():
            return ce.busy_containers(self.server) or processes_in_cgroups([cid]) \
                or ce.container_cgroup_dirs_of(cid)
        self.assertFalse(ce.poll(running, 5.0), "the container outlived its client by 5 s: %r" % (running(),))
        self.assertFalse(ce.poll(lambda: "client_gone" not in self.server.log_text(), 5.0),
                         "no client_gone in the server log\n" + self.server.log_tail())
        self.assert_healthy()


# ---------------------------------------------------------------------------

class AdversarialTimeouts(AdversarialCase):
    """Programs that never end, on a server with a 2 s timeout."""

    server_args = ("--timeout", "2")

    def test_fork_bomb_contained_by_pids_limit(self):
        with CgroupMonitor(self.server) as mon:
            body = self.run_code(program("""
                import time
                mark("forkbomb")
                say("START")
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.05)
                """))
        self.assertIn(body["status"], ("timeout", "memory_limit"), body)
        self.assertEqual(body["exit_code"], 137, body)
        self.assertIn("START", body["output"], body)
        most, refused = mon.largest()
        self.assertTrue(0 < most <= PIDS_LIMIT, "pids seen by the host: %d (%r)" % (most, mon.seen))
        self.assertGreater(refused, 0, "the pids limit never refused a fork: %r" % mon.seen)
        for rec in mon.seen.values():
            self.assertEqual(rec["max"], str(PIDS_LIMIT), mon.seen)
        self.assert_healthy()

    def test_cpu_spin_times_out(self):
        body = self.run_code(program("""
            mark("spin")
            say("SPINNING")
            while True:
                pass
            """))
        self.assert_result(body, "timeout", exit_code=137, signal="SIGKILL")
        self.assertIn("SPINNING", body["output"], body)

    def test_sleep_times_out(self):
        body = self.run_code(program("""
            import time
            mark("sleeper")
            say("SLEEPING")
            time.sleep(1000)
            """))
        self.assert_result(body, "timeout", exit_code=137, signal="SIGKILL")
        self.assertIn("SLEEPING", body["output"], body)

    def test_sigterm_ignoring_processes_time_out(self):
        body = self.run_code(program("""
            import signal, time
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_IGN)
            for i in range(3):
                if os.fork() == 0:
                    mark("stubborn")
                    while True:
                        time.sleep(0.01)
            mark("stubborn")
            say("IGNORING")
            while True:
                time.sleep(0.01)
            """))
        self.assert_result(body, "timeout", exit_code=137, signal="SIGKILL")
        self.assertIn("IGNORING", body["output"], body)


# ---------------------------------------------------------------------------

class AdversarialFilesystem(AdversarialCase):
    """Filling, escaping and writing where a program must not."""

    def _fill(self, directory, files, mb_per_file):
        """Write files of mb_per_file MB into directory until ENOSPC: (body, lines)
        with SIZE (the fs size), WROTE (bytes) and ERROR (errno name or None)."""
        body, lines = self.run_program("""
            st = os.statvfs(%r)
            say("SIZE", st.f_blocks * st.f_frsize)
            total, err = 0, None
            chunk = b"f" * (1024 * 1024)
            try:
                for n in range(%d):
                    with open("%s/fill-%%d" %% n, "wb") as f:
                        for i in range(%d):
                            f.write(chunk)
                            f.flush()
                            total += len(chunk)
            except OSError as e:
                err = ename(e)
            say("WROTE", total)
            say("ERROR", err)
            """ % (directory, files, directory, mb_per_file))
        self.assertIn(body["status"], ("ok", "runtime_error"), body)
        self.assert_line(lines, "ERROR", "ENOSPC", body)
        return body, lines

    def test_tmp_fill_hits_enospc(self):
        body, lines = self._fill("/tmp", 3, 20)  # 3 files: RLIMIT_FSIZE is 32 MB per file
        self.assert_line(lines, "SIZE", str(TMP_BYTES), body)
        self.assertLessEqual(int(lines["WROTE"]), TMP_BYTES, body)

    def test_shm_fill_hits_enospc(self):
        body, lines = self._fill("/dev/shm", 1, 64)
        self.assertLessEqual(int(lines["WROTE"]), SHM_BYTES, body)

    def _inode_exhaustion(self, directory, cap):
        return self.run_program("""
            n, err = 0, "CAP"
            try:
                while n < %d:
                    os.close(os.open("%s/i%%d" %% n, os.O_CREAT | os.O_WRONLY, 0o600))
                    n += 1
            except OSError as e:
                err = ename(e)
            say("FILES", n, err)
            """ % (cap, directory))

    def test_tmp_inode_exhaustion(self):
        body, lines = self._inode_exhaustion("/tmp", 4 * TMP_INODES)
        self.assert_result(body, "ok", exit_code=0)
        count, err = lines["FILES"].split()
        self.assertEqual(err, "ENOSPC", body)
        self.assertLessEqual(int(count), TMP_INODES, body)

    def test_shm_inode_exhaustion(self):
        # /dev/shm is meant to hold at most SHM_INODES inodes, like /tmp's cap.
        body, lines = self._inode_exhaustion("/dev/shm", 5 * SHM_INODES)
        self.assert_result(body, "ok", exit_code=0)
        count, err = lines["FILES"].split()
        self.assertEqual(err, "ENOSPC", "created %s files in /dev/shm without ENOSPC (no nr_inodes "
                         "cap on the /dev/shm tmpfs): %r" % (count, body["output"]))
        self.assertLessEqual(int(count), SHM_INODES, body)

    def test_root_fs_is_not_writable(self):
        body, lines = self.run_program("""
            say("CREATE", oserr(write, "/ceadv"))
            say("MKDIR", oserr(os.mkdir, "/ceadv-dir"))
            say("PASSWD", oserr(write, "/etc/passwd", "x", "a"))
            say("BIN", oserr(write, "/usr/bin/ceadv"))
            say("CHMOD", oserr(os.chmod, "/usr/bin/python3", 0o4777))
            say("RENAME", oserr(os.rename, "/etc/hostname", "/etc/hostname2"))
            say("RDONLY", bool(os.statvfs("/").f_flag & os.ST_RDONLY))
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assert_line(lines, "CREATE", "EROFS", body)
        self.assert_line(lines, "MKDIR", "EROFS", body)
        self.assert_denied(lines, ["PASSWD", "BIN", "CHMOD", "RENAME"], DENIED_WRITE, body)
        self.assert_line(lines, "RDONLY", "True", body)

    def test_code_dir_is_not_writable(self):
        body, lines = self.run_program("""
            say("APPEND", oserr(write, "/code/main.py", "# changed", "a"))
            say("CREATE", oserr(write, "/code/x"))
            say("MKDIR", oserr(os.mkdir, "/code/d"))
            say("UNLINK", oserr(os.unlink, "/code/main.py"))
            say("SYMLINK", oserr(os.symlink, "/etc/passwd", "/code/link"))
            say("CHMOD", oserr(os.chmod, "/code/main.py", 0o4777))
            """)
        self.assert_result(body, "ok", exit_code=0)
        # the existing file is root's: its mode bits refuse before the read-only mount does
        self.assert_denied(lines, ["APPEND"], {"EROFS", "EACCES"}, body)
        self.assert_denied(lines, ["CREATE", "MKDIR", "UNLINK", "SYMLINK"], {"EROFS"}, body)
        self.assert_denied(lines, ["CHMOD"], DENIED_WRITE, body)

    def test_proc_sys_is_not_writable(self):
        host_name = socket.gethostname()
        body, lines = self.run_program("""
            say("HOSTNAME-FILE", oserr(write, "/proc/sys/kernel/hostname", "pwned"))
            say("CORE-PATTERN", oserr(write, "/proc/sys/kernel/core_pattern", "|/tmp/x"))
            say("DROP-CACHES", oserr(write, "/proc/sys/vm/drop_caches", "3"))
            say("SETHOSTNAME", syscall(%d, b"pwned", 5)[1])
            say("NAME", socket.gethostname())
            """ % NR["sethostname"])
        self.assert_result(body, "ok", exit_code=0)
        self.assert_denied(lines, ["HOSTNAME-FILE", "CORE-PATTERN", "DROP-CACHES"], DENIED_WRITE, body)
        self.assert_line(lines, "SETHOSTNAME", "EPERM", body)
        self.assert_line(lines, "NAME", "codeengine", body)
        self.assertEqual(socket.gethostname(), host_name, "the host's name changed")

    def test_sysrq_trigger_is_not_writable(self):
        body, lines = self.run_program("""
            say("SYSRQ", oserr(write, "/proc/sysrq-trigger", "h"))
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assert_denied(lines, ["SYSRQ"], DENIED_WRITE | {"ENOENT"}, body)

    def test_cgroup_files_absent_or_read_only(self):
        body, lines = self.run_program("""
            entries = []
            for root, dirs, files in os.walk("/sys/fs/cgroup"):
                entries += [os.path.join(root, n) for n in files]
            say("FILES", len(entries))
            say("RDONLY", bool(os.statvfs("/sys/fs/cgroup").f_flag & os.ST_RDONLY))
            for n, path in enumerate(entries[:200] + ["/sys/fs/cgroup/pids.max",
                                                      "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                                      "/sys/fs/cgroup/pids/pids.max"]):
                r = oserr(write, path, "max")
                if r == "OK":
                    say("WRITABLE", path)
            say("MKDIR", oserr(os.mkdir, "/sys/fs/cgroup/ceadv"))
            say("OWN", sorted(set(l.strip().split(":", 2)[2] for l in open("/proc/self/cgroup"))))
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assertNotIn("WRITABLE", lines, body)
        if lines["FILES"] != "0":
            self.assert_line(lines, "RDONLY", "True", body)
        self.assert_denied(lines, ["MKDIR"], DENIED_WRITE | {"ENOENT"}, body)
        self.assert_line(lines, "OWN", "['/']", body)  # a cgroup namespace

    def test_masked_proc_files(self):
        body, lines = self.run_program("""
            for path in ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                         "/proc/interrupts", "/proc/kmsg", "/proc/kpagecount", "/proc/kpageflags",
                         "/proc/sysrq-trigger", "/sys/firmware"]:
                try:
                    if os.path.isdir(path):
                        r = "EMPTY" if not os.listdir(path) else "LISTED"
                    else:
                        with open(path, "rb") as f:
                            r = "EMPTY" if not f.read(4096) else "READ"
                except OSError as e:
                    r = ename(e)
                say(path, r)
            """)
        self.assert_result(body, "ok", exit_code=0)
        for path in ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                     "/proc/interrupts", "/proc/kmsg", "/proc/kpagecount", "/proc/kpageflags",
                     "/proc/sysrq-trigger", "/sys/firmware"]:
            self.assertIn(lines.get(path), {"EMPTY", "ENOENT", "EACCES", "EPERM"},
                          "%s is readable: %r" % (path, body))

    def test_proc_1_environ_has_no_host_environment(self):
        body, lines = self.run_program("""
            import json
            try:
                with open("/proc/1/environ", "rb") as f:
                    say("ENV", json.dumps(sorted(f.read().decode("utf-8", "replace").split("\\0"))))
            except OSError as e:
                say("ENV", ename(e))
            say("CMDLINE", json.dumps(open("/proc/1/cmdline", "rb").read().decode().split("\\0")))
            """)
        self.assert_result(body, "ok", exit_code=0)
        out = body["output"]
        for secret in (ce.ENV_MARKER_NAME, ce.ENV_MARKER_VALUE, "CE_SERVER", "CE_BUNDLES", "CE_LOG_DIR",
                       "=/root", "SUDO_", "SSH_"):
            self.assertNotIn(secret, out, "host environment visible through /proc/1: %r" % out)
        if lines["ENV"] not in ("EACCES", "EPERM"):
            names = {kv.split("=", 1)[0] for kv in json.loads(lines["ENV"]) if kv}
            self.assertLessEqual(names, ce.CONTAINER_ENV_ALLOWED, "pid 1's environment: %r" % lines["ENV"])

    def test_links_to_host_files_stay_inside(self):
        host_dir = os.path.dirname(self.server.state_dir)
        canary = os.path.join(host_dir, "ce-adversary-canary-" + secrets.token_hex(4))
        secret = "host-canary-" + secrets.token_hex(8)
        with open(canary, "w") as f:
            f.write(secret)
        before = os.stat(canary)
        try:
            body, lines = self.run_program("""
                def read(path):
                    with open(path) as f:
                        say("CONTENT", path, f.read())
                canary, state = %r, %r
                say("DIRECT", oserr(read, canary))
                say("STATE-DIR", oserr(os.listdir, state))
                say("PROC-ROOT", oserr(read, "/proc/1/root" + canary))
                say("SELF-ROOT", oserr(read, "/proc/self/root" + canary))
                say("DOTDOT", oserr(read, "/code/../../../../.." + canary))
                os.symlink(canary, "/tmp/to-canary")
                say("SYMLINK", oserr(read, "/tmp/to-canary"))
                os.symlink("/etc/shadow", "/tmp/to-shadow")
                say("SHADOW", oserr(read, "/tmp/to-shadow"))
                os.symlink("/proc/1/root/..", "/tmp/to-root")
                say("ROOT-UP", oserr(read, "/tmp/to-root" + canary))
                say("HARD-SHADOW", oserr(os.link, "/etc/shadow", "/tmp/h-shadow"))
                say("HARD-PASSWD", oserr(os.link, "/etc/passwd", "/tmp/h-passwd"))
                say("HARD-CODE", oserr(os.link, "/code/main.py", "/tmp/h-code"))
                say("WRITE-LINK", oserr(write, "/tmp/to-canary", "PWNED"))
                say("WRITE-DIRECT", oserr(write, canary, "PWNED"))
                """ % (canary, self.server.state_dir))
            with open(canary) as f:
                after_content = f.read()
            after = os.stat(canary)
        finally:
            os.unlink(canary)
        self.assert_result(body, "ok", exit_code=0)
        self.assertNotIn(secret, body["output"], "a host file was read from inside")
        self.assertNotIn("CONTENT", lines, "a read succeeded: %r" % body)
        self.assert_denied(lines, ["DIRECT", "STATE-DIR", "SELF-ROOT", "DOTDOT", "SYMLINK"], {"ENOENT"}, body)
        # through pid 1's root: ENOENT, or EACCES where init is not dumpable
        self.assert_denied(lines, ["PROC-ROOT", "ROOT-UP"], {"ENOENT", "EACCES"}, body)
        self.assert_denied(lines, ["SHADOW"], {"ENOENT", "EACCES"}, body)
        self.assert_denied(lines, ["HARD-SHADOW", "HARD-PASSWD", "HARD-CODE"], {"EXDEV", "EPERM", "ENOENT"}, body)
        # writes land in the container's own /tmp, never in the host file
        self.assertEqual(after_content, secret, "the host canary was modified")
        self.assertEqual((after.st_mtime_ns, after.st_ino, after.st_nlink),
                         (before.st_mtime_ns, before.st_ino, before.st_nlink), "the host canary was touched")

    def test_tmp_and_shm_not_shared_between_requests(self):
        token = secrets.token_hex(8)
        first, lines1 = self.run_program("""
            for path in ("/tmp/persist", "/dev/shm/persist"):
                with open(path, "w") as f:
                    f.write(%r)
            say("WRITTEN")
            """ % token)
        self.assert_result(first, "ok", exit_code=0)
        self.assertIn("WRITTEN", lines1, first)
        second, lines2 = self.run_program("""
            say("TMP", sorted(os.listdir("/tmp")))
            say("SHM", sorted(os.listdir("/dev/shm")))
            """)
        self.assert_result(second, "ok", exit_code=0)
        self.assert_line(lines2, "TMP", "[]", second)
        self.assert_line(lines2, "SHM", "[]", second)
        self.assertNotIn(token, second["output"], second)

    def test_shm_is_noexec(self):
        body, lines = self.run_program("""
            import shutil, subprocess
            shutil.copy("/bin/true", "/dev/shm/t")
            os.chmod("/dev/shm/t", 0o755)
            say("EXEC", oserr(subprocess.run, ["/dev/shm/t"]))
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assert_line(lines, "EXEC", "EACCES", body)


# ---------------------------------------------------------------------------

@needs_x86_64
class AdversarialSyscalls(AdversarialCase):
    """Privileged and dangerous system calls: the seccomp allowlist and no capabilities."""

    def _one(self, src):
        body, lines = self.run_program(src)
        self.assert_result(body, "ok", exit_code=0)
        return body, lines

    def test_mount_denied(self):
        body, lines = self._one("""
            say("MOUNT", syscall(%d, b"none", b"/tmp", b"tmpfs", 0, 0)[1])
            say("BIND", syscall(%d, b"/", b"/tmp", 0, 0x1000, 0)[1])
            say("UMOUNT", syscall(%d, b"/code", 2)[1])
            say("FSOPEN", syscall(%d, b"tmpfs", 0)[1])
            say("OPEN-TREE", syscall(%d, -100, b"/", 1)[1])
            """ % (NR["mount"], NR["mount"], NR["umount2"], NR["fsopen"], NR["open_tree"]))
        self.assert_denied(lines, ["MOUNT", "BIND", "UMOUNT", "FSOPEN", "OPEN-TREE"], {"EPERM"}, body)

    def test_unshare_user_namespace_denied(self):
        body, lines = self._one("""
            say("NEWUSER", syscall(%d, %d)[1])
            say("NEWNS", syscall(%d, %d)[1])
            say("NEWNET", syscall(%d, %d)[1])
            say("UID", os.getuid())
            """ % (NR["unshare"], CLONE["NEWUSER"], NR["unshare"], CLONE["NEWNS"],
                   NR["unshare"], CLONE["NEWNET"]))
        self.assert_denied(lines, ["NEWUSER", "NEWNS", "NEWNET"], {"EPERM"}, body)
        self.assert_line(lines, "UID", str(CONTAINER_UID), body)

    def test_setns_denied(self):
        body, lines = self._one("""
            results = []
            for ns in ("mnt", "net", "pid", "user", "uts", "ipc", "cgroup"):
                try:
                    fd = os.open("/proc/self/ns/" + ns, os.O_RDONLY)
                except OSError as e:
                    results.append(ns + ":" + ename(e))
                    continue
                results.append(ns + ":" + syscall(%d, fd, 0)[1])
                os.close(fd)
            say("SETNS", " ".join(sorted(set(r.split(":")[1] for r in results))))
            say("DETAIL", results)
            say("INIT-NS", oserr(os.open, "/proc/1/ns/mnt", os.O_RDONLY))
            """ % NR["setns"])
        self.assert_line(lines, "SETNS", "EPERM", body)
        # init's namespaces are the program's own; opening them may fail (non-dumpable init)
        self.assert_denied(lines, ["INIT-NS"], {"OK", "EACCES"}, body)

    def test_pivot_root_and_chroot_denied(self):
        body, lines = self._one("""
            os.mkdir("/tmp/old")
            say("PIVOT", syscall(%d, b"/tmp", b"/tmp/old")[1])
            say("CHROOT", syscall(%d, b"/tmp")[1])
            """ % (NR["pivot_root"], NR["chroot"]))
        self.assert_denied(lines, ["PIVOT", "CHROOT"], {"EPERM"}, body)

    def test_ptrace_denied(self):
        body, lines = self._one("""
            import time
            say("TRACEME", syscall(%d, 0, 0, 0, 0)[1])
            pid = os.fork()
            if pid == 0:
                mark("tracee")
                time.sleep(30)
                os._exit(0)
            say("ATTACH-CHILD", syscall(%d, 16, pid, 0, 0)[1])   # PTRACE_ATTACH
            say("SEIZE-CHILD", syscall(%d, 0x4206, pid, 0, 0)[1])  # PTRACE_SEIZE
            say("ATTACH-INIT", syscall(%d, 16, 1, 0, 0)[1])
            say("VM-READV", syscall(%d, pid, 0, 0, 0, 0, 0)[1])
            say("VM-WRITEV", syscall(%d, pid, 0, 0, 0, 0, 0)[1])
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            """ % (NR["ptrace"], NR["ptrace"], NR["ptrace"], NR["ptrace"],
                   NR["process_vm_readv"], NR["process_vm_writev"]))
        self.assert_denied(lines, ["TRACEME", "ATTACH-CHILD", "SEIZE-CHILD", "ATTACH-INIT", "VM-READV",
                                   "VM-WRITEV"], {"EPERM"}, body)

    def test_keyctl_denied(self):
        body, lines = self._one("""
            say("KEYCTL", syscall(%d, 0, -3, 0, 0, 0)[1])   # KEYCTL_GET_KEYRING_ID, user session
            say("ADD-KEY", syscall(%d, b"user", b"ceadv", b"secret", 6, -3)[1])
            say("REQUEST-KEY", syscall(%d, b"user", b"ceadv", 0, 0)[1])
            """ % (NR["keyctl"], NR["add_key"], NR["request_key"]))
        self.assert_denied(lines, ["KEYCTL", "ADD-KEY", "REQUEST-KEY"], {"EPERM"}, body)

    def test_bpf_denied(self):
        body, lines = self._one("""
            attr = ctypes.create_string_buffer(128)
            say("MAP-CREATE", syscall(%d, 0, attr, 128)[1])
            say("PROG-LOAD", syscall(%d, 5, attr, 128)[1])
            """ % (NR["bpf"], NR["bpf"]))
        self.assert_denied(lines, ["MAP-CREATE", "PROG-LOAD"], {"EPERM"}, body)

    def test_userfaultfd_denied(self):
        body, lines = self._one("""
            say("UFFD", syscall(%d, 0)[1])
            say("UFFD-DEV", oserr(os.open, "/dev/userfaultfd", os.O_RDWR))
            """ % NR["userfaultfd"])
        self.assert_line(lines, "UFFD", "EPERM", body)
        self.assert_denied(lines, ["UFFD-DEV"], {"ENOENT", "EACCES", "EPERM"}, body)

    def test_io_uring_denied(self):
        body, lines = self._one("""
            params = ctypes.create_string_buffer(120)
            say("SETUP", syscall(%d, 8, params)[1])
            say("ENTER", syscall(%d, 0, 1, 0, 0, 0, 0)[1])
            say("REGISTER", syscall(%d, 0, 0, 0, 0)[1])
            """ % (NR["io_uring_setup"], NR["io_uring_enter"], NR["io_uring_register"]))
        self.assert_denied(lines, ["SETUP", "ENTER", "REGISTER"], {"EPERM"}, body)

    def test_mknod_char_device_denied(self):
        body, lines = self._one("""
            say("MKNOD-MEM", oserr(os.mknod, "/tmp/mem", 0o20666, os.makedev(1, 1)))
            say("MKNOD-SDA", oserr(os.mknod, "/tmp/sda", 0o60666, os.makedev(8, 0)))
            say("MKNODAT", syscall(%d, -100, b"/tmp/null", 0o20666, os.makedev(1, 3))[1])
            say("EXISTS", os.path.exists("/tmp/mem") or os.path.exists("/tmp/sda"))
            """ % NR["mknodat"])
        self.assert_denied(lines, ["MKNOD-MEM", "MKNOD-SDA", "MKNODAT"], {"EPERM"}, body)
        self.assert_line(lines, "EXISTS", "False", body)

    def test_clone_with_new_namespaces_denied(self):
        flags = ["NEWNS", "NEWUSER", "NEWPID", "NEWNET", "NEWUTS", "NEWIPC", "NEWCGROUP"]
        body, lines = self._one("""
            for name, flag in %r:
                r, e = syscall(%d, flag | %d, 0, 0, 0, 0)
                if r == 0:
                    os._exit(0)  # the clone worked: the child leaves at once
                if r > 0:
                    os.waitpid(r, 0)
                say("CLONE-" + name, e)
            r, e = syscall(%d, 0, 0)
            say("CLONE3", e)
            """ % ([(f, CLONE[f]) for f in flags], NR["clone"], SIGCHLD, NR["clone3"]))
        self.assert_denied(lines, ["CLONE-" + f for f in flags], {"EPERM"}, body)
        self.assert_line(lines, "CLONE3", "ENOSYS", body)

    def test_other_privileged_syscalls_denied(self):
        # Each call is harmless even where it is allowed (bad arguments or
        # nonexistent targets); reboot gets a wrong magic number.
        calls = [
            ("INIT-MODULE", "init_module", '0, 0, b""'),
            ("FINIT-MODULE", "finit_module", '-1, b"", 0'),
            ("DELETE-MODULE", "delete_module", 'b"ceadv_none", 0'),
            ("REBOOT", "reboot", "0, 0, 0, 0"),
            ("SWAPON", "swapon", 'b"/ceadv-none", 0'),
            ("SETDOMAINNAME", "setdomainname", 'b"x", 1'),
            ("ACCT", "acct", "0"),
            ("OPEN-BY-HANDLE", "open_by_handle_at", "-1, 0, 0"),
            ("SETUID0", "setuid", "0"),
            ("SETGID0", "setgid", "0"),
            ("SETGROUPS", "setgroups", "0, 0"),
            ("IOPL", "iopl", "3"),
            ("IOPERM", "ioperm", "0, 1, 1"),
            ("PERF", "perf_event_open", "0, 0, -1, -1, 0"),
            ("FANOTIFY", "fanotify_init", "0, 0"),
            ("PERSONALITY", "personality", "0xffffffff"),
            ("MLOCK", "mlock", "0, 4096"),
        ]
        src = "\n".join('say(%r, syscall(%d, %s)[1])' % (key, NR[name], args) for key, name, args in calls)
        body, lines = self._one(src)
        self.assert_denied(lines, [key for key, _, _ in calls], {"EPERM"}, body)

    def test_init_cannot_be_tampered_with(self):
        # pid 1 (codeengine-init) holds the pipe that reports the program's
        # exit status.  If the program can write init's memory it can make
        # init report anything: here it patches the code after init's wait4
        # to report "exited 0" and then exits with 7.
        body = self.run_code(program("""
            import struct
            say("ENVIRON", oserr(os.open, "/proc/1/environ", os.O_RDONLY))
            say("FD3", oserr(os.open, "/proc/1/fd/3", os.O_WRONLY))
            try:
                fd = os.open("/proc/1/mem", os.O_RDWR)
                say("MEM", "OK")
            except OSError as e:
                say("MEM", ename(e))
                fd = None
            if fd is not None:
                pc = int(open("/proc/1/syscall").read().split()[-1], 16)
                report = struct.pack("=iiqq", 0, 0, 0, 0)  # wait status 0: exited 0
                shellcode = (b"\\x48\\x8d\\x35" + struct.pack("<i", 26)   # lea rsi, [rip+26]
                             + b"\\xbf\\x03\\x00\\x00\\x00"                 # mov edi, 3
                             + b"\\xba\\x18\\x00\\x00\\x00"                 # mov edx, 24
                             + b"\\xb8\\x01\\x00\\x00\\x00\\x0f\\x05"       # write
                             + b"\\x31\\xff\\xb8\\xe7\\x00\\x00\\x00\\x0f\\x05"  # exit_group(0)
                             + report)
                say("PATCHED", oserr(os.pwrite, fd, shellcode, pc))
            sys.exit(7)
            """))
        lines = parse_lines(body["output"])
        self.assert_result(body, "runtime_error", exit_code=7, signal=None)
        self.assert_denied(lines, ["FD3"], {"EACCES", "EPERM", "ENOENT"}, body)
        self.assert_denied(lines, ["MEM"], {"EACCES", "EPERM", "ENOENT"}, body)


# ---------------------------------------------------------------------------

class AdversarialNetwork(AdversarialCase):
    """Sockets and connections from inside the container's empty network namespace."""

    def _net(self, src):
        body, lines = self.run_program(ce.code(ONLY_LO) + ce.code(src))
        self.assertNotIn("NOT-ISOLATED", lines, "the container has more than lo: %r" % body)
        self.assert_result(body, "ok", exit_code=0)
        return body, lines

    def test_raw_socket_denied(self):
        body, lines = self._net("""
            say("ICMP", oserr(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
            say("RAW", oserr(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
            say("RAW6", oserr(socket.socket, socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
            """)
        self.assert_denied(lines, ["ICMP", "RAW", "RAW6"], {"EPERM"}, body)

    def test_packet_socket_denied(self):
        body, lines = self._net("""
            say("PACKET-RAW", oserr(socket.socket, socket.AF_PACKET, socket.SOCK_RAW, 0x0300))
            say("PACKET-DGRAM", oserr(socket.socket, socket.AF_PACKET, socket.SOCK_DGRAM, 0x0300))
            """)
        self.assert_denied(lines, ["PACKET-RAW", "PACKET-DGRAM"], {"EPERM"}, body)

    def test_vsock_denied(self):
        body, lines = self._net("""
            say("VSOCK-STREAM", oserr(socket.socket, 40, socket.SOCK_STREAM, 0))
            say("VSOCK-DGRAM", oserr(socket.socket, 40, socket.SOCK_DGRAM, 0))
            # The kernel reads the family as an int: set bits above it
            # must not slip AF_VSOCK past the filter.
            say("VSOCK-HIGH", syscall(%d, (1 << 32) | 40, socket.SOCK_STREAM, 0)[1])
            say("ALG", oserr(socket.socket, 38, socket.SOCK_SEQPACKET, 0))
            say("INET-HIGH", syscall(%d, (1 << 32) | 2, socket.SOCK_DGRAM, 0)[1])
            """ % (NR["socket"], NR["socket"]))
        self.assert_denied(lines, ["VSOCK-STREAM", "VSOCK-DGRAM", "VSOCK-HIGH", "ALG"], {"EPERM"},
                           body)
        self.assert_line(lines, "INET-HIGH", "OK", body)

    def test_tcp_to_server_port_refused(self):
        body, lines = self._net("""
            say("CONNECT", tcp_connect(("127.0.0.1", %d)))
            """ % self.server.port)
        self.assert_line(lines, "CONNECT", "ECONNREFUSED", body)

    def test_private_address_unreachable(self):
        body, lines = self._net("""
            say("TCP", tcp_connect(("10.0.0.1", 53)))
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            say("UDP", oserr(u.sendto, b"x", ("10.0.0.1", 53)))
            """)
        self.assert_line(lines, "TCP", "ENETUNREACH", body)
        self.assert_line(lines, "UDP", "ENETUNREACH", body)

    def test_metadata_address_unreachable(self):
        body, lines = self._net("""
            say("METADATA", tcp_connect(("169.254.169.254", 80)))
            """)
        self.assert_line(lines, "METADATA", "ENETUNREACH", body)

    def test_dns_lookup_fails(self):
        body, lines = self._net("""
            for name in ("example.com", "metadata.google.internal"):
                try:
                    say("RESOLVED", name, socket.getaddrinfo(name, 80))
                except socket.gaierror as e:
                    say("FAILED-" + name, "gaierror")
            """)
        self.assertNotIn("RESOLVED", lines, body)
        self.assert_line(lines, "FAILED-example.com", "gaierror", body)
        self.assert_line(lines, "FAILED-metadata.google.internal", "gaierror", body)

    def test_host_abstract_unix_socket_unreachable(self):
        name = "\0ce-adversary-" + secrets.token_hex(6)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(name)
            listener.listen(8)
            listener.setblocking(False)
            # control: the socket works from the host
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(name)
                conn, _ = listener.accept()
                conn.close()
            body, lines = self._net("""
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                say("STREAM", oserr(s.connect, %r))
                d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                say("DGRAM", oserr(d.sendto, b"x", %r))
                """ % (name, name))
            try:
                conn, _ = listener.accept()
                conn.close()
                reached = True
            except BlockingIOError:
                reached = False
        finally:
            listener.close()
        self.assertFalse(reached, "a program connected to the host's abstract socket")
        self.assert_line(lines, "STREAM", "ECONNREFUSED", body)
        self.assert_denied(lines, ["DGRAM"], {"ECONNREFUSED", "EPROTOTYPE", "ENOENT"}, body)


# ---------------------------------------------------------------------------

class AdversarialIdentity(AdversarialCase):
    """Who the program is: uid, capabilities, no new privileges, seccomp."""

    def test_setuid_binaries_do_not_raise_privileges(self):
        body, lines = self.run_program("""
            import stat, subprocess, time
            found = []
            for d in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
                for n in sorted(os.listdir(d)):
                    p = os.path.join(d, n)
                    st = os.lstat(p)
                    if stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_ISUID and st.st_uid == 0:
                        found.append(p)
            say("SETUID", found)
            su = next(p for p in found if os.path.basename(p) == "su")
            p = subprocess.Popen([su, "-c", "id", "root"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            os.set_blocking(p.stderr.fileno(), False)
            buf, deadline = b"", time.monotonic() + 20
            while b"Password" not in buf and p.poll() is None and time.monotonic() < deadline:
                buf += p.stderr.read() or b""
                time.sleep(0.02)
            status = dict(l.split(":\\t", 1) for l in open("/proc/%d/status" % p.pid).read().splitlines()
                          if ":\\t" in l)
            say("SU-NAME", status["Name"])
            say("SU-UID", status["Uid"].split())
            say("SU-GID", status["Gid"].split())
            say("SU-CAPEFF", status["CapEff"])
            p.stdin.write(b"\\n")
            p.stdin.close()
            say("SU-EXIT", p.wait())
            say("SU-STDOUT", p.stdout.read())
            """)
        self.assert_result(body, "ok", exit_code=0)
        self.assertIn("/bin/su", lines["SETUID"], body)
        uid = str(CONTAINER_UID)
        self.assert_line(lines, "SU-NAME", "su", body)
        self.assert_line(lines, "SU-UID", str([uid] * 4), body)
        self.assert_line(lines, "SU-GID", str([uid] * 4), body)
        self.assert_line(lines, "SU-CAPEFF", "0" * 16, body)
        self.assertNotEqual(lines["SU-EXIT"], "0", body)
        self.assertNotIn("uid=0", body["output"], body)

    def test_proc_self_status_no_caps_nonewprivs_seccomp(self):
        body, lines = self.run_program("""
            for line in open("/proc/self/status"):
                key, _, value = line.partition(":")
                if key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
                    say(key, value.strip())
            """)
        self.assert_result(body, "ok", exit_code=0)
        for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assert_line(lines, key, "0" * 16, body)
        self.assert_line(lines, "NoNewPrivs", "1", body)
        self.assert_line(lines, "Seccomp", "2", body)

    def test_runs_as_nobody(self):
        body, lines = self.run_program("""
            say("RESUID", os.getresuid())
            say("RESGID", os.getresgid())
            say("GROUPS", os.getgroups())
            say("SETUID", oserr(os.setuid, 0))
            say("SETGROUPS", oserr(os.setgroups, [0]))
            say("INIT-UID", [l.split()[1] for l in open("/proc/1/status") if l.startswith("Uid:")][0])
            """)
        self.assert_result(body, "ok", exit_code=0)
        uid = CONTAINER_UID
        self.assert_line(lines, "RESUID", str((uid, uid, uid)), body)
        self.assert_line(lines, "RESGID", str((uid, uid, uid)), body)
        self.assert_line(lines, "GROUPS", "[]", body)
        self.assert_line(lines, "SETUID", "EPERM", body)
        self.assert_line(lines, "SETGROUPS", "EPERM", body)


# ---------------------------------------------------------------------------

class AdversarialOutput(AdversarialCase):
    """Floods and raw bytes, on a server that keeps 1000 bytes of output."""

    LIMIT = 1000
    server_args = ("--max-output", str(LIMIT), "--timeout", "10")

    def test_stdout_flood_truncated_exactly(self):
        body = self.run_code('import sys\nwhile True: sys.stdout.write("abcdefghi\\n")')
        self.assert_result(body, "output_limit", exit_code=137, signal="SIGKILL")
        self.assertTrue(body["truncated"], body)
        self.assertEqual(body["output"], "abcdefghi\n" * (self.LIMIT // 10), body)
        self.assertEqual(body["stdout"], body["output"], body)
        self.assertEqual(body["stderr"], "", body)

    def test_stderr_flood_truncated_exactly(self):
        body = self.run_code('import sys\nwhile True: sys.stderr.write("ABCDEFGHI\\n")')
        self.assert_result(body, "output_limit", exit_code=137, signal="SIGKILL")
        self.assertEqual(body["output"], "ABCDEFGHI\n" * (self.LIMIT // 10), body)
        self.assertEqual(body["stderr"], body["output"], body)
        self.assertEqual(body["stdout"], "", body)

    def test_flood_from_a_daemonised_grandchild(self):
        body = self.run_code(program("""
            import time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    mark("flooder")
                    while True:
                        sys.stdout.write("0123456789")
                os._exit(0)
            os.wait()
            time.sleep(100)
            """))
        self.assertEqual(body["status"], "output_limit", body)
        self.assertEqual(body["output"], "0123456789" * (self.LIMIT // 10), body)

    def test_binary_output_is_valid_json(self):
        body = self.run_code("import sys\nsys.stdout.buffer.write(bytes(range(256)))")
        self.assert_result(body, "ok", exit_code=0)
        expected = bytes(range(128)).decode("ascii") + "\ufffd" * 128
        self.assertEqual(body["output"], expected, body)
        self.assertEqual(body["stdout"], expected, body)


# ---------------------------------------------------------------------------

class AdversarialAuth(AdversarialCase):
    """A server started with --auth-token-file."""

    auth_token = "ce-adv-" + secrets.token_hex(16)

    @classmethod
    def setUpClass(cls):
        cls.token_dir = tempfile.mkdtemp(prefix="ce-adv-token-")
        path = os.path.join(cls.token_dir, "token")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cls.auth_token + "\n")
        cls.server_args = ("--auth-token-file", path)
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.token_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.token_dir, ignore_errors=True)

    PAYLOAD = b'{"language": "python3", "code": "print(6 * 7)"}'

    def _post(self, headers):
        headers = dict(headers, **{"Content-Type": "application/json"})
        status, hdrs, data = self.server.request("POST", "/execute", self.PAYLOAD, headers)
        return status, hdrs, data

    def _assert_401(self, status, hdrs, data):
        self.assertEqual(status, 401, data)
        self.assertEqual(hdrs.get("WWW-Authenticate"), "Bearer", dict(hdrs))
        body = ce.parse_json(data)
        self.assertIsInstance(body.get("error"), str, body)
        self.assertNotIn(self.auth_token, data.decode("utf-8", "replace"), "the token leaked in a 401")

    def test_missing_token_rejected(self):
        self._assert_401(*self._post({}))
        status, hdrs, data = self.server.request("GET", "/languages")
        self._assert_401(status, hdrs, data)
        entries = os.listdir(os.path.join(self.server.state_dir, "exec"))
        pool = self.server.warm_pool()  # the warm-up's python3 slots are the server's own
        self.assertEqual([e for e in entries if e not in pool.ids], [], "work dirs: %r, pool %r" % (entries, pool))

    def test_wrong_token_rejected(self):
        token = self.auth_token
        for value in ["Bearer wrong", "Bearer " + token[:-1], "Bearer " + token + "x",
                      "Bearer " + token.upper(), "Basic " + token, token, "Bearer  " + token,
                      "Bearer " + token[:-1] + chr(ord(token[-1]) ^ 1)]:
            with self.subTest(header=value):
                self._assert_401(*self._post({"Authorization": value}))

    def test_right_token_accepted(self):
        status, _, data = self._post(self.auth_headers())
        self.assertEqual(status, 200, data)
        body = ce.parse_json(data)
        self.assert_result_shape(body)
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(body["output"], "42\n", body)

    def test_health_needs_no_token(self):
        self.assert_healthy()
        status, _, data = self.server.request("GET", "/health", headers={"Authorization": "Bearer wrong"})
        self.assertEqual((status, data), (200, b"OK"))


if __name__ == "__main__":
    unittest.main()
