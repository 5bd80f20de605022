"""Scale-out on Redis Streams: several nodes share one job store (--redis),
HAProxy in front, on one machine over the loopback.

  * test_cluster_survives_a_node_and_redis_crash: redis-server with AOF,
    three nodes, HAProxy; 200 jobs with client-chosen ids (Idempotency-Key on
    every stored one), sync and async, native and Judge0, python3, c and
    javascript, through HAProxy and straight to the nodes.  One node is
    kill -9'd while it runs a job, later redis-server is kill -9'd and started
    again on its dir.  Every accepted job has exactly one result, the dead
    node's jobs ran again on the survivors, the queue and the group's pending
    list end empty, the killed node (restarted on its state dir) leaves no
    container or cgroup, and the /metrics counters agree with the logs and
    with what the test sent.
  * test_poison_job_is_given_up: a job whose every run kills its node (the
    test kill -9s whichever node logs `taken` for it, and restarts it) ends
    failed ("abandoned") after --job-attempts 3.
  * test_redis_down_then_up: without Redis, sync /execute still runs, async
    POST /executions answers 503, /ready answers 200 and says the store is
    down; with Redis back, jobs are taken again and each node reconnected.
  * test_drain_loses_nothing: a node stopped with SIGTERM under --drain
    answers /ready 503 first; every accepted job still gets one result.

The figures the closing note needs are printed as `FIGURE:` lines (jobs/s
through one node and through three, the time from a node's death to its
jobs' re-run, Redis memory per 10,000 results); no test asserts on speed.
Waits are polls with deadlines (hang guards).  Every process started here
(redis-server, haproxy, nodes) is stopped by its pid in the cleanups.

Timing knobs (environment, for a slow machine): CE_CLUSTER_LEASE (--job-lease,
default 1.5 s), CE_CLUSTER_SLEEP (the long jobs, default 2.5 s),
CE_CLUSTER_DRAIN (--drain, default 1 s).  Without redis-server or haproxy the
tests skip (run.py: 77), except under CI=true, where that is a failure.
"""

import http.client
import json
import os
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import ce
import cluster
from ce import CETestCase

LEASE = float(os.environ.get("CE_CLUSTER_LEASE") or 1.5)
SLEEP = float(os.environ.get("CE_CLUSTER_SLEEP") or 2.5)
DRAIN = float(os.environ.get("CE_CLUSTER_DRAIN") or 1.0)
ATTEMPTS = 3
JOBS = 200
# Few workers per node on a 2-core machine, no warm pool: less load, same paths.
NODE_ARGS = ("--warm-pool", "0", "--max-concurrent", "4")
DONE_TIMEOUT = 240.0    # hang guard: every accepted job done
SUBMIT_TIMEOUT = 120.0  # hang guard: one job's submit, retries included
LANGUAGES = ("python3", "c", "javascript")
RETRY_STATUSES = (None, 500, 502, 503, 504)  # None: no answer (connection refused or cut)


def figure(text):
    print("\nFIGURE: %s" % text, flush=True)


def judge0_ids():
    """{language name: its first Judge0 id} from the bundles' bundle.json."""
    ids = {}
    for name in os.listdir(ce.BUNDLES):
        try:
            with open(os.path.join(ce.BUNDLES, name, "bundle.json")) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        for lang in doc.get("languages", [doc]):
            if lang.get("judge0"):
                ids[lang["name"]] = lang["judge0"][0]["id"]
    return ids


def program(language, key, sleep=0.0):
    """A tiny program printing key (a [a-z0-9-] string) and a newline."""
    if language == "python3":
        return ("import time\ntime.sleep(%s)\nprint(%r)\n" % (sleep, key)) if sleep else "print(%r)\n" % key
    assert not sleep, "only python3 sleeps"
    if language == "c":
        return '#include <stdio.h>\nint main(void) { puts("%s"); return 0; }\n' % key
    if language == "javascript":
        return 'console.log("%s");\n' % key
    raise ValueError(language)


