// The CodeEngine playground: an editor, the languages of GET /languages, and
// POST /execute's NDJSON stream (docs/api.md) shown as it arrives.  Plain
// ES2020, no framework, no build step; every file comes from this server
// (the page's Content-Security-Policy allows nothing else).  See
// docs/playground.md.
"use strict";

const BASE = "/playground/codemirror/";
// Each language's CodeMirror mode (the files it needs, in load order); any
// other language is edited as plain text.
const MODES = {
  bash: { mode: "text/x-sh", files: ["mode/shell/shell.js"] },
  c: { mode: "text/x-csrc", files: ["mode/clike/clike.js"] },
  cpp: { mode: "text/x-c++src", files: ["mode/clike/clike.js"] },
  csharp: { mode: "text/x-csharp", files: ["mode/clike/clike.js"] },
  java: { mode: "text/x-java", files: ["mode/clike/clike.js"] },
  commonlisp: { mode: "text/x-common-lisp", files: ["mode/commonlisp/commonlisp.js"] },
  erlang: { mode: "text/x-erlang", files: ["mode/erlang/erlang.js"] },
  fortran: { mode: "text/x-fortran", files: ["mode/fortran/fortran.js"] },
  go: { mode: "text/x-go", files: ["mode/go/go.js"] },
  javascript: { mode: "text/javascript", files: ["mode/javascript/javascript.js"] },
  typescript: { mode: "text/typescript", files: ["mode/javascript/javascript.js"] },
  lua: { mode: "text/x-lua", files: ["mode/lua/lua.js"] },
  pascal: { mode: "text/x-pascal", files: ["mode/pascal/pascal.js"] },
  perl: { mode: "text/x-perl", files: ["mode/perl/perl.js"] },
  php: {
    mode: "application/x-httpd-php",
    files: ["mode/xml/xml.js", "mode/javascript/javascript.js", "mode/css/css.js",
      "mode/htmlmixed/htmlmixed.js", "mode/clike/clike.js", "mode/php/php.js"],
  },
  python3: { mode: { name: "python", version: 3 }, files: ["mode/python/python.js"] },
  r: { mode: "text/x-rsrc", files: ["mode/r/r.js"] },
  ruby: { mode: "text/x-ruby", files: ["mode/ruby/ruby.js"] },
  rust: { mode: "text/x-rustsrc", files: ["addon/mode/simple.js", "mode/rust/rust.js"] },
  sqlite3: { mode: "text/x-sqlite", files: ["mode/sql/sql.js"] },
};

// Each language's first program (the same as tests/integration/langs.py's).
const HELLO = {
  bash: "echo \"Hello, World!\"\n",
  c: "#include <stdio.h>\n\nint main(void)\n{\n    printf(\"Hello, World!\\n\");\n    return 0;\n}\n",
  commonlisp: "(format t \"Hello, World!~%\")\n",
  cpp: "#include <iostream>\n\nint main()\n{\n    std::cout << \"Hello, World!\\n\";\n}\n",
  csharp: "using System;\n\nclass Program\n{\n    static void Main()\n    {\n        Console.WriteLine(\"Hello, World!\");\n    }\n}\n",
  elixir: "IO.puts(\"Hello, World!\")\n",
  erlang: "#!/usr/bin/env escript\n-module(main).\n-export([main/1]).\n\nmain(_) ->\n    io:format(\"Hello, World!~n\").\n",
  fortran: "program hello\n  implicit none\n  print '(a)', 'Hello, World!'\nend program hello\n",
  go: "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"Hello, World!\")\n}\n",
  java: "public class Main {\n    public static void main(String[] args) {\n        System.out.println(\"Hello, World!\");\n    }\n}\n",
  javascript: "console.log(\"Hello, World!\");\n",
  lua: "print(\"Hello, World!\")\n",
  nasm: "        global  _start\n\n        section .rodata\nmsg:    db      \"Hello, World!\", 10\nlen:    equ     $ - msg\n\n        section .text\n_start: mov     eax, 1                  ; write(1, msg, len)\n        mov     edi, 1\n        lea     rsi, [rel msg]\n        mov     edx, len\n        syscall\n        mov     eax, 60                 ; exit(0)\n        xor     edi, edi\n        syscall\n",
  pascal: "program Hello;\n\nbegin\n  WriteLn('Hello, World!');\nend.\n",
  perl: "print \"Hello, World!\\n\";\n",
  php: "<?php\necho \"Hello, World!\\n\";\n",
  python3: "print(\"Hello, World!\")\n",
  r: "cat(\"Hello, World!\\n\")\n",
  ruby: "puts \"Hello, World!\"\n",
  rust: "fn main() {\n    println!(\"Hello, World!\");\n}\n",
  sqlite3: "SELECT 'Hello, World!';\n",
  typescript: "const greeting: string = \"Hello, World!\";\nconsole.log(greeting);\n",
};

// Images a program writes in its working directory, sent back inline.
const OUTPUT_FILES = ["*.png", "*.jpg", "*.svg"];
const IMAGE_TYPES = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", svg: "image/svg+xml" };

