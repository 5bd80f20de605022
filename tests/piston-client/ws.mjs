// Drive GET /api/v2/connect with the npm WebSocket client `ws`.
// Usage: node ws.mjs ws://127.0.0.1:PORT/api/v2/connect SPEC
// SPEC (JSON): {"sends": [{"on": EVENT, "delay": MS, "text": "..."}], "terminate_on": EVENT}
// where EVENT is "open", a message type ("runtime", "exit", ...) or "stage:run".
// Each send fires once, on the first EVENT.  Prints one JSON object: every
// message received (with "t", ms since open) and the close code and reason.
import WebSocket from "ws";

const [url, specText] = process.argv.slice(2);
const spec = JSON.parse(specText || "{}");
const sends = (spec.sends || []).map(s => ({ ...s, done: false }));
const out = { messages: [], close: null };
let opened = 0;
const ws = new WebSocket(url);

function fire(event) {
  for (const s of sends) {
    if (!s.done && s.on === event) {
      s.done = true;
      // "BIG:N": a message of N bytes (too long for a command line)
      const text = s.text.startsWith("BIG:") ? "x".repeat(Number(s.text.slice(4))) : s.text;
      setTimeout(() => { if (ws.readyState === WebSocket.OPEN) ws.send(text); }, s.delay || 0);
    }
  }
  if (spec.terminate_on === event) {
    setTimeout(() => ws.terminate(), spec.terminate_delay || 0);
  }
}

ws.on("open", () => { opened = Date.now(); fire("open"); });
ws.on("message", data => {
  const msg = JSON.parse(data.toString());
  msg.t = Date.now() - opened;
  out.messages.push(msg);
  fire(msg.type);
  if (msg.type === "stage") fire("stage:" + msg.stage);
});
ws.on("close", (code, reason) => {
  out.close = { code, reason: reason.toString(), t: Date.now() - opened };
  // exit only once stdout is flushed: it is a pipe, written asynchronously
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
});
ws.on("error", err => { out.error = String(err.message || err); });
setTimeout(() => {
  out.timeout = true;
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
}, 60000);
