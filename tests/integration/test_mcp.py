"""The MCP server (src/api_mcp.c): Streamable HTTP at /mcp, MCP revision
2025-11-25 (2025-06-18 and 2025-03-26 accepted), tools run_code and
list_languages.  See docs/mcp.md.

Two kinds of test:
  * the transport's rules over raw HTTP (http.client): Accept, Content-Type,
    Origin, MCP-Protocol-Version, sessions, notifications, JSON-RPC errors,
    --max-body, the auth token, progress as SSE, cancellation;
  * the official TypeScript SDK, unchanged (tests/mcp-client/mcp.mjs: its
    Client and StreamableHTTPClientTransport), scenario by scenario.  Its npm
    packages are installed when missing; without node or npm those tests skip,
    except under CI=true, where they fail.

The figures (MCP against POST /execute latency, progress latency) are
printed as FIGURE: lines.  Every test ends with CETestCase's leftover check
(no container of a request left, GET /ready's pool aside).
"""

import base64
import json
import os
import re
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import zlib

import ce
from ce import CETestCase

CLIENT_DIR = os.path.join(ce.REPO, "tests", "mcp-client")
CLIENT = os.path.join(CLIENT_DIR, "mcp.mjs")
NODE_MODULES = ("@modelcontextprotocol/sdk",)
LATEST = "2025-11-25"
VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
ACCEPT = "application/json, text/event-stream"
SESSION_RE = r"^[0-9a-fA-F]{32}$"
RUN_CODE_FIELDS = {"language", "code", "files", "stdin", "args", "limits", "tests", "output_files"}
RESULT_FIELDS = {"status", "exit_code", "signal", "stdout", "stderr", "time_ms", "memory_kb", "truncated",
                 "compile", "tests", "verdict"}
HELLO_LANGUAGES = ("python3", "c", "javascript", "bash", "rust", "go")


def figure(text):
    print("\nFIGURE: %s" % text, flush=True)


def rpc(method, params=None, id=1):
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def initialize_params(version=LATEST):
    return {"protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "codeengine-it", "version": "0"}}


def run_code(code, id=1, language="python3", meta=None, **extra):
    args = {"language": language, "code": code}
    args.update(extra)
    params = {"name": "run_code", "arguments": args}
    if meta:
        params["_meta"] = meta
    return rpc("tools/call", params, id)


def sse_events(data):
    """[(fields, data)] of an SSE body: fields is {name: [values]} of each event."""
    events = []
    for block in re.split(r"\r?\n\r?\n", data.decode("utf-8")):
        fields = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        if fields:
            events.append((fields, "\n".join(fields.get("data", []))))
    return events


class McpCase(CETestCase):
    """Raw HTTP helpers for /mcp."""

    def post(self, message, session=None, headers=None, server=None, raw=None, timeout=ce.EXEC_TIMEOUT):
        """POST /mcp with the headers a client must send (headers: changes; a
        None value drops one): (status, headers, body bytes)."""
        server = server or self.server
        h = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if session:
            h["Mcp-Session-Id"] = session
            h["MCP-Protocol-Version"] = LATEST
        if server.auth_token:
            h["Authorization"] = "Bearer " + server.auth_token
        for name, value in (headers or {}).items():
            if value is None:
                h.pop(name, None)
            else:
                h[name] = value
        body = raw if raw is not None else json.dumps(message).encode()
        return server.request("POST", "/mcp", body, h, timeout=timeout)

    def post_json(self, message, expected=200, **kw):
        """post(); require HTTP `expected` and a JSON body; return it."""
        status, headers, data = self.post(message, **kw)
        self.assertEqual(status, expected, data[:2000])
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"),
                        "Content-Type %r: %r" % (headers.get("Content-Type"), data[:300]))
        return ce.parse_json(data)

    def initialize(self, server=None, version=LATEST, headers=None):
        """initialize and notifications/initialized: (session id, initialize's result)."""
        status, hdrs, data = self.post(rpc("initialize", initialize_params(version)), server=server, headers=headers)
        self.assertEqual(status, 200, data[:2000])
        body = ce.parse_json(data)
        self.assertEqual((body.get("jsonrpc"), body.get("id")), ("2.0", 1), body)
        self.assertIn("result", body, body)
        session = hdrs.get("Mcp-Session-Id")
        self.assertIsNotNone(session, "initialize answered no Mcp-Session-Id header: %r" % dict(hdrs))
        self.assertRegex(session, SESSION_RE)
        status, _, data = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                    session=session, server=server, headers=headers)
        self.assertEqual((status, data), (202, b""))
        return session, body["result"]

    def assert_rpc_error(self, body, code, id=ce.ANY):
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("jsonrpc"), "2.0", body)
        self.assertNotIn("result", body, body)
        self.assertIsInstance(body.get("error"), dict, body)
        self.assertEqual(body["error"].get("code"), code, body)
        self.assertIsInstance(body["error"].get("message"), str, body)
        if id is not ce.ANY:
            self.assertIn("id", body, body)
            self.assertEqual(body["id"], id, body)

    def server_with_token(self, token):
        """An extra server started with --auth-token-file holding token."""
        fd, path = tempfile.mkstemp(prefix="ce-it-token-")
        self.addCleanup(os.unlink, path)
        os.write(fd, token.encode() + b"\n")
        os.close(fd)
        return self.start_server("--auth-token-file", path)