const $ = (id) => document.getElementById(id);
const ui = {
  language: $("language"), run: $("run"), share: $("share"), token: $("token"),
  stdin: $("stdin"), args: $("args"), status: $("status"), stages: $("stages"),
  compilePane: $("compile-pane"), compileOut: $("compile-out"), runOut: $("run-out"),
  images: $("images"), notice: $("notice"), shareBox: $("share-box"), shareUrl: $("share-url"),
};

let editor = null;
let running = null; // the AbortController of the execution in flight
const loaded = new Map(); // script path -> its load promise

function loadScript(path) {
  if (!loaded.has(path)) {
    loaded.set(path, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = BASE + path;
      s.onload = resolve;
      s.onerror = () => reject(new Error("cannot load " + path));
      document.head.appendChild(s);
    }));
  }
  return loaded.get(path);
}

async function setMode(lang) {
  const m = MODES[lang];
  if (!m) {
    editor.setOption("mode", "text/plain");
    return;
  }
  for (const f of m.files) await loadScript(f);
  if (ui.language.value === lang) editor.setOption("mode", m.mode);
}

function notice(text) {
  ui.notice.textContent = text || "";
  ui.notice.hidden = !text;
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const token = ui.token.value.trim();
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

// --- the share URL: #lang=..&code=..&stdin=..&args=.. (base64url UTF-8) ----

function b64urlEncode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlDecode(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

function shareUrl() {
  const p = new URLSearchParams();
  p.set("lang", ui.language.value);
  p.set("code", b64urlEncode(editor.getValue()));
  if (ui.stdin.value) p.set("stdin", b64urlEncode(ui.stdin.value));
  if (ui.args.value) p.set("args", b64urlEncode(ui.args.value));
  return location.origin + location.pathname + "#" + p.toString();
}

function readFragment() {
  const p = new URLSearchParams(location.hash.slice(1));
  const out = { lang: p.get("lang") };
  try {
    for (const k of ["code", "stdin", "args"]) out[k] = p.has(k) ? b64urlDecode(p.get(k)) : null;
  } catch (e) {
    notice("The link's program could not be read: " + e.message);
    return { lang: out.lang };
  }
  return out;
}

// --- languages --------------------------------------------------------------

async function loadLanguages() {
  const res = await fetch("/languages", { headers: headers({ Accept: "application/json" }) });
  if (res.status === 401) {
    notice("This server wants a token: open Token, paste it, then reload.");
    return [];
  }
  if (!res.ok) throw new Error("GET /languages: HTTP " + res.status);
  return res.json();
}

function fillLanguages(langs, wanted) {
  ui.language.textContent = "";
  for (const l of langs) {
    const o = document.createElement("option");
    o.value = l.name;
    o.textContent = l.name + " " + l.version + (l.available ? "" : " (unavailable)");
    o.disabled = !l.available;
    if (!l.available) o.title = l.reason || "";
    ui.language.appendChild(o);
  }
  const names = langs.filter((l) => l.available).map((l) => l.name);
  ui.language.value = names.includes(wanted) ? wanted : names.includes("python3") ? "python3" : names[0] || "";
}

function isStarter(code) {
  return code.trim() === "" || Object.values(HELLO).includes(code);
}

// --- output -------------------------------------------------------------------

function resetOutput() {
  ui.compileOut.textContent = "";
  ui.runOut.textContent = "";
  ui.compilePane.hidden = true;
  ui.images.textContent = "";
  ui.images.hidden = true;
  ui.stages.hidden = true;
  ui.stages.tBodies[0].textContent = "";
  setStatus("running");
}

function setStatus(text, cls) {
  ui.status.textContent = text;
  ui.status.className = cls || "";
}

function append(stage, stream, data) {
  const pre = stage === "compile" ? ui.compileOut : ui.runOut;
  if (stage === "compile") ui.compilePane.hidden = false;
  const last = pre.lastElementChild;
  if (last && last.className === stream) {
    last.textContent += data;
  } else {
    const span = document.createElement("span");
    span.className = stream;
    span.textContent = data;
    pre.appendChild(span);
  }
}

function fmtMs(ms) {
  return ms == null ? "–" : ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(2) + " s";
}

function fmtKb(kb) {
  return kb == null ? "–" : kb < 1024 ? kb + " KB" : (kb / 1024).toFixed(1) + " MB";
}

function stageRow(name, r) {
  const tr = document.createElement("tr");
  const t = r.time || {};
  const cells = [name, r.status, r.signal ? r.exit_code + " (" + r.signal + ")" : r.exit_code,
    fmtMs(t.wall_ms), fmtMs(t.cpu_ms), fmtKb(r.memory_kb)];
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c == null ? "–" : String(c);
    tr.appendChild(td);
  }
  tr.dataset.stage = name;
  ui.stages.tBodies[0].appendChild(tr);
}

function showImages(files) {
  for (const f of files || []) {
    const ext = (f.name.split(".").pop() || "").toLowerCase();
    const type = IMAGE_TYPES[ext];
    if (!type || f.encoding !== "base64") continue;
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.alt = f.name;
    img.src = "data:" + type + ";base64," + f.content;
    const cap = document.createElement("figcaption");
    cap.textContent = f.name + " (" + f.size + " bytes)";
    fig.append(img, cap);
    ui.images.appendChild(fig);
    ui.images.hidden = false;
  }
}

function showResult(res, skipped) {
  if (skipped) {
    // Live chunks were dropped for a slow reader: the result holds them all.
    ui.runOut.textContent = "";
    if (res.stdout) append("run", "stdout", res.stdout);
    if (res.stderr) append("run", "stderr", res.stderr);
    if (res.compile) {
      ui.compileOut.textContent = "";
      append("compile", "stdout", res.compile.stdout || "");
      append("compile", "stderr", res.compile.stderr || "");
    }
  }
  if (res.compile) stageRow("compile", res.compile);
  if (res.status !== "compile_error") stageRow("run", res);
  ui.stages.hidden = false;
  setStatus(res.status, res.status === "ok" ? "ok" : "bad");
  showImages(res.files);
}

function showError(text) {
  setStatus("error", "bad");
  append("run", "stderr", text + "\n");
}

// --- running ------------------------------------------------------------------

function request() {
  const body = {
    language: ui.language.value,
    code: editor.getValue(),
    stdin: ui.stdin.value,
    output_files: OUTPUT_FILES,
  };
  const args = ui.args.value.replace(/\n$/, "");
  if (args !== "") body.args = args.split("\n");
  return body;
}

async function run() {
  if (running) running.abort();
  const ctl = new AbortController();
  running = ctl;
  resetOutput();
  ui.run.disabled = true;
  let skipped = false;
  let ended = false;
  try {
    const res = await fetch("/execute", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "application/x-ndjson" }),
      body: JSON.stringify(request()),
      signal: ctl.signal,
    });
    if (!res.ok) {
      let msg = "HTTP " + res.status;
      try {
        const j = await res.json();
        if (j && j.error) msg += ": " + j.error;
      } catch (e) { /* not JSON */ }
      if (res.status === 401) msg += " (paste the server's token under Token)";
      showError(msg);
      ended = true;
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line);
        switch (ev.type) {
          case "stage":
            setStatus(ev.stage === "compile" ? "compiling" : "running");
            if (ev.stage === "compile") ui.compilePane.hidden = false;
            break;
          case "stdout":
          case "stderr":
            append(ev.stage, ev.type, ev.data);
            break;
          case "skipped":
            skipped = true;
            break;
          case "result":
            showResult(ev.result, skipped);
            ended = true;
            break;
          case "error":
            showError((ev.error && ev.error.error) || "HTTP " + ev.http_status);
            ended = true;
            break;
        }
      }
    }
    if (!ended) showError("the stream ended without a result");
  } catch (e) {
    if (e.name !== "AbortError") showError(e.message);
  } finally {
    if (running === ctl) {
      running = null;
      ui.run.disabled = false;
    }
  }
}

