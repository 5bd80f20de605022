"""Test cases in the native API (issue 17): POST /execute with "tests",
"checker" and "stop_on_failure": a verdict per test, the top-level verdict,
passed/total, every checker with its edge cases, every verdict in C, Python
and Java, a compiled submission compiled once, each test in its own fresh
container, tests on several workers at once (--test-workers) and fair to a
request queued behind them, 256 tests in one request, the NDJSON "test"
events, and the 400s.

Outcomes only: no assertion on how long anything took (the timeouts below
only keep a broken server from hanging the run).  The compile cache and the
bench are tested elsewhere.
"""

import json
import os
import re
import threading

import ce
from ce import CETestCase, code

NDJSON = "application/x-ndjson"
VERDICTS = {"accepted", "wrong_answer", "no_answer", "timeout", "memory_limit", "output_limit",
            "runtime_error", "skipped"}
# A test that did not pass, for the top-level verdict (no_answer and skipped never decide it).
FAILING = VERDICTS - {"accepted", "no_answer", "skipped"}
# One entry of the response's "tests", in this order.
TEST_KEYS = ("name", "verdict", "status", "stdout", "stderr", "exit_code", "signal", "truncated",
             "time", "memory_kb")
# What a response with tests adds to today's result.
JUDGE_KEYS = ("tests", "verdict", "passed", "total")
# The top-level fields that are the first test's run.
FIRST_TEST_FIELDS = ("status", "stdout", "stderr", "exit_code", "signal", "truncated")
# Which run status each verdict of a test that ran goes with.
VERDICT_STATUS = {"accepted": "ok", "wrong_answer": "ok", "no_answer": "ok", "timeout": "timeout",
                  "memory_limit": "memory_limit", "output_limit": "output_limit",
                  "runtime_error": "runtime_error"}
# Hang guards only (a big request on a busy 2-core machine may take minutes).
BIG_REQUEST_TIMEOUT = 900.0

A, WA, NA = "accepted", "wrong_answer", "no_answer"

# Writes its stdin to stdout byte for byte: the checker tables send the
# output they want judged as the test's stdin.
PY_ECHO = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())\n"

# One program per language for every verdict, its behaviour picked by the
# test's args[0] (so one request, one compile, holds every verdict):
#   echo    copies stdin to stdout          (accepted, wrong_answer, no_answer)
#   loop    never ends                      (timeout)
#   alloc   allocates and touches 256 MiB   (memory_limit)
#   flood   writes stdout without end       (output_limit)
#   exit    prints "partial", exits 3       (runtime_error, although the output matches)
#   abort   dies of SIGABRT                 (runtime_error with a signal)
#   throw   an uncaught exception (Java)    (runtime_error)
PY_VERDICTS = code("""
    import os, sys
    mode = sys.argv[1]
    if mode == "echo":
        sys.stdout.write(sys.stdin.read())
    elif mode == "loop":
        while True:
            pass
    elif mode == "alloc":
        s = b"x" * (256 << 20)
        print(len(s))
    elif mode == "flood":
        while True:
            sys.stdout.write("y" * 4096)
    elif mode == "exit":
        print("partial")
        sys.exit(3)
    elif mode == "abort":
        sys.stdout.flush()
        os.abort()
    """)

C_VERDICTS = code("""
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    int main(int argc, char **argv) {
        const char *mode = argv[1];
        if (!strcmp(mode, "echo")) {
            int c;
            while ((c = getchar()) != EOF) putchar(c);
        } else if (!strcmp(mode, "loop")) {
            volatile unsigned long n = 0;
            for (;;) n++;
        } else if (!strcmp(mode, "alloc")) {
            size_t size = (size_t)256 << 20;
            char *p = malloc(size);
            if (p) memset(p, 'x', size);
            printf("%d\\n", p ? p[size - 1] : -1);
        } else if (!strcmp(mode, "flood")) {
            char buf[4096];
            memset(buf, 'y', sizeof buf);
            for (;;) fwrite(buf, 1, sizeof buf, stdout);
        } else if (!strcmp(mode, "exit")) {
            puts("partial");
            return 3;
        } else if (!strcmp(mode, "abort")) {
            fflush(stdout);
            abort();
        }
        return 0;
    }
    """)

JAVA_VERDICTS = code("""
    import java.util.ArrayList;
    import java.util.List;

    public class Main {
        public static void main(String[] args) throws Exception {
            String mode = args[0];
            if (mode.equals("echo")) {
                System.out.write(System.in.readAllBytes());
                System.out.flush();
            } else if (mode.equals("loop")) {
                long n = 0;
                while (true) {
                    n++;
                }
            } else if (mode.equals("alloc")) {
                List<byte[]> chunks = new ArrayList<>();
                for (int i = 0; i < 512; i++) {
                    chunks.add(new byte[1 << 20]);
                }
                System.out.println("allocated " + chunks.size());
            } else if (mode.equals("flood")) {
                String chunk = "y".repeat(4096);
                while (true) {
                    System.out.print(chunk);
                }
            } else if (mode.equals("exit")) {
                System.out.println("partial");
                System.out.flush();
                System.exit(3);
            } else if (mode.equals("throw")) {
                throw new IllegalStateException("judge-boom");
            }
        }
    }
    """)

