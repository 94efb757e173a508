// warden repl, driven through a real pseudo-terminal: util-linux's `script`
// runs the built bin on a PTY, and the test types into it (Ctrl+C is the byte
// 0x03, which the terminal turns into readline's SIGINT). History goes to a
// temporary file through WARDEN_REPL_HISTORY, never to the real home.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tempDir, WARDEN_BIN } from "../helpers/cli.js";

const DEADLINE_MS = 45_000;

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
// Terminal control sequences (cursor moves, colors) are dropped before matching.
// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");

class PtySession {
  private raw = "";
  /** Where the next wait starts looking (text before it has been matched already). */
  private mark = 0;
  readonly child: ChildProcess;
  private exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string>) {
    const clean: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("WARDEN_")) clean[key] = value;
    }
    const command = [process.execPath, WARDEN_BIN, "repl", ...args].map(quote).join(" ");
    this.child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: tempDir(),
      env: { ...clean, TERM: "xterm-256color", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.raw += chunk));
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.raw += chunk));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    sessions.add(this);
  }

  get output(): string {
    return plain(this.raw);
  }

  /** Waits until `pattern` shows up after what earlier waits matched; returns the text up to the match. */
  async waitFor(pattern: RegExp | string): Promise<string> {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const text = this.output;
      const rest = text.slice(this.mark);
      const index = typeof pattern === "string" ? rest.indexOf(pattern) : rest.search(pattern);
      if (index >= 0) {
        const length = typeof pattern === "string" ? pattern.length : rest.slice(index).match(pattern)![0].length;
        this.mark += index + length;
        return rest.slice(0, index + length);
      }
      if (Date.now() > deadline || this.child.exitCode !== null) {
        assert.fail(`no ${String(pattern)} in the REPL's output after the last match:\n${rest}\n--- all:\n${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Types text into the terminal. */
  type(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Types one input line and waits for the prompt that follows its result; returns what was printed. */
  async enter(line: string): Promise<string> {
    this.type(`${line}\r`);
    const shown = await this.waitFor(/\n(> |\.\.\. )/);
    return shown;
  }

  async exitCode(): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), DEADLINE_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      sessions.delete(this);
    }
  }
}

const sessions = new Set<PtySession>();
after(() => {
  for (const session of sessions) session.child.kill("SIGKILL");
});

async function start(args: string[] = [], env: Record<string, string> = {}): Promise<PtySession> {
  const session = new PtySession(args, { WARDEN_REPL_HISTORY: join(tempDir(), "history"), ...env });
  await session.waitFor("> ");
  return session;
}

// No skip without `script`: .ci/run installs it (Debian's bsdutils), and a missing one fails here.
describe("warden repl (through a pseudo-terminal)", () => {
  test("util-linux script is installed", () => {
    const version = spawnSync("script", ["--version"], { encoding: "utf8" });
    assert.equal(version.status, 0, "the REPL tests need `script` (Debian: apt-get install bsdutils)");
  });

  for (const engine of ["v8", "quickjs"]) {
    test(`${engine}: state persists between inputs; multi-line input; node-style output`, async () => {
      const repl = await start(["--engine", engine]);
      assert.match(await repl.enter("let a = 40"), /undefined/);
      assert.match(await repl.enter("const b = 2"), /undefined/);
      assert.match(await repl.enter("function add(x, y) {"), /\.\.\. $/);
      await repl.enter("  return x + y;");
      assert.match(await repl.enter("}"), /undefined/);
      assert.match(await repl.enter("add(a, b)"), /\n42\n/);
      await repl.enter("class Point { constructor(x) { this.x = x } }");
      assert.match(await repl.enter("new Point(a)"), /Point \{ x: 40 \}/);
      assert.match(await repl.enter("counter = 1; counter += 1"), /\n2\n/);
      assert.match(
        await repl.enter("({ s: 'x', list: [1, 2], m: new Map([[1, 'one']]) })"),
        /\{ s: 'x', list: \[ 1, 2 \], m: Map\(1\) \{ 1 => 'one' \} \}/,
      );
      assert.match(await repl.enter("throw new TypeError('boom')"), /Uncaught TypeError: boom/);
      // A guest exception keeps the state.
      assert.match(await repl.enter("a + counter"), /\n42\n/);
      repl.type(".exit\r");
      assert.equal(await repl.exitCode(), 0);
    });
  }

  test("an endless loop ends in its typed limit error, the prompt comes back and the state is reset", async () => {
    const repl = await start(["--timeout", "30s"]);
    await repl.enter("let kept = 1");
    const shown = await repl.enter("while (true) {}");
    assert.match(shown, /limit exceeded: instruction limit exceeded \(10000000\)/);
    assert.match(shown, /\[limit maxInstructions = 10000000; raise it with --max-instructions/);
    assert.match(shown, /state is reset/);
    assert.match(await repl.enter("typeof kept"), /'undefined'/);
    assert.match(await repl.enter("1 + 1"), /\n2\n/);
    repl.type(".exit\r");
    assert.equal(await repl.exitCode(), 0);
  });

  test("a recursion bomb, a memory bomb and a slow loop end in their limits' errors", async () => {
    const repl = await start(["--max-depth", "500", "--timeout", "5s", "--max-instructions", "0", "--memory", "64MB"]);
    const deep = await repl.enter("(function f() { return f() })()");
    assert.match(deep, /\[limit maxRecursionDepth = 500; /);
    assert.match(deep, /state is reset/);
    const memory = await repl.enter("const hog = []; for (;;) hog.push(new Array(100000).fill(1.5))");
    assert.match(memory, /\[limit memoryBytes = 64MB; /);
    assert.match(memory, /state is reset/);
    const slow = await repl.enter("while (true) {}");
    assert.match(slow, /\[limit (timeoutMs = 5000ms|cpuTimeMs = \d+ms); /);
    repl.type(".exit\r");
    assert.equal(await repl.exitCode(), 0);
  });

  test("Ctrl+C aborts a running input; two Ctrl+C at an empty prompt exit", async () => {
    const repl = await start(["--timeout", "0", "--cpu", "0", "--max-instructions", "0"]);
    await repl.enter("let kept = 1");
    repl.type("console.log('started'); while (true) {}\r");
    await repl.waitFor("started\n");
    repl.type("\x03");
    const shown = await repl.waitFor(/\n> /);
    assert.match(shown, /Aborted: the input was stopped \(Ctrl\+C\)/);
    assert.match(shown, /state is reset/);
    assert.match(await repl.enter("typeof kept"), /'undefined'/);
    // Ctrl+C with text on the line clears it; at an empty prompt it warns, and a second one exits.
    repl.type("1 +");
    repl.type("\x03");
    await repl.waitFor(/\n> /);
    repl.type("\x03");
    await repl.waitFor("(To exit, press Ctrl+C again or Ctrl+D or type .exit)");
    repl.type("\x03");
    assert.equal(await repl.exitCode(), 0);
  });

  test(".limits, .reset, .help, .break and an unknown command", async () => {
    const repl = await start(["--engine", "quickjs", "--timeout", "1500ms"]);
    const limits = await repl.enter(".limits");
    assert.match(limits, /timeoutMs\s+1500 ms\s+flag --timeout/);
    assert.match(limits, /maxInstructions\s+10000000 instructions\s+default/);
    await repl.enter("var x = 5");
    assert.match(await repl.enter(".reset"), /fresh/);
    assert.match(await repl.enter("typeof x"), /'undefined'/);
    const help = await repl.enter(".help");
    for (const name of [".break", ".exit", ".help", ".limits", ".reset"]) assert.ok(help.includes(name), name);
    assert.match(await repl.enter("if (true) {"), /\.\.\. $/);
    assert.match(await repl.enter(".break"), /\n> $/);
    assert.match(await repl.enter(".nope"), /Invalid REPL keyword \.nope/);
    repl.type("\x04"); // Ctrl+D
    assert.equal(await repl.exitCode(), 0);
  });

  test("history is written to WARDEN_REPL_HISTORY, newest first, and read back", async () => {
    const file = join(tempDir(), "history");
    const first = await start([], { WARDEN_REPL_HISTORY: file });
    await first.enter("1 + 1");
    await first.enter("'second'");
    first.type(".exit\r");
    assert.equal(await first.exitCode(), 0);
    assert.ok(existsSync(file));
    assert.deepEqual(readFileSync(file, "utf8").trim().split("\n").slice(0, 3), [".exit", "'second'", "1 + 1"]);

    const second = await start([], { WARDEN_REPL_HISTORY: file });
    second.type("\x1b[A\x1b[A\r"); // up, up, enter: the second newest entry
    assert.match(await second.waitFor(/\n> /), /'second'/);
    second.type(".exit\r");
    assert.equal(await second.exitCode(), 0);
  });
});

test("warden repl without a terminal reads inputs from a pipe", () => {
  const result = spawnSync(process.execPath, [WARDEN_BIN, "repl"], {
    cwd: tempDir(),
    env: { ...process.env, WARDEN_REPL_HISTORY: "" },
    input: "let a = 20\na * 2\nwhile (true) {}\na\n",
    encoding: "utf8",
    timeout: DEADLINE_MS,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /\n40\n/);
  assert.match(result.stdout, /instruction limit exceeded/);
  assert.match(result.stdout, /Uncaught ReferenceError: a is not defined/);
});
