"""Helpers for the CodeEngine integration tests (Python standard library only).

The suite drives the real server binary over HTTP on 127.0.0.1.  Configuration
comes from environment variables that run.py sets (defaults point into the
repository so that a single test file can also be run by hand):

    CE_SERVER   path of the codeengine binary   (default: build/codeengine)
    CE_BUNDLES  bundles directory               (default: bundles)
    CE_RUNC     runc binary                     (default: runc on PATH)
    CE_LOG_DIR  where server logs are kept      (default: a fresh /tmp dir)
    CE_LEFTOVER_GRACE  seconds the leftover checks wait for cleanup to
                finish (default 3; the cgroup v2 VM, emulated, sets more)

Pieces:
  * Server       starts one server on a free loopback port with a fresh state
                 dir, talks HTTP to it, checks for leftovers, and stops it.
  * warm pool    a server may keep pre-created containers ("slots", listed
                 in GET /ready's warm_pool).  They are the server's, not a
                 request's: Server.warm_pool() says which they are, every
                 leftover check and every "the container of this request"
                 helper leaves them out (observing the host first, asking
                 the server second, so that a slot taken in between counts
                 as the request's), and PoolFilter does the same for the
                 monitors that watch a server while a request runs.  After
                 shutdown nothing may remain, pool included.
  * ContainerWatch  the base of the monitors that read a server's container
                 cgroups while a request runs (a polling thread for a `with`
                 block; compile containers included, warm pool slots left
                 out through PoolFilter).
  * cgroups      a container's cgroup on the host, cgroup v1 or v2
                 (container_cgroup_dir, cgroup_container_dirs,
                 read_cgroup_limits), named the way src/runner.c names them.
  * CETestCase   unittest base class: one shared server per class (unless
                 class_server = False), extra servers via start_server(), a
                 leftover check after every test, and the assertions and
                 helpers that several test files share (results, GET JSON,
                 a running container, the command line, cgroup limits).
  * fork_program the in-container fork loop that the pids tests share.
  * stage_argv   a bundle's stage command expanded as the server expands it.
"""

import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SERVER = os.path.abspath(os.environ.get("CE_SERVER") or os.path.join(REPO, "build", "codeengine"))
BUNDLES = os.path.abspath(os.environ.get("CE_BUNDLES") or os.path.join(REPO, "bundles"))
_runc = os.environ.get("CE_RUNC") or "runc"
RUNC = shutil.which(_runc) or _runc

HOST = "127.0.0.1"
# Generous client timeouts: they only exist so that a broken server cannot
# hang the suite.  No test asserts on speed.
EXEC_TIMEOUT = 120.0
# Cleanup may finish just after the response is sent, and a warm pool may be
# refilling; an emulated machine needs longer for both.
LEFTOVER_GRACE = float(os.environ.get("CE_LEFTOVER_GRACE") or 3.0)

# Every completed execution answers exactly these keys, "output" first.
RESULT_KEYS = ("output", "stdout", "stderr", "exit_code", "signal", "status", "truncated",
               "time", "time_ms", "memory_kb", "language", "version", "limit_mode")
# How limits are enforced: "cgroup" when root, "rlimit" in rootless fallback.
LIMIT_MODES = {"cgroup", "rlimit"}
# What the seed API answered (still present, with the same meaning).
SEED_RESULT_KEYS = ("output", "exit_code", "status", "time_ms")
TIME_KEYS = ("wall_ms", "cpu_ms")
RESULT_STATUSES = {"ok", "runtime_error", "timeout", "memory_limit", "output_limit"}

# Set in the server's environment; must never show up inside a container.
ENV_MARKER_NAME = "CE_IT_HOST_SECRET"
ENV_MARKER_VALUE = "host-only-4f1c9a"
# All a program may find in its environment: LC_CTYPE may come from Python's
# locale coercion, PYTHON* and MPL* (matplotlib's Agg backend, its cache in
# /tmp) from the bundle.
CONTAINER_ENV_ALLOWED = {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE",
                         "MPLBACKEND", "MPLCONFIGDIR"}

CGROUP_ROOT = "/sys/fs/cgroup"
# The unified hierarchy at /sys/fs/cgroup, as the server decides it (a hybrid
# host's /sys/fs/cgroup/unified has no controllers: that is cgroup v1).
CGROUP_V2 = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))

_log_dir = None
_log_lock = threading.Lock()
_log_counter = 0


def log_dir():
    global _log_dir
    with _log_lock:
        if _log_dir is None:
            _log_dir = os.environ.get("CE_LOG_DIR") or tempfile.mkdtemp(prefix="ce-it-logs-")
            os.makedirs(_log_dir, exist_ok=True)
        return _log_dir


def _next_log_path(tag):
    global _log_counter
    d = log_dir()
    with _log_lock:
        _log_counter += 1
        n = _log_counter
    return os.path.join(d, "server-%03d-%s.log" % (n, tag))


def code(src):
    """Dedent a triple-quoted program."""
    return textwrap.dedent(src).lstrip("\n")


_FORK_LOOP = code("""
    import errno, os, signal, time
    pids, err = [], None
    for i in range(%d):
        try:
            pid = os.fork()
        except OSError as e:
            err = errno.errorcode.get(e.errno, e.errno)
            break
        if pid == 0:
            time.sleep(100)
            os._exit(0)
        pids.append(pid)
    print("forked", len(pids), "error", err, flush=True)
    """)
_FORK_REAP = code("""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        os.waitpid(pid, 0)
    """)


# Where a container finds the request's files (src/oci_spec.h CE_CODE_DIR).
CODE_DIR = "/code"


def stage_argv(command, files, sources=(), args=(), compiler_options=()):
    """A stage's argument vector as the server builds it from a bundle's
    stage command (src/plan.c plan_argv; the placeholders are src/bundle.h's):
    in each element, "{entry}" becomes the entry file's path inside
    (CODE_DIR/NAME) and then "{stem}" its base name without its last
    extension; an element that is exactly "{compiler_options}" becomes the
    request's compiler options (none unless given); one that is exactly
    "{sources}" becomes the entry's
    path followed by the path of every other file whose name ends in one of
    `sources` (the language's source extensions), in request order.
    files: the request's file names, the entry first (a request with "code"
    has one: the language's entry_file).  args: the request's, appended
    (the run stage).  The integration suite checks it against the server
    (test_api.py); tools/bench builds its bare runs with it."""
    entry = CODE_DIR + "/" + files[0]
    base = files[0].rsplit("/", 1)[-1]
    dot = base.rfind(".")
    stem = base[:dot] if dot > 0 else base
    argv = []
    for element in command:
        if element == "{compiler_options}":
            argv += list(compiler_options)
        elif element == "{sources}":
            argv.append(entry)
            argv += [CODE_DIR + "/" + name for name in files[1:]
                     if any(len(name) > len(ext) and name.endswith(ext) for ext in sources)]
        else:
            argv.append(element.replace("{entry}", entry).replace("{stem}", stem))
    return argv + list(args)


