import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startServer, type ServeHandle, type StartServerOptions } from "../../src/serve/index.js";

/** Writes files (paths may hold folders) into a new temporary directory and returns it. */
export function appsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "warden-serve-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** Log lines captured from a server, parsed as JSON (a line that is not JSON fails the parse). */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  write(text: string): void {
    for (const line of text.split("\n"))
      if (line.trim() !== "") this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  /** Lines with the given `msg`. */
  messages(msg: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line["msg"] === msg);
  }
}

/**
 * A server on free ports of 127.0.0.1, isolated from the environment and any config file. The
 * per-request CPU budget is 1 s unless the test sets one (or asks for `serveDefaults`): the first
 * call on a fresh instance costs a few milliseconds of CPU when the machine is idle and has been
 * seen past 50 ms on a loaded one, and these tests are not about that budget.
 */
export async function withServer(
  options: Partial<StartServerOptions> & { path: string; serveDefaults?: boolean },
  body: (server: ServeHandle, logs: LogCapture) => Promise<void>,
): Promise<void> {
  const logs = new LogCapture();
  const { serveDefaults, ...rest } = options;
  const limits = serveDefaults
    ? rest.limits
    : { ...rest.limits, options: { cpuTimeMs: "1s", ...rest.limits?.options } };
  const server = await startServer({
    port: 0,
    adminPort: 0,
    env: {},
    configFile: false,
    poolSize: 1,
    instances: 1,
    logDestination: logs,
    ...rest,
    ...(limits ? { limits } : {}),
  });
  try {
    await body(server, logs);
  } finally {
    await server.close();
  }
}

/** A JSON body, or the text when it is not JSON. */
export async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The value of one unlabelled metric on the admin listener. */
export async function metric(adminUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(" ")[1]);
}

/** Polls a metric until `accept` holds (the tests wait for states, not for times). */
export async function untilMetric(adminUrl: string, name: string, accept: (value: number) => boolean): Promise<void> {
  for (;;) {
    if (accept(await metric(adminUrl, name))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