class Job:
    """One job of the test: how it is sent (kind, target) and what came back.

    kind: "sync" (POST /execute), "async" (POST /executions), "j0"
    (POST /judge0/submissions?wait=false), "j0wait" (wait=true).  Every kind
    but sync carries Idempotency-Key: key.  target: "haproxy" or a node name
    (a dead node's jobs go through HAProxy instead, as a client would)."""

    def __init__(self, key, kind, language, target, sleep=0.0, repeat_via=None):
        self.key, self.kind, self.language, self.target = key, kind, language, target
        self.sleep = sleep
        self.repeat_via = repeat_via  # async: sent again there, same key: same id
        self.code = program(language, key, sleep)
        self.expected = key + "\n"
        self.id = None          # the store's id (32 hex), once accepted
        self.token = None       # Judge0's spelling of it
        self.repeat_ids = []
        self.sync_result = None
        self.final = None       # (output, status, doc) once done
        self.error = None
        self.tries = []         # (target, HTTP status or None)
        self.accepted_at = None  # time.monotonic()

    @property
    def stored(self):
        return self.kind != "sync"

    def __repr__(self):
        return "Job(%s %s %s via %s id %s tries %s error %s)" % (
            self.key, self.kind, self.language, self.target, self.id, self.tries[-4:], self.error)


