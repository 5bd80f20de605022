"""Helpers for test_cluster.py: several CodeEngine nodes sharing one Redis job
store behind HAProxy, all on 127.0.0.1 (Python standard library only).

Pieces:
  * RedisClient  a minimal RESP2 client (one socket, one command at a time):
                 enough for PING, INFO, XLEN, XPENDING, SCAN, MEMORY USAGE.
  * RedisServer  /usr/bin/redis-server on a free port with AOF (appendonly
                 yes, appendfsync everysec, no RDB snapshots) in its own temp
                 dir; kill() is kill -9 by pid, restart() starts it again on
                 the same dir and port (the nodes keep their --redis URL).
  * HAProxy      /usr/sbin/haproxy -db in front of the nodes: the repo's
                 deploy/haproxy.cfg with only its bind and server lines
                 rewritten (MINIMAL_CONFIG while that file does not exist).
  * Node         a ce.Server with the cluster flags (--redis, --node-id,
                 --job-lease, --job-attempts, --drain) that reads its own log:
                 which jobs it took (`job <id>: taken (attempt N)`) and when.
  * metrics      GET /metrics (Prometheus text) parsed into {name: value}.
  * http_request one request to a port, for HAProxy (a Server talks to its own).

Every process is started here with Popen and stopped by its pid; the temp
dirs are removed by cleanup().  Nothing is sent off the loopback.
"""

import datetime
import json
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import ce

REDIS_SERVER = os.environ.get("CE_REDIS_SERVER") or "/usr/bin/redis-server"
HAPROXY = os.environ.get("CE_HAPROXY") or "/usr/sbin/haproxy"
DEPLOY_HAPROXY_CFG = os.path.join(ce.REPO, "deploy", "haproxy.cfg")

# The stream, its consumer group and the per-job keys (the contract of
# src/store_redis.c that the tests may rely on; nothing more).
QUEUE = "codeengine:queue"
GROUP = "codeengine"
RESULT_PREFIX = "codeengine:result:"
JOB_PREFIX = "codeengine:job:"

# A node's log line when it takes a job to run (src/jobs.c).
TAKEN = re.compile(r"^(\S+Z) job ([0-9a-f]{32}): taken \(attempt (\d+)\)", re.M)

# Used only while deploy/haproxy.cfg does not exist: what a balancer in front
# of the nodes needs (health from GET /ready, so that a draining node leaves
# the rotation; retries of refused connections on another node).
MINIMAL_CONFIG = """\
global
    maxconn 1024

defaults
    mode http
    timeout connect 2s
    timeout client 150s
    timeout server 150s
    retries 3
    option redispatch

frontend codeengine
    bind 127.0.0.1:8080
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
    server node1 127.0.0.1:8081 check
"""


def missing_tools():
    """The cluster tools this host lacks (paths)."""
    return [p for p in (REDIS_SERVER, HAPROXY) if not os.access(p, os.X_OK)]


def log_time(stamp):
    """A node log line's stamp (2026-01-02T03:04:05.678Z, UTC) as epoch seconds."""
    dt = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def wait_for(fn, timeout, what, interval=0.05):
    """Call fn until it returns a truthy value; that value, or AssertionError
    naming `what` (a string, or a callable giving one) after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("after %.0fs still waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


def port_free(port):
    """True when a listener could bind port now (SO_REUSEADDR, as
    redis-server sets it: connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ce.HOST, port))
            return True
        except OSError:
            return False


