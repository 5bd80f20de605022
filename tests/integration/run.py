#!/usr/bin/env python3
"""Run the CodeEngine integration suite.

    python3 tests/integration/run.py --server /abs/build/codeengine --bundles /abs/bundles [--runc runc]
    python3 tests/integration/run.py --rootless --server ... --bundles ...   (as a non-root user)

Exit codes: 0 all passed, 1 a failure or error, 77 skipped (ctest's skip code)
because the machine cannot run containers: not root, no runc, or no python3
bundle rootfs.  Extra options for development: -k PATTERN (only tests whose
name matches, repeatable), --failfast.

test_languages.py runs every language of langs.py, and every one must be
available on the server.  --languages python3,c (CE_LANGUAGES) tests only
those; --quick (CE_QUICK=1) runs only hello world and the compile error of
each language (for the sanitizer builds).

--rootless: the suite runs as a NON-root user against a server that is
therefore rootless (rootless runc, user namespace, rlimit fallback limits).
Only the files in ROOTLESS_FILES run; as root it skips (77).  Without it the
suite needs root and runs every test_*.py but the rootless-only files.
--file test_X.py (repeatable) runs only that file: ctest has one entry per
file (integration_test_X), so that a red entry names the file.
"""

import argparse
import faulthandler
import fnmatch
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
# Hang protection for the whole run: every request and subprocess has its own
# timeout, this only catches what slips through.
SUITE_DEADLINE_S = 30 * 60
# ... plus this for the full test_languages.py (about 300 executions, 5 minutes
# on a 2-core machine; the first compile of each toolchain reads it from disk).
LANGUAGES_DEADLINE_S = 20 * 60
# Files that only make sense against a rootless server (skipped as root).
ROOTLESS_ONLY_FILES = ("test_rootless.py",)
# What --rootless runs: the rootless checks plus the files that assume
# nothing about uids, cgroups or the memory limit (test_api.py and
# test_sandbox.py do: uid 65534, memory_limit, cgroup files), and the warm
# pool's (test_warm.py checks cgroups only where the server has them).
ROOTLESS_FILES = ("test_rootless.py", "test_execute.py", "test_http.py", "test_limits.py",
                  "test_concurrency.py", "test_lifecycle.py", "test_warm.py")


def skip(reason):
    print("SKIP: integration tests not run: %s" % reason, flush=True)
    sys.exit(SKIP)