class Gate:
    """Lets the test pause the clients: closed() waits until no counted
    request is in flight, and holds new ones back while its block runs (a
    node's counters are read, then the node killed, with nothing on the way)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.is_open = True
        self.inflight = 0
        self.aborted = False  # the test failed: clients give up at once

    def abort(self):
        with self.cond:
            self.aborted = True
            self.is_open = True
            self.cond.notify_all()

    @contextmanager
    def request(self, counted=True):
        with self.cond:
            if not self.cond.wait_for(lambda: self.is_open, 300):
                raise AssertionError("the gate stayed closed")
            if counted:
                self.inflight += 1
        try:
            yield
        finally:
            if counted:
                with self.cond:
                    self.inflight -= 1
                    self.cond.notify_all()

    @contextmanager
    def closed(self, timeout=150):
        with self.cond:
            self.is_open = False
            drained = self.cond.wait_for(lambda: self.inflight == 0, timeout)
        try:
            if not drained:
                raise AssertionError("requests still in flight after %ss" % timeout)
            yield
        finally:
            with self.cond:
                self.is_open = True
                self.cond.notify_all()


class ClusterCase(CETestCase):
    class_server = False

    def setUp(self):
        missing = cluster.missing_tools()
        if missing:
            if os.environ.get("CI") == "true":
                self.fail("the cluster tests need %s (CI=true)" % " and ".join(missing))
            self.skipTest("%s not installed" % " and ".join(missing))
        super().setUp()
        self.nodes = {}  # name -> the node's current run (a cluster.Node)
        self.runs = []   # every run of every node, in start order
        self.haproxy = None
        self.gate = Gate()
        self.j0 = judge0_ids()

    # -- processes ---------------------------------------------------------------

    def start_redis(self, **kwargs):
        redis = cluster.RedisServer(tag="%s-redis" % self._testMethodName, **kwargs)
        self.addCleanup(redis.cleanup)  # registered first: stopped after the nodes
        redis.start()
        self.redis = redis
        return redis

    def start_node(self, name, *extra, state_dir=None, lease=LEASE, attempts=ATTEMPTS, drain=0):
        """Start node `name` (again, on state_dir, when given: it then owns
        that dir and checks it at shutdown)."""
        node = cluster.Node(name, self.redis.url, *(NODE_ARGS + extra), lease=lease, attempts=attempts,
                            drain=drain, state_dir=state_dir, own_state_dir=True,
                            tag="%s-%s" % (self._testMethodName, name))
        self.addCleanup(node.shutdown)
        node.start()
        self.servers.append(node)
        self.nodes[name] = node
        self.runs.append(node)
        return node

    def kill_node(self, name):
        """kill -9 the node's process by pid; its state dir (containers still
        running in it) is left to its next run."""
        node = self.nodes[name]
        node.owns_state_dir = False  # the next run on it checks and removes it
        self.addCleanup(ce.force_cleanup, node.state_dir)  # if there is no next run
        node.kill()
        return time.time()

    def restart_node(self, name, **kwargs):
        old = self.nodes[name]
        self.assertFalse(old.alive(), "%s still runs" % name)
        return self.start_node(name, state_dir=old.state_dir, **kwargs)

    def start_haproxy(self):
        self.haproxy = cluster.HAProxy([(n, node.port) for n, node in sorted(self.nodes.items())],
                                       tag="%s-haproxy" % self._testMethodName)
        self.addCleanup(self.haproxy.cleanup)
        self.haproxy.start()
        return self.haproxy

    def logs(self):
        parts = [run.log_tail(15) for run in self.runs]
        if self.haproxy:
            parts.append(self.haproxy.log_tail(10))
        parts.append(self.redis.log_tail(10))
        return "\n".join(parts)

    # -- clients -------------------------------------------------------------------

    def port_for(self, target):
        if target == "haproxy":
            return self.haproxy.port
        node = self.nodes[target]
        if node.alive() and not node.stopped:
            return node.port
        if self.haproxy is None:
            live = [n for n in self.nodes.values() if n.alive() and not n.stopped]
            return live[0].port
        return self.haproxy.port

    def any_port(self):
        return self.haproxy.port if self.haproxy else self.port_for(sorted(self.nodes)[0])

    def _submit_request(self, job, target):
        if job.kind == "sync":
            return "POST", "/execute", {"language": job.language, "code": job.code}
        if job.kind == "async":
            return "POST", "/executions", {"language": job.language, "code": job.code}
        return ("POST", "/judge0/submissions?base64_encoded=false&wait=%s"
                % ("true" if job.kind == "j0wait" else "false"),
                {"source_code": job.code, "language_id": self.j0[job.language]})

    def send(self, job, target, deadline):
        """Send job's submit to target until it is answered for good (a
        client that retries: 502/503/504/500 or no answer, with the same
        Idempotency-Key).  (status, document or None)."""
        method, path, payload = self._submit_request(job, target)
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if job.stored:
            headers["Idempotency-Key"] = job.key
        pause = 0.05
        while True:
            if self.gate.aborted:
                return None, b"the test failed meanwhile"
            port = self.port_for(target)
            with self.gate.request(counted=job.kind != "j0wait"):
                try:
                    status, _, data = cluster.http_request(port, method, path, body, headers, timeout=150)
                except (OSError, http.client.HTTPException):
                    status, data = None, b""
            job.tries.append((target, status))
            if status not in RETRY_STATUSES:
                try:
                    return status, json.loads(data)
                except ValueError:
                    return status, data
            if time.monotonic() > deadline:
                return status, data
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def submit(self, job):
        """Submit job (retrying as a client would); fills job.id or
        job.sync_result, or job.error."""
        deadline = time.monotonic() + SUBMIT_TIMEOUT
        status, doc = self.send(job, job.target, deadline)
        want = {"sync": 200, "async": 202, "j0": 201, "j0wait": 201}[job.kind]
        if status != want:
            job.error = "HTTP %s: %r" % (status, doc if isinstance(doc, dict) else doc[:300])
            return job
        job.accepted_at = time.monotonic()
        if job.kind == "sync":
            job.sync_result = doc
            return job
        if job.kind == "async":
            job.id = doc.get("id")
        else:
            job.token = doc.get("token")
            job.id = (job.token or "").replace("-", "")
        if job.repeat_via:
            status, doc = self.send(job, job.repeat_via, deadline)
            job.repeat_ids.append(doc.get("id") if status == 202 and isinstance(doc, dict) else
                                  "HTTP %s %r" % (status, doc))
        return job

    def read(self, job):
        """(done, output, status, doc) of a stored job read through HAProxy
        (or any node); done False while it is not (or the read failed)."""
        if job.kind == "async":
            path = "/executions/" + job.id
        else:
            path = "/judge0/submissions/%s?base64_encoded=false&fields=token,stdout,stderr,status," \
                   "compile_output,message" % job.token
        try:
            status, _, data = cluster.http_request(self.any_port(), "GET", path, timeout=30)
        except (OSError, http.client.HTTPException):
            return False, None, None, None
        if status != 200:
            return False, None, None, (status, data[:300])
        doc = json.loads(data)
        if job.kind == "async":
            if doc["state"] != "done":
                return False, None, None, doc
            res = doc["result"] or {}
            return True, res.get("output"), res.get("status"), doc
        if doc["status"]["id"] in (1, 2):
            return False, None, None, doc
        return True, doc.get("stdout"), doc["status"]["description"], doc

    def wait_all(self, jobs, timeout=DONE_TIMEOUT):
        """Poll every accepted stored job until it is done (job.final)."""
        pending = [j for j in jobs if j.stored and j.id and j.final is None]
        deadline = time.monotonic() + timeout
        while pending:
            for job in list(pending):
                done, output, status, doc = self.read(job)
                if done:
                    job.final = (output, status, doc)
                    pending.remove(job)
            if not pending:
                break
            if time.monotonic() > deadline:
                last = [(j, self.read(j)[3]) for j in pending[:5]]
                self.fail("%d job(s) not done after %ss, e.g. %r\n%s" % (len(pending), timeout, last, self.logs()))
            time.sleep(0.2)

    @contextmanager
    def clients(self, n):
        """A pool of n client threads; if the block fails, they stop retrying
        (else the pool would wait for every job's SUBMIT_TIMEOUT)."""
        pool = ThreadPoolExecutor(n)
        try:
            yield pool
        except BaseException:
            self.gate.abort()
            raise
        finally:
            pool.shutdown(wait=True)

    def run_jobs(self, pool, jobs):
        return [pool.submit(self.submit, job) for job in jobs]

    # -- the store ------------------------------------------------------------------

    def assert_queue_empty(self, timeout=15.0):
        with self.redis.client() as r:
            counts = ce.poll(lambda: (lambda c: c if c != (0, 0) else None)(r.queue_counts()), timeout)
        self.assertIsNone(counts, "XLEN %s / XPENDING %s %s: %s left\n%s"
                          % (cluster.QUEUE, cluster.QUEUE, cluster.GROUP, counts, self.logs()))

    def taken_by_job(self, runs=None):
        """{job id: [(time, run, attempt)]} from every run's log, by time."""
        out = {}
        for run in runs or self.runs:
            for t, jid, attempt in run.taken():
                out.setdefault(jid, []).append((t, run, attempt))
        for v in out.values():
            v.sort(key=lambda e: (e[2], e[0]))
        return out

    def assert_attempts_in_order(self, taken):
        """Each job's `taken` lines count 1, 2, ... once each: no attempt was
        given to two nodes."""
        for jid, entries in taken.items():
            attempts = [a for _, _, a in entries]
            self.assertEqual(attempts, list(range(1, len(attempts) + 1)),
                             "job %s taken as %s: %s" % (jid, attempts,
                                                         [(r.node_id, a) for _, r, a in entries]))

    def assert_one_result_each(self, jobs):
        """Every job answered with its own output, every stored one once:
        one id per key, the same id for a repeated key, and exactly the
        accepted ids have a result in Redis."""
        problems = []
        for job in jobs:
            if job.error:
                problems.append("%r" % job)
            elif job.kind == "sync":
                res = job.sync_result
                if (res.get("output"), res.get("status")) != (job.expected, "ok"):
                    problems.append("%r answered %r" % (job, res))
            else:
                output, status, doc = job.final
                if output != job.expected or status not in ("ok", "Accepted"):
                    problems.append("%r ended %r" % (job, doc))
                if any(i != job.id for i in job.repeat_ids):
                    problems.append("%r: the same key again gave %r" % (job, job.repeat_ids))
        self.assertEqual(problems, [], "\n".join(problems[:20]) + "\n" + self.logs())
        stored = [j for j in jobs if j.stored]
        ids = {j.id for j in stored}
        self.assertEqual(len(ids), len(stored), "two keys shared an id")
        with self.redis.client() as r:
            results = {k[len(cluster.RESULT_PREFIX):] for k in r.scan_keys(cluster.RESULT_PREFIX + "*")}
        self.assertEqual(sorted(results - ids), [], "results in Redis that no accepted job has")
        self.assertEqual(sorted(ids - results), [], "accepted jobs without a result in Redis")

    # -- metrics -------------------------------------------------------------------

    def scrape(self, node):
        return node.metrics()

    def counter(self, scraped, event):
        """codeengine_jobs_<event>_total, or codeengine_job_<event>_total
        for the store's own (store_errors, store_reconnects)."""
        name = ("codeengine_job_%s_total" if event.startswith("store_") else "codeengine_jobs_%s_total") % event
        return int(scraped.get(name, 0))


class ClusterTests(ClusterCase):

    def mixed_jobs(self, prefix, count, langs, start=0):
        """count jobs of every kind, language and route, in a fixed order."""
        jobs = []
        node_names = sorted(self.nodes)
        for n in range(start, start + count):
            key = "%s-%03d" % (prefix, n)
            lang = langs[n % len(langs)] if n % 5 in (1, 3) else "python3"
            slot = n % 10
            direct = node_names[n % len(node_names)]
            if slot <= 4:
                target = "haproxy" if n % 2 == 0 else direct
                jobs.append(cluster_job(key, "async", lang, target,
                                        repeat_via="haproxy" if n % 5 == 0 else None))
            elif slot <= 6:
                jobs.append(cluster_job(key, "j0", lang, "haproxy" if n % 2 else direct))
            elif slot == 7:
                # wait=true holds its connection until the job ends: only to
                # nodes that live through the test (see the Gate).
                jobs.append(cluster_job(key, "j0wait", lang, node_names[n % 2]))
            else:
                jobs.append(cluster_job(key, "sync", lang, "haproxy" if n % 2 else direct))
        return jobs

    def test_cluster_survives_a_node_and_redis_crash(self):
        run = "c%d" % (os.getpid() % 100000)
        redis = self.start_redis()
        for name in ("n1", "n2", "n3"):
            self.start_node(name)
        self.start_haproxy()
        victim, survivors = "n3", ("n1", "n2")
        names = {e["name"] for e in self.get_json("/languages", self.nodes["n1"]) if e["available"]}
        langs = [l for l in LANGUAGES if l in names]
        print("\nlanguages: %s; haproxy config from %s" % (langs, self.haproxy.template_path or "MINIMAL_CONFIG"))
        with redis.client() as r:
            memory_before = int(r.info("memory")["used_memory"])
        jobs = []

        with self.clients(8) as pool:
            # 3 + 48 sync: warm each node up, then the same batch through one
            # node and through HAProxy (three).
            warm = [cluster_job("%s-warm-%s" % (run, n), "sync", "python3", n) for n in sorted(self.nodes)]
            for f in self.run_jobs(pool, warm):
                f.result()
            jobs += warm
            rates = {}
            for via in ("n1", "haproxy"):
                batch = [cluster_job("%s-tp-%s-%02d" % (run, via, i), "sync", "python3", via) for i in range(24)]
                started = time.monotonic()
                with ThreadPoolExecutor(6) as tp:
                    for f in [tp.submit(self.submit, j) for j in batch]:
                        f.result()
                rates[via] = len(batch) / (time.monotonic() - started)
                jobs += batch
            figure("sync python3 print jobs, 6 clients, 24 jobs: %.2f jobs/s through one node (n1), "
                   "%.2f jobs/s through HAProxy to three nodes (one 2-core machine)"
                   % (rates["n1"], rates["haproxy"]))

            # Phase 1: 9 long jobs (3 straight to each node) and 70 mixed.
            sleepers = [cluster_job("%s-sleep-%d" % (run, i), "async", "python3", sorted(self.nodes)[i % 3],
                                    sleep=SLEEP) for i in range(9)]
            phase1 = sleepers + self.mixed_jobs(run, 70, langs)
            futures = self.run_jobs(pool, phase1)
            jobs += phase1
            sleeper_ids = lambda: {j.id for j in sleepers if j.id}  # noqa: E731

            # kill -9 the victim while it runs a long job.
            def held():
                for _, jid, _ in self.nodes[victim].taken():
                    if jid in sleeper_ids():
                        with redis.client() as r:
                            if not r.command("EXISTS", cluster.RESULT_PREFIX + jid):
                                return jid
                return None
            held_sleeper = cluster.wait_for(held, 90, lambda: "%s to take a long job\n%s" % (victim, self.logs()))
            with self.gate.closed():
                before_kill = self.scrape(self.nodes[victim])
                victim_run = self.nodes[victim]
                killed_at = self.kill_node(victim)
            for f in futures:
                f.result()

            # Phase 2: 70 more (3 of them long), redis-server kill -9'd and
            # started again while jobs are queued and running.
            phase2 = [cluster_job("%s-sleep2-%d" % (run, i), "async", "python3", "haproxy", sleep=SLEEP)
                      for i in range(3)] + self.mixed_jobs(run, 67, langs, start=70)
            futures = self.run_jobs(pool, phase2)
            jobs += phase2

            def busy():
                with redis.client() as r:
                    length, pending = r.queue_counts()
                return length + pending > 0 and sum(f.done() for f in futures) >= 15
            cluster.wait_for(busy, 90, "jobs queued or running in phase 2")
            accepted_before_redis_kill = [j for j in jobs if j.id]
            with self.gate.closed():
                redis.kill()
                redis_killed = time.monotonic()
            # Clients keep sending meanwhile (async: 503, retried).
            time.sleep(max(2.0, LEASE + 0.5))
            redis.restart()
            redis_back = time.monotonic()
            for f in futures:
                f.result()

        self.assertEqual(len(jobs), JOBS)
        self.wait_all(jobs)
        firsts = [j.accepted_at for j in jobs if j.stored and j.accepted_at and j.accepted_at > redis_back]
        figure("Redis down %.1f s (kill -9, restart on its AOF dir): first async job accepted %.2f s after "
               "the restart" % (redis_back - redis_killed, (min(firsts) - redis_back) if firsts else float("nan")))

        # The victim again, on its state dir: it removes what its crash left.
        self.restart_node(victim)
        self.assert_queue_empty()

        # Exactly one result per accepted job; none lost across Redis' restart.
        self.assert_one_result_each(jobs)
        self.assertTrue(all(j.final for j in accepted_before_redis_kill if j.stored))

        # Each attempt of a job was taken once, and the attempts a native job
        # reports are the times it was taken.
        taken = self.taken_by_job()
        self.assert_attempts_in_order(taken)
        for job in jobs:
            if job.stored:
                self.assertIn(job.id, taken, "%r was never taken" % job)
            if job.kind == "async":
                self.assertEqual(job.final[2]["attempts"], len(taken[job.id]), (job, job.final[2]))

        # The victim's unfinished jobs ran again on the survivors.
        rerun = {}
        for jid, entries in taken.items():
            for i, (t, run_, attempt) in enumerate(entries):
                if run_ is victim_run and i + 1 < len(entries):
                    nxt = entries[i + 1]
                    self.assertIn(nxt[1].node_id, survivors, (jid, [(r.node_id, a) for _, r, a in entries]))
                    rerun[jid] = nxt[0] - killed_at
        self.assertIn(held_sleeper, rerun, "the long job %s held by %s at the kill was not run again" %
                      (held_sleeper, victim))
        delays = sorted(rerun.values())
        figure("kill -9 of a node to its jobs taken again (attempt 2 on a survivor), --job-lease %s: "
               "%d job(s), min %.2f s, median %.2f s, max %.2f s"
               % (LEASE, len(delays), delays[0], statistics.median(delays), delays[-1]))

        # Redis memory per 10,000 results.
        stored = [j for j in jobs if j.stored]
        with redis.client() as r:
            memory_after = int(r.info("memory")["used_memory"])
            per_job = []
            for j in stored:
                size = 0
                for key in (cluster.RESULT_PREFIX + j.id, cluster.JOB_PREFIX + j.id):
                    size += r.command("MEMORY", "USAGE", key, "SAMPLES", "0") or 0
                per_job.append(size)
        figure("Redis memory per 10,000 results, extrapolated from %d tiny results (not 1,000): "
               "INFO used_memory grew %d bytes -> %.1f MB per 10,000; MEMORY USAGE of the result and job "
               "keys: %.0f bytes per job on average -> %.1f MB per 10,000"
               % (len(stored), memory_after - memory_before,
                  (memory_after - memory_before) / len(stored) * 10000 / 1e6,
                  statistics.mean(per_job), statistics.mean(per_job) * 10000 / 1e6))

        # The counters agree with the logs and with what was sent.  The
        # victim's first run was read just before its kill, with no request
        # on the way (the Gate); the runs alive now are read now.
        live = [self.nodes[n] for n in sorted(self.nodes)]
        scraped = {run_: self.scrape(run_) for run_ in live}
        accepted = sum(self.counter(m, "accepted") for m in scraped.values()) + self.counter(before_kill, "accepted")
        self.assertEqual(accepted, len(stored), "codeengine_jobs_accepted_total over the nodes' runs "
                         "(%s before its kill) vs the jobs accepted" % victim)
        for run_, m in scraped.items():
            lines = run_.taken()
            self.assertEqual(self.counter(m, "claimed"), len(lines), "%s: claimed vs its log" % run_.node_id)
            self.assertEqual(self.counter(m, "retried"), sum(1 for _, _, a in lines if a > 1),
                             "%s: retried vs its log" % run_.node_id)
            self.assertLessEqual(self.counter(m, "reclaimed"), self.counter(m, "retried"), run_.node_id)
            self.assertEqual(self.counter(m, "failed"), 0, run_.node_id)
            self.assertEqual(self.counter(m, "expired"), 0, run_.node_id)
        self.assertLessEqual(self.counter(before_kill, "claimed"), len(victim_run.taken()))
        self.assertGreaterEqual(sum(self.counter(scraped[self.nodes[n]], "reclaimed") for n in survivors),
                                len(rerun), "the survivors took over the victim's jobs")
        for n in survivors:
            m = scraped[self.nodes[n]]
            self.assertGreaterEqual(self.counter(m, "store_errors"), 1, "%s lived through Redis' crash" % n)
            self.assertGreaterEqual(self.counter(m, "store_reconnects"), 1, "%s reconnected" % n)
        # Executions: each run stage of a node is a sync request it answered
        # or a job it took (at most one run each); each job's result came
        # from the run that took it last.
        for run_, m in scraped.items():
            log = run_.log_text()
            sync_ok = len(re.findall(r" POST /execute \S+ 200 ok ", log))
            last = sum(1 for entries in taken.values() if entries[-1][1] is run_)
            runs = int(m.total("codeengine_executions_total", stage="run"))
            self.assertGreaterEqual(runs, sync_ok + last, "%s: codeengine_executions_total{stage=run} vs its "
                                    "sync answers (%d) and the results it stored (%d)" % (run_.node_id, sync_ok, last))
            self.assertLessEqual(runs, sync_ok + len(run_.taken()), "%s: codeengine_executions_total{stage=run} "
                                 "vs its sync answers (%d) and the jobs it took" % (run_.node_id, sync_ok))
        print("metrics: %s" % {r.node_id: {k: v for k, v in m.items() if k.startswith("codeengine_job")}
                               for r, m in scraped.items()})

    def test_poison_job_is_given_up(self):
        self.start_redis()
        for name in ("p1", "p2"):
            self.start_node(name)
        job = cluster_job("poison-%d" % os.getpid(), "async", "python3", "p1", sleep=60)
        self.submit(job)
        self.assertIsNone(job.error, job)
        seen = set()
        for attempt in range(1, ATTEMPTS + 1):
            def taker():
                for name, node in self.nodes.items():
                    if node.alive() and any(jid == job.id and a == attempt for _, jid, a in node.taken()):
                        return name
                return None
            name = cluster.wait_for(taker, 60, lambda: "attempt %d of %s\n%s" % (attempt, job.id, self.logs()))
            seen.add(name)
            self.kill_node(name)
            self.restart_node(name)
        self.wait_all([job], timeout=60)
        output, status, doc = job.final
        self.assertEqual(status, "abandoned", doc)
        self.assertTrue(doc["result"]["error"].startswith("abandoned"), doc)
        self.assertIn("%d" % ATTEMPTS, doc["result"]["error"], doc)
        self.assertEqual(doc["attempts"], ATTEMPTS, doc)
        taken = self.taken_by_job()
        self.assert_attempts_in_order(taken)
        self.assertEqual(len(taken[job.id]), ATTEMPTS, [(r.node_id, a) for _, r, a in taken[job.id]])
        self.assert_queue_empty()
        failed = sum(self.counter(self.scrape(n), "failed") for n in self.nodes.values())
        self.assertEqual(failed, 1, "codeengine_jobs_failed_total over the live nodes")
        print("\npoison job taken by %s; %s" % (sorted(seen), doc["result"]["error"]))

    def test_redis_down_then_up(self):
        redis = self.start_redis()
        for name in ("r1", "r2"):
            self.start_node(name)
        before = cluster_job("before-%d" % os.getpid(), "async", "python3", "r1")
        self.submit(before)
        self.wait_all([before])
        redis.kill()
        for name, node in sorted(self.nodes.items()):
            status, _, res = node.execute("print('sync without redis')")
            self.assertEqual(status, 200, res)
            self.assertEqual(res["output"], "sync without redis\n", res)
            payload = json.dumps({"language": "python3", "code": "print(1)"}).encode()
            hdrs = {"Content-Type": "application/json", "Idempotency-Key": "down-%s-%d" % (name, os.getpid())}
            status, _, doc = node.request_json("POST", "/executions", payload, hdrs, timeout=30)
            self.assertEqual(status, 503, "%s: POST /executions without Redis: %r" % (name, doc))
            self.assertIsInstance(doc.get("error"), str, doc)
            status, ready = node.ready()
            self.assertEqual(status, 200, "%s: GET /ready without Redis: %r" % (name, ready))
            self.assertTrue(store_reported_down(ready), "%s: /ready does not say the store is down: %r"
                            % (name, ready))
        redis.restart()
        after = [cluster_job("after-%s-%d" % (n, os.getpid()), "async", "python3", n) for n in sorted(self.nodes)]
        for job in after:
            self.submit(job)  # retried on 503 until the node has reconnected
        self.wait_all(after + [before])
        self.assert_one_result_each([before] + after)
        for name, node in sorted(self.nodes.items()):
            status, ready = node.ready()
            self.assertEqual(status, 200, ready)
            self.assertFalse(store_reported_down(ready), "%s: /ready after Redis came back: %r" % (name, ready))
            m = self.scrape(node)
            self.assertGreaterEqual(self.counter(m, "store_errors"), 1, name)
            self.assertGreaterEqual(self.counter(m, "store_reconnects"), 1, name)
        self.assert_queue_empty()

    def test_drain_loses_nothing(self):
        self.start_redis()
        for name in ("d1", "d2", "d3"):
            self.start_node(name, drain=DRAIN)
        self.start_haproxy()
        pid = os.getpid()
        sleepers = [cluster_job("drain-sleep-%d-%d" % (pid, i), "async", "python3", "haproxy", sleep=2.0)
                    for i in range(6)]
        short = [cluster_job("drain-%d-%02d" % (pid, i), "async", "python3", "haproxy") for i in range(36)]
        jobs = sleepers + short
        draining = self.nodes["d3"]
        with self.clients(6) as pool:
            futures = self.run_jobs(pool, sleepers + short[:24])
            ids = lambda: {j.id for j in sleepers if j.id}  # noqa: E731
            cluster.wait_for(lambda: any(jid in ids() for _, jid, _ in draining.taken()), 90,
                             lambda: "d3 to take a long job\n%s" % self.logs())
            stopping = pool.submit(draining.shutdown)  # SIGTERM; exit code 0, nothing left
            saw_503 = False
            deadline = time.monotonic() + DRAIN + 30
            while not stopping.done() and time.monotonic() < deadline:
                try:
                    status, _, _ = draining.request("GET", "/ready", timeout=5)
                    saw_503 = saw_503 or status == 503
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            futures += self.run_jobs(pool, short[24:])
            stopping.result()
            for f in futures:
                f.result()
        self.assertTrue(saw_503, "GET /ready never answered 503 while d3 drained\n%s" % draining.log_tail())
        self.wait_all(jobs)
        self.assert_one_result_each(jobs)
        taken = self.taken_by_job()
        self.assert_attempts_in_order(taken)
        moved = finished_there = 0
        for jid, entries in taken.items():
            for i, (_, run_, _) in enumerate(entries):
                if run_ is draining:
                    if i + 1 < len(entries):
                        moved += 1
                    else:
                        finished_there += 1
        self.assert_queue_empty()
        print("\nd3 drained: %d job(s) finished on it, %d run again elsewhere" % (finished_there, moved))


def cluster_job(*args, **kwargs):
    return Job(*args, **kwargs)


def store_reported_down(ready):
    """True when GET /ready's document says the job store cannot be reached."""
    if not isinstance(ready, dict):
        return False
    text = json.dumps(ready.get("jobs"))
    return any(word in text for word in ('"down"', "unreachable", "unavailable", '"connected": false',
                                         '"store_ok": false', '"store": "down"'))
