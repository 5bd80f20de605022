"""The warm pool (issue 9): containers prepared before their requests.

A server keeps --warm-pool N (default 2) idle "slots" for each language that
has been asked for, --warm-max M (default 8) in all; 0 disables it.  A slot
is one prepared execution: its work dir STATE/exec/<id>/ (a /build tmpfs for
a compiled language, as root), the run container <id> and, compiled, the
compile container <id>-compile, each already under runc with its
codeengine-init waiting.  A request takes a slot exactly once; its
containers are then deleted as usual and the pool makes a new one.  GET
/ready's "warm_pool" lists the slots (ce.PoolSnapshot).

What is checked here, against the real server and real runc: demand (only
asked-for languages hold slots), that a request really runs in what was an
idle slot, that its time is counted from when it took the slot, that a slot
carries nothing from one request to the next, that per-request limits still
apply, the two flags, a compiled language's two containers, and that neither
a shutdown nor a SIGKILL and a restart leaves anything behind.  Every test is
followed by CETestCase's leftover check, which leaves the slots out, and
every server's shutdown by the strict one, which does not.
"""

import json
import os
import secrets
import signal
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import ce
from ce import CETestCase, code

MB = 1024 * 1024
# How long a pool may take to fill (a compiled language: two containers and
# a tmpfs per slot; emulated machines are slow).
FILL_TIMEOUT = max(60.0, 10 * ce.LEFTOVER_GRACE)
C_SLEEPER = code("""
    #include <stdio.h>
    #include <unistd.h>
    int main(void) { sleep(2); puts("done"); return 0; }
    """)