def fork_program(count, reap=True):
    """A program that forks up to count sleeping children, stops at the first
    refused fork and prints "forked N error NAME" (NAME: the errno name, or
    None when every fork worked).  Then it kills and reaps the children
    (reap=True) or sleeps until the timeout (reap=False)."""
    return _FORK_LOOP % count + (_FORK_REAP if reap else "time.sleep(100)\n")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def parse_json(data):
    """Parse a response body; the body must be strict UTF-8 JSON."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("response body is not valid UTF-8 (%s): %r" % (e, data[:500]))
    try:
        return json.loads(text)
    except ValueError as e:
        raise AssertionError("response body is not valid JSON (%s): %r" % (e, data[:500]))


# ---------------------------------------------------------------------------
# Host-side inspection: runc, state dir, mounts, processes, cgroups.

def runc_root(state_dir):
    return os.path.join(state_dir, "runc")


def runc_list(state_dir):
    """Container ids in STATE/runc (empty when the root does not exist)."""
    root = runc_root(state_dir)
    if not os.path.isdir(root):
        return []
    for attempt in range(40):
        p = subprocess.run([RUNC, "--root", root, "list", "-q"], capture_output=True, text=True, timeout=60)
        # runc list fails when a container is deleted while it lists them
        # (a request's cleanup, a warm pool slot retired), crun also when one
        # is still being created (its dir without a status file): look again.
        if p.returncode == 0 or "no such file or directory" not in p.stderr.lower() or attempt == 39:
            break
        time.sleep(0.05)
    if p.returncode != 0:
        raise AssertionError("runc list failed (%d): %s" % (p.returncode, p.stderr.strip()))
    return p.stdout.split()


def runc_state(state_dir, cid):
    p = subprocess.run([RUNC, "--root", runc_root(state_dir), "state", cid],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def _unescape_mount_field(s):
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 4 <= len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounts_mentioning(path):
    """Lines of /proc/self/mountinfo that mention path, and their mount points."""
    hits = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mountpoint = _unescape_mount_field(fields[4]) if len(fields) > 4 else ""
            if path in _unescape_mount_field(line):
                hits.append((mountpoint, line.strip()))
    return hits


def read_proc_stat(pid):
    """(state, ppid, starttime, comm) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    lpar, rpar = data.find("("), data.rfind(")")
    comm = data[lpar + 1:rpar]
    fields = data[rpar + 2:].split()
    return fields[0], int(fields[1]), int(fields[19]), comm


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