# ---------------------------------------------------------------------------
# The transport, over raw HTTP

class McpTransport(McpCase):
    def test_initialize_answers_the_clients_version_or_the_latest(self):
        sessions = set()
        for asked, answered in [(v, v) for v in VERSIONS] + [("2024-11-05", LATEST), ("1.0", LATEST)]:
            session, result = self.initialize(version=asked)
            sessions.add(session)
            self.assertEqual(result["protocolVersion"], answered, result)
            self.assertEqual(result["serverInfo"]["name"], "codeengine", result)
            self.assertIsInstance(result["serverInfo"].get("version"), str, result)
            self.assertTrue(result["serverInfo"]["version"], result)
            self.assertEqual(result["capabilities"].get("tools"), {"listChanged": False}, result)
            self.assertIsInstance(result.get("instructions"), str, result)
            self.assertTrue(result["instructions"].strip(), result)
        self.assertEqual(len(sessions), len(VERSIONS) + 2, "every initialize starts a session of its own: %r" % sessions)

    def test_ping_and_tools_list(self):
        session, _ = self.initialize()
        body = self.post_json(rpc("ping", id="p-1"), session=session)
        self.assertEqual(body, {"jsonrpc": "2.0", "id": "p-1", "result": {}})
        body = self.post_json(rpc("tools/list", {}, id=2), session=session)
        self.assertEqual(sorted(t["name"] for t in body["result"]["tools"]), ["list_languages", "run_code"], body)

    def test_accept_must_list_json_and_event_stream(self):
        session, _ = self.initialize()
        for accept in (None, "application/json", "text/event-stream", "text/html"):
            for msg, sess in ((rpc("initialize", initialize_params()), None), (rpc("ping"), session)):
                status, _, data = self.post(msg, session=sess, headers={"Accept": accept})
                self.assertEqual(status, 406, "Accept %r, %s: %r" % (accept, msg["method"], data[:500]))
                body = ce.parse_json(data)
                self.assertIsInstance(body.get("error"), dict, "406 needs a JSON-RPC error body: %r" % body)
                self.assertEqual(body.get("jsonrpc"), "2.0", body)
        # the order and extra types or parameters do not matter
        for accept in ("text/event-stream, application/json", "application/json;q=0.9, text/event-stream;q=0.8"):
            self.post_json(rpc("ping"), session=session, headers={"Accept": accept})

    def test_content_type_must_be_json(self):
        session, _ = self.initialize()
        for ct in (None, "text/plain", "application/x-www-form-urlencoded"):
            status, _, data = self.post(rpc("ping"), session=session, headers={"Content-Type": ct})
            self.assertEqual(status, 415, "Content-Type %r: %r" % (ct, data[:500]))
        body = self.post_json(rpc("ping"), session=session, headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(body["result"], {})

    def test_hostile_origin_is_403_own_origin_is_fine(self):
        port = self.server.port
        other = port + 1 if port < 65535 else port - 1
        accepted = []
        for origin in ("https://evil.example", "http://127.0.0.1.evil.example:%d" % port, "null",
                       "http://127.0.0.1:%d.evil.example" % port, "http://localhost:%d" % other,
                       "http://127.0.0.1:%d" % other, "http://127.0.0.1", "https://127.0.0.1:%d" % port):
            status, _, data = self.post(rpc("initialize", initialize_params()), headers={"Origin": origin})
            if status != 403:
                accepted.append((origin, status))
        self.assertEqual(accepted, [], "origins that are not the server's own (another port, scheme or host) "
                         "must get 403")
        session, _ = self.initialize()
        status, _, data = self.post(rpc("ping"), session=session, headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 403, "a session does not lift the Origin check: %r" % data[:500])
        for origin in ("http://127.0.0.1:%d" % port, "http://localhost:%d" % port, "http://[::1]:%d" % port):
            self.initialize(headers={"Origin": origin})

    def test_protocol_version_header(self):
        session, _ = self.initialize()
        for version in VERSIONS:
            self.post_json(rpc("ping"), session=session, headers={"MCP-Protocol-Version": version})
        self.post_json(rpc("ping"), session=session, headers={"MCP-Protocol-Version": None})
        for version in ("1999-01-01", "2024-11-05", "latest"):
            status, _, data = self.post(rpc("ping"), session=session, headers={"MCP-Protocol-Version": version})
            self.assertEqual(status, 400, "MCP-Protocol-Version %r: %r" % (version, data[:500]))

    def test_sessions_missing_unknown_and_ended(self):
        session, _ = self.initialize()
        other, _ = self.initialize()
        self.assertNotEqual(session, other)
        status, _, data = self.post(rpc("ping"), headers={"MCP-Protocol-Version": LATEST})
        self.assertEqual(status, 400, "no Mcp-Session-Id: %r" % data[:500])
        status, _, data = self.post(rpc("ping"), session="0" * 32)
        self.assertEqual(status, 404, "unknown session: %r" % data[:500])
        status, _, data = self.post(rpc("ping"), session=session[::-1] if session[::-1] != session else "f" * 32)
        self.assertEqual(status, 404, data[:500])
        status, _, data = self.server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session})
        self.assertEqual(status, 200, data[:500])
        status, _, data = self.post(rpc("ping"), session=session)
        self.assertEqual(status, 404, "ended session: %r" % data[:500])
        status, _, data = self.server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session})
        self.assertEqual(status, 404, "ending an ended session: %r" % data[:500])
        status, _, data = self.server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": "a" * 32})
        self.assertEqual(status, 404, data[:500])
        self.post_json(rpc("ping"), session=other)  # the other session is untouched

    def test_get_is_405(self):
        session, _ = self.initialize()
        for headers in ({"Accept": "text/event-stream"},
                        {"Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": LATEST}):
            status, hdrs, data = self.server.request("GET", "/mcp", headers=headers)
            self.assertEqual(status, 405, data[:500])
            allow = {m.strip() for m in (hdrs.get("Allow") or "").split(",")}
            self.assertEqual(allow, {"POST", "DELETE"}, dict(hdrs))
        self.post_json(rpc("ping"), session=session)

    def test_notifications_and_client_responses_are_202_empty(self):
        session, _ = self.initialize()
        for msg in ({"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
                    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}},
                    {"jsonrpc": "2.0", "id": 5, "result": {}},
                    {"jsonrpc": "2.0", "id": 6, "error": {"code": -32601, "message": "no"}}):
            status, _, data = self.post(msg, session=session)
            self.assertEqual((status, data), (202, b""), msg)
        self.post_json(rpc("ping"), session=session)

    def test_malformed_json_is_parse_error(self):
        session, _ = self.initialize()
        for raw in (b'{"jsonrpc":', b"", b"\xff\xfe", b'{"jsonrpc":"2.0","id":1,"method":"ping"} x'):
            status, _, data = self.post(None, session=session, raw=raw)
            self.assertEqual(status, 400, "%r: %r" % (raw, data[:500]))
            self.assert_rpc_error(ce.parse_json(data), -32700, id=None)

    def test_not_a_request_object_is_invalid_request(self):
        session, _ = self.initialize()
        for msg in ([rpc("ping")], [], {"jsonrpc": "2.0", "id": 1}, {"jsonrpc": "1.0", "id": 1, "method": "ping"},
                    {"id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 1, "method": 5}, "ping", 42):
            status, _, data = self.post(msg, session=session)
            self.assertIn(status, (200, 400), "%r: %r" % (msg, data[:500]))
            self.assert_rpc_error(ce.parse_json(data), -32600)
        self.post_json(rpc("ping"), session=session)

    def test_unknown_method_and_bad_params(self):
        session, _ = self.initialize()
        body = self.post_json(rpc("no/such/method", {}, id=7), session=session)
        self.assert_rpc_error(body, -32601, id=7)
        body = self.post_json(rpc("tools/call", {"name": "no_such_tool", "arguments": {}}, id=8), session=session)
        self.assert_rpc_error(body, -32602, id=8)
        for args in ([1], "print(1)", 5):
            body = self.post_json(rpc("tools/call", {"name": "run_code", "arguments": args}, id="x"), session=session)
            self.assert_rpc_error(body, -32602, id="x")
        body = self.post_json(rpc("tools/call", {"arguments": {}}, id=9), session=session)
        self.assert_rpc_error(body, -32602, id=9)

    def test_run_code_as_json_without_a_progress_token(self):
        session, _ = self.initialize()
        status, headers, data = self.post(run_code("print(6 * 7)", id=3), session=session)
        self.assertEqual(status, 200, data[:2000])
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"), dict(headers))
        body = ce.parse_json(data)
        self.assertEqual((body["jsonrpc"], body["id"]), ("2.0", 3))
        result = body["result"]
        self.assertIs(result["isError"], False, result)
        sc = result["structuredContent"]
        self.assertLessEqual(RESULT_FIELDS, set(sc), sc)
        self.assertEqual((sc["status"], sc["exit_code"], sc["signal"], sc["stdout"], sc["stderr"], sc["truncated"],
                          sc["compile"], sc["tests"], sc["verdict"]),
                         ("ok", 0, None, "42\n", "", False, None, None, None), sc)
        self.assertTrue(type(sc["time_ms"]) is int and type(sc["memory_kb"]) is int, sc)
        self.assertEqual(result["content"][0]["type"], "text", result)
        self.assertEqual(json.loads(result["content"][0]["text"]), sc, "the text is structuredContent as JSON")

    def test_progress_is_sse_before_the_result(self):
        session, _ = self.initialize()
        program = ce.code("""
            import time
            print('first', flush=True)
            time.sleep(1)
            print('second', flush=True)
            """)
        conn = self.server.connection()
        try:
            conn.request("POST", "/mcp", json.dumps(run_code(program, id=11, meta={"progressToken": "tok-1"})),
                         {"Accept": ACCEPT, "Content-Type": "application/json", "Mcp-Session-Id": session,
                          "MCP-Protocol-Version": LATEST})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type", "").startswith("text/event-stream"), resp.getheaders())
            lines = []  # (arrival, line)
            while True:
                line = resp.readline()
                if not line:
                    break
                lines.append((time.monotonic(), line))
        finally:
            conn.close()
        data = b"".join(line for _, line in lines)
        events = sse_events(data)
        self.assertFalse([f for f, _ in events if "id" in f], "no SSE id: fields: %r" % data[:2000])
        messages = [json.loads(d) for _, d in events if d]
        self.assertGreaterEqual(len(messages), 2, data[:2000])
        *notes, last = messages
        self.assertEqual((last.get("id"), last["result"]["isError"], last["result"]["structuredContent"]["stdout"]),
                         (11, False, "first\nsecond\n"), last)
        self.assertTrue(notes, "no progress before the result: %r" % data[:2000])
        progress = []
        for n in notes:
            self.assertEqual(n.get("method"), "notifications/progress", n)
            self.assertNotIn("id", n, n)
            self.assertEqual(n["params"]["progressToken"], "tok-1", n)
            progress.append(n["params"]["progress"])
        self.assertEqual(progress, sorted(set(progress)), "progress must increase: %r" % progress)
        text = "".join(n["params"].get("message", "") for n in notes)
        self.assertIn("first", text, notes)
        # "first" came a second before the result, not with it
        first_at = next(t for t, line in lines if b"first" in line and b"notifications/progress" in line)
        result_at = next(t for t, line in lines if b'"result"' in line)
        self.assertGreater(result_at - first_at, 0.5, "the first line's progress came with the result")

    def test_cancelled_call_is_killed_and_not_answered(self):
        session, _ = self.initialize()
        outcome = {}

        def call():
            t0 = time.monotonic()
            try:
                status, _, data = self.post(run_code("print('spinning', flush=True)\nwhile True: pass", id=41,
                                                     limits={"timeout_ms": 30000}), session=session, timeout=60)
                outcome["answer"] = (status, data)
            except Exception as e:  # the response is closed without an answer
                outcome["error"] = repr(e)
            outcome["closed_at"] = time.monotonic()
            outcome["took"] = time.monotonic() - t0

        thread = threading.Thread(target=call)
        thread.start()
        cid = ce.wait_for_container(self.server, done=lambda: not thread.is_alive())
        self.assertIsNotNone(cid, "the call never started a container: %r" % outcome)
        time.sleep(0.5)
        cancelled_at = time.monotonic()
        status, _, data = self.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                     "params": {"requestId": 41, "reason": "the test cancels it"}}, session=session)
        self.assertEqual((status, data), (202, b""))
        thread.join(10)
        self.assertFalse(thread.is_alive(), "the cancelled call's HTTP response is still open 10 s later")
        self.assertLess(outcome["closed_at"] - cancelled_at, 2.0, outcome)
        answer = outcome.get("answer")
        if answer is not None:
            self.assertNotIn(b'"result"', answer[1], "a cancelled call must not be answered: %r" % (answer,))
        gone = ce.poll(lambda: ce.busy_containers(self.server), 1.0)
        self.assertEqual(gone, [], "the cancelled call's container still runs 1 s later")
        self.post_json(rpc("ping"), session=session)

    def test_cancel_from_another_session_is_ignored(self):
        mine, _ = self.initialize()
        other, _ = self.initialize()
        with ce.ThreadPoolExecutor(1) as pool:
            fut = pool.submit(self.post_json, run_code("import time\ntime.sleep(2)\nprint('done')", id=41),
                              session=mine)
            self.assertIsNotNone(ce.wait_for_container(self.server, done=fut.done), "the call never started")
            status, _, data = self.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                         "params": {"requestId": 41}}, session=other)
            self.assertEqual((status, data), (202, b""))
            body = fut.result()
        self.assertEqual(body["result"]["structuredContent"]["stdout"], "done\n",
                         "another session's notifications/cancelled must not touch this call: %r" % body)