# For the verdict programs: limits that every test of the request shares.
VERDICT_LIMITS = {"timeout_ms": 3000, "memory_mb": 64, "output_bytes": 10000}


def t(stdin=None, expected=None, args=None, name=None):
    """One test object, with only the fields given."""
    test = {}
    if name is not None:
        test["name"] = name
    if stdin is not None:
        test["stdin"] = stdin
    if args is not None:
        test["args"] = args
    if expected is not None:
        test["expected_output"] = expected
    return test


def short(value, limit=300):
    """A response for a failure message, long strings cut."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "...(%d chars)" % len(value)
    if isinstance(value, dict):
        return {k: short(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [short(v, limit) for v in value]
    return value


class JudgeCase(CETestCase):
    """Helpers: send a request with tests, check the answer's shape and the
    rules that hold for every answer, compare verdicts."""

    def send(self, payload, timeout=ce.EXEC_TIMEOUT):
        return self.server.post_execute(json.dumps(payload).encode("utf-8"), timeout=timeout)

    def judge(self, src, tests, language="python3", timeout=ce.EXEC_TIMEOUT, **extra):
        """POST code with tests (and extra fields); require 200 and a
        well-formed answer; return it."""
        payload = {"language": language, "code": src, "tests": tests}
        payload.update(extra)
        status, _, body = self.send(payload, timeout)
        self.assertEqual(status, 200, "expected HTTP 200 for %s, got %d: %r"
                         % (json.dumps(payload)[:400], status, short(body)))
        self.assert_judged(body, tests)
        return body

    def assert_judged(self, body, tests):
        """The shape of an answer with tests, and the rules between its fields:
        one entry per test in request order with its name, passed = the
        accepted ones, total = len(tests), the top-level verdict from the
        entries, the top-level run fields those of the first test."""
        self.assertIsInstance(body, dict, body)
        keys = set(ce.RESULT_KEYS) | set(JUDGE_KEYS) | ({"compile"} if "compile" in body else set())
        self.assertEqual(set(body), keys, "unexpected keys in %r" % (short(body),))
        self.assertEqual(next(iter(body)), "output", "'output' must still come first: %r" % (short(body),))
        entries = body["tests"]
        self.assertIsInstance(entries, list, short(body))
        self.assertEqual(len(entries), len(tests), "one entry per test: %r" % (short(body),))
        self.assertTrue(type(body["total"]) is int and body["total"] == len(tests), short(body))
        verdicts = [e.get("verdict") for e in entries]
        self.assertTrue(type(body["passed"]) is int, short(body))
        self.assertEqual(body["passed"], verdicts.count("accepted"), "passed: %r" % (short(body),))
        for i, (entry, test) in enumerate(zip(entries, tests)):
            self.assert_entry(entry, "tests[%d] of %r" % (i, short(body)))
            self.assertEqual(entry["name"], test.get("name"), "tests[%d]'s name: %r" % (i, short(body)))
            if entry["verdict"] == "no_answer":
                self.assertNotIn("expected_output", test, "no_answer for a test with an expected output")
            elif entry["verdict"] in ("accepted", "wrong_answer"):
                self.assertIn("expected_output", test, "%s without an expected output" % entry["verdict"])
        if body["verdict"] == "compile_error":
            self.assertEqual(body["compile"]["status"], "compile_error", short(body))
            self.assertEqual(verdicts, ["skipped"] * len(tests), "no test runs after a failed compile")
            self.assertEqual(body["passed"], 0)
            return
        if "compile" in body:
            self.assertEqual(body["compile"]["status"], "ok", short(body))
        failing = [v for v in verdicts if v in FAILING]
        self.assertEqual(body["verdict"], failing[0] if failing else "accepted",
                         "top-level verdict: the first failing test's, else accepted: %r" % (short(body),))
        first = entries[0]
        self.assertNotEqual(first["verdict"], "skipped", "the first test always runs: %r" % (short(body),))
        for key in FIRST_TEST_FIELDS:
            self.assertEqual(body[key], first[key], "top-level %s must be the first test's: %r"
                             % (key, short(body)))
        self.assertEqual(body["memory_kb"] is None, first["memory_kb"] is None, short(body))

    def assert_entry(self, entry, where):
        self.assertIsInstance(entry, dict, where)
        # output_clipped: only when the answer cut a later test's output.
        self.assertEqual(set(entry) - {"output_clipped"}, set(TEST_KEYS), "keys of %s" % where)
        self.assertIn(entry["verdict"], VERDICTS, where)
        name = entry["name"]
        self.assertTrue(name is None or isinstance(name, str), where)
        if entry["verdict"] == "skipped":
            return
        self.assertEqual(entry["status"], VERDICT_STATUS[entry["verdict"]], "verdict and status: %s" % where)
        for key in ("stdout", "stderr"):
            self.assertIsInstance(entry[key], str, where)
        self.assertTrue(type(entry["exit_code"]) is int, where)
        self.assertTrue(type(entry["truncated"]) is bool, where)
        self.assertEqual(entry["truncated"], entry["status"] == "output_limit", where)
        sig = entry["signal"]
        self.assertTrue(sig is None or re.match(r"^SIG[A-Z0-9]+$", sig), where)
        if entry["status"] == "ok":
            self.assertEqual((entry["exit_code"], sig), (0, None), where)
        self.assertIsInstance(entry["time"], dict, where)
        self.assertEqual(set(entry["time"]), set(ce.TIME_KEYS), where)
        for key in ce.TIME_KEYS:
            self.assertTrue(type(entry["time"][key]) is int and entry["time"][key] >= 0, where)
        self.assertTrue(type(entry["memory_kb"]) is int and entry["memory_kb"] >= 0, where)

    def assert_verdicts(self, body, expected):
        self.assertEqual([e["verdict"] for e in body["tests"]], list(expected),
                         "verdicts of %r" % (short(body),))

    def check_every_verdict(self, body, signal_case=True):
        """The answer to verdict_tests() with VERDICT_LIMITS."""
        expected = [A, WA, NA, "timeout", "memory_limit", "output_limit", "runtime_error"]
        if signal_case:
            expected.append("runtime_error")
        self.assert_verdicts(body, expected)
        self.assertEqual((body["verdict"], body["passed"], body["total"]), (WA, 1, len(expected)))
        e = body["tests"]
        self.assertEqual([x["stdout"] for x in e[:3]], ["3 4\n", "3 4\n", "hi\n"])
        self.assertEqual((e[3]["exit_code"], e[3]["signal"]), (137, "SIGKILL"), e[3])
        self.assertTrue(e[5]["truncated"], short(e[5]))
        self.assertLessEqual(len(e[5]["stdout"]), VERDICT_LIMITS["output_bytes"], short(e[5]))
        self.assertEqual((e[6]["exit_code"], e[6]["signal"], e[6]["stdout"]), (3, None, "partial\n"), e[6])
        if signal_case:
            self.assertEqual((e[7]["exit_code"], e[7]["signal"]), (134, "SIGABRT"), e[7])
        # the top level is the first test's run
        self.assert_result(body, "ok", exit_code=0, signal=None)
        self.assertEqual(body["stdout"], "3 4\n")

    def check_table(self, table, checker, src=PY_ECHO):
        """table: [(output, expected_output, verdict)]; one request with a
        test per row, the echo program printing `output`."""
        tests = [t(stdin=out, expected=exp, name="row%d" % i) for i, (out, exp, _) in enumerate(table)]
        extra = {} if checker is None else {"checker": checker}
        body = self.judge(src, tests, **extra)
        got = [e["verdict"] for e in body["tests"]]
        wrong = ["%r vs expected %r: %s, want %s" % (out, exp, g, want)
                 for (out, exp, want), g in zip(table, got) if g != want]
        self.assertEqual(wrong, [], "checker %r" % (checker,))
        for (out, _, _), entry in zip(table, body["tests"]):
            self.assertEqual(entry["stdout"], out, "the program's output is reported as written")
        return body

    def stream(self, payload, timeout=ce.EXEC_TIMEOUT):
        """POST with Accept: NDJSON: (status, headers, [events]) (the error
        body instead of events when the answer is not a stream)."""
        conn = self.server.connection(timeout)
        try:
            conn.request("POST", "/execute", body=json.dumps(payload).encode("utf-8"),
                         headers={"Content-Type": "application/json", "Accept": NDJSON})
            resp = conn.getresponse()
            if resp.status != 200 or resp.headers.get("Content-Type") != NDJSON:
                return resp.status, resp.headers, ce.parse_json(resp.read())
            events = []
            while True:
                line = resp.readline()
                if not line:
                    break
                self.assertTrue(line.endswith(b"\n"), line)
                events.append(ce.parse_json(line))
            return resp.status, resp.headers, events
        finally:
            conn.close()

    def judge_stream(self, src, tests, language="python3", **extra):
        """Stream a request with tests: ([events], the result).  One "test"
        event per test that ran, each before the result and equal to the
        result's entry for its index."""
        payload = {"language": language, "code": src, "tests": tests}
        payload.update(extra)
        status, _, events = self.stream(payload)
        self.assertEqual(status, 200, short(events))
        self.assertTrue(events, "no events")
        kinds = [e.get("type") for e in events]
        self.assertEqual(kinds[-1], "result", kinds)
        self.assertEqual(kinds.count("result"), 1, kinds)
        result = events[-1]["result"]
        self.assert_judged(result, tests)
        test_events = [e for e in events if e.get("type") == "test"]
        indices = [e.get("index") for e in test_events]
        ran = [i for i, e in enumerate(result["tests"]) if e["verdict"] != "skipped"]
        self.assertEqual(len(indices), len(set(indices)), "a test event per test, once: %r" % (indices,))
        self.assertTrue(set(ran) <= set(indices) <= set(range(len(tests))),
                        "a test event for every test that ran: %r" % (short(test_events),))
        for ev in test_events:
            fields = {k: v for k, v in ev.items() if k not in ("type", "index")}
            self.assertEqual(fields, result["tests"][ev["index"]],
                             "a test event holds its entry's fields: %r" % (short(ev),))
        return events, result