def proc_exe(pid):
    """The resolved path of process pid's executable, or None."""
    try:
        return os.path.realpath(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def child_pids(ppid):
    """[(pid, starttime)] of the children of ppid."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_proc_stat(int(name))
        if st and st[1] == ppid:
            kids.append((int(name), st[2]))
    return kids


def child_processes(ppid):
    """Descriptions of the children of ppid."""
    kids = []
    for pid, _ in child_pids(ppid):
        st = read_proc_stat(pid)
        if st:
            kids.append("pid %d state %s comm %s cmdline %r" % (pid, st[0], st[3], cmdline(pid)))
    return kids


def child_pids_and_descriptions(ppid):
    """[(pid, description)] of the children of ppid."""
    kids = []
    for pid, _ in child_pids(ppid):
        st = read_proc_stat(pid)
        if st:
            kids.append((pid, "pid %d state %s comm %s cmdline %r" % (pid, st[0], st[3], cmdline(pid))))
    return kids


def wait_for_container(server, timeout=30.0, done=None):
    """Poll runc list until a container of a request shows up (not one of the
    server's warm pool slots); return its id (or None).  server: a Server, or
    a state dir (then every container counts)."""
    deadline = time.monotonic() + timeout
    listed = set()
    while time.monotonic() < deadline:
        ids, certain = _busy_containers(server, listed)
        if ids and certain:
            return ids[0]
        if done is not None and done():
            return None
        time.sleep(0.05)
    return None


def _busy_containers(server, listed=None):
    """(ids, certain): busy_containers(), and whether they are all a
    request's.  Not certain when the pool is making slots it does not name
    yet (one may be among the ids), unless some ids were listed as slots
    before (listed: ids earlier snapshots named, kept up to date here): a slot
    no longer listed was taken, and those ids alone are returned."""
    if isinstance(server, str):
        return runc_list(server), True
    ids = runc_list(server.state_dir)
    if not ids:
        return ids, True
    pool = server.warm_pool()
    busy = [cid for cid in ids if not pool.holds(cid) and not pool.discarded_unused(cid)]
    if listed is not None:
        listed.update(pool.containers)
        taken = [cid for cid in busy if cid in listed]
        if taken:
            return taken, True
    if busy and not pool.complete:
        # A container whose init has started a program is a request's: a
        # slot's init waits for its request.
        running = [cid for cid in busy if _program_started(server.state_dir, cid)]
        if running:
            return running, True
    return busy, pool.complete


def _program_started(state_dir, cid):
    """True when container cid's init (codeengine-init) has a child: the program."""
    pid = (runc_state(state_dir, cid) or {}).get("pid")
    return bool(pid) and bool(child_pids(pid))


def busy_containers(server):
    """The ids in runc list that are not warm pool slots of server (a Server;
    a state dir: every id).  runc list first, GET /ready second: a slot taken
    in between is a request's, which it is."""
    return _busy_containers(server)[0]


def proc_status(pid):
    """/proc/PID/status as a dict, or {} when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def process_is_dead(pid, starttime):
    """True when pid no longer names the same live (non-zombie) process."""
    st = read_proc_stat(pid)
    return st is None or st[2] != starttime or st[0] in ("Z", "X")


def _user_scope_parent(uid):
    """Where runc's systemd driver puts a rootless server's scopes (uid's own
    user.slice inside user@UID.service)."""
    return "%s/user.slice/user-%d.slice/user@%d.service/user.slice" % (CGROUP_ROOT, uid, uid)


def container_cgroup_dir(cid, controller="memory", uid=None):
    """The host dir of container cid's cgroup that holds controller's files,
    named as src/runner.c (container_paths_init) names it: cgroup v1
    /sys/fs/cgroup/CONTROLLER/codeengine/CID; cgroup v2 /sys/fs/cgroup/codeengine/CID
    for a root server, the scope codeengine-CID.scope in the user's user.slice
    for a rootless one (uid: the server's, default ours)."""
    if not CGROUP_V2:
        return "%s/%s/codeengine/%s" % (CGROUP_ROOT, controller, cid)
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return "%s/codeengine/%s" % (CGROUP_ROOT, cid)
    return "%s/codeengine-%s.scope" % (_user_scope_parent(uid), cid)


# Every container cgroup of any server on the host, whoever started it.
_CONTAINER_CGROUP_GLOBS_V1 = ("%s/*/codeengine/ce-*" % CGROUP_ROOT,)
_CONTAINER_CGROUP_GLOBS_V2 = ("%s/codeengine/ce-*" % CGROUP_ROOT,
                              "%s/user.slice/user-*.slice/user@*.service/user.slice/codeengine-ce-*.scope"
                              % CGROUP_ROOT)


def cgroup_container_dirs():
    """Every container cgroup dir on the host: cgroup v1
    /sys/fs/cgroup/<controller>/codeengine/ce-*; cgroup v2
    /sys/fs/cgroup/codeengine/ce-* (root servers) and every user's
    .../user.slice/codeengine-ce-*.scope (rootless servers)."""
    found = set()
    for pattern in _CONTAINER_CGROUP_GLOBS_V2 if CGROUP_V2 else _CONTAINER_CGROUP_GLOBS_V1:
        for p in glob.glob(pattern):
            if os.path.isdir(p):
                found.add(os.path.realpath(p))
    return found


def cgroup_dir_container(path):
    """The container id of a dir that cgroup_container_dirs() returned."""
    name = os.path.basename(path)
    if name.startswith("codeengine-") and name.endswith(".scope"):
        return name[len("codeengine-"):-len(".scope")]
    return name


def container_cgroup_dirs_of(cid):
    """The existing cgroup dirs of container cid (v1: one per controller; v2:
    one), whichever user's server made it."""
    return sorted(p for p in cgroup_container_dirs() if cgroup_dir_container(p) == cid)


def wait_for_cgroup_container(server, timeout=30.0, done=None, skip=None):
    """Poll runc list until a container of a request (not a warm pool slot of
    server, not in skip) has its memory cgroup (container_cgroup_dir); return
    its id (or None)."""
    deadline = time.monotonic() + timeout
    listed = set()
    while time.monotonic() < deadline and not (done is not None and done()):
        ids, certain = _busy_containers(server, listed)
        ids = [cid for cid in ids if cid not in (skip or ())]
        if certain:
            for cid in ids:
                if os.path.isdir(container_cgroup_dir(cid)):
                    return cid
        time.sleep(0.05)
    return None


def _read_cgroup_file(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "unreadable: %s" % e


def _int_or_text(value):
    return int(value) if value.lstrip("-").isdigit() else value


def cgroup_limits_complete(reading):
    """True when read_cgroup_limits() read every limit (the cgroup is not
    being removed half-way through the reading)."""
    return all(not (isinstance(reading.get(key), str) and reading[key].startswith("unreadable"))
               for key in ("memory", "memory+swap", "cpus", "pids")) and isinstance(reading.get("memory"), int)


def read_cgroup_limits(cid):
    """The limits in a running container's cgroup, read on the host, with the
    same keys and meaning on cgroup v1 and v2:
      memory       bytes: v1 memory.limit_in_bytes, v2 memory.max
      memory+swap  bytes: v1 memory.memsw.limit_in_bytes, v2 memory.max +
                   memory.swap.max; None when the kernel does not account swap
      cpus         cores: v1 cpu.cfs_quota_us / cpu.cfs_period_us, v2 cpu.max;
                   None without a quota
      pids         pids.max
      files        {file: its text} as read
    A value that is not a number (a file unreadable, "max") is the text."""
    files = {}
    if CGROUP_V2:
        base = container_cgroup_dir(cid)
        names = ("memory.max", "memory.swap.max", "cpu.max", "pids.max")
        for name in names:
            files[name] = _read_cgroup_file(os.path.join(base, name))
        memory = _int_or_text(files["memory.max"])
        swap = _int_or_text(files["memory.swap.max"])
        if os.path.isdir(base) and not os.path.exists(os.path.join(base, "memory.swap.max")):
            both = None  # no swap accounting (swapaccount=0)
        elif isinstance(memory, int) and isinstance(swap, int):
            both = memory + swap
        else:
            both = files["memory.swap.max"]  # "max" (unlimited swap) or unreadable
        quota, _, period = files["cpu.max"].partition(" ")
        if quota == "max":
            cpus = None
        elif quota.isdigit() and period.isdigit() and int(period) > 0:
            cpus = int(quota) / int(period)
        else:
            cpus = files["cpu.max"]
        pids = _int_or_text(files["pids.max"])
    else:
        for name, controller in (("memory.limit_in_bytes", "memory"), ("memory.memsw.limit_in_bytes", "memory"),
                                 ("cpu.cfs_quota_us", "cpu"), ("cpu.cfs_period_us", "cpu"), ("pids.max", "pids")):
            files[name] = _read_cgroup_file(os.path.join(container_cgroup_dir(cid, controller), name))
        memory = _int_or_text(files["memory.limit_in_bytes"])
        both = _int_or_text(files["memory.memsw.limit_in_bytes"])
        if not os.path.exists("%s/memory/memory.memsw.limit_in_bytes" % CGROUP_ROOT):
            both = None  # no swap accounting
        quota, period = _int_or_text(files["cpu.cfs_quota_us"]), _int_or_text(files["cpu.cfs_period_us"])
        if isinstance(quota, int) and isinstance(period, int) and period > 0:
            cpus = quota / period if quota > 0 else None
        else:
            cpus = "%s/%s" % (quota, period)
        pids = _int_or_text(files["pids.max"])
    return {"memory": memory, "memory+swap": both, "cpus": cpus, "pids": pids, "files": files}


def cgroup_procs(cid):
    """Pids in container cid's cgroup(s) (any controller, v1 or v2)."""
    pids = set()
    for d in container_cgroup_dirs_of(cid):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return sorted(pids)


def _descends_from(pid, ancestors):
    seen = 0
    while pid > 1 and seen < 64:
        if pid in ancestors:
            return True
        st = read_proc_stat(pid)
        if st is None:
            return False
        pid, seen = st[1], seen + 1
    return False


def foreign_cgroup(name, own_state_dirs, own_pids):
    """True when the cgroup of container `name` belongs to another server.

    Another server (a second test run, a server started by hand) may create
    containers while a test runs.  Its containers are recognised by a runc
    state dir under some other runc root, or by processes that do not descend
    from any of this test's servers.  A dir that is empty and unknown to every
    runc root is a leak, whoever made it.
    """
    patterns = ["/tmp/*/runc/%s", "/tmp/*/*/runc/%s", "/tmp/*/*/*/runc/%s", "/run/*/runc/%s",
                "/run/user/*/codeengine/runc/%s"]
    own_roots = [os.path.realpath(runc_root(d)) for d in own_state_dirs if d]
    for pattern in patterns:
        for hit in glob.glob(pattern % name):
            root = os.path.dirname(os.path.realpath(hit))
            if root not in own_roots:
                return True
    procs = cgroup_procs(name)
    if procs and not any(_descends_from(p, own_pids) for p in procs):
        return True
    return False


CACHE_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\Z")


def state_dir_residue(state_dir):
    """Anything but (empty) directories left in a stopped server's state dir, but
    the compile cache (STATE/cache), which stays on purpose: its stamp and whole
    entries only, no temporary or evicted ones; and the job store (STATE/jobs.db)
    when it holds jobs: without its WAL and shared-memory files, which a clean
    close removes."""
    residue = []
    if not os.path.isdir(state_dir):
        return residue
    cache = os.path.join(state_dir, "cache")
    for root, dirs, files in os.walk(state_dir):
        if root == cache:
            residue += [os.path.join(root, d) for d in dirs if not CACHE_ENTRY_NAME.match(d)]
            dirs[:] = []
            continue
        if root == state_dir and "jobs.db" in files:
            files = [f for f in files if f != "jobs.db"]
        for name in files:
            residue.append(os.path.join(root, name))
        for name in dirs:
            p = os.path.join(root, name)
            if os.path.islink(p):
                residue.append(p + " (symlink)")
    return residue


def poll(fn, timeout, interval=0.1):
    """Call fn until it returns a falsy value or timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if not value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------
# node test clients (tests/mcp-client, ...): real npm packages driven by a script

_NPM_FAILED = {}  # client dir: why its first npm install failed (not tried again)


def require_node_client(test, client_dir, modules):
    """node's path, once client_dir's npm packages are installed (`npm ci`
    from its package-lock.json when one of modules, names under node_modules,
    is missing).  Without node or npm, or when npm fails, the test skips, and
    fails instead under CI=true.  A failed install is remembered: the next
    test of the run gives up at once instead of waiting for npm again."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        msg = "node or npm not installed"
    elif all(os.path.isdir(os.path.join(client_dir, "node_modules", m)) for m in modules):
        msg = None
    elif client_dir in _NPM_FAILED:
        msg = _NPM_FAILED[client_dir]
    else:
        try:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=client_dir,
                               capture_output=True, text=True, timeout=300)
            msg = None if r.returncode == 0 else "npm ci failed in %s: %s" % (client_dir, r.stderr[-2000:])
        except subprocess.TimeoutExpired:
            msg = "npm ci in %s did not finish in 300 s" % client_dir
        if msg:
            _NPM_FAILED[client_dir] = msg
    if msg:
        if os.environ.get("CI") == "true":
            test.fail("%s (CI=true: the node client tests must run)" % msg)
        test.skipTest(msg)
    return node


def force_cleanup(state_dir, remove=True):
    """Best effort: delete containers, unmount, and remove a state dir."""
    try:
        for cid in runc_list(state_dir):
            subprocess.run([RUNC, "--root", runc_root(state_dir), "delete", "--force", cid],
                           capture_output=True, timeout=60)
    except Exception as e:  # noqa: BLE001 - cleanup must not raise
        print("warning: cleaning containers in %s: %s" % (state_dir, e))
    for mountpoint, _ in sorted(mounts_mentioning(state_dir), key=lambda m: len(m[0]), reverse=True):
        if mountpoint.startswith(state_dir):
            subprocess.run(["umount", "-l", mountpoint], capture_output=True, timeout=60)
    if not remove:
        return
    if any(mp.startswith(state_dir) for mp, _ in mounts_mentioning(state_dir)):
        print("warning: mounts remain under %s; not removing it" % state_dir)
        return
    shutil.rmtree(state_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# The warm pool: containers a server made before any request asked for them.

class PoolSnapshot:
    """A server's warm pool as one GET /ready reported it (its "warm_pool"):
    slots, each {"id", "language", "state" ("creating", "idle" or
    "deleting"), "containers", "pids" (host pids of the containers' inits,
    -1 while unknown), "fds" (server fds it holds)}, and "discarded", the ids
    of the last slots the pool deleted without serving a request.  Empty
    when the server reported none: no such field (a server without a pool),
    no answer, not running."""

    def __init__(self, ready=None):
        pool = ready.get("warm_pool") if isinstance(ready, dict) else None
        self.reported = isinstance(pool, dict)
        pool = pool if self.reported else {}
        self.raw = pool
        self.per_language = pool.get("per_language")
        self.max = pool.get("max")
        self.idle = pool.get("idle")
        self.slots = [slot for slot in pool.get("slots") or [] if isinstance(slot, dict)]
        self.ids = {slot.get("id") for slot in self.slots if isinstance(slot.get("id"), str)}
        self.discarded = {i for i in pool.get("discarded") or [] if isinstance(i, str)}
        self.containers = set(self.ids)
        self.pids = set()
        self.fds = 0
        for slot in self.slots:
            self.containers.update(c for c in slot.get("containers") or [] if isinstance(c, str))
            self.pids.update(p for p in slot.get("pids") or [] if isinstance(p, int) and p > 0)
            if isinstance(slot.get("fds"), int):
                self.fds += slot["fds"]
        # A server that counts slots being made ("creating") without listing
        # them leaves their containers unnamed: such a snapshot cannot tell
        # them from a request's.
        creating = pool.get("creating")
        self.unlisted = max(0, creating - len(self.creating())) if isinstance(creating, int) else 0
        self.complete = self.unlisted == 0

    def __repr__(self):
        return "PoolSnapshot(%r)" % (self.raw,)

    def holds(self, cid):
        """True when cid is a slot's id or one of its containers."""
        return cid in self.containers

    def creating(self):
        return [slot for slot in self.slots if slot.get("state") == "creating"]

    def discarded_unused(self, cid):
        """True when cid is (a container of) a slot the pool deleted without
        serving a request."""
        return cid.split("-compile")[0] in self.discarded

    def idle_slots(self, language=None):
        return [slot for slot in self.slots if slot.get("state") == "idle"
                and (language is None or slot.get("language") == language)]

    def owns_process(self, pid):
        """True when process pid is a slot's: a container's init that the
        slot lists, or a process in a slot container's cgroup, or one whose
        command line names a slot container (runc creating it), so that a
        slot being made is not taken for a leak."""
        if pid in self.pids:
            return True
        if not self.containers:
            return False
        words = set(cmdline(pid).split())
        if words & self.containers:
            return True
        try:
            with open("/proc/%d/cgroup" % pid) as f:
                text = f.read()
        except OSError:
            return False
        for cid in self.containers:
            if "/codeengine/%s\n" % cid in text or "/codeengine-%s.scope\n" % cid in text:
                return True
        return False

    def owns_path(self, path, exec_dir):
        """True when path is (under) a slot's work dir EXEC_DIR/<slot id>."""
        rel = os.path.relpath(path, exec_dir)
        return not rel.startswith("..") and rel.split(os.sep)[0] in self.ids


class PoolFilter:
    """Tells a request's containers from a server's warm pool slots while a
    monitor watches the server.

    The monitor reports every id it sees (see()); an id becomes the
    request's ("busy") once a GET /ready made after the id was first seen
    neither lists it (as a slot being made, idle or being deleted) nor names
    it among the slots deleted unused.  A slot is taken exactly once and ids
    are never reused, so a busy id stays busy; what is still listed at the
    last look (an idle slot, a slot made while the test ran) is the pool's.
    Call refresh(True) once more after the request ended, then ask
    is_busy()."""

    def __init__(self, server, interval=0.1):
        self.server = server
        self.interval = interval
        self.first_seen = {}
        self.listed = set()  # ids some snapshot listed as the pool's
        self.busy = set()
        self._last = None

    def see(self, ids):
        now = time.monotonic()
        for cid in ids:
            self.first_seen.setdefault(cid, now)
        if any(cid not in self.busy for cid in ids):
            self.refresh()

    def refresh(self, force=False):
        """Ask the server (at most every interval, unless force).  A snapshot
        with unnamed slots in the making (not complete) decides nothing; the
        last, forced look waits a little for a complete one."""
        started = time.monotonic()
        if not force and self._last is not None and started - self._last < self.interval:
            return
        pool = self.server.warm_pool()
        deadline = started + (LEFTOVER_GRACE if force else 0)
        while not pool.complete and time.monotonic() < deadline:
            time.sleep(0.1)
            started = time.monotonic()
            pool = self.server.warm_pool()
        self._last = started
        # A listed slot that is no longer listed was taken: busy, whatever
        # else the snapshot leaves unnamed.
        decide = pool.complete or force
        for cid, seen in self.first_seen.items():
            if pool.holds(cid) or pool.discarded_unused(cid):
                self.listed.add(cid)
            elif seen <= started and (decide or cid in self.listed):
                self.busy.add(cid)

    def is_busy(self, cid):
        return cid in self.busy


class ContainerWatch:
    """A thread that looks at one server's containers every `interval`
    seconds while a `with` block lasts; subclasses say what to read.

    The containers are found in the server's exec dir: each execution's work
    dir is named by its id, and its containers are ID-compile (the compile
    stage, when the language has one) and ID (the run stage), listed in that
    order.  A listing is a plain directory read (a `runc list` per poll would
    be too slow to catch a short-lived cgroup).  Warm pool slots have work
    dirs and containers too: PoolFilter (self.pool) tells them from a
    request's, so report what you saw with self.pool.see() and keep what
    self.pool.is_busy() accepts.  On leaving the block the thread is stopped
    and the pool asked once more (refresh(force=True)), so that what is
    busy is decided by then.

    Subclasses override sample() (read one container; True when its cgroup
    was there) or, to follow containers another way, poll() (one look;
    finish() from inside it stops the thread early)."""

    INTERVAL = 0.02
    JOIN_TIMEOUT = 10.0

    def __init__(self, server, interval=None):
        self.server = server
        self.exec_dir = os.path.join(server.state_dir, "exec")
        self.interval = self.INTERVAL if interval is None else interval
        self.pool = PoolFilter(server)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(self.JOIN_TIMEOUT)
        self.pool.refresh(force=True)

    def containers(self):
        """The ids of every container the server may have now: per work dir
        in the exec dir, ID-compile then ID (whether they exist or not)."""
        try:
            executions = os.listdir(self.exec_dir)
        except OSError:
            return []
        return [cid for e in executions for cid in (e + "-compile", e)]

    def is_busy(self, cid):
        """True when cid was a request's container, not a warm pool slot's."""
        return self.pool.is_busy(cid)

    def sample(self, cid):
        """Read container cid's cgroup; True when it was there."""
        raise NotImplementedError

    def poll(self):
        """One look: sample every container and tell the pool filter which
        ones were there."""
        self.pool.see([cid for cid in self.containers() if self.sample(cid)])

    def finish(self):
        """Stop the thread after this poll (the watch has seen what it wanted)."""
        self._stop.set()

    def _run(self):
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)


# ---------------------------------------------------------------------------

class Server:
    """One codeengine process on a free loopback port with its own state dir."""

    def __init__(self, *extra_args, state_dir=None, own_state_dir=None, runtime=None, tag="server",
                 env=None, pass_state_dir=True, binary=None, bundles=None):
        """env: extra variables for the server (a None value removes one).
        pass_state_dir=False: no --state-dir flag, the server picks its default;
        state_dir must then say where that is (for the checks).  binary and
        bundles: the server and its --bundles (default SERVER and BUNDLES,
        from CE_SERVER and CE_BUNDLES; tools/bench passes its own)."""
        self.extra_args = [str(a) for a in extra_args]
        self.binary = binary or SERVER
        self.bundles = bundles or BUNDLES
        self.state_dir = state_dir
        self.env = dict(env or {})
        self.pass_state_dir = pass_state_dir
        if not pass_state_dir and state_dir is None:
            raise ValueError("pass_state_dir=False needs the expected state_dir")
        # the owner checks the dir at shutdown and removes it
        self.owns_state_dir = (state_dir is None) if own_state_dir is None else own_state_dir
        self.runtime = runtime or RUNC
        self.tag = tag
        self.proc = None
        self.port = None
        self.log_path = None
        self.stopped = False  # set when a test stops/kills the server on purpose
        self._shut_down = False
        self._log = None
        self.auth_token = None  # read from --auth-token-file at start, for GET /ready
        self.last_request_end = 0.0  # time.monotonic() when our last request's connection closed

    # -- life cycle ---------------------------------------------------------

    def command(self):
        state = ["--state-dir", self.state_dir] if self.pass_state_dir else []
        return ([self.binary, "--listen", "%s:%d" % (HOST, self.port), "--bundles", self.bundles] + state
                + ["--runtime", self.runtime] + self.extra_args)

    def start(self, timeout=60.0):
        if self.state_dir is None:
            self.state_dir = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-state-"))
        env = dict(os.environ)
        env[ENV_MARKER_NAME] = ENV_MARKER_VALUE
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        if "--auth-token-file" in self.extra_args[:-1]:
            with open(self.extra_args[self.extra_args.index("--auth-token-file") + 1]) as f:
                self.auth_token = f.read().strip()
        for attempt in range(3):
            self.port = free_port()
            self.log_path = _next_log_path(self.tag)
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    status, _, body = self.request("GET", "/health", timeout=5)
                    if status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not answer GET /health within %ss\n%s"
                                     % (timeout, self.log_tail()))
            log = self.log_text()
            if "in use" in log.lower() and attempt < 2:
                self._log.close()
                continue  # lost a race for the port; try another one
            raise AssertionError("server exited with code %s during startup: %s\n%s"
                                 % (self.proc.returncode, " ".join(self.command()), self.log_tail()))
        raise AssertionError("could not start server")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, no checks, no cleanup (simulates a crash)."""
        self.stopped = True
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=60)

    def send_signal(self, sig):
        self.stopped = True
        self.proc.send_signal(sig)

    def wait(self, timeout=60.0):
        return self.proc.wait(timeout=timeout)

    def shutdown(self, sig=signal.SIGTERM, timeout=60.0, check=True):
        """Stop the server; check exit code 0 and an empty state dir; clean up."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.proc is None:
            self.cleanup()
            return
        problems = []
        try:
            was_stopped = self.stopped
            self.stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    problems.append("server did not exit within %ss of %s" % (timeout, sig.name))
            elif not was_stopped:
                problems.append("server had already exited (code %s) before shutdown" % self.proc.returncode)
            rc = self.proc.returncode
            if check and self.owns_state_dir:
                if rc != 0 and not problems:
                    problems.append("server exit code %s, expected 0" % rc)
                ids = runc_list(self.state_dir)
                if ids:
                    problems.append("containers left after exit: %s" % ids)
                residue = state_dir_residue(self.state_dir)
                if residue:
                    problems.append("files left in state dir after exit: %s" % residue[:20])
                mounts = mounts_mentioning(self.state_dir)
                if mounts:
                    problems.append("mounts left after exit: %s" % [m[1] for m in mounts])
        finally:
            self.cleanup()
        if problems:
            raise AssertionError("server shutdown problems:\n  " + "\n  ".join(problems)
                                 + "\n" + self.log_tail())

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.state_dir and self.owns_state_dir:
            force_cleanup(self.state_dir)

    # -- logs ---------------------------------------------------------------

    def log_text(self):
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=25):
        # The harness's own GET /ready (the warm pool checks) would crowd it out.
        text = [line for line in self.log_text().splitlines() if "GET /ready - 200" not in line][-lines:]
        return "--- server log (%s), last %d lines ---\n%s" % (self.log_path, len(text), "\n".join(text))

    # -- HTTP ---------------------------------------------------------------

    def connection(self, timeout=EXEC_TIMEOUT):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=EXEC_TIMEOUT):
        """One request on a new connection: (status, headers, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            conn.close()
            self.last_request_end = time.monotonic()

    def request_json(self, method, path, body=None, headers=None, timeout=EXEC_TIMEOUT):
        """Like request() but the body must be JSON: (status, headers, obj)."""
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        return status, hdrs, parse_json(data)

    def post_execute(self, body, content_type="application/json", timeout=EXEC_TIMEOUT):
        """POST raw bytes (or a str) to /execute; the answer must be JSON."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request_json("POST", "/execute", body, {"Content-Type": content_type}, timeout)

    def execute(self, code, language="python3", timeout=EXEC_TIMEOUT, ensure_ascii=True, **extra):
        """POST /execute {"language":..., "code":...}: (status, headers, json)."""
        payload = {"language": language, "code": code}
        payload.update(extra)
        return self.post_execute(json.dumps(payload, ensure_ascii=ensure_ascii).encode("utf-8"),
                                 timeout=timeout)

    def warm_pool(self, timeout=10.0):
        """The warm pool as GET /ready reports it now (a PoolSnapshot; empty
        when the server is not running or reports no pool)."""
        if not self.alive() or self.port is None:
            return PoolSnapshot()
        headers = {"Authorization": "Bearer " + self.auth_token} if self.auth_token else {}
        try:
            status, _, data = self.request("GET", "/ready", headers=headers, timeout=timeout)
            ready = json.loads(data.decode("utf-8")) if status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            ready = None
        return PoolSnapshot(ready)

    def health(self, timeout=30.0):
        status, _, body = self.request("GET", "/health", timeout=timeout)
        return status, body

    def raw_exchange(self, data, timeout=30.0):
        """Send raw bytes on a fresh socket; return everything read until close/timeout."""
        with socket.create_connection((HOST, self.port), timeout=timeout) as s:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if _complete_http_response(b"".join(chunks)):
                        break
            except (ConnectionResetError, socket.timeout):
                pass
            return b"".join(chunks)

    # -- leftovers ------------------------------------------------------------

    def leftover_problems(self):
        """What a request left behind on a running server (or what a dead one
        left), its warm pool's slots excepted.  The host is looked at first,
        the pool asked for second."""
        problems = []
        if self.proc is not None and not self.stopped and self.proc.poll() is not None:
            problems.append("server died unexpectedly (exit code %s)" % self.proc.returncode)
        try:
            ids = runc_list(self.state_dir)
        except Exception as e:  # noqa: BLE001
            ids = []
            problems.append(str(e))
        exec_dir = os.path.join(self.state_dir, "exec")
        entries = os.listdir(exec_dir) if os.path.isdir(exec_dir) else []
        mounts = mounts_mentioning(self.state_dir)
        kids = child_pids_and_descriptions(self.proc.pid) if self.alive() else []
        pool = self.warm_pool() if (ids or entries or mounts or kids) else PoolSnapshot()
        ids = [cid for cid in ids if not pool.holds(cid)]
        if ids:
            problems.append("runc --root %s list -q shows: %s" % (runc_root(self.state_dir), ids))
        entries = [e for e in entries if e not in pool.ids]
        if entries:
            problems.append("%s is not empty: %s" % (exec_dir, entries))
        mounts = [m for m in mounts if not pool.owns_path(m[0], exec_dir)]
        if mounts:
            problems.append("mounts mention the state dir: %s" % [m[1] for m in mounts])
        kids = [desc for pid, desc in kids if not pool.owns_process(pid)]
        if kids:
            problems.append("server (pid %d) still has children: %s" % (self.proc.pid, kids))
        return problems


