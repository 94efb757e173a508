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

/** A server on free ports of 127.0.0.1, isolated from the environment and any config file. */
export async function withServer(
  options: Partial<StartServerOptions> & { path: string },
  body: (server: ServeHandle, logs: LogCapture) => Promise<void>,
): Promise<void> {
  const logs = new LogCapture();
  const server = await startServer({
    port: 0,
    adminPort: 0,
    env: {},
    configFile: false,
    poolSize: 1,
    instances: 1,
    logDestination: logs,
    ...options,
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