class McpServers(McpCase):
    """Tests that need a server with flags of their own."""
    class_server = False

    def test_allowed_origin_flag(self):
        server = self.start_server("--mcp-allow-origin", "https://ide.example,http://tool.example:3000")
        self.assert_origins_allowed(server, ("https://ide.example", "http://tool.example:3000"))

    def test_allowed_origin_flag_given_twice_is_refused(self):
        """A second --mcp-allow-origin would silently drop the first: refused at start."""
        p = self.run_cli(*self.cli_args(), "--mcp-allow-origin", "https://ide.example",
                         "--mcp-allow-origin", "http://tool.example:3000")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("--mcp-allow-origin is given once", p.stderr)

    def assert_origins_allowed(self, server, allowed):
        for origin in allowed:
            session, _ = self.initialize(server=server, headers={"Origin": origin})
            self.post_json(rpc("ping"), session=session, server=server, headers={"Origin": origin})
        for origin in ("https://evil.example", "https://ide.example:8443", "http://ide.example"):
            status, _, data = self.post(rpc("initialize", initialize_params()), server=server,
                                        headers={"Origin": origin})
            self.assertEqual(status, 403, "Origin %r: %r" % (origin, data[:500]))

    def test_oversized_body_is_413(self):
        server = self.start_server("--max-body", "4096")
        session, _ = self.initialize(server=server)
        status, _, data = self.post(run_code("#" * 8000), session=session, server=server)
        self.assertEqual(status, 413, data[:500])
        body = self.post_json(run_code("print(1)"), session=session, server=server)
        self.assertEqual(body["result"]["structuredContent"]["stdout"], "1\n", body)

    def test_auth_token_applies(self):
        server = self.server_with_token("mcp-secret-token")
        for auth in (None, "Bearer wrong", "mcp-secret-token"):
            status, _, data = self.post(rpc("initialize", initialize_params()), server=server,
                                        headers={"Authorization": auth})
            self.assertEqual(status, 401, "Authorization %r: %r" % (auth, data[:500]))
        session, _ = self.initialize(server=server)
        status, _, data = self.post(rpc("ping"), session=session, server=server, headers={"Authorization": None})
        self.assertEqual(status, 401, "a session does not replace the token: %r" % data[:500])

    def test_sessions_are_bounded_in_number(self):
        server = self.start_server("--mcp-sessions", "2")
        sessions, refused = [], 0
        for _ in range(4):
            status, hdrs, data = self.post(rpc("initialize", initialize_params()), server=server)
            if status == 200:
                sessions.append(hdrs["Mcp-Session-Id"])
            else:
                self.assertIn(status, (429, 503), data[:500])
                refused += 1
        live = [s for s in sessions if self.post(rpc("ping"), session=s, server=server)[0] == 200]
        self.assertLessEqual(len(live), 2, "more sessions live than --mcp-sessions 2: %d (refused %d)"
                             % (len(live), refused))
        self.assertGreaterEqual(len(live), 1)
        self.assert_healthy(server)

    def test_idle_sessions_end(self):
        server = self.start_server("--mcp-session-idle", "1")
        session, _ = self.initialize(server=server)
        self.post_json(rpc("ping"), session=session, server=server)
        time.sleep(3)
        status, _, data = self.post(rpc("ping"), session=session, server=server)
        self.assertEqual(status, 404, "a session idle for 3 s with --mcp-session-idle 1: %r" % data[:500])


