"""Every language of issue 8, run for real: the table in langs.py, one test per
language and case (test_<language>_<case>, so `-k rust` picks a language).

GET /languages says which languages the server has.  Every language of the
table must be there and available (CI builds every bundle): a missing or
unavailable one fails all its tests.  CE_LANGUAGES (run.py --languages) names
the subset to test instead, e.g. "python3,c"; CE_QUICK=1 (run.py --quick)
runs only hello world and the compile error of each language.

The language classes share one server with the default flags (started once,
stopped and checked at the end of the module); every test is followed by
CETestCase's leftover check.  The C adversarial cases (fork bomb,
memory bomb, privileged system calls) are at the end, on AdversarialCase.
Nothing here asserts speed or a share of a core: only outcomes and limits.
"""

import json
import os
import re
import signal
import unittest

import ce
import langs
from adversary import MARK_PREFIX, AdversarialCase, CgroupMonitor
from ce import CETestCase, Server
from langs import LANGUAGES, TABLE_ORDER

QUICK = os.environ.get("CE_QUICK", "") not in ("", "0")
REQUESTED = [n for n in re.split(r"[,\s]+", os.environ.get("CE_LANGUAGES", "")) if n]
SELECTED = [n for n in (REQUESTED or TABLE_ORDER) if n in LANGUAGES]

# A compile result: the same fields as a run, without language/version/limit_mode.
STAGE_KEYS = ("output", "stdout", "stderr", "exit_code", "signal", "status", "truncated", "time", "time_ms",
              "memory_kb", "cached")
COMPILE_STATUSES = {"ok", "compile_error", "timeout", "memory_limit", "output_limit"}
LIMIT_KEYS = ("timeout_ms", "memory_mb", "cpus", "output_bytes", "pids")
COMPILE_LIMIT_KEYS = ("timeout_ms", "memory_mb", "cpus", "pids")

RUN_TIMEOUT_MS = 1000         # the endless loop's limits.timeout_ms
COMPILE_TIMEOUT_MS = 100      # the heavy compile's limits.compile_timeout_ms
COMPILE_MEMORY_MB = 16        # the heavy compile's limits.compile_memory_mb
MEMORY_FACTOR = 4             # the memory case allocates 4 x the language's memory default
# A peak may pass the memory limit by a few pages: the kernel lets the charges
# of a task that the OOM killer already picked through while it exits.
PEAK_SLACK_KB = 512
REQUEST_TIMEOUT = 300.0       # only against a hung server: compiles at 1 CPU under load take a while


def short(value, limit=800):
    """A result for a failure message, long strings cut."""
    if isinstance(value, dict):
        return {k: short(v, limit) for k, v in value.items()}
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "...(%d chars)" % len(value)
    return value


def language_entries(server):
    """{name: entry} of GET /languages (raises AssertionError if it is not a list of objects)."""
    status, _, body = server.request_json("GET", "/languages")
    if status != 200 or not isinstance(body, list) or not all(isinstance(e, dict) for e in body):
        raise AssertionError("GET /languages: %d %r" % (status, short(body)))
    return {e.get("name"): e for e in body}


def compile_ceiling_ms(server, default=60000):
    """GET /version's compile_ceilings.timeout_ms."""
    status, _, version = server.request_json("GET", "/version")
    if status == 200 and isinstance(version, dict) and isinstance(version.get("compile_ceilings"), dict):
        return version["compile_ceilings"].get("timeout_ms", default)
    return default


def entry_problem(name, entries):
    """Why the language cannot be tested on this server, or None."""
    entry = entries.get(name)
    if entry is None:
        return "language %r is not in GET /languages (it has: %s)" % (name, ", ".join(sorted(map(str, entries))))
    # a server from before issue 8 has no "available": it lists only what it loaded
    if entry.get("available", True) is not True:
        return "language %r is not available on the server: %s" % (name, entry.get("reason"))
    return None


