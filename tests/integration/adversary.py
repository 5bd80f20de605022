"""Shared pieces for test_adversarial.py (Python standard library only).

  * PRELUDE      code prepended to the in-container programs: raw syscalls
                 through ctypes (x86_64 numbers in NR), errno names, write(), and
                 mark(), which renames a process "ce<tag>-<name>" so that the
                 host can find every process a program started.
  * host side    the server's fd count and VmRSS, marked processes, zombies
                 under a server, a pids cgroup monitor (cgroup v1 or v2).
  * AdversarialCase  CETestCase plus leak checks: after every test the
                 server's fd count is back to its baseline, no marked process
                 and no zombie is left; over a whole class the fd count
                 returns to the baseline and VmRSS grows by at most
                 RSS_GROWTH_LIMIT_KB (both measured after a warm-up).  These
                 are leak checks, not speed checks.  The fds a warm pool's
                 slots hold (GET /ready) are not counted: server_fds().  A
                 marked process is a leak wherever it is: a slot runs no
                 program.
"""

import errno
import json
import os
import secrets
import time

import ce
from ce import CETestCase, code, proc_status

# x86_64 system call numbers used by the probes.
NR = {
    "ptrace": 101, "setuid": 105, "setgid": 106, "setgroups": 116, "mknod": 133,
    "personality": 135, "mlock": 149, "pivot_root": 155, "chroot": 161, "acct": 163,
    "mount": 165, "umount2": 166, "swapon": 167, "reboot": 169, "sethostname": 170,
    "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "clone": 56, "add_key": 248, "request_key": 249, "keyctl": 250,
    "unshare": 272, "mknodat": 259, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "clone3": 435, "socket": 41,
}

CLONE = {
    "NEWNS": 0x00020000, "NEWCGROUP": 0x02000000, "NEWUTS": 0x04000000, "NEWIPC": 0x08000000,
    "NEWUSER": 0x10000000, "NEWPID": 0x20000000, "NEWNET": 0x40000000,
}
SIGCHLD = 17

# The sandbox as configured by the server (see docs/security.md).
CONTAINER_UID = 65534
TMP_BYTES = 32 * 1024 * 1024
TMP_INODES = 4096
SHM_BYTES = 16 * 1024 * 1024
SHM_INODES = 1024
# python3's default (its bundle.json raises the server's 50 MB for pandas
# and matplotlib).
MEMORY_LIMIT_KB = 160 * 1024
PIDS_LIMIT = 64
NOFILE = 1024
CPU_QUOTA = 0.5

# A per-run tag in the process names, so that a second run at the same time
# cannot be mistaken for a leak of this one.  comm holds 15 bytes.
RUN_TAG = "ce" + secrets.token_hex(2)
MARK_PREFIX = RUN_TAG + "-"

PRELUDE = code('''
    import ctypes, errno, os, socket, sys
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.syscall.restype = ctypes.c_long

    def _arg(a):
        if isinstance(a, int):
            return ctypes.c_long(a)
        if isinstance(a, bytes):
            return ctypes.c_char_p(a)
        return a

    def syscall(nr, *args):
        """(return value, errno name or 'OK') of a raw system call."""
        ctypes.set_errno(0)
        r = _libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
        e = ctypes.get_errno()
        return r, (errno.errorcode.get(e, str(e)) if r == -1 else "OK")

    def ename(e):
        return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__

    def write(path, data="x", mode="w"):
        """Write data to path (mode "a": append)."""
        with open(path, mode) as f:
            f.write(data)

    def oserr(fn, *args, **kwargs):
        """'OK', or the errno name of the OSError that fn raised."""
        try:
            fn(*args, **kwargs)
            return "OK"
        except OSError as e:
            return ename(e)

    def mark(name):
        """Rename this process so that the host can find it."""
        with open("/proc/self/comm", "w") as f:
            f.write((%r + name)[:15])

    def say(*words):
        print(*words, flush=True)
''' % MARK_PREFIX)

DENIED_WRITE = {"EROFS", "EACCES", "EPERM"}


def program(src):
    """PRELUDE + a dedented program."""
    return PRELUDE + "\n" + code(src)


def parse_lines(output):
    """{first word: rest of the line} of a program's output (last one wins)."""
    found = {}
    for line in output.splitlines():
        key, _, rest = line.partition(" ")
        found[key] = rest
    return found


# ---------------------------------------------------------------------------
# Host side

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_targets(pid):
    out = []
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, name)))
        except OSError:
            pass
    return sorted(out)