class JudgeBadInput(JudgeCase):
    """The 400s of the new fields, and today's requests unchanged."""

    BASE = {"language": "python3", "code": "print(1)"}

    def assert_400(self, extra, *needles):
        payload = dict(self.BASE)
        payload.update(extra)
        status, headers, body = self.send(payload)
        self.assert_error(status, headers, body, 400)
        for needle in needles:
            self.assertIn(needle, body["error"], "the error should name %r; request %s -> %r"
                          % (needle, json.dumps(payload)[:300], body))
        return body

    def test_without_tests_the_answer_is_todays(self):
        body = self.run_code("print(1)")
        self.assert_result(body, "ok", exit_code=0, output="1\n")
        for key in JUDGE_KEYS:
            self.assertNotIn(key, body)

    def test_tests_count(self):
        self.assert_400({"tests": []}, "tests")
        self.assert_400({"tests": [t(expected="1\n")] * 257}, "tests")

    def test_tests_type(self):
        for bad in ("x", {}, [1], ["x"], [None], [[]]):
            with self.subTest(tests=bad):
                self.assert_400({"tests": bad}, "tests")

    def test_test_fields(self):
        for bad in ({"stdin": 5}, {"expected_output": 5}, {"name": 5},
                    {"args": "a"}, {"args": [1]}, {"expected": "1\n"}, {"input": "1"},
                    {"name": "x" * 256}, {"name": "a\u0000b"}):
            with self.subTest(test=bad):
                self.assert_400({"tests": [bad]}, "tests")

    def test_top_level_stdin_or_args_with_tests(self):
        self.assert_400({"tests": [t(stdin="1")], "stdin": "1"}, "stdin")
        self.assert_400({"tests": [t(stdin="1")], "stdin": ""}, "stdin")
        self.assert_400({"tests": [t(args=["a"])], "args": ["a"]}, "args")
        self.assert_400({"tests": [t()], "args": []}, "args")

    def test_checker_values(self):
        tests = [t(expected="1\n")]
        for bad in ("fuzzy", "", "EXACT", "float ", 5, True, [], {}, {"type": "regex"},
                    {"type": "float", "eps": 1e-6}, {"type": "float", "abs": -1},
                    {"type": "float", "abs": 1e10}, {"type": "float", "rel": "1e-6"},
                    {"type": "lines", "abs": 1e-6}, {"abs": 1e-6}):
            with self.subTest(checker=bad):
                self.assert_400({"tests": tests, "checker": bad}, "checker")

    def test_checker_forms_accepted(self):
        tests = [t(expected="1\n")]
        for good in ("exact", "lines", "tokens", "float", {"type": "tokens"},
                     {"type": "float", "abs": 1e-6, "rel": 1e-6}, {"type": "float", "abs": 0, "rel": 0}):
            with self.subTest(checker=good):
                body = self.judge("print(1)", tests, checker=good)
                self.assert_verdicts(body, [A])

    def test_checker_and_stop_on_failure_need_tests(self):
        self.assert_400({"checker": "exact"}, "checker")
        self.assert_400({"stop_on_failure": True}, "stop_on_failure")
        self.assert_400({"stop_on_failure": False}, "stop_on_failure")

    def test_stop_on_failure_type(self):
        for bad in ("yes", 1, "true", []):
            with self.subTest(stop_on_failure=bad):
                self.assert_400({"tests": [t()], "stop_on_failure": bad}, "stop_on_failure")


