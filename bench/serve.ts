/**
 * `warden serve` over HTTP, side by side with its peers in one run (`npm run bench -- serve`):
 * hello-world requests/s and p50/p99 latency with autocannon (loopback, 50 connections, 1 s of
 * warm-up then 5 s measured per target) against
 * - a plain Fastify route,
 * - Fastify + raw isolated-vm: a function Reference on a warm context called per request, no limits,
 * - the same with the isolates in child processes (one per CPU, one `process.send` each way per
 *   request): the floor of keeping V8 out of the server's process, as warden serve does,
 * - workerd (the npm package) serving the same hello-world Workers module,
 * - `warden serve` on the v8 and the quickjs engine, every limit, the bulkhead, logs (to
 *   /dev/null) and metrics on;
 * then an overload run: 10x warden serve's measured capacity, offered for 3 s, against a server
 * with a small bulkhead and connection cap: counts of 2xx/429/408/503, and that every request
 * sent got an answer. Each target runs in a process of its own (bench/serve-target.ts); the load
 * generator is this process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon, { type Result } from "autocannon";
import { createRuntime } from "../src/index.js";
import { SERVE_LIMIT_DEFAULTS, serveDefaults } from "../src/serve/index.js";
import { printTable } from "./stats.js";
import { HELLO } from "./serve-target.js";

/** The Workers module every sandboxed target serves. */
const HELLO_MODULE = `export default { fetch() { return new Response(${JSON.stringify(HELLO)}); } };\n`;
const CONNECTIONS = 50;
const WARMUP_S = 1;
const DURATION_S = 5;
const here = dirname(fileURLToPath(import.meta.url));

interface Started {
  url: string;
  adminUrl?: string;
  stop(): Promise<void>;
}

