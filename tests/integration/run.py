#!/usr/bin/env python3
"""Run the CodeEngine integration suite.

    python3 tests/integration/run.py --server /abs/build/codeengine --bundles /abs/bundles [--runc runc]

Exit codes: 0 all passed, 1 a failure or error, 77 skipped (ctest's skip code)
because the machine cannot run containers: not root, no runc, or no python3
bundle rootfs.  Extra options for development: -k PATTERN (only tests whose
name matches, repeatable), --failfast.
"""

import argparse
import faulthandler
import os
import shutil
import sys
import tempfile
import time
import unittest

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
# Hang protection for the whole run: every request and subprocess has its own
# timeout, this only catches what slips through.
SUITE_DEADLINE_S = 30 * 60


def skip(reason):
    print("SKIP: integration tests not run: %s" % reason, flush=True)
    sys.exit(SKIP)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="path of the codeengine binary")
    ap.add_argument("--bundles", required=True, help="bundles directory (holds python3/rootfs)")
    ap.add_argument("--runc", default="runc", help="runc binary (default: runc on PATH)")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only run tests whose name contains this (repeatable)")
    ap.add_argument("--failfast", action="store_true")
    args = ap.parse_args()

    if os.geteuid() != 0:
        skip("must run as root (containers and cgroups need it); euid is %d" % os.geteuid())
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
    own_log_dir = "CE_LOG_DIR" not in os.environ
    if own_log_dir:
        os.environ["CE_LOG_DIR"] = tempfile.mkdtemp(prefix="ce-it-logs-")
    print("server %s, bundles %s, runc %s" % (server, os.environ["CE_BUNDLES"], runc))
    print("server logs in %s" % os.environ["CE_LOG_DIR"], flush=True)

    faulthandler.dump_traceback_later(SUITE_DEADLINE_S, exit=True)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    suite = loader.discover(start_dir=HERE, pattern="test_*.py", top_level_dir=HERE)
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
    if not result.wasSuccessful():
        print("server logs kept in %s" % os.environ["CE_LOG_DIR"])
        return 1
    if own_log_dir:
        shutil.rmtree(os.environ["CE_LOG_DIR"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