class JudgeCheckers(JudgeCase):
    """Every checker, each table one request of an echo program."""

    # three ~1 MB expected outputs in one body
    server_args = ("--max-body", str(8 << 20))

    def test_exact(self):
        self.check_table([
            ("a\nb\n", "a\nb\n", A),
            ("", "", A),
            ("h\u00e9llo \u2713\n", "h\u00e9llo \u2713\n", A),
            ("a\nb", "a\nb\n", WA),          # no trailing newline
            ("a\nb\n", "a\nb", WA),
            ("a\r\nb\r\n", "a\nb\n", WA),    # CRLF is not LF
            ("a \nb\n", "a\nb\n", WA),       # trailing space
            ("a\nb\n\n", "a\nb\n", WA),      # trailing empty line
            ("A\n", "a\n", WA),
        ], "exact")

    LINES = [
        ("a\nb\n", "a\nb\n", A),
        ("a\nb", "a\nb\n", A),               # output without the final newline
        ("a\nb\n", "a\nb", A),               # expected without it
        ("a\r\nb\r\n", "a\nb\n", A),         # CRLF output
        ("a\nb\n", "a\r\nb\r\n", A),         # CRLF expected
        ("a  \t\nb \r\n", "a\nb\n", A),      # trailing spaces and tabs
        ("a\nb\n\n\n", "a\nb\n", A),         # trailing empty lines
        ("a\nb\n", "a\nb\n\n \n", A),
        ("", "", A),
        ("\n\n", "", A),
        (" a\nb\n", "a\nb\n", WA),           # leading whitespace counts
        ("a  b\n", "a b\n", WA),             # so does whitespace inside a line
        ("a\n\nb\n", "a\nb\n", WA),          # and an empty line that is not at the end
        ("\na\n", "a\n", WA),
        ("a\nb\n", "a\n", WA),
        ("a\n", "a\nb\n", WA),
        ("A\n", "a\n", WA),
    ]

    def test_lines(self):
        self.check_table(self.LINES, "lines")

    def test_lines_is_the_default(self):
        self.check_table(self.LINES, None)

    def test_tokens(self):
        self.check_table([
            ("1 2\n3\n", "1\n2 3", A),       # tokens across lines
            ("1\t2   3\r\n", "1 2 3", A),
            ("  1 2 3  \n\n", "1 2 3\n", A),
            ("", "", A),
            ("\n \t\n", "", A),
            ("1 2 3", "1 2", WA),
            ("1 2", "1 2 3", WA),
            ("12", "1 2", WA),
            ("1e-7", "0.0000001", WA),       # tokens are text
            ("1.0", "1", WA),
        ], "tokens")

    FLOAT = [
        ("1e-7\n", "0.0000001\n", A),
        ("0.0000001", "1e-7", A),
        ("1.0 2.50\n3", "1 2.5 3.0", A),
        ("x 1.00000000001 y", "x 1 y", A),
        ("-0.0", "0", A),
        ("nan", "nan", A),                   # byte-identical tokens
        ("NaN", "1.0", WA),                  # NaN equals no number
        ("1.0", "nan", WA),
        ("nan", "0", WA),
        ("inf", "1e308", WA),
        ("1.5", "2.5", WA),
        ("abc", "abd", WA),
        ("1 2", "1", WA),
        ("1", "1 2", WA),
    ]

    def test_float_by_name(self):
        self.check_table(self.FLOAT, "float")

    def test_float_with_tolerances(self):
        checker = {"type": "float", "abs": 1e-6, "rel": 1e-6}
        self.check_table(self.FLOAT + [
            ("1.0000005", "1", A),           # within abs
            ("1.00001", "1", WA),
            ("1000000.5", "1000000", A),     # outside abs, within rel
            ("1000010", "1000000", WA),
        ], checker)
        self.check_table([
            ("1.2", "1", WA),
            ("1", "1.0", A),
            ("1000000.5", "1000000", WA),
            ("0.5", "0.4", A),
        ], {"type": "float", "abs": 0.1, "rel": 0})

    def test_very_long_line(self):
        n = 1000000
        src = "import sys\nsys.stdout.write('x' * %d + '\\n')\n" % n
        line = "x" * n
        tests = [t(expected=line + "\n"), t(expected=line), t(expected=line[:-1] + "y\n")]
        for checker in ("lines", "exact"):
            with self.subTest(checker=checker):
                body = self.judge(src, tests, checker=checker)
                self.assert_verdicts(body, [A, A if checker == "lines" else WA, WA])
                self.assertEqual(len(body["tests"][0]["stdout"]), n + 1)