def _complete_http_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return False
    return False


def parse_raw_response(data):
    """(status, {lower-case header: value}, body) of a raw HTTP/1.x response."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no complete HTTP response: %r" % data[:300])
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise AssertionError("bad status line: %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(parts[1]), headers, body


# ---------------------------------------------------------------------------

ANY = object()  # assert_result(signal=...) default: the signal is not checked


class CETestCase(unittest.TestCase):
    """Base class: shared server per class and a leftover check after each test."""

    server_args = ()      # flags for the class-wide server
    class_server = True   # False: each test starts what it needs via start_server()
    server = None

    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.class_server:
            server = Server(*cls.server_args, tag=cls.__name__)
            try:
                server.start()
            except BaseException:
                server.cleanup()
                raise
            cls.server = server

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        if server is not None:
            server.shutdown()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.servers = [self.server] if self.server is not None else []
        self.cgroup_baseline = cgroup_container_dirs()

    def new_cgroup_dirs(self):
        """Container cgroup dirs created since setUp, except another server's
        and our servers' warm pool slots'."""
        new = cgroup_container_dirs() - self.cgroup_baseline
        if not new:
            return []
        pools = [s.warm_pool() for s in self.servers]
        new = {p for p in new if not any(pool.holds(cgroup_dir_container(p)) for pool in pools)}
        own_state_dirs = [s.state_dir for s in self.servers]
        own_pids = {s.proc.pid for s in self.servers if s.proc is not None}
        verdict = {}
        for name in {cgroup_dir_container(p) for p in new}:
            verdict[name] = foreign_cgroup(name, own_state_dirs, own_pids)
        return sorted(p for p in new if not verdict[cgroup_dir_container(p)])

    def start_server(self, *args, **kwargs):
        """Start an extra server for this test; it is stopped (and checked) afterwards."""
        kwargs.setdefault("tag", self._testMethodName)
        server = Server(*args, **kwargs)
        self.addCleanup(server.shutdown)
        server.start()
        self.servers.append(server)
        return server

    def checked_servers(self):
        """One server per state dir: a server restarted on a crashed one's
        state dir answers for it (its warm pool is the one to leave out)."""
        by_dir = {}
        for server in self.servers:
            if server.state_dir not in by_dir or server.alive():
                by_dir[server.state_dir] = server
        return list(by_dir.values())

    def tearDown(self):
        def problems():
            found = []
            for server in self.checked_servers():
                found += server.leftover_problems()
            new_cgroups = self.new_cgroup_dirs()
            if new_cgroups:
                found.append("cgroup dirs left: %s" % new_cgroups)
            return found

        left = poll(problems, LEFTOVER_GRACE)
        if left:
            for p in self.new_cgroup_dirs():
                try:
                    os.rmdir(p)  # so that one leak does not hide later ones
                except OSError:
                    pass
            logs = "\n".join(s.log_tail(10) for s in self.servers)
            self.fail("leftovers after the test:\n  " + "\n  ".join(left) + "\n" + logs)
        super().tearDown()

    # -- assertions -------------------------------------------------------------

    def assert_result_shape(self, body):
        """A completed execution: exactly RESULT_KEYS ("output" first), well typed and consistent."""
        self.assertIsInstance(body, dict, "response is not a JSON object: %r" % (body,))
        self.assertEqual(sorted(body), sorted(RESULT_KEYS), "unexpected keys in %r" % (body,))
        self.assertIn(body["limit_mode"], LIMIT_MODES, body)
        self.assertEqual(next(iter(body)), "output", "'output' must come first: %r" % (body,))
        for key in ("output", "stdout", "stderr", "language", "version"):
            self.assertIsInstance(body[key], str, "%s is not a string: %r" % (key, body))
        self.assertTrue(body["language"] and body["version"], "empty language/version: %r" % (body,))
        self.assertTrue(type(body["exit_code"]) is int, "exit_code is not an integer: %r" % (body,))
        self.assertIn(body["status"], RESULT_STATUSES, body)
        self.assertTrue(type(body["truncated"]) is bool, "truncated is not a boolean: %r" % (body,))
        self.assertEqual(body["truncated"], body["status"] == "output_limit",
                         "truncated must be true exactly for output_limit: %r" % (body,))
        self.assertTrue(type(body["time_ms"]) is int, "time_ms is not an integer: %r" % (body,))
        self.assertGreaterEqual(body["time_ms"], 0, body)
        self.assertIsInstance(body["time"], dict, "time is not an object: %r" % (body,))
        self.assertEqual(sorted(body["time"]), sorted(TIME_KEYS), "unexpected keys in time: %r" % (body,))
        for key in TIME_KEYS:
            value = body["time"][key]
            self.assertTrue(type(value) is int and value >= 0, "time.%s: %r" % (key, body))
        self.assertEqual(body["time_ms"], body["time"]["wall_ms"], "time_ms must equal time.wall_ms: %r" % (body,))
        self.assertTrue(type(body["memory_kb"]) is int and body["memory_kb"] >= 0,
                        "memory_kb is not a non-negative integer: %r" % (body,))
        sig = body["signal"]
        if sig is not None:
            self.assertIsInstance(sig, str, "signal must be null or a string: %r" % (body,))
            self.assertRegex(sig, r"^SIG[A-Z0-9]+$", "signal name: %r" % (body,))
            if sig in signal.Signals.__members__:
                self.assertEqual(body["exit_code"], 128 + signal.Signals[sig].value,
                                 "exit_code must be 128 + the signal number: %r" % (body,))
        if body["status"] == "ok":
            self.assertEqual((body["exit_code"], sig), (0, None), "status ok needs exit 0, no signal: %r" % (body,))
        if not body["truncated"] and "\ufffd" not in body["output"]:
            # output is stdout and stderr interleaved: the same characters
            self.assertEqual(len(body["output"]), len(body["stdout"]) + len(body["stderr"]),
                             "output must be stdout + stderr merged: %r" % (body,))
            self.assertEqual(sorted(body["output"]), sorted(body["stdout"] + body["stderr"]),
                             "output must be stdout + stderr merged: %r" % (body,))

    def run_code(self, src, server=None, **kwargs):
        """Execute and require HTTP 200 with a well-formed result; return the result."""
        server = server or self.server
        status, _, body = server.execute(src, **kwargs)
        self.assertEqual(status, 200, "expected HTTP 200 for %r, got %d: %r" % (src[:200], status, body))
        self.assert_result_shape(body)
        return body

    def assert_result(self, body, status, exit_code=None, output=None, signal=ANY):
        """status, and exit_code, output and signal where given (signal=None: no signal)."""
        self.assertEqual(body["status"], status, "wrong status in %r" % (body,))
        if exit_code is not None:
            self.assertEqual(body["exit_code"], exit_code, "wrong exit_code in %r" % (body,))
        if output is not None:
            self.assertEqual(body["output"], output, "wrong output in %r" % (body,))
        if signal is not ANY:
            self.assertEqual(body["signal"], signal, "wrong signal in %r" % (body,))

    def assert_error(self, status, headers, body, expected_status):
        self.assertEqual(status, expected_status, "expected HTTP %d, got %d: %r"
                         % (expected_status, status, body))
        self.assertIsInstance(body, dict, "error body is not a JSON object: %r" % (body,))
        self.assertIsInstance(body.get("error"), str, "no 'error' string in %r" % (body,))
        self.assertTrue(body["error"].strip(), "empty 'error' in %r" % (body,))

    def assert_healthy(self, server=None):
        server = server or self.server
        status, body = server.health()
        self.assertEqual((status, body), (200, b"OK"), "GET /health")

    def get_json(self, path, server=None):
        """GET path; require 200 and return the JSON body."""
        server = server or self.server
        status, _, body = server.request_json("GET", path)
        self.assertEqual(status, 200, "GET %s: %r" % (path, body))
        return body

    def running_container(self, server, fut):
        """(id, runc state) of the one container running for fut (a future of
        server.execute or the like), polled from runc list (warm pool slots
        left out)."""
        cid = wait_for_container(server, done=fut.done)
        self.assertIsNotNone(cid, "the execution never showed up in runc --root %s list: %r"
                             % (runc_root(server.state_dir), fut.result() if fut.done() else None))
        return cid, runc_state(server.state_dir, cid)

    # -- the command line ---------------------------------------------------------

    def run_cli(self, *args):
        """Run the server binary with args (no stdin); it must exit within 20 s."""
        try:
            return subprocess.run([SERVER] + list(args), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("%s %s did not exit" % (SERVER, " ".join(args)))

    def cli_args(self, state_dir=None):
        """--listen, --state-dir and --bundles for a run_cli() that should fail:
        if the server wrongly starts anyway, it stays away from the defaults.
        The state dir (a fresh one unless given) is cleaned up afterwards."""
        if state_dir is None:
            state_dir = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-cli-"))
        self.addCleanup(force_cleanup, state_dir)
        return ["--listen", "%s:%d" % (HOST, free_port()), "--state-dir", state_dir, "--bundles", BUNDLES]

    # -- cgroup limits (root) -------------------------------------------------------

    def assert_cgroup_limits(self, send, memory_bytes, cpus, pids, server=None):
        """Run send() (a request for a program that sleeps a few seconds, then
        prints "slept"; it returns (status, headers, body)) and, while it runs,
        read its container's cgroup from the host (v1 or v2: read_cgroup_limits):
        the memory and memory+swap limits, the CPU quota in cores and pids.max
        must be these.  server: the one send() talks to (default: the class server)."""
        server = server or self.server
        seen, cid, given_up = {}, None, []
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(send)
            while not fut.done():
                found = wait_for_cgroup_container(server, done=fut.done, skip=given_up)
                if found is None:
                    break
                # The last complete reading while the program sleeps: a warm
                # slot gets the request's limits (runc update) just after it
                # is taken.
                reading = {}
                while not fut.done() and os.path.isdir(container_cgroup_dir(found)):
                    r = read_cgroup_limits(found)
                    if cgroup_limits_complete(r):
                        reading = r
                    time.sleep(0.05)
                # The latest container with a reading is the request's.
                if reading or cid is None:
                    cid, seen = found, reading
                if not fut.done():
                    # Gone while the request runs: a warm slot the server gave
                    # up on (its update failed; the request then runs in new
                    # containers, which replace it here), or the program
                    # ended (systemd removes an empty scope at once, before
                    # the server answers).
                    given_up.append(found)
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result(body, "ok", exit_code=0, output="slept\n")
        self.assertIsNotNone(cid, "never saw the container's cgroup (%s) while it ran"
                             % container_cgroup_dir("<id>"))
        self.assertEqual(seen.get("memory"), memory_bytes, seen)
        if seen.get("memory+swap") is not None:  # None: the kernel does not account swap
            self.assertEqual(seen.get("memory+swap"), memory_bytes, "memory+swap limit: %r" % seen)
        got = seen.get("cpus")
        self.assertTrue(isinstance(got, float) and abs(got - cpus) < 0.01,
                        "expected a CPU quota of %s core: %r" % (cpus, seen))
        self.assertEqual(seen.get("pids"), pids, seen)