class LanguageChecks:
    """Requests in one language and the checks of their results (a mixin for
    CETestCase and AdversarialCase; the class sets `lang` and `entry`)."""

    lang = None   # a langs.Language
    entry = None  # its GET /languages entry
    compile_timeout_ceiling = 60000  # GET /version's compile_ceilings.timeout_ms

    def execute(self, src, language=None, server=None, **extra):
        """POST /execute in this language; require 200 and a well-formed result.

        A compile gets the server's longest compile timeout unless the request
        sets compile limits itself: the first compile after the page cache
        lost a toolchain (rustc, mcs, gcc read tens to hundreds of MB) can
        take more than the default 10 s on a slow disk, and how fast a
        compile is is not what these tests test."""
        server = server or self.server
        payload = {"language": language or self.lang.name, "code": src}
        payload.update(extra)
        if self.lang.compiled:
            limits = dict(payload.get("limits", {}))
            if not any(k.startswith("compile_") for k in limits):
                limits["compile_timeout_ms"] = self.compile_timeout_ceiling
            payload["limits"] = limits
        status, _, body = server.post_execute(json.dumps(payload).encode("utf-8"), timeout=REQUEST_TIMEOUT)
        self.assertEqual(status, 200, "expected HTTP 200 for %s, got %d: %r"
                         % (json.dumps(payload)[:300], status, body))
        self.assert_language_result(body)
        return body

    def run_case(self, case, server=None, **extra):
        """Run the program of langs.py for this case."""
        values = {"PORT": (server or self.server).port}
        return self.execute(self.lang.program(case, **values), server=server, **extra)

    # -- result shapes --------------------------------------------------------

    def assert_language_result(self, body):
        """The seed shape plus, for a compiled language, a compile object; a
        failed compile has the no-run shape of the spec."""
        self.assertIsInstance(body, dict, body)
        expected = set(ce.RESULT_KEYS) | ({"compile"} if self.lang.compiled else set())
        self.assertEqual(sorted(body), sorted(expected), "unexpected keys in %r" % (short(body),))
        self.assertEqual(next(iter(body)), "output", "'output' must come first: %r" % (short(body),))
        self.assertEqual(body["language"], self.lang.name, short(body))
        if self.entry and "version" in self.entry:
            self.assertEqual(body["version"], self.entry["version"], "version differs from GET /languages")
        if self.lang.compiled:
            self.assert_stage_shape(body["compile"])
            if body["compile"]["status"] != "ok":
                self.assert_no_run(body)
                return
            self.assertEqual((body["compile"]["exit_code"], body["compile"]["signal"]), (0, None), short(body))
        self.assert_result_shape({k: v for k, v in body.items() if k != "compile"})

    def assert_stage_shape(self, stage):
        self.assertIsInstance(stage, dict, "compile is not an object: %r" % (stage,))
        self.assertEqual(sorted(stage), sorted(STAGE_KEYS), "unexpected keys in compile: %r" % (short(stage),))
        for key in ("output", "stdout", "stderr"):
            self.assertIsInstance(stage[key], str, "compile.%s: %r" % (key, short(stage)))
        self.assertTrue(type(stage["exit_code"]) is int, short(stage))
        self.assertIn(stage["status"], COMPILE_STATUSES, short(stage))
        self.assertIsInstance(stage["cached"], bool, short(stage))
        self.assertIs(stage["truncated"], stage["status"] == "output_limit", short(stage))
        self.assertIsInstance(stage["time"], dict, short(stage))
        self.assertEqual(sorted(stage["time"]), ["cpu_ms", "wall_ms"], short(stage))
        for key in ("wall_ms", "cpu_ms"):
            self.assertTrue(type(stage["time"][key]) is int and stage["time"][key] >= 0, short(stage))
        self.assertEqual(stage["time_ms"], stage["time"]["wall_ms"], short(stage))
        self.assertTrue(type(stage["memory_kb"]) is int and stage["memory_kb"] >= 0, short(stage))
        sig = stage["signal"]
        if sig is not None:
            self.assertRegex(sig, r"^SIG[A-Z0-9]+$", short(stage))
            if sig in signal.Signals.__members__:
                self.assertEqual(stage["exit_code"], 128 + signal.Signals[sig].value, short(stage))
        self.assertEqual(stage["status"] == "ok", (stage["exit_code"], sig) == (0, None),
                         "compile.status ok exactly when the compiler exited 0: %r" % (short(stage),))
        if not stage["truncated"] and "\ufffd" not in stage["output"]:
            self.assertEqual(sorted(stage["output"]), sorted(stage["stdout"] + stage["stderr"]),
                             "compile.output must be its stdout + stderr merged: %r" % (short(stage),))

    def assert_no_run(self, body):
        """A failed compile: status compile_error, nothing of a run, the compiler's exit."""
        comp = body["compile"]
        self.assertEqual(body["status"], "compile_error", short(body))
        self.assertEqual((body["output"], body["stdout"], body["stderr"]), ("", "", ""), short(body))
        self.assertEqual(body["exit_code"], comp["exit_code"], short(body))
        self.assertEqual(body["signal"], comp["signal"], short(body))
        self.assertEqual(body["time"], {"wall_ms": 0, "cpu_ms": None}, short(body))
        self.assertEqual(body["time_ms"], 0, short(body))
        self.assertIsNone(body["memory_kb"], short(body))
        self.assertIs(body["truncated"], False, short(body))
        self.assertIn(body["limit_mode"], ce.LIMIT_MODES, short(body))
        self.assertTrue(isinstance(body["version"], str) and body["version"], short(body))

    def assert_compiled_ok(self, body):
        if self.lang.compiled:
            self.assertEqual(body["compile"]["status"], "ok", "the compile failed: %r" % (short(body),))

    def assert_ran(self, body, status, exit_code=None, output=None, signal=ce.ANY):
        self.assert_compiled_ok(body)
        self.assert_result(body, status, exit_code=exit_code, output=output, signal=signal)

    def assert_needles(self, text, needles, body):
        for needle in needles:
            self.assertIn(needle, text, "%r missing in %r" % (needle, short(body)))