class JudgePython(JudgeCase):
    """Every verdict in Python, stop_on_failure, args per test, the
    top-level verdict, isolation between tests, the NDJSON events."""

    def test_every_verdict(self):
        body = self.judge(PY_VERDICTS, verdict_tests(), limits=VERDICT_LIMITS)
        self.check_every_verdict(body)

    def test_stdout_is_judged_not_stderr(self):
        src = "import sys\nprint('ok')\nprint('noise', file=sys.stderr)\n"
        body = self.judge(src, [t(expected="ok\n"), t(expected="ok\nnoise\n")])
        self.assert_verdicts(body, [A, WA])
        self.assertEqual(body["tests"][0]["stderr"], "noise\n")

    def test_top_level_verdict(self):
        # every test with an expected output accepted: accepted, whatever no_answer says
        body = self.judge(PY_VERDICTS, [t(stdin="x", args=["echo"]), t(stdin="y", expected="y", args=["echo"])])
        self.assertEqual((body["verdict"], body["passed"], body["total"]), (A, 1, 2))
        # else the first failing test's verdict, in request order
        body = self.judge(PY_VERDICTS, [t(stdin="x", args=["echo"]), t(stdin="y", expected="y", args=["echo"]),
                                        t(expected="partial\n", args=["exit"]),
                                        t(stdin="y", expected="z", args=["echo"])])
        self.assert_verdicts(body, [NA, A, "runtime_error", WA])
        self.assertEqual((body["verdict"], body["passed"], body["total"]), ("runtime_error", 1, 4))

    def test_stop_on_failure(self):
        tests = [t(stdin="1\n", expected="1\n", name="one"), t(stdin="2\n", expected="3\n", name="two"),
                 t(stdin="3\n", expected="3\n", name="three"), t(stdin="4\n", expected="4\n", name="four")]
        body = self.judge(PY_ECHO, tests, stop_on_failure=True)
        self.assert_verdicts(body, [A, WA, "skipped", "skipped"])
        self.assertEqual((body["verdict"], body["passed"], body["total"]), (WA, 1, 4))
        self.assertEqual([e["name"] for e in body["tests"]], ["one", "two", "three", "four"])
        # false (the default): every test runs
        for extra in ({"stop_on_failure": False}, {}):
            body = self.judge(PY_ECHO, tests, **extra)
            self.assert_verdicts(body, [A, WA, A, A])
            self.assertEqual((body["verdict"], body["passed"]), (WA, 3))
        # nothing fails: nothing is skipped
        body = self.judge(PY_ECHO, [tests[0], tests[2]], stop_on_failure=True)
        self.assert_verdicts(body, [A, A])
        self.assertEqual((body["verdict"], body["passed"]), (A, 2))

    def test_stop_on_failure_after_a_failing_first_test(self):
        tests = [t(expected="partial\n", args=["exit"]), t(stdin="2", expected="2", args=["echo"])]
        body = self.judge(PY_VERDICTS, tests, stop_on_failure=True)
        self.assert_verdicts(body, ["runtime_error", "skipped"])
        self.assertEqual((body["verdict"], body["passed"]), ("runtime_error", 0))
        self.assert_result(body, "runtime_error", exit_code=3)
        self.assertEqual(body["stdout"], "partial\n")

    def test_args_stdin_and_names_per_test(self):
        src = "import sys\nprint('|'.join(sys.argv[1:]))\nprint(repr(sys.stdin.read()))\n"
        tests = [t(args=["a"], stdin="in1", expected="a\n'in1'\n", name="first"),
                 t(args=["two words", "", "$HOME"], expected="two words||$HOME\n''\n"),
                 t(stdin="x\ny\n", expected="\n'x\\ny\\n'\n", name="\u00e9t\u00e9 \u2713"),
                 t(args=[], expected="\n''\n", name="")]
        body = self.judge(src, tests)
        self.assert_verdicts(body, [A, A, A, A])
        self.assertEqual([e["name"] for e in body["tests"]], ["first", None, "\u00e9t\u00e9 \u2713", ""])

    def test_each_test_runs_in_a_fresh_container(self):
        # Every test looks for what the others leave behind (a file in /tmp,
        # a daemon process), then leaves both; in whatever order or overlap
        # the tests run, none may see another's.
        src = code("""
            import os, sys, time
            me = sys.argv[1]
            files = sorted(f for f in os.listdir("/tmp") if f.startswith("judge-mark-"))
            procs = []
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open("/proc/%s/comm" % pid) as f:
                            comm = f.read().strip()
                    except OSError:
                        continue
                    if comm.startswith("judgebg"):
                        procs.append(comm)
            with open("/tmp/judge-mark-" + me, "w") as f:
                f.write(me)
            print("files", files, "procs", sorted(procs), flush=True)
            if os.fork() == 0:
                os.setsid()
                fd = os.open("/dev/null", os.O_RDWR)
                for i in (0, 1, 2):
                    os.dup2(fd, i)
                with open("/proc/self/comm", "w") as f:
                    f.write("judgebg" + me)
                time.sleep(30)
                os._exit(0)
            time.sleep(0.3)
            """)
        tests = [t(args=["t%d" % i], expected="files [] procs []\n") for i in range(4)]
        body = self.judge(src, tests)
        self.assert_verdicts(body, [A] * 4)

    def test_stream_sends_a_test_event_per_test(self):
        tests = [t(stdin="1", expected="1", args=["echo"]), t(stdin="2", expected="3", args=["echo"]),
                 t(stdin="4", args=["echo"]), t(expected="partial\n", args=["exit"])]
        events, result = self.judge_stream(PY_VERDICTS, tests)
        self.assert_verdicts(result, [A, WA, NA, "runtime_error"])
        self.assertEqual(len([e for e in events if e.get("type") == "test"]), 4)
        self.assertEqual(result["verdict"], WA)
        # ... and the result is what the buffered answer says
        plain = self.judge(PY_VERDICTS, tests)
        self.assertEqual([(e["verdict"], e["stdout"]) for e in plain["tests"]],
                         [(e["verdict"], e["stdout"]) for e in result["tests"]])


