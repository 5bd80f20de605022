// Drives CodeEngine's MCP server (POST /mcp, Streamable HTTP) through the official
// TypeScript SDK, unchanged: its Client and StreamableHTTPClientTransport.
//
//     node mcp.mjs SCENARIO http://127.0.0.1:PORT [TOKEN] [N]
//
// prints ONE JSON object on stdout (what the scenario saw) and exits 0; it exits 1
// with the error on stderr only when something outside the checked behaviour broke
// (the connection could not be set up, ...).  tests/integration/test_mcp.py asserts
// on the object; nothing is judged here.  Every scenario lists the tools first, so
// that the SDK checks each run_code result against the tool's outputSchema.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [scenario, base, token, countArg] = process.argv.slice(2);
if (!scenario || !base) {
    process.stderr.write('usage: node mcp.mjs SCENARIO BASE_URL [TOKEN] [N]\n');
    process.exit(2);
}
const authHeaders = token ? { Authorization: 'Bearer ' + token } : {};
const CALL_TIMEOUT_MS = 120000; // a hang guard only: rust compiles take seconds
const transportErrors = [];

async function connect(headers = authHeaders) {
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers } });
    const client = new Client({ name: 'codeengine-mcp-tests', version: '0.0.0' });
    client.onerror = (e) => transportErrors.push(String(e && e.message || e));
    await client.connect(transport);
    const tools = (await client.listTools()).tools;
    return { client, transport, tools };
}

// One tools/call: the result's fields, or what it threw (an McpError: its code).
async function call(client, name, args, options = {}) {
    const t0 = performance.now();
    try {
        const r = await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS, ...options });
        return { ms: performance.now() - t0, isError: r.isError === true, content: r.content,
                 structuredContent: r.structuredContent ?? null };
    } catch (e) {
        return { ms: performance.now() - t0, threw: { code: e.code ?? null, message: String(e.message ?? e) } };
    }
}

const run = (client, args, options) => call(client, 'run_code', args, options);
const py = (code, extra = {}) => ({ language: 'python3', code, ...extra });

const HELLO = {
    python3: "print('Hello, World!')",
    c: '#include <stdio.h>\nint main(void) { puts("Hello, World!"); return 0; }\n',
    javascript: "console.log('Hello, World!')",
    bash: "echo 'Hello, World!'",
    rust: 'fn main() { println!("Hello, World!"); }\n',
    go: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("Hello, World!") }\n',
};

// A program that prints "tick <time.time()>" count times, gap seconds apart.
const ticks = (count, gap) =>
    `import time\nfor i in range(${count}):\n    print('tick %.6f' % time.time(), flush=True)\n` +
    `    if i < ${count - 1}:\n        time.sleep(${gap})\n`;

// A call with a progress token: every notification with its arrival time (ms since
// the epoch, the clock time.time() reads in the container too), then the result's.
async function withProgress(client, args) {
    const progress = [];
    const onprogress = (p) => progress.push({ at: Date.now(), ...p });
    const r = await run(client, args, { onprogress });
    return { ...r, progress, result_at: Date.now() };
}

// Latency of each "tick T" line: its first notification's arrival minus T.
function tickLatencies(progress) {
    const seen = new Map();
    for (const p of progress) {
        for (const m of String(p.message ?? '').matchAll(/tick (\d+\.\d+)/g)) {
            if (!seen.has(m[1])) seen.set(m[1], p.at - Number(m[1]) * 1000);
        }
    }
    return [...seen.values()];
}

const pause = (ms) => new Promise(r => setTimeout(r, ms));

async function getJSON(path) {
    const r = await fetch(new URL(path, base), { headers: authHeaders });
    return { status: r.status, body: await r.json().catch(() => null) };
}