class LimitsMonitor(ce.ContainerWatch):
    """Reads, from the host, the cgroup limits (v1 or v2: ce.read_cgroup_limits)
    of every request container (run and compile) that one server runs while
    the `with` block lasts; the server's warm pool slots are left out
    (ce.ContainerWatch)."""

    INTERVAL = 0.01

    def __init__(self, server, interval=None):
        super().__init__(server, interval)
        self.limits = {}   # id -> the last complete reading

    def sample(self, cid):
        if not os.path.isdir(ce.container_cgroup_dir(cid)):
            return False
        seen = ce.read_cgroup_limits(cid)
        if ce.cgroup_limits_complete(seen):
            self.limits[cid] = seen
        return True

    def readings(self):
        """{"run": [(id, limits)], "compile": [(id, limits)]} of the request containers seen."""
        out = {"run": [], "compile": []}
        for cid in sorted(self.limits):
            if self.is_busy(cid):
                out["compile" if cid.endswith("-compile") else "run"].append((cid, self.limits[cid]))
        return out


_shared_server = None


def shared_server():
    """The one default server that every language class uses (started once:
    a server start probes every bundle)."""
    global _shared_server
    if _shared_server is None:
        server = Server(tag="languages")
        try:
            server.start()
        except BaseException:
            server.cleanup()
            raise
        _shared_server = server
    return _shared_server


def tearDownModule():
    global _shared_server
    server, _shared_server = _shared_server, None
    if server is not None:
        server.shutdown()


