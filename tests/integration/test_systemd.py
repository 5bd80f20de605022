"""systemd's notification protocol and the drain on SIGTERM (deploy/codeengine.service).

The server is started the way a Type=notify unit starts it: NOTIFY_SOCKET
names a unix datagram socket that this file listens on, WATCHDOG_USEC asks
for the watchdog.  What systemd relies on:
  * READY=1 once the start-up probes passed and the server listens: GET
    /ready already answers 200 when it arrives;
  * WATCHDOG=1 again and again (WATCHDOG_USEC=2 s: every 2/3 s), and none
    when WATCHDOG_PID names another process (sd_watchdog_enabled);
  * NOTIFY_SOCKET never reaches runc nor the program (runc would bind the
    socket into the container and wait for the program's READY=1);
  * SIGTERM with --drain: STOPPING=1 at once, GET /ready answers 503 for the
    drain while POST /execute is still served, then the ordinary shutdown
    and exit 0 within drain + grace.
"""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import ce
from ce import CETestCase

WATCHDOG_USEC = 2000000
DRAIN_S = 3  # long enough for a /ready and an execution on a slow machine
GRACE_S = 10  # the default --shutdown-grace


class NotifyListener:
    """A NOTIFY_SOCKET: every datagram the server sends, as (monotonic time,
    {key: value}).  on_ready, when set, runs in the listening thread as soon
    as READY=1 arrives (before the message is recorded), its result kept in
    ready_probe."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ce-it-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.cond = threading.Condition()
        self.on_ready = None
        self.ready_probe = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    key, value = line.split("=", 1)
                    fields[key] = value
            if fields.get("READY") == "1" and self.on_ready is not None:
                try:
                    self.ready_probe = self.on_ready()
                except Exception as e:  # noqa: BLE001
                    self.ready_probe = e
            with self.cond:
                self.messages.append((time.monotonic(), fields))
                self.cond.notify_all()

    def matching(self, key, value=None, since=0.0):
        with self.cond:
            return [(t, m) for t, m in self.messages
                    if t >= since and key in m and (value is None or m[key] == value)]

    def wait_for(self, key, value=None, timeout=30.0, since=0.0):
        """The first message with key (=value) since a monotonic time, or
        None after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = self.matching(key, value, since)
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Notify(CETestCase):
    class_server = False

    def notified_server(self, *args, watchdog_pid=None):
        """A started server whose NOTIFY_SOCKET is a fresh listener's."""
        listener = NotifyListener()
        self.addCleanup(listener.close)
        env = {"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": str(WATCHDOG_USEC),
               "WATCHDOG_PID": watchdog_pid}
        server = ce.Server(*args, env=env, tag=self._testMethodName)

        def probe_ready():
            status, _, _ = server.request("GET", "/ready", timeout=10)
            return status

        listener.on_ready = probe_ready
        self.addCleanup(server.shutdown)
        server.start()
        self.servers.append(server)
        return server, listener

    def test_ready_watchdog_and_no_socket_in_containers(self):
        server, listener = self.notified_server()
        ready = listener.wait_for("READY", "1", timeout=30)
        self.assertIsNotNone(ready, "no READY=1 from the server\n" + server.log_tail())
        self.assertEqual(listener.ready_probe, 200,
                         "GET /ready when READY=1 arrived: %r" % (listener.ready_probe,))
        self.assertIn("serving on", ready[1].get("STATUS", ""))
        self.assertEqual(listener.matching("STOPPING"), [])

        # NOTIFY_SOCKET was taken out of the environment runc inherits: the
        # program neither sees it nor a /run/notify, and runc did not wait for
        # a READY=1 from it (the answer comes at all).
        status, _, body = server.execute(
            "import os\nprint(os.environ.get('NOTIFY_SOCKET'), os.path.exists('/run/notify'))",
            timeout=60)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["output"], "None False\n", body)

        # WATCHDOG=1 every third of WATCHDOG_USEC, from after READY=1.
        time.sleep(3 * WATCHDOG_USEC / 1e6)
        fed = listener.matching("WATCHDOG", "1", since=ready[0])
        self.assertGreaterEqual(len(fed), 4, "WATCHDOG=1 after READY=1: %d times in %gs\n%s"
                                % (len(fed), 3 * WATCHDOG_USEC / 1e6, server.log_tail()))
        gaps = [b[0] - a[0] for a, b in zip(fed, fed[1:])]
        self.assertLess(max(gaps), WATCHDOG_USEC / 1e6 / 2 + 0.5, "gaps between WATCHDOG=1: %s" % gaps)

        # --drain 0: STOPPING=1, then the shutdown as before.
        stop = time.monotonic()
        server.shutdown()
        self.assertIsNotNone(listener.wait_for("STOPPING", "1", timeout=5, since=stop))
        self.assertNotIn("draining", server.log_text())

    def test_drain_on_sigterm(self):
        # WATCHDOG_PID names another process: the watchdog is not ours to feed.
        server, listener = self.notified_server("--drain", DRAIN_S, watchdog_pid="1")
        self.assertIsNotNone(listener.wait_for("READY", "1", timeout=30), server.log_tail())
        status, _, _ = server.request("GET", "/ready", timeout=10)
        self.assertEqual(status, 200)

        term = time.monotonic()
        server.send_signal(signal.SIGTERM)
        stopping = listener.wait_for("STOPPING", "1", timeout=5, since=term)
        self.assertIsNotNone(stopping, "no STOPPING=1 after SIGTERM\n" + server.log_tail())

        # The balancer's view: not ready.  A client's: still served.
        status, _, body = server.request("GET", "/ready", timeout=10)
        self.assertEqual(status, 503, body)
        status, _, result = server.execute("print(6 * 7)", timeout=60)
        self.assertEqual(status, 200, result)
        self.assertEqual(result["output"], "42\n")
        self.assertLess(time.monotonic() - term, DRAIN_S,
                        "the checks took longer than the drain: they proved nothing")
        self.assertTrue(server.alive(), "the server did not wait for the drain")

        code = server.wait(timeout=DRAIN_S + GRACE_S + 10)
        elapsed = time.monotonic() - term
        self.assertEqual(code, 0, server.log_tail())
        self.assertGreaterEqual(elapsed, DRAIN_S - 0.2, "exited before the drain was over")
        self.assertLess(elapsed, DRAIN_S + GRACE_S + 5, "took %.1fs to exit" % elapsed)
        self.assertIn("draining for", server.log_text())
        self.assertEqual(listener.matching("WATCHDOG"), [],
                         "WATCHDOG=1 although WATCHDOG_PID names another process")
        server.shutdown()  # the exit code and state dir checks


if __name__ == "__main__":
    import unittest
    unittest.main()