// --- start --------------------------------------------------------------------

async function main() {
  editor = CodeMirror.fromTextArea($("code"), {
    lineNumbers: true,
    indentUnit: 4,
    inputStyle: "contenteditable",
    screenReaderLabel: "Code",
    extraKeys: { "Ctrl-Enter": run, "Cmd-Enter": run },
  });
  // The editable element is the textbox a user (or a test) types into.
  const input = editor.getInputField();
  input.setAttribute("role", "textbox");
  input.setAttribute("aria-multiline", "true");
  input.setAttribute("aria-label", "Code");

  ui.token.value = sessionStorage.getItem("codeengine-token") || "";
  ui.token.addEventListener("change", () => sessionStorage.setItem("codeengine-token", ui.token.value.trim()));

  const frag = readFragment();
  let langs = [];
  try {
    langs = await loadLanguages();
  } catch (e) {
    notice(e.message);
  }
  fillLanguages(langs, frag.lang);
  const lang = ui.language.value;
  if (frag.lang && frag.lang !== lang) notice("The link's language " + frag.lang + " is not available here.");
  editor.setValue(frag.code != null ? frag.code : HELLO[lang] || "");
  ui.stdin.value = frag.stdin || "";
  ui.args.value = frag.args || "";
  await setMode(lang).catch((e) => notice(e.message));

  let previous = lang;
  ui.language.addEventListener("change", () => {
    const l = ui.language.value;
    if (isStarter(editor.getValue()) || editor.getValue() === HELLO[previous]) editor.setValue(HELLO[l] || "");
    previous = l;
    setMode(l).catch((e) => notice(e.message));
  });
  ui.run.addEventListener("click", run);
  ui.share.addEventListener("click", async () => {
    const url = shareUrl();
    history.replaceState(null, "", url);
    ui.shareUrl.value = url;
    ui.shareBox.hidden = false;
    ui.shareUrl.select();
    try {
      await navigator.clipboard.writeText(url);
    } catch (e) { /* the field shows it */ }
  });
  document.addEventListener("keydown", (e) => {
    // The editor handles its own (extraKeys) and marks the event.
    if (!e.defaultPrevented && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  document.body.dataset.ready = "true";
}

main();