# ---------------------------------------------------------------------------
# The official TypeScript SDK

class McpSdkCase(McpCase):
    def setUp(self):
        super().setUp()
        self.node = ce.require_node_client(self, CLIENT_DIR, NODE_MODULES)

    def scenario(self, name, server=None, *extra):
        server = server or self.server
        argv = [self.node, CLIENT, name, "http://%s:%d" % (ce.HOST, server.port)]
        argv += [server.auth_token or ""] + [str(e) for e in extra] if (server.auth_token or extra) else []
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, "node mcp.mjs %s: %s\n%s" % (name, r.stderr[-3000:], server.log_tail()))
        return json.loads(r.stdout)

    def assert_ok(self, r, stdout):
        self.assertNotIn("threw", r, r)
        sc = r["structuredContent"]
        self.assertEqual((r["isError"], sc["status"], sc["exit_code"], sc["stdout"]), (False, "ok", 0, stdout), r)
        self.assertEqual(json.loads(r["content"][0]["text"]), sc, r)

    def assert_failed(self, r):
        """isError: the result, not a JSON-RPC error; its text(s): returned."""
        self.assertNotIn("threw", r, "bad arguments must be a result with isError, not a JSON-RPC error: %r" % r)
        self.assertIs(r["isError"], True, r)
        texts = [c["text"] for c in r["content"] if c["type"] == "text"]
        self.assertTrue(texts, r)
        return "\n".join(texts)