def http_request(port, method, path, body=None, headers=None, timeout=ce.EXEC_TIMEOUT):
    """(status, headers, body bytes) of one request on a new connection to
    127.0.0.1:port; OSError and http.client.HTTPException pass through."""
    conn = http.client.HTTPConnection(ce.HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Redis

class RedisError(Exception):
    """An error reply (-ERR ...)."""


class RedisClient:
    def __init__(self, port, password=None, timeout=10.0):
        self.sock = socket.create_connection((ce.HOST, port), timeout=timeout)
        self.buf = b""
        if password is not None:
            self.command("AUTH", password)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError("unexpected reply %r" % line)

    # -- what the tests ask ---------------------------------------------------

    def info(self, section):
        text = self.command("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def scan_keys(self, pattern):
        keys, cursor = [], b"0"
        while True:
            cursor, batch = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys += [k.decode() for k in batch]
            if cursor == b"0":
                return keys

    def queue_counts(self):
        """(XLEN of the queue, pending entries of the group); (0, 0) when the
        stream does not exist."""
        if not self.command("EXISTS", QUEUE):
            return 0, 0
        length = self.command("XLEN", QUEUE)
        try:
            pending = self.command("XPENDING", QUEUE, GROUP)[0]
        except RedisError as e:
            if "NOGROUP" in str(e):
                return length, 0
            raise
        return length, pending


class RedisServer:
    """One redis-server with AOF on a free loopback port, in its own temp dir."""

    def __init__(self, password=None, tag="redis"):
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-redis-"))
        self.password = password
        self.port = None
        self.proc = None
        self.tag = tag
        self.log_path = None
        self.starts = 0

    @property
    def url(self):
        return "redis://%s:%d/0" % (ce.HOST, self.port)

    def command(self):
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", ce.HOST, "--dir", self.dir,
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--daemonize", "no", "--logfile", self.log_path]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        return argv

    def start(self, timeout=30.0):
        """Start (or start again on the same dir and port) and wait until it
        answers PING with its AOF loaded."""
        first = self.port is None
        for attempt in range(3):
            if first:
                self.port = ce.free_port()
            elif not port_free(self.port):
                # Someone took our port while Redis was down: the nodes only
                # know this one, so wait for it (bounded), never move.
                wait_for(lambda: port_free(self.port), 30, "port %d to be free again" % self.port, 0.2)
            self.starts += 1
            self.log_path = ce._next_log_path("%s-%d" % (self.tag, self.starts))
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with self.client(timeout=2) as c:
                        if c.command("PING") == "PONG" and c.info("persistence").get("loading") == "0":
                            return self
                except (OSError, RedisError):
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise AssertionError("redis-server did not answer within %ss\n%s" % (timeout, self.log_tail()))
            if first and "Address already in use" in self.log_text() and attempt < 2:
                continue
            raise AssertionError("redis-server exited with code %s\n%s" % (self.proc.returncode, self.log_tail()))
        raise AssertionError("could not start redis-server")

    restart = start

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9 by pid (a crash: the AOF stays as it was written)."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=60)

    def client(self, timeout=10.0):
        return RedisClient(self.port, self.password, timeout)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=15):
        text = self.log_text().splitlines()[-lines:]
        return "--- redis log (%s) ---\n%s" % (self.log_path, "\n".join(text))


# ---------------------------------------------------------------------------
# HAProxy

def haproxy_config(template, bind_port, servers):
    """template with only its bind and server lines rewritten: the first bind
    line listens on 127.0.0.1:bind_port (any other bind line, e.g. a stats
    page, on a free loopback port), its options kept; the server lines of a
    backend become one line per (name, port) of servers, each with the
    options of that backend's first server line."""
    out, first_bind, server_done = [], True, False
    for line in template.splitlines():
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        words = stripped.split()
        if words[:1] == ["bind"] and len(words) >= 2:
            port = bind_port if first_bind else ce.free_port()
            first_bind = False
            out.append("%sbind %s:%d %s" % (indent, ce.HOST, port, " ".join(words[2:])))
            continue
        if words[:1] in (["backend"], ["listen"], ["frontend"], ["defaults"], ["global"]):
            server_done = False
        if words[:1] == ["server"] and len(words) >= 3:
            if not server_done:
                opts = " ".join(words[3:])
                for name, port in servers:
                    out.append("%sserver %s %s:%d %s" % (indent, name, ce.HOST, port, opts))
                server_done = True
            continue
        out.append(line)
    return "\n".join(out) + "\n"


class HAProxy:
    def __init__(self, servers, tag="haproxy"):
        """servers: [(name, port)] of the nodes."""
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="ce-it-haproxy-"))
        self.servers = list(servers)
        self.port = None
        self.proc = None
        self.tag = tag
        self.log_path = None
        self.config_path = os.path.join(self.dir, "haproxy.cfg")
        self.template_path = DEPLOY_HAPROXY_CFG if os.path.exists(DEPLOY_HAPROXY_CFG) else None

    def start(self, timeout=30.0):
        if self.template_path:
            with open(self.template_path) as f:
                template = f.read()
        else:
            template = MINIMAL_CONFIG
        for attempt in range(3):
            self.port = ce.free_port()
            with open(self.config_path, "w") as f:
                f.write(haproxy_config(template, self.port, self.servers))
            self.log_path = ce._next_log_path(self.tag)
            log = open(self.log_path, "wb")
            try:
                # -db: stay in the foreground, whatever the config says, so
                # that our pid is HAProxy's.
                self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config_path],
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    status, _, _ = http_request(self.port, "GET", "/health", timeout=5)
                    if status == 200:
                        return self
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise AssertionError("haproxy did not pass GET /health within %ss\n%s"
                                     % (timeout, self.log_tail()))
            if "cannot bind" in self.log_text().lower() and attempt < 2:
                continue
            raise AssertionError("haproxy exited with code %s\n%s" % (self.proc.returncode, self.log_tail()))
        raise AssertionError("could not start haproxy")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=60)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=15):
        text = self.log_text().splitlines()[-lines:]
        return "--- haproxy log (%s, config %s from %s) ---\n%s" % (
            self.log_path, self.config_path, self.template_path or "MINIMAL_CONFIG", "\n".join(text))