def preflight(server, bundles, runc):
    """Start the server once; None when it serves, else its fatal line.

    A host that cannot run its containers at all (e.g. rootless inside a
    container whose /proc has masked paths) is refused by the server's own
    start-up probe: one clear reason instead of a failure per test."""
    state = tempfile.mkdtemp(prefix="ce-it-preflight-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([server, "--listen", "127.0.0.1:%d" % port, "--bundles", bundles,
                             "--state-dir", os.path.join(state, "state"), "--runtime", runc],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if " listening on " in line:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
                return None
        proc.wait(60)
        fatal = [l for l in lines if "fatal:" in l]
        return (fatal or lines or ["the server exited (code %s) without a word" % proc.returncode])[-1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(state, ignore_errors=True)


def load_files(loader, names):
    """A suite of the given test_*.py files, loaded the way discovery loads them."""
    suite = unittest.TestSuite()
    for name in names:
        suite.addTests(loader.discover(start_dir=HERE, pattern=name, top_level_dir=HERE))
    return suite


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="path of the codeengine binary")
    ap.add_argument("--bundles", required=True, help="bundles directory (holds python3/rootfs)")
    ap.add_argument("--runc", default="runc", help="runc binary (default: runc on PATH)")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only run tests whose name contains this (repeatable)")
    ap.add_argument("--file", dest="files", action="append", default=[], metavar="test_X.py",
                    help="only this test file (repeatable): ctest runs one entry per file")
    ap.add_argument("--failfast", action="store_true")
    ap.add_argument("--languages", metavar="LIST",
                    help="test_languages.py: only these languages (comma-separated canonical names; "
                    "sets CE_LANGUAGES); default: every language, each of which must be available")
    ap.add_argument("--quick", action="store_true",
                    help="test_languages.py: only hello world and the compile error per language (CE_QUICK=1)")
    ap.add_argument("--rootless", action="store_true",
                    help="run as a non-root user against a rootless server (only %s)"
                    % ", ".join(ROOTLESS_FILES))
    args = ap.parse_args()

    if args.rootless:
        if os.geteuid() == 0:
            skip("--rootless needs a non-root user (the server is rootless only when not root); "
                 "euid is 0: run it as another user, e.g. runuser -u USER -- python3 %s --rootless ..."
                 % os.path.abspath(__file__))
    elif os.geteuid() != 0:
        skip("must run as root (containers and cgroups need it; --rootless runs the "
             "rootless tests as a normal user); euid is %d" % os.geteuid())
    runc = shutil.which(args.runc)
    if runc is None:
        skip("runtime %r not found on PATH" % args.runc)
    rootfs = os.path.join(os.path.abspath(args.bundles), "python3", "rootfs")
    if not os.path.isdir(rootfs):
        skip("%s does not exist (build the bundles first)" % rootfs)
    server = os.path.abspath(args.server)
    if not (os.path.isfile(server) and os.access(server, os.X_OK)):
        print("ERROR: server binary %s does not exist or is not executable" % server, flush=True)
        return 1

    os.environ["CE_SERVER"] = server
    os.environ["CE_BUNDLES"] = os.path.abspath(args.bundles)
    os.environ["CE_RUNC"] = runc
    if args.languages is not None:
        os.environ["CE_LANGUAGES"] = args.languages
    if args.quick:
        os.environ["CE_QUICK"] = "1"
    own_log_dir = "CE_LOG_DIR" not in os.environ
    if own_log_dir:
        os.environ["CE_LOG_DIR"] = tempfile.mkdtemp(prefix="ce-it-logs-")
    print("server %s, bundles %s, runc %s%s" % (server, os.environ["CE_BUNDLES"], runc,
                                                ", rootless (euid %d)" % os.geteuid() if args.rootless else ""))
    print("server logs in %s" % os.environ["CE_LOG_DIR"], flush=True)

    if args.rootless:
        refused = preflight(server, os.environ["CE_BUNDLES"], runc)
        if refused:
            skip("the server cannot run containers as this user on this host: %s" % refused)

    quick = os.environ.get("CE_QUICK", "") not in ("", "0")
    faulthandler.dump_traceback_later(SUITE_DEADLINE_S + (0 if quick else LANGUAGES_DEADLINE_S), exit=True)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    if args.rootless:
        names = ROOTLESS_FILES
    else:
        names = sorted(n for n in os.listdir(HERE) if fnmatch.fnmatch(n, "test_*.py")
                       and n not in ROOTLESS_ONLY_FILES)
    if args.files:
        unknown = [f for f in args.files if f not in names]
        if unknown:
            print("ERROR: no such test file in this run: %s (files: %s)"
                  % (", ".join(unknown), ", ".join(names)), flush=True)
            return 1
        names = [n for n in names if n in args.files]
    suite = load_files(loader, names)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, failfast=args.failfast, stream=sys.stdout).run(suite)
    elapsed = time.monotonic() - started

    problems = result.failures + result.errors
    failed = len(problems) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    # class/module fixture errors are not among testsRun
    failed_tests = len({id(t) for t, _ in problems if isinstance(t, unittest.TestCase)})
    passed = result.testsRun - failed_tests - len(result.unexpectedSuccesses) - skipped
    print("run time %.1fs" % elapsed)
    print("integration: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if result.testsRun == 0:
        print("ERROR: no test ran")
        return 1
    if result.wasSuccessful() and skipped == result.testsRun:
        # Every test skipped itself (a tool it needs is missing): ctest's
        # skip code, so that the entry shows as skipped, not passed.
        print("SKIP: every test of this run skipped itself")
        if own_log_dir:
            shutil.rmtree(os.environ["CE_LOG_DIR"], ignore_errors=True)
        return SKIP
    if not result.wasSuccessful():
        print("server logs kept in %s" % os.environ["CE_LOG_DIR"])
        return 1
    if own_log_dir:
        shutil.rmtree(os.environ["CE_LOG_DIR"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
