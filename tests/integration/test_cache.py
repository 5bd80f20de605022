"""The compile cache (issue 17): a compile's outcome reused by an identical
compile, in the native API, its tests, its stream and Piston's API; failed
compiles cached, compiles that hit a limit not; identical compiles at once run
once; entries found again after a restart but not after a bundle rebuild;
eviction under --compile-cache-mb; and what a hostile compile can leave in
/build (links, FIFOs, devices, setuid files, hard links, 10^5 files, deep
trees) against what a hit's run sees.

The hostile cases use a language of their own, "buildsh", in a bundles dir
made here: its compile stage is the submission itself (a bash script run in
/build), so that a test can plant whatever a compiler could, and its run
stage reports what /build holds.  Its tree is the bash bundle's (a link).

Outcomes only: no assertion on how long anything took.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import uuid

import ce
from ce import CETestCase

NDJSON = "application/x-ndjson"

C_HELLO = '#include <stdio.h>\nint main(void){puts("hi %s");return 0;}\n'
C_BAD = "int main(void){ return nope_%s; }\n"
# What the run stage of buildsh prints: every path under /build with its
# type (f, d, l, p, c, b, s), its mode bits and, for files, a digest.
INSPECT = ("cd /build && find . -mindepth 1 -maxdepth 3 -printf '%y %m %p\\n' | sort; "
           "for f in $(find . -maxdepth 1 -type f | sort); do sha256sum \"$f\"; done; "
           "[ -L link ] && echo \"target $(readlink link)\"; "
           "echo x > /build/tamper 2>/dev/null && echo TAMPERED || echo readonly")


def nonce():
    return uuid.uuid4().hex[:12]


class CacheCase(CETestCase):

    def cache_stats(self, server=None):
        ready = self.get_json("/ready", server=server)
        self.assertIn("compile_cache", ready)
        return ready["compile_cache"]

    def delta(self, before, after):
        return {k: after[k] - before[k] for k in ("hits", "misses", "stores", "evictions", "waits",
                                                   "not_stored")}

    def run_ok(self, server=None, **payload):
        srv = server or self.server
        status, _, res = srv.post_execute(json.dumps(payload))
        self.assertEqual(status, 200, res)
        return res


class CacheNative(CacheCase):
    """The shared server, real compilers."""

    def test_hit_after_miss(self):
        src = C_HELLO % nonce()
        before = self.cache_stats()
        first = self.run_ok(language="c", code=src)
        second = self.run_ok(language="c", code=src)
        d = self.delta(before, self.cache_stats())
        self.assertFalse(first["compile"]["cached"])
        self.assertTrue(second["compile"]["cached"])
        self.assertEqual(first["stdout"], second["stdout"])
        self.assertEqual(second["status"], "ok")
        self.assertEqual((d["misses"], d["hits"], d["stores"]), (1, 1, 1))
        # The compile object is the same shape either way.
        self.assertEqual(set(first["compile"]), set(second["compile"]))

    def test_other_source_misses(self):
        a = self.run_ok(language="c", code=C_HELLO % nonce())
        b = self.run_ok(language="c", code=C_HELLO % nonce())
        self.assertFalse(a["compile"]["cached"])
        self.assertFalse(b["compile"]["cached"])

    def test_other_compile_limits_miss(self):
        src = C_HELLO % nonce()
        self.run_ok(language="c", code=src)
        other = self.run_ok(language="c", code=src, limits={"compile_memory_mb": 200})
        self.assertFalse(other["compile"]["cached"])
        again = self.run_ok(language="c", code=src, limits={"compile_memory_mb": 200})
        self.assertTrue(again["compile"]["cached"])

    def test_failed_compile_cached(self):
        src = C_BAD % nonce()
        first = self.run_ok(language="c", code=src)
        second = self.run_ok(language="c", code=src)
        for res in (first, second):
            self.assertEqual(res["status"], "compile_error")
            self.assertIn("nope_", res["compile"]["stderr"])
        self.assertFalse(first["compile"]["cached"])
        self.assertTrue(second["compile"]["cached"])
        self.assertEqual(first["compile"]["stderr"], second["compile"]["stderr"])
        self.assertEqual(first["compile"]["exit_code"], second["compile"]["exit_code"])

    def test_tests_reuse_the_build(self):
        src = ("#include <iostream>\nint main(){long x; std::cin >> x; std::cout << x * 2 << "
               "std::endl; /* %s */}\n" % nonce())
        tests = [{"stdin": "%d\n" % i, "expected_output": "%d\n" % (2 * i if i != 3 else 7)}
                 for i in range(5)]
        first = self.run_ok(language="cpp", code=src, tests=tests)
        second = self.run_ok(language="cpp", code=src, tests=tests)
        self.assertFalse(first["compile"]["cached"])
        self.assertTrue(second["compile"]["cached"])
        for res in (first, second):
            self.assertEqual([t["verdict"] for t in res["tests"]],
                             ["accepted"] * 3 + ["wrong_answer", "accepted"])
            self.assertEqual(res["verdict"], "wrong_answer")

    def test_java_hit(self):
        src = ('public class Main { public static void main(String[] a) { '
               'System.out.println("j %s"); } }\n' % nonce())
        first = self.run_ok(language="java", code=src)
        second = self.run_ok(language="java", code=src)
        self.assertEqual(first["stdout"], second["stdout"])
        self.assertTrue(second["compile"]["cached"])

    def test_stream_says_cached(self):
        src = C_BAD % nonce()
        self.run_ok(language="c", code=src)
        status, _, data = self.server.request(
            "POST", "/execute", json.dumps({"language": "c", "code": src}).encode(),
            {"Content-Type": "application/json", "Accept": NDJSON})
        self.assertEqual(status, 200)
        events = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        exits = [e for e in events if e["type"] == "exit" and e["stage"] == "compile"]
        self.assertEqual(len(exits), 1)
        self.assertTrue(exits[0]["cached"])
        self.assertEqual(exits[0]["status"], "compile_error")
        self.assertTrue(any(e["type"] == "stderr" and "nope_" in e["data"] for e in events))
        self.assertTrue(events[-1]["result"]["compile"]["cached"])

    def test_piston_uses_the_cache(self):
        src = C_HELLO % nonce()
        body = json.dumps({"language": "c", "version": "*",
                           "files": [{"name": "main.c", "content": src}]}).encode()
        before = self.cache_stats()
        for _ in range(2):
            status, _, res = self.server.request_json("POST", "/api/v2/execute", body,
                                                      {"Content-Type": "application/json"})
            self.assertEqual(status, 200, res)
            self.assertEqual(res["run"]["stdout"].split()[0], "hi")
        d = self.delta(before, self.cache_stats())
        self.assertEqual((d["misses"], d["hits"]), (1, 1))

    def test_compile_timeout_not_cached(self):
        # A constant expression the compiler takes far longer than 1 s to fold
        # (g++ gives up only after 2^33 operations, each loop under 2^18).
        src = ("constexpr long f(){ long s = 0; for (long i = 0; i < 200000; i++)"
               " for (long j = 0; j < 200000; j++) s += j %% 7;"
               " return s; }\nconstexpr long v = f();\nint main(){ return v == 1; } // %s\n"
               % nonce())
        before = self.cache_stats()
        for _ in range(2):
            res = self.run_ok(language="cpp", code=src, limits={"compile_timeout_ms": 1000})
            self.assertEqual(res["compile"]["status"], "timeout")
            self.assertFalse(res["compile"]["cached"])
        d = self.delta(before, self.cache_stats())
        self.assertEqual((d["hits"], d["stores"], d["not_stored"]), (0, 0, 2))

    def test_identical_compiles_at_once_run_once(self):
        src = ("#include <iostream>\n#include <map>\n#include <regex>\nint main(){ std::map<int,int> m;"
               " std::regex r(\"a+\"); std::cout << std::regex_match(\"aa\", r) << std::endl; } // %s\n"
               % nonce())
        before = self.cache_stats()
        results = [None] * 4

        def one(i):
            results[i] = self.run_ok(language="cpp", code=src)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertTrue(all(r is not None for r in results))
        self.assertEqual([r["stdout"] for r in results], ["1\n"] * 4)
        d = self.delta(before, self.cache_stats())
        self.assertEqual(d["misses"], 1, d)
        self.assertEqual(d["hits"], 3, d)
        self.assertEqual(sum(not r["compile"]["cached"] for r in results), 1)

    def test_ready_reports_the_cache(self):
        c = self.cache_stats()
        self.assertTrue(c["enabled"])
        self.assertGreater(c["limit_bytes"], 0)
        self.assertLessEqual(c["bytes"], c["limit_bytes"])


class CacheOff(CacheCase):
    server_args = ("--compile-cache-mb", "0")

    def test_off(self):
        src = C_HELLO % nonce()
        for _ in range(2):
            self.assertFalse(self.run_ok(language="c", code=src)["compile"]["cached"])
        self.assertEqual(self.cache_stats(), {"enabled": False})
        self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "cache")))


def make_bundles(root, image_id, own_tree=False):
    """A bundles dir holding only buildsh (see the module's doc); own_tree:
    its rootfs a fresh copy of bash's, which no server has used yet, instead
    of a link to it."""
    b = os.path.join(root, "buildsh")
    os.makedirs(b, exist_ok=True)
    tree = os.path.join(b, "rootfs")
    bash_tree = os.path.realpath(os.path.join(ce.BUNDLES, "bash", "rootfs"))
    if own_tree and not os.path.exists(tree):
        subprocess.run(["cp", "-a", bash_tree, tree], check=True)
        # As tools/prepare-bundles leaves it: without the mount point a
        # server makes at its first start.
        shutil.rmtree(os.path.join(tree, ".codeengine"), ignore_errors=True)
    elif not os.path.lexists(tree):
        os.symlink(bash_tree, tree)
    with open(os.path.join(b, "bundle.json"), "w") as f:
        json.dump({"languages": [{
            "name": "buildsh", "entry_file": "main.sh",
            "compile": {"command": ["bash", "{entry}"]},
            "run": {"command": ["bash", "-c", INSPECT]}}]}, f)
    with open(os.path.join(b, "versions.json"), "w") as f:
        json.dump({"buildsh": "1"}, f)
    with open(os.path.join(b, ".image-id"), "w") as f:
        f.write("2 sha256:%s\n" % image_id)


class CacheHostile(CacheCase):
    """buildsh: the compile is the submission."""
    class_server = False

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ce-cache-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bundles = os.path.join(self.tmp, "bundles")
        make_bundles(self.bundles, "a" * 64)

    def start(self, *args, state_dir=None):
        kw = {"bundles": self.bundles}
        if state_dir:
            kw.update(state_dir=state_dir, own_state_dir=False)
        return self.start_server(*args, **kw)

    def build(self, server, script, **extra):
        return self.run_ok(server, language="buildsh", code="# %s\n%s" % (nonce(), script), **extra)

    def test_planted_files(self):
        server = self.start()
        script = ("echo -n payload > main; chmod 4755 main; ln main hard; ln -s /etc/passwd link;"
                  " mkfifo fifo; mknod null c 1 3 2>/dev/null; mkdir -p sub/deeper;"
                  " echo private > sub/p; chmod 600 sub/p; exit 0\n")
        code = "# planted %s\n%s" % (nonce(), script)
        first = self.run_ok(server, language="buildsh", code=code)
        second = self.run_ok(server, language="buildsh", code=code)
        self.assertEqual(first["compile"]["status"], "ok", first)
        self.assertTrue(second["compile"]["cached"])
        seen = second["stdout"].splitlines()
        # The hit's /build: the link is a link (to what it named, inside),
        # the setuid bit is gone, the hard link is a file of its own, no
        # FIFO, no device, a private file readable.
        self.assertIn("f 755 ./main", seen)
        self.assertIn("f 755 ./hard", seen)
        self.assertIn("l 777 ./link", seen)
        self.assertIn("target /etc/passwd", seen)
        self.assertIn("f 644 ./sub/p", seen)
        self.assertIn("d 755 ./sub/deeper", seen)
        self.assertFalse([l for l in seen if l.startswith(("p ", "c ", "b ", "s "))], seen)
        digest = hashlib.sha256(b"payload").hexdigest()
        self.assertIn("%s  ./main" % digest, seen)
        # Neither the first run nor the hit's could change the build.
        self.assertEqual(first["stdout"].splitlines()[-1], "readonly")
        self.assertEqual(seen[-1], "readonly")
        # And the entry on disk holds no FIFO, device, setuid file or link followed.
        cache = os.path.join(server.state_dir, "cache")
        for root, dirs, files in os.walk(cache):
            for name in dirs + files:
                p = os.path.join(root, name)
                st = os.lstat(p)
                self.assertFalse(st.st_mode & 0o6000, p)
                self.assertTrue(os.path.islink(p) or os.path.isdir(p) or os.path.isfile(p), p)

    def test_planted_files_in_warm_test_slots(self):
        # A submission's tests after the first run in warm test slots, each
        # with a copy of the execution's /build: the hostile compile's own
        # (no cache hit) is copied as the cache copies it.
        server = self.start("--warm-tests", "4")
        script = ("echo -n payload > main; chmod 4755 main; ln main hard; ln -s /etc/passwd link;"
                  " mkfifo fifo; mknod null c 1 3 2>/dev/null; exit 0\n")
        tests = [{"name": "t%d" % i} for i in range(3)]
        self.build(server, "exit 0\n", tests=tests)
        left = ce.poll(lambda: (server.warm_pool().raw.get("tests") or {}).get("idle", 0) < 2, 120, 0.2)
        self.assertFalse(left, server.warm_pool().raw)
        served = server.warm_pool().raw["tests"]["served"]
        res = self.build(server, script, tests=tests)
        self.assertEqual(server.warm_pool().raw["tests"]["served"] - served, 2)
        self.assertFalse(res["compile"]["cached"])
        for e in res["tests"][1:]:
            seen = e["stdout"].splitlines()
            self.assertIn("f 755 ./main", seen)
            self.assertIn("f 755 ./hard", seen)
            self.assertIn("l 777 ./link", seen)
            self.assertIn("target /etc/passwd", seen)
            self.assertFalse([l for l in seen if l.startswith(("p ", "c ", "b ", "s "))], seen)
            self.assertIn("%s  ./main" % hashlib.sha256(b"payload").hexdigest(), seen)
            self.assertEqual(seen[-1], "readonly")
        # The first test ran in the compile's own /build (read-only), as a
        # single run does: the FIFO is there; the others saw the copy.
        self.assertIn("p 644 ./fifo", res["tests"][0]["stdout"].splitlines())
        self.assertEqual(res["tests"][0]["stdout"].splitlines()[-1], "readonly")
        self.assertEqual(res["tests"][1]["stdout"], res["tests"][2]["stdout"])

    def test_a_build_too_large_to_copy_is_read_in_place(self):
        # Past what a test slot copies (16 MiB), the tests after the first
        # run in containers made on the spot that read the one build; the
        # pool's test slots are left alone once a copy was refused (by each
        # of the two workers at most).
        server = self.start("--warm-tests", "8", "--test-workers", "2")
        tests = [{"name": "t%d" % i} for i in range(6)]
        self.build(server, "exit 0\n", tests=tests)
        left = ce.poll(lambda: (server.warm_pool().raw.get("tests") or {}).get("idle", 0) < 5, 120, 0.2)
        self.assertFalse(left, server.warm_pool().raw)
        before = server.warm_pool().raw["tests"]
        res = self.build(server, "head -c 17000000 /dev/zero > main; exit 0\n", tests=tests)
        digest = "%s  ./main" % hashlib.sha256(b"\0" * 17000000).hexdigest()
        for e in res["tests"]:
            self.assertIn(digest, e["stdout"].splitlines())
            self.assertEqual(e["stdout"].splitlines()[-1], "readonly")
        after = server.warm_pool().raw["tests"]
        self.assertIn(after["served"] - before["served"], (1, 2), (before, after))

    def test_same_source_same_binary_nobody_alters(self):
        server = self.start()
        code = "# shared %s\nhead -c 4096 /dev/urandom > main\n" % nonce()
        a = self.run_ok(server, language="buildsh", code=code)
        b = self.run_ok(server, language="buildsh", code=code)
        c = self.run_ok(server, language="buildsh", code=code)
        digest = [l for l in a["stdout"].splitlines() if l.endswith("  ./main")]
        self.assertEqual(len(digest), 1)
        for res in (b, c):
            self.assertTrue(res["compile"]["cached"])
            self.assertIn(digest[0], res["stdout"].splitlines())
            self.assertEqual(res["stdout"].splitlines()[-1], "readonly")

    def test_many_files_and_deep_trees_not_stored(self):
        server = self.start()
        # 10^5 files: as root /build (a tmpfs of 4096 inodes) holds what it can,
        # which may be kept; rootless they are all made, and too many to keep.
        before = self.cache_stats(server)
        first = self.build(server, "seq -f f%g 1 100000 | xargs touch 2>/dev/null; exit 0\n")
        self.assertEqual(first["compile"]["status"], "ok", first)
        d = self.delta(before, self.cache_stats(server))
        self.assertEqual(d["stores"] + d["not_stored"], 1, d)
        cache = os.path.join(server.state_dir, "cache")
        for entry in os.listdir(cache):
            build = os.path.join(cache, entry, "build")
            if os.path.isdir(build):
                self.assertLessEqual(sum(len(f) + len(ds) for _, ds, f in os.walk(build)), 4096)
        # A tree deeper than an entry may be: not kept.
        before = self.cache_stats(server)
        first = self.build(server, "mkdir -p $(printf 'd/%.0s' $(seq 1 100)); exit 0\n")
        self.assertEqual(first["compile"]["status"], "ok", first)
        d = self.delta(before, self.cache_stats(server))
        self.assertEqual((d["stores"], d["not_stored"]), (0, 1), d)

    def test_timeout_not_cached_failure_cached(self):
        server = self.start()
        code = "# %s\nsleep 30\n" % nonce()
        for _ in range(2):
            res = self.run_ok(server, language="buildsh", code=code,
                              limits={"compile_timeout_ms": 500})
            self.assertEqual(res["compile"]["status"], "timeout")
            self.assertFalse(res["compile"]["cached"])
        code = "# %s\necho broken >&2; exit 3\n" % nonce()
        first = self.run_ok(server, language="buildsh", code=code)
        second = self.run_ok(server, language="buildsh", code=code)
        self.assertEqual(second["status"], "compile_error")
        self.assertEqual(second["compile"]["exit_code"], 3)
        self.assertEqual(second["compile"]["stderr"], "broken\n")
        self.assertTrue(second["compile"]["cached"])
        self.assertFalse(first["compile"]["cached"])

    def test_eviction_under_the_limit(self):
        server = self.start("--compile-cache-mb", "1")
        codes = ["# %s\nhead -c 400000 /dev/urandom > main\n" % nonce() for _ in range(3)]
        for code in codes:
            self.assertFalse(self.run_ok(server, language="buildsh", code=code)["compile"]["cached"])
        c = self.cache_stats(server)
        self.assertGreaterEqual(c["evictions"], 1)
        self.assertLessEqual(c["bytes"], 1 << 20)
        # The oldest went, the newest stays.
        self.assertTrue(self.run_ok(server, language="buildsh", code=codes[2])["compile"]["cached"])
        self.assertFalse(self.run_ok(server, language="buildsh", code=codes[0])["compile"]["cached"])
        used = sum(os.lstat(os.path.join(r, f)).st_size
                   for r, _, fs in os.walk(os.path.join(server.state_dir, "cache")) for f in fs)
        self.assertLessEqual(used, 1 << 20)

    def test_restart_keeps_rebuild_drops(self):
        # A tree of its own that no server has used: the first one makes
        # its mount points in it, which must not change its identity.
        shutil.rmtree(self.bundles)
        make_bundles(self.bundles, "a" * 64, own_tree=True)
        state = tempfile.mkdtemp(prefix="ce-cache-state-")
        self.addCleanup(shutil.rmtree, state, True)
        code = "# %s\necho -n kept > main\n" % nonce()
        server = self.start(state_dir=state)
        self.assertFalse(self.run_ok(server, language="buildsh", code=code)["compile"]["cached"])
        server.shutdown()
        server = self.start(state_dir=state)
        self.assertTrue(self.run_ok(server, language="buildsh", code=code)["compile"]["cached"])
        server.shutdown()
        # tools/prepare-bundles rebuilt the bundle: another image.
        make_bundles(self.bundles, "b" * 64)
        server = self.start(state_dir=state)
        self.assertFalse(self.run_ok(server, language="buildsh", code=code)["compile"]["cached"])
        self.assertTrue(self.run_ok(server, language="buildsh", code=code)["compile"]["cached"])


if __name__ == "__main__":
    unittest.main()
