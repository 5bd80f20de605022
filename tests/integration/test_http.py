"""HTTP layer: bad requests, body limits, idle and half-sent connections."""

import json
import socket
import time

import ce
from ce import CETestCase


class RequestChecks:
    """Rejected requests; test_rootless.Basics uses these too (a plain mixin,
    not a TestCase, so that discovery collects nothing twice)."""

    def assert_rejected(self, body, expected=400, content_type="application/json"):
        """POST body to /execute: HTTP `expected` with a JSON error, and the
        server still healthy.  Returns the error body."""
        status, headers, obj = self.server.post_execute(body, content_type=content_type)
        self.assert_error(status, headers, obj, expected)
        self.assert_healthy()
        return obj

    def assert_path_rejected(self, method, path, expected, body=None):
        """method path (a JSON body if given): HTTP `expected` with a JSON error."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        status, headers, obj = self.server.request_json(method, path, body, headers)
        self.assert_error(status, headers, obj, expected)
        return obj


class BadRequests(RequestChecks, CETestCase):
    """Every malformed request gets the right status and a JSON error."""

    def test_malformed_json(self):
        self.assert_rejected(b'{"language":')

    def test_array_body(self):
        self.assert_rejected(b"[]")

    def test_string_body(self):
        self.assert_rejected(b'"str"')

    def test_number_body(self):
        self.assert_rejected(b"42")

    def test_empty_object(self):
        self.assert_rejected(b"{}")

    def test_missing_code(self):
        self.assert_rejected(b'{"language":"python3"}')

    def test_missing_language(self):
        self.assert_rejected(b'{"code":"print(1)"}')

    def test_language_wrong_type(self):
        self.assert_rejected(b'{"language":5,"code":"x"}')

    def test_code_wrong_type(self):
        self.assert_rejected(b'{"language":"python3","code":5}')

    def test_code_null(self):
        self.assert_rejected(b'{"language":"python3","code":null}')

    def test_unknown_language_lists_available(self):
        obj = self.assert_rejected(b'{"language":"cobol","code":"x"}')
        self.assertIn("python3", obj["error"], "the message should list the languages: %r" % obj)

    def test_unknown_field(self):
        self.assert_rejected(b'{"language":"python3","code":"print(1)","extra":1}')

    def test_garbage_bytes(self):
        self.assert_rejected(b"\x00\xff\xfe garbage")

    def test_raw_nul_in_json_string(self):
        self.assert_rejected(b'{"language":"python3","code":"print(1)\x00"}')

    def test_invalid_utf8_in_json_string(self):
        self.assert_rejected(b'{"language":"python3","code":"print(1) # \xff\xfe"}')

    def test_trailing_garbage_after_object(self):
        self.assert_rejected(b'{"language":"python3","code":"print(1)"} trailing')

    def test_deeply_nested_arrays(self):
        self.assert_rejected(b"[" * 100000)

    def test_deeply_nested_objects(self):
        self.assert_rejected(b'{"a":' * 50000)

    def test_empty_body(self):
        self.assert_rejected(b"")

    def test_unknown_path(self):
        self.assert_path_rejected("GET", "/nope", 404)

    def test_unknown_path_post(self):
        self.assert_path_rejected("POST", "/nope", 404, b"{}")

    def test_get_execute(self):
        self.assert_path_rejected("GET", "/execute", 405)

    def test_post_health(self):
        self.assert_path_rejected("POST", "/health", 405, b"")

    def test_health(self):
        status, headers, body = self.server.request("GET", "/health")
        self.assertEqual((status, body), (200, b"OK"))

    def test_zz_still_healthy_after_bad_requests(self):
        # runs last in this class (alphabetical order)
        self.assert_healthy()
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")


class BodyLimit(CETestCase):
    LIMIT = 1000
    server_args = ("--max-body", str(LIMIT))

    def test_body_over_limit_is_413(self):
        body = json.dumps({"language": "python3", "code": "print(1)\n#" + "p" * 2000}).encode()
        status, headers, obj = self.server.post_execute(body)
        self.assert_error(status, headers, obj, 413)

    def test_large_content_length_without_body_is_413(self):
        # the server may answer as soon as it sees the header
        data = self.server.raw_exchange(
            b"POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\nConnection: close\r\n\r\n" + b"{" * 2000)
        status, headers, body = ce.parse_raw_response(data)
        self.assert_error(status, headers, ce.parse_json(body), 413)

    def test_chunked_body_over_limit_is_413(self):
        # no Content-Length: the server has to count while it reads; the body
        # is valid JSON so that only its size can be the problem
        payload = json.dumps({"language": "python3", "code": "#" + "c" * 3000}).encode()
        chunks = [payload[i:i + 500] for i in range(0, len(payload), 500)]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        data = self.server.raw_exchange(
            b"POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
        status, headers, body = ce.parse_raw_response(data)
        self.assert_error(status, headers, ce.parse_json(body), 413)

    def test_body_under_limit_runs(self):
        src = "print('fits')\n#" + "p" * 500
        self.assertLess(len(json.dumps({"language": "python3", "code": src})), self.LIMIT)
        body = self.run_code(src)
        self.assert_result(body, "ok", exit_code=0, output="fits\n")

    def test_healthy_after_oversized_bodies(self):
        self.server.post_execute(b'{"language":"python3","code":"' + b"q" * 5000 + b'"}')
        self.assert_healthy()
        body = self.run_code("print('Hello, World!')")
        self.assert_result(body, "ok", exit_code=0, output="Hello, World!\n")


class IdleConnections(CETestCase):
    IDLE = 300
    PARTIAL = 5

    def test_idle_and_half_sent_connections_do_not_block_service(self):
        sockets = []
        try:
            for _ in range(self.IDLE):
                sockets.append(socket.create_connection((ce.HOST, self.server.port), timeout=10))
            for _ in range(self.PARTIAL):
                s = socket.create_connection((ce.HOST, self.server.port), timeout=10)
                s.sendall(b"POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                          + b'{"language":"python3","code":"print(1)' + b" " * 11)  # 50 of 100 bytes
                sockets.append(s)
            time.sleep(0.5)

            status, body = self.server.health(timeout=30)
            self.assertEqual((status, body), (200, b"OK"), "/health with %d idle connections" % len(sockets))
            result = self.run_code("print('Hello, World!')")
            self.assert_result(result, "ok", exit_code=0, output="Hello, World!\n")
        finally:
            for s in sockets:
                s.close()

        time.sleep(0.5)
        self.assert_healthy()
        result = self.run_code("print('Hello, World!')")
        self.assert_result(result, "ok", exit_code=0, output="Hello, World!\n")