class LanguageCase(LanguageChecks, CETestCase):
    """One language's tests (generated below), on the module's shared server."""

    class_server = False
    problem = None  # why this language cannot be tested here

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = shared_server()
        try:
            entries = language_entries(cls.server)
        except AssertionError as e:
            cls.problem = str(e)
            return
        cls.problem = entry_problem(cls.lang.name, entries)
        cls.entry = entries.get(cls.lang.name)
        cls.compile_timeout_ceiling = compile_ceiling_ms(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server = None  # shared: stopped (and checked) by tearDownModule
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        if self.problem:
            self.fail(self.problem)

    # -- the cases (see langs.py) ---------------------------------------------

    def case_hello(self):
        self.assert_ran(self.run_case("hello"), "ok", exit_code=0, output=langs.HELLO, signal=None)

    def case_stdin(self):
        body = self.run_case("stdin", stdin=langs.STDIN_TEXT)
        self.assert_ran(body, "ok", exit_code=0, output=langs.STDIN_EXPECTED, signal=None)

    def case_args(self):
        body = self.run_case("args", args=langs.ARGS)
        self.assert_ran(body, "ok", exit_code=0, output=langs.ARGS_EXPECTED, signal=None)

    def case_exit_code(self):
        body = self.run_case("exit_code")
        self.assert_ran(body, "runtime_error", exit_code=3, signal=None,
                        output=self.lang.expected("exit_code", "output", ""))

    def case_error(self):
        body = self.run_case("error")
        exit_code = self.lang.expected("error", "exit_code")
        self.assert_ran(body, "runtime_error", exit_code=exit_code, signal=self.lang.expected("error", "signal"))
        self.assertNotEqual(body["exit_code"], 0, short(body))
        self.assert_needles(body["output"], self.lang.expected("error", "needles", [langs.ERROR_TEXT]), body)

    def case_unicode(self):
        self.assert_ran(self.run_case("unicode"), "ok", exit_code=0, output=langs.UNICODE_TEXT, signal=None)

    def case_compile_error(self):
        body = self.run_case("compile_error")
        comp = body["compile"]
        self.assertEqual(comp["status"], "compile_error", short(body))
        self.assertNotEqual(comp["exit_code"], 0, short(body))
        self.assertIsNone(comp["signal"], short(body))
        self.assert_needles(comp["output"], self.lang.expected("compile_error", "needles", [langs.UNDEFINED]), body)

    def case_cpu(self):
        body = self.run_case("cpu")
        self.assert_ran(body, "ok", exit_code=0, output="%d\n" % langs.prime_sum(self.lang.cpu_n), signal=None)

    def case_timeout(self):
        body = self.run_case("timeout", limits={"timeout_ms": RUN_TIMEOUT_MS})
        self.assert_ran(body, "timeout", exit_code=137, signal="SIGKILL")

    def case_readonly_code(self):
        body = self.run_case("readonly_code")
        status = self.lang.expected("readonly_code", "status", "ok")
        self.assert_ran(body, status, output=self.lang.expected("readonly_code", "output", langs.WRITE_FAILED))
        self.assertNotIn("write-succeeded", body["stdout"], short(body))
        any_of = self.lang.expected("readonly_code", "needles_any")
        if any_of:
            self.assertTrue(any(n in body["output"] for n in any_of), "none of %r in %r" % (any_of, short(body)))

    def case_network(self):
        body = self.run_case("network")
        self.assert_ran(body, "ok", exit_code=0, output=langs.CONNECT_FAILED, signal=None)

    def case_memory(self):
        default_mb = self.entry["limits"]["memory_mb"]
        body = self.run_case("memory", args=[str(MEMORY_FACTOR * default_mb)])
        self.assert_compiled_ok(body)
        statuses = self.lang.expected("memory", "statuses", ["memory_limit"])
        self.assertIn(body["status"], statuses, short(body))
        self.assertNotIn("allocated", body["stdout"], short(body))
        if body["status"] == "memory_limit":
            self.assertEqual((body["exit_code"], body["signal"]), (137, "SIGKILL"), short(body))
            self.assertLessEqual(body["memory_kb"], default_mb * 1024 + PEAK_SLACK_KB, short(body))
        else:
            self.assert_needles(body["output"], self.lang.expected("memory", "needles", []), body)

    def case_default_limits(self):
        """The run (and the compile) container get the language's limits of GET /languages."""
        with LimitsMonitor(self.server) as mon:
            body = self.run_case("default_limits")
        self.assert_ran(body, "ok", exit_code=0, output=langs.SLEPT, signal=None)
        readings = mon.readings()
        self.assertEqual(len(readings["run"]), 1, "expected to see one run container's cgroup: %r" % readings)
        stages = [("run", self.entry["limits"], readings["run"][0])]
        if self.lang.compiled:
            self.assertEqual(len(readings["compile"]), 1, "expected a compile container too: %r" % readings)
            stages.insert(0, ("compile", self.entry["compile_limits"], readings["compile"][0]))
        for stage, limits, (cid, seen) in stages:
            with self.subTest(stage=stage):
                memory = limits["memory_mb"] * 1024 * 1024
                self.assertEqual(seen.get("memory"), memory, "%s %s: %r" % (stage, cid, seen))
                if seen.get("memory+swap") is not None:  # None: the kernel does not account swap
                    self.assertEqual(seen.get("memory+swap"), memory, "%s: %r" % (stage, seen))
                cpus = seen.get("cpus")
                self.assertTrue(isinstance(cpus, float) and abs(cpus - limits["cpus"]) < 0.01,
                                "%s: expected a CPU quota of %s: %r" % (stage, limits["cpus"], seen))
                self.assertEqual(seen.get("pids"), limits["pids"], "%s: %r" % (stage, seen))

    def assert_compile_killed(self, body, statuses):
        comp = body["compile"]
        self.assertIn(comp["status"], statuses, short(body))
        self.assertEqual(body["status"], "compile_error", short(body))
        self.assertNotEqual(comp["exit_code"], 0, short(body))
        if comp["status"] == "timeout":
            self.assertEqual((comp["exit_code"], comp["signal"]), (137, "SIGKILL"), short(body))
        # memory_limit: the OOM killer may take a compiler's child (gcc's cc1),
        # and the driver then exits 1 saying so; or the compiler itself (137)
        return comp

    def case_compile_timeout(self):
        body = self.run_case("compile_timeout", limits={"compile_timeout_ms": COMPILE_TIMEOUT_MS})
        self.assert_compile_killed(body, self.lang.expected("compile_timeout", "statuses", ["timeout"]))

    def case_compile_memory(self):
        # the longest timeout: a compiler that thrashes its binary's pages in and
        # out of a tight cgroup may be slow before the OOM killer comes
        body = self.run_case("compile_memory", limits={"compile_memory_mb": COMPILE_MEMORY_MB,
                                                       "compile_timeout_ms": self.compile_timeout_ceiling})
        comp = self.assert_compile_killed(body, self.lang.expected("compile_memory", "statuses", ["memory_limit"]))
        if comp["status"] == "memory_limit":
            self.assertLessEqual(comp["memory_kb"], COMPILE_MEMORY_MB * 1024 + PEAK_SLACK_KB, short(body))
        self.assert_needles(comp["output"], self.lang.expected("compile_memory", "needles", []), body)

    def case_alias(self):
        for alias in self.lang.aliases:
            self.assertIn(alias, self.entry.get("aliases", []), "alias of %s: %r" % (self.lang.name, self.entry))
        body = self.execute(self.lang.program("hello"), language=self.lang.aliases[0])
        self.assert_ran(body, "ok", exit_code=0, output=langs.HELLO)


def _test(case, reason):
    if reason:
        @unittest.skip("not applicable: %s" % reason)
        def test(self):
            pass
    else:
        def test(self):
            getattr(self, "case_" + case)()
    return test


def _language_class(lang):
    attrs = {"lang": lang, "__doc__": "%s: every case of langs.py" % lang.name}
    for case, reason in lang.cases(quick=QUICK):
        name = "test_%s_%s" % (lang.name, case)
        attrs[name] = _test(case, reason)
        attrs[name].__name__ = name
    return type("Language_%s" % lang.name, (LanguageCase,), attrs)


for _name in SELECTED:
    _cls = _language_class(LANGUAGES[_name])
    globals()[_cls.__name__] = _cls
del _name, _cls


# ---------------------------------------------------------------------------

class LanguageTable(CETestCase):
    """GET /languages against the table."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entries = language_entries(cls.server)

    def test_languages_selection_is_known(self):
        unknown = [n for n in REQUESTED if n not in LANGUAGES]
        self.assertEqual(unknown, [], "CE_LANGUAGES names languages the table does not have (it has: %s)"
                         % ", ".join(TABLE_ORDER))

    def test_languages_every_selected_one_is_available(self):
        problems = [p for p in (entry_problem(n, self.entries) for n in SELECTED) if p]
        self.assertEqual(problems, [], "\n".join(problems))

    def test_languages_entries_follow_the_spec(self):
        for name in SELECTED:
            entry, lang = self.entries.get(name), LANGUAGES[name]
            if entry is None or entry.get("available") is False:
                continue  # test_languages_every_selected_one_is_available says so
            with self.subTest(language=name):
                keys = {"name", "version", "aliases", "entry_file", "compiled", "limits", "available"}
                if lang.compiled:
                    keys.add("compile_limits")
                self.assertEqual(sorted(entry), sorted(keys), entry)
                self.assertIs(entry["available"], True, entry)
                self.assertIs(entry["compiled"], lang.compiled, entry)
                self.assertTrue(isinstance(entry["version"], str) and entry["version"].strip(), entry)
                self.assertTrue(isinstance(entry["entry_file"], str) and entry["entry_file"], entry)
                self.assertTrue(set(lang.aliases) <= set(entry["aliases"]),
                                "aliases %r should include %r" % (entry["aliases"], lang.aliases))
                self.assertEqual(sorted(entry["limits"]), sorted(LIMIT_KEYS), entry)
                for key in LIMIT_KEYS:
                    self.assertTrue(isinstance(entry["limits"][key], (int, float)) and entry["limits"][key] > 0,
                                    entry)
                if lang.compiled:
                    self.assertTrue(set(COMPILE_LIMIT_KEYS) <= set(entry["compile_limits"]), entry)

    def test_languages_names_and_aliases_are_unique(self):
        seen = {}
        for name, entry in self.entries.items():
            for n in [name] + list(entry.get("aliases", [])):
                self.assertNotIn(n, seen, "%r is both %s's and %s's" % (n, seen.get(n), name))
                seen[n] = name

    def test_languages_every_server_language_is_in_the_table(self):
        extra = sorted(n for n in self.entries if n not in LANGUAGES)
        self.assertEqual(extra, [], "languages without a row in langs.py (add them there)")

    def test_languages_unavailable_answers_503(self):
        down = [e for e in self.entries.values() if e.get("available", True) is not True]
        if not down:
            self.skipTest("every language is available on this server")
        name = down[0]["name"]
        self.assertTrue(isinstance(down[0].get("reason"), str) and down[0]["reason"], down[0])
        status, headers, body = self.server.post_execute(json.dumps({"language": name, "code": "x"}))
        self.assert_error(status, headers, body, 503)
        self.assertIn("language '%s' is not available on this server" % name, body["error"], body)


# ---------------------------------------------------------------------------

C_FORK_BOMB = r"""
    #include <stdio.h>
    #include <sys/prctl.h>
    #include <unistd.h>

    int main(void)
    {
        prctl(PR_SET_NAME, "@MARK@forkbomb");
        puts("START");
        fflush(stdout);
        for (;;)
            if (fork() < 0)
                usleep(50000);
    }
    """

C_MEMORY_BOMB = r"""
    #include <stdio.h>
    #include <stdlib.h>

    int main(void)
    {
        size_t size = (size_t)@MB@ << 20;
        char *p = malloc(size);
        if (p == NULL) {
            puts("MALLOC-FAILED");
            return 1;
        }
        puts("MAPPED");
        fflush(stdout);
        for (size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        puts("SURVIVED");
        return 0;
    }
    """

C_SYSCALLS = r"""
    #define _GNU_SOURCE
    #include <errno.h>
    #include <fcntl.h>
    #include <linux/io_uring.h>
    #include <sched.h>
    #include <signal.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/mount.h>
    #include <sys/ptrace.h>
    #include <sys/socket.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <sys/sysmacros.h>
    #include <netinet/in.h>
    #include <unistd.h>

    static void probe(const char *name, long r)
    {
        printf("%s %s\n", name, r == -1 ? strerrorname_np(errno) : "OK");
        fflush(stdout);
    }

    int main(void)
    {
        struct io_uring_params params;
        memset(&params, 0, sizeof params);
        int ns = open("/proc/self/ns/net", O_RDONLY);
        probe("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, NULL));
        probe("umount2", syscall(SYS_umount2, "/tmp", (long)MNT_DETACH));
        probe("unshare_user", syscall(SYS_unshare, (long)CLONE_NEWUSER));
        probe("unshare_mount", syscall(SYS_unshare, (long)CLONE_NEWNS));
        probe("setns", syscall(SYS_setns, (long)ns, 0L));
        probe("ptrace_traceme", syscall(SYS_ptrace, (long)PTRACE_TRACEME, 0L, 0L, 0L));
        probe("ptrace_attach", syscall(SYS_ptrace, (long)PTRACE_ATTACH, 1L, 0L, 0L));
        probe("chroot", syscall(SYS_chroot, "/tmp"));
        probe("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
        probe("bpf", syscall(SYS_bpf, 0L, NULL, 0L));
        probe("keyctl", syscall(SYS_keyctl, 0L, -3L, 0L));
        probe("userfaultfd", syscall(SYS_userfaultfd, 0L));
        probe("io_uring_setup", syscall(SYS_io_uring_setup, 1L, &params));
        probe("mknod", syscall(SYS_mknodat, (long)AT_FDCWD, "/tmp/null", (long)(S_IFCHR | 0666), (long)makedev(1, 3)));
        probe("raw_socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
        probe("setuid", syscall(SYS_setuid, 0L));
        long child = syscall(SYS_clone, (long)(CLONE_NEWNS | SIGCHLD), 0L, 0L, 0L, 0L);
        if (child == 0)
            _exit(0);
        probe("clone_newns", child);
        return 0;
    }
    """
C_DENIED = ("mount", "umount2", "unshare_user", "unshare_mount", "setns", "ptrace_traceme", "ptrace_attach",
            "chroot", "pivot_root", "bpf", "keyctl", "userfaultfd", "io_uring_setup", "mknod", "raw_socket",
            "setuid", "clone_newns")

C_IDENTITY = r"""
    #include <stdio.h>
    #include <string.h>
    #include <unistd.h>

    int main(void)
    {
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        printf("Uid %d %d\nGid %d %d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs", 10) == 0 ||
                strncmp(line, "Seccomp:", 8) == 0)
                fputs(line, stdout);
        return 0;
    }
    """


def _lines(output):
    found = {}
    for line in output.splitlines():
        key, _, rest = line.replace("\t", " ").partition(" ")
        found[key.rstrip(":")] = rest.strip()
    return found


@unittest.skipIf(QUICK or "c" not in SELECTED, "C adversarial cases: not with --quick or without c")
class AdversarialLanguageC(LanguageChecks, AdversarialCase):
    """Native code attacking the sandbox: what test_adversarial.py does in Python, in C."""

    lang = LANGUAGES["c"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        entries = language_entries(cls.server)
        problem = entry_problem("c", entries)
        if problem:
            super().tearDownClass()
            raise AssertionError(problem)
        cls.entry = entries["c"]
        cls.compile_timeout_ceiling = compile_ceiling_ms(cls.server)

    def c_program(self, src, **values):
        src = ce.code(src)
        for key, value in values.items():
            src = src.replace("@%s@" % key, str(value))
        return src

    def test_c_fork_bomb_bounded_by_pids(self):
        pids = self.entry["limits"]["pids"]
        with CgroupMonitor(self.server) as mon:
            body = self.execute(self.c_program(C_FORK_BOMB, MARK=MARK_PREFIX), limits={"timeout_ms": 3000})
        self.assert_compiled_ok(body)
        self.assertIn(body["status"], ("timeout", "memory_limit"), short(body))
        self.assertEqual(body["exit_code"], 137, short(body))
        self.assertIn("START", body["output"], short(body))
        most, refused = mon.largest()
        self.assertTrue(0 < most <= pids, "pids seen by the host: %d (%r)" % (most, mon.seen))
        self.assertGreater(refused, 0, "the pids limit never refused a fork: %r" % mon.seen)
        self.assert_healthy()

    def test_c_memory_bomb_gets_memory_limit(self):
        limit_mb = self.entry["limits"]["memory_mb"]
        body = self.execute(self.c_program(C_MEMORY_BOMB, MB=limit_mb * 6))
        self.assert_ran(body, "memory_limit", exit_code=137, signal="SIGKILL")
        self.assertIn("MAPPED", body["output"], short(body))
        self.assertNotIn("SURVIVED", body["output"], short(body))
        self.assertLessEqual(body["memory_kb"], limit_mb * 1024 + PEAK_SLACK_KB, short(body))

    @unittest.skipUnless(os.uname().machine == "x86_64", "x86_64 system call numbers and headers")
    def test_c_privileged_syscalls_denied(self):
        body = self.execute(self.c_program(C_SYSCALLS))
        self.assert_ran(body, "ok", exit_code=0)
        seen = _lines(body["stdout"])
        for name in C_DENIED:
            with self.subTest(syscall=name):
                self.assertEqual(seen.get(name), "EPERM", "%s: %r" % (name, short(body)))

    def test_c_runs_unprivileged(self):
        body = self.execute(self.c_program(C_IDENTITY))
        self.assert_ran(body, "ok", exit_code=0)
        seen = _lines(body["stdout"])
        self.assertEqual((seen.get("Uid"), seen.get("Gid")), ("65534 65534", "65534 65534"), short(body))
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(seen.get(cap, "1"), 16), 0, "%s: %r" % (cap, short(body)))
        self.assertEqual((seen.get("NoNewPrivs"), seen.get("Seccomp")), ("1", "2"), short(body))