# Prints when it started and ended (the host's clock is the containers'), a
# second and a half apart.
SPAN = code("""
    import time
    start = time.time()
    time.sleep(1.5)
    print("%.6f %.6f" % (start, time.time()))
    """)


def spans(body):
    return [tuple(map(float, e["stdout"].split())) for e in body["tests"]]


def overlapping(intervals):
    return any(a[0] < b[1] and b[0] < a[1]
               for i, a in enumerate(intervals) for b in intervals[i + 1:])


class JudgeParallel(JudgeCase):
    """A submission's tests on several workers at once (--test-workers), in
    order in the answer, and fair to the requests queued behind it."""

    class_server = False

    def test_tests_run_at_once(self):
        self.server = self.start_server("--test-workers", "2")
        tests = [t(name="s%d" % i) for i in range(4)]
        body = self.judge(SPAN, tests)
        self.assert_verdicts(body, [NA] * 4)
        self.assertEqual([e["name"] for e in body["tests"]], ["s0", "s1", "s2", "s3"])
        self.assertTrue(overlapping(spans(body)), "no two tests overlapped: %r" % spans(body))

    def test_one_worker_runs_one_at_a_time(self):
        self.server = self.start_server("--test-workers", "1")
        body = self.judge(SPAN, [t() for _ in range(3)])
        self.assertFalse(overlapping(spans(body)), "tests overlapped: %r" % spans(body))

    def test_stop_on_failure_runs_one_at_a_time(self):
        self.server = self.start_server("--test-workers", "4")
        body = self.judge(SPAN, [t() for _ in range(3)], stop_on_failure=True)
        self.assertFalse(overlapping(spans(body)), "tests overlapped: %r" % spans(body))

    def test_stream_has_each_test_once(self):
        self.server = self.start_server("--test-workers", "3")
        tests = [t(stdin="%d\n" % i, expected="%d\n" % i, name="n%d" % i) for i in range(6)]
        events, result = self.judge_stream("print(input())", tests)
        got = sorted((e["index"], e["name"], e["verdict"]) for e in events if e.get("type") == "test")
        self.assertEqual(got, [(i, "n%d" % i, A) for i in range(6)])
        self.assertEqual([e["name"] for e in result["tests"]], ["n%d" % i for i in range(6)])

    def test_a_single_request_is_not_starved(self):
        # Two workers, both taken by a submission of 6 tests of 1.5 s: a
        # request that comes meanwhile gets the first worker a test gives
        # back, not the last one.
        self.server = self.start_server("--max-concurrent", "2", "--test-workers", "2")
        done = []
        lock = threading.Lock()

        def big():
            self.judge(SPAN, [t() for _ in range(6)], timeout=BIG_REQUEST_TIMEOUT)
            with lock:
                done.append("big")

        thread = threading.Thread(target=big)
        thread.start()
        try:
            self.assertIsNotNone(ce.wait_for_container(self.server, timeout=60))
            status, _, body = self.server.execute("print('single')", timeout=BIG_REQUEST_TIMEOUT)
            self.assertEqual((status, body.get("stdout")), (200, "single\n"), body)
            with lock:
                done.append("single")
        finally:
            thread.join(BIG_REQUEST_TIMEOUT)
        self.assertEqual(done, ["single", "big"])


