/**
 * One target of the serve benchmark (bench/serve.ts), run in a process of its own so that the load
 * generator never shares its event loop: `node --no-node-snapshot --import tsx bench/serve-target.ts
 * <fastify|fastify-ivm|fastify-ivm-processes|warden-v8|warden-v8-16|warden-quickjs|warden-overload> <apps dir>`. Prints one JSON line
 * `{"url": ..., "adminUrl"?: ...}` once it listens, and stops on SIGTERM.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import ivm from "isolated-vm";
import { pino } from "pino";
import { startServer, type ServeHandle } from "../src/serve/index.js";
import { rawIsolatedVmProcesses } from "./ivm-process.js";

/** What every target answers: the same text, as plain text. */
export const HELLO = "Hello World!";

async function fastify(withIsolate: boolean | "processes"): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  let stopChildren = async () => {};
  if (withIsolate === "processes") {
    // The same warm function, in an isolate in each of CPUS child processes (the boundary that
    // keeps a fatal V8 error out of the server), one process.send each way per request, no limits.
    const children = await rawIsolatedVmProcesses(availableParallelism(), `(url) => ${JSON.stringify(HELLO)}`, 128);
    stopChildren = () => children.close();
    app.get("/*", async (request, reply) => {
      const text = (await children.call(request.url)) as string;
      return reply.type("text/plain;charset=UTF-8").send(text);
    });
  } else if (withIsolate) {
    // A warm context made once; per request one call of a function Reference, no limits.
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    const context = await isolate.createContext();
    const fn = (await context.eval(`(url) => ${JSON.stringify(HELLO)}`, {
      reference: true,
    })) as ivm.Reference<(url: string) => string>;
    app.get("/*", async (request, reply) => {
      const text = (await fn.apply(undefined, [request.url], { result: { copy: true } })) as string;
      return reply.type("text/plain;charset=UTF-8").send(text);
    });
  } else {
    app.get("/*", async (_request, reply) => reply.type("text/plain;charset=UTF-8").send(HELLO));
  }
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url: `${url}/hello`,
    close: async () => {
      await app.close();
      await stopChildren();
    },
  };
}

async function warden(
  engine: "v8" | "quickjs",
  appsDir: string,
  overload: boolean,
  instances?: number,
): Promise<{ url: string; adminUrl: string; close(): Promise<void> }> {
  const server: ServeHandle = await startServer({
    path: appsDir,
    port: 0,
    adminPort: 0,
    engine,
    configFile: false,
    env: {},
    // Every limit on (the normal profile with serve's CPU 50 ms, memory 128 MB, wall clock 30 s),
    // logs at info (one line per request) written to /dev/null, metrics on.
    logDestination: pino.destination({ dest: "/dev/null", sync: true }),
    // One client address: the bulkhead is sized for the benchmark's 50 connections (one user), or
    // small for the overload run, with a connection cap below the overload's connections.
    bulkhead: overload
      ? { maxConcurrentPerUser: 4, maxQueuePerUser: 16, maxConcurrentGlobal: 4, maxQueueGlobal: 16, queueTimeoutMs: 50 }
      : { maxConcurrentPerUser: 64, maxQueuePerUser: 64, maxConcurrentGlobal: 100, maxQueueGlobal: 500 },
    ...(overload ? { limits: { options: { maxConnections: 150 } } } : {}),
    ...(instances !== undefined ? { instances } : {}),
  });
  return { url: `${server.url}/hello`, adminUrl: server.adminUrl, close: () => server.close() };
}

/** Each target by name, started on demand. */
const TARGETS: Record<string, (appsDir: string) => Promise<{ url: string; close(): Promise<void> }>> = {
  fastify: () => fastify(false),
  "fastify-ivm": () => fastify(true),
  "fastify-ivm-processes": () => fastify("processes"),
  "warden-v8": (appsDir) => warden("v8", appsDir, false),
  "warden-v8-16": (appsDir) => warden("v8", appsDir, false, 16),
  "warden-quickjs": (appsDir) => warden("quickjs", appsDir, false),
  "warden-overload": (appsDir) => warden("v8", appsDir, true),
};

async function start(target: string | undefined, appsDir: string): Promise<void> {
  const starter = target === undefined ? undefined : TARGETS[target];
  const started = starter ? await starter(appsDir) : undefined;
  if (!started) {
    console.error(`unknown target ${String(target)}`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({ ...started, close: undefined })}\n`);
  process.once("SIGTERM", () => {
    void started.close().then(() => process.exit(0));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await start(process.argv[2], process.argv[3] ?? ".");