/** Starts bench/serve-target.ts in a child process and waits for its `{url}` line. */
async function startTarget(target: string, appsDir: string, extraNodeArgs: string[] = []): Promise<Started> {
  const child = spawn(
    process.execPath,
    ["--no-node-snapshot", ...extraNodeArgs, "--import", "tsx", join(here, "serve-target.ts"), target, appsDir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${target} exited (${code}) before listening`)));
  });
  const { url, adminUrl } = JSON.parse(line) as { url: string; adminUrl?: string };
  return { url, ...(adminUrl ? { adminUrl } : {}), stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The workerd binary of the npm package, when it runs here; otherwise why not. */
function workerdBinary(): { path: string } | { reason: string } {
  let path: string;
  try {
    path = join(dirname(createRequire(import.meta.url).resolve("workerd/package.json")), "bin", "workerd");
  } catch (error) {
    return { reason: `the workerd package is not installed (${(error as Error).message})` };
  }
  const probe = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (probe.error) return { reason: probe.error.message };
  if (probe.status !== 0) return { reason: `workerd --version exited ${probe.status}: ${probe.stderr.trim()}` };
  return { path };
}

/** Starts workerd on a free loopback port with a generated capnp config serving HELLO_MODULE. */
async function startWorkerd(binary: string): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-workerd-"));
  const port = await freePort();
  writeFileSync(join(dir, "worker.mjs"), HELLO_MODULE);
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .helloWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const helloWorker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.mjs") ],
  compatibilityDate = "2024-09-23",
);
`,
  );
  const child = spawn(binary, ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}/hello`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited ${child.exitCode}: ${stderr.trim()}`);
    try {
      if ((await (await fetch(url)).text()) === HELLO) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`workerd did not answer within 15 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Warm-up, then the measured run; checks that every answer was the hello text's 200. */
async function measure(url: string): Promise<Result> {
  const check = await fetch(url);
  const body = await check.text();
  if (check.status !== 200 || body !== HELLO) throw new Error(`${url} answered ${check.status} ${body}`);
  await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_S });
  return autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
}

interface Row {
  name: string;
  result?: Result;
  note?: string;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function main(): Promise<void> {
  const appsDir = mkdtempSync(join(tmpdir(), "warden-bench-serve-"));
  writeFileSync(join(appsDir, "hello.js"), HELLO_MODULE);
  const rows: Row[] = [];
  const run = async (name: string, start: () => Promise<Started>): Promise<void> => {
    let started: Started | undefined;
    try {
      started = await start();
      const result = await measure(started.url);
      const wrong = result.non2xx + result.errors + result.timeouts;
      rows.push({ name, result, ...(wrong ? { note: `${wrong} non-2xx/errors/timeouts` } : {}) });
    } catch (error) {
      rows.push({ name, note: `unavailable (${(error as Error).message.split("\n")[0]})` });
    } finally {
      await started?.stop();
    }
  };
  try {
    console.log(
      `\nwarden serve: hello world over loopback, autocannon ${CONNECTIONS} connections, ` +
        `${WARMUP_S} s warm-up + ${DURATION_S} s per target; ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}), ` +
        `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    );
    await run("fastify (plain route)", () => startTarget("fastify", appsDir));
    await run("fastify + raw isolated-vm (warm Reference)", () => startTarget("fastify-ivm", appsDir));
    await run("fastify + raw isolated-vm in child processes", () => startTarget("fastify-ivm-processes", appsDir));
    const workerd = workerdBinary();
    if ("path" in workerd) await run("workerd", () => startWorkerd(workerd.path));
    else rows.push({ name: "workerd", note: `unavailable (${workerd.reason})` });
    await run("warden serve, v8", () => startTarget("warden-v8", appsDir));
    await run("warden serve, quickjs", () => startTarget("warden-quickjs", appsDir));
    await run("warden serve, v8, 16 instances", () => startTarget("warden-v8-16", appsDir));

    const get = (name: string) => rows.find((r) => r.name.startsWith(name))?.result;
    const fastify = get("fastify (plain");
    const ivmRoute = get("fastify + raw");
    const workerdResult = get("workerd");
    const ratio = (a: number | undefined, b: number | undefined, digits = 2) =>
      a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b, digits)}x` : "-";
    printTable(
      "Hello world, one run, side by side",
      ["target", "req/s", "p50 ms", "p99 ms", "vs workerd req/s", "vs fastify+ivm req/s", "p99 vs fastify", "note"],
      rows.map((row) => {
        const r = row.result;
        if (!r) return [row.name, "-", "-", "-", "-", "-", "-", row.note ?? ""];
        return [
          row.name,
          fmt(r.requests.average),
          fmt(r.latency.p50, 1),
          fmt(r.latency.p99, 1),
          ratio(r.requests.average, workerdResult?.requests.average),
          ratio(r.requests.average, ivmRoute?.requests.average),
          ratio(r.latency.p99, fastify?.latency.p99),
          row.note ?? "",
        ];
      }),
    );
    for (const engine of ["v8", "quickjs"]) {
      const r = get(`warden serve, ${engine}`);
      if (!r) continue;
      const verdict = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "met" : "NOT met");
      console.log(
        `targets, warden serve ${engine}: >= 1.3x workerd req/s: ${verdict(workerdResult ? r.requests.average >= 1.3 * workerdResult.requests.average : undefined)}` +
          `; >= 1.0x fastify + raw isolated-vm req/s: ${verdict(ivmRoute ? r.requests.average >= ivmRoute.requests.average : undefined)}` +
          `; p99 <= 2x plain fastify's: ${verdict(fastify ? r.latency.p99 <= 2 * fastify.latency.p99 : undefined)}`,
      );
    }
    const unavailable = rows.filter((r) => !r.result);
    for (const row of unavailable) console.log(`${row.name}: ${row.note}`);

    // The sandbox's own ceiling: the same module through app.fetch in this process, no HTTP.
    const ceilings: string[][] = [];
    for (const engine of ["v8", "quickjs"] as const) {
      const rate = await fetchCeiling(engine);
      const served = get(`warden serve, ${engine}`)?.requests.average;
      ceilings.push([engine, fmt(rate), served === undefined ? "-" : fmt(served), ratio(served, rate)]);
    }
    printTable(
      `The sandbox's ceiling: app.fetch of the same module, ${CONNECTIONS} in flight, no HTTP, serve's limits and instances`,
      ["engine", "app.fetch/s", "warden serve req/s", "serve / app.fetch"],
      ceilings,
    );

    // Overload: 10x the measured capacity of warden serve (v8), offered for 3 s.
    const capacity = get("warden serve, v8")?.requests.average;
    if (capacity !== undefined) await overload(appsDir, capacity);
  } finally {
    rmSync(appsDir, { recursive: true, force: true });
  }
}