# ---------------------------------------------------------------------------
# Nodes

class Node(ce.Server):
    """A cluster node: a ce.Server with --redis and --node-id."""

    def __init__(self, node_id, redis_url, *extra, lease=1.5, attempts=3, drain=0, **kwargs):
        self.node_id = node_id
        args = ["--redis", redis_url, "--node-id", node_id, "--job-lease", str(lease),
                "--job-attempts", str(attempts)]
        if drain:
            args += ["--drain", str(drain)]
        kwargs.setdefault("tag", node_id)
        super().__init__(*(args + [str(a) for a in extra]), **kwargs)

    def taken(self):
        """[(epoch seconds, job id, attempt)] of every `taken` line of this run."""
        return [(log_time(t), jid, int(n)) for t, jid, n in TAKEN.findall(self.log_text())]

    def metrics(self, timeout=10.0):
        status, _, data = self.request("GET", "/metrics", timeout=timeout)
        if status != 200:
            raise AssertionError("GET /metrics on %s: %d %r" % (self.node_id, status, data[:300]))
        return parse_metrics(data.decode("utf-8", "replace"))

    def ready(self, timeout=10.0):
        """(status, JSON or None) of GET /ready."""
        status, _, data = self.request("GET", "/ready", timeout=timeout)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, None


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """{name: value} of a Prometheus text page, the samples of one name
    (every label set) summed (histogram buckets keep their own names);
    series: [(name, {label: value}, value)] of every sample."""

    def __init__(self, text):
        super().__init__()
        self.series = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = _SAMPLE.match(line)
            if not m:
                continue
            try:
                value = float(m.group(3))
            except ValueError:
                continue
            self[m.group(1)] = self.get(m.group(1), 0.0) + value
            self.series.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), value))

    def total(self, name, **labels):
        """The sum of name's samples whose labels include labels."""
        return sum(v for n, ls, v in self.series
                   if n == name and all(ls.get(k) == want for k, want in labels.items()))


def parse_metrics(text):
    return Metrics(text)
