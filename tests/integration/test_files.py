"""output_files: a run's files back in the answer (docs/api.md "Output files").

The run gets a writable /work (its cwd, a copy of the request's files) only
when the request names output_files; the server walks it after the run
without following links, within --max-output-files and
--max-output-files-bytes, and reports what it left out."""

import base64
import json
import struct

from ce import CETestCase, code

FILE_KEYS = {"name", "size", "encoding", "content"}


class FilesBase(CETestCase):
    def run_files(self, src, globs, server=None, **extra):
        server = server or self.server
        payload = {"language": "python3", "code": src, "output_files": globs}
        payload.update(extra)
        status, _, body = server.post_execute(json.dumps(payload))
        self.assertEqual(status, 200, body)
        self.assertIn("files", body, body)
        self.assertIsInstance(body["files_omitted"], int, body)
        for f in body["files"]:
            self.assertEqual(set(f), FILE_KEYS, f)
            self.assertEqual(f["encoding"], "base64", f)
        return body

    def contents(self, body):
        return {f["name"]: base64.b64decode(f["content"]) for f in body["files"]}


class OutputFiles(FilesBase):
    def test_globs_and_subdirectory(self):
        body = self.run_files(code("""
            import os
            print(os.getcwd(), sorted(os.listdir(".")))
            open("a.txt", "w").write("A")
            open("b.log", "w").write("B")
            os.makedirs("out/deep")
            open("out/result.csv", "w").write("1,2\\n")
            open("out/deep/x.csv", "w").write("no")
            open(".hidden.txt", "w").write("no")
            """), ["*.txt", "out/result.csv"])
        self.assert_result(body, "ok", exit_code=0)
        self.assertTrue(body["output"].startswith("/work ['main.py']"), body["output"])
        self.assertEqual(self.contents(body), {"a.txt": b"A", "out/result.csv": b"1,2\n"})
        self.assertEqual((body["files_omitted"], body["files_error"]), (0, None), body)
        self.assertEqual([f["size"] for f in body["files"]], [1, 4])

    def test_request_files_copied_and_code_read_only(self):
        payload_files = [{"name": "main.py", "content": code("""
            import os
            print(open("data/in.txt").read())
            try:
                open("/code/new", "w")
            except OSError as e:
                print("ro", e.errno)
            """)}, {"name": "data/in.txt", "content": "hello"}]
        status, _, body = self.server.post_execute(json.dumps(
            {"language": "python3", "files": payload_files, "output_files": ["data/*"]}))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["output"], "hello\nro 30\n", body)
        self.assertEqual(self.contents(body), {"data/in.txt": b"hello"})

    def test_no_output_files_no_key_and_cwd_unchanged(self):
        body = self.run_code("import os; print(os.getcwd(), os.path.exists('/work/main.py'))")
        self.assertEqual(body["output"], "/code False\n", body)
        self.assertNotIn("files", body)

    def test_binary_round_trip(self):
        body = self.run_files("open('b.bin','wb').write(bytes(range(256)) * 100)", ["b.bin"])
        self.assertEqual(self.contents(body)["b.bin"], bytes(range(256)) * 100)
        self.assertEqual(body["files"][0]["size"], 25600)

    def test_symlinks_are_skipped(self):
        body = self.run_files(code("""
            import os
            os.symlink("/etc/passwd", "passwd.txt")
            os.symlink("/code", "codedir")
            os.symlink("..", "up")
            open("real.txt", "w").write("r")
            """), ["*.txt", "codedir/*", "up/*"])
        self.assertEqual(self.contents(body), {"real.txt": b"r"})
        self.assertEqual(body["files_omitted"], 1, body)
        self.assertIn("passwd.txt is a symbolic link", body["files_error"])

    def test_fifo_is_not_read(self):
        body = self.run_files("import os; os.mkfifo('f.txt'); open('g.txt','w').write('g')",
                              ["*.txt"])
        self.assertEqual(self.contents(body), {"g.txt": b"g"})
        self.assertEqual(body["files_omitted"], 1, body)
        self.assertIn("not a regular file", body["files_error"])

    def test_growing_file_from_background_process(self):
        # The program leaves a child appending; the container ends with it
        # killed, and what is collected is whole and within the bound.
        body = self.run_files(code("""
            import os, time
            if os.fork() == 0:
                with open("grow.txt", "w") as f:
                    while True:
                        f.write("x" * 4096); f.flush()
            time.sleep(0.5)
            """), ["grow.txt"])
        got = self.contents(body)
        if got:
            self.assertLessEqual(len(got["grow.txt"]), 8 << 20)
            self.assertEqual(set(got["grow.txt"]), {ord("x")})
        else:
            self.assertEqual(body["files_omitted"], 1, body)
        self.assert_healthy()

    def test_program_failure_still_collects(self):
        body = self.run_files("open('log.txt','w').write('why'); raise SystemExit(3)", ["log.txt"])
        self.assert_result(body, "runtime_error", exit_code=3)
        self.assertEqual(self.contents(body), {"log.txt": b"why"})

    def test_many_files_hit_a_bound(self):
        body = self.run_files(code("""
            n = 0
            try:
                for i in range(10000):
                    open("f%05d.dat" % i, "w").write("x"); n += 1
            except OSError as e:
                print("stopped", n, e.errno)
            """), ["*.dat"])
        self.assertEqual(len(body["files"]), 64, body["files_error"])
        self.assertGreater(body["files_omitted"], 0)
        self.assertIn("more files matched than the 64", body["files_error"])
        self.assert_healthy()

    def test_matplotlib_png(self):
        body = self.run_files(code("""
            import matplotlib.pyplot as plt
            plt.plot([1, 3, 2])
            plt.savefig("plot.png")
            """), ["*.png"])
        self.assert_result(body, "ok", exit_code=0)
        self.assertEqual(body["stderr"], "", body)
        png = self.contents(body)["plot.png"]
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        length, kind = struct.unpack(">I4s", png[8:16])
        self.assertEqual((length, kind), (13, b"IHDR"))
        width, height = struct.unpack(">II", png[16:24])
        self.assertEqual((width, height), (640, 480))

    def test_piston(self):
        status, _, body = self.server.request_json("POST", "/api/v2/execute", json.dumps({
            "language": "python", "version": "*", "output_files": ["o.txt"],
            "files": [{"content": "open('o.txt','w').write('piston')"}]}).encode(),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["files"][0]["name"], "o.txt", body)
        self.assertEqual(base64.b64decode(body["files"][0]["content"]), b"piston")
        self.assertEqual((body["files_omitted"], body["files_error"]), (0, None))
        status, _, body = self.server.request_json("POST", "/api/v2/execute", json.dumps({
            "language": "python", "version": "*", "output_files": ["../x"],
            "files": [{"content": "pass"}]}).encode(), {"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        self.assertIn("output_files[0]", body["message"])
        status, _, body = self.server.request_json("POST", "/api/v2/execute", json.dumps({
            "language": "python", "version": "*", "files": [{"content": "print(1)"}]}).encode(),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertNotIn("files", body)

    def test_validation(self):
        cases = [
            ([], "output_files"),
            ("*.png", "output_files"),
            (["ok", 3], "output_files[1]"),
            (["a", "b", ""], "output_files[2]"),
            (["/etc/passwd"], "output_files[0]"),
            (["a/../../b"], "output_files[0]"),
            (["x\u0000y"], "output_files[0]"),
            (["x" * 256], "output_files[0]"),
            (["a"] * 33, "output_files"),
        ]
        for value, needle in cases:
            with self.subTest(value=str(value)[:40]):
                status, _, body = self.server.post_execute(json.dumps(
                    {"language": "python3", "code": "pass", "output_files": value}))
                self.assert_error(status, None, body, 400)
                self.assertIn(needle, body["error"])
        status, _, body = self.server.post_execute(json.dumps(
            {"language": "python3", "code": "pass", "output_files": ["*"],
             "tests": [{"stdin": ""}]}))
        self.assert_error(status, None, body, 400)
        self.assertIn("cannot be given with 'tests'", body["error"])


class SmallBounds(FilesBase):
    server_args = ("--max-output-files", "3", "--max-output-files-bytes", "1000")

    def test_count_bound(self):
        body = self.run_files("[open('%d.txt' % i, 'w').write('x') for i in range(5)]", ["*.txt"])
        self.assertEqual(len(body["files"]), 3)
        self.assertEqual(body["files_omitted"], 2)
        self.assertIn("more files matched than the 3", body["files_error"])

    def test_byte_bound(self):
        body = self.run_files(code("""
            open("a.txt", "w").write("a" * 600)
            open("b.txt", "w").write("b" * 600)
            """), ["*.txt"])
        self.assertEqual(len(body["files"]), 1, body)
        self.assertEqual(body["files_omitted"], 1)
        self.assertIn("1000 bytes", body["files_error"])

    def test_async_job_keeps_files(self):
        status, _, job = self.server.request_json("POST", "/executions", json.dumps(
            {"language": "python3", "code": "open('j.txt','w').write('job')",
             "output_files": ["j.txt"]}).encode(), {"Content-Type": "application/json"})
        self.assertIn(status, (200, 201, 202), job)
        import time
        for _ in range(600):
            status, _, got = self.server.request_json("GET", "/executions/" + job["id"])
            if got.get("status") == "done":
                break
            time.sleep(0.1)
        self.assertEqual(self.contents(got["result"]), {"j.txt": b"job"}, got)
