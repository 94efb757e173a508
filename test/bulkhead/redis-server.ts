/**
 * A private redis-server for tests: on 127.0.0.1, a free port, no
 * persistence; stopped (and waited for) by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, createServer } from "node:net";
import { Redis } from "ioredis";

/** A running redis-server of a test. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Kills it at once (SIGKILL), losing every key, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Stops it; idempotent. */
  stop(): Promise<void>;
}

/** A free port of 127.0.0.1 (just released; nothing listens on it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

function launch(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start on port ${port}: ${output}`));
    }, 10_000);
    const probe = setInterval(() => {
      const socket = createConnection(port);
      socket.once("connect", () => {
        socket.destroy();
        clearInterval(probe);
        clearTimeout(timer);
        resolve(child);
      });
      socket.once("error", () => socket.destroy());
    }, 20);
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) => {
      clearInterval(probe);
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (install it: apt-get install redis-server): ${error.message}`));
    });
  });
}

function exited(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/** Starts a redis-server on a free port. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (child !== undefined) await exited(child, "SIGKILL");
      child = undefined;
    },
    async restart() {
      if (child !== undefined) await exited(child, "SIGKILL");
      child = await launch(port);
    },
    async stop() {
      if (child !== undefined) await exited(child, "SIGTERM");
      child = undefined;
    },
  };
}

/** Connection housekeeping (ready checks, MONITOR itself), not part of any operation. */
const HOUSEKEEPING = new Set(["info", "ping", "monitor", "client", "select", "hello"]);

/**
 * Commands that clients send Redis while `fn` runs, as seen by MONITOR: each
 * is one request and its answer (a round trip); the calls a Lua script makes
 * inside Redis are not counted, nor connection housekeeping.
 */
export async function countRoundTrips(url: string, fn: () => Promise<void>): Promise<number> {
  const client = new Redis(url);
  const monitor = await client.monitor();
  let count = 0;
  let counting = false;
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (counting && source !== "lua" && !HOUSEKEEPING.has(String(args[0]).toLowerCase())) count++;
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    counting = true;
    await fn();
    // MONITOR reports a little after the answers.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return count;
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
}
