// Drive CodeEngine with the unchanged npm package piston-client.
// Usage: node client.mjs http://127.0.0.1:PORT
// Prints one JSON object: what each call answered, for test_piston.py to check.
import piston from "piston-client";

const server = process.argv[2];
const client = piston({ server });
const out = {};

out.runtimes = await client.runtimes();
// Its defaults: no file name, args ["1","2","3"], stdin "", run_timeout 3000,
// memory limits -1, the version picked from /api/v2/runtimes.
out.python = await client.execute("python", "import sys\nprint('hello', sys.argv[1:])");
out.python_stdin = await client.execute("python", "print(input()[::-1])", { stdin: "abc", args: [] });
out.c = await client.execute("c", "#include <stdio.h>\nint main(int c, char **v){printf(\"%d %s\\n\", c, v[1]); return 3;}");
out.c_error = await client.execute("c", "int main(){ return undefined_thing; }");
// node starts slowly on a loaded machine: more than the client's default 3 s
out.javascript = await client.execute({ language: "javascript", files: [{ content: "console.log(process.argv.slice(2).join(','))" }], runTimeout: 20000 });
out.timeout = await client.execute("python", "while True: pass", { runTimeout: 500 });
out.unknown = await client.execute("cobol", "x");
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