class WarmCase(CETestCase):
    class_server = False

    def pool(self, server):
        """The server's pool now; it must report one."""
        pool = server.warm_pool()
        self.assertTrue(pool.reported, "GET /ready has no warm_pool object (no warm pool in this server?): %r"
                        % (server.request("GET", "/ready", headers=self.auth(server))[2][:500],))
        return pool

    @staticmethod
    def auth(server):
        return {"Authorization": "Bearer " + server.auth_token} if server.auth_token else {}

    def settled_pool(self, server, language=None, idle=None, timeout=FILL_TIMEOUT):
        """The pool once nothing is being made and (given) `language` has
        `idle` idle slots; fails after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            pool = self.pool(server)
            ok = pool.complete and not pool.creating()
            if ok and language is not None and idle is not None:
                ok = len(pool.idle_slots(language)) == idle
            if ok or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.assertTrue(ok, "the pool did not settle (%s: %s idle) within %.0f s: %r"
                        % (language, idle, timeout, pool))
        return pool

    def language_entry(self, server, name):
        for entry in self.get_json("/languages", server=server):
            if entry.get("name") == name:
                return entry
        return None

    def require_language(self, server, name):
        entry = self.language_entry(server, name)
        if not entry or not entry.get("available"):
            self.skipTest("language %s is not available on this server: %r" % (name, entry))
        return entry

    def limit_mode(self, server):
        return self.get_json("/version", server=server).get("limit_mode")

    def assert_slot_is_live(self, server, slot, containers):
        """slot lists exactly `containers`, each under runc, each init a live
        child of the server; its work dir exists."""
        self.assertEqual(sorted(slot.get("containers") or []), sorted(containers), slot)
        self.assertEqual(len(slot.get("pids") or []), len(containers), slot)
        self.assertTrue(isinstance(slot.get("fds"), int) and slot["fds"] >= 0, slot)
        listed = ce.runc_list(server.state_dir)
        for cid, pid in zip(slot["containers"], slot["pids"]):
            self.assertIn(cid, listed, "slot container %s is not in runc list: %r" % (cid, slot))
            state = ce.runc_state(server.state_dir, cid) or {}
            self.assertIn(state.get("status"), ("created", "running"), "%s: %r" % (cid, state))
            self.assertEqual(state.get("pid"), pid, "%s: runc's pid is not the slot's: %r" % (cid, state))
            st = ce.read_proc_stat(pid)
            self.assertIsNotNone(st, "slot %s: init pid %d is gone" % (slot["id"], pid))
            self.assertNotIn(st[0], ("Z", "X"), "slot %s: init pid %d is a zombie" % (slot["id"], pid))
            self.assertEqual(st[1], server.proc.pid, "slot %s: init %d is not the server's child" % (slot["id"], pid))
        self.assertTrue(os.path.isdir(os.path.join(server.state_dir, "exec", slot["id"])), slot)

    def run_any(self, server, src, **extra):
        """Execute (any language); HTTP 200 and a well-formed result (the
        compile stage aside) required; the result."""
        status, _, body = server.execute(src, **extra)
        self.assertEqual(status, 200, body)
        self.assert_result_shape({k: v for k, v in body.items() if k != "compile"})
        return body

    def run_watched(self, server, src, **extra):
        """(body, id of the container that ran it) of a program that runs a
        second or two (ce.wait_for_container: warm pool slots left out)."""
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(server.execute, src, **extra)
            cid = ce.wait_for_container(server, done=fut.done)
            status, _, body = fut.result()
        self.assertEqual(status, 200, body)
        self.assert_result_shape({k: v for k, v in body.items() if k != "compile"})
        return body, cid


class Demand(WarmCase):
    def test_only_the_asked_language_gets_idle_slots(self):
        server = self.start_server()
        pool = self.pool(server)
        self.assertEqual((pool.per_language, pool.max), (2, 8), "the defaults: %r" % pool)
        self.assertEqual(pool.slots, [], "no language has been asked for yet: %r" % pool)
        self.assertEqual(ce.runc_list(server.state_dir), [], "containers before any request")
        body = self.run_code("print(1)", server=server)
        self.assert_result(body, "ok", exit_code=0, output="1\n")
        pool = self.settled_pool(server, "python3", 2)
        self.assertEqual({s.get("language") for s in pool.slots}, {"python3"}, pool)
        self.assertEqual(len(pool.slots), 2, pool)
        self.assertEqual(pool.idle, 2, pool)
        for slot in pool.slots:
            self.assertEqual(slot.get("state"), "idle", slot)
            self.assertTrue(slot.get("id", "").startswith("ce-"), slot)
            self.assert_slot_is_live(server, slot, [slot["id"]])
            # Nothing of a request's is in an idle slot.
            code_dir = os.path.join(server.state_dir, "exec", slot["id"], "code")
            if os.path.isdir(code_dir):
                self.assertEqual(os.listdir(code_dir), [], "an idle slot's code dir: %s" % code_dir)
        if self.limit_mode(server) == "cgroup":
            # Slots are made with the language's default limits.
            limits = self.language_entry(server, "python3")["limits"]
            for slot in pool.slots:
                seen = ce.read_cgroup_limits(slot["id"])
                self.assertEqual(seen.get("memory"), limits["memory_mb"] * MB, "%s: %r" % (slot["id"], seen))
                self.assertEqual(seen.get("pids"), limits["pids"], "%s: %r" % (slot["id"], seen))


class Serving(WarmCase):
    def test_a_request_runs_in_what_was_an_idle_slot(self):
        server = self.start_server()
        self.run_code("print(1)", server=server)
        before = self.settled_pool(server, "python3", 2)
        served = before.raw.get("served")
        body = self.run_code("import time; time.sleep(2); print('done')", server=server)
        self.assert_result(body, "ok", exit_code=0, output="done\n")
        # The pool's own count says the request took an idle slot (watching
        # runc list for the request's container raced with the refill's new
        # one under the sanitizers); exactly one of the idle slots is gone,
        # replaced by one new slot, and its container with it.
        after = self.settled_pool(server, "python3", 2)
        self.assertEqual(after.raw.get("served"), served + 1, "not served by the pool: %r" % after)
        taken = before.ids - after.ids
        self.assertEqual(len(taken), 1, "expected one slot taken: before %r, after %r"
                         % (before, after))
        cid = taken.pop()
        self.assertFalse(ce.poll(lambda: cid in ce.runc_list(server.state_dir), ce.LEFTOVER_GRACE),
                         "the slot's container %s outlived its request" % cid)
        self.assertEqual(len(after.ids - before.ids), 1, "expected one new slot: before %r, after %r"
                         % (before, after))

    def test_time_is_counted_from_the_take(self):
        # A slot that idled for seconds: the request's wall and CPU time are
        # its own, not the slot's since it was made.
        server = self.start_server()
        self.run_code("print(1)", server=server)
        before = self.settled_pool(server, "python3", 2)
        idle_since = time.monotonic()
        time.sleep(3.5)
        body = self.run_code("print(1)", server=server)
        idled_ms = int((time.monotonic() - idle_since) * 1000)
        self.assert_result(body, "ok", exit_code=0, output="1\n")
        after = self.pool(server)
        self.assertTrue(before.ids - after.ids, "no idle slot was taken: before %r, after %r" % (before, after))
        self.assertLess(body["time"]["wall_ms"], idled_ms - 1000,
                        "wall_ms counts the slot's idle time (idled %d ms): %r" % (idled_ms, body))
        self.assertLess(body["time"]["cpu_ms"], idled_ms - 1000, body)
        self.assertEqual(body["time_ms"], body["time"]["wall_ms"], body)

    def test_a_slot_holds_only_its_requests_files(self):
        server = self.start_server()
        self.run_code("print(1)", server=server)
        self.settled_pool(server, "python3", 2)
        secret = "warm-" + secrets.token_hex(6)
        files = [{"name": "main.py", "content": code("""
                      import os
                      print(sorted(os.listdir("/code")))
                      print(sorted(os.listdir("/tmp")))
                      with open("/tmp/%s", "w") as f:
                          f.write("first")
                      """ % secret)},
                 {"name": "one.txt", "content": "first request's data"}]
        status, _, first = server.post_execute(json.dumps({"language": "python3", "files": files}))
        self.assertEqual(status, 200, first)
        self.assert_result_shape(first)
        self.assert_result(first, "ok", exit_code=0, output="['main.py', 'one.txt']\n[]\n")
        self.settled_pool(server, "python3", 2)
        second = self.run_code(code("""
            import os
            print(sorted(os.listdir("/code")))
            print(sorted(os.listdir("/tmp")))
            """), server=server)
        self.assert_result(second, "ok", exit_code=0, output="['main.py']\n[]\n")

    def test_per_request_limits_still_apply(self):
        # The server may serve these cold; either way the limits are the request's.
        server = self.start_server()
        self.run_code("print(1)", server=server)
        self.settled_pool(server, "python3", 2)
        bomb = self.run_code('s = b"x" * (200 * 1024 * 1024)\nprint("survived", len(s))', server=server,
                             limits={"memory_mb": 30})
        if self.limit_mode(server) != "cgroup":
            self.assertNotIn("survived", bomb["output"], bomb)
            return
        self.assert_result(bomb, "memory_limit", exit_code=137)
        self.assertNotIn("survived", bomb["output"], bomb)
        limits = self.language_entry(server, "python3")["limits"]
        self.assert_cgroup_limits(
            lambda: server.execute("import time; time.sleep(3); print('slept')", limits={"memory_mb": 30}),
            30 * MB, limits["cpus"], limits["pids"], server=server)
        # and a default request afterwards still gets the defaults
        ok = self.run_code('s = b"x" * (20 * 1024 * 1024)\nprint(len(s))', server=server)
        self.assert_result(ok, "ok", exit_code=0, output="20971520\n")


class Flags(WarmCase):
    def test_warm_pool_0_holds_no_slot(self):
        server = self.start_server("--warm-pool", "0")
        for i in range(2):
            body = self.run_code("print(%d)" % i, server=server)
            self.assert_result(body, "ok", exit_code=0, output="%d\n" % i)
        time.sleep(1.0)  # a pool would be filling by now
        pool = self.pool(server)
        self.assertEqual(pool.slots, [], pool)
        self.assertFalse(pool.idle, pool)
        self.assertFalse(ce.poll(lambda: ce.runc_list(server.state_dir), ce.LEFTOVER_GRACE),
                         "containers with --warm-pool 0: %r" % ce.runc_list(server.state_dir))
        exec_dir = os.path.join(server.state_dir, "exec")
        self.assertFalse(ce.poll(lambda: os.listdir(exec_dir), ce.LEFTOVER_GRACE), os.listdir(exec_dir))

    def test_warm_max_1_never_holds_more_than_one_idle_slot(self):
        server = self.start_server("--warm-max", "1")
        languages = ["python3"]
        entry = self.language_entry(server, "bash")
        if entry and entry.get("available"):
            languages.append("bash")  # two languages in demand, one slot for both
        exec_dir = os.path.join(server.state_dir, "exec")
        most = 0
        for language in languages * 2:
            body = self.run_any(server, "echo 1" if language == "bash" else "print(1)", language=language)
            self.assert_result(body, "ok", exit_code=0, output="1\n")
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                pool = self.pool(server)
                self.assertLessEqual(len(pool.idle_slots()), 1, pool)
                self.assertLessEqual(pool.idle or 0, 1, pool)
                most = max(most, len(pool.idle_slots()))
                time.sleep(0.1)
        self.assertEqual(most, 1, "the pool never held its one slot")
        # On the host too: once the last request's cleanup is over, one slot's work dir.
        self.assertFalse(ce.poll(server.leftover_problems, ce.LEFTOVER_GRACE), server.leftover_problems())
        self.assertLessEqual(len(os.listdir(exec_dir)), 1, os.listdir(exec_dir))


class Compiled(WarmCase):
    def test_compiled_language_slots_hold_both_containers(self):
        server = self.start_server()
        self.require_language(server, "c")
        body = self.run_any(server, '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }', language="c")
        self.assertEqual(body["compile"]["status"], "ok", body)
        self.assert_result(body, "ok", exit_code=0, output="hi\n")
        pool = self.settled_pool(server, "c", 2)
        slots = pool.idle_slots("c")
        rootless = os.geteuid() != 0
        for slot in slots:
            self.assert_slot_is_live(server, slot, [slot["id"], slot["id"] + "-compile"])
            build = os.path.join(server.state_dir, "exec", slot["id"], "build")
            if not rootless:
                self.assertTrue(any(mp == build for mp, _ in ce.mounts_mentioning(build)),
                                "no tmpfs on %s" % build)
        before = pool.ids | pool.containers
        body, cid = self.run_watched(server, C_SLEEPER, language="c")
        self.assertEqual(body["compile"]["status"], "ok", body)
        self.assert_result(body, "ok", exit_code=0, output="done\n")
        self.assertIn(cid, before, "the c request ran in %s, not in an idle slot's containers %s"
                      % (cid, sorted(before)))


class Cleanup(WarmCase):
    def slots_of(self, server, languages):
        """The settled pool of a server that has run one hello world per language."""
        for language in languages:
            src = {"python3": "print(1)", "c": '#include <stdio.h>\nint main(void) { puts("1"); return 0; }'}
            body = self.run_any(server, src[language], language=language)
            self.assert_result(body, "ok", exit_code=0, output="1\n")
        for language in languages:
            self.settled_pool(server, language, 2)
        pool = self.settled_pool(server)
        self.assertEqual(len(pool.slots), 2 * len(languages), pool)
        return pool

    def languages(self, server):
        entry = self.language_entry(server, "c")
        return ["python3", "c"] if entry and entry.get("available") else ["python3"]

    def slot_processes(self, pool):
        """[(pid, starttime)] of the slots' inits."""
        procs = []
        for pid in sorted(pool.pids):
            st = ce.read_proc_stat(pid)
            if st:
                procs.append((pid, st[2]))
        return procs

    def assert_nothing_left(self, state, pool, procs):
        exec_dir = os.path.join(state, "exec")

        def left():
            found = []
            ids = ce.runc_list(state)
            if ids:
                found.append("runc list: %s" % ids)
            if os.path.isdir(exec_dir) and os.listdir(exec_dir):
                found.append("work dirs: %s" % os.listdir(exec_dir))
            mounts = ce.mounts_mentioning(state)
            if mounts:
                found.append("mounts: %s" % [m[1] for m in mounts])
            cgroups = [p for cid in pool.containers for p in ce.container_cgroup_dirs_of(cid)]
            if cgroups:
                found.append("cgroups: %s" % cgroups)
            alive = [pid for pid, start in procs if not ce.process_is_dead(pid, start)]
            if alive:
                found.append("slot inits still running: %s" % alive)
            return found

        problems = ce.poll(left, max(10.0, ce.LEFTOVER_GRACE))
        self.assertEqual(problems, [], "left behind by the slots %s" % sorted(pool.ids))

    def test_shutdown_with_idle_slots_leaves_nothing(self):
        server = self.start_server()
        pool = self.slots_of(server, self.languages(server))
        procs = self.slot_processes(pool)
        self.assertEqual(len(procs), len(pool.pids), "slot inits: %r" % pool)
        # SIGTERM; exit code 0, no container, file or mount left in the state dir
        server.shutdown()
        # ... and no slot's process or cgroup anywhere
        self.assert_nothing_left(server.state_dir, pool, procs)

    def test_sigkill_with_idle_slots_then_restart_leaves_nothing(self):
        first = self.start_server(tag="killed")
        pool = self.slots_of(first, self.languages(first))
        procs = self.slot_processes(pool)
        self.addCleanup(self._kill, procs)
        state = first.state_dir
        first.kill()
        # Precondition: the crash left the slots behind.
        left = ce.runc_list(state)
        self.assertTrue(pool.containers & set(left), "the killed server left no slot behind: %r" % left)
        first.owns_state_dir = False
        second = self.start_server(state_dir=state, own_state_dir=True, tag="restarted")
        # Nothing asked for yet: the new server holds no slot, so everything is the old one's.
        self.assertEqual(self.pool(second).slots, [], "the restarted server made slots unasked")
        self.assert_nothing_left(state, pool, procs)
        body = self.run_code("print('Hello, World!')", server=second)
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")

    @staticmethod
    def _kill(procs):
        for pid, start in procs:
            if not ce.process_is_dead(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


if __name__ == "__main__":
    unittest.main()