class McpSdk(McpSdkCase):
    def test_initialize_and_tools_list(self):
        out = self.scenario("tools")
        self.assertRegex(out["sessionId"], SESSION_RE)
        self.assertEqual(out["protocolVersion"], LATEST, out)
        self.assertEqual(out["serverVersion"]["name"], "codeengine", out)
        self.assertEqual(out["capabilities"]["tools"], {"listChanged": False}, out)
        self.assertTrue(out["instructions"], out)
        self.assertEqual(out["ping"], {}, out)
        self.assertTrue(out["terminated"], out)
        tools = {t["name"]: t for t in out["tools"]}
        self.assertEqual(sorted(tools), ["list_languages", "run_code"])
        for tool in tools.values():
            self.assertIsInstance(tool.get("description"), str, tool)
            self.assertEqual(tool["inputSchema"]["type"], "object", tool)
        rc = tools["run_code"]
        schema = rc["inputSchema"]
        self.assertEqual(schema.get("required"), ["language"], schema)
        self.assertEqual(set(schema["properties"]), RUN_CODE_FIELDS, schema)
        enum = schema["properties"]["language"].get("enum")
        self.assertTrue(enum, "language needs the server's languages as an enum: %r" % schema)
        names = [l["name"] for l in self.get_json("/languages")]
        self.assertLessEqual(set(enum), set(names), enum)
        self.assertIn("python3", enum)
        props = schema["properties"]
        for field, kind in (("code", "string"), ("files", "array"), ("stdin", "string"), ("args", "array"),
                            ("limits", "object"), ("tests", "array"), ("output_files", "array")):
            self.assertEqual(props[field].get("type"), kind, (field, props[field]))
        self.assertEqual(props["args"]["items"].get("type"), "string", props["args"])
        self.assertEqual(props["output_files"]["items"].get("type"), "string", props["output_files"])
        self.assertLessEqual({"name", "content"}, set(props["files"]["items"]["properties"]), props["files"])
        self.assertLessEqual({"timeout_ms", "memory_mb"}, set(props["limits"].get("properties", {})), props["limits"])
        self.assertEqual(rc["outputSchema"]["type"], "object", rc)
        self.assertFalse(tools["list_languages"]["inputSchema"].get("required"), tools["list_languages"])

    def test_hello_in_several_languages(self):
        available = {l["name"] for l in self.get_json("/languages") if l["available"]}
        out = self.scenario("hello")
        for language in HELLO_LANGUAGES:
            if language not in available and os.environ.get("CI") != "true":
                continue  # a bundle this machine did not prepare
            with self.subTest(language=language):
                self.assert_ok(out[language], "Hello, World!\n")
                compiled = out[language]["structuredContent"]["compile"]
                if language in ("c", "rust", "go"):
                    self.assertEqual((compiled["status"], compiled["exit_code"]), ("ok", 0), compiled)
                else:
                    self.assertIsNone(compiled)

    def test_basics(self):
        out = self.scenario("basics")
        self.assert_ok(out["stdin"], "cba\n")
        self.assert_ok(out["args"], "['a b', '$(id)']\n")
        self.assert_ok(out["files"], "42 b'\\x00\\x01\\xff'\n")
        self.assert_ok(out["unicode"], "héllo ✓ 日本\n")
        self.assertIn("héllo ✓ 日本", out["unicode"]["content"][0]["text"])

        r = out["runtime_error"]
        text = self.assert_failed(r)
        sc = r["structuredContent"]
        self.assertEqual((sc["status"], sc["exit_code"], sc["stdout"]), ("runtime_error", 1, "before\n"), sc)
        self.assertIn("Traceback (most recent call last)", sc["stderr"])
        self.assertIn("ValueError: boom 42", sc["stderr"])
        self.assertIn("ValueError: boom 42", text)

        r = out["compile_error"]
        text = self.assert_failed(r)
        sc = r["structuredContent"]
        self.assertEqual((sc["status"], sc["compile"]["status"]), ("compile_error", "compile_error"), sc)
        self.assertNotEqual(sc["compile"]["exit_code"], 0, sc)
        self.assertIn("undefined_thing", sc["compile"]["stderr"] + sc["compile"].get("stdout", ""))
        self.assertIn("undefined_thing", text)

        r = out["timeout"]
        self.assert_failed(r)
        sc = r["structuredContent"]
        self.assertEqual((sc["status"], sc["signal"], sc["stdout"]), ("timeout", "SIGKILL", "started\n"), sc)
        self.assertGreaterEqual(sc["time_ms"], 1000, sc)
        self.assertLess(sc["time_ms"], 10000, sc)

        r = out["exit_code"]
        self.assert_failed(r)
        self.assertEqual((r["structuredContent"]["status"], r["structuredContent"]["exit_code"]),
                         ("runtime_error", 3), r)

    def test_bad_arguments_are_tool_errors(self):
        out = self.scenario("bad_args")
        self.assertIn("cobol", self.assert_failed(out["unknown_language"]))
        self.assertIn("language", self.assert_failed(out["missing_language"]))
        self.assertIn("code", self.assert_failed(out["code_not_string"]))
        self.assertIn("limts", self.assert_failed(out["unknown_field"]))
        self.assertIn("limits.timeout_ms", self.assert_failed(out["bad_limit"]))
        self.assertEqual(out["unknown_tool"].get("threw", {}).get("code"), -32602, out["unknown_tool"])

    def test_five_concurrent_calls(self):
        out = self.scenario("concurrent")
        for i, r in enumerate(out["results"], 1):
            self.assert_ok(r, "%d\n" % (i * i))

    def test_progress_arrives_before_the_result(self):
        out = self.scenario("progress")
        main = out["main"]
        self.assert_ok(main, main["structuredContent"]["stdout"])
        stdout = main["structuredContent"]["stdout"]
        m = re.fullmatch(r"first (\d+\.\d+)\nsecond (\d+\.\d+)\n", stdout)
        self.assertIsNotNone(m, stdout)
        second_printed_ms = float(m.group(2)) * 1000
        progress = main["progress"]
        self.assertTrue(progress, "no notifications/progress: %r" % main)
        values = [p["progress"] for p in progress]
        self.assertEqual(values, sorted(set(values)), "progress must increase: %r" % values)
        firsts = [p for p in progress if "first" in str(p.get("message", ""))]
        self.assertTrue(firsts, "no progress carried the first line: %r" % progress)
        self.assertLess(firsts[0]["at"], main["result_at"])
        self.assertLess(firsts[0]["at"], second_printed_ms,
                        "the first line's progress came after the program printed the second: %r" % progress)
        self.assertTrue(all(p["at"] <= main["result_at"] for p in progress), progress)
        self.assertEqual(out["plain"]["structuredContent"]["stdout"], "no token\n", out["plain"])
        latencies = out["latencies"]
        self.assertGreaterEqual(len(latencies), 20, latencies)
        median = statistics.median(latencies)
        figure("MCP progress latency (program's print -> notifications/progress at the SDK client), python3, "
               "median of %d lines: %.1f ms (max %.1f ms)" % (len(latencies), median, max(latencies)))
        self.assertLess(median, 1000, latencies)

    def test_list_languages(self):
        out = self.scenario("languages")
        r = out["list_languages"]
        self.assertNotIn("threw", r, r)
        self.assertIs(r["isError"], False, r)
        langs = r["structuredContent"]["languages"]
        ours = {l["name"]: l for l in self.get_json("/languages")}
        self.assertEqual(sorted(l["name"] for l in langs), sorted(n for n, l in ours.items() if l["available"]),
                         "list_languages lists the available languages")
        for l in langs:
            self.assertEqual((l["version"], l["aliases"], l["compiled"]),
                             (ours[l["name"]]["version"], ours[l["name"]]["aliases"], ours[l["name"]]["compiled"]), l)
            self.assertIs(type(l["compiled"]), bool)
        self.assertEqual(json.loads(r["content"][0]["text"]), r["structuredContent"])

    def test_tests_and_verdicts(self):
        out = self.scenario("tests")
        r = out["mixed"]
        self.assert_failed(r)
        sc = r["structuredContent"]
        self.assertEqual(sc["verdict"], "wrong_answer", sc)
        self.assertEqual([t["verdict"] for t in sc["tests"]], ["accepted", "wrong_answer", "no_answer"], sc)
        r = out["accepted"]
        self.assertNotIn("threw", r, r)
        self.assertIs(r["isError"], False, r)
        self.assertEqual(r["structuredContent"]["verdict"], "accepted", r)
        self.assertEqual([t["verdict"] for t in r["structuredContent"]["tests"]], ["accepted", "accepted"], r)
        r = out["compile_error"]
        self.assert_failed(r)
        self.assertEqual(r["structuredContent"]["verdict"], "compile_error", r)

    def test_latency_against_execute(self):
        out = self.scenario("latency", None, 20)
        for kind in ("mcp", "native"):
            self.assertEqual(len(out[kind]), 20)
            self.assertTrue(all(x["ok"] for x in out[kind]), out[kind])
        mcp = statistics.median(x["ms"] for x in out["mcp"])
        native = statistics.median(x["ms"] for x in out["native"])
        figure("python3 hello, median of 20 sequential calls 300 ms apart (warm pool on): MCP tools/call run_code (SDK client) %.1f ms, "
               "POST /execute (fetch) %.1f ms, MCP overhead %.1f ms" % (mcp, native, mcp - native))