def rss_kb(pid):
    value = proc_status(pid).get("VmRSS", "0 kB")
    return int(value.split()[0])


def marked_processes():
    """[(pid, state, comm)] of every process a program of this run renamed."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % name) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith(MARK_PREFIX):
            st = ce.read_proc_stat(int(name))
            found.append((int(name), st[0] if st else "?", comm))
    return found


def live_marked_processes():
    return [p for p in marked_processes() if p[1] not in ("Z", "X")]


def descendants(pid):
    """Every process below pid (one /proc scan)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = ce.read_proc_stat(int(name))
            if st:
                parent[int(name)] = st[1]
    kids = {}
    for p, pp in parent.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def zombies_under(pid):
    found = []
    for p in descendants(pid):
        st = ce.read_proc_stat(p)
        if st and st[0] == "Z":
            found.append("pid %d comm %s" % (p, st[3]))
    return found


# How long the server may take to close its end of a connection we closed
# (a few ms; emulated, more): an fd count taken sooner counts that socket.
CONNECTION_CLOSE_S = max(0.05, ce.LEFTOVER_GRACE / 100)


def server_fds(server):
    """The server's fd count without its warm pool slots' fds (counted first,
    the pool asked for second), not counting the socket of a request of ours
    that the server has not closed yet."""
    wait = server.last_request_end + CONNECTION_CLOSE_S - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    n = fd_count(server.proc.pid)
    return n - server.warm_pool().fds


def settled_server_fds(server, timeout=None):
    """server_fds() once the last request's cleanup is over (the leftover
    check passes), the warm pool has no slot being made and two readings
    0.2 s apart agree: a baseline must not catch a `runc delete` or a refill
    half done (emulated, both take a while)."""
    timeout = max(10.0, 2 * ce.LEFTOVER_GRACE) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    ce.poll(server.leftover_problems, timeout)
    last = None
    while True:
        n = server_fds(server)
        if (n == last and not server.warm_pool().creating()) or time.monotonic() >= deadline:
            return n
        last = n
        time.sleep(0.2)


def processes_in_cgroups(ids):
    """Pids still in the cgroups of the given container ids (any controller, v1 or v2)."""
    pids = set()
    for cid in ids:
        pids.update(ce.cgroup_procs(cid))
    return sorted(pids)


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_kv(path):
    try:
        with open(path) as f:
            return dict((k, int(v)) for k, v in (line.split() for line in f if line.strip()))
    except (OSError, ValueError):
        return {}


class CgroupMonitor(ce.ContainerWatch):
    """Watch the pids cgroups of one server's request containers while a request runs.

    Records, per container id (the compile container's too), the largest
    pids.current/pids.peak, the pids.events "max" counter (forks refused by
    the limit) and pids.max as seen from the host (cgroup v1 or v2), read
    until the cgroup disappears.  The server's warm pool slots are watched
    too but left out of `seen` (ce.ContainerWatch).
    """

    def __init__(self, server, interval=None):
        super().__init__(server, interval)
        self.records = {}

    @property
    def seen(self):
        """{container id: record} of the request containers seen."""
        return {cid: rec for cid, rec in self.records.items() if self.is_busy(cid)}

    def sample(self, cid):
        base = ce.container_cgroup_dir(cid, "pids") + "/"
        if not os.path.isdir(base):
            return False
        rec = self.records.setdefault(cid, {"current": 0, "peak": 0, "refused": 0, "max": None})
        for key, fname in (("current", "pids.current"), ("peak", "pids.peak")):
            v = _read_int(base + fname)
            if v is not None:
                rec[key] = max(rec[key], v)
        refused = _read_kv(base + "pids.events").get("max")
        if refused is not None:
            rec["refused"] = max(rec["refused"], refused)
        try:
            with open(base + "pids.max") as f:
                rec["max"] = f.read().strip()
        except OSError:
            pass
        return True

    def largest(self):
        """(most pids seen at once, forks refused) over every request container seen."""
        seen = self.seen
        most = max((max(r["current"], r["peak"]) for r in seen.values()), default=0)
        refused = max((r["refused"] for r in seen.values()), default=0)
        return most, refused


# ---------------------------------------------------------------------------