class JudgeMany(JudgeCase):
    """256 tests in one request; a submission whose every test times out."""

    def test_256_tests(self):
        tests = [t(stdin="%d\n" % i, expected="%d\n" % (2 * i), name="t%03d" % i) for i in range(256)]
        body = self.judge("print(int(input()) * 2)", tests, timeout=BIG_REQUEST_TIMEOUT)
        self.assert_verdicts(body, [A] * 256)
        self.assertEqual((body["verdict"], body["passed"], body["total"]), (A, 256, 256))
        self.assertEqual([e["name"] for e in body["tests"]], ["t%03d" % i for i in range(256)])
        self.assertEqual([e["stdout"] for e in body["tests"]], ["%d\n" % (2 * i) for i in range(256)])

    def test_every_test_times_out(self):
        tests = [t(stdin="%d" % i, expected="%d\n" % i) for i in range(8)]
        body = self.judge("while True:\n    pass\n", tests, limits={"timeout_ms": 500},
                          timeout=BIG_REQUEST_TIMEOUT)
        self.assert_verdicts(body, ["timeout"] * 8)
        self.assertEqual((body["verdict"], body["passed"], body["total"]), ("timeout", 0, 8))
        for entry in body["tests"]:
            self.assertEqual((entry["status"], entry["exit_code"], entry["signal"]), ("timeout", 137, "SIGKILL"))


# Prints an FNV-1a digest and the size of /build/main (its own binary),
# whether it can be opened for writing, and whether /tmp holds another
# test's mark (then it leaves its own).
C_BUILD_DIGEST = code("""
    #include <errno.h>
    #include <fcntl.h>
    #include <stdint.h>
    #include <stdio.h>
    #include <unistd.h>
    int main(void) {
        uint64_t h = 1469598103934665603ULL;
        long n = 0;
        int c;
        FILE *f = fopen("/build/main", "rb");
        if (f == NULL) { perror("/build/main"); return 1; }
        while ((c = fgetc(f)) != EOF) { h = (h ^ (unsigned char) c) * 1099511628211ULL; n++; }
        fclose(f);
        int w = open("/build/main", O_WRONLY);
        if (access("/tmp/judge-mark", F_OK) == 0) { puts("another test's /tmp"); return 1; }
        close(open("/tmp/judge-mark", O_WRONLY | O_CREAT, 0600));
        printf("%016llx %ld %s\\n", (unsigned long long) h, n, w < 0 ? "read-only" : "writable");
        return 0;
    }
    """)


def verdict_tests(signal_case=True, with_throw=False):
    """The tests of the every-verdict request (see the *_VERDICTS programs)."""
    tests = [t(stdin="3 4\n", expected="3 4\n", args=["echo"], name="accepted"),
             t(stdin="3 4\n", expected="7\n", args=["echo"], name="wrong"),
             t(stdin="hi\n", args=["echo"]),
             t(expected="x\n", args=["loop"], name="loop"),
             t(expected="x\n", args=["alloc"], name="alloc"),
             t(expected="x\n", args=["flood"], name="flood"),
             t(expected="partial\n", args=["exit"], name="exit")]
    if signal_case:
        tests.append(t(expected="x\n", args=["abort"], name="abort"))
    if with_throw:
        tests.append(t(expected="x\n", args=["throw"], name="throw"))
    return tests


class JudgeC(JudgeCase):
    """Every verdict in C (one compile), compile once, compile_error."""

    def test_every_verdict(self):
        body = self.judge(C_VERDICTS, verdict_tests(), language="c", limits=VERDICT_LIMITS)
        self.assertEqual(body["compile"]["status"], "ok", short(body))
        self.check_every_verdict(body)

    def test_compiled_once(self):
        # One compile stage in the stream, and every test runs the same
        # binary, byte for byte (a test in a warm test slot has a copy of
        # its own), and cannot write to it.
        tests = [t(name="run%d" % i) for i in range(4)]
        events, result = self.judge_stream(C_BUILD_DIGEST, tests, language="c")
        compiles = [e for e in events if e.get("type") == "stage" and e.get("stage") == "compile"]
        self.assertEqual(len(compiles), 1, "one compile for every test: %r" % (short(events),))
        self.assert_verdicts(result, [NA] * 4)
        outputs = {e["stdout"] for e in result["tests"]}
        self.assertEqual(len(outputs), 1, "every test runs the one build: %r" % (short(result),))
        self.assertRegex(outputs.pop(), r"^[0-9a-f]{16} \d+ read-only\n$")

    def test_compile_error(self):
        tests = [t(stdin="1", expected="1"), t(stdin="2")]
        body = self.judge("int main(void) { return undefined_thing; }", tests, language="c")
        self.assertEqual((body["verdict"], body["passed"], body["total"]), ("compile_error", 0, 2))
        self.assertIn("undefined_thing", body["compile"]["output"])
        self.assertEqual(body["status"], "compile_error")