const scenarios = {
    // initialize + tools/list, then the session ends (DELETE).
    async tools() {
        const { client, transport, tools } = await connect();
        const out = {
            sessionId: transport.sessionId ?? null,
            protocolVersion: transport.protocolVersion ?? null,
            serverVersion: client.getServerVersion() ?? null,
            capabilities: client.getServerCapabilities() ?? null,
            instructions: client.getInstructions() ?? null,
            tools,
            ping: await client.ping().then(r => r, e => ({ threw: String(e.message ?? e) })),
        };
        await transport.terminateSession();
        out.terminated = transport.sessionId === undefined;
        return out;
    },

    async hello() {
        const { client } = await connect();
        const out = {};
        for (const [language, code] of Object.entries(HELLO)) out[language] = await run(client, { language, code });
        return out;
    },

    async basics() {
        const { client } = await connect();
        return {
            stdin: await run(client, py('import sys\nprint(sys.stdin.read()[::-1])', { stdin: 'abc' })),
            args: await run(client, py('import sys\nprint(sys.argv[1:])', { args: ['a b', '$(id)'] })),
            files: await run(client, { language: 'python3', files: [
                { name: 'main.py', content: 'import helper\nprint(helper.X, open("data.bin", "rb").read())' },
                { name: 'helper.py', content: 'X = 42' },
                { name: 'data.bin', content: 'AAH/', encoding: 'base64' }] }),
            runtime_error: await run(client, py("print('before')\nraise ValueError('boom 42')")),
            compile_error: await run(client, { language: 'c', code: 'int main(void) { return undefined_thing; }' }),
            timeout: await run(client, py("print('started', flush=True)\nwhile True: pass", { limits: { timeout_ms: 1000 } })),
            unicode: await run(client, py("print('héllo ✓ 日本')")),
            exit_code: await run(client, py('import sys\nsys.exit(3)')),
        };
    },

    // Bad arguments are a tool result with isError (the model can read it); an
    // unknown tool or arguments that are not an object are a JSON-RPC error.
    async bad_args() {
        const { client } = await connect();
        return {
            unknown_language: await run(client, { language: 'cobol', code: 'x' }),
            missing_language: await run(client, { code: "print('x')" }),
            code_not_string: await run(client, { language: 'python3', code: 5 }),
            unknown_field: await run(client, { language: 'python3', code: 'print(1)', limts: { timeout_ms: 1 } }),
            bad_limit: await run(client, { language: 'python3', code: 'print(1)', limits: { timeout_ms: 999999999 } }),
            unknown_tool: await call(client, 'no_such_tool', {}),
        };
    },

    async concurrent() {
        const { client } = await connect();
        const t0 = performance.now();
        const results = await Promise.all([1, 2, 3, 4, 5].map(i =>
            run(client, py('import sys, time\ntime.sleep(0.3)\nprint(int(sys.argv[1]) ** 2)', { args: [String(i)] }))));
        return { results, wall_ms: performance.now() - t0 };
    },

    // Output arrives as notifications/progress before the result: "first", a
    // second's sleep, "second".  Then three short tick programs for the latency.
    async progress() {
        const { client } = await connect();
        const main = await withProgress(client, py(
            "import time\nprint('first %.6f' % time.time(), flush=True)\ntime.sleep(1)\n" +
            "print('second %.6f' % time.time(), flush=True)"));
        const latencies = [];
        for (let i = 0; i < 3; i++) latencies.push(...tickLatencies((await withProgress(client, py(ticks(10, 0.1)))).progress));
        const plain = await run(client, py("print('no token')"));
        return { main, latencies, plain };
    },

    // AbortController on callTool: the SDK sends notifications/cancelled.  A call
    // right after must start at once (the test's server has --max-concurrent 1).
    async cancel() {
        const { client } = await connect();
        const ac = new AbortController();
        const t0 = performance.now();
        setTimeout(() => ac.abort('the test cancels it'), 1000);
        const cancelled = await run(client, py('while True: pass', { limits: { timeout_ms: 30000 } }), { signal: ac.signal });
        cancelled.after_ms = performance.now() - t0;
        await pause(50); // the notification is sent asynchronously
        const readyAfter = await getJSON('/ready');
        const next = await run(client, py("print('next')"));
        return { cancelled, next, readyAfter };
    },

    async languages() {
        const { client } = await connect();
        return { list_languages: await call(client, 'list_languages', {}),
                 with_args: await call(client, 'list_languages', { x: 1 }) };
    },

    async tests() {
        const { client } = await connect();
        const code = 'a, b = map(int, input().split())\nprint(a + b)';
        return {
            mixed: await run(client, py(code, { tests: [
                { name: 'small', stdin: '1 2\n', expected_output: '3\n' },
                { name: 'wrong', stdin: '2 2\n', expected_output: '5\n' },
                { stdin: '5 5\n' }] })),
            accepted: await run(client, py(code, { tests: [
                { name: 'a', stdin: '1 2\n', expected_output: '3' },
                { name: 'b', stdin: '10 20\n', expected_output: '30\n' }] })),
            compile_error: await run(client, { language: 'c', code: 'int main(void) { return nope; }',
                                              tests: [{ stdin: '', expected_output: '' }] }),
        };
    },

    async plot() {
        const { client, tools } = await connect();
        const schema = tools.find(t => t.name === 'run_code')?.inputSchema ?? {};
        const limits = { timeout_ms: 30000, memory_mb: 256 };
        return {
            has_output_files: 'output_files' in (schema.properties ?? {}),
            matplotlib: await run(client, py('import matplotlib\nprint(matplotlib.__version__)', { limits })),
            plot: await run(client, py(
                "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n" +
                "plt.plot([1, 2, 3])\nplt.savefig('plot.png')\nopen('notes.txt', 'w').write('a note\\n')\nprint('saved')",
                { limits, output_files: ['*.png', 'notes.txt'] })),
        };
    },

    // N sequential python3 hellos through MCP, N through POST /execute (fetch, a
    // fresh connection each, as the SDK's), alternated; two warm-ups each first.
    async latency() {
        const n = Number(countArg ?? 20);
        const { client } = await connect();
        const code = "print('Hello, World!')";
        const execute = async () => {
            const t0 = performance.now();
            const r = await fetch(new URL('/execute', base), { method: 'POST',
                headers: { 'Content-Type': 'application/json', ...authHeaders },
                body: JSON.stringify({ language: 'python3', code }) });
            const body = await r.json();
            return { ms: performance.now() - t0, status: r.status, stdout: body.stdout };
        };
        for (let i = 0; i < 2; i++) { await run(client, py(code)); await execute(); }
        const mcp = [], native = [];
        for (let i = 0; i < n; i++) {
            await pause(300); // the warm pool refills: each call measured with a slot waiting
            const r = await run(client, py(code));
            mcp.push({ ms: r.ms, ok: !r.isError && r.structuredContent?.stdout === 'Hello, World!\n' });
            await pause(300);
            const e = await execute();
            native.push({ ms: e.ms, ok: e.status === 200 && e.stdout === 'Hello, World!\n' });
        }
        return { mcp, native };
    },

    // Without the token: the SDK's connect must fail (401).
    async noauth() {
        try {
            await connect({});
            return { connected: true };
        } catch (e) {
            return { connected: false, error: String(e.message ?? e), code: e.code ?? null };
        }
    },
};

if (!scenarios[scenario]) {
    process.stderr.write(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}\n`);
    process.exit(2);
}
try {
    const out = await scenarios[scenario]();
    out.transportErrors = transportErrors;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0); // a cancelled call's HTTP request may still be open: do not wait for it
} catch (e) {
    process.stderr.write(`scenario ${scenario} failed: ${e && e.stack || e}\n`);
    process.exit(1);
}