class AdversarialCase(CETestCase):
    """CETestCase plus server fd/RSS leak checks and a scan for marked processes."""

    RSS_GROWTH_LIMIT_KB = 20 * 1024
    FD_GRACE = max(5.0, ce.LEFTOVER_GRACE)
    auth_token = None  # set by classes whose server needs a Bearer token

    @classmethod
    def auth_headers(cls):
        return {"Authorization": "Bearer " + cls.auth_token} if cls.auth_token else {}

    @classmethod
    def warm_up(cls, server):
        """A few ordinary executions, so that lazily allocated state is in the baseline."""
        payload = json.dumps({"language": "python3", "code": "print('warm')"}).encode()
        headers = dict(cls.auth_headers(), **{"Content-Type": "application/json"})
        for _ in range(3):
            status, _, body = server.request("POST", "/execute", payload, headers)
            if status != 200:
                raise AssertionError("warm-up execution failed: %d %r\n%s"
                                     % (status, body[:300], server.log_tail()))
        time.sleep(0.2)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fd_baseline = cls.rss_baseline = None
        if cls.server is not None:
            try:
                cls.warm_up(cls.server)
                cls.fd_baseline = settled_server_fds(cls.server)
                cls.fd_baseline_targets = fd_targets(cls.server.proc.pid)
                cls.rss_baseline = rss_kb(cls.server.proc.pid)
            except BaseException:
                super().tearDownClass()
                raise

    @classmethod
    def tearDownClass(cls):
        problems = []
        server = cls.server
        if server is not None and server.alive() and cls.fd_baseline is not None:
            pid = server.proc.pid
            if ce.poll(lambda: server_fds(server) != cls.fd_baseline, cls.FD_GRACE):
                problems.append("server fd count %d after the class, %d after the warm-up (warm pool "
                                "slots' fds not counted): now %s, then %s"
                                % (server_fds(server), cls.fd_baseline, fd_targets(pid), cls.fd_baseline_targets))
            grown = rss_kb(pid) - cls.rss_baseline
            if grown > cls.RSS_GROWTH_LIMIT_KB:
                problems.append("server VmRSS grew by %d kB over the class (baseline %d kB, limit +%d kB)"
                                % (grown, cls.rss_baseline, cls.RSS_GROWTH_LIMIT_KB))
        try:
            super().tearDownClass()
        finally:
            if problems:
                raise AssertionError("server resource leak in %s:\n  %s" % (cls.__name__, "\n  ".join(problems)))

    def setUp(self):
        super().setUp()
        self.fd_baselines = {}
        if self.server is not None and self.fd_baseline is not None:
            self.fd_baselines[id(self.server)] = self.fd_baseline

    def start_server(self, *args, **kwargs):
        server = super().start_server(*args, **kwargs)
        self.warm_up(server)
        self.fd_baselines[id(server)] = settled_server_fds(server)
        return server

    def host_problems(self):
        found = []
        for server in self.servers:
            if not server.alive():
                continue
            pid = server.proc.pid
            base = self.fd_baselines.get(id(server))
            if base is not None:
                n = server_fds(server)
                if n != base:
                    found.append("server pid %d has %d fds (warm pool slots' not counted), %d before the "
                                 "test: %s" % (pid, n, base, fd_targets(pid)))
            zombies = zombies_under(pid)
            if zombies:
                found.append("zombies under the server: %s" % zombies)
        marked = marked_processes()
        if marked:
            found.append("processes started by programs are still on the host: %s" % marked)
        return found

    def tearDown(self):
        try:
            left = ce.poll(self.host_problems, self.FD_GRACE)
            if left:
                self.fail("host not clean after the test:\n  " + "\n  ".join(left))
        finally:
            super().tearDown()

    # -- helpers ------------------------------------------------------------------

    def run_program(self, src, server=None, **kwargs):
        """PRELUDE + src through run_code: the result, its output parsed by parse_lines."""
        body = self.run_code(program(src), server=server, **kwargs)
        return body, parse_lines(body["output"])

    def assert_line(self, lines, key, expected, body):
        self.assertIn(key, lines, "no %r line in the output: %r" % (key, body))
        self.assertEqual(lines[key], expected, "%s: %r" % (key, body))

    def assert_denied(self, lines, keys, allowed, body):
        """Every line in keys reports an errno name from allowed."""
        for key in keys:
            self.assertIn(key, lines, "no %r line in the output: %r" % (key, body))
            self.assertIn(lines[key], allowed, "%s: expected one of %s, got %r\n%r"
                          % (key, sorted(allowed), lines[key], body))


def errno_name(n):
    return errno.errorcode.get(n, str(n))