/** app.fetch calls/s of HELLO_MODULE with CONNECTIONS in flight for DURATION_S, after a warm-up. */
async function fetchCeiling(engine: "v8" | "quickjs"): Promise<number> {
  const runtime = await createRuntime({
    engine,
    env: {},
    configFile: false,
    limits: {
      cpuTimeMs: SERVE_LIMIT_DEFAULTS.cpuTimeMs,
      memoryBytes: SERVE_LIMIT_DEFAULTS.memoryBytes,
      timeoutMs: SERVE_LIMIT_DEFAULTS.timeoutMs,
    },
  });
  try {
    const app = await runtime.load(HELLO_MODULE, { filename: "hello.js", instances: serveDefaults().instances });
    const loop = async (until: number): Promise<number> => {
      let done = 0;
      const worker = async () => {
        while (performance.now() < until) {
          await (await app.fetch(new Request("http://127.0.0.1/hello"))).arrayBuffer();
          done++;
        }
      };
      await Promise.all(Array.from({ length: CONNECTIONS }, worker));
      return done;
    };
    await loop(performance.now() + WARMUP_S * 1000);
    const began = performance.now();
    const done = await loop(began + DURATION_S * 1000);
    return done / ((performance.now() - began) / 1000);
  } finally {
    await runtime.close();
  }
}

async function overload(appsDir: string, capacity: number): Promise<void> {
  const seconds = 3;
  const rate = Math.round(capacity * 10);
  const amount = rate * seconds;
  const connections = 300;
  const started = await startTarget("warden-overload", appsDir);
  try {
    const began = performance.now();
    const result = await autocannon({ url: started.url, connections, amount, overallRate: rate, timeout: 30 });
    const elapsed = (performance.now() - began) / 1000;
    const counts = new Map<string, number>();
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
      const key = code.startsWith("2") ? "2xx" : code;
      counts.set(key, (counts.get(key) ?? 0) + count);
    }
    const answered = [...counts.values()].reduce((a, b) => a + b, 0);
    const metrics = started.adminUrl ? await (await fetch(`${started.adminUrl}/metrics`)).text() : "";
    const served = metrics
      .split("\n")
      .filter((l) => l.startsWith("warden_http_requests_total{"))
      .reduce((sum, l) => sum + Number(l.split(" ")[1]), 0);
    const capRefused = Number(/^warden_http_rejections_total\{status="503"\} (\S+)/m.exec(metrics)?.[1] ?? 0);
    // A request that got no HTTP answer shows in autocannon as an error (a reset or refused
    // connection) or a timeout; the server's own count must match the answers.
    const lost = result.errors + result.timeouts;
    printTable(
      `Overload: ${fmt(amount)} requests at up to ${fmt(rate)}/s (10x the ${fmt(capacity)} req/s measured above), ` +
        `${connections} connections, bulkhead 4 running + 16 queued (one user), queue timeout 50 ms, connection cap 150`,
      ["answered", "answers/s", "2xx", "429", "408", "503", "other", "errors", "timeouts", "lost", "took s"],
      [
        [
          fmt(answered),
          fmt(answered / elapsed),
          fmt(counts.get("2xx") ?? 0),
          fmt(counts.get("429") ?? 0),
          fmt(counts.get("408") ?? 0),
          fmt(counts.get("503") ?? 0),
          fmt([...counts].filter(([k]) => !["2xx", "429", "408", "503"].includes(k)).reduce((a, [, n]) => a + n, 0)),
          fmt(result.errors),
          fmt(result.timeouts),
          fmt(lost),
          fmt(elapsed, 1),
        ],
      ],
    );
    console.log(
      `server side: ${fmt(served)} requests counted by warden_http_requests_total + ` +
        `${fmt(capRefused)} connections refused at the cap (a 503 before any request was parsed) = ` +
        `${fmt(served + capRefused)} (autocannon: ${fmt(answered)} answers); ` +
        `${lost === 0 && served + capRefused === answered ? "none lost" : "MISMATCH"}`,
    );
  } finally {
    await started.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