class McpSdkCancel(McpSdkCase):
    """One worker: the call after a cancelled one only starts if the cancel freed it."""
    server_args = ("--max-concurrent", "1")

    def test_abort_cancels_the_call_and_frees_the_worker(self):
        out = self.scenario("cancel")
        c = out["cancelled"]
        self.assertIn("threw", c, "the aborted call must reject: %r" % c)
        self.assertGreaterEqual(c["after_ms"], 900, c)
        self.assertLess(c["after_ms"], 3000, c)
        self.assert_ok(out["next"], "next\n")
        self.assertLess(out["next"]["ms"], 2500, "the call after a cancelled one waited: %r" % out["next"])
        self.assertEqual(out["readyAfter"]["status"], 200, out)
        self.assertEqual(ce.poll(lambda: ce.busy_containers(self.server), 1.0), [])


class McpSdkAuth(McpSdkCase):
    class_server = False

    def test_sdk_with_and_without_the_token(self):
        server = self.server_with_token("sdk-token-123")
        out = self.scenario("tools", server)
        self.assertEqual(sorted(t["name"] for t in out["tools"]), ["list_languages", "run_code"])
        token, server.auth_token = server.auth_token, None
        try:
            out = self.scenario("noauth", server)
        finally:
            server.auth_token = token
        self.assertFalse(out["connected"], out)
        self.assertEqual(out["code"], 401, out)  # the SDK's StreamableHTTPError: the HTTP status


