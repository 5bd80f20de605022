"""Concurrency limit and the wait queue."""

import email.utils
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ce import CETestCase, code


def max_overlap(intervals):
    """Largest number of [start, end] intervals open at one instant (ends first on ties)."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


class Concurrency(CETestCase):
    REQUESTS = 25
    MAX_CONCURRENT = 10  # the server's default --max-concurrent

    def test_at_most_and_exactly_max_concurrent_run_at_once(self):
        # Each program prints time.time() at start and end (containers share
        # the host clock) and sleeps at least 1 s.  The first wave also sleeps
        # until a common instant a few seconds ahead, so that all of it is
        # running together however slowly containers start on this machine;
        # any execution past the limit would start before that instant too.
        common = time.time() + 5.0
        program = code("""
            import time
            start = time.time()
            print(repr(start), flush=True)
            time.sleep(max(1.0, %r - start))
            print(repr(time.time()))
            """ % common)

        with ThreadPoolExecutor(self.REQUESTS) as pool:
            futures = [pool.submit(self.server.execute, program) for _ in range(self.REQUESTS)]
            time.sleep(1.0)
            in_flight = sum(not f.done() for f in futures)
            health = self.server.health(timeout=10)
            results = [f.result() for f in futures]

        self.assertEqual(health, (200, b"OK"), "GET /health while executions are in flight")
        self.assertGreater(in_flight, 0, "the health check should have overlapped the executions")
        intervals = []
        for status, _, body in results:
            self.assertEqual(status, 200, body)
            self.assert_result_shape(body)
            self.assert_result(body, "ok", exit_code=0)
            start, end = (float(x) for x in body["output"].split())
            intervals.append((start, end))
        overlap = max_overlap(intervals)
        detail = "max overlap %d; intervals relative to the first start: %s" % (
            overlap, [(round(s - min(intervals)[0], 2), round(e - min(intervals)[0], 2))
                      for s, e in sorted(intervals)])
        self.assertLessEqual(overlap, self.MAX_CONCURRENT, detail)
        self.assertEqual(overlap, self.MAX_CONCURRENT, detail)


class QueueFull(CETestCase):
    server_args = ("--max-concurrent", "1", "--queue", "1")

    def test_requests_over_capacity_get_503(self):
        barrier = threading.Barrier(3)

        def fire():
            barrier.wait()
            return self.server.execute("import time; time.sleep(2); print('slept')")

        with ThreadPoolExecutor(3) as pool:
            results = [f.result() for f in [pool.submit(fire) for _ in range(3)]]

        ok = [r for r in results if r[0] == 200]
        rejected = [r for r in results if r[0] == 503]
        summary = [(s, b) for s, _, b in results]
        self.assertEqual((len(ok), len(rejected)), (2, 1),
                         "1 running + 1 queued fit, the third must be rejected: %r" % summary)
        for _, _, body in ok:
            self.assert_result_shape(body)
            self.assert_result(body, "ok", exit_code=0, output="slept\n")
        status, headers, body = rejected[0]
        self.assert_error(status, headers, body, 503)
        retry_after = headers.get("Retry-After")
        self.assertTrue(retry_after, "503 without a Retry-After header: %r" % dict(headers))
        self.assertTrue(retry_after.strip().isdigit() or email.utils.parsedate_tz(retry_after),
                        "Retry-After must be seconds or an HTTP date: %r" % retry_after)

        # once the queue drains the server takes work again
        body = self.run_code("print('after')")
        self.assert_result(body, "ok", exit_code=0, output="after\n")
