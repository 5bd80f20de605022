// Write-to-receive latency over GET /api/v2/connect (see
// tests/integration/measure_latency.py): the program prints its
// CLOCK_MONOTONIC in ns; we subtract it from ours (process.hrtime is
// CLOCK_MONOTONIC too, and containers share the host's).  Prints the
// latencies in microseconds as a JSON array.
import WebSocket from "ws";

const [url, program] = process.argv.slice(2);
const lat = [];
let carry = "";
const ws = new WebSocket(url);
ws.on("open", () => ws.send(JSON.stringify({ type: "init", language: "python", files: [{ content: program }], run_timeout: 30000 })));
ws.on("message", data => {
  const now = process.hrtime.bigint();
  const msg = JSON.parse(data.toString());
  if (msg.type !== "data" || msg.stream !== "stdout") return;
  const text = carry + msg.data;
  const lines = text.split("\n");
  carry = lines.pop();
  for (const l of lines) if (l) lat.push(Number(now - BigInt(l)) / 1000);
});
ws.on("close", () => process.stdout.write(JSON.stringify(lat) + "\n", () => process.exit(0)));