class McpOutputFiles(McpSdkCase):
    """output_files: files the program writes come back as contents.  The
    plot also needs matplotlib in the python3 bundle: without it, it fails
    (never a silent skip)."""

    def setUp(self):
        McpCase.setUp(self)  # node only for the plot: the SDK case asks for it there

    def require_output_files(self, result):
        text = json.dumps(result.get("content"))
        self.assertFalse("output_files" in text and "unknown field" in text,
                         "run_code refuses output_files: %s" % text[:500])

    def test_output_files_are_image_and_resource_contents(self):
        """output_files without matplotlib: the program writes a 1x1 PNG
        (made here) and a text file; a file no glob names stays behind."""
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
        program = ce.code("""
            import base64
            open('dot.png', 'wb').write(base64.b64decode('%s'))
            open('notes.txt', 'w').write('a note\\n')
            open('other.dat', 'w').write('not asked for')
            print('written')
            """) % base64.b64encode(png).decode()
        session, _ = self.initialize()
        result = self.post_json(run_code(program, output_files=["*.png", "notes.txt"]), session=session)["result"]
        self.require_output_files(result)
        self.assertIs(result["isError"], False, result)
        self.assertEqual(result["structuredContent"]["stdout"], "written\n", result)
        kinds = [c["type"] for c in result["content"]]
        self.assertEqual(sorted(kinds), ["image", "resource", "text"], result["content"])
        image = next(c for c in result["content"] if c["type"] == "image")
        self.assertEqual(image["mimeType"], "image/png", image)
        self.assertEqual(base64.b64decode(image["data"], validate=True), png)
        res = next(c for c in result["content"] if c["type"] == "resource")["resource"]
        self.assertTrue(res["uri"].endswith("notes.txt"), res)
        text = res["text"] if "text" in res else base64.b64decode(res["blob"]).decode()
        self.assertEqual(text, "a note\n", res)
        self.assertNotIn("other.dat", json.dumps(result))

    def test_matplotlib_plot_is_an_image_content(self):
        self.node = ce.require_node_client(self, CLIENT_DIR, NODE_MODULES)
        out = self.scenario("plot")
        self.assertTrue(out["has_output_files"], "run_code's inputSchema has no output_files")
        self.require_output_files(out["plot"])
        m = out["matplotlib"]
        self.assertTrue(m.get("structuredContent") and m["structuredContent"]["status"] == "ok",
                        "matplotlib is missing in the python3 bundle: %r" % m)
        r = out["plot"]
        self.assert_ok(r, "saved\n")
        images = [c for c in r["content"] if c["type"] == "image"]
        self.assertEqual(len(images), 1, r["content"])
        self.assertEqual(images[0]["mimeType"], "image/png", images[0].get("mimeType"))
        png = base64.b64decode(images[0]["data"], validate=True)
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"), png[:16])
        self.assertGreater(len(png), 1000)
        resources = [c for c in r["content"] if c["type"] == "resource"]
        self.assertEqual(len(resources), 1, r["content"])
        res = resources[0]["resource"]
        self.assertTrue(res["uri"].endswith("notes.txt"), res)
        text = res.get("text")
        if text is None:
            text = base64.b64decode(res["blob"]).decode()
        self.assertEqual(text, "a note\n", res)