class JudgeJava(JudgeCase):
    """Every verdict in Java: one request for all the run verdicts (one
    javac), one for compile_error.  (No signal case: the JVM exits.)"""

    LIMITS = {"timeout_ms": 5000, "output_bytes": VERDICT_LIMITS["output_bytes"]}  # memory: the default 128 MB

    def test_every_verdict(self):
        tests = verdict_tests(signal_case=False, with_throw=True)
        body = self.judge(JAVA_VERDICTS, tests, language="java", limits=self.LIMITS,
                          timeout=BIG_REQUEST_TIMEOUT)
        self.assertEqual(body["compile"]["status"], "ok", short(body))
        self.assert_verdicts(body, [A, WA, NA, "timeout", "memory_limit", "output_limit", "runtime_error",
                                    "runtime_error"])
        self.assertEqual((body["verdict"], body["passed"], body["total"]), (WA, 1, 8))
        e = body["tests"]
        self.assertEqual([x["stdout"] for x in e[:3]], ["3 4\n", "3 4\n", "hi\n"])
        self.assertEqual((e[6]["exit_code"], e[6]["stdout"]), (3, "partial\n"), e[6])
        self.assertEqual(e[7]["exit_code"], 1, e[7])
        self.assertIn("judge-boom", e[7]["stderr"], short(e[7]))
        self.assertTrue(e[5]["truncated"], short(e[5]))

    def test_compile_error(self):
        src = "public class Main { public static void main(String[] a) { System.out.println(undefined_thing); } }"
        body = self.judge(src, [t(expected="1"), t()], language="java", timeout=BIG_REQUEST_TIMEOUT)
        self.assertEqual((body["verdict"], body["passed"], body["total"]), ("compile_error", 0, 2))
        self.assertIn("undefined_thing", body["compile"]["output"])


class JudgeWarmTests(JudgeCase):
    """The warm pool's test slots: after a submission with N tests, the pool
    keeps N - 1 run containers for the language (--warm-tests bounds them),
    and the next submission's tests after the first run in them, each with
    a copy of the build of its own, as isolated as before."""

    class_server = False

    def slot_counts(self):
        return self.server.warm_pool().raw.get("tests") or {}

    def wait_for_test_slots(self, n):
        left = ce.poll(lambda: self.slot_counts().get("idle", 0) < n, 120, 0.2)
        self.assertFalse(left, "the pool never held %d test slots: %r" % (n, self.slot_counts()))

    def test_tests_run_in_warm_test_slots(self):
        self.server = self.start_server("--warm-tests", "8")
        tests = [t(name="w%d" % i) for i in range(4)]
        first = self.judge(C_BUILD_DIGEST, tests, language="c")
        self.assert_verdicts(first, [NA] * 4)
        self.wait_for_test_slots(3)
        slots = [s for s in self.server.warm_pool().slots if s.get("for") == "tests"]
        self.assertEqual(len(slots), 3, slots)
        self.assertEqual({s["language"] for s in slots}, {"c"})
        # Not the first submission's: a compile now (its /build hostile, copied)
        # and a cache hit (copied from the cache through the execution's slot).
        for src in (C_BUILD_DIGEST + "\n// another\n", C_BUILD_DIGEST + "\n// another\n"):
            before = self.slot_counts()["served"]
            body = self.judge(src, tests, language="c")
            self.assert_verdicts(body, [NA] * 4)
            outputs = {e["stdout"] for e in body["tests"]}
            self.assertEqual(len(outputs), 1, short(body))
            self.assertRegex(outputs.pop(), r"^[0-9a-f]{16} \d+ read-only\n$")
            self.assertEqual(self.slot_counts()["served"] - before, 3, self.slot_counts())
            self.wait_for_test_slots(3)
        self.assertTrue(body["compile"]["cached"], short(body))

    def test_bounded_by_warm_tests(self):
        self.server = self.start_server("--warm-tests", "2")
        self.judge(PY_ECHO, [t(stdin="%d" % i, expected="%d" % i) for i in range(6)])
        self.wait_for_test_slots(2)
        # It does not grow past its bound.
        self.assertTrue(ce.poll(lambda: self.slot_counts().get("idle", 0) <= 2, 1.5, 0.2),
                         self.slot_counts())
        self.assertEqual(self.slot_counts()["max"], 2)

    def test_off(self):
        self.server = self.start_server("--warm-tests", "0")
        for _ in range(2):
            body = self.judge(PY_ECHO, [t(stdin="%d" % i, expected="%d" % i) for i in range(3)])
            self.assert_verdicts(body, [A] * 3)
        pool = self.slot_counts()
        self.assertEqual((pool["idle"], pool["served"], pool["max"]), (0, 0, 0), pool)
